#pragma once
// UserDirectory: the people who use Strata, their roles and their API tokens. Tokens are shown
// once when issued and kept only as hashes (govern/secrets.hpp); authentication is one hash and
// one lookup in memory, so every REST call can afford it.
#include <filesystem>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "govern/role.hpp"
#include "govern/secrets.hpp"
#include "meta/database.hpp"

namespace strata::govern {

struct User {
  std::string name;
  Role role = Role::viewer;
  Timestamp created = 0;
};

// An API token as listed: never the token itself.
struct ApiTokenInfo {
  std::string id;  // the first 12 hex digits of its hash: enough to name it, useless to use it
  std::string user;
  std::string label;
  Timestamp created = 0;
};

// A token just issued: the only time the clear token exists outside its holder.
struct IssuedToken {
  ApiTokenInfo info;
  std::string token;
};

// Who a token belongs to.
struct TokenOwner {
  std::string user;
  Role role;
};

class UserDirectory {
 public:
  static Result<std::unique_ptr<UserDirectory>> create(meta::Database& db, const Clock& clock);

  // User names: 1..64 of [A-Za-z0-9._@-].
  Result<User> add_user(const std::string& name, Role role);
  Status remove_user(const std::string& name);  // and their tokens
  Status set_role(const std::string& name, Role role);
  [[nodiscard]] std::vector<User> users() const;
  [[nodiscard]] std::optional<User> user(const std::string& name) const;

  Result<IssuedToken> issue_token(const std::string& user, const std::string& label);
  Status revoke_token(const std::string& id);
  [[nodiscard]] std::vector<ApiTokenInfo> tokens(const std::string& user = {}) const;

  [[nodiscard]] std::optional<TokenOwner> authenticate(std::string_view token) const;

  // On first start (no users yet): creates `admin` and writes its token to `file` (0600).
  // Returns true when it did.
  Result<bool> bootstrap_admin(const std::filesystem::path& file);

 private:
  UserDirectory(meta::Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  Status load();

  meta::Database& db_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, User> users_;
  struct TokenEntry {
    ApiTokenInfo info;
    std::string hash;
  };
  std::unordered_map<std::string, TokenEntry> tokens_by_hash_;
};

}  // namespace strata::govern

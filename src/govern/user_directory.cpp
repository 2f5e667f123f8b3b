#include "govern/user_directory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <mutex>

namespace strata::govern {

namespace {

constexpr std::array<meta::Migration, 1> kSchema = {{
    {1,
     "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, created INTEGER NOT NULL);"
     "CREATE TABLE api_tokens (hash TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
     "  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, label TEXT NOT NULL, "
     "  created INTEGER NOT NULL);"},
}};

bool valid_user_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-';
  });
}

}  // namespace

Result<std::unique_ptr<UserDirectory>> UserDirectory::create(meta::Database& db,
                                                             const Clock& clock) {
  if (!secrets_ready()) return Error::of(errc::crypto, "libsodium failed to initialise");
  if (auto st = db.migrate("users", kSchema); !st) return st.error();
  std::unique_ptr<UserDirectory> d(new UserDirectory(db, clock));
  if (auto st = d->load(); !st) return st.error();
  return d;
}

Status UserDirectory::load() {
  return db_.read([&](SQLite::Database& db) {
    SQLite::Statement u(db, "SELECT name, role, created FROM users");
    while (u.executeStep()) {
      User user{u.getColumn(0).getString(),
                parse_role(u.getColumn(1).getString()).value_or(Role::viewer),
                u.getColumn(2).getInt64()};
      users_[user.name] = user;
    }
    SQLite::Statement t(db, "SELECT hash, id, user, label, created FROM api_tokens");
    while (t.executeStep()) {
      TokenEntry e{{t.getColumn(1).getString(), t.getColumn(2).getString(),
                    t.getColumn(3).getString(), t.getColumn(4).getInt64()},
                   t.getColumn(0).getString()};
      tokens_by_hash_[e.hash] = e;
    }
  });
}

Result<User> UserDirectory::add_user(const std::string& name, Role role) {
  if (!valid_user_name(name))
    return Error::of(errc::invalid_argument,
                     "user name '" + name + "' must be 1 to 64 of A-Z a-z 0-9 . _ @ -");
  User user{name, role, clock_.now()};
  std::unique_lock lock(mu_);
  if (users_.count(name)) return Error::of(errc::conflict, "user '" + name + "' already exists");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db, "INSERT INTO users(name, role, created) VALUES(?, ?, ?)");
    q.bind(1, name);
    q.bind(2, std::string(role_name(role)));
    q.bind(3, static_cast<int64_t>(user.created));
    q.exec();
  });
  if (!st) return st.error();
  users_[name] = user;
  return user;
}

Status UserDirectory::remove_user(const std::string& name) {
  std::unique_lock lock(mu_);
  if (!users_.count(name)) return Error::of(errc::not_found, "no user '" + name + "'");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM users WHERE name = ?");
    q.bind(1, name);
    q.exec();
  });
  if (!st) return st;
  users_.erase(name);
  std::erase_if(tokens_by_hash_, [&](const auto& kv) { return kv.second.info.user == name; });
  return {};
}

Status UserDirectory::set_role(const std::string& name, Role role) {
  std::unique_lock lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return Error::of(errc::not_found, "no user '" + name + "'");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db, "UPDATE users SET role = ? WHERE name = ?");
    q.bind(1, std::string(role_name(role)));
    q.bind(2, name);
    q.exec();
  });
  if (st) it->second.role = role;
  return st;
}

std::vector<User> UserDirectory::users() const {
  std::shared_lock lock(mu_);
  std::vector<User> out;
  for (const auto& [n, u] : users_) out.push_back(u);
  std::sort(out.begin(), out.end(), [](const User& a, const User& b) { return a.name < b.name; });
  return out;
}

std::optional<User> UserDirectory::user(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

Result<IssuedToken> UserDirectory::issue_token(const std::string& user, const std::string& label) {
  IssuedToken t;
  t.token = new_token("stk_");
  const std::string hash = token_hash(t.token);
  t.info = {hash.substr(0, 12), user, label, clock_.now()};
  std::unique_lock lock(mu_);
  if (!users_.count(user)) return Error::of(errc::not_found, "no user '" + user + "'");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT INTO api_tokens(hash, id, user, label, created) "
                        "VALUES(?, ?, ?, ?, ?)");
    q.bind(1, hash);
    q.bind(2, t.info.id);
    q.bind(3, user);
    q.bind(4, label);
    q.bind(5, static_cast<int64_t>(t.info.created));
    q.exec();
  });
  if (!st) return st.error();
  tokens_by_hash_[hash] = {t.info, hash};
  return t;
}

Status UserDirectory::revoke_token(const std::string& id) {
  std::unique_lock lock(mu_);
  auto it = std::find_if(tokens_by_hash_.begin(), tokens_by_hash_.end(),
                         [&](const auto& kv) { return kv.second.info.id == id; });
  if (it == tokens_by_hash_.end()) return Error::of(errc::not_found, "no API token '" + id + "'");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM api_tokens WHERE id = ?");
    q.bind(1, id);
    q.exec();
  });
  if (st) tokens_by_hash_.erase(it);
  return st;
}

std::vector<ApiTokenInfo> UserDirectory::tokens(const std::string& user) const {
  std::shared_lock lock(mu_);
  std::vector<ApiTokenInfo> out;
  for (const auto& [h, e] : tokens_by_hash_)
    if (user.empty() || e.info.user == user) out.push_back(e.info);
  std::sort(out.begin(), out.end(),
            [](const ApiTokenInfo& a, const ApiTokenInfo& b) { return a.created < b.created; });
  return out;
}

std::optional<TokenOwner> UserDirectory::authenticate(std::string_view token) const {
  if (token.size() < 8) return std::nullopt;
  const std::string hash = token_hash(token);
  std::shared_lock lock(mu_);
  auto it = tokens_by_hash_.find(hash);
  if (it == tokens_by_hash_.end()) return std::nullopt;
  auto u = users_.find(it->second.info.user);
  if (u == users_.end()) return std::nullopt;
  return TokenOwner{u->second.name, u->second.role};
}

Result<bool> UserDirectory::bootstrap_admin(const std::filesystem::path& file) {
  {
    std::shared_lock lock(mu_);
    if (!users_.empty()) return false;
  }
  auto u = add_user("admin", Role::admin);
  if (!u) return u.error();
  auto t = issue_token("admin", "bootstrap");
  if (!t) return t.error();
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::of(errc::io, "cannot write the admin token to " + file.string());
  const std::string line = t->token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Error::of(errc::io, "cannot write the admin token to " + file.string());
  return true;
}

}  // namespace strata::govern

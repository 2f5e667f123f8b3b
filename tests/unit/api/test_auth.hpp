#pragma once
// A fixed token table standing in for govern's user directory in the api tests.
#include <map>
#include <string>

#include "api/authenticator.hpp"

namespace strata::api::testing {

class TableAuthenticator final : public Authenticator {
 public:
  void add(std::string token, std::string user, govern::Role role) {
    table_[std::move(token)] = Caller{std::move(user), role};
  }
  std::optional<Caller> authenticate(std::string_view token) const override {
    auto it = table_.find(std::string(token));
    if (it == table_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, Caller> table_;
};

}  // namespace strata::api::testing

#pragma once
// Authenticator: how the router learns who is calling. The user directory (govern/) implements it;
// the API sees nothing else of it. Tokens are compared against hashes there, never kept in clear.
#include <optional>
#include <string_view>

#include "api/exchange.hpp"  // Caller

namespace strata::api {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The user behind an API token (the credential of `Authorization: Bearer …`, `Authorization:
  // Token …`, or a route's token query parameter); nullopt when the token is unknown, revoked or
  // expired. Called on a server thread for every request to a route with a role set: keep it fast
  // (a hash and an in-memory lookup) and thread-safe.
  [[nodiscard]] virtual std::optional<Caller> authenticate(std::string_view token) const = 0;
};

}  // namespace strata::api

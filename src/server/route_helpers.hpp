#pragma once
// What the route groups share: turning module errors into problem documents, and reading
// common query parameters with clear refusals.
#include <optional>
#include <string>

#include "api/problem.hpp"
#include "api/router.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "govern/role.hpp"

namespace strata::server {

using govern::Role;
using govern::RoleSet;

inline const RoleSet kEveryone = RoleSet::all();
inline const RoleSet kWriters{Role::admin, Role::engineer};
inline const RoleSet kAdmins{Role::admin};

// "$.contents[3].schema: reason" (a model or device validation message) → a 422 whose `errors`
// holds the JSON pointer "/contents/3/schema" and the reason.
api::Problem validation_problem(const std::string& message);

// A registry error as a problem: not found 404, conflict/in use 409, invalid 422, else 500.
api::Problem registry_problem(const Error& e);

// A time query parameter (ISO 8601, "now", "now-1h", or µs since the epoch); `fallback` when
// absent; a 400 problem when unreadable.
Result<Timestamp> time_param(const api::Request& r, std::string_view name, Timestamp fallback,
                             Timestamp now);
// A positive integer query parameter no larger than `max`.
Result<std::size_t> count_param(const api::Request& r, std::string_view name, std::size_t fallback,
                                std::size_t max);

}  // namespace strata::server

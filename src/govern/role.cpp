#include "govern/role.hpp"

#include <array>

namespace strata::govern {

namespace {
constexpr std::array<std::string_view, kRoleCount> kNames = {
    "admin", "engineer", "operator", "technician", "data_scientist", "executive", "viewer"};
}

std::string_view role_name(Role r) { return kNames[static_cast<std::size_t>(r)]; }

std::optional<Role> parse_role(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<Role>(i);
  return std::nullopt;
}

}  // namespace strata::govern

#pragma once
// Role: what a user may do. Every REST route names the roles it admits (api/), and the table of
// routes × roles is tested whole. The roles are the people of a plant, not permissions lists.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace strata::govern {

enum class Role : std::uint8_t {
  admin,           // everything, including users, tokens and settings
  engineer,        // device models, devices, rules, ingestion tokens
  operator_,       // live plant state, alarms (acknowledge), commands to devices
  technician,      // work orders assigned to them, device state
  data_scientist,  // telemetry, models and detectors, read-only on devices
  executive,       // KPIs and reports
  viewer,          // read-only dashboards
};
inline constexpr std::size_t kRoleCount = 7;

std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view name);

// A set of roles, for "which roles may call this route".
class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role r : roles) bits_ |= bit(r);
  }
  static constexpr RoleSet all() {
    RoleSet s;
    s.bits_ = (1u << kRoleCount) - 1;
    return s;
  }
  [[nodiscard]] constexpr bool contains(Role r) const { return (bits_ & bit(r)) != 0; }
  [[nodiscard]] constexpr bool empty() const { return bits_ == 0; }
  friend constexpr bool operator==(RoleSet, RoleSet) = default;

 private:
  static constexpr std::uint32_t bit(Role r) { return 1u << static_cast<unsigned>(r); }
  std::uint32_t bits_ = 0;
};

// Who is calling: the user behind a bearer token.
struct Principal {
  std::string_view user;  // valid for the request
  Role role = Role::viewer;
};

}  // namespace strata::govern

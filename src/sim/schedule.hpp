#pragma once
// ShiftPattern: when a site is staffed and producing. Machines follow it — stopped when nobody is
// there, idle during breaks and changeovers, running during production — which gives the series
// the daily and weekly rhythm of a real plant.
//
//   pattern      staffed                       production breaks (local time)
//   continuous   always                        none
//   three_shift  always (24/7, 06-14-22)       20 min at each changeover (05:50, 13:50, 21:50),
//   10:00-10:20 two_shift    Mon-Fri 06:00-22:00           10:00-10:20, 13:50-14:10, 18:00-18:20
//   day          Mon-Fri 07:00-16:00           12:00-12:30
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/types.hpp"

namespace strata::sim {

enum class ShiftPattern : std::uint8_t { continuous, three_shift, two_shift, day };

std::optional<ShiftPattern> parse_shift_pattern(std::string_view text);
std::string_view shift_pattern_name(ShiftPattern p);

struct ShiftStatus {
  bool staffed = false;     // machines are powered (idle at least)
  bool production = false;  // machines run
};

// The status at time t (µs UTC) for a site whose local time is UTC + utc_offset_minutes.
ShiftStatus shift_status(ShiftPattern p, Timestamp t, int utc_offset_minutes);

}  // namespace strata::sim

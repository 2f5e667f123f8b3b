#include "sim/schedule.hpp"

namespace strata::sim {
namespace {

constexpr std::int64_t kMinuteUs = 60 * kMicrosPerSecond;
constexpr std::int64_t kDayMin = 24 * 60;

bool within(int minute, int from_h, int from_m, int to_h, int to_m) {
  return minute >= from_h * 60 + from_m && minute < to_h * 60 + to_m;
}

}  // namespace

std::optional<ShiftPattern> parse_shift_pattern(std::string_view text) {
  if (text == "continuous") return ShiftPattern::continuous;
  if (text == "three_shift") return ShiftPattern::three_shift;
  if (text == "two_shift") return ShiftPattern::two_shift;
  if (text == "day") return ShiftPattern::day;
  return std::nullopt;
}

std::string_view shift_pattern_name(ShiftPattern p) {
  switch (p) {
    case ShiftPattern::continuous:
      return "continuous";
    case ShiftPattern::three_shift:
      return "three_shift";
    case ShiftPattern::two_shift:
      return "two_shift";
    case ShiftPattern::day:
      return "day";
  }
  return "continuous";
}

ShiftStatus shift_status(ShiftPattern p, Timestamp t, int utc_offset_minutes) {
  std::int64_t minutes = t / kMinuteUs + utc_offset_minutes;
  if (t < 0 && t % kMinuteUs != 0) --minutes;  // floor
  std::int64_t day = minutes / kDayMin;
  std::int64_t mod = minutes % kDayMin;
  if (mod < 0) {
    mod += kDayMin;
    --day;
  }
  const int minute = static_cast<int>(mod);
  const int weekday =
      static_cast<int>(((day + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday; 0 = Sunday
  const bool workday = weekday >= 1 && weekday <= 5;
  switch (p) {
    case ShiftPattern::continuous:
      return {true, true};
    case ShiftPattern::three_shift: {
      const bool brk = within(minute, 5, 50, 6, 10) || within(minute, 13, 50, 14, 10) ||
                       within(minute, 21, 50, 22, 10) || within(minute, 10, 0, 10, 20);
      return {true, !brk};
    }
    case ShiftPattern::two_shift: {
      if (!workday || !within(minute, 6, 0, 22, 0)) return {false, false};
      const bool brk = within(minute, 10, 0, 10, 20) || within(minute, 13, 50, 14, 10) ||
                       within(minute, 18, 0, 18, 20);
      return {true, !brk};
    }
    case ShiftPattern::day: {
      if (!workday || !within(minute, 7, 0, 16, 0)) return {false, false};
      return {true, !within(minute, 12, 0, 12, 30)};
    }
  }
  return {true, true};
}

}  // namespace strata::sim

#pragma once
// The few value types every layer shares (see shared/DESIGN.md, "The way a reading travels").
#include <cstdint>
#include <limits>

namespace strata {

// Microseconds since the Unix epoch, UTC. The one time unit inside Strata.
using Timestamp = std::int64_t;
inline constexpr Timestamp kMinTimestamp = std::numeric_limits<Timestamp>::min();
inline constexpr Timestamp kMaxTimestamp = std::numeric_limits<Timestamp>::max();
inline constexpr Timestamp kMicrosPerSecond = 1'000'000;

// Dense id of a series, handed out by the series registry in registration order.
using SeriesId = std::uint32_t;

// One reading of one series.
struct Sample {
  Timestamp ts;
  double value;
};

// One reading of any series: what a mixed batch carries.
struct Point {
  SeriesId series;
  Timestamp ts;
  double value;
};

}  // namespace strata

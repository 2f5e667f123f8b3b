#pragma once
// A detector attached to a series that already has history starts warm: warm_up() feeds it the
// series' stored points in time order (the scores are discarded), as if it had been attached from
// the start of that range. The only place this module reads the store.
#include <cstdint>
#include <functional>

#include "analytics/detector_registry.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::store {
class Store;
}

namespace strata::analytics {

// Feeds `detector` the stored points of `series` with from ≤ ts ≤ to, in time order. Returns how
// many were fed, or the store's error when a chunk turns out corrupt (the points before it have
// been fed; the detector is still usable).
[[nodiscard]] Result<std::uint64_t> warm_up(AnyDetector& detector, const store::Store& store,
                                            SeriesId series, Timestamp from = kMinTimestamp,
                                            Timestamp to = kMaxTimestamp);

// Each warm-up point with what the detector said about it.
using WarmUpPoint = std::function<void(Timestamp ts, double value, const Assessment& a)>;

// The same, handing every point fed and its assessment to `on_point`, for an owner that keeps
// per-point state of its own beside the detector (the detection stage's event state, its count
// of points seen), so that it stays in step with a detector that saw the points live.
[[nodiscard]] Result<std::uint64_t> warm_up(AnyDetector& detector, const store::Store& store,
                                            SeriesId series, Timestamp from, Timestamp to,
                                            const WarmUpPoint& on_point);

}  // namespace strata::analytics

#pragma once
// A detector attached to a series that already has history starts warm: warm_up() feeds it the
// series' stored points in time order (the scores are discarded), as if it had been attached from
// the start of that range. The only place this module reads the store.
#include <cstdint>

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

}  // namespace strata::analytics

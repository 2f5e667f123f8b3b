#include "analytics/warm_up.hpp"

#include <vector>

#include "store/query.hpp"
#include "store/store.hpp"

namespace strata::analytics {

Result<std::uint64_t> warm_up(AnyDetector& detector, const store::Store& store, SeriesId series,
                              Timestamp from, Timestamp to) {
  return warm_up(detector, store, series, from, to, {});
}

Result<std::uint64_t> warm_up(AnyDetector& detector, const store::Store& store, SeriesId series,
                              Timestamp from, Timestamp to, const WarmUpPoint& on_point) {
  store::RangeCursor cursor(store.snapshot(series), from, to);
  std::vector<Sample> batch;
  std::uint64_t fed = 0;
  while (cursor.next(batch)) {
    for (const auto& s : batch) {
      const Assessment a = detector.update(s.ts, s.value);
      if (on_point) on_point(s.ts, s.value, a);
    }
    fed += batch.size();
  }
  if (!cursor.status()) return cursor.status().error();
  return fed;
}

}  // namespace strata::analytics

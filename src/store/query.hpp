#pragma once
// Reads over a SeriesSnapshot: raw ranges (streamed a batch at a time), aggregates per interval
// and the latest value. Chunks that overlap in time are merged with the newest write winning;
// otherwise chunks are decoded one after another, never a whole range at once.
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "store/chunk.hpp"
#include "store/store.hpp"

namespace strata::store {

// What a read of one series draws on: a sealed chunk, or (chunk null) the head.
struct QuerySource {
  Timestamp tmin, tmax;
  const ChunkRef* chunk;
};

// Streams a series' samples in time order a batch at a time (see the file comment).
class RangeCursor {
 public:
  // Samples with from ≤ ts ≤ to.
  RangeCursor(SeriesSnapshot snapshot, Timestamp from, Timestamp to);
  // Replaces out's contents with up to `max` next samples; false once nothing is left.
  bool next(std::vector<Sample>& out, std::size_t max = 4096);
  // Not ok when a chunk turned out corrupt while reading (the rest is still served).
  [[nodiscard]] const Status& status() const { return status_; }

 private:
  bool open_group();

  SeriesSnapshot snap_;
  Timestamp from_, to_;
  std::vector<QuerySource> sources_;
  std::size_t next_source_ = 0;
  std::unique_ptr<ChunkDecoder> decoder_;  // streaming a single chunk
  std::vector<Sample> merged_;             // a materialised group of overlapping sources
  std::size_t merged_pos_ = 0;
  std::vector<Sample> scratch_;
  Status status_;
};

enum class Aggregate { min, max, avg, sum, count, first, last, stddev };
Result<Aggregate> parse_aggregate(std::string_view name);
std::string_view aggregate_name(Aggregate a);

// Everything an interval's aggregates are computed from (Welford's mean and M2 for stddev).
struct Bucket {
  Timestamp start = 0;
  std::uint64_t count = 0;
  double sum = 0, mean = 0, m2 = 0;
  double min = 0, max = 0, first = 0, last = 0;
  void add(const Sample& s);
  // Folds another bucket of the same interval in (Chan et al.'s pairwise update for M2).
  void merge(const Bucket& other);
  // count for count; the sample standard deviation (n − 1) for stddev, NaN below 2 points.
  [[nodiscard]] double value(Aggregate a) const;
};

// A set of aggregates (bit 1 << Aggregate): what a query asks for, so that folds can skip what
// only the others need (min and stddev cost a compare and a multiply-add a point).
using AggregateSet = std::uint32_t;
inline constexpr AggregateSet kEveryAggregate = 0xFF;
constexpr AggregateSet aggregate_set(std::initializer_list<Aggregate> list) {
  AggregateSet s = 0;
  for (Aggregate a : list) s |= AggregateSet{1} << static_cast<unsigned>(a);
  return s;
}

// Buckets of `interval` aligned to the epoch, over from ≤ ts ≤ to; empty buckets are left out.
// min and stddev are computed only when `need` holds them (otherwise NaN or partial); count, sum,
// avg, max, first and last always are.
Result<std::vector<Bucket>> aggregate(const SeriesSnapshot& snapshot, Timestamp from, Timestamp to,
                                      Timestamp interval, AggregateSet need = kEveryAggregate);
// The whole range as one bucket.
Result<Bucket> aggregate_all(const SeriesSnapshot& snapshot, Timestamp from, Timestamp to);
// The newest sample of the series.
std::optional<Sample> latest(const SeriesSnapshot& snapshot);

}  // namespace strata::store

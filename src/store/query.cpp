#include "store/query.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace strata::store {
namespace {

// The chunks and head of a snapshot that reach into [from, to], by first timestamp.
std::vector<QuerySource> sources_of(const SeriesSnapshot& snap, Timestamp from, Timestamp to) {
  std::vector<QuerySource> out;
  for (const auto& c : *snap.chunks)
    if (c.tmax >= from && c.tmin <= to) out.push_back(QuerySource{c.tmin, c.tmax, &c});
  if (!snap.head.empty() && snap.head.back().ts >= from && snap.head.front().ts <= to)
    out.push_back(QuerySource{snap.head.front().ts, snap.head.back().ts, nullptr});
  std::stable_sort(out.begin(), out.end(),
                   [](const QuerySource& a, const QuerySource& b) { return a.tmin < b.tmin; });
  return out;
}

// The group starting at `begin`: sources that overlap it, transitively. Returns one past its
// last source and sets `hi` to its last timestamp.
std::size_t group_end(const std::vector<QuerySource>& sources, std::size_t begin, Timestamp& hi) {
  std::size_t end = begin + 1;
  hi = sources[begin].tmax;
  while (end < sources.size() && sources[end].tmin <= hi) hi = std::max(hi, sources[end++].tmax);
  return end;
}

}  // namespace

RangeCursor::RangeCursor(SeriesSnapshot snapshot, Timestamp from, Timestamp to)
    : snap_(std::move(snapshot)), from_(from), to_(to), sources_(sources_of(snap_, from, to)) {}

bool RangeCursor::open_group() {
  decoder_.reset();
  merged_.clear();
  merged_pos_ = 0;
  while (next_source_ < sources_.size()) {
    Timestamp hi;
    const std::size_t end = group_end(sources_, next_source_, hi);
    const std::size_t begin = next_source_;
    next_source_ = end;
    if (end - begin == 1 && sources_[begin].chunk) {
      auto d = ChunkDecoder::open(sources_[begin].chunk->bytes);
      if (!d) {
        status_ = d.error();
        continue;
      }
      decoder_ = std::move(*d);
      return true;
    }
    // Overlap (or the head): materialise the group, the head and newer chunks winning.
    std::vector<const QuerySource*> group;
    for (std::size_t i = begin; i < end; ++i) group.push_back(&sources_[i]);
    std::sort(group.begin(), group.end(), [](const QuerySource* a, const QuerySource* b) {
      const auto pa = a->chunk ? a->chunk->precedence : std::numeric_limits<std::uint64_t>::max();
      const auto pb = b->chunk ? b->chunk->precedence : std::numeric_limits<std::uint64_t>::max();
      return pa < pb;
    });
    std::map<Timestamp, double> m;
    for (const QuerySource* s : group) {
      if (!s->chunk) {
        for (const Sample& x : snap_.head)
          if (x.ts >= from_ && x.ts <= to_) m[x.ts] = x.value;
        continue;
      }
      auto samples = decode_chunk(s->chunk->bytes);
      if (!samples) {
        status_ = samples.error();
        continue;
      }
      for (const Sample& x : *samples)
        if (x.ts >= from_ && x.ts <= to_) m[x.ts] = x.value;
    }
    merged_.reserve(m.size());
    for (auto [ts, v] : m) merged_.push_back({ts, v});
    if (!merged_.empty()) return true;
  }
  return false;
}

bool RangeCursor::next(std::vector<Sample>& out, std::size_t max) {
  out.clear();
  while (out.size() < max) {
    if (decoder_) {
      scratch_.resize(std::min<std::size_t>(max - out.size(), 1024));
      const std::size_t n = decoder_->next(scratch_.data(), scratch_.size());
      if (n == 0) {
        if (decoder_->failed()) status_ = Error::of(chunk_errc::corrupt, "chunk: corrupt payload");
        decoder_.reset();
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const Sample& x = scratch_[i];
        if (x.ts > to_) {
          decoder_.reset();
          break;
        }
        if (x.ts >= from_) out.push_back(x);
      }
      continue;
    }
    if (merged_pos_ < merged_.size()) {
      const std::size_t n = std::min(max - out.size(), merged_.size() - merged_pos_);
      out.insert(out.end(), merged_.begin() + static_cast<long>(merged_pos_),
                 merged_.begin() + static_cast<long>(merged_pos_ + n));
      merged_pos_ += n;
      continue;
    }
    if (!open_group()) break;
  }
  return !out.empty();
}

namespace {
constexpr std::pair<std::string_view, Aggregate> kAggregateNames[] = {
    {"min", Aggregate::min},   {"max", Aggregate::max},       {"avg", Aggregate::avg},
    {"sum", Aggregate::sum},   {"count", Aggregate::count},   {"first", Aggregate::first},
    {"last", Aggregate::last}, {"stddev", Aggregate::stddev}, {"mean", Aggregate::avg}};
}  // namespace

Result<Aggregate> parse_aggregate(std::string_view name) {
  for (auto [n, a] : kAggregateNames)
    if (n == name) return a;
  return Error::of(errc::invalid_argument,
                   "unknown aggregate '" + std::string(name) +
                       "' (min, max, avg, sum, count, first, last, stddev)");
}

std::string_view aggregate_name(Aggregate a) {
  for (auto [n, x] : kAggregateNames)  // the first name of each is its own
    if (x == a) return n;
  return "?";
}

void Bucket::add(const Sample& s) {
  const double v = s.value;
  if (count == 0) {
    min = max = first = v;
  } else {
    min = std::fmin(min, v);
    max = std::fmax(max, v);
  }
  last = v;
  ++count;
  sum += v;
  const double d = v - mean;
  mean += d / static_cast<double>(count);
  m2 += d * (v - mean);
}

double Bucket::value(Aggregate a) const {
  switch (a) {
    case Aggregate::min:
      return min;
    case Aggregate::max:
      return max;
    case Aggregate::avg:
      return count ? sum / static_cast<double>(count) : std::nan("");
    case Aggregate::sum:
      return sum;
    case Aggregate::count:
      return static_cast<double>(count);
    case Aggregate::first:
      return first;
    case Aggregate::last:
      return last;
    case Aggregate::stddev:
      return count >= 2 ? std::sqrt(m2 / static_cast<double>(count - 1)) : std::nan("");
  }
  return std::nan("");
}

void Bucket::merge(const Bucket& o) {
  if (o.count == 0) return;
  if (count == 0) {
    const Timestamp keep = start;
    *this = o;
    start = keep;
    return;
  }
  const double n = static_cast<double>(count + o.count);
  const double delta = o.mean - mean;
  m2 += o.m2 + delta * delta * static_cast<double>(count) * static_cast<double>(o.count) / n;
  mean += delta * static_cast<double>(o.count) / n;
  sum += o.sum;
  min = std::fmin(min, o.min);
  max = std::fmax(max, o.max);
  last = o.last;
  count += o.count;
}

namespace {

// Appends a run's bucket to out, folding it into the last bucket when it is the same interval.
void emit(std::vector<Bucket>& out, const Bucket& run) {
  if (!out.empty() && out.back().start == run.start)
    out.back().merge(run);
  else
    out.push_back(run);
}

// Whether a fold must keep min and M2 (the spread), or can leave them NaN.
bool needs_spread(AggregateSet need) {
  return (need & aggregate_set({Aggregate::min, Aggregate::stddev})) != 0;
}

// A run of doubles of one bucket.
Bucket run_of_values(Timestamp start, const double* v, std::size_t n, bool spread) {
  Bucket b;
  b.start = start;
  b.count = n;
  b.first = v[0];
  b.last = v[n - 1];
  double sum = 0, lo = v[0], hi = v[0];
  for (std::size_t i = 0; i < n; ++i) {
    sum += v[i];
    lo = std::fmin(lo, v[i]);
    hi = std::fmax(hi, v[i]);
  }
  b.sum = sum;
  b.min = lo;
  b.max = hi;
  b.mean = sum / static_cast<double>(n);
  if (!spread) {
    b.min = b.m2 = std::numeric_limits<double>::quiet_NaN();
    return b;
  }
  double m2 = 0;
  for (std::size_t i = 0; i < n; ++i) m2 += (v[i] - b.mean) * (v[i] - b.mean);
  b.m2 = m2;
  return b;
}

// A run of exact decimal mantissas of one bucket without the spread: max and the sum on integers
// (exact), one division each at the end. REQUIRES: |m| < 2^53 and n < 2^10 per call, so the
// int64 sum cannot overflow.
// The bucket of a run of mantissas from its integer max and sum; min and M2 left NaN.
Bucket mantissa_bucket(Timestamp start, const std::int64_t* m, std::size_t n, std::int64_t hi,
                       std::int64_t sum, double scale) {
  Bucket b;
  b.start = start;
  b.count = n;
  b.first = static_cast<double>(m[0]) / scale;
  b.last = static_cast<double>(m[n - 1]) / scale;
  b.min = b.m2 = std::numeric_limits<double>::quiet_NaN();
  b.max = static_cast<double>(hi) / scale;
  b.sum = static_cast<double>(sum) / scale;
  b.mean = b.sum / static_cast<double>(n);
  return b;
}

Bucket run_of_mantissas_light(Timestamp start, const std::int64_t* m, std::size_t n, double scale) {
  std::int64_t hi = m[0], sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    hi = std::max(hi, m[i]);
    sum += m[i];
  }
  return mantissa_bucket(start, m, n, hi, sum, scale);
}

// The same with the spread (min and M2). REQUIRES as above.
Bucket run_of_mantissas(Timestamp start, const std::int64_t* m, std::size_t n, double scale) {
  // One pass: min, max and the first two moments of d = m − m[0] in wrapping integers. When the
  // run is narrow enough (|d| < 2^16, n ≤ 4,096) they are exact and n²·M2 = n·Σd² − (Σd)² is an
  // exact integer below 2^56; otherwise a second pass in doubles.
  const std::int64_t ref = m[0];
  std::int64_t lo = ref, hi = ref;
  std::uint64_t s1 = 0, s2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    lo = std::min(lo, m[i]);
    hi = std::max(hi, m[i]);
    const std::uint64_t d = static_cast<std::uint64_t>(m[i]) - static_cast<std::uint64_t>(ref);
    s1 += d;
    s2 += d * d;
  }
  const auto nn = static_cast<std::int64_t>(n);
  const auto sum_d = static_cast<std::int64_t>(s1);
  const std::int64_t sum =
      static_cast<std::int64_t>(static_cast<std::uint64_t>(ref) * static_cast<std::uint64_t>(nn)) +
      sum_d;
  double m2;
  if (n <= 4096 && static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(ref) < (1u << 16) &&
      static_cast<std::uint64_t>(ref) - static_cast<std::uint64_t>(lo) < (1u << 16)) {
    m2 = static_cast<double>(nn * static_cast<std::int64_t>(s2) - sum_d * sum_d) /
         static_cast<double>(nn);
  } else {
    const double mean_m = static_cast<double>(sum) / static_cast<double>(n);
    m2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(m[i]) - mean_m;
      m2 += d * d;
    }
  }
  Bucket b = mantissa_bucket(start, m, n, hi, sum, scale);
  b.min = static_cast<double>(lo) / scale;
  b.m2 = m2 / (scale * scale);
  return b;
}

Timestamp bucket_of(Timestamp ts, Timestamp interval) {
  Timestamp q = ts / interval;
  if (ts % interval < 0) --q;
  return q * interval;
}

// Aggregates one chunk that overlaps no other source, a decoded block at a time.
Status aggregate_chunk(const ChunkRef& chunk, Timestamp from, Timestamp to, Timestamp interval,
                       bool spread, std::vector<Bucket>& out) {
  auto d = ChunkDecoder::open(chunk.bytes);
  if (!d) return d.error();
  ChunkDecoder& dec = **d;
  constexpr std::size_t kBlock = 1024;
  Timestamp ts[kBlock];
  double v[kBlock];
  std::int64_t m[kBlock];
  const bool integers = dec.integer_values();
  const double scale = dec.scale();
  const bool regular = dec.regular() && dec.count() >= 2 && dec.step() > 0;
  for (;;) {
    // A regular chunk's timestamps are first + j·step: runs are cut by arithmetic, not decoded.
    const Timestamp first = regular && dec.remaining() > 0 ? dec.next_timestamp() : 0;
    const Timestamp step = regular ? dec.step() : 0;
    Timestamp* tsp = regular ? nullptr : ts;
    const std::size_t n =
        integers ? dec.next_block_mantissas(tsp, m, kBlock) : dec.next_block(tsp, v, kBlock);
    if (n == 0) break;
    auto time_at = [&](std::size_t j) {
      return regular ? first + static_cast<Timestamp>(j) * step : ts[j];
    };
    std::size_t i = 0;
    if (regular) {
      if (from > first)
        i = std::min<std::size_t>(n, static_cast<std::size_t>((from - first + step - 1) / step));
    } else {
      while (i < n && ts[i] < from) ++i;
    }
    while (i < n && time_at(i) <= to) {
      const Timestamp t = time_at(i);
      const Timestamp start = bucket_of(t, interval);
      const Timestamp last =
          std::min(to, start > kMaxTimestamp - interval ? kMaxTimestamp : start + interval - 1);
      std::size_t j;
      if (regular) {
        j = std::min<std::size_t>(n, i + static_cast<std::size_t>((last - t) / step) + 1);
      } else {
        j = i + 1;
        while (j < n && ts[j] <= last) ++j;
      }
      emit(out, !integers ? run_of_values(start, v + i, j - i, spread)
                : spread  ? run_of_mantissas(start, m + i, j - i, scale)
                          : run_of_mantissas_light(start, m + i, j - i, scale));
      i = j;
    }
    if (i < n) break;  // past `to`
  }
  if (dec.failed()) return Error::of(chunk_errc::corrupt, "chunk: corrupt payload");
  return {};
}

}  // namespace

Result<std::vector<Bucket>> aggregate(const SeriesSnapshot& snapshot, Timestamp from, Timestamp to,
                                      Timestamp interval, AggregateSet need) {
  if (interval <= 0)
    return Error::of(errc::invalid_argument, "aggregation interval must be positive");
  std::vector<Bucket> out;
  // Chunks that overlap nothing else take the fast path; overlapping groups and the head are
  // merged by a RangeCursor over just their span.
  const auto sources = sources_of(snapshot, from, to);
  Status status;
  std::vector<Sample> batch;
  for (std::size_t g = 0; g < sources.size();) {
    Timestamp hi;
    const std::size_t end = group_end(sources, g, hi);
    if (end - g == 1 && sources[g].chunk) {
      if (auto s = aggregate_chunk(*sources[g].chunk, from, to, interval, needs_spread(need), out);
          !s)
        status = s;
    } else {
      SeriesSnapshot part;
      auto chunks = std::make_shared<std::vector<ChunkRef>>();
      for (std::size_t i = g; i < end; ++i)
        if (sources[i].chunk)
          chunks->push_back(*sources[i].chunk);
        else
          part.head = snapshot.head;
      part.chunks = std::move(chunks);
      RangeCursor cursor(std::move(part), std::max(from, sources[g].tmin), std::min(to, hi));
      while (cursor.next(batch)) {
        for (const Sample& s : batch) {
          const Timestamp b = bucket_of(s.ts, interval);
          if (out.empty() || out.back().start != b) {
            out.emplace_back();
            out.back().start = b;
          }
          out.back().add(s);
        }
      }
      if (!cursor.status()) status = cursor.status();
    }
    g = end;
  }
  if (!status) return status.error();
  return out;
}

Result<Bucket> aggregate_all(const SeriesSnapshot& snapshot, Timestamp from, Timestamp to) {
  Bucket b;
  b.start = from;
  RangeCursor cursor(snapshot, from, to);
  std::vector<Sample> batch;
  while (cursor.next(batch))
    for (const Sample& s : batch) b.add(s);
  if (!cursor.status()) return cursor.status().error();
  return b;
}

std::optional<Sample> latest(const SeriesSnapshot& snapshot) {
  Timestamp newest = kMinTimestamp;
  for (const auto& c : *snapshot.chunks) newest = std::max(newest, c.tmax);
  if (!snapshot.head.empty()) newest = std::max(newest, snapshot.head.back().ts);
  if (newest == kMinTimestamp) return std::nullopt;
  RangeCursor cursor(snapshot, newest, newest);
  std::vector<Sample> batch;
  if (cursor.next(batch) && !batch.empty()) return batch.back();
  return std::nullopt;
}

}  // namespace strata::store

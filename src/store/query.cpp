#include "store/query.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace strata::store {

RangeCursor::RangeCursor(SeriesSnapshot snapshot, Timestamp from, Timestamp to)
    : snap_(std::move(snapshot)), from_(from), to_(to) {
  for (const auto& c : *snap_.chunks)
    if (c.tmax >= from_ && c.tmin <= to_) sources_.push_back(Source{c.tmin, c.tmax, &c});
  if (!snap_.head.empty() && snap_.head.back().ts >= from_ && snap_.head.front().ts <= to_)
    sources_.push_back(Source{snap_.head.front().ts, snap_.head.back().ts, nullptr});
  std::stable_sort(sources_.begin(), sources_.end(), [](const Source& a, const Source& b) { return a.tmin < b.tmin; });
}

bool RangeCursor::open_group() {
  decoder_.reset();
  merged_.clear();
  merged_pos_ = 0;
  while (next_source_ < sources_.size()) {
    // A group: sources that overlap (transitively) the first one.
    std::size_t end = next_source_ + 1;
    Timestamp hi = sources_[next_source_].tmax;
    while (end < sources_.size() && sources_[end].tmin <= hi) hi = std::max(hi, sources_[end++].tmax);
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
    std::vector<const Source*> group;
    for (std::size_t i = begin; i < end; ++i) group.push_back(&sources_[i]);
    std::sort(group.begin(), group.end(), [](const Source* a, const Source* b) {
      const auto pa = a->chunk ? a->chunk->precedence : std::numeric_limits<std::uint64_t>::max();
      const auto pb = b->chunk ? b->chunk->precedence : std::numeric_limits<std::uint64_t>::max();
      return pa < pb;
    });
    std::map<Timestamp, double> m;
    for (const Source* s : group) {
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

Result<Aggregate> parse_aggregate(std::string_view name) {
  static constexpr std::pair<std::string_view, Aggregate> kNames[] = {
      {"min", Aggregate::min},     {"max", Aggregate::max},     {"avg", Aggregate::avg},
      {"mean", Aggregate::avg},    {"sum", Aggregate::sum},     {"count", Aggregate::count},
      {"first", Aggregate::first}, {"last", Aggregate::last},   {"stddev", Aggregate::stddev}};
  for (auto [n, a] : kNames)
    if (n == name) return a;
  return Error::of(errc::invalid_argument,
                   "unknown aggregate '" + std::string(name) + "' (min, max, avg, sum, count, first, last, stddev)");
}

std::string_view aggregate_name(Aggregate a) {
  switch (a) {
    case Aggregate::min: return "min";
    case Aggregate::max: return "max";
    case Aggregate::avg: return "avg";
    case Aggregate::sum: return "sum";
    case Aggregate::count: return "count";
    case Aggregate::first: return "first";
    case Aggregate::last: return "last";
    case Aggregate::stddev: return "stddev";
  }
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
    case Aggregate::min: return min;
    case Aggregate::max: return max;
    case Aggregate::avg: return count ? sum / static_cast<double>(count) : std::nan("");
    case Aggregate::sum: return sum;
    case Aggregate::count: return static_cast<double>(count);
    case Aggregate::first: return first;
    case Aggregate::last: return last;
    case Aggregate::stddev: return count >= 2 ? std::sqrt(m2 / static_cast<double>(count - 1)) : std::nan("");
  }
  return std::nan("");
}

namespace {
Timestamp bucket_start(Timestamp ts, Timestamp interval) {
  Timestamp q = ts / interval;
  if (ts % interval < 0) --q;
  return q * interval;
}
}  // namespace

Result<std::vector<Bucket>> aggregate(const SeriesSnapshot& snapshot, Timestamp from, Timestamp to, Timestamp interval) {
  if (interval <= 0) return Error::of(errc::invalid_argument, "aggregation interval must be positive");
  std::vector<Bucket> out;
  RangeCursor cursor(snapshot, from, to);
  std::vector<Sample> batch;
  while (cursor.next(batch)) {
    for (const Sample& s : batch) {
      const Timestamp b = bucket_start(s.ts, interval);
      if (out.empty() || out.back().start != b) {
        out.emplace_back();
        out.back().start = b;
      }
      out.back().add(s);
    }
  }
  if (!cursor.status()) return cursor.status().error();
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

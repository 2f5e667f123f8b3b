// Tests of store/query against a naive reference: random series, random out-of-order appends
// inside the window, duplicates, refusals, deletions, checkpoints, compactions and reopens at
// random points; RangeCursor over random [from, to] must equal a std::map exactly; aggregate()
// over random intervals (uneven ones, negative timestamps: buckets aligned to the epoch by floor)
// must equal a naive computation (min, max, first, last, count exactly; sum, avg, stddev to 1e-9
// relative); latest() and aggregate_all() too. Also the fast aggregation paths over big decimal
// chunks, NaN handling and the aggregate names.
#include "store/query.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "scratch_dir.hpp"
#include "store_access.hpp"

namespace strata::store {
namespace {

using testing::must_resolve;
using testing::open_store;
using testing::read_range;
using testing::same_samples;
using testing::ScratchDir;
using testing::series_key;
using testing::test_options;
using testing::to_samples;

constexpr Timestamp kS = kMicrosPerSecond;

Timestamp floor_div(Timestamp a, Timestamp b) {
  Timestamp q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}

struct NaiveBucket {
  Timestamp start = 0;
  std::vector<double> values;
};

std::vector<NaiveBucket> naive_aggregate(const std::map<Timestamp, double>& ref, Timestamp from,
                                         Timestamp to, Timestamp interval) {
  std::vector<NaiveBucket> out;
  for (auto it = ref.lower_bound(from); it != ref.end() && it->first <= to; ++it) {
    const Timestamp start = floor_div(it->first, interval) * interval;
    if (out.empty() || out.back().start != start) out.push_back({start, {}});
    out.back().values.push_back(it->second);
  }
  return out;
}

// |got − want| ≤ 1e-9 relative to the magnitude of the data.
::testing::AssertionResult close(double got, double want, double scale, const char* what) {
  const double tol = 1e-9 * std::max({std::fabs(want), scale, 1e-300});
  if (std::isnan(want) && std::isnan(got)) return ::testing::AssertionSuccess();
  if (std::fabs(got - want) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": got " << got << ", want " << want << " (tolerance " << tol << ")";
}

// Compares aggregate() buckets with the naive ones: exact where the answer is one of the values
// or a count, within 1e-9 relative for sums, means and deviations.
void expect_same_buckets(const std::vector<Bucket>& got, const std::vector<NaiveBucket>& want,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(what + ", bucket " + std::to_string(i) + " at " + std::to_string(want[i].start));
    const auto& v = want[i].values;
    const Bucket& b = got[i];
    ASSERT_EQ(b.start, want[i].start);
    ASSERT_EQ(b.count, v.size());
    double mn = v[0], mx = v[0], sum = 0, abs_sum = 0;
    for (double x : v) {
      mn = std::fmin(mn, x);
      mx = std::fmax(mx, x);
      sum += x;
      abs_sum += std::fabs(x);
    }
    const double n = static_cast<double>(v.size());
    const double mean = sum / n;
    double m2 = 0;
    for (double x : v) m2 += (x - mean) * (x - mean);
    const double scale = abs_sum / n;  // the magnitude of the values
    EXPECT_EQ(b.value(Aggregate::min), mn);
    EXPECT_EQ(b.value(Aggregate::max), mx);
    EXPECT_EQ(b.value(Aggregate::first), v.front());
    EXPECT_EQ(b.value(Aggregate::last), v.back());
    EXPECT_EQ(b.value(Aggregate::count), n);
    EXPECT_TRUE(close(b.value(Aggregate::sum), sum, abs_sum, "sum"));
    EXPECT_TRUE(close(b.value(Aggregate::avg), mean, scale, "avg"));
    if (v.size() < 2) {
      EXPECT_TRUE(std::isnan(b.value(Aggregate::stddev)));
    } else {
      EXPECT_TRUE(close(b.value(Aggregate::stddev), std::sqrt(m2 / (n - 1)), scale, "stddev"));
    }
  }
}

// One series of the random test: the reference and what the store's window knows as newest.
struct Model {
  std::map<Timestamp, double> ref;
  Timestamp newest = kMinTimestamp;
};

class RandomHistory {
 public:
  RandomHistory(std::uint64_t seed, const std::filesystem::path& dir) : rng_(seed), dir_(dir) {
    const std::size_t sizes[] = {4, 16, 64};
    options_ = test_options(sizes[rng_() % 3]);
    options_.out_of_order_window_us = kWindow;
    store_ = open_store(dir_, options_);
    const Timestamp bases[] = {1'700'000'000 * kS, -30 * kS, -86'400'000 * kS, 12345};
    for (int s = 0; s < 4; ++s) {
      must_resolve(*store_,
                   series_key("dev" + std::to_string(s), "m", {{"k", std::to_string(s % 2)}}));
      models_.push_back(Model{});
      bases_.push_back(bases[s]);
    }
  }

  void run(int steps) {
    for (int step = 0; step < steps && !::testing::Test::HasFatalFailure(); ++step) {
      const unsigned op = static_cast<unsigned>(rng_() % 100);
      if (op < 50) {
        append_samples();
      } else if (op < 65) {
        append_points();
      } else if (op < 72) {
        ASSERT_TRUE(store_->checkpoint().ok());
        ++counts.checkpoints;
      } else if (op < 77) {
        reopen();
      } else if (op < 80) {
        ASSERT_TRUE(store_->compact().ok());
        ++counts.compactions;
      } else if (op < 85) {
        delete_some();
      } else {
        verify(static_cast<SeriesId>(rng_() % models_.size()), step);
      }
    }
    reopen();
    for (SeriesId s = 0; s < models_.size(); ++s) verify(s, steps);
  }

  // What the history exercised, so that a test of it cannot pass by doing little.
  struct Counts {
    std::size_t refused = 0, rewrites = 0, deleted = 0, checkpoints = 0, reopens = 0,
                compactions = 0, verified = 0;
  } counts;

 private:
  static constexpr Timestamp kWindow = 50 * kS;

  Timestamp pick_ts(SeriesId s) {
    Model& m = models_[s];
    const Timestamp newest = m.newest == kMinTimestamp ? bases_[s] : m.newest;
    switch (rng_() % 10) {
      case 0:
      case 1:
        return newest - static_cast<Timestamp>(
                            rng_() % static_cast<std::uint64_t>(kWindow));  // late, accepted
      case 2:  // a rewrite of an existing point
        if (!m.ref.empty())
          return std::next(m.ref.begin(), static_cast<long>(rng_() % m.ref.size()))->first;
        return newest;
      case 3:
        return newest - kWindow - 1 -
               static_cast<Timestamp>(rng_() % (100 * kS));  // too old: refused
      case 4:
        return newest + 1 + static_cast<Timestamp>(rng_() % 1000);  // irregular
      default:
        return newest + (1 + static_cast<Timestamp>(rng_() % 3)) * kS;  // regular-ish
    }
  }

  double pick_value() {
    const int decimals = static_cast<int>(rng_() % 4);
    const double scale = std::pow(10.0, decimals);
    return static_cast<double>(static_cast<std::int64_t>(rng_() % 2000001) - 1000000) / scale;
  }

  // What the store must accept: the window against the newest accepted so far, in batch order.
  bool accept(SeriesId s, Timestamp ts, double v, std::vector<Timestamp>& refused) {
    Model& m = models_[s];
    if (m.newest != kMinTimestamp && ts < m.newest - kWindow) {
      refused.push_back(ts);
      ++counts.refused;
      return false;
    }
    m.newest = std::max(m.newest, ts);
    counts.rewrites += m.ref.count(ts);
    m.ref[ts] = v;
    return true;
  }

  void append_samples() {
    const auto s = static_cast<SeriesId>(rng_() % models_.size());
    std::vector<Sample> batch;
    std::vector<Timestamp> refused;
    std::size_t accepted = 0;
    const int n = 1 + static_cast<int>(rng_() % 30);
    for (int k = 0; k < n; ++k) {
      const Sample x{pick_ts(s), pick_value()};
      batch.push_back(x);
      accepted += accept(s, x.ts, x.value, refused) ? 1 : 0;
    }
    auto r = store_->append(s, batch);
    ASSERT_TRUE(r.ok()) << r.error().message;
    check_result(*r, accepted, refused);
  }

  void append_points() {
    std::vector<Point> batch;
    std::vector<Timestamp> refused;
    std::size_t accepted = 0;
    const int n = 1 + static_cast<int>(rng_() % 40);
    for (int k = 0; k < n; ++k) {
      const auto s = static_cast<SeriesId>(rng_() % models_.size());
      const Point p{s, pick_ts(s), pick_value()};
      batch.push_back(p);
      accepted += accept(s, p.ts, p.value, refused) ? 1 : 0;
    }
    auto r = store_->append(batch);
    ASSERT_TRUE(r.ok()) << r.error().message;
    check_result(*r, accepted, refused);
  }

  static void check_result(const AppendResult& r, std::size_t accepted,
                           std::vector<Timestamp> refused) {
    EXPECT_EQ(r.accepted, accepted);
    std::vector<Timestamp> got;
    for (const auto& x : r.refused) got.push_back(x.ts);
    std::sort(got.begin(), got.end());
    std::sort(refused.begin(), refused.end());
    EXPECT_EQ(got, refused);
  }

  void reopen() {
    store_.reset();
    store_ = open_store(dir_, options_);
    ASSERT_TRUE(store_);
    EXPECT_TRUE(store_->lost().empty());
    ++counts.reopens;
    // After a reopen the window starts from the newest point still stored.
    for (auto& m : models_) m.newest = m.ref.empty() ? kMinTimestamp : m.ref.rbegin()->first;
  }

  void delete_some() {
    const auto s = static_cast<SeriesId>(rng_() % models_.size());
    Model& m = models_[s];
    if (m.ref.empty()) return;
    const Timestamp a = std::next(m.ref.begin(), static_cast<long>(rng_() % m.ref.size()))->first -
                        static_cast<Timestamp>(rng_() % 3);
    const Timestamp b = a + static_cast<Timestamp>(rng_() % (20 * kS));
    std::uint64_t expected = 0;
    for (auto it = m.ref.lower_bound(a); it != m.ref.end() && it->first <= b; ++expected)
      it = m.ref.erase(it);
    auto n = store_->delete_range(s, a, b);
    ASSERT_TRUE(n.ok()) << n.error().message;
    EXPECT_EQ(*n, expected);
    counts.deleted += expected;
  }

  void verify(SeriesId s, int step) {
    SCOPED_TRACE("series " + std::to_string(s) + ", step " + std::to_string(step));
    const Model& m = models_[s];
    const auto snap = store_->snapshot(s);
    ++counts.verified;
    ASSERT_TRUE(same_samples(read_range(snap, kMinTimestamp, kMaxTimestamp), to_samples(m.ref)));
    const Timestamp lo = m.ref.empty() ? bases_[s] : m.ref.begin()->first;
    const Timestamp hi = m.ref.empty() ? bases_[s] : m.ref.rbegin()->first;
    const Timestamp span = std::max<Timestamp>(1, hi - lo);
    for (int q = 0; q < 4; ++q) {
      Timestamp from =
          lo - span / 10 +
          static_cast<Timestamp>(rng_() % static_cast<std::uint64_t>(span + span / 5 + 1));
      Timestamp to =
          from + static_cast<Timestamp>(rng_() % static_cast<std::uint64_t>(span / 2 + 2));
      if (q == 0 && !m.ref.empty()) {  // bounds exactly on points
        std::size_t i = rng_() % m.ref.size(), j = rng_() % m.ref.size();
        if (i > j) std::swap(i, j);
        from = std::next(m.ref.begin(), static_cast<long>(i))->first;
        to = std::next(m.ref.begin(), static_cast<long>(j))->first;
      }
      std::map<Timestamp, double> slice(m.ref.lower_bound(from), m.ref.upper_bound(to));
      ASSERT_TRUE(same_samples(read_range(snap, from, to, 1 + rng_() % 100), to_samples(slice)))
          << "range [" << from << ", " << to << "]";
      const Timestamp intervals[] = {
          1,       7,         1000,
          999'999, kS,        7 * kS,
          60 * kS, 3600 * kS, 1 + static_cast<Timestamp>(rng_() % (90 * kS))};
      const Timestamp interval = intervals[rng_() % std::size(intervals)];
      auto buckets = aggregate(snap, from, to, interval);
      ASSERT_TRUE(buckets.ok()) << buckets.error().message;
      expect_same_buckets(*buckets, naive_aggregate(m.ref, from, to, interval),
                          "interval " + std::to_string(interval) + " over [" +
                              std::to_string(from) + ", " + std::to_string(to) + "]");
      auto all = aggregate_all(snap, from, to);
      ASSERT_TRUE(all.ok());
      EXPECT_EQ(all->count, slice.size());
      if (!slice.empty()) {
        EXPECT_EQ(all->first, slice.begin()->second);
        EXPECT_EQ(all->last, slice.rbegin()->second);
      }
    }
    const auto l = latest(snap);
    ASSERT_EQ(l.has_value(), !m.ref.empty());
    if (l) {
      EXPECT_EQ(l->ts, m.ref.rbegin()->first);
      EXPECT_EQ(l->value, m.ref.rbegin()->second);
    }
  }

  std::mt19937_64 rng_;
  std::filesystem::path dir_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::vector<Model> models_;
  std::vector<Timestamp> bases_;
};

TEST(Query, RandomHistoriesMatchTheReference) {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ScratchDir dir;
    RandomHistory h(seed, dir.path());
    h.run(220);
    if (HasFatalFailure()) return;
    EXPECT_GT(h.counts.refused, 10u);
    EXPECT_GT(h.counts.rewrites, 10u);
    EXPECT_GT(h.counts.deleted, 0u);
    EXPECT_GT(h.counts.checkpoints, 3u);
    EXPECT_GT(h.counts.reopens, 3u);
    EXPECT_GT(h.counts.compactions, 0u);
    EXPECT_GT(h.counts.verified, 20u);
  }
}

// Big decimal chunks take the integer-mantissa path in blocks of 1024; buckets that span blocks
// and chunks, and buckets cut by the range, must still equal the naive result. Large mantissas
// (6 decimals around 10^6) stress the integer sums.
TEST(Query, AggregatesOverBigDecimalChunks) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(8192));
  std::mt19937_64 rng(5);
  std::vector<std::map<Timestamp, double>> refs;
  struct Kind {
    int decimals;
    double level, step;
  };
  const Kind kinds[] = {{2, 50.0, 0.5}, {6, 1e6, 0.01}, {0, -5000.0, 30.0}, {9, 0.001, 1e-5}};
  for (std::size_t k = 0; k < std::size(kinds); ++k) {
    const SeriesId id = must_resolve(*store, series_key("d", "m" + std::to_string(k)));
    std::map<Timestamp, double> ref;
    std::vector<Sample> batch;
    const double scale = std::pow(10.0, kinds[k].decimals);
    double x = kinds[k].level;
    std::normal_distribution<double> step(0, kinds[k].step);
    const Timestamp t0 = -5000 * kS + static_cast<Timestamp>(k);  // crosses the epoch
    for (int i = 0; i < 20000; ++i) {
      x += step(rng);
      const double v = static_cast<double>(std::llround(x * scale)) / scale;
      batch.push_back({t0 + static_cast<Timestamp>(i) * kS, v});
      ref[batch.back().ts] = v;
    }
    ASSERT_TRUE(store->append(id, batch).ok());
    refs.push_back(std::move(ref));
  }
  ASSERT_TRUE(store->checkpoint().ok());
  for (SeriesId id = 0; id < refs.size(); ++id) {
    const auto snap = store->snapshot(id);
    EXPECT_EQ(snap.chunks->size(), 3u);
    for (Timestamp interval :
         {Timestamp{1}, 7 * kS, 1000 * kS, 1024 * kS, 4096 * kS, 20000 * kS, 86400 * kS}) {
      for (auto [from, to] :
           {std::pair{kMinTimestamp, kMaxTimestamp}, std::pair{-4000 * kS + 1, 9000 * kS - 1},
            std::pair{-1 * kS, 1 * kS}}) {
        auto got = aggregate(snap, from, to, interval);
        ASSERT_TRUE(got.ok());
        expect_same_buckets(
            *got, naive_aggregate(refs[id], from, to, interval),
            "series " + std::to_string(id) + ", interval " + std::to_string(interval));
      }
    }
  }
}

// Values that are not short decimals (gorilla chunks, exceptions): the floating-point path.
TEST(Query, AggregatesOverArbitraryDoubles) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(5000));
  std::mt19937_64 rng(6);
  std::normal_distribution<double> normal(1e3, 50);
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  std::map<Timestamp, double> ref;
  std::vector<Sample> batch;
  for (int i = 0; i < 12000; ++i) {
    const double v = i % 100 == 7 ? 51.846000000000004 : normal(rng);
    batch.push_back({static_cast<Timestamp>(i) * 3 * kS, v});
    ref[batch.back().ts] = v;
  }
  ASSERT_TRUE(store->append(id, batch).ok());
  ASSERT_TRUE(store->checkpoint().ok());
  const auto snap = store->snapshot(id);
  for (Timestamp interval : {Timestamp{10} * kS, 3000 * kS, 7777 * kS}) {
    auto got = aggregate(snap, kMinTimestamp, kMaxTimestamp, interval);
    ASSERT_TRUE(got.ok());
    expect_same_buckets(*got, naive_aggregate(ref, kMinTimestamp, kMaxTimestamp, interval),
                        "interval " + std::to_string(interval));
  }
}

TEST(Query, BucketsAlignToTheEpochByFloor) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(16));
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  std::vector<Sample> s;
  for (Timestamp t = -25; t <= 25; t += 5) s.push_back({t, static_cast<double>(t)});
  ASSERT_TRUE(store->append(id, s).ok());
  auto b = aggregate(store->snapshot(id), kMinTimestamp, kMaxTimestamp, 10);
  ASSERT_TRUE(b.ok());
  std::vector<Timestamp> starts;
  std::vector<std::uint64_t> counts;
  for (const auto& x : *b) {
    starts.push_back(x.start);
    counts.push_back(x.count);
  }
  EXPECT_EQ(starts, (std::vector<Timestamp>{-30, -20, -10, 0, 10, 20}));
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{1, 2, 2, 2, 2, 2}));
  EXPECT_EQ((*b)[0].min, -25);
  EXPECT_EQ((*b)[2].first, -10);
  EXPECT_EQ((*b)[2].last, -5);
  // Checkpointed, the same.
  ASSERT_TRUE(store->checkpoint().ok());
  auto c = aggregate(store->snapshot(id), kMinTimestamp, kMaxTimestamp, 10);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), b->size());
  for (std::size_t i = 0; i < c->size(); ++i) {
    EXPECT_EQ((*c)[i].start, (*b)[i].start);
    EXPECT_EQ((*c)[i].count, (*b)[i].count);
    EXPECT_EQ((*c)[i].sum, (*b)[i].sum);
  }
  auto bad = aggregate(store->snapshot(id), 0, 10, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(errc::invalid_argument));
  EXPECT_FALSE(aggregate(store->snapshot(id), 0, 10, -5).ok());
}

TEST(Query, NaNValuesInBuckets) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(64));
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ASSERT_TRUE(store->append(id, std::vector<Sample>{{1, nan}, {2, 3.0}, {3, -1.0}, {4, nan}}).ok());
  for (int pass = 0; pass < 2; ++pass) {
    auto b = aggregate_all(store->snapshot(id), kMinTimestamp, kMaxTimestamp);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->count, 4u);
    EXPECT_EQ(b->value(Aggregate::min), -1.0) << "min skips NaN";
    EXPECT_EQ(b->value(Aggregate::max), 3.0) << "max skips NaN";
    EXPECT_TRUE(std::isnan(b->value(Aggregate::first)));
    EXPECT_TRUE(std::isnan(b->value(Aggregate::last)));
    EXPECT_TRUE(std::isnan(b->value(Aggregate::sum)));
    auto per = aggregate(store->snapshot(id), kMinTimestamp, kMaxTimestamp, 100);
    ASSERT_TRUE(per.ok());
    ASSERT_EQ(per->size(), 1u);
    EXPECT_EQ((*per)[0].value(Aggregate::min), -1.0);
    EXPECT_EQ((*per)[0].value(Aggregate::max), 3.0);
    ASSERT_TRUE(store->checkpoint().ok());
  }
}

TEST(Query, BucketValues) {
  Bucket b;
  EXPECT_TRUE(std::isnan(b.value(Aggregate::avg)));
  EXPECT_TRUE(std::isnan(b.value(Aggregate::stddev)));
  EXPECT_EQ(b.value(Aggregate::count), 0.0);
  b.add({1, 2.0});
  EXPECT_EQ(b.value(Aggregate::avg), 2.0);
  EXPECT_TRUE(std::isnan(b.value(Aggregate::stddev))) << "one point has no sample deviation";
  b.add({2, 4.0});
  b.add({3, 4.0});
  b.add({4, 4.0});
  b.add({5, 5.0});
  b.add({6, 5.0});
  b.add({7, 7.0});
  b.add({8, 9.0});
  EXPECT_EQ(b.value(Aggregate::count), 8.0);
  EXPECT_EQ(b.value(Aggregate::sum), 40.0);
  EXPECT_EQ(b.value(Aggregate::avg), 5.0);
  EXPECT_NEAR(b.value(Aggregate::stddev), std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_EQ(b.value(Aggregate::min), 2.0);
  EXPECT_EQ(b.value(Aggregate::max), 9.0);
  EXPECT_EQ(b.value(Aggregate::first), 2.0);
  EXPECT_EQ(b.value(Aggregate::last), 9.0);
  // merge() of two halves equals adding everything to one.
  Bucket lo, hi;
  for (double v : {2.0, 4.0, 4.0}) lo.add({0, v});
  for (double v : {4.0, 5.0, 5.0, 7.0, 9.0}) hi.add({0, v});
  lo.merge(hi);
  EXPECT_EQ(lo.count, 8u);
  EXPECT_EQ(lo.value(Aggregate::sum), 40.0);
  EXPECT_NEAR(lo.value(Aggregate::stddev), std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_EQ(lo.value(Aggregate::first), 2.0);
  EXPECT_EQ(lo.value(Aggregate::last), 9.0);
  Bucket empty;
  empty.start = 42;
  empty.merge(lo);
  EXPECT_EQ(empty.start, 42);
  EXPECT_EQ(empty.count, 8u);
}

TEST(Query, AggregateNames) {
  for (Aggregate a : {Aggregate::min, Aggregate::max, Aggregate::avg, Aggregate::sum,
                      Aggregate::count, Aggregate::first, Aggregate::last, Aggregate::stddev}) {
    auto back = parse_aggregate(aggregate_name(a));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, a);
  }
  EXPECT_EQ(*parse_aggregate("mean"), Aggregate::avg);
  auto bad = parse_aggregate("median");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(errc::invalid_argument));
  EXPECT_NE(bad.error().message.find("median"), std::string::npos);
  EXPECT_NE(bad.error().message.find("stddev"), std::string::npos) << "lists what is known";
}

// A query that asks for fewer aggregates gets the same answers for them, on the integer path
// (exact decimals) and the floating-point path, and the skipped ones (min, stddev) stay NaN.
TEST(Query, AskingForFewerAggregatesKeepsTheirAnswers) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(5000));
  std::mt19937_64 rng(8);
  std::normal_distribution<double> normal(0, 1);
  const SeriesId decimals = must_resolve(*store, series_key("d", "decimals"));
  const SeriesId doubles = must_resolve(*store, series_key("d", "doubles"));
  std::vector<Sample> a, b;
  double walk = 60;
  for (int i = 0; i < 12000; ++i) {
    walk += std::round(normal(rng) * 5) / 100;
    a.push_back({static_cast<Timestamp>(i) * kS, std::round(walk * 100) / 100});
    b.push_back({static_cast<Timestamp>(i) * kS, 1e3 + normal(rng)});
  }
  ASSERT_TRUE(store->append(decimals, a).ok());
  ASSERT_TRUE(store->append(doubles, b).ok());
  ASSERT_TRUE(store->checkpoint().ok());
  const AggregateSet need = aggregate_set({Aggregate::avg, Aggregate::max});
  for (SeriesId id : {decimals, doubles}) {
    const auto snap = store->snapshot(id);
    auto all = aggregate(snap, kMinTimestamp, kMaxTimestamp, 60 * kS);
    auto some = aggregate(snap, kMinTimestamp, kMaxTimestamp, 60 * kS, need);
    ASSERT_TRUE(all.ok() && some.ok());
    ASSERT_EQ(all->size(), some->size());
    ASSERT_EQ(all->size(), 200u);
    for (std::size_t i = 0; i < all->size(); ++i) {
      const Bucket &x = (*all)[i], &y = (*some)[i];
      EXPECT_EQ(x.start, y.start);
      for (Aggregate g : {Aggregate::count, Aggregate::sum, Aggregate::avg, Aggregate::max,
                          Aggregate::first, Aggregate::last})
        EXPECT_EQ(x.value(g), y.value(g)) << aggregate_name(g) << " in bucket " << i;
      EXPECT_TRUE(std::isnan(y.value(Aggregate::min)));
      EXPECT_TRUE(std::isnan(y.value(Aggregate::stddev)));
      EXPECT_FALSE(std::isnan(x.value(Aggregate::stddev)));
    }
  }
}

}  // namespace
}  // namespace strata::store

// Tests of store/store: appends read back through snapshots; out-of-order points inside the window
// are sorted in and older ones refused with a reason; on equal timestamps the last write wins,
// in the head, in pending chunks and across checkpoints, reopen and compaction; reopen replays the
// WAL and loads chunk files; delete_range, compact and retention (on a simulated clock) and that
// they survive reopen; stats; a reader running beside a writer never sees a torn state; the LOCK.
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <latch>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/time_format.hpp"
#include "scratch_dir.hpp"
#include "store/query.hpp"
#include "store_access.hpp"

namespace strata::store {
namespace {

using testing::files_with_extension;
using testing::must_resolve;
using testing::open_store;
using testing::read_all;
using testing::read_range;
using testing::same_samples;
using testing::ScratchDir;
using testing::series_key;
using testing::test_options;
using testing::to_samples;

constexpr Timestamp kS = kMicrosPerSecond;
constexpr Timestamp kT0 = 1'700'000'000 * kS;  // 2023-11-14

AppendResult must_append(Store& store, SeriesId id, const std::vector<Sample>& samples) {
  auto r = store.append(id, samples);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r ? *r : AppendResult{};
}

AppendResult must_append(Store& store, const std::vector<Point>& points) {
  auto r = store.append(points);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r ? *r : AppendResult{};
}

std::vector<Sample> regular(Timestamp t0, Timestamp step, std::size_t n, double v0 = 20.0,
                            double dv = 0.5) {
  std::vector<Sample> s(n);
  for (std::size_t i = 0; i < n; ++i)
    s[i] = {t0 + static_cast<Timestamp>(i) * step, v0 + dv * static_cast<double>(i)};
  return s;
}

TEST(Store, AppendAndReadBack) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options());
  ASSERT_TRUE(store);
  const SeriesId a = must_resolve(*store, series_key("pump-7", "temp"));
  const SeriesId b = must_resolve(*store, series_key("pump-7", "pressure"));
  EXPECT_EQ(store->series_count(), 2u);
  const auto sa = regular(kT0, 10 * kS, 100);
  const auto sb = regular(kT0 + 5, 7 * kS, 50, 1.0, -0.25);
  EXPECT_EQ(must_append(*store, a, sa).accepted, 100u);
  EXPECT_EQ(must_append(*store, b, sb).accepted, 50u);
  EXPECT_TRUE(same_samples(read_all(*store, a), sa));
  EXPECT_TRUE(same_samples(read_all(*store, b), sb));
  EXPECT_TRUE(same_samples(read_all(*store, a, 1), sa)) << "one sample at a time";
  // Inclusive bounds, ranges inside, before and after the data.
  const auto snap = store->snapshot(a);
  EXPECT_EQ(snap.series, a);
  EXPECT_TRUE(same_samples(read_range(snap, sa[10].ts, sa[20].ts),
                           std::vector<Sample>(sa.begin() + 10, sa.begin() + 21)));
  EXPECT_TRUE(same_samples(read_range(snap, sa[10].ts + 1, sa[20].ts - 1),
                           std::vector<Sample>(sa.begin() + 11, sa.begin() + 20)));
  EXPECT_TRUE(read_range(snap, kT0 - 100 * kS, kT0 - 1).empty());
  EXPECT_TRUE(read_range(snap, sa.back().ts + 1, kMaxTimestamp).empty());
  EXPECT_TRUE(same_samples(read_range(snap, sa.back().ts, sa.back().ts), {sa.back()}));
  EXPECT_TRUE(read_range(snap, sa[20].ts, sa[10].ts).empty()) << "an inverted range is empty";
  // latest()
  auto l = latest(store->snapshot(b));
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->ts, sb.back().ts);
  EXPECT_EQ(l->value, sb.back().value);
  // A registered series without data, and one that does not exist.
  const SeriesId c = must_resolve(*store, series_key("pump-8", "temp"));
  EXPECT_TRUE(read_all(*store, c).empty());
  EXPECT_FALSE(latest(store->snapshot(c)).has_value());
  EXPECT_TRUE(read_all(*store, 12345).empty());
  auto bad = store->append(SeriesId{999}, std::vector<Sample>{{kT0, 1.0}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(errc::invalid_argument));
  EXPECT_NE(bad.error().message.find("999"), std::string::npos);
}

TEST(Store, SeriesLookupAndSelect) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options());
  const SeriesId t7 = must_resolve(*store, series_key("pump-7", "temp", {{"site", "A"}}));
  const SeriesId p7 = must_resolve(*store, series_key("pump-7", "pressure", {{"site", "A"}}));
  const SeriesId t8 = must_resolve(*store, series_key("pump-8", "temp", {{"site", "B"}}));
  EXPECT_EQ(store->find(series_key("pump-8", "temp", {{"site", "B"}})), t8);
  EXPECT_EQ(store->find(series_key("pump-8", "temp")), std::nullopt);
  EXPECT_EQ(store->key(p7)->metric, "pressure");
  auto sel = [&](const char* text) {
    auto s = SeriesSelector::parse(text);
    EXPECT_TRUE(s.ok());
    return store->select(*s);
  };
  EXPECT_EQ(sel(""), (std::vector<SeriesId>{t7, p7, t8}));
  EXPECT_EQ(sel("metric=temp"), (std::vector<SeriesId>{t7, t8}));
  EXPECT_EQ(sel("metric=temp,site=A"), (std::vector<SeriesId>{t7}));
  EXPECT_EQ(sel("device=pump-7,site!=A"), (std::vector<SeriesId>{}));
  EXPECT_EQ(sel("device=~pump-.*,metric!~temp"), (std::vector<SeriesId>{p7}));
  EXPECT_EQ(sel("site=C"), (std::vector<SeriesId>{}));
}

TEST(Store, OutOfOrderInsideTheWindowIsSortedIn) {
  ScratchDir dir;
  auto options = test_options();
  options.out_of_order_window_us = 60 * kS;
  auto store = open_store(dir.path(), options);
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  EXPECT_EQ(
      must_append(*store, id, {{kT0 + 100 * kS, 1.0}, {kT0 + 50 * kS, 2.0}, {kT0 + 75 * kS, 3.0}})
          .accepted,
      3u);
  EXPECT_EQ(must_append(*store, id, {{kT0 + 41 * kS, 4.0}, {kT0 + 40 * kS, 5.0}}).accepted, 2u)
      << "exactly the window's age is still accepted";
  EXPECT_EQ(must_append(*store, id, {{kT0 + 99 * kS, 6.0}, {kT0 + 101 * kS, 7.0}}).accepted, 2u);
  EXPECT_TRUE(same_samples(read_all(*store, id), {{kT0 + 40 * kS, 5.0},
                                                  {kT0 + 41 * kS, 4.0},
                                                  {kT0 + 50 * kS, 2.0},
                                                  {kT0 + 75 * kS, 3.0},
                                                  {kT0 + 99 * kS, 6.0},
                                                  {kT0 + 100 * kS, 1.0},
                                                  {kT0 + 101 * kS, 7.0}}));
}

TEST(Store, PointsOlderThanTheWindowAreRefusedWithAReason) {
  ScratchDir dir;
  auto options = test_options();
  options.out_of_order_window_us = 60 * kS;
  const Timestamp newest = kT0 + 1000 * kS;
  std::vector<Sample> want;
  {
    auto store = open_store(dir.path(), options);
    const SeriesId id = must_resolve(*store, series_key("d", "m"));
    must_append(*store, id, {{newest, 1.0}});
    want.push_back({newest, 1.0});
    const Timestamp old = newest - 61 * kS;
    auto r = must_append(*store, id, {{old, 2.0}, {newest - 60 * kS, 3.0}, {newest + 1, 4.0}});
    EXPECT_EQ(r.accepted, 2u);
    ASSERT_EQ(r.refused.size(), 1u);
    EXPECT_EQ(r.refused[0].series, id);
    EXPECT_EQ(r.refused[0].ts, old);
    const std::string& why = r.refused[0].reason;
    EXPECT_NE(why.find(format_iso8601(old)), std::string::npos) << "names the timestamp: " << why;
    EXPECT_NE(why.find("60 s"), std::string::npos) << "names the window: " << why;
    EXPECT_NE(why.find(format_iso8601(newest)), std::string::npos)
        << "names the newest point: " << why;
    want.insert(want.begin(), {newest - 60 * kS, 3.0});
    want.push_back({newest + 1, 4.0});
    // The window moves with what the batch itself accepts.
    r = must_append(*store, id,
                    {{newest + 100 * kS, 5.0}, {newest + 30 * kS, 6.0}, {newest + 50 * kS, 7.0}});
    EXPECT_EQ(r.accepted, 2u);
    ASSERT_EQ(r.refused.size(), 1u);
    EXPECT_EQ(r.refused[0].ts, newest + 30 * kS);
    EXPECT_NE(r.refused[0].reason.find(format_iso8601(newest + 100 * kS)), std::string::npos)
        << r.refused[0].reason;
    want.push_back({newest + 50 * kS, 7.0});
    want.push_back({newest + 100 * kS, 5.0});
    // The same through the batch-of-points path.
    auto p =
        must_append(*store, std::vector<Point>{{id, newest, 8.0}, {id, newest + 101 * kS, 9.0}});
    EXPECT_EQ(p.accepted, 1u);
    ASSERT_EQ(p.refused.size(), 1u);
    EXPECT_EQ(p.refused[0].ts, newest);
    EXPECT_NE(p.refused[0].reason.find(format_iso8601(newest)), std::string::npos)
        << p.refused[0].reason;
    EXPECT_NE(p.refused[0].reason.find("60 s"), std::string::npos) << p.refused[0].reason;
    want.push_back({newest + 101 * kS, 9.0});
    EXPECT_TRUE(same_samples(read_all(*store, id), want));
  }
  // Refused points are not in the WAL either.
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(same_samples(read_all(*store, 0), want));
}

TEST(Store, LastWriteWinsInTheHeadAndInPendingChunks) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(16));
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  std::map<Timestamp, double> ref;
  auto put = [&](std::vector<Sample> s) {
    must_append(*store, id, s);
    for (const Sample& x : s) ref[x.ts] = x.value;
  };
  put({{kT0 + 5, 1.0}, {kT0 + 5, 2.0}});  // within one batch
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
  put(regular(kT0, 1, 40, 100.0, 1.0));  // seals two pending chunks over the first point
  EXPECT_EQ(store->stats().chunks, 2u);
  put({{kT0 + 5, -1.0}, {kT0 + 20, -2.0}, {kT0 + 39, -3.0}});  // rewrites inside sealed chunks
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
  put(regular(kT0 + 3, 2, 30, 7.0, 0.25));  // more rewrites, sealing more chunks
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
  EXPECT_TRUE(same_samples(read_all(*store, id, 3), to_samples(ref)));
  // Through the batch-of-points path too, duplicates inside one batch.
  must_append(*store,
              std::vector<Point>{{id, kT0 + 7, 11.0}, {id, kT0 + 7, 12.0}, {id, kT0 + 8, 13.0}});
  ref[kT0 + 7] = 12.0;
  ref[kT0 + 8] = 13.0;
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
  auto l = latest(store->snapshot(id));
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->ts, ref.rbegin()->first);
  EXPECT_EQ(l->value, ref.rbegin()->second);
}

// A point rewritten after its chunk went to a chunk file reads back as the new value: before the
// next checkpoint, after it, after reopen and after compaction.
TEST(Store, LastWriteWinsAcrossCheckpoints) {
  ScratchDir dir;
  const auto options = test_options(16);
  std::map<Timestamp, double> ref;
  SeriesId id = 0;
  {
    auto store = open_store(dir.path(), options);
    id = must_resolve(*store, series_key("d", "m"));
    auto put = [&](std::vector<Sample> s) {
      must_append(*store, id, s);
      for (const Sample& x : s) ref[x.ts] = x.value;
    };
    put(regular(kT0, kS, 50));
    ASSERT_TRUE(store->checkpoint().ok());
    put({{kT0 + 3 * kS, -3.0}, {kT0 + 33 * kS, -33.0}});
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref))) << "head over a file chunk";
    ASSERT_TRUE(store->checkpoint().ok());
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)))
        << "newer file over older file";
    put({{kT0 + 3 * kS, -4.0}});
    put(regular(kT0 + 10 * kS, kS, 20, 1000.0, 1.0));  // a new pending chunk over the old ones
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)))
        << "pending chunk over file chunks";
  }
  {
    auto store = open_store(dir.path(), options);
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)))
        << "after reopen (WAL replayed over files)";
    ASSERT_TRUE(store->checkpoint().ok());
    must_append(*store, id, {{kT0 + 33 * kS, 333.0}});
    ref[kT0 + 33 * kS] = 333.0;
    ASSERT_TRUE(store->compact().ok());
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref))) << "after compaction";
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref))) << "after compaction and reopen";
}

TEST(Store, ReopenReplaysTheWal) {
  ScratchDir dir;
  const auto options = test_options(16);
  std::vector<Sample> a = regular(kT0, kS, 100), b = regular(-kT0, 3, 7, -1.0, -0.125);
  {
    auto store = open_store(dir.path(), options);
    const SeriesId ia = must_resolve(*store, series_key("a", "m"));
    const SeriesId ib = must_resolve(*store, series_key("b", "m", {{"t", "1"}}));
    must_append(*store, ia, std::vector<Sample>(a.begin(), a.begin() + 60));
    std::vector<Point> mixed;
    for (std::size_t i = 60; i < a.size(); ++i) {
      mixed.push_back({ia, a[i].ts, a[i].value});
      if (i - 60 < b.size()) mixed.push_back({ib, b[i - 60].ts, b[i - 60].value});
    }
    must_append(*store, mixed);
    const auto st = store->stats();
    EXPECT_EQ(st.points, 107u);
    EXPECT_EQ(st.chunks, 6u) << "100 points of a in chunks of 16: six pending chunks";
    EXPECT_EQ(st.head_points, 4u + 7u);
    EXPECT_GT(st.wal_bytes, 0u);
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  EXPECT_EQ(store->series_count(), 2u);
  EXPECT_EQ(store->find(series_key("b", "m", {{"t", "1"}})), SeriesId{1});
  EXPECT_TRUE(same_samples(read_all(*store, 0), a));
  EXPECT_TRUE(same_samples(read_all(*store, 1), b));
  EXPECT_EQ(store->stats().points, 107u);
}

TEST(Store, ReopenAfterCheckpointLoadsChunkFiles) {
  ScratchDir dir;
  const auto options = test_options(64);
  std::vector<std::vector<Sample>> data;
  {
    auto store = open_store(dir.path(), options);
    for (int s = 0; s < 5; ++s) {
      const SeriesId id = must_resolve(*store, series_key("dev" + std::to_string(s), "m"));
      data.push_back(regular(kT0 + s, (s + 1) * kS, 300, s * 10.0, 0.1));
      must_append(*store, id, data.back());
    }
    ASSERT_TRUE(store->checkpoint().ok());
    const auto st = store->stats();
    EXPECT_EQ(st.wal_bytes, 0u);
    EXPECT_EQ(st.head_points, 0u);
    EXPECT_EQ(st.points, 1500u);
    EXPECT_EQ(st.chunks, 5u * 5u) << "300 points in chunks of 64: 4 full and one of 44, per series";
    EXPECT_GT(st.data_bytes, 0u);
    EXPECT_LE(st.data_bytes, st.bytes_on_disk);
    EXPECT_EQ(files_with_extension(dir.path() / "chunks", ".chunks").size(), 1u);
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  const auto st = store->stats();
  EXPECT_EQ(st.points, 1500u);
  EXPECT_EQ(st.chunks, 25u);
  EXPECT_EQ(st.wal_bytes, 0u);
  for (SeriesId s = 0; s < 5; ++s)
    EXPECT_TRUE(same_samples(read_all(*store, s), data[s])) << "series " << s;
}

// Small chunks, random out-of-order appends inside the window, duplicates, many checkpoints and
// reopens: what comes back is always the reference.
TEST(Store, ManySmallChunksAgainstAReference) {
  ScratchDir dir;
  auto options = test_options(16);
  options.out_of_order_window_us = 100 * kS;
  std::mt19937_64 rng(1);
  std::map<Timestamp, double> ref;
  Timestamp newest = kT0;
  auto store = open_store(dir.path(), options);
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  for (int round = 0; round < 120; ++round) {
    std::vector<Sample> batch;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 20); ++k) {
      Timestamp ts;
      switch (rng() % 4) {
        case 0:
          ts = newest - static_cast<Timestamp>(rng() % (100 * kS));
          break;  // late, in the window
        case 1:
          ts = ref.empty() ? newest
                           : std::next(ref.begin(), static_cast<long>(rng() % ref.size()))->first;
          break;
        default:
          ts = newest + 1 + static_cast<Timestamp>(rng() % (3 * kS));
          break;
      }
      if (ts < newest - 100 * kS) ts = newest;  // a duplicate too old to rewrite: refused otherwise
      batch.push_back({ts, static_cast<double>(static_cast<int>(rng() % 100000)) / 100});
      newest = std::max(newest, ts);
    }
    auto r = must_append(*store, id, batch);
    ASSERT_TRUE(r.refused.empty()) << r.refused.front().reason;
    for (const Sample& x : batch) ref[x.ts] = x.value;
    if (round % 17 == 5) {
      ASSERT_TRUE(store->checkpoint().ok());
    }
    if (round % 40 == 39) {
      store.reset();
      store = open_store(dir.path(), options);
      ASSERT_TRUE(store);
    }
    if (round % 10 == 0) {
      ASSERT_TRUE(same_samples(read_all(*store, id, 1 + rng() % 50), to_samples(ref)))
          << "round " << round;
    }
  }
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
  EXPECT_GE(store->stats().chunks, ref.size() / 16);
}

TEST(Store, DeleteRange) {
  ScratchDir dir;
  const auto options = test_options(16);
  std::map<Timestamp, double> ref_a, ref_b;
  {
    auto store = open_store(dir.path(), options);
    const SeriesId a = must_resolve(*store, series_key("a", "m"));
    const SeriesId b = must_resolve(*store, series_key("b", "m"));
    for (const Sample& x : regular(kT0, kS, 100)) ref_a[x.ts] = x.value;
    for (const Sample& x : regular(kT0, kS, 100, 5.0)) ref_b[x.ts] = x.value;
    must_append(*store, a, to_samples(ref_a));
    must_append(*store, b, to_samples(ref_b));
    ASSERT_TRUE(store->checkpoint().ok());
    auto erase = [](std::map<Timestamp, double>& m, Timestamp from, Timestamp to) {
      std::uint64_t n = 0;
      for (auto it = m.lower_bound(from); it != m.end() && it->first <= to;) it = m.erase(it), ++n;
      return n;
    };
    // Inside one chunk (points 2..5 of the first chunk of 16).
    auto n = store->delete_range(a, kT0 + 2 * kS, kT0 + 5 * kS);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, erase(ref_a, kT0 + 2 * kS, kT0 + 5 * kS));
    EXPECT_EQ(*n, 4u);
    EXPECT_TRUE(same_samples(read_all(*store, a), to_samples(ref_a)));
    // Spanning chunks, with bounds between samples.
    n = store->delete_range(a, kT0 + 30 * kS - 1, kT0 + 70 * kS + 1);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, erase(ref_a, kT0 + 30 * kS - 1, kT0 + 70 * kS + 1));
    EXPECT_EQ(*n, 41u);
    EXPECT_TRUE(same_samples(read_all(*store, a), to_samples(ref_a)));
    // Points still in the head (not yet checkpointed) are deleted too.
    must_append(*store, a, {{kT0 + 200 * kS, 1.0}, {kT0 + 201 * kS, 2.0}});
    ref_a[kT0 + 200 * kS] = 1.0;
    ref_a[kT0 + 201 * kS] = 2.0;
    n = store->delete_range(a, kT0 + 201 * kS, kT0 + 201 * kS);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, erase(ref_a, kT0 + 201 * kS, kT0 + 201 * kS));
    // Nothing there: 0.
    n = store->delete_range(a, kT0 + 300 * kS, kT0 + 400 * kS);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u);
    // The whole of b.
    n = store->delete_range(b, kMinTimestamp, kMaxTimestamp);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 100u);
    ref_b.clear();
    EXPECT_TRUE(read_all(*store, b).empty());
    EXPECT_FALSE(latest(store->snapshot(b)).has_value());
    EXPECT_TRUE(same_samples(read_all(*store, a), to_samples(ref_a)));
    // Invalid requests.
    auto bad = store->delete_range(a, kT0 + 10, kT0);
    ASSERT_FALSE(bad.ok());
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    bad = store->delete_range(77, kT0, kT0 + 10);
    ASSERT_FALSE(bad.ok());
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    // Writing into a deleted range again (inside the window).
    must_append(*store, a, {{kT0 + 50 * kS, 50.5}});
    ref_a[kT0 + 50 * kS] = 50.5;
    EXPECT_TRUE(same_samples(read_all(*store, a), to_samples(ref_a)));
  }
  // The deletions survive reopen (and so does what was written after them).
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  EXPECT_TRUE(same_samples(read_all(*store, 0), to_samples(ref_a)));
  EXPECT_TRUE(read_all(*store, 1).empty());
  ASSERT_TRUE(store->checkpoint().ok());
  store.reset();
  store = open_store(dir.path(), options);
  EXPECT_TRUE(same_samples(read_all(*store, 0), to_samples(ref_a)));
  EXPECT_TRUE(read_all(*store, 1).empty());
}

TEST(Store, CompactMergesSmallChunks) {
  ScratchDir dir;
  const auto options = test_options(64);
  std::vector<std::map<Timestamp, double>> ref(3);
  std::uint64_t chunks_before = 0;
  {
    auto store = open_store(dir.path(), options);
    for (int s = 0; s < 3; ++s) must_resolve(*store, series_key("d" + std::to_string(s), "m"));
    // 20 checkpoints of 10 points per series: 20 chunks of 10 points each.
    for (int c = 0; c < 20; ++c) {
      for (SeriesId s = 0; s < 3; ++s) {
        auto batch = regular(kT0 + c * 10 * kS, kS, 10, c + 0.5 * s, 0.01);
        must_append(*store, s, batch);
        for (const Sample& x : batch) ref[s][x.ts] = x.value;
      }
      ASSERT_TRUE(store->checkpoint().ok());
    }
    // And an overlapping rewrite, which compaction must resolve in favour of the newer write.
    must_append(*store, 1, {{kT0 + 55 * kS, -1.0}});
    ref[1][kT0 + 55 * kS] = -1.0;
    ASSERT_TRUE(store->checkpoint().ok());
    chunks_before = store->stats().chunks;
    EXPECT_EQ(chunks_before, 61u);
    EXPECT_EQ(files_with_extension(dir.path() / "chunks", ".chunks").size(), 21u);
    ASSERT_TRUE(store->compact().ok());
    const auto st = store->stats();
    EXPECT_EQ(st.chunks, 3u * 4u) << "200 points a series in chunks of 64: 4 chunks each";
    EXPECT_EQ(st.points, 600u);
    EXPECT_EQ(files_with_extension(dir.path() / "chunks", ".chunks").size(), 1u)
        << "fully dead files are removed";
    for (SeriesId s = 0; s < 3; ++s)
      EXPECT_TRUE(same_samples(read_all(*store, s), to_samples(ref[s]))) << "series " << s;
    // Compacting again changes nothing.
    ASSERT_TRUE(store->compact().ok());
    EXPECT_EQ(store->stats().chunks, 12u);
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  EXPECT_EQ(store->stats().chunks, 12u);
  for (SeriesId s = 0; s < 3; ++s)
    EXPECT_TRUE(same_samples(read_all(*store, s), to_samples(ref[s]))) << "series " << s;
}

TEST(Store, RetentionOnASimulatedClock) {
  ScratchDir dir;
  SimulatedClock clock(kT0);
  auto options = test_options(32);
  options.clock = &clock;
  auto rule = SeriesSelector::parse("metric=temp");
  ASSERT_TRUE(rule.ok());
  options.retention.push_back(RetentionRule{*rule, 3600 * kS});
  // Three hours of one-minute data up to now, for two metrics.
  const auto data = regular(kT0 - 3 * 3600 * kS + 60 * kS, 60 * kS, 180);
  {
    auto store = open_store(dir.path(), options);
    const SeriesId temp = must_resolve(*store, series_key("pump", "temp"));
    const SeriesId pres = must_resolve(*store, series_key("pump", "pressure"));
    must_append(*store, temp, data);
    must_append(*store, pres, data);
    auto n = store->apply_retention();
    ASSERT_TRUE(n.ok()) << n.error().message;
    EXPECT_EQ(*n, 120u) << "everything up to and including now − 1 h";
    auto kept = read_all(*store, temp);
    ASSERT_EQ(kept.size(), 60u);
    EXPECT_EQ(kept.front().ts, kT0 - 3600 * kS + 60 * kS);
    EXPECT_TRUE(same_samples(read_all(*store, pres), data)) << "the rule does not match pressure";
    // Time passes: half an hour more goes.
    clock.advance(1800 * kS);
    n = store->apply_retention();
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 30u);
    n = store->apply_retention();
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u) << "nothing more to delete at the same time";
  }
  auto store = open_store(dir.path(), options);
  auto kept = read_all(*store, 0);
  ASSERT_EQ(kept.size(), 30u);
  EXPECT_EQ(kept.front().ts, kT0 - 1800 * kS + 60 * kS);
  EXPECT_TRUE(same_samples(read_all(*store, 1), data));
}

TEST(Store, StatsFollowTheData) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(100));
  auto st = store->stats();
  EXPECT_EQ(st.series, 0u);
  EXPECT_EQ(st.points, 0u);
  EXPECT_EQ(st.chunks, 0u);
  EXPECT_EQ(st.wal_bytes, 0u);
  const SeriesId a = must_resolve(*store, series_key("a", "m"));
  const SeriesId b = must_resolve(*store, series_key("b", "m"));
  must_append(*store, a, regular(kT0, kS, 250));
  must_append(*store, b, regular(kT0, kS, 30));
  st = store->stats();
  EXPECT_EQ(st.series, 2u);
  EXPECT_EQ(st.points, 280u);
  EXPECT_EQ(st.chunks, 2u);
  EXPECT_EQ(st.head_points, 80u);
  EXPECT_GT(st.wal_bytes, 0u);
  EXPECT_GE(st.bytes_on_disk, st.wal_bytes);
  ASSERT_TRUE(store->checkpoint().ok());
  st = store->stats();
  EXPECT_EQ(st.points, 280u);
  EXPECT_EQ(st.chunks, 4u) << "a: two pending chunks and its head of 50; b: its head of 30";
  EXPECT_EQ(st.head_points, 0u);
  EXPECT_EQ(st.wal_bytes, 0u);
  EXPECT_GT(st.data_bytes, 0u);
  EXPECT_LE(st.data_bytes, st.bytes_on_disk);
  EXPECT_LT(st.data_bytes, 280u * 16) << "compressed below the raw 16 bytes a point";
}

TEST(Store, CheckpointsWhenTheWalGrows) {
  ScratchDir dir;
  auto options = test_options(64);
  options.checkpoint_wal_bytes = 8192;
  std::vector<Sample> all;
  {
    auto store = open_store(dir.path(), options);
    const SeriesId id = must_resolve(*store, series_key("a", "m"));
    for (int i = 0; i < 100; ++i) {
      auto batch = regular(kT0 + i * 10 * kS, kS, 10, i, 0.5);
      must_append(*store, id, batch);
      all.insert(all.end(), batch.begin(), batch.end());
      EXPECT_LE(store->stats().wal_bytes, 8192u) << "batch " << i;
    }
    EXPECT_FALSE(files_with_extension(dir.path() / "chunks", ".chunks").empty());
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(same_samples(read_all(*store, 0), all));
}

// Many series: once the heads gathered more points than the budget, a sweep seals every head of
// 16 points or more into a compressed in-memory chunk; a short head stays. So the heads hold at
// most the budget, the short heads (15 points each at most) and one append. Every point is still
// read back, before and after a reopen (from the WAL).
TEST(Store, HeadsBeyondTheBudgetAreSealedInMemory) {
  ScratchDir dir;
  auto options = test_options();
  options.head_points_budget = 1000;
  std::map<SeriesId, std::vector<Sample>> all;
  {
    auto store = open_store(dir.path(), options);
    std::vector<SeriesId> ids;
    for (int i = 0; i < 40; ++i)
      ids.push_back(must_resolve(*store, series_key("d" + std::to_string(i), "m")));
    const SeriesId quiet = must_resolve(*store, series_key("quiet", "m"));
    must_append(*store, quiet, regular(kT0, kS, 5));
    all[quiet] = regular(kT0, kS, 5);
    for (int round = 0; round < 30; ++round) {
      std::vector<Point> batch;
      for (SeriesId id : ids) {
        for (int k = 0; k < 10; ++k) {
          const Sample x{kT0 + (round * 10 + k) * kS, round * 100.0 + k + id};
          batch.push_back(Point{id, x.ts, x.value});
          all[id].push_back(x);
        }
      }
      must_append(*store, batch);
      EXPECT_LE(store->stats().head_points, 1000u + 41u * 15u + 400u) << "round " << round;
    }
    const auto st = store->stats();
    EXPECT_EQ(st.points, 40u * 300u + 5u);
    EXPECT_GT(st.chunks, 40u) << "long heads were sealed, each more than once";
    EXPECT_LE(st.chunks, 40u * 300u / 16u) << "no chunk of fewer than 16 points";
    EXPECT_TRUE(files_with_extension(dir.path() / "chunks", ".chunks").empty())
        << "sealing for memory writes no file: the next checkpoint does";
    for (const auto& [id, samples] : all) EXPECT_TRUE(same_samples(read_all(*store, id), samples));
    EXPECT_EQ(store->snapshot(quiet).head.size(), 5u) << "a head of 5 points is not sealed";
  }
  auto store = open_store(dir.path(), options);
  for (const auto& [id, samples] : all) EXPECT_TRUE(same_samples(read_all(*store, id), samples));
}

// With sweep_in_append off, appends leave the heads as they are; the caller's sweep_heads()
// seals them (the server's shard workers call it after answering the writers).
TEST(Store, TheSweepCanBeLeftToTheCaller) {
  ScratchDir dir;
  auto options = test_options();
  options.head_points_budget = 100;
  options.sweep_in_append = false;
  auto store = open_store(dir.path(), options);
  std::vector<SeriesId> ids;
  for (int i = 0; i < 10; ++i)
    ids.push_back(must_resolve(*store, series_key("d" + std::to_string(i), "m")));
  for (SeriesId id : ids) must_append(*store, id, regular(kT0, kS, 50));
  EXPECT_EQ(store->stats().head_points, 500u) << "append did not sweep";
  EXPECT_EQ(store->stats().chunks, 0u);
  store->sweep_heads();
  EXPECT_EQ(store->stats().head_points, 0u);
  EXPECT_EQ(store->stats().chunks, 10u);
  store->sweep_heads();  // nothing due: nothing changes
  EXPECT_EQ(store->stats().chunks, 10u);
  for (SeriesId id : ids) EXPECT_TRUE(same_samples(read_all(*store, id), regular(kT0, kS, 50)));
}

TEST(Store, EveryFsyncPolicy) {
  for (FsyncPolicy policy : {FsyncPolicy::every_batch, FsyncPolicy::interval, FsyncPolicy::off}) {
    SCOPED_TRACE(static_cast<int>(policy));
    ScratchDir dir;
    auto options = test_options(16);
    options.fsync = policy;
    options.fsync_interval_us = 1000;
    const auto data = regular(kT0, kS, 40);
    {
      auto store = open_store(dir.path(), options);
      const SeriesId id = must_resolve(*store, series_key("a", "m"));
      for (std::size_t i = 0; i < data.size(); i += 8)
        must_append(*store, id,
                    std::vector<Sample>(data.begin() + static_cast<long>(i),
                                        data.begin() + static_cast<long>(i + 8)));
      ASSERT_TRUE(store->sync().ok());
    }
    auto store = open_store(dir.path(), options);
    EXPECT_TRUE(same_samples(read_all(*store, 0), data));
  }
}

TEST(Store, NegativeTimestamps) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(16));
  const SeriesId id = must_resolve(*store, series_key("old", "m"));
  const auto data = regular(-50 * kS, kS, 100, -3.0, 0.125);  // crosses the epoch
  must_append(*store, id, data);
  ASSERT_TRUE(store->checkpoint().ok());
  EXPECT_TRUE(same_samples(read_all(*store, id), data));
  EXPECT_TRUE(same_samples(read_range(store->snapshot(id), -10 * kS, 10 * kS),
                           std::vector<Sample>(data.begin() + 40, data.begin() + 61)));
}

// Timestamps at the ends of the stored range (±2^62 µs): the window arithmetic must not
// overflow, and the points go through chunks, checkpoints and reopen like any others; beyond the
// range a point is refused with a reason.
TEST(Store, TimestampsAtTheEndsOfTheRange) {
  ScratchDir dir;
  const auto options = test_options(4);
  constexpr Timestamp kLimit = Timestamp{1} << 62;
  const std::vector<Sample> low = {{-kLimit, 1.0}, {-kLimit + 1, 2.0}, {-kLimit + 4, 5.0}};
  const std::vector<Sample> high = {{kLimit - 5, 5.0}, {kLimit - 1, 1.0}, {kLimit, 0.5}};
  {
    auto store = open_store(dir.path(), options);
    const SeriesId lo = must_resolve(*store, series_key("lo", "m"));
    const SeriesId hi = must_resolve(*store, series_key("hi", "m"));
    for (const Sample& x : low) EXPECT_EQ(must_append(*store, lo, {x}).accepted, 1u);
    for (const Sample& x : high)
      EXPECT_EQ(must_append(*store, std::vector<Point>{{hi, x.ts, x.value}}).accepted, 1u);
    EXPECT_EQ(must_append(*store, lo, {{-kLimit + 2, 3.0}}).accepted, 1u)
        << "late, within the window";
    EXPECT_EQ(must_append(*store, std::vector<Point>{{lo, -kLimit + 3, 4.0}}).accepted, 1u);
    for (Timestamp beyond : {kMinTimestamp, -kLimit - 1, kLimit + 1, kMaxTimestamp}) {
      const auto one = must_append(*store, lo, {{beyond, 9.0}});
      EXPECT_EQ(one.accepted, 0u);
      ASSERT_EQ(one.refused.size(), 1u);
      EXPECT_NE(one.refused[0].reason.find("outside the range"), std::string::npos)
          << one.refused[0].reason;
      const auto mixed = must_append(*store, std::vector<Point>{{hi, beyond, 9.0}});
      EXPECT_EQ(mixed.accepted, 0u);
      EXPECT_EQ(mixed.refused.size(), 1u);
    }
    ASSERT_TRUE(store->checkpoint().ok());
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(same_samples(read_all(*store, 0), {{-kLimit, 1.0},
                                                 {-kLimit + 1, 2.0},
                                                 {-kLimit + 2, 3.0},
                                                 {-kLimit + 3, 4.0},
                                                 {-kLimit + 4, 5.0}}));
  EXPECT_TRUE(same_samples(read_all(*store, 1), high));
  auto l = latest(store->snapshot(1));
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->ts, kLimit);
}

// A reader querying without pause while a writer appends, checkpoints and compacts: every read
// is strictly ordered and a complete prefix of what the writer wrote (no gap, no duplicate, no
// torn value), and what a reader sees never shrinks. Bounded by counts, not by time.
TEST(Store, ReadersSeeConsistentPrefixesWhileWriting) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options(64));
  const SeriesId id = must_resolve(*store, series_key("a", "m"));
  auto value_of = [](std::size_t k) { return static_cast<double>(k) * 0.25 - 100.0; };
  constexpr int kBatches = 300;
  std::atomic<bool> done{false};
  std::atomic<int> writer_failures{0};
  std::latch readers_started(2);  // the writer starts once both readers run, so that they overlap
  auto write = [&] {
    readers_started.wait();
    std::mt19937_64 rng(7);
    std::size_t next = 0;
    for (int b = 0; b < kBatches; ++b) {
      std::vector<Sample> batch;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 40); ++k, ++next)
        batch.push_back({kT0 + static_cast<Timestamp>(next) * 1000, value_of(next)});
      if (!store->append(id, batch).ok()) ++writer_failures;
      if (b % 25 == 24 && !store->checkpoint().ok()) ++writer_failures;
      if (b == 150 && !store->compact().ok()) ++writer_failures;
    }
    done = true;
  };
  auto reader = [&](unsigned seed, std::atomic<int>& bad, std::atomic<int>& reads) {
    std::mt19937_64 rng(seed);
    std::size_t seen = 0;
    readers_started.count_down();
    for (int it = 0; it < 200000 && (it == 0 || !done.load()); ++it) {
      const auto snap = store->snapshot(id);
      RangeCursor cursor(snap, kMinTimestamp, kMaxTimestamp);
      std::vector<Sample> batch;
      std::size_t k = 0;
      bool ok = true;
      while (ok && cursor.next(batch, 1 + rng() % 300)) {
        for (const Sample& s : batch) {
          if (s.ts != kT0 + static_cast<Timestamp>(k) * 1000 || s.value != value_of(k)) ok = false;
          ++k;
        }
      }
      if (!ok || !cursor.status().ok() || k < seen) ++bad;
      seen = k;
      auto l = latest(snap);
      if (k > 0 && (!l || l->ts != kT0 + static_cast<Timestamp>(k - 1) * 1000)) ++bad;
      ++reads;
    }
  };
  std::atomic<int> bad1{0}, bad2{0}, reads1{0}, reads2{0};
  std::thread r1(reader, 1u, std::ref(bad1), std::ref(reads1));
  std::thread r2(reader, 2u, std::ref(bad2), std::ref(reads2));
  std::thread writer(write);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(writer_failures.load(), 0);
  EXPECT_EQ(bad1.load(), 0);
  EXPECT_EQ(bad2.load(), 0);
  EXPECT_GT(reads1.load() + reads2.load(), 0);
  // And at the end, everything.
  const auto all = read_all(*store, id);
  for (std::size_t k = 0; k < all.size(); ++k) {
    ASSERT_EQ(all[k].ts, kT0 + static_cast<Timestamp>(k) * 1000);
    ASSERT_EQ(all[k].value, value_of(k));
  }
}

// The server's way of sealing: appends leave it to sweep_heads(), which two writer threads call
// after each append and which encodes outside the writer's lock, while a third thread checkpoints
// and a reader queries. Full heads and swept heads are sealed many times over; points rewritten
// (same timestamp, new value) while their older value is being sealed keep the new value; every
// read is an ordered prefix that never shrinks; at the end, and after a reopen, every series holds
// exactly what was written.
TEST(Store, SealingOutsideTheWriterLockLosesNothing) {
  ScratchDir dir;
  auto options = test_options(64);
  options.head_points_budget = 200;
  options.sweep_in_append = false;
  constexpr int kWriters = 2, kSeriesEach = 20, kBatches = 300;
  std::vector<std::map<Timestamp, double>> expected(kWriters * kSeriesEach);
  {
    auto store = open_store(dir.path(), options);
    std::vector<SeriesId> ids;
    for (int i = 0; i < kWriters * kSeriesEach; ++i)
      ids.push_back(must_resolve(*store, series_key("d" + std::to_string(i), "m")));
    std::atomic<int> writers_left{kWriters}, failures{0}, checkpoints{0}, bad_reads{0}, reads{0};
    auto write = [&](int w) {
      std::mt19937_64 rng(static_cast<std::uint64_t>(w) + 11);
      std::vector<std::size_t> next(kSeriesEach, 0);
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Point> batch;
        for (int k = 0; k < kSeriesEach; ++k) {
          const std::size_t i = static_cast<std::size_t>(w * kSeriesEach + k);
          for (int n = 1 + static_cast<int>(rng() % 10); n > 0; --n, ++next[k]) {
            const Timestamp ts = kT0 + static_cast<Timestamp>(next[k]) * kS;
            const double v = static_cast<double>(next[k]) + 0.5 * static_cast<double>(i);
            batch.push_back(Point{ids[i], ts, v});
            expected[i][ts] = v;
          }
          if (b % 7 == 6) {  // rewrite a recent point: the last write wins
            const Timestamp ts = kT0 + static_cast<Timestamp>(next[k] - 1 - rng() % 5) * kS;
            batch.push_back(Point{ids[i], ts, -1.0 * static_cast<double>(b)});
            expected[i][ts] = -1.0 * static_cast<double>(b);
          }
        }
        if (!store->append(batch).ok()) ++failures;
        store->sweep_heads();
      }
      --writers_left;
    };
    auto checkpoint = [&] {
      while (writers_left.load() > 0) {
        if (!store->checkpoint().ok()) ++failures;
        ++checkpoints;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    };
    auto read = [&] {
      std::size_t seen = 0;
      while (writers_left.load() > 0) {
        const auto snap = store->snapshot(ids[0]);
        RangeCursor cursor(snap, kMinTimestamp, kMaxTimestamp);
        std::vector<Sample> part;
        std::size_t k = 0;
        bool ok = true;
        while (cursor.next(part, 97))
          for (const Sample& x : part) ok = ok && x.ts == kT0 + static_cast<Timestamp>(k++) * kS;
        if (!ok || !cursor.status().ok() || k < seen) ++bad_reads;
        seen = k;
        ++reads;
      }
    };
    std::thread w0(write, 0), w1(write, 1), c(checkpoint), r(read);
    w0.join();
    w1.join();
    c.join();
    r.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(bad_reads.load(), 0);
    EXPECT_GT(reads.load(), 0);
    EXPECT_GT(checkpoints.load(), 0);
    EXPECT_GT(store->stats().chunks, static_cast<std::uint64_t>(kWriters * kSeriesEach));
    for (std::size_t i = 0; i < ids.size(); ++i)
      EXPECT_TRUE(same_samples(read_all(*store, ids[i]), to_samples(expected[i])))
          << "series " << i;
  }
  auto store = open_store(dir.path(), options);
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(same_samples(read_all(*store, static_cast<SeriesId>(i)), to_samples(expected[i])))
        << "series " << i << " after a reopen";
}

// Incremental compaction (compact_step).

// Runs compaction steps until one reports it caught up; returns what they did, summed.
CompactionStep compact_until_caught_up(Store& store, std::size_t max_points) {
  CompactionStep sum;
  for (int i = 0; i < 100'000; ++i) {
    auto step = store.compact_step(max_points);
    EXPECT_TRUE(step.ok()) << (step.ok() ? "" : step.error().message);
    if (!step) break;
    sum.runs += step->runs;
    sum.chunks_merged += step->chunks_merged;
    sum.chunks_written += step->chunks_written;
    sum.points += step->points;
    sum.runs_dropped += step->runs_dropped;
    if (step->caught_up) {
      sum.caught_up = true;
      break;
    }
  }
  EXPECT_TRUE(sum.caught_up) << "compaction never caught up";
  return sum;
}

std::vector<std::uint32_t> chunk_counts(const Store& store, SeriesId id) {
  std::vector<std::uint32_t> out;
  for (const auto& c : *store.snapshot(id).chunks) out.push_back(c.count);
  return out;
}

// Many series, a small head budget: the sweep seals chunks of 16 points (chunks hold 64 here).
// Appends `rounds` rounds of 8 points to each series (a sweep every second round).
void write_short_chunks(Store& store, std::vector<std::map<Timestamp, double>>& ref, int rounds,
                        int first_round = 0, int checkpoint_every = 0) {
  const auto n = static_cast<SeriesId>(ref.size());
  for (int round = first_round; round < first_round + rounds; ++round) {
    std::vector<Point> batch;
    for (SeriesId id = 0; id < n; ++id)
      for (int k = 0; k < 8; ++k) {
        const Timestamp ts = kT0 + (round * 8 + k) * kS;
        const double v = std::round((20.0 + std::sin(round * 8.0 + k + id) * 5) * 100) / 100;
        batch.push_back(Point{id, ts, v});
        ref[id][ts] = v;
      }
    must_append(store, batch);
    if (checkpoint_every > 0 && round % checkpoint_every == checkpoint_every - 1) {
      ASSERT_TRUE(store.checkpoint().ok());
    }
  }
}

StoreOptions short_chunk_options() {
  auto options = test_options(64);
  options.head_points_budget = 200;  // 20 series × 8 points: a sweep every second round
  return options;
}

TEST(Store, CompactionStepsMergeShortChunksOfFiles) {
  ScratchDir dir;
  const auto options = short_chunk_options();
  std::vector<std::map<Timestamp, double>> ref(20);
  {
    auto store = open_store(dir.path(), options);
    for (int i = 0; i < 20; ++i) must_resolve(*store, series_key("d" + std::to_string(i), "m"));
    write_short_chunks(*store, ref, 40, 0, 10);
    EXPECT_EQ(store->stats().chunks, 20u * 20u) << "320 points a series in chunks of 16";
    EXPECT_EQ(store->stats().head_points, 0u);
    EXPECT_EQ(files_with_extension(dir.path() / "chunks", ".chunks").size(), 4u);
    const auto bytes_before = store->stats().data_bytes;

    // Steps of one chunk's worth: each merges four chunks of 16 into one of 64.
    auto first = store->compact_step(64);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(first->runs, 1u);
    EXPECT_EQ(first->chunks_merged, 4u);
    EXPECT_EQ(first->chunks_written, 1u);
    EXPECT_EQ(first->points, 64u);
    EXPECT_FALSE(first->caught_up);
    EXPECT_EQ(files_with_extension(dir.path() / "chunks", ".chunks").size(), 4u)
        << "merged chunks wait in memory for a file of their own";
    for (SeriesId id = 0; id < 20; ++id)
      EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;

    const auto rest = compact_until_caught_up(*store, 64);
    EXPECT_EQ(first->runs + rest.runs, 20u * 5u);
    EXPECT_EQ(first->chunks_merged + rest.chunks_merged, 20u * 20u);
    EXPECT_EQ(first->points + rest.points, 20u * 320u) << "every point rewritten once";
    EXPECT_EQ(rest.runs_dropped, 0u);
    const auto st = store->stats();
    EXPECT_EQ(st.chunks, 20u * 5u);
    EXPECT_EQ(st.points, 20u * 320u);
    EXPECT_LT(st.data_bytes, bytes_before) << "full chunks compress better";
    for (SeriesId id = 0; id < 20; ++id) {
      EXPECT_EQ(chunk_counts(*store, id), std::vector<std::uint32_t>(5, 64)) << "series " << id;
      EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
    }
    EXPECT_EQ(files_with_extension(dir.path() / "chunks", ".chunks").size(), 1u)
        << "caught up: the merged chunks in one file, the checkpoints' files (all dead) removed";
    // Nothing left: a step finds nothing, and changes nothing.
    auto again = store->compact_step(64);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->runs, 0u);
    EXPECT_TRUE(again->caught_up);
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  EXPECT_EQ(store->stats().chunks, 20u * 5u);
  for (SeriesId id = 0; id < 20; ++id)
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
}

TEST(Store, CompactionStepsMergePendingChunksInMemory) {
  ScratchDir dir;
  const auto options = short_chunk_options();
  std::vector<std::map<Timestamp, double>> ref(20);
  {
    auto store = open_store(dir.path(), options);
    for (int i = 0; i < 20; ++i) must_resolve(*store, series_key("d" + std::to_string(i), "m"));
    write_short_chunks(*store, ref, 40);
    EXPECT_EQ(store->stats().chunks, 20u * 20u);
    // Larger steps: several runs a step, each up to a full chunk's worth and within the budget.
    const auto sum = compact_until_caught_up(*store, 1000);
    EXPECT_GE(sum.points, 20u * 320u);
    EXPECT_LE(sum.points, 2u * 20u * 320u) << "no point rewritten more than twice";
    EXPECT_EQ(store->stats().chunks, 20u * 5u);
    for (SeriesId id = 0; id < 20; ++id) {
      EXPECT_EQ(chunk_counts(*store, id), std::vector<std::uint32_t>(5, 64)) << "series " << id;
      EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
    }
    EXPECT_TRUE(files_with_extension(dir.path() / "chunks", ".chunks").empty())
        << "pending chunks merge in memory: the WAL holds their points";
    // Short chunks that add up to less than a chunk wait for more (they would be rewritten
    // again and again otherwise); more arrive, and the next steps merge them.
    write_short_chunks(*store, ref, 6, 40);
    EXPECT_EQ(compact_until_caught_up(*store, 1000).runs, 0u) << "48 points a series: too few";
    write_short_chunks(*store, ref, 2, 46);
    EXPECT_EQ(compact_until_caught_up(*store, 1000).runs, 20u);
    for (SeriesId id = 0; id < 20; ++id)
      EXPECT_EQ(chunk_counts(*store, id), std::vector<std::uint32_t>(6, 64)) << "series " << id;
    ASSERT_TRUE(store->checkpoint().ok());
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  EXPECT_EQ(store->stats().chunks, 20u * 6u);
  for (SeriesId id = 0; id < 20; ++id)
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
}

// A run that overlaps another chunk of its series (a late rewrite of some of its timestamps,
// pending in memory) or the head is not merged: the merged chunk would outrank the newer write.
// Once the rewrite is in a chunk file too, it is part of the run, and merging keeps it winning.
TEST(Store, CompactionLeavesARunOverlappingOtherWrites) {
  ScratchDir dir;
  auto options = test_options(64);
  options.head_points_budget = 16;  // every append of 16 points is sealed
  std::map<Timestamp, double> ref;
  {
    auto store = open_store(dir.path(), options);
    const SeriesId id = must_resolve(*store, series_key("d", "m"));
    for (int c = 0; c < 8; ++c) {
      auto batch = regular(kT0 + c * 16 * kS, kS, 16, c * 1.5, 0.25);
      must_append(*store, id, batch);
      for (const Sample& x : batch) ref[x.ts] = x.value;
    }
    ASSERT_TRUE(store->checkpoint().ok());
    EXPECT_EQ(chunk_counts(*store, id), std::vector<std::uint32_t>(8, 16));
    // A late rewrite of 16 timestamps in the first chunk's worth: a pending chunk over the run.
    auto rewrite = regular(kT0 + 40 * kS, kS, 16, -7.0, -0.5);
    must_append(*store, id, rewrite);
    for (const Sample& x : rewrite) ref[x.ts] = x.value;
    ASSERT_EQ(store->snapshot(id).chunks->size(), 9u);
    auto step = compact_until_caught_up(*store, 64);
    EXPECT_EQ(step.runs, 0u);
    EXPECT_EQ(store->snapshot(id).chunks->size(), 9u);
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
    // And a point in the head over the run: the run waits too.
    ASSERT_TRUE(store->checkpoint().ok());
    must_append(*store, id, {{kT0 + 3 * kS, 99.5}});
    ref[kT0 + 3 * kS] = 99.5;
    step = compact_until_caught_up(*store, 64);
    EXPECT_EQ(step.runs, 0u);
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
    // Everything in files: one run, merged by the chunks' own precedences (the last write wins).
    ASSERT_TRUE(store->checkpoint().ok());
    step = compact_until_caught_up(*store, 1000);
    EXPECT_GT(step.runs, 0u);
    EXPECT_EQ(chunk_counts(*store, id), (std::vector<std::uint32_t>{64, 64}));
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  EXPECT_EQ(chunk_counts(*store, 0), (std::vector<std::uint32_t>{64, 64}));
  EXPECT_TRUE(same_samples(read_all(*store, 0), to_samples(ref)));
}

// Writes that arrive out of order across seals leave chunks of a run overlapping each other: the
// run is merged whole (the chunks that overlap those taken are taken too), by their precedences.
TEST(Store, CompactionMergesARunWhoseChunksOverlapEachOther) {
  ScratchDir dir;
  auto options = test_options(64);
  options.head_points_budget = 16;  // every append of 16 points is sealed
  std::map<Timestamp, double> ref;
  auto store = open_store(dir.path(), options);
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  auto seal = [&](const std::vector<Timestamp>& seconds, double base) {
    std::vector<Sample> batch;
    for (std::size_t k = 0; k < seconds.size(); ++k)
      batch.push_back({kT0 + seconds[k] * kS, base + static_cast<double>(k) * 0.125});
    std::sort(batch.begin(), batch.end(), [](auto& a, auto& b) { return a.ts < b.ts; });
    ASSERT_EQ(batch.size(), 16u);
    must_append(*store, id, batch);
    for (const Sample& x : batch) ref[x.ts] = x.value;
  };
  auto range = [](Timestamp from, Timestamp to) {
    std::vector<Timestamp> out;
    for (Timestamp t = from; t <= to; ++t) out.push_back(t);
    return out;
  };
  seal(range(0, 15), 1);
  seal(range(16, 31), 2);
  auto c3 = range(32, 46);
  c3.push_back(70);  // ahead of the next chunk
  seal(c3, 3);
  seal(range(47, 62), 4);  // late: inside the previous chunk's range
  auto c5 = range(64, 79);
  c5.push_back(63);
  c5.erase(std::find(c5.begin(), c5.end(), 72));  // 63..79 without 72; 70 again: it wins
  seal(c5, 5);
  seal(range(80, 95), 6);
  seal(range(96, 111), 7);
  seal(range(112, 127), 8);
  seal(range(128, 143), 9);
  ref.erase(kT0 + 72 * kS);
  ASSERT_EQ(ref.size(), 143u);
  EXPECT_EQ(chunk_counts(*store, id), std::vector<std::uint32_t>(9, 16));
  const auto sum = compact_until_caught_up(*store, 64);
  EXPECT_EQ(sum.runs_dropped, 0u);
  EXPECT_EQ(chunk_counts(*store, id), (std::vector<std::uint32_t>{64, 64, 15}));
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
  ASSERT_TRUE(store->checkpoint().ok());
  store.reset();
  store = open_store(dir.path(), options);
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
}

// A late write still in the head over the newest chunks of a run: the step merges the run's
// first full chunk's worth, which the write does not reach, rather than wait for the whole run.
TEST(Store, CompactionMergesTheFullChunkALateWriteInTheHeadDoesNotReach) {
  ScratchDir dir;
  auto options = test_options(64);
  options.head_points_budget = 16;  // every append of 16 points is sealed
  std::map<Timestamp, double> ref;
  auto store = open_store(dir.path(), options);
  const SeriesId id = must_resolve(*store, series_key("d", "m"));
  for (int c = 0; c < 8; ++c) {
    auto batch = regular(kT0 + c * 16 * kS, kS, 16, c * 2.0, 0.5);
    must_append(*store, id, batch);
    for (const Sample& x : batch) ref[x.ts] = x.value;
  }
  must_append(*store, id, {{kT0 + 120 * kS, -3.5}});  // one point: it stays in the head
  ref[kT0 + 120 * kS] = -3.5;
  ASSERT_EQ(store->snapshot(id).head.size(), 1u);
  const auto sum = compact_until_caught_up(*store, 1000);
  EXPECT_EQ(sum.runs, 1u);
  EXPECT_EQ(chunk_counts(*store, id), (std::vector<std::uint32_t>{64, 16, 16, 16, 16}))
      << "the rest waits for the head";
  EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref)));
}

// Between a step's two locked phases a delete (in files) or a checkpoint (of pending chunks)
// replaces the run's chunks: the step drops its work, and the next one starts afresh.
TEST(Store, CompactionStepDropsWorkOvertakenByADeleteOrACheckpoint) {
  ScratchDir dir;
  auto options = short_chunk_options();
  std::function<void()> between;
  options.before_compaction_install = [&] {
    if (between) std::exchange(between, {})();
  };
  std::vector<std::map<Timestamp, double>> ref(20);
  auto store = open_store(dir.path(), options);
  for (int i = 0; i < 20; ++i) must_resolve(*store, series_key("d" + std::to_string(i), "m"));
  write_short_chunks(*store, ref, 40, 0, 40);  // all in one chunk file
  // The step merges series 0's first four chunks; the delete takes them all (nothing replaces
  // them), then the next step's series 1's, of which the delete leaves a rewritten part.
  std::uint64_t deleted = 0;
  auto delete_between = [&](SeriesId id, Timestamp from, Timestamp to) {
    between = [&, id, from, to] {
      auto n = store->delete_range(id, kT0 + from * kS, kT0 + to * kS);
      ASSERT_TRUE(n.ok()) << n.error().message;
      deleted = *n;
    };
  };
  delete_between(0, 0, 63);
  auto step = store->compact_step(64);
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_EQ(deleted, 64u);
  EXPECT_EQ(step->runs, 0u);
  EXPECT_EQ(step->runs_dropped, 1u);
  delete_between(1, 10, 20);
  step = store->compact_step(64);
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_EQ(deleted, 11u);
  EXPECT_EQ(step->runs, 0u);
  EXPECT_EQ(step->runs_dropped, 1u);
  for (Timestamp t = 0; t <= 63; ++t) ref[0].erase(kT0 + t * kS);
  for (Timestamp t = 10; t <= 20; ++t) ref[1].erase(kT0 + t * kS);
  EXPECT_TRUE(same_samples(read_all(*store, 0), to_samples(ref[0])));
  EXPECT_TRUE(same_samples(read_all(*store, 1), to_samples(ref[1])));

  // Pending chunks that a checkpoint writes while they are being merged.
  write_short_chunks(*store, ref, 40, 40);
  compact_until_caught_up(*store, 100'000);  // the files' runs; the pending ones: 320 points
  const auto chunks_before = store->stats().chunks;
  write_short_chunks(*store, ref, 40, 80);
  between = [&] { ASSERT_TRUE(store->checkpoint().ok()); };
  step = store->compact_step(100'000);
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_EQ(step->runs, 0u);
  EXPECT_EQ(step->runs_dropped, 20u);
  EXPECT_EQ(store->stats().chunks, chunks_before + 20u * 20u) << "the checkpoint wrote them";
  const auto after = compact_until_caught_up(*store, 100'000);
  EXPECT_EQ(after.runs_dropped, 0u);
  EXPECT_EQ(after.points, 20u * 320u);
  for (SeriesId id = 0; id < 20; ++id)
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
  store.reset();
  store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  for (SeriesId id = 0; id < 20; ++id)
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
}

// A crash after the compaction file is written but before the MANIFEST names it: open ignores
// the file (the old chunks are live), and the next file written takes its number again.
TEST(Store, AnUnlistedCompactionFileIsIgnoredAtOpen) {
  ScratchDir dir, crashed;
  const auto options = short_chunk_options();
  std::vector<std::map<Timestamp, double>> ref(20);
  {
    auto store = open_store(dir.path(), options);
    for (int i = 0; i < 20; ++i) must_resolve(*store, series_key("d" + std::to_string(i), "m"));
    write_short_chunks(*store, ref, 40, 0, 20);
  }
  // The directory as the crash will leave it: before compaction, plus the compaction's file.
  std::filesystem::copy(
      dir.path(), crashed.path(),
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  const auto before = files_with_extension(dir.path() / "chunks", ".chunks");
  ASSERT_EQ(before.size(), 2u);
  {
    auto store = open_store(dir.path(), options);
    compact_until_caught_up(*store, 64);
  }
  const auto after = files_with_extension(dir.path() / "chunks", ".chunks");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0].filename().string(), before.back().filename().string()) << "a new number";
  for (const auto& f : {after[0], std::filesystem::path(after[0]).replace_extension(".index")})
    std::filesystem::copy_file(f, crashed.path() / "chunks" / f.filename());
  {
    auto store = open_store(crashed.path(), options);
    EXPECT_TRUE(store->lost().empty());
    EXPECT_EQ(store->stats().chunks, 20u * 20u) << "the old chunks are live, the file unlisted";
    for (SeriesId id = 0; id < 20; ++id)
      EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
    EXPECT_EQ(compact_until_caught_up(*store, 64).points, 20u * 320u);
    const auto now = files_with_extension(crashed.path() / "chunks", ".chunks");
    ASSERT_EQ(now.size(), 1u);
    EXPECT_EQ(now[0].filename().string(), after[0].filename().string())
        << "written again under the same number";
  }
  auto store = open_store(crashed.path(), options);
  EXPECT_TRUE(store->lost().empty());
  EXPECT_EQ(store->stats().chunks, 20u * 5u);
  for (SeriesId id = 0; id < 20; ++id)
    EXPECT_TRUE(same_samples(read_all(*store, id), to_samples(ref[id]))) << "series " << id;
}

// Compaction steps racing writers (with late rewrites), their sweeps, checkpoints and a reader.
TEST(Store, CompactionBesideWritersSweepsAndCheckpointsLosesNothing) {
  ScratchDir dir;
  auto options = test_options(64);
  options.head_points_budget = 200;
  options.sweep_in_append = false;
  constexpr int kWriters = 2, kSeriesEach = 20, kBatches = 300;
  std::vector<std::map<Timestamp, double>> expected(kWriters * kSeriesEach);
  {
    auto store = open_store(dir.path(), options);
    std::vector<SeriesId> ids;
    for (int i = 0; i < kWriters * kSeriesEach; ++i)
      ids.push_back(must_resolve(*store, series_key("d" + std::to_string(i), "m")));
    std::atomic<int> writers_left{kWriters}, failures{0}, bad_reads{0}, reads{0};
    std::atomic<std::uint64_t> merged{0}, dropped{0};
    auto write = [&](int w) {
      std::mt19937_64 rng(static_cast<std::uint64_t>(w) + 5);
      std::vector<std::size_t> next(kSeriesEach, 0);
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Point> batch;
        for (int k = 0; k < kSeriesEach; ++k) {
          const std::size_t i = static_cast<std::size_t>(w * kSeriesEach + k);
          for (int n = 1 + static_cast<int>(rng() % 10); n > 0; --n, ++next[k]) {
            const Timestamp ts = kT0 + static_cast<Timestamp>(next[k]) * kS;
            const double v = static_cast<double>(next[k]) + 0.5 * static_cast<double>(i);
            batch.push_back(Point{ids[i], ts, v});
            expected[i][ts] = v;
          }
          if (b % 7 == 6) {  // rewrite an older point: the last write wins
            const Timestamp ts = kT0 + static_cast<Timestamp>(next[k] - 1 - rng() % 40) * kS;
            batch.push_back(Point{ids[i], ts, -1.0 * static_cast<double>(b)});
            expected[i][ts] = -1.0 * static_cast<double>(b);
          }
        }
        if (!store->append(batch).ok()) ++failures;
        store->sweep_heads();
      }
      --writers_left;
    };
    auto checkpoint = [&] {
      while (writers_left.load() > 0) {
        if (!store->checkpoint().ok()) ++failures;
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
    };
    auto compact = [&] {
      while (writers_left.load() > 0) {
        auto step = store->compact_step(256);
        if (!step) {
          ++failures;
          continue;
        }
        merged += step->runs;
        dropped += step->runs_dropped;
        if (step->caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    };
    auto read = [&] {
      std::size_t seen = 0;
      while (writers_left.load() > 0) {
        const auto snap = store->snapshot(ids[0]);
        RangeCursor cursor(snap, kMinTimestamp, kMaxTimestamp);
        std::vector<Sample> part;
        std::size_t k = 0;
        bool ok = true;
        while (cursor.next(part, 97))
          for (const Sample& x : part) ok = ok && x.ts == kT0 + static_cast<Timestamp>(k++) * kS;
        if (!ok || !cursor.status().ok() || k < seen) ++bad_reads;
        seen = k;
        ++reads;
      }
    };
    std::thread w0(write, 0), w1(write, 1), c(checkpoint), m(compact), r(read);
    w0.join();
    w1.join();
    c.join();
    m.join();
    r.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(bad_reads.load(), 0);
    EXPECT_GT(reads.load(), 0);
    EXPECT_GT(merged.load(), 0u) << "compaction merged runs while the writers ran";
    for (std::size_t i = 0; i < ids.size(); ++i)
      EXPECT_TRUE(same_samples(read_all(*store, ids[i]), to_samples(expected[i])))
          << "series " << i;
    compact_until_caught_up(*store, 1 << 20);
    for (std::size_t i = 0; i < ids.size(); ++i)
      EXPECT_TRUE(same_samples(read_all(*store, ids[i]), to_samples(expected[i])))
          << "series " << i << " after compaction caught up";
  }
  auto store = open_store(dir.path(), options);
  EXPECT_TRUE(store->lost().empty());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(same_samples(read_all(*store, static_cast<SeriesId>(i)), to_samples(expected[i])))
        << "series " << i << " after a reopen";
}

TEST(Store, CompactionStepRefusesAZeroBudget) {
  ScratchDir dir;
  auto store = open_store(dir.path(), test_options());
  auto step = store->compact_step(0);
  ASSERT_FALSE(step.ok());
  EXPECT_TRUE(step.error().is(errc::invalid_argument));
}

TEST(Store, TheLockKeepsASecondOpenOut) {
  ScratchDir dir;
  auto first = open_store(dir.path(), test_options());
  ASSERT_TRUE(first);
  must_resolve(*first, series_key("a", "m"));
  auto second = Store::open(dir.path(), test_options());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.error().is(errc::locked));
  EXPECT_NE(second.error().message.find(dir.path().string()), std::string::npos)
      << second.error().message;
  // The refused open changed nothing; the first store works on.
  EXPECT_TRUE(first->append(0, std::vector<Sample>{{kT0, 1.0}}).ok());
  first.reset();
  auto third = open_store(dir.path(), test_options());
  ASSERT_TRUE(third);
  EXPECT_TRUE(same_samples(read_all(*third, 0), {{kT0, 1.0}}));
}

TEST(Store, RefusesBadOptions) {
  ScratchDir dir;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, kMaxChunkPoints + 1}) {
    auto s = Store::open(dir.path(), test_options(n));
    ASSERT_FALSE(s.ok()) << n;
    EXPECT_TRUE(s.error().is(errc::invalid_argument));
  }
}

}  // namespace
}  // namespace strata::store

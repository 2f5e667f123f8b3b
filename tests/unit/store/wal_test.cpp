// Tests of store/wal: what is appended is replayed in order, bit for bit (samples records, points
// of any series, the legacy points record); a torn tail cut at every byte offset of the last
// record is cut off with the records before it kept; a corrupt record in the middle of a segment
// is skipped and reported while the records after it are replayed; rotation and deletion of
// segments; every fsync policy.
#include "store/wal.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/crc32c.hpp"
#include "scratch_dir.hpp"
#include "store/byte_io.hpp"
#include "store/file_io.hpp"

namespace strata::store {
namespace {

using testing::file_bytes;
using testing::files_with_extension;
using testing::ScratchDir;
using testing::write_bytes;

// Everything a replay delivered, flattened into points in arrival order.
struct Replay {
  std::vector<Point> points;
  std::size_t sample_calls = 0, point_calls = 0;
  std::vector<WalDamage> damage;
};

WalOptions with_policy(FsyncPolicy policy, Timestamp interval_us = 100'000) {
  WalOptions o;
  o.fsync = policy;
  o.fsync_interval_us = interval_us;
  return o;
}

std::unique_ptr<WriteAheadLog> open_wal(const std::filesystem::path& dir, Replay& r,
                                        WalOptions options = with_policy(FsyncPolicy::off)) {
  auto on_samples = [&r](SeriesId id, std::span<const Sample> s) {
    ++r.sample_calls;
    for (const Sample& x : s) r.points.push_back({id, x.ts, x.value});
  };
  auto on_points = [&r](std::span<const Point> p) {
    ++r.point_calls;
    r.points.insert(r.points.end(), p.begin(), p.end());
  };
  auto wal = WriteAheadLog::open(dir, options, on_samples, on_points, r.damage);
  EXPECT_TRUE(wal.ok()) << (wal.ok() ? "" : wal.error().message);
  return wal ? std::move(*wal) : nullptr;
}

void expect_same(const std::vector<Point>& got, const std::vector<Point>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].series, want[i].series) << "point " << i;
    EXPECT_EQ(got[i].ts, want[i].ts) << "point " << i;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(got[i].value),
              std::bit_cast<std::uint64_t>(want[i].value))
        << "point " << i;
  }
}

std::vector<Point> as_points(SeriesId id, const std::vector<Sample>& s) {
  std::vector<Point> p;
  for (const Sample& x : s) p.push_back({id, x.ts, x.value});
  return p;
}

// Appends a varied log: record i holds samples or points whose timestamps start at 1000·i.
// Returns the points in order and the byte offset where each record starts (plus the end).
struct Written {
  std::vector<Point> points;
  std::vector<std::vector<Point>> per_record;
  std::vector<std::uint64_t> offsets;
};

Written write_records(WriteAheadLog& wal, const std::filesystem::path& segment, int n,
                      std::mt19937_64& rng) {
  Written w;
  w.offsets.push_back(std::filesystem::file_size(segment));
  for (int i = 0; i < n; ++i) {
    std::vector<Point> rec;
    const Timestamp base = 1000 * static_cast<Timestamp>(i + 1);
    if (i % 2 == 0) {
      const auto id = static_cast<SeriesId>(rng() % 5);
      std::vector<Sample> s;
      for (int k = 0; k < 1 + i % 7; ++k)
        s.push_back({base + k, static_cast<double>(rng() % 1000) / 10});
      EXPECT_TRUE(wal.append(id, s).ok());
      rec = as_points(id, s);
    } else {
      for (int k = 0; k < 1 + i % 5; ++k)
        rec.push_back({static_cast<SeriesId>(rng() % 3), base + k, std::bit_cast<double>(rng())});
      EXPECT_TRUE(wal.append(rec).ok());
    }
    w.points.insert(w.points.end(), rec.begin(), rec.end());
    w.per_record.push_back(rec);
    w.offsets.push_back(std::filesystem::file_size(segment));
  }
  return w;
}

std::filesystem::path only_segment(const std::filesystem::path& dir) {
  const auto segs = files_with_extension(dir, ".wal");
  EXPECT_EQ(segs.size(), 1u);
  return segs.empty() ? dir / "missing.wal" : segs.front();
}

TEST(Wal, RoundTripOfSamplesAndPoints) {
  ScratchDir dir;
  std::vector<Point> want;
  {
    Replay r;
    auto wal = open_wal(dir.path(), r);
    ASSERT_TRUE(wal);
    EXPECT_TRUE(r.points.empty());
    EXPECT_TRUE(r.damage.empty());
    const std::vector<Sample> a = {
        {-5, 1.5}, {0, -0.0}, {7, std::nan("")}, {1'700'000'000'000'000, 1e300}};
    ASSERT_TRUE(wal->append(3, a).ok());
    auto pa = as_points(3, a);
    want.insert(want.end(), pa.begin(), pa.end());
    // Points of several series, with runs of one series, single points, and timestamps that
    // jump across the whole int64 range (the delta encoding must wrap correctly).
    const std::vector<Point> p = {{0, 10, 1.0},
                                  {0, 20, 2.0},
                                  {0, 30, 3.0},
                                  {1, std::numeric_limits<Timestamp>::max(), 4.0},
                                  {1, std::numeric_limits<Timestamp>::min(), 5.0},
                                  {1, -1, 6.0},
                                  {1, 1, 6.5},
                                  {2, 5, std::numeric_limits<double>::infinity()},
                                  {0, 5, -7.0},
                                  {4'000'000'000u, 9, 8.0},
                                  {0, 5, 9.0}};
    ASSERT_TRUE(wal->append(p).ok());
    want.insert(want.end(), p.begin(), p.end());
    ASSERT_TRUE(wal->append(std::vector<Point>{{7, 1, 1.0}}).ok());
    want.push_back({7, 1, 1.0});
    ASSERT_TRUE(wal->append(9, std::vector<Sample>{{100, 0.1}}).ok());
    want.push_back({9, 100, 0.1});
    // A large record.
    std::vector<Sample> big(50000);
    for (std::size_t i = 0; i < big.size(); ++i)
      big[i] = {static_cast<Timestamp>(i) * 10, static_cast<double>(i) / 8};
    ASSERT_TRUE(wal->append(11, big).ok());
    auto pb = as_points(11, big);
    want.insert(want.end(), pb.begin(), pb.end());
    EXPECT_EQ(wal->bytes(), std::filesystem::file_size(only_segment(dir.path())));
  }
  Replay r;
  auto wal = open_wal(dir.path(), r);
  ASSERT_TRUE(wal);
  EXPECT_TRUE(r.damage.empty());
  expect_same(r.points, want);
  // Replaying does not consume: a second open sees the same (plus the new, empty segment).
  wal.reset();
  Replay again;
  ASSERT_TRUE(open_wal(dir.path(), again));
  expect_same(again.points, want);
  EXPECT_TRUE(again.damage.empty());
}

TEST(Wal, ReplaysRandomLogsExactly) {
  std::mt19937_64 rng(1);
  for (int round = 0; round < 5; ++round) {
    ScratchDir dir;
    Written w;
    {
      Replay r;
      auto wal = open_wal(dir.path(), r);
      ASSERT_TRUE(wal);
      w = write_records(*wal, only_segment(dir.path()), 40, rng);
    }
    Replay r;
    ASSERT_TRUE(open_wal(dir.path(), r));
    EXPECT_TRUE(r.damage.empty());
    expect_same(r.points, w.points);
  }
}

// The points record of format 1 (type 2), which older versions wrote: built by hand from the
// layout in wal.hpp and replayed through on_points.
TEST(Wal, ReplaysTheLegacyPointsRecord) {
  ScratchDir dir;
  const std::vector<Point> p = {{1, 100, 1.25}, {2, -100, -2.5}, {1, 101, std::nan("")}};
  std::vector<std::uint8_t> payload;
  ByteWriter w(payload);
  w.u8(2);
  w.varint(p.size());
  for (const Point& x : p) {
    w.u32(x.series);
    w.u64(static_cast<std::uint64_t>(x.ts));
    w.u64(std::bit_cast<std::uint64_t>(x.value));
  }
  std::vector<std::uint8_t> seg;
  ByteWriter s(seg);
  s.u32(static_cast<std::uint32_t>(payload.size()));
  s.u32(crc32c(payload.data(), payload.size()));
  s.bytes(payload);
  write_bytes(dir.path() / "00000001.wal", seg);
  Replay r;
  ASSERT_TRUE(open_wal(dir.path(), r));
  EXPECT_EQ(r.point_calls, 1u);
  EXPECT_TRUE(r.damage.empty());
  expect_same(r.points, p);
}

// A crash in the middle of the last write: cut the last record at every byte offset of its
// length. Replay returns the records before it, reports a torn tail where the record began, and
// cuts the segment there, so the next open finds it clean.
TEST(Wal, TornTailIsCutAtEveryOffset) {
  ScratchDir src;
  std::mt19937_64 rng(2);
  Written w;
  {
    Replay r;
    auto wal = open_wal(src.path(), r);
    ASSERT_TRUE(wal);
    w = write_records(*wal, only_segment(src.path()), 8, rng);
  }
  const auto segment = only_segment(src.path());
  const auto pristine = file_bytes(segment);
  const std::uint64_t last_start = w.offsets[w.offsets.size() - 2];
  const std::uint64_t end = w.offsets.back();
  ASSERT_EQ(pristine.size(), end);
  std::vector<Point> before;
  for (std::size_t i = 0; i + 1 < w.per_record.size(); ++i)
    before.insert(before.end(), w.per_record[i].begin(), w.per_record[i].end());
  for (std::uint64_t cut = last_start; cut < end; ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut) + " (last record spans " +
                 std::to_string(last_start) + ".." + std::to_string(end) + ")");
    ScratchDir dir;
    const auto path = dir.path() / segment.filename();
    write_bytes(path, std::vector<std::uint8_t>(pristine.begin(),
                                                pristine.begin() + static_cast<long>(cut)));
    Replay r;
    ASSERT_TRUE(open_wal(dir.path(), r));
    expect_same(r.points, before);
    if (cut == last_start) {
      EXPECT_TRUE(r.damage.empty()) << "a cut on a record boundary is a clean end";
    } else {
      ASSERT_EQ(r.damage.size(), 1u);
      EXPECT_TRUE(r.damage[0].torn_tail);
      EXPECT_EQ(r.damage[0].segment, segment.filename().string());
      EXPECT_EQ(r.damage[0].offset, last_start);
      EXPECT_EQ(r.damage[0].bytes, cut - last_start);
      EXPECT_EQ(r.damage[0].last_good_ts, before.back().ts);
    }
    EXPECT_EQ(std::filesystem::file_size(path), last_start) << "the torn tail must be cut";
    // Reopened: clean.
    Replay again;
    ASSERT_TRUE(open_wal(dir.path(), again));
    EXPECT_TRUE(again.damage.empty());
    expect_same(again.points, before);
  }
}

// A torn tail on the first record: nothing is replayed and the segment is cut to nothing.
TEST(Wal, TornFirstRecord) {
  ScratchDir dir;
  {
    Replay r;
    auto wal = open_wal(dir.path(), r);
    ASSERT_TRUE(wal->append(1, std::vector<Sample>{{1, 1.0}, {2, 2.0}}).ok());
  }
  const auto segment = only_segment(dir.path());
  testing::cut_file(segment, 5);
  Replay r;
  ASSERT_TRUE(open_wal(dir.path(), r));
  EXPECT_TRUE(r.points.empty());
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_TRUE(r.damage[0].torn_tail);
  EXPECT_EQ(r.damage[0].offset, 0u);
  EXPECT_EQ(r.damage[0].last_good_ts, kMinTimestamp);
}

// Corruption in the middle of a segment (a flipped bit in the length, the CRC or the payload of
// an early record): the records after it are still replayed; the damage names the record's
// offset and size, is not a torn tail, and the segment is left as it is.
TEST(Wal, CorruptRecordInTheMiddleIsSkipped) {
  ScratchDir src;
  std::mt19937_64 rng(3);
  Written w;
  {
    Replay r;
    auto wal = open_wal(src.path(), r);
    ASSERT_TRUE(wal);
    w = write_records(*wal, only_segment(src.path()), 10, rng);
  }
  const auto segment = only_segment(src.path());
  const auto pristine = file_bytes(segment);
  for (std::size_t victim : {std::size_t{0}, std::size_t{3}, std::size_t{8}}) {
    const std::uint64_t start = w.offsets[victim];
    const std::uint64_t size = w.offsets[victim + 1] - start;
    std::vector<Point> rest;
    for (std::size_t i = 0; i < w.per_record.size(); ++i)
      if (i != victim) rest.insert(rest.end(), w.per_record[i].begin(), w.per_record[i].end());
    // Flips in the length field, the CRC field, the payload's first byte and its last byte.
    for (std::uint64_t at : {start + 1, start + 5, start + 8, start + size - 1}) {
      SCOPED_TRACE("record " + std::to_string(victim) + ", flip at byte " + std::to_string(at));
      ScratchDir dir;
      auto bytes = pristine;
      bytes[at] ^= 0x10;
      const auto path = dir.path() / segment.filename();
      write_bytes(path, bytes);
      Replay r;
      ASSERT_TRUE(open_wal(dir.path(), r));
      expect_same(r.points, rest);
      ASSERT_EQ(r.damage.size(), 1u);
      EXPECT_FALSE(r.damage[0].torn_tail);
      EXPECT_EQ(r.damage[0].offset, start);
      EXPECT_EQ(r.damage[0].bytes, size);
      EXPECT_EQ(r.damage[0].last_good_ts,
                victim == 0 ? kMinTimestamp : w.per_record[victim - 1].back().ts);
      EXPECT_EQ(std::filesystem::file_size(path), pristine.size()) << "corruption is not cut away";
    }
  }
}

// Damage at the end of a segment that is not the last one is corruption, not a torn write.
TEST(Wal, DamageAtTheEndOfAnEarlierSegmentIsNotATornTail) {
  ScratchDir dir;
  std::uint64_t first_size = 0;
  {
    Replay r;
    auto wal = open_wal(dir.path(), r);
    ASSERT_TRUE(wal->append(1, std::vector<Sample>{{1, 1.0}}).ok());
    ASSERT_TRUE(wal->append(1, std::vector<Sample>{{2, 2.0}}).ok());
    first_size = std::filesystem::file_size(dir.path() / "00000001.wal");
    ASSERT_TRUE(wal->rotate().ok());
    ASSERT_TRUE(wal->append(1, std::vector<Sample>{{3, 3.0}}).ok());
  }
  testing::cut_file(dir.path() / "00000001.wal", first_size - 3);
  Replay r;
  ASSERT_TRUE(open_wal(dir.path(), r));
  expect_same(r.points, {{1, 1, 1.0}, {1, 3, 3.0}});
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_FALSE(r.damage[0].torn_tail);
  EXPECT_EQ(r.damage[0].segment, "00000001.wal");
}

TEST(Wal, RotateAndDropBefore) {
  ScratchDir dir;
  std::vector<std::uint64_t> numbers;
  {
    Replay r;
    auto wal = open_wal(dir.path(), r);
    for (int seg = 0; seg < 4; ++seg) {
      ASSERT_TRUE(
          wal->append(static_cast<SeriesId>(seg), std::vector<Sample>{{seg * 10, 1.0 * seg}}).ok());
      auto next = wal->rotate();
      ASSERT_TRUE(next.ok());
      numbers.push_back(*next);
    }
    EXPECT_EQ(numbers, (std::vector<std::uint64_t>{2, 3, 4, 5}));
    EXPECT_EQ(files_with_extension(dir.path(), ".wal").size(), 5u);
    const std::uint64_t before = wal->bytes();
    const std::uint64_t seg1 = std::filesystem::file_size(dir.path() / "00000001.wal");
    const std::uint64_t seg2 = std::filesystem::file_size(dir.path() / "00000002.wal");
    ASSERT_TRUE(wal->drop_before(3).ok());
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "00000001.wal"));
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "00000002.wal"));
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "00000003.wal"));
    EXPECT_EQ(wal->bytes(), before - seg1 - seg2);
    ASSERT_TRUE(wal->drop_before(3).ok());  // idempotent
    ASSERT_TRUE(wal->append(9, std::vector<Sample>{{99, 9.0}}).ok());
  }
  Replay r;
  auto wal = open_wal(dir.path(), r);
  ASSERT_TRUE(wal);
  expect_same(r.points, {{2, 20, 2.0}, {3, 30, 3.0}, {9, 99, 9.0}});
  EXPECT_TRUE(r.damage.empty());
  EXPECT_EQ(wal->bytes(), testing::file_bytes(dir.path() / "00000003.wal").size() +
                              testing::file_bytes(dir.path() / "00000004.wal").size() +
                              testing::file_bytes(dir.path() / "00000005.wal").size());
  // Everything covered: drop all but the segment being written.
  auto next = wal->rotate();
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(wal->drop_before(*next).ok());
  EXPECT_EQ(wal->bytes(), 0u);
  EXPECT_EQ(files_with_extension(dir.path(), ".wal").size(), 1u);
}

TEST(Wal, EmptySegmentsAreRemovedAndStrangersIgnored) {
  ScratchDir dir;
  {
    Replay r;
    ASSERT_TRUE(open_wal(dir.path(), r));
  }
  {
    Replay r;
    ASSERT_TRUE(open_wal(dir.path(), r));
  }
  // Every open made a segment; the empty ones of earlier opens are gone.
  EXPECT_EQ(files_with_extension(dir.path(), ".wal").size(), 1u);
  write_bytes(dir.path() / "notes.txt", {1, 2, 3});
  write_bytes(dir.path() / "garbage.wal", {1, 2, 3});
  Replay r;
  ASSERT_TRUE(open_wal(dir.path(), r));
  EXPECT_TRUE(r.points.empty());
  EXPECT_TRUE(r.damage.empty());
}

TEST(Wal, EveryFsyncPolicyRoundTrips) {
  for (FsyncPolicy policy : {FsyncPolicy::every_batch, FsyncPolicy::interval, FsyncPolicy::off}) {
    SCOPED_TRACE(static_cast<int>(policy));
    ScratchDir dir;
    const WalOptions options = with_policy(policy, 1000);
    std::vector<Point> want;
    {
      Replay r;
      auto wal = open_wal(dir.path(), r, options);
      ASSERT_TRUE(wal);
      for (int i = 0; i < 50; ++i) {
        const std::vector<Sample> s = {{i * 2, i * 0.5}, {i * 2 + 1, -i * 0.5}};
        ASSERT_TRUE(wal->append(static_cast<SeriesId>(i % 3), s).ok());
        auto p = as_points(static_cast<SeriesId>(i % 3), s);
        want.insert(want.end(), p.begin(), p.end());
        if (i % 10 == 0) {
          ASSERT_TRUE(wal->sync().ok());
        }
        if (i == 25) {
          ASSERT_TRUE(wal->rotate().ok());
        }
      }
    }
    Replay r;
    ASSERT_TRUE(open_wal(dir.path(), r, options));
    EXPECT_TRUE(r.damage.empty());
    expect_same(r.points, want);
  }
}

// before_sync (the store fsyncs its series registry there) runs before every fsync of the WAL,
// and its failure is the sync's failure.
TEST(Wal, BeforeSyncRunsBeforeEveryFsync) {
  for (FsyncPolicy policy : {FsyncPolicy::every_batch, FsyncPolicy::interval, FsyncPolicy::off}) {
    SCOPED_TRACE(static_cast<int>(policy));
    ScratchDir dir;
    int calls = 0;
    bool fail = false;
    WalOptions options = with_policy(policy, 60'000'000);  // the interval thread stays asleep
    options.before_sync = [&]() -> Status {
      ++calls;
      if (fail) return Error::of(io_errc::io, "registry sync failed");
      return {};
    };
    Replay r;
    auto wal = open_wal(dir.path(), r, options);
    ASSERT_TRUE(wal);
    const int at_open = calls;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(wal->append(1, std::vector<Sample>{{i, 1.0}}).ok());
    EXPECT_EQ(calls - at_open, policy == FsyncPolicy::every_batch ? 5 : 0);
    ASSERT_TRUE(wal->sync().ok());
    EXPECT_EQ(calls - at_open, policy == FsyncPolicy::every_batch ? 6 : 1);
    fail = true;
    EXPECT_FALSE(wal->sync().ok());
    if (policy == FsyncPolicy::every_batch) {
      EXPECT_FALSE(wal->append(1, std::vector<Sample>{{9, 1.0}}).ok())
          << "an append must not be acknowledged unsynced";
    }
    fail = false;
    const int before_close = calls;
    wal.reset();
    EXPECT_EQ(calls - before_close, policy == FsyncPolicy::off ? 0 : 1)
        << "closing syncs under every policy but off";
  }
}

}  // namespace
}  // namespace strata::store

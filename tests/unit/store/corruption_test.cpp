// Tests of how the store survives damage to its files (layouts in chunk_file.hpp and wal.hpp).
// One store is built with several series, three checkpoints (three chunk files) and a WAL of
// later batches; each test damages a copy of it and reopens: a flipped bit in a chunk is reported
// as exactly that series, time range and point count while everything else reads back; a cut
// chunk file loses the chunks beyond the cut; a corrupt or missing index is rebuilt from the
// chunk file; a corrupt MANIFEST is reported and rebuilt; a corrupt WAL record in the middle is
// reported and the records around it served; a torn WAL tail is cut silently.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "scratch_dir.hpp"
#include "store/chunk_file.hpp"
#include "store/store.hpp"
#include "store_access.hpp"

namespace strata::store {
namespace {

using testing::file_bytes;
using testing::files_with_extension;
using testing::flip_bit;
using testing::must_resolve;
using testing::open_store;
using testing::read_all;
using testing::same_samples;
using testing::ScratchDir;
using testing::series_key;
using testing::test_options;
using testing::to_samples;

constexpr Timestamp kS = kMicrosPerSecond;
constexpr Timestamp kT0 = 1'700'000'000 * kS;
constexpr int kSeries = 5;
constexpr int kRounds = 3;
constexpr int kPerRound = 70;
constexpr int kWalBatches = 12;

// The pristine store every test copies, with what it holds.
struct Pristine {
  ScratchDir dir;
  std::vector<SeriesKey> keys;
  std::vector<std::map<Timestamp, double>> ref;
  std::vector<std::vector<Sample>> wal_batches;  // in append order: one WAL record each
  std::vector<SeriesId> wal_series;
  std::filesystem::path store_dir() const { return dir.path() / "store"; }
};

StoreOptions options() { return test_options(32); }

std::unique_ptr<Pristine> build_pristine() {
  auto q = std::make_unique<Pristine>();
  auto store = open_store(q->store_dir(), options());
  for (int s = 0; s < kSeries; ++s) {
    q->keys.push_back(
        series_key("pump-" + std::to_string(s), s % 2 ? "temp" : "pressure", {{"site", "A"}}));
    must_resolve(*store, q->keys.back());
  }
  q->ref.resize(kSeries);
  for (int r = 0; r < kRounds; ++r) {
    for (SeriesId s = 0; s < kSeries; ++s) {
      std::vector<Sample> batch;
      for (int i = 0; i < kPerRound; ++i) {
        const Timestamp ts = kT0 + (r * kPerRound + i) * kS + s;
        batch.push_back({ts, static_cast<double>(s * 1000 + r * kPerRound + i) / 4});
        q->ref[s][ts] = batch.back().value;
      }
      EXPECT_TRUE(store->append(s, batch).ok());
    }
    EXPECT_TRUE(store->checkpoint().ok());
  }
  // After the last checkpoint: WAL records only, one per append.
  for (int b = 0; b < kWalBatches; ++b) {
    const auto s = static_cast<SeriesId>(b % kSeries);
    std::vector<Sample> batch;
    for (int i = 0; i < 3; ++i) {
      const Timestamp ts = kT0 + (kRounds * kPerRound + b * 3 + i) * kS + s;
      batch.push_back({ts, -static_cast<double>(b * 3 + i) / 8});
      q->ref[s][ts] = batch.back().value;
    }
    EXPECT_TRUE(store->append(s, batch).ok());
    q->wal_batches.push_back(batch);
    q->wal_series.push_back(s);
  }
  return q;
}

// Builds the pristine store once per test program, and removes it at the end.
class Corruption : public ::testing::Test {
 public:
  static void SetUpTestSuite() { pristine_ = build_pristine(); }
  static void TearDownTestSuite() { pristine_.reset(); }
  static std::unique_ptr<Pristine> pristine_;
};
std::unique_ptr<Pristine> Corruption::pristine_;

const Pristine& pristine() { return *Corruption::pristine_; }

// A fresh copy of the pristine store to damage.
struct Copy {
  ScratchDir dir;
  std::filesystem::path path() const { return dir.path() / "store"; }
  std::filesystem::path chunks() const { return path() / "chunks"; }
  std::filesystem::path wal_segment() const {
    const auto segs = files_with_extension(path() / "wal", ".wal");
    EXPECT_FALSE(segs.empty());
    return segs.empty() ? path() : segs.back();
  }
};

std::unique_ptr<Copy> copy_of_pristine() {
  const Pristine& p = pristine();
  auto c = std::make_unique<Copy>();
  std::filesystem::copy(p.store_dir(), c->path(), std::filesystem::copy_options::recursive);
  return c;
}

std::vector<ChunkMeta> index_of(const std::filesystem::path& chunk_dir, std::uint32_t file) {
  auto idx = read_chunk_index(chunk_dir, file);
  EXPECT_TRUE(idx.ok()) << (idx.ok() ? "" : idx.error().message);
  return idx ? *idx : std::vector<ChunkMeta>{};
}

// The reference without the points of the given lost chunks.
std::vector<std::map<Timestamp, double>> without(const std::vector<ChunkMeta>& lost) {
  auto ref = pristine().ref;
  for (const ChunkMeta& m : lost) {
    auto& r = ref[m.series];
    r.erase(r.lower_bound(m.tmin), r.upper_bound(m.tmax));
  }
  return ref;
}

void expect_serves(const Store& store, const std::vector<std::map<Timestamp, double>>& ref) {
  for (SeriesId s = 0; s < ref.size(); ++s)
    EXPECT_TRUE(same_samples(read_all(store, s), to_samples(ref[s]))) << "series " << s;
}

TEST_F(Corruption, ThePristineStoreIsWhole) {
  auto c = copy_of_pristine();
  EXPECT_EQ(files_with_extension(c->chunks(), ".chunks").size(), static_cast<std::size_t>(kRounds));
  auto store = open_store(c->path(), options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->lost().empty());
  expect_serves(*store, pristine().ref);
}

// (a) A flipped bit inside any one chunk of a chunk file: lost() names exactly that series, that
// chunk's time range and point count; every other chunk reads back.
TEST_F(Corruption, FlippedBitInAChunkLosesExactlyThatChunk) {
  const auto metas = index_of(pristine().store_dir() / "chunks", 2);
  ASSERT_EQ(metas.size(), static_cast<std::size_t>(kSeries * 3))
      << "two full chunks and a head per series";
  for (std::uint32_t i = 0; i < metas.size(); ++i) {
    SCOPED_TRACE("chunk " + std::to_string(i));
    const ChunkMeta& m = metas[i];
    auto c = copy_of_pristine();
    flip_bit(chunk_file_path(c->chunks(), 2), m.offset + m.length / 2, i % 8);
    auto store = open_store(c->path(), options());
    ASSERT_TRUE(store);
    ASSERT_EQ(store->lost().size(), 1u);
    const LostRange& l = store->lost()[0];
    ASSERT_TRUE(l.series.has_value());
    EXPECT_EQ(*l.series, m.series);
    EXPECT_EQ(l.series_name, pristine().keys[m.series].to_string());
    EXPECT_EQ(l.from, m.tmin);
    EXPECT_EQ(l.to, m.tmax);
    EXPECT_EQ(l.points, m.count);
    EXPECT_NE(l.reason.find("00000002.chunks"), std::string::npos) << l.reason;
    expect_serves(*store, without({m}));
  }
}

// (b) A chunk file cut to half its size: the chunks beyond the cut are reported, one by one, with
// their series, ranges and counts; the rest reads back.
TEST_F(Corruption, TruncatedChunkFileLosesTheChunksBeyondTheCut) {
  for (std::uint32_t file = 1; file <= kRounds; ++file) {
    SCOPED_TRACE("file " + std::to_string(file));
    auto c = copy_of_pristine();
    const auto path = chunk_file_path(c->chunks(), file);
    const auto half = std::filesystem::file_size(path) / 2;
    testing::cut_file(path, half);
    std::vector<ChunkMeta> beyond;
    for (const ChunkMeta& m : index_of(c->chunks(), file))
      if (m.offset + m.length > half) beyond.push_back(m);
    ASSERT_FALSE(beyond.empty());
    auto store = open_store(c->path(), options());
    ASSERT_TRUE(store);
    ASSERT_EQ(store->lost().size(), beyond.size());
    for (std::size_t i = 0; i < beyond.size(); ++i) {
      const LostRange& l = store->lost()[i];
      ASSERT_TRUE(l.series.has_value());
      EXPECT_EQ(*l.series, beyond[i].series);
      EXPECT_EQ(l.series_name, pristine().keys[beyond[i].series].to_string());
      EXPECT_EQ(l.from, beyond[i].tmin);
      EXPECT_EQ(l.to, beyond[i].tmax);
      EXPECT_EQ(l.points, beyond[i].count);
      EXPECT_NE(l.reason.find("truncated"), std::string::npos) << l.reason;
    }
    expect_serves(*store, without(beyond));
  }
}

// A chunk file that is gone while its index remains: every chunk it held is reported.
TEST_F(Corruption, MissingChunkFileIsReportedChunkByChunk) {
  auto c = copy_of_pristine();
  std::filesystem::remove(chunk_file_path(c->chunks(), 1));
  const auto metas = index_of(c->chunks(), 1);
  auto store = open_store(c->path(), options());
  ASSERT_TRUE(store);
  ASSERT_EQ(store->lost().size(), metas.size());
  for (std::size_t i = 0; i < metas.size(); ++i) {
    EXPECT_EQ(store->lost()[i].series, metas[i].series);
    EXPECT_EQ(store->lost()[i].points, metas[i].count);
    EXPECT_NE(store->lost()[i].reason.find("missing"), std::string::npos)
        << store->lost()[i].reason;
  }
  expect_serves(*store, without(metas));
}

// (c) A corrupt index, anywhere in it, or a missing one: rebuilt from the chunk file, nothing lost.
TEST_F(Corruption, CorruptIndexIsRebuiltFromTheChunkFile) {
  const auto index_size =
      std::filesystem::file_size(chunk_index_path(pristine().store_dir() / "chunks", 2));
  for (std::uint64_t at : {std::uint64_t{0}, std::uint64_t{5}, index_size / 2, index_size - 1}) {
    SCOPED_TRACE("flip at byte " + std::to_string(at));
    auto c = copy_of_pristine();
    flip_bit(chunk_index_path(c->chunks(), 2), at, 3);
    ASSERT_FALSE(read_chunk_index(c->chunks(), 2).ok());
    auto store = open_store(c->path(), options());
    ASSERT_TRUE(store);
    EXPECT_TRUE(store->lost().empty()) << store->lost().front().reason;
    expect_serves(*store, pristine().ref);
    EXPECT_EQ(store->stats().points, [] {
      std::uint64_t n = 0;
      for (const auto& r : pristine().ref) n += r.size();
      return n;
    }());
  }
  auto c = copy_of_pristine();
  std::filesystem::remove(chunk_index_path(c->chunks(), 3));
  auto store = open_store(c->path(), options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->lost().empty());
  expect_serves(*store, pristine().ref);
}

// The rebuilt index gives the same precedence: a point rewritten in a later file still wins.
TEST_F(Corruption, RebuiltIndexKeepsLastWriteWins) {
  auto c = copy_of_pristine();
  auto ref = pristine().ref;
  const Timestamp ts = ref[0].begin()->first;
  {
    auto store = open_store(c->path(), options());
    ASSERT_TRUE(store->append(0, std::vector<Sample>{{ts, 12345.0}}).ok());
    ASSERT_TRUE(store->checkpoint().ok());
    ref[0][ts] = 12345.0;
  }
  for (std::uint32_t file = 1; file <= kRounds + 1; ++file)
    std::filesystem::remove(chunk_index_path(c->chunks(), file));
  auto store = open_store(c->path(), options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->lost().empty());
  expect_serves(*store, ref);
}

// A corrupt index and a damaged chunk together: the rebuild reports the damage; the chunks before
// it are served, the damaged one is not, and whatever else is served is right. (The scan may stop
// at the damage or skip the bad chunk by its framing; either is acceptable.)
TEST_F(Corruption, CorruptIndexAndChunkTogetherAreReported) {
  auto c = copy_of_pristine();
  const auto metas = index_of(c->chunks(), 2);
  const ChunkMeta& victim = metas[4];
  flip_bit(chunk_file_path(c->chunks(), 2), victim.offset + 3, 1);
  std::filesystem::remove(chunk_index_path(c->chunks(), 2));
  auto store = open_store(c->path(), options());
  ASSERT_TRUE(store);
  // The rebuild steps over the damaged chunk by its frame and names its series and byte offset.
  ASSERT_EQ(store->lost().size(), 1u);
  EXPECT_NE(store->lost()[0].reason.find("the chunk at byte " + std::to_string(victim.offset - 8)),
            std::string::npos)
      << store->lost()[0].reason;
  ASSERT_TRUE(store->lost()[0].series.has_value());
  EXPECT_EQ(*store->lost()[0].series, victim.series);
  // Everything but the damaged chunk is served.
  expect_serves(*store, without({victim}));
}

// (d) A corrupt MANIFEST: the store opens, reports it, rebuilds the list of chunk files from the
// directory and serves everything; the next checkpoint writes a good MANIFEST again.
TEST_F(Corruption, CorruptManifestIsReportedAndRebuilt) {
  const auto size = std::filesystem::file_size(pristine().store_dir() / "MANIFEST");
  for (std::uint64_t at : {std::uint64_t{1}, size / 2, size - 2}) {
    SCOPED_TRACE("flip at byte " + std::to_string(at));
    auto c = copy_of_pristine();
    flip_bit(c->path() / "MANIFEST", at, 6);
    {
      auto store = open_store(c->path(), options());
      ASSERT_TRUE(store);
      ASSERT_EQ(store->lost().size(), 1u);
      EXPECT_FALSE(store->lost()[0].series.has_value());
      EXPECT_NE(store->lost()[0].reason.find("MANIFEST"), std::string::npos)
          << store->lost()[0].reason;
      expect_serves(*store, pristine().ref);
      // New data goes to a new file, not over an old one.
      ASSERT_TRUE(store->append(0, std::vector<Sample>{{kT0 + 100000 * kS, 1.5}}).ok());
      ASSERT_TRUE(store->checkpoint().ok());
    }
    auto store = open_store(c->path(), options());
    EXPECT_TRUE(store->lost().empty());
    auto ref = pristine().ref;
    ref[0][kT0 + 100000 * kS] = 1.5;
    expect_serves(*store, ref);
  }
}

// A corrupt record in the middle of series.log: the store refuses to open rather than cut the
// registrations after it (whose ids new series would then take over, with the old series'
// chunks), and leaves every file as it was.
TEST_F(Corruption, CorruptSeriesRegistryIsRefusedNotCut) {
  auto c = copy_of_pristine();
  const auto log = c->path() / "series.log";
  flip_bit(log, 12, 0);  // inside the first registration
  const auto before = file_bytes(log);
  auto store = Store::open(c->path(), options());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("series.log"), std::string::npos) << store.error().message;
  EXPECT_EQ(file_bytes(log), before);
  // Restored, everything is there.
  flip_bit(log, 12, 0);
  auto restored = open_store(c->path(), options());
  ASSERT_TRUE(restored);
  EXPECT_TRUE(restored->lost().empty());
  expect_serves(*restored, pristine().ref);
}

// The WAL's record boundaries, read from the framing (u32 length, u32 CRC, payload).
std::vector<std::uint64_t> record_offsets(const std::vector<std::uint8_t>& seg) {
  std::vector<std::uint64_t> out;
  std::uint64_t pos = 0;
  while (pos + 8 <= seg.size()) {
    out.push_back(pos);
    std::uint32_t len;
    std::memcpy(&len, seg.data() + pos, 4);
    pos += 8 + len;
  }
  EXPECT_EQ(pos, seg.size());
  out.push_back(seg.size());
  return out;
}

std::vector<std::map<Timestamp, double>> without_wal_batches(std::size_t from, std::size_t to) {
  auto ref = pristine().ref;
  for (std::size_t b = from; b < to; ++b)
    for (const Sample& x : pristine().wal_batches[b]) ref[pristine().wal_series[b]].erase(x.ts);
  return ref;
}

// (e) A corrupt WAL record in the middle: lost() reports it (where and from when), the records
// before and after it are served.
TEST_F(Corruption, CorruptWalRecordInTheMiddleIsReported) {
  const Pristine& p = pristine();
  for (std::size_t victim : {std::size_t{1}, std::size_t{kWalBatches / 2}}) {
    SCOPED_TRACE("record " + std::to_string(victim));
    auto c = copy_of_pristine();
    const auto seg = c->wal_segment();
    const auto offsets = record_offsets(file_bytes(seg));
    ASSERT_EQ(offsets.size(), static_cast<std::size_t>(kWalBatches + 1));
    flip_bit(seg, offsets[victim] + 8 + 5, 2);  // inside the payload
    auto store = open_store(c->path(), options());
    ASSERT_TRUE(store);
    ASSERT_EQ(store->lost().size(), 1u);
    const LostRange& l = store->lost()[0];
    EXPECT_FALSE(l.series.has_value()) << "a corrupt record does not say whose points it held";
    EXPECT_EQ(l.from, p.wal_batches[victim - 1].back().ts) << "lost from the last good record on";
    EXPECT_EQ(l.to, kMaxTimestamp);
    EXPECT_NE(l.reason.find(seg.filename().string()), std::string::npos) << l.reason;
    EXPECT_NE(l.reason.find(std::to_string(offsets[victim])), std::string::npos) << l.reason;
    expect_serves(*store, without_wal_batches(victim, victim + 1));
  }
}

// (f) A torn WAL tail (the last record cut short): no loss is reported, earlier points are served.
TEST_F(Corruption, TornWalTailIsNotALoss) {
  auto c = copy_of_pristine();
  const auto seg = c->wal_segment();
  const auto offsets = record_offsets(file_bytes(seg));
  const std::uint64_t last = offsets[offsets.size() - 2];
  testing::cut_file(seg, last + (offsets.back() - last) / 2);
  {
    auto store = open_store(c->path(), options());
    ASSERT_TRUE(store);
    EXPECT_TRUE(store->lost().empty()) << store->lost().front().reason;
    expect_serves(*store, without_wal_batches(kWalBatches - 1, kWalBatches));
  }
  // Reopened again: still clean, still the same.
  auto store = open_store(c->path(), options());
  EXPECT_TRUE(store->lost().empty());
  expect_serves(*store, without_wal_batches(kWalBatches - 1, kWalBatches));
}

}  // namespace
}  // namespace strata::store

// Tests of store/series_registry: resolve is idempotent and hands out dense ids, tag order and
// duplicate tag keys do not make new series, keys do not collide however their strings are
// split, registrations survive a reopen, a torn last record is cut, and with() finds series by
// device, metric and tag.
#include "store/series_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "scratch_dir.hpp"
#include "store/file_io.hpp"

namespace strata::store {
namespace {

using testing::ScratchDir;

SeriesKey key(std::string device, std::string metric,
              std::vector<std::pair<std::string, std::string>> tags = {}) {
  return SeriesKey{std::move(device), std::move(metric), std::move(tags)};
}

std::unique_ptr<SeriesRegistry> open_registry(const std::filesystem::path& file) {
  auto r = SeriesRegistry::open(file);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r ? std::move(*r) : nullptr;
}

SeriesId resolve(SeriesRegistry& r, const SeriesKey& k) {
  auto id = r.resolve(k);
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
  return id ? *id : ~SeriesId{0};
}

TEST(SeriesRegistry, ResolveIsIdempotentAndIdsAreDense) {
  ScratchDir dir;
  auto r = open_registry(dir.path() / "series.log");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 0u);
  std::vector<SeriesKey> keys;
  for (int d = 0; d < 10; ++d)
    for (const char* m : {"temp", "pressure", "flow"})
      keys.push_back(key("pump-" + std::to_string(d), m, {{"site", d % 2 ? "A" : "B"}}));
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(resolve(*r, keys[i]), i);
  EXPECT_EQ(r->size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(resolve(*r, keys[i]), i) << "resolving again must not register again";
    EXPECT_EQ(r->find(keys[i]), i);
    auto back = r->key(static_cast<SeriesId>(i));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, keys[i]);
  }
  EXPECT_EQ(r->size(), keys.size());
  EXPECT_EQ(r->find(key("pump-99", "temp")), std::nullopt);
  EXPECT_EQ(r->key(static_cast<SeriesId>(keys.size())), std::nullopt);
  EXPECT_EQ(r->keys(), keys);
}

TEST(SeriesRegistry, TagOrderAndDuplicateTagKeysAreNormalised) {
  ScratchDir dir;
  auto r = open_registry(dir.path() / "series.log");
  const SeriesId a = resolve(*r, key("d", "m", {{"site", "A"}, {"line", "2"}, {"zone", "x"}}));
  EXPECT_EQ(resolve(*r, key("d", "m", {{"zone", "x"}, {"site", "A"}, {"line", "2"}})), a);
  EXPECT_EQ(resolve(*r, key("d", "m", {{"line", "2"}, {"zone", "x"}, {"site", "A"}})), a);
  EXPECT_EQ(r->find(key("d", "m", {{"zone", "x"}, {"line", "2"}, {"site", "A"}})), a);
  // A later duplicate key replaces an earlier one.
  EXPECT_EQ(
      resolve(*r, key("d", "m", {{"site", "B"}, {"line", "2"}, {"zone", "x"}, {"site", "A"}})), a);
  // The stored key is the normalised one: sorted by tag key.
  const auto k = r->key(a);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->tags, (std::vector<std::pair<std::string, std::string>>{
                         {"line", "2"}, {"site", "A"}, {"zone", "x"}}));
  // Different values, a missing tag or an extra one make different series.
  EXPECT_NE(resolve(*r, key("d", "m", {{"site", "B"}, {"line", "2"}, {"zone", "x"}})), a);
  EXPECT_NE(resolve(*r, key("d", "m", {{"site", "A"}, {"line", "2"}})), a);
  EXPECT_NE(resolve(*r, key("d", "m", {{"site", "A"}, {"line", "2"}, {"zone", "x"}, {"x", ""}})),
            a);
  EXPECT_EQ(r->size(), 4u);
}

// However the same characters are split between device, metric, tag keys and values, the keys
// are different series.
TEST(SeriesRegistry, KeysDoNotCollide) {
  ScratchDir dir;
  auto r = open_registry(dir.path() / "series.log");
  const std::vector<SeriesKey> keys = {
      key("ab", "c"),
      key("a", "bc"),
      key("a", "b", {{"c", ""}}),
      key("a", "b", {{"", "c"}}),
      key("a:b", "c"),
      key("a", "1:bc"),
      key("", ""),
      key("", "", {{"", ""}}),
      key("a", "b", {{"c", "d"}, {"e", "f"}}),
      key("a", "b", {{"c", "de"}, {"f", ""}}),
      key("a/b", "c"),
      key("a", "b/c"),
      key("device with spaces", "metric,with=odd{chars}", {{"k=v", "x,y"}}),
      key("ünïcødé", "温度"),
  };
  for (std::size_t i = 0; i < keys.size(); ++i)
    EXPECT_EQ(resolve(*r, keys[i]), i) << keys[i].to_string();
  for (std::size_t i = 0; i < keys.size(); ++i)
    EXPECT_EQ(r->find(keys[i]), i) << keys[i].to_string();
}

TEST(SeriesRegistry, PersistsAcrossReopen) {
  ScratchDir dir;
  const auto file = dir.path() / "series.log";
  std::vector<SeriesKey> keys;
  {
    auto r = open_registry(file);
    for (int i = 0; i < 50; ++i)
      keys.push_back(
          key("dev" + std::to_string(i % 7), "m" + std::to_string(i), {{"i", std::to_string(i)}}));
    for (const auto& k : keys) resolve(*r, k);
    ASSERT_TRUE(r->sync().ok());
  }
  {
    auto r = open_registry(file);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size(), keys.size());
    EXPECT_EQ(r->keys(), keys);
    for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(r->find(keys[i]), i);
    EXPECT_EQ(r->with("device", "dev3"), (std::vector<SeriesId>{3, 10, 17, 24, 31, 38, 45}));
    EXPECT_EQ(r->with("i", "42"), (std::vector<SeriesId>{42}));
    // New registrations continue the sequence, and old keys keep their ids.
    EXPECT_EQ(resolve(*r, key("new", "m")), keys.size());
    EXPECT_EQ(resolve(*r, keys[5]), 5u);
    keys.push_back(key("new", "m"));
  }
  // Without an explicit sync too: a written registration survives the process.
  auto r = open_registry(file);
  EXPECT_EQ(r->keys(), keys);
}

// A crash while a registration is written: the torn record is cut at every byte offset of its
// length, the earlier registrations are kept, and the next registration takes the lost id.
TEST(SeriesRegistry, TornTailIsCut) {
  ScratchDir src;
  const auto file = src.path() / "series.log";
  std::uint64_t last_start = 0;
  {
    auto r = open_registry(file);
    for (int i = 0; i < 5; ++i) resolve(*r, key("d" + std::to_string(i), "m", {{"k", "v"}}));
    last_start = std::filesystem::file_size(file);
    resolve(*r, key("torn", "metric", {{"site", "A"}}));
  }
  const auto pristine = testing::file_bytes(file);
  for (std::uint64_t cut = last_start + 1; cut < pristine.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    ScratchDir dir;
    const auto path = dir.path() / "series.log";
    testing::write_bytes(path, std::vector<std::uint8_t>(
                                   pristine.begin(), pristine.begin() + static_cast<long>(cut)));
    {
      auto r = open_registry(path);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->size(), 5u);
      EXPECT_EQ(std::filesystem::file_size(path), last_start) << "the torn record must be cut";
      EXPECT_EQ(r->find(key("torn", "metric", {{"site", "A"}})), std::nullopt);
      EXPECT_EQ(resolve(*r, key("other", "metric")), 5u);
    }
    auto r = open_registry(path);
    EXPECT_EQ(r->size(), 6u);
    EXPECT_EQ(r->find(key("other", "metric")), 5u);
    EXPECT_EQ(r->find(key("d4", "m", {{"k", "v"}})), 4u);
  }
}

// Damage in the middle (records that check follow it) is not a torn write: cutting there would
// drop the later registrations and hand their ids to new series. Open refuses, leaving the file.
TEST(SeriesRegistry, CorruptionInTheMiddleIsRefusedNotCut) {
  ScratchDir dir;
  const auto file = dir.path() / "series.log";
  std::vector<std::uint64_t> starts;
  {
    auto r = open_registry(file);
    for (int i = 0; i < 5; ++i) {
      starts.push_back(std::filesystem::file_size(file));
      resolve(*r, key("d" + std::to_string(i), "m", {{"k", "v"}}));
    }
  }
  const auto pristine = testing::file_bytes(file);
  for (int victim = 0; victim < 4; ++victim) {
    SCOPED_TRACE("record " + std::to_string(victim));
    for (std::uint64_t at : {starts[static_cast<std::size_t>(victim)] + 2,
                             starts[static_cast<std::size_t>(victim)] + 9}) {
      auto bytes = pristine;
      bytes[at] ^= 0x04;
      testing::write_bytes(file, bytes);
      auto r = SeriesRegistry::open(file);
      ASSERT_FALSE(r.ok()) << "flip at byte " << at;
      EXPECT_TRUE(r.error().is(io_errc::corrupt));
      EXPECT_NE(r.error().message.find(file.string()), std::string::npos) << r.error().message;
      EXPECT_NE(r.error().message.find("byte " +
                                       std::to_string(starts[static_cast<std::size_t>(victim)])),
                std::string::npos)
          << r.error().message;
      EXPECT_EQ(testing::file_bytes(file), bytes) << "the file must be left as it is";
    }
  }
  // Damage in the last record cannot be told from a torn write: it is cut.
  auto bytes = pristine;
  bytes[starts[4] + 9] ^= 0x04;
  testing::write_bytes(file, bytes);
  auto r = open_registry(file);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 4u);
  EXPECT_EQ(std::filesystem::file_size(file), starts[4]);
}

TEST(SeriesRegistry, WithFindsPostings) {
  ScratchDir dir;
  auto r = open_registry(dir.path() / "series.log");
  const SeriesId p7t = resolve(*r, key("pump-7", "temp", {{"site", "A"}, {"line", "1"}}));
  const SeriesId p7p = resolve(*r, key("pump-7", "pressure", {{"site", "A"}}));
  const SeriesId p8t = resolve(*r, key("pump-8", "temp", {{"site", "B"}}));
  const SeriesId v1 = resolve(*r, key("valve-1", "position"));
  EXPECT_EQ(r->with("device", "pump-7"), (std::vector<SeriesId>{p7t, p7p}));
  EXPECT_EQ(r->with("metric", "temp"), (std::vector<SeriesId>{p7t, p8t}));
  EXPECT_EQ(r->with("site", "A"), (std::vector<SeriesId>{p7t, p7p}));
  EXPECT_EQ(r->with("site", "B"), (std::vector<SeriesId>{p8t}));
  EXPECT_EQ(r->with("line", "1"), (std::vector<SeriesId>{p7t}));
  EXPECT_EQ(r->with("device", "valve-1"), (std::vector<SeriesId>{v1}));
  EXPECT_TRUE(r->with("site", "C").empty());
  EXPECT_TRUE(r->with("nosuchtag", "A").empty());
  EXPECT_TRUE(r->with("device", "temp").empty()) << "fields are not interchangeable";
  // Resolving an existing key adds no duplicate posting.
  resolve(*r, key("pump-7", "temp", {{"line", "1"}, {"site", "A"}}));
  EXPECT_EQ(r->with("device", "pump-7"), (std::vector<SeriesId>{p7t, p7p}));
}

// Concurrent resolves of overlapping keys: every key gets exactly one id, ids stay dense.
TEST(SeriesRegistry, ConcurrentResolvesAgree) {
  ScratchDir dir;
  auto r = open_registry(dir.path() / "series.log");
  constexpr int kThreads = 4, kKeys = 200;
  std::vector<std::vector<SeriesId>> got(kThreads, std::vector<SeriesId>(kKeys));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<int> order(kKeys);
      for (int i = 0; i < kKeys; ++i) order[static_cast<std::size_t>(i)] = i;
      std::shuffle(order.begin(), order.end(), rng);
      for (int i : order) {
        auto id = r->resolve(key("d" + std::to_string(i % 13), "m" + std::to_string(i)));
        got[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)] = id ? *id : ~SeriesId{0};
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(r->size(), static_cast<std::size_t>(kKeys));
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(got[static_cast<std::size_t>(t)], got[0]);
  std::vector<SeriesId> ids = got[0];
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < kKeys; ++i)
    EXPECT_EQ(ids[static_cast<std::size_t>(i)], static_cast<SeriesId>(i));
  r.reset();
  auto again = open_registry(dir.path() / "series.log");
  EXPECT_EQ(again->size(), static_cast<std::size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i)
    EXPECT_EQ(again->find(key("d" + std::to_string(i % 13), "m" + std::to_string(i))),
              got[0][static_cast<std::size_t>(i)]);
}

}  // namespace
}  // namespace strata::store

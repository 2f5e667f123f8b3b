#include "detect/checkpoint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

namespace strata::detect {
namespace {

std::vector<CheckpointRecord> sample_records() {
  CheckpointRecord a;
  a.kind = CheckpointRecord::Kind::series;
  a.series = 7;
  a.spec = "ensemble:rest=0";
  a.version = "ensemble@0123abcd";
  a.last_ts = 1'700'000'000'000'000;
  a.seen = 1234;
  a.in_excursion = true;
  a.calm = 2;
  a.frame = {1, 2, 3, 4, 5};
  CheckpointRecord b;
  b.kind = CheckpointRecord::Kind::machine;
  b.device = "cmp-1";
  b.spec = "mahalanobis";
  b.version = "mahalanobis@89abcdef";
  b.last_ts = kMinTimestamp;
  b.signals = {{"temperature", 3, true, 100, 71.5},
               {"current", kNoSeries, false, kMinTimestamp, 0}};
  b.frame = std::vector<std::uint8_t>(300, 9);
  return {a, b};
}

std::vector<std::uint8_t> file_of(const std::vector<CheckpointRecord>& rs) {
  std::vector<std::uint8_t> records;
  for (const auto& r : rs) append_record(records, r);
  return checkpoint_bytes(42, records);
}

TEST(DetectorCheckpoint, RecordsRoundTrip) {
  const auto rs = sample_records();
  const auto bytes = file_of(rs);
  EXPECT_EQ(std::memcmp(bytes.data(), "SDCK\x01", 5), 0);
  auto c = read_checkpoint(bytes);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->written, 42);
  EXPECT_EQ(c->records, rs);
  EXPECT_EQ(c->damaged, 0u);
  EXPECT_FALSE(c->torn);
}

TEST(DetectorCheckpoint, ATornTailEndsTheReadingAndADamagedRecordIsSkipped) {
  const auto rs = sample_records();
  auto bytes = file_of(rs);
  auto torn = bytes;
  torn.resize(torn.size() - 10);
  auto c = read_checkpoint(torn);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->torn);
  ASSERT_EQ(c->records.size(), 1u);
  EXPECT_EQ(c->records[0], rs[0]);
  // A flipped byte in the first record's payload: skipped, the second still read.
  auto flipped = bytes;
  flipped[16 + 8 + 3] ^= 0x40;
  c = read_checkpoint(flipped);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->damaged, 1u);
  ASSERT_EQ(c->records.size(), 1u);
  EXPECT_EQ(c->records[0], rs[1]);
  // Not a checkpoint at all, or another version: refused whole.
  EXPECT_FALSE(read_checkpoint(std::vector<std::uint8_t>{'S', 'D'}));
  auto v2 = bytes;
  v2[4] = 2;
  auto refused = read_checkpoint(v2);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("format version 2"), std::string::npos);
}

TEST(DetectorCheckpoint, FilesAreReplacedWhole) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("detect-ckpt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto file = dir / "detectors.ckpt";
  auto none = load_checkpoint_file(file);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->records.empty());
  ASSERT_TRUE(write_checkpoint_file(file, file_of(sample_records())));
  ASSERT_TRUE(write_checkpoint_file(file, file_of({sample_records()[1]})));
  EXPECT_FALSE(std::filesystem::exists(dir / "detectors.ckpt.tmp"));
  auto c = load_checkpoint_file(file);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->records.size(), 1u);
  EXPECT_EQ(c->records[0].device, "cmp-1");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::detect

#include "pipeline/lineage.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace strata::pipeline {
namespace {

constexpr Timestamp kHour = 3600 * kMicrosPerSecond;

class LineageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lineage-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static LineageEntry entry(std::string src, std::string msg, Timestamp received, Timestamp a,
                            Timestamp b) {
    return LineageEntry{Transport::coap, std::move(src), std::move(msg), received, a, b, 3};
  }
  std::filesystem::path dir_;
};

TEST_F(LineageTest, FindsMessagesByDeviceAndOverlapAcrossHourSegments) {
  const Timestamp t0 = 1'750'000'000LL * kMicrosPerSecond;
  {
    auto log = LineageLog::open(dir_);
    ASSERT_TRUE(log);
    (*log)->add(entry("pump-1", "a", t0, t0 - 10, t0 - 5));
    (*log)->add(entry("pump-2", "b", t0, t0 - 10, t0 - 5));
    (*log)->add(entry("pump-1", "c", t0 + 2 * kHour, t0 + 2 * kHour - 9, t0 + 2 * kHour));
  }
  std::size_t segments = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_))
    segments += f.path().extension() == ".lin";
  EXPECT_EQ(segments, 2u);
  auto log = LineageLog::open(dir_);
  ASSERT_TRUE(log);
  auto a = (*log)->query("pump-1", t0 - 7, t0 - 6);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->entries.size(), 1u);
  EXPECT_EQ(a->entries[0].message_id, "a");
  EXPECT_EQ(a->entries[0].transport, Transport::coap);
  EXPECT_EQ(a->entries[0].points, 3u);
  a = (*log)->query("pump-1", t0 - kHour, t0 + 3 * kHour);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->entries.size(), 2u);
  a = (*log)->query("pump-1", t0 - kHour, t0 + 3 * kHour, 1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->entries.size(), 1u);
  EXPECT_TRUE(a->truncated);
}

TEST_F(LineageTest, ACorruptRecordIsReportedNotFatal) {
  const Timestamp t0 = 1'750'000'000LL * kMicrosPerSecond;
  {
    auto log = LineageLog::open(dir_);
    ASSERT_TRUE(log);
    (*log)->add(entry("pump-1", "a", t0, t0, t0));
    (*log)->add(entry("pump-1", "b", t0, t0, t0));
  }
  std::filesystem::path seg;
  for (const auto& f : std::filesystem::directory_iterator(dir_)) seg = f.path();
  const auto size = std::filesystem::file_size(seg);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 6));
    f.put('X');  // inside the second record's message id
  }
  auto log = LineageLog::open(dir_);
  ASSERT_TRUE(log);
  auto a = (*log)->query("pump-1", t0, t0);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->entries.size(), 1u);
  ASSERT_EQ(a->notes.size(), 1u);
  EXPECT_NE(a->notes[0].find("corrupt record"), std::string::npos);
}

TEST_F(LineageTest, OldSegmentsAreDropped) {
  const Timestamp t0 = 1'750'000'000LL * kMicrosPerSecond;
  auto log = LineageLog::open(dir_, 24 * kHour);
  ASSERT_TRUE(log);
  (*log)->add(entry("pump-1", "old", t0, t0, t0));
  (*log)->flush();
  (*log)->add(entry("pump-1", "new", t0 + 48 * kHour, t0 + 48 * kHour, t0 + 48 * kHour));
  (*log)->flush();
  auto a = (*log)->query("pump-1", t0 - kHour, t0 + 49 * kHour);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->entries.size(), 1u);
  EXPECT_EQ(a->entries[0].message_id, "new");
}

}  // namespace
}  // namespace strata::pipeline

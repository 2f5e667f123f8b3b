// Acknowledged means durable: a child process appends and reports each acknowledged batch
// through a pipe; the parent SIGKILLs it mid-stream (checkpoints included, and compaction steps
// merging short chunks in a thread of their own), reopens the store and checks that every
// acknowledged point is back, bit for bit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "store/query.hpp"
#include "store/store.hpp"

using namespace strata;
using namespace strata::store;

namespace {

constexpr int kSeries = 16;
constexpr int kBatch = 50;

// Batch b of series s: deterministic, so the parent can recompute what was acknowledged.
std::vector<Sample> batch_samples(int series, std::uint32_t batch) {
  std::vector<Sample> out;
  for (int i = 0; i < kBatch; ++i) {
    const Timestamp ts = (static_cast<Timestamp>(batch) * kBatch + i) * 1'000'000;
    out.push_back(
        {ts, std::round((series * 10 + std::sin(static_cast<double>(ts) / 7e7)) * 1000) / 1000});
  }
  return out;
}

StoreOptions options(FsyncPolicy policy, bool compaction) {
  StoreOptions o;
  o.fsync = policy;
  o.fsync_interval_us = 100'000;
  o.chunk_max_points = 256;
  o.checkpoint_wal_bytes = 64 << 10;  // checkpoints happen all the time, so kills hit them too
  // With compaction: the sweep seals every batch's points (50 a series), chunks of 256 come only
  // from compaction.
  if (compaction) o.head_points_budget = 400;
  return o;
}

// Appends batches from `first` on (earlier ones are durable; rewriting a partly written batch is
// idempotent) and writes each acknowledged batch number to ack_fd; with `compaction`, a thread
// runs compaction steps all the while.
[[noreturn]] void writer(const std::filesystem::path& dir, FsyncPolicy policy, bool compaction,
                         int ack_fd, std::uint32_t first) {
  auto st = Store::open(dir, options(policy, compaction));
  if (!st) _exit(3);
  if (compaction) {
    std::thread([store = st->get()] {
      for (;;) {
        auto step = store->compact_step(2048);
        if (!step) {
          std::fprintf(stderr, "compaction: %s\n", step.error().message.c_str());
          _exit(6);
        }
        if (step->caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }).detach();
  }
  std::vector<SeriesId> ids;
  for (int s = 0; s < kSeries; ++s)
    ids.push_back(*(*st)->resolve(SeriesKey{"dev" + std::to_string(s), "temp", {}}));
  for (std::uint32_t b = first;; ++b) {
    if (b % 2 == 0) {  // one series at a time
      for (int s = 0; s < kSeries; ++s) {
        auto r = (*st)->append(ids[static_cast<std::size_t>(s)], batch_samples(s, b));
        if (!r || r->accepted != kBatch) {
          std::fprintf(stderr, "append: %s\n",
                       !r                   ? r.error().message.c_str()
                       : r->refused.empty() ? "?"
                                            : r->refused[0].reason.c_str());
          _exit(4);
        }
      }
    } else {  // every series in one mixed batch, time-major as devices send
      std::vector<Point> points;
      for (int i = 0; i < kBatch; ++i)
        for (int s = 0; s < kSeries; ++s) {
          const Sample x = batch_samples(s, b)[static_cast<std::size_t>(i)];
          points.push_back(Point{ids[static_cast<std::size_t>(s)], x.ts, x.value});
        }
      auto r = (*st)->append(points);
      if (!r || r->accepted != points.size()) {
        std::fprintf(stderr, "append: %s\n",
                     !r                   ? r.error().message.c_str()
                     : r->refused.empty() ? "?"
                                          : r->refused[0].reason.c_str());
        _exit(4);
      }
    }
    // Every series' batch b is acknowledged: tell the parent.
    if (::write(ack_fd, &b, sizeof b) != sizeof b) _exit(5);
  }
}

// Kills the writer four times at random points and checks every acknowledged point after each.
void crash_rounds(FsyncPolicy policy, bool compaction) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("strata-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::mt19937 rng(7);
  std::uint32_t acked_total = 0;
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      writer(dir, policy, compaction, fds[1], acked_total);
    }
    ::close(fds[1]);
    // Let it acknowledge a random number of batches (it resumes after the previous rounds' acks).
    const std::uint32_t wait_for = 20 + rng() % 60;
    std::uint32_t last = 0, seen = 0;
    while (seen < wait_for && ::read(fds[0], &last, sizeof last) == sizeof last) ++seen;
    if (seen != wait_for) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      FAIL() << "the writer stopped early, exit code "
             << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
             << " (3 open failed, 4 an append failed, 5 the pipe broke, 6 compaction failed)";
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    while (::read(fds[0], &last, sizeof last) == sizeof last) ++seen;  // acks sent before it died
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));
    acked_total = last + 1;  // batches 0..last of every series were acknowledged

    auto st = Store::open(dir, options(policy, compaction));
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_TRUE((*st)->lost().empty());
    for (int s = 0; s < kSeries; ++s) {
      auto id = (*st)->find(SeriesKey{"dev" + std::to_string(s), "temp", {}});
      ASSERT_TRUE(id);
      RangeCursor cursor((*st)->snapshot(*id), kMinTimestamp, kMaxTimestamp);
      std::vector<Sample> got, batch;
      while (cursor.next(batch)) got.insert(got.end(), batch.begin(), batch.end());
      ASSERT_GE(got.size(), static_cast<std::size_t>(acked_total) * kBatch)
          << "series " << s << ", round " << round;
      for (std::uint32_t b = 0; b < acked_total; ++b) {
        const auto want = batch_samples(s, b);
        for (int i = 0; i < kBatch; ++i) {
          const Sample& g = got[static_cast<std::size_t>(b) * kBatch + static_cast<std::size_t>(i)];
          ASSERT_EQ(g.ts, want[static_cast<std::size_t>(i)].ts);
          ASSERT_EQ(std::bit_cast<std::uint64_t>(g.value),
                    std::bit_cast<std::uint64_t>(want[static_cast<std::size_t>(i)].value));
        }
      }
    }
  }
  EXPECT_GT(acked_total, 0u);
  if (compaction) {
    auto st = Store::open(dir, options(policy, compaction));
    ASSERT_TRUE(st) << st.error().message;
    std::uint64_t full = 0;
    for (SeriesId id = 0; id < kSeries; ++id)
      for (const auto& c : *(*st)->snapshot(id).chunks) full += c.count == 256 ? 1 : 0;
    EXPECT_GT(full, 0u) << "compaction merged short chunks into full ones";
  }
  std::filesystem::remove_all(dir);
}

class CrashRecovery : public ::testing::TestWithParam<FsyncPolicy> {};

TEST_P(CrashRecovery, EveryAcknowledgedPointSurvivesSigkill) { crash_rounds(GetParam(), false); }

TEST_P(CrashRecovery, EveryAcknowledgedPointSurvivesSigkillDuringCompaction) {
  crash_rounds(GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(Policies, CrashRecovery,
                         ::testing::Values(FsyncPolicy::every_batch, FsyncPolicy::interval));

}  // namespace

#include "meta/batch_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace strata::meta {
namespace {

// A writer that holds the background thread inside write() until released, so a test can fill
// the queue deterministically.
struct GatedLog {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool entered = false;
  std::vector<int> written;
  std::vector<std::size_t> batches;
  void write(std::vector<int>& b) {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
    written.insert(written.end(), b.begin(), b.end());
    batches.push_back(b.size());
  }
  void wait_entered() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(BatchWriter, WritesInOrderInBatchesAndDrainsAtDestruction) {
  GatedLog log;
  {
    BatchWriter<int> w(100, 4, [&](std::vector<int>& b) { log.write(b); });
    int first = 0;
    ASSERT_TRUE(w.try_add(first));
    log.wait_entered();  // the writer holds {0}; what follows waits in the queue
    for (int i = 1; i <= 9; ++i) ASSERT_TRUE(w.try_add(i));
    EXPECT_EQ(w.queued(), 9u);
    log.release();
    w.flush();
    EXPECT_EQ(log.written.size(), 10u);
    for (int i = 10; i < 20; ++i) w.add(i);
  }  // destruction writes what still waits
  ASSERT_EQ(log.written.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(log.written[static_cast<std::size_t>(i)], i);
  for (auto n : log.batches) EXPECT_LE(n, 4u);
}

TEST(BatchWriter, TryAddRefusesWhenFullAndAddWaitsForRoom) {
  GatedLog log;
  BatchWriter<int> w(3, 8, [&](std::vector<int>& b) { log.write(b); });
  int v = 0;
  ASSERT_TRUE(w.try_add(v));
  log.wait_entered();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(w.try_add(i));
  int refused = 4;
  EXPECT_FALSE(w.try_add(refused));
  EXPECT_EQ(refused, 4);  // untouched
  std::atomic<bool> done{false};
  auto waiting = std::async(std::launch::async, [&] {
    const bool waited = w.add(5);
    done = true;
    return waited;
  });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_FALSE(done.load());
  log.release();
  EXPECT_TRUE(waiting.get());
  w.flush();
  EXPECT_EQ(log.written, (std::vector<int>{0, 1, 2, 3, 5}));
}

}  // namespace
}  // namespace strata::meta

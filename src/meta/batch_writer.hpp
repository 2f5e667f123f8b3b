#pragma once
// BatchWriter: how a log in SQLite (the quarantine, the anomaly events) is written without making
// its producers wait on a transaction. Producers queue items; one background thread takes what
// waits, up to `max_batch` at a time, and hands the batch to `write` (which runs one transaction
// through meta::Database). The queue is bounded: `try_add` refuses an item when `bound` wait (the
// caller counts it, as the quarantine does in a flood), `add` waits for room (the caller is slowed
// down, as the detection workers are when events pile up). Nothing queued is lost at destruction:
// the destructor writes what waits, then joins the thread.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace strata::meta {

template <class T>
class BatchWriter {
 public:
  // Called on the writer thread with a non-empty batch, in the order the items were queued.
  using Write = std::function<void(std::vector<T>& batch)>;

  BatchWriter(std::size_t bound, std::size_t max_batch, Write write)
      : bound_(bound == 0 ? 1 : bound),
        max_batch_(max_batch == 0 ? 1 : max_batch),
        write_(std::move(write)),
        thread_([this] { run(); }) {}
  ~BatchWriter() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Queues `item` unless `bound` items wait; false (the item untouched) then. Never blocks on I/O.
  bool try_add(T& item) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= bound_) return false;
      queue_.push_back(std::move(item));
      ++enqueued_;
    }
    cv_.notify_one();
    return true;
  }
  // Queues `item`, waiting while `bound` items wait; true when it had to wait.
  bool add(T item) {
    bool waited = false;
    {
      std::unique_lock lock(mu_);
      if (queue_.size() >= bound_) {
        waited = true;
        room_cv_.wait(lock, [&] { return queue_.size() < bound_; });
      }
      queue_.push_back(std::move(item));
      ++enqueued_;
    }
    cv_.notify_one();
    return waited;
  }
  // Returns once everything queued before the call has been written.
  void flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = enqueued_;
    written_cv_.wait(lock, [&] { return written_ >= target; });
  }
  [[nodiscard]] std::size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  void run() {
    std::vector<T> batch;
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is written
      batch.clear();
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      room_cv_.notify_all();
      lock.unlock();
      write_(batch);
      lock.lock();
      written_ += batch.size();
      written_cv_.notify_all();
    }
  }

  const std::size_t bound_;
  const std::size_t max_batch_;
  Write write_;
  mutable std::mutex mu_;
  std::condition_variable cv_, room_cv_, written_cv_;
  std::deque<T> queue_;
  std::uint64_t enqueued_ = 0, written_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started once every member above is initialised
};

}  // namespace strata::meta

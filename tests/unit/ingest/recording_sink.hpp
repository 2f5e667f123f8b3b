#pragma once
// A pipeline::TelemetrySink for transport tests: keeps what it is given, can refuse submits (to
// exercise back-pressure), completes messages with a chosen outcome, and lets a test wait for a
// condition instead of sleeping.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/telemetry.hpp"

namespace strata::ingest::testing {

class RecordingSink : public pipeline::TelemetrySink {
 public:
  struct Quarantined {
    pipeline::Transport transport;
    std::string device_id;
    std::string raw;
    std::string reason;
  };

  // How submitted messages are completed: at once (the default), or held until complete_held().
  bool hold_completions = false;
  // The outcome handed to completions (stored is set to the message's reading count unless
  // outcome_status is an error).
  Status outcome_status;

  bool submit(pipeline::TelemetryMessage& message, pipeline::Completion& done) override {
    pipeline::Completion completion;
    pipeline::IngestOutcome outcome;
    {
      std::lock_guard lock(mutex_);
      ++submit_calls_;
      if (refuse_next_ > 0) {
        --refuse_next_;
        changed_.notify_all();
        return false;
      }
      if (outcome_status.ok()) outcome.stored = message.readings.size();
      outcome.status = outcome_status;
      messages_.push_back(std::move(message));
      if (hold_completions) {
        held_.push_back({std::move(done), outcome});
      } else {
        completion = std::move(done);
      }
      changed_.notify_all();
    }
    if (completion) completion(outcome);
    return true;
  }
  bool submit(pipeline::PointBatch&, pipeline::Completion&) override { return false; }
  void quarantine(pipeline::Transport transport, std::string_view device_id, std::string_view raw,
                  std::string_view reason) override {
    std::lock_guard lock(mutex_);
    quarantined_.push_back(
        {transport, std::string(device_id), std::string(raw), std::string(reason)});
    changed_.notify_all();
  }

  void refuse_next(int n) {
    std::lock_guard lock(mutex_);
    refuse_next_ = n;
  }
  void complete_held() {
    std::vector<Held> held;
    {
      std::lock_guard lock(mutex_);
      held.swap(held_);
    }
    for (Held& h : held) h.done(h.outcome);
  }

  // Waits (up to `timeout` of real time) until pred() holds; pred runs under the sink's lock.
  bool wait_until(const std::function<bool()>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, pred);
  }
  bool wait_for_messages(std::size_t n,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return wait_until([&] { return messages_.size() >= n; }, timeout);
  }

  std::vector<pipeline::TelemetryMessage> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::vector<Quarantined> quarantined() {
    std::lock_guard lock(mutex_);
    return quarantined_;
  }
  int submit_calls() {
    std::lock_guard lock(mutex_);
    return submit_calls_;
  }
  // For predicates of wait_until (which run under the lock).
  [[nodiscard]] std::size_t message_count_locked() const { return messages_.size(); }
  [[nodiscard]] int submit_calls_locked() const { return submit_calls_; }
  [[nodiscard]] std::size_t quarantined_count_locked() const { return quarantined_.size(); }

 private:
  struct Held {
    pipeline::Completion done;
    pipeline::IngestOutcome outcome;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<pipeline::TelemetryMessage> messages_;
  std::vector<Quarantined> quarantined_;
  std::vector<Held> held_;
  int refuse_next_ = 0;
  int submit_calls_ = 0;
};

}  // namespace strata::ingest::testing

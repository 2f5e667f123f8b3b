#pragma once
// Clock: where product code gets the time, so tests can drive time instead of sleeping.
#include <atomic>
#include <chrono>

#include "core/types.hpp"

namespace strata {

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual Timestamp now() const = 0;  // wall time, µs since the epoch
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  [[nodiscard]] Timestamp now() const override {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  }
};

// A clock that moves only when a test moves it.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(Timestamp start = 0) : now_(start) {}
  [[nodiscard]] Timestamp now() const override { return now_.load(); }
  void advance(Timestamp us) { now_ += us; }
  void set(Timestamp us) { now_ = us; }

 private:
  std::atomic<Timestamp> now_;
};

}  // namespace strata

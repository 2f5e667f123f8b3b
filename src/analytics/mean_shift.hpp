#pragma once
// MeanShiftDetector: whether the recent mean has left the long-run level. The mean of the last
// `window` values is compared with a slow level (EWMA of weight `alpha`) learnt from the values
// that have left that window, so the recent points do not pull the level they are judged against;
// z = (recent mean − level) / spread, the spread being the EW mean absolute deviation of those
// older values from the level (×1.25 ≈ σ for Gaussian noise). Score = z²/(z² + z_half²).
// A shift of the level by a few spreads shows within the window and stays visible until the level
// follows (about 1/alpha points), where a point's deviation (RobustBaseline) fades as its fast
// level catches up and CUSUM needs the shift to accumulate.
// Cost: O(window) per point (a sum of at most 64 floats), 96 + 4·window bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class MeanShiftDetector {
 public:
  static constexpr std::string_view kName = "mean_shift";
  static constexpr DetectorKind kKind = DetectorKind::mean_shift;

  // Tuning of MeanShiftDetector.
  struct Config {
    double window = 24;   // recent values averaged, 2..64
    double alpha = 0.01;  // EW weight of the long-run level and spread, (0, 1]
    double clip = 4;      // older values clipped at this many spreads when learning, > 0
    double z_half = 4;    // shift of the recent mean (in spreads) that scores 0.5, > 0
    double warmup = 100;  // points scored 0 while the level forms, >= window
    template <class F>
    void each(F&& f) {
      f("window", window);
      f("alpha", alpha);
      f("clip", clip);
      f("z_half", z_half);
      f("warmup", warmup);
    }
  };

  [[nodiscard]] static Status validate(const Config& c, std::string_view owner = kName) {
    if (!(c.window >= 2 && c.window <= 64) || c.window != std::floor(c.window))
      return bad_param(owner, "window", c.window, "use a whole number of points in 2..64");
    if (!(c.alpha > 0 && c.alpha <= 1))
      return bad_param(owner, "alpha", c.alpha, "use a weight in (0, 1]");
    if (!(c.clip > 0 && c.clip < 1e6))
      return bad_param(owner, "clip", c.clip, "use a positive number of spreads");
    if (!(c.z_half > 0 && c.z_half < 1e6))
      return bad_param(owner, "z_half", c.z_half, "use a positive shift");
    if (!(c.warmup >= c.window && c.warmup <= 1e9))
      return bad_param(owner, "warmup", c.warmup, "use a point count >= window");
    return {};
  }

  [[nodiscard]] static Result<MeanShiftDetector> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    MeanShiftDetector d;
    d.config_ = c;
    d.ring_.assign(static_cast<std::size_t>(c.window), 0.0f);
    return d;
  }

  Assessment update(Timestamp, double x) {
    const std::size_t w = ring_.size();
    if (n_ >= w) learn(static_cast<double>(ring_[pos_]), n_ - w + 1);  // the value leaving
    ring_[pos_] = static_cast<float>(x);
    pos_ = pos_ + 1 == w ? 0 : pos_ + 1;
    ++n_;
    double sum = 0;
    for (const float v : ring_) sum += static_cast<double>(v);
    const double mean = sum / static_cast<double>(std::min<std::uint64_t>(n_, w));
    const double spread = std::max(spread_ * 1.2533, 1e-9 * (1.0 + std::abs(level_)));
    const double z = (mean - level_) / spread;
    // warmup >= window, so past the warm-up the level has learnt at least one value.
    return Assessment::plain(n_ > config_.warmup ? deviation_score(z, config_.z_half) : 0.0, level_,
                             config_.z_half * spread);
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<MeanShiftDetector> restore(std::span<const std::uint8_t> in) {
    return restore_state<MeanShiftDetector>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable (the ring's position within it).
  [[nodiscard]] bool state_valid() const { return pos_ < ring_.size(); }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(*this) + ring_.capacity() * sizeof(float);
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(n_);
    io.field(pos_);
    io.field(level_);
    io.field(spread_);
    io.array(ring_, ring_.size());
  }

 private:
  // The level and spread learn an older value, the k-th: cumulative while fewer than 1/alpha are
  // learnt, exponentially weighted after; the value is clipped at `clip` spreads once a spread
  // exists.
  void learn(double x, std::uint64_t k) {
    if (k == 1) level_ = x;
    const double a = std::max(1.0 / static_cast<double>(k), config_.alpha);
    const double lim = spread_ > 0 ? config_.clip * spread_ * 1.2533 : HUGE_VAL;
    const double r = std::clamp(x - level_, -lim, lim);
    if (k > 1) spread_ += a * (std::abs(r) - spread_);
    level_ += a * r;
  }

  Config config_;
  std::uint64_t n_ = 0;
  std::uint64_t pos_ = 0;
  double level_ = 0, spread_ = 0;
  std::vector<float> ring_;
};

}  // namespace strata::analytics

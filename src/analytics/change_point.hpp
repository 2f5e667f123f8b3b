#pragma once
// ChangePointDetector: Page's two-sided CUSUM on standardised residuals, for level shifts and
// drifts that no single point betrays. Against a slow baseline (EWMA of the level, EW mean
// absolute deviation as the spread) it accumulates u = (x − mean)/spread beyond a slack k:
// S⁺ = max(0, S⁺ + u − k), S⁻ = max(0, S⁻ − u − k). The score is S/(S + h), 0.5 when the sum
// reaches the decision interval h; past h the change is accepted: the baseline jumps to the
// recent level (an EWMA of `fast` weight) and the sums restart.
// Cost: O(1) per point, ~120 bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class ChangePointDetector {
 public:
  static constexpr std::string_view kName = "cusum";
  static constexpr DetectorKind kKind = DetectorKind::change_point;

  // Tuning of ChangePointDetector.
  struct Config {
    double alpha = 0.005;  // EW weight of the baseline level and spread, (0, 1]
    double fast = 0.2;     // EW weight of the recent level the baseline jumps to, (0, 1]
    double k = 0.5;        // slack, in spreads, > 0
    double h = 8;          // decision interval, in spreads, > 0
    double clip = 6;       // one point adds at most this many spreads, > 0
    double warmup = 30;    // points that only learn the baseline
    double scale = 1;      // 1: a second CUSUM watches the spread (variance change, stuck sensor)
    template <class F>
    void each(F&& f) {
      f("alpha", alpha);
      f("fast", fast);
      f("k", k);
      f("h", h);
      f("clip", clip);
      f("warmup", warmup);
      f("scale", scale);
    }
  };

  [[nodiscard]] static Status validate(const Config& c, std::string_view owner = kName) {
    auto unit = [](double v) { return v > 0 && v <= 1; };
    if (!unit(c.alpha)) return bad_param(owner, "alpha", c.alpha, "use a weight in (0, 1]");
    if (!unit(c.fast)) return bad_param(owner, "fast", c.fast, "use a weight in (0, 1]");
    if (!(c.k > 0 && c.k < 100)) return bad_param(owner, "k", c.k, "use a slack in (0, 100)");
    if (!(c.h > 0 && c.h < 1e6)) return bad_param(owner, "h", c.h, "use a positive interval");
    if (!(c.clip > 0)) return bad_param(owner, "clip", c.clip, "use a positive number");
    if (c.scale != 0 && c.scale != 1) return bad_param(owner, "scale", c.scale, "use 0 or 1");
    if (!(c.warmup >= 0 && c.warmup <= 1e9))
      return bad_param(owner, "warmup", c.warmup, "use a point count >= 0");
    return {};
  }

  [[nodiscard]] static Result<ChangePointDetector> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    ChangePointDetector d;
    d.config_ = c;
    return d;
  }

  Assessment update(Timestamp, double x) {
    if (n_ == 0) mean_ = recent_ = x;
    const double spread = std::max(spread_ * 1.2533, 1e-9 * (1.0 + std::abs(mean_)));
    const double u = std::clamp((x - mean_) / spread, -config_.clip, config_.clip);
    double score = 0;
    recent_ += config_.fast * (x - recent_);
    recent_spread_ += config_.fast * (std::abs(x - recent_) - recent_spread_);
    if (n_ >= config_.warmup) {
      up_ = std::max(0.0, up_ + u - config_.k);
      down_ = std::max(0.0, down_ - u - config_.k);
      double s = std::max(up_, down_);
      if (config_.scale != 0) {
        // log z² of a Gaussian residual has mean −1.27 and deviation π/√2; its long lower tail
        // makes the narrow side quick to see a stuck sensor.
        const double v =
            std::clamp((std::log(u * u + 1e-3) + 1.27) / 2.2214, -config_.clip, config_.clip);
        wide_ = std::max(0.0, wide_ + v - config_.k);
        narrow_ = std::max(0.0, narrow_ - v - config_.k);
        s = std::max({s, wide_, narrow_});
      }
      last_sum_ = s;
      score = ratio_score(s, config_.h);
      if (s > config_.h) {  // the change is accepted: the baseline restarts from the recent
        mean_ = recent_;
        if (wide_ > config_.h || narrow_ > config_.h) spread_ = recent_spread_ / 1.2533;
        up_ = down_ = wide_ = narrow_ = 0;
      }
    }
    const Assessment a = Assessment::plain(score, mean_, config_.h * spread);
    const double a_w = n_ < 1.0 / config_.alpha ? 1.0 / static_cast<double>(n_ + 1) : config_.alpha;
    if (n_ > 0) spread_ += a_w * (std::min(std::abs(x - mean_), config_.clip * spread) - spread_);
    mean_ += a_w * (x - mean_);
    ++n_;
    return a;
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<ChangePointDetector> restore(std::span<const std::uint8_t> in) {
    return restore_state<ChangePointDetector>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // The last point's CUSUM (the larger side), in spreads; 0 in the warm-up.
  [[nodiscard]] double last_sum() const { return last_sum_; }
  [[nodiscard]] std::size_t memory_bytes() const { return sizeof(*this); }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(n_);
    io.field(mean_);
    io.field(spread_);
    io.field(recent_);
    io.field(up_);
    io.field(down_);
    io.field(wide_);
    io.field(narrow_);
    io.field(recent_spread_);
  }

 private:
  Config config_;
  std::uint64_t n_ = 0;
  double mean_ = 0, spread_ = 0, recent_ = 0, up_ = 0, down_ = 0;
  double wide_ = 0, narrow_ = 0, recent_spread_ = 0;  // the spread's CUSUM sides
  double last_sum_ = 0;                               // derived by update(), not state
};

}  // namespace strata::analytics

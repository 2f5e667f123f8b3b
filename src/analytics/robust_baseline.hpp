#pragma once
// RobustBaseline: the cheapest useful detector. It expects a value from two exponentially
// weighted baselines — the recent level (EWMA) and, when a period is set, the level of the same
// time of day (one EWMA per time-of-day bin) — and uses whichever has predicted better lately
// (smaller EW absolute error). The spread is an EW mean absolute deviation of the residuals, and
// the baselines learn from residuals clipped at `clip` spreads (Huber), so one spike does not
// drag them. Score = z²/(z² + z_half²) with z = |x − expected| / spread.
// Cost: O(1) per point, 170 + 4.1·season_bins bytes.
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class RobustBaseline {
 public:
  static constexpr std::string_view kName = "baseline";
  static constexpr DetectorKind kKind = DetectorKind::robust_baseline;

  // Tuning of RobustBaseline; `each` lists the fields (name, reference) for parameters and state.
  struct Config {
    double alpha = 0.05;            // EWMA weight of the level, (0, 1]
    double scale_alpha = 0.02;      // EW weight of the spread, (0, 1]
    double season_seconds = 86400;  // period of the time-of-day baseline; 0: none
    double season_bins = 48;        // bins per period, 1..1024
    double season_alpha = 0.1;      // EW weight of a bin's level, (0, 1]
    double clip = 4;                // residuals clipped at this many spreads when learning, > 0
    double z_half = 4;              // deviation (in spreads) that scores 0.5, > 0
    double warmup = 20;             // points scored 0 while the baselines form, >= 0
    template <class F>
    void each(F&& f) {
      f("alpha", alpha);
      f("scale_alpha", scale_alpha);
      f("season_seconds", season_seconds);
      f("season_bins", season_bins);
      f("season_alpha", season_alpha);
      f("clip", clip);
      f("z_half", z_half);
      f("warmup", warmup);
    }
  };

  [[nodiscard]] static Status validate(const Config& c) {
    auto unit = [](double v) { return v > 0 && v <= 1; };
    if (!unit(c.alpha)) return bad_param(kName, "alpha", c.alpha, "use a weight in (0, 1]");
    if (!unit(c.scale_alpha))
      return bad_param(kName, "scale_alpha", c.scale_alpha, "use a weight in (0, 1]");
    if (!unit(c.season_alpha))
      return bad_param(kName, "season_alpha", c.season_alpha, "use a weight in (0, 1]");
    if (!(c.season_seconds >= 0) || c.season_seconds > 366.0 * 86400)
      return bad_param(kName, "season_seconds", c.season_seconds,
                       "use 0 (no season) or a period up to a year in seconds");
    if (!(c.season_bins >= 1 && c.season_bins <= 1024) ||
        c.season_bins != std::floor(c.season_bins))
      return bad_param(kName, "season_bins", c.season_bins, "use a whole number in 1..1024");
    if (!(c.clip > 0)) return bad_param(kName, "clip", c.clip, "use a positive number of spreads");
    if (!(c.z_half > 0)) return bad_param(kName, "z_half", c.z_half, "use a positive deviation");
    if (!(c.warmup >= 0 && c.warmup <= 1e9))
      return bad_param(kName, "warmup", c.warmup, "use a point count >= 0");
    return {};
  }

  [[nodiscard]] static Result<RobustBaseline> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    RobustBaseline d;
    d.config_ = c;
    d.period_us_ = static_cast<std::int64_t>(c.season_seconds * 1e6);
    if (d.period_us_ > 0) d.season_.assign(static_cast<std::size_t>(c.season_bins), 0.0f);
    if (d.period_us_ > 0)
      d.season_seen_.assign((static_cast<std::size_t>(c.season_bins) + 63) / 64, 0);
    return d;
  }

  Assessment update(Timestamp ts, double x) {
    if (n_ == 0) {
      level_ = x;
      spread_ = 0;
    }
    std::uint32_t bin = 0;
    bool seasonal = false;
    double expected = level_;
    if (period_us_ > 0) {
      bin = period_bin(ts, period_us_, static_cast<std::uint32_t>(season_.size()));
      seasonal = seen(bin) && season_err_ >= 0 && season_err_ < plain_err_;
      if (seasonal) expected = season_[bin];
    }
    const double spread = std::max(spread_ * 1.2533, 1e-9 * (1.0 + std::abs(level_)));
    const double r = x - expected;
    const double z = std::abs(r) / spread;
    last_z_ = r / spread;
    Assessment a = Assessment::plain(n_ < config_.warmup ? 0.0 : deviation_score(z, config_.z_half),
                                     expected, config_.z_half * spread);
    // Learn from the clipped residual.
    const double lim = config_.clip * spread;
    const double rp = std::clamp(x - level_, -lim, lim);
    const double abs_plain = std::abs(x - level_);
    if (n_ > 0) {
      plain_err_ += config_.scale_alpha * (std::min(abs_plain, lim) - plain_err_);
      spread_ += config_.scale_alpha * (std::min(std::abs(r), lim) - spread_);
    }
    level_ += config_.alpha * rp;
    if (period_us_ > 0) {
      float& s = season_[bin];
      if (!seen(bin)) {
        s = static_cast<float>(x);
        season_seen_[bin / 64] |= std::uint64_t{1} << (bin % 64);
      } else {
        const double rs = x - static_cast<double>(s);
        const double e = std::min(std::abs(rs), lim);
        season_err_ = season_err_ < 0 ? e : season_err_ + config_.scale_alpha * (e - season_err_);
        s = static_cast<float>(s + config_.season_alpha * std::clamp(rs, -lim, lim));
      }
    }
    ++n_;
    return a;
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<RobustBaseline> restore(std::span<const std::uint8_t> in) {
    return restore_state<RobustBaseline>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // The last point's residual in spreads, signed (what the score is made from).
  [[nodiscard]] double last_z() const { return last_z_; }
  // Whether the last point was past the warm-up.
  [[nodiscard]] bool warm() const { return n_ > config_.warmup; }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(*this) + season_.capacity() * sizeof(float) +
           season_seen_.capacity() * sizeof(std::uint64_t);
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(n_);
    io.field(level_);
    io.field(spread_);
    io.field(plain_err_);
    io.field(season_err_);
    io.array(season_, season_.size());
    io.array(season_seen_, season_seen_.size());
  }

 private:
  // Whether a time-of-day bin has learnt a value yet.
  [[nodiscard]] bool seen(std::uint32_t bin) const {
    return (season_seen_[bin / 64] >> (bin % 64) & 1) != 0;
  }

  Config config_;
  std::int64_t period_us_ = 0;
  double last_z_ = 0;  // derived by update(), not state
  std::uint64_t n_ = 0;
  double level_ = 0, spread_ = 0;
  double plain_err_ = 0, season_err_ = -1;  // EW absolute errors of the two baselines (-1: none)
  std::vector<float> season_;
  std::vector<std::uint64_t> season_seen_;  // a bit a bin: whether it has learnt a value
};

}  // namespace strata::analytics

#pragma once
// HoltWinters: additive triple exponential smoothing — level, trend and a season of `season`
// points — as a one-step-ahead forecaster; the score is how far the value lands from the forecast
// in units of the EW mean absolute forecast error. The first season fills the seasonal terms
// (x − level), so the detector warms up over one period. Residuals are clipped at `clip` spreads
// before they update the model, so a spike does not bend the season.
// Cost: O(1) per point; 4·season bytes plus ~150.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class HoltWinters {
 public:
  static constexpr std::string_view kName = "holt_winters";
  static constexpr DetectorKind kKind = DetectorKind::holt_winters;

  // Tuning of HoltWinters.
  struct Config {
    double alpha = 0.1;         // level weight, (0, 1]
    double beta = 0.005;        // trend weight, [0, 1]
    double gamma = 0.1;         // seasonal weight, [0, 1]
    double season = 288;        // points per season (288: a day of 5-minute points); 0: none
    double scale_alpha = 0.02;  // EW weight of the error spread, (0, 1]
    double clip = 4;            // residuals clipped at this many spreads, > 0
    double z_half = 4;          // deviation (in spreads) that scores 0.5, > 0
    template <class F>
    void each(F&& f) {
      f("alpha", alpha);
      f("beta", beta);
      f("gamma", gamma);
      f("season", season);
      f("scale_alpha", scale_alpha);
      f("clip", clip);
      f("z_half", z_half);
    }
  };

  [[nodiscard]] static Status validate(const Config& c, std::string_view owner = kName) {
    if (!(c.alpha > 0 && c.alpha <= 1))
      return bad_param(owner, "alpha", c.alpha, "use a weight in (0, 1]");
    if (!(c.beta >= 0 && c.beta <= 1))
      return bad_param(owner, "beta", c.beta, "use a weight in [0, 1]");
    if (!(c.gamma >= 0 && c.gamma <= 1))
      return bad_param(owner, "gamma", c.gamma, "use a weight in [0, 1]");
    if (!(c.season >= 0 && c.season <= 4096) || c.season != std::floor(c.season) || c.season == 1)
      return bad_param(owner, "season", c.season, "use 0 (none) or 2..4096 points");
    if (!(c.scale_alpha > 0 && c.scale_alpha <= 1))
      return bad_param(owner, "scale_alpha", c.scale_alpha, "use a weight in (0, 1]");
    if (!(c.clip > 0)) return bad_param(owner, "clip", c.clip, "use a positive number");
    if (!(c.z_half > 0)) return bad_param(owner, "z_half", c.z_half, "use a positive number");
    return {};
  }

  [[nodiscard]] static Result<HoltWinters> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    HoltWinters d;
    d.config_ = c;
    d.seasonal_.assign(static_cast<std::size_t>(c.season), 0.0f);
    return d;
  }

  Assessment update(Timestamp, double x) {
    const std::size_t m = seasonal_.size();
    if (n_ == 0) level_ = x;
    const double s_old = m ? static_cast<double>(seasonal_[pos_]) : 0.0;
    const bool first_season = m && n_ < m;
    const double forecast = level_ + trend_ + (first_season ? 0.0 : s_old);
    const double spread = std::max(spread_ * 1.2533, 1e-9 * (1.0 + std::abs(level_)));
    const double r = x - forecast;
    const double z = std::abs(r) / spread;
    const bool warm = n_ > std::max<std::size_t>(m, 10);
    const Assessment a = Assessment::plain(warm ? deviation_score(z, config_.z_half) : 0.0,
                                           forecast, config_.z_half * spread);
    const double lim = n_ > 10 ? config_.clip * spread : 1e300;
    const double xc = forecast + std::clamp(r, -lim, lim);
    if (n_ > 0) spread_ += config_.scale_alpha * (std::min(std::abs(r), lim) - spread_);
    const double prev_level = level_;
    if (first_season) {
      level_ += config_.alpha * (xc - level_);
      seasonal_[pos_] = static_cast<float>(xc - level_);
    } else {
      level_ = config_.alpha * (xc - s_old) + (1 - config_.alpha) * (level_ + trend_);
      trend_ = config_.beta * (level_ - prev_level) + (1 - config_.beta) * trend_;
      if (m)
        seasonal_[pos_] =
            static_cast<float>(config_.gamma * (xc - level_) + (1 - config_.gamma) * s_old);
    }
    if (m) pos_ = pos_ + 1 == m ? 0 : pos_ + 1;
    ++n_;
    return a;
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<HoltWinters> restore(std::span<const std::uint8_t> in) {
    return restore_state<HoltWinters>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable (indexes within their arrays).
  [[nodiscard]] bool state_valid() const {
    return seasonal_.empty() ? pos_ == 0 : pos_ < seasonal_.size();
  }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(*this) + seasonal_.capacity() * sizeof(float);
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(n_);
    io.field(pos_);
    io.field(level_);
    io.field(trend_);
    io.field(spread_);
    io.array(seasonal_, seasonal_.size());
  }

 private:
  Config config_;
  std::uint64_t n_ = 0, pos_ = 0;
  double level_ = 0, trend_ = 0, spread_ = 0;
  std::vector<float> seasonal_;
};

}  // namespace strata::analytics

#pragma once
// MultivariateDetector: the series of one machine read together. Signals that move together
// (current and temperature, pressure and flow) are normal when they move together; this detector
// scores the joint reading by its robust Mahalanobis distance from an exponentially weighted mean
// and covariance, and names the signals behind a score. With r = x − μ and y = Σ⁻¹r (Cholesky,
// with a small ridge), d² = r·y = Σᵢ rᵢ·yᵢ: signal i's contribution is rᵢ·yᵢ, so a reading whose
// temperature is normal alone but wrong for the current shows up in both. The estimate learns from
// a reading with weight min(1, clip²·n/d²) (Huber-like), so an anomaly does not become normal at
// once. Score = d²/(d² + z_half²·n), 0.5 at a distance of z_half per signal.
// Cost: O(n³/6) per reading for n signals (a Cholesky factorisation); 8·(n² + 2n) + ~100 bytes.
//
// It is not a `Detector` (a reading is n values, not one); it has the same create/update/save/
// restore shape and the same state frame (kind 9).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

// One signal's share of a multivariate score.
struct SignalContribution {
  std::size_t signal = 0;  // index into the reading
  double share = 0;        // its conditional part of d² (contributions()); the shares sum to 1
};

class MultivariateDetector {
 public:
  static constexpr std::string_view kName = "mahalanobis";
  static constexpr DetectorKind kKind = DetectorKind::multivariate;

  // Tuning of MultivariateDetector.
  struct Config {
    double signals = 2;   // values a reading holds, 2..64
    double alpha = 0.01;  // EW weight of the mean and covariance, (0, 1]
    double clip = 3;      // distance per signal beyond which a reading teaches less, > 0
    double z_half = 3;    // distance per signal that scores 0.5, > 0
    double ridge = 1e-6;  // added to the diagonal, relative to its mean, (0, 1)
    double warmup = 50;   // readings that only learn, >= signals
    template <class F>
    void each(F&& f) {
      f("signals", signals);
      f("alpha", alpha);
      f("clip", clip);
      f("z_half", z_half);
      f("ridge", ridge);
      f("warmup", warmup);
    }
  };

  [[nodiscard]] static Status validate(const Config& c) {
    if (!(c.signals >= 2 && c.signals <= 64) || c.signals != std::floor(c.signals))
      return bad_param(kName, "signals", c.signals, "use 2..64 signals a reading");
    if (!(c.alpha > 0 && c.alpha <= 1))
      return bad_param(kName, "alpha", c.alpha, "use a weight in (0, 1]");
    if (!(c.clip > 0)) return bad_param(kName, "clip", c.clip, "use a positive distance");
    if (!(c.z_half > 0)) return bad_param(kName, "z_half", c.z_half, "use a positive distance");
    if (!(c.ridge > 0 && c.ridge < 1)) return bad_param(kName, "ridge", c.ridge, "use (0, 1)");
    if (!(c.warmup >= c.signals && c.warmup <= 1e9))
      return bad_param(kName, "warmup", c.warmup, "use at least as many readings as signals");
    return {};
  }

  [[nodiscard]] static Result<MultivariateDetector> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    MultivariateDetector d;
    d.config_ = c;
    d.n_ = static_cast<std::size_t>(c.signals);
    d.mean_.assign(d.n_, 0.0);
    d.cov_.assign(d.n_ * d.n_, 0.0);
    d.r_.assign(d.n_, 0.0);
    d.y_.assign(d.n_, 0.0);
    d.chol_.assign(d.n_ * d.n_, 0.0);
    return d;
  }

  // Scores a reading of config().signals values (a different count scores 0 and learns nothing:
  // the caller checks the shape). After it, contributions() names the signals behind the score.
  double update(Timestamp, std::span<const double> x) {
    if (x.size() != n_) return 0.0;
    const std::size_t n = n_;
    ++count_;
    double score = 0, d2 = 0;
    for (std::size_t i = 0; i < n; ++i) r_[i] = x[i] - mean_[i];
    if (count_ > 1) {
      d2 = solve();
      if (count_ > config_.warmup) {
        const double k = config_.z_half * config_.z_half * static_cast<double>(n);
        score = ratio_score(d2, k);
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) mean_[i] = x[i];
    }
    last_d2_ = d2;
    // Learn: a cumulative average at first, then EW; outlying readings weigh less.
    double a = std::max(config_.alpha, 1.0 / static_cast<double>(count_));
    const double lim = config_.clip * config_.clip * static_cast<double>(n);
    if (count_ > config_.warmup && d2 > lim) a *= lim / d2;
    for (std::size_t i = 0; i < n; ++i) mean_[i] += a * r_[i];
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        cov_[i * n + j] = (1 - a) * (cov_[i * n + j] + a * r_[i] * r_[j]);
    return score;
  }

  // The last reading's squared distance and each signal's share of it, largest first. A signal's
  // share is its conditional part: how much of d² goes when it alone takes the value the other
  // signals make most likely, tᵢ² = (Σ⁻¹r)ᵢ² / (Σ⁻¹)ᵢᵢ (the Mason–Young–Tracy conditional term),
  // normalised to sum to 1. Never negative — unlike the split rᵢ·(Σ⁻¹r)ᵢ, which goes negative for
  // a signal that is normal alone but moves against a correlated one — and zero for a signal that
  // takes no part. O(n³), for the readings that raise an event.
  [[nodiscard]] double last_distance2() const { return last_d2_; }
  [[nodiscard]] std::vector<SignalContribution> contributions() const {
    const std::size_t n = n_;
    std::vector<SignalContribution> out(n);
    std::vector<double> z(n);
    double total = 0;
    for (std::size_t i = 0; i < n && last_d2_ > 0; ++i) {
      // (Σ⁻¹)ᵢᵢ = ‖L⁻¹eᵢ‖², with L the Cholesky factor solve() left in chol_.
      double inverse_ii = 0;
      for (std::size_t k = i; k < n; ++k) {
        double s = k == i ? 1.0 : 0.0;
        for (std::size_t m = i; m < k; ++m) s -= chol_[k * n + m] * z[m];
        z[k] = s / chol_[k * n + k];
        inverse_ii += z[k] * z[k];
      }
      const double t2 = inverse_ii > 0 ? y_[i] * y_[i] / inverse_ii : 0.0;
      out[i] = {i, std::isfinite(t2) ? t2 : 0.0};
      total += out[i].share;
    }
    for (std::size_t i = 0; i < n; ++i) {
      out[i].signal = i;
      out[i].share = total > 0 ? out[i].share / total : 0.0;
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.share > b.share; });
    return out;
  }
  // "temp (71%), current (25%)": the signals whose shares add up to `cover`, named.
  [[nodiscard]] std::string explain(std::span<const std::string> names, double cover = 0.8) const {
    std::string s;
    double sum = 0;
    for (const auto& c : contributions()) {
      if (sum >= cover || c.share <= 0) break;
      if (!s.empty()) s += ", ";
      s += (c.signal < names.size() ? names[c.signal] : "#" + std::to_string(c.signal)) + " (" +
           std::to_string(static_cast<int>(std::lround(c.share * 100))) + "%)";
      sum += c.share;
    }
    return s;
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<MultivariateDetector> restore(std::span<const std::uint8_t> in) {
    return restore_state<MultivariateDetector>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(*this) +
           (mean_.capacity() + cov_.capacity() + r_.capacity() + y_.capacity() + chol_.capacity()) *
               sizeof(double);
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(count_);
    io.array(mean_, n_);
    io.array(cov_, n_ * n_);
  }

 private:
  // y = (Σ + ridge)⁻¹ r by Cholesky; returns r·y.
  double solve() {
    const std::size_t n = n_;
    double trace = 0;
    for (std::size_t i = 0; i < n; ++i) trace += cov_[i * n + i];
    const double ridge = config_.ridge * std::max(trace / static_cast<double>(n), 1e-300) + 1e-300;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j <= i; ++j) {
        double s = cov_[i * n + j] + (i == j ? ridge : 0.0);
        for (std::size_t k = 0; k < j; ++k) s -= chol_[i * n + k] * chol_[j * n + k];
        if (i == j)
          chol_[i * n + i] = std::sqrt(std::max(s, ridge));
        else
          chol_[i * n + j] = s / chol_[j * n + j];
      }
    }
    for (std::size_t i = 0; i < n; ++i) {  // L z = r
      double s = r_[i];
      for (std::size_t k = 0; k < i; ++k) s -= chol_[i * n + k] * y_[k];
      y_[i] = s / chol_[i * n + i];
    }
    for (std::size_t i = n; i-- > 0;) {  // Lᵀ y = z
      double s = y_[i];
      for (std::size_t k = i + 1; k < n; ++k) s -= chol_[k * n + i] * y_[k];
      y_[i] = s / chol_[i * n + i];
    }
    double d2 = 0;
    for (std::size_t i = 0; i < n; ++i) d2 += r_[i] * y_[i];
    return std::max(d2, 0.0);
  }

  Config config_;
  std::size_t n_ = 2;
  std::uint64_t count_ = 0;
  double last_d2_ = 0;         // derived by update(), with r_ and y_
  std::vector<double> mean_;   // state
  std::vector<double> cov_;    // state, n×n row-major
  std::vector<double> r_, y_;  // the last reading's residual and Σ⁻¹r
  std::vector<double> chol_;   // work space
};

}  // namespace strata::analytics

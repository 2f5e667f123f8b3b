#pragma once
// SpectralResidual: the saliency detector of Ren et al., "Time-Series Anomaly Detection Service at
// Microsoft" (KDD 2019). On the last `window` points (the newest at the end, padded with `extend`
// points extrapolated from the recent slope so the newest is not at the edge), it takes the
// Fourier transform, subtracts from the log amplitude spectrum its moving average over `q` bins
// (the "spectral residual": what the usual spectrum shape does not explain) and transforms back
// with the original phases. The magnitude of the result is the saliency map; a point stands out
// when its saliency exceeds the mean saliency of the `z` points before it: d = (s − s̄)/s̄, scored
// d/(d + tau), so the paper's threshold tau scores 0.5.
// Cost: two FFTs of `window` points per point, O(window·log window); ~24·window + 100 bytes.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class SpectralResidual {
 public:
  static constexpr std::string_view kName = "spectral_residual";
  static constexpr DetectorKind kKind = DetectorKind::spectral_residual;

  // Tuning of SpectralResidual (the paper's defaults).
  struct Config {
    double window = 64;  // points transformed (extension included), a power of two in 16..1024
    double extend = 5;   // extrapolated points appended, 1..window/4
    double q = 3;        // bins of the amplitude moving average, 1..window/2
    double z = 21;       // past saliencies averaged, 1..1024
    double tau = 3;      // relative saliency that scores 0.5, > 0
    template <class F>
    void each(F&& f) {
      f("window", window);
      f("extend", extend);
      f("q", q);
      f("z", z);
      f("tau", tau);
    }
  };

  [[nodiscard]] static Status validate(const Config& c) {
    const auto w = static_cast<std::uint32_t>(c.window);
    if (!(c.window >= 16 && c.window <= 1024) || c.window != w || (w & (w - 1)) != 0)
      return bad_param(kName, "window", c.window, "use a power of two in 16..1024");
    if (!(c.extend >= 1 && c.extend <= c.window / 4 - 2) || c.extend != std::floor(c.extend))
      return bad_param(kName, "extend", c.extend, "use a whole number in 1..window/4 − 2");
    if (!(c.q >= 1 && c.q <= c.window / 2) || c.q != std::floor(c.q))
      return bad_param(kName, "q", c.q, "use a whole number in 1..window/2");
    if (!(c.z >= 1 && c.z < c.window - c.extend) || c.z != std::floor(c.z))
      return bad_param(kName, "z", c.z, "use a whole number in 1..window − extend − 1");
    if (!(c.tau > 0)) return bad_param(kName, "tau", c.tau, "use a positive ratio");
    return {};
  }

  [[nodiscard]] static Result<SpectralResidual> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    SpectralResidual d;
    d.config_ = c;
    d.values_.assign(static_cast<std::size_t>(c.window - c.extend), 0.0);
    return d;
  }

  Assessment update(Timestamp, double x) {
    const std::size_t n = values_.size();
    values_[pos_] = x;
    pos_ = pos_ + 1 == n ? 0 : pos_ + 1;
    ++count_;
    if (count_ < n) return Assessment::plain(0.0, x, 0.0);
    const auto w = static_cast<std::size_t>(config_.window);
    const auto m = static_cast<std::size_t>(config_.extend);
    auto& buf = scratch_;
    buf.resize(w);
    for (std::size_t i = 0; i < n; ++i) buf[i] = values_[(pos_ + i) % n];  // oldest first
    // Extrapolate from the m + 1 points before the newest (so the newest cannot hide itself):
    // x̂ = x[k+1] + Σ slopes to their last, as the authors' code does; repeated m times.
    const std::size_t k = n - m - 2;
    const double last = buf[n - 2].real();
    double ext = buf[k + 1].real();
    for (std::size_t i = 0; i < m; ++i)
      ext += (last - buf[k + i].real()) / static_cast<double>(m - i);
    for (std::size_t i = n; i < w; ++i) buf[i] = ext;
    fft(buf, false);
    auto& logamp = logamp_;
    logamp.resize(w);
    for (std::size_t i = 0; i < w; ++i) logamp[i] = std::log(std::abs(buf[i]) + 1e-12);
    const auto q = static_cast<std::size_t>(config_.q);
    for (std::size_t i = 0; i < w; ++i) {
      double avg = 0;
      for (std::size_t k = 0; k < q; ++k) avg += logamp[(i + w - k) % w];  // trailing window
      avg /= static_cast<double>(q);
      const double mag = std::abs(buf[i]);
      const std::complex<double> phase = mag > 0 ? buf[i] / mag : std::complex<double>(1, 0);
      buf[i] = phase * std::exp(logamp[i] - avg);
    }
    fft(buf, true);
    // The newest point's saliency against the mean of the z before it in the same map.
    const double s = std::abs(buf[n - 1]);
    const auto z = static_cast<std::size_t>(config_.z);
    double mean = 0;
    for (std::size_t i = n - 1 - z; i < n - 1; ++i) mean += std::abs(buf[i]);
    mean /= static_cast<double>(z);
    const double d = mean > 0 ? std::max(0.0, (s - mean) / mean) : 0.0;
    return Assessment::plain(ratio_score(d, config_.tau), x, 0.0);
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<SpectralResidual> restore(std::span<const std::uint8_t> in) {
    return restore_state<SpectralResidual>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable (indexes within their arrays).
  [[nodiscard]] bool state_valid() const { return pos_ < values_.size(); }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(*this) + values_.capacity() * sizeof(double) +
           static_cast<std::size_t>(config_.window) *
               (sizeof(std::complex<double>) + sizeof(double));
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(count_);
    io.field(pos_);
    io.array(values_, values_.size());
  }

 private:
  // In-place radix-2 FFT (inverse without the 1/N factor).
  static void fft(std::vector<std::complex<double>>& a, bool inverse) {
    const std::size_t n = a.size();
    for (std::size_t i = 1, j = 0; i < n; ++i) {
      std::size_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) std::swap(a[i], a[j]);
    }
    for (std::size_t len = 2; len <= n; len <<= 1) {
      const double ang = 2 * std::numbers::pi / static_cast<double>(len) * (inverse ? 1 : -1);
      const std::complex<double> wl(std::cos(ang), std::sin(ang));
      for (std::size_t i = 0; i < n; i += len) {
        std::complex<double> w(1);
        for (std::size_t j = 0; j < len / 2; ++j) {
          const auto u = a[i + j], v = a[i + j + len / 2] * w;
          a[i + j] = u + v;
          a[i + j + len / 2] = u - v;
          w *= wl;
        }
      }
    }
  }

  Config config_;
  std::uint64_t count_ = 0, pos_ = 0;
  std::vector<double> values_;                 // the last window − extend values, a ring
  std::vector<std::complex<double>> scratch_;  // per-update work space, not state
  std::vector<double> logamp_;
};

}  // namespace strata::analytics

#pragma once
// Small numeric pieces the detectors share: exponentially weighted moments, the Gaussian tail and
// the map from a standardised deviation to a score in [0, 1].
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace strata::analytics {

// Clamps a score into [0, 1]; NaN (∞/∞ from an extreme deviation) counts as 1.
inline double clamp01(double x) {
  if (std::isnan(x)) return 1.0;
  return std::clamp(x, 0.0, 1.0);
}

// s/(s + half) for s ≥ 0 as a score in [0, 1], 1 when s is infinite.
inline double ratio_score(double s, double half) { return clamp01(s / (s + half)); }

// P(Z > z) for a standard normal Z.
inline double gaussian_tail(double z) { return 0.5 * std::erfc(z * 0.7071067811865476); }

// A deviation of z (in units of the spread) as a score in [0, 1]: z²/(z² + z_half²), so a
// deviation of z_half scores 0.5. Monotone, so thresholds keep their order.
inline double deviation_score(double z, double z_half) {
  const double z2 = z * z;
  return clamp01(z2 / (z2 + z_half * z_half));
}

// Time of day (or of any period) of a timestamp, as a bin in [0, bins).
inline std::uint32_t period_bin(std::int64_t ts_us, std::int64_t period_us, std::uint32_t bins) {
  std::int64_t r = ts_us % period_us;
  if (r < 0) r += period_us;
  return static_cast<std::uint32_t>((static_cast<double>(r) / static_cast<double>(period_us)) *
                                    bins) %
         bins;
}

}  // namespace strata::analytics

#pragma once
// Small numeric pieces the detectors share: exponentially weighted moments, the Gaussian tail and
// the map from a standardised deviation to a score in [0, 1].
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace strata::analytics {

// P(Z > z) for a standard normal Z.
inline double gaussian_tail(double z) { return 0.5 * std::erfc(z * 0.7071067811865476); }

// A deviation of z (in units of the spread) as a score in [0, 1]: z²/(z² + z_half²), so a
// deviation of z_half scores 0.5. Monotone, so thresholds keep their order.
inline double deviation_score(double z, double z_half) {
  const double z2 = z * z;
  return z2 / (z2 + z_half * z_half);
}

// Time of day (or of any period) of a timestamp, as a bin in [0, bins).
inline std::uint32_t period_bin(std::int64_t ts_us, std::int64_t period_us, std::uint32_t bins) {
  std::int64_t r = ts_us % period_us;
  if (r < 0) r += period_us;
  return static_cast<std::uint32_t>((static_cast<double>(r) / static_cast<double>(period_us)) *
                                    bins) %
         bins;
}

// Clamps x into [lo, hi].
inline double clamp01(double x) { return std::clamp(x, 0.0, 1.0); }

}  // namespace strata::analytics

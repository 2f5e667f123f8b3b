#pragma once
// Synthetic series with one known anomaly, for the detector tests: what each anomaly looks like
// is written out in make_series().
#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace strata::analytics::testing {

enum class Anomaly { none, spike, level_shift, drift, variance, stuck, broken_season };

inline const char* anomaly_name(Anomaly a) {
  switch (a) {
    case Anomaly::none:
      return "none";
    case Anomaly::spike:
      return "spike";
    case Anomaly::level_shift:
      return "level_shift";
    case Anomaly::drift:
      return "drift";
    case Anomaly::variance:
      return "variance";
    case Anomaly::stuck:
      return "stuck";
    case Anomaly::broken_season:
      return "broken_season";
  }
  return "?";
}

// 4000 points, 5 minutes apart: around 50, a daily cycle (amplitude 10, 288 points a period;
// none when seasonal is false) plus Gaussian noise (σ = 1); the anomaly starts at kOnset:
//   spike          +15 at the onset only
//   level_shift    +8 from the onset on
//   drift          +0.1 a point from the onset on (+15 at the end of the window)
//   variance       the noise's σ becomes 6
//   stuck          the value freezes at the last one before the onset
//   broken_season  the daily cycle inverts
inline constexpr std::size_t kPoints = 4000;
inline constexpr std::size_t kOnset = 3000;
inline constexpr std::size_t kWindow = 150;  // points after the onset in which to fire
inline constexpr Timestamp kStep = 300 * kMicrosPerSecond;
inline constexpr Timestamp kStart = 1'400'000'000 * kMicrosPerSecond;

struct Series {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

inline Series make_series(Anomaly a, std::uint64_t seed, bool seasonal) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  Series s;
  for (std::size_t i = 0; i < kPoints; ++i) {
    const double phase = 2 * std::numbers::pi * static_cast<double>(i % 288) / 288.0;
    double season = seasonal ? 10 * std::sin(phase) : 0.0;
    double e = noise(rng);
    double v = 50 + season + e;
    if (i >= kOnset) {
      switch (a) {
        case Anomaly::none:
          break;
        case Anomaly::spike:
          if (i == kOnset) v += 15;
          break;
        case Anomaly::level_shift:
          v += 8;
          break;
        case Anomaly::drift:
          v += 0.1 * static_cast<double>(i - kOnset);
          break;
        case Anomaly::variance:
          v = 50 + season + 6 * e;
          break;
        case Anomaly::stuck:
          v = s.values[kOnset - 1];
          break;
        case Anomaly::broken_season:
          v = 50 - season + e;
          break;  // the cycle inverts
      }
    }
    s.ts.push_back(kStart + static_cast<Timestamp>(i) * kStep);
    s.values.push_back(v);
  }
  return s;
}

// A sawtooth of period 12 (50 + 2·(i mod 12), noise σ = 0.1), for the detectors of sequences:
//   reversed   from the onset on the ramp runs down instead of up (the same values, in reverse)
//   spike      120 at the onset only
// With early_spike, the value at point 100 is 1000: one early spike that squeezes every later
// value into the lowest tenth of the range seen.
enum class SawtoothAnomaly { none, reversed, spike };

inline Series make_sawtooth(SawtoothAnomaly a, std::uint64_t seed, bool early_spike = false) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.1);
  Series s;
  for (std::size_t i = 0; i < kPoints; ++i) {
    double v = 50 + 2.0 * static_cast<double>(i % 12);
    if (i >= kOnset && a == SawtoothAnomaly::reversed)
      v = 50 + 2.0 * static_cast<double>(11 - i % 12);
    if (i == kOnset && a == SawtoothAnomaly::spike) v = 120;
    if (i == 100 && early_spike) v = 1000;
    s.ts.push_back(kStart + static_cast<Timestamp>(i) * kStep);
    s.values.push_back(v + noise(rng));
  }
  return s;
}

}  // namespace strata::analytics::testing

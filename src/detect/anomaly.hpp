#pragma once
// AnomalyEvent: what the detection stage says when a series (or a machine's signals together)
// starts behaving unusually — one event per excursion, not one per point. It is what is stored in
// anomalies.db, served over REST and WebSocket, and handed to listeners (the rules of the next
// layer). Its identity is (series, time, detector version): a detector replaying points after a
// restart produces the same event again, which storage keeps once.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace strata::detect {

// One signal's share of a multivariate score.
struct SignalShare {
  std::string metric;
  double share = 0;  // of the squared distance; the shares of an event sum to about 1
};

// One event: what was unusual, when, how much, by which detector, and why.
struct AnomalyEvent {
  std::int64_t id = 0;  // assigned by storage (0 until then, and for listeners)
  std::string device;
  std::string metric;  // the series' metric; for a multivariate event, the signal that drove most
  SeriesId series = 0;
  Timestamp ts = 0;
  double value = 0;      // the point's value (multivariate: the driving signal's)
  double score = 0;      // the detector's score in [0, 1] (≥ the stage's event threshold)
  double raw_score = 0;  // the deciding part's score before calibration (analytics::Assessment)
  // What decided: the ensemble's part ("baseline", "contextual", "cusum") or its "range" rule;
  // for a multivariate event the signals behind it, "temperature (86%), current (14%)".
  std::string driver;
  std::string detector;  // the spec as configured, "ensemble" or "mahalanobis:alpha=0.02"
  std::string version;   // "ensemble@1a2b3c4d": name and CRC-32C of every parameter
  std::optional<double> expected, band;  // what the detector expected (univariate)
  std::string unit;                      // symbol of the stored unit ("°C"), or empty
  std::string message;                   // one sentence for a person
  std::vector<SignalShare> signals;      // multivariate only, largest share first
  bool multivariate = false;
  // Produced again while catching up after a restart (it may have been seen before the crash).
  bool replayed = false;
};

// "discharge_temperature 91.2 °C is above the expected 74.0 ± 6.1 (range rule)".
std::string describe(const AnomalyEvent& e);

// The JSON form REST and WebSocket share.
nlohmann::json to_json(const AnomalyEvent& e);

}  // namespace strata::detect

#include "detect/anomaly.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/time_format.hpp"

namespace strata::detect {

namespace {

// Decimals that show a value beside a band of this width: one digit below the band's first.
int decimals_for(double band) {
  if (!(band > 0) || !std::isfinite(band)) return 3;
  const int d = 1 - static_cast<int>(std::floor(std::log10(band)));
  return d < 0 ? 0 : (d > 6 ? 6 : d);
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string with_unit(std::string number, const std::string& unit) {
  if (unit.empty()) return number;
  return number + " " + unit;
}

std::string why(const AnomalyEvent& e) {
  if (e.driver == "range") return "range rule: beyond the range seen so far";
  if (e.driver == "baseline") return "baseline: far from its usual level";
  if (e.driver == "contextual") return "contextual: an unusual sequence of values";
  if (e.driver == "cusum") return "cusum: a sustained shift";
  if (e.driver == "mean_shift") return "mean shift: the recent mean left its long-run level";
  if (e.driver == "rank_context") return "rank contexts: an unusual order of recent values";
  if (e.driver == "magnitude") return "magnitude: far larger than its usual deviations";
  if (!e.driver.empty()) return e.driver;
  const auto at = e.version.find('@');
  return at == std::string::npos ? e.version : e.version.substr(0, at);
}

}  // namespace

std::string describe(const AnomalyEvent& e) {
  if (e.multivariate) {
    char score[16];
    std::snprintf(score, sizeof score, "%.2f", e.score);
    return e.device + ": an unusual combination of its signals (score " + score + "), driven by " +
           (e.driver.empty() ? std::string("no single signal") : e.driver);
  }
  if (!e.expected || !e.band)
    return e.metric + " " + with_unit(fixed(e.value, 3), e.unit) + " is unusual (" + why(e) + ")";
  const int d = decimals_for(*e.band);
  const std::string where = e.value > *e.expected + *e.band   ? "above"
                            : e.value < *e.expected - *e.band ? "below"
                                                              : "within";
  std::string s = e.metric + " " + with_unit(fixed(e.value, d), e.unit) + " is " + where +
                  " the expected " + fixed(*e.expected, d) + " ± " +
                  with_unit(fixed(*e.band, d), e.unit);
  if (where == "within") s += ", yet unusual";
  return s + " (" + why(e) + ")";
}

nlohmann::json to_json(const AnomalyEvent& e) {
  auto number = [](std::optional<double> v) -> nlohmann::json {
    if (!v || !std::isfinite(*v)) return nullptr;
    return *v;
  };
  nlohmann::json j = {{"device", e.device},
                      {"metric", e.metric},
                      {"series", e.series},
                      {"t", format_iso8601(e.ts)},
                      {"value", number(e.value)},
                      {"score", number(e.score)},
                      {"raw_score", number(e.raw_score)},
                      {"driver", e.driver},
                      {"detector", e.detector},
                      {"version", e.version},
                      {"expected", number(e.expected)},
                      {"band", number(e.band)},
                      {"unit", e.unit},
                      {"message", e.message},
                      {"kind", e.multivariate ? "multivariate" : "series"}};
  if (e.id != 0) j["id"] = e.id;
  if (e.multivariate) {
    nlohmann::json sig = nlohmann::json::array();
    for (const auto& s : e.signals) sig.push_back({{"metric", s.metric}, {"share", s.share}});
    j["signals"] = std::move(sig);
  }
  if (e.replayed) j["replayed"] = true;
  return j;
}

}  // namespace strata::detect

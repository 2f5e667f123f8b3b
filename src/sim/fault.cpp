#include "sim/fault.hpp"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/time_format.hpp"
#include "sim/errc.hpp"

namespace strata::sim {
namespace {

Error bad(std::string_view text, const std::string& why) {
  return Error::of(errc::fault, "fault '" + std::string(text) + "': " + why);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view fault_kind_name(FaultKind k) {
  switch (k) {
    case FaultKind::bearing_wear:
      return "bearing_wear";
    case FaultKind::stuck_sensor:
      return "stuck_sensor";
    case FaultKind::spike:
      return "spike";
    case FaultKind::drift:
      return "drift";
    case FaultKind::outage:
      return "outage";
    case FaultKind::trip:
      return "trip";
  }
  return "spike";
}

std::optional<FaultKind> parse_fault_kind(std::string_view text) {
  for (auto k : {FaultKind::bearing_wear, FaultKind::stuck_sensor, FaultKind::spike,
                 FaultKind::drift, FaultKind::outage, FaultKind::trip})
    if (fault_kind_name(k) == text) return k;
  if (text == "stuck") return FaultKind::stuck_sensor;
  return std::nullopt;
}

Timestamp default_fault_duration(FaultKind k) {
  constexpr Timestamp m = 60 * kMicrosPerSecond;
  switch (k) {
    case FaultKind::bearing_wear:
      return 360 * m;
    case FaultKind::stuck_sensor:
      return 30 * m;
    case FaultKind::spike:
      return 0;
    case FaultKind::drift:
      return 240 * m;
    case FaultKind::outage:
      return 10 * m;
    case FaultKind::trip:
      return 20 * m;
  }
  return 0;
}

Result<FaultSpec> parse_fault_spec(std::string_view text_in) {
  const std::string_view text = trim(text_in);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return bad(text, "expected DEVICE:KIND@START, e.g. cmp-a1-01:bearing_wear@+2m");
  FaultSpec f;
  f.device = std::string(trim(text.substr(0, colon)));
  std::string_view rest = text.substr(colon + 1);
  const auto at = rest.find('@');
  if (at == std::string_view::npos)
    return bad(text, "missing '@START' after the kind (e.g. @+2m or @2026-11-25T10:00:00Z)");
  const std::string_view kind = trim(rest.substr(0, at));
  if (auto k = parse_fault_kind(kind))
    f.kind = *k;
  else
    return bad(text, "unknown kind '" + std::string(kind) +
                         "' (expected bearing_wear, stuck_sensor, spike, drift, outage or trip)");
  rest = rest.substr(at + 1);
  const auto comma = rest.find(',');
  const std::string_view start = trim(rest.substr(0, comma));
  if (!start.empty() && start.front() == '+') {
    auto d = parse_duration(start.substr(1));
    if (!d || *d < 0)
      return bad(text, "start '" + std::string(start) + "' is not +DURATION such as +2m or +1h");
    f.offset = *d;
  } else if (auto t = parse_iso8601(start)) {
    f.at = *t;
  } else {
    return bad(text, "start '" + std::string(start) +
                         "' is neither +DURATION (e.g. +2m) nor an ISO 8601 time");
  }
  rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  while (!rest.empty()) {
    const auto c = rest.find(',');
    const std::string_view opt = trim(rest.substr(0, c));
    rest = c == std::string_view::npos ? std::string_view{} : rest.substr(c + 1);
    const auto eq = opt.find('=');
    if (eq == std::string_view::npos)
      return bad(text,
                 "option '" + std::string(opt) + "' must be key=value (for, metric, magnitude)");
    const std::string_view key = trim(opt.substr(0, eq)), value = trim(opt.substr(eq + 1));
    if (key == "for") {
      auto d = parse_duration(value);
      if (!d || *d < 0)
        return bad(text, "for='" + std::string(value) + "' is not a duration such as 30m");
      f.duration = *d;
    } else if (key == "metric") {
      if (value.empty()) return bad(text, "metric= needs a metric name");
      f.metric = std::string(value);
    } else if (key == "magnitude") {
      double v = 0;
      const auto r = std::from_chars(value.data(), value.data() + value.size(), v);
      if (r.ec != std::errc{} || r.ptr != value.data() + value.size() || !std::isfinite(v))
        return bad(text, "magnitude='" + std::string(value) + "' is not a number");
      f.magnitude = v;
    } else {
      return bad(text,
                 "unknown option '" + std::string(key) + "' (expected for, metric or magnitude)");
    }
  }
  if (!f.metric.empty() && !is_sensor_fault(f.kind))
    return bad(text, "metric= applies to stuck_sensor, spike and drift only");
  return f;
}

std::string fault_record_json(const FaultRecord& r) {
  auto opt_time = [](const std::optional<Timestamp>& t) -> nlohmann::json {
    if (!t) return nullptr;
    return format_iso8601(*t);
  };
  nlohmann::json j{{"device", r.device},
                   {"kind", fault_kind_name(r.kind)},
                   {"metric", r.metric},
                   {"source", r.source},
                   {"start", format_iso8601(r.start)},
                   {"end", format_iso8601(r.end)},
                   {"start_us", r.start},
                   {"end_us", r.end},
                   {"magnitude", r.magnitude},
                   {"first_sample", opt_time(r.first_sample)},
                   {"last_sample", opt_time(r.last_sample)}};
  return j.dump();
}

}  // namespace strata::sim

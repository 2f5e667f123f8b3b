// Anomaly detection on the REST surface: the events (/api/v1/anomalies), a device's detectors and
// their state (/api/v1/devices/{id}/detectors), and the detectors there are (/api/v1/detectors).
// docs/api.md, "Anomalies".
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "analytics/detector_registry.hpp"
#include "analytics/multivariate.hpp"
#include "core/time_format.hpp"
#include "detect/anomaly_log.hpp"
#include "detect/stage.hpp"
#include "server/route_helpers.hpp"
#include "server/services.hpp"

namespace strata::server {

namespace {

using api::Method;
using api::Request;
using api::Response;
using nlohmann::json;

const json kEventSchema = {{"type", "object"},
                           {"properties",
                            {{"id", {{"type", "integer"}}},
                             {"device", {{"type", "string"}}},
                             {"metric", {{"type", "string"}}},
                             {"series", {{"type", "integer"}}},
                             {"t", {{"type", "string"}, {"format", "date-time"}}},
                             {"value", {{"type", "number"}}},
                             {"score", {{"type", "number"}}},
                             {"raw_score", {{"type", "number"}}},
                             {"driver", {{"type", "string"}}},
                             {"detector", {{"type", "string"}}},
                             {"version", {{"type", "string"}}},
                             {"expected", {{"type", "number"}, {"nullable", true}}},
                             {"band", {{"type", "number"}, {"nullable", true}}},
                             {"unit", {{"type", "string"}}},
                             {"message", {{"type", "string"}}},
                             {"kind", {{"type", "string"}, {"enum", {"series", "multivariate"}}}},
                             {"signals", {{"type", "array"}}}}}};

std::string duration_text(Timestamp us) {
  if (us % (86'400 * kMicrosPerSecond) == 0)
    return std::to_string(us / 86'400 / kMicrosPerSecond) + "d";
  if (us % (3600 * kMicrosPerSecond) == 0)
    return std::to_string(us / 3600 / kMicrosPerSecond) + "h";
  if (us % kMicrosPerSecond == 0) return std::to_string(us / kMicrosPerSecond) + "s";
  return std::to_string(us / 1000) + "ms";
}

Response anomalies(Services& s, Request& r) {
  detect::AnomalyQuery q;
  const Timestamp now = s.clock.now();
  auto from = time_param(r, "from", kMinTimestamp, now);
  auto to = time_param(r, "to", kMaxTimestamp, now);
  auto limit = count_param(r, "limit", 100, 10'000);
  if (!from) return Response::problem(api::bad_request(from.error().message));
  if (!to) return Response::problem(api::bad_request(to.error().message));
  if (!limit) return Response::problem(api::bad_request(limit.error().message));
  q.from = *from;
  q.to = *to;
  q.limit = *limit;
  q.device = r.query_param("device");
  q.metric = r.query_param("metric");
  if (auto m = r.query_param("min_score")) {
    char* end = nullptr;
    const double v = std::strtod(m->c_str(), &end);
    if (m->empty() || !end || *end || !(v >= 0 && v <= 1))
      return Response::problem(
          api::bad_request("min_score: '" + *m + "' is not a score in [0, 1]"));
    q.min_score = v;
  }
  if (r.query_param("before")) {
    auto before = count_param(r, "before", 0, std::numeric_limits<std::int64_t>::max());
    if (!before) return Response::problem(api::bad_request(before.error().message));
    q.before_id = static_cast<std::int64_t>(*before);
  }
  auto events = s.anomalies->query(q);
  if (!events) return Response::problem(api::internal_error(events.error().message));
  json out = json::array();
  for (const auto& e : *events) out.push_back(detect::to_json(e));
  json page = {{"events", out}};
  if (out.size() == q.limit && !events->empty())
    page["next"] = "before=" + std::to_string(events->back().id);
  return Response::json(200, page);
}

Response device_detectors(Services& s, Request& r) {
  const std::string device(r.param("id"));
  if (!s.registry.device_by_id(device))
    return Response::problem(api::not_found("device '" + device + "'"));
  json list = json::array();
  if (s.detection) {
    for (const auto& d : s.detection->detectors_of(device)) {
      json j = {{"kind", d.kind},
                {"metric", d.metric},
                {"series", d.series ? json(*d.series) : json(nullptr)},
                {"detector", d.detector},
                {"version", d.version},
                {"state", d.state},
                {"points", d.points},
                {"last_score", d.last_score ? json(*d.last_score) : json(nullptr)},
                {"last_time", d.last_ts ? json(format_iso8601(*d.last_ts)) : json(nullptr)},
                {"memory_bytes", d.memory_bytes}};
      list.push_back(std::move(j));
    }
  }
  return Response::json(
      200, json{{"device", device}, {"analytics", s.detection != nullptr}, {"detectors", list}});
}

Response detector_catalogue(Services& s) {
  json out = json::array();
  bool first = true;
  for (auto name : analytics::detector_names()) {
    auto params = analytics::spec_parameters({std::string(name), {}});
    json p = json::object();
    if (params)
      for (const auto& x : *params) p[x.name] = x.value;
    out.push_back({{"name", name}, {"kind", "series"}, {"default", first}, {"parameters", p}});
    first = false;
  }
  analytics::MultivariateDetector::Config mc;
  json mp = json::object();
  mc.each([&](std::string_view n, auto& v) { mp[std::string(n)] = static_cast<double>(v); });
  out.push_back({{"name", analytics::MultivariateDetector::kName},
                 {"kind", "multivariate"},
                 {"default", false},
                 {"parameters", mp}});
  json settings = {{"enabled", s.detection != nullptr}};
  if (s.detection) {
    const auto& o = s.detection->options();
    settings["workers"] = o.workers;
    settings["event_threshold"] = o.event_threshold;
    settings["learning_points"] = o.learning_points;
    settings["warm_up_window"] = duration_text(o.warm_up_window);
    settings["checkpoint_interval"] = duration_text(o.checkpoint_interval);
  }
  return Response::json(200, json{{"detectors", out}, {"settings", settings}});
}

}  // namespace

Status add_anomaly_routes(api::Router& router, Services& s) {
  std::vector<api::Route> routes;
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/anomalies",
                    .summary = "Anomaly events, newest first (one per excursion of a series or "
                               "machine)",
                    .tag = "anomalies",
                    .access = api::Access::roles(kEveryone),
                    .response_schema = {{"type", "object"},
                                        {"properties",
                                         {{"events", {{"type", "array"}, {"items", kEventSchema}}},
                                          {"next", {{"type", "string"}}}}}},
                    .query_params = {{"device", "only this device"},
                                     {"metric", "only this metric"},
                                     {"from", "events at or after (ISO 8601, now-1h, µs)"},
                                     {"to", "events at or before"},
                                     {"min_score", "only scores at or above, [0, 1]"},
                                     {"limit", "events (default 100, at most 10000)"},
                                     {"before", "paging: events recorded before this id"}},
                    .sync_handler = [&s](Request& r) { return anomalies(s, r); }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/devices/{id}/detectors",
                    .summary = "A device's detectors: each series' and its machine's, with state "
                               "(waiting, warming, learning, scoring), points seen, last score",
                    .tag = "anomalies",
                    .access = api::Access::roles(kEveryone),
                    .sync_handler = [&s](Request& r) { return device_detectors(s, r); }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/detectors",
                    .summary = "The detectors a model or device may name, with their default "
                               "parameters, and the server's detection settings",
                    .tag = "anomalies",
                    .access = api::Access::roles(kEveryone),
                    .sync_handler = [&s](Request&) { return detector_catalogue(s); }});
  for (auto& route : routes)
    if (auto st = router.add(std::move(route)); !st) return st;
  return {};
}

}  // namespace strata::server

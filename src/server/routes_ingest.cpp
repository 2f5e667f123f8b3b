// Ingestion over HTTP: JSON telemetry per device (Strata's path and ThingsBoard's device API) and
// InfluxDB line protocol (/write, /api/v2/write). Every answer comes only once the data is durable
// (the pipeline's completion); a full pipeline answers 503 with Retry-After (docs/api.md).
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <unordered_map>

#include "ingest/json_telemetry.hpp"
#include "ingest/line_protocol.hpp"
#include "server/route_helpers.hpp"
#include "server/services.hpp"

namespace strata::server {

namespace {

using api::Method;
using api::Request;
using api::Responder;
using api::Response;
using nlohmann::json;
using pipeline::Transport;

constexpr auto kRetry = std::chrono::milliseconds(1000);

json outcome_json(const pipeline::IngestOutcome& o) {
  return json{{"stored", o.stored}, {"quarantined", o.quarantined}, {"reasons", o.reasons}};
}

// Decodes a JSON telemetry body of an authenticated device and hands it to the pipeline; answers
// once it is durable.
void ingest_json(Services& s, const std::string& device_id, Request& r, Responder respond) {
  thread_local ingest::JsonTelemetryDecoder decoder;
  auto decoded = decoder.decode(r.body);
  if (!decoded) {
    s.pipeline.quarantine(Transport::http, device_id, r.body, decoded.error().message);
    return respond.send(api::bad_request(decoded.error().message));
  }
  for (const auto& refusal : decoded->refused)
    s.pipeline.quarantine(Transport::http, device_id, r.body, refusal.reason);
  pipeline::TelemetryMessage m;
  m.transport = Transport::http;
  m.device_id = device_id;
  m.message_id = "http/" + std::to_string(r.id);
  m.received = s.clock.now();
  m.raw = std::make_shared<const std::string>(std::move(r.body));
  m.readings = std::move(decoded->readings);
  const std::size_t refused = decoded->refused.size();
  std::vector<std::string> refusal_reasons;
  for (const auto& refusal : decoded->refused) refusal_reasons.push_back(refusal.reason);
  pipeline::Completion done = [respond, refused,
                               refusal_reasons](const pipeline::IngestOutcome& o) {
    if (!o.status) return respond.send(api::internal_error(o.status.error().message));
    pipeline::IngestOutcome all = o;
    all.quarantined += refused;
    all.reasons.insert(all.reasons.begin(), refusal_reasons.begin(), refusal_reasons.end());
    respond.send(Response::json(200, outcome_json(all)));
  };
  if (!s.pipeline.submit(m, done))
    respond.send(api::service_unavailable(kRetry, "the ingestion queue is full; retry shortly"));
}

// Series of line-protocol points, shared by every request: one lookup per point on the hot path.
class LineProtocolSeriesCache {
 public:
  explicit LineProtocolSeriesCache(store::Store& store) : store_(store) {}
  // The series of (series text, field), registering it on first sight.
  Result<SeriesId> resolve(std::string_view series_text, std::string_view field) {
    key_.assign(series_text);
    key_ += '\0';
    key_ += field;
    {
      std::shared_lock lock(mu_);
      if (auto it = ids_.find(key_); it != ids_.end()) return it->second;
    }
    auto key = ingest::series_key_for(series_text, field);
    if (!key) return key.error();
    auto id = store_.resolve(*key);
    if (!id) return id.error();
    std::unique_lock lock(mu_);
    ids_.emplace(key_, *id);
    return *id;
  }

 private:
  store::Store& store_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, SeriesId> ids_;
  static thread_local std::string key_;
};
thread_local std::string LineProtocolSeriesCache::key_;

// Collects one request's points; refused lines are quarantined as they come.
class BatchSink final : public ingest::LineProtocolSink {
 public:
  BatchSink(Services& s, LineProtocolSeriesCache& cache, std::string user)
      : s_(s), cache_(cache), user_(std::move(user)) {}
  void point(std::string_view series_text, std::string_view field, Timestamp ts,
             double value) override {
    auto id = cache_.resolve(series_text, field);
    if (!id) return refuse(0, id.error().message);
    points.push_back({*id, ts, value});
  }
  void refuse(std::size_t, std::string_view reason) override {
    ++refused;
    if (reasons.size() < 16) reasons.emplace_back(reason);
    s_.pipeline.quarantine(Transport::line_protocol, "user:" + user_, {}, reason);
  }
  std::vector<Point> points;
  std::size_t refused = 0;
  std::vector<std::string> reasons;

 private:
  Services& s_;
  LineProtocolSeriesCache& cache_;
  std::string user_;
};

void ingest_line_protocol(Services& s, LineProtocolSeriesCache& cache, Request& r,
                          Responder respond, bool v2) {
  ingest::LineProtocolOptions options;
  options.default_time = s.clock.now() * 1000;  // ns, converted like every timestamp
  options.precision = ingest::Precision::ns;
  if (auto p = r.query_param("precision")) {
    auto parsed = ingest::parse_precision(*p);
    if (!parsed)
      return respond.send(api::bad_request("precision '" + *p + "' is not one of ns, us, ms, s"));
    options.precision = *parsed;
  }
  switch (options.precision) {
    case ingest::Precision::ns:
      break;
    case ingest::Precision::us:
      options.default_time = s.clock.now();
      break;
    case ingest::Precision::ms:
      options.default_time = s.clock.now() / 1000;
      break;
    case ingest::Precision::s:
      options.default_time = s.clock.now() / kMicrosPerSecond;
      break;
  }
  if (v2 && !r.query_param("bucket"))
    return respond.send(
        api::bad_request("missing the 'bucket' query parameter (InfluxDB 2.x API)"));
  const std::string user = r.caller ? r.caller->user : std::string("unknown");
  BatchSink sink(s, cache, user);
  ingest::parse_line_protocol(r.body, options, sink);
  pipeline::PointBatch batch;
  batch.transport = Transport::line_protocol;
  batch.source = user;
  batch.message_id = "http/" + std::to_string(r.id);
  batch.received = s.clock.now();
  batch.points = std::move(sink.points);
  auto answer = [respond, refused = sink.refused,
                 reasons = std::move(sink.reasons)](const pipeline::IngestOutcome& o) {
    if (!o.status) return respond.send(api::internal_error(o.status.error().message));
    const std::size_t bad = refused + o.quarantined;
    if (bad == 0) return respond.send(Response::empty(204));
    // InfluxDB's partial write: the good points are stored, the answer is 400 naming the bad.
    std::string first =
        !reasons.empty() ? reasons.front() : (!o.reasons.empty() ? o.reasons.front() : "");
    api::Problem p =
        api::bad_request("partial write: " + std::to_string(o.stored) + " points stored, " +
                         std::to_string(bad) + " refused; first: " + first);
    json all = reasons;
    for (const auto& why : o.reasons) all.push_back(why);
    p.extensions["refused"] = all;
    p.extensions["error"] = p.detail;  // InfluxDB 1.x clients read "error"
    p.extensions["code"] = "invalid";  // InfluxDB 2.x clients read "code" and "message"
    p.extensions["message"] = p.detail;
    respond.send(p);
  };
  if (batch.points.empty()) return answer(pipeline::IngestOutcome{});
  pipeline::Completion done = answer;
  if (!s.pipeline.submit(batch, done))
    respond.send(api::service_unavailable(kRetry, "the ingestion queue is full; retry shortly"));
}

}  // namespace

Status add_ingest_routes(api::Router& router, Services& s) {
  auto cache = std::make_shared<LineProtocolSeriesCache>(s.store);
  const json outcome_schema = {
      {"type", "object"},
      {"properties",
       {{"stored", {{"type", "integer"}}},
        {"quarantined", {{"type", "integer"}}},
        {"reasons", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  const json telemetry_schema = {
      {"description",
       "ThingsBoard's JSON telemetry: {\"temp\":21.5}, {\"ts\":<ms>,\"values\":{...}}, "
       "or an array of them (docs/api.md)"}};
  std::vector<api::Route> routes;
  routes.push_back(
      {.method = Method::post,
       .pattern = "/api/v1/devices/{id}/telemetry",
       .summary =
           "Telemetry of one device (Authorization: Bearer <device token>); 200 once durable",
       .tag = "ingest",
       .access = api::Access::device(),
       .request_schema = telemetry_schema,
       .response_schema = outcome_schema,
       .handler = [&s](Request& r, Responder respond) {
         auto token = r.bearer_token();
         if (!token) return respond.send(api::unauthorized("a device token is required", false));
         auto who = s.registry.by_token(*token);
         if (!who) return respond.send(api::unauthorized("unknown device token", true));
         if (who->device_id != r.param("id"))
           return respond.send(api::forbidden("this token belongs to device '" + who->device_id +
                                              "', not '" + std::string(r.param("id")) + "'"));
         ingest_json(s, who->device_id, r, respond);
       }});
  routes.push_back(
      {.method = Method::post,
       .pattern = "/api/v1/{token}/telemetry",
       .summary = "ThingsBoard's device API: telemetry with the device token in the path",
       .tag = "ingest",
       .access = api::Access::device(),
       .request_schema = telemetry_schema,
       .response_schema = outcome_schema,
       .handler = [&s](Request& r, Responder respond) {
         auto who = s.registry.by_token(r.param("token"));
         if (!who) return respond.send(api::unauthorized("unknown device token", true));
         ingest_json(s, who->device_id, r, respond);
       }});
  const std::vector<std::pair<std::string, std::string>> lp_params = {
      {"precision", "timestamp unit: ns (default), us, ms or s"}};
  routes.push_back({.method = Method::post,
                    .pattern = "/write",
                    .summary = "InfluxDB 1.x line protocol; 204 once durable",
                    .tag = "ingest",
                    .access = api::Access::roles(kWriters),
                    .request_content_type = "text/plain",
                    .success_status = 204,
                    .max_body_bytes = 0,
                    .token_query_param = "p",
                    .query_params = {{"db", "accepted and ignored (one store)"},
                                     {"precision", "timestamp unit: n/ns (default), u/us, ms or s"},
                                     {"u", "user (ignored: the token names the user)"},
                                     {"p", "the API token, when no Authorization header is sent"}},
                    .handler = [&s, cache](Request& r, Responder respond) {
                      ingest_line_protocol(s, *cache, r, respond, false);
                    }});
  routes.push_back(
      {.method = Method::post,
       .pattern = "/api/v2/write",
       .summary = "InfluxDB 2.x line protocol (Authorization: Token <api token>); 204 once durable",
       .tag = "ingest",
       .access = api::Access::roles(kWriters),
       .request_content_type = "text/plain",
       .success_status = 204,
       .query_params = {{"org", "accepted and ignored"},
                        {"bucket", "required by the 2.x API; one store holds every bucket"},
                        {"precision", "timestamp unit: ns (default), us, ms or s"}},
       .handler = [&s, cache](Request& r, Responder respond) {
         ingest_line_protocol(s, *cache, r, respond, true);
       }});
  for (auto& route : routes)
    if (auto st = router.add(std::move(route)); !st) return st;
  return {};
}

}  // namespace strata::server

// Ingestion over HTTP: JSON telemetry per device (Strata's path and ThingsBoard's device API) and
// InfluxDB line protocol (/write, /api/v2/write). Every answer comes only once the data is durable
// (the pipeline's completion); a full pipeline answers 503 with Retry-After (docs/api.md).
#include <atomic>
#include <boost/beast/zlib/inflate_stream.hpp>
#include <boost/crc.hpp>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "ingest/json_telemetry.hpp"
#include "ingest/line_protocol.hpp"
#include "server/route_helpers.hpp"
#include "server/series_id_table.hpp"
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

// Series of line-protocol points: one lookup per point on the hot path. Each HTTP thread keeps
// its own table ("series text \0 field" -> id), so a lookup takes no lock; series ids never
// change, so nothing needs invalidating. A thread's table belongs to one cache (one server in the
// process), told apart by a serial number.
class LineProtocolSeriesCache {
 public:
  explicit LineProtocolSeriesCache(store::Store& store) : store_(store) {}
  // The series of (series text, field), registering it on first sight.
  Result<SeriesId> resolve(std::string_view series_text, std::string_view field) {
    ThreadTable& local = thread_table_;
    if (local.owner != serial_) {
      local.ids.clear();
      local.owner = serial_;
    }
    local.key.assign(series_text);
    local.key += '\0';
    local.key += field;
    const std::uint64_t h = SeriesIdTable::hash(local.key);
    if (auto id = local.ids.find(local.key, h)) return *id;
    auto key = ingest::series_key_for(series_text, field);
    if (!key) return key.error();
    auto id = store_.resolve(*key);
    if (!id) return id.error();
    local.ids.insert(local.key, h, *id);
    return *id;
  }

 private:
  struct ThreadTable {
    std::uint64_t owner = 0;
    std::string key;  // scratch
    SeriesIdTable ids;
  };
  static inline std::atomic<std::uint64_t> next_serial_{0};
  static thread_local ThreadTable thread_table_;
  store::Store& store_;
  const std::uint64_t serial_ = ++next_serial_;
};
thread_local LineProtocolSeriesCache::ThreadTable LineProtocolSeriesCache::thread_table_;

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

// The most a compressed write may inflate to (an uncompressed one is bounded by the HTTP server).
constexpr std::size_t kMaxInflatedBytes = std::size_t{64} << 20;

// One gzip member (RFC 1952) inflated into `out`; empty on success, else what is wrong. InfluxDB's
// client libraries compress write bodies above 1 KB by default (Content-Encoding: gzip).
//   +----+----+----+-----+-------------------+-----+----+
//   |1f  |8b  |CM 8|FLG  | MTIME (4, LE)     | XFL | OS |   10 bytes
//   +----+----+----+-----+-------------------+-----+----+
//   [FLG&4 FEXTRA: XLEN (2, LE), XLEN bytes] [FLG&8 FNAME: …\0] [FLG&16 FCOMMENT: …\0]
//   [FLG&2 FHCRC: 2 bytes]  raw DEFLATE data  | CRC32 (4, LE) | ISIZE (4, LE) |
std::string gunzip(std::string_view in, std::string& out) {
  auto u8 = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
  auto le32 = [&](std::size_t i) {
    return static_cast<std::uint32_t>(u8(i)) | static_cast<std::uint32_t>(u8(i + 1)) << 8 |
           static_cast<std::uint32_t>(u8(i + 2)) << 16 |
           static_cast<std::uint32_t>(u8(i + 3)) << 24;
  };
  if (in.size() < 18 || u8(0) != 0x1f || u8(1) != 0x8b || u8(2) != 8)
    return "the body is not gzip data (Content-Encoding: gzip)";
  const unsigned flags = u8(3);
  std::size_t pos = 10;
  if (flags & 4) {
    if (pos + 2 > in.size()) return "truncated gzip header";
    pos += 2 + (u8(pos) | static_cast<std::size_t>(u8(pos + 1)) << 8);
  }
  for (unsigned zero_terminated : {8u, 16u})
    if (flags & zero_terminated) {
      const auto end = in.find('\0', pos);
      if (end == std::string_view::npos) return "truncated gzip header";
      pos = end + 1;
    }
  if (flags & 2) pos += 2;
  if (pos + 8 > in.size()) return "truncated gzip data";
  boost::beast::zlib::inflate_stream inflater;
  inflater.reset(15);
  boost::beast::zlib::z_params zs;
  zs.next_in = in.data() + pos;
  zs.avail_in = in.size() - pos;
  out.clear();
  for (;;) {
    const std::size_t had = out.size();
    if (had > kMaxInflatedBytes)
      return "the gzip body inflates to more than " + std::to_string(kMaxInflatedBytes) + " bytes";
    out.resize(had + 64 * 1024);
    zs.next_out = out.data() + had;
    zs.avail_out = out.size() - had;
    boost::system::error_code ec;
    inflater.write(zs, boost::beast::zlib::Flush::none, ec);
    out.resize(out.size() - zs.avail_out);
    if (ec == boost::beast::zlib::error::end_of_stream) break;
    if (ec == boost::beast::zlib::error::need_buffers) return "truncated gzip data";
    if (ec) return "corrupt gzip data: " + ec.message();
  }
  const std::size_t trailer = in.size() - zs.avail_in;
  if (trailer + 8 != in.size())
    return trailer + 8 > in.size() ? "truncated gzip data" : "more than one gzip member (send one)";
  boost::crc_32_type crc;
  crc.process_bytes(out.data(), out.size());
  if (crc.checksum() != le32(trailer) ||
      static_cast<std::uint32_t>(out.size()) != le32(trailer + 4))
    return "gzip checksum mismatch (the body was damaged)";
  return {};
}

void ingest_line_protocol(Services& s, LineProtocolSeriesCache& cache, Request& r,
                          Responder respond, bool v2) {
  std::string inflated;
  std::string_view body = r.body;
  if (auto enc = r.header("Content-Encoding"); enc && !enc->empty() && *enc != "identity") {
    if (*enc != "gzip")
      return respond.send(api::unsupported_media_type("Content-Encoding '" + std::string(*enc) +
                                                      "' is not supported: send gzip or none"));
    if (auto err = gunzip(r.body, inflated); !err.empty())
      return respond.send(api::bad_request(err));
    body = inflated;
  }
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
  ingest::parse_line_protocol(body, options, sink);
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

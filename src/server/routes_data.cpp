// Reading what was stored and what was not: device telemetry (raw or aggregated), series,
// quarantine and lineage (docs/api.md).
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/time_format.hpp"
#include "server/route_helpers.hpp"
#include "server/services.hpp"
#include "store/query.hpp"

namespace strata::server {

namespace {

using api::Method;
using api::Request;
using api::Response;
using nlohmann::json;

const RoleSet kDataReaders{Role::admin, Role::engineer, Role::operator_, Role::technician,
                           Role::data_scientist};

json sample_value(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json series_json(const SeriesKey& k, SeriesId id) {
  json tags = json::object();
  for (const auto& [key, v] : k.tags) tags[key] = v;
  return json{{"id", id}, {"device", k.device}, {"metric", k.metric}, {"tags", tags}};
}

Response telemetry(Services& s, Request& r) {
  const std::string device(r.param("id"));
  const Timestamp now = s.clock.now();
  auto from = time_param(r, "from", now - 3600 * kMicrosPerSecond, now);
  auto to = time_param(r, "to", now, now);
  auto limit = count_param(r, "limit", 10'000, 1'000'000);
  if (!from) return Response::problem(api::bad_request(from.error().message));
  if (!to) return Response::problem(api::bad_request(to.error().message));
  if (!limit) return Response::problem(api::bad_request(limit.error().message));
  std::optional<Timestamp> every;
  if (auto e = r.query_param("every")) {
    auto d = parse_duration(*e);
    if (!d || *d <= 0)
      return Response::problem(
          api::bad_request("every: '" + *e + "' is not a duration such as 1m"));
    every = *d;
  }
  std::vector<store::Aggregate> aggs;
  if (auto a = r.query_param("agg")) {
    std::size_t start = 0;
    while (start <= a->size()) {
      const auto comma = a->find(',', start);
      const auto name =
          a->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      auto agg = store::parse_aggregate(name);
      if (!agg) return Response::problem(api::bad_request("agg: " + agg.error().message));
      aggs.push_back(*agg);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else if (every) {
    aggs = {store::Aggregate::avg};
  }
  const auto metrics = r.query_params("metric");
  auto parsed = store::SeriesSelector::parse("device=" + device);
  if (!parsed) return Response::problem(api::bad_request(parsed.error().message));
  json out = json::array();
  for (SeriesId id : s.store.select(*parsed)) {
    auto key = s.store.key(id);
    if (!key || key->device != device) continue;
    if (!metrics.empty() && std::find(metrics.begin(), metrics.end(), key->metric) == metrics.end())
      continue;
    json series = series_json(*key, id);
    auto snap = s.store.snapshot(id);
    if (every) {
      store::AggregateSet need = 0;
      for (auto a : aggs) need |= store::aggregate_set({a});
      auto buckets = store::aggregate(snap, *from, *to, *every, need);
      if (!buckets) return Response::problem(api::internal_error(buckets.error().message));
      json rows = json::array();
      for (const auto& b : *buckets) {
        json row = {{"t", format_iso8601(b.start)}};
        for (auto a : aggs) row[std::string(store::aggregate_name(a))] = sample_value(b.value(a));
        rows.push_back(row);
      }
      series["buckets"] = rows;
    } else {
      store::RangeCursor cursor(snap, *from, *to);
      std::vector<Sample> batch;
      json points = json::array();
      std::size_t n = 0;
      bool more = false;  // a point beyond the limit exists (also when the limit ends a batch)
      while (!more && cursor.next(batch)) {
        for (const auto& p : batch) {
          if (n == *limit) {
            more = true;
            break;
          }
          ++n;
          points.push_back(json::array({format_iso8601(p.ts), sample_value(p.value)}));
        }
      }
      series["points"] = points;
      series["truncated"] = more;
      // A chunk found corrupt while reading is skipped by the cursor: say so, never silently.
      if (!cursor.status()) series["damaged"] = cursor.status().error().message;
    }
    out.push_back(series);
  }
  return Response::json(200, json{{"device", device},
                                  {"from", format_iso8601(*from)},
                                  {"to", format_iso8601(*to)},
                                  {"series", out}});
}

Response quarantine(Services& s, Request& r) {
  pipeline::QuarantineQuery q;
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
  q.device_id = r.query_param("device");
  if (auto t = r.query_param("transport")) {
    for (std::size_t i = 0; i < pipeline::kTransportCount; ++i)
      if (pipeline::transport_name(static_cast<pipeline::Transport>(i)) == *t)
        q.transport = static_cast<pipeline::Transport>(i);
    if (!q.transport) return Response::problem(api::bad_request("transport: unknown '" + *t + "'"));
  }
  if (r.query_param("before")) {
    auto before = count_param(r, "before", 0, std::numeric_limits<std::int64_t>::max());
    if (!before) return Response::problem(api::bad_request(before.error().message));
    q.before_id = static_cast<std::int64_t>(*before);
  }
  auto entries = s.quarantine.query(q);
  if (!entries) return Response::problem(api::internal_error(entries.error().message));
  json out = json::array();
  for (const auto& e : *entries) {
    out.push_back({{"id", e.id},
                   {"received", format_iso8601(e.received)},
                   {"transport", pipeline::transport_name(e.transport)},
                   {"device", e.device_id},
                   {"message_id", e.message_id},
                   {"metric", e.metric},
                   {"reason", e.reason},
                   {"raw", e.raw}});
  }
  json totals = json::object();
  for (std::size_t i = 0; i < pipeline::kTransportCount; ++i) {
    const auto t = static_cast<pipeline::Transport>(i);
    if (auto n = s.quarantine.total(t)) totals[std::string(pipeline::transport_name(t))] = n;
  }
  json page = {{"entries", out}, {"totals", totals}};
  if (out.size() == q.limit) page["next"] = "before=" + std::to_string(entries->back().id);
  // Raw payloads are whatever a sender sent: bytes that are not UTF-8 are shown as U+FFFD.
  return Response::text(200, page.dump(-1, ' ', false, json::error_handler_t::replace),
                        "application/json");
}

Response lineage(Services& s, Request& r) {
  const Timestamp now = s.clock.now();
  auto from = time_param(r, "from", now - 3600 * kMicrosPerSecond, now);
  auto to = time_param(r, "to", now, now);
  auto limit = count_param(r, "limit", 1000, 100'000);
  if (!from) return Response::problem(api::bad_request(from.error().message));
  if (!to) return Response::problem(api::bad_request(to.error().message));
  if (!limit) return Response::problem(api::bad_request(limit.error().message));
  std::string source;
  if (auto d = r.query_param("device"))
    source = *d;
  else if (auto u = r.query_param("user"))
    source = "user:" + *u;
  else
    return Response::problem(api::bad_request("name a 'device' (or a 'user' for line protocol)"));
  auto answer = s.lineage.query(source, *from, *to, *limit);
  if (!answer) return Response::problem(api::internal_error(answer.error().message));
  json out = json::array();
  for (const auto& e : answer->entries)
    out.push_back({{"transport", pipeline::transport_name(e.transport)},
                   {"message_id", e.message_id},
                   {"received", format_iso8601(e.received)},
                   {"from", format_iso8601(e.ts_min)},
                   {"to", format_iso8601(e.ts_max)},
                   {"points", e.points}});
  return Response::json(200, json{{"source", source},
                                  {"messages", out},
                                  {"truncated", answer->truncated},
                                  {"notes", answer->notes}});
}

}  // namespace

Status add_data_routes(api::Router& router, Services& s) {
  std::vector<api::Route> routes;
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/devices/{id}/telemetry",
                    .summary = "A device's stored telemetry: raw points, or buckets with every/agg",
                    .tag = "data",
                    .access = api::Access::roles(kEveryone),
                    .query_params = {{"metric", "only these metrics (repeat the parameter)"},
                                     {"from", "start (ISO 8601, now-1h, µs); default now-1h"},
                                     {"to", "end; default now"},
                                     {"every", "bucket width (1m, 1h, ...): aggregate"},
                                     {"agg", "min,max,avg,sum,count,first,last,stddev"},
                                     {"limit", "raw points per series (default 10000)"}},
                    .sync_handler = [&s](Request& r) { return telemetry(s, r); }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/series",
                    .summary = "Series matching a selector (match=device=pump-7,site=a)",
                    .tag = "data",
                    .access = api::Access::roles(kEveryone),
                    .query_params = {{"match", "a series selector (docs/cli.md); default all"}},
                    .sync_handler = [&s](Request& r) {
                      auto sel = store::SeriesSelector::parse(r.query_param("match").value_or(""));
                      if (!sel) return Response::problem(api::bad_request(sel.error().message));
                      json out = json::array();
                      for (SeriesId id : s.store.select(*sel))
                        if (auto k = s.store.key(id)) out.push_back(series_json(*k, id));
                      return Response::json(200, out);
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/quarantine",
                    .summary = "What was refused, newest first, with the raw payload and reason",
                    .tag = "data",
                    .access = api::Access::roles(kDataReaders),
                    .query_params = {{"device", "only this device"},
                                     {"transport", "mqtt, http, line_protocol, coap, modbus, ..."},
                                     {"from", "received at or after"},
                                     {"to", "received at or before"},
                                     {"limit", "entries (default 100)"},
                                     {"before", "paging: entries older than this id"}},
                    .sync_handler = [&s](Request& r) { return quarantine(s, r); }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/lineage",
                    .summary = "The messages a device's stored range came from",
                    .tag = "data",
                    .access = api::Access::roles(kDataReaders),
                    .query_params = {{"device", "the device"},
                                     {"user", "or the API user of line-protocol writes"},
                                     {"from", "range start (default now-1h)"},
                                     {"to", "range end (default now)"},
                                     {"limit", "messages (default 1000)"}},
                    .sync_handler = [&s](Request& r) { return lineage(s, r); }});
  for (auto& route : routes)
    if (auto st = router.add(std::move(route)); !st) return st;
  return {};
}

}  // namespace strata::server

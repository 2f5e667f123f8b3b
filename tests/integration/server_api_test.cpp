// The whole server through its REST API: the real `strata serve` process (started per test on
// 127.0.0.1, port 0, fresh data directory, stopped by PID), driven as users, devices and
// third-party clients drive it: roles on every route of the OpenAPI document, models, devices,
// JSON telemetry over HTTP (unit conversion, quarantine, lineage, metrics), line protocol (/write,
// /api/v2/write, InfluxDB's own JavaScript client), the WebSocket live stream (Beast) and device
// commands to mosquitto_sub.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <map>
#include <set>

#include "server_harness.hpp"

namespace strata::test {
namespace {

const std::vector<std::string> kRoles = {"admin",          "engineer",  "operator", "technician",
                                         "data_scientist", "executive", "viewer"};
const std::string kCompressor = "dtmi:strata:compressor;1";
constexpr const char* kProblemType = "application/problem+json";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A Prometheus sample's value (`name{labels} value`), 0 when absent.
double metric_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return 0;
}

class ServerApi : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<StrataServer>(dir_.path() / "data");
    ASSERT_TRUE(server_->started()) << server_->output();
    client_ = std::make_unique<HttpClient>(server_->http_port);
    admin_ = server_->admin_token;
  }
  void TearDown() override {
    if (server_ && server_->started()) {
      // SIGTERM is a clean stop: exit status 0 (and no leak report from the sanitizers).
      const auto status = server_->stop(SIGTERM);
      ASSERT_TRUE(status.has_value()) << "strata serve did not stop within 30 s of SIGTERM";
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "exit status " << *status;
    }
    if (HasFailure() && server_) std::cerr << "server output:\n" << server_->output() << "\n";
    client_.reset();
    server_.reset();
  }
  HttpClient& c() { return *client_; }
  void add_models(const std::vector<std::string>& names) {
    for (const auto& n : names) {
      auto r = c().post("/api/v1/models", example_model(n), admin_);
      ASSERT_EQ(r.status, 201) << n << ": " << r.body;
    }
  }
  // Asserts `r` is an RFC 7807 problem document of `status`.
  static void expect_problem(const HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, kProblemType) << r.body;
    const auto d = r.doc();
    ASSERT_TRUE(d.is_object()) << r.body;
    EXPECT_EQ(d.value("status", 0), status) << r.body;
    EXPECT_TRUE(d.contains("type") && d.contains("title") && d.contains("detail")) << r.body;
  }

  TempDir dir_{"server-api"};
  std::unique_ptr<StrataServer> server_;
  std::unique_ptr<HttpClient> client_;
  std::string admin_;
};

// --- roles: every operation of the OpenAPI document × every role

TEST_F(ServerApi, EveryRouteAdmitsExactlyTheRolesItsDocumentLists) {
  // One user and API token per role (the admin exists from the first start).
  std::map<std::string, std::string> tokens{{"admin", admin_}};
  for (const auto& role : kRoles) {
    if (role == "admin") continue;
    const std::string user = "user-" + role;
    auto u = c().post("/api/v1/users", json{{"name", user}, {"role", role}}.dump(), admin_);
    ASSERT_EQ(u.status, 201) << u.body;
    auto t = c().post("/api/v1/users/" + user + "/tokens", json{{"label", "test"}}.dump(), admin_);
    ASSERT_EQ(t.status, 201) << t.body;
    tokens[role] = t.doc()["token"].get<std::string>();
    auto me = c().get("/api/v1/me", tokens[role]);
    ASSERT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(me.doc()["role"], role);
  }

  auto spec = c().get("/api/v1/openapi.json");
  ASSERT_EQ(spec.status, 200) << spec.body;
  const json doc = spec.doc();
  ASSERT_TRUE(doc.contains("paths") && doc["paths"].is_object() && !doc["paths"].empty());

  const std::map<std::string, http::verb> verbs = {{"get", http::verb::get},
                                                   {"post", http::verb::post},
                                                   {"put", http::verb::put},
                                                   {"patch", http::verb::patch},
                                                   {"delete", http::verb::delete_}};
  std::set<std::string> covered_paths, public_paths;
  std::size_t operations = 0, checked = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      ++operations;
      SCOPED_TRACE(method + " " + path);
      ASSERT_TRUE(verbs.count(method)) << "a method this test does not know: " << method;
      const http::verb verb = verbs.at(method);
      // Path parameters get values that name nothing, so no call changes anything.
      std::string target = path;
      for (std::size_t open; (open = target.find('{')) != std::string::npos;) {
        const auto close = target.find('}', open);
        ASSERT_NE(close, std::string::npos);
        target.replace(open, close - open + 1,
                       "zz-none-" + target.substr(open + 1, close - open - 1));
      }
      ASSERT_EQ(target.find('{'), std::string::npos);
      const std::string body = verb == http::verb::get || verb == http::verb::delete_ ? "" : "{}";
      auto call = [&](const std::string& authorization) {
        return c().request(verb, target, body, authorization);
      };
      const std::string access = op.value("x-strata-access", "");
      if (access == "public") {
        public_paths.insert(path);
        auto r = call("");
        EXPECT_EQ(r.status, 200) << r.body;
      } else if (access == "roles") {
        ASSERT_TRUE(op.contains("x-strata-roles") && op["x-strata-roles"].is_array() &&
                    !op["x-strata-roles"].empty());
        std::set<std::string> admitted;
        for (const auto& r : op["x-strata-roles"]) admitted.insert(r.get<std::string>());
        for (const auto& r : admitted)
          EXPECT_TRUE(tokens.count(r)) << "a role this test does not know: " << r;
        expect_problem(call(""), 401);
        expect_problem(call("Bearer stk_not-a-token"), 401);
        for (const auto& role : kRoles) {
          SCOPED_TRACE("role " + role);
          auto r = call("Bearer " + tokens.at(role));
          if (admitted.count(role)) {
            EXPECT_NE(r.status, 401) << r.body;
            EXPECT_NE(r.status, 403) << r.body;
            // The route exists: no router 404/405 (a handler's 404 names what it did not find).
            EXPECT_NE(r.status, 405) << r.body;
            EXPECT_EQ(r.body.find("no route matches"), std::string::npos) << r.body;
            EXPECT_LT(r.status, 500) << r.body;
          } else {
            expect_problem(r, 403);
          }
        }
      } else if (access == "device") {
        // The device token is the route's own business: none, or a user's token, is a 401.
        expect_problem(call(""), 401);
        expect_problem(call("Bearer " + admin_), 401);
      } else {
        ADD_FAILURE() << "x-strata-access is '" << access << "'; expected public, roles or device";
        continue;
      }
      ++checked;
      covered_paths.insert(path);
    }
  }
  // Every path and operation of the document was exercised: a new route cannot escape.
  EXPECT_EQ(checked, operations);
  EXPECT_EQ(covered_paths.size(), doc["paths"].size());
  EXPECT_GE(operations, 39u) << "the document lists fewer operations than the server has";
  // Only these are public; a new public route must be added here on purpose.
  EXPECT_EQ(public_paths,
            (std::set<std::string>{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"}));
  // Routes the rest of this suite relies on are in the document.
  for (const char* p : {"/api/v1/models", "/api/v1/devices", "/api/v1/devices/{id}/telemetry",
                        "/api/v1/{token}/telemetry", "/write", "/api/v2/write", "/api/v1/stream",
                        "/api/v1/quarantine", "/api/v1/lineage", "/api/v1/users",
                        "/api/v1/anomalies", "/api/v1/devices/{id}/detectors", "/api/v1/detectors"})
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  // A path the document does not list is a 404 problem naming the document.
  auto none = c().get("/api/v1/no-such-route", admin_);
  expect_problem(none, 404);
  EXPECT_NE(none.body.find("openapi.json"), std::string::npos) << none.body;
}

// --- models and devices

TEST_F(ServerApi, ModelsAreRegisteredOnceAndInvalidOnesNameThePath) {
  add_models({"compressor", "pump", "motor", "energy-meter"});
  auto list = c().get("/api/v1/models", admin_);
  ASSERT_EQ(list.status, 200);
  std::set<std::string> ids;
  for (const auto& m : list.doc()) ids.insert(m["@id"].get<std::string>());
  EXPECT_EQ(ids.size(), 4u) << list.body;
  EXPECT_TRUE(ids.count(kCompressor)) << list.body;
  auto one = c().get("/api/v1/models/" + url_encode(kCompressor), admin_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.doc()["@id"], kCompressor);

  expect_problem(c().post("/api/v1/models", example_model("pump"), admin_), 409);

  json bad = json::parse(example_model("compressor"));
  bad["@id"] = "dtmi:strata:test:broken;1";
  bad["contents"][1]["schema"] = "quaternion";
  auto invalid = c().post("/api/v1/models", bad.dump(), admin_);
  expect_problem(invalid, 422);
  const auto d = invalid.doc();
  ASSERT_TRUE(d.contains("errors") && d["errors"].is_array() && !d["errors"].empty()) << d.dump();
  EXPECT_EQ(d["errors"][0]["path"], "/contents/1/schema") << d.dump();
  expect_problem(c().post("/api/v1/models", "this is not JSON", admin_), 400);
  EXPECT_EQ(c().get("/api/v1/models/" + url_encode("dtmi:strata:test:broken;1"), admin_).status,
            404);
}

TEST_F(ServerApi, DevicesAreCreatedChangedExportedImportedAndTheirTokensRotated) {
  add_models({"compressor"});
  auto created = c().post("/api/v1/devices",
                          json{{"id", "cmp-a1-01"},
                               {"model", kCompressor},
                               {"site", "plant-a"},
                               {"line", "line-1"},
                               {"tags", {{"vendor", "atlas"}}}}
                              .dump(),
                          admin_);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string token = created.doc()["token"].get<std::string>();
  EXPECT_EQ(token.rfind("dvt_", 0), 0u) << token;
  // The token is shown once: never again in a read.
  auto got = c().get("/api/v1/devices/cmp-a1-01", admin_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_FALSE(got.doc().contains("token")) << got.body;
  EXPECT_EQ(got.doc()["site"], "plant-a");
  EXPECT_EQ(got.doc()["tags"]["vendor"], "atlas");
  expect_problem(
      c().post("/api/v1/devices", json{{"id", "cmp-a1-01"}, {"model", kCompressor}}.dump(), admin_),
      409);
  expect_problem(c().post("/api/v1/devices",
                          json{{"id", "cmp-x"}, {"model", "dtmi:strata:none;1"}}.dump(), admin_),
                 422);

  auto patched = c().request(http::verb::patch, "/api/v1/devices/cmp-a1-01",
                             json{{"site", "plant-b"}}.dump(), "Bearer " + admin_);
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.doc()["site"], "plant-b");
  EXPECT_EQ(c().get("/api/v1/devices/cmp-a1-01", admin_).doc()["site"], "plant-b");
  EXPECT_EQ(c().get("/api/v1/devices?site=plant-b", admin_).doc().size(), 1u);
  EXPECT_EQ(c().get("/api/v1/devices?site=plant-a", admin_).doc().size(), 0u);

  // Export → import under new ids gives the same devices, with new tokens.
  auto exported = c().get("/api/v1/devices/export", admin_);
  ASSERT_EQ(exported.status, 200) << exported.body;
  json devices = exported.doc();
  ASSERT_EQ(devices.size(), 1u) << exported.body;
  EXPECT_FALSE(devices[0].contains("token"));
  json import = json::array();
  for (const char* id : {"cmp-imp-1", "cmp-imp-2"}) {
    json d = devices[0];
    d["id"] = id;
    import.push_back(d);
  }
  auto imported = c().post("/api/v1/devices/import", import.dump(), admin_);
  ASSERT_EQ(imported.status, 201) << imported.body;
  ASSERT_EQ(imported.doc().size(), 2u);
  for (const auto& d : imported.doc()) {
    EXPECT_EQ(d["site"], "plant-b");
    EXPECT_EQ(d["token"].get<std::string>().rfind("dvt_", 0), 0u);
  }
  // All or none: one known id refuses the whole import.
  json again = json::array({json{{"id", "cmp-imp-3"}, {"model", kCompressor}},
                            json{{"id", "cmp-imp-1"}, {"model", kCompressor}}});
  EXPECT_EQ(c().post("/api/v1/devices/import", again.dump(), admin_).status, 409);
  EXPECT_EQ(c().get("/api/v1/devices/cmp-imp-3", admin_).status, 404);
  EXPECT_EQ(c().get("/api/v1/devices", admin_).doc().size(), 3u);

  // Rotation: the old token is refused, the new one works.
  const std::string reading = json{{"vibration_rms", 1.5}}.dump();
  ASSERT_EQ(c().post("/api/v1/devices/cmp-a1-01/telemetry", reading, token).status, 200);
  auto rotated = c().post("/api/v1/devices/cmp-a1-01/token", "", admin_);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string fresh = rotated.doc()["token"].get<std::string>();
  EXPECT_NE(fresh, token);
  expect_problem(c().post("/api/v1/devices/cmp-a1-01/telemetry", reading, token), 401);
  expect_problem(c().post("/api/v1/" + token + "/telemetry", reading, ""), 401);
  EXPECT_EQ(c().post("/api/v1/devices/cmp-a1-01/telemetry", reading, fresh).status, 200);
  EXPECT_EQ(c().post("/api/v1/" + fresh + "/telemetry", reading, "").status, 200);
  // A device's token is not another device's.
  const std::string other = imported.doc()[0]["token"].get<std::string>();
  auto cross = c().post("/api/v1/devices/cmp-a1-01/telemetry", reading, other);
  EXPECT_TRUE(cross.status == 401 || cross.status == 403) << cross.status << " " << cross.body;

  ASSERT_EQ(
      c().request(http::verb::delete_, "/api/v1/devices/cmp-imp-2", "", "Bearer " + admin_).status,
      204);
  expect_problem(c().get("/api/v1/devices/cmp-imp-2", admin_), 404);
}

// --- JSON telemetry over HTTP

TEST_F(ServerApi, JsonTelemetryIsConvertedStoredQuarantinedTracedAndCounted) {
  add_models({"compressor"});
  const std::string token = add_device(c(), admin_, "cmp-1", kCompressor);
  ASSERT_FALSE(token.empty());
  auto metrics_before = c().get("/metrics").body;
  const std::int64_t t0 = now_ms() - 60'000;

  // Strata's path: °F → °C (the model's targetUnit), mm/s kept.
  auto a = c().post(
      "/api/v1/devices/cmp-1/telemetry",
      json{{"ts", t0}, {"values", {{"discharge_temperature", 212.0}, {"vibration_rms", 3.5}}}}
          .dump(),
      token);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.doc()["stored"], 2) << a.body;
  EXPECT_EQ(a.doc()["quarantined"], 0) << a.body;
  // ThingsBoard's path, an array of timestamped readings.
  auto b =
      c().post("/api/v1/" + token + "/telemetry",
               json::array({json{{"ts", t0 + 1000}, {"values", {{"discharge_temperature", 32.0}}}},
                            json{{"ts", t0 + 2000}, {"values", {{"discharge_temperature", 50.0}}}}})
                   .dump(),
               "");
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(b.doc()["stored"], 2) << b.body;

  const auto temps = stored_points(c(), admin_, "cmp-1", "discharge_temperature", (t0 - 1) * 1000,
                                   (t0 + 3000) * 1000);
  ASSERT_EQ(temps.size(), 3u);
  EXPECT_EQ(temps[0].first, t0 * 1000);
  EXPECT_NEAR(temps[0].second, 100.0, 1e-9);
  EXPECT_EQ(temps[1].first, (t0 + 1000) * 1000);
  EXPECT_NEAR(temps[1].second, 0.0, 1e-9);
  EXPECT_NEAR(temps[2].second, 10.0, 1e-9);
  const auto vib =
      stored_points(c(), admin_, "cmp-1", "vibration_rms", (t0 - 1) * 1000, (t0 + 3000) * 1000);
  ASSERT_EQ(vib.size(), 1u);
  EXPECT_EQ(vib[0].second, 3.5);

  // Bad readings: out of the model's range, unknown metric; the good one of the same message is
  // stored. Not JSON at all: 400, and the payload is in quarantine too.
  const std::string bad_body =
      json{{"ts", t0 + 3000},
           {"values",
            {{"discharge_pressure", 1000.0}, {"no_such_metric", 1.0}, {"motor_current", 42.0}}}}
          .dump();
  auto bad = c().post("/api/v1/devices/cmp-1/telemetry", bad_body, token);
  ASSERT_EQ(bad.status, 200) << bad.body;
  EXPECT_EQ(bad.doc()["stored"], 1) << bad.body;
  EXPECT_EQ(bad.doc()["quarantined"], 2) << bad.body;
  EXPECT_EQ(bad.doc()["reasons"].size(), 2u) << bad.body;
  expect_problem(c().post("/api/v1/devices/cmp-1/telemetry", "{not json", token), 400);

  auto q = c().get("/api/v1/quarantine?device=cmp-1", admin_);
  ASSERT_EQ(q.status, 200) << q.body;
  const auto entries = q.doc()["entries"];
  ASSERT_EQ(entries.size(), 3u) << q.body;
  // The payload is kept once per message; its other entries name the same message.
  std::set<std::string> metrics_refused, message_ids;
  int raw_copies = 0;
  bool saw_not_json = false;
  for (const auto& e : entries) {
    EXPECT_EQ(e["device"], "cmp-1");
    EXPECT_EQ(e["transport"], "http");
    EXPECT_FALSE(e["reason"].get<std::string>().empty()) << e.dump();
    if (e["raw"] == "{not json") {
      saw_not_json = true;
      continue;
    }
    metrics_refused.insert(e["metric"].get<std::string>());
    message_ids.insert(e["message_id"].get<std::string>());
    if (e["raw"] == bad_body) ++raw_copies;
  }
  EXPECT_TRUE(saw_not_json) << q.body;
  EXPECT_EQ(raw_copies, 1) << q.body;
  EXPECT_EQ(message_ids.size(), 1u) << q.body;
  EXPECT_EQ(metrics_refused, (std::set<std::string>{"discharge_pressure", "no_such_metric"}))
      << q.body;
  EXPECT_GE(q.doc()["totals"].value("http", 0), 3) << q.body;

  // Lineage names the messages the stored range came from.
  auto l = c().get("/api/v1/lineage?device=cmp-1&from=" + std::to_string((t0 - 1) * 1000) +
                       "&to=" + std::to_string((t0 + 4000) * 1000),
                   admin_);
  ASSERT_EQ(l.status, 200) << l.body;
  const auto messages = l.doc()["messages"];
  ASSERT_EQ(messages.size(), 3u) << l.body;
  std::size_t points = 0;
  for (const auto& m : messages) {
    EXPECT_EQ(m["transport"], "http") << m.dump();
    EXPECT_EQ(m["message_id"].get<std::string>().rfind("http/", 0), 0u) << m.dump();
    points += m["points"].get<std::size_t>();
  }
  EXPECT_EQ(points, 5u) << l.body;

  // The counters moved by what happened.
  const auto metrics_after = c().get("/metrics").body;
  const std::string stored = R"(strata_points_stored_total{transport="http"})";
  const std::string quarantined = R"(strata_quarantined_total{transport="http"})";
  EXPECT_EQ(metric_value(metrics_after, stored) - metric_value(metrics_before, stored), 5)
      << metrics_after;
  EXPECT_GE(metric_value(metrics_after, quarantined) - metric_value(metrics_before, quarantined), 2)
      << metrics_after;
  EXPECT_NE(metrics_after.find("strata_http_responses_total"), std::string::npos) << metrics_after;
}

// --- line protocol

TEST_F(ServerApi, LineProtocolWritesAnswer204AndAPartialWriteNamesTheRefusedLine) {
  const std::int64_t t0 = now_ms() - 60'000;
  const std::string ms = "precision=ms";
  auto v1 = c().request(
      http::verb::post, "/write?db=plant&" + ms,
      "lp-a temp=21.5 " + std::to_string(t0) + "\nlp-a temp=22.5 " + std::to_string(t0 + 1) + "\n",
      "Token " + admin_, "text/plain");
  EXPECT_EQ(v1.status, 204) << v1.body;
  // InfluxDB 1.x clients may send the token as the password parameter instead.
  auto v1p = c().request(http::verb::post, "/write?db=plant&u=admin&p=" + admin_ + "&" + ms,
                         "lp-a temp=23.5 " + std::to_string(t0 + 2), "", "text/plain");
  EXPECT_EQ(v1p.status, 204) << v1p.body;
  auto v2 = c().request(http::verb::post, "/api/v2/write?org=o&bucket=b&" + ms,
                        "lp-b,site=plant-a level=7.25 " + std::to_string(t0), "Token " + admin_,
                        "text/plain");
  EXPECT_EQ(v2.status, 204) << v2.body;
  expect_problem(c().request(http::verb::post, "/api/v2/write?org=o&" + ms,
                             "lp-b level=1 " + std::to_string(t0), "Token " + admin_, "text/plain"),
                 400);
  expect_problem(c().request(http::verb::post, "/api/v2/write?org=o&bucket=b&precision=fortnight",
                             "lp-b level=1", "Token " + admin_, "text/plain"),
                 400);

  // Content encodings: gzip is read (InfluxDB's clients send it), others are refused by name.
  auto br = c().request(http::verb::post, "/api/v2/write?org=o&bucket=b&" + ms,
                        "lp-c level=1 " + std::to_string(t0), "Token " + admin_, "text/plain",
                        {{"Content-Encoding", "br"}});
  expect_problem(br, 415);
  EXPECT_NE(br.body.find("'br'"), std::string::npos) << br.body;
  auto not_gzip = c().request(http::verb::post, "/api/v2/write?org=o&bucket=b&" + ms,
                              "lp-c level=1 " + std::to_string(t0) + " this is not gzip",
                              "Token " + admin_, "text/plain", {{"Content-Encoding", "gzip"}});
  expect_problem(not_gzip, 400);
  EXPECT_NE(not_gzip.body.find("gzip"), std::string::npos) << not_gzip.body;
  EXPECT_TRUE(
      stored_points(c(), admin_, "lp-c", "level", (t0 - 1) * 1000, (t0 + 10) * 1000).empty());

  const auto a = stored_points(c(), admin_, "lp-a", "temp", (t0 - 1) * 1000, (t0 + 10) * 1000);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0], (std::pair<std::int64_t, double>{t0 * 1000, 21.5}));
  EXPECT_EQ(a[2], (std::pair<std::int64_t, double>{(t0 + 2) * 1000, 23.5}));
  const auto b = stored_points(c(), admin_, "lp-b", "level", (t0 - 1) * 1000, (t0 + 10) * 1000);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].second, 7.25);

  // A partial write: the good lines are stored, the answer is a 400 naming the refused line.
  const std::string bad_line = "lp-a temp=\"warm\"x " + std::to_string(t0 + 4);
  auto partial = c().request(http::verb::post, "/api/v2/write?org=o&bucket=b&" + ms,
                             "lp-a temp=24.5 " + std::to_string(t0 + 3) + "\n" + bad_line +
                                 "\nlp-a temp=25.5 " + std::to_string(t0 + 5) + "\n",
                             "Token " + admin_, "text/plain");
  expect_problem(partial, 400);
  const auto d = partial.doc();
  EXPECT_NE(d.value("detail", "").find("2 points stored, 1 refused"), std::string::npos)
      << d.dump();
  EXPECT_NE(d.value("detail", "").find("line 2"), std::string::npos) << d.dump();
  EXPECT_EQ(d.value("code", ""), "invalid") << d.dump();  // what InfluxDB 2.x clients read
  ASSERT_TRUE(d.contains("refused") && d["refused"].size() == 1) << d.dump();
  EXPECT_EQ(stored_points(c(), admin_, "lp-a", "temp", (t0 - 1) * 1000, (t0 + 10) * 1000).size(),
            5u);
  // The refusal is in quarantine under the writing user.
  auto q = c().get("/api/v1/quarantine?transport=line_protocol", admin_);
  ASSERT_EQ(q.status, 200) << q.body;
  ASSERT_EQ(q.doc()["entries"].size(), 1u) << q.body;
  EXPECT_EQ(q.doc()["entries"][0]["device"], "user:admin") << q.body;
  // Lineage of line-protocol writes is kept per user.
  auto l = c().get("/api/v1/lineage?user=admin&from=" + std::to_string((t0 - 1) * 1000) +
                       "&to=" + std::to_string((t0 + 10) * 1000),
                   admin_);
  ASSERT_EQ(l.status, 200) << l.body;
  EXPECT_EQ(l.doc()["messages"].size(), 4u) << l.body;
}

TEST_F(ServerApi, TelemetryQueryMarksAnAnswerCutByTheLimit) {
  const std::int64_t t0 = now_ms() - 600'000;
  constexpr int kPoints = 4100;  // more than one read batch of the store (4096)
  std::string body;
  for (int i = 0; i < kPoints; ++i)
    body += "lp-many level=" + std::to_string(i) + " " + std::to_string(t0 + i) + "\n";
  auto w = c().request(http::verb::post, "/api/v2/write?org=o&bucket=b&precision=ms", body,
                       "Token " + admin_, "text/plain");
  ASSERT_EQ(w.status, 204) << w.body;
  const std::string range =
      "&from=" + std::to_string(t0 * 1000) + "&to=" + std::to_string((t0 + kPoints) * 1000);
  for (const int limit : {100, 4095, 4096, 4097, kPoints - 1, kPoints, kPoints + 1}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    auto r =
        c().get("/api/v1/devices/lp-many/telemetry?limit=" + std::to_string(limit) + range, admin_);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto series = r.doc()["series"];
    ASSERT_EQ(series.size(), 1u);
    EXPECT_EQ(series[0]["points"].size(), static_cast<std::size_t>(std::min(limit, kPoints)));
    EXPECT_EQ(series[0]["truncated"], limit < kPoints);
  }
}

TEST_F(ServerApi, InfluxDbClientLibraryWritesUnchanged) {
  const std::int64_t first_ms = now_ms() - 120'000;
  constexpr int kCount = 600;  // several batches, gzip-compressed by the client (> 1000 bytes)
  const fs::path out = dir_.path() / "influx.out";
  const fs::path script = fs::path(STRATA_SOURCE_DIR) / "tests/integration/clients/influx_write.js";
  Child node({"node", script.string(), "http://127.0.0.1:" + std::to_string(server_->http_port),
              admin_, "influx-dev", std::to_string(kCount), std::to_string(first_ms * 1'000'000)},
             {}, out, false);
  int status = 0;
  ASSERT_TRUE(node.wait(45s, &status)) << read_file(out);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(out);
  EXPECT_EQ(trim(read_file(out)), "wrote " + std::to_string(kCount));
  const auto points = stored_points(c(), admin_, "influx-dev", "level", first_ms * 1000,
                                    (first_ms + kCount) * 1000);
  ASSERT_EQ(points.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(points[static_cast<std::size_t>(i)].first, (first_ms + i) * 1000);
    EXPECT_EQ(points[static_cast<std::size_t>(i)].second, i * 0.25);
  }
  auto series = c().get("/api/v1/series?match=device=influx-dev", admin_);
  ASSERT_EQ(series.status, 200) << series.body;
  ASSERT_EQ(series.doc().size(), 1u) << series.body;
  EXPECT_EQ(series.doc()[0]["tags"]["site"], "plant-a") << series.body;
}

// --- live stream and commands

TEST_F(ServerApi, LiveStreamCarriesADevicesReadingsAfterAnHttpPost) {
  add_models({"compressor"});
  const std::string token = add_device(c(), admin_, "cmp-live", kCompressor);
  auto viewer =
      c().post("/api/v1/users", json{{"name", "watcher"}, {"role", "viewer"}}.dump(), admin_);
  ASSERT_EQ(viewer.status, 201) << viewer.body;
  const std::string viewer_token =
      c().post("/api/v1/users/watcher/tokens", "", admin_).doc()["token"].get<std::string>();

  WsClient refused;
  EXPECT_NE(refused.connect(server_->http_port, "/api/v1/stream?topic=cmp-live&token=stk_nope"),
            "");

  WsClient ws;
  ASSERT_EQ(ws.connect(server_->http_port, "/api/v1/stream?topic=cmp-live&token=" + viewer_token),
            "");
  auto hello = ws.read(10s);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ((*hello)["type"], "subscribed") << hello->dump();
  EXPECT_EQ((*hello)["topics"], json::array({"cmp-live"})) << hello->dump();

  const std::int64_t t = now_ms() - 1000;
  auto post =
      c().post("/api/v1/devices/cmp-live/telemetry",
               json{{"ts", t}, {"values", {{"discharge_temperature", 212.0}}}}.dump(), token);
  ASSERT_EQ(post.status, 200) << post.body;
  auto msg = ws.read(10s);
  ASSERT_TRUE(msg.has_value()) << "no live message within 10 s";
  EXPECT_EQ((*msg)["type"], "message") << msg->dump();
  EXPECT_EQ((*msg)["topic"], "cmp-live") << msg->dump();
  const auto& readings = (*msg)["data"]["readings"];
  ASSERT_EQ(readings.size(), 1u) << msg->dump();
  EXPECT_EQ(readings[0]["metric"], "discharge_temperature");
  EXPECT_NEAR(readings[0]["v"].get<double>(), 100.0, 1e-9);  // as stored: converted
  EXPECT_EQ(parse_iso8601(readings[0]["t"].get<std::string>()), t * 1000);
}

TEST_F(ServerApi, CommandsReachADeviceSubscribedWithMosquittoSub) {
  add_models({"compressor"});
  const std::string token = add_device(c(), admin_, "cmp-cmd", kCompressor);
  const std::string params = json{{"setpoint", 7.5}}.dump();
  // Nobody listens yet: the refusal says so.
  auto early = c().post("/api/v1/devices/cmp-cmd/commands/set_pressure", params, admin_);
  expect_problem(early, 409);

  const fs::path out = dir_.path() / "mosquitto_sub.out";
  Child sub({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(server_->mqtt_port), "-u",
             token, "-i", "cmp-cmd-sub", "-q", "1", "-v", "-C", "1", "-W", "30", "-t",
             "strata/v1/devices/cmp-cmd/commands/+"},
            {}, out, false);
  // The command is accepted once the subscription is in place (409 until then).
  HttpResult sent;
  const auto until = std::chrono::steady_clock::now() + 20s;
  do {
    sent = c().post("/api/v1/devices/cmp-cmd/commands/set_pressure", params, admin_);
    if (sent.status == 202) break;
    ASSERT_EQ(sent.status, 409) << sent.body;
    std::this_thread::sleep_for(50ms);
  } while (std::chrono::steady_clock::now() < until);
  ASSERT_EQ(sent.status, 202) << sent.body << "\n" << read_file(out);
  EXPECT_FALSE(sent.doc().value("command_id", "").empty()) << sent.body;
  int status = 0;
  ASSERT_TRUE(sub.wait(20s, &status)) << read_file(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(out);
  const std::string line = trim(read_file(out));
  const std::string topic = "strata/v1/devices/cmp-cmd/commands/set_pressure ";
  ASSERT_EQ(line.rfind(topic, 0), 0u) << line;
  const auto payload = json::parse(line.substr(topic.size()), nullptr, false);
  ASSERT_FALSE(payload.is_discarded()) << line;
  // The parameters arrive as sent (alone, or under "params" beside the command id).
  const json got = payload.contains("params") ? payload["params"] : payload;
  EXPECT_EQ(got, json::parse(params)) << line;
}

}  // namespace
}  // namespace strata::test

// Anomaly detection in the real `strata serve`: a model names a detector; readings arrive over
// HTTP JSON and line protocol; the spike becomes one event, stored, queryable over REST, streamed
// over WebSocket, counted in /metrics; bad detector specs are refused when written; and a
// SIGKILLed server restores its detectors from their checkpoint, learns every acknowledged point
// exactly once, and makes one event of a spike after the restart.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <set>

#include "server_harness.hpp"

namespace strata::test {
namespace {

const std::string kModelId = "dtmi:test:oven;1";

// A model whose `temperature` carries a detector (and `humidity` none).
std::string oven_model(const std::string& detector = "ensemble") {
  return json{{"@context", "dtmi:dtdl:context;3"},
              {"@id", kModelId},
              {"@type", "Interface"},
              {"contents",
               {{{"@type", "Telemetry"},
                 {"name", "temperature"},
                 {"schema", "double"},
                 {"strata:detector", detector}},
                {{"@type", "Telemetry"}, {"name", "humidity"}, {"schema", "double"}}}}}
      .dump();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reading i: around 180 with a slow wave and a little deterministic jitter.
double normal_value(int i) { return 180 + 2 * std::sin(i * 0.05) + ((i * 37) % 11 - 5) * 0.05; }

double metric_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// Posts readings i in [from, to) of `device`'s temperature (1 s apart from base_ms), `per_post`
// a request; returns how many were acknowledged (200) before the first failure.
int post_readings(HttpClient& c, const std::string& device, const std::string& token,
                  std::int64_t base_ms, int from, int to, int per_post = 10,
                  const std::map<int, double>& overrides = {}) {
  int acked = 0;
  for (int start = from; start < to; start += per_post) {
    json body = json::array();
    for (int i = start; i < std::min(to, start + per_post); ++i) {
      const auto o = overrides.find(i);
      body.push_back({{"ts", base_ms + i * 1000},
                      {"values",
                       {{"temperature", o == overrides.end() ? normal_value(i) : o->second},
                        {"humidity", 40.0}}}});
    }
    auto r = c.post("/api/v1/devices/" + device + "/telemetry", body.dump(), token);
    if (r.status != 200) break;
    acked += static_cast<int>(body.size());
  }
  return acked;
}

// Polls `probe` until it returns true or `timeout` passes.
template <class F>
bool eventually(F probe, std::chrono::seconds timeout = 30s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (probe()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return probe();
}

json detector_of(HttpClient& c, const std::string& token, const std::string& device,
                 const std::string& metric) {
  auto r = c.get("/api/v1/devices/" + device + "/detectors", token);
  if (r.status != 200) return nullptr;
  const json doc = r.doc();
  for (const auto& d : doc["detectors"])
    if (d.value("metric", "") == metric) return d;
  return nullptr;
}

class ServerDetection : public ::testing::Test {
 protected:
  TempDir dir_{"server-detection"};
  const std::vector<std::string> env_ = {"STRATA_ANALYTICS_LEARNING_POINTS=50",
                                         "STRATA_ANALYTICS_CHECKPOINT_INTERVAL=1s"};
};

TEST_F(ServerDetection, ASpikeIsOneEventStoredQueriedStreamedAndCounted) {
  StrataServer server(dir_.path() / "data", env_);
  ASSERT_TRUE(server.started()) << server.output();
  HttpClient c(server.http_port);
  const std::string& admin = server.admin_token;

  // Specs that cannot be built are refused when written, naming the place and the parameter.
  auto bad = c.post("/api/v1/models", oven_model("ensemble:spatial_tolerance=11"), admin);
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("telemetry 'temperature': ensemble: spatial_tolerance=11 is out of "
                          "range"),
            std::string::npos)
      << bad.body;
  EXPECT_EQ(bad.doc()["errors"][0]["path"], "/contents/0/strata:detector") << bad.body;
  auto m = c.post("/api/v1/models", oven_model(), admin);
  ASSERT_EQ(m.status, 201) << m.body;
  EXPECT_EQ(m.doc()["contents"][0]["strata:detector"], "ensemble");
  auto override_bad = c.post(
      "/api/v1/devices",
      json{{"id", "oven-x"}, {"model", kModelId}, {"detectors", {{"humidity", "cusum:h=-1"}}}}
          .dump(),
      admin);
  EXPECT_EQ(override_bad.status, 422) << override_bad.body;
  EXPECT_EQ(override_bad.doc()["errors"][0]["path"], "/detectors/humidity") << override_bad.body;
  EXPECT_NE(override_bad.body.find("cusum: h=-1 is out of range"), std::string::npos);

  auto d = c.post("/api/v1/devices",
                  json{{"id", "oven-1"}, {"model", kModelId}, {"state", "active"}}.dump(), admin);
  ASSERT_EQ(d.status, 201) << d.body;
  const std::string token = d.doc()["token"].get<std::string>();

  WsClient ws;
  ASSERT_EQ(ws.connect(server.http_port, "/api/v1/stream?topic=anomalies:oven-1&token=" + admin),
            "");
  auto hello = ws.read(10s);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ((*hello)["topics"], json::array({"anomalies:oven-1"})) << hello->dump();

  const std::int64_t base = now_ms() - 3600'000;
  constexpr int kSpike = 250;
  ASSERT_EQ(post_readings(c, "oven-1", token, base, 0, 300, 10, {{kSpike, 260.0}}), 300);

  auto msg = ws.read(20s);
  ASSERT_TRUE(msg.has_value()) << "no anomaly on the live stream within 20 s";
  EXPECT_EQ((*msg)["topic"], "anomalies:oven-1") << msg->dump();
  const json live = (*msg)["data"];
  EXPECT_EQ(live["device"], "oven-1");
  EXPECT_EQ(live["metric"], "temperature");
  EXPECT_EQ(parse_iso8601(live["t"].get<std::string>()), (base + kSpike * 1000) * 1000);

  json events;
  ASSERT_TRUE(eventually([&] {
    auto r = c.get("/api/v1/anomalies?device=oven-1", admin);
    events = r.doc()["events"];
    return r.status == 200 && !events.empty();
  }));
  std::vector<json> at_spike;
  for (const auto& e : events)
    if (e["t"] == live["t"]) at_spike.push_back(e);
  ASSERT_EQ(at_spike.size(), 1u) << events.dump();
  const json& e = at_spike[0];
  EXPECT_EQ(e["value"], 260.0);
  EXPECT_GE(e["score"].get<double>(), 0.6);
  EXPECT_EQ(e["driver"], "range");
  EXPECT_EQ(e["detector"], "ensemble");
  EXPECT_EQ(e["version"].get<std::string>().rfind("ensemble@", 0), 0u);
  EXPECT_TRUE(e["expected"].is_number() && e["band"].is_number()) << e.dump();
  EXPECT_NE(e["message"].get<std::string>().find("temperature 260"), std::string::npos) << e;
  EXPECT_TRUE(e["id"].is_number_integer());
  // Filters: another metric, a score above every event's, a time range before the spike.
  EXPECT_TRUE(c.get("/api/v1/anomalies?metric=humidity", admin).doc()["events"].empty());
  EXPECT_TRUE(
      c.get("/api/v1/anomalies?min_score=1.0&device=nobody", admin).doc()["events"].empty());
  EXPECT_EQ(c.get("/api/v1/anomalies?min_score=2", admin).status, 400);
  auto before = c.get("/api/v1/anomalies?to=" + std::to_string((base + kSpike * 1000) * 1000 - 1) +
                          "&from=" + std::to_string(base * 1000),
                      admin);
  const json earlier = before.doc();
  for (const auto& x : earlier["events"]) EXPECT_NE(x["t"], live["t"]);
  // Paging: one a page, `next` points further back.
  auto page = c.get("/api/v1/anomalies?limit=1", admin).doc();
  ASSERT_EQ(page["events"].size(), 1u);
  if (events.size() > 1) {
    ASSERT_TRUE(page.contains("next")) << page.dump();
    auto second = c.get("/api/v1/anomalies?limit=1&" + page["next"].get<std::string>(), admin);
    ASSERT_EQ(second.doc()["events"].size(), 1u);
    EXPECT_LT(second.doc()["events"][0]["id"], page["events"][0]["id"]);
  }

  // The device's detectors; humidity has none.
  json det;
  ASSERT_TRUE(eventually([&] {
    det = detector_of(c, admin, "oven-1", "temperature");
    return det.is_object() && det["points"] == 300;
  })) << det.dump();
  EXPECT_EQ(det["state"], "scoring");
  EXPECT_EQ(det["kind"], "series");
  EXPECT_TRUE(det["last_score"].is_number());
  EXPECT_TRUE(detector_of(c, admin, "oven-1", "humidity").is_null());
  EXPECT_EQ(c.get("/api/v1/devices/nobody/detectors", admin).status, 404);
  auto catalogue = c.get("/api/v1/detectors", admin).doc();
  ASSERT_TRUE(catalogue["detectors"].is_array());
  EXPECT_EQ(catalogue["detectors"][0]["name"], "ensemble");
  EXPECT_EQ(catalogue["detectors"][0]["default"], true);
  EXPECT_TRUE(catalogue["detectors"][0]["parameters"].contains("spatial_tolerance"));
  EXPECT_EQ(catalogue["settings"]["learning_points"], 50);

  // Line protocol (a PointBatch) reaches the same detector: the device's id is the measurement.
  std::string lines;
  for (int i = 300; i < 310; ++i)
    lines += "oven-1,site=x temperature=" + std::to_string(normal_value(i)) + " " +
             std::to_string((base + i * 1000) * 1'000'000) + "\n";
  auto w = c.request(http::verb::post, "/api/v2/write?org=o&bucket=b&precision=ns", lines,
                     "Token " + admin, "text/plain");
  EXPECT_EQ(w.status, 204) << w.body;
  // ... as a series of its own (its tags differ from the device's own series).
  ASSERT_TRUE(eventually([&] {
    auto r = c.get("/api/v1/devices/oven-1/detectors", admin).doc();
    int temperature_series = 0;
    for (const auto& x : r["detectors"])
      if (x["metric"] == "temperature" && x["points"] == 10) ++temperature_series;
    return temperature_series == 1;
  })) << c.get("/api/v1/devices/oven-1/detectors", admin).body;

  auto metrics = c.get("/metrics").body;
  EXPECT_GE(metric_value(metrics, "strata_anomaly_events_total"), 1) << metrics;
  EXPECT_EQ(metric_value(metrics, "strata_detector_points_scored_total"), 310) << metrics;
  EXPECT_EQ(metric_value(metrics, "strata_detector_series"), 2) << metrics;
  EXPECT_GT(metric_value(metrics, "strata_detector_memory_bytes"), 1000) << metrics;
  EXPECT_EQ(metric_value(metrics, "strata_detector_late_points_total"), 0) << metrics;
  EXPECT_EQ(metric_value(metrics, "strata_detector_errors_total"), 0) << metrics;
}

TEST_F(ServerDetection, SigkilledServerLearnsEveryAcknowledgedPointOnce) {
  const fs::path data = dir_.path() / "data";
  const std::int64_t base = now_ms() - 3600'000;
  std::string token;
  std::atomic<int> acked{0};
  {
    StrataServer server(data, env_);
    ASSERT_TRUE(server.started()) << server.output();
    HttpClient c(server.http_port);
    ASSERT_EQ(c.post("/api/v1/models", oven_model(), server.admin_token).status, 201);
    token = add_device(c, server.admin_token, "oven-1", kModelId);
    ASSERT_FALSE(token.empty());
    acked = post_readings(c, "oven-1", token, base, 0, 400);
    ASSERT_EQ(acked.load(), 400);
    // A checkpoint that covers them: one written after all 400 were scored (a checkpoint is
    // fsynced; on a busy disk that takes a while).
    std::string m;
    double written = -1;
    ASSERT_TRUE(eventually(
        [&] {
          m = c.get("/metrics").body;
          if (metric_value(m, "strata_detector_points_scored_total") != 400) return false;
          const double now = metric_value(m, "strata_detector_checkpoints_written_total");
          if (written < 0) written = now;
          return now > written;
        },
        120s))
        << m << server.output();
    // More, acknowledged after that checkpoint; the server dies while they flow.
    std::thread sender([&] {
      HttpClient s(server.http_port);
      for (int i = 400; i < 100'000; i += 10) {
        const int n = post_readings(s, "oven-1", token, base, i, i + 10, 10);
        acked += n;
        if (n < 10) break;
      }
    });
    ASSERT_TRUE(eventually([&] { return acked.load() >= 700; }));
    const auto status = server.stop(SIGKILL);
    EXPECT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
    sender.join();
  }
  StrataServer again(data, env_);
  ASSERT_TRUE(again.started()) << again.output();
  HttpClient c(again.http_port);
  const auto stored = stored_points(c, again.admin_token, "oven-1", "temperature", base * 1000,
                                    (base + 200'000'000) * 1000);
  ASSERT_GE(stored.size(), static_cast<std::size_t>(acked.load()));  // nothing acknowledged lost
  ASSERT_LE(stored.size(), static_cast<std::size_t>(acked.load()) + 10);
  auto metrics = c.get("/metrics").body;
  std::cout << "[ detection  ] " << acked.load() << " readings acknowledged before SIGKILL, "
            << stored.size() << " stored, "
            << metric_value(metrics, "strata_detector_points_scored_total")
            << " replayed from the store after the checkpoint\n";
  EXPECT_EQ(metric_value(metrics, "strata_detector_restored_total"), 1) << metrics;
  EXPECT_EQ(metric_value(metrics, "strata_detector_cold_starts_total"), 0) << metrics;
  // Every stored point learnt exactly once: the restored count plus the replayed points.
  json det = detector_of(c, again.admin_token, "oven-1", "temperature");
  ASSERT_TRUE(det.is_object()) << det;
  EXPECT_EQ(det["points"].get<std::size_t>(), stored.size()) << det.dump();
  EXPECT_EQ(det["state"], "scoring");
  EXPECT_EQ(parse_iso8601(det["last_time"].get<std::string>()), stored.back().first);

  // A spike after the restart: one event.
  const int next = static_cast<int>((stored.back().first / 1000 - base) / 1000) + 1;
  ASSERT_EQ(post_readings(c, "oven-1", token, base, next, next + 20, 10, {{next + 5, 300.0}}), 20);
  const std::string spike_time = format_iso8601((base + (next + 5) * 1000) * 1000);
  json events;
  ASSERT_TRUE(eventually([&] {
    events =
        c.get("/api/v1/anomalies?device=oven-1&limit=10000", again.admin_token).doc()["events"];
    for (const auto& e : events)
      if (e["t"] == spike_time) return true;
    return false;
  })) << events.dump();
  std::set<std::string> times;
  int at_spike = 0;
  for (const auto& e : events) {
    EXPECT_TRUE(times.insert(e["t"].get<std::string>()).second) << "twice: " << e.dump();
    at_spike += e["t"] == spike_time ? 1 : 0;
  }
  EXPECT_EQ(at_spike, 1);
  det = detector_of(c, again.admin_token, "oven-1", "temperature");
  EXPECT_EQ(det["points"].get<std::size_t>(), stored.size() + 20) << det.dump();
  metrics = c.get("/metrics").body;
  EXPECT_EQ(metric_value(metrics, "strata_detector_late_points_total"), 0) << metrics;
}

TEST_F(ServerDetection, WithAnalyticsOffNothingIsScoredAndTheRoutesSaySo) {
  std::vector<std::string> env = env_;
  env.push_back("STRATA_ANALYTICS_ENABLED=false");
  StrataServer server(dir_.path() / "data", env);
  ASSERT_TRUE(server.started()) << server.output();
  HttpClient c(server.http_port);
  ASSERT_EQ(c.post("/api/v1/models", oven_model(), server.admin_token).status, 201);
  const std::string token = add_device(c, server.admin_token, "oven-1", kModelId);
  const std::int64_t base = now_ms() - 3600'000;
  ASSERT_EQ(post_readings(c, "oven-1", token, base, 0, 200, 10, {{150, 400.0}}), 200);
  auto det = c.get("/api/v1/devices/oven-1/detectors", server.admin_token);
  ASSERT_EQ(det.status, 200) << det.body;
  EXPECT_EQ(det.doc()["analytics"], false);
  EXPECT_TRUE(det.doc()["detectors"].empty());
  auto events = c.get("/api/v1/anomalies", server.admin_token);
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_TRUE(events.doc()["events"].empty());
  EXPECT_EQ(c.get("/api/v1/detectors", server.admin_token).doc()["settings"]["enabled"], false);
  const auto metrics = c.get("/metrics").body;
  EXPECT_EQ(metrics.find("strata_detector_points_scored_total"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "detectors.ckpt"));
  // Bad specs are refused all the same: they would fail once detection is on.
  EXPECT_EQ(c.post("/api/v1/models", oven_model("nope"), server.admin_token).status, 422);
}

}  // namespace
}  // namespace strata::test

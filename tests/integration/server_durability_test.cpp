// "A SIGKILLed server loses nothing it acknowledged": the real `strata serve` takes QoS 1 MQTT
// publishes (Eclipse Paho C clients), JSON telemetry posts and InfluxDB 2.x line-protocol writes
// from several clients at once; each client records what the server acknowledged (PUBACK, 200,
// 204); the server is SIGKILLed mid-stream, restarted on the same data directory, and every
// acknowledged reading must be in the store with its exact timestamp and value.
//
// Run with both fsync policies. With `batch` an acknowledgement follows an fsync of the WAL. With
// `interval` it follows the write(2) of the WAL: the data is in the kernel's page cache, which a
// SIGKILL of the process does not lose (only a crash of the machine would, within the interval),
// so for a process kill the guarantee is the same and the test asserts it for both.
#include <MQTTClient.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <mutex>
#include <set>
#include <thread>

#include "server_harness.hpp"

namespace strata::test {
namespace {

const std::string kCompressor = "dtmi:strata:compressor;1";
constexpr int kMqttClients = 3;
constexpr int kHttpClients = 2;
constexpr int kLineClients = 1;
constexpr int kReadingsPerPost = 5;  // JSON telemetry: readings per HTTP post
constexpr int kLinesPerWrite = 20;   // line protocol: lines per write
// The server is killed once this many acknowledgements of each kind have arrived (or after
// kKillAfter, whichever comes first); senders stop at their first failure.
constexpr int kMqttAcksBeforeKill = 300;
constexpr int kHttpAcksBeforeKill = 150;
constexpr int kLineAcksBeforeKill = 30;
constexpr auto kKillAfter = 25s;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Message i of a sender: timestamp base + i ms, value (i % 200) * 0.25 (exact in binary, within
// the compressor model's ranges).
double value_of(int i) { return (i % 200) * 0.25; }

struct Sender {
  std::string device;  // device (or line-protocol measurement) it writes
  std::string metric;
  std::string token;  // device token (MQTT, HTTP) or API token (line protocol)
  std::int64_t base_ms = 0;
  std::vector<int> acked;  // message numbers whose acknowledgement arrived (one per reading)
  std::string stopped_by;  // why it stopped
  std::atomic<std::size_t>* progress = nullptr;  // acknowledged readings of its kind, all senders
};

// QoS 1 publishes on strata/v1/devices/{id}/telemetry, one reading each, from one Paho client
// per sender, all driven by this one thread (libpaho-mqtt3c is not safe across threads): message i
// is published on every client, then each client's PUBACK is awaited. A sender stops at its first
// publish that is not acknowledged.
void mqtt_senders(std::uint16_t port, std::vector<Sender>& senders) {
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);
  std::vector<MQTTClient> clients(senders.size(), nullptr);
  std::vector<bool> live(senders.size(), false);
  for (std::size_t k = 0; k < senders.size(); ++k) {
    auto& s = senders[k];
    if (MQTTClient_create(&clients[k], uri.c_str(), ("dur-" + s.device).c_str(),
                          MQTTCLIENT_PERSISTENCE_NONE, nullptr) != MQTTCLIENT_SUCCESS) {
      s.stopped_by = "create failed";
      continue;
    }
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    opts.username = s.token.c_str();
    opts.cleansession = 1;
    opts.keepAliveInterval = 30;
    if (const int rc = MQTTClient_connect(clients[k], &opts); rc != MQTTCLIENT_SUCCESS)
      s.stopped_by = "connect: " + std::to_string(rc);
    else
      live[k] = true;
  }
  std::vector<MQTTClient_deliveryToken> tokens(senders.size(), 0);
  for (int i = 0; std::find(live.begin(), live.end(), true) != live.end(); ++i) {
    for (std::size_t k = 0; k < senders.size(); ++k) {
      if (!live[k]) continue;
      auto& s = senders[k];
      char payload[160];
      const int n =
          std::snprintf(payload, sizeof payload, R"({"ts":%)" PRId64 R"(,"values":{"%s":%.17g}})",
                        s.base_ms + i, s.metric.c_str(), value_of(i));
      MQTTClient_message msg = MQTTClient_message_initializer;
      msg.payload = payload;
      msg.payloadlen = n;
      msg.qos = 1;
      const std::string topic = "strata/v1/devices/" + s.device + "/telemetry";
      if (const int rc = MQTTClient_publishMessage(clients[k], topic.c_str(), &msg, &tokens[k]);
          rc != MQTTCLIENT_SUCCESS) {
        s.stopped_by = "publish " + std::to_string(i) + ": " + std::to_string(rc);
        live[k] = false;
      }
    }
    for (std::size_t k = 0; k < senders.size(); ++k) {
      if (!live[k]) continue;
      auto& s = senders[k];
      if (const int rc = MQTTClient_waitForCompletion(clients[k], tokens[k], 10'000);
          rc != MQTTCLIENT_SUCCESS) {
        s.stopped_by = "PUBACK " + std::to_string(i) + ": " + std::to_string(rc);
        live[k] = false;
        continue;
      }
      s.acked.push_back(i);
      s.progress->fetch_add(1);
    }
  }
  for (auto& c : clients)
    if (c) MQTTClient_destroy(&c);
}

// JSON telemetry posts of kReadingsPerPost timestamped readings until a post is not answered 200.
void http_sender(std::uint16_t port, Sender& s) {
  HttpClient c(port);
  for (int post = 0;; ++post) {
    json body = json::array();
    for (int k = 0; k < kReadingsPerPost; ++k) {
      const int i = post * kReadingsPerPost + k;
      body.push_back({{"ts", s.base_ms + i}, {"values", {{s.metric, value_of(i)}}}});
    }
    auto r = c.post("/api/v1/devices/" + s.device + "/telemetry", body.dump(), s.token);
    if (r.status != 200) {
      s.stopped_by =
          "post " + std::to_string(post) + ": " + std::to_string(r.status) + " " + r.error + r.body;
      break;
    }
    for (int k = 0; k < kReadingsPerPost; ++k) s.acked.push_back(post * kReadingsPerPost + k);
    s.progress->fetch_add(kReadingsPerPost);
  }
}

// /api/v2/write of kLinesPerWrite lines (precision ms) until a write is not answered 204.
void line_sender(std::uint16_t port, Sender& s) {
  HttpClient c(port);
  for (int write = 0;; ++write) {
    std::string body;
    char line[160];
    for (int k = 0; k < kLinesPerWrite; ++k) {
      const int i = write * kLinesPerWrite + k;
      std::snprintf(line, sizeof line, "%s %s=%.17g %" PRId64 "\n", s.device.c_str(),
                    s.metric.c_str(), value_of(i), s.base_ms + i);
      body += line;
    }
    auto r = c.request(http::verb::post, "/api/v2/write?org=o&bucket=b&precision=ms", body,
                       "Token " + s.token, "text/plain");
    if (r.status != 204) {
      s.stopped_by = "write " + std::to_string(write) + ": " + std::to_string(r.status) + " " +
                     r.error + r.body;
      break;
    }
    for (int k = 0; k < kLinesPerWrite; ++k) s.acked.push_back(write * kLinesPerWrite + k);
    s.progress->fetch_add(kLinesPerWrite);
  }
}

class ServerDurability : public ::testing::TestWithParam<std::string> {};

TEST_P(ServerDurability, SigkilledServerLosesNothingItAcknowledged) {
  TempDir dir("server-durability-" + GetParam());
  const fs::path data = dir.path() / "data";
  const std::vector<std::string> env = {"STRATA_STORE_FSYNC=" + GetParam()};

  std::vector<Sender> mqtt(kMqttClients), posts(kHttpClients), lines(kLineClients);
  std::atomic<std::size_t> mqtt_acks{0}, http_acks{0}, line_acks{0};
  // Readings start 20 minutes ago, 1 ms apart: well inside the out-of-order window, never ahead.
  const std::int64_t base = now_ms() - 20 * 60'000;
  {
    StrataServer server(data, env);
    ASSERT_TRUE(server.started()) << server.output();
    HttpClient c(server.http_port);
    auto m = c.post("/api/v1/models", example_model("compressor"), server.admin_token);
    ASSERT_EQ(m.status, 201) << m.body;
    for (int k = 0; k < kMqttClients; ++k) {
      auto& s = mqtt[static_cast<std::size_t>(k)];
      s = {"mqtt-dev-" + std::to_string(k), "vibration_rms", "", base, {}, {}, nullptr};
      s.token = add_device(c, server.admin_token, s.device, kCompressor);
    }
    for (int k = 0; k < kHttpClients; ++k) {
      auto& s = posts[static_cast<std::size_t>(k)];
      s = {"http-dev-" + std::to_string(k), "motor_current", "", base, {}, {}, nullptr};
      s.token = add_device(c, server.admin_token, s.device, kCompressor);
    }
    for (int k = 0; k < kLineClients; ++k)
      lines[static_cast<std::size_t>(k)] = {
          "lp-dev-" + std::to_string(k), "level", server.admin_token, base, {}, {}, nullptr};
    ASSERT_FALSE(HasFailure());

    for (auto& s : mqtt) s.progress = &mqtt_acks;
    for (auto& s : posts) s.progress = &http_acks;
    for (auto& s : lines) s.progress = &line_acks;
    std::vector<std::thread> threads;
    threads.emplace_back(mqtt_senders, server.mqtt_port, std::ref(mqtt));
    for (auto& s : posts) threads.emplace_back(http_sender, server.http_port, std::ref(s));
    for (auto& s : lines) threads.emplace_back(line_sender, server.http_port, std::ref(s));

    // Kill mid-stream, once every kind of sender has had enough acknowledgements.
    const auto until = std::chrono::steady_clock::now() + kKillAfter;
    while (std::chrono::steady_clock::now() < until &&
           (mqtt_acks.load() < kMqttAcksBeforeKill ||
            http_acks.load() < kHttpAcksBeforeKill * kReadingsPerPost ||
            line_acks.load() < kLineAcksBeforeKill * kLinesPerWrite))
      std::this_thread::sleep_for(5ms);
    const auto kill_status = server.stop(SIGKILL);
    EXPECT_TRUE(kill_status && WIFSIGNALED(*kill_status) && WTERMSIG(*kill_status) == SIGKILL);
    // With the server gone every sender fails by itself.
    for (auto& t : threads) t.join();
  }
  // Every sender was still sending when the server died.
  for (const auto* group : {&mqtt, &posts, &lines})
    for (const auto& s : *group) {
      EXPECT_FALSE(s.acked.empty()) << s.device << ": " << s.stopped_by;
    }
  EXPECT_GE(mqtt_acks.load(), static_cast<std::size_t>(kMqttAcksBeforeKill));
  EXPECT_GE(http_acks.load(), static_cast<std::size_t>(kHttpAcksBeforeKill * kReadingsPerPost));
  EXPECT_GE(line_acks.load(), static_cast<std::size_t>(kLineAcksBeforeKill * kLinesPerWrite));

  StrataServer again(data, env);
  ASSERT_TRUE(again.started()) << again.output();
  HttpClient c(again.http_port);
  std::size_t checked = 0;
  for (const auto* group : {&mqtt, &posts, &lines})
    for (const auto& s : *group) {
      SCOPED_TRACE(s.device + " (" + s.stopped_by + ")");
      const auto stored = stored_points(c, again.admin_token, s.device, s.metric, (base - 1) * 1000,
                                        (base + 10'000'000) * 1000);
      std::set<std::pair<std::int64_t, double>> have(stored.begin(), stored.end());
      std::size_t missing = 0;
      for (int i : s.acked) {
        const std::pair<std::int64_t, double> want{(s.base_ms + i) * 1000, value_of(i)};
        if (!have.count(want) && ++missing <= 5)
          ADD_FAILURE() << "acknowledged reading " << i << " (ts " << want.first << " µs, value "
                        << want.second << ") is not in the store";
      }
      EXPECT_EQ(missing, 0u) << "of " << s.acked.size() << " acknowledged";
      // Nothing is stored that was never sent, and at most the unacknowledged tail of what was.
      EXPECT_LE(stored.size(), s.acked.size() + (s.metric == "level"           ? kLinesPerWrite
                                                 : s.metric == "motor_current" ? kReadingsPerPost
                                                                               : 1))
          << "stored " << stored.size() << ", acknowledged " << s.acked.size();
      checked += s.acked.size();
    }
  std::cout << "[ durability ] fsync=" << GetParam() << ": " << mqtt_acks.load() << " MQTT, "
            << http_acks.load() << " HTTP JSON, " << line_acks.load()
            << " line-protocol readings acknowledged before SIGKILL; " << checked
            << " checked after restart\n";
}

INSTANTIATE_TEST_SUITE_P(Fsync, ServerDurability, ::testing::Values("batch", "interval"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace strata::test

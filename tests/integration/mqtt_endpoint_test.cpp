// Strata's MQTT endpoint against clients nobody here wrote: mosquitto_pub/mosquitto_sub from
// Debian (MQTT 3.1.1 and 5), Eclipse Paho C (libpaho-mqtt-dev, linked in) and MQTT.js (node, from
// node_modules at the repository root). Each publishes telemetry at QoS 1 — the clients report
// success only on PUBACK — and the test checks that every message reached the sink with the right
// device and values, and that a command sent by the endpoint reaches a subscribed client. External
// processes are started by the test on 127.0.0.1 and stopped by PID.
#include <MQTTClient.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/mqtt_test_support.hpp"

extern char** environ;

namespace strata::ingest::mqtt {
namespace {

using namespace mqtt_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A child process started with posix_spawnp, stdin/stdout redirected to files; killed by PID if
// the test ends before it does.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const fs::path& stdin_path,
               const fs::path& stdout_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(
        &actions, 0, stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
      pid_ = -1;
    }
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The exit code, or nullopt if it is still running after the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = 30s) {
    if (exit_code_ || pid_ <= 0) return exit_code_;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class MqttEndpointClients : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("strata-mqtt-it-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    harness_.start();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string port() const { return std::to_string(harness_.endpoint->port()); }

  // Sends a command once a session of the device has subscribed (send_command says whether one
  // has): the way a test awaits a subscription made by a process it does not control.
  std::string command_when_subscribed(const std::string& device, const std::string& name,
                                      const std::string& params) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until) {
      auto id = harness_.endpoint->send_command(device, name, params);
      if (id.ok()) return *id;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "device " << device << " never subscribed to its commands";
    return {};
  }

  // Every message of `client` in the sink, checked for device and values (seq i → 20 + i/2).
  void expect_messages(const std::string& device, const std::string& client_prefix,
                       std::size_t count) {
    std::set<std::size_t> seen;
    for (const auto& m : sink_.messages()) {
      if (m.message_id.rfind(client_prefix, 0) != 0) continue;
      EXPECT_EQ(m.device_id, device);
      EXPECT_EQ(m.transport, pipeline::Transport::mqtt);
      ASSERT_EQ(m.readings.size(), 2u) << *m.raw;
      EXPECT_EQ(m.readings[0].metric, "seq");
      const auto seq = static_cast<std::size_t>(m.readings[0].number);
      EXPECT_EQ(m.readings[1].metric, "temp");
      EXPECT_EQ(m.readings[1].number, 20.0 + static_cast<double>(seq) / 2);
      EXPECT_TRUE(seen.insert(seq).second) << "seq " << seq << " twice";
    }
    EXPECT_EQ(seen.size(), count) << "from " << client_prefix;
  }

  fs::path write_lines(const std::string& name, std::size_t count) {
    const fs::path p = dir_ / name;
    std::ofstream out(p);
    for (std::size_t i = 0; i < count; ++i) {
      out << "{\"seq\":" << i << ",\"temp\":" << 20.0 + static_cast<double>(i) / 2 << "}\n";
    }
    return p;
  }

  RecordingSink sink_{/*auto_complete=*/true};
  EndpointHarness harness_{sink_};
  fs::path dir_;
};

TEST_F(MqttEndpointClients, MosquittoPubDeliversEveryQos1MessageIn311And5) {
  constexpr std::size_t kCount = 50;
  const fs::path lines = write_lines("lines.txt", kCount);
  for (const std::string version : {"mqttv311", "5"}) {
    const std::string client = "mosq-pub-" + version;
    ChildProcess pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", port(), "-V", version, "-q", "1",
                      "-i", client, "-u", "tok-d1", "-t", "v1/devices/me/telemetry", "-l"},
                     lines, dir_ / ("pub-" + version + ".out"));
    const auto code = pub.wait();
    ASSERT_TRUE(code) << "mosquitto_pub did not finish";
    EXPECT_EQ(*code, 0) << "mosquitto_pub -V " << version;
    expect_messages("d1", client + "/", kCount);
  }
  // Device id and secret as user name and password.
  ChildProcess pub(
      {"mosquitto_pub", "-h", "127.0.0.1", "-p", port(), "-V", "5", "-q", "1", "-i", "mosq-secret",
       "-u", "d2", "-P", "secret-d2", "-t", "strata/v1/devices/d2/telemetry", "-l"},
      lines, dir_ / "pub-secret.out");
  ASSERT_EQ(pub.wait(), 0);
  expect_messages("d2", "mosq-secret/", kCount);
  EXPECT_EQ(harness_.endpoint->stats().messages_acknowledged, 3 * kCount);
}

TEST_F(MqttEndpointClients, MosquittoPubWithAWrongTokenIsRefused) {
  const fs::path lines = write_lines("one.txt", 1);
  ChildProcess pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", port(), "-q", "1", "-u", "tok-nobody",
                    "-t", "v1/devices/me/telemetry", "-l"},
                   lines, dir_ / "pub.out");
  const auto code = pub.wait();
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_EQ(sink_.message_count(), 0u);
  EXPECT_EQ(harness_.endpoint->stats().connects_refused, 1u);
}

TEST_F(MqttEndpointClients, MosquittoSubReceivesACommandIn311And5) {
  for (const std::string version : {"mqttv311", "5"}) {
    const fs::path out = dir_ / ("sub-" + version + ".out");
    ChildProcess sub({"mosquitto_sub", "-h", "127.0.0.1", "-p", port(), "-V", version, "-q", "1",
                      "-i", "mosq-sub-" + version, "-u", "tok-d2", "-t",
                      "strata/v1/devices/d2/commands/+", "-C", "1", "-v"},
                     {}, out);
    const std::string id = command_when_subscribed("d2", "reboot", R"({"delay_s":3})");
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(sub.wait(), 0) << "mosquitto_sub -V " << version;
    EXPECT_EQ(read_file(out), "strata/v1/devices/d2/commands/reboot {\"id\":\"" + id +
                                  "\",\"name\":\"reboot\",\"params\":{\"delay_s\":3}}\n");
    // mosquitto_sub disconnects normally after -C 1; its clean session leaves nothing behind.
    ASSERT_TRUE(
        harness_.wait_stats([](const MqttEndpointStats& s) { return s.connections_active == 0; }));
  }
}

TEST_F(MqttEndpointClients, PahoCPublishesAndReceivesACommand) {
  for (const int version : {MQTTVERSION_3_1_1, MQTTVERSION_5}) {
    const std::string client_id = "paho-v" + std::to_string(version);
    MQTTClient client = nullptr;
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = version;
    ASSERT_EQ(MQTTClient_createWithOptions(&client, ("tcp://127.0.0.1:" + port()).c_str(),
                                           client_id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr,
                                           &create),
              MQTTCLIENT_SUCCESS);
    MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
    if (version == MQTTVERSION_5) {
      MQTTClient_connectOptions v5 = MQTTClient_connectOptions_initializer5;
      options = v5;
    } else {
      options.cleansession = 1;
    }
    options.MQTTVersion = version;
    options.username = "tok-d1";
    options.keepAliveInterval = 30;
    const bool v5 = version == MQTTVERSION_5;
    // Paho's *5 functions are for 5.0 clients only; 3.1.1 uses the classic ones.
    if (v5) {
      MQTTResponse connected = MQTTClient_connect5(client, &options, nullptr, nullptr);
      ASSERT_EQ(connected.reasonCode, MQTTREASONCODE_SUCCESS);
      MQTTResponse_free(connected);
    } else {
      ASSERT_EQ(MQTTClient_connect(client, &options), MQTTCLIENT_SUCCESS);
    }

    constexpr std::size_t kCount = 30;
    for (std::size_t i = 0; i < kCount; ++i) {
      std::ostringstream body;
      body << "{\"seq\":" << i << ",\"temp\":" << 20.0 + static_cast<double>(i) / 2 << "}";
      const std::string payload = body.str();
      MQTTClient_message msg = MQTTClient_message_initializer;
      msg.payload = const_cast<char*>(payload.data());
      msg.payloadlen = static_cast<int>(payload.size());
      msg.qos = 1;
      MQTTClient_deliveryToken token = 0;
      if (v5) {
        MQTTResponse r =
            MQTTClient_publishMessage5(client, "v1/devices/me/telemetry", &msg, &token);
        ASSERT_EQ(r.reasonCode, MQTTREASONCODE_SUCCESS);
        MQTTResponse_free(r);
      } else {
        ASSERT_EQ(MQTTClient_publishMessage(client, "v1/devices/me/telemetry", &msg, &token),
                  MQTTCLIENT_SUCCESS);
      }
      ASSERT_EQ(MQTTClient_waitForCompletion(client, token, 10'000), MQTTCLIENT_SUCCESS)
          << "no PUBACK for message " << i;
    }
    expect_messages("d1", client_id + "/", kCount);

    if (v5) {
      MQTTResponse sub =
          MQTTClient_subscribe5(client, "strata/v1/devices/d1/commands/+", 1, nullptr, nullptr);
      ASSERT_EQ(sub.reasonCode, MQTTREASONCODE_GRANTED_QOS_1);
      MQTTResponse_free(sub);
    } else {
      ASSERT_EQ(MQTTClient_subscribe(client, "strata/v1/devices/d1/commands/+", 1),
                MQTTCLIENT_SUCCESS);
    }
    const std::string id = command_when_subscribed("d1", "calibrate", "[1,2]");
    char* topic = nullptr;
    int topic_len = 0;
    MQTTClient_message* received = nullptr;
    ASSERT_EQ(MQTTClient_receive(client, &topic, &topic_len, &received, 10'000),
              MQTTCLIENT_SUCCESS);
    ASSERT_NE(received, nullptr) << "no command within 10 s";
    EXPECT_STREQ(topic, "strata/v1/devices/d1/commands/calibrate");
    EXPECT_EQ(received->qos, 1);
    EXPECT_EQ(std::string(static_cast<char*>(received->payload),
                          static_cast<std::size_t>(received->payloadlen)),
              "{\"id\":\"" + id + "\",\"name\":\"calibrate\",\"params\":[1,2]}");
    MQTTClient_freeMessage(&received);
    MQTTClient_free(topic);
    if (v5) {
      MQTTClient_disconnect5(client, 1000, MQTTREASONCODE_SUCCESS, nullptr);
    } else {
      MQTTClient_disconnect(client, 1000);
    }
    MQTTClient_destroy(&client);
    ASSERT_TRUE(harness_.wait_stats([](const MqttEndpointStats& s) {
      return s.connections_active == 0 && s.commands_queued == 0;
    })) << "the command was PUBACKed";
  }
}

TEST_F(MqttEndpointClients, MqttJsPublishesAndReceivesACommand) {
  const fs::path script =
      fs::path(STRATA_SOURCE_DIR) / "tests/integration/clients/mqttjs_client.js";
  for (const std::string version : {"4", "5"}) {
    constexpr std::size_t kCount = 25;
    const fs::path out = dir_ / ("node-" + version + ".out");
    ChildProcess node(
        {"node", script.string(), port(), "tok-d2", "d2", std::to_string(kCount), version}, {},
        out);
    // The script prints "ready" once every publish has been acknowledged.
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (read_file(out).find("ready\n") == std::string::npos &&
           std::chrono::steady_clock::now() < until && !node.wait(0ms)) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_NE(read_file(out).find("ready\n"), std::string::npos) << read_file(out);
    std::set<std::int64_t> stamps;
    std::size_t mine = 0;
    for (const auto& m : sink_.messages()) {
      if (m.message_id.rfind("mqttjs-d2-v" + version + "/", 0) != 0) continue;
      ++mine;
      EXPECT_EQ(m.device_id, "d2");
      ASSERT_EQ(m.readings.size(), 2u);
      ASSERT_TRUE(m.readings[0].ts);
      const std::int64_t i = *m.readings[0].ts / 1000 - 1'700'000'000'000;
      EXPECT_EQ(m.readings[0].number, static_cast<double>(i));
      EXPECT_EQ(m.readings[1].metric, "speed");
      EXPECT_EQ(m.readings[1].number, static_cast<double>(i) * 0.25);
      stamps.insert(i);
    }
    EXPECT_EQ(mine, kCount);
    EXPECT_EQ(stamps.size(), kCount);

    const std::string id = command_when_subscribed("d2", "stop", R"({"now":true})");
    ASSERT_EQ(node.wait(), 0) << read_file(out);
    EXPECT_NE(read_file(out).find(
                  R"({"topic":"strata/v1/devices/d2/commands/stop","payload":"{\"id\":\")" + id +
                  R"(\",\"name\":\"stop\",\"params\":{\"now\":true}}"})"),
              std::string::npos)
        << read_file(out);
  }
}

}  // namespace
}  // namespace strata::ingest::mqtt

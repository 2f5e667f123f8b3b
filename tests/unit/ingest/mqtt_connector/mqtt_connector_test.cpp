// MqttConnector against a scripted broker on 127.0.0.1 (port 0) that speaks through the shared
// codec: what the connector sends (CONNECT fields, subscriptions, the Sparkplug will and STATE),
// that PUBACKs wait for their completions and leave in the order the PUBLISHes came, and that a
// Sparkplug gap's rebirth NCMD goes out on the connection.
#include "ingest/mqtt_connector/mqtt_connector.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ingest/mqtt/mqtt_codec.hpp"

namespace strata::ingest::mqtt_connector {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// The broker side of one connection: reads packets with a deadline, writes packets.
class ScriptedBroker {
 public:
  ScriptedBroker() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  [[nodiscard]] std::string url() const {
    return "mqtt://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  void accept() {
    socket_ = acceptor_.accept();
    timeval tv{5, 0};  // no test waits longer for a packet
    setsockopt(socket_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  // The next packet from the connector, or nullopt when none came within 5 s.
  std::optional<mqtt::Packet> next(bool skip_pings = true) {
    for (;;) {
      auto frame = mqtt::next_frame(buffer_, 1 << 20);
      EXPECT_TRUE(frame.ok());
      if (!frame.ok()) return std::nullopt;
      if (frame->has_value()) {
        auto packet = mqtt::decode(**frame, mqtt::Version::v5);
        EXPECT_TRUE(packet.ok()) << packet.error().message;
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>((*frame)->size));
        if (!packet.ok()) return std::nullopt;
        if (skip_pings && std::holds_alternative<mqtt::PingReq>(*packet)) continue;
        return std::move(*packet);
      }
      std::uint8_t chunk[4096];
      const ssize_t n = ::recv(socket_->native_handle(), chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.insert(buffer_.end(), chunk, chunk + n);
    }
  }
  template <class P>
  P expect() {
    auto p = next(!std::is_same_v<P, mqtt::PingReq>);
    EXPECT_TRUE(p.has_value()) << "no packet from the connector";
    if (!p) return P{};
    EXPECT_TRUE(std::holds_alternative<P>(*p)) << "got " << mqtt::packet_name(mqtt::type_of(*p));
    return std::holds_alternative<P>(*p) ? std::get<P>(*p) : P{};
  }
  void send(const mqtt::Packet& p) {
    std::vector<std::uint8_t> bytes;
    ASSERT_TRUE(mqtt::encode(p, mqtt::Version::v5, bytes).ok());
    asio::write(*socket_, asio::buffer(bytes));
  }
  void publish(std::string topic, std::string payload, std::uint8_t qos, std::uint16_t id) {
    mqtt::Publish p;
    p.topic = std::move(topic);
    p.payload = std::move(payload);
    p.qos = qos;
    p.packet_id = id;
    send(p);
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::optional<tcp::socket> socket_;
  std::vector<std::uint8_t> buffer_;
};

// Holds every completion until the test runs it (as a shard would, later and from elsewhere).
class HoldingSink final : public pipeline::TelemetrySink {
 public:
  bool submit(pipeline::TelemetryMessage& m, pipeline::Completion& done) override {
    std::lock_guard lock(m_);
    messages_.push_back(m);
    done_.push_back(std::move(done));
    return true;
  }
  bool submit(pipeline::PointBatch&, pipeline::Completion&) override { return false; }
  void quarantine(pipeline::Transport, std::string_view device, std::string_view,
                  std::string_view reason) override {
    std::lock_guard lock(m_);
    quarantined_.push_back(std::string(device) + ": " + std::string(reason));
  }
  std::size_t size() {
    std::lock_guard lock(m_);
    return done_.size();
  }
  void complete(std::size_t i) {
    pipeline::Completion done;
    {
      std::lock_guard lock(m_);
      done = done_.at(i);
    }
    done(pipeline::IngestOutcome{1, 0, {}, {}});
  }
  pipeline::TelemetryMessage message(std::size_t i) {
    std::lock_guard lock(m_);
    return messages_.at(i);
  }
  std::vector<std::string> quarantined() {
    std::lock_guard lock(m_);
    return quarantined_;
  }

 private:
  std::mutex m_;
  std::vector<pipeline::TelemetryMessage> messages_;
  std::vector<pipeline::Completion> done_;
  std::vector<std::string> quarantined_;
};

bool wait_until(const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class Running {
 public:
  Running(MqttConnectorOptions options, pipeline::TelemetrySink& sink) {
    auto c = MqttConnector::create(io_, std::move(options), sink, clock_);
    EXPECT_TRUE(c.ok()) << c.error().message;
    connector_ = std::move(c).value();
    connector_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Running() {
    connector_->stop();
    connector_.reset();
    thread_.join();
  }
  MqttConnector* operator->() { return connector_.get(); }

 private:
  SimulatedClock clock_{1'700'000'000'000'000};
  asio::io_context io_;
  std::shared_ptr<MqttConnector> connector_;
  std::thread thread_;
};

TEST(MqttConnector, ConnectsWithAPersistentSessionAndASharedSubscription) {
  ScriptedBroker broker;
  HoldingSink sink;
  MqttConnectorOptions o;
  o.url = broker.url();
  o.client_id = "strata-1";
  o.username = "u";
  o.password = "p";
  o.receive_maximum = 7;
  o.routes.push_back({"plant/{site}/{line}/{device}/telemetry", "{site}/{device}"});
  Running connector(o, sink);
  broker.accept();
  const auto c = broker.expect<mqtt::Connect>();
  EXPECT_EQ(c.version, mqtt::Version::v5);
  EXPECT_FALSE(c.clean_start);
  EXPECT_EQ(c.client_id, "strata-1");
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "p");
  EXPECT_EQ(c.properties.session_expiry_interval, 3600u);
  EXPECT_EQ(c.properties.receive_maximum, 7);
  EXPECT_FALSE(c.will.has_value());
  broker.send(mqtt::Connack{});
  const auto s = broker.expect<mqtt::Subscribe>();
  ASSERT_EQ(s.subscriptions.size(), 1u);
  EXPECT_EQ(s.subscriptions[0].filter, "$share/strata/plant/+/+/+/telemetry");
  EXPECT_EQ(s.subscriptions[0].qos, 1);
  broker.send(mqtt::Suback{s.packet_id, {}, {1}});

  // Three QoS 1 messages; their completions come 3, 1, 2. PUBACKs: 10 after 1, then 11 and 12.
  for (int i = 0; i < 3; ++i) {
    broker.publish("plant/a/l1/p" + std::to_string(i) + "/telemetry",
                   "{\"n\":" + std::to_string(i) + "}", 1, static_cast<std::uint16_t>(10 + i));
  }
  ASSERT_TRUE(wait_until([&] { return sink.size() == 3; }));
  EXPECT_EQ(sink.message(1).device_id, "a/p1");
  EXPECT_EQ(sink.message(1).transport, pipeline::Transport::mqtt_connector);
  EXPECT_EQ(sink.message(1).readings.at(0).metric, "n");
  EXPECT_EQ(sink.message(1).readings.at(0).number, 1);
  EXPECT_EQ(sink.message(1).received, 1'700'000'000'000'000);
  EXPECT_EQ(connector->stats().acked, 0u);
  sink.complete(2);
  sink.complete(0);
  EXPECT_EQ(broker.expect<mqtt::PubAck>().packet_id, 10);
  sink.complete(1);
  EXPECT_EQ(broker.expect<mqtt::PubAck>().packet_id, 11);
  EXPECT_EQ(broker.expect<mqtt::PubAck>().packet_id, 12);

  // A message that yields nothing (not JSON) is quarantined and acknowledged at once.
  broker.publish("plant/a/l1/p9/telemetry", "not json", 1, 13);
  EXPECT_EQ(broker.expect<mqtt::PubAck>().packet_id, 13);
  ASSERT_EQ(sink.quarantined().size(), 1u);
  EXPECT_EQ(sink.quarantined()[0].rfind("a/p9: topic 'plant/a/l1/p9/telemetry'", 0), 0u)
      << sink.quarantined()[0];
}

TEST(MqttConnector, IsASparkplugPrimaryHostOnTheConnection) {
  ScriptedBroker broker;
  HoldingSink sink;
  MqttConnectorOptions o;
  o.url = broker.url();
  o.client_id = "strata-h";
  o.sparkplug = sparkplug::SparkplugHostOptions{};
  o.sparkplug->host_id = "h1";
  o.sparkplug_filters = {"spBv1.0/g/#"};
  {
    Running connector(o, sink);
    broker.accept();
    const auto c = broker.expect<mqtt::Connect>();
    ASSERT_TRUE(c.will.has_value());
    EXPECT_EQ(c.will->topic, "spBv1.0/STATE/h1");
    EXPECT_EQ(c.will->qos, 1);
    EXPECT_TRUE(c.will->retain);
    const auto will = nlohmann::json::parse(c.will->payload);
    EXPECT_EQ(will["online"], false);
    EXPECT_EQ(will["timestamp"], 1'700'000'000'000);
    broker.send(mqtt::Connack{});
    const auto s = broker.expect<mqtt::Subscribe>();
    ASSERT_EQ(s.subscriptions.size(), 2u);
    EXPECT_EQ(s.subscriptions[0].filter, "spBv1.0/g/#");  // never shared
    EXPECT_EQ(s.subscriptions[1].filter, "spBv1.0/STATE/h1");
    broker.send(mqtt::Suback{s.packet_id, {}, {1, 1}});
    const auto birth = broker.expect<mqtt::Publish>();
    EXPECT_EQ(birth.topic, "spBv1.0/STATE/h1");
    EXPECT_TRUE(birth.retain);
    EXPECT_EQ(birth.qos, 1);
    EXPECT_EQ(nlohmann::json::parse(birth.payload)["online"], true);
    EXPECT_EQ(nlohmann::json::parse(birth.payload)["timestamp"], will["timestamp"]);
    broker.send(mqtt::PubAck{mqtt::PacketType::puback, birth.packet_id, 0, {}});

    // NDATA before any NBIRTH (QoS 0, an empty payload is a valid empty Payload).
    broker.publish("spBv1.0/g/NDATA/e", std::string("\x18\x05", 2), 0, 0);  // seq 5
    const auto ncmd = broker.expect<mqtt::Publish>();
    EXPECT_EQ(ncmd.topic, "spBv1.0/g/NCMD/e");
    EXPECT_EQ(ncmd.qos, 0);
    auto payload = sparkplug::decode_payload(ncmd.payload);
    ASSERT_TRUE(payload.ok());
    ASSERT_EQ(payload->metrics.size(), 1u);
    EXPECT_EQ(payload->metrics[0].name, "Node Control/Rebirth");
    EXPECT_EQ(payload->metrics[0].value.integer, 1u);
    ASSERT_TRUE(wait_until([&] { return sink.quarantined().size() == 1; }));
  }
  // stop(): STATE offline first, then DISCONNECT.
  const auto offline = broker.expect<mqtt::Publish>();
  EXPECT_EQ(offline.topic, "spBv1.0/STATE/h1");
  EXPECT_EQ(nlohmann::json::parse(offline.payload)["online"], false);
  broker.expect<mqtt::Disconnect>();
}

TEST(MqttConnector, KeepsTheKeepAliveTheBrokerImposes) {
  ScriptedBroker broker;
  HoldingSink sink;
  MqttConnectorOptions o;
  o.url = broker.url();
  o.client_id = "strata-k";
  o.keep_alive = std::chrono::seconds(60);
  o.routes.push_back({"t/{device}", "{device}"});
  Running connector(o, sink);
  broker.accept();
  EXPECT_EQ(broker.expect<mqtt::Connect>().keep_alive, 60);
  mqtt::Connack ack;
  ack.properties.server_keep_alive = 1;  // a PINGREQ within half a second, not half a minute
  broker.send(ack);
  const auto s = broker.expect<mqtt::Subscribe>();
  broker.send(mqtt::Suback{s.packet_id, {}, {1}});
  broker.expect<mqtt::PingReq>();
  broker.send(mqtt::PingResp{});
  broker.expect<mqtt::PingReq>();
}

TEST(MqttConnector, RefusesOptionsThatCannotWork) {
  asio::io_context io;
  HoldingSink sink;
  SystemClock clock;
  const auto error_of = [&](MqttConnectorOptions o) {
    auto c = MqttConnector::create(io, std::move(o), sink, clock);
    EXPECT_FALSE(c.ok());
    return c.ok() ? std::string() : c.error().message;
  };
  MqttConnectorOptions good;
  good.url = "mqtt://127.0.0.1:1883";
  good.client_id = "c";
  good.routes.push_back({"a/{device}", "{device}"});
  EXPECT_TRUE(MqttConnector::create(io, good, sink, clock).ok());
  auto o = good;
  o.url = "mqtts://x";
  EXPECT_TRUE(MqttConnector::create(io, o, sink, clock).ok()) << "TLS with the system's CAs";
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_NE(error_of(o).find("cannot load ca_file '/nonexistent/ca.pem'"), std::string::npos);
  o = good;
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  EXPECT_NE(error_of(o).find("use mqtts://"), std::string::npos);
  o.url = "mqtts://x";
  o.cert_file = "client.pem";
  EXPECT_NE(error_of(o).find("both cert_file and key_file"), std::string::npos);
  o = good;
  o.client_id.clear();
  EXPECT_NE(error_of(o).find("needs a client_id"), std::string::npos);
  o = good;
  o.routes.clear();
  EXPECT_NE(error_of(o).find("nothing to subscribe"), std::string::npos);
  o = good;
  o.share_group = "a/b";
  EXPECT_NE(error_of(o).find("share_group"), std::string::npos);
  o = good;
  o.sparkplug = sparkplug::SparkplugHostOptions{};
  EXPECT_NE(error_of(o).find("host id"), std::string::npos);
  o.sparkplug->host_id = "h";
  o.sparkplug_filters = {"plant/#"};
  EXPECT_NE(error_of(o).find("must start with spBv1.0/"), std::string::npos);
}

}  // namespace
}  // namespace strata::ingest::mqtt_connector

#include "ingest/mqtt/mqtt_endpoint.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "mqtt/mqtt_test_support.hpp"

namespace strata::ingest::mqtt {
namespace {

using namespace mqtt_test;
using namespace std::chrono_literals;

// How long a test watches for a packet that must not come.
constexpr auto kQuiet = 300ms;

TEST(MqttEndpoint, PubackOnlyAfterTheCompletionRuns) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  RawClient c(h.endpoint->port(), Version::v311);
  auto ack = c.connect("c1", "tok-d1");
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->reason_code, 0);
  EXPECT_FALSE(ack->session_present);

  c.send(
      telemetry("v1/devices/me/telemetry", R"({"temp":21.5,"running":true,"state":"idle"})", 1, 7));
  ASSERT_TRUE(sink.wait_messages(1));
  EXPECT_FALSE(c.receive(kQuiet)) << "PUBACK before the completion";
  EXPECT_EQ(c.status(), RawClient::Status::timeout);

  const auto m = sink.messages().at(0);
  EXPECT_EQ(m.transport, pipeline::Transport::mqtt);
  EXPECT_EQ(m.device_id, "d1");
  EXPECT_EQ(m.message_id, "c1/7");
  EXPECT_EQ(m.received, 1'700'000'000'000'000);
  ASSERT_TRUE(m.raw);
  EXPECT_EQ(*m.raw, R"({"temp":21.5,"running":true,"state":"idle"})");
  ASSERT_EQ(m.readings.size(), 3u);
  EXPECT_EQ(m.readings[0].metric, "temp");
  EXPECT_EQ(m.readings[0].number, 21.5);
  EXPECT_EQ(m.readings[1].number, 1.0);
  EXPECT_EQ(*m.readings[2].text, "idle");

  // Some readings quarantined is still a durable outcome: acknowledged.
  pipeline::IngestOutcome outcome;
  outcome.stored = 2;
  outcome.quarantined = 1;
  outcome.reasons = {"metric 'state' is not in the model"};
  sink.complete(0, outcome);
  auto puback = c.receive_as<PubAck>();
  ASSERT_TRUE(puback);
  EXPECT_EQ(puback->packet_id, 7);
  EXPECT_EQ(h.endpoint->stats().messages_acknowledged, 1u);
}

TEST(MqttEndpoint, AcksLeaveInPublishOrderWhateverOrderTheCompletionsRun) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  RawClient c(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(c.connect("c1", "d1", "secret-d1"));  // device id + secret
  c.send(telemetry("strata/v1/devices/d1/telemetry", R"({"a":1})", 1, 1));
  c.send(telemetry("strata/v1/devices/d1/telemetry", R"({"a":2})", 1, 2));
  ASSERT_TRUE(sink.wait_messages(2));
  sink.complete(1);
  EXPECT_FALSE(c.receive(kQuiet)) << "PUBACK 2 before PUBACK 1 [MQTT-4.6.0-2]";
  sink.complete(0);
  auto first = c.receive_as<PubAck>();
  auto second = c.receive_as<PubAck>();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->packet_id, 1);
  EXPECT_EQ(second->packet_id, 2);
}

TEST(MqttEndpoint, StoreErrorIsANegativePubackIn5AndAClosedConnectionIn311) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  pipeline::IngestOutcome failed;
  failed.status = Error{1, "WAL write failed"};

  RawClient v5(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(v5.connect("c5", "tok-d1"));
  v5.send(telemetry("v1/devices/me/telemetry", R"({"a":1})", 1, 3));
  ASSERT_TRUE(sink.wait_messages(1));
  sink.complete(0, failed);
  auto nack = v5.receive_as<PubAck>();
  ASSERT_TRUE(nack);
  EXPECT_EQ(nack->packet_id, 3);
  EXPECT_EQ(nack->reason_code, reason::unspecified_error);

  RawClient v3(h.endpoint->port(), Version::v311);
  ASSERT_TRUE(v3.connect("c3", "tok-d1"));
  v3.send(telemetry("v1/devices/me/telemetry", R"({"a":1})", 1, 4));
  ASSERT_TRUE(sink.wait_messages(2));
  sink.complete(1, failed);
  EXPECT_TRUE(v3.wait_closed()) << "3.1.1 has no negative PUBACK: the connection must close";
}

TEST(MqttEndpoint, UndecodablePayloadIsQuarantinedAndAcknowledged) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  RawClient c(h.endpoint->port(), Version::v311);
  ASSERT_TRUE(c.connect("c1", "tok-d1"));
  c.send(telemetry("v1/devices/me/telemetry", "{not json", 1, 9));
  auto ack = c.receive_as<PubAck>();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->packet_id, 9);
  auto q = sink.quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].device, "d1");
  EXPECT_EQ(q[0].raw, "{not json");
  EXPECT_NE(q[0].reason.find("not valid JSON"), std::string::npos) << q[0].reason;
  EXPECT_EQ(sink.message_count(), 0u);

  // A refused key is quarantined, the rest goes on.
  c.send(telemetry("v1/devices/me/telemetry", R"({"a":1,"b":{"c":2}})", 1, 10));
  ASSERT_TRUE(sink.wait_messages(1));
  ASSERT_EQ(sink.quarantined().size(), 2u);
  EXPECT_NE(sink.quarantined()[1].reason.find("'b' holds an object"), std::string::npos);
  EXPECT_EQ(sink.messages()[0].readings.size(), 1u);
}

TEST(MqttEndpoint, Qos2IsRefused) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  {
    RawClient c(h.endpoint->port(), Version::v5);
    auto ack = c.connect("c1", "tok-d1");
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->properties.maximum_qos, 1);
    c.send(telemetry("v1/devices/me/telemetry", R"({"a":1})", 2, 1));
    auto d = c.receive_as<Disconnect>();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->reason_code, reason::qos_not_supported);
    EXPECT_TRUE(c.wait_closed());
  }
  {
    RawClient c(h.endpoint->port(), Version::v311);
    ASSERT_TRUE(c.connect("c2", "tok-d1"));
    c.send(telemetry("v1/devices/me/telemetry", R"({"a":1})", 2, 1));
    EXPECT_TRUE(c.wait_closed());
  }
  {
    RawClient c(h.endpoint->port(), Version::v5);
    Will will{"v1/devices/me/telemetry", R"({"online":0})", 2, false, {}};
    auto ack = c.connect("c3", "tok-d1", std::nullopt, true, 60, will);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->reason_code, reason::qos_not_supported);
    EXPECT_TRUE(c.wait_closed());
  }
  EXPECT_EQ(sink.message_count(), 0u);
  EXPECT_GE(h.endpoint->stats().publishes_refused, 2u);
}

TEST(MqttEndpoint, WrongCredentialsAreRefusedInEachVersionsCode) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  struct Case {
    Version version;
    std::optional<std::string> user;
    std::optional<std::string> password;
    std::uint8_t code;
  };
  for (const Case& k : {Case{Version::v311, "tok-wrong", std::nullopt, 4},
                        Case{Version::v311, std::nullopt, std::nullopt, 5},
                        Case{Version::v311, "d1", "not-the-secret", 4},
                        Case{Version::v5, "tok-wrong", "", reason::bad_username_or_password},
                        Case{Version::v5, std::nullopt, std::nullopt, reason::not_authorized}}) {
    RawClient c(h.endpoint->port(), k.version);
    auto ack = c.connect("c", k.user, k.password);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->reason_code, k.code);
    EXPECT_TRUE(c.wait_closed());
  }
  EXPECT_EQ(h.endpoint->stats().connects_refused, 5u);
}

TEST(MqttEndpoint, ADeviceCannotPublishOrSubscribeToAnotherDevicesTopics) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  {
    RawClient c(h.endpoint->port(), Version::v5);
    ASSERT_TRUE(c.connect("c1", "tok-d1"));
    c.send(telemetry("strata/v1/devices/d2/telemetry", R"({"a":1})", 1, 5));
    auto nack = c.receive_as<PubAck>();
    ASSERT_TRUE(nack);
    EXPECT_EQ(nack->reason_code, reason::not_authorized);
    Subscribe s{6,
                {},
                {{"strata/v1/devices/d2/commands/+", 1},
                 {"strata/v1/devices/d1/commands/+", 2},
                 {"strata/v1/devices/+/commands/+", 1},
                 {"a/#/b", 0}}};
    c.send(s);
    auto suback = c.receive_as<Suback>();
    ASSERT_TRUE(suback);
    EXPECT_EQ(suback->reason_codes,
              (std::vector<std::uint8_t>{reason::not_authorized, 1, reason::not_authorized,
                                         reason::topic_filter_invalid}));
    c.send(PingReq{});
    EXPECT_TRUE(c.receive_as<PingResp>()) << "a refused PUBACK keeps the 5.0 connection";
  }
  {
    RawClient c(h.endpoint->port(), Version::v311);
    ASSERT_TRUE(c.connect("c2", "tok-d1"));
    Subscribe s{
        1, {}, {{"strata/v1/devices/d2/commands/+", 1}, {"v1/devices/me/rpc/request/+", 1}}};
    c.send(s);
    auto suback = c.receive_as<Suback>();
    ASSERT_TRUE(suback);
    EXPECT_EQ(suback->reason_codes, (std::vector<std::uint8_t>{0x80, 1}));
    c.send(telemetry("strata/v1/devices/d2/telemetry", R"({"a":1})", 1, 5));
    EXPECT_TRUE(c.wait_closed()) << "3.1.1 has no negative PUBACK: the connection must close";
  }
  EXPECT_EQ(sink.message_count(), 0u);
  EXPECT_EQ(h.endpoint->stats().subscriptions_refused, 4u);
}

TEST(MqttEndpoint, BackPressurePausesReadingAndLosesNothing) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  RawClient c1(h.endpoint->port(), Version::v311);
  RawClient c2(h.endpoint->port(), Version::v311);
  ASSERT_TRUE(c1.connect("c1", "tok-d1"));
  ASSERT_TRUE(c2.connect("c2", "tok-d2"));

  sink.block("d1", true);
  for (std::uint16_t i = 1; i <= 3; ++i) {
    c1.send(telemetry("v1/devices/me/telemetry", "{\"n\":" + std::to_string(i) + "}", 1, i));
  }
  c1.send(PingReq{});
  ASSERT_TRUE(sink.wait_refused(3)) << "the endpoint retries the refused submit";
  EXPECT_GE(h.endpoint->stats().backpressure_pauses, 1u);
  // Paused: the PINGREQ behind the refused message is not read, so no PINGRESP.
  EXPECT_FALSE(c1.receive(kQuiet));
  EXPECT_EQ(c1.status(), RawClient::Status::timeout);

  // Another connection is not held up.
  c2.send(telemetry("v1/devices/me/telemetry", R"({"x":1})", 1, 1));
  ASSERT_TRUE(sink.wait_messages(1));
  EXPECT_EQ(sink.messages()[0].device_id, "d2");
  sink.complete(0);
  auto ack2 = c2.receive_as<PubAck>();
  ASSERT_TRUE(ack2);

  sink.block("d1", false);
  ASSERT_TRUE(sink.wait_messages(4));
  auto pingresp = c1.receive_as<PingResp>();
  ASSERT_TRUE(pingresp) << "reading resumed";
  const auto msgs = sink.messages();
  for (std::size_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(msgs[i].device_id, "d1");
    EXPECT_EQ(msgs[i].message_id, "c1/" + std::to_string(i));
    ASSERT_EQ(msgs[i].readings.size(), 1u);
    EXPECT_EQ(msgs[i].readings[0].number, static_cast<double>(i));
  }
  for (std::size_t i = 1; i <= 3; ++i) sink.complete(i);
  for (std::uint16_t i = 1; i <= 3; ++i) {
    auto ack = c1.receive_as<PubAck>();
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->packet_id, i);
  }
}

TEST(MqttEndpoint, CommandsReachSubscribersWithAnIdAndResponsesReachTheHook) {
  RecordingSink sink;
  EndpointHarness h(sink);
  std::mutex mu;
  std::vector<CommandResponse> responses;
  h.endpoint->set_command_response_handler([&](const CommandResponse& r) {
    std::lock_guard lock(mu);
    responses.push_back(r);
  });
  h.start();
  EXPECT_FALSE(h.endpoint->send_command("d1", "reboot", "{}").ok()) << "nobody subscribed";

  RawClient c(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(c.connect("c1", "tok-d1"));
  c.send(Subscribe{1, {}, {{"strata/v1/devices/d1/commands/+", 1}}});
  ASSERT_TRUE(c.receive_as<Suback>());
  EXPECT_FALSE(h.endpoint->send_command("d1", "a/b", "{}").ok());
  EXPECT_FALSE(h.endpoint->send_command("d1", "reboot", "{oops").ok());
  auto id = h.endpoint->send_command("d1", "reboot", R"({"delay":5})");
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto cmd = c.receive_as<Publish>();
  ASSERT_TRUE(cmd);
  EXPECT_EQ(cmd->topic, "strata/v1/devices/d1/commands/reboot");
  EXPECT_EQ(cmd->qos, 1);
  EXPECT_EQ(cmd->payload, R"({"id":")" + *id + R"(","name":"reboot","params":{"delay":5}})");
  c.send(PubAck{PacketType::puback, cmd->packet_id, 0, {}});
  c.send(telemetry("strata/v1/devices/d1/commands/" + *id + "/response", R"({"ok":true})", 1, 2));
  ASSERT_TRUE(c.receive_as<PubAck>());
  std::lock_guard lock(mu);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].device_id, "d1");
  EXPECT_EQ(responses[0].command_id, *id);
  EXPECT_EQ(responses[0].payload, R"({"ok":true})");
}

TEST(MqttEndpoint, ThingsBoardRpcRequestsAndResponsesMapToCommandIds) {
  RecordingSink sink;
  EndpointHarness h(sink);
  std::mutex mu;
  std::vector<CommandResponse> responses;
  h.endpoint->set_command_response_handler([&](const CommandResponse& r) {
    std::lock_guard lock(mu);
    responses.push_back(r);
  });
  h.start();
  RawClient c(h.endpoint->port(), Version::v311);
  ASSERT_TRUE(c.connect("tb", "tok-d2"));
  c.send(Subscribe{1, {}, {{"v1/devices/me/rpc/request/+", 1}}});
  ASSERT_TRUE(c.receive_as<Suback>());
  auto id = h.endpoint->send_command("d2", "setValve", "42");
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto req = c.receive_as<Publish>();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->topic, "v1/devices/me/rpc/request/1");
  EXPECT_EQ(req->payload, R"({"method":"setValve","params":42})");
  c.send(PubAck{PacketType::puback, req->packet_id, 0, {}});
  c.send(telemetry("v1/devices/me/rpc/response/1", R"({"done":1})", 0, 0));
  c.send(PingReq{});
  ASSERT_TRUE(c.receive_as<PingResp>());
  std::lock_guard lock(mu);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].command_id, *id);
}

TEST(MqttEndpoint, PersistentSessionQueuesCommandsAndRedeliversWithDupUntilAcked) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  {
    RawClient c(h.endpoint->port(), Version::v311);
    auto ack = c.connect("keep", "tok-d1", std::nullopt, /*clean=*/false);
    ASSERT_TRUE(ack);
    EXPECT_FALSE(ack->session_present);
    c.send(Subscribe{1, {}, {{"strata/v1/devices/d1/commands/+", 1}}});
    ASSERT_TRUE(c.receive_as<Suback>());
    c.send(Disconnect{});
    EXPECT_TRUE(c.wait_closed());
  }
  ASSERT_TRUE(h.wait_stats([](const MqttEndpointStats& s) { return s.connections_active == 0; }));
  auto id = h.endpoint->send_command("d1", "open", R"({"v":1})");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(h.endpoint->stats().commands_queued, 1u);
  std::uint16_t packet_id = 0;
  {
    RawClient c(h.endpoint->port(), Version::v311);
    auto ack = c.connect("keep", "tok-d1", std::nullopt, false);
    ASSERT_TRUE(ack);
    EXPECT_TRUE(ack->session_present);
    auto cmd = c.receive_as<Publish>();
    ASSERT_TRUE(cmd);
    EXPECT_FALSE(cmd->dup);
    EXPECT_NE(cmd->payload.find(*id), std::string::npos);
    packet_id = cmd->packet_id;
    // No PUBACK: the connection drops.
  }
  ASSERT_TRUE(h.wait_stats([](const MqttEndpointStats& s) { return s.connections_active == 0; }));
  {
    RawClient c(h.endpoint->port(), Version::v311);
    auto ack = c.connect("keep", "tok-d1", std::nullopt, false);
    ASSERT_TRUE(ack && ack->session_present);
    auto again = c.receive_as<Publish>();
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->dup);
    EXPECT_EQ(again->packet_id, packet_id);
    EXPECT_NE(again->payload.find(*id), std::string::npos);
    c.send(PubAck{PacketType::puback, again->packet_id, 0, {}});
    ASSERT_TRUE(h.wait_stats([](const MqttEndpointStats& s) { return s.commands_queued == 0; }));
    c.send(Disconnect{});
  }
  const auto s = h.endpoint->stats();
  EXPECT_EQ(s.commands_sent, 1u);
  EXPECT_EQ(s.commands_redelivered, 1u);

  // A clean session drops what the old one kept.
  RawClient c(h.endpoint->port(), Version::v311);
  auto ack = c.connect("keep", "tok-d1", std::nullopt, true);
  ASSERT_TRUE(ack);
  EXPECT_FALSE(ack->session_present);
}

TEST(MqttEndpoint, SessionExpiryKeepsA5SessionAndTheClientsMaximumPacketSizeIsHonoured) {
  RecordingSink sink;
  EndpointHarness h(sink);
  std::mutex mu;
  std::vector<std::string> refusals;
  h.endpoint->set_refusal_handler([&](std::string_view, std::string_view why) {
    std::lock_guard lock(mu);
    refusals.emplace_back(why);
  });
  h.start();
  {
    RawClient c(h.endpoint->port(), Version::v5);
    Properties p;
    p.session_expiry_interval = 600;
    ASSERT_TRUE(c.connect("v5keep", "tok-d1", std::nullopt, true, 60, std::nullopt, p));
    c.send(Subscribe{1, {}, {{"strata/v1/devices/d1/commands/+", 1}}});
    ASSERT_TRUE(c.receive_as<Suback>());
    c.send(Disconnect{});
    EXPECT_TRUE(c.wait_closed());
  }
  ASSERT_TRUE(h.wait_stats([](const MqttEndpointStats& s) { return s.connections_active == 0; }));
  EXPECT_EQ(h.endpoint->stats().sessions_persistent, 1u);
  auto small = h.endpoint->send_command("d1", "ping", "1");
  ASSERT_TRUE(small.ok()) << small.error().message;

  RawClient c(h.endpoint->port(), Version::v5);
  Properties p;
  p.maximum_packet_size = 120;
  auto ack = c.connect("v5keep", "tok-d1", std::nullopt, false, 60, std::nullopt, p);
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->session_present);
  auto cmd = c.receive_as<Publish>();
  ASSERT_TRUE(cmd);
  EXPECT_NE(cmd->payload.find(*small), std::string::npos);
  c.send(PubAck{PacketType::puback, cmd->packet_id, 0, {}});

  auto big = h.endpoint->send_command("d1", "ping", "\"" + std::string(200, 'x') + "\"");
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(c.receive(kQuiet)) << "a packet above the client's maximum packet size";
  EXPECT_EQ(c.status(), RawClient::Status::timeout);
  std::lock_guard lock(mu);
  ASSERT_FALSE(refusals.empty());
  EXPECT_NE(refusals.back().find("exceeds the client's maximum packet size of 120"),
            std::string::npos)
      << refusals.back();
}

TEST(MqttEndpoint, KeepAliveTimeoutClosesAndTheWillIsIngested) {
  RecordingSink sink;
  MqttEndpointOptions options;
  options.keep_alive_min_s = 1;
  EndpointHarness h(sink, options);
  std::mutex mu;
  std::vector<DeviceWill> wills;
  h.endpoint->set_will_handler([&](const DeviceWill& w) {
    std::lock_guard lock(mu);
    wills.push_back(w);
  });
  h.start();
  RawClient c(h.endpoint->port(), Version::v5);
  Will will{"v1/devices/me/telemetry", R"({"online":false})", 1, false, {}};
  auto ack = c.connect("sleepy", "tok-d1", std::nullopt, true, 1, will);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->reason_code, 0);
  auto d = c.receive_as<Disconnect>(5s);  // after 1.5 s of silence
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason_code, reason::keep_alive_timeout);
  EXPECT_TRUE(c.wait_closed());
  ASSERT_TRUE(sink.wait_messages(1));
  const auto m = sink.messages()[0];
  EXPECT_EQ(m.device_id, "d1");
  EXPECT_EQ(m.message_id, "sleepy/will");
  ASSERT_EQ(m.readings.size(), 1u);
  EXPECT_EQ(m.readings[0].metric, "online");
  EXPECT_EQ(m.readings[0].number, 0.0);
  std::lock_guard lock(mu);
  ASSERT_EQ(wills.size(), 1u);
  EXPECT_EQ(wills[0].client_id, "sleepy");
  EXPECT_EQ(h.endpoint->stats().keep_alive_timeouts, 1u);
}

TEST(MqttEndpoint, NormalDisconnectDiscardsTheWill) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  {
    RawClient c(h.endpoint->port(), Version::v311);
    Will will{"v1/devices/me/telemetry", R"({"online":0})", 0, false, {}};
    ASSERT_TRUE(c.connect("w", "tok-d1", std::nullopt, true, 60, will));
    c.send(Disconnect{});
    EXPECT_TRUE(c.wait_closed());
  }
  {
    RawClient c(h.endpoint->port(), Version::v311);
    Will will{"v1/devices/me/telemetry", R"({"online":0})", 0, false, {}};
    ASSERT_TRUE(c.connect("w2", "tok-d1", std::nullopt, true, 60, will));
  }  // closed without DISCONNECT
  ASSERT_TRUE(sink.wait_messages(1));
  EXPECT_EQ(sink.messages()[0].message_id, "w2/will");
  EXPECT_EQ(h.endpoint->stats().wills_published, 1u);
}

TEST(MqttEndpoint, SparkplugGoesToTheHandlerAndIsAckedByIt) {
  RecordingSink sink;
  EndpointHarness h(sink);
  std::mutex mu;
  std::vector<std::pair<std::string, SparkplugAck>> got;
  h.endpoint->set_sparkplug_handler(
      [&](const DeviceIdentity& who, std::string_view topic, std::string_view, SparkplugAck ack) {
        std::lock_guard lock(mu);
        got.emplace_back(who.device_id + " " + std::string(topic), std::move(ack));
      });
  h.start();
  RawClient c(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(c.connect("edge", "tok-edge1"));
  c.send(Subscribe{
      1, {}, {{"spBv1.0/G1/NCMD/edge1", 1}, {"spBv1.0/STATE/+", 1}, {"spBv1.0/G1/NCMD/d1", 1}}});
  auto suback = c.receive_as<Suback>();
  ASSERT_TRUE(suback);
  EXPECT_EQ(suback->reason_codes, (std::vector<std::uint8_t>{1, 1, reason::not_authorized}));
  c.send(telemetry("spBv1.0/G1/NDATA/edge1", std::string("\x08\x01", 2), 1, 3));
  c.send(telemetry("spBv1.0/G1/NDATA/other", "x", 1, 4));
  // The foreign node's message is refused at once, but after the first one's PUBACK (order).
  EXPECT_FALSE(c.receive(kQuiet));
  SparkplugAck ack;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, "edge1 spBv1.0/G1/NDATA/edge1");
    ack = got[0].second;
  }
  std::thread([ack] { ack(true); }).join();
  auto first = c.receive_as<PubAck>();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->packet_id, 3);
  EXPECT_EQ(first->reason_code, 0);
  auto second = c.receive_as<PubAck>();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->packet_id, 4);
  EXPECT_EQ(second->reason_code, reason::not_authorized);

  // The host's retained STATE reaches a later subscriber; NCMD reaches the node.
  auto n = h.endpoint->publish("spBv1.0/STATE/strata", R"({"online":true})", 1, true);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  auto state = c.receive_as<Publish>();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->topic, "spBv1.0/STATE/strata");
  c.send(PubAck{PacketType::puback, state->packet_id, 0, {}});
  RawClient late(h.endpoint->port(), Version::v311);
  ASSERT_TRUE(late.connect("late", "tok-edge1"));
  late.send(Subscribe{1, {}, {{"spBv1.0/STATE/+", 1}}});
  ASSERT_TRUE(late.receive_as<Suback>());
  auto retained = late.receive_as<Publish>();
  ASSERT_TRUE(retained);
  EXPECT_TRUE(retained->retain);
  EXPECT_EQ(retained->payload, R"({"online":true})");
  EXPECT_FALSE(h.endpoint->publish("a/+", "x", 0, false).ok());
}

TEST(MqttEndpoint, TopicAliasesAreResolved) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  RawClient c(h.endpoint->port(), Version::v5);
  auto ack = c.connect("alias", "tok-d1");
  ASSERT_TRUE(ack);
  ASSERT_TRUE(ack->properties.topic_alias_maximum);
  auto first = telemetry("v1/devices/me/telemetry", R"({"a":1})", 0, 0);
  first.properties.topic_alias = 1;
  c.send(first);
  auto second = telemetry("", R"({"a":2})", 0, 0);
  second.properties.topic_alias = 1;
  c.send(second);
  ASSERT_TRUE(sink.wait_messages(2));
  EXPECT_EQ(sink.messages()[1].readings[0].number, 2.0);
  auto unknown = telemetry("", R"({"a":3})", 0, 0);
  unknown.properties.topic_alias = 2;
  c.send(unknown);
  auto d = c.receive_as<Disconnect>();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason_code, reason::protocol_error);
}

TEST(MqttEndpoint, ProtocolErrorsCloseTheConnectionWithAReason) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  {
    RawClient c(h.endpoint->port(), Version::v311);
    c.send(PingReq{});
    EXPECT_TRUE(c.wait_closed()) << "the first packet must be CONNECT";
  }
  {
    RawClient c(h.endpoint->port(), Version::v311);
    c.send_bytes({0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 6, 0x02, 0x00, 0x3C, 0x00, 0x00});
    auto ack = c.receive_as<Connack>();
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->reason_code, reason::v311_unacceptable_protocol_version);
    EXPECT_TRUE(c.wait_closed());
  }
  {
    RawClient c(h.endpoint->port(), Version::v5);
    ASSERT_TRUE(c.connect("c", "tok-d1"));
    c.send_bytes({0x30, 0x03, 0x00, 0x01, 0x00});  // U+0000 in the topic
    auto d = c.receive_as<Disconnect>();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->reason_code, reason::malformed_packet);
    ASSERT_TRUE(d->properties.reason_string);
    EXPECT_NE(d->properties.reason_string->find("U+0000"), std::string::npos);
    EXPECT_TRUE(c.wait_closed());
  }
  {
    MqttEndpointOptions small;
    small.max_packet_size = 64;
    EndpointHarness h2(sink, small);
    h2.start();
    RawClient c(h2.endpoint->port(), Version::v5);
    auto ack = c.connect("c", "tok-d1");
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->properties.maximum_packet_size, 64u);
    c.send(telemetry("v1/devices/me/telemetry", std::string(100, ' '), 0, 0));
    auto d = c.receive_as<Disconnect>();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->reason_code, reason::packet_too_large);
  }
  EXPECT_GE(h.endpoint->stats().protocol_errors, 2u);
}

TEST(MqttEndpoint, SessionTakeoverClosesTheOldConnection) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  RawClient old(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(old.connect("same", "tok-d1"));
  RawClient fresh(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(fresh.connect("same", "tok-d1"));
  auto d = old.receive_as<Disconnect>();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason_code, reason::session_taken_over);
  EXPECT_TRUE(old.wait_closed());
  fresh.send(PingReq{});
  EXPECT_TRUE(fresh.receive_as<PingResp>());
  // The same client id under another device is another session.
  RawClient other(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(other.connect("same", "tok-d2"));
  fresh.send(PingReq{});
  EXPECT_TRUE(fresh.receive_as<PingResp>());
}

TEST(MqttEndpoint, StopSaysServerShuttingDown) {
  RecordingSink sink;
  EndpointHarness h(sink);
  h.start();
  RawClient c(h.endpoint->port(), Version::v5);
  ASSERT_TRUE(c.connect("c", "tok-d1"));
  h.endpoint->stop();
  auto d = c.receive_as<Disconnect>();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason_code, reason::server_shutting_down);
  EXPECT_TRUE(c.wait_closed());
}

TEST(MqttEndpoint, CreateFailsOnAnAddressInUseOrNotAnAddress) {
  RecordingSink sink;
  EndpointHarness h(sink);
  boost::asio::io_context io;
  FixedAuthenticator auth;
  SystemClock clock;
  MqttEndpointOptions options;
  options.port = h.endpoint->port();
  // reuse_address does not allow two listeners on one port.
  auto again = MqttEndpoint::create(io, options, sink, auth, clock);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("cannot listen on 127.0.0.1:"), std::string::npos);
  options.bind_address = "localhost-ish";
  auto bad = MqttEndpoint::create(io, options, sink, auth, clock);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace strata::ingest::mqtt

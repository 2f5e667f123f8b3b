#include "ingest/mqtt/mqtt_codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::ingest::mqtt {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Frames and decodes a whole packet; the frame must be exactly the bytes given.
Result<Packet> decode_all(const Bytes& wire, Version version, std::size_t max = 1 << 20) {
  auto frame = next_frame(wire, max);
  if (!frame.ok()) return frame.error();
  EXPECT_TRUE(frame->has_value()) << "incomplete frame";
  if (!frame->has_value()) return Error{0, "incomplete"};
  EXPECT_EQ((*frame)->size, wire.size());
  return decode(**frame, version);
}

Bytes encoded(const Packet& p, Version v) {
  Bytes out;
  const Status st = encode(p, v, out);
  EXPECT_TRUE(st.ok()) << st.error().message;
  return out;
}

std::string error_of(const Bytes& wire, Version version) {
  auto r = decode_all(wire, version);
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error().message;
}

// MQTT 3.1.1 section 3.1.2.10, figure 3.6 (variable header of CONNECT), with a payload.
TEST(MqttCodec, DecodesTheSpecConnectOf311) {
  const Bytes variable = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xCE, 0x00, 0x0A};
  const Bytes payload = cat({{0x00, 0x03},
                             bytes_of("dev"),  // client id
                             {0x00, 0x04},
                             bytes_of("will"),  // will topic
                             {0x00, 0x02},
                             bytes_of("bye"),  // (2 of them) will payload
                             {0x00, 0x01},
                             bytes_of("u"),  // user name
                             {0x00, 0x02},
                             bytes_of("pw")});  // password
  Bytes body = cat({variable, payload});
  body.erase(body.begin() + 10 + 5 + 6 + 2 + 2);  // "bye" -> "by": length 2 as declared
  const Bytes wire = cat({{0x10, static_cast<std::uint8_t>(body.size())}, body});
  auto r = decode_all(wire, Version::v5);  // CONNECT carries its own version
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& c = std::get<Connect>(*r);
  EXPECT_EQ(c.version, Version::v311);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 10);
  EXPECT_EQ(c.client_id, "dev");
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "will");
  EXPECT_EQ(c.will->payload, "by");
  EXPECT_EQ(c.will->qos, 1);
  EXPECT_FALSE(c.will->retain);
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "pw");
  EXPECT_EQ(encoded(c, Version::v311), wire);
}

// MQTT 5.0 section 3.1.2.12, figure 3-6: CONNECT variable header with session expiry 10.
TEST(MqttCodec, DecodesTheSpecConnectOf5) {
  const Bytes wire = {0x10, 0x13, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, 0xC2, 0x00,
                      0x0A, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A, 0x00, 0x00,  // empty client id
                      0x00, 0x00};                                           // empty user name
  Bytes fixed = wire;
  fixed.push_back(0x00);  // password length high byte
  fixed.push_back(0x00);  // password length low byte
  fixed[1] = static_cast<std::uint8_t>(fixed.size() - 2);
  auto r = decode_all(fixed, Version::v311);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& c = std::get<Connect>(*r);
  EXPECT_EQ(c.version, Version::v5);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 10);
  EXPECT_EQ(c.properties.session_expiry_interval, 10u);
  EXPECT_EQ(c.client_id, "");
  EXPECT_EQ(c.username, "");
  EXPECT_EQ(c.password, "");
  EXPECT_EQ(encoded(c, Version::v5), fixed);
}

TEST(MqttCodec, ConnectRefusalsNameTheFieldAndTheRule) {
  auto connect = [](std::uint8_t level, std::uint8_t flags) {
    return Bytes{0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', level, flags, 0x00, 0x3C, 0x00, 0x00};
  };
  auto r = decode_all(connect(6, 0x02), Version::v5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "CONNECT: protocol level 6 is not MQTT 3.1.1 (4) or 5 (5) [MQTT-3.1.2-2]");
  EXPECT_TRUE(r.error().is(errc::unsupported_protocol_version));
  EXPECT_EQ(reason_code_for(errc::unsupported_protocol_version), 0x84);

  EXPECT_NE(error_of(connect(4, 0x03), Version::v5).find("reserved connect flag"),
            std::string::npos);
  EXPECT_NE(error_of(connect(4, 0x18), Version::v5).find("without the will flag"),
            std::string::npos);
  EXPECT_NE(error_of(connect(4, 0x42), Version::v5).find("[MQTT-3.1.2-22]"), std::string::npos);

  Bytes mqisdp = {0x10, 0x0E, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60, 0, 0};
  EXPECT_NE(error_of(mqisdp, Version::v5).find("MQTT 3.1, which is not supported"),
            std::string::npos);

  Bytes trailing = connect(4, 0x02);
  trailing.push_back(0xFF);
  trailing[1] += 1;
  EXPECT_NE(error_of(trailing, Version::v5).find("1 byte(s) after the payload"), std::string::npos);

  Bytes cut = connect(4, 0x02);
  cut.pop_back();
  cut[1] -= 1;
  EXPECT_NE(error_of(cut, Version::v5).find("client identifier is cut short"), std::string::npos);
}

TEST(MqttCodec, ConnectWithWillAndPropertiesRoundTripsIn5) {
  Connect c;
  c.version = Version::v5;
  c.clean_start = false;
  c.keep_alive = 30;
  c.client_id = "cmp-a1-01";
  c.username = "dvt_token";
  c.properties.session_expiry_interval = 3600;
  c.properties.receive_maximum = 20;
  c.properties.maximum_packet_size = 65536;
  c.properties.user_properties = {{"site", "plant-a"}, {"site", "plant-b"}};
  Will w;
  w.topic = "v1/devices/me/telemetry";
  w.payload = R"({"online":false})";
  w.qos = 1;
  w.retain = true;
  w.properties.will_delay_interval = 5;
  w.properties.content_type = "application/json";
  c.will = w;
  const Bytes wire = encoded(c, Version::v5);
  auto r = decode_all(wire, Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<Connect>(*r), c);
}

TEST(MqttCodec, ConnackCodesOfBothVersions) {
  // 3.1.1: 20 02 00 05 = not authorized.
  auto r = decode_all({0x20, 0x02, 0x00, 0x05}, Version::v311);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Connack>(*r).reason_code, reason::v311_not_authorized);
  EXPECT_NE(error_of({0x20, 0x02, 0x00, 0x06}, Version::v311).find("not 0..5"), std::string::npos);
  EXPECT_NE(error_of({0x20, 0x02, 0x02, 0x00}, Version::v311).find("[MQTT-3.2.2-1]"),
            std::string::npos);
  // 5.0: 20 03 00 87 00 = not authorized, no properties.
  r = decode_all({0x20, 0x03, 0x00, 0x87, 0x00}, Version::v5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Connack>(*r).reason_code, reason::not_authorized);
  EXPECT_NE(error_of({0x20, 0x03, 0x00, 0x10, 0x00}, Version::v5).find("reason code 0x10"),
            std::string::npos);

  Connack ack;
  ack.session_present = true;
  ack.properties.maximum_qos = 1;
  ack.properties.topic_alias_maximum = 10;
  ack.properties.assigned_client_identifier = "auto-1";
  ack.properties.retain_available = 0;
  r = decode_all(encoded(ack, Version::v5), Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<Connack>(*r), ack);
  EXPECT_EQ(encoded(Connack{}, Version::v311), (Bytes{0x20, 0x02, 0x00, 0x00}));
}

TEST(MqttCodec, PublishQos0And1WithTopicAlias) {
  // 3.1.1 QoS 0: 30 07 00 03 'a' '/' 'b' 'h' 'i'
  auto r = decode_all({0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}, Version::v311);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto p = std::get<Publish>(*r);
  EXPECT_EQ(p.topic, "a/b");
  EXPECT_EQ(p.payload, "hi");
  EXPECT_EQ(p.qos, 0);
  // 5.0 QoS 1 with DUP, RETAIN, packet id 10 and topic alias 3: 3B ...
  const Bytes wire = {0x3B, 0x0C, 0x00, 0x03, 'a',  '/',  'b',
                      0x00, 0x0A, 0x03, 0x23, 0x00, 0x03, 'x'};
  r = decode_all(wire, Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  p = std::get<Publish>(*r);
  EXPECT_TRUE(p.dup);
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.qos, 1);
  EXPECT_EQ(p.packet_id, 10);
  EXPECT_EQ(p.properties.topic_alias, 3);
  EXPECT_EQ(p.payload, "x");
  EXPECT_EQ(encoded(p, Version::v5), wire);
  // An empty topic with an alias is allowed in 5.0, not without one, and never in 3.1.1.
  EXPECT_TRUE(
      decode_all({0x32, 0x08, 0x00, 0x00, 0x00, 0x01, 0x03, 0x23, 0x00, 0x01}, Version::v5).ok());
  EXPECT_NE(
      error_of({0x32, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00}, Version::v5).find("no topic alias"),
      std::string::npos);
  EXPECT_NE(error_of({0x30, 0x02, 0x00, 0x00}, Version::v311).find("empty"), std::string::npos);
  // Topic alias 0 is a protocol error.
  auto zero =
      decode_all({0x30, 0x09, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x00, 'x', 'y'}, Version::v5);
  ASSERT_FALSE(zero.ok());
  EXPECT_TRUE(zero.error().is(errc::protocol_error));
}

TEST(MqttCodec, PublishRefusals) {
  EXPECT_NE(error_of({0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}, Version::v311)
                .find("QoS bits are 3 [MQTT-3.3.1-4]"),
            std::string::npos);
  EXPECT_NE(error_of({0x38, 0x03, 0x00, 0x01, 'a'}, Version::v311).find("DUP is 1 at QoS 0"),
            std::string::npos);
  EXPECT_NE(error_of({0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00}, Version::v311)
                .find("packet identifier 0"),
            std::string::npos);
  auto wild = decode_all({0x30, 0x03, 0x00, 0x01, '#'}, Version::v311);
  ASSERT_FALSE(wild.ok());
  EXPECT_TRUE(wild.error().is(errc::topic_name_invalid));
  EXPECT_NE(error_of({0x30, 0x03, 0x00, 0x01, 0x00}, Version::v311).find("U+0000"),
            std::string::npos);
  EXPECT_NE(error_of({0x30, 0x04, 0x00, 0x02, 0xC0, 0x80}, Version::v311).find("UTF-8"),
            std::string::npos);  // overlong NUL
  EXPECT_NE(error_of({0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80}, Version::v311).find("UTF-8"),
            std::string::npos);  // a surrogate
  // A property a PUBLISH may not carry (session expiry, 0x11).
  EXPECT_NE(error_of({0x30, 0x09, 0x00, 0x01, 'a', 0x05, 0x11, 0, 0, 0, 1}, Version::v5)
                .find("'session expiry interval' (0x11) is not allowed"),
            std::string::npos);
  // The same property twice.
  EXPECT_NE(error_of({0x30, 0x08, 0x00, 0x01, 'a', 0x04, 0x01, 0x00, 0x01, 0x00}, Version::v5)
                .find("more than once"),
            std::string::npos);
}

TEST(MqttCodec, AcksOfBothVersions) {
  // PUBACK 40 02 00 0A (3.1.1 and a 5.0 success without reason).
  for (const Version v : {Version::v311, Version::v5}) {
    auto r = decode_all({0x40, 0x02, 0x00, 0x0A}, v);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::get<PubAck>(*r).packet_id, 10);
    EXPECT_EQ(std::get<PubAck>(*r).reason_code, 0);
    EXPECT_EQ(encoded(std::get<PubAck>(*r), v), (Bytes{0x40, 0x02, 0x00, 0x0A}));
  }
  // 5.0 PUBACK 0x87 not authorized with a reason string.
  PubAck nack;
  nack.packet_id = 7;
  nack.reason_code = reason::not_authorized;
  const Bytes short_nack = encoded(nack, Version::v5);
  EXPECT_EQ(short_nack, (Bytes{0x40, 0x03, 0x00, 0x07, 0x87}));
  nack.properties.reason_string = "not your topic";
  auto r = decode_all(encoded(nack, Version::v5), Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<PubAck>(*r), nack);
  // PUBREL needs flags 0010.
  EXPECT_NE(error_of({0x60, 0x02, 0x00, 0x01}, Version::v311).find("flags are 0x00, not 0x02"),
            std::string::npos);
  r = decode_all({0x62, 0x02, 0x00, 0x01}, Version::v311);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<PubAck>(*r).type, PacketType::pubrel);
  // A 3.1.1 PUBACK is exactly two bytes.
  EXPECT_NE(error_of({0x40, 0x03, 0x00, 0x01, 0x00}, Version::v311).find("after the packet"),
            std::string::npos);
  // A 5.0 PUBREC may carry 0x9B (QoS not supported)? No: 0x9B is not a PUBREC reason.
  EXPECT_FALSE(decode_all({0x50, 0x03, 0x00, 0x01, 0x9B}, Version::v5).ok());
}

TEST(MqttCodec, SubscribeAndSubackWithOptions) {
  // 3.1.1 spec example (3.8.3.1 figure 3.23 shape): two filters, QoS 1 and 2.
  const Bytes wire = cat({{0x82, 0x0E, 0x00, 0x0A},
                          {0x00, 0x03},
                          bytes_of("a/b"),
                          {0x01},
                          {0x00, 0x03},
                          bytes_of("c/d"),
                          {0x02}});
  auto r = decode_all(wire, Version::v311);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& s = std::get<Subscribe>(*r);
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_EQ(s.subscriptions[0].filter, "a/b");
  EXPECT_EQ(s.subscriptions[1].qos, 2);
  EXPECT_EQ(encoded(s, Version::v311), wire);
  // Reserved option bits in 3.1.1, flags other than 0010, no filters.
  Bytes reserved = wire;
  reserved.back() = 0x06;
  EXPECT_NE(error_of(reserved, Version::v311).find("reserved bits 7-2"), std::string::npos);
  Bytes flags = wire;
  flags[0] = 0x80;
  EXPECT_NE(error_of(flags, Version::v311).find("[MQTT-2.2.2-1"), std::string::npos);
  EXPECT_NE(error_of({0x82, 0x02, 0x00, 0x01}, Version::v311).find("[MQTT-3.8.3-3]"),
            std::string::npos);

  Subscribe v5;
  v5.packet_id = 2;
  v5.properties.subscription_identifiers = {42};
  v5.subscriptions = {{"strata/v1/devices/d/commands/+", 1, true, true, 2}};
  r = decode_all(encoded(v5, Version::v5), Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<Subscribe>(*r), v5);
  Bytes bad_handling = encoded(v5, Version::v5);
  bad_handling.back() = 0x31;
  EXPECT_NE(error_of(bad_handling, Version::v5).find("retain handling 3"), std::string::npos);

  Suback ack{2, {}, {0x01, 0x87}};
  r = decode_all(encoded(ack, Version::v5), Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<Suback>(*r), ack);
  EXPECT_EQ(encoded(Suback{10, {}, {0x01, 0x80}}, Version::v311),
            (Bytes{0x90, 0x04, 0x00, 0x0A, 0x01, 0x80}));
  EXPECT_FALSE(decode_all({0x90, 0x03, 0x00, 0x0A, 0x87}, Version::v311).ok());
}

TEST(MqttCodec, UnsubscribePingAndDisconnect) {
  Unsubscribe u{3, {}, {"a/+", "b/#"}};
  for (const Version v : {Version::v311, Version::v5}) {
    auto r = decode_all(encoded(u, v), v);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(std::get<Unsubscribe>(*r), u);
  }
  EXPECT_EQ(encoded(Unsuback{3, {}, {}}, Version::v311), (Bytes{0xB0, 0x02, 0x00, 0x03}));
  Unsuback ua{3, {}, {0x00, 0x11}};
  auto r = decode_all(encoded(ua, Version::v5), Version::v5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Unsuback>(*r), ua);

  EXPECT_EQ(encoded(PingReq{}, Version::v311), (Bytes{0xC0, 0x00}));
  EXPECT_EQ(encoded(PingResp{}, Version::v5), (Bytes{0xD0, 0x00}));
  EXPECT_TRUE(std::holds_alternative<PingReq>(*decode_all({0xC0, 0x00}, Version::v311)));
  EXPECT_NE(error_of({0xC0, 0x01, 0x00}, Version::v311).find("remaining length must be 0"),
            std::string::npos);

  EXPECT_EQ(encoded(Disconnect{}, Version::v311), (Bytes{0xE0, 0x00}));
  Disconnect d{reason::disconnect_with_will, {}};
  d.properties.session_expiry_interval = 0;
  d.properties.reason_string = "bye";
  r = decode_all(encoded(d, Version::v5), Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<Disconnect>(*r), d);
  r = decode_all({0xE0, 0x01, 0x8E}, Version::v5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Disconnect>(*r).reason_code, reason::session_taken_over);
  EXPECT_FALSE(decode_all({0xE0, 0x01, 0x00}, Version::v311).ok());
}

TEST(MqttCodec, AuthIsParsedIn5AndReservedIn311) {
  Auth a{reason::continue_authentication, {}};
  a.properties.authentication_method = "SCRAM-SHA-1";
  a.properties.authentication_data = std::string("\x00\x01", 2);
  auto r = decode_all(encoded(a, Version::v5), Version::v5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<Auth>(*r), a);
  EXPECT_NE(error_of({0xF0, 0x00}, Version::v311).find("reserved in MQTT 3.1.1"),
            std::string::npos);
  EXPECT_NE(error_of({0x00, 0x00}, Version::v5).find("type 0 is reserved"), std::string::npos);
}

TEST(MqttCodec, FramingIsIncrementalAndBounded) {
  Publish p;
  p.topic = "t";
  p.payload = std::string(200, 'x');  // remaining length 203: two length bytes (CB 01)
  const Bytes wire = encoded(p, Version::v311);
  ASSERT_EQ(wire[1], 0xCB);
  ASSERT_EQ(wire[2], 0x01);
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto f = next_frame(std::span(wire.data(), n), 1 << 20);
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(f->has_value()) << n;
  }
  Bytes two = cat({wire, {0xC0, 0x00}});
  auto f = next_frame(two, 1 << 20);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->size, wire.size());
  auto rest = next_frame(std::span(two).subspan((*f)->size), 1 << 20);
  ASSERT_TRUE(rest.ok() && rest->has_value());
  EXPECT_EQ((*rest)->first_byte, 0xC0);

  // Too large is known from the length alone, before the body arrives.
  auto big = next_frame(std::span(wire.data(), 3), 100);
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(big.error().is(errc::packet_too_large));
  EXPECT_NE(big.error().message.find("206 bytes exceeds the maximum packet size of 100"),
            std::string::npos);
  // A fifth length byte and a non-minimal length are malformed.
  const Bytes five = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  EXPECT_TRUE(next_frame(five, 1u << 31).error().is(errc::malformed));
  const Bytes padded = {0xC0, 0x80, 0x00};
  EXPECT_NE(next_frame(padded, 100).error().message.find("fewest bytes"), std::string::npos);
  // The largest length decodes: FF FF FF 7F = 268,435,455.
  const Bytes largest = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
  auto l = next_frame(largest, 1u << 30);
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->has_value());
}

TEST(MqttCodec, EncodingRefusesFieldsThatDoNotFit) {
  Publish p;
  p.topic = std::string(70000, 'a');
  Bytes out = {0x01};
  const Status st = encode(p, Version::v311, out);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().is(errc::encoding));
  EXPECT_NE(st.error().message.find("PUBLISH: topic name is longer than 65,535 bytes"),
            std::string::npos);
  EXPECT_EQ(out, Bytes{0x01});
}

TEST(MqttCodec, TopicFiltersAndMatching) {
  EXPECT_TRUE(validate_topic_filter("a/+/c").ok());
  EXPECT_TRUE(validate_topic_filter("#").ok());
  EXPECT_TRUE(validate_topic_filter("a/#").ok());
  EXPECT_TRUE(validate_topic_filter("+").ok());
  EXPECT_FALSE(validate_topic_filter("a/#/c").ok());
  EXPECT_FALSE(validate_topic_filter("a#").ok());
  EXPECT_FALSE(validate_topic_filter("a/b+").ok());
  EXPECT_FALSE(validate_topic_filter("").ok());
  EXPECT_TRUE(validate_topic_name("a/b").ok());
  EXPECT_FALSE(validate_topic_name("a/+").ok());

  EXPECT_TRUE(topic_matches("a/+/c", "a/b/c"));
  EXPECT_FALSE(topic_matches("a/+/c", "a/b/d"));
  EXPECT_TRUE(topic_matches("a/#", "a"));
  EXPECT_TRUE(topic_matches("a/#", "a/b/c"));
  EXPECT_TRUE(topic_matches("#", "a/b"));
  EXPECT_FALSE(topic_matches("#", "$SYS/x"));
  EXPECT_FALSE(topic_matches("+/x", "$SYS/x"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/x"));
  EXPECT_TRUE(topic_matches("a/+", "a/"));
  EXPECT_FALSE(topic_matches("a/+", "a"));
  EXPECT_FALSE(topic_matches("a/b", "a/b/c"));
  EXPECT_FALSE(topic_matches("a/b/c", "a/b"));
  EXPECT_TRUE(topic_matches("+/+", "/x"));
  EXPECT_TRUE(topic_matches("strata/v1/devices/d1/commands/+", "strata/v1/devices/d1/commands/x"));
}

}  // namespace
}  // namespace strata::ingest::mqtt

// The MQTT connector's configuration checks: broker URLs, route patterns and device templates.
#include "ingest/mqtt_connector/broker_route.hpp"

#include <gtest/gtest.h>

#include <string>

namespace strata::ingest::mqtt_connector {
namespace {

TEST(BrokerUrl, ReadsHostAndPort) {
  auto a = parse_broker_url("mqtt://broker.plant.local:1884");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->host, "broker.plant.local");
  EXPECT_EQ(a->port, 1884);
  auto b = parse_broker_url("tcp://10.0.0.5");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "10.0.0.5");
  EXPECT_EQ(b->port, 1883);
  auto c = parse_broker_url("mqtt://[::1]:2000/");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 2000);
  EXPECT_FALSE(c->tls);
  auto d = parse_broker_url("mqtts://broker.plant.local");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->tls);
  EXPECT_EQ(d->port, 8883);
  auto e = parse_broker_url("ssl://10.0.0.5:9883");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->port, 9883);
}

TEST(BrokerUrl, RefusesWhatItCannotConnectToWithTheFix) {
  const auto refused = [](const char* url) {
    auto r = parse_broker_url(url);
    EXPECT_FALSE(r.ok()) << url;
    if (r.ok()) return std::string();
    EXPECT_TRUE(r.error().is(errc::bad_url));
    return r.error().message;
  };
  EXPECT_NE(refused("wss://b:443").find("WebSocket is not supported"), std::string::npos);
  EXPECT_NE(refused("broker:1883").find("expected mqtt://host[:port]"), std::string::npos);
  EXPECT_NE(refused("mqtt://:1883").find("host is empty"), std::string::npos);
  EXPECT_NE(refused("mqtt://b:0").find("port '0' is not a number from 1 to 65535"),
            std::string::npos);
  EXPECT_NE(refused("mqtt://b:70000").find("not a number from 1 to 65535"), std::string::npos);
  EXPECT_NE(refused("mqtt://user:pw@b:1883").find("credentials are the username"),
            std::string::npos);
}

TEST(BrokerRoute, NamesTheDeviceFromTheCapturedLevels) {
  auto r = BrokerRoute::create("plant/{site}/{line}/{device}/telemetry");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->filter(), "plant/+/+/+/telemetry");
  EXPECT_EQ(r->device_for("plant/a/l1/press-7/telemetry"), "press-7");
  EXPECT_FALSE(r->device_for("plant/a/l1/press-7/status").has_value());
  EXPECT_FALSE(r->device_for("plant/a/l1/telemetry").has_value());
  EXPECT_FALSE(r->device_for("plant/a/l1/press-7/telemetry/x").has_value());
  EXPECT_FALSE(r->device_for("plant/a//press-7/telemetry").has_value());  // empty capture

  auto t = BrokerRoute::create("plant/{site}/{line}/{device}/telemetry", "{site}.{line}.{device}");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->device_for("plant/a/l1/press-7/telemetry"), "a.l1.press-7");

  auto tail = BrokerRoute::create("uns/{device}/#", "dev-{device}");
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->filter(), "uns/+/#");
  EXPECT_EQ(tail->device_for("uns/m1/a/b"), "dev-m1");
  EXPECT_EQ(tail->device_for("uns/m1"), "dev-m1");  // '#' matches the parent level too
  EXPECT_FALSE(tail->device_for("other/m1").has_value());

  auto dollar = BrokerRoute::create("{device}/t");
  ASSERT_TRUE(dollar.ok());
  EXPECT_FALSE(dollar->device_for("$SYS/t").has_value());  // [MQTT-4.7.2-1]
}

TEST(BrokerRoute, RefusesPatternsThatCannotWork) {
  const auto refused = [](const char* pattern, const char* device = "{device}") {
    auto r = BrokerRoute::create(pattern, device);
    EXPECT_FALSE(r.ok()) << pattern;
    if (r.ok()) return std::string();
    EXPECT_TRUE(r.error().is(errc::bad_route));
    return r.error().message;
  };
  EXPECT_NE(refused("").find("is empty"), std::string::npos);
  EXPECT_NE(refused("a/#/{device}").find("'#' may only be the last level"), std::string::npos);
  EXPECT_NE(refused("a//{device}").find("level 2 is empty"), std::string::npos);
  EXPECT_NE(refused("a/x+/{device}").find("mixes text with"), std::string::npos);
  EXPECT_NE(refused("a/{device}/{device}").find("appears twice"), std::string::npos);
  EXPECT_NE(refused("a/{}").find("needs a plain name"), std::string::npos);
  EXPECT_NE(refused("a/{id}").find("uses {device}, which the pattern does not capture"),
            std::string::npos);
  EXPECT_NE(refused("a/{device}", "{device").find("'{' without '}'"), std::string::npos);
  EXPECT_NE(refused("a/{device}", "").find("device template is empty"), std::string::npos);
}

}  // namespace
}  // namespace strata::ingest::mqtt_connector

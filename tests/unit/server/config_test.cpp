#include "server/config.hpp"

#include <gtest/gtest.h>

namespace strata::server {
namespace {

TEST(Config, DefaultsWithoutAFile) {
  auto c = parse_config("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->data_dir, "data");
  EXPECT_EQ(c->http.port, 8080);
  EXPECT_EQ(c->mqtt.port, 1883);
  EXPECT_EQ(c->coap.port, 5683);
  EXPECT_EQ(c->http.address, "127.0.0.1");
  EXPECT_EQ(c->fsync, "interval");
  EXPECT_TRUE(c->connector.url.empty());
}

TEST(Config, ReadsEverySectionAndTheEnvironmentWins) {
  auto c = parse_config(R"(
data_dir = "/var/lib/strata"
[http]
port = 9090
max_body = "8MiB"
[mqtt]
enabled = false
[store]
fsync = "batch"
out_of_order_window = "2h"
[[store.retention]]
match = "site=lyon"
keep = "90d"
[pipeline]
shards = 4
max_future = "30s"
device_rate_limit = 500
[mqtt_connector]
url = "mqtt://127.0.0.1:1884"
client_id = "strata-a"
sparkplug = true
sessions = 3
[[mqtt_connector.routes]]
pattern = "plant/{site}/{line}/{device}/telemetry"
[mqtt_connector.sparkplug_device_ids]
"g1/edge-1/pump-7" = "pump-7"
)",
                        {"STRATA_HTTP_PORT=9191", "STRATA_PIPELINE_SHARDS=8", "PATH=/usr/bin",
                         "STRATA_DATA_DIR=/tmp/x"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->data_dir, "/tmp/x");
  EXPECT_EQ(c->http.port, 9191);
  EXPECT_EQ(c->http_max_body_bytes, 8u << 20);
  EXPECT_FALSE(c->mqtt.enabled);
  EXPECT_EQ(c->fsync, "batch");
  EXPECT_EQ(c->out_of_order_window, 2 * 3600 * kMicrosPerSecond);
  ASSERT_EQ(c->retention.size(), 1u);
  EXPECT_EQ(c->retention[0].keep, 90LL * 86400 * kMicrosPerSecond);
  EXPECT_EQ(c->shards, 8u);
  EXPECT_EQ(c->max_future, 30 * kMicrosPerSecond);
  EXPECT_EQ(c->device_rate_limit, 500);
  EXPECT_EQ(c->connector.url, "mqtt://127.0.0.1:1884");
  EXPECT_TRUE(c->connector.sparkplug);
  EXPECT_EQ(c->connector.sessions, 3u);
  ASSERT_EQ(c->connector.routes.size(), 1u);
  EXPECT_EQ(c->connector.routes[0].second, "{device}");
  ASSERT_EQ(c->connector.sparkplug_device_ids.size(), 1u);
  EXPECT_EQ(c->connector.sparkplug_device_ids[0].second, "pump-7");
}

TEST(Config, MistakesAreRefusedWithTheKeyAndWhatItExpects) {
  auto typo = parse_config("[http]\nprot = 80\n");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().message,
            "configuration: http.prot: not a setting (docs/configuration.md lists them)");
  auto range = parse_config("[http]\nport = 70000\n");
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message.find("http.port: expected an integer 0..65535, got 70000"),
            std::string::npos);
  auto fsync = parse_config("[store]\nfsync = \"sometimes\"\n");
  ASSERT_FALSE(fsync);
  EXPECT_NE(fsync.error().message.find("expected batch, interval or off"), std::string::npos);
  auto dur = parse_config("[pipeline]\nmax_future = 30\n");
  ASSERT_FALSE(dur);
  EXPECT_NE(dur.error().message.find("pipeline.max_future: expected a duration string"),
            std::string::npos);
  auto syntax = parse_config("[http\n");
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error().message.find("line 1"), std::string::npos);
  auto env = parse_config("", {"STRATA_MQTT_PORT=abc"});
  ASSERT_FALSE(env);
  EXPECT_NE(env.error().message.find("STRATA_MQTT_PORT: expected an integer"), std::string::npos);
  auto retention = parse_config("[[store.retention]]\nmatch = \"site=a\"\n");
  ASSERT_FALSE(retention);
  EXPECT_NE(retention.error().message.find("store.retention[0]"), std::string::npos);
  auto unshared = parse_config("[mqtt_connector]\nshare_group = \"\"\nsessions = 2\n");
  ASSERT_FALSE(unshared);
  EXPECT_NE(unshared.error().message.find("mqtt_connector.sessions: more than one session needs "
                                          "a share_group"),
            std::string::npos)
      << unshared.error().message;
}

}  // namespace
}  // namespace strata::server

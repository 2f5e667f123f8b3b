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
  EXPECT_EQ(c->compaction_step, 65'536u);
  EXPECT_EQ(c->compaction_pause, 100'000);
  EXPECT_TRUE(c->connector.url.empty());
}

TEST(Config, CompactionCanBePacedOrTurnedOff) {
  auto paced = parse_config("[store]\ncompaction_step = 16384\ncompaction_pause = \"1s\"\n");
  ASSERT_TRUE(paced) << paced.error().message;
  EXPECT_EQ(paced->compaction_step, 16'384u);
  EXPECT_EQ(paced->compaction_pause, kMicrosPerSecond);
  auto off = parse_config("", {"STRATA_STORE_COMPACTION_STEP=0"});
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->compaction_step, 0u);
  auto negative = parse_config("[store]\ncompaction_step = -1\n");
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message.find("store.compaction_step: expected an integer 0..16777216"),
            std::string::npos)
      << negative.error().message;
  auto huge = parse_config("[store]\ncompaction_step = 100000000\n");
  ASSERT_FALSE(huge);
  auto no_pause = parse_config("[store]\ncompaction_pause = \"0s\"\n");
  ASSERT_FALSE(no_pause);
  EXPECT_NE(no_pause.error().message.find("store.compaction_pause: expected a duration"),
            std::string::npos)
      << no_pause.error().message;
  auto text = parse_config("[store]\ncompaction_step = \"fast\"\n");
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("store.compaction_step: expected an integer"),
            std::string::npos);
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

TEST(Config, AnalyticsKeysWithTheirDefaultsAndTheEnvironment) {
  auto d = parse_config("");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->analytics.enabled);
  EXPECT_EQ(d->analytics.workers, 2u);
  EXPECT_EQ(d->analytics.event_threshold, 0.6);
  EXPECT_EQ(d->analytics.learning_points, 500u);
  EXPECT_EQ(d->analytics.warm_up_window, 86'400 * kMicrosPerSecond);
  EXPECT_EQ(d->analytics.checkpoint_interval, 60 * kMicrosPerSecond);
  EXPECT_EQ(d->analytics.queue_points, 65'536u);
  auto c = parse_config(R"(
[analytics]
enabled = false
workers = 3
event_threshold = 0.75
learning_points = 100
warm_up_window = "0s"
checkpoint_interval = "5s"
queue_points = 1024
)",
                        {"STRATA_ANALYTICS_EVENT_THRESHOLD=0.9", "STRATA_ANALYTICS_WORKERS=4",
                         "STRATA_ANALYTICS_WARM_UP_WINDOW=2h"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->analytics.enabled);
  EXPECT_EQ(c->analytics.workers, 4u);
  EXPECT_EQ(c->analytics.event_threshold, 0.9);
  EXPECT_EQ(c->analytics.learning_points, 100u);
  EXPECT_EQ(c->analytics.warm_up_window, 2 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(c->analytics.checkpoint_interval, 5 * kMicrosPerSecond);
  EXPECT_EQ(c->analytics.queue_points, 1024u);
  auto zero = parse_config("[analytics]\nwarm_up_window = \"0s\"\n");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->analytics.warm_up_window, 0);
}

TEST(Config, AnalyticsValuesOutOfRangeAreRefusedWithTheKey) {
  auto refused = [](const std::string& toml, const std::vector<std::string>& env = {}) {
    auto c = parse_config(toml, env);
    return c ? std::string("<accepted>") : c.error().message;
  };
  EXPECT_EQ(refused("[analytics]\nevent_threshold = 1.5\n"),
            "configuration: analytics.event_threshold: expected a number in (0, 1], got 1.5");
  EXPECT_EQ(refused("[analytics]\nevent_threshold = 0\n"),
            "configuration: analytics.event_threshold: expected a number in (0, 1], got 0");
  EXPECT_EQ(refused("[analytics]\nevent_threshold = \"high\"\n"),
            "configuration: analytics.event_threshold: expected a number");
  EXPECT_EQ(refused("[analytics]\nworkers = 0\n"),
            "configuration: analytics.workers: expected an integer 1..256, got 0");
  EXPECT_EQ(refused("[analytics]\nqueue_points = 0\n"),
            "configuration: analytics.queue_points: expected an integer 1..16777216, got 0");
  EXPECT_EQ(refused("[analytics]\nlearning_points = -1\n"),
            "configuration: analytics.learning_points: expected an integer 0..1000000000, got -1");
  EXPECT_EQ(refused("[analytics]\ncheckpoint_interval = \"0s\"\n"),
            "configuration: analytics.checkpoint_interval: expected a duration such as 100ms, "
            "30s, 1h or 7d, got \"0s\"");
  EXPECT_EQ(refused("[analytics]\nwarm_up = \"1d\"\n"),
            "configuration: analytics.warm_up: not a setting (docs/configuration.md lists them)");
  EXPECT_EQ(refused("", {"STRATA_ANALYTICS_EVENT_THRESHOLD=2"}),
            "configuration: STRATA_ANALYTICS_EVENT_THRESHOLD: expected a number in (0, 1], got 2");
  EXPECT_EQ(refused("", {"STRATA_ANALYTICS_ENABLED=maybe"}),
            "configuration: STRATA_ANALYTICS_ENABLED: expected true or false");
}

}  // namespace
}  // namespace strata::server

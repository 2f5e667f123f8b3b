// The load drivers of `strata bench ingest` (bench/load/) against a real Mosquitto started by the
// test (bench/peers/mosquitto.hpp): every QoS 1 message a publisher sends is acknowledged and
// reaches the counting subscriber, per-connection counts add up, a rate is honoured, and a broker
// refusing the connection is reported, not hung on.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <numeric>

#include "bench/load/mqtt_load.hpp"
#include "bench/peers/mosquitto.hpp"

namespace strata::bench {
namespace {

std::filesystem::path work_dir() {
  return std::filesystem::temp_directory_path() / "strata-bench-load-test";
}

MqttLoadOptions publishers(std::uint16_t port, std::size_t n, const std::string& prefix) {
  MqttLoadOptions o;
  o.port = port;
  o.usernames.assign(n, "");
  for (std::size_t i = 0; i < n; ++i) o.topics.push_back(prefix + std::to_string(i));
  o.payload = [](std::size_t conn, std::uint64_t seq) {
    return "{\"conn\":" + std::to_string(conn) + ",\"seq\":" + std::to_string(seq) + "}";
  };
  return o;
}

TEST(BenchLoad, EveryMessageIsAckedAndDeliveredToTheSubscriber) {
  auto broker = Mosquitto::create(work_dir());
  ASSERT_TRUE(broker) << broker.error().message;
  auto sub = MqttCountingSubscriber::start("127.0.0.1", (*broker)->port(), "t/#", "counter");
  ASSERT_TRUE(sub) << sub.error().message;

  auto o = publishers((*broker)->port(), 20, "t/");
  o.max_messages_per_connection = 50;
  o.in_flight = 4;
  int all_acked_calls = 0;
  o.on_phase = [&](int phase) { all_acked_calls += phase == MqttLoadOptions::kAllAcked; };
  auto r = run_mqtt_publishers(o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(all_acked_calls, 1);
  EXPECT_EQ(r->sent, 1000u);
  EXPECT_EQ(r->acked, 1000u);
  ASSERT_EQ(r->acked_per_connection.size(), 20u);
  for (auto n : r->acked_per_connection) EXPECT_EQ(n, 50u);
  for (auto n : r->sent_per_connection) EXPECT_EQ(n, 50u);
  EXPECT_EQ((*sub)->wait_for(1000, std::chrono::seconds(20)), 1000u);
}

TEST(BenchLoad, TimedWindowAtARateRecordsLatencies) {
  auto broker = Mosquitto::create(work_dir());
  ASSERT_TRUE(broker) << broker.error().message;
  auto o = publishers((*broker)->port(), 10, "r/");
  o.rate = 500;  // messages/s over all connections
  o.warmup = std::chrono::milliseconds(200);
  o.duration = std::chrono::milliseconds(1000);
  o.record_latency = true;
  int opened = 0, closed = 0;
  o.on_phase = [&](int phase) {
    opened += phase == MqttLoadOptions::kWindowOpens;
    closed += phase == MqttLoadOptions::kWindowCloses;
  };
  auto r = run_mqtt_publishers(o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(opened, 1);
  EXPECT_EQ(closed, 1);
  EXPECT_EQ(r->unacked_at_end, 0u);
  EXPECT_EQ(r->acked, r->sent);  // drained
  EXPECT_EQ(std::accumulate(r->acked_per_connection.begin(), r->acked_per_connection.end(),
                            std::uint64_t{0}),
            r->acked);
  // The rate is a ceiling (a slow host publishes less, never more).
  EXPECT_LE(r->rate(), 500 * 1.2);
  EXPECT_GT(r->rate(), 0);
  EXPECT_FALSE(r->latencies_ms.empty());
  for (float ms : r->latencies_ms) EXPECT_GE(ms, 0.0f);
}

TEST(BenchLoad, RefusedConnectionIsAnError) {
  auto broker = Mosquitto::create(work_dir());
  ASSERT_TRUE(broker) << broker.error().message;
  const std::uint16_t port = (*broker)->port();
  broker->reset();  // stopped by PID: the port no longer answers
  auto o = publishers(port, 3, "x/");
  o.max_messages_per_connection = 1;
  auto r = run_mqtt_publishers(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("connection"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(std::to_string(port)), std::string::npos) << r.error().message;
}

TEST(BenchLoad, ABrokerThatNeverAnswersEndsTheRunWithAnError) {
  // A listening socket that is never accepted from: TCP connects, CONNACK never comes.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  auto o = publishers(silent.local_endpoint().port(), 2, "s/");
  o.max_messages_per_connection = 1;
  o.run_timeout = std::chrono::milliseconds(300);
  auto r = run_mqtt_publishers(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("0 of 2 connections up"), std::string::npos)
      << r.error().message;
}

TEST(BenchLoad, MismatchedOptionsAreRefused) {
  MqttLoadOptions o;
  o.port = 1;
  o.usernames = {"a", "b"};
  o.topics = {"t"};
  o.payload = [](std::size_t, std::uint64_t) { return std::string("{}"); };
  auto r = run_mqtt_publishers(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("equal size"), std::string::npos);
}

}  // namespace
}  // namespace strata::bench

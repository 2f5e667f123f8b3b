#include "obs/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace strata::obs {
namespace {

TEST(MetricsRegistry, RendersCountersWithHelpTypeAndLabelsInRegistrationOrder) {
  MetricsRegistry r;
  Counter& mqtt = r.counter("strata_points_total", "Points stored.", {{"transport", "mqtt"}});
  Counter& http =
      r.counter("strata_points_total", "ignored: the first help wins", {{"transport", "http"}});
  Counter& plain = r.counter("strata_requests_total", "Requests.");
  mqtt.inc(1024);
  http.inc();
  http.inc(6);
  plain.inc(3);
  EXPECT_EQ(r.render(),
            "# HELP strata_points_total Points stored.\n"
            "# TYPE strata_points_total counter\n"
            "strata_points_total{transport=\"mqtt\"} 1024\n"
            "strata_points_total{transport=\"http\"} 7\n"
            "# HELP strata_requests_total Requests.\n"
            "# TYPE strata_requests_total counter\n"
            "strata_requests_total 3\n");
}

TEST(MetricsRegistry, SameNameAndLabelsGiveTheSameMetric) {
  MetricsRegistry r;
  Counter& a = r.counter("c_total", "h", {{"k", "v"}});
  Counter& b = r.counter("c_total", "h", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  Gauge& g1 = r.gauge("g", "h");
  Gauge& g2 = r.gauge("g", "h");
  EXPECT_EQ(&g1, &g2);
}

TEST(MetricsRegistry, GaugesRenderShortestRoundTripDecimalsAndSpecialValues) {
  MetricsRegistry r;
  r.gauge("g", "h", {{"k", "a"}}).set(0.1);
  Gauge& b = r.gauge("g", "h", {{"k", "b"}});
  b.add(2.5);
  b.sub(1);
  r.gauge("g", "h", {{"k", "c"}}).set(std::numeric_limits<double>::infinity());
  r.gauge("g", "h", {{"k", "d"}}).set(-std::numeric_limits<double>::infinity());
  r.gauge("g", "h", {{"k", "e"}}).set(std::nan(""));
  r.gauge("g", "h", {{"k", "f"}}).set(1e-7);
  r.gauge("g", "h", {{"k", "g"}}).set(-42);
  EXPECT_EQ(r.render(),
            "# HELP g h\n"
            "# TYPE g gauge\n"
            "g{k=\"a\"} 0.1\n"
            "g{k=\"b\"} 1.5\n"
            "g{k=\"c\"} +Inf\n"
            "g{k=\"d\"} -Inf\n"
            "g{k=\"e\"} NaN\n"
            "g{k=\"f\"} 1e-07\n"
            "g{k=\"g\"} -42\n");
}

TEST(MetricsRegistry, EscapesHelpAndLabelValues) {
  MetricsRegistry r;
  r.counter("c_total", "a \\ back\nslash \"quoted\"", {{"path", "C:\\x\n\"y\""}, {"b", "2"}}).inc();
  EXPECT_EQ(r.render(),
            "# HELP c_total a \\\\ back\\nslash \"quoted\"\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"C:\\\\x\\n\\\"y\\\"\",b=\"2\"} 1\n");
}

TEST(MetricsRegistry, HistogramRendersCumulativeBucketsSumAndCount) {
  MetricsRegistry r;
  const double bounds[] = {0.005, 0.1, 1};
  Histogram& h = r.histogram("lat_seconds", "Latency.", bounds, {{"route", "/x"}});
  h.observe(0.001);
  h.observe(0.005);  // le: on the bound counts in that bucket
  h.observe(0.05);
  h.observe(3);
  EXPECT_EQ(r.render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{route=\"/x\",le=\"0.005\"} 2\n"
            "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 3\n"
            "lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
            "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{route=\"/x\"} 3.056\n"
            "lat_seconds_count{route=\"/x\"} 4\n");
}

TEST(MetricsRegistry, HistogramWithoutLabelsAndWithDefaultLatencyBuckets) {
  MetricsRegistry r;
  Histogram& h = r.histogram("d_seconds", "D.");
  EXPECT_EQ(h.bounds().size(), std::size(kLatencyBuckets));
  h.observe(0.0004);
  std::string text = r.render();
  EXPECT_NE(text.find("d_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"10\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_sum 0.0004\nd_seconds_count 1\n"), std::string::npos) << text;
}

TEST(MetricsRegistry, CallbackGaugeIsReadAtRenderTime) {
  MetricsRegistry r;
  double depth = 3;
  r.callback_gauge("queue_depth", "Depth.", [&] { return depth; }, {{"shard", "0"}});
  r.callback_counter("bytes_total", "Bytes.", [] { return 4096.0; });
  EXPECT_EQ(r.render(),
            "# HELP queue_depth Depth.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth{shard=\"0\"} 3\n"
            "# HELP bytes_total Bytes.\n"
            "# TYPE bytes_total counter\n"
            "bytes_total 4096\n");
  depth = 11;
  r.callback_counter("bytes_total", "Bytes.", [] { return 8192.0; });  // replaces
  EXPECT_EQ(r.render(),
            "# HELP queue_depth Depth.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth{shard=\"0\"} 11\n"
            "# HELP bytes_total Bytes.\n"
            "# TYPE bytes_total counter\n"
            "bytes_total 8192\n");
}

TEST(MetricsRegistry, RefusesBadNamesAndTypeClashes) {
  MetricsRegistry r;
  EXPECT_THROW(r.counter("1abc", "h"), std::invalid_argument);
  EXPECT_THROW(r.counter("a-b", "h"), std::invalid_argument);
  EXPECT_THROW(r.counter("", "h"), std::invalid_argument);
  EXPECT_THROW(r.counter("ok", "h", {{"__x", "v"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok", "h", {{"a b", "v"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok", "h", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
  const double b[] = {1};
  EXPECT_THROW(r.histogram("h", "h", b, {{"le", "1"}}), std::invalid_argument);
  const double unsorted[] = {1, 0.5};
  EXPECT_THROW(r.histogram("h2", "h", unsorted), std::invalid_argument);
  r.counter("x_total", "h");
  EXPECT_THROW(r.gauge("x_total", "h"), std::invalid_argument);
  r.gauge("stored", "h");
  EXPECT_THROW(r.callback_gauge("stored", "h", [] { return 1.0; }), std::invalid_argument);
  EXPECT_NO_THROW(r.counter("ns:sub_total", "h", {{"_a1", "v"}}));
}

TEST(MetricsRegistry, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  Counter& c = r.counter("c_total", "h");
  Gauge& g = r.gauge("g", "h");
  const double bounds[] = {1};
  Histogram& h = r.histogram("h", "h", bounds);
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        c.inc();
        g.add(1);
        h.observe(i % 2 == 0 ? 0.5 : 2.0);
      }
    });
  std::string during = r.render();  // rendering while updating is safe
  for (auto& t : threads) t.join();
  EXPECT_FALSE(during.empty());
  EXPECT_EQ(c.value(), std::uint64_t{kThreads * kEach});
  EXPECT_EQ(g.value(), double{kThreads * kEach});
  EXPECT_EQ(h.count(), std::uint64_t{kThreads * kEach});
  EXPECT_EQ(h.cumulative_counts()[0], std::uint64_t{kThreads * kEach / 2});
  EXPECT_DOUBLE_EQ(h.sum(), kThreads * kEach / 2 * 2.5);
}

}  // namespace
}  // namespace strata::obs

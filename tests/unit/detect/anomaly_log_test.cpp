#include "detect/anomaly_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

namespace strata::detect {
namespace {

AnomalyEvent event(const std::string& device, const std::string& metric, SeriesId s, Timestamp ts,
                   double score) {
  AnomalyEvent e;
  e.device = device;
  e.metric = metric;
  e.series = s;
  e.ts = ts;
  e.value = 91.2;
  e.score = score;
  e.raw_score = 1;
  e.driver = "range";
  e.detector = "ensemble";
  e.version = "ensemble@00000001";
  e.expected = 74.0;
  e.band = 6.1;
  e.unit = "°C";
  e.message = describe(e);
  return e;
}

TEST(AnomalyEvent, DescribesItselfForAPerson) {
  auto e = event("cmp-1", "temperature", 1, 0, 0.9);
  EXPECT_EQ(describe(e),
            "temperature 91.2 °C is above the expected 74.0 ± 6.1 °C (range rule: beyond the range "
            "seen so far)");
  e.value = 70;
  e.driver = "contextual";
  EXPECT_EQ(describe(e),
            "temperature 70.0 °C is within the expected 74.0 ± 6.1 °C, yet unusual (contextual: an "
            "unusual sequence of values)");
  e.multivariate = true;
  e.driver = "temperature (86%), current (14%)";
  EXPECT_EQ(describe(e),
            "cmp-1: an unusual combination of its signals (score 0.90), driven by temperature "
            "(86%), current (14%)");
  const auto j = to_json(e);
  EXPECT_EQ(j["kind"], "multivariate");
  EXPECT_EQ(j["t"], "1970-01-01T00:00:00Z");
  EXPECT_TRUE(j.contains("signals"));
}

TEST(AnomalyLog, KeepsOnePerSeriesTimeAndVersionAndPagesNewestFirst) {
  SimulatedClock clock(1'000);
  const auto dir =
      std::filesystem::temp_directory_path() / ("anomaly-log-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto log = AnomalyLog::open(dir / "anomalies.db", clock);
    ASSERT_TRUE(log) << log.error().message;
    for (int i = 0; i < 10; ++i)
      (*log)->add(event(i % 2 ? "a" : "b", i % 3 ? "t" : "p", 1 + i % 2, 1000 + i, 0.6 + i * 0.03));
    auto again = event("b", "p", 1, 1000, 0.6);  // the same (series, ts, version) as the first
    again.replayed = true;
    (*log)->add(again);
    AnomalyQuery all;
    auto r = (*log)->query(all);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 10u);
    EXPECT_EQ((*r)[0].ts, 1009);  // newest first
    EXPECT_GT((*r)[0].id, (*r)[1].id);
    EXPECT_EQ((*r)[9].unit, "°C");
    ASSERT_TRUE((*r)[9].expected);
    EXPECT_EQ(*(*r)[9].expected, 74.0);
    AnomalyQuery q;
    q.device = "a";
    q.min_score = 0.7;
    q.limit = 2;
    auto page = (*log)->query(q);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].ts, 1009);
    EXPECT_EQ((*page)[1].ts, 1007);
    q.before_id = page->back().id;
    page = (*log)->query(q);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->size(), 1u);  // 1003 and 1001 score below 0.7
    EXPECT_EQ((*page)[0].ts, 1005);
    AnomalyQuery m;
    m.metric = "p";
    m.from = 1003;
    m.to = 1006;
    auto metric = (*log)->query(m);
    ASSERT_TRUE(metric);
    ASSERT_EQ(metric->size(), 2u);  // 1003 and 1006
  }
  // Kept across a reopen.
  auto log = AnomalyLog::open(dir / "anomalies.db", clock);
  ASSERT_TRUE(log);
  auto r = (*log)->query({});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 10u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::detect

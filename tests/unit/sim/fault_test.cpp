#include "sim/fault.hpp"

#include <gtest/gtest.h>

#include "core/time_format.hpp"

namespace strata::sim {
namespace {

TEST(FaultSpec, ReadsRelativeAndAbsoluteStartsAndOptions) {
  auto f = parse_fault_spec("cmp-a1-01:bearing_wear@+2m");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->device, "cmp-a1-01");
  EXPECT_EQ(f->kind, FaultKind::bearing_wear);
  EXPECT_FALSE(f->at);
  EXPECT_EQ(f->offset, 120 * kMicrosPerSecond);
  EXPECT_FALSE(f->duration);

  auto g =
      parse_fault_spec(" pmp-1:drift@2026-11-25T10:00:00Z,for=90m,metric=flow,magnitude=-1.5 ");
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(*g->at, *parse_iso8601("2026-11-25T10:00:00Z"));
  EXPECT_EQ(*g->duration, 90 * 60 * kMicrosPerSecond);
  EXPECT_EQ(g->metric, "flow");
  EXPECT_DOUBLE_EQ(*g->magnitude, -1.5);
  EXPECT_EQ(parse_fault_spec("x:stuck@+0s")->kind, FaultKind::stuck_sensor);
}

TEST(FaultSpec, RefusesWithReasons) {
  const std::pair<const char*, const char*> cases[] = {
      {"cmp", "expected DEVICE:KIND@START"},
      {"cmp:spike", "missing '@START'"},
      {"cmp:melt@+1m", "unknown kind 'melt'"},
      {"cmp:spike@soon", "neither +DURATION"},
      {"cmp:spike@+x", "is not +DURATION"},
      {"cmp:spike@+1m,for=ever", "for='ever' is not a duration"},
      {"cmp:spike@+1m,magnitude=big", "magnitude='big' is not a number"},
      {"cmp:spike@+1m,colour=red", "unknown option 'colour'"},
      {"cmp:spike@+1m,loud", "must be key=value"},
      {"cmp:outage@+1m,metric=flow", "metric= applies to stuck_sensor, spike and drift only"},
  };
  for (const auto& [text, expect] : cases) {
    auto f = parse_fault_spec(text);
    ASSERT_FALSE(f) << text;
    EXPECT_NE(f.error().message.find(expect), std::string::npos)
        << text << " -> " << f.error().message;
    EXPECT_NE(f.error().message.find(std::string("fault '") + text), std::string::npos);
  }
}

TEST(FaultRecord, JsonLineCarriesTheWindow) {
  FaultRecord r{"cmp-1", FaultKind::spike, "vibration_rms", "stdin", 1'000'000, 2'000'000,
                8.0,     1'500'000,        std::nullopt};
  const std::string j = fault_record_json(r);
  EXPECT_NE(j.find("\"kind\":\"spike\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"start_us\":1000000"), std::string::npos) << j;
  EXPECT_NE(j.find("\"first_sample\":\"1970-01-01T00:00:01.500000Z\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"last_sample\":null"), std::string::npos) << j;
}

}  // namespace
}  // namespace strata::sim

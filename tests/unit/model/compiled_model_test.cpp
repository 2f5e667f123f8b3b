#include "model/compiled_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <sstream>

// GCC pairs the replaced operator new below with std::free and warns; they do match (malloc/free).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Counts heap allocations while `counting` is set, to check that accept() allocates nothing on
// success (the ingestion hot path relies on it).
namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace strata::model {
namespace {

using nlohmann::json;

DeviceModel example(const std::string& name) {
  std::ifstream in(std::string(STRATA_EXAMPLES_DIR) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  auto m = parse_device_model(s.str());
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? *m : DeviceModel{};
}

CompiledModel compile(const DeviceModel& m) {
  auto c = CompiledModel::create(m);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? std::move(*c) : CompiledModel{};
}

// A model with one telemetry of each schema.
CompiledModel all_schemas() {
  auto m = device_model_from_json(json::parse(R"({
    "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
    "@id": "dtmi:strata:test;1", "@type": "Interface",
    "contents": [
      {"@type": "Telemetry", "name": "d", "schema": "double", "strata:min": -1.5, "strata:max": 2.5},
      {"@type": "Telemetry", "name": "f", "schema": "float"},
      {"@type": "Telemetry", "name": "i", "schema": "integer"},
      {"@type": "Telemetry", "name": "l", "schema": "long", "strata:min": 0},
      {"@type": "Telemetry", "name": "b", "schema": "boolean"},
      {"@type": "Telemetry", "name": "s", "schema": "string"},
      {"@type": "Telemetry", "name": "e", "schema": {"@type": "Enum", "valueSchema": "integer",
        "enumValues": [{"name": "stopped", "enumValue": 0}, {"name": "running", "enumValue": 2}]}},
      {"@type": "Telemetry", "name": "es", "schema": {"@type": "Enum", "valueSchema": "string",
        "enumValues": [{"name": "stopped", "enumValue": "STOP"}, {"name": "running", "enumValue": "RUN"}]}}
    ]})"));
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return compile(*m);
}

double accepted(const CompiledModel& c, std::string_view metric, double number,
                std::optional<std::string_view> text = std::nullopt) {
  auto r = c.accept(metric, number, text);
  EXPECT_TRUE(r.ok()) << metric << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::nan("");
}

std::string refused(const CompiledModel& c, std::string_view metric, double number,
                    std::optional<std::string_view> text, errc expected) {
  auto r = c.accept(metric, number, text);
  if (r.ok()) return "<accepted>";
  EXPECT_TRUE(r.error().is(expected)) << r.error().message;
  return r.error().message;
}

TEST(CompiledModel, ConvertsUnitsOnTheWayIn) {
  const CompiledModel c = compile(example("compressor.json"));
  EXPECT_EQ(c.model_id(), "dtmi:strata:compressor;1");
  EXPECT_NEAR(accepted(c, "discharge_temperature", 212), 100.0, 1e-9);
  EXPECT_NEAR(accepted(c, "discharge_pressure", 14.5038), 1.0, 1e-5);
  EXPECT_DOUBLE_EQ(accepted(c, "motor_current", 87.5), 87.5);
  const TelemetrySpec* t = c.find("discharge_temperature");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->unit(), "degreeFahrenheit");
  EXPECT_EQ(t->target_unit(), "degreeCelsius");
  EXPECT_EQ(t->expected_interval(), 10 * kMicrosPerSecond);
  EXPECT_FALSE(t->personal());
  EXPECT_TRUE(c.find("operatorBadge")->personal());
  EXPECT_TRUE(c.find("operatorBadge")->is_text());
}

TEST(CompiledModel, RangeIsCheckedInTheTargetUnit) {
  const CompiledModel c = compile(example("compressor.json"));
  // 266 °F = 130 °C: the edge is inside; a little more is outside.
  EXPECT_NEAR(accepted(c, "discharge_temperature", 266), 130.0, 1e-9);
  EXPECT_EQ(refused(c, "discharge_temperature", 266.9, std::nullopt, errc::out_of_range),
            "metric 'discharge_temperature': 130.5 degreeCelsius is outside [-20, 130] "
            "degreeCelsius");
  EXPECT_EQ(refused(c, "motor_current", -0.5, std::nullopt, errc::out_of_range),
            "metric 'motor_current': -0.5 ampere is outside [0, 250] ampere");
}

TEST(CompiledModel, RangeEdgesAreInclusive) {
  const CompiledModel c = all_schemas();
  EXPECT_DOUBLE_EQ(accepted(c, "d", -1.5), -1.5);
  EXPECT_DOUBLE_EQ(accepted(c, "d", 2.5), 2.5);
  EXPECT_EQ(refused(c, "d", std::nextafter(2.5, 3.0), std::nullopt, errc::out_of_range),
            "metric 'd': 2.5000000000000004 is outside [-1.5, 2.5]");
  EXPECT_EQ(refused(c, "d", -1.6, std::nullopt, errc::out_of_range),
            "metric 'd': -1.6 is outside [-1.5, 2.5]");
  EXPECT_EQ(refused(c, "l", -1, std::nullopt, errc::out_of_range),
            "metric 'l': -1 is outside [0, inf]");
}

TEST(CompiledModel, NumericSchemas) {
  const CompiledModel c = all_schemas();
  EXPECT_DOUBLE_EQ(accepted(c, "f", 3.25), 3.25);
  EXPECT_EQ(refused(c, "f", 1e39, std::nullopt, errc::wrong_type),
            "metric 'f': 1e+39 does not fit its schema float");
  EXPECT_DOUBLE_EQ(accepted(c, "i", -7), -7);
  EXPECT_DOUBLE_EQ(accepted(c, "i", 2147483647.0), 2147483647.0);
  EXPECT_EQ(refused(c, "i", 2.5, std::nullopt, errc::wrong_type),
            "metric 'i' expects an integer (integer), got 2.5");
  EXPECT_EQ(refused(c, "i", 2147483648.0, std::nullopt, errc::wrong_type),
            "metric 'i': 2147483648 does not fit its schema integer");
  EXPECT_DOUBLE_EQ(accepted(c, "l", 5e12), 5e12);
  EXPECT_EQ(refused(c, "l", 0.1, std::nullopt, errc::wrong_type),
            "metric 'l' expects an integer (long), got 0.1");
  EXPECT_EQ(refused(c, "d", 1, "warm", errc::wrong_type),
            "metric 'd' expects a number (double), got \"warm\"");
  EXPECT_EQ(
      refused(c, "d", std::numeric_limits<double>::quiet_NaN(), std::nullopt, errc::wrong_type)
          .rfind("metric 'd' expects a finite number, got ", 0),
      0u);
  EXPECT_EQ(refused(c, "d", std::numeric_limits<double>::infinity(), std::nullopt, errc::wrong_type)
                .rfind("metric 'd' expects a finite number", 0),
            0u);
}

TEST(CompiledModel, Booleans) {
  const CompiledModel c = all_schemas();
  EXPECT_EQ(accepted(c, "b", 1), 1.0);
  EXPECT_EQ(accepted(c, "b", 0), 0.0);
  EXPECT_FALSE(std::signbit(accepted(c, "b", -0.0)));
  EXPECT_EQ(accepted(c, "b", 0, "true"), 1.0);
  EXPECT_EQ(accepted(c, "b", 0, "false"), 0.0);
  EXPECT_EQ(refused(c, "b", 2, std::nullopt, errc::wrong_type),
            "metric 'b' expects true or false (1 or 0), got 2");
  EXPECT_EQ(refused(c, "b", 0, "yes", errc::wrong_type),
            "metric 'b' expects true or false, got \"yes\"");
}

TEST(CompiledModel, Enums) {
  const CompiledModel c = all_schemas();
  EXPECT_EQ(accepted(c, "e", 0, "running"), 2.0);
  EXPECT_EQ(accepted(c, "e", 2), 2.0);
  EXPECT_EQ(accepted(c, "e", 0), 0.0);
  EXPECT_EQ(refused(c, "e", 1, std::nullopt, errc::wrong_type),
            "metric 'e' expects one of stopped=0, running=2, got 1");
  EXPECT_EQ(refused(c, "e", 0, "Running", errc::wrong_type),
            "metric 'e' expects one of stopped=0, running=2, got \"Running\"");
  // A string enum stores the entry's position; its name and its enumValue both map to it.
  EXPECT_EQ(accepted(c, "es", 0, "running"), 1.0);
  EXPECT_EQ(accepted(c, "es", 0, "RUN"), 1.0);
  EXPECT_EQ(accepted(c, "es", 0, "STOP"), 0.0);
  EXPECT_EQ(refused(c, "es", 1, std::nullopt, errc::wrong_type),
            "metric 'es' expects one of stopped, running, got 1");
  EXPECT_EQ(c.find("e")->enum_name(2), "running");
  EXPECT_EQ(c.find("e")->enum_name(1), "");
  EXPECT_EQ(c.find("es")->enum_values().size(), 2u);
}

TEST(CompiledModel, Strings) {
  const CompiledModel c = all_schemas();
  EXPECT_EQ(accepted(c, "s", 0, "badge-4711"), 0.0);
  EXPECT_EQ(refused(c, "s", 4711, std::nullopt, errc::wrong_type),
            "metric 's' expects text, got the number 4711");
  const std::string long_text(kMaxTextValueBytes + 1, 'x');
  EXPECT_EQ(refused(c, "s", 0, long_text, errc::wrong_type),
            "metric 's': text of 1025 bytes is longer than 1024");
}

TEST(CompiledModel, AcceptAllocatesNothingWhenItAccepts) {
  const CompiledModel c = all_schemas();
  const CompiledModel compressor = compile(example("compressor.json"));
  double sum = 0;
  counting = true;
  allocations = 0;
  for (int i = 0; i < 100; ++i) {
    sum += *compressor.accept("discharge_temperature", 150 + i % 50, std::nullopt);
    sum += *c.accept("e", 0, "running");
    sum += *c.accept("es", 0, "RUN");
    sum += *c.accept("b", 0, "true");
    sum += *c.accept("s", 0, "badge-4711");
    sum += *c.accept("l", i, std::nullopt);
  }
  const std::size_t on_success = allocations;
  auto refused = c.accept("d", 99, std::nullopt);
  const std::size_t on_refusal = allocations - on_success;
  counting = false;
  EXPECT_EQ(on_success, 0u);
  EXPECT_FALSE(refused.ok());
  EXPECT_GT(on_refusal, 0u);  // the counter does count: a refusal builds its message
  EXPECT_GT(sum, 0);
}

TEST(CompiledModel, UnknownMetricIsItsOwnError) {
  const CompiledModel c = all_schemas();
  EXPECT_EQ(c.find("nope"), nullptr);
  EXPECT_EQ(refused(c, "nope", 1, std::nullopt, errc::unknown_metric),
            "metric 'nope' is not in model dtmi:strata:test;1");
}

TEST(CompiledModel, LookupFindsEveryMetric) {
  for (const char* name : {"compressor.json", "pump.json", "motor.json", "energy-meter.json"}) {
    const DeviceModel m = example(name);
    const CompiledModel c = compile(m);
    ASSERT_EQ(c.telemetry().size(), m.telemetry.size());
    for (const Telemetry& t : m.telemetry) {
      const TelemetrySpec* s = c.find(t.name);
      ASSERT_NE(s, nullptr) << t.name;
      EXPECT_EQ(s->metric(), t.name);
      EXPECT_EQ(s->min(), t.min);
      EXPECT_EQ(s->max(), t.max);
    }
  }
}

TEST(CompiledModel, HandBuiltModelsAreChecked) {
  DeviceModel m;
  m.id = "dtmi:strata:x;1";
  Telemetry t;
  t.name = "p";
  t.unit = "bar";
  t.target_unit = "degreeCelsius";
  m.telemetry.push_back(t);
  auto c = CompiledModel::create(m);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.error().is(errc::incompatible_units));
  m.telemetry[0].target_unit = "kilopascal";
  auto ok = CompiledModel::create(m);
  ASSERT_TRUE(ok.ok());
  EXPECT_NEAR(*ok->accept("p", 1.5, std::nullopt), 150.0, 1e-9);
}

}  // namespace
}  // namespace strata::model

namespace strata::model {
namespace {

TEST(CompiledModel, CarriesTheDetectorChoices) {
  auto m = device_model_from_json(nlohmann::json::parse(R"({
    "@context": "dtmi:dtdl:context;3", "@id": "dtmi:strata:test;1", "@type": "Interface",
    "contents": [
      {"@type": "Telemetry", "name": "a", "schema": "double", "strata:detector": "cusum:k=1"},
      {"@type": "Telemetry", "name": "b", "schema": "double"}],
    "strata:multivariate": {"signals": ["a", "b"], "detector": "mahalanobis:alpha=0.02"}})"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto c = CompiledModel::create(*m);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->find("a")->detector(), "cusum:k=1");
  EXPECT_EQ(c->find("b")->detector(), "");
  ASSERT_TRUE(c->multivariate());
  EXPECT_EQ(c->multivariate()->signals, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c->multivariate()->detector, "mahalanobis:alpha=0.02");
}

}  // namespace
}  // namespace strata::model

#include "sim/wire.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace strata::sim {
namespace {

const ModelCatalog& catalog() {
  static const ModelCatalog c = [] {
    auto r = ModelCatalog::load(STRATA_SOURCE_DIR "/examples/models");
    EXPECT_TRUE(r) << r.error().message;
    return std::move(*r);
  }();
  return c;
}

Emission sample(DeviceKind k, Timestamp ts) {
  Emission e{0, ts, std::vector<double>(metrics_of(k).size(), 0.0)};
  return e;
}

TEST(Wire, EveryKindHasItsExampleModel) {
  for (auto k :
       {DeviceKind::compressor, DeviceKind::pump, DeviceKind::motor, DeviceKind::energy_meter}) {
    const auto* entry = catalog().find(default_model(k));
    ASSERT_NE(entry, nullptr) << default_model(k);
    const WireModel w = wire_model(k, &entry->model);
    EXPECT_TRUE(w.not_simulated.empty())
        << kind_name(k) << " model declares " << w.not_simulated.front();
    EXPECT_TRUE(w.problems.empty()) << w.problems.front();
    EXPECT_FALSE(w.metrics.empty());
  }
}

TEST(Wire, OneSampleIsAnObjectSeveralAnArrayInMilliseconds) {
  const WireModel w = wire_model(DeviceKind::motor, nullptr);
  Emission a = sample(DeviceKind::motor, 1'764'000'000'123'000);
  a.values[*metric_index(DeviceKind::motor, "speed")] = 1452;
  a.values[*metric_index(DeviceKind::motor, "winding_temperature")] = 61.3;
  const Emission* one[] = {&a};
  auto j = nlohmann::json::parse(telemetry_json(w, one));
  EXPECT_EQ(j["ts"], 1'764'000'000'123);
  EXPECT_EQ(j["values"]["speed"], 1452);
  EXPECT_DOUBLE_EQ(j["values"]["winding_temperature"].get<double>(), 61.3);
  Emission b = a;
  b.ts += 1'000'000;
  const Emission* two[] = {&a, &b};
  auto arr = nlohmann::json::parse(telemetry_json(w, two));
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[1]["ts"], 1'764'000'001'123);
}

TEST(Wire, ValuesGoInTheModelsUnitsAndEnumForms) {
  const auto* cmp = catalog().find("dtmi:strata:compressor;1");
  ASSERT_NE(cmp, nullptr);
  const WireModel w = wire_model(DeviceKind::compressor, &cmp->model);
  Emission e = sample(DeviceKind::compressor, 1'000'000'000);
  e.values[*metric_index(DeviceKind::compressor, "discharge_temperature")] = 80.0;
  e.values[*metric_index(DeviceKind::compressor, "discharge_pressure")] = 7.0;
  e.values[*metric_index(DeviceKind::compressor, "state")] = 2;
  e.values[*metric_index(DeviceKind::compressor, "operatorBadge")] = 1;
  const Emission* one[] = {&e};
  auto j = nlohmann::json::parse(telemetry_json(w, one))["values"];
  // The model says the device reports °F and psi.
  const auto* t = cmp->model.find_telemetry("discharge_temperature");
  if (t->unit == "degreeFahrenheit") {
    EXPECT_NEAR(j["discharge_temperature"].get<double>(), 176.0, 0.01);
  }
  const auto* p = cmp->model.find_telemetry("discharge_pressure");
  if (p->unit == "poundPerSquareInch") {
    EXPECT_NEAR(j["discharge_pressure"].get<double>(), 101.526, 0.01);
  }
  if (cmp->model.find_telemetry("run_hours")->schema.kind == model::SchemaKind::long_) {
    e.values[*metric_index(DeviceKind::compressor, "run_hours")] = 17906.049;
    auto k = nlohmann::json::parse(telemetry_json(w, one))["values"]["run_hours"];
    EXPECT_TRUE(k.is_number_integer()) << k;  // a long in the model: whole hours
    EXPECT_EQ(w.metrics[static_cast<std::size_t>(w.find("run_hours"))].wire_value(17906.049),
              17906);
  }
  EXPECT_TRUE(j["state"].is_number());  // an integer enum
  EXPECT_EQ(j["state"], 2);
  if (cmp->model.find_telemetry("operatorBadge")) {
    EXPECT_EQ(j["operatorBadge"], "B-20931");
  }
  for (const auto& name : w.not_in_model) EXPECT_FALSE(j.contains(name)) << name;

  const auto* pmp = catalog().find("dtmi:strata:pump;1");
  ASSERT_NE(pmp, nullptr);
  const WireModel pw = wire_model(DeviceKind::pump, &pmp->model);
  const int si = pw.find("state");
  ASSERT_GE(si, 0);
  const auto* st = pmp->model.find_telemetry("state");
  if (st->schema.enum_value_schema == model::SchemaKind::string) {
    // A string enum: its texts, by the state's name (fault is 'tripped' there, idle 'running').
    ASSERT_EQ(pw.metrics[static_cast<std::size_t>(si)].texts.size(), 4u);
    Emission s = sample(DeviceKind::pump, 0);
    s.values[*metric_index(DeviceKind::pump, "state")] = 3;
    const Emission* ps[] = {&s};
    auto v = nlohmann::json::parse(telemetry_json(pw, ps))["values"]["state"];
    ASSERT_TRUE(v.is_string());
    const auto& ev = st->schema.enum_values;
    auto it = std::find_if(ev.begin(), ev.end(), [&](const auto& x) { return x.text == v; });
    ASSERT_NE(it, ev.end());
    EXPECT_TRUE(it->name == "tripped" || it->name == "fault") << it->name;
  }
}

TEST(Wire, MissingModelsDirectoryNamesTheFix) {
  auto r = ModelCatalog::load("/nonexistent/models");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("give --models"), std::string::npos);
}

}  // namespace
}  // namespace strata::sim

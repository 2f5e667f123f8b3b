#include "model/device.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace strata::model {
namespace {

using nlohmann::json;

json valid() {
  return json::parse(R"({"id": "cmp-a1-01", "model": "dtmi:strata:compressor;1",
    "site": "plant-a", "line": "line-1", "tags": {"vendor": "atlas", "area": "a1"},
    "modbus": {"host": "127.0.0.1", "port": 1502, "unit_id": 1, "interval_ms": 1000}})");
}

std::string error_of(const json& doc) {
  auto r = device_from_json(doc);
  if (r.ok()) return "<accepted>";
  EXPECT_TRUE(r.error().is(errc::invalid_device)) << r.error().message;
  return r.error().message;
}

TEST(Device, FromJson) {
  auto d = device_from_json(valid());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->id, "cmp-a1-01");
  EXPECT_EQ(d->model_id, "dtmi:strata:compressor;1");
  EXPECT_EQ(d->site, "plant-a");
  EXPECT_EQ(d->line, "line-1");
  ASSERT_EQ(d->tags.size(), 2u);
  EXPECT_EQ(d->tags[0], (std::pair<std::string, std::string>{"area", "a1"}));  // sorted
  EXPECT_EQ(d->state, DeviceState::provisioned);
  ASSERT_TRUE(d->modbus.has_value());
  EXPECT_EQ(d->modbus->port, 1502);
  EXPECT_EQ(d->modbus->unit_id, 1);
}

TEST(Device, Defaults) {
  auto d = parse_device(R"({"id": "m1", "model": "dtmi:strata:motor;1",
                            "modbus": {"host": "10.0.0.5"}})");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->site, "");
  EXPECT_TRUE(d->tags.empty());
  EXPECT_EQ(d->modbus->port, 502);
  EXPECT_EQ(d->modbus->unit_id, 1);
  EXPECT_EQ(d->modbus->interval_ms, 1000u);
}

TEST(Device, RoundTrip) {
  json doc = valid();
  doc["state"] = "suspended";
  auto d = device_from_json(doc);
  ASSERT_TRUE(d.ok()) << d.error().message;
  const json out = to_json(*d);
  EXPECT_EQ(out["state"], "suspended");
  EXPECT_EQ(out["tags"]["vendor"], "atlas");
  auto again = parse_device(out.dump());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *d);
  Device plain;
  plain.id = "x";
  plain.model_id = "dtmi:a;1";
  EXPECT_FALSE(to_json(plain).contains("modbus"));
  EXPECT_EQ(*device_from_json(to_json(plain)), plain);
}

TEST(Device, States) {
  for (auto s : {DeviceState::provisioned, DeviceState::active, DeviceState::suspended,
                 DeviceState::decommissioned})
    EXPECT_EQ(parse_device_state(device_state_name(s)), s);
  EXPECT_EQ(parse_device_state("Active"), std::nullopt);
}

TEST(Device, IdCharset) {
  EXPECT_TRUE(is_valid_device_id("cmp-a1-01"));
  EXPECT_TRUE(is_valid_device_id("plant.a:line_1-x"));
  EXPECT_TRUE(is_valid_device_id(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_device_id(std::string(129, 'a')));
  EXPECT_FALSE(is_valid_device_id(""));
  EXPECT_FALSE(is_valid_device_id("pump 7"));
  EXPECT_FALSE(is_valid_device_id("pump/7"));
  EXPECT_FALSE(is_valid_device_id("pümp"));
}

TEST(DeviceErrors, PathAndReason) {
  json d = valid();
  d["id"] = "pump 7";
  EXPECT_EQ(error_of(d), "$.id: \"pump 7\" is not a device id (1 to 128 of A-Z a-z 0-9 . _ : -)");
  d = valid();
  d.erase("id");
  EXPECT_EQ(error_of(d), "$: missing required key \"id\"");
  d = valid();
  d.erase("model");
  EXPECT_EQ(error_of(d), "$: missing required key \"model\"");
  d = valid();
  d["model"] = "compressor";
  EXPECT_EQ(error_of(d), "$.model: \"compressor\" is not a DTMI: does not start with 'dtmi:'");
  d = valid();
  d["modbus"]["port"] = 70000;
  EXPECT_EQ(error_of(d), "$.modbus.port: expected an integer 1..65535, got 70000");
  d = valid();
  d["modbus"]["unit_id"] = -1;
  EXPECT_EQ(error_of(d), "$.modbus.unit_id: expected an integer 0..255, got -1");
  d = valid();
  d["modbus"]["interval_ms"] = 1.5;
  EXPECT_EQ(error_of(d), "$.modbus.interval_ms: expected an integer 10..86400000, got 1.5");
  d = valid();
  d["modbus"].erase("host");
  EXPECT_EQ(error_of(d), "$.modbus: missing required key \"host\"");
  d = valid();
  d["tags"]["bad key"] = "x";
  EXPECT_EQ(error_of(d), "$.tags['bad key']: a tag key is 1 to 64 of A-Z a-z 0-9 . _ : -");
  d = valid();
  d["tags"]["vendor"] = 3;
  EXPECT_EQ(error_of(d), "$.tags.vendor: expected a string, got 3");
  d = valid();
  d["state"] = "running";
  EXPECT_EQ(error_of(d),
            "$.state: expected \"provisioned\", \"active\", \"suspended\" or \"decommissioned\", "
            "got \"running\"");
  d = valid();
  d["tag"] = json::object();
  EXPECT_EQ(error_of(d),
            "$.tag: unknown key (a device has id, model, site, line, tags, state, modbus, "
            "detectors)");
  d = valid();
  d["detectors"] = {{"temperature", 1}};
  EXPECT_EQ(error_of(d),
            "$.detectors.temperature: expected a detector spec such as \"ensemble\", or \"off\", "
            "got 1");
  d["detectors"] = {{"temperature", "ensemble: x"}};
  EXPECT_EQ(error_of(d),
            "$.detectors.temperature: expected a detector spec such as \"ensemble\" or "
            "\"baseline:alpha=0.1\", or \"off\", got \"ensemble: x\"");
  d["detectors"] = json::array();
  EXPECT_EQ(error_of(d),
            "$.detectors: expected an object of metric: detector spec (or \"off\"), got an array");
  d = valid();
  d["site"] = std::string(129, 's');
  EXPECT_EQ(error_of(d), "$.site: longer than 128 bytes");
  EXPECT_EQ(error_of(json::array()), "$: expected an object (a device), got an array");
}

TEST(DeviceErrors, NotJsonAndDuplicateKeys) {
  auto r = parse_device("{\"id\": ");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(errc::invalid_json));
  auto dup = parse_device(R"({"id": "a", "id": "b", "model": "dtmi:a;1"})");
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(dup.error().is(errc::invalid_device));
  EXPECT_EQ(dup.error().message, "$: key \"id\" appears twice");
}

TEST(Device, ImportArray) {
  json list = json::array({valid(), valid()});
  list[1]["id"] = "cmp-a1-02";
  auto ok = devices_from_json(list);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->size(), 2u);
  list[1]["modbus"]["port"] = 0;
  auto bad = devices_from_json(list);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "$[1].modbus.port: expected an integer 1..65535, got 0");
  list[1] = valid();
  auto dup = devices_from_json(list);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message, "$[1].id: device \"cmp-a1-01\" appears twice");
}

TEST(Device, Patch) {
  const Device d = *device_from_json(valid());
  auto p = patch_device(d, json::parse(R"({"state": "active", "modbus": null,
                                           "tags": {"vendor": "kaeser"}})"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->state, DeviceState::active);
  EXPECT_FALSE(p->modbus.has_value());
  ASSERT_EQ(p->tags.size(), 1u);
  EXPECT_EQ(p->tags[0].second, "kaeser");
  EXPECT_EQ(p->site, "plant-a");  // untouched
  auto same_id = patch_device(d, json{{"id", "cmp-a1-01"}});
  EXPECT_TRUE(same_id.ok());
  auto other_id = patch_device(d, json{{"id", "cmp-a1-02"}});
  ASSERT_FALSE(other_id.ok());
  EXPECT_EQ(other_id.error().message,
            "$.id: a device's id cannot change (create a new device and decommission this one)");
  auto bad = patch_device(d, json{{"modbus", {{"host", ""}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "$.modbus.host: expected 1 to 253 bytes");
}

TEST(Device, DetectorOverrides) {
  json j = valid();
  j["detectors"] = {{"vibration_rms", "off"}, {"discharge_temperature", "baseline:alpha=0.1"}};
  auto d = device_from_json(j);
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_EQ(d->detectors.size(), 2u);
  EXPECT_EQ(d->detectors[0].first, "discharge_temperature");  // sorted by metric
  ASSERT_NE(d->detector_override("vibration_rms"), nullptr);
  EXPECT_EQ(*d->detector_override("vibration_rms"), "off");
  EXPECT_EQ(d->detector_override("motor_current"), nullptr);
  EXPECT_EQ(to_json(*d)["detectors"]["discharge_temperature"], "baseline:alpha=0.1");
  EXPECT_EQ(*device_from_json(to_json(*d)), *d);
  // Without overrides the document has no "detectors" key.
  EXPECT_FALSE(to_json(*device_from_json(valid())).contains("detectors"));
  // PATCH replaces the whole set; null removes it.
  auto p = patch_device(*d, json{{"detectors", {{"motor_current", "cusum"}}}});
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->detectors.size(), 1u);
  EXPECT_EQ(p->detectors[0], (std::pair<std::string, std::string>{"motor_current", "cusum"}));
  auto cleared = patch_device(*d, json{{"detectors", nullptr}});
  ASSERT_TRUE(cleared.ok());
  EXPECT_TRUE(cleared->detectors.empty());
}

}  // namespace
}  // namespace strata::model

#include "model/device_model.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "model/dtmi.hpp"

namespace strata::model {
namespace {

using nlohmann::json;

std::string read_example(const std::string& name) {
  std::ifstream in(std::string(STRATA_EXAMPLES_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json base() {
  return json::parse(R"({
    "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
    "@id": "dtmi:strata:test;1",
    "@type": "Interface",
    "contents": []
  })");
}

json temperature() {
  return json::parse(R"({"@type": ["Telemetry", "Temperature"], "name": "t", "schema": "double",
                         "unit": "degreeCelsius"})");
}

json with(const json& entry) {
  json d = base();
  d["contents"].push_back(entry);
  return d;
}

// The message of a refused document, or "<accepted>".
std::string error_of(std::string_view text, errc expected = errc::invalid_model) {
  auto r = parse_device_model(text);
  if (r.ok()) return "<accepted>";
  EXPECT_TRUE(r.error().is(expected)) << r.error().message;
  return r.error().message;
}
std::string error_of(const json& doc) {
  auto r = device_model_from_json(doc);
  EXPECT_EQ(r.ok(), parse_device_model(doc.dump()).ok());
  if (r.ok()) return "<accepted>";
  EXPECT_TRUE(r.error().is(errc::invalid_model)) << r.error().message;
  return r.error().message;
}

// ---- the examples ----

TEST(DeviceModelExamples, CompressorParses) {
  auto m = parse_device_model(read_example("compressor.json"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->id, "dtmi:strata:compressor;1");
  EXPECT_EQ(m->telemetry.size(), 7u);
  const Telemetry* t = m->find_telemetry("discharge_temperature");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->semantic_type, "Temperature");
  EXPECT_EQ(t->unit, "degreeFahrenheit");
  EXPECT_EQ(t->target_unit, "degreeCelsius");
  EXPECT_EQ(t->expected_interval, 10 * kMicrosPerSecond);
  const Telemetry* p = m->find_telemetry("discharge_pressure");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->unit, "poundPerSquareInch");
  EXPECT_EQ(p->target_unit, "bar");
  const Telemetry* s = m->find_telemetry("state");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->schema.kind, SchemaKind::enumeration);
  ASSERT_EQ(s->schema.enum_values.size(), 4u);
  EXPECT_EQ(s->schema.enum_values[2].name, "running");
  const Telemetry* badge = m->find_telemetry("operatorBadge");
  ASSERT_NE(badge, nullptr);
  EXPECT_TRUE(badge->personal);
  EXPECT_EQ(badge->schema.kind, SchemaKind::string);
  EXPECT_EQ(m->find_telemetry("run_hours")->schema.kind, SchemaKind::long_);
  ASSERT_EQ(m->properties.size(), 1u);
  EXPECT_TRUE(m->properties[0].writable);
  ASSERT_EQ(m->commands.size(), 1u);
  ASSERT_TRUE(m->commands[0].response.has_value());
  EXPECT_EQ(m->commands[0].response->schema.fields.size(), 2u);
  EXPECT_TRUE(m->register_map().empty());
}

TEST(DeviceModelExamples, PumpAndMotorParse) {
  auto pump = parse_device_model(read_example("pump.json"));
  ASSERT_TRUE(pump.ok()) << pump.error().message;
  EXPECT_EQ(pump->telemetry.size(), 6u);
  const Telemetry* state = pump->find_telemetry("state");
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->schema.enum_value_schema, SchemaKind::string);
  EXPECT_EQ(state->schema.enum_values[1].text, "RUN");
  EXPECT_EQ(state->schema.enum_values[1].number, 1);
  auto motor = parse_device_model(read_example("motor.json"));
  ASSERT_TRUE(motor.ok()) << motor.error().message;
  EXPECT_EQ(motor->find_telemetry("speed")->unit, "revolutionPerMinute");
}

TEST(DeviceModelExamples, EnergyMeterRegisterMap) {
  auto m = parse_device_model(read_example("energy-meter.json"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto map = m->register_map();
  ASSERT_EQ(map.size(), m->telemetry.size());
  // Sorted by table (holding first), then address.
  for (std::size_t i = 1; i < map.size(); ++i)
    EXPECT_LT(std::pair(map[i - 1].table, map[i - 1].address),
              std::pair(map[i].table, map[i].address));
  const Telemetry* energy = m->find_telemetry("active_energy");
  ASSERT_TRUE(energy && energy->modbus);
  EXPECT_EQ(energy->modbus->telemetry, "active_energy");
  EXPECT_EQ(energy->modbus->table, RegisterTable::holding);
  EXPECT_EQ(energy->modbus->address, 100);
  EXPECT_EQ(energy->modbus->type, RegisterType::uint32);
  EXPECT_DOUBLE_EQ(energy->modbus->scale, 0.01);
  const Telemetry* v3 = m->find_telemetry("voltage_l3");
  ASSERT_TRUE(v3 && v3->modbus);
  EXPECT_EQ(v3->modbus->type, RegisterType::float32);
  EXPECT_EQ(v3->modbus->byte_order, ByteOrder::little);
  EXPECT_EQ(v3->modbus->word_order, ByteOrder::little);
  const Telemetry* temp = m->find_telemetry("internal_temperature");
  ASSERT_TRUE(temp && temp->modbus);
  EXPECT_DOUBLE_EQ(temp->modbus->offset, -40);
  const Telemetry* pf = m->find_telemetry("power_factor");
  ASSERT_TRUE(pf && pf->modbus);
  EXPECT_EQ(pf->modbus->type, RegisterType::int16);
}

TEST(DeviceModelExamples, RoundTripThroughJson) {
  for (const char* name : {"compressor.json", "pump.json", "motor.json", "energy-meter.json"}) {
    auto m = parse_device_model(read_example(name));
    ASSERT_TRUE(m.ok()) << name << ": " << m.error().message;
    const json out = to_json(*m);
    auto again = parse_device_model(out.dump());
    ASSERT_TRUE(again.ok()) << name << ": " << again.error().message;
    EXPECT_EQ(*again, *m) << name;
  }
}

TEST(DeviceModel, MinimalModelAndLanguageMaps) {
  json d = base();
  d["displayName"] = {{"de", "Kompressor"}, {"en", "Compressor"}};
  auto m = parse_device_model(d.dump());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->display_name, "Compressor");
  EXPECT_TRUE(m->telemetry.empty());
  EXPECT_EQ(m->contexts.size(), 2u);
}

TEST(DeviceModel, AcceptsAParsedDocument) {
  auto m = device_model_from_json(with(temperature()));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->telemetry[0].target_unit, "degreeCelsius");
  // Every overload reaches the same parser.
  const json doc = with(temperature());
  const std::string text = doc.dump();
  EXPECT_EQ(*parse_device_model(doc), *m);
  EXPECT_EQ(*parse_device_model(text), *m);
  EXPECT_EQ(*parse_device_model(text.c_str()), *m);
  EXPECT_EQ(*parse_device_model(std::string_view(text)), *m);
}

TEST(DeviceModel, DetectorsOnTelemetryAndTheMachine) {
  json d = base();
  json t = temperature();
  t["strata:detector"] = "ensemble:spatial_tolerance=0.05";
  d["contents"].push_back({{"@type", "Property"}, {"name", "p"}, {"schema", "double"}});
  d["contents"].push_back(t);
  d["contents"].push_back({{"@type", "Telemetry"}, {"name", "current"}, {"schema", "double"}});
  d["strata:multivariate"] = {{"signals", {"t", "current"}}};
  auto m = device_model_from_json(d);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->telemetry[0].detector, "ensemble:spatial_tolerance=0.05");
  EXPECT_EQ(m->telemetry[1].detector, "");
  ASSERT_TRUE(m->multivariate);
  EXPECT_EQ(m->multivariate->signals, (std::vector<std::string>{"t", "current"}));
  EXPECT_EQ(m->multivariate->detector, "mahalanobis");
  // Paths name where each telemetry was in the document (after the property here).
  EXPECT_EQ(m->telemetry_path(0), "$.contents[1]");
  EXPECT_EQ(m->telemetry_path(1), "$.contents[2]");
  // Both survive the round trip; the paths are not part of the value.
  auto again = device_model_from_json(to_json(*m));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *m);
  EXPECT_EQ(again->telemetry_path(0), "$.contents[0]");
  EXPECT_EQ(to_json(*m)["strata:multivariate"]["detector"], "mahalanobis");
}

TEST(DeviceModelErrors, DetectorForms) {
  json t = temperature();
  t["strata:detector"] = 3;
  EXPECT_EQ(
      error_of(with(t)),
      "$.contents[0]['strata:detector']: expected a detector spec such as \"ensemble\", got 3");
  t["strata:detector"] = "";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:detector']: expected 1 to 512 bytes (a detector spec such as "
            "\"ensemble\")");
  t["strata:detector"] = "ensemble: alpha=1";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:detector']: \"ensemble: alpha=1\" holds a space or a control "
            "character (write name:param=value,...)");
  json s = {
      {"@type", "Telemetry"}, {"name", "s"}, {"schema", "string"}, {"strata:detector", "ensemble"}};
  EXPECT_EQ(error_of(with(s)),
            "$.contents[0]['strata:detector']: a detector scores numbers: the schema must be "
            "double, float, integer or long, not string");
  json d = with(temperature());
  s.erase("strata:detector");
  d["contents"].push_back(s);
  d["strata:multivariate"] = {{"signals", {"t"}}};
  EXPECT_EQ(error_of(d),
            "$['strata:multivariate'].signals: expected an array of 2 to 64 telemetry names, got "
            "an array");
  d["strata:multivariate"] = {{"signals", {"t", "x"}}};
  EXPECT_EQ(error_of(d),
            "$['strata:multivariate'].signals[1]: no telemetry named \"x\" in this model");
  d["strata:multivariate"] = {{"signals", {"t", "t"}}};
  EXPECT_EQ(error_of(d), "$['strata:multivariate'].signals[1]: \"t\" is listed twice");
  d["strata:multivariate"] = {{"signals", {"t", "s"}}};
  EXPECT_EQ(error_of(d),
            "$['strata:multivariate'].signals[1]: \"s\" is string: a signal must be a number "
            "(double, float, integer or long)");
  d["strata:multivariate"] = {{"signals", {"t", "t2"}}, {"detectr", "mahalanobis"}};
  EXPECT_EQ(error_of(d),
            "$['strata:multivariate'].detectr: unknown key (strata:multivariate may have signals, "
            "detector)");
}

// ---- one test per error class: exact path and reason ----

TEST(DeviceModelErrors, NotJson) {
  const std::string msg = error_of("{\"@id\": ", errc::invalid_json);
  EXPECT_EQ(msg.rfind("not JSON: parse error at line 1, column 9: ", 0), 0u) << msg;
}

TEST(DeviceModelErrors, KeyTwiceInOneObject) {
  EXPECT_EQ(error_of(std::string_view(R"({"@id": "dtmi:a;1", "@id": "dtmi:b;1"})")),
            "$: key \"@id\" appears twice");
  json d = with(temperature());
  std::string text = d.dump();
  text.replace(text.find("\"name\":\"t\""), 10, "\"name\":\"t\",\"name\":\"u\"");
  EXPECT_EQ(error_of(std::string_view(text)), "$.contents[0]: key \"name\" appears twice");
}

TEST(DeviceModelErrors, RootIsNotAnObject) {
  EXPECT_EQ(error_of(std::string_view("[1, 2]")),
            "$: expected an object (a DTDL Interface), got an array");
}

TEST(DeviceModelErrors, MissingRequiredKeys) {
  json d = base();
  d.erase("@context");
  EXPECT_EQ(error_of(d), "$: missing required key \"@context\"");
  d = base();
  d.erase("@id");
  EXPECT_EQ(error_of(d), "$: missing required key \"@id\"");
  json t = temperature();
  t.erase("name");
  EXPECT_EQ(error_of(with(t)), "$.contents[0]: missing required key \"name\"");
  t = temperature();
  t.erase("schema");
  EXPECT_EQ(error_of(with(t)), "$.contents[0]: missing required key \"schema\"");
  t = temperature();
  t.erase("unit");
  EXPECT_EQ(
      error_of(with(t)),
      "$.contents[0]: missing required key \"unit\" (a Temperature needs a temperature unit)");
}

TEST(DeviceModelErrors, WrongContext) {
  json d = base();
  d["@context"] = "dtmi:dtdl:context;2";
  EXPECT_EQ(error_of(d),
            "$['@context']: \"dtmi:dtdl:context;2\": Strata reads DTDL v3 only (write "
            "\"dtmi:dtdl:context;3\")");
  d["@context"] = json::array({"dtmi:dtdl:context;3", "dtmi:strata:context"});
  EXPECT_EQ(error_of(d),
            "$['@context'][1]: \"dtmi:strata:context\": an extension context needs a version "
            "(e.g. ';1')");
  d["@context"] = 3;
  EXPECT_EQ(error_of(d),
            "$['@context']: expected \"dtmi:dtdl:context;3\" or an array starting with it, got 3");
}

TEST(DeviceModelErrors, BadDtmi) {
  json d = base();
  d["@id"] = "dtmi:strata:Compressor_;1";
  EXPECT_EQ(error_of(d),
            "$['@id']: \"dtmi:strata:Compressor_;1\" is not a DTMI: segment 2 'Compressor_' ends "
            "with '_'");
  d["@id"] = "urn:strata:compressor;1";
  EXPECT_EQ(error_of(d),
            "$['@id']: \"urn:strata:compressor;1\" is not a DTMI: does not start with 'dtmi:'");
  d["@id"] = "dtmi:strata:compressor";
  EXPECT_EQ(error_of(d),
            "$['@id']: \"dtmi:strata:compressor\" has no version: a model's @id ends in "
            "';<version>', e.g. \"dtmi:strata:compressor;1\"");
  d["@id"] = "dtmi:strata:compressor;01";
  EXPECT_EQ(
      error_of(d),
      "$['@id']: \"dtmi:strata:compressor;01\" is not a DTMI: the version '01' starts with 0");
}

TEST(DeviceModelErrors, NotAnInterface) {
  json d = base();
  d["@type"] = "Telemetry";
  EXPECT_EQ(error_of(d), "$['@type']: expected \"Interface\", got \"Telemetry\"");
}

TEST(DeviceModelErrors, UnknownAndUnsupportedKeys) {
  json d = base();
  d["extends"] = "dtmi:strata:base;1";
  EXPECT_EQ(error_of(d), "$.extends: not supported by Strata's DTDL subset (docs/models.md)");
  d = base();
  d["contnets"] = json::array();
  EXPECT_EQ(error_of(d),
            "$.contnets: unknown key (an Interface may have @context, @id, @type, displayName, "
            "description, comment, contents, strata:multivariate)");
  json t = temperature();
  t["unti"] = "bar";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].unti: unknown key (a Telemetry may have @type, @id, name, schema, unit, "
            "displayName, description, comment, strata:targetUnit, strata:min, strata:max, "
            "strata:expectedInterval, strata:personal, strata:modbus, strata:detector)");
  t = temperature();
  t["strata:mni"] = 0;
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:mni']: unknown Strata extension (a Telemetry may have @type, "
            "@id, name, schema, unit, displayName, description, comment, strata:targetUnit, "
            "strata:min, strata:max, strata:expectedInterval, strata:personal, strata:modbus, "
            "strata:detector)");
  json p = {{"@type", "Property"}, {"name", "p"}, {"schema", "double"}, {"strata:min", 0}};
  EXPECT_EQ(error_of(with(p)),
            "$.contents[0]['strata:min']: Strata extensions apply to Telemetry only (and "
            "strata:multivariate to the Interface)");
  d = base();
  d["strata:detector"] = "ensemble";
  EXPECT_EQ(error_of(d),
            "$['strata:detector']: unknown Strata extension (an Interface may have @context, @id, "
            "@type, displayName, description, comment, contents, strata:multivariate)");
}

TEST(DeviceModelErrors, WrongSchema) {
  json d = base();
  for (int i = 0; i < 3; ++i) {
    json t = temperature();
    t["name"] = "t" + std::to_string(i);
    d["contents"].push_back(t);
  }
  d["contents"].push_back({{"@type", "Telemetry"}, {"name", "x"}, {"schema", "number"}});
  EXPECT_EQ(error_of(d),
            "$.contents[3].schema: expected double, float, integer, long, boolean, string or an "
            "Enum object, got \"number\"");
  json t = {{"@type", "Telemetry"}, {"name", "x"}, {"schema", "dateTime"}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema: expected double, float, integer, long, boolean, string or an "
            "Enum object, got \"dateTime\" (a DTDL schema Strata's subset does not support)");
  t["schema"] = {{"@type", "Object"}, {"fields", json::array()}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema['@type']: Object schemas are not supported for Telemetry (one "
            "metric is one value): make each field a Telemetry of its own");
  json p = {{"@type", "Property"}, {"name", "p"}, {"schema", 7}};
  EXPECT_EQ(error_of(with(p)),
            "$.contents[0].schema: expected double, float, integer, long, boolean, string, an Enum "
            "or an Object object, got 7");
}

TEST(DeviceModelErrors, WrongTypes) {
  json t = temperature();
  t["name"] = 5;
  EXPECT_EQ(error_of(with(t)), "$.contents[0].name: expected a string, got 5");
  json p = {{"@type", "Property"}, {"name", "p"}, {"schema", "double"}, {"writable", "yes"}};
  EXPECT_EQ(error_of(with(p)), "$.contents[0].writable: expected true or false, got \"yes\"");
  t = temperature();
  t["strata:max"] = "100";
  EXPECT_EQ(error_of(with(t)), "$.contents[0]['strata:max']: expected a number, got \"100\"");
  json d = base();
  d["contents"] = json::object();
  EXPECT_EQ(error_of(d), "$.contents: expected an array, got an object");
  d = base();
  d["contents"].push_back("Telemetry");
  EXPECT_EQ(error_of(d),
            "$.contents[0]: expected an object (a Telemetry, Property or Command), got "
            "\"Telemetry\"");
}

TEST(DeviceModelErrors, BadNames) {
  json t = temperature();
  t["name"] = "discharge-temp";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].name: \"discharge-temp\" is not a DTDL name (a letter, then letters, "
            "digits or '_', not ending in '_', at most 512 characters)");
}

TEST(DeviceModelErrors, DuplicateNames) {
  json d = base();
  d["contents"].push_back(temperature());
  d["contents"].push_back({{"@type", "Command"}, {"name", "reboot"}});
  d["contents"].push_back({{"@type", "Property"}, {"name", "t"}, {"schema", "string"}});
  EXPECT_EQ(error_of(d), "$.contents[2].name: duplicate name \"t\" (also at $.contents[0])");
}

TEST(DeviceModelErrors, ElementAndSemanticTypes) {
  json t = temperature();
  t["@type"] = "Telemtry";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['@type']: expected Telemetry, Property, Command, got \"Telemtry\"");
  t["@type"] = json::array({"Telemetry", "Temprature"});
  EXPECT_EQ(error_of(with(t)).rfind("$.contents[0]['@type'][1]: unknown semantic type "
                                    "\"Temprature\" (Strata knows Acceleration, Angle, ",
                                    0),
            0u);
  t["@type"] = "Component";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['@type']: \"Component\" is not supported by Strata's DTDL subset "
            "(contents are Telemetry, Property or Command)");
  json d = with(temperature());
  d["@context"] = "dtmi:dtdl:context;3";
  EXPECT_EQ(error_of(d),
            "$.contents[0]['@type'][1]: the semantic type \"Temperature\" needs the context "
            "\"dtmi:dtdl:extension:quantitativeTypes;1\" in $['@context']");
}

TEST(DeviceModelErrors, UnitRules) {
  json t = temperature();
  t["unit"] = "degreecelsius";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].unit: unknown unit \"degreecelsius\" (did you mean degreeCelsius?)");
  t["unit"] = "°C";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].unit: unknown unit \"°C\" (write the DTDL unit name degreeCelsius)");
  t["unit"] = "bar";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].unit: bar is a pressure unit, but a Temperature needs a temperature "
            "unit");
  json plain = {{"@type", "Telemetry"}, {"name", "p"}, {"schema", "double"}, {"unit", "bar"}};
  EXPECT_EQ(error_of(with(plain)),
            "$.contents[0].unit: a unit needs a semantic type in @type, e.g. [\"Telemetry\", "
            "\"Temperature\"] (DTDL QuantitativeTypes)");
  t = temperature();
  t["schema"] = "boolean";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema: a Temperature needs a numeric schema (double, float, integer or "
            "long), got boolean");
}

TEST(DeviceModelErrors, TargetUnitOfAnotherDimension) {
  json t = temperature();
  t["strata:targetUnit"] = "bar";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:targetUnit']: cannot convert degreeCelsius (temperature) to bar "
            "(pressure): units convert only within one dimension");
  t["strata:targetUnit"] = "Kelvin";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:targetUnit']: unknown unit \"Kelvin\" (did you mean kelvin?)");
  json plain = {
      {"@type", "Telemetry"}, {"name", "p"}, {"schema", "double"}, {"strata:targetUnit", "bar"}};
  EXPECT_EQ(error_of(with(plain)),
            "$.contents[0]['strata:targetUnit']: needs a \"unit\" to convert from");
}

TEST(DeviceModelErrors, MinGreaterThanMax) {
  json t = temperature();
  t["strata:min"] = 10;
  t["strata:max"] = 5.5;
  EXPECT_EQ(error_of(with(t)), "$.contents[0]['strata:min']: 10 is greater than strata:max 5.5");
  json s = {{"@type", "Telemetry"}, {"name", "s"}, {"schema", "string"}, {"strata:max", 1}};
  EXPECT_EQ(error_of(with(s)),
            "$.contents[0]['strata:max']: a range needs a numeric schema (double, float, integer "
            "or long), not string");
}

TEST(DeviceModelErrors, ExpectedInterval) {
  json t = temperature();
  t["strata:expectedInterval"] = "P1M";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:expectedInterval']: expected a positive ISO 8601 duration such "
            "as \"PT10S\", \"PT1M30S\" or \"P1D\" (no years or months), got \"P1M\"");
  t["strata:expectedInterval"] = "PT0S";
  EXPECT_NE(error_of(with(t)), "<accepted>");
}

TEST(DeviceModelErrors, PersonalNeedsText) {
  json t = temperature();
  t["strata:personal"] = true;
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:personal']: personal values are pseudonymised text: the schema "
            "must be \"string\", not double");
  t["strata:personal"] = "yes";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:personal']: expected true or false, got \"yes\"");
}

TEST(DeviceModelErrors, EnumRules) {
  json t = {{"@type", "Telemetry"}, {"name", "state"}};
  t["schema"] = json::parse(R"({"@type": "Enum", "valueSchema": "integer",
      "enumValues": [{"name": "idle", "enumValue": 1}, {"name": "idle", "enumValue": 2}]})");
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema.enumValues[1].name: duplicate enum name \"idle\" (also at "
            "$.contents[0].schema.enumValues[0])");
  t["schema"]["enumValues"][1] = {{"name", "run"}, {"enumValue", 1}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema.enumValues[1].enumValue: duplicate enumValue 1 (also at "
            "$.contents[0].schema.enumValues[0])");
  t["schema"]["enumValues"][1] = {{"name", "run"}, {"enumValue", "2"}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema.enumValues[1].enumValue: expected an integer (valueSchema is "
            "integer), got \"2\"");
  t["schema"]["valueSchema"] = "long";
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema.valueSchema: expected \"integer\" or \"string\", got \"long\"");
  t["schema"] = {{"@type", "Enum"}, {"valueSchema", "string"}, {"enumValues", json::array()}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0].schema.enumValues: expected a non-empty array of {\"name\", "
            "\"enumValue\"}, got an array");
}

TEST(DeviceModelErrors, ModbusRegister) {
  json t = temperature();
  t["strata:modbus"] = {{"table", "holding"}, {"address", 65535}, {"type", "float32"}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:modbus'].address: expected an integer 0..65534 (the 0-based "
            "PDU address of the first of two registers), got 65535");
  t["strata:modbus"] = {{"table", "coil"}, {"address", 1}, {"type", "int16"}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:modbus'].table: expected \"holding\" or \"input\", got "
            "\"coil\"");
  t["strata:modbus"] = {{"table", "input"}, {"address", 1}, {"type", "int64"}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:modbus'].type: expected \"int16\", \"uint16\", \"int32\", "
            "\"uint32\" or \"float32\", got \"int64\"");
  t["strata:modbus"] = {
      {"table", "input"}, {"address", 1}, {"type", "int16"}, {"wordOrder", "little"}};
  EXPECT_EQ(error_of(with(t)),
            "$.contents[0]['strata:modbus'].wordOrder: applies to 32-bit types only (this register "
            "is int16)");
  t["strata:modbus"] = {{"table", "input"}, {"address", 1}, {"type", "int16"}, {"scale", 0}};
  EXPECT_EQ(error_of(with(t)), "$.contents[0]['strata:modbus'].scale: must not be 0");
  t["strata:modbus"] = {{"table", "input"}, {"type", "int16"}};
  EXPECT_EQ(error_of(with(t)), "$.contents[0]['strata:modbus']: missing required key \"address\"");

  json d = base();
  json a = temperature();
  a["strata:modbus"] = {{"table", "holding"}, {"address", 10}, {"type", "uint32"}};
  json b = temperature();
  b["name"] = "u";
  b["strata:modbus"] = {{"table", "holding"}, {"address", 11}, {"type", "uint16"}};
  d["contents"] = {a, b};
  EXPECT_EQ(error_of(d),
            "$.contents[1]['strata:modbus'].address: holding registers 11..11 overlap those of "
            "'t' (10..11)");
  d["contents"][1]["strata:modbus"]["table"] = "input";  // another table: no overlap
  EXPECT_EQ(error_of(d), "<accepted>");
}

TEST(DeviceModelErrors, CommandPayloads) {
  json c = {{"@type", "Command"}, {"name", "reset"}, {"request", {{"schema", "string"}}}};
  EXPECT_EQ(error_of(with(c)), "$.contents[0].request: missing required key \"name\"");
  c["request"] = {{"name", "mode"}, {"schema", {{"@type", "Map"}}}};
  EXPECT_EQ(error_of(with(c)),
            "$.contents[0].request.schema['@type']: \"Map\" schemas are not supported by Strata's "
            "DTDL subset");
  c["request"] = {
      {"name", "mode"},
      {"schema", {{"@type", "Object"}, {"fields", {{{"name", "a"}, {"schema", "x"}}}}}}};
  EXPECT_EQ(error_of(with(c)),
            "$.contents[0].request.schema.fields[0].schema: expected double, float, integer, long, "
            "boolean, string, an Enum or an Object object, got \"x\"");
  c["request"] = {{"name", "mode"}, {"schema", "string"}};
  c["commandType"] = "synchronous";
  EXPECT_EQ(error_of(with(c)),
            "$.contents[0].commandType: not supported by Strata's DTDL subset (docs/models.md)");
}

TEST(DeviceModelErrors, ObjectNestingIsBounded) {
  json schema = "double";
  for (int i = 0; i < 7; ++i)
    schema = {{"@type", "Object"}, {"fields", {{{"name", "f"}, {"schema", schema}}}}};
  json p = {{"@type", "Property"}, {"name", "p"}, {"schema", schema}};
  const std::string msg = error_of(with(p));
  EXPECT_NE(msg.find("schemas nested deeper than 5 levels"), std::string::npos) << msg;
}

TEST(DeviceModelErrors, JsonNestingIsBounded) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  const std::string msg = error_of(std::string_view(deep));
  EXPECT_NE(msg.find("nested deeper than 64 levels"), std::string::npos) << msg;
}

// ---- pieces ----

TEST(Dtmi, Grammar) {
  EXPECT_TRUE(is_dtmi("dtmi:strata:compressor;1"));
  EXPECT_TRUE(is_dtmi("dtmi:com:example:Thermostat;12.3"));
  EXPECT_TRUE(is_dtmi("dtmi:_system:x1"));
  EXPECT_TRUE(is_dtmi("dtmi:a"));
  EXPECT_FALSE(is_dtmi("dtmi:"));
  EXPECT_FALSE(is_dtmi("dtmi:strata::x;1"));
  EXPECT_FALSE(is_dtmi("dtmi:1strata;1"));
  EXPECT_FALSE(is_dtmi("dtmi:strata:com-pressor;1"));
  EXPECT_FALSE(is_dtmi("dtmi:strata;0"));
  EXPECT_FALSE(is_dtmi("dtmi:strata;1234567890"));
  EXPECT_FALSE(is_dtmi("dtmi:strata;1.0"));
  EXPECT_FALSE(is_dtmi("dtmi:strata;1."));
  EXPECT_FALSE(is_dtmi("dtmi:____"));
  EXPECT_EQ(dtmi_error("dtmi:strata:com-pressor;1"),
            "segment 2 'com-pressor' holds '-' (only letters, digits and '_' are allowed)");
  EXPECT_FALSE(is_dtmi("dtmi:" + std::string(2100, 'a')));
}

TEST(Iso8601Duration, ReadsWhatModelsUse) {
  EXPECT_EQ(parse_iso8601_duration("PT10S"), 10 * kMicrosPerSecond);
  EXPECT_EQ(parse_iso8601_duration("PT1M30S"), 90 * kMicrosPerSecond);
  EXPECT_EQ(parse_iso8601_duration("PT0.25S"), 250'000);
  EXPECT_EQ(parse_iso8601_duration("PT1H"), 3600 * kMicrosPerSecond);
  EXPECT_EQ(parse_iso8601_duration("P1DT12H"), 36 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(parse_iso8601_duration("P2W"), 14 * 86400 * kMicrosPerSecond);
  for (const char* bad : {"", "P", "PT", "P1M", "P1Y", "PT1.5M", "T10S", "PT10", "PT10S5", "PT1S1M",
                          "P1DT", "PT-1S", "PT999999999999H", "P1W1D"})
    EXPECT_EQ(parse_iso8601_duration(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace strata::model

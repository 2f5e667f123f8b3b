#pragma once
// A small plant for pipeline and registry tests: one compressor model with every kind of
// telemetry the pipeline treats differently (unit conversion, range, enum, personal, text).
#include <string_view>

namespace strata::testing {

inline constexpr std::string_view kCompressorModel = R"({
  "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
  "@id": "dtmi:test:compressor;1",
  "@type": "Interface",
  "contents": [
    {"@type": ["Telemetry", "Temperature"], "name": "discharge_temperature", "schema": "double",
     "unit": "degreeFahrenheit", "strata:targetUnit": "degreeCelsius",
     "strata:min": -20, "strata:max": 250},
    {"@type": ["Telemetry", "Pressure"], "name": "discharge_pressure", "schema": "double",
     "unit": "poundPerSquareInch", "strata:targetUnit": "bar"},
    {"@type": "Telemetry", "name": "state",
     "schema": {"@type": "Enum", "valueSchema": "integer", "enumValues": [
       {"name": "stopped", "enumValue": 0}, {"name": "running", "enumValue": 2}]}},
    {"@type": "Telemetry", "name": "operator_badge", "schema": "string", "strata:personal": true},
    {"@type": "Telemetry", "name": "firmware", "schema": "string"}
  ]
})";

}  // namespace strata::testing

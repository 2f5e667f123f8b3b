#pragma once
// DeviceModel: what a kind of device sends and accepts, written as a DTDL v3 Interface (a JSON
// document) and parsed here into plain structs. The ingestion pipeline compiles it into per-metric
// checkers (model/compiled_model.hpp), the Modbus poller reads its register map, and the REST
// surface stores it (POST /api/v1/models). docs/models.md is the long version.
//
// The subset of DTDL v3 accepted (anything else is refused with its JSON path):
//
//   {
//     "@context": "dtmi:dtdl:context;3" | ["dtmi:dtdl:context;3", <extension DTMI>...],
//     "@id": <DTMI with a version, at most 128 chars>,
//     "@type": "Interface",
//     "displayName": <string or {"en": ...}>?, "description": ...?, "comment": <string>?,
//     "contents": [ <Telemetry | Property | Command> ... ]
//   }
//   Telemetry: {"@type": "Telemetry" | ["Telemetry", <semantic type>], "name", "schema",
//               "unit"?, "displayName"?, "description"?, "comment"?, "@id"?, "strata:..."?}
//   Property:  the same plus "writable" (boolean), without "strata:" keys
//   Command:   {"@type": "Command", "name", "request"?: {"name", "schema"}, "response"?: {...}}
//   schema:    "double" | "float" | "integer" | "long" | "boolean" | "string"
//            | {"@type": "Enum", "valueSchema": "integer" | "string",
//               "enumValues": [{"name", "enumValue", "displayName"?}...]}
//            | {"@type": "Object", "fields": [{"name", "schema"}...]}   (commands and properties)
//
// A semantic type (DTDL QuantitativeTypes, context "dtmi:dtdl:extension:quantitativeTypes;1")
// requires a numeric schema and a "unit" of its dimension; a "unit" requires a semantic type.
//
// Strata's extensions, on Telemetry only (keys prefixed "strata:"):
//   "strata:targetUnit"       the unit stored; readings are converted into it on ingestion
//   "strata:min", "strata:max" the valid range, in the target unit (inclusive)
//   "strata:expectedInterval" ISO 8601 duration ("PT10S"): how often a reading is due
//   "strata:personal": true   values are pseudonymised at ingestion (an operator's badge)
//   "strata:modbus"           where the value lives in a Modbus device (model/modbus_register.hpp):
//       {"table": "holding"|"input", "address": 0..65535, "type": "int16"|"uint16"|"int32"|
//        "uint32"|"float32", "scale"?: 1, "offset"?: 0, "byteOrder"?: "big", "wordOrder"?: "big"}
//   "strata:detector"         the anomaly detector scoring the series, as a detector spec
//                             ("ensemble", "baseline:alpha=0.1"); numeric schemas only
// and one on the Interface:
//   "strata:multivariate"     {"signals": [<2..64 numeric telemetry names>], "detector"?:
//                             "mahalanobis[:param=value,...]"}: one detector reads the machine's
//                             signals together
// The model checks a detector spec's form only (a string of 1..512 bytes); whether the detector
// and its parameters exist is the registry's validation hook's business (detect/), which refuses a
// model naming a detector it cannot build.
//
// Errors: errc::invalid_json ("not JSON: ... at byte N") or errc::invalid_model with the message
//   $.contents[3].schema: expected double, float, integer, long, boolean, string or an Enum object,
//   got "number"
// (a JSONPath of the offending value, then the reason). Parsing stops at the first error.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "model/errc.hpp"
#include "model/modbus_register.hpp"
#include "model/units.hpp"

namespace strata::model {

inline constexpr std::string_view kDtdlContext = "dtmi:dtdl:context;3";
inline constexpr std::string_view kQuantitativeTypesContext =
    "dtmi:dtdl:extension:quantitativeTypes;1";

// What a value is, as a schema says.
enum class SchemaKind : std::uint8_t {
  double_,
  float_,
  integer,  // 32-bit signed
  long_,    // 64-bit signed
  boolean,
  string,
  enumeration,
  object,  // commands and properties only
};
// "double", "float", "integer", "long", "boolean", "string", "Enum", "Object".
std::string_view schema_kind_name(SchemaKind k);
// double, float, integer and long.
constexpr bool is_numeric(SchemaKind k) { return k <= SchemaKind::long_; }

// One named value of an Enum schema. For valueSchema "integer" the value is `number`; for
// "string", `text` is the enumValue and `number` is the entry's position (0, 1, ...), which is
// what a string enum stores as.
struct EnumValue {
  std::string name;
  std::int64_t number = 0;
  std::string text;  // valueSchema "string" only
  std::string display_name;
  friend bool operator==(const EnumValue&, const EnumValue&) = default;
};

struct Field;

// A schema: a primitive, an Enum or an Object (whose fields have schemas of their own).
struct Schema {
  SchemaKind kind = SchemaKind::double_;
  SchemaKind enum_value_schema = SchemaKind::integer;  // enumeration: integer or string
  std::vector<EnumValue> enum_values;                  // enumeration
  std::vector<Field> fields;                           // object
  friend bool operator==(const Schema&, const Schema&);
};

struct Field {
  std::string name;
  Schema schema;
  friend bool operator==(const Field&, const Field&) = default;
};

// A value a device sends on its own (DTDL Telemetry), with Strata's ingestion rules.
struct Telemetry {
  std::string name;           // the metric name readings carry
  std::string semantic_type;  // "Temperature", ... or empty
  Schema schema;
  std::string unit;           // DTDL unit name the device reports in, or empty
  std::string target_unit;    // the unit stored: strata:targetUnit, else `unit`
  std::optional<double> min;  // inclusive, in target_unit
  std::optional<double> max;
  std::optional<Timestamp> expected_interval;  // µs
  std::string expected_interval_text;          // as written ("PT10S"), for round trips
  bool personal = false;
  std::optional<ModbusRegister> modbus;  // telemetry == name
  std::string detector;                  // strata:detector, a detector spec; empty: none
  std::string display_name;
  std::string description;
  friend bool operator==(const Telemetry&, const Telemetry&) = default;
};

// Signals of a machine scored together (strata:multivariate on the Interface).
struct MultivariateSpec {
  std::vector<std::string> signals;      // numeric telemetry names, 2..64, unique, in this order
  std::string detector = "mahalanobis";  // a detector spec naming the multivariate detector
  friend bool operator==(const MultivariateSpec&, const MultivariateSpec&) = default;
};

// Where the parts of a model were in the document it was parsed from, for messages about them
// (a check made after parsing, such as the registry's detector validation, names the JSONPath).
// Not part of the model's value: two models compare equal whatever their paths.
struct SourcePaths {
  std::vector<std::string> telemetry;  // "$.contents[3]" for each telemetry, in order
  friend bool operator==(const SourcePaths&, const SourcePaths&) { return true; }
};

// A state the device reports or that is set on it (DTDL Property).
struct Property {
  std::string name;
  std::string semantic_type;
  Schema schema;
  std::string unit;
  bool writable = false;
  std::string display_name;
  std::string description;
  friend bool operator==(const Property&, const Property&) = default;
};

// The request or response of a command: a named payload with a schema.
struct CommandPayload {
  std::string name;
  Schema schema;
  friend bool operator==(const CommandPayload&, const CommandPayload&) = default;
};

// Something the platform can ask a device to do (DTDL Command).
struct Command {
  std::string name;
  std::optional<CommandPayload> request;
  std::optional<CommandPayload> response;
  std::string display_name;
  std::string description;
  friend bool operator==(const Command&, const Command&) = default;
};

// A parsed, valid device model. Names are unique across telemetry, properties and commands.
struct DeviceModel {
  std::string id;                     // the DTMI
  std::vector<std::string> contexts;  // "dtmi:dtdl:context;3" first
  std::string display_name;
  std::string description;
  std::vector<Telemetry> telemetry;  // in document order
  std::vector<Property> properties;
  std::vector<Command> commands;
  std::optional<MultivariateSpec> multivariate;
  SourcePaths paths;  // empty for a model built in code

  [[nodiscard]] const Telemetry* find_telemetry(std::string_view name) const;
  [[nodiscard]] const Property* find_property(std::string_view name) const;
  [[nodiscard]] const Command* find_command(std::string_view name) const;
  // "$.contents[3]" for a telemetry parsed from a document, else a path naming it.
  [[nodiscard]] std::string telemetry_path(std::size_t index) const;
  // The Modbus register map: every telemetry's strata:modbus entry, by table then address.
  [[nodiscard]] std::vector<ModbusRegister> register_map() const;
  friend bool operator==(const DeviceModel&, const DeviceModel&) = default;
};

// Parses and validates a model from JSON text. Never throws. (The std::string and const char*
// overloads only resolve what would otherwise be ambiguous: a string converts to both string_view
// and json.)
[[nodiscard]] Result<DeviceModel> parse_device_model(std::string_view json_text);
[[nodiscard]] Result<DeviceModel> parse_device_model(const std::string& json_text);
[[nodiscard]] Result<DeviceModel> parse_device_model(const char* json_text);
// The same from a parsed document (the REST layer already has one). Never throws. A key given
// twice in the text is caught only by the text overloads: nlohmann keeps the last one.
[[nodiscard]] Result<DeviceModel> device_model_from_json(const nlohmann::json& document);
[[nodiscard]] Result<DeviceModel> parse_device_model(const nlohmann::json& document);

// The model as a DTDL document (device_model_from_json(to_json(m)) == m). Display names and
// descriptions come back as plain strings; comments are not kept.
nlohmann::json to_json(const DeviceModel& model);

// An ISO 8601 duration in µs: "PT10S", "PT1M30S", "PT0.5S", "P1D", "P2W" (weeks, days, hours,
// minutes, seconds; a fraction on the seconds only). Years and months have no fixed length and
// are refused, as is anything else: nullopt.
std::optional<Timestamp> parse_iso8601_duration(std::string_view text);

// Names of the DTDL semantic types Strata knows, and the dimension of the units each one takes;
// nullopt for a name that is not one of them.
std::optional<Dimension> semantic_type_dimension(std::string_view semantic_type);

// Strata's names for the Modbus register fields ("holding", "int16", "big", ...). Prefixed
// "modbus_" so that argument-dependent lookup never meets ingest's own register_type_name().
std::string_view modbus_table_name(RegisterTable t);
std::string_view modbus_type_name(RegisterType t);
std::string_view modbus_order_name(ByteOrder o);

}  // namespace strata::model

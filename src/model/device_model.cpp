#include "model/device_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "model/dtmi.hpp"
#include "model/json_document.hpp"

namespace strata::model {
namespace {

using detail::element_path;
using detail::member_path;
using detail::shown;
using nlohmann::json;

// Thrown inside the parser only and turned into errc::invalid_model at its entry points.
struct Invalid {
  std::string path;
  std::string reason;
};

[[noreturn]] void fail(std::string path, std::string reason) {
  throw Invalid{std::move(path), std::move(reason)};
}

constexpr std::size_t kMaxNameLength = 512;    // DTDL v3
constexpr std::size_t kMaxTextLength = 512;    // displayName, description, comment (DTDL v3)
constexpr std::size_t kMaxContents = 10'000;   // Strata's bound
constexpr std::size_t kMaxEnumValues = 1'000;  // Strata's bound
constexpr int kMaxSchemaDepth = 5;             // DTDL v3's bound on nested complex schemas
constexpr std::size_t kMaxDetectorSpecLength = 512;
constexpr std::size_t kMaxSignals = 64;  // MultivariateDetector's bound

const std::pair<std::string_view, Dimension> kSemanticTypes[] = {
    {"Acceleration", Dimension::acceleration},
    {"Angle", Dimension::angle},
    {"AngularVelocity", Dimension::angular_velocity},
    {"ApparentEnergy", Dimension::apparent_energy},
    {"ApparentPower", Dimension::apparent_power},
    {"Concentration", Dimension::unitless},
    {"Current", Dimension::current},
    {"Distance", Dimension::length},
    {"ElectricCharge", Dimension::charge},
    {"Energy", Dimension::energy},
    {"EnergyRate", Dimension::power},
    {"Force", Dimension::force},
    {"Frequency", Dimension::frequency},
    {"Latitude", Dimension::angle},
    {"Length", Dimension::length},
    {"Longitude", Dimension::angle},
    {"Mass", Dimension::mass},
    {"MassFlowRate", Dimension::mass_flow},
    {"Power", Dimension::power},
    {"Pressure", Dimension::pressure},
    {"ReactiveEnergy", Dimension::reactive_energy},
    {"ReactivePower", Dimension::reactive_power},
    {"RelativeDensity", Dimension::unitless},
    {"RelativeHumidity", Dimension::unitless},
    {"Resistance", Dimension::resistance},
    {"SoundPressure", Dimension::sound_pressure},
    {"Temperature", Dimension::temperature},
    {"Thrust", Dimension::force},
    {"TimeSpan", Dimension::time},
    {"Torque", Dimension::torque},
    {"Velocity", Dimension::velocity},
    {"Voltage", Dimension::voltage},
    {"Volume", Dimension::volume},
    {"VolumeFlowRate", Dimension::volume_flow},
};

std::string semantic_type_list() {
  std::string s;
  for (const auto& [name, dim] : kSemanticTypes) {
    if (!s.empty()) s += ", ";
    s += name;
  }
  return s;
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string number_text(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  return json(v).dump();
}

// Refuses keys an object may not have; `allowed` lists the ones it may. Keys prefixed "strata:"
// get a message of their own.
void check_keys(const json& object, const std::string& path,
                std::initializer_list<std::string_view> allowed, std::string_view what,
                std::initializer_list<std::string_view> unsupported = {}) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    const std::string where = member_path(path, key);
    if (std::find(unsupported.begin(), unsupported.end(), key) != unsupported.end())
      fail(where, "not supported by Strata's DTDL subset (docs/models.md)");
    std::string list;
    for (std::string_view a : allowed) {
      if (!list.empty()) list += ", ";
      list += a;
    }
    if (key.rfind("strata:", 0) == 0) {
      if (what == "a Telemetry" || what == "an Interface")
        fail(where, "unknown Strata extension (" + std::string(what) + " may have " + list + ")");
      fail(where,
           "Strata extensions apply to Telemetry only (and strata:multivariate to the "
           "Interface)");
    }
    fail(where, "unknown key (" + std::string(what) + " may have " + list + ")");
  }
}

const json& require(const json& object, const std::string& path, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end()) fail(path, "missing required key \"" + std::string(key) + "\"");
  return *it;
}

const json* optional_member(const json& object, std::string_view key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const std::string& require_string(const json& v, const std::string& path, std::string_view what) {
  if (!v.is_string()) fail(path, "expected " + std::string(what) + ", got " + shown(v));
  return v.get_ref<const std::string&>();
}

bool is_dtdl_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxNameLength) return false;
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!letter(n.front())) return false;
  for (char c : n)
    if (!letter(c) && !digit(c) && c != '_') return false;
  return n.back() != '_';
}

std::string parse_name(const json& object, const std::string& path) {
  const std::string where = member_path(path, "name");
  const std::string& name = require_string(require(object, path, "name"), where, "a string");
  if (!is_dtdl_name(name))
    fail(where, shown(json(name)) +
                    " is not a DTDL name (a letter, then letters, digits or '_', not ending in "
                    "'_', at most 512 characters)");
  return name;
}

// displayName / description: a string or a language map {"en": "..."}; the "en" entry (else the
// first) is kept.
std::string parse_localized(const json& object, const std::string& path, std::string_view key) {
  const json* v = optional_member(object, key);
  if (v == nullptr) return {};
  const std::string where = member_path(path, key);
  auto check_length = [&](const std::string& s, const std::string& at) {
    if (s.size() > kMaxTextLength)
      fail(at, "longer than " + std::to_string(kMaxTextLength) + " characters");
    return s;
  };
  if (v->is_string()) return check_length(v->get<std::string>(), where);
  if (!v->is_object() || v->empty())
    fail(where, "expected a string or a language map such as {\"en\": \"...\"}, got " + shown(*v));
  std::string first;
  std::string english;
  for (const auto& [lang, text] : v->items()) {
    const std::string at = member_path(where, lang);
    const std::string& s = require_string(text, at, "a string");
    check_length(s, at);
    if (first.empty()) first = s;
    if (lang == "en") english = s;
  }
  return english.empty() ? first : english;
}

void check_comment(const json& object, const std::string& path) {
  if (const json* c = optional_member(object, "comment")) {
    const std::string where = member_path(path, "comment");
    if (require_string(*c, where, "a string").size() > kMaxTextLength)
      fail(where, "longer than " + std::to_string(kMaxTextLength) + " characters");
  }
}

void check_optional_id(const json& object, const std::string& path) {
  if (const json* id = optional_member(object, "@id")) {
    const std::string where = member_path(path, "@id");
    if (auto e = dtmi_error(require_string(*id, where, "a DTMI string")))
      fail(where, shown(*id) + " is not a DTMI: " + *e);
  }
}

// "@type" of a content or field: the element type, optionally with one semantic type.
struct Types {
  std::string element;
  std::string semantic;
  std::string semantic_path;
};

Types parse_types(const json& object, const std::string& path,
                  std::initializer_list<std::string_view> elements, bool semantic_allowed,
                  bool quantitative_context) {
  const std::string where = member_path(path, "@type");
  const json& t = require(object, path, "@type");
  std::vector<std::pair<std::string, std::string>> names;  // (name, path)
  if (t.is_string()) {
    names.emplace_back(t.get<std::string>(), where);
  } else if (t.is_array() && !t.empty()) {
    for (std::size_t i = 0; i < t.size(); ++i)
      names.emplace_back(require_string(t[i], element_path(where, i), "a string"),
                         element_path(where, i));
  } else {
    fail(where, "expected a string or a non-empty array of strings, got " + shown(t));
  }
  std::string list;
  for (std::string_view e : elements) {
    if (!list.empty()) list += ", ";
    list += e;
  }
  Types out;
  for (const auto& [name, at] : names) {
    if (std::find(elements.begin(), elements.end(), name) != elements.end()) {
      if (!out.element.empty()) fail(at, "a second element type " + in_quotes(name));
      out.element = name;
      continue;
    }
    if (name == "Component" || name == "Relationship")
      fail(at, in_quotes(name) +
                   " is not supported by Strata's DTDL subset (contents are Telemetry, "
                   "Property or Command)");
    if (!semantic_type_dimension(name)) {
      if (names.size() == 1) fail(at, "expected " + list + ", got " + in_quotes(name));
      fail(at, "unknown semantic type " + in_quotes(name) + " (Strata knows " +
                   semantic_type_list() + ")");
    }
    if (!semantic_allowed) fail(at, "a semantic type is not allowed here");
    if (!out.semantic.empty()) fail(at, "a second semantic type " + in_quotes(name));
    if (!quantitative_context)
      fail(at, "the semantic type " + in_quotes(name) + " needs the context \"" +
                   std::string(kQuantitativeTypesContext) + "\" in $['@context']");
    out.semantic = name;
    out.semantic_path = at;
  }
  if (out.element.empty()) fail(where, "expected one of " + list + " among the types");
  return out;
}

struct SchemaRules {
  bool objects_allowed = false;
  int depth = 0;
};

constexpr std::string_view kOtherDtdlPrimitives[] = {
    "byte",         "bytes",         "date", "dateTime",     "decimal",
    "duration",     "short",         "time", "unsignedByte", "unsignedInteger",
    "unsignedLong", "unsignedShort", "uuid"};

Schema parse_schema(const json& v, const std::string& path, SchemaRules rules);

std::string expected_schemas(bool objects_allowed) {
  return objects_allowed
             ? "double, float, integer, long, boolean, string, an Enum or an Object object"
             : "double, float, integer, long, boolean, string or an Enum object";
}

Schema parse_enum(const json& v, const std::string& path) {
  check_keys(v, path,
             {"@type", "@id", "valueSchema", "enumValues", "displayName", "description", "comment"},
             "an Enum");
  check_optional_id(v, path);
  parse_localized(v, path, "displayName");
  parse_localized(v, path, "description");
  check_comment(v, path);
  Schema s;
  s.kind = SchemaKind::enumeration;
  const std::string vs_path = member_path(path, "valueSchema");
  const json& vs = require(v, path, "valueSchema");
  if (vs == "integer")
    s.enum_value_schema = SchemaKind::integer;
  else if (vs == "string")
    s.enum_value_schema = SchemaKind::string;
  else
    fail(vs_path, "expected \"integer\" or \"string\", got " + shown(vs));
  const std::string ev_path = member_path(path, "enumValues");
  const json& ev = require(v, path, "enumValues");
  if (!ev.is_array() || ev.empty())
    fail(ev_path, "expected a non-empty array of {\"name\", \"enumValue\"}, got " + shown(ev));
  if (ev.size() > kMaxEnumValues)
    fail(ev_path, "more than " + std::to_string(kMaxEnumValues) + " values");
  for (std::size_t i = 0; i < ev.size(); ++i) {
    const std::string at = element_path(ev_path, i);
    const json& e = ev[i];
    if (!e.is_object()) fail(at, "expected an object {\"name\", \"enumValue\"}, got " + shown(e));
    check_keys(e, at, {"@id", "name", "enumValue", "displayName", "description", "comment"},
               "an enum value");
    check_optional_id(e, at);
    EnumValue out;
    out.name = parse_name(e, at);
    out.display_name = parse_localized(e, at, "displayName");
    parse_localized(e, at, "description");
    check_comment(e, at);
    const std::string val_path = member_path(at, "enumValue");
    const json& val = require(e, at, "enumValue");
    if (s.enum_value_schema == SchemaKind::integer) {
      if (!val.is_number_integer() || val.get<std::int64_t>() < std::numeric_limits<int>::min() ||
          val.get<std::int64_t>() > std::numeric_limits<int>::max() ||
          (val.is_number_unsigned() && val.get<std::uint64_t>() > 0x7fffffffu))
        fail(val_path, "expected an integer (valueSchema is integer), got " + shown(val));
      out.number = val.get<std::int64_t>();
    } else {
      out.text = require_string(val, val_path, "a string (valueSchema is string)");
      if (out.text.empty()) fail(val_path, "expected a non-empty string");
      out.number = static_cast<std::int64_t>(i);
    }
    for (std::size_t j = 0; j < s.enum_values.size(); ++j) {
      const EnumValue& prev = s.enum_values[j];
      const std::string prev_path = element_path(ev_path, j);
      if (prev.name == out.name)
        fail(member_path(at, "name"),
             "duplicate enum name " + in_quotes(out.name) + " (also at " + prev_path + ")");
      const bool same_value = s.enum_value_schema == SchemaKind::integer ? prev.number == out.number
                                                                         : prev.text == out.text;
      if (same_value)
        fail(val_path, "duplicate enumValue " + shown(val) + " (also at " + prev_path + ")");
      // A string enum's value may not be another entry's name: text maps to one entry only.
      if (s.enum_value_schema == SchemaKind::string &&
          (prev.name == out.text || prev.text == out.name) && prev.name != out.name)
        fail(val_path, "enumValue " + shown(val) + " is ambiguous with the entry at " + prev_path);
    }
    s.enum_values.push_back(std::move(out));
  }
  return s;
}

Schema parse_object(const json& v, const std::string& path, SchemaRules rules) {
  check_keys(v, path, {"@type", "@id", "fields", "displayName", "description", "comment"},
             "an Object");
  check_optional_id(v, path);
  parse_localized(v, path, "displayName");
  parse_localized(v, path, "description");
  check_comment(v, path);
  Schema s;
  s.kind = SchemaKind::object;
  const std::string f_path = member_path(path, "fields");
  const json& fields = require(v, path, "fields");
  if (!fields.is_array() || fields.empty())
    fail(f_path, "expected a non-empty array of {\"name\", \"schema\"}, got " + shown(fields));
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string at = element_path(f_path, i);
    const json& f = fields[i];
    if (!f.is_object()) fail(at, "expected an object {\"name\", \"schema\"}, got " + shown(f));
    check_keys(f, at, {"@type", "@id", "name", "schema", "displayName", "description", "comment"},
               "a Field");
    if (const json* t = optional_member(f, "@type"); t != nullptr && *t != "Field")
      fail(member_path(at, "@type"), "expected \"Field\", got " + shown(*t) +
                                         " (semantic types on fields are not supported)");
    check_optional_id(f, at);
    Field out;
    out.name = parse_name(f, at);
    parse_localized(f, at, "displayName");
    parse_localized(f, at, "description");
    check_comment(f, at);
    for (std::size_t j = 0; j < s.fields.size(); ++j)
      if (s.fields[j].name == out.name)
        fail(member_path(at, "name"), "duplicate field name " + in_quotes(out.name) + " (also at " +
                                          element_path(f_path, j) + ")");
    out.schema = parse_schema(require(f, at, "schema"), member_path(at, "schema"),
                              SchemaRules{true, rules.depth + 1});
    s.fields.push_back(std::move(out));
  }
  return s;
}

Schema parse_schema(const json& v, const std::string& path, SchemaRules rules) {
  Schema s;
  if (v.is_string()) {
    const auto& name = v.get_ref<const std::string&>();
    static constexpr std::pair<std::string_view, SchemaKind> kPrimitives[] = {
        {"double", SchemaKind::double_},  {"float", SchemaKind::float_},
        {"integer", SchemaKind::integer}, {"long", SchemaKind::long_},
        {"boolean", SchemaKind::boolean}, {"string", SchemaKind::string}};
    for (const auto& [n, k] : kPrimitives)
      if (name == n) {
        s.kind = k;
        return s;
      }
    std::string reason =
        "expected " + expected_schemas(rules.objects_allowed) + ", got " + shown(v);
    if (std::find(std::begin(kOtherDtdlPrimitives), std::end(kOtherDtdlPrimitives), name) !=
        std::end(kOtherDtdlPrimitives))
      reason += " (a DTDL schema Strata's subset does not support)";
    fail(path, reason);
  }
  if (!v.is_object())
    fail(path, "expected " + expected_schemas(rules.objects_allowed) + ", got " + shown(v));
  if (rules.depth >= kMaxSchemaDepth)
    fail(path, "schemas nested deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
  const json& type = require(v, path, "@type");
  if (type == "Enum") return parse_enum(v, path);
  if (type == "Object") {
    if (!rules.objects_allowed)
      fail(member_path(path, "@type"),
           "Object schemas are not supported for Telemetry (one metric is one value): make each "
           "field a Telemetry of its own");
    return parse_object(v, path, rules);
  }
  if (type == "Map" || type == "Array")
    fail(member_path(path, "@type"),
         shown(type) + " schemas are not supported by Strata's DTDL subset");
  fail(member_path(path, "@type"), std::string("expected \"Enum\"") +
                                       (rules.objects_allowed ? " or \"Object\"" : "") + ", got " +
                                       shown(type));
}

// The unit of a Telemetry or Property, checked against its semantic type.
std::string parse_unit(const json& content, const std::string& path, const Types& types,
                       const Schema& schema) {
  const json* u = optional_member(content, "unit");
  if (types.semantic.empty()) {
    if (u != nullptr)
      fail(member_path(path, "unit"), "a unit needs a semantic type in @type, e.g. [\"" +
                                          types.element +
                                          "\", \"Temperature\"] (DTDL QuantitativeTypes)");
    return {};
  }
  const Dimension dim = *semantic_type_dimension(types.semantic);
  if (!is_numeric(schema.kind))
    fail(member_path(path, "schema"), "a " + types.semantic +
                                          " needs a numeric schema (double, float, integer or "
                                          "long), got " +
                                          std::string(schema_kind_name(schema.kind)));
  if (u == nullptr)
    fail(path, "missing required key \"unit\" (a " + types.semantic + " needs a " +
                   std::string(dimension_name(dim)) + " unit)");
  const std::string where = member_path(path, "unit");
  const std::string& name = require_string(*u, where, "a unit name");
  const Unit* unit = find_unit_by_name(name);
  if (unit == nullptr) {
    if (const Unit* by_symbol = find_unit(name))
      fail(where, "unknown unit " + shown(*u) + " (write the DTDL unit name " +
                      std::string(by_symbol->name) + ")");
    fail(where, unknown_unit_error(name).message);
  }
  if (unit->dimension != dim)
    fail(where, std::string(unit->name) + " is a " + std::string(dimension_name(unit->dimension)) +
                    " unit, but a " + types.semantic + " needs a " +
                    std::string(dimension_name(dim)) + " unit");
  return name;
}

double parse_finite_number(const json& v, const std::string& path) {
  if (!v.is_number()) fail(path, "expected a number, got " + shown(v));
  const double d = v.get<double>();
  if (!std::isfinite(d)) fail(path, "expected a finite number, got " + shown(v));
  return d;
}

// A detector spec ("ensemble", "baseline:alpha=0.1"): its form only; which detectors and
// parameters exist is checked by the registry's validation hook.
std::string parse_detector_spec_text(const json& v, const std::string& path) {
  const std::string& spec = require_string(v, path, "a detector spec such as \"ensemble\"");
  if (spec.empty() || spec.size() > kMaxDetectorSpecLength)
    fail(path, "expected 1 to " + std::to_string(kMaxDetectorSpecLength) +
                   " bytes (a detector spec such as \"ensemble\")");
  if (std::any_of(spec.begin(), spec.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == ' '; }))
    fail(path, shown(v) + " holds a space or a control character (write name:param=value,...)");
  return spec;
}

ModbusRegister parse_modbus(const json& v, const std::string& path, const Telemetry& t) {
  if (!v.is_object())
    fail(path, "expected an object {\"table\", \"address\", \"type\", ...}, got " + shown(v));
  check_keys(v, path, {"table", "address", "type", "scale", "offset", "byteOrder", "wordOrder"},
             "a Modbus register");
  ModbusRegister r;
  r.telemetry = t.name;
  const json& table = require(v, path, "table");
  if (table == "holding")
    r.table = RegisterTable::holding;
  else if (table == "input")
    r.table = RegisterTable::input;
  else
    fail(member_path(path, "table"), "expected \"holding\" or \"input\", got " + shown(table));
  const json& type = require(v, path, "type");
  static constexpr std::pair<std::string_view, RegisterType> kTypes[] = {
      {"int16", RegisterType::int16},
      {"uint16", RegisterType::uint16},
      {"int32", RegisterType::int32},
      {"uint32", RegisterType::uint32},
      {"float32", RegisterType::float32}};
  bool found = false;
  for (const auto& [n, k] : kTypes)
    if (type == n) {
      r.type = k;
      found = true;
    }
  if (!found)
    fail(
        member_path(path, "type"),
        "expected \"int16\", \"uint16\", \"int32\", \"uint32\" or \"float32\", got " + shown(type));
  const std::string a_path = member_path(path, "address");
  const json& address = require(v, path, "address");
  const unsigned count = register_count(r.type);
  const std::int64_t last = 65536 - static_cast<std::int64_t>(count);
  if (!address.is_number_integer() || address.get<std::int64_t>() < 0 ||
      address.get<std::int64_t>() > last)
    fail(a_path, "expected an integer 0.." + std::to_string(last) + " (the 0-based PDU address" +
                     (count == 2 ? " of the first of two registers" : "") + "), got " +
                     shown(address));
  r.address = static_cast<std::uint16_t>(address.get<std::int64_t>());
  if (const json* s = optional_member(v, "scale")) {
    r.scale = parse_finite_number(*s, member_path(path, "scale"));
    if (r.scale == 0) fail(member_path(path, "scale"), "must not be 0");
  }
  if (const json* o = optional_member(v, "offset"))
    r.offset = parse_finite_number(*o, member_path(path, "offset"));
  auto order = [&](std::string_view key, ByteOrder& out) {
    if (const json* o = optional_member(v, key)) {
      if (*o == "big")
        out = ByteOrder::big;
      else if (*o == "little")
        out = ByteOrder::little;
      else
        fail(member_path(path, key), "expected \"big\" or \"little\", got " + shown(*o));
    }
  };
  order("byteOrder", r.byte_order);
  if (count == 1 && v.contains("wordOrder"))
    fail(member_path(path, "wordOrder"), "applies to 32-bit types only (this register is " +
                                             std::string(modbus_type_name(r.type)) + ")");
  order("wordOrder", r.word_order);
  if (t.schema.kind == SchemaKind::string)
    fail(path, "a string telemetry cannot be read from registers");
  return r;
}

Telemetry parse_telemetry(const json& c, const std::string& path, const Types& types) {
  check_keys(c, path,
             {"@type", "@id", "name", "schema", "unit", "displayName", "description", "comment",
              "strata:targetUnit", "strata:min", "strata:max", "strata:expectedInterval",
              "strata:personal", "strata:modbus", "strata:detector"},
             "a Telemetry");
  Telemetry t;
  t.name = parse_name(c, path);
  t.semantic_type = types.semantic;
  t.display_name = parse_localized(c, path, "displayName");
  t.description = parse_localized(c, path, "description");
  check_comment(c, path);
  check_optional_id(c, path);
  t.schema = parse_schema(require(c, path, "schema"), member_path(path, "schema"), SchemaRules{});
  t.unit = parse_unit(c, path, types, t.schema);
  t.target_unit = t.unit;
  if (const json* tu = optional_member(c, "strata:targetUnit")) {
    const std::string where = member_path(path, "strata:targetUnit");
    const std::string& name = require_string(*tu, where, "a unit name");
    if (t.unit.empty()) fail(where, "needs a \"unit\" to convert from");
    const Unit* target = find_unit_by_name(name);
    if (target == nullptr) {
      if (const Unit* by_symbol = find_unit(name))
        fail(where, "unknown unit " + shown(*tu) + " (write the DTDL unit name " +
                        std::string(by_symbol->name) + ")");
      fail(where, unknown_unit_error(name).message);
    }
    const auto conv = conversion(*find_unit_by_name(t.unit), *target);
    if (!conv) fail(where, conv.error().message);
    t.target_unit = name;
  }
  const json* min = optional_member(c, "strata:min");
  const json* max = optional_member(c, "strata:max");
  for (const auto& [key, v, out] :
       {std::tuple{"strata:min", min, &t.min}, std::tuple{"strata:max", max, &t.max}}) {
    if (v == nullptr) continue;
    const std::string where = member_path(path, key);
    if (!is_numeric(t.schema.kind))
      fail(where, "a range needs a numeric schema (double, float, integer or long), not " +
                      std::string(schema_kind_name(t.schema.kind)));
    *out = parse_finite_number(*v, where);
  }
  if (t.min && t.max && *t.min > *t.max)
    fail(member_path(path, "strata:min"),
         number_text(*t.min) + " is greater than strata:max " + number_text(*t.max));
  if (const json* ei = optional_member(c, "strata:expectedInterval")) {
    const std::string where = member_path(path, "strata:expectedInterval");
    const std::string& text = require_string(*ei, where, "an ISO 8601 duration such as \"PT10S\"");
    t.expected_interval = parse_iso8601_duration(text);
    if (!t.expected_interval || *t.expected_interval <= 0)
      fail(where,
           "expected a positive ISO 8601 duration such as \"PT10S\", \"PT1M30S\" or "
           "\"P1D\" (no years or months), got " +
               shown(*ei));
    t.expected_interval_text = text;
  }
  if (const json* p = optional_member(c, "strata:personal")) {
    const std::string where = member_path(path, "strata:personal");
    if (!p->is_boolean()) fail(where, "expected true or false, got " + shown(*p));
    t.personal = p->get<bool>();
    if (t.personal && t.schema.kind != SchemaKind::string)
      fail(where, "personal values are pseudonymised text: the schema must be \"string\", not " +
                      std::string(schema_kind_name(t.schema.kind)));
  }
  if (const json* m = optional_member(c, "strata:modbus"))
    t.modbus = parse_modbus(*m, member_path(path, "strata:modbus"), t);
  if (const json* d = optional_member(c, "strata:detector")) {
    const std::string where = member_path(path, "strata:detector");
    t.detector = parse_detector_spec_text(*d, where);
    if (!is_numeric(t.schema.kind))
      fail(where,
           "a detector scores numbers: the schema must be double, float, integer or long, "
           "not " +
               std::string(schema_kind_name(t.schema.kind)));
  }
  return t;
}

Property parse_property(const json& c, const std::string& path, const Types& types) {
  check_keys(c, path,
             {"@type", "@id", "name", "schema", "unit", "writable", "displayName", "description",
              "comment"},
             "a Property");
  Property p;
  p.name = parse_name(c, path);
  p.semantic_type = types.semantic;
  p.display_name = parse_localized(c, path, "displayName");
  p.description = parse_localized(c, path, "description");
  check_comment(c, path);
  check_optional_id(c, path);
  p.schema =
      parse_schema(require(c, path, "schema"), member_path(path, "schema"), SchemaRules{true, 0});
  p.unit = parse_unit(c, path, types, p.schema);
  if (const json* w = optional_member(c, "writable")) {
    if (!w->is_boolean())
      fail(member_path(path, "writable"), "expected true or false, got " + shown(*w));
    p.writable = w->get<bool>();
  }
  return p;
}

std::optional<CommandPayload> parse_payload(const json& c, const std::string& path,
                                            std::string_view key, std::string_view type) {
  const json* v = optional_member(c, key);
  if (v == nullptr) return std::nullopt;
  const std::string where = member_path(path, key);
  if (!v->is_object()) fail(where, "expected an object {\"name\", \"schema\"}, got " + shown(*v));
  check_keys(*v, where, {"@type", "@id", "name", "schema", "displayName", "description", "comment"},
             std::string("a ") + std::string(type));
  if (const json* t = optional_member(*v, "@type"); t != nullptr && *t != type)
    fail(member_path(where, "@type"), "expected " + in_quotes(type) + ", got " + shown(*t) +
                                          " (semantic types on commands are not supported)");
  check_optional_id(*v, where);
  parse_localized(*v, where, "displayName");
  parse_localized(*v, where, "description");
  check_comment(*v, where);
  CommandPayload p;
  p.name = parse_name(*v, where);
  p.schema = parse_schema(require(*v, where, "schema"), member_path(where, "schema"),
                          SchemaRules{true, 0});
  return p;
}

Command parse_command(const json& c, const std::string& path) {
  check_keys(
      c, path,
      {"@type", "@id", "name", "request", "response", "displayName", "description", "comment"},
      "a Command", {"commandType"});
  Command cmd;
  cmd.name = parse_name(c, path);
  cmd.display_name = parse_localized(c, path, "displayName");
  cmd.description = parse_localized(c, path, "description");
  check_comment(c, path);
  check_optional_id(c, path);
  cmd.request = parse_payload(c, path, "request", "CommandRequest");
  cmd.response = parse_payload(c, path, "response", "CommandResponse");
  return cmd;
}

MultivariateSpec parse_multivariate(const json& v, const std::string& path, const DeviceModel& m) {
  if (!v.is_object())
    fail(path, "expected an object {\"signals\": [...], \"detector\"?}, got " + shown(v));
  check_keys(v, path, {"signals", "detector"}, "strata:multivariate");
  MultivariateSpec spec;
  const std::string s_path = member_path(path, "signals");
  const json& signals = require(v, path, "signals");
  if (!signals.is_array() || signals.size() < 2 || signals.size() > kMaxSignals)
    fail(s_path, "expected an array of 2 to " + std::to_string(kMaxSignals) +
                     " telemetry names, got " + shown(signals));
  for (std::size_t i = 0; i < signals.size(); ++i) {
    const std::string at = element_path(s_path, i);
    const std::string& name = require_string(signals[i], at, "a telemetry name");
    const Telemetry* t = m.find_telemetry(name);
    if (t == nullptr) fail(at, "no telemetry named " + in_quotes(name) + " in this model");
    if (!is_numeric(t->schema.kind))
      fail(at, in_quotes(name) + " is " + std::string(schema_kind_name(t->schema.kind)) +
                   ": a signal must be a number (double, float, integer or long)");
    if (std::find(spec.signals.begin(), spec.signals.end(), name) != spec.signals.end())
      fail(at, in_quotes(name) + " is listed twice");
    spec.signals.push_back(name);
  }
  if (const json* d = optional_member(v, "detector"))
    spec.detector = parse_detector_spec_text(*d, member_path(path, "detector"));
  return spec;
}

std::vector<std::string> parse_context(const json& doc) {
  const std::string where = member_path("$", "@context");
  const json& ctx = require(doc, "$", "@context");
  std::vector<std::pair<std::string, std::string>> items;
  if (ctx.is_string()) {
    items.emplace_back(ctx.get<std::string>(), where);
  } else if (ctx.is_array() && !ctx.empty()) {
    for (std::size_t i = 0; i < ctx.size(); ++i)
      items.emplace_back(require_string(ctx[i], element_path(where, i), "a context DTMI string"),
                         element_path(where, i));
  } else {
    fail(where, "expected \"" + std::string(kDtdlContext) +
                    "\" or an array starting with it, got " + shown(ctx));
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& [text, at] = items[i];
    if (text.rfind("dtmi:dtdl:context;", 0) == 0 && text != kDtdlContext)
      fail(at, in_quotes(text) + ": Strata reads DTDL v3 only (write \"" +
                   std::string(kDtdlContext) + "\")");
    if (i == 0 && text != kDtdlContext)
      fail(at, "expected \"" + std::string(kDtdlContext) + "\" first, got " + in_quotes(text));
    if (i > 0) {
      if (auto e = dtmi_error(text)) fail(at, in_quotes(text) + " is not a DTMI: " + *e);
      if (!dtmi_has_version(text))
        fail(at, in_quotes(text) + ": an extension context needs a version (e.g. ';1')");
    }
    if (std::find(out.begin(), out.end(), text) != out.end())
      fail(at, in_quotes(text) + " is listed twice");
    out.push_back(text);
  }
  return out;
}

DeviceModel parse_interface(const json& doc) {
  if (!doc.is_object()) fail("$", "expected an object (a DTDL Interface), got " + shown(doc));
  check_keys(doc, "$",
             {"@context", "@id", "@type", "displayName", "description", "comment", "contents",
              "strata:multivariate"},
             "an Interface", {"extends", "schemas"});
  DeviceModel m;
  m.contexts = parse_context(doc);
  const bool quantitative = std::find(m.contexts.begin(), m.contexts.end(),
                                      kQuantitativeTypesContext) != m.contexts.end();
  {
    const std::string where = member_path("$", "@id");
    const json& id = require(doc, "$", "@id");
    m.id = require_string(id, where, "a DTMI string such as \"dtmi:strata:compressor;1\"");
    if (auto e = dtmi_error(m.id)) fail(where, shown(id) + " is not a DTMI: " + *e);
    if (m.id.size() > kMaxInterfaceIdLength)
      fail(where,
           "an Interface @id has at most " + std::to_string(kMaxInterfaceIdLength) + " characters");
    if (!dtmi_has_version(m.id))
      fail(where, shown(id) + " has no version: a model's @id ends in ';<version>', e.g. " +
                      in_quotes(m.id + ";1"));
  }
  {
    const json& type = require(doc, "$", "@type");
    if (type != "Interface" && type != json::array({"Interface"}))
      fail(member_path("$", "@type"), "expected \"Interface\", got " + shown(type));
  }
  m.display_name = parse_localized(doc, "$", "displayName");
  m.description = parse_localized(doc, "$", "description");
  check_comment(doc, "$");
  const json* contents = optional_member(doc, "contents");
  if (contents == nullptr) return m;
  const std::string c_path = member_path("$", "contents");
  if (!contents->is_array()) fail(c_path, "expected an array, got " + shown(*contents));
  if (contents->size() > kMaxContents)
    fail(c_path, "more than " + std::to_string(kMaxContents) + " entries");
  std::map<std::string, std::string, std::less<>> names;  // name -> path of its first use
  for (std::size_t i = 0; i < contents->size(); ++i) {
    const std::string at = element_path(c_path, i);
    const json& c = (*contents)[i];
    if (!c.is_object())
      fail(at, "expected an object (a Telemetry, Property or Command), got " + shown(c));
    const Types types =
        parse_types(c, at, {"Telemetry", "Property", "Command"}, true, quantitative);
    std::string name;
    if (types.element == "Telemetry") {
      m.telemetry.push_back(parse_telemetry(c, at, types));
      m.paths.telemetry.push_back(at);
      name = m.telemetry.back().name;
    } else if (types.element == "Property") {
      m.properties.push_back(parse_property(c, at, types));
      name = m.properties.back().name;
    } else {
      if (!types.semantic.empty()) fail(types.semantic_path, "a Command takes no semantic type");
      m.commands.push_back(parse_command(c, at));
      name = m.commands.back().name;
    }
    const auto [it, fresh] = names.emplace(name, at);
    if (!fresh)
      fail(member_path(at, "name"),
           "duplicate name " + in_quotes(name) + " (also at " + it->second + ")");
  }
  // Registers of one table must not overlap: each value has its own.
  struct Span {
    const Telemetry* t;
    unsigned first, last;
    std::size_t index;
  };
  std::vector<Span> spans;
  for (std::size_t i = 0; i < m.telemetry.size(); ++i) {
    const Telemetry& t = m.telemetry[i];
    if (!t.modbus) continue;
    const unsigned first = t.modbus->address;
    const unsigned last = first + register_count(t.modbus->type) - 1;
    for (const Span& s : spans) {
      if (s.t->modbus->table != t.modbus->table || last < s.first || first > s.last) continue;
      std::string c_at;
      for (std::size_t k = 0; k < contents->size(); ++k)
        if ((*contents)[k].value("name", "") == t.name) c_at = element_path(c_path, k);
      fail(member_path(member_path(c_at, "strata:modbus"), "address"),
           std::string(modbus_table_name(t.modbus->table)) + " registers " + std::to_string(first) +
               ".." + std::to_string(last) + " overlap those of '" + s.t->name + "' (" +
               std::to_string(s.first) + ".." + std::to_string(s.last) + ")");
    }
    spans.push_back({&t, first, last, i});
  }
  if (const json* mv = optional_member(doc, "strata:multivariate"))
    m.multivariate = parse_multivariate(*mv, member_path("$", "strata:multivariate"), m);
  return m;
}

json schema_to_json(const Schema& s) {
  switch (s.kind) {
    case SchemaKind::enumeration: {
      json values = json::array();
      for (const EnumValue& v : s.enum_values) {
        json e = {{"name", v.name}};
        if (s.enum_value_schema == SchemaKind::integer)
          e["enumValue"] = v.number;
        else
          e["enumValue"] = v.text;
        if (!v.display_name.empty()) e["displayName"] = v.display_name;
        values.push_back(std::move(e));
      }
      return {{"@type", "Enum"},
              {"valueSchema", s.enum_value_schema == SchemaKind::integer ? "integer" : "string"},
              {"enumValues", std::move(values)}};
    }
    case SchemaKind::object: {
      json fields = json::array();
      for (const Field& f : s.fields)
        fields.push_back({{"name", f.name}, {"schema", schema_to_json(f.schema)}});
      return {{"@type", "Object"}, {"fields", std::move(fields)}};
    }
    default:
      return std::string(schema_kind_name(s.kind));
  }
}

void put_texts(json& j, const std::string& display_name, const std::string& description) {
  if (!display_name.empty()) j["displayName"] = display_name;
  if (!description.empty()) j["description"] = description;
}

json types_to_json(std::string_view element, const std::string& semantic) {
  if (semantic.empty()) return std::string(element);
  return json::array({element, semantic});
}

}  // namespace

std::string_view schema_kind_name(SchemaKind k) {
  switch (k) {
    case SchemaKind::double_:
      return "double";
    case SchemaKind::float_:
      return "float";
    case SchemaKind::integer:
      return "integer";
    case SchemaKind::long_:
      return "long";
    case SchemaKind::boolean:
      return "boolean";
    case SchemaKind::string:
      return "string";
    case SchemaKind::enumeration:
      return "Enum";
    case SchemaKind::object:
      return "Object";
  }
  return "unknown";
}

bool operator==(const Schema& a, const Schema& b) {
  return a.kind == b.kind && a.enum_value_schema == b.enum_value_schema &&
         a.enum_values == b.enum_values && a.fields == b.fields;
}

const Telemetry* DeviceModel::find_telemetry(std::string_view name) const {
  for (const Telemetry& t : telemetry)
    if (t.name == name) return &t;
  return nullptr;
}
std::string DeviceModel::telemetry_path(std::size_t index) const {
  if (index < paths.telemetry.size()) return paths.telemetry[index];
  return "$.contents[" + std::to_string(index) + "]";  // where to_json() puts it
}

const Property* DeviceModel::find_property(std::string_view name) const {
  for (const Property& p : properties)
    if (p.name == name) return &p;
  return nullptr;
}
const Command* DeviceModel::find_command(std::string_view name) const {
  for (const Command& c : commands)
    if (c.name == name) return &c;
  return nullptr;
}

std::vector<ModbusRegister> DeviceModel::register_map() const {
  std::vector<ModbusRegister> map;
  for (const Telemetry& t : telemetry)
    if (t.modbus) map.push_back(*t.modbus);
  std::stable_sort(map.begin(), map.end(), [](const ModbusRegister& a, const ModbusRegister& b) {
    return std::pair(a.table, a.address) < std::pair(b.table, b.address);
  });
  return map;
}

Result<DeviceModel> device_model_from_json(const nlohmann::json& document) {
  try {
    return parse_interface(document);
  } catch (const Invalid& e) {
    return Error::of(errc::invalid_model, e.path + ": " + e.reason);
  } catch (const std::exception& e) {
    // nlohmann's type errors cannot happen after the checks above; keep the promise anyway.
    return Error::of(errc::invalid_model, std::string("$: ") + e.what());
  }
}

Result<DeviceModel> parse_device_model(std::string_view json_text) {
  auto doc = detail::parse_json_strictly(json_text, static_cast<int>(errc::invalid_model));
  if (!doc) return doc.error();
  return device_model_from_json(*doc);
}

Result<DeviceModel> parse_device_model(const std::string& json_text) {
  return parse_device_model(std::string_view(json_text));
}
Result<DeviceModel> parse_device_model(const char* json_text) {
  return parse_device_model(std::string_view(json_text == nullptr ? "" : json_text));
}
Result<DeviceModel> parse_device_model(const nlohmann::json& document) {
  return device_model_from_json(document);
}

nlohmann::json to_json(const DeviceModel& m) {
  json doc;
  doc["@context"] = m.contexts.size() == 1 ? json(m.contexts[0]) : json(m.contexts);
  doc["@id"] = m.id;
  doc["@type"] = "Interface";
  put_texts(doc, m.display_name, m.description);
  json contents = json::array();
  for (const Telemetry& t : m.telemetry) {
    json c = {{"@type", types_to_json("Telemetry", t.semantic_type)},
              {"name", t.name},
              {"schema", schema_to_json(t.schema)}};
    if (!t.unit.empty()) c["unit"] = t.unit;
    put_texts(c, t.display_name, t.description);
    if (t.target_unit != t.unit) c["strata:targetUnit"] = t.target_unit;
    if (t.min) c["strata:min"] = *t.min;
    if (t.max) c["strata:max"] = *t.max;
    if (t.expected_interval) c["strata:expectedInterval"] = t.expected_interval_text;
    if (t.personal) c["strata:personal"] = true;
    if (t.modbus) {
      const ModbusRegister& r = *t.modbus;
      json reg = {{"table", modbus_table_name(r.table)},
                  {"address", r.address},
                  {"type", modbus_type_name(r.type)},
                  {"scale", r.scale},
                  {"offset", r.offset},
                  {"byteOrder", modbus_order_name(r.byte_order)}};
      if (register_count(r.type) == 2) reg["wordOrder"] = modbus_order_name(r.word_order);
      c["strata:modbus"] = std::move(reg);
    }
    if (!t.detector.empty()) c["strata:detector"] = t.detector;
    contents.push_back(std::move(c));
  }
  for (const Property& p : m.properties) {
    json c = {{"@type", types_to_json("Property", p.semantic_type)},
              {"name", p.name},
              {"schema", schema_to_json(p.schema)}};
    if (!p.unit.empty()) c["unit"] = p.unit;
    if (p.writable) c["writable"] = true;
    put_texts(c, p.display_name, p.description);
    contents.push_back(std::move(c));
  }
  for (const Command& cmd : m.commands) {
    json c = {{"@type", "Command"}, {"name", cmd.name}};
    put_texts(c, cmd.display_name, cmd.description);
    if (cmd.request)
      c["request"] = {{"name", cmd.request->name}, {"schema", schema_to_json(cmd.request->schema)}};
    if (cmd.response)
      c["response"] = {{"name", cmd.response->name},
                       {"schema", schema_to_json(cmd.response->schema)}};
    contents.push_back(std::move(c));
  }
  doc["contents"] = std::move(contents);
  if (m.multivariate)
    doc["strata:multivariate"] = {{"signals", m.multivariate->signals},
                                  {"detector", m.multivariate->detector}};
  return doc;
}

std::optional<Dimension> semantic_type_dimension(std::string_view semantic_type) {
  for (const auto& [name, dim] : kSemanticTypes)
    if (name == semantic_type) return dim;
  return std::nullopt;
}

std::optional<Timestamp> parse_iso8601_duration(std::string_view text) {
  // P[nW] | P[nD][T[nH][nM][n[.f]S]], n decimal digits; only the seconds may have a fraction (up
  // to µs). Years and months have no fixed length and are refused.
  if (text.size() < 2 || text[0] != 'P') return std::nullopt;
  std::size_t i = 1;
  bool in_time = false;
  bool any = false;
  bool weeks = false;
  char last_unit = 0;
  constexpr std::string_view kDateOrder = "WD";
  constexpr std::string_view kTimeOrder = "HMS";
  std::int64_t total = 0;
  while (i < text.size()) {
    if (text[i] == 'T') {
      if (in_time || weeks || i + 1 == text.size()) return std::nullopt;
      in_time = true;
      last_unit = 0;
      ++i;
      continue;
    }
    std::int64_t whole = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++digits > 12) return std::nullopt;
      whole = whole * 10 + (text[i] - '0');
      ++i;
    }
    std::int64_t micros_fraction = 0;
    bool fraction = false;
    if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
      fraction = true;
      ++i;
      std::size_t fd = 0;
      std::int64_t scale = 100'000;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (++fd > 6) return std::nullopt;
        micros_fraction += (text[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (fd == 0) return std::nullopt;
    }
    if (digits == 0 || i == text.size()) return std::nullopt;
    const char unit = text[i++];
    const std::string_view order = in_time ? kTimeOrder : kDateOrder;
    const auto pos = order.find(unit);
    if (pos == std::string_view::npos) return std::nullopt;
    if (last_unit != 0 && order.find(last_unit) >= pos) return std::nullopt;
    if (fraction && unit != 'S') return std::nullopt;
    if (weeks) return std::nullopt;  // "PnW" stands alone
    weeks = unit == 'W';
    last_unit = unit;
    std::int64_t unit_micros = 0;
    switch (in_time ? unit : static_cast<char>(unit | 0x20)) {
      case 'w':
        unit_micros = 7LL * 86'400'000'000LL;
        break;
      case 'd':
        unit_micros = 86'400'000'000LL;
        break;
      case 'H':
        unit_micros = 3'600'000'000LL;
        break;
      case 'M':
        unit_micros = 60'000'000LL;
        break;
      case 'S':
        unit_micros = 1'000'000LL;
        break;
      default:
        return std::nullopt;
    }
    std::int64_t part = 0;
    if (__builtin_mul_overflow(whole, unit_micros, &part) ||
        __builtin_add_overflow(part, micros_fraction, &part) ||
        __builtin_add_overflow(total, part, &total))
      return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  return static_cast<Timestamp>(total);
}

std::string_view modbus_table_name(RegisterTable t) {
  return t == RegisterTable::holding ? "holding" : "input";
}
std::string_view modbus_type_name(RegisterType t) {
  switch (t) {
    case RegisterType::int16:
      return "int16";
    case RegisterType::uint16:
      return "uint16";
    case RegisterType::int32:
      return "int32";
    case RegisterType::uint32:
      return "uint32";
    case RegisterType::float32:
      return "float32";
  }
  return "unknown";
}
std::string_view modbus_order_name(ByteOrder o) { return o == ByteOrder::big ? "big" : "little"; }

}  // namespace strata::model

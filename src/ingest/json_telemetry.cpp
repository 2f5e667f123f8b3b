#include "ingest/json_telemetry.hpp"

#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_set>
#include <utility>

#include "ingest/text_scan.hpp"

namespace strata::ingest {
namespace {

namespace dom = simdjson::dom;
namespace ondemand = simdjson::ondemand;

constexpr std::string_view kShapes =
    R"(send an object {"key":value,...}, {"ts":<ms since the epoch>,"values":{...}}, )"
    "or an array of them";

std::string quoted(std::string_view key) { return "'" + shown(key) + "'"; }

std::string_view kind_of(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// Visits every value with simdjson's on-demand parser, which (unlike the DOM parser) knows where
// it is when it meets an error: used only to say where a payload the DOM parser refused breaks.
simdjson::error_code walk(ondemand::value v) {
  ondemand::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case ondemand::json_type::object: {
      ondemand::object object;
      if (auto e = v.get_object().get(object)) return e;
      for (auto field : object) {
        ondemand::value inner;
        if (auto e = field.value().get(inner)) return e;
        if (auto e = walk(inner)) return e;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::array: {
      ondemand::array array;
      if (auto e = v.get_array().get(array)) return e;
      for (auto element : array) {
        ondemand::value inner;
        if (auto e = element.get(inner)) return e;
        if (auto e = walk(inner)) return e;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::number:
      return v.get_double().error();
    case ondemand::json_type::string:
      return v.get_string().error();
    case ondemand::json_type::boolean:
      return v.get_bool().error();
    case ondemand::json_type::null:
      return v.is_null().error();
  }
  return simdjson::INCORRECT_TYPE;
}

// The byte (1-based) near which the payload stops being JSON, when the on-demand parser can tell.
std::optional<std::size_t> locate_error(const simdjson::padded_string& padded) {
  ondemand::parser parser;
  ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return std::nullopt;
  simdjson::error_code error = simdjson::SUCCESS;
  ondemand::json_type type;
  error = doc.type().get(type);
  if (!error) {
    switch (type) {
      case ondemand::json_type::object:
      case ondemand::json_type::array: {
        ondemand::value root;
        error = doc.get_value().get(root);
        if (!error) error = walk(root);
        break;
      }
      case ondemand::json_type::number:
        error = doc.get_double().error();
        break;
      case ondemand::json_type::string:
        error = doc.get_string().error();
        break;
      case ondemand::json_type::boolean:
        error = doc.get_bool().error();
        break;
      case ondemand::json_type::null:
        error = doc.is_null().error();
        break;
    }
  }
  // After a clean walk the iterator rests on trailing content, if there is any (simdjson 3.0's
  // document has no at_end()); at the end of the input current_location() is an error.
  const char* at = nullptr;
  if (doc.current_location().get(at)) {
    if (!error) return std::nullopt;
    return padded.size() + 1;  // the payload ended too soon
  }
  return static_cast<std::size_t>(at - padded.data()) + 1;
}

// Decodes one top-level or array-element object into readings and refusals. `where` prefixes
// messages about an array element ("element 3: ").
class ObjectDecoder {
 public:
  ObjectDecoder(JsonTelemetry& out, std::string where) : out_(out), where_(std::move(where)) {}

  void decode(dom::object object) {
    bool ts_form = false;
    for (dom::key_value_pair field : object) {
      if (field.key == "ts" || field.key == "values") ts_form = true;
    }
    if (ts_form) {
      decode_ts_form(object);
    } else {
      decode_values(object, std::nullopt);
    }
  }

 private:
  void refuse(std::string_view key, std::string reason) {
    out_.refused.push_back({std::string(key), where_ + std::move(reason)});
  }

  void decode_ts_form(dom::object object) {
    std::optional<dom::element> ts;
    std::optional<dom::object> values;
    std::string problem;
    bool seen_ts = false;
    bool seen_values = false;
    for (dom::key_value_pair field : object) {
      if (field.key == "ts") {
        if (seen_ts) {
          refuse("ts", "key 'ts' appears twice; the first is kept: send one timestamp an object");
          continue;
        }
        seen_ts = true;
        ts = field.value;
      } else if (field.key == "values") {
        if (seen_values) {
          refuse("values",
                 "key 'values' appears twice; the first is kept: send one 'values' an object");
          continue;
        }
        seen_values = true;
        dom::object inner;
        if (field.value.get_object().get(inner)) {
          problem = "'values' is " + std::string(kind_of(field.value.type())) +
                    ", not an object: send {\"ts\":<ms>,\"values\":{\"key\":value,...}}";
        } else {
          values = inner;
        }
      } else {
        refuse(field.key, "key " + quoted(field.key) +
                              " beside 'ts' and 'values' is not a reading: move it into 'values'");
      }
    }
    std::optional<Timestamp> stamp;
    if (problem.empty()) {
      if (!seen_ts) {
        problem =
            "'values' without 'ts': add \"ts\":<ms since the epoch>, or send the values "
            "as a flat object to stamp them with the receive time";
      } else if (!seen_values) {
        problem = "'ts' without 'values': send {\"ts\":<ms>,\"values\":{\"key\":value,...}}";
      } else {
        stamp = timestamp_of(*ts, problem);
      }
    }
    if (stamp) {
      decode_values(*values, stamp);
      return;
    }
    // Everything this object carried is refused with the one problem, key by key.
    bool any = false;
    if (values) {
      for (dom::key_value_pair field : *values) {
        refuse(field.key, "key " + quoted(field.key) + " refused: " + problem);
        any = true;
      }
    }
    if (!any) refuse(seen_ts ? "ts" : "values", problem);
  }

  // The value of "ts" in µs, or nullopt with `problem` set.
  static std::optional<Timestamp> timestamp_of(dom::element ts, std::string& problem) {
    constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / 1000;
    std::int64_t ms = 0;
    if (ts.type() == dom::element_type::INT64) {
      ms = ts.get_int64().value_unsafe();
      if (ms <= kLimit && ms >= -kLimit) return ms * 1000;
    } else if (ts.type() != dom::element_type::UINT64) {
      problem = "'ts' is " + std::string(kind_of(ts.type())) +
                ", not an integer: send milliseconds since the epoch, e.g. \"ts\":1700000000000";
      return std::nullopt;
    }
    problem =
        "'ts' is out of range (milliseconds since the epoch must fit in int64 microseconds): "
        "send milliseconds, e.g. \"ts\":1700000000000";
    return std::nullopt;
  }

  void decode_values(dom::object object, std::optional<Timestamp> ts) {
    std::unordered_set<std::string_view> seen;
    for (dom::key_value_pair field : object) {
      const std::string_view key = field.key;
      if (key.empty()) {
        refuse(key, "an empty key is not a metric name: name the value");
        continue;
      }
      if (!seen.insert(key).second) {
        refuse(key, "key " + quoted(key) +
                        " appears twice in one object; the first is kept: send each key once");
        continue;
      }
      pipeline::Reading reading;
      const dom::element value = field.value;
      switch (value.type()) {
        case dom::element_type::INT64:
          reading.number = static_cast<double>(value.get_int64().value_unsafe());
          break;
        case dom::element_type::UINT64:
          reading.number = static_cast<double>(value.get_uint64().value_unsafe());
          break;
        case dom::element_type::DOUBLE:
          reading.number = value.get_double().value_unsafe();
          break;
        case dom::element_type::BOOL:
          reading.number = value.get_bool().value_unsafe() ? 1.0 : 0.0;
          break;
        case dom::element_type::STRING:
          reading.text = std::string(value.get_string().value_unsafe());
          break;
        case dom::element_type::NULL_VALUE:
          refuse(key, "key " + quoted(key) + " is null, not a reading: leave the key out");
          continue;
        case dom::element_type::OBJECT:
          refuse(key, "key " + quoted(key) +
                          " holds an object, which is not a reading (nested values are not "
                          "flattened): send flat keys such as \"" +
                          shown(key) + ".x\":1");
          continue;
        case dom::element_type::ARRAY:
          refuse(key, "key " + quoted(key) +
                          " holds an array, which is not a reading: send one value a key, or "
                          "an array of {\"ts\":..,\"values\":{..}} objects for several times");
          continue;
      }
      reading.metric = std::string(key);
      reading.ts = ts;
      out_.readings.push_back(std::move(reading));
    }
  }

  JsonTelemetry& out_;
  std::string where_;
};

}  // namespace

JsonTelemetryDecoder::JsonTelemetryDecoder() : parser_(std::make_unique<dom::parser>()) {}
JsonTelemetryDecoder::~JsonTelemetryDecoder() = default;
JsonTelemetryDecoder::JsonTelemetryDecoder(JsonTelemetryDecoder&&) noexcept = default;
JsonTelemetryDecoder& JsonTelemetryDecoder::operator=(JsonTelemetryDecoder&&) noexcept = default;

Result<JsonTelemetry> JsonTelemetryDecoder::decode(std::string_view payload) {
  const simdjson::padded_string padded(payload);
  dom::element root;
  if (const auto error = parser_->parse(padded).get(root)) {
    std::string message =
        "JSON telemetry is not valid JSON (" + std::string(simdjson::error_message(error)) + ")";
    if (payload.empty()) {
      message = "JSON telemetry is empty";
    } else if (const auto byte = locate_error(padded)) {
      message += " near byte " + std::to_string(*byte);
      if (*byte <= payload.size()) {
        message += " ('" + shown(payload.substr(*byte - 1, 16)) + "')";
      } else {
        message += " (the end)";
      }
    }
    return Error::of(errc::syntax, message + ": " + std::string(kShapes));
  }
  JsonTelemetry out;
  dom::object object;
  dom::array array;
  if (!root.get_object().get(object)) {
    ObjectDecoder(out, "").decode(object);
  } else if (!root.get_array().get(array)) {
    std::size_t index = 0;
    for (dom::element element : array) {
      const std::string where = "element " + std::to_string(index) + ": ";
      if (element.get_object().get(object)) {
        out.refused.push_back({"[" + std::to_string(index) + "]",
                               where + "is " + std::string(kind_of(element.type())) +
                                   ", not an object: " + std::string(kShapes)});
      } else {
        ObjectDecoder(out, where).decode(object);
      }
      ++index;
    }
  } else {
    return Error::of(errc::syntax, "JSON telemetry is " + std::string(kind_of(root.type())) +
                                       ", not an object or an array: " + std::string(kShapes));
  }
  return out;
}

Result<JsonTelemetry> decode_json_telemetry(std::string_view payload) {
  JsonTelemetryDecoder decoder;
  return decoder.decode(payload);
}

}  // namespace strata::ingest

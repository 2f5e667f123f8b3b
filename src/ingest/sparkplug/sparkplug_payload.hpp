#pragma once
// Sparkplug B payloads without protobuf in sight: the decoder turns the bytes of a Sparkplug B
// message into plain structs (the protoc-generated classes stay inside sparkplug_payload.cpp), the
// encoder writes the few payloads a primary host sends (NCMD), and metric_value() says what a
// metric's value becomes in Strata: a double or a text.
//
// Wire format: a Protocol Buffers (proto2) message `Payload`, sparkplug_b.proto beside this file
// (Eclipse Sparkplug 3.0, appendix A). The fields the host reads:
//
//   Payload   1 timestamp uint64 (ms)   2 metrics repeated Metric   3 seq uint64 (0..255)
//             4 uuid string             5 body bytes
//   Metric    1 name string   2 alias uint64   3 timestamp uint64 (ms)   4 datatype uint32
//             5 is_historical bool   6 is_transient bool   7 is_null bool
//             value oneof: 10 int_value uint32 | 11 long_value uint64 | 12 float_value float |
//                          13 double_value double | 14 boolean_value bool | 15 string_value |
//                          16 bytes_value | 17 dataset_value | 18 template_value | 19 extension
//
// How a datatype's value sits in the oneof (Sparkplug 3.0 §6.4.16, and what Eclipse Tahu writes):
//
//   Int8, Int16, Int32      int_value: the value as a 32-bit two's complement (-1 → 0xFFFFFFFF)
//   UInt8, UInt16           int_value
//   Int64                   long_value: a 64-bit two's complement
//   UInt32, UInt64          long_value (UInt32 in int_value, as some 2.2 nodes send it, is read
//   too) DateTime                long_value: ms since the Unix epoch Float / Double float_value /
//   double_value Boolean                 boolean_value String, Text, UUID      string_value Bytes,
//   File, arrays     bytes_value; DataSet dataset_value; Template template_value
//
// Times: every timestamp on the wire is uint64 milliseconds since the Unix epoch; the decoder
// hands out Strata's int64 microseconds (ms × 1000), and refuses a time that does not fit.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::ingest::sparkplug {

// Error codes of the Sparkplug decoders (Error::code of their Results).
enum class errc {
  bad_topic = 1,  // not a Sparkplug B topic (namespace, message type or id segments)
  bad_payload,    // the bytes are not a Sparkplug B protobuf Payload
  bad_value,   // a metric's value does not fit its datatype, or is of a kind Strata does not keep
  bad_config,  // SparkplugHost options that cannot work (an empty host id ...)
};

// Sparkplug B datatypes (the DataType enum of sparkplug_b.proto), for the values the host maps.
enum class DataType : std::uint32_t {
  unknown = 0,
  int8 = 1,
  int16 = 2,
  int32 = 3,
  int64 = 4,
  uint8 = 5,
  uint16 = 6,
  uint32 = 7,
  uint64 = 8,
  float_ = 9,
  double_ = 10,
  boolean = 11,
  string = 12,
  datetime = 13,
  text = 14,
  uuid = 15,
  dataset = 16,
  bytes = 17,
  file = 18,
  template_ = 19,
  property_set = 20,
  property_set_list = 21,
  int8_array = 22,
  // 23..34: the other array types
  datetime_array = 34,
};

// "Int8", "Double", "Template" ...: the specification's names; "DataType 99" for others.
std::string datatype_name(std::uint32_t datatype);

// Which member of a metric's `value` oneof was on the wire, and what it held. Interpreting it
// needs the datatype, which a DATA message may leave to the BIRTH (see metric_value()).
struct WireValue {
  enum class Field : std::uint8_t {
    none,  // no value field (a null, or a BIRTH that declares a metric without a value)
    int_value,
    long_value,
    float_value,
    double_value,
    boolean_value,
    string_value,
    bytes_value,
    dataset_value,
    template_value,
    extension_value,
  };
  Field field = Field::none;
  std::uint64_t integer = 0;  // int_value, long_value, boolean_value (0/1)
  double real = 0;            // float_value, double_value
  std::string bytes;          // string_value, bytes_value
};

// One metric of a payload, as sent.
struct Metric {
  std::optional<std::string> name;
  std::optional<std::uint64_t> alias;
  std::optional<Timestamp> timestamp;     // µs since the epoch (the wire's ms × 1000)
  std::optional<std::uint32_t> datatype;  // a DataType value, possibly unknown to us
  bool is_historical = false;
  bool is_transient = false;
  bool is_null = false;
  bool is_template_definition = false;  // a Template definition (NBIRTH "_types_/...")
  WireValue value;
  // A Template instance's member metrics (value.field == template_value), decoded the same way;
  // the host names their readings "{instance}/{member}". Empty for definitions.
  std::vector<Metric> members;
  // Non-empty when this metric alone cannot be used (its timestamp does not fit in µs): the
  // reason, ready for quarantine. The rest of the payload is fine.
  std::string problem;
};

// A decoded Sparkplug B payload.
struct Payload {
  std::optional<Timestamp> timestamp;  // µs since the epoch
  std::optional<std::uint64_t> seq;
  std::optional<std::string> uuid;
  std::vector<Metric> metrics;
  bool has_body = false;  // the opaque `body` field was set (Strata does not read it)
};

// Decodes the bytes of a Sparkplug B message. errc::bad_payload names the size and what is wrong
// (not protobuf, truncated, a payload timestamp beyond int64 µs).
[[nodiscard]] Result<Payload> decode_payload(std::string_view bytes);

// Encodes the scalar parts of a payload (timestamp, seq, uuid, metrics with name, alias,
// timestamp, datatype, flags and a scalar or string/bytes value). Timestamps are truncated to ms.
// Used for the NCMD/DCMD a host sends and by tests.
[[nodiscard]] std::string encode_payload(const Payload& payload);

// What a metric's value becomes in Strata: a number (integers, floats, booleans as 0/1, DateTime
// as µs since the epoch) or a text (String, Text, UUID: enum states, badge ids).
struct MetricValue {
  bool is_text = false;
  double number = 0;
  std::string text;
};

// Maps a wire value to a MetricValue by its datatype (the metric's own, or the one its BIRTH
// declared). errc::bad_value when the datatype keeps no scalar (DataSet, Bytes, File, Template,
// arrays, PropertySet), when the oneof field does not carry that datatype (a String metric with a
// float_value) or when there is no value at all; the message names the datatype and the field.
[[nodiscard]] Result<MetricValue> metric_value(std::uint32_t datatype, const WireValue& value);

}  // namespace strata::ingest::sparkplug

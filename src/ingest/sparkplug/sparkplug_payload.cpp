#include "ingest/sparkplug/sparkplug_payload.hpp"

#include <array>
#include <cmath>
#include <limits>

#include "sparkplug_b.pb.h"

namespace strata::ingest::sparkplug {
namespace {

namespace pb = org::eclipse::tahu::protobuf;

constexpr std::array<std::string_view, 35> kDatatypeNames = {"Unknown",      "Int8",
                                                             "Int16",        "Int32",
                                                             "Int64",        "UInt8",
                                                             "UInt16",       "UInt32",
                                                             "UInt64",       "Float",
                                                             "Double",       "Boolean",
                                                             "String",       "DateTime",
                                                             "Text",         "UUID",
                                                             "DataSet",      "Bytes",
                                                             "File",         "Template",
                                                             "PropertySet",  "PropertySetList",
                                                             "Int8Array",    "Int16Array",
                                                             "Int32Array",   "Int64Array",
                                                             "UInt8Array",   "UInt16Array",
                                                             "UInt32Array",  "UInt64Array",
                                                             "FloatArray",   "DoubleArray",
                                                             "BooleanArray", "StringArray",
                                                             "DateTimeArray"};

// The largest ms value whose µs still fits in int64.
constexpr std::uint64_t kMaxMillis =
    static_cast<std::uint64_t>(std::numeric_limits<Timestamp>::max() / 1000);

std::optional<Timestamp> to_micros(std::uint64_t ms) {
  if (ms > kMaxMillis) return std::nullopt;
  return static_cast<Timestamp>(ms) * 1000;
}

const char* field_name(WireValue::Field f) {
  switch (f) {
    case WireValue::Field::none:
      return "no value";
    case WireValue::Field::int_value:
      return "int_value";
    case WireValue::Field::long_value:
      return "long_value";
    case WireValue::Field::float_value:
      return "float_value";
    case WireValue::Field::double_value:
      return "double_value";
    case WireValue::Field::boolean_value:
      return "boolean_value";
    case WireValue::Field::string_value:
      return "string_value";
    case WireValue::Field::bytes_value:
      return "bytes_value";
    case WireValue::Field::dataset_value:
      return "dataset_value";
    case WireValue::Field::template_value:
      return "template_value";
    case WireValue::Field::extension_value:
      return "extension_value";
  }
  return "?";
}

WireValue wire_value(const pb::Payload_Metric& m) {
  WireValue v;
  using F = WireValue::Field;
  switch (m.value_case()) {
    case pb::Payload_Metric::kIntValue:
      v.field = F::int_value;
      v.integer = m.int_value();
      break;
    case pb::Payload_Metric::kLongValue:
      v.field = F::long_value;
      v.integer = m.long_value();
      break;
    case pb::Payload_Metric::kFloatValue:
      v.field = F::float_value;
      v.real = m.float_value();
      break;
    case pb::Payload_Metric::kDoubleValue:
      v.field = F::double_value;
      v.real = m.double_value();
      break;
    case pb::Payload_Metric::kBooleanValue:
      v.field = F::boolean_value;
      v.integer = m.boolean_value() ? 1 : 0;
      break;
    case pb::Payload_Metric::kStringValue:
      v.field = F::string_value;
      v.bytes = m.string_value();
      break;
    case pb::Payload_Metric::kBytesValue:
      v.field = F::bytes_value;
      v.bytes = m.bytes_value();
      break;
    case pb::Payload_Metric::kDatasetValue:
      v.field = F::dataset_value;
      break;
    case pb::Payload_Metric::kTemplateValue:
      v.field = F::template_value;
      break;
    case pb::Payload_Metric::kExtensionValue:
      v.field = F::extension_value;
      break;
    case pb::Payload_Metric::VALUE_NOT_SET:
      break;
  }
  return v;
}

Error value_error(std::uint32_t datatype, const WireValue& v, std::string_view why) {
  return Error::of(errc::bad_value, "datatype " + datatype_name(datatype) + " with " +
                                        field_name(v.field) + ": " + std::string(why));
}

// Sign-extends the low `bits` bits of x.
std::int64_t sign_extend(std::uint64_t x, unsigned bits) {
  const std::uint64_t m = std::uint64_t{1} << (bits - 1);
  x &= (bits == 64) ? ~std::uint64_t{0} : ((std::uint64_t{1} << bits) - 1);
  return static_cast<std::int64_t>((x ^ m) - m);
}

// Fills `metric` from its protobuf form; a Template instance's members recursively (protobuf's
// own recursion limit, 100, bounds the depth).
void read_metric(const pb::Payload_Metric& m, Metric& metric) {
  if (m.has_name()) metric.name = m.name();
  if (m.has_alias()) metric.alias = m.alias();
  if (m.has_datatype()) metric.datatype = m.datatype();
  metric.is_historical = m.is_historical();
  metric.is_transient = m.is_transient();
  metric.is_null = m.is_null();
  metric.value = wire_value(m);
  if (m.has_template_value()) {
    const auto& t = m.template_value();
    metric.is_template_definition = t.is_definition();
    if (!t.is_definition()) {
      metric.members.reserve(static_cast<std::size_t>(t.metrics_size()));
      for (const auto& member : t.metrics()) read_metric(member, metric.members.emplace_back());
    }
  }
  if (m.has_timestamp()) {
    metric.timestamp = to_micros(m.timestamp());
    if (!metric.timestamp) {
      metric.problem = "metric timestamp " + std::to_string(m.timestamp()) +
                       " ms does not fit in int64 µs: send ms since the Unix epoch";
    }
  }
}

}  // namespace

std::string datatype_name(std::uint32_t datatype) {
  if (datatype < kDatatypeNames.size()) return std::string(kDatatypeNames[datatype]);
  return "DataType " + std::to_string(datatype);
}

Result<Payload> decode_payload(std::string_view bytes) {
  pb::Payload msg;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Error::of(errc::bad_payload,
                     "Sparkplug payload of " + std::to_string(bytes.size()) +
                         " bytes is not a Sparkplug B protobuf Payload (truncated, or not "
                         "protobuf: check that the edge node publishes Sparkplug B on spBv1.0/)");
  }
  Payload out;
  if (msg.has_timestamp()) {
    out.timestamp = to_micros(msg.timestamp());
    if (!out.timestamp) {
      return Error::of(errc::bad_payload,
                       "Sparkplug payload timestamp " + std::to_string(msg.timestamp()) +
                           " ms does not fit in int64 µs: send ms since the Unix epoch");
    }
  }
  if (msg.has_seq()) out.seq = msg.seq();
  if (msg.has_uuid()) out.uuid = msg.uuid();
  out.has_body = msg.has_body();
  out.metrics.reserve(static_cast<std::size_t>(msg.metrics_size()));
  for (const auto& m : msg.metrics()) read_metric(m, out.metrics.emplace_back());
  return out;
}

std::string encode_payload(const Payload& payload) {
  pb::Payload msg;
  if (payload.timestamp) msg.set_timestamp(static_cast<std::uint64_t>(*payload.timestamp / 1000));
  if (payload.seq) msg.set_seq(*payload.seq);
  if (payload.uuid) msg.set_uuid(*payload.uuid);
  for (const Metric& metric : payload.metrics) {
    pb::Payload_Metric* m = msg.add_metrics();
    if (metric.name) m->set_name(*metric.name);
    if (metric.alias) m->set_alias(*metric.alias);
    if (metric.timestamp) m->set_timestamp(static_cast<std::uint64_t>(*metric.timestamp / 1000));
    if (metric.datatype) m->set_datatype(*metric.datatype);
    if (metric.is_historical) m->set_is_historical(true);
    if (metric.is_transient) m->set_is_transient(true);
    if (metric.is_null) m->set_is_null(true);
    const WireValue& v = metric.value;
    using F = WireValue::Field;
    switch (v.field) {
      case F::int_value:
        m->set_int_value(static_cast<std::uint32_t>(v.integer));
        break;
      case F::long_value:
        m->set_long_value(v.integer);
        break;
      case F::float_value:
        m->set_float_value(static_cast<float>(v.real));
        break;
      case F::double_value:
        m->set_double_value(v.real);
        break;
      case F::boolean_value:
        m->set_boolean_value(v.integer != 0);
        break;
      case F::string_value:
        m->set_string_value(v.bytes);
        break;
      case F::bytes_value:
        m->set_bytes_value(v.bytes);
        break;
      case F::none:
      case F::dataset_value:
      case F::template_value:
      case F::extension_value:
        break;
    }
  }
  return msg.SerializeAsString();
}

Result<MetricValue> metric_value(std::uint32_t datatype, const WireValue& v) {
  using F = WireValue::Field;
  MetricValue out;
  const auto integer_field = [&](bool long_ok, bool int_ok) {
    return (long_ok && v.field == F::long_value) || (int_ok && v.field == F::int_value);
  };
  switch (static_cast<DataType>(datatype)) {
    case DataType::int8:
    case DataType::int16:
    case DataType::int32: {
      // Tahu writes the value sign-extended to 32 bits (-1 → 0xFFFFFFFF); some nodes write only
      // its low bits (Int8 -1 → 0xFF). Both read as the same value; anything else does not fit.
      if (!integer_field(true, true)) break;
      const unsigned bits = datatype == 1 ? 8 : datatype == 2 ? 16 : 32;
      const std::int64_t x = sign_extend(v.integer, bits);
      const std::uint64_t low_mask = (std::uint64_t{1} << bits) - 1;
      const bool fits =
          (v.integer & ~low_mask) == 0 ||
          (v.field == F::int_value ? sign_extend(v.integer, 32) : sign_extend(v.integer, 64)) == x;
      if (!fits) {
        return value_error(
            datatype, v,
            "value " + std::to_string(v.integer) + " does not fit in " + datatype_name(datatype));
      }
      out.number = static_cast<double>(x);
      return out;
    }
    case DataType::int64:
      if (!integer_field(true, true)) break;
      out.number = static_cast<double>(v.field == F::int_value ? sign_extend(v.integer, 32)
                                                               : sign_extend(v.integer, 64));
      return out;
    case DataType::uint8:
    case DataType::uint16:
    case DataType::uint32:
    case DataType::uint64:
      if (!integer_field(true, true)) break;
      if ((datatype == 5 && v.integer > 0xFF) || (datatype == 6 && v.integer > 0xFFFF) ||
          (datatype == 7 && v.integer > 0xFFFFFFFFu)) {
        return value_error(
            datatype, v,
            "value " + std::to_string(v.integer) + " does not fit in " + datatype_name(datatype));
      }
      out.number = static_cast<double>(v.integer);
      return out;
    case DataType::float_:
    case DataType::double_:
      if (v.field != F::float_value && v.field != F::double_value) break;
      if (!std::isfinite(v.real)) {
        return value_error(datatype, v, "value is not finite (NaN or infinity)");
      }
      out.number = v.real;
      return out;
    case DataType::boolean:
      if (v.field != F::boolean_value) break;
      out.number = static_cast<double>(v.integer);
      return out;
    case DataType::datetime: {
      if (!integer_field(true, false)) break;
      const auto us = to_micros(v.integer);
      if (!us) {
        return value_error(
            datatype, v, "DateTime " + std::to_string(v.integer) + " ms does not fit in int64 µs");
      }
      out.number = static_cast<double>(*us);
      return out;
    }
    case DataType::string:
    case DataType::text:
    case DataType::uuid:
      if (v.field != F::string_value) break;
      out.is_text = true;
      out.text = v.bytes;
      return out;
    case DataType::unknown:
      return value_error(datatype, v,
                         "the metric has no datatype (its BIRTH must declare one for each metric)");
    default:
      return value_error(datatype, v,
                         "Strata keeps numbers and texts only; this metric is not stored");
  }
  if (v.field == F::none) return value_error(datatype, v, "the metric carries no value");
  return value_error(datatype, v, "the value field does not carry this datatype");
}

}  // namespace strata::ingest::sparkplug

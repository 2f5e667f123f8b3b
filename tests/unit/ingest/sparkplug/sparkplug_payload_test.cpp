// Topic parsing, payload decoding and the datatype mapping of src/ingest/sparkplug/, with payloads
// built by the protoc-generated classes (the bytes every Sparkplug B node sends).
#include "ingest/sparkplug/sparkplug_payload.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "ingest/sparkplug/sparkplug_topic.hpp"
#include "sparkplug_b.pb.h"

namespace strata::ingest::sparkplug {
namespace {

namespace pb = org::eclipse::tahu::protobuf;

TEST(SparkplugTopic, ReadsNodeDeviceAndStateTopics) {
  auto node = parse_topic("spBv1.0/plant-a/NDATA/edge-1");
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(node->type, MessageType::ndata);
  EXPECT_EQ(node->group_id, "plant-a");
  EXPECT_EQ(node->edge_node_id, "edge-1");
  EXPECT_EQ(node->device_id, "");

  auto device = parse_topic("spBv1.0/plant-a/DBIRTH/edge-1/press 7");
  ASSERT_TRUE(device.ok()) << device.error().message;
  EXPECT_EQ(device->type, MessageType::dbirth);
  EXPECT_EQ(device->device_id, "press 7");
  EXPECT_EQ(topic_string(*device), "spBv1.0/plant-a/DBIRTH/edge-1/press 7");

  auto state = parse_topic("spBv1.0/STATE/strata-1");
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->type, MessageType::state);
  EXPECT_EQ(state->host_id, "strata-1");
  EXPECT_EQ(topic_string(*state), "spBv1.0/STATE/strata-1");

  for (const char* t : {"NBIRTH", "NDEATH", "NDATA", "NCMD"}) {
    auto r = parse_topic(std::string("spBv1.0/g/") + t + "/e");
    ASSERT_TRUE(r.ok()) << t;
    EXPECT_EQ(message_type_name(r->type), t);
  }
  for (const char* t : {"DBIRTH", "DDEATH", "DDATA", "DCMD"}) {
    auto r = parse_topic(std::string("spBv1.0/g/") + t + "/e/d");
    ASSERT_TRUE(r.ok()) << t;
    EXPECT_EQ(message_type_name(r->type), t);
  }
}

TEST(SparkplugTopic, RefusesWhatIsNotSparkplugBWithTheReason) {
  const auto refused = [](std::string_view topic) {
    auto r = parse_topic(topic);
    EXPECT_FALSE(r.ok()) << topic;
    if (r.ok()) return std::string();
    EXPECT_TRUE(r.error().is(errc::bad_topic));
    return r.error().message;
  };
  EXPECT_NE(refused("spAv1.0/g/NDATA/e").find("does not start with 'spBv1.0/'"), std::string::npos);
  EXPECT_NE(refused("spBv1.0/g/NDATUM/e").find("message type 'NDATUM' is not one of"),
            std::string::npos);
  EXPECT_NE(refused("spBv1.0/g/DDATA/e").find("DDATA needs a device_id"), std::string::npos);
  EXPECT_NE(refused("spBv1.0/g/NDATA/e/d").find("NDATA takes no device_id"), std::string::npos);
  EXPECT_NE(refused("spBv1.0//NDATA/e").find("group_id is empty"), std::string::npos);
  EXPECT_NE(refused("spBv1.0/g/NDATA/e+").find("wildcard '+'"), std::string::npos);
  EXPECT_NE(refused("spBv1.0/g/DDATA/e/d/x").find("expected spBv1.0/{group_id}"),
            std::string::npos);
  EXPECT_NE(refused("spBv1.0/STATE").find("spBv1.0/STATE/{host_id}"), std::string::npos);
  EXPECT_NE(refused("spBv1.0/STATE/h/x").find("spBv1.0/STATE/{host_id}"), std::string::npos);
  EXPECT_NE(refused(std::string("spBv1.0/g/NDATA/\xff")).find("not valid UTF-8"),
            std::string::npos);
  refused("");
  refused("spBv1.0");
}

std::string serialised(const pb::Payload& p) { return p.SerializeAsString(); }

TEST(SparkplugPayload, DecodesTheFieldsAndConvertsMillisecondsToMicroseconds) {
  pb::Payload p;
  p.set_timestamp(1700000000123);
  p.set_seq(42);
  p.set_uuid("u-1");
  auto* m = p.add_metrics();
  m->set_name("temp");
  m->set_alias(7);
  m->set_timestamp(1700000000100);
  m->set_datatype(pb::Double);
  m->set_double_value(21.5);
  m->set_is_historical(true);
  auto* n = p.add_metrics();
  n->set_alias(8);
  n->set_is_null(true);

  auto d = decode_payload(serialised(p));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->timestamp, Timestamp{1700000000123000});
  EXPECT_EQ(d->seq, 42u);
  EXPECT_EQ(d->uuid, "u-1");
  ASSERT_EQ(d->metrics.size(), 2u);
  EXPECT_EQ(d->metrics[0].name, "temp");
  EXPECT_EQ(d->metrics[0].alias, 7u);
  EXPECT_EQ(d->metrics[0].timestamp, Timestamp{1700000000100000});
  EXPECT_EQ(d->metrics[0].datatype, 10u);
  EXPECT_TRUE(d->metrics[0].is_historical);
  EXPECT_EQ(d->metrics[0].value.field, WireValue::Field::double_value);
  EXPECT_EQ(d->metrics[0].value.real, 21.5);
  EXPECT_FALSE(d->metrics[1].name.has_value());
  EXPECT_TRUE(d->metrics[1].is_null);
  EXPECT_EQ(d->metrics[1].value.field, WireValue::Field::none);
}

TEST(SparkplugPayload, RefusesBytesThatAreNotAPayload) {
  auto d = decode_payload(std::string("\x0a\xff\xff", 3));  // field 1, a truncated length
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.error().is(errc::bad_payload));
  EXPECT_NE(d.error().message.find("payload of 3 bytes is not a Sparkplug B protobuf Payload"),
            std::string::npos)
      << d.error().message;
  EXPECT_FALSE(decode_payload("{\"temp\": 21.5}").ok());  // JSON is not Sparkplug B
  EXPECT_TRUE(decode_payload("").ok());                   // an empty Payload is valid protobuf
}

TEST(SparkplugPayload, ATimeBeyondInt64MicrosecondsIsRefusedOrSetAsideWithItsReason) {
  pb::Payload p;
  p.set_timestamp(std::numeric_limits<std::uint64_t>::max());
  auto d = decode_payload(serialised(p));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("does not fit in int64 µs"), std::string::npos);

  pb::Payload q;
  q.set_timestamp(1000);
  auto* m = q.add_metrics();
  m->set_name("x");
  m->set_timestamp(std::uint64_t{1} << 62);
  auto e = decode_payload(serialised(q));
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->metrics[0].timestamp.has_value());
  EXPECT_NE(e->metrics[0].problem.find("does not fit in int64 µs"), std::string::npos);
}

WireValue int_value(std::uint32_t v) { return {WireValue::Field::int_value, v, 0, {}}; }
WireValue long_value(std::uint64_t v) { return {WireValue::Field::long_value, v, 0, {}}; }

double number(std::uint32_t datatype, const WireValue& v) {
  auto r = metric_value(datatype, v);
  EXPECT_TRUE(r.ok()) << datatype_name(datatype) << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return std::nan("");
  EXPECT_FALSE(r->is_text);
  return r->number;
}

TEST(SparkplugPayload, MapsSignedIntegersFromTheirTwosComplement) {
  EXPECT_EQ(number(pb::Int8, int_value(0xFFFFFFFFu)), -1);  // Tahu: sign-extended to 32 bits
  EXPECT_EQ(number(pb::Int8, int_value(0xFFu)), -1);        // low 8 bits only
  EXPECT_EQ(number(pb::Int8, int_value(0x80u)), -128);
  EXPECT_EQ(number(pb::Int8, int_value(127)), 127);
  EXPECT_EQ(number(pb::Int16, int_value(0xFFFF8000u)), -32768);
  EXPECT_EQ(number(pb::Int16, int_value(0x7FFF)), 32767);
  EXPECT_EQ(number(pb::Int32, int_value(0x80000000u)), -2147483648.0);
  EXPECT_EQ(number(pb::Int64, long_value(~std::uint64_t{0} - 4)), -5);
  EXPECT_EQ(number(pb::Int64, long_value(1ull << 40)), 1099511627776.0);
  auto bad = metric_value(pb::Int8, int_value(300));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(errc::bad_value));
  EXPECT_NE(bad.error().message.find("value 300 does not fit in Int8"), std::string::npos)
      << bad.error().message;
}

TEST(SparkplugPayload, MapsUnsignedIntegersWhereverTheNodePutThem) {
  EXPECT_EQ(number(pb::UInt8, int_value(255)), 255);
  EXPECT_EQ(number(pb::UInt16, int_value(65535)), 65535);
  EXPECT_EQ(number(pb::UInt32, long_value(4294967295u)), 4294967295.0);  // 3.0: long_value
  EXPECT_EQ(number(pb::UInt32, int_value(4294967295u)), 4294967295.0);   // some 2.2 nodes
  EXPECT_EQ(number(pb::UInt64, long_value(~std::uint64_t{0})), 18446744073709551615.0);
  EXPECT_FALSE(metric_value(pb::UInt8, int_value(256)).ok());
  EXPECT_FALSE(metric_value(pb::UInt32, long_value(1ull << 32)).ok());
}

TEST(SparkplugPayload, MapsFloatsBooleansDateTimesAndTexts) {
  EXPECT_EQ(number(pb::Float, {WireValue::Field::float_value, 0, 1.25, {}}), 1.25);
  EXPECT_EQ(number(pb::Double, {WireValue::Field::double_value, 0, -3.5, {}}), -3.5);
  EXPECT_EQ(number(pb::Boolean, {WireValue::Field::boolean_value, 1, 0, {}}), 1);
  EXPECT_EQ(number(pb::Boolean, {WireValue::Field::boolean_value, 0, 0, {}}), 0);
  EXPECT_EQ(number(pb::DateTime, long_value(1700000000123)), 1700000000123000.0);
  for (auto dt : {pb::String, pb::Text, pb::UUID}) {
    auto t = metric_value(dt, {WireValue::Field::string_value, 0, 0, "RUNNING"});
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->is_text);
    EXPECT_EQ(t->text, "RUNNING");
  }
  auto nan = metric_value(pb::Double, {WireValue::Field::double_value, 0, std::nan(""), {}});
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.error().message.find("not finite"), std::string::npos);
}

TEST(SparkplugPayload, RefusesValuesStrataDoesNotKeepAndMismatchedFields) {
  auto dataset = metric_value(pb::DataSet, {WireValue::Field::dataset_value, 0, 0, {}});
  ASSERT_FALSE(dataset.ok());
  EXPECT_NE(dataset.error().message.find("datatype DataSet"), std::string::npos);
  EXPECT_NE(dataset.error().message.find("numbers and texts only"), std::string::npos);
  auto mismatch = metric_value(pb::String, {WireValue::Field::float_value, 0, 1, {}});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().message.find("datatype String with float_value"), std::string::npos)
      << mismatch.error().message;
  EXPECT_FALSE(metric_value(pb::Int32, {}).ok());
  EXPECT_FALSE(metric_value(0, int_value(1)).ok());
  EXPECT_FALSE(metric_value(999, int_value(1)).ok());
  EXPECT_EQ(datatype_name(999), "DataType 999");
}

TEST(SparkplugPayload, EncodesWhatItDecodes) {
  Payload p;
  p.timestamp = 1700000000123000;
  p.seq = 3;
  Metric& m = p.metrics.emplace_back();
  m.name = "Node Control/Rebirth";
  m.timestamp = 1700000000123000;
  m.datatype = 11;
  m.value = {WireValue::Field::boolean_value, 1, 0, {}};
  pb::Payload parsed;
  ASSERT_TRUE(parsed.ParseFromString(encode_payload(p)));
  EXPECT_EQ(parsed.timestamp(), 1700000000123u);
  EXPECT_EQ(parsed.seq(), 3u);
  ASSERT_EQ(parsed.metrics_size(), 1);
  EXPECT_EQ(parsed.metrics(0).name(), "Node Control/Rebirth");
  EXPECT_EQ(parsed.metrics(0).datatype(), static_cast<std::uint32_t>(pb::Boolean));
  EXPECT_TRUE(parsed.metrics(0).boolean_value());
  auto back = decode_payload(encode_payload(p));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->metrics[0].value.integer, 1u);
}

}  // namespace
}  // namespace strata::ingest::sparkplug

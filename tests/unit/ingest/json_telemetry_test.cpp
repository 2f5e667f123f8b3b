#include "ingest/json_telemetry.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::ingest {
namespace {

JsonTelemetry decoded(std::string_view payload) {
  auto result = decode_json_telemetry(payload);
  EXPECT_TRUE(result.ok()) << payload << " -> " << result.error().message;
  return result.ok() ? std::move(result).value() : JsonTelemetry{};
}

std::string error_of(std::string_view payload) {
  auto result = decode_json_telemetry(payload);
  EXPECT_FALSE(result.ok()) << payload;
  return result.ok() ? std::string() : result.error().message;
}

TEST(JsonTelemetry, FlatObjectGivesNumbersBooleansAndText) {
  const auto t = decoded(R"({"temp":21.5,"running":true,"stopped":false,"state":"idle","n":-3})");
  ASSERT_EQ(t.readings.size(), 5u);
  EXPECT_TRUE(t.refused.empty());
  EXPECT_EQ(t.readings[0].metric, "temp");
  EXPECT_DOUBLE_EQ(t.readings[0].number, 21.5);
  EXPECT_FALSE(t.readings[0].text);
  EXPECT_FALSE(t.readings[0].ts);
  EXPECT_EQ(t.readings[1].metric, "running");
  EXPECT_EQ(t.readings[1].number, 1.0);
  EXPECT_EQ(t.readings[2].number, 0.0);
  EXPECT_EQ(t.readings[3].metric, "state");
  ASSERT_TRUE(t.readings[3].text);
  EXPECT_EQ(*t.readings[3].text, "idle");
  EXPECT_EQ(t.readings[4].number, -3.0);
}

TEST(JsonTelemetry, TsFormConvertsMillisecondsToMicroseconds) {
  const auto t = decoded(R"({"ts":1700000000123,"values":{"temp":20,"door":"open"}})");
  ASSERT_EQ(t.readings.size(), 2u);
  EXPECT_TRUE(t.refused.empty());
  for (const auto& r : t.readings) {
    ASSERT_TRUE(r.ts);
    EXPECT_EQ(*r.ts, 1'700'000'000'123'000);
  }
  EXPECT_EQ(t.readings[0].number, 20.0);
  EXPECT_EQ(*t.readings[1].text, "open");
}

TEST(JsonTelemetry, ArrayOfBothFormsKeepsOrder) {
  const auto t = decoded(R"([{"ts":1000,"values":{"a":1}},{"b":2},{"ts":2000,"values":{"a":3}}])");
  ASSERT_EQ(t.readings.size(), 3u);
  EXPECT_EQ(t.readings[0].metric, "a");
  EXPECT_EQ(*t.readings[0].ts, 1'000'000);
  EXPECT_EQ(t.readings[1].metric, "b");
  EXPECT_FALSE(t.readings[1].ts);
  EXPECT_EQ(*t.readings[2].ts, 2'000'000);
  EXPECT_EQ(t.readings[2].number, 3.0);
}

TEST(JsonTelemetry, EscapedKeysAndStringsAreUnescaped) {
  const auto t = decoded(R"({"motor.temp\u00b0":1,"msg":"a\"b\\c"})");
  ASSERT_EQ(t.readings.size(), 2u);
  EXPECT_EQ(t.readings[0].metric, "motor.temp\xc2\xb0");
  EXPECT_EQ(*t.readings[1].text, "a\"b\\c");
}

TEST(JsonTelemetry, NestedNullAndArrayValuesAreRefusedPerKeyAndTheRestKept) {
  const auto t = decoded(R"({"a":1,"pos":{"x":1},"v":null,"list":[1,2],"b":2})");
  ASSERT_EQ(t.readings.size(), 2u);
  EXPECT_EQ(t.readings[0].metric, "a");
  EXPECT_EQ(t.readings[1].metric, "b");
  ASSERT_EQ(t.refused.size(), 3u);
  EXPECT_EQ(t.refused[0].key, "pos");
  EXPECT_NE(t.refused[0].reason.find("'pos' holds an object"), std::string::npos);
  EXPECT_NE(t.refused[0].reason.find("\"pos.x\""), std::string::npos);
  EXPECT_EQ(t.refused[1].key, "v");
  EXPECT_NE(t.refused[1].reason.find("null"), std::string::npos);
  EXPECT_EQ(t.refused[2].key, "list");
  EXPECT_NE(t.refused[2].reason.find("array"), std::string::npos);
}

TEST(JsonTelemetry, DuplicateAndEmptyKeysAreRefused) {
  const auto t = decoded(R"({"a":1,"a":2,"":3})");
  ASSERT_EQ(t.readings.size(), 1u);
  EXPECT_EQ(t.readings[0].number, 1.0);
  ASSERT_EQ(t.refused.size(), 2u);
  EXPECT_EQ(t.refused[0].key, "a");
  EXPECT_NE(t.refused[0].reason.find("appears twice"), std::string::npos);
  EXPECT_EQ(t.refused[1].key, "");
  EXPECT_NE(t.refused[1].reason.find("empty key"), std::string::npos);
}

TEST(JsonTelemetry, BadTsRefusesEveryValueOfItsObject) {
  const auto t = decoded(R"([{"ts":"yesterday","values":{"a":1,"b":2}},{"c":3}])");
  ASSERT_EQ(t.readings.size(), 1u);
  EXPECT_EQ(t.readings[0].metric, "c");
  ASSERT_EQ(t.refused.size(), 2u);
  EXPECT_EQ(t.refused[0].key, "a");
  EXPECT_EQ(t.refused[1].key, "b");
  EXPECT_NE(t.refused[0].reason.find("element 0: "), std::string::npos);
  EXPECT_NE(t.refused[0].reason.find("'ts' is a string, not an integer"), std::string::npos);
}

TEST(JsonTelemetry, TsRangeAndShapeProblemsAreNamed) {
  auto t = decoded(R"({"ts":1.5,"values":{"a":1}})");
  ASSERT_EQ(t.refused.size(), 1u);
  EXPECT_NE(t.refused[0].reason.find("not an integer"), std::string::npos);

  t = decoded(R"({"ts":9223372036854775807,"values":{"a":1}})");
  ASSERT_EQ(t.refused.size(), 1u);
  EXPECT_NE(t.refused[0].reason.find("out of range"), std::string::npos);

  t = decoded(R"({"ts":18446744073709551615,"values":{"a":1}})");
  ASSERT_EQ(t.refused.size(), 1u);
  EXPECT_NE(t.refused[0].reason.find("out of range"), std::string::npos);

  t = decoded(R"({"ts":-1000,"values":{"a":1}})");  // before 1970 is a time too
  ASSERT_EQ(t.readings.size(), 1u);
  EXPECT_EQ(*t.readings[0].ts, -1'000'000);

  t = decoded(R"({"values":{"a":1}})");
  ASSERT_EQ(t.refused.size(), 1u);
  EXPECT_EQ(t.refused[0].key, "a");
  EXPECT_NE(t.refused[0].reason.find("without 'ts'"), std::string::npos);

  t = decoded(R"({"ts":1000})");
  ASSERT_EQ(t.refused.size(), 1u);
  EXPECT_EQ(t.refused[0].key, "ts");
  EXPECT_NE(t.refused[0].reason.find("without 'values'"), std::string::npos);

  t = decoded(R"({"ts":1000,"values":[1]})");
  ASSERT_EQ(t.refused.size(), 1u);
  EXPECT_NE(t.refused[0].reason.find("'values' is an array, not an object"), std::string::npos);

  t = decoded(R"({"ts":1000,"values":{"a":1},"extra":5})");
  ASSERT_EQ(t.readings.size(), 1u);
  ASSERT_EQ(t.refused.size(), 1u);
  EXPECT_EQ(t.refused[0].key, "extra");
  EXPECT_NE(t.refused[0].reason.find("move it into 'values'"), std::string::npos);
}

TEST(JsonTelemetry, ArrayElementThatIsNotAnObjectIsRefusedByIndex) {
  const auto t = decoded(R"([{"a":1},42,"x"])");
  ASSERT_EQ(t.readings.size(), 1u);
  ASSERT_EQ(t.refused.size(), 2u);
  EXPECT_EQ(t.refused[0].key, "[1]");
  EXPECT_NE(t.refused[0].reason.find("element 1: is a number, not an object"), std::string::npos);
  EXPECT_EQ(t.refused[1].key, "[2]");
}

TEST(JsonTelemetry, EmptyObjectAndArrayAreNoReadings) {
  EXPECT_TRUE(decoded("{}").readings.empty());
  EXPECT_TRUE(decoded(" [ ] ").readings.empty());
}

TEST(JsonTelemetry, NotJsonNamesTheByteAndTheShapes) {
  const std::string message = error_of(R"({"temp":21.5,"x":tru})");
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
  EXPECT_NE(message.find("near byte 18"), std::string::npos) << message;
  EXPECT_NE(message.find("{\"ts\":<ms since the epoch>"), std::string::npos) << message;

  const std::string trailing = error_of(R"({"a":1} x)");
  EXPECT_NE(trailing.find("near byte 9"), std::string::npos) << trailing;

  EXPECT_NE(error_of(R"({"a":1)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("\xff").find("not valid JSON"), std::string::npos);
}

TEST(JsonTelemetry, ScalarTopLevelIsRefusedWhole) {
  EXPECT_NE(error_of("42").find("is a number, not an object or an array"), std::string::npos);
  EXPECT_NE(error_of("\"hi\"").find("is a string"), std::string::npos);
  EXPECT_NE(error_of("null").find("is null"), std::string::npos);
}

TEST(JsonTelemetry, DecoderIsReusableAcrossPayloads) {
  JsonTelemetryDecoder decoder;
  for (int i = 0; i < 3; ++i) {
    auto bad = decoder.decode("{");
    EXPECT_FALSE(bad.ok());
    auto good = decoder.decode(R"({"ts":5,"values":{"k":)" + std::to_string(i) + "}}");
    ASSERT_TRUE(good.ok());
    ASSERT_EQ(good->readings.size(), 1u);
    EXPECT_EQ(good->readings[0].number, i);
    EXPECT_EQ(*good->readings[0].ts, 5000);
  }
}

TEST(JsonTelemetry, LargeIntegersBecomeDoubles) {
  const auto t = decoded(R"({"big":18446744073709551615,"neg":-9223372036854775808,"e":1e300})");
  ASSERT_EQ(t.readings.size(), 3u);
  EXPECT_EQ(t.readings[0].number, 18446744073709551615.0);
  EXPECT_EQ(t.readings[1].number, -9223372036854775808.0);
  EXPECT_EQ(t.readings[2].number, 1e300);
}

}  // namespace
}  // namespace strata::ingest

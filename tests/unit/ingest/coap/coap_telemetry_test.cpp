#include "ingest/coap/coap_telemetry.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace strata::ingest {
namespace {

// Tokens the test knows: "good" is device "dev-1".
class FixedAuthenticator : public DeviceAuthenticator {
 public:
  std::optional<DeviceIdentity> by_token(std::string_view token) const override {
    if (token == "good") return DeviceIdentity{"dev-1"};
    return std::nullopt;
  }
  std::optional<DeviceIdentity> by_secret(std::string_view, std::string_view) const override {
    return std::nullopt;
  }
};

struct Fixture {
  FixedAuthenticator auth;
  JsonTelemetryDecoder decoder;
  CoapTelemetryLimits limits;
  std::vector<std::string_view> path = {"api", "v1", "good", "telemetry"};

  CoapAdmission admit(std::string_view payload, bool post = true,
                      std::optional<unsigned> format = kCoapFormatJson) {
    CoapRequestView r;
    r.post = post;
    r.path = path;
    r.content_format = format;
    r.payload = payload;
    r.received = 1'700'000'000'000'000;
    r.message_id = "127.0.0.1:5000/7";
    return admit_coap_telemetry(r, auth, decoder, limits);
  }
};

TEST(CoapTelemetryToken, OnlyTheThingsBoardTelemetryPath) {
  using P = std::vector<std::string_view>;
  EXPECT_EQ(coap_telemetry_token(P{"api", "v1", "tok", "telemetry"}), "tok");
  EXPECT_FALSE(coap_telemetry_token(P{"api", "v1", "", "telemetry"}));
  EXPECT_FALSE(coap_telemetry_token(P{"api", "v1", "tok", "attributes"}));
  EXPECT_FALSE(coap_telemetry_token(P{"api", "v2", "tok", "telemetry"}));
  EXPECT_FALSE(coap_telemetry_token(P{"api", "v1", "tok", "telemetry", "x"}));
  EXPECT_FALSE(coap_telemetry_token(P{"api", "v1", "telemetry"}));
  EXPECT_FALSE(coap_telemetry_token(P{}));
}

TEST(CoapTelemetry, GoodTelemetryBecomesAMessage) {
  Fixture f;
  const CoapAdmission a = f.admit(R"({"temp":21.5,"running":true})");
  ASSERT_EQ(a.code, CoapCode::changed) << a.diagnostic;
  EXPECT_TRUE(a.diagnostic.empty());
  EXPECT_EQ(a.device_id, "dev-1");
  EXPECT_EQ(a.message.transport, pipeline::Transport::coap);
  EXPECT_EQ(a.message.device_id, "dev-1");
  EXPECT_EQ(a.message.message_id, "127.0.0.1:5000/7");
  EXPECT_EQ(a.message.received, 1'700'000'000'000'000);
  ASSERT_TRUE(a.message.raw);
  EXPECT_EQ(*a.message.raw, R"({"temp":21.5,"running":true})");
  ASSERT_EQ(a.message.readings.size(), 2u);
  EXPECT_EQ(a.message.readings[0].metric, "temp");
  EXPECT_EQ(a.message.readings[0].number, 21.5);
  EXPECT_EQ(a.message.readings[1].number, 1.0);
  // Content-Format absent or text/plain is fine too.
  EXPECT_EQ(f.admit(R"({"a":1})", true, std::nullopt).code, CoapCode::changed);
  EXPECT_EQ(f.admit(R"({"a":1})", true, kCoapFormatText).code, CoapCode::changed);
}

TEST(CoapTelemetry, RefusalsInTheDocumentedOrder) {
  Fixture f;
  EXPECT_EQ(f.admit(R"({"a":1})", false).code, CoapCode::method_not_allowed);
  f.path = {"api", "v1", "good", "attributes"};
  EXPECT_EQ(f.admit(R"({"a":1})").code, CoapCode::not_found);
  f.path = {"api", "v1", "bad", "telemetry"};
  CoapAdmission a = f.admit(R"({"a":1})");
  EXPECT_EQ(a.code, CoapCode::unauthorized);
  EXPECT_TRUE(a.device_id.empty());
  EXPECT_FALSE(a.quarantine_payload);
  EXPECT_EQ(a.diagnostic.find("bad"), std::string::npos) << "a token is not echoed";
  // Too large beats a bad token: the size is known before anyone is asked.
  f.limits.max_payload_bytes = 4;
  EXPECT_EQ(f.admit(R"({"a":1})").code, CoapCode::request_entity_too_large);
  f.path = {"api", "v1", "good", "telemetry"};
  a = f.admit(R"({"a":1})");
  EXPECT_EQ(a.code, CoapCode::request_entity_too_large);
  EXPECT_NE(a.diagnostic.find("over the limit of 4 bytes"), std::string::npos) << a.diagnostic;
  f.limits.max_payload_bytes = 1024;
  a = f.admit(R"({"a":1})", true, 60);  // CBOR
  EXPECT_EQ(a.code, CoapCode::unsupported_content_format);
  EXPECT_NE(a.diagnostic.find("Content-Format 60"), std::string::npos) << a.diagnostic;
}

TEST(CoapTelemetry, GarbageIsABadRequestAndIsQuarantined) {
  Fixture f;
  CoapAdmission a = f.admit("temp=21.5");
  EXPECT_EQ(a.code, CoapCode::bad_request);
  EXPECT_TRUE(a.quarantine_payload);
  EXPECT_EQ(a.device_id, "dev-1");
  EXPECT_NE(a.diagnostic.find("payload is not JSON telemetry"), std::string::npos) << a.diagnostic;
  a = f.admit("");
  EXPECT_EQ(a.code, CoapCode::bad_request);
  EXPECT_NE(a.diagnostic.find("empty"), std::string::npos);
}

TEST(CoapTelemetry, RefusedKeysAreReturnedForQuarantine) {
  Fixture f;
  CoapAdmission a = f.admit(R"({"ok":1,"nested":{"x":1}})");
  ASSERT_EQ(a.code, CoapCode::changed);
  ASSERT_EQ(a.refused.size(), 1u);
  EXPECT_EQ(a.refused[0].key, "nested");
  EXPECT_EQ(a.diagnostic, a.refused[0].reason);
  ASSERT_EQ(a.message.readings.size(), 1u);
  // Every key refused: nothing to store, so a 4.00 naming the keys.
  a = f.admit(R"({"nested":{"x":1},"n":null})");
  EXPECT_EQ(a.code, CoapCode::bad_request);
  EXPECT_EQ(a.refused.size(), 2u);
  EXPECT_FALSE(a.quarantine_payload);
  EXPECT_NE(a.diagnostic.find("; "), std::string::npos) << a.diagnostic;
  // Many refusals: the diagnostic stays datagram-sized and says how many there were.
  std::string many = "{";
  for (int i = 0; i < 200; ++i) many += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":null");
  many += "}";
  a = f.admit(many);
  EXPECT_EQ(a.refused.size(), 200u);
  EXPECT_LT(a.diagnostic.size(), 700u);
  EXPECT_NE(a.diagnostic.find("200 keys refused in all"), std::string::npos) << a.diagnostic;
}

TEST(CoapCodes, TextsMatchTheCodeBytes) {
  EXPECT_EQ(coap_code_text(CoapCode::changed), "2.04 Changed");
  EXPECT_EQ(static_cast<int>(CoapCode::changed), 2 << 5 | 4);
  EXPECT_EQ(static_cast<int>(CoapCode::request_entity_too_large), 4 << 5 | 13);
  EXPECT_EQ(static_cast<int>(CoapCode::service_unavailable), 5 << 5 | 3);
  EXPECT_EQ(coap_code_text(CoapCode::service_unavailable), "5.03 Service Unavailable");
}

}  // namespace
}  // namespace strata::ingest

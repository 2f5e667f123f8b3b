// Fuzz target for the CoAP telemetry entrance (src/ingest/coap/coap_telemetry.hpp): the path and
// token parsing, the size and format checks and the JSON decoding a CoAP request goes through
// before the pipeline. Input: byte 0 picks the method, Content-Format and payload limit; the text
// up to the first '\n' is the Uri-Path, its segments split at '/'; the rest is the payload. Checks:
//  - coap_telemetry_token accepts exactly api/v1/{non-empty}/telemetry;
//  - a 2.04 admission names the device, carries the payload as raw and only readings with names,
//    finite numbers or text; any other code carries a diagnostic and no readings;
//  - only a known token yields a device id; a quarantined payload is a 4.00 of a known device;
//  - every refused key has a reason.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "ingest/coap/coap_telemetry.hpp"

namespace {

using namespace strata::ingest;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "coap_payload_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

class OneToken : public DeviceAuthenticator {
 public:
  std::optional<DeviceIdentity> by_token(std::string_view token) const override {
    if (token == "tok") return DeviceIdentity{"dev"};
    return std::nullopt;
  }
  std::optional<DeviceIdentity> by_secret(std::string_view, std::string_view) const override {
    return std::nullopt;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const OneToken auth;
  static JsonTelemetryDecoder decoder;
  const std::uint8_t knobs = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t nl = text.find('\n');
  const std::string_view path_text = text.substr(0, nl);
  const std::string_view payload = nl == std::string_view::npos ? "" : text.substr(nl + 1);
  std::vector<std::string_view> path;
  for (std::size_t start = 0;;) {
    const std::size_t slash = path_text.find('/', start);
    path.push_back(path_text.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }

  const auto token = coap_telemetry_token(path);
  const bool shaped = path.size() == 4 && path[0] == "api" && path[1] == "v1" &&
                      path[3] == "telemetry" && !path[2].empty();
  check(token.has_value() == shaped, "the token is found exactly in api/v1/{token}/telemetry");

  CoapRequestView request;
  request.post = (knobs & 1) == 0;
  static constexpr unsigned kFormats[] = {kCoapFormatJson, kCoapFormatText, 60, 42};
  if ((knobs & 2) != 0) request.content_format = kFormats[(knobs >> 2) & 3];
  request.path = path;
  request.payload = payload;
  request.received = 1'700'000'000'000'000;
  request.message_id = "fuzz/1";
  CoapTelemetryLimits limits;
  limits.max_payload_bytes = (knobs & 0x10) != 0 ? 16 : 64 * 1024;
  const CoapAdmission a = admit_coap_telemetry(request, auth, decoder, limits);

  const bool known = token && *token == "tok";
  check(a.device_id.empty() || (known && a.device_id == "dev"),
        "only the known token yields its device");
  for (const JsonTelemetryRefusal& r : a.refused)
    check(!r.reason.empty(), "a refusal has a reason");
  if (a.quarantine_payload) {
    check(a.code == CoapCode::bad_request && !a.device_id.empty(),
          "a quarantined payload is a 4.00 of a known device");
  }
  if (a.code == CoapCode::changed) {
    check(request.post && known && payload.size() <= limits.max_payload_bytes,
          "2.04 only for a POST of a known device within the limit");
    check(a.message.device_id == "dev" && a.message.transport == strata::pipeline::Transport::coap,
          "the message names the device and the transport");
    check(a.message.raw && *a.message.raw == payload, "the message keeps the payload");
    for (const auto& r : a.message.readings) {
      check(!r.metric.empty(), "a reading has a metric");
      check(r.text.has_value() || std::isfinite(r.number), "a number reading is finite");
    }
  } else {
    check(!a.diagnostic.empty(), "a refusal carries a diagnostic");
    check(a.message.readings.empty(), "a refusal submits nothing");
  }
  return 0;
}

#pragma once
// What the CoAP transport decides about one request before the pipeline sees it: the ThingsBoard
// device-API path, the device token, the payload size and format, and the JSON telemetry. Kept
// apart from libcoap (coap_server.hpp) so that every refusal is tested, and fuzzed, without a
// socket.
//
// The request a device sends (ThingsBoard's CoAP device API):
//
//   POST coap://host:5683/api/v1/{device token}/telemetry
//   Content-Format: 50 (application/json) or 0 (text/plain) or absent
//   payload: {"temp":21.5}  |  {"ts":1700000000000,"values":{...}}  |  [ ... ] (json_telemetry.hpp)
//
// The path arrives as the Uri-Path options, one segment each (CoAP carries them unescaped), so the
// token is the third segment exactly as the device wrote it:
//
//   segment:  0      1     2                 3
//             "api"  "v1"  "A1_TEST_TOKEN"   "telemetry"
//
// Decisions, in this order (the first that applies wins):
//   method other than POST                         4.05 Method Not Allowed
//   path not api/v1/{token}/telemetry              4.04 Not Found
//   payload larger than max_payload_bytes          4.13 Request Entity Too Large
//   token unknown to the DeviceAuthenticator       4.01 Unauthorized
//   Content-Format other than JSON or text/plain   4.15 Unsupported Content-Format
//   payload not JSON telemetry at all              4.00 Bad Request; the payload is quarantined
//   every key refused by the decoder               4.00 Bad Request; the keys are quarantined
//   otherwise                                      submit (2.04 once durable); refused keys are
//                                                  quarantined and named in the 2.04's payload
// Error responses carry a diagnostic payload (RFC 7252 §5.5.2: UTF-8 text for a person) that names
// the problem and the fix.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "ingest/device_auth.hpp"
#include "ingest/json_telemetry.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::ingest {

// The CoAP response codes this transport sends, as the code byte: class << 5 | detail (RFC 7252
// §3, §12.1.2).
enum class CoapCode : std::uint8_t {
  changed = 0x44,                     // 2.04
  bad_request = 0x80,                 // 4.00
  unauthorized = 0x81,                // 4.01
  not_found = 0x84,                   // 4.04
  method_not_allowed = 0x85,          // 4.05
  request_entity_too_large = 0x8D,    // 4.13
  unsupported_content_format = 0x8F,  // 4.15
  internal_server_error = 0xA0,       // 5.00
  service_unavailable = 0xA3,         // 5.03
};

// "2.04 Changed", "4.01 Unauthorized", ...
[[nodiscard]] std::string_view coap_code_text(CoapCode code);

// CoAP Content-Format numbers the transport accepts (RFC 7252 §12.3).
inline constexpr unsigned kCoapFormatText = 0;
inline constexpr unsigned kCoapFormatJson = 50;

// The device token of a ThingsBoard telemetry path (api/v1/{token}/telemetry); nullopt for any
// other path, an empty token included.
[[nodiscard]] std::optional<std::string_view> coap_telemetry_token(
    std::span<const std::string_view> path);

// One CoAP request as the transport saw it (views valid for the call).
struct CoapRequestView {
  bool post = true;
  std::span<const std::string_view> path;  // the Uri-Path segments in order
  std::optional<unsigned> content_format;
  std::string_view payload;  // the whole body (Block1 already reassembled)
  Timestamp received = 0;
  std::string_view message_id;  // the transport's id for lineage: "<peer>/<CoAP message id>"
};

// What to do with a request: refuse it with `code`, or (code == changed) submit `message`.
struct CoapAdmission {
  CoapCode code = CoapCode::changed;
  std::string diagnostic;           // for the response payload; empty for a clean 2.04
  std::string device_id;            // set once the token was accepted
  bool quarantine_payload = false;  // quarantine the whole payload with `diagnostic` as reason
  std::vector<JsonTelemetryRefusal> refused;  // keys to quarantine, each with its reason
  pipeline::TelemetryMessage message;         // code == changed: submit when it has readings
};

// Limits of the CoAP telemetry entrance.
struct CoapTelemetryLimits {
  std::size_t max_payload_bytes = 64 * 1024;
};

// Decides about one request, per the table at the top of this file. Never throws; the decoder is
// the caller's (one per thread).
[[nodiscard]] CoapAdmission admit_coap_telemetry(const CoapRequestView& request,
                                                 const DeviceAuthenticator& auth,
                                                 JsonTelemetryDecoder& decoder,
                                                 const CoapTelemetryLimits& limits);

}  // namespace strata::ingest

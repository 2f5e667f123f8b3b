#include "ingest/coap/coap_telemetry.hpp"

#include <utility>

#include "fmt/format.h"

namespace strata::ingest {
namespace {

CoapAdmission refuse(CoapCode code, std::string diagnostic) {
  CoapAdmission a;
  a.code = code;
  a.diagnostic = std::move(diagnostic);
  return a;
}

// The refusals as one diagnostic text: "; "-joined, as many as fit a CoAP datagram comfortably.
std::string join_reasons(const std::vector<JsonTelemetryRefusal>& refused) {
  constexpr std::size_t kMaxDiagnostic = 512;
  std::string out;
  for (const JsonTelemetryRefusal& r : refused) {
    const std::size_t extra = (out.empty() ? 0 : 2) + r.reason.size();
    if (out.size() + extra > kMaxDiagnostic) {
      out += fmt::format("{}(and more: {} keys refused in all)", out.empty() ? "" : "; ",
                         refused.size());
      break;
    }
    if (!out.empty()) out += "; ";
    out += r.reason;
  }
  return out;
}

}  // namespace

std::string_view coap_code_text(CoapCode code) {
  switch (code) {
    case CoapCode::changed:
      return "2.04 Changed";
    case CoapCode::bad_request:
      return "4.00 Bad Request";
    case CoapCode::unauthorized:
      return "4.01 Unauthorized";
    case CoapCode::not_found:
      return "4.04 Not Found";
    case CoapCode::method_not_allowed:
      return "4.05 Method Not Allowed";
    case CoapCode::request_entity_too_large:
      return "4.13 Request Entity Too Large";
    case CoapCode::unsupported_content_format:
      return "4.15 Unsupported Content-Format";
    case CoapCode::internal_server_error:
      return "5.00 Internal Server Error";
    case CoapCode::service_unavailable:
      return "5.03 Service Unavailable";
  }
  return "unknown";
}

std::optional<std::string_view> coap_telemetry_token(std::span<const std::string_view> path) {
  if (path.size() != 4 || path[0] != "api" || path[1] != "v1" || path[3] != "telemetry" ||
      path[2].empty()) {
    return std::nullopt;
  }
  return path[2];
}

CoapAdmission admit_coap_telemetry(const CoapRequestView& request, const DeviceAuthenticator& auth,
                                   JsonTelemetryDecoder& decoder,
                                   const CoapTelemetryLimits& limits) {
  if (!request.post) {
    return refuse(CoapCode::method_not_allowed,
                  "telemetry is sent with POST to /api/v1/{device token}/telemetry");
  }
  const auto token = coap_telemetry_token(request.path);
  if (!token) {
    return refuse(CoapCode::not_found,
                  "no such resource: telemetry is posted to /api/v1/{device token}/telemetry");
  }
  if (request.payload.size() > limits.max_payload_bytes) {
    return refuse(CoapCode::request_entity_too_large,
                  fmt::format("payload of {} bytes is over the limit of {} bytes: send the "
                              "readings in several requests",
                              request.payload.size(), limits.max_payload_bytes));
  }
  const auto identity = auth.by_token(*token);
  if (!identity) {
    return refuse(CoapCode::unauthorized,
                  "the device token in the path is not known: use the access token the device "
                  "was given when it was registered (or rotated)");
  }
  if (request.content_format && *request.content_format != kCoapFormatJson &&
      *request.content_format != kCoapFormatText) {
    CoapAdmission a = refuse(CoapCode::unsupported_content_format,
                             fmt::format("Content-Format {} is not supported: send JSON "
                                         "telemetry with Content-Format 50 (application/json)",
                                         *request.content_format));
    a.device_id = identity->device_id;
    return a;
  }

  CoapAdmission a;
  a.device_id = identity->device_id;
  if (request.payload.empty()) {
    a.code = CoapCode::bad_request;
    a.diagnostic = "the payload is empty: send JSON telemetry such as {\"temp\":21.5}";
    return a;
  }
  auto decoded = decoder.decode(request.payload);
  if (!decoded) {
    a.code = CoapCode::bad_request;
    a.diagnostic = fmt::format("payload is not JSON telemetry: {}", decoded.error().message);
    a.quarantine_payload = true;
    return a;
  }
  a.refused = std::move(decoded->refused);
  if (decoded->readings.empty() && !a.refused.empty()) {
    a.code = CoapCode::bad_request;
    a.diagnostic = join_reasons(a.refused);
    return a;
  }
  if (!a.refused.empty()) a.diagnostic = join_reasons(a.refused);
  a.message.transport = pipeline::Transport::coap;
  a.message.device_id = a.device_id;
  a.message.message_id = std::string(request.message_id);
  a.message.received = request.received;
  a.message.raw = std::make_shared<const std::string>(request.payload);
  a.message.readings = std::move(decoded->readings);
  return a;
}

}  // namespace strata::ingest

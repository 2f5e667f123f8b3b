#pragma once
// Problem: how every error of the REST surface reads — an RFC 7807 problem document, served as
// `application/problem+json`. One shape for every refusal, so a client (or a person reading curl
// output) always finds what went wrong in `detail` and, for validation, each bad field in `errors`.
//
//   HTTP/1.1 422 Unprocessable Entity
//   Content-Type: application/problem+json
//
//   {"type":"urn:strata:problem:validation","title":"Unprocessable Entity","status":422,
//    "detail":"2 fields are invalid","instance":"/api/v1/devices",
//    "errors":[{"path":"/modbus/port","reason":"expects an integer 1..65535, got 70000"},
//              {"path":"/model","reason":"unknown model 'dtmi:strata:pump;9'"}]}
//
// - type: "urn:strata:problem:<slug>" (the slugs are listed in docs/api.md), or "about:blank".
// - title: the HTTP reason phrase of the status unless the problem names a more precise one.
// - instance: the request path; the server fills it in when the handler leaves it empty.
// - Extension members (such as `errors`) sit beside the standard ones.
// - headers: response headers that belong with the problem (Retry-After, Allow, WWW-Authenticate).
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::api {

// One invalid part of a request body: a JSON pointer (RFC 6901) into it and what is wrong there.
struct FieldError {
  std::string path;    // "/modbus/port"; "" for the body as a whole
  std::string reason;  // names the value and the fix
};

// An RFC 7807 problem document plus the response headers that go with it.
struct Problem {
  int status = 500;
  std::string type = "about:blank";
  std::string title;     // empty: the reason phrase of `status`
  std::string detail;    // for people: what went wrong and what to do about it
  std::string instance;  // empty: the server uses the request path
  nlohmann::json extensions = nlohmann::json::object();  // extra members, e.g. "errors"
  std::vector<std::pair<std::string, std::string>> headers;

  // The document, with title defaulted to the reason phrase.
  [[nodiscard]] nlohmann::json to_json() const;
};

inline constexpr std::string_view kProblemContentType = "application/problem+json";

// The reason phrase of an HTTP status ("Not Found"); "Unknown" for a code without one.
std::string_view reason_phrase(int status);

// 400: the request cannot be read (malformed JSON, bad query parameter, bad percent-encoding).
Problem bad_request(std::string detail);
// 401: no usable credentials. Carries `WWW-Authenticate: Bearer realm="strata"` (with
// error="invalid_token" when a token was given but is unknown).
Problem unauthorized(std::string detail, bool token_given = false);
// 403: authenticated, but the caller's role is not admitted on this route.
Problem forbidden(std::string detail);
// 404: `what` names the missing thing: not_found("device 'pump-7'") → "device 'pump-7' not found".
Problem not_found(std::string_view what);
// 405 with `Allow: GET, PUT`.
Problem method_not_allowed(std::string_view method, const std::vector<std::string>& allow);
// 409: the request conflicts with the current state (a device id already taken).
Problem conflict(std::string detail);
// 413: the body is over the route's limit.
Problem payload_too_large(std::size_t limit_bytes);
// 415: the body's content type is not one the route reads.
Problem unsupported_media_type(std::string detail);
// 422: the body is readable but invalid; every bad field is listed in `errors`.
Problem unprocessable(std::vector<FieldError> errors, std::string detail = {});
// 429 / 503 with `Retry-After: <seconds>` (back-pressure: the ingestion queue is full, the store
// is not ready). retry_after is rounded up to whole seconds, at least 1.
Problem too_many_requests(std::chrono::milliseconds retry_after, std::string detail);
Problem service_unavailable(std::chrono::milliseconds retry_after, std::string detail);
// 500: a fault on our side; detail must not leak internals a caller cannot act on.
Problem internal_error(std::string detail);

}  // namespace strata::api

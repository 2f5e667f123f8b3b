#include "api/problem.hpp"

#include <fmt/format.h>

namespace strata::api {

namespace {

Problem make(int status, std::string_view slug, std::string detail) {
  Problem p;
  p.status = status;
  p.type = fmt::format("urn:strata:problem:{}", slug);
  p.detail = std::move(detail);
  return p;
}

std::string retry_seconds(std::chrono::milliseconds retry_after) {
  auto ms = retry_after.count();
  long long seconds = ms <= 0 ? 1 : (ms + 999) / 1000;
  return std::to_string(seconds);
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

nlohmann::json Problem::to_json() const {
  nlohmann::json doc = nlohmann::json::object();
  if (extensions.is_object()) doc = extensions;
  doc["type"] = type;
  doc["title"] = title.empty() ? std::string(reason_phrase(status)) : title;
  doc["status"] = status;
  if (!detail.empty()) doc["detail"] = detail;
  if (!instance.empty()) doc["instance"] = instance;
  return doc;
}

Problem bad_request(std::string detail) { return make(400, "bad-request", std::move(detail)); }

Problem unauthorized(std::string detail, bool token_given) {
  Problem p = make(401, "unauthorized", std::move(detail));
  p.headers.emplace_back("WWW-Authenticate", token_given
                                                 ? R"(Bearer realm="strata", error="invalid_token")"
                                                 : R"(Bearer realm="strata")");
  return p;
}

Problem forbidden(std::string detail) { return make(403, "forbidden", std::move(detail)); }

Problem not_found(std::string_view what) {
  return make(404, "not-found", fmt::format("{} not found", what));
}

Problem method_not_allowed(std::string_view method, const std::vector<std::string>& allow) {
  std::string list = fmt::format("{}", fmt::join(allow, ", "));
  Problem p = make(405, "method-not-allowed",
                   fmt::format("method {} is not allowed here; allowed: {}", method, list));
  p.headers.emplace_back("Allow", list);
  return p;
}

Problem conflict(std::string detail) { return make(409, "conflict", std::move(detail)); }

Problem payload_too_large(std::size_t limit_bytes) {
  Problem p = make(413, "payload-too-large",
                   fmt::format("the request body is over this route's limit of {} bytes; send "
                               "it in smaller parts",
                               limit_bytes));
  p.extensions["limit_bytes"] = limit_bytes;
  return p;
}

Problem unsupported_media_type(std::string detail) {
  return make(415, "unsupported-media-type", std::move(detail));
}

Problem unprocessable(std::vector<FieldError> errors, std::string detail) {
  if (detail.empty())
    detail = errors.size() == 1
                 ? fmt::format("{}: {}", errors[0].path.empty() ? "body" : errors[0].path,
                               errors[0].reason)
                 : fmt::format("{} fields are invalid", errors.size());
  Problem p = make(422, "validation", std::move(detail));
  nlohmann::json list = nlohmann::json::array();
  for (auto& e : errors)
    list.push_back({{"path", std::move(e.path)}, {"reason", std::move(e.reason)}});
  p.extensions["errors"] = std::move(list);
  return p;
}

Problem too_many_requests(std::chrono::milliseconds retry_after, std::string detail) {
  Problem p = make(429, "too-many-requests", std::move(detail));
  p.headers.emplace_back("Retry-After", retry_seconds(retry_after));
  return p;
}

Problem service_unavailable(std::chrono::milliseconds retry_after, std::string detail) {
  Problem p = make(503, "service-unavailable", std::move(detail));
  p.headers.emplace_back("Retry-After", retry_seconds(retry_after));
  return p;
}

Problem internal_error(std::string detail) { return make(500, "internal", std::move(detail)); }

}  // namespace strata::api

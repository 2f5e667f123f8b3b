#include "api/problem.hpp"

#include <gtest/gtest.h>

#include "api/exchange.hpp"

namespace strata::api {
namespace {

std::string header(const Problem& p, std::string_view name) {
  for (const auto& [k, v] : p.headers)
    if (k == name) return v;
  return "<absent>";
}

TEST(Problem, DocumentHasTheRfc7807Members) {
  Problem p = conflict("device 'pump-7' already exists; choose another id");
  p.instance = "/api/v1/devices";
  EXPECT_EQ(p.to_json(), nlohmann::json::parse(R"({
    "type": "urn:strata:problem:conflict", "title": "Conflict", "status": 409,
    "detail": "device 'pump-7' already exists; choose another id",
    "instance": "/api/v1/devices"})"));
}

TEST(Problem, ResponseIsProblemJsonWithInstanceFromThePath) {
  Response r = Response::problem(not_found("device 'pump-7'"), "/api/v1/devices/pump-7");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json::parse(R"({
    "type": "urn:strata:problem:not-found", "title": "Not Found", "status": 404,
    "detail": "device 'pump-7' not found", "instance": "/api/v1/devices/pump-7"})"));
}

TEST(Problem, UnprocessableListsEveryFieldError) {
  Problem p = unprocessable({{"/modbus/port", "expects an integer 1..65535, got 70000"},
                             {"/model", "unknown model 'dtmi:strata:pump;9'"}});
  auto doc = p.to_json();
  EXPECT_EQ(doc["status"], 422);
  EXPECT_EQ(doc["type"], "urn:strata:problem:validation");
  EXPECT_EQ(doc["title"], "Unprocessable Entity");
  EXPECT_EQ(doc["detail"], "2 fields are invalid");
  EXPECT_EQ(doc["errors"], nlohmann::json::parse(R"([
    {"path": "/modbus/port", "reason": "expects an integer 1..65535, got 70000"},
    {"path": "/model", "reason": "unknown model 'dtmi:strata:pump;9'"}])"));
  Problem one = unprocessable({{"/id", "must not be empty"}});
  EXPECT_EQ(one.to_json()["detail"], "/id: must not be empty");
}

TEST(Problem, BackPressureCarriesRetryAfterInWholeSeconds) {
  EXPECT_EQ(header(too_many_requests(std::chrono::milliseconds(1500), "queue full"), "Retry-After"),
            "2");
  EXPECT_EQ(header(service_unavailable(std::chrono::milliseconds(0), "starting"), "Retry-After"),
            "1");
  EXPECT_EQ(header(service_unavailable(std::chrono::seconds(30), "starting"), "Retry-After"), "30");
  EXPECT_EQ(too_many_requests(std::chrono::seconds(1), "x").status, 429);
  EXPECT_EQ(service_unavailable(std::chrono::seconds(1), "x").status, 503);
}

TEST(Problem, AuthAndMethodHelpersSetTheirHeaders) {
  EXPECT_EQ(header(unauthorized("no token"), "WWW-Authenticate"), "Bearer realm=\"strata\"");
  EXPECT_EQ(header(unauthorized("bad token", true), "WWW-Authenticate"),
            "Bearer realm=\"strata\", error=\"invalid_token\"");
  Problem p = method_not_allowed("PUT", {"GET", "DELETE"});
  EXPECT_EQ(p.status, 405);
  EXPECT_EQ(header(p, "Allow"), "GET, DELETE");
  EXPECT_EQ(payload_too_large(1024).to_json()["limit_bytes"], 1024);
  EXPECT_EQ(forbidden("x").status, 403);
  EXPECT_EQ(bad_request("x").to_json()["title"], "Bad Request");
  EXPECT_EQ(internal_error("x").to_json()["title"], "Internal Server Error");
  EXPECT_EQ(unsupported_media_type("x").status, 415);
}

TEST(Problem, StandardMembersWinOverExtensions) {
  Problem p = bad_request("x");
  p.extensions["status"] = 999;
  p.extensions["hint"] = "use ?limit=";
  auto doc = p.to_json();
  EXPECT_EQ(doc["status"], 400);
  EXPECT_EQ(doc["hint"], "use ?limit=");
}

}  // namespace
}  // namespace strata::api

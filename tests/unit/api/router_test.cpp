#include "api/router.hpp"

#include <gtest/gtest.h>

#include <set>

#include "test_auth.hpp"

namespace strata::api {
namespace {

using govern::Role;
using govern::RoleSet;

Response ok_with_params(Request& r) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : r.params) params[k] = v;
  return Response::json(
      200, {{"params", params}, {"user", r.caller ? r.caller->user : std::string("-")}});
}

Route route(Method m, std::string pattern, Access access) {
  Route r;
  r.method = m;
  r.pattern = std::move(pattern);
  r.access = access;
  r.sync_handler = ok_with_params;
  return r;
}

// Runs a request through the router and returns what the handler (or the router) answered.
Response run(const Router& router, Method m, std::string target,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
  Request req;
  req.method = m;
  req.target = target;
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  req.headers = std::move(headers);
  std::optional<Response> out;
  router.dispatch(req, Responder([&](Response r) { out = std::move(r); }, req.path));
  EXPECT_TRUE(out.has_value());
  return out ? *out : Response{};
}

nlohmann::json body(const Response& r) { return nlohmann::json::parse(r.body); }

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth.add("adm", "alice", Role::admin);
    auth.add("eng", "erin", Role::engineer);
    auth.add("view", "victor", Role::viewer);
    ASSERT_TRUE(router
                    .add(route(Method::get, "/api/v1/devices",
                               Access::roles({Role::admin, Role::engineer, Role::viewer})))
                    .ok());
    ASSERT_TRUE(router
                    .add(route(Method::post, "/api/v1/devices",
                               Access::roles({Role::admin, Role::engineer})))
                    .ok());
    ASSERT_TRUE(router
                    .add(route(Method::get, "/api/v1/devices/{id}",
                               Access::roles({Role::admin, Role::engineer, Role::viewer})))
                    .ok());
    ASSERT_TRUE(
        router.add(route(Method::delete_, "/api/v1/devices/{id}", Access::roles({Role::admin})))
            .ok());
    ASSERT_TRUE(router
                    .add(route(Method::get, "/api/v1/devices/export",
                               Access::roles({Role::admin, Role::engineer})))
                    .ok());
    ASSERT_TRUE(
        router.add(route(Method::post, "/api/v1/{token}/telemetry", Access::device())).ok());
    ASSERT_TRUE(router.add(route(Method::get, "/healthz", Access::public_route())).ok());
    Route stream = route(Method::get, "/api/v1/stream", Access::roles(RoleSet::all()));
    stream.token_query_param = "token";
    ASSERT_TRUE(router.add(std::move(stream)).ok());
  }
  testing::TableAuthenticator auth;
  Router router{&auth};
};

TEST_F(RouterTest, MatchesParamsPercentDecoded) {
  Response r = run(router, Method::get, "/api/v1/devices/dtmi%3Astrata%3Ax%3B1",
                   {{"Authorization", "Bearer adm"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["params"]["id"], "dtmi:strata:x;1");
  EXPECT_EQ(body(r)["user"], "alice");
  // A '/' inside a parameter travels as %2F and stays within the segment.
  r = run(router, Method::get, "/api/v1/devices/a%2Fb", {{"Authorization", "Bearer adm"}});
  EXPECT_EQ(body(r)["params"]["id"], "a/b");
}

TEST_F(RouterTest, LiteralSegmentBeatsParameter) {
  Response r =
      run(router, Method::get, "/api/v1/devices/export", {{"Authorization", "Bearer adm"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(body(r)["params"].empty()) << r.body;  // the export route, not {id}
  // devices/telemetry: "devices" literal on the left wins over {token}/telemetry.
  Request req;
  req.method = Method::get;
  req.path = "/api/v1/devices/telemetry";
  req.headers = {{"Authorization", "Bearer adm"}};
  Resolution res = router.resolve(req);
  ASSERT_NE(res.route, nullptr);
  EXPECT_EQ(res.route->pattern, "/api/v1/devices/{id}");
  // A POST there reaches the device route, whose handler checks the token itself.
  req.method = Method::post;
  req.headers.clear();
  res = router.resolve(req);
  ASSERT_NE(res.route, nullptr);
  EXPECT_EQ(res.route->pattern, "/api/v1/{token}/telemetry");
  EXPECT_EQ(req.param("token"), "devices");
}

TEST_F(RouterTest, UnknownPathIs404Problem) {
  Response r = run(router, Method::get, "/api/v1/nothing", {{"Authorization", "Bearer adm"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/problem+json");
  auto doc = body(r);
  EXPECT_EQ(doc["type"], "urn:strata:problem:not-found");
  EXPECT_EQ(doc["title"], "Not Found");
  EXPECT_EQ(doc["status"], 404);
  EXPECT_EQ(doc["instance"], "/api/v1/nothing");
  EXPECT_NE(doc["detail"].get<std::string>().find("/api/v1/nothing"), std::string::npos);
  // Trailing slash is a different path.
  EXPECT_EQ(run(router, Method::get, "/api/v1/devices/", {{"Authorization", "Bearer adm"}}).status,
            404);
  // Empty parameter segment does not match a parameter.
  EXPECT_EQ(run(router, Method::get, "/api/v1//telemetry").status, 404);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Response r =
      run(router, Method::put, "/api/v1/devices/pump-7", {{"Authorization", "Bearer adm"}});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.content_type, "application/problem+json");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET, DELETE");
  // The export path is matched by export (GET) and {id} (GET, DELETE): Allow lists each once.
  r = run(router, Method::post, "/api/v1/devices/export");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers[0].second, "GET, DELETE");
}

TEST_F(RouterTest, BadPercentEncodingIs400) {
  Response r = run(router, Method::get, "/api/v1/devices/%zz", {{"Authorization", "Bearer adm"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["type"], "urn:strata:problem:bad-request");
  EXPECT_EQ(run(router, Method::get, "/api/v1/devices/%4").status, 400);
}

TEST_F(RouterTest, MissingOrUnknownTokenIs401WithWwwAuthenticate) {
  Response r = run(router, Method::get, "/api/v1/devices");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.content_type, "application/problem+json");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(r.headers[0].second, "Bearer realm=\"strata\"");

  r = run(router, Method::get, "/api/v1/devices", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers[0].second, "Bearer realm=\"strata\", error=\"invalid_token\"");

  r = run(router, Method::get, "/api/v1/devices", {{"Authorization", "Basic YTpi"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(body(r)["detail"].get<std::string>().find("Bearer"), std::string::npos);
}

TEST_F(RouterTest, InfluxTokenSchemeAndQueryTokenAreAccepted) {
  EXPECT_EQ(run(router, Method::get, "/api/v1/devices", {{"authorization", "Token eng"}}).status,
            200);
  EXPECT_EQ(run(router, Method::get, "/api/v1/stream?token=view").status, 200);
  // The query token is only read on routes that name it.
  EXPECT_EQ(run(router, Method::get, "/api/v1/devices?token=adm").status, 401);
}

TEST_F(RouterTest, RoleNotAdmittedIs403NamingTheRoles) {
  Response r =
      run(router, Method::delete_, "/api/v1/devices/pump-7", {{"Authorization", "Bearer eng"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.content_type, "application/problem+json");
  std::string detail = body(r)["detail"];
  EXPECT_NE(detail.find("erin"), std::string::npos) << detail;
  EXPECT_NE(detail.find("engineer"), std::string::npos) << detail;
  EXPECT_NE(detail.find("admitted roles: admin"), std::string::npos) << detail;
}

TEST_F(RouterTest, PublicAndDeviceRoutesNeedNoApiToken) {
  EXPECT_EQ(run(router, Method::get, "/healthz").status, 200);
  Response r = run(router, Method::post, "/api/v1/dvt_abc/telemetry");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["params"]["token"], "dvt_abc");
  EXPECT_EQ(body(r)["user"], "-");
}

// Every route × every role: the router admits exactly the roles the route names.
TEST_F(RouterTest, TableOfRoutesTimesRoles) {
  testing::TableAuthenticator all;
  Router table(&all);
  for (std::size_t i = 0; i < govern::kRoleCount; ++i)
    all.add("t" + std::to_string(i), "u" + std::to_string(i), static_cast<Role>(i));
  for (const auto& r : router.routes()) {
    Route copy = route(r->method, r->pattern, r->access);
    ASSERT_TRUE(table.add(std::move(copy)).ok());
  }
  int checked = 0;
  for (const auto& r : table.routes()) {
    std::string path = r->pattern;
    for (std::size_t b; (b = path.find('{')) != std::string::npos;)
      path.replace(b, path.find('}', b) - b + 1, "x1");
    for (std::size_t i = 0; i < govern::kRoleCount; ++i) {
      auto role = static_cast<Role>(i);
      Request req;
      req.method = r->method;
      req.path = path;
      req.headers = {{"Authorization", "Bearer t" + std::to_string(i)}};
      Resolution res = table.resolve(req);
      bool admitted = r->access.admits(role);
      ASSERT_EQ(res.route != nullptr, admitted)
          << method_name(r->method) << " " << r->pattern << " as " << govern::role_name(role);
      if (admitted) {
        EXPECT_EQ(res.route, r.get());
      } else {
        EXPECT_EQ(res.refusal->status, 403);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(router.routes().size() * govern::kRoleCount));
}

TEST(Router, RefusesMalformedAndDuplicateRoutes) {
  Router r;
  auto add = [&](Method m, std::string p, Access a = Access::public_route()) {
    return r.add(route(m, std::move(p), a));
  };
  EXPECT_TRUE(add(Method::get, "/a/{id}").ok());
  Status s = add(Method::get, "/a/{other}");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().is(errc::bad_route));
  EXPECT_NE(s.error().message.find("already registered"), std::string::npos) << s.error().message;
  s = add(Method::put, "/a/{other}");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("name its parameters"), std::string::npos) << s.error().message;
  EXPECT_FALSE(add(Method::get, "no-slash").ok());
  EXPECT_FALSE(add(Method::get, "/b/{}").ok());
  EXPECT_FALSE(add(Method::get, "/b/{x").ok());
  EXPECT_FALSE(add(Method::get, "/b/x{y}").ok());
  EXPECT_FALSE(add(Method::get, "/b/{y}/{y}").ok());
  EXPECT_FALSE(add(Method::get, "/b/{a-b}").ok());
  EXPECT_FALSE(add(Method::get, "/c", Access::roles({})).ok());
  Route none;
  none.pattern = "/d";
  none.access = Access::public_route();
  EXPECT_FALSE(r.add(std::move(none)).ok());
  Route two = route(Method::get, "/e", Access::public_route());
  two.handler = [](Request&, Responder) {};
  EXPECT_FALSE(r.add(std::move(two)).ok());
  EXPECT_EQ(r.routes().size(), 1u);
}

TEST(Router, HandlerExceptionsBecomeProblems) {
  Router r;
  Route bad_json = route(Method::post, "/j", Access::public_route());
  bad_json.sync_handler = [](Request& req) {
    auto doc = nlohmann::json::parse(req.body);
    return Response::json(200, {{"n", doc.at("n").get<int>()}});
  };
  ASSERT_TRUE(r.add(std::move(bad_json)).ok());
  Route boom = route(Method::get, "/boom", Access::public_route());
  boom.sync_handler = [](Request&) -> Response { throw std::runtime_error("disk on fire"); };
  ASSERT_TRUE(r.add(std::move(boom)).ok());

  Request req;
  req.method = Method::post;
  req.path = "/j";
  req.body = R"({"n":"seven"})";
  std::optional<Response> out;
  r.dispatch(req, Responder([&](Response x) { out = std::move(x); }, req.path));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 400);
  EXPECT_NE(body(*out)["detail"].get<std::string>().find("type must be number"), std::string::npos)
      << out->body;

  Response b = run(r, Method::get, "/boom");
  EXPECT_EQ(b.status, 500);
  EXPECT_EQ(b.content_type, "application/problem+json");
  EXPECT_EQ(body(b)["detail"].get<std::string>().find("fire"), std::string::npos)
      << "internals stay in the log";
}

TEST(Router, DroppedResponderAnswers500AndLateAnswersAreIgnored) {
  std::vector<Response> got;
  {
    Responder r([&](Response x) { got.push_back(std::move(x)); }, "/x");
    Responder copy = r;
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 500);
  EXPECT_NE(got[0].body.find("did not answer"), std::string::npos);

  got.clear();
  Responder r([&](Response x) { got.push_back(std::move(x)); }, "/y");
  r(Response::empty(204));
  EXPECT_TRUE(r.answered());
  r.send(not_found("thing"));
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 204);
}

TEST(Router, WebSocketRouteWithoutUpgradeIs426) {
  struct Endpoint : WebSocketEndpoint {
    void on_open(const std::shared_ptr<WebSocketSession>&, const Request&) override {}
    void on_message(const std::shared_ptr<WebSocketSession>&, std::string_view) override {}
    void on_close(const std::shared_ptr<WebSocketSession>&) override {}
  };
  Router r;
  Route ws;
  ws.pattern = "/ws";
  ws.access = Access::public_route();
  ws.websocket = std::make_shared<Endpoint>();
  ASSERT_TRUE(r.add(std::move(ws)).ok());
  Response out = run(r, Method::get, "/ws");
  EXPECT_EQ(out.status, 426);
  EXPECT_EQ(body(out)["title"], "Upgrade Required");
}

TEST(Request, QueryParamsHeadersAndTokens) {
  Request r;
  r.query = "a=1&topic=x%20y&topic=b+c&empty=&flag&bad=%zz";
  r.headers = {{"Content-Type", "text/plain"}, {"authorization", "bearer  stk_1  "}};
  EXPECT_EQ(r.query_param("a"), "1");
  EXPECT_EQ(r.query_param("empty"), "");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("missing"), std::nullopt);
  EXPECT_EQ(r.query_param("bad"), std::nullopt);
  EXPECT_EQ(r.query_params("topic"), (std::vector<std::string>{"x y", "b c"}));
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_EQ(r.bearer_token(), "stk_1");
  r.headers = {{"Authorization", "Bearer"}};
  EXPECT_EQ(r.bearer_token(), std::nullopt);
  r.body = "{\"a\":";
  auto j = r.json_body();
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().message.find("not JSON"), std::string::npos) << j.error().message;
  EXPECT_NE(j.error().message.find("column 6"), std::string::npos) << j.error().message;
}

TEST(PercentDecode, DecodesAndRejectsBadEscapes) {
  EXPECT_EQ(percent_decode("a%2Fb%3a", false), "a/b:");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%", false), std::nullopt);
  EXPECT_EQ(percent_decode("%4", false), std::nullopt);
  EXPECT_EQ(percent_decode("%g0", false), std::nullopt);
  EXPECT_EQ(split_path("/a/%41/"), (std::vector<std::string>{"a", "A", ""}));
  EXPECT_EQ(split_path("a"), std::nullopt);
}

TEST_F(RouterTest, OpenApiListsEveryRouteWithItsSecurity) {
  nlohmann::json doc = router.openapi({.title = "Strata API", .version = "1", .description = ""});
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_EQ(doc["info"]["title"], "Strata API");
  ASSERT_TRUE(doc["components"]["securitySchemes"].contains("bearerAuth"));
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
  ASSERT_TRUE(doc["components"]["schemas"].contains("Problem"));
  std::set<std::string> operation_ids;
  for (const auto& r : router.routes()) {
    std::string method(method_name(r->method));
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ASSERT_TRUE(doc["paths"].contains(r->pattern)) << r->pattern;
    ASSERT_TRUE(doc["paths"][r->pattern].contains(method)) << method << " " << r->pattern;
    const auto& op = doc["paths"][r->pattern][method];
    EXPECT_TRUE(operation_ids.insert(op["operationId"].get<std::string>()).second);
    ASSERT_TRUE(op.contains("security"));
    ASSERT_TRUE(op.contains("responses"));
    EXPECT_TRUE(op["responses"].contains("default"));
    switch (r->access.kind()) {
      case Access::Kind::roles: {
        EXPECT_EQ(op["security"][0], nlohmann::json({{"bearerAuth", nlohmann::json::array()}}));
        EXPECT_TRUE(op["responses"].contains("401"));
        EXPECT_TRUE(op["responses"].contains("403"));
        std::vector<std::string> names;
        for (std::size_t i = 0; i < govern::kRoleCount; ++i)
          if (r->access.role_set().contains(static_cast<Role>(i)))
            names.emplace_back(govern::role_name(static_cast<Role>(i)));
        EXPECT_EQ(op["x-strata-roles"].get<std::vector<std::string>>(), names);
        break;
      }
      case Access::Kind::device:
        EXPECT_EQ(op["security"][0], nlohmann::json({{"deviceToken", nlohmann::json::array()}}));
        break;
      case Access::Kind::public_:
        EXPECT_TRUE(op["security"].empty());
        EXPECT_FALSE(op["responses"].contains("401"));
        break;
    }
    // Every {param} of the pattern is a required path parameter.
    std::size_t braces = std::count(r->pattern.begin(), r->pattern.end(), '{');
    std::size_t path_params = 0;
    if (op.contains("parameters"))
      for (const auto& p : op["parameters"])
        if (p["in"] == "path") {
          ++path_params;
          EXPECT_TRUE(p["required"].get<bool>());
          EXPECT_NE(r->pattern.find("{" + p["name"].get<std::string>() + "}"), std::string::npos);
        }
    EXPECT_EQ(path_params, braces) << r->pattern;
  }
  // The stream route also takes its token as a query parameter.
  const auto& stream = doc["paths"]["/api/v1/stream"]["get"];
  ASSERT_EQ(stream["security"].size(), 2u);
  EXPECT_EQ(doc["components"]["securitySchemes"]["queryToken_token"]["in"], "query");
  // Every $ref points at something the document defines.
  std::function<void(const nlohmann::json&)> check_refs = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        std::string ref = j["$ref"];
        ASSERT_EQ(ref.rfind("#/", 0), 0u);
        EXPECT_TRUE(doc.contains(nlohmann::json::json_pointer(ref.substr(1)))) << ref;
      }
      for (const auto& [k, v] : j.items()) check_refs(v);
    } else if (j.is_array()) {
      for (const auto& v : j) check_refs(v);
    }
  };
  check_refs(doc);
}

TEST(Router, OpenApiCarriesSchemasAndSuccessStatus) {
  Router r;
  Route create = route(Method::post, "/api/v1/models", Access::roles({Role::admin}));
  create.summary = "Create a device model";
  create.tag = "models";
  create.success_status = 201;
  create.request_schema = {{"type", "object"}};
  create.response_schema = {{"type", "object"}, {"properties", {{"id", {{"type", "string"}}}}}};
  create.query_params = {{"dry_run", "validate only"}};
  ASSERT_TRUE(r.add(std::move(create)).ok());
  auto doc = r.openapi();
  const auto& op = doc["paths"]["/api/v1/models"]["post"];
  EXPECT_EQ(op["summary"], "Create a device model");
  EXPECT_EQ(op["tags"], nlohmann::json::array({"models"}));
  EXPECT_EQ(op["requestBody"]["content"]["application/json"]["schema"]["type"], "object");
  EXPECT_EQ(
      op["responses"]["201"]["content"]["application/json"]["schema"]["properties"]["id"]["type"],
      "string");
  EXPECT_TRUE(op["responses"].contains("422"));
  EXPECT_TRUE(op["responses"].contains("413"));
  EXPECT_EQ(op["parameters"][0]["name"], "dry_run");
  EXPECT_EQ(op["parameters"][0]["in"], "query");
  EXPECT_EQ(doc["tags"][0]["name"], "models");
}

}  // namespace
}  // namespace strata::api

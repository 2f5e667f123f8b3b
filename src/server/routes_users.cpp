// Users and API tokens (admin only), and /api/v1/me for everyone (docs/api.md).
#include <nlohmann/json.hpp>

#include "core/time_format.hpp"
#include "server/route_helpers.hpp"
#include "server/services.hpp"

namespace strata::server {

namespace {

using api::Method;
using api::Request;
using api::Response;
using nlohmann::json;

json user_json(const govern::User& u) {
  return {{"name", u.name},
          {"role", govern::role_name(u.role)},
          {"created", format_iso8601(u.created)}};
}
json token_json(const govern::ApiTokenInfo& t) {
  return {
      {"id", t.id}, {"user", t.user}, {"label", t.label}, {"created", format_iso8601(t.created)}};
}
api::Problem govern_problem(const Error& e) {
  if (e.is(govern::errc::not_found)) {
    api::Problem p = api::not_found("");
    p.detail = e.message;
    return p;
  }
  if (e.is(govern::errc::conflict)) return api::conflict(e.message);
  if (e.is(govern::errc::invalid_argument)) return api::unprocessable({{"", e.message}}, e.message);
  return api::internal_error(e.message);
}
Result<govern::Role> role_from(const json& doc) {
  if (!doc.is_object() || !doc.contains("role") || !doc["role"].is_string())
    return Error{422,
                 "$.role: expected one of admin, engineer, operator, technician, "
                 "data_scientist, executive, viewer"};
  auto r = govern::parse_role(doc["role"].get<std::string>());
  if (!r)
    return Error{422, "$.role: '" + doc["role"].get<std::string>() +
                          "' is not one of admin, engineer, operator, technician, data_scientist, "
                          "executive, viewer"};
  return *r;
}

}  // namespace

Status add_user_routes(api::Router& router, Services& s) {
  const json user_schema = {
      {"type", "object"},
      {"properties", {{"name", {{"type", "string"}}}, {"role", {{"type", "string"}}}}}};
  std::vector<api::Route> routes;
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/me",
                    .summary = "Who the token belongs to",
                    .tag = "users",
                    .access = api::Access::roles(kEveryone),
                    .response_schema = user_schema,
                    .sync_handler = [](Request& r) {
                      return Response::json(200, json{{"name", r.caller->user},
                                                      {"role", govern::role_name(r.caller->role)}});
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/users",
                    .summary = "List users",
                    .tag = "users",
                    .access = api::Access::roles(kAdmins),
                    .sync_handler = [&s](Request&) {
                      json out = json::array();
                      for (const auto& u : s.users.users()) out.push_back(user_json(u));
                      return Response::json(200, out);
                    }});
  routes.push_back({.method = Method::post,
                    .pattern = "/api/v1/users",
                    .summary = "Create a user with a role",
                    .tag = "users",
                    .access = api::Access::roles(kAdmins),
                    .request_schema = user_schema,
                    .response_schema = user_schema,
                    .success_status = 201,
                    .sync_handler = [&s](Request& r) {
                      auto doc = r.json_body();
                      if (!doc) return Response::problem(api::bad_request(doc.error().message));
                      auto role = role_from(*doc);
                      if (!role) return Response::problem(validation_problem(role.error().message));
                      if (!(*doc)["name"].is_string())
                        return Response::problem(validation_problem("$.name: expected a string"));
                      auto u = s.users.add_user((*doc)["name"].get<std::string>(), *role);
                      if (!u) return Response::problem(govern_problem(u.error()));
                      return Response::json(201, user_json(*u));
                    }});
  routes.push_back({.method = Method::patch,
                    .pattern = "/api/v1/users/{name}",
                    .summary = "Change a user's role",
                    .tag = "users",
                    .access = api::Access::roles(kAdmins),
                    .request_schema = user_schema,
                    .response_schema = user_schema,
                    .sync_handler = [&s](Request& r) {
                      auto doc = r.json_body();
                      if (!doc) return Response::problem(api::bad_request(doc.error().message));
                      auto role = role_from(*doc);
                      if (!role) return Response::problem(validation_problem(role.error().message));
                      const std::string name(r.param("name"));
                      if (auto st = s.users.set_role(name, *role); !st)
                        return Response::problem(govern_problem(st.error()));
                      return Response::json(200, user_json(*s.users.user(name)));
                    }});
  routes.push_back({.method = Method::delete_,
                    .pattern = "/api/v1/users/{name}",
                    .summary = "Remove a user and their tokens",
                    .tag = "users",
                    .access = api::Access::roles(kAdmins),
                    .success_status = 204,
                    .sync_handler = [&s](Request& r) {
                      if (r.param("name") == r.caller->user)
                        return Response::problem(api::conflict("you cannot remove yourself"));
                      if (auto st = s.users.remove_user(std::string(r.param("name"))); !st)
                        return Response::problem(govern_problem(st.error()));
                      return Response::empty(204);
                    }});
  routes.push_back({.method = Method::post,
                    .pattern = "/api/v1/users/{name}/tokens",
                    .summary = "Issue an API token for a user; the answer holds it, once",
                    .tag = "users",
                    .access = api::Access::roles(kAdmins),
                    .success_status = 201,
                    .sync_handler = [&s](Request& r) {
                      std::string label = "api";
                      if (!r.body.empty()) {
                        auto doc = r.json_body();
                        if (!doc) return Response::problem(api::bad_request(doc.error().message));
                        if (doc->is_object() && (*doc)["label"].is_string())
                          label = (*doc)["label"].get<std::string>();
                      }
                      auto t = s.users.issue_token(std::string(r.param("name")), label);
                      if (!t) return Response::problem(govern_problem(t.error()));
                      json j = token_json(t->info);
                      j["token"] = t->token;
                      return Response::json(201, j);
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/tokens",
                    .summary = "List API tokens (never the tokens themselves)",
                    .tag = "users",
                    .access = api::Access::roles(kAdmins),
                    .sync_handler = [&s](Request& r) {
                      json out = json::array();
                      for (const auto& t : s.users.tokens(r.query_param("user").value_or("")))
                        out.push_back(token_json(t));
                      return Response::json(200, out);
                    }});
  routes.push_back({.method = Method::delete_,
                    .pattern = "/api/v1/tokens/{id}",
                    .summary = "Revoke an API token",
                    .tag = "users",
                    .access = api::Access::roles(kAdmins),
                    .success_status = 204,
                    .sync_handler = [&s](Request& r) {
                      if (auto st = s.users.revoke_token(std::string(r.param("id"))); !st)
                        return Response::problem(govern_problem(st.error()));
                      return Response::empty(204);
                    }});
  for (auto& route : routes)
    if (auto st = router.add(std::move(route)); !st) return st;
  return {};
}

}  // namespace strata::server

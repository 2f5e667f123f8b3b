#include "api/router.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace strata::api {

namespace {

bool is_param(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

std::string_view param_name(std::string_view segment) {
  return segment.substr(1, segment.size() - 2);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits a pattern into segments and checks it; the error names what is wrong.
Result<std::vector<std::string>> parse_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/')
    return Error::of(errc::bad_route, fmt::format("pattern '{}' must start with '/'", pattern));
  std::vector<std::string> segments;
  std::set<std::string, std::less<>> names;
  std::string_view rest = pattern.substr(1);
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    bool has_brace = seg.find_first_of("{}") != std::string_view::npos;
    if (has_brace) {
      if (!is_param(seg) || seg.size() == 2)
        return Error::of(errc::bad_route,
                         fmt::format("pattern '{}': segment '{}' must be a whole {{name}} "
                                     "parameter",
                                     pattern, seg));
      std::string_view name = param_name(seg);
      for (char c : name) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok)
          return Error::of(errc::bad_route,
                           fmt::format("pattern '{}': parameter name '{}' may hold only letters, "
                                       "digits and '_'",
                                       pattern, name));
      }
      if (!names.emplace(name).second)
        return Error::of(errc::bad_route,
                         fmt::format("pattern '{}': parameter '{}' appears twice", pattern, name));
    }
    segments.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return segments;
}

std::string shape_of(const std::vector<std::string>& segments) {
  std::string s;
  for (const auto& seg : segments) {
    s += '/';
    s += is_param(seg) ? std::string("{}") : seg;
  }
  return s;
}

// True when a's literal positions beat b's: at the first position where one has a literal and
// the other a parameter, the literal wins.
bool more_specific(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool pa = is_param(a[i]), pb = is_param(b[i]);
    if (pa != pb) return !pa;
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string roles_list(govern::RoleSet set) {
  std::string out;
  for (std::size_t i = 0; i < govern::kRoleCount; ++i) {
    auto r = static_cast<govern::Role>(i);
    if (!set.contains(r)) continue;
    if (!out.empty()) out += ", ";
    out += govern::role_name(r);
  }
  return out;
}

Problem upgrade_required(std::string_view path) {
  Problem p;
  p.status = 426;
  p.type = "urn:strata:problem:upgrade-required";
  p.detail = fmt::format(
      "{} is a WebSocket endpoint: connect with a WebSocket client (GET with "
      "Upgrade: websocket)",
      path);
  p.headers.emplace_back("Upgrade", "websocket");
  return p;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::vector<std::string>> split_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::vector<std::string> out;
  std::string_view rest = path.substr(1);
  while (true) {
    std::size_t slash = rest.find('/');
    auto seg = percent_decode(rest.substr(0, slash), false);
    if (!seg) return std::nullopt;
    out.push_back(std::move(*seg));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return out;
}

Router::Router(const Authenticator* authenticator) : authenticator_(authenticator) {}

Status Router::add(Route route) {
  std::string name = fmt::format("{} {}", method_name(route.method), route.pattern);
  auto segments = parse_pattern(route.pattern);
  if (!segments.ok()) return Error::of(errc::bad_route, "route " + segments.error().message);
  int bodies = (route.handler ? 1 : 0) + (route.sync_handler ? 1 : 0) + (route.websocket ? 1 : 0);
  if (bodies != 1)
    return Error::of(errc::bad_route,
                     fmt::format("route {}: set exactly one of handler, sync_handler, websocket "
                                 "({} set)",
                                 name, bodies));
  if (route.websocket && route.method != Method::get)
    return Error::of(errc::bad_route,
                     fmt::format("route {}: a WebSocket route must be a GET route", name));
  if (route.access.kind() == Access::Kind::roles && route.access.role_set().empty())
    return Error::of(errc::bad_route,
                     fmt::format("route {}: admits no role; give Access::roles({{...}}), "
                                 "Access::public_route() or Access::device()",
                                 name));
  std::string shape = shape_of(*segments);
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (shape_of(segments_[i]) != shape) continue;
    if (routes_[i]->method == route.method)
      return Error::of(errc::bad_route,
                       fmt::format("route {} is already registered as {} {}", name,
                                   method_name(route.method), routes_[i]->pattern));
    if (routes_[i]->pattern != route.pattern)
      return Error::of(errc::bad_route,
                       fmt::format("route {}: name its parameters as {} does (one path, one "
                                   "spelling, as OpenAPI requires)",
                                   name, routes_[i]->pattern));
  }
  segments_.push_back(std::move(*segments));
  routes_.push_back(std::make_unique<Route>(std::move(route)));
  return {};
}

const Route* Router::find(Method method, std::string_view path, Request* request,
                          std::optional<Problem>& refusal) const {
  auto segs = split_path(path);
  if (!segs) {
    refusal = bad_request(fmt::format(
        "the path '{}' is not valid: every '%' must be followed by two hex digits", path));
    return nullptr;
  }
  std::size_t best = routes_.size();
  bool any_path_match = false;
  std::vector<std::string> allow;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& pattern = segments_[i];
    if (pattern.size() != segs->size()) continue;
    bool ok = true;
    for (std::size_t k = 0; k < pattern.size() && ok; ++k)
      ok = is_param(pattern[k]) ? !(*segs)[k].empty() : pattern[k] == (*segs)[k];
    if (!ok) continue;
    any_path_match = true;
    if (routes_[i]->method != method) {
      std::string m(method_name(routes_[i]->method));
      if (std::find(allow.begin(), allow.end(), m) == allow.end()) allow.push_back(std::move(m));
      continue;
    }
    if (best == routes_.size() || more_specific(pattern, segments_[best])) best = i;
  }
  if (best == routes_.size()) {
    if (!any_path_match) {
      refusal = not_found("route");
      refusal->detail = fmt::format(
          "no route matches the path '{}' (the routes are listed at /api/v1/openapi.json)", path);
    } else {
      std::sort(allow.begin(), allow.end(), [](const std::string& a, const std::string& b) {
        return *parse_method(a) < *parse_method(b);
      });
      refusal = method_not_allowed(method_name(method), allow);
    }
    return nullptr;
  }
  if (request) {
    request->params.clear();
    const auto& pattern = segments_[best];
    for (std::size_t k = 0; k < pattern.size(); ++k)
      if (is_param(pattern[k]))
        request->params.emplace_back(std::string(param_name(pattern[k])), std::move((*segs)[k]));
  }
  return routes_[best].get();
}

Resolution Router::match(Method method, std::string_view path) const {
  Resolution r;
  r.route = find(method, path, nullptr, r.refusal);
  return r;
}

Resolution Router::resolve(Request& request) const {
  Resolution r;
  const Route* route = find(request.method, request.path, &request, r.refusal);
  if (!route) return r;
  request.caller.reset();
  if (route->access.kind() == Access::Kind::roles) {
    std::optional<std::string> token;
    if (auto t = request.bearer_token()) {
      token = std::string(*t);
    } else if (request.header("Authorization")) {
      r.refusal = unauthorized(
          "the Authorization header must read 'Bearer <API token>' (or 'Token <API token>')", true);
      return r;
    } else if (!route->token_query_param.empty()) {
      token = request.query_param(route->token_query_param);
    }
    if (!token || token->empty()) {
      r.refusal = unauthorized(
          route->token_query_param.empty()
              ? std::string("this route needs an API token: send 'Authorization: Bearer <token>'")
              : fmt::format("this route needs an API token: send 'Authorization: Bearer <token>' "
                            "or the query parameter '{}'",
                            route->token_query_param));
      return r;
    }
    std::optional<Caller> caller;
    if (authenticator_) caller = authenticator_->authenticate(*token);
    if (!caller) {
      r.refusal = unauthorized("the API token is unknown, revoked or expired", true);
      return r;
    }
    if (!route->access.admits(caller->role)) {
      r.refusal = forbidden(
          fmt::format("user '{}' has the role {}, which may not call {} {}; admitted roles: {}",
                      caller->user, govern::role_name(caller->role), method_name(route->method),
                      route->pattern, roles_list(route->access.role_set())));
      return r;
    }
    request.caller = std::move(caller);
  }
  r.route = route;
  return r;
}

void Router::invoke(const Route& route, Request& request, Responder respond) const {
  try {
    if (route.handler) {
      route.handler(request, respond);
    } else if (route.sync_handler) {
      respond.send(route.sync_handler(request));
    } else {
      respond.send(upgrade_required(request.path));
    }
  } catch (const nlohmann::json::exception& e) {
    // A handler reading the body with at()/get<>() met a member that is missing or of another
    // type: the client's mistake, said in nlohmann's words without its prefix.
    std::string what = e.what();
    std::size_t at = what.find("] ");
    if (!respond.answered())
      respond.send(bad_request("the request body does not have the expected shape: " +
                               (at == std::string::npos ? what : what.substr(at + 2))));
  } catch (const std::exception& e) {
    spdlog::error("api: {} {} (request {}) failed: {}", method_name(request.method), request.path,
                  request.id, e.what());
    if (!respond.answered())
      respond.send(internal_error(fmt::format(
          "the server failed on this request (id {}); the log has the cause", request.id)));
  }
}

void Router::dispatch(Request& request, Responder respond) const {
  Resolution r = resolve(request);
  if (!r.route) {
    respond.send(*r.refusal);
    return;
  }
  invoke(*r.route, request, std::move(respond));
}

nlohmann::json Router::openapi(const ApiInfo& info) const {
  using nlohmann::json;
  auto problem_response = [](std::string description) {
    return json{{"description", std::move(description)},
                {"content",
                 {{std::string(kProblemContentType),
                   {{"schema", {{"$ref", "#/components/schemas/Problem"}}}}}}}};
  };
  auto ref = [](std::string_view name) {
    return json{{"$ref", fmt::format("#/components/responses/{}", name)}};
  };

  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", info.title}, {"version", info.version}};
  if (!info.description.empty()) doc["info"]["description"] = info.description;
  json paths = json::object();
  std::vector<std::string> tags;
  json schemes = {
      {"bearerAuth",
       {{"type", "http"},
        {"scheme", "bearer"},
        {"description",
         "A user's API token (stk_…): 'Authorization: Bearer <token>'; "
         "'Authorization: Token <token>' is read the same way"}}},
      {"deviceToken",
       {{"type", "http"},
        {"scheme", "bearer"},
        {"description", "A device access token (dvt_…), checked by the route itself"}}}};

  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Route& route = *routes_[i];
    json op;
    if (!route.summary.empty()) op["summary"] = route.summary;
    if (!route.tag.empty()) {
      op["tags"] = json::array({route.tag});
      if (std::find(tags.begin(), tags.end(), route.tag) == tags.end()) tags.push_back(route.tag);
    }
    std::string op_id = lower(method_name(route.method));
    for (const auto& seg : segments_[i]) {
      op_id += '_';
      for (char c : is_param(seg) ? std::string(param_name(seg)) : seg)
        op_id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    op["operationId"] = op_id;

    json params = json::array();
    bool has_path_param = false;
    for (const auto& seg : segments_[i]) {
      if (!is_param(seg)) continue;
      has_path_param = true;
      params.push_back({{"name", std::string(param_name(seg))},
                        {"in", "path"},
                        {"required", true},
                        {"description", "percent-encoded"},
                        {"schema", {{"type", "string"}}}});
    }
    for (const auto& [name, description] : route.query_params)
      params.push_back({{"name", name},
                        {"in", "query"},
                        {"required", false},
                        {"description", description},
                        {"schema", {{"type", "string"}}}});
    if (!params.empty()) op["parameters"] = std::move(params);

    if (!route.request_schema.is_null()) {
      op["requestBody"] = {
          {"required", true},
          {"content", {{route.request_content_type, {{"schema", route.request_schema}}}}}};
    }

    json responses = json::object();
    json success = {{"description", route.websocket
                                        ? std::string("Switching Protocols: the "
                                                      "WebSocket session starts")
                                        : std::string(reason_phrase(route.success_status))}};
    if (!route.response_schema.is_null() && route.success_status != 204)
      success["content"] = {{route.response_content_type, {{"schema", route.response_schema}}}};
    responses[std::to_string(route.websocket ? 101 : route.success_status)] = std::move(success);
    responses["400"] = ref("BadRequest");
    if (route.access.kind() != Access::Kind::public_) responses["401"] = ref("Unauthorized");
    if (route.access.kind() == Access::Kind::roles) responses["403"] = ref("Forbidden");
    if (has_path_param) responses["404"] = ref("NotFound");
    if (!route.request_schema.is_null()) {
      responses["413"] = ref("PayloadTooLarge");
      responses["422"] = ref("Unprocessable");
    }
    responses["default"] = ref("Problem");
    op["responses"] = std::move(responses);

    json security = json::array();
    switch (route.access.kind()) {
      case Access::Kind::roles: {
        security.push_back({{"bearerAuth", json::array()}});
        json names = json::array();
        for (std::size_t r = 0; r < govern::kRoleCount; ++r)
          if (route.access.role_set().contains(static_cast<govern::Role>(r)))
            names.push_back(govern::role_name(static_cast<govern::Role>(r)));
        op["x-strata-roles"] = std::move(names);
        op["x-strata-access"] = "roles";
        break;
      }
      case Access::Kind::device:
        security.push_back({{"deviceToken", json::array()}});
        op["x-strata-access"] = "device";
        break;
      case Access::Kind::public_:
        op["x-strata-access"] = "public";
        break;
    }
    if (!route.token_query_param.empty()) {
      std::string scheme = "queryToken_" + route.token_query_param;
      schemes[scheme] = {{"type", "apiKey"},
                         {"in", "query"},
                         {"name", route.token_query_param},
                         {"description",
                          "An API token as a query parameter, for clients that "
                          "cannot send headers"}};
      security.push_back({{scheme, json::array()}});
    }
    op["security"] = std::move(security);
    if (route.websocket) op["x-strata-websocket"] = true;

    paths[route.pattern][lower(method_name(route.method))] = std::move(op);
  }
  doc["paths"] = std::move(paths);
  json tag_list = json::array();
  for (const auto& t : tags) tag_list.push_back({{"name", t}});
  doc["tags"] = std::move(tag_list);
  json problem_schema = {{"type", "object"},
                         {"description", "RFC 7807 problem document (application/problem+json)"},
                         {"required", json::array({"type", "title", "status"})}};
  problem_schema["properties"] = {
      {"type", {{"type", "string"}, {"example", "urn:strata:problem:not-found"}}},
      {"title", {{"type", "string"}}},
      {"status", {{"type", "integer"}}},
      {"detail", {{"type", "string"}}},
      {"instance", {{"type", "string"}}}};
  problem_schema["properties"]["errors"] = {
      {"type", "array"},
      {"description", "validation errors (422): where and why"},
      {"items",
       {{"type", "object"},
        {"properties",
         {{"path", {{"type", "string"}, {"description", "JSON pointer into the body"}}},
          {"reason", {{"type", "string"}}}}}}}};
  json responses = json::object();
  responses["BadRequest"] = problem_response("The request cannot be read");
  responses["Unauthorized"] = problem_response("No API token, or an unknown one");
  responses["Forbidden"] = problem_response("The caller's role may not call this route");
  responses["NotFound"] = problem_response("The thing named in the path does not exist");
  responses["PayloadTooLarge"] = problem_response("The body is over the route's limit");
  responses["Unprocessable"] = problem_response("The body is readable but invalid (see errors)");
  responses["Problem"] = problem_response("Any other error");
  doc["components"]["securitySchemes"] = std::move(schemes);
  doc["components"]["schemas"]["Problem"] = std::move(problem_schema);
  doc["components"]["responses"] = std::move(responses);
  return doc;
}

}  // namespace strata::api

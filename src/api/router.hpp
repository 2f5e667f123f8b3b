#pragma once
// Router: the route table of the REST surface. Every route names who may call it (a set of roles,
// "public", or "device" when the handler checks a device token itself), so the table of routes ×
// roles can be listed and tested whole, and the OpenAPI document is generated from the same table
// (it cannot drift from what the server does).
//
// Path patterns are literal segments and `{name}` parameters, each a whole segment:
//   /api/v1/devices/{id}/token
// A parameter matches one non-empty segment and is percent-decoded (so an id may hold '/' as %2F,
// and dtmi%3Astrata%3Ax%3B1 reads as dtmi:strata:x;1). A trailing '/' is a distinct path.
// When several patterns match a path, the one with a literal segment where the others have a
// parameter wins, segment by segment from the left: GET /api/v1/devices/export is the export route,
// not GET /api/v1/devices/{id}.
//
// Resolving a request, in order:
//   1. path not percent-decodable                         → 400
//   2. no pattern matches the path                        → 404
//   3. patterns match, none for the method                → 405 with Allow
//   4. role route: no token (Authorization: Bearer|Token, or the route's token query parameter)
//      → 401 with WWW-Authenticate: Bearer; unknown token → 401 (error="invalid_token")
//   5. role route: the caller's role not in the route's set → 403
//   6. the route's handler (or its WebSocket endpoint, after the upgrade).
#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/authenticator.hpp"
#include "api/errc.hpp"
#include "api/exchange.hpp"
#include "api/websocket.hpp"
#include "core/result.hpp"
#include "govern/role.hpp"

namespace strata::api {

// Who may call a route.
class Access {
 public:
  enum class Kind : std::uint8_t {
    roles,    // an API token whose user has one of the roles
    public_,  // anyone (/healthz, /readyz, /metrics, the OpenAPI document)
    device,   // the handler authenticates a device token itself (request.bearer_token(), a path
              // parameter); the router checks nothing
  };
  static Access roles(govern::RoleSet roles) { return Access(Kind::roles, roles); }
  static Access public_route() { return Access(Kind::public_, {}); }
  static Access device() { return Access(Kind::device, {}); }

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] govern::RoleSet role_set() const { return roles_; }
  // Whether a caller with this role passes the router's check (always true on public and device
  // routes, which the router does not check).
  [[nodiscard]] bool admits(govern::Role role) const {
    return kind_ != Kind::roles || roles_.contains(role);
  }

 private:
  Access(Kind kind, govern::RoleSet roles) : kind_(kind), roles_(roles) {}
  Kind kind_;
  govern::RoleSet roles_;
};

// A handler that answers through its Responder, now or later, from any thread.
using Handler = std::function<void(Request& request, Responder respond)>;
// A handler that answers before returning.
using SyncHandler = std::function<Response(Request& request)>;

// One route. Designated initialisers read well:
//   router.add({.method = Method::get, .pattern = "/api/v1/devices/{id}",
//               .summary = "One device", .tag = "devices",
//               .access = Access::roles({Role::admin, Role::engineer, Role::viewer}),
//               .response_schema = device_schema, .handler = get_device});
struct Route {
  Method method = Method::get;
  std::string pattern{};
  std::string summary{};  // one line, for the OpenAPI document
  std::string tag{};      // the OpenAPI tag grouping routes ("devices", "models", "ingest")
  Access access = Access::roles({});
  // JSON Schema snippets (OpenAPI 3.0 flavour); null: no body / not documented.
  nlohmann::json request_schema = nullptr;
  nlohmann::json response_schema = nullptr;
  std::string request_content_type = "application/json";  // for the OpenAPI document
  std::string response_content_type = "application/json";
  int success_status = 200;  // documented success status (201 for creation, 204 for writes)
  // The body limit of this route; 0: the server's HttpServerOptions::max_body_bytes.
  std::size_t max_body_bytes = 0;
  // A query parameter that may carry the API token when there is no Authorization header
  // ("token" for WebSocket routes, which browsers cannot give headers; "p" for InfluxDB 1.x).
  std::string token_query_param{};
  // Documented query parameters: name → description.
  std::vector<std::pair<std::string, std::string>> query_params{};
  // Exactly one of handler, sync_handler or websocket is set.
  Handler handler{};
  SyncHandler sync_handler{};
  std::shared_ptr<WebSocketEndpoint> websocket{};
  WebSocketLimits websocket_limits{};
};

// What the router decided about a request: a route to run, or the refusal to send.
struct Resolution {
  const Route* route = nullptr;    // set when the request may proceed (params and caller filled)
  std::optional<Problem> refusal;  // set otherwise
};

// Title and version of the OpenAPI document.
struct ApiInfo {
  std::string title = "Strata API";
  std::string version = "1";
  std::string description{};
};

// The route table. Routes are added at start-up, before the server starts; resolving is then
// read-only and safe from any number of threads.
class Router {
 public:
  // `authenticator` may be null when every route is public or device (tests); a role route is then
  // refused with 401. It must outlive the router.
  explicit Router(const Authenticator* authenticator = nullptr);

  // Adds a route. Refused (errc::bad_route) when the pattern is malformed (not starting
  // with '/', an empty or unclosed {param}, a repeated name), when (method, pattern shape) is
  // already registered, when a role route admits no role, or when not exactly one of handler,
  // sync_handler, websocket is set. The message names the route.
  [[nodiscard]] Status add(Route route);

  // The table, in registration order.
  [[nodiscard]] const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

  // Steps 1–5 above. Fills request.params and request.caller on success.
  [[nodiscard]] Resolution resolve(Request& request) const;
  // Only steps 1–3: which route a (method, path) would reach, without authenticating. The server
  // uses it to pick the body limit before reading the body.
  [[nodiscard]] Resolution match(Method method, std::string_view path) const;

  // Runs a resolved route's handler (or sync_handler) with `respond`; an exception escaping it is
  // answered with a problem document (nlohmann::json errors as 400, others as 500).
  void invoke(const Route& route, Request& request, Responder respond) const;
  // Resolves and runs the handler; a refusal or an exception escaping the handler is answered with
  // a problem document (nlohmann::json errors as 400, others as 500). For WebSocket routes
  // reached without an upgrade, 426.
  void dispatch(Request& request, Responder respond) const;

  // The OpenAPI 3.0.3 document of the table: one operation a route with its path parameters,
  // query parameters, request and response schemas, the problem+json error responses it can
  // give, `security` (bearerAuth for role routes, deviceToken for device routes, none for public
  // ones) and `x-strata-roles` (the admitted role names).
  [[nodiscard]] nlohmann::json openapi(const ApiInfo& info = {}) const;

 private:
  const Route* find(Method method, std::string_view path, Request* request,
                    std::optional<Problem>& refusal) const;

  const Authenticator* authenticator_;
  std::vector<std::unique_ptr<Route>> routes_;
  // The pattern of routes_[i] as segments; a parameter segment is its name in braces.
  std::vector<std::vector<std::string>> segments_;
};

// The segments of a path, percent-decoded ("/a/b%2Fc" → {"a", "b/c"}); nullopt when a '%' is not
// followed by two hex digits, or the path does not start with '/'.
std::optional<std::vector<std::string>> split_path(std::string_view path);
// Percent-decodes a URL component; `plus_is_space` for query strings. nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace strata::api

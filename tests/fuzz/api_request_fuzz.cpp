// Fuzz target for the API's request decoding (src/api/router.hpp, exchange.hpp): path splitting
// and percent-decoding, query parameters, the Authorization header, route resolution and the
// JSON body of a handler. Input layout: byte 0 picks the method; then the target up to the first
// '\n', the Authorization value up to the next '\n', and the body. On every input it checks:
//  - exactly one answer, with a status in 100..599; a refusal is a problem document (JSON with
//    type, title and status equal to the HTTP status);
//  - a resolved route's parameters decode back into segments of the path;
//  - percent_decode never grows the text and split_path agrees with percent_decode per segment.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/router.hpp"

namespace {

using namespace strata::api;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "api_request_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

class OneToken final : public Authenticator {
 public:
  std::optional<Caller> authenticate(std::string_view token) const override {
    if (token == "stk_admin") return Caller{"alice", strata::govern::Role::admin};
    if (token == "stk_view") return Caller{"victor", strata::govern::Role::viewer};
    return std::nullopt;
  }
};

Router& router() {
  static OneToken auth;
  static Router r = [] {
    Router x(&auth);
    auto echo = [](Request& req) {
      auto body = req.json_body();
      if (!body.ok()) return Response::problem(bad_request(body.error().message), req.path);
      nlohmann::json out = {{"id", req.param("id")},
                            {"limit", req.query_param("limit").value_or("")}};
      out["n"] = body->is_object() ? body->value("n", 0) : 0;
      return Response::json(200, out);
    };
    using strata::govern::Role;
    (void)x.add({.method = Method::post,
                 .pattern = "/api/v1/devices/{id}",
                 .access = Access::roles({Role::admin}),
                 .sync_handler = echo});
    (void)x.add({.method = Method::get,
                 .pattern = "/api/v1/devices/{id}",
                 .access = Access::roles({Role::admin, Role::viewer}),
                 .sync_handler = echo});
    (void)x.add({.method = Method::get,
                 .pattern = "/api/v1/devices/export",
                 .access = Access::roles({Role::admin}),
                 .sync_handler = echo});
    (void)x.add({.method = Method::post,
                 .pattern = "/api/v1/{token}/telemetry",
                 .access = Access::device(),
                 .sync_handler = echo});
    (void)x.add({.method = Method::get,
                 .pattern = "/healthz",
                 .access = Access::public_route(),
                 .token_query_param = "token",
                 .sync_handler = echo});
    return x;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  Request req;
  req.method = static_cast<Method>(data[0] % kMethodCount);
  std::size_t nl = in.find('\n');
  req.target = std::string(in.substr(0, nl));
  std::string_view rest = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  std::size_t nl2 = rest.find('\n');
  std::string auth(rest.substr(0, nl2));
  if (!auth.empty()) req.headers.emplace_back("Authorization", auth);
  if (nl2 != std::string_view::npos) req.body = std::string(rest.substr(nl2 + 1));
  std::size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);

  if (auto decoded = percent_decode(req.path, false))
    check(decoded->size() <= req.path.size(), "decode grows");
  auto segments = split_path(req.path);
  (void)req.query_params("topic");
  (void)req.bearer_token();

  int answers = 0;
  Response got;
  router().dispatch(req, Responder(
                             [&](Response r) {
                               ++answers;
                               got = std::move(r);
                             },
                             req.path));
  check(answers == 1, "exactly one answer");
  check(got.status >= 100 && got.status <= 599, "status in range");
  if (got.content_type == kProblemContentType) {
    auto doc = nlohmann::json::parse(got.body, nullptr, false);
    check(doc.is_object(), "problem is a JSON object");
    check(doc.contains("type") && doc.contains("title"), "problem has type and title");
    check(doc.value("status", 0) == got.status, "problem status equals HTTP status");
  }
  if (got.status == 200) {
    check(segments.has_value(), "a routed path splits");
    for (const auto& [name, value] : req.params) {
      bool found = false;
      for (const auto& s : *segments) found |= s == value;
      check(found, "a parameter is a decoded segment");
    }
  }
  return 0;
}

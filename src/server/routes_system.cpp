// Health, readiness, metrics and the OpenAPI document: public routes (docs/api.md).
#include <nlohmann/json.hpp>

#include "server/route_helpers.hpp"
#include "server/services.hpp"

namespace strata::server {

Status add_system_routes(api::Router& router, Services& s) {
  using api::Method;
  using api::Request;
  using api::Response;
  std::vector<api::Route> routes;
  routes.push_back({.method = Method::get,
                    .pattern = "/healthz",
                    .summary = "Liveness: the process answers",
                    .tag = "system",
                    .access = api::Access::public_route(),
                    .sync_handler = [](Request&) {
                      return Response::json(200, nlohmann::json{{"status", "ok"}});
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/readyz",
                    .summary = "Readiness: every component started and accepting",
                    .tag = "system",
                    .access = api::Access::public_route(),
                    .sync_handler = [&s](Request&) {
                      if (!s.ready.load())
                        return Response::problem(api::service_unavailable(
                            std::chrono::milliseconds(1000), "starting or stopping"));
                      return Response::json(200, nlohmann::json{{"status", "ready"}});
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/metrics",
                    .summary = "Prometheus metrics (text format 0.0.4)",
                    .tag = "system",
                    .access = api::Access::public_route(),
                    .response_content_type = std::string(obs::kPrometheusContentType),
                    .sync_handler = [&s](Request&) {
                      return Response::text(200, s.metrics.render(),
                                            std::string(obs::kPrometheusContentType));
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/openapi.json",
                    .summary = "This API as an OpenAPI 3 document",
                    .tag = "system",
                    .access = api::Access::public_route(),
                    .sync_handler = [&router](Request&) {
                      api::ApiInfo info;
                      info.description =
                          "Strata's REST API: devices, models, ingestion, data, users. Errors are "
                          "RFC 7807 problem documents.";
                      return Response::json(200, router.openapi(info));
                    }});
  for (auto& route : routes)
    if (auto st = router.add(std::move(route)); !st) return st;
  return {};
}

}  // namespace strata::server

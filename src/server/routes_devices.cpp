// Device models and devices: /api/v1/models, /api/v1/devices (docs/api.md).
#include <nlohmann/json.hpp>

#include "model/device.hpp"
#include "model/device_model.hpp"
#include "server/route_helpers.hpp"
#include "server/services.hpp"

namespace strata::server {

namespace {

using api::Method;
using api::Request;
using api::Response;
using nlohmann::json;

const json kDeviceSchema = {
    {"type", "object"},
    {"required", {"id", "model"}},
    {"properties",
     {{"id", {{"type", "string"}, {"pattern", "^[A-Za-z0-9._:-]{1,128}$"}}},
      {"model", {{"type", "string"}, {"description", "DTMI of the device model"}}},
      {"site", {{"type", "string"}}},
      {"line", {{"type", "string"}}},
      {"tags", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
      {"state",
       {{"type", "string"}, {"enum", {"provisioned", "active", "suspended", "decommissioned"}}}},
      {"modbus",
       {{"type", "object"},
        {"properties",
         {{"host", {{"type", "string"}}},
          {"port", {{"type", "integer"}}},
          {"unit_id", {{"type", "integer"}}},
          {"interval_ms", {{"type", "integer"}}}}}}}}}};
const json kModelSchema = {{"type", "object"},
                           {"description", "A DTDL v3 Interface (docs/models.md)"}};

// Text that is not JSON is a 400; JSON that is not a valid model or device a 422.
api::Problem model_problem(const Error& e) {
  if (e.is(model::errc::invalid_json)) return api::bad_request(e.message);
  return validation_problem(e.message);
}

json with_token(const registry::DeviceWithToken& d) {
  json j = model::to_json(d.device);
  j["token"] = d.token;
  return j;
}

}  // namespace

Status add_device_routes(api::Router& router, Services& s) {
  std::vector<api::Route> routes;

  // --- models
  routes.push_back({.method = Method::post,
                    .pattern = "/api/v1/models",
                    .summary = "Register a device model (DTDL v3)",
                    .tag = "models",
                    .access = api::Access::roles(kWriters),
                    .request_schema = kModelSchema,
                    .response_schema = kModelSchema,
                    .success_status = 201,
                    .sync_handler = [&s](Request& r) {
                      auto m = model::parse_device_model(std::string_view(r.body));
                      if (!m) return Response::problem(model_problem(m.error()));
                      auto stored = s.registry.add_model(*m);
                      if (!stored) return Response::problem(registry_problem(stored.error()));
                      return Response::json(201, model::to_json((*stored)->model));
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/models",
                    .summary = "List device models",
                    .tag = "models",
                    .access = api::Access::roles(kEveryone),
                    .response_schema = {{"type", "array"}, {"items", kModelSchema}},
                    .sync_handler = [&s](Request&) {
                      json out = json::array();
                      for (const auto& m : s.registry.models())
                        out.push_back(model::to_json(m->model));
                      return Response::json(200, out);
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/models/{id}",
                    .summary = "One device model",
                    .tag = "models",
                    .access = api::Access::roles(kEveryone),
                    .response_schema = kModelSchema,
                    .sync_handler = [&s](Request& r) {
                      auto m = s.registry.model(std::string(r.param("id")));
                      if (!m)
                        return Response::problem(
                            api::not_found("device model '" + std::string(r.param("id")) + "'"));
                      return Response::json(200, model::to_json(m->model));
                    }});
  routes.push_back({.method = Method::put,
                    .pattern = "/api/v1/models/{id}",
                    .summary = "Replace a device model",
                    .tag = "models",
                    .access = api::Access::roles(kWriters),
                    .request_schema = kModelSchema,
                    .response_schema = kModelSchema,
                    .sync_handler = [&s](Request& r) {
                      auto m = model::parse_device_model(std::string_view(r.body));
                      if (!m) return Response::problem(model_problem(m.error()));
                      if (m->id != r.param("id"))
                        return Response::problem(validation_problem(
                            "$.@id: the document's id '" + m->id + "' is not the path's '" +
                            std::string(r.param("id")) + "'"));
                      auto stored = s.registry.replace_model(*m);
                      if (!stored) return Response::problem(registry_problem(stored.error()));
                      return Response::json(200, model::to_json((*stored)->model));
                    }});
  routes.push_back({.method = Method::delete_,
                    .pattern = "/api/v1/models/{id}",
                    .summary = "Remove a device model no device follows",
                    .tag = "models",
                    .access = api::Access::roles(kWriters),
                    .success_status = 204,
                    .sync_handler = [&s](Request& r) {
                      auto st = s.registry.remove_model(std::string(r.param("id")));
                      if (!st) return Response::problem(registry_problem(st.error()));
                      return Response::empty(204);
                    }});

  // --- devices
  routes.push_back({.method = Method::post,
                    .pattern = "/api/v1/devices",
                    .summary = "Register a device; the answer holds its access token, once",
                    .tag = "devices",
                    .access = api::Access::roles(kWriters),
                    .request_schema = kDeviceSchema,
                    .response_schema = kDeviceSchema,
                    .success_status = 201,
                    .sync_handler = [&s](Request& r) {
                      auto d = model::parse_device(r.body);
                      if (!d) return Response::problem(model_problem(d.error()));
                      auto created = s.registry.add_device(*d);
                      if (!created) return Response::problem(registry_problem(created.error()));
                      Response resp = Response::json(201, with_token(*created));
                      resp.headers.emplace_back("Location", "/api/v1/devices/" + d->id);
                      return resp;
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/devices",
                    .summary = "List devices (filters: site, line, model, state)",
                    .tag = "devices",
                    .access = api::Access::roles(kEveryone),
                    .response_schema = {{"type", "array"}, {"items", kDeviceSchema}},
                    .query_params = {{"site", "only devices of this site"},
                                     {"line", "only devices of this line"},
                                     {"model", "only devices following this model (DTMI)"},
                                     {"state", "only devices in this state"}},
                    .sync_handler = [&s](Request& r) {
                      const auto site = r.query_param("site"), line = r.query_param("line"),
                                 model_id = r.query_param("model"), state = r.query_param("state");
                      json out = json::array();
                      for (const auto& d : s.registry.devices()) {
                        if ((site && d.site != *site) || (line && d.line != *line) ||
                            (model_id && d.model_id != *model_id) ||
                            (state && model::device_state_name(d.state) != *state))
                          continue;
                        out.push_back(model::to_json(d));
                      }
                      return Response::json(200, out);
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/devices/export",
                    .summary = "Every device as one JSON array (the import format, no tokens)",
                    .tag = "devices",
                    .access = api::Access::roles(kWriters),
                    .response_schema = {{"type", "array"}, {"items", kDeviceSchema}},
                    .sync_handler = [&s](Request&) {
                      json out = json::array();
                      for (const auto& d : s.registry.devices()) out.push_back(model::to_json(d));
                      return Response::json(200, out);
                    }});
  routes.push_back({.method = Method::post,
                    .pattern = "/api/v1/devices/import",
                    .summary = "Register many devices at once (all or none); answers their tokens",
                    .tag = "devices",
                    .access = api::Access::roles(kWriters),
                    .request_schema = {{"type", "array"}, {"items", kDeviceSchema}},
                    .response_schema = {{"type", "array"}, {"items", kDeviceSchema}},
                    .success_status = 201,
                    .sync_handler = [&s](Request& r) {
                      auto doc = r.json_body();
                      if (!doc) return Response::problem(api::bad_request(doc.error().message));
                      auto ds = model::devices_from_json(*doc);
                      if (!ds) return Response::problem(validation_problem(ds.error().message));
                      auto created = s.registry.add_devices(*ds);
                      if (!created) return Response::problem(registry_problem(created.error()));
                      json out = json::array();
                      for (const auto& d : *created) out.push_back(with_token(d));
                      return Response::json(201, out);
                    }});
  routes.push_back({.method = Method::get,
                    .pattern = "/api/v1/devices/{id}",
                    .summary = "One device",
                    .tag = "devices",
                    .access = api::Access::roles(kEveryone),
                    .response_schema = kDeviceSchema,
                    .sync_handler = [&s](Request& r) {
                      auto d = s.registry.device_by_id(std::string(r.param("id")));
                      if (!d)
                        return Response::problem(
                            api::not_found("device '" + std::string(r.param("id")) + "'"));
                      return Response::json(200, model::to_json(*d));
                    }});
  routes.push_back({.method = Method::patch,
                    .pattern = "/api/v1/devices/{id}",
                    .summary = "Change a device (the keys given)",
                    .tag = "devices",
                    .access = api::Access::roles(kWriters),
                    .request_schema = kDeviceSchema,
                    .response_schema = kDeviceSchema,
                    .sync_handler = [&s](Request& r) {
                      auto doc = r.json_body();
                      if (!doc) return Response::problem(api::bad_request(doc.error().message));
                      auto d = s.registry.device_by_id(std::string(r.param("id")));
                      if (!d)
                        return Response::problem(
                            api::not_found("device '" + std::string(r.param("id")) + "'"));
                      auto patched = model::patch_device(*d, *doc);
                      if (!patched)
                        return Response::problem(validation_problem(patched.error().message));
                      auto updated = s.registry.update_device(*patched);
                      if (!updated) return Response::problem(registry_problem(updated.error()));
                      return Response::json(200, model::to_json(*updated));
                    }});
  routes.push_back({.method = Method::delete_,
                    .pattern = "/api/v1/devices/{id}",
                    .summary = "Remove a device (its stored telemetry stays)",
                    .tag = "devices",
                    .access = api::Access::roles(kWriters),
                    .success_status = 204,
                    .sync_handler = [&s](Request& r) {
                      auto st = s.registry.remove_device(std::string(r.param("id")));
                      if (!st) return Response::problem(registry_problem(st.error()));
                      return Response::empty(204);
                    }});
  routes.push_back(
      {.method = Method::post,
       .pattern = "/api/v1/devices/{id}/token",
       .summary = "Issue a new access token (the old one stops working)",
       .tag = "devices",
       .access = api::Access::roles(kWriters),
       .response_schema = {{"type", "object"}, {"properties", {{"token", {{"type", "string"}}}}}},
       .sync_handler = [&s](Request& r) {
         auto t = s.registry.rotate_token(std::string(r.param("id")));
         if (!t) return Response::problem(registry_problem(t.error()));
         return Response::json(200, json{{"id", r.param("id")}, {"token", *t}});
       }});
  routes.push_back(
      {.method = Method::put,
       .pattern = "/api/v1/devices/{id}/secret",
       .summary = "Set the password of MQTT username/password logins",
       .tag = "devices",
       .access = api::Access::roles(kWriters),
       .request_schema = {{"type", "object"}, {"properties", {{"secret", {{"type", "string"}}}}}},
       .success_status = 204,
       .sync_handler = [&s](Request& r) {
         auto doc = r.json_body();
         if (!doc) return Response::problem(api::bad_request(doc.error().message));
         if (!doc->is_object() || !(*doc)["secret"].is_string())
           return Response::problem(
               validation_problem("$.secret: expected a string of at least 12 characters"));
         auto st =
             s.registry.set_secret(std::string(r.param("id")), (*doc)["secret"].get<std::string>());
         if (!st) return Response::problem(registry_problem(st.error()));
         return Response::empty(204);
       }});
  routes.push_back(
      {.method = Method::post,
       .pattern = "/api/v1/devices/{id}/commands/{name}",
       .summary = "Send a command to a device over MQTT (QoS 1; queued while it is offline with a "
                  "persistent session); the answer arrives on the live stream",
       .tag = "devices",
       .access = api::Access::roles({Role::admin, Role::engineer, Role::operator_}),
       .request_schema = {{"description", "the command's parameters (any JSON value)"}},
       .response_schema = {{"type", "object"},
                           {"properties", {{"command_id", {{"type", "string"}}}}}},
       .success_status = 202,
       .sync_handler = [&s](Request& r) {
         if (!s.mqtt)
           return Response::problem(api::conflict("the MQTT endpoint is off (mqtt.enabled)"));
         const std::string id(r.param("id"));
         if (!s.registry.device_by_id(id))
           return Response::problem(api::not_found("device '" + id + "'"));
         std::string params = r.body.empty() ? std::string("null") : r.body;
         if (!json::accept(params))
           return Response::problem(api::bad_request("the body must be JSON (the parameters)"));
         auto sent = s.mqtt->send_command(id, r.param("name"), params);
         if (!sent) return Response::problem(api::conflict(sent.error().message));
         return Response::json(202, json{{"command_id", *sent}, {"device", id}});
       }});
  for (auto& route : routes)
    if (auto st = router.add(std::move(route)); !st) return st;
  return {};
}

}  // namespace strata::server

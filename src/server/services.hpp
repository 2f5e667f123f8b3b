#pragma once
// Services: what the REST routes of `strata serve` work with, handed to each group of routes
// (routes_*.cpp) so they register on one Router without knowing how the server started them.
#include <atomic>

#include "api/live_hub.hpp"
#include "api/router.hpp"
#include "core/clock.hpp"
#include "detect/anomaly_log.hpp"
#include "detect/stage.hpp"
#include "govern/user_directory.hpp"
#include "ingest/mqtt/mqtt_endpoint.hpp"
#include "obs/metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "registry/device_registry.hpp"
#include "store/store.hpp"

namespace strata::server {

struct Services {
  store::Store& store;
  govern::UserDirectory& users;
  registry::DeviceRegistry& registry;
  pipeline::Pipeline& pipeline;
  pipeline::QuarantineLog& quarantine;
  pipeline::LineageLog& lineage;
  obs::MetricsRegistry& metrics;
  api::LiveHub& live;
  const Clock& clock;
  std::atomic<bool>& ready;
  ingest::mqtt::MqttEndpoint* mqtt = nullptr;   // null when the MQTT endpoint is off
  detect::AnomalyLog* anomalies = nullptr;      // set before the routes are added
  detect::DetectionStage* detection = nullptr;  // null when [analytics] enabled = false
};

// Each registers its group of routes; an error names the route that could not be added.
Status add_system_routes(api::Router& router, Services& s);   // health, metrics, OpenAPI
Status add_user_routes(api::Router& router, Services& s);     // users and API tokens
Status add_device_routes(api::Router& router, Services& s);   // device models and devices
Status add_ingest_routes(api::Router& router, Services& s);   // JSON telemetry, line protocol
Status add_data_routes(api::Router& router, Services& s);     // telemetry, quarantine, lineage
Status add_anomaly_routes(api::Router& router, Services& s);  // anomaly events, detectors

}  // namespace strata::server

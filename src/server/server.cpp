#include "server/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/http_server.hpp"
#include "api/live_hub.hpp"
#include "api/router.hpp"
#include "core/time_format.hpp"
#include "detect/anomaly_log.hpp"
#include "detect/plan.hpp"
#include "detect/stage.hpp"
#include "govern/secrets.hpp"
#include "govern/user_directory.hpp"
#include "ingest/coap/coap_server.hpp"
#include "ingest/modbus/modbus_poller.hpp"
#include "ingest/mqtt/mqtt_endpoint.hpp"
#include "ingest/mqtt_connector/mqtt_connector.hpp"
#include "meta/database.hpp"
#include "obs/metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "registry/device_registry.hpp"
#include "server/services.hpp"
#include "server/sparkplug_bridge.hpp"
#include "store/store.hpp"

namespace strata::server {

namespace {

enum class errc { start = 1 };

// The user directory as the router's authenticator.
class UserAuthenticator final : public api::Authenticator {
 public:
  explicit UserAuthenticator(const govern::UserDirectory& users) : users_(users) {}
  std::optional<api::Caller> authenticate(std::string_view token) const override {
    auto owner = users_.authenticate(token);
    if (!owner) return std::nullopt;
    return api::Caller{owner->user, owner->role};
  }

 private:
  const govern::UserDirectory& users_;
};

// Stored readings of devices someone watches go to the live hub, topic = device id.
class LiveForwarder final : public pipeline::LiveObserver {
 public:
  explicit LiveForwarder(api::LiveHub& hub) : hub_(hub) {}
  bool wants(std::string_view device) const override { return hub_.subscribers(device) > 0; }
  void stored(std::string_view device, std::span<const pipeline::LiveReading> readings) override {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& r : readings)
      points.push_back({{"metric", r.metric}, {"t", format_iso8601(r.ts)}, {"v", r.value}});
    hub_.publish(device, nlohmann::json{{"device", device}, {"readings", points}});
  }

 private:
  api::LiveHub& hub_;
};

// Anomaly events to the live hub: topic "anomalies" (every device) and "anomalies:<device>".
class AnomalyForwarder final : public detect::AnomalyListener {
 public:
  explicit AnomalyForwarder(api::LiveHub& hub) : hub_(hub) {}
  void on_anomaly(const detect::AnomalyEvent& e) override {
    const std::string device_topic = "anomalies:" + e.device;
    const bool all = hub_.subscribers("anomalies") > 0;
    const bool one = hub_.subscribers(device_topic) > 0;
    if (!all && !one) return;
    const std::string text = detect::to_json(e).dump();
    if (all) hub_.publish_text("anomalies", text);
    if (one) hub_.publish_text(device_topic, text);
  }

 private:
  api::LiveHub& hub_;
};

Error start_error(const std::string& what, const Error& e) {
  return Error::of(errc::start, what + ": " + e.message);
}

}  // namespace

// Every component, in start order; destroyed in reverse.
struct Server::Parts {
  ServerConfig config;
  SystemClock clock;
  std::atomic<bool> ready{false};
  obs::MetricsRegistry metrics;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<meta::Database> entities;
  std::unique_ptr<govern::UserDirectory> users;
  std::unique_ptr<registry::DeviceRegistry> registry;
  std::optional<govern::Pseudonymiser> pseudonymiser;
  std::unique_ptr<pipeline::QuarantineLog> quarantine;
  std::unique_ptr<pipeline::LineageLog> lineage;
  detect::DetectorSpecValidator detector_validator;
  std::unique_ptr<detect::AnomalyLog> anomalies;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  api::LiveHub live;
  std::unique_ptr<LiveForwarder> forwarder;
  std::unique_ptr<AnomalyForwarder> anomaly_forwarder;
  // After everything it calls into (store, registry, anomalies, live hub): destroyed first.
  std::unique_ptr<detect::DetectionStage> detection;
  std::unique_ptr<UserAuthenticator> authenticator;
  std::unique_ptr<api::Router> router;
  std::unique_ptr<Services> services;
  // The network side: HTTP and MQTT share one io_context run by `io_threads`.
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> io_work;
  std::vector<std::thread> io_threads;
  std::unique_ptr<api::HttpServer> http;
  std::unique_ptr<ingest::mqtt::MqttEndpoint> mqtt;
  std::unique_ptr<SparkplugBridge> sparkplug;
  std::vector<std::shared_ptr<ingest::mqtt_connector::MqttConnector>> connectors;  // a session each
  std::unique_ptr<ingest::CoapServer> coap;
  std::mutex modbus_mu;
  std::unique_ptr<ingest::ModbusPoller> modbus;
  std::atomic<bool> modbus_stale{false};  // a device's Modbus endpoint or model changed
  BoundPorts ports;

  // Periodic upkeep: retention, incremental compaction, and rebuilding the Modbus poller after
  // device changes.
  std::thread upkeep;
  std::mutex upkeep_mu;
  std::condition_variable upkeep_cv;
  bool stopping = false;
  // What the compaction steps did, for /metrics.
  struct CompactionCounters {
    std::atomic<std::uint64_t> steps{0}, runs{0}, chunks_merged{0}, chunks_written{0}, points{0},
        runs_dropped{0}, errors{0};
    std::atomic<bool> caught_up{false};
  } compaction;

  Status start();
  Status start_detection();
  Status start_listeners();
  void rebuild_modbus();
  void register_metrics();
  void run_upkeep();
  void stop();
};

Status Server::Parts::start() {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec)
    return Error::of(errc::start, "cannot create the data directory " + config.data_dir.string() +
                                      ": " + ec.message());
  store::StoreOptions so;
  so.fsync = config.fsync == "batch" ? store::FsyncPolicy::every_batch
             : config.fsync == "off" ? store::FsyncPolicy::off
                                     : store::FsyncPolicy::interval;
  so.fsync_interval_us = config.fsync_interval;
  so.out_of_order_window_us = config.out_of_order_window;
  so.chunk_max_points = config.chunk_points;
  so.sweep_in_append = false;  // the pipeline's shard workers sweep after answering (below)
  so.retention = config.retention;
  so.clock = &clock;
  auto st = store::Store::open(config.data_dir / "store", so);
  if (!st) return start_error("telemetry store", st.error());
  store = std::move(*st);
  for (const auto& lost : store->lost())
    spdlog::warn("store: lost range of {}: {}", lost.series_name, lost.reason);

  auto db = meta::Database::open(config.data_dir / "entities.db");
  if (!db) return start_error("entity store", db.error());
  entities = std::move(*db);
  auto u = govern::UserDirectory::create(*entities, clock);
  if (!u) return start_error("users", u.error());
  users = std::move(*u);
  auto boot = users->bootstrap_admin(config.data_dir / "admin-token");
  if (!boot) return start_error("users", boot.error());
  if (*boot)
    spdlog::info("created user 'admin'; its API token is in {}",
                 (config.data_dir / "admin-token").string());
  auto reg = registry::DeviceRegistry::create(*entities, clock);
  if (!reg) return start_error("device registry", reg.error());
  registry = std::move(*reg);
  registry->add_validator(&detector_validator);
  auto pseud = govern::Pseudonymiser::from_key_file(config.data_dir / "pseudonym.key");
  if (!pseud) return start_error("pseudonymisation", pseud.error());
  pseudonymiser = *pseud;

  auto q = pipeline::QuarantineLog::open(config.data_dir / "quarantine.db",
                                         config.quarantine_max_entries);
  if (!q) return start_error("quarantine", q.error());
  quarantine = std::move(*q);
  auto l = pipeline::LineageLog::open(config.data_dir / "lineage", config.lineage_keep);
  if (!l) return start_error("lineage", l.error());
  lineage = std::move(*l);
  pipeline::PipelineOptions po;
  po.shards = config.shards;
  po.queue_capacity = config.queue_capacity;
  po.max_future = config.max_future;
  po.correct_clock_skew = config.correct_clock_skew;
  po.skew_tolerance = config.skew_tolerance;
  po.device_rate_limit = config.device_rate_limit;
  po.accept_unknown_metrics = config.accept_unknown_metrics;
  po.text_dictionary_file = config.data_dir / "texts.dict";
  auto p = pipeline::Pipeline::create(
      {*store, *registry, *quarantine, lineage.get(), &*pseudonymiser, clock}, po);
  if (!p) return start_error("pipeline", p.error());
  pipeline = std::move(*p);
  forwarder = std::make_unique<LiveForwarder>(live);
  pipeline->set_live_observer(forwarder.get());
  if (auto st = start_detection(); !st) return st;

  authenticator = std::make_unique<UserAuthenticator>(*users);
  router = std::make_unique<api::Router>(authenticator.get());
  services = std::unique_ptr<Services>(new Services{
      *store, *users, *registry, *pipeline, *quarantine, *lineage, metrics, live, clock, ready});
  services->anomalies = anomalies.get();
  services->detection = detection.get();
  for (auto add : {add_system_routes, add_user_routes, add_device_routes, add_ingest_routes,
                   add_data_routes, add_anomaly_routes}) {
    if (auto s = add(*router, *services); !s) return start_error("routes", s.error());
  }
  if (auto s = live.add_route(*router, "/api/v1/stream", govern::RoleSet::all(),
                              "Live data: subscribe to device ids (readings), anomalies, "
                              "anomalies:<device>, commands:<device>");
      !s)
    return start_error("routes", s.error());
  if (auto st = start_listeners(); !st) return st;
  register_metrics();
  upkeep = std::thread([this] { run_upkeep(); });
  ready = true;
  return {};
}

// The anomaly events' store, and the detection stage behind the pipeline: restored from its
// checkpoint and caught up with the store before any transport hands over a point.
Status Server::Parts::start_detection() {
  auto a = detect::AnomalyLog::open(config.data_dir / "anomalies.db", clock);
  if (!a) return start_error("anomaly events", a.error());
  anomalies = std::move(*a);
  if (!config.analytics.enabled) return {};
  detect::DetectionOptions o;
  o.workers = config.analytics.workers;
  o.event_threshold = config.analytics.event_threshold;
  o.learning_points = config.analytics.learning_points;
  o.warm_up_window = config.analytics.warm_up_window;
  o.checkpoint_interval = config.analytics.checkpoint_interval;
  o.queue_points = config.analytics.queue_points;
  o.checkpoint_file = config.data_dir / "detectors.ckpt";
  auto d = detect::DetectionStage::create({*store, *registry, *anomalies, clock}, o);
  if (!d) return start_error("anomaly detection", d.error());
  detection = std::move(*d);
  anomaly_forwarder = std::make_unique<AnomalyForwarder>(live);
  detection->subscribe(anomaly_forwarder.get());
  registry->on_device_change([this](const std::string& id, const model::Device*) {
    if (detection) detection->device_changed(id);
  });
  if (auto st = detection->start(); !st) return start_error("anomaly detection", st.error());
  const auto& c = detection->counters();
  if (c.restored.load() > 0 || c.events.load() > 0)
    spdlog::info(
        "analytics: {} detectors restored from detectors.ckpt, {} points replayed, {} events",
        c.restored.load(), c.points_scored.load(), c.events.load());
  pipeline->set_stored_points_observer(detection.get());
  return {};
}

Status Server::Parts::start_listeners() {
  if (config.mqtt.enabled) {
    ingest::mqtt::MqttEndpointOptions mo;
    mo.bind_address = config.mqtt.address;
    mo.port = config.mqtt.port;
    mo.max_packet_size = config.mqtt_max_packet_bytes;
    mo.max_connections = config.mqtt_max_connections;
    auto m = ingest::mqtt::MqttEndpoint::create(io, mo, *pipeline, *registry, clock);
    if (!m) return start_error("MQTT", m.error());
    mqtt = std::move(*m);
    mqtt->set_refusal_handler([](std::string_view who, std::string_view why) {
      spdlog::info("mqtt: refused {}: {}", who, why);
    });
    mqtt->set_command_response_handler([this](const ingest::mqtt::CommandResponse& r) {
      nlohmann::json payload = nlohmann::json::parse(r.payload, nullptr, false);
      if (payload.is_discarded()) payload = r.payload;
      live.publish("commands:" + r.device_id, nlohmann::json{{"device", r.device_id},
                                                             {"command_id", r.command_id},
                                                             {"response", payload}});
    });
    ports.mqtt = mqtt->port();
    services->mqtt = mqtt.get();
    ingest::sparkplug::SparkplugHostOptions so;
    so.host_id = config.sparkplug_host_id;
    so.rebirth_interval = config.sparkplug_rebirth_interval;
    auto b = SparkplugBridge::create(*mqtt, *pipeline, clock, so);
    if (!b) return start_error("Sparkplug B host", b.error());
    sparkplug = std::move(*b);
    mqtt->set_sparkplug_handler(
        [bridge = sparkplug.get()](const ingest::DeviceIdentity& who, std::string_view topic,
                                   std::string_view payload, ingest::mqtt::SparkplugAck ack) {
          bridge->handle(who, topic, payload, std::move(ack));
        });
  }
  if (!config.connector.url.empty()) {
    const auto& cc = config.connector;
    ingest::mqtt_connector::MqttConnectorOptions co;
    co.url = cc.url;
    co.username = cc.username;
    co.password = cc.password;
    co.ca_file = cc.ca_file;
    co.cert_file = cc.cert_file;
    co.key_file = cc.key_file;
    co.client_id = cc.client_id;
    co.share_group = cc.share_group;
    co.session_expiry = std::chrono::seconds(cc.session_expiry / kMicrosPerSecond);
    co.keep_alive = std::chrono::seconds(cc.keep_alive / kMicrosPerSecond);
    co.receive_maximum = cc.receive_maximum;
    for (const auto& [pattern, device] : cc.routes) co.routes.push_back({pattern, device});
    if (cc.sparkplug) {
      ingest::sparkplug::SparkplugHostOptions so;
      so.host_id = config.sparkplug_host_id;
      so.rebirth_interval = config.sparkplug_rebirth_interval;
      so.device_ids = {cc.sparkplug_device_ids.begin(), cc.sparkplug_device_ids.end()};
      co.sparkplug = so;
    }
    co.on_error = [](const std::string& e) { spdlog::warn("mqtt connector: {}", e); };
    co.on_sparkplug_event = [](const ingest::sparkplug::HostEvent& e) {
      spdlog::info("sparkplug (broker): {}/{}: {}", e.group_id, e.edge_node_id, e.detail);
    };
    for (unsigned i = 1; i <= cc.sessions; ++i) {
      if (i > 1) {
        co.client_id = cc.client_id + "-" + std::to_string(i);
        co.sparkplug.reset();  // a primary host sees every message of its edge nodes: one session
      }
      auto c = ingest::mqtt_connector::MqttConnector::create(io, co, *pipeline, clock);
      if (!c) return start_error("MQTT connector", c.error());
      connectors.push_back(std::move(*c));
      connectors.back()->start();
    }
  }
  if (config.http.enabled) {
    api::HttpServerOptions ho;
    ho.address = config.http.address;
    ho.port = config.http.port;
    ho.threads = 0;  // the server's io threads run it
    ho.max_body_bytes = config.http_max_body_bytes;
    ho.metrics = &metrics;
    auto h = api::HttpServer::create(io, ho, *router);
    if (!h) return start_error("HTTP", h.error());
    http = std::move(*h);
    ports.http = http->port();
  }
  io_work.emplace(io.get_executor());
  for (unsigned i = 0; i < config.http_threads; ++i) io_threads.emplace_back([this] { io.run(); });
  if (config.coap.enabled) {
    ingest::CoapServerOptions co;
    co.bind_address = config.coap.address;
    co.port = config.coap.port;
    auto c = ingest::CoapServer::create(co, *pipeline, *registry, clock);
    if (!c) return start_error("CoAP", c.error());
    coap = std::move(*c);
    coap->start();
    ports.coap = coap->port();
  }
  if (config.modbus_enabled) {
    registry->on_device_change([this](const std::string&, const model::Device*) {
      modbus_stale = true;
      upkeep_cv.notify_all();
    });
    rebuild_modbus();
  }
  return {};
}

// The poller has a fixed device list: a change to any polled device (or its model) builds a new
// one from the registry.
void Server::Parts::rebuild_modbus() {
  std::vector<ingest::ModbusDeviceConfig> devices;
  for (const auto& d : registry->devices()) {
    if (!d.modbus || d.state == model::DeviceState::suspended ||
        d.state == model::DeviceState::decommissioned)
      continue;
    auto m = registry->model(d.model_id);
    if (!m) continue;
    ingest::ModbusDeviceConfig c;
    c.device_id = d.id;
    c.host = d.modbus->host;
    c.port = d.modbus->port;
    c.unit_id = d.modbus->unit_id;
    c.interval = std::chrono::milliseconds(d.modbus->interval_ms);
    c.registers = m->model.register_map();
    if (!c.registers.empty()) devices.push_back(std::move(c));
  }
  std::lock_guard lock(modbus_mu);
  if (modbus) modbus->stop();
  modbus.reset();
  if (devices.empty()) return;
  const std::size_t n = devices.size();
  auto p = ingest::ModbusPoller::create(std::move(devices), *pipeline, clock);
  if (!p) {
    spdlog::error("modbus: {}", p.error().message);
    return;
  }
  modbus = std::move(*p);
  modbus->start();
  spdlog::info("modbus: polling {} devices", n);
}

void Server::Parts::register_metrics() {
  const auto& c = pipeline->counters();
  for (std::size_t i = 0; i < pipeline::kTransportCount; ++i) {
    const obs::Labels labels = {
        {"transport", std::string(pipeline::transport_name(static_cast<pipeline::Transport>(i)))}};
    metrics.callback_counter(
        "strata_ingest_messages_total", "Messages handed to the pipeline.",
        [&c, i] { return static_cast<double>(c.messages[i].load()); }, labels);
    metrics.callback_counter(
        "strata_points_stored_total", "Readings made durable in the WAL.",
        [&c, i] { return static_cast<double>(c.readings_stored[i].load()); }, labels);
    metrics.callback_counter(
        "strata_quarantined_total", "Readings and payloads refused and kept in quarantine.",
        [&c, i] { return static_cast<double>(c.readings_quarantined[i].load()); }, labels);
  }
  metrics.callback_counter("strata_ingest_back_pressure_total",
                           "Submits refused because a shard queue was full (the sender waits).",
                           [&c] { return static_cast<double>(c.back_pressure.load()); });
  metrics.callback_counter("strata_store_errors_total", "Store appends that failed.",
                           [&c] { return static_cast<double>(c.store_errors.load()); });
  metrics.callback_counter("strata_ingest_groups_total",
                           "Group commits: store appends, each of many messages.",
                           [&c] { return static_cast<double>(c.groups.load()); });
  metrics.callback_gauge("strata_ingest_queued", "Messages waiting in the shard queues.",
                         [this] { return static_cast<double>(pipeline->queued()); });
  metrics.callback_gauge("strata_devices_skew_corrected",
                         "Devices whose clock runs ahead and whose timestamps are corrected.",
                         [&c] { return static_cast<double>(c.skew_corrected_devices.load()); });
  metrics.callback_counter("strata_quarantine_overflow_total",
                           "Quarantine entries whose raw payload was not kept (flood).",
                           [this] { return static_cast<double>(quarantine->overflowed()); });
  metrics.callback_gauge("strata_devices", "Registered devices.",
                         [this] { return static_cast<double>(registry->device_count()); });
  metrics.callback_gauge("strata_series", "Series in the store.",
                         [this] { return static_cast<double>(store->series_count()); });
  metrics.callback_gauge("strata_store_points", "Points in the store (in chunks and heads).",
                         [this] { return static_cast<double>(store->stats().points); });
  metrics.callback_gauge("strata_store_head_points", "Points in the heads (not yet in chunks).",
                         [this] { return static_cast<double>(store->stats().head_points); });
  metrics.callback_gauge("strata_store_chunks", "Sealed chunks in the store.",
                         [this] { return static_cast<double>(store->stats().chunks); });
  metrics.callback_gauge("strata_store_chunk_bytes", "Bytes of the sealed chunks' payloads.",
                         [this] { return static_cast<double>(store->stats().data_bytes); });
  auto compaction_counter = [this](const char* name, const char* help,
                                   std::atomic<std::uint64_t> CompactionCounters::*field) {
    metrics.callback_counter(
        name, help, [this, field] { return static_cast<double>((compaction.*field).load()); });
  };
  compaction_counter("strata_store_compaction_steps_total",
                     "Incremental compaction steps run (store.compaction_step).",
                     &CompactionCounters::steps);
  compaction_counter("strata_store_compaction_runs_total",
                     "Runs of short chunks merged by compaction steps.", &CompactionCounters::runs);
  compaction_counter("strata_store_compaction_chunks_merged_total",
                     "Short chunks that compaction steps merged into full ones.",
                     &CompactionCounters::chunks_merged);
  compaction_counter("strata_store_compaction_chunks_written_total",
                     "Chunks that compaction steps wrote in place of short ones.",
                     &CompactionCounters::chunks_written);
  compaction_counter("strata_store_compaction_points_total",
                     "Points compaction steps rewrote (decoded and encoded anew).",
                     &CompactionCounters::points);
  compaction_counter("strata_store_compaction_runs_dropped_total",
                     "Merged runs dropped because their chunks changed meanwhile.",
                     &CompactionCounters::runs_dropped);
  compaction_counter("strata_store_compaction_errors_total", "Compaction steps that failed.",
                     &CompactionCounters::errors);
  metrics.callback_gauge("strata_store_compaction_caught_up",
                         "1 when the last compaction step found nothing left to merge.",
                         [this] { return compaction.caught_up.load() ? 1.0 : 0.0; });
  metrics.callback_gauge("strata_live_sessions", "Open WebSocket sessions.",
                         [this] { return static_cast<double>(live.sessions()); });
  if (mqtt) {
    using Stats = ingest::mqtt::MqttEndpointStats;
    auto mqtt_counter = [this](const char* name, const char* help, std::uint64_t Stats::*field) {
      metrics.callback_counter(name, help,
                               [this, field] { return static_cast<double>(mqtt->stats().*field); });
    };
    mqtt_counter("strata_mqtt_connections_total", "MQTT connections accepted.",
                 &Stats::connections_accepted);
    mqtt_counter("strata_mqtt_connects_refused_total",
                 "MQTT CONNECTs refused (authentication, version, limits).",
                 &Stats::connects_refused);
    mqtt_counter("strata_mqtt_messages_received_total", "MQTT PUBLISH packets from devices.",
                 &Stats::messages_received);
    mqtt_counter("strata_mqtt_messages_acknowledged_total",
                 "PUBACKs sent once the message was durable.", &Stats::messages_acknowledged);
    mqtt_counter("strata_mqtt_publishes_refused_total",
                 "PUBLISHes refused (forbidden topic, QoS 2, store error).",
                 &Stats::publishes_refused);
    mqtt_counter("strata_mqtt_protocol_errors_total", "Malformed or out-of-order MQTT packets.",
                 &Stats::protocol_errors);
    mqtt_counter("strata_mqtt_backpressure_pauses_total",
                 "Times a connection stopped being read because the pipeline was full.",
                 &Stats::backpressure_pauses);
    metrics.callback_gauge("strata_mqtt_connections", "Open MQTT connections.", [this] {
      return static_cast<double>(mqtt->stats().connections_active);
    });
  }
  if (!connectors.empty()) {
    auto connector_counter = [&](const char* name, const char* help, auto member) {
      metrics.callback_counter(name, help, [this, member] {
        double sum = 0;
        for (const auto& c : connectors) sum += static_cast<double>(c->stats().*member);
        return sum;
      });
    };
    using Stats = ingest::mqtt_connector::MqttConnectorStats;
    connector_counter("strata_mqtt_connector_messages_total",
                      "Messages received from the external broker.", &Stats::messages);
    connector_counter("strata_mqtt_connector_acked_total",
                      "PUBACKs sent to the external broker once durable.", &Stats::acked);
    connector_counter("strata_mqtt_connector_errors_total",
                      "Connections to the external broker that failed.", &Stats::connection_errors);
  }
  if (coap) {
    metrics.callback_counter("strata_coap_requests_total", "CoAP requests.",
                             [this] { return static_cast<double>(coap->stats().requests); });
    metrics.callback_counter("strata_coap_busy_total",
                             "CoAP requests answered 5.03 because the pipeline was full.",
                             [this] { return static_cast<double>(coap->stats().busy); });
  }
  if (detection) {
    const auto& d = detection->counters();
    auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
      metrics.callback_counter(name, help, [&v] { return static_cast<double>(v.load()); });
    };
    auto gauge = [&](const char* name, const char* help, const std::atomic<std::int64_t>& v) {
      metrics.callback_gauge(name, help, [&v] { return static_cast<double>(v.load()); });
    };
    counter("strata_anomaly_events_total",
            "Anomaly events: one per excursion of a series or machine.", d.events);
    counter("strata_detector_points_scored_total",
            "Points (and multivariate readings) scored by detectors, live and replayed.",
            d.points_scored);
    gauge("strata_detector_series", "Detectors running (series and machines).", d.detectors);
    gauge("strata_detector_memory_bytes", "Memory of the running detectors.", d.memory_bytes);
    counter("strata_detector_warm_up_points_total",
            "Stored points new detectors learnt from before scoring.", d.warm_up_points);
    counter("strata_detector_late_points_total",
            "Points at or before a detector's last scored point: counted, not scored.",
            d.late_points);
    counter("strata_detector_queue_waits_total",
            "Hand-overs that waited for room in a detection queue (back-pressure).", d.queue_waits);
    counter("strata_detector_restored_total", "Detectors restored from the checkpoint at start.",
            d.restored);
    counter("strata_detector_cold_starts_total",
            "Detectors built fresh (then warmed up from the store).", d.cold_starts);
    counter("strata_detector_checkpoints_written_total", "Detector checkpoints written.",
            d.checkpoints);
    counter("strata_detector_errors_total",
            "Points not scorable, detectors not built, checkpoints not written.", d.errors);
    metrics.callback_gauge("strata_detector_queued", "Points waiting for a detection worker.",
                           [this] { return static_cast<double>(detection->queued()); });
  }
  metrics.callback_counter("strata_anomaly_write_errors_total",
                           "Batches of anomaly events that could not be written to anomalies.db.",
                           [this] { return static_cast<double>(anomalies->write_errors()); });
  metrics.callback_gauge("strata_modbus_devices_connected", "Polled Modbus devices connected.",
                         [this] {
                           std::lock_guard lock(modbus_mu);
                           double n = 0;
                           if (modbus)
                             for (const auto& h : modbus->health()) n += h.connected ? 1 : 0;
                           return n;
                         });
}

void Server::Parts::run_upkeep() {
  std::unique_lock lock(upkeep_mu);
  const auto period = std::chrono::microseconds(config.retention_check_interval);
  auto next_retention = std::chrono::steady_clock::now() + period;
  // Compaction: a bounded step, then a pause while work remains (ingestion keeps the cores);
  // ten pauses once a round found nothing left, or after an error.
  const bool compacting = config.compaction_step > 0;
  const auto pause = std::chrono::microseconds(config.compaction_pause);
  auto next_compaction = std::chrono::steady_clock::now() + pause;
  while (!stopping) {
    const auto wake = compacting ? std::min(next_retention, next_compaction) : next_retention;
    upkeep_cv.wait_until(lock, wake, [&] { return stopping || modbus_stale.load(); });
    if (stopping) break;
    lock.unlock();
    if (modbus_stale.exchange(false)) {
      // Let a burst of changes (an import of many devices) settle into one rebuild.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      modbus_stale = false;
      rebuild_modbus();
    }
    if (std::chrono::steady_clock::now() >= next_retention) {
      next_retention = std::chrono::steady_clock::now() + period;
      if (!config.retention.empty()) {
        auto deleted = store->apply_retention();
        if (!deleted)
          spdlog::error("retention: {}", deleted.error().message);
        else if (*deleted)
          spdlog::info("retention: deleted {} points", *deleted);
      }
    }
    if (compacting && std::chrono::steady_clock::now() >= next_compaction) {
      auto step = store->compact_step(config.compaction_step);
      auto wait = pause;
      if (!step) {
        ++compaction.errors;
        spdlog::error("compaction: {}", step.error().message);
        wait = 10 * pause;
      } else {
        ++compaction.steps;
        compaction.runs += step->runs;
        compaction.chunks_merged += step->chunks_merged;
        compaction.chunks_written += step->chunks_written;
        compaction.points += step->points;
        compaction.runs_dropped += step->runs_dropped;
        compaction.caught_up = step->caught_up;
        if (step->caught_up) wait = 10 * pause;
      }
      next_compaction = std::chrono::steady_clock::now() + wait;
    }
    lock.lock();
  }
}

void Server::Parts::stop() {
  ready = false;
  {
    std::lock_guard lock(upkeep_mu);
    stopping = true;
  }
  upkeep_cv.notify_all();
  if (upkeep.joinable()) upkeep.join();
  {
    std::lock_guard lock(modbus_mu);
    if (modbus) modbus->stop();
  }
  if (coap) coap->stop();
  for (const auto& c : connectors) c->stop();
  if (mqtt) mqtt->stop();
  if (sparkplug) sparkplug->stop();
  if (http) http->stop();
  io_work.reset();
  io.stop();
  for (auto& t : io_threads)
    if (t.joinable()) t.join();
  io_threads.clear();
  if (pipeline) pipeline->stop();
  if (detection) detection->stop();  // scores what is queued, writes the last checkpoint
  if (anomalies) anomalies->flush();
  if (store) (void)store->sync();
}

Result<std::unique_ptr<Server>> Server::start(ServerConfig config) {
  auto parts = std::make_unique<Parts>();
  parts->config = std::move(config);
  if (auto st = parts->start(); !st) {
    parts->stop();
    return st.error();
  }
  return std::unique_ptr<Server>(new Server(std::move(parts)));
}

Server::Server(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Server::~Server() { stop(); }
BoundPorts Server::ports() const { return parts_->ports; }
const ServerConfig& Server::config() const { return parts_->config; }
void Server::stop() { parts_->stop(); }

}  // namespace strata::server

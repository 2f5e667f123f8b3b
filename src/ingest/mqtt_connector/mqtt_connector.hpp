#pragma once
// MqttConnector: Strata as a subscriber of the plant's existing MQTT broker (its "unified
// namespace"). It holds one MQTT 5 session (a node may run several: mqtt_connector.sessions),
// subscribes with a shared subscription ($share/{share_group}/{filter}) so that the sessions of
// every node of a cluster share the load, and hands each
// message to the pipeline. A QoS 1 message is acknowledged (PUBACK) only after the pipeline's
// Completion for it, i.e. once it is durable — libmosquitto and Paho acknowledge on receipt, so
// the connector is its own client on Boost.Asio with Strata's MQTT codec (ingest/mqtt/).
//
// The session is persistent (Clean Start 0, a Session Expiry Interval), so whatever was delivered
// but not acknowledged when a connection breaks is redelivered on the next one: at-least-once.
// The connector reconnects with exponential backoff. When the pipeline is full
// (TelemetrySink::submit returns false) it stops reading the socket and retries the same message
// shortly; the broker keeps the rest (it sends at most `receive_maximum` unacknowledged messages).
// When the pipeline says nothing of a message could be made durable (IngestOutcome::status is an
// error), its PUBACK is withheld and the connection is restarted, so the broker sends it again.
//
// Topics:
//  - spBv1.0/... (when `sparkplug` is set): handed to a SparkplugHost; its rebirth NCMDs and STATE
//    messages are published on this connection; its STATE will is this connection's will. The
//    Sparkplug filters are NOT shared (a host must see every message of an edge node, in order):
//    run one primary host per group of edge nodes (`sparkplug_filters`).
//  - anything else: the first route whose pattern matches names the device; the payload is JSON
//    telemetry (ingest/json_telemetry.hpp). Keys it refuses are quarantined, the rest kept.
//
// MQTT 5 packets sent (mqtt_codec.hpp has the byte layouts):
//   CONNECT   clean start 0, keep alive, client id, [username, password], [Sparkplug STATE will]
//             properties: session expiry interval, receive maximum, maximum packet size,
//                         topic alias maximum 0
//   SUBSCRIBE QoS 1 for each route filter ($share/...) and each Sparkplug filter
//   PUBACK    in the order the PUBLISHes arrived [MQTT-4.6.0-2], after their completions
//   PUBLISH   Sparkplug NCMD (QoS 0) and STATE (QoS 1, retained)
//   PINGREQ   when nothing was sent for a keep-alive interval
//   DISCONNECT on stop() (reason 0: the session stays for the next start)
//
// Threads: every handler runs on the connector's strand of the io_context given to create();
// completions may come from any thread and are posted to that strand.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "ingest/mqtt_connector/broker_route.hpp"
#include "ingest/sparkplug/sparkplug_host.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::ingest::mqtt_connector {

// One configured route: a topic pattern and the device template of its captures.
struct RouteConfig {
  std::string pattern;
  std::string device = "{device}";
};

// The connector's configuration (docs/mqtt-connector.md lists the TOML keys that fill it).
struct MqttConnectorOptions {
  std::string url;  // mqtt://host[:port], or mqtts://host[:port] for TLS
  std::string username;
  std::string password;
  // TLS (mqtts://): the broker's certificate must chain to ca_file (PEM; empty: the system's
  // trust store) and name the URL's host. cert_file and key_file (PEM, both or neither) are the
  // connector's own certificate, for brokers that require clients to present one.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string client_id;               // required and stable: the broker keeps the session under it
  std::string share_group = "strata";  // "" subscribes without $share (one Strata node only)
  std::vector<RouteConfig> routes;     // JSON telemetry topics
  // Sparkplug B: when set, the connector is a primary host with these options (host_id ...).
  std::optional<sparkplug::SparkplugHostOptions> sparkplug;
  std::vector<std::string> sparkplug_filters = {"spBv1.0/#"};
  std::chrono::seconds session_expiry{3600};  // how long the broker keeps our session offline
  std::chrono::seconds keep_alive{30};
  std::uint16_t receive_maximum = 256;  // unacknowledged QoS 1 messages the broker may send us
  std::uint32_t max_packet_size = 16u << 20;
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{30'000};
  std::chrono::milliseconds submit_retry{5};  // back-pressure: wait before submitting again
  std::chrono::milliseconds connect_timeout{10'000};
  // Sparkplug host events (node/device online, offline, stale ...), called on the strand.
  std::function<void(const sparkplug::HostEvent&)> on_sparkplug_event;
  // Connection trouble worth a log line (refused CONNECT, broken connection ...), on the strand.
  std::function<void(const std::string&)> on_error;
};

// Counters for /metrics and for tests. Read from any thread.
struct MqttConnectorStats {
  std::uint64_t connects = 0;      // CONNACKs with success
  std::uint64_t subscribed = 0;    // SUBACKs that granted every filter
  std::uint64_t messages = 0;      // PUBLISHes received
  std::uint64_t redeliveries = 0;  // of them, with DUP set (sent again after a reconnect)
  std::uint64_t acked = 0;         // PUBACKs sent
  std::uint64_t submitted = 0;     // TelemetryMessages the sink took
  std::uint64_t quarantined = 0;   // quarantine entries handed to the sink
  std::uint64_t backpressure = 0;  // times submit() said the pipeline was full
  std::uint64_t published = 0;     // PUBLISHes sent (Sparkplug NCMD, STATE)
  std::uint64_t connection_errors = 0;
};

class MqttConnector {
 public:
  // Checks the options (URL, routes, client id, Sparkplug host id) — errc::bad_url, bad_route,
  // bad_config, or sparkplug::errc::bad_config — and builds a stopped connector.
  [[nodiscard]] static Result<std::shared_ptr<MqttConnector>> create(boost::asio::io_context& io,
                                                                     MqttConnectorOptions options,
                                                                     pipeline::TelemetrySink& sink,
                                                                     const Clock& clock);
  ~MqttConnector();
  MqttConnector(const MqttConnector&) = delete;
  MqttConnector& operator=(const MqttConnector&) = delete;

  // Connects, and reconnects after every failure, until stop(). Returns at once.
  void start();
  // Publishes the Sparkplug STATE offline (if a host), sends DISCONNECT (the session stays on the
  // broker) and closes; unacknowledged messages stay with the broker. Completions that arrive
  // later are ignored. Returns at once; safe from any thread.
  void stop();

  [[nodiscard]] MqttConnectorStats stats() const;

 private:
  struct State;
  explicit MqttConnector(std::shared_ptr<State> state);
  std::shared_ptr<State> s_;  // shared with the handlers and completions in flight
};

}  // namespace strata::ingest::mqtt_connector

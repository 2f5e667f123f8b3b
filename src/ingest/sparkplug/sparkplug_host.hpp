#pragma once
// SparkplugHost: Strata as a Sparkplug B primary host application (Eclipse Sparkplug 3.0, §5 and
// §7). It keeps, per edge node, what the specification asks a host to track — the bdSeq of the
// current birth, the 0..255 message sequence, the alias tables of the NBIRTH and each DBIRTH,
// which devices are online — and turns each MQTT message into what Strata does with it:
// telemetry for the pipeline, quarantine entries with their reason, events for the integrator
// (node and device online/offline, stale), and the messages to publish (rebirth NCMDs, the
// host's own STATE). It knows nothing of sockets: the MQTT connector (or the device endpoint)
// feeds it (topic, payload, receive time) and publishes what it returns.
//
// STATE (Sparkplug 3.0 §7.4.1, JSON, QoS 1, retained, on spBv1.0/STATE/{host_id}):
//
//   birth  {"online":true,"timestamp":<ms>}    published after CONNACK and the subscriptions
//   will   {"online":false,"timestamp":<ms>}   the CONNECT's will; the same timestamp as the birth
//
// Rebirth request (NCMD on spBv1.0/{group_id}/NCMD/{edge_node_id}, QoS 0, not retained): a payload
// with the host's timestamp and one metric "Node Control/Rebirth", datatype Boolean, value true.
//
// Device ids (pipeline::TelemetryMessage::device_id): "{group_id}/{edge_node_id}/{device_id}" for
// a device's metrics, "{group_id}/{edge_node_id}" for the edge node's own; an entry of
// SparkplugHostOptions::device_ids keyed by that name replaces it with a registry id.
//
// Not thread-safe: one owner calls it (REQUIRES: the connector's strand).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "ingest/sparkplug/sparkplug_payload.hpp"
#include "ingest/sparkplug/sparkplug_topic.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::ingest::sparkplug {

// An MQTT message the host wants published (by whoever owns the MQTT connection).
struct OutboundMessage {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
};

// What happened to an edge node or device, for the integrator (device health, audit, /metrics).
enum class HostEventKind : std::uint8_t {
  node_online,      // an NBIRTH was accepted
  node_offline,     // an NDEATH whose bdSeq matches the current birth
  device_online,    // a DBIRTH was accepted
  device_offline,   // a DDEATH, or its edge node went offline or was reborn
  node_stale,       // seq gap, out-of-order seq, unknown alias, DATA before BIRTH: rebirth asked
  death_ignored,    // an NDEATH whose bdSeq does not match the current birth (spec: ignore it)
  message_refused,  // the topic or payload could not be read at all
};
std::string_view host_event_name(HostEventKind kind);

struct HostEvent {
  HostEventKind kind = HostEventKind::node_online;
  std::string group_id;
  std::string edge_node_id;
  std::string device_id;  // empty for node events
  std::string detail;     // a sentence a person can act on
  Timestamp at = 0;       // the receive time of the message that caused it
};

// A payload, or part of one, that Strata keeps aside with its reason (TelemetrySink::quarantine).
struct QuarantineEntry {
  std::string device_id;  // as mapped (see above), or the topic when it names no device
  std::shared_ptr<const std::string> raw;  // the whole payload as received
  std::string reason;
};

// Everything one message produced. Telemetry is at most one message: a Sparkplug message is
// about one edge node or one device.
struct HostOutput {
  std::optional<pipeline::TelemetryMessage> telemetry;
  std::vector<QuarantineEntry> quarantine;
  std::vector<OutboundMessage> publish;
  std::vector<HostEvent> events;
};

struct SparkplugHostOptions {
  // This host's id: the STATE topic is spBv1.0/STATE/{host_id}. Required; no '/', '+', '#'.
  std::string host_id;
  // "{group}/{edge}" or "{group}/{edge}/{device}" → registry device id. Unlisted: the name itself.
  std::map<std::string, std::string, std::less<>> device_ids;
  // At most one rebirth request per edge node within this interval (µs of receive time), so a
  // node that keeps sending while its rebirth is on its way is not flooded with NCMDs.
  Timestamp rebirth_interval = 5 * kMicrosPerSecond;
  // Edge nodes tracked at most (topics come from the broker's clients: bound the memory they
  // can claim). A message of one more node is quarantined with the reason.
  std::size_t max_edge_nodes = 100'000;
};

// The STATE birth and will of one MQTT session, with the same timestamp.
struct StateMessages {
  OutboundMessage birth;
  OutboundMessage will;
};

// What the host knows of one edge node (for tests, health and the integrator's status page).
struct NodeStatus {
  bool online = false;
  bool stale = false;  // a rebirth is awaited; its data are quarantined meanwhile
  std::optional<std::uint64_t> bd_seq;
  std::optional<std::uint8_t> last_seq;
  std::size_t node_metrics = 0;  // names in the NBIRTH's table
  std::vector<std::string> devices_online;
};

class SparkplugHost {
 public:
  [[nodiscard]] static Result<SparkplugHost> create(SparkplugHostOptions options);

  // Handles one MQTT message. Never fails: what cannot be used becomes a quarantine entry and an
  // event; a topic that is not Sparkplug B is refused (event + quarantine) too.
  HostOutput handle(std::string_view topic, std::string_view payload, Timestamp received);

  // The STATE messages for a new MQTT session started at `connect_time` (the will goes into the
  // CONNECT, the birth is published once the subscriptions are granted). Remembered, so that a
  // retained "offline" of our own id seen later is answered with the birth again.
  StateMessages begin_session(Timestamp connect_time);

  [[nodiscard]] const std::string& state_topic() const { return state_topic_; }
  // The device id readings of (group, edge[, device]) are filed under (see the header comment).
  [[nodiscard]] std::string device_id_for(std::string_view group, std::string_view edge,
                                          std::string_view device = {}) const;
  [[nodiscard]] std::optional<NodeStatus> node_status(std::string_view group,
                                                      std::string_view edge) const;

 private:
  struct MetricDef {
    std::string name;
    std::uint32_t datatype = 0;
  };
  // One BIRTH's metric table (the node's, or one device's).
  struct AliasTable {
    std::unordered_map<std::uint64_t, MetricDef> by_alias;
    std::unordered_map<std::string, std::uint32_t> datatype_by_name;
  };
  struct Node {
    bool online = false;
    bool stale = false;
    std::string stale_reason;
    std::optional<std::uint64_t> bd_seq;
    std::optional<std::uint8_t> last_seq;
    std::optional<Timestamp> last_rebirth_request;
    AliasTable metrics;
    std::map<std::string, AliasTable, std::less<>> devices;  // online devices only
  };

  explicit SparkplugHost(SparkplugHostOptions options);
  // The node's state, created on first sight; nullptr when max_edge_nodes are tracked already.
  Node* node_for(const Topic& t);
  void on_state(const Topic& t, std::string_view payload, HostOutput& out) const;
  void on_node_birth(const Topic& t, Node& node, const Payload& p, Timestamp received,
                     HostOutput& out, std::vector<std::string>& problems);
  void on_node_death(const Topic& t, Node& node, const Payload& p, Timestamp received,
                     HostOutput& out);
  // DBIRTH, DDEATH, NDATA, DDATA: the node must be born, in sequence and not stale.
  void on_sequenced(const Topic& t, Node& node, const Payload& p, Timestamp received,
                    HostOutput& out, std::vector<std::string>& problems);
  // Checks and advances the node's seq; false (node marked stale) on a gap or a missing seq.
  bool check_seq(const Topic& t, Node& node, const Payload& p, Timestamp received, HostOutput& out);
  void make_stale(const Topic& t, Node& node, std::string why, Timestamp received, HostOutput& out);
  void request_rebirth(const Topic& t, Node& node, Timestamp received, HostOutput& out);
  // Appends the readings of p's metrics to msg and what cannot be read to problems. Returns true
  // when a DATA message named a metric (alias or name) its BIRTH did not declare.
  bool readings_of(const AliasTable& table, const Payload& p, bool birth,
                   pipeline::TelemetryMessage& msg, std::vector<std::string>& problems) const;
  static AliasTable table_of(const Payload& p, std::vector<std::string>& problems);
  // One metric's reading (or, for a Template instance, its members' readings) under `name`.
  void add_readings(std::string name, std::optional<std::uint32_t> datatype, const Metric& m,
                    std::optional<Timestamp> ts, const AliasTable& table,
                    pipeline::TelemetryMessage& msg, std::vector<std::string>& problems) const;

  SparkplugHostOptions options_;
  std::string state_topic_;
  std::optional<Timestamp> session_time_;
  std::map<std::string, Node, std::less<>> nodes_;  // "{group}/{edge}"
};

}  // namespace strata::ingest::sparkplug

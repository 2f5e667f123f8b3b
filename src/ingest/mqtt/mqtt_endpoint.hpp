#pragma once
// MqttEndpoint: Strata's own device-facing MQTT 3.1.1/5.0 server. It exists because with a general
// broker in between, "acknowledged" cannot mean "stored" (Mosquitto sends PUBACK itself and drops
// QoS 1 messages to slow subscribers): here a PUBACK leaves only once the pipeline has put the
// message in the WAL and called its Completion. It is not a broker: devices publish to Strata and
// Strata publishes to devices; one device never receives another's messages.
//
// Topics (src/ingest/mqtt/README.md and docs/mqtt.md draw the full table with reason codes):
//
//   device publishes (QoS 0/1)                     what happens
//   v1/devices/me/telemetry                        JSON telemetry → pipeline, PUBACK once durable
//   strata/v1/devices/{id}/telemetry               the same ({id} = the authenticated device)
//   v1/devices/me/attributes                       the same (attributes are kept as series)
//   v1/devices/me/rpc/response/{n}                 command response hook
//   strata/v1/devices/{id}/commands/{cmd}/response command response hook
//   spBv1.0/{group}/{N|D}{BIRTH|DEATH|DATA}/{edge}[/{dev}]   Sparkplug handler (edge = its own)
//
//   device subscribes (granted QoS ≤ 1)
//   strata/v1/devices/{id}/commands/+              commands (QoS 1), payload below
//   v1/devices/me/rpc/request/+                    the same commands as ThingsBoard RPC
//   v1/devices/me/attributes, .../attributes/response/+   server-published attributes
//   spBv1.0/+/NCMD/{edge}, spBv1.0/+/DCMD/{edge}/+, spBv1.0/STATE/+   Sparkplug host messages
//
// Command payloads: on strata/v1/devices/{id}/commands/{name}
//   {"id":"<command id>","name":"<name>","params":<the JSON given to send_command>}
// answered on strata/v1/devices/{id}/commands/{command id}/response; as ThingsBoard RPC on
// v1/devices/me/rpc/request/{n}: {"method":"<name>","params":<JSON>}, answered on
// v1/devices/me/rpc/response/{n}.
//
// Threads: create() and the setters before the io_context runs; the io_context may be run by any
// number of threads (each connection works on its own strand). send_command(), publish(),
// stats() and stop() may be called from any thread. Completions and Sparkplug acks may be called
// from any thread; they post back onto the connection's strand.
//
// Shutdown order: stop() the endpoint, stop the pipeline (no completion runs after that), then
// let the io_context finish and destroy it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "ingest/device_auth.hpp"
#include "pipeline/telemetry.hpp"

namespace boost::asio {
class io_context;
}

namespace strata::ingest::mqtt {

struct MqttEndpointOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see MqttEndpoint::port())
  // The largest packet a client may send (CONNACK maximum packet size in 5.0; larger packets
  // close the connection, 5.0 with DISCONNECT 0x95).
  std::size_t max_packet_size = std::size_t{1} << 20;
  std::size_t max_connections = 10'000;  // beyond: CONNACK server unavailable / 0x89 server busy
  // A client's keep-alive is clamped into [min, max] seconds; 0 ("none") counts as max. 5.0
  // clients are told the value (server keep alive); a 3.1.1 client is held to the clamped value
  // all the same. A connection silent for 1.5 × keep-alive is closed (its will is used).
  std::uint16_t keep_alive_min_s = 5;
  std::uint16_t keep_alive_max_s = 600;
  std::chrono::milliseconds connect_timeout{10'000};  // from accept to CONNECT
  // QoS 1 PUBLISHes a client may have unacknowledged (5.0 receive maximum). Beyond it the
  // endpoint stops reading that connection until acks drain.
  std::uint16_t receive_maximum = 64;
  std::uint16_t topic_alias_maximum = 16;  // 5.0 aliases a client may set
  // Persistent sessions: commands queued for an offline device, at most this many per session
  // (send_command fails beyond it); QoS 1 messages in flight to a client at once.
  std::size_t max_queued_commands = 100;
  std::uint16_t max_inflight_to_client = 16;
  std::uint32_t max_session_expiry_s = 7 * 24 * 3600;  // 5.0 session expiry is capped to it
  std::size_t max_persistent_sessions = 100'000;
  // After TelemetrySink::submit() returned false, retry after this long (the socket is not read
  // meanwhile: back-pressure reaches the device through TCP).
  std::chrono::microseconds submit_retry{1000};
  // Whether device `device_id` may publish as Sparkplug edge node {group}/{edge}. Empty: the
  // edge node id must be the device id (any group).
  std::function<bool(std::string_view device_id, std::string_view group,
                     std::string_view edge_node)>
      sparkplug_owner;
};

// Counters for /metrics (a snapshot; every field only grows except the *_active ones).
struct MqttEndpointStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_active = 0;
  std::uint64_t connects_refused = 0;       // CONNECT refused: authentication, version, limits
  std::uint64_t messages_received = 0;      // PUBLISH packets from devices
  std::uint64_t messages_acknowledged = 0;  // PUBACKs sent with success
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t publishes_refused = 0;      // forbidden topic, QoS 2, store error
  std::uint64_t subscriptions_refused = 0;  // forbidden or invalid filters
  std::uint64_t protocol_errors = 0;        // malformed or out-of-order packets (connection closed)
  std::uint64_t payloads_quarantined = 0;   // undecodable payloads and refused keys
  std::uint64_t backpressure_pauses = 0;    // times submit() returned false
  std::uint64_t keep_alive_timeouts = 0;
  std::uint64_t wills_published = 0;
  std::uint64_t commands_sent = 0;         // command PUBLISHes written (first delivery)
  std::uint64_t commands_redelivered = 0;  // with DUP after a reconnect
  std::uint64_t commands_queued = 0;       // waiting for a device (gauge)
  std::uint64_t sessions_persistent = 0;   // kept for reconnects (gauge)
};

// A message a device sent in answer to a command.
struct CommandResponse {
  std::string device_id;
  std::string command_id;  // as send_command returned it ("" if the request id is unknown)
  std::string topic;
  std::string payload;
};

// A device's last will, handed over when its connection ends without DISCONNECT.
struct DeviceWill {
  std::string device_id;
  std::string client_id;
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
};

// Tells the endpoint what became of a Sparkplug message: true = kept durably → PUBACK; false =
// not kept → 5.0 PUBACK 0x80, 3.1.1 connection closed (the device sends it again). Call exactly
// once, from any thread.
using SparkplugAck = std::function<void(bool kept)>;
using SparkplugHandler = std::function<void(const DeviceIdentity& who, std::string_view topic,
                                            std::string_view payload, SparkplugAck ack)>;

class MqttEndpoint {
 public:
  // Listens on options.bind_address:options.port. Fails when the address cannot be bound.
  [[nodiscard]] static Result<std::unique_ptr<MqttEndpoint>> create(boost::asio::io_context& io,
                                                                    MqttEndpointOptions options,
                                                                    pipeline::TelemetrySink& sink,
                                                                    const DeviceAuthenticator& auth,
                                                                    const Clock& clock);
  ~MqttEndpoint();
  MqttEndpoint(const MqttEndpoint&) = delete;
  MqttEndpoint& operator=(const MqttEndpoint&) = delete;

  [[nodiscard]] std::uint16_t port() const;

  // Hooks; set them before the io_context runs. Each runs on a connection's strand and must not
  // block. Without a Sparkplug handler, spBv1.0 messages are quarantined (and acknowledged).
  void set_sparkplug_handler(SparkplugHandler handler);
  void set_command_response_handler(std::function<void(const CommandResponse&)> handler);
  void set_will_handler(std::function<void(const DeviceWill&)> handler);
  // Every refusal (connection, publish, subscription, protocol error) with its reason, for logs.
  void set_refusal_handler(std::function<void(std::string_view who, std::string_view why)> handler);

  // Sends command `name` with JSON `params` to every session of `device_id` subscribed to its
  // command topic or to ThingsBoard RPC requests, at QoS 1 (redelivered with DUP after a
  // reconnect until PUBACKed). An offline device's persistent session queues it. Errors: the name
  // is not a single topic level, params is not JSON, no session of the device subscribes, or a
  // session's queue is full.
  [[nodiscard]] Result<std::string> send_command(std::string_view device_id, std::string_view name,
                                                 std::string_view params_json);

  // A server-originated message to every session subscribed to `topic` (the Sparkplug host's
  // NCMD/DCMD and STATE, attribute updates). retain keeps it (an empty payload clears it) for
  // later subscribers. Returns the number of sessions it was given to.
  [[nodiscard]] Result<std::size_t> publish(std::string_view topic, std::string_view payload,
                                            std::uint8_t qos, bool retain);

  [[nodiscard]] MqttEndpointStats stats() const;

  // Stops accepting, sends 5.0 clients DISCONNECT 0x8B (server shutting down), closes every
  // connection (wills are not used: the server, not the device, went away). Idempotent.
  void stop();

  struct State;  // internal

 private:
  explicit MqttEndpoint(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace strata::ingest::mqtt

#pragma once
// OpcUaConnector: what an OPC UA client connector must provide so that readings of OPC UA servers
// (PLCs, SCADA, historians) enter the pipeline like any other transport's. This header is the
// contract only — no implementation is built yet: Debian bookworm packages no C++ OPC UA stack
// (docs/opcua.md says what the implementation will use). Writing it down now fixes the
// configuration, the quality rule and the hand-over, so that the registry, /metrics and the API can
// be wired before the connector exists.
//
// The connector is a client: it opens a session on each configured endpoint, creates one
// subscription per endpoint with a monitored item per bound node, and turns each Publish response
// into pipeline messages:
//
//   Publish response (sequence number S) of connection C
//     └─ DataChangeNotification: [(client handle → binding, DataValue{value, status, source ts,
//                                  server ts}) ...]
//   ⇒ per device D with a data change in it, one pipeline::TelemetryMessage:
//        transport = opcua, device_id = D, message_id = "C/S/D", received = clock.now(),
//        raw = the notification's values as text ("ns=2;s=Pump7.Temp=21.5 (Good) @2024-...")
//        readings = the good data changes of D: metric = binding.metric,
//                   ts = source timestamp, else server timestamp, else absent (received),
//                   number for numeric and Boolean variants, text for String/LocalizedText;
//   ⇒ each data change whose status is not Good: TelemetrySink::quarantine(opcua, D, raw, reason)
//     with the reason naming the node, the status code and its name (quality below), unless the
//     binding accepts Uncertain values.
//
// Quality (OPC UA Part 4, 7.34.1): the top two bits of a StatusCode are its severity.
//
//   bits 31..30   severity    what the connector does
//   00            Good        the value is a reading
//   01            Uncertain   quarantined with its status, or a reading when accept_uncertain
//   10, 11        Bad         quarantined with its status (BadSensorFailure, BadCommunicationError,
//                             ... the value itself is usually absent)
//   and: the InfoBits Overflow flag (bit 7 with InfoType DataValue, bits 11..10 = 01) on a good
//   value means the server's queue for the item overflowed and older values were lost: the
//   reading is kept and the loss counted in the connection's health.
//
// Acknowledgement: a notification is acknowledged to the server (the SubscriptionAcknowledgement
// of the next Publish request) only after the pipeline's Completion for every message made from
// it, so a connector restart gets the unacknowledged ones again through Republish.
// Back-pressure: when TelemetrySink::submit returns false the connector keeps the message, sends
// no new Publish request on that session until it was taken (the server then holds the
// notifications, up to each monitored item's queue_size), and retries after a short delay.
// Nothing is dropped by the connector; what the server discards shows as Overflow.
//
// Threads: the implementation owns its threads (one client per endpoint is the expected design);
// completions reach it from shard threads and must only post to its own loop.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::ingest {

// MessageSecurityMode of the endpoint to use (OPC UA Part 4, 7.15).
enum class OpcUaSecurityMode : std::uint8_t { none, sign, sign_and_encrypt };

// SecurityPolicy URI of the endpoint to use (OPC UA Part 7). Deprecated policies (Basic128Rsa15,
// Basic256) are not offered.
enum class OpcUaSecurityPolicy : std::uint8_t {
  none,                    // http://opcfoundation.org/UA/SecurityPolicy#None
  basic256_sha256,         // ...#Basic256Sha256
  aes128_sha256_rsa_oaep,  // ...#Aes128_Sha256_RsaOaep
  aes256_sha256_rsa_pss,   // ...#Aes256_Sha256_RsaPss
};

// Who the connector is to the server: the user identity token of ActivateSession, and the
// application instance certificate used for signing/encryption (needed unless mode is none).
struct OpcUaIdentity {
  enum class Kind : std::uint8_t { anonymous, username, certificate } kind = Kind::anonymous;
  std::string username;
  std::string password_ref;          // a secret's name in Strata's secret store, never clear text
  std::string certificate_path;      // DER or PEM, application instance certificate
  std::string private_key_path;      // its key (mode sign / sign_and_encrypt, or kind certificate)
  std::string trusted_servers_path;  // directory of server certificates (or CAs) to trust
  std::string application_uri = "urn:strata:opcua:client";  // must match the certificate's SAN
};

// One node read as one metric of one device.
struct OpcUaNodeBinding {
  std::string node_id;    // OPC UA text form: "ns=2;s=Line1.Pump7.Temp", "ns=3;i=1001",
                          // "nsu=http://vendor.example/;s=Temp" (namespace URI survives reindexing)
  std::string device_id;  // the registry id the readings belong to
  std::string metric;     // the telemetry name in the device's model
  std::chrono::milliseconds sampling_interval{1000};  // MonitoringParameters.samplingInterval
  std::uint32_t queue_size = 10;  // server-side queue, what survives back-pressure per item
  std::optional<double> absolute_deadband;  // DataChangeFilter: report changes above it only
  bool accept_uncertain = false;            // Uncertain values become readings, not quarantine
};

// The subscription created on each endpoint (CreateSubscription parameters).
struct OpcUaSubscriptionSettings {
  std::chrono::milliseconds publishing_interval{1000};
  std::uint32_t lifetime_count = 60;  // publishing intervals without Publish before it dies
  std::uint32_t max_keep_alive_count = 10;
  std::uint32_t max_notifications_per_publish = 1000;  // 0: no limit
};

// One OPC UA server to read from.
struct OpcUaEndpointConfig {
  std::string connection_id;  // names the connection in /metrics, health and message ids
  std::string endpoint_url;   // "opc.tcp://plc-3.plant-a:4840/path"
  OpcUaSecurityMode security_mode = OpcUaSecurityMode::sign_and_encrypt;
  OpcUaSecurityPolicy security_policy = OpcUaSecurityPolicy::basic256_sha256;
  OpcUaIdentity identity;
  OpcUaSubscriptionSettings subscription;
  std::vector<OpcUaNodeBinding> nodes;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds reconnect_initial{1000};  // backoff doubles up to reconnect_max
  std::chrono::milliseconds reconnect_max{60000};
};

// How a StatusCode's severity is treated (table at the top of this file).
enum class OpcUaQuality : std::uint8_t { good, uncertain, bad };

[[nodiscard]] constexpr OpcUaQuality opcua_quality(std::uint32_t status_code) {
  switch (status_code >> 30) {
    case 0:
      return OpcUaQuality::good;
    case 1:
      return OpcUaQuality::uncertain;
    default:
      return OpcUaQuality::bad;
  }
}

// True when a Good/Uncertain DataValue says the server's queue overflowed (InfoType DataValue,
// Overflow bit).
[[nodiscard]] constexpr bool opcua_overflow(std::uint32_t status_code) {
  return ((status_code >> 10) & 0x3u) == 0x1u && (status_code & 0x80u) != 0;
}

// What /metrics and the device health show of one connection. Counters only grow.
struct OpcUaConnectionHealth {
  std::string connection_id;
  bool connected = false;
  std::uint64_t sessions_opened = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t data_changes = 0;        // values received
  std::uint64_t messages = 0;            // messages submitted to the pipeline
  std::uint64_t quarantined = 0;         // non-Good values quarantined
  std::uint64_t overflows = 0;           // values the server reported lost (Overflow bit)
  std::uint64_t backpressure_waits = 0;  // submits refused by the pipeline
  std::uint64_t bad_node_ids = 0;        // monitored items the server refused (BadNodeIdUnknown)
  std::string last_error;                // names the connection, node or request and the fix
  Timestamp last_error_at = 0;
  Timestamp last_data_at = 0;
};

// An OPC UA client connector; see the top of this file for what it promises.
class OpcUaConnector {
 public:
  // How a write ends (a device command mapped to a node): ok or the error with the StatusCode.
  using WriteDone = std::function<void(const Status&)>;

  virtual ~OpcUaConnector() = default;

  // Opens the sessions and subscriptions on the connector's threads and returns; connection
  // failures are reported in health() and retried with backoff, never returned here. An error only
  // for a configuration that cannot work (unreadable certificate, malformed node id: the message
  // names the connection, the key and the fix).
  [[nodiscard]] virtual Status start() = 0;
  // Closes the subscriptions and sessions (DeleteSubscriptions, CloseSession). Messages still held
  // for back-pressure are not acknowledged to the server, which keeps them for the next session.
  virtual void stop() = 0;

  [[nodiscard]] virtual std::vector<OpcUaConnectionHealth> health() const = 0;

  // Writes a value to the node bound to (device_id, metric), as the Variant type the node has
  // (read once from its DataType attribute). For device commands of the rules engine.
  virtual void write(std::string_view device_id, std::string_view metric, double value,
                     WriteDone done) = 0;
};

// How the application gets a connector: the implementation registers one; until then there is
// none and configured OPC UA endpoints are reported as unsupported at start-up.
using OpcUaConnectorFactory = std::function<Result<std::unique_ptr<OpcUaConnector>>(
    std::vector<OpcUaEndpointConfig> endpoints, pipeline::TelemetrySink& sink, const Clock& clock)>;

}  // namespace strata::ingest

#pragma once
// What every transport hands the ingestion pipeline, and what it gets back. A transport decodes its
// wire format into a TelemetryMessage (one device's readings, as the device named them) or, for
// bulk paths whose series are already resolved (InfluxDB line protocol), a PointBatch; the
// pipeline normalises, validates, quarantines, stores and then calls the message's completion
// exactly once, after the WAL step (see shared/DESIGN.md, "Acknowledgement means durable").
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::pipeline {

// Where a reading came from: kept in lineage and quarantine, and a label of the /metrics counters.
enum class Transport : std::uint8_t {
  mqtt,            // Strata's own device-facing MQTT endpoint
  mqtt_connector,  // a subscription on an external broker
  sparkplug,       // Sparkplug B, on either MQTT path
  http,            // JSON telemetry over HTTP
  line_protocol,   // InfluxDB line protocol over HTTP
  coap,
  modbus,
  opcua,
  import,  // files (strata import)
};
inline constexpr std::size_t kTransportCount = 9;
std::string_view transport_name(Transport t);

// One value as a device sent it, before unit conversion and validation. Booleans arrive as 0/1;
// text (an enum state, a badge id) stays text until the device model says what it becomes.
struct Reading {
  std::string metric;
  std::optional<Timestamp> ts;  // absent: the message's receive time
  double number = 0;
  std::optional<std::string> text;  // set for text values; `number` is then unused
};

// One device's readings from one transport message: validated, stored and acknowledged as a unit.
struct TelemetryMessage {
  Transport transport = Transport::http;
  std::string device_id;   // the authenticated identity, a registry id
  std::string message_id;  // the transport's id for it (MQTT client id + packet id, HTTP request)
  Timestamp received = 0;  // when the transport received it (µs, UTC)
  std::shared_ptr<const std::string> raw;  // the payload as received, kept for quarantine
  std::vector<Reading> readings;
};

// Points whose series are already resolved (a trusted bulk path: line protocol from an API token).
struct PointBatch {
  Transport transport = Transport::line_protocol;
  std::string source;  // who sent it: the API token's user, for lineage
  std::string message_id;
  Timestamp received = 0;
  std::vector<Point> points;
};

// What became of a message, given to its completion after the WAL step. `status` is an error
// only when nothing of it could be made durable (store I/O failure); quarantined readings are
// not an error — they are kept with their reason and counted.
struct IngestOutcome {
  std::size_t stored = 0;
  std::size_t quarantined = 0;
  std::vector<std::string> reasons;  // one per quarantined reading, in order (at most 16 kept)
  Status status;
};
using Completion = std::function<void(const IngestOutcome&)>;

// The pipeline's entrance. Implementations are thread-safe; completions run on a shard thread and
// must not block (post to the transport's own executor).
class TelemetrySink {
 public:
  virtual ~TelemetrySink() = default;
  // Takes the message and its completion when the shard queue has room and returns true; returns
  // false, taking nothing, when it is full — the transport then stops reading from that sender
  // and tries again shortly (back-pressure: nothing is dropped).
  virtual bool submit(TelemetryMessage& message, Completion& done) = 0;
  virtual bool submit(PointBatch& batch, Completion& done) = 0;
  // A payload the transport could not decode at all: quarantined with its reason.
  virtual void quarantine(Transport transport, std::string_view device_id, std::string_view raw,
                          std::string_view reason) = 0;
};

}  // namespace strata::pipeline

#pragma once
// JSON telemetry decoder: the payloads of ThingsBoard's device API (MQTT, HTTP, CoAP) into the
// readings of one pipeline::TelemetryMessage. Every transport that carries JSON telemetry uses it,
// so a payload means the same thing whichever way it arrives.
//
// Accepted shapes (top level):
//
//   {"temp":21.5,"running":true,"state":"idle"}        flat: readings at the receive time
//   {"ts":1700000000000,"values":{"temp":21.5}}        ts in ms since the epoch (→ µs)
//   [ <either of the above>, ... ]                     several at once, in order
//
// - Values: a number → Reading::number (integers become doubles, exact up to 2^53); true/false →
//   1/0; a string → Reading::text. null, arrays and nested objects are refused per key (see
//   below): Strata does not flatten {"motor":{"temp":1}} into "motor.temp" — a metric is named by
//   the device, so a device that means "motor.temp" sends that key (a dot in a key is fine).
// - An object is in the ts form when it has a key "ts" or "values": it must then have both, "ts"
//   an integer number of milliseconds whose µs fit in int64, "values" an object, and no other key.
// - Per-key refusals (the rest of the payload is kept): an empty key, a null/array/object value,
//   a key repeated in the same object (the first is kept), a key beside "ts"/"values", and every
//   key of a ts-form object whose "ts" is bad. An array element that is not an object is refused
//   as key "[i]". Each refusal names the key and the fix; the caller quarantines them.
// - Whole-payload errors (errc::syntax): not JSON (with the byte near which it broke when simdjson
//   can say), or a top level that is neither an object nor an array.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "ingest/errc.hpp"
#include "pipeline/telemetry.hpp"

namespace simdjson::dom {
class parser;
}

namespace strata::ingest {

// A key of a payload that yields no reading, and why: returned, never dropped, so the caller can
// quarantine it (pipeline::TelemetrySink::quarantine) and count it.
struct JsonTelemetryRefusal {
  std::string key;     // the key as sent ("[2]" for an array element that is not an object)
  std::string reason;  // the whole message a user sees: names the key, what is wrong, the fix
};

// What one payload decodes to: readings in payload order, and the keys refused.
struct JsonTelemetry {
  std::vector<pipeline::Reading> readings;
  std::vector<JsonTelemetryRefusal> refused;
};

// Holds simdjson's parser (its buffers are reused from payload to payload). Not thread-safe: one a
// connection or one a thread.
class JsonTelemetryDecoder {
 public:
  JsonTelemetryDecoder();
  ~JsonTelemetryDecoder();
  JsonTelemetryDecoder(JsonTelemetryDecoder&&) noexcept;
  JsonTelemetryDecoder& operator=(JsonTelemetryDecoder&&) noexcept;

  // errc::syntax when the payload is not JSON or its top level is not an object or an array.
  [[nodiscard]] Result<JsonTelemetry> decode(std::string_view payload);

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
};

// One-shot form (a fresh parser each call).
[[nodiscard]] Result<JsonTelemetry> decode_json_telemetry(std::string_view payload);

}  // namespace strata::ingest

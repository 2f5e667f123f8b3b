#pragma once
// Device: one machine of the plant as the registry knows it — which model it follows, where it
// stands, how it is tagged, whether it may send, and (for polled devices) where its Modbus server
// is. Credentials are not part of it: the registry keeps token hashes beside it
// (ingest/device_auth.hpp). The REST surface reads and writes it as JSON:
//
//   {"id": "cmp-a1-01", "model": "dtmi:strata:compressor;1", "site": "plant-a", "line": "line-1",
//    "tags": {"vendor": "atlas"}, "state": "active",
//    "modbus": {"host": "10.0.4.21", "port": 502, "unit_id": 1, "interval_ms": 1000}}
//
//   id        required, 1..128 of [A-Za-z0-9._:-]
//   model     required, a DTMI (model/dtmi.hpp)
//   site,line optional strings, at most 128 bytes, no control characters ("" when absent)
//   tags      optional object of string values; keys 1..64 of [A-Za-z0-9._:-], values at most 256
//             bytes, at most 64 tags
//   state     optional, "provisioned" (default) | "active" | "suspended" | "decommissioned"
//   modbus    optional: host (1..253 bytes, no spaces) required; port 1..65535 (502);
//             unit_id 0..255 (1); interval_ms 10..86400000 (1000)
//   detectors optional object: metric → a detector spec ("ensemble", "baseline:alpha=0.1") or
//             "off"; overrides the model's strata:detector for this device (at most 1024). Whether
//             the metric and the spec exist is checked by the registry's validation hook.
// Unknown keys are refused (a misspelt "tag" must not vanish). Errors are errc::invalid_device
// with a JSONPath and the reason: `$.modbus.port: expected an integer 1..65535, got 70000`.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "model/errc.hpp"

namespace strata::model {

inline constexpr std::size_t kMaxDeviceIdLength = 128;

// Where a device stands in its life; only active devices' readings are accepted by the pipeline.
enum class DeviceState : std::uint8_t { provisioned, active, suspended, decommissioned };
std::string_view device_state_name(DeviceState s);
std::optional<DeviceState> parse_device_state(std::string_view name);

// Where the Modbus poller finds a polled device.
struct ModbusEndpoint {
  std::string host;
  std::uint16_t port = 502;
  std::uint8_t unit_id = 1;
  std::uint32_t interval_ms = 1000;
  friend bool operator==(const ModbusEndpoint&, const ModbusEndpoint&) = default;
};

struct Device {
  std::string id;
  std::string model_id;  // a DTMI
  std::string site;
  std::string line;
  std::vector<std::pair<std::string, std::string>> tags;  // sorted by key, keys unique
  DeviceState state = DeviceState::provisioned;
  std::optional<ModbusEndpoint> modbus;
  // Per-metric detector overrides: (metric, spec or "off"), sorted by metric.
  std::vector<std::pair<std::string, std::string>> detectors;
  // The override for `metric`: nullptr when the model's choice stands.
  [[nodiscard]] const std::string* detector_override(std::string_view metric) const {
    for (const auto& [m, spec] : detectors)
      if (m == metric) return &spec;
    return nullptr;
  }
  friend bool operator==(const Device&, const Device&) = default;
};

// True for 1..128 bytes of [A-Za-z0-9._:-].
bool is_valid_device_id(std::string_view id);

// A device from a JSON document (see above). `path` prefixes the messages ("$[3]" in an import).
[[nodiscard]] Result<Device> device_from_json(const nlohmann::json& document,
                                              std::string_view path = "$");
// The same from text; errc::invalid_json when it is not JSON.
[[nodiscard]] Result<Device> parse_device(std::string_view json_text);
// An array of devices (POST /api/v1/devices/import); errors name the element: "$[3].id: ...".
// Duplicate ids within the array are refused.
[[nodiscard]] Result<std::vector<Device>> devices_from_json(const nlohmann::json& array);

// PATCH: applies the keys present in `patch` (a JSON object) to a copy of `device` and validates
// the result; "id" may be present only with the same value; "modbus": null removes the endpoint,
// "tags" and "detectors" replace the whole set ("detectors": null removes every override).
[[nodiscard]] Result<Device> patch_device(const Device& device, const nlohmann::json& patch);

// The JSON form above, with every key present ("modbus" and "detectors" only when set).
nlohmann::json to_json(const Device& device);

}  // namespace strata::model

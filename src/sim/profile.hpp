#pragma once
// PlantProfile: the plant the simulator plays — sites, their lines, and the devices on each line
// with the model they follow, how they talk to Strata, how often they report and which faults are
// scheduled for them. Read from TOML (examples/plant.toml; the format is in docs/simulator.md):
//
//   name = "demo plant"        seed = 42        modbus_base_port = 15020
//   [[sites]]  id = "plant-a"  shifts = "three_shift"  utc_offset = "+01:00"  ambient = 22.0
//              trips_per_day = 0.1
//     [[sites.lines]]  id = "line-1"
//       devices = [ { id = "cmp-a1-01", kind = "compressor", transport = "mqtt", interval = "1s",
//                     rated_kw = 55, faults = ["bearing_wear@+2h,for=6h"] }, … ]
//
// Every error names the file, line and column, the device, and what is expected instead.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "sim/device_kind.hpp"
#include "sim/fault.hpp"
#include "sim/schedule.hpp"

namespace strata::sim {

// How a device talks to Strata.
enum class Transport : std::uint8_t { mqtt, sparkplug, http, coap, modbus };
inline constexpr std::size_t kTransportCount = 5;
std::string_view transport_name(Transport t);
std::optional<Transport> parse_transport(std::string_view text);

// The MQTT topic convention of an `mqtt` device: strata/v1/devices/{id}/telemetry or ThingsBoard's
// v1/devices/me/telemetry.
enum class MqttTopics : std::uint8_t { strata, thingsboard };

struct DeviceSpec {
  std::string id;
  DeviceKind kind = DeviceKind::compressor;
  std::string model;  // DTDL model id; default per kind
  Transport transport = Transport::mqtt;
  MqttTopics topics = MqttTopics::strata;
  Timestamp interval = kMicrosPerSecond;  // reporting interval (Modbus: register refresh)
  double rated_kw = 0;                    // 0: the kind's default size
  std::uint16_t modbus_port = 0;          // 0: modbus_base_port + the device's Modbus index
  std::uint8_t modbus_unit = 1;
  std::map<std::string, std::string> tags;
  std::vector<FaultSpec> faults;  // device is filled in from `id`
};

struct LineSpec {
  std::string id;
  std::vector<DeviceSpec> devices;
};

struct SiteSpec {
  std::string id;
  std::string name;
  ShiftPattern shifts = ShiftPattern::three_shift;
  int utc_offset_minutes = 0;
  double ambient = 22.0;       // mean hall temperature, degC
  double trips_per_day = 0.0;  // random trips per running device and day
  std::vector<LineSpec> lines;
};

struct PlantProfile {
  std::string name;
  std::uint64_t seed = 1;
  std::uint16_t modbus_base_port = 15020;
  std::vector<SiteSpec> sites;
  [[nodiscard]] std::size_t device_count() const;
};

// Parses a profile from TOML text; `source` names it in messages (a file name).
Result<PlantProfile> parse_profile(std::string_view toml_text, std::string_view source);
// Reads and parses a profile file.
Result<PlantProfile> load_profile(const std::filesystem::path& path);

}  // namespace strata::sim

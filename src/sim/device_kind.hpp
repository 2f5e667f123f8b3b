#pragma once
// What a simulated device is: its kind (compressor, pump, motor, energy meter), the telemetry it
// reports and how each metric looks on the wire (unit, decimals, sensor noise). The metric names
// are the telemetry names of the device models in examples/models/ (a model may declare fewer;
// sim/wire.hpp sends what the model declares, in the model's units).
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace strata::sim {

enum class DeviceKind : std::uint8_t { compressor, pump, motor, energy_meter };

// The operating state every machine reports (the `state` metric, as its number).
enum class RunState : std::uint8_t { stopped = 0, idle = 1, running = 2, fault = 3 };
std::string_view run_state_name(RunState s);

// One metric of a device kind.
struct MetricInfo {
  std::string_view name;
  std::string_view unit;  // DTDL unit name of the simulated value ("" for counts and states)
  int decimals = 2;       // the sensor's resolution: values are rounded to this many decimals
  double noise = 0;       // standard deviation of the sensor noise, in the metric's unit
  double spike = 0;       // default height of an injected spike
  bool counter = false;   // only increases (energy, run hours, production count)
  bool physical = true;   // false for derived values no sensor fault applies to (state)
  std::span<const std::string_view> texts = {};  // a text metric: texts[value] is what is sent
};

std::string_view kind_name(DeviceKind k);
std::optional<DeviceKind> parse_kind(std::string_view text);
// The model id a device of this kind uses unless the profile names another.
std::string_view default_model(DeviceKind k);
// The metrics a device of this kind reports, in a fixed order (the order of Emission::values).
std::span<const MetricInfo> metrics_of(DeviceKind k);
// Index of a metric in metrics_of(k), or nullopt.
std::optional<std::size_t> metric_index(DeviceKind k, std::string_view name);
// The metric a sensor fault (stuck, spike, drift) hits when the fault names none.
std::string_view default_fault_metric(DeviceKind k);

}  // namespace strata::sim

#include "sim/device_kind.hpp"

#include <array>

namespace strata::sim {
namespace {

constexpr std::string_view kBadges[] = {"B-10427", "B-20931", "B-31884",
                                        "B-47702", "B-52216", "B-60195"};

// name, unit, decimals, noise, spike, counter, physical
constexpr std::array kCompressor{
    MetricInfo{"state", "", 0, 0, 0, false, false},
    MetricInfo{"loaded", "", 0, 0, 0, false, false},
    MetricInfo{"discharge_pressure", "bar", 2, 0.02, 4.0},
    MetricInfo{"discharge_temperature", "degreeCelsius", 1, 0.3, 45.0},
    MetricInfo{"bearing_temperature", "degreeCelsius", 1, 0.2, 35.0},
    MetricInfo{"vibration_rms", "millimetrePerSecond", 2, 0.05, 8.0},
    MetricInfo{"motor_current", "ampere", 1, 0.5, 60.0},
    MetricInfo{"power", "kilowatt", 2, 0.2, 30.0},
    MetricInfo{"air_flow", "cubicMetrePerMinute", 2, 0.05, 5.0},
    MetricInfo{"energy", "kilowattHour", 3, 0, 0, true},
    MetricInfo{"run_hours", "hour", 3, 0, 0, true},
    MetricInfo{"operatorBadge", "", 0, 0, 0, false, false, kBadges},
};
constexpr std::array kPump{
    MetricInfo{"state", "", 0, 0, 0, false, false},
    MetricInfo{"speed", "revolutionPerMinute", 0, 3.0, 1500.0},
    MetricInfo{"flow", "cubicMetrePerHour", 2, 0.3, 60.0},
    MetricInfo{"suction_pressure", "bar", 2, 0.01, 2.0},
    MetricInfo{"discharge_pressure", "bar", 2, 0.02, 4.0},
    MetricInfo{"fluid_temperature", "degreeCelsius", 1, 0.1, 30.0},
    MetricInfo{"bearing_temperature", "degreeCelsius", 1, 0.2, 35.0},
    MetricInfo{"vibration_rms", "millimetrePerSecond", 2, 0.04, 8.0},
    MetricInfo{"motor_current", "ampere", 1, 0.3, 40.0},
    MetricInfo{"power", "kilowatt", 2, 0.1, 20.0},
    MetricInfo{"energy", "kilowattHour", 3, 0, 0, true},
    MetricInfo{"run_hours", "hour", 3, 0, 0, true},
};
constexpr std::array kMotor{
    MetricInfo{"state", "", 0, 0, 0, false, false},
    MetricInfo{"speed", "revolutionPerMinute", 0, 2.0, 1200.0},
    MetricInfo{"load", "percent", 1, 0.5, 60.0},
    MetricInfo{"current", "ampere", 1, 0.3, 40.0},
    MetricInfo{"voltage", "volt", 1, 0.5, 80.0},
    MetricInfo{"power", "kilowatt", 2, 0.1, 20.0},
    MetricInfo{"winding_temperature", "degreeCelsius", 1, 0.3, 50.0},
    MetricInfo{"bearing_temperature", "degreeCelsius", 1, 0.2, 35.0},
    MetricInfo{"vibration_rms", "millimetrePerSecond", 2, 0.04, 8.0},
    MetricInfo{"production_count", "", 0, 0, 0, true},
    MetricInfo{"energy", "kilowattHour", 3, 0, 0, true},
    MetricInfo{"run_hours", "hour", 3, 0, 0, true},
};
constexpr std::array kEnergyMeter{
    MetricInfo{"voltage_l1", "volt", 1, 0.3, 60.0},
    MetricInfo{"voltage_l2", "volt", 1, 0.3, 60.0},
    MetricInfo{"voltage_l3", "volt", 1, 0.3, 60.0},
    MetricInfo{"current_l1", "ampere", 1, 0.2, 150.0},
    MetricInfo{"current_l2", "ampere", 1, 0.2, 150.0},
    MetricInfo{"current_l3", "ampere", 1, 0.2, 150.0},
    MetricInfo{"active_power", "kilowatt", 2, 0.1, 80.0},
    MetricInfo{"reactive_power", "kilovoltAmpereReactive", 2, 0.1, 40.0},
    MetricInfo{"power_factor", "unity", 3, 0.002, 0.3},
    MetricInfo{"frequency", "hertz", 2, 0.005, 1.0},
    MetricInfo{"active_energy", "kilowattHour", 2, 0, 0, true},
    MetricInfo{"internal_temperature", "degreeCelsius", 1, 0.1, 30.0},
};

}  // namespace

std::string_view run_state_name(RunState s) {
  switch (s) {
    case RunState::stopped:
      return "stopped";
    case RunState::idle:
      return "idle";
    case RunState::running:
      return "running";
    case RunState::fault:
      return "fault";
  }
  return "stopped";
}

std::string_view kind_name(DeviceKind k) {
  switch (k) {
    case DeviceKind::compressor:
      return "compressor";
    case DeviceKind::pump:
      return "pump";
    case DeviceKind::motor:
      return "motor";
    case DeviceKind::energy_meter:
      return "energy_meter";
  }
  return "compressor";
}

std::optional<DeviceKind> parse_kind(std::string_view text) {
  if (text == "compressor") return DeviceKind::compressor;
  if (text == "pump") return DeviceKind::pump;
  if (text == "motor") return DeviceKind::motor;
  if (text == "energy_meter" || text == "energy-meter") return DeviceKind::energy_meter;
  return std::nullopt;
}

std::string_view default_model(DeviceKind k) {
  switch (k) {
    case DeviceKind::compressor:
      return "dtmi:strata:compressor;1";
    case DeviceKind::pump:
      return "dtmi:strata:pump;1";
    case DeviceKind::motor:
      return "dtmi:strata:motor;1";
    case DeviceKind::energy_meter:
      return "dtmi:strata:energymeter;1";
  }
  return "";
}

std::span<const MetricInfo> metrics_of(DeviceKind k) {
  switch (k) {
    case DeviceKind::compressor:
      return kCompressor;
    case DeviceKind::pump:
      return kPump;
    case DeviceKind::motor:
      return kMotor;
    case DeviceKind::energy_meter:
      return kEnergyMeter;
  }
  return {};
}

std::optional<std::size_t> metric_index(DeviceKind k, std::string_view name) {
  const auto ms = metrics_of(k);
  for (std::size_t i = 0; i < ms.size(); ++i)
    if (ms[i].name == name) return i;
  return std::nullopt;
}

std::string_view default_fault_metric(DeviceKind k) {
  switch (k) {
    case DeviceKind::compressor:
      return "discharge_temperature";
    case DeviceKind::pump:
      return "discharge_pressure";
    case DeviceKind::motor:
      return "winding_temperature";
    case DeviceKind::energy_meter:
      return "voltage_l1";
  }
  return "";
}

}  // namespace strata::sim

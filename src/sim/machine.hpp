#pragma once
// Machine: the physics of one simulated device — the state machine that follows the site's shifts
// (stopped / idle / running, and fault while tripped), and the true values of what its sensors
// measure, integrated step by step: temperatures with thermal inertia towards a load-dependent
// target, vibration with a noise floor and a running-state level, a compressor's receiver pressure
// cycling between load and unload set points, a pump's flow and head from its speed (affinity
// laws), a motor's current and slip from its load, a line's voltage, power factor and power as
// the sum of its machines, and counters (energy, run hours, parts) that only increase.
//
// Sensor effects — noise, resolution, stuck values, spikes, drift — are applied by the Plant on
// top of what a Machine reports; a Machine knows only the physical faults (bearing wear, trips).
#include <cstdint>
#include <optional>
#include <span>

#include "core/types.hpp"
#include "sim/device_kind.hpp"
#include "sim/rng.hpp"
#include "sim/schedule.hpp"

namespace strata::sim {

// What a machine needs to know about where it stands.
struct MachineSetting {
  DeviceKind kind = DeviceKind::compressor;
  double rated_kw = 0;  // 0: the kind's default
  ShiftPattern shifts = ShiftPattern::three_shift;
  int utc_offset_minutes = 0;
  double ambient = 22.0;
  double trips_per_day = 0;
};

// The electrical load of a line's machines, which its energy meter measures.
struct LineLoad {
  double active_kw = 0;
  double reactive_kvar = 0;
};

class Machine {
 public:
  Machine(const MachineSetting& setting, std::uint64_t seed);

  // Advances the physics by dt seconds to time t. `wear` is the bearing wear (0 healthy … 1 worn)
  // and `forced_trip` holds the machine in the fault state; `line` is what the other machines of
  // the line draw (used by energy meters only). Returns true when a random trip started.
  bool step(Timestamp t, double dt, double wear, bool forced_trip, const LineLoad& line);
  // The true values of metrics_of(kind) at the last step, in that order.
  void read(std::span<double> out) const;

  [[nodiscard]] RunState state() const { return state_; }
  [[nodiscard]] double active_kw() const { return power_kw_; }
  [[nodiscard]] double reactive_kvar() const;
  [[nodiscard]] Timestamp random_trip_until() const { return trip_until_; }
  [[nodiscard]] DeviceKind kind() const { return s_.kind; }

 private:
  double ambient(Timestamp t) const;
  void update_state(Timestamp t, double dt, bool forced_trip, bool& tripped);
  void step_compressor(Timestamp t, double dt, double wear);
  void step_pump(Timestamp t, double dt, double wear);
  void step_motor(Timestamp t, double dt, double wear);
  void step_meter(Timestamp t, double dt, const LineLoad& line);
  double jitter(double rel) { return 1.0 + rel * rng_.normal(); }
  double operator_on_shift(Timestamp t) const;

  MachineSetting s_;
  Rng rng_;
  double rated_kw_;
  Timestamp stagger_us_;  // this machine starts and stops a little after the shift changes
  double phase_;          // a per-machine phase for the slow demand waves
  RunState state_ = RunState::stopped;
  Timestamp idle_until_ = 0;  // a micro-stop (starved or blocked) or a warm-up
  Timestamp trip_until_ = 0;  // a random trip
  bool first_step_ = true;
  Timestamp t_ = 0;  // the time of the last step

  // Physical state; which fields a kind uses is in machine.cpp.
  double pressure_ = 0, demand_ = 0, speed_ = 0, load_ = 0;
  bool loaded_ = false;
  double temp_a_ = 0, temp_b_ = 0, temp_c_ = 0;  // discharge/fluid/winding, bearing, spare
  double vibration_ = 0, current_ = 0, power_kw_ = 0, pf_ = 1, flow_ = 0, suction_ = 0;
  double supply_volts_ = 0;
  double energy_kwh_ = 0, run_hours_ = 0, parts_ = 0, parts_frac_ = 0;
  double volt_[3] = {230, 230, 230}, amps_[3] = {0, 0, 0}, freq_ = 50, volt_wander_ = 0,
         reactive_ = 0;
};

}  // namespace strata::sim

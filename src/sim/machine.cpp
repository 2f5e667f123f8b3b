#include "sim/machine.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace strata::sim {
namespace {

constexpr double kSqrt3 = 1.7320508075688772;
constexpr double kLineVolts = 400.0;  // line-to-line
constexpr double kTwoPi = 2.0 * std::numbers::pi;

double seconds(Timestamp t) { return static_cast<double>(t) / 1e6; }

// First-order lag: a temperature (or any quantity with inertia) moving towards its target with
// time constant tau seconds.
double lag(double value, double target, double dt, double tau) {
  return value + (target - value) * (1.0 - std::exp(-dt / tau));
}

double full_load_amps(double kw, double pf, double eff) {
  return kw * 1000.0 / (kSqrt3 * kLineVolts * pf * eff);
}

double default_kw(DeviceKind k) {
  switch (k) {
    case DeviceKind::compressor:
      return 45;
    case DeviceKind::pump:
      return 15;
    case DeviceKind::motor:
      return 22;
    case DeviceKind::energy_meter:
      return 6;  // the line's base load: lighting, controls, HVAC share
  }
  return 10;
}

}  // namespace

Machine::Machine(const MachineSetting& setting, std::uint64_t seed)
    : s_(setting),
      rng_(seed),
      rated_kw_(setting.rated_kw > 0 ? setting.rated_kw : default_kw(setting.kind)) {
  stagger_us_ = static_cast<Timestamp>(rng_.uniform(0, 300)) * kMicrosPerSecond;
  phase_ = rng_.uniform(0, kTwoPi);
  // Counters of a machine that has been in service for a while.
  run_hours_ = std::round(rng_.uniform(800, 24000));
  energy_kwh_ = std::round(run_hours_ * rated_kw_ * rng_.uniform(0.4, 0.7));
  parts_ = std::round(run_hours_ * rng_.uniform(300, 700));
  volt_wander_ = rng_.normal(0, 0.5);
}

double Machine::reactive_kvar() const {
  if (s_.kind == DeviceKind::energy_meter) return reactive_;
  const double pf = std::clamp(pf_, 0.05, 1.0);
  return power_kw_ * std::tan(std::acos(pf));
}

double Machine::ambient(Timestamp t) const {
  // A hall warmer in the afternoon than at dawn (local time), a little warmer on this machine's
  // spot.
  const double local_h = std::fmod(seconds(t) / 3600.0 + s_.utc_offset_minutes / 60.0, 24.0);
  return s_.ambient + 3.0 * std::sin(kTwoPi * (local_h - 9.0) / 24.0) + 0.5 * std::sin(phase_);
}

void Machine::update_state(Timestamp t, double dt, bool forced_trip, bool& tripped) {
  tripped = false;
  if (s_.kind == DeviceKind::energy_meter) {
    state_ = RunState::running;
    return;
  }
  if (forced_trip) {
    state_ = RunState::fault;
    return;
  }
  if (t < trip_until_) {
    state_ = RunState::fault;
    return;
  }
  const ShiftStatus shift = shift_status(s_.shifts, t - stagger_us_, s_.utc_offset_minutes);
  RunState target = !shift.staffed      ? RunState::stopped
                    : !shift.production ? RunState::idle
                                        : RunState::running;
  const RunState before = state_;
  if (first_step_) {
    state_ = target;
    return;
  }
  if (target == RunState::running) {
    // From stopped or fault a machine warms up idle for a minute or two first; while running it
    // now and then waits for material (a micro-stop of 2 to 8 minutes, about every 90 minutes).
    if (before == RunState::stopped || before == RunState::fault) {
      idle_until_ = t + static_cast<Timestamp>(rng_.uniform(60, 150) * 1e6);
      target = RunState::idle;
    } else if (t < idle_until_) {
      target = RunState::idle;
    } else if (before == RunState::running && rng_.chance(dt / 5400.0)) {
      idle_until_ = t + static_cast<Timestamp>(rng_.uniform(120, 480) * 1e6);
      target = RunState::idle;
    }
    if (target == RunState::running && s_.trips_per_day > 0 &&
        rng_.chance(dt * s_.trips_per_day / 86400.0)) {
      trip_until_ = t + static_cast<Timestamp>(rng_.uniform(600, 2400) * 1e6);
      tripped = true;
      target = RunState::fault;
    }
  }
  state_ = target;
}

double Machine::operator_on_shift(Timestamp t) const {
  // Who runs this machine: three crews a day (06-14-22 local), rotating over six badges by day.
  const double local_h = seconds(t) / 3600.0 + s_.utc_offset_minutes / 60.0 - 6.0;
  const auto shift = static_cast<std::int64_t>(std::floor(local_h / 8.0));
  return static_cast<double>(((shift + static_cast<std::int64_t>(phase_ * 10)) % 6 + 6) % 6);
}

bool Machine::step(Timestamp t, double dt, double wear, bool forced_trip, const LineLoad& line) {
  t_ = t;
  bool tripped = false;
  update_state(t, dt, forced_trip, tripped);
  wear = std::clamp(wear, 0.0, 2.0);
  switch (s_.kind) {
    case DeviceKind::compressor:
      step_compressor(t, dt, wear);
      break;
    case DeviceKind::pump:
      step_pump(t, dt, wear);
      break;
    case DeviceKind::motor:
      step_motor(t, dt, wear);
      break;
    case DeviceKind::energy_meter:
      step_meter(t, dt, line);
      break;
  }
  first_step_ = false;
  return tripped;
}

// A rotary screw compressor with load/unload control on its own receiver. Loaded it delivers its
// rated flow and the receiver pressure rises; unloaded the motor idles at a third of its current
// while the plant's demand draws the pressure down. The duty cycle follows the demand.
void Machine::step_compressor(Timestamp t, double dt, double wear) {
  const bool motor_on = state_ == RunState::idle || state_ == RunState::running;
  const double ts = seconds(t);
  double demand_target = 0.03;  // leaks
  if (state_ == RunState::running || (state_ == RunState::idle && motor_on))
    demand_target =
        state_ == RunState::running ? 0.45 + 0.15 * std::sin(kTwoPi * ts / 2400.0 + phase_) : 0.12;
  if (first_step_ || demand_ == 0) demand_ = demand_target;
  demand_ += (demand_target - demand_) * std::min(1.0, dt / 60.0) +
             0.02 * std::sqrt(std::min(dt, 60.0)) * rng_.normal();
  demand_ = std::clamp(demand_, 0.01, 0.95);
  if (pressure_ == 0 && motor_on) pressure_ = 7.0;
  if (motor_on) {
    if (pressure_ < 6.5) loaded_ = true;
    if (pressure_ > 7.5) loaded_ = false;
  } else {
    loaded_ = false;
  }
  const double rate = 1.0 / 40.0;  // bar per second at full flow into an empty draw
  pressure_ += ((loaded_ ? 1.0 : 0.0) - demand_) * rate * dt;
  pressure_ = std::clamp(pressure_, 0.0, 8.5);

  const double i_fl = full_load_amps(rated_kw_, 0.86, 0.94);
  if (loaded_) {
    current_ = i_fl * (0.9 + 0.04 * (pressure_ - 6.5)) * (1 + 0.05 * wear) * jitter(0.01);
    pf_ = 0.86;
  } else if (motor_on) {
    current_ = 0.36 * i_fl * jitter(0.02);
    pf_ = 0.35;
  } else {
    current_ = 0;
    pf_ = 1;
  }
  power_kw_ = kSqrt3 * kLineVolts * current_ * pf_ / 1000.0;
  flow_ = loaded_ ? rated_kw_ * 0.16 * (1 - 0.03 * (pressure_ - 6.5)) * jitter(0.005) : 0;

  const double amb = ambient(t);
  const double target_discharge = !motor_on ? amb
                                  : loaded_ ? amb + 62 + 6 * (pressure_ - 6.5)
                                            : amb + 38;
  const double target_bearing = amb + (motor_on ? (loaded_ ? 22 : 14) : 0) + 28 * wear;
  if (temp_a_ == 0) {
    temp_a_ = target_discharge;
    temp_b_ = target_bearing;
  }
  temp_a_ = lag(temp_a_, target_discharge, dt, motor_on ? 180 : 900);
  temp_b_ = lag(temp_b_, target_bearing, dt, 900);
  const double vib = motor_on ? (loaded_ ? 2.2 : 1.4) + 7.0 * wear * wear : 0.05;
  vibration_ = std::max(0.0, vib * jitter(0.04 + 0.08 * wear));
  energy_kwh_ += power_kw_ * dt / 3600.0;
  if (motor_on) run_hours_ += dt / 3600.0;
}

// A centrifugal pump on a variable-speed drive: flow follows speed, head its square and shaft
// power its cube (the affinity laws); worn bearings add friction, heat and vibration.
void Machine::step_pump(Timestamp t, double dt, double wear) {
  const double ts = seconds(t);
  double target = 0;
  if (state_ == RunState::running)
    target = 0.78 + 0.12 * std::sin(kTwoPi * ts / 10800.0 + phase_);
  else if (state_ == RunState::idle)
    target = 0.35;  // recirculation
  demand_ += (0 - demand_) * std::min(1.0, dt / 120.0) +
             0.01 * std::sqrt(std::min(dt, 60.0)) * rng_.normal();
  demand_ = std::clamp(demand_, -0.08, 0.08);
  if (target > 0) target = std::clamp(target + demand_, 0.2, 1.0);
  speed_ = first_step_ ? target : lag(speed_, target, dt, 6.0);
  if (speed_ < 0.005) speed_ = 0;
  const double s = speed_;
  const double rated_flow = rated_kw_ * 6.0;                         // m3/h
  suction_ = 1.2 + 0.15 * std::sin(kTwoPi * ts / 18000.0 + phase_);  // tank level
  flow_ = rated_flow * s * (1 - 0.04 * wear) * jitter(0.004);
  pressure_ = suction_ + 4.5 * s * s * jitter(0.003);
  if (s > 0) {
    power_kw_ = rated_kw_ * (0.06 + 0.94 * s * s * s) * (1 + 0.06 * wear) * jitter(0.01);
    pf_ = std::min(0.87, 0.55 + 0.35 * s);
    current_ = power_kw_ * 1000.0 / (kSqrt3 * kLineVolts * pf_ * 0.93);
  } else {
    power_kw_ = 0;
    pf_ = 1;
    current_ = 0;
  }
  const double amb = ambient(t);
  const double t_fluid = amb - 4 + 6 * s;
  const double t_bearing = amb + (s > 0 ? 8 + 14 * s * s : 0) + 28 * wear;
  if (temp_a_ == 0) {
    temp_a_ = t_fluid;
    temp_b_ = t_bearing;
  }
  temp_a_ = lag(temp_a_, t_fluid, dt, 1800);
  temp_b_ = lag(temp_b_, t_bearing, dt, 900);
  const double vib = s > 0 ? 0.7 + 1.8 * s * s + 7.0 * wear * wear : 0.04;
  vibration_ = std::max(0.0, vib * jitter(0.04 + 0.08 * wear));
  energy_kwh_ += power_kw_ * dt / 3600.0;
  if (s > 0) run_hours_ += dt / 3600.0;
}

// An induction motor driving a machine of the line: its load wanders with the work, its slip and
// current follow the load, its windings heat with the square of the load over a long time
// constant, and each part the machine makes is counted.
void Machine::step_motor(Timestamp t, double dt, double wear) {
  const bool energised = state_ == RunState::idle || state_ == RunState::running;
  double target = 0;
  if (state_ == RunState::running) {
    if (demand_ == 0) demand_ = 0.72;
    // Ornstein–Uhlenbeck around 72 % load.
    const double theta = 1.0 / 240.0;
    demand_ += theta * (0.72 - demand_) * dt + 0.08 * std::sqrt(2 * theta * dt) * rng_.normal();
    demand_ = std::clamp(demand_, 0.3, 1.05);
    target = demand_;
  } else if (state_ == RunState::idle) {
    target = 0.08;
  }
  load_ = first_step_ ? target : lag(load_, target, dt, 4.0);
  const double l = load_;
  if (energised)
    speed_ = 1500.0 * (1 - 0.035 * l);
  else
    speed_ = speed_ * std::exp(-dt / 8.0) < 1 ? 0 : speed_ * std::exp(-dt / 8.0);
  const double i_fl = full_load_amps(rated_kw_, 0.85, 0.92);
  supply_volts_ = energised ? kLineVolts + 4.0 * std::sin(kTwoPi * seconds(t) / 86400.0 + phase_) -
                                  3.0 * l + volt_wander_
                            : 0.0;
  if (energised) {
    current_ = i_fl * (0.33 + 0.67 * l) * (1 + 0.04 * wear) * jitter(0.01);
    pf_ = std::clamp(0.2 + 0.7 * l, 0.2, 0.86);
    power_kw_ = kSqrt3 * kLineVolts * current_ * pf_ / 1000.0;
  } else {
    current_ = 0;
    pf_ = 1;
    power_kw_ = 0;
  }
  const double amb = ambient(t);
  const double t_winding = amb + (energised ? 8 + 62 * l * l : 0);
  const double t_bearing = amb + (energised ? 6 + 16 * l : 0) + 28 * wear;
  if (temp_a_ == 0) {
    temp_a_ = t_winding;
    temp_b_ = t_bearing;
  }
  temp_a_ = lag(temp_a_, t_winding, dt, 1500);
  temp_b_ = lag(temp_b_, t_bearing, dt, 900);
  const double vib = energised ? 0.5 + 1.4 * l + 7.0 * wear * wear : 0.04;
  vibration_ = std::max(0.0, vib * jitter(0.04 + 0.08 * wear));
  if (state_ == RunState::running) {
    parts_frac_ += 12.0 / 60.0 * dt * l / 0.72;  // about 12 parts a minute at the usual load
    const double whole = std::floor(parts_frac_);
    parts_ += whole;
    parts_frac_ -= whole;
  }
  energy_kwh_ += power_kw_ * dt / 3600.0;
  if (energised) run_hours_ += dt / 3600.0;
}

// A three-phase energy meter at the line's feeder: it sees the line's machines plus a base load,
// the supply voltage sagging a little under load and wandering through the day, and the grid
// frequency.
void Machine::step_meter(Timestamp t, double dt, const LineLoad& line) {
  const ShiftStatus shift = shift_status(s_.shifts, t, s_.utc_offset_minutes);
  const double base = rated_kw_ * (shift.staffed ? 1.0 : 0.45) * jitter(0.01);
  const double p = line.active_kw + base;
  const double q = line.reactive_kvar + base * 0.3;
  power_kw_ = p;
  reactive_ = q;
  pf_ = p > 0 ? p / std::sqrt(p * p + q * q) : 1.0;
  const double ts = seconds(t);
  volt_wander_ += -volt_wander_ * std::min(1.0, dt / 600.0) +
                  0.15 * std::sqrt(std::min(dt, 60.0)) * rng_.normal();
  const double v_common =
      230.0 + 2.5 * std::sin(kTwoPi * ts / 86400.0 + phase_) - 0.012 * p + volt_wander_;
  const double offs[3] = {0.4, -0.3, -0.1};
  const double imb[3] = {0.015, -0.01, -0.005};
  for (int i = 0; i < 3; ++i) {
    volt_[i] = v_common + offs[i];
    amps_[i] = p * 1000.0 / (3.0 * volt_[i] * pf_) * (1 + imb[i]);
  }
  freq_ += -(freq_ - 50.0) * std::min(1.0, dt / 30.0) +
           0.004 * std::sqrt(std::min(dt, 60.0)) * rng_.normal();
  freq_ = std::clamp(freq_, 49.8, 50.2);
  const double t_internal = ambient(t) + 9.0 + 0.01 * p;
  temp_a_ = temp_a_ == 0 ? t_internal : lag(temp_a_, t_internal, dt, 1200);
  energy_kwh_ += p * dt / 3600.0;
}

void Machine::read(std::span<double> out) const {
  const double state = static_cast<double>(static_cast<int>(state_));
  switch (s_.kind) {
    case DeviceKind::compressor: {
      const double v[] = {state,   loaded_ ? 1.0 : 0.0, pressure_,  temp_a_,
                          temp_b_, vibration_,          current_,   power_kw_,
                          flow_,   energy_kwh_,         run_hours_, operator_on_shift(t_)};
      std::copy(std::begin(v), std::end(v), out.begin());
      break;
    }
    case DeviceKind::pump: {
      const double v[] = {state,   speed_ * 2960.0, flow_,    suction_,  pressure_,   temp_a_,
                          temp_b_, vibration_,      current_, power_kw_, energy_kwh_, run_hours_};
      std::copy(std::begin(v), std::end(v), out.begin());
      break;
    }
    case DeviceKind::motor: {
      const double v[] = {state,   speed_,  load_ * 100.0, current_, supply_volts_, power_kw_,
                          temp_a_, temp_b_, vibration_,    parts_,   energy_kwh_,   run_hours_};
      std::copy(std::begin(v), std::end(v), out.begin());
      break;
    }
    case DeviceKind::energy_meter: {
      const double v[] = {volt_[0],  volt_[1],  volt_[2], amps_[0], amps_[1],    amps_[2],
                          power_kw_, reactive_, pf_,      freq_,    energy_kwh_, temp_a_};
      std::copy(std::begin(v), std::end(v), out.begin());
      break;
    }
  }
}

}  // namespace strata::sim

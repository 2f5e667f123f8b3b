#include "sim/plant.hpp"

#include <algorithm>
#include <cmath>

#include "sim/errc.hpp"

namespace strata::sim {
namespace {

constexpr Timestamp kWarmUp = 3600 * kMicrosPerSecond;

double round_to(double v, int decimals) {
  static constexpr double kPow[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  const double p = kPow[std::clamp(decimals, 0, 6)];
  return std::round(v * p) / p;
}

std::string metric_list(DeviceKind k) {
  std::string s;
  for (const auto& m : metrics_of(k))
    if (m.physical && !m.counter) s += (s.empty() ? "" : ", ") + std::string(m.name);
  return s;
}

}  // namespace

Result<std::unique_ptr<Plant>> Plant::create(const PlantProfile& profile, std::uint64_t seed,
                                             Timestamp start) {
  std::unique_ptr<Plant> p(new Plant(seed, start));
  for (const auto& site : profile.sites) {
    for (const auto& line : site.lines) {
      const std::size_t li = p->lines_.size();
      p->lines_.emplace_back();
      for (const auto& d : line.devices) {
        const std::size_t idx = p->devices_.size();
        p->devices_.push_back(PlantDevice{d, site.id, line.id, li});
        p->lines_[li].push_back(idx);
        MachineSetting ms{d.kind,       d.rated_kw,        site.shifts, site.utc_offset_minutes,
                          site.ambient, site.trips_per_day};
        const std::uint64_t dseed = Rng::seed_for(seed, d.id);
        Unit u{Machine(ms, dseed), Rng(dseed ^ 0x5e5503ULL), 0, d.interval, {}, {}};
        u.truth.resize(metrics_of(d.kind).size());
        // Devices are not in step with each other: each reports at its own phase in its interval.
        Rng phase(dseed ^ 0x9a5eULL);
        const Timestamp phase_ms =
            static_cast<Timestamp>(phase.uniform() * static_cast<double>(d.interval / 1000));
        u.next = start - kWarmUp + phase_ms * 1000;
        p->units_.push_back(std::move(u));
      }
    }
  }
  for (std::size_t i = 0; i < p->units_.size(); ++i)
    p->due_.push(
        Due{p->units_[i].next, p->devices_[i].spec.kind == DeviceKind::energy_meter ? 1 : 0, i});
  // Warm up: run the hour before the start without reporting.
  while (!p->due_.empty() && p->due_.top().ts <= start) {
    const Due d = p->due_.top();
    p->due_.pop();
    (void)p->step(d.device, d.ts);
    p->units_[d.device].next = d.ts + p->units_[d.device].interval;
    p->due_.push(Due{p->units_[d.device].next, d.rank, d.device});
  }
  for (const auto& d : p->devices_)
    for (const auto& f : d.spec.faults) {
      FaultSpec spec = f;
      spec.device = d.spec.id;
      auto r = p->inject(spec, start, "profile");
      if (!r) return r.error();
    }
  return p;
}

std::optional<std::size_t> Plant::find(std::string_view id) const {
  for (std::size_t i = 0; i < devices_.size(); ++i)
    if (devices_[i].spec.id == id) return i;
  return std::nullopt;
}

Result<FaultRecord> Plant::inject(const FaultSpec& spec, Timestamp reference,
                                  std::string_view source) {
  const auto idx = find(spec.device);
  if (!idx) {
    std::string some;
    for (std::size_t i = 0; i < devices_.size() && i < 6; ++i)
      some += (i ? ", " : "") + devices_[i].spec.id;
    return Error::of(errc::fault, "fault on '" + spec.device +
                                      "': no such device in the profile (devices are " + some +
                                      (devices_.size() > 6 ? ", …" : "") + ")");
  }
  const PlantDevice& dev = devices_[*idx];
  const DeviceKind kind = dev.spec.kind;
  if (kind == DeviceKind::energy_meter &&
      (spec.kind == FaultKind::bearing_wear || spec.kind == FaultKind::trip))
    return Error::of(errc::fault, "fault on '" + spec.device + "': an energy meter has no " +
                                      std::string(fault_kind_name(spec.kind)) +
                                      " (use stuck_sensor, spike, drift or outage)");
  FaultRecord r;
  r.device = dev.spec.id;
  r.kind = spec.kind;
  r.source = std::string(source);
  r.start = spec.at ? *spec.at : reference + spec.offset;
  const Timestamp dur = spec.duration ? *spec.duration : default_fault_duration(spec.kind);
  FaultState fs;
  if (is_sensor_fault(spec.kind)) {
    r.metric = spec.metric.empty() ? std::string(default_fault_metric(kind)) : spec.metric;
    const auto mi = metric_index(kind, r.metric);
    if (!mi || !metrics_of(kind)[*mi].physical)
      return Error::of(errc::fault, "fault on '" + spec.device + "': a " +
                                        std::string(kind_name(kind)) + " has no sensor '" +
                                        r.metric + "' (metrics: " + metric_list(kind) + ")");
    fs.metric = *mi;
    const MetricInfo& m = metrics_of(kind)[*mi];
    if (spec.kind == FaultKind::spike) r.magnitude = spec.magnitude ? *spec.magnitude : m.spike;
    if (spec.kind == FaultKind::drift)
      r.magnitude = spec.magnitude ? *spec.magnitude : m.spike / 10.0;
  } else if (spec.kind == FaultKind::bearing_wear) {
    r.metric = "vibration_rms";
    r.magnitude = spec.magnitude ? *spec.magnitude : 1.0;
  }
  // A one-sample spike: the window holds exactly one sample (it is cut to just after it once hit).
  r.end = r.start + (dur > 0 ? dur : dev.spec.interval);
  fs.one_sample = dur == 0 && spec.kind == FaultKind::spike;
  units_[*idx].faults.push_back(faults_.size());
  faults_.push_back(r);
  fault_states_.push_back(fs);
  return r;
}

LineLoad Plant::line_load(std::size_t device) const {
  LineLoad l;
  for (std::size_t i : lines_[devices_[device].line_index]) {
    if (devices_[i].spec.kind == DeviceKind::energy_meter) continue;
    l.active_kw += units_[i].machine.active_kw();
    l.reactive_kvar += units_[i].machine.reactive_kvar();
  }
  return l;
}

std::optional<Emission> Plant::step(std::size_t device, Timestamp t) {
  Unit& u = units_[device];
  double wear = 0;
  bool trip = false, outage = false;
  for (std::size_t fi : u.faults) {
    FaultRecord& f = faults_[fi];
    if (!f.active(t)) continue;
    if (f.kind == FaultKind::bearing_wear) {
      const double frac = static_cast<double>(t - f.start) / static_cast<double>(f.end - f.start);
      wear = std::max(wear, f.magnitude * frac);
    } else if (f.kind == FaultKind::trip) {
      trip = true;
    } else if (f.kind == FaultKind::outage) {
      outage = true;
    }
  }
  const bool tripped =
      u.machine.step(t, static_cast<double>(u.interval) / 1e6, wear, trip, line_load(device));
  if (tripped && t >= start_) {
    FaultRecord r;
    r.device = devices_[device].spec.id;
    r.kind = FaultKind::trip;
    r.source = "random";
    r.start = t;
    r.end = u.machine.random_trip_until();
    u.faults.push_back(faults_.size());
    faults_.push_back(r);
    fault_states_.push_back(FaultState{});
  }
  if (t < start_) return std::nullopt;

  const auto metrics = metrics_of(devices_[device].spec.kind);
  u.machine.read(u.truth);
  Emission e{device, t, std::vector<double>(metrics.size())};
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    double v = u.truth[i];
    // A sensor reads noise around its value; a machine that is off reads a clean zero (the
    // deadband of current transformers, flow meters and tachometers).
    const double noise = u.sensor_rng.normal();
    if (metrics[i].noise > 0 && v != 0) v += metrics[i].noise * noise;
    e.values[i] = v;
  }
  for (std::size_t fi : u.faults) {
    FaultRecord& f = faults_[fi];
    if (!f.active(t)) continue;
    if (!f.first_sample) f.first_sample = t;
    f.last_sample = t;
    FaultState& fs = fault_states_[fi];
    switch (f.kind) {
      case FaultKind::drift:
        e.values[fs.metric] +=
            f.magnitude * static_cast<double>(t - f.start) / (3600.0 * kMicrosPerSecond);
        break;
      case FaultKind::spike:
        e.values[fs.metric] += f.magnitude;
        if (fs.one_sample) f.end = t + 1;  // one sample: the window ends here
        break;
      default:
        break;
    }
  }
  for (std::size_t i = 0; i < metrics.size(); ++i)
    e.values[i] = std::max(0.0, round_to(e.values[i], metrics[i].decimals)) + 0.0;
  for (std::size_t fi : u.faults) {
    FaultRecord& f = faults_[fi];
    if (f.kind != FaultKind::stuck_sensor || !f.active(t)) continue;
    FaultState& fs = fault_states_[fi];
    if (!fs.stuck) fs.stuck = e.values[fs.metric];
    e.values[fs.metric] = *fs.stuck;
  }
  if (outage) return std::nullopt;
  return e;
}

std::vector<Emission> Plant::advance_to(Timestamp t) {
  std::vector<Emission> out;
  while (!due_.empty() && due_.top().ts <= t) {
    const Due d = due_.top();
    due_.pop();
    if (auto e = step(d.device, d.ts)) out.push_back(std::move(*e));
    units_[d.device].next = d.ts + units_[d.device].interval;
    due_.push(Due{units_[d.device].next, d.rank, d.device});
  }
  now_ = std::max(now_, t);
  return out;
}

}  // namespace strata::sim

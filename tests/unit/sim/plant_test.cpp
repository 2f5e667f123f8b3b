#include "sim/plant.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/clock.hpp"
#include "core/time_format.hpp"

namespace strata::sim {
namespace {

constexpr Timestamp kSec = kMicrosPerSecond;
constexpr Timestamp kMin = 60 * kSec;
constexpr Timestamp kHour = 60 * kMin;

// One line of each kind on a plant that never stops, and one on a weekday two-shift site.
constexpr const char* kProfile = R"(
[[sites]]
id = "cont"
shifts = "continuous"
ambient = 20.0
  [[sites.lines]]
  id = "l1"
  devices = [
    { id = "cmp", kind = "compressor", rated_kw = 45 },
    { id = "pmp", kind = "pump", rated_kw = 15 },
    { id = "mtr", kind = "motor", rated_kw = 22 },
    { id = "em", kind = "energy_meter", transport = "modbus" },
  ]
[[sites]]
id = "shifty"
shifts = "two_shift"
  [[sites.lines]]
  id = "l1"
  devices = [
    { id = "cmp2", kind = "compressor" },
    { id = "mtr2", kind = "motor", interval = "5s" },
  ]
)";

// Wednesday 2026-11-25 08:00 UTC.
Timestamp wednesday_8am() { return *parse_iso8601("2026-11-25T08:00:00Z"); }

PlantProfile profile() {
  auto p = parse_profile(kProfile, "test.toml");
  EXPECT_TRUE(p) << p.error().message;
  return *p;
}

std::unique_ptr<Plant> make_plant(std::uint64_t seed = 1, Timestamp start = wednesday_8am()) {
  auto p = Plant::create(profile(), seed, start);
  EXPECT_TRUE(p) << p.error().message;
  return std::move(*p);
}

// Drives the plant with a simulated clock in 10-second steps, as the runner does in real time.
std::vector<Emission> run(Plant& plant, Timestamp duration) {
  SimulatedClock clock(plant.start());
  std::vector<Emission> all;
  const Timestamp end = plant.start() + duration;
  while (clock.now() < end) {
    clock.advance(10 * kSec);
    auto batch = plant.poll(clock);
    for (auto& e : batch) all.push_back(std::move(e));
  }
  return all;
}

struct Series {
  std::vector<Timestamp> ts;
  std::vector<double> v;
};

Series series(const Plant& plant, const std::vector<Emission>& all, std::string_view device,
              std::string_view metric) {
  const std::size_t d = *plant.find(device);
  const std::size_t m = *metric_index(plant.devices()[d].spec.kind, metric);
  Series s;
  for (const auto& e : all)
    if (e.device == d) {
      s.ts.push_back(e.ts);
      s.v.push_back(e.values[m]);
    }
  return s;
}

double mean(const std::vector<double>& v, std::size_t from = 0, std::size_t to = SIZE_MAX) {
  to = std::min(to, v.size());
  if (from >= to) return NAN;
  return std::accumulate(v.begin() + static_cast<std::ptrdiff_t>(from),
                         v.begin() + static_cast<std::ptrdiff_t>(to), 0.0) /
         static_cast<double>(to - from);
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double ma = mean(a), mb = mean(b);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Mean of the values with timestamps in [from, to).
double window_mean(const Series& s, Timestamp from, Timestamp to) {
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.ts.size(); ++i)
    if (s.ts[i] >= from && s.ts[i] < to) sum += s.v[i], ++n;
  return n ? sum / static_cast<double>(n) : NAN;
}

TEST(Plant, SameSeedSameSeriesOtherSeedOtherSeries) {
  auto a = make_plant(7), b = make_plant(7), c = make_plant(8);
  const auto ea = run(*a, 30 * kMin), eb = run(*b, 30 * kMin), ec = run(*c, 30 * kMin);
  ASSERT_EQ(ea.size(), eb.size());
  ASSERT_GT(ea.size(), 5000u);
  for (std::size_t i = 0; i < ea.size(); ++i) {
    ASSERT_EQ(ea[i].device, eb[i].device);
    ASSERT_EQ(ea[i].ts, eb[i].ts);
    ASSERT_EQ(ea[i].values, eb[i].values) << "sample " << i;
  }
  const auto ta = series(*a, ea, "cmp", "discharge_temperature");
  const auto tc = series(*c, ec, "cmp", "discharge_temperature");
  EXPECT_NE(ta.v, tc.v);
}

TEST(Plant, SamplesComeInTimeOrderAtEachDevicesInterval) {
  auto p = make_plant();
  const auto all = run(*p, 10 * kMin);
  for (std::size_t i = 1; i < all.size(); ++i) ASSERT_LE(all[i - 1].ts, all[i].ts);
  for (const auto& [dev, iv] : {std::pair{"cmp", kSec}, std::pair{"mtr2", 5 * kSec}}) {
    const auto s = series(*p, all, dev, "state");
    ASSERT_GT(s.ts.size(), 10u);
    EXPECT_GT(s.ts.front(), p->start());
    EXPECT_LE(s.ts.front(), p->start() + iv);
    for (std::size_t i = 1; i < s.ts.size(); ++i) ASSERT_EQ(s.ts[i] - s.ts[i - 1], iv);
    EXPECT_EQ(s.ts.front() % 1000, 0);  // whole milliseconds on the wire
  }
}

TEST(Plant, CountersOnlyIncrease) {
  // Across a whole day of shift changes on both sites.
  auto p = make_plant(3);
  const auto all = run(*p, 24 * kHour);
  std::size_t checked = 0;
  for (std::size_t d = 0; d < p->devices().size(); ++d) {
    const auto metrics = metrics_of(p->devices()[d].spec.kind);
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      if (!metrics[m].counter) continue;
      double last = -1;
      double first = -1;
      for (const auto& e : all) {
        if (e.device != d) continue;
        if (first < 0) first = e.values[m];
        ASSERT_GE(e.values[m], last) << p->devices()[d].spec.id << " " << metrics[m].name;
        last = e.values[m];
      }
      EXPECT_GT(last, first) << p->devices()[d].spec.id << " " << metrics[m].name;
      ++checked;
    }
  }
  // compressors and pumps: energy, run hours; motors also parts; meters energy.
  EXPECT_EQ(checked, 2u + 2u + 3u + 1u + 2u + 3u);
}

TEST(Plant, CompressorCyclesBetweenLoadAndUnloadPressure) {
  auto p = make_plant();
  const auto all = run(*p, 2 * kHour);
  const auto pressure = series(*p, all, "cmp", "discharge_pressure");
  const auto loaded = series(*p, all, "cmp", "loaded");
  const auto current = series(*p, all, "cmp", "motor_current");
  const auto temp = series(*p, all, "cmp", "discharge_temperature");
  const auto state = series(*p, all, "cmp", "state");
  std::vector<double> cur_loaded, cur_unloaded;
  std::size_t switches = 0, running = 0;
  for (std::size_t i = 0; i < pressure.v.size(); ++i) {
    if (state.v[i] != 2) continue;
    ++running;
    EXPECT_GT(pressure.v[i], 6.2);
    EXPECT_LT(pressure.v[i], 7.8);
    EXPECT_GT(temp.v[i], 50);
    EXPECT_LT(temp.v[i], 110);
    (loaded.v[i] == 1 ? cur_loaded : cur_unloaded).push_back(current.v[i]);
    if (i && loaded.v[i] != loaded.v[i - 1]) ++switches;
  }
  ASSERT_GT(running, pressure.v.size() / 2);
  const double duty = static_cast<double>(cur_loaded.size()) / static_cast<double>(running);
  EXPECT_GT(duty, 0.25);
  EXPECT_LT(duty, 0.85);
  EXPECT_GT(switches, 40u);  // cycles of a few minutes over two hours
  EXPECT_GT(mean(cur_loaded), 2.0 * mean(cur_unloaded));
  // Thermal inertia: the discharge temperature moves by well under a degree a second.
  for (std::size_t i = 1; i < temp.v.size(); ++i)
    EXPECT_LT(std::fabs(temp.v[i] - temp.v[i - 1]), 2.0);
}

TEST(Plant, PumpAndMotorFollowTheirPhysics) {
  auto p = make_plant();
  const auto all = run(*p, 3 * kHour);
  const auto speed = series(*p, all, "pmp", "speed");
  const auto flow = series(*p, all, "pmp", "flow");
  const auto dp = series(*p, all, "pmp", "discharge_pressure");
  EXPECT_GT(correlation(speed.v, flow.v), 0.95);
  EXPECT_GT(correlation(speed.v, dp.v), 0.9);
  const auto load = series(*p, all, "mtr", "load");
  const auto current = series(*p, all, "mtr", "current");
  const auto rpm = series(*p, all, "mtr", "speed");
  EXPECT_GT(correlation(load.v, current.v), 0.9);
  EXPECT_LT(correlation(load.v, rpm.v), -0.9);  // slip grows with load
  for (double v : rpm.v) {
    EXPECT_LE(v, 1500 + 4 * 2.0);  // synchronous speed plus sensor noise
    if (v > 0) {
      EXPECT_GT(v, 1400);
    }
  }
  const auto vib = series(*p, all, "mtr", "vibration_rms");
  const auto state = series(*p, all, "mtr", "state");
  for (std::size_t i = 0; i < vib.v.size(); ++i)
    if (state.v[i] == 2) {
      EXPECT_GT(vib.v[i], 0.5);
      EXPECT_LT(vib.v[i], 4.0);
    }
}

TEST(Plant, EnergyMeterMeasuresItsLine) {
  auto p = make_plant();
  const auto all = run(*p, kHour);
  const auto meter = series(*p, all, "em", "active_power");
  // The line's machines report at other phases; compare averages over the hour.
  const double machines = mean(series(*p, all, "cmp", "power").v) +
                          mean(series(*p, all, "pmp", "power").v) +
                          mean(series(*p, all, "mtr", "power").v);
  EXPECT_GT(mean(meter.v), machines + 3.0);  // plus the base load (6 kW by default)
  EXPECT_LT(mean(meter.v), machines + 10.0);
  for (const char* ph : {"voltage_l1", "voltage_l2", "voltage_l3"})
    for (double v : series(*p, all, "em", ph).v) {
      EXPECT_GT(v, 220);
      EXPECT_LT(v, 240);
    }
  for (double v : series(*p, all, "em", "power_factor").v) {
    EXPECT_GT(v, 0.4);
    EXPECT_LE(v, 1.0);
  }
  for (double v : series(*p, all, "em", "frequency").v) {
    EXPECT_GE(v, 49.75);
    EXPECT_LE(v, 50.25);
  }
}

TEST(Plant, ShiftsStopTheTwoShiftSiteOnWeekendsAndNights) {
  // Saturday 2026-11-28 12:00 UTC: nobody at the two-shift site, the continuous one runs.
  auto p = make_plant(1, *parse_iso8601("2026-11-28T12:00:00Z"));
  const auto all = run(*p, 20 * kMin);
  for (double s : series(*p, all, "cmp2", "state").v) ASSERT_EQ(s, 0);
  for (double v : series(*p, all, "cmp2", "vibration_rms").v) EXPECT_LT(v, 0.3);  // noise floor
  for (double v : series(*p, all, "mtr2", "current").v) EXPECT_EQ(v, 0);
  EXPECT_GT(mean(series(*p, all, "cmp", "vibration_rms").v), 1.0);
  // Wednesday 05:55 UTC: the two-shift site starts at 06:00 (plus up to 5 minutes of stagger),
  // warming up idle first.
  auto q = make_plant(1, *parse_iso8601("2026-11-25T05:55:00Z"));
  const auto morning = run(*q, 30 * kMin);
  const auto st = series(*q, morning, "mtr2", "state");
  EXPECT_EQ(st.v.front(), 0);
  EXPECT_EQ(st.v.back(), 2);
  const auto first_running = std::find(st.v.begin(), st.v.end(), 2.0) - st.v.begin();
  const auto first_idle = std::find(st.v.begin(), st.v.end(), 1.0) - st.v.begin();
  EXPECT_LT(first_idle, first_running);
  // Winding temperature rises slowly after the start (a long thermal time constant).
  const auto wt = series(*q, morning, "mtr2", "winding_temperature");
  const std::size_t k = static_cast<std::size_t>(first_running);
  ASSERT_LT(k + 12, wt.v.size());
  EXPECT_LT(wt.v[k + 12] - wt.v[k], 10.0);  // one minute later
  EXPECT_GT(wt.v.back(), wt.v[k] + 3.0);    // ~20 minutes later
}

// A twin plant without the fault isolates what the fault changed: both draw the same random
// numbers, so every difference is the fault's.
struct Twin {
  std::unique_ptr<Plant> faulty = make_plant(5), healthy = make_plant(5);
  std::vector<Emission> f, h;
  FaultRecord record;
  void inject(const std::string& text) {
    auto spec = parse_fault_spec(text);
    ASSERT_TRUE(spec) << spec.error().message;
    auto r = faulty->inject(*spec, faulty->start(), "test");
    ASSERT_TRUE(r) << r.error().message;
    record = *r;
  }
  void go(Timestamp d) {
    f = run(*faulty, d);
    h = run(*healthy, d);
  }
};

TEST(PlantFaults, BearingWearRaisesVibrationAndBearingTemperatureOverItsWindow) {
  Twin t;
  t.inject("cmp:bearing_wear@+10m,for=2h");
  t.go(3 * kHour);
  const Timestamp s = t.record.start, e = t.record.end;
  const auto fv = series(*t.faulty, t.f, "cmp", "vibration_rms");
  const auto hv = series(*t.healthy, t.h, "cmp", "vibration_rms");
  const auto fb = series(*t.faulty, t.f, "cmp", "bearing_temperature");
  const auto hb = series(*t.healthy, t.h, "cmp", "bearing_temperature");
  // Before: identical. Early in the window: barely changed. Late: far above the healthy twin.
  EXPECT_EQ(window_mean(fv, t.faulty->start(), s), window_mean(hv, t.faulty->start(), s));
  EXPECT_LT(window_mean(fv, s, s + 10 * kMin) - window_mean(hv, s, s + 10 * kMin), 0.3);
  EXPECT_GT(window_mean(fv, e - 15 * kMin, e) - window_mean(hv, e - 15 * kMin, e), 3.0);
  EXPECT_GT(window_mean(fb, e - 15 * kMin, e) - window_mean(hb, e - 15 * kMin, e), 12.0);
  // Rising: each half hour of the window worse than the one before.
  double prev = -1;
  for (Timestamp w = s; w + 30 * kMin <= e; w += 30 * kMin) {
    const double d = window_mean(fv, w, w + 30 * kMin) - window_mean(hv, w, w + 30 * kMin);
    EXPECT_GT(d, prev);
    prev = d;
  }
  // After the repair (window end) the vibration is back to normal.
  EXPECT_LT(
      window_mean(fv, e + 5 * kMin, e + 60 * kMin) - window_mean(hv, e + 5 * kMin, e + 60 * kMin),
      0.3);
  const FaultRecord& r = t.faulty->faults().front();
  EXPECT_EQ(r.metric, "vibration_rms");
  ASSERT_TRUE(r.first_sample && r.last_sample);
  EXPECT_GE(*r.first_sample, s);
  EXPECT_LT(*r.first_sample, s + kSec);
  EXPECT_LT(*r.last_sample, e);
  EXPECT_GE(*r.last_sample, e - kSec);
}

TEST(PlantFaults, StuckSensorFreezesOneMetricInItsWindow) {
  Twin t;
  t.inject("pmp:stuck_sensor@+5m,for=20m,metric=discharge_pressure");
  t.go(40 * kMin);
  const auto f = series(*t.faulty, t.f, "pmp", "discharge_pressure");
  const auto h = series(*t.healthy, t.h, "pmp", "discharge_pressure");
  std::vector<double> inside;
  for (std::size_t i = 0; i < f.ts.size(); ++i) {
    if (t.record.active(f.ts[i]))
      inside.push_back(f.v[i]);
    else
      EXPECT_EQ(f.v[i], h.v[i]);
  }
  ASSERT_GT(inside.size(), 1000u);
  EXPECT_TRUE(std::all_of(inside.begin(), inside.end(), [&](double v) { return v == inside[0]; }));
  std::vector<double> healthy_inside;
  for (std::size_t i = 0; i < h.ts.size(); ++i)
    if (t.record.active(h.ts[i])) healthy_inside.push_back(h.v[i]);
  EXPECT_GT(*std::max_element(healthy_inside.begin(), healthy_inside.end()) -
                *std::min_element(healthy_inside.begin(), healthy_inside.end()),
            0.05);
  // Other metrics of the device are untouched.
  EXPECT_EQ(series(*t.faulty, t.f, "pmp", "flow").v, series(*t.healthy, t.h, "pmp", "flow").v);
}

TEST(PlantFaults, SpikeHitsExactlyOneSample) {
  Twin t;
  t.inject("mtr:spike@+5m,metric=vibration_rms,magnitude=9");
  t.go(15 * kMin);
  const auto f = series(*t.faulty, t.f, "mtr", "vibration_rms");
  const auto h = series(*t.healthy, t.h, "mtr", "vibration_rms");
  std::size_t differing = 0;
  for (std::size_t i = 0; i < f.v.size(); ++i)
    if (f.v[i] != h.v[i]) {
      ++differing;
      EXPECT_NEAR(f.v[i] - h.v[i], 9.0, 0.011);
      const FaultRecord& r = t.faulty->faults().front();
      ASSERT_TRUE(r.first_sample);
      EXPECT_EQ(*r.first_sample, f.ts[i]);
      EXPECT_EQ(*r.last_sample, f.ts[i]);
      EXPECT_EQ(r.end, f.ts[i] + 1);
    }
  EXPECT_EQ(differing, 1u);
}

TEST(PlantFaults, DriftAddsABiasGrowingByTheHour) {
  Twin t;
  t.inject("cmp:drift@+0s,for=2h,metric=discharge_temperature,magnitude=6");
  t.go(150 * kMin);
  const auto f = series(*t.faulty, t.f, "cmp", "discharge_temperature");
  const auto h = series(*t.healthy, t.h, "cmp", "discharge_temperature");
  for (std::size_t i = 0; i < f.v.size(); ++i) {
    const double hours = static_cast<double>(f.ts[i] - t.record.start) / kHour;
    const double expect = t.record.active(f.ts[i]) ? 6.0 * hours : 0.0;
    // Within one step of the 0.1 degC resolution.
    ASSERT_NEAR(f.v[i] - h.v[i], expect, 0.101) << "at " << format_iso8601(f.ts[i]);
  }
}

TEST(PlantFaults, OutageWithholdsSamplesOnlyInItsWindow) {
  Twin t;
  t.inject("em:outage@+10m,for=5m");
  t.go(30 * kMin);
  const auto f = series(*t.faulty, t.f, "em", "active_power");
  const auto h = series(*t.healthy, t.h, "em", "active_power");
  std::size_t withheld = 0;
  for (Timestamp ts : h.ts)
    if (t.record.active(ts)) ++withheld;
  EXPECT_EQ(withheld, 300u);
  EXPECT_EQ(f.ts.size() + withheld, h.ts.size());
  for (Timestamp ts : f.ts) EXPECT_FALSE(t.record.active(ts));
  const FaultRecord& r = t.faulty->faults().front();
  ASSERT_TRUE(r.first_sample && r.last_sample);
  EXPECT_EQ(*r.last_sample - *r.first_sample, 299 * kSec);
  // The other devices keep reporting.
  EXPECT_EQ(series(*t.faulty, t.f, "cmp", "state").ts.size(),
            series(*t.healthy, t.h, "cmp", "state").ts.size());
}

TEST(PlantFaults, TripStopsTheMachineAndShowsFault) {
  Twin t;
  t.inject("pmp:trip@+5m,for=10m");
  t.go(40 * kMin);
  const auto st = series(*t.faulty, t.f, "pmp", "state");
  const auto pw = series(*t.faulty, t.f, "pmp", "power");
  for (std::size_t i = 0; i < st.ts.size(); ++i)
    if (t.record.active(st.ts[i])) {
      EXPECT_EQ(st.v[i], 3);
      if (st.ts[i] > t.record.start + kMin) {  // spun down
        EXPECT_EQ(pw.v[i], 0);
      }
    }
  EXPECT_EQ(st.v.back(), 2);  // restarted through idle after the window
}

TEST(PlantFaults, InjectRefusesUnknownDevicesAndMetrics) {
  auto p = make_plant();
  auto spec = parse_fault_spec("nope:spike@+1m");
  auto r = p->inject(*spec, p->start(), "test");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no such device"), std::string::npos);
  EXPECT_NE(r.error().message.find("cmp, pmp"), std::string::npos);
  auto r2 = p->inject(*parse_fault_spec("pmp:drift@+1m,metric=colour"), p->start(), "test");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("a pump has no sensor 'colour' (metrics: speed, flow"),
            std::string::npos)
      << r2.error().message;
  auto r3 = p->inject(*parse_fault_spec("em:bearing_wear@+1m"), p->start(), "test");
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message.find("an energy meter has no bearing_wear"), std::string::npos);
}

TEST(PlantFaults, RandomTripsAreRecorded) {
  auto prof = profile();
  prof.sites[0].trips_per_day = 1000;  // about one every 90 s of running per machine
  auto p = Plant::create(prof, 9, wednesday_8am());
  ASSERT_TRUE(p);
  const auto all = run(**p, 2 * kHour);
  std::size_t trips = 0;
  for (const auto& r : (*p)->faults()) {
    EXPECT_EQ(r.kind, FaultKind::trip);
    EXPECT_EQ(r.source, "random");
    EXPECT_GE(r.end - r.start, 10 * kMin);
    ++trips;
    const auto st = series(**p, all, r.device, "state");
    for (std::size_t i = 0; i < st.ts.size(); ++i) {
      if (st.ts[i] > r.start && st.ts[i] < r.end) {
        ASSERT_EQ(st.v[i], 3) << r.device;
      }
    }
  }
  EXPECT_GE(trips, 4u);  // three machines, two hours, trips of 10 to 40 minutes
}

}  // namespace
}  // namespace strata::sim

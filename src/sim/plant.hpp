#pragma once
// Plant: the whole simulated plant — one Machine per device of the profile, each reporting on its
// own interval, energy meters measuring their line's machines, and the faults placed in time.
// It is a pure function of (profile, seed, start time, injected faults): advancing it to the same
// time always yields the same samples, whatever the wall clock did, so tests drive it with a
// SimulatedClock and the runner with a scaled wall clock.
//
// REQUIRES: one thread at a time (the runner's loop owns it).
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "sim/fault.hpp"
#include "sim/machine.hpp"
#include "sim/profile.hpp"

namespace strata::sim {

// A device of the plant: its profile entry and where it stands.
struct PlantDevice {
  DeviceSpec spec;
  std::string site;
  std::string line;
  std::size_t line_index = 0;  // dense over all lines of all sites
};

// One sample of one device: the values of metrics_of(kind), in that order, as its sensors report
// them (noise, resolution and sensor faults applied).
struct Emission {
  std::size_t device = 0;
  Timestamp ts = 0;
  std::vector<double> values;
};

class Plant {
 public:
  // Builds the plant whose first samples fall just after `start`. The machines run through the
  // hour before `start` without reporting, so states and temperatures are settled from the first
  // sample. Faults of the profile are placed relative to `start`. Fails on a fault that names an
  // unknown metric.
  static Result<std::unique_ptr<Plant>> create(const PlantProfile& profile, std::uint64_t seed,
                                               Timestamp start);

  // Places a fault; a relative start counts from `reference`. Returns the record as placed.
  // Errors name the unknown device or metric and list what exists.
  Result<FaultRecord> inject(const FaultSpec& spec, Timestamp reference, std::string_view source);

  // Every sample due at or before t, in time order (at equal times, machines before meters, then
  // profile order). Samples withheld by an outage are not returned.
  std::vector<Emission> advance_to(Timestamp t);
  // The same up to clock.now().
  std::vector<Emission> poll(const Clock& clock) { return advance_to(clock.now()); }

  [[nodiscard]] std::span<const PlantDevice> devices() const { return devices_; }
  [[nodiscard]] std::optional<std::size_t> find(std::string_view id) const;
  // Every fault placed so far (profile, command line, stdin, random trips), in placing order.
  [[nodiscard]] const std::vector<FaultRecord>& faults() const { return faults_; }
  [[nodiscard]] Timestamp start() const { return start_; }
  [[nodiscard]] Timestamp now() const { return now_; }
  [[nodiscard]] std::uint64_t seed() const { return seed_; }
  // The machine state of a device after its last step.
  [[nodiscard]] RunState state(std::size_t device) const { return units_[device].machine.state(); }

 private:
  struct Unit {
    Machine machine;
    Rng sensor_rng;
    Timestamp next = 0;               // the next step (sample) time
    Timestamp interval = 0;           // µs
    std::vector<std::size_t> faults;  // indices into faults_ that name this device
    std::vector<double> truth;        // scratch for Machine::read
  };
  struct FaultState {
    std::optional<double> stuck;  // the frozen value of a stuck sensor
    std::size_t metric = 0;       // index into metrics_of(kind)
    bool one_sample = false;      // a spike without a duration
  };
  struct Due {
    Timestamp ts;
    int rank;  // 0 machines, 1 meters
    std::size_t device;
    bool operator>(const Due& o) const {
      if (ts != o.ts) return ts > o.ts;
      if (rank != o.rank) return rank > o.rank;
      return device > o.device;
    }
  };

  Plant(std::uint64_t seed, Timestamp start) : seed_(seed), start_(start), now_(start) {}
  std::optional<Emission> step(std::size_t device, Timestamp t);
  LineLoad line_load(std::size_t device) const;

  std::uint64_t seed_;
  Timestamp start_, now_;
  std::vector<PlantDevice> devices_;
  std::vector<Unit> units_;
  std::vector<FaultRecord> faults_;
  std::vector<FaultState> fault_states_;
  std::vector<std::vector<std::size_t>> lines_;  // devices of each line
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
};

}  // namespace strata::sim

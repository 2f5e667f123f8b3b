#pragma once
// Faults the simulator injects, so the platform's detectors have something true to find. A fault
// comes from the plant profile, from `strata sim --fault`, from a line on the simulator's standard
// input, or (trips only) from chance; each one becomes a FaultRecord holding the window it was
// active in and the first and last sample it touched, which tests and the demo compare with what
// the platform detected.
//
// Fault text (the --fault option and standard-input lines):
//
//   DEVICE:KIND@START[,for=DURATION][,metric=NAME][,magnitude=X]
//
//   KIND       bearing_wear | stuck_sensor | spike | drift | outage | trip
//   START      +DURATION (after the reference: the run's start for the profile and --fault, the
//              current simulated time for a standard-input line) or an ISO 8601 time
//   for        how long it lasts (defaults: bearing_wear 6h, stuck_sensor 30m, spike one sample,
//              drift 4h, outage 10m, trip 20m)
//   metric     the metric a sensor fault hits (stuck_sensor, spike, drift; default per kind)
//   magnitude  bearing_wear: severity at the end of the ramp (1 = +7 mm/s, +28 degC);
//              spike: added to the value; drift: bias added per hour (defaults per metric)
//
//   e.g.  cmp-a1-01:bearing_wear@+2m,for=3h     pmp-b2-02:stuck_sensor@2026-11-25T10:00:00Z
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::sim {

enum class FaultKind : std::uint8_t { bearing_wear, stuck_sensor, spike, drift, outage, trip };

std::string_view fault_kind_name(FaultKind k);
std::optional<FaultKind> parse_fault_kind(std::string_view text);
// How long a fault of this kind lasts when its spec names no duration (0: one sample).
Timestamp default_fault_duration(FaultKind k);
// True for the kinds that change what a sensor reports rather than what the machine does.
constexpr bool is_sensor_fault(FaultKind k) {
  return k == FaultKind::stuck_sensor || k == FaultKind::spike || k == FaultKind::drift;
}

// A fault as written, before it is tied to a time and a device.
struct FaultSpec {
  std::string device;
  FaultKind kind = FaultKind::spike;
  std::optional<Timestamp>
      at;  // absolute start (µs UTC); when absent, `offset` after the reference
  Timestamp offset = 0;
  std::optional<Timestamp> duration;
  std::string metric;  // empty: the device kind's default fault metric
  std::optional<double> magnitude;
};

// Reads the fault text above. Errors name the part that is wrong and what is expected.
Result<FaultSpec> parse_fault_spec(std::string_view text);

// A fault placed in time: what tests and the demo compare detections against.
struct FaultRecord {
  std::string device;
  FaultKind kind = FaultKind::spike;
  std::string metric;  // the metric a sensor fault hits; bearing_wear: vibration_rms
  std::string source;  // profile, command_line, stdin, random
  Timestamp start = 0;
  Timestamp end = 0;  // exclusive; a one-sample spike ends just after its sample
  double magnitude = 0;
  std::optional<Timestamp> first_sample;  // the first and last sample the fault changed (outage:
  std::optional<Timestamp> last_sample;   // withheld); absent while none has been reached
  [[nodiscard]] bool active(Timestamp t) const { return t >= start && t < end; }
};

// One JSON object (a line of the fault log): {"device":…,"kind":…,"metric":…,"source":…,
// "start":"ISO","end":"ISO","start_us":…,"end_us":…,"magnitude":…,"first_sample":"ISO"|null,
// "last_sample":"ISO"|null}.
std::string fault_record_json(const FaultRecord& r);

}  // namespace strata::sim

#pragma once
// SimRunner: `strata sim` without the command line — the plant driven by a scaled wall clock,
// its samples handed to each device's transport, faults taken from standard input while it runs,
// a status line every few seconds, and the fault log and totals written for whoever checks
// detection afterwards.
//
// Standard input (when enabled): one fault a line, in the fault text of sim/fault.hpp, with a
// relative start counted from the current simulated time ("cmp-a1-01:stuck_sensor@+0s,for=5m").
// Each line is answered on the status stream with "fault placed: {record}" or "fault refused: …".
//
// Fault log (--fault-log): one JSON object a line per fault (sim/fault.hpp, fault_record_json),
// rewritten whole at every status line and at the end.
// Summary (--summary): one JSON object with the run's totals per transport:
//   {"seed":42,"sim_start":"…","sim_end":"…","samples":N,"transports":{"mqtt":{"devices":16,
//    "up":16,"sent":…,"acked":…,"failed":…,"samples_sent":…,"samples_acked":…},…},"faults":[…]}
#include <atomic>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "sim/coap_uplink.hpp"
#include "sim/http_uplink.hpp"
#include "sim/modbus_server.hpp"
#include "sim/mqtt_uplink.hpp"
#include "sim/plant.hpp"
#include "sim/sparkplug_uplink.hpp"
#include "sim/wire.hpp"

namespace strata::sim {

struct SimOptions {
  std::string server = "http://127.0.0.1:8080";  // REST (provisioning) and HTTP telemetry
  std::string mqtt = "127.0.0.1:1883";
  std::string coap = "127.0.0.1:5683";
  std::string modbus_host = "127.0.0.1";  // where the Modbus servers listen
  std::string admin_token;                // for provisioning
  bool provision = true;                  // false: no REST calls; each device's token is its id
  std::filesystem::path profile = "examples/plant.toml";
  std::filesystem::path models = "examples/models";
  std::optional<std::uint64_t> seed;              // default: the profile's
  double speed = 1.0;                             // simulated seconds per wall second
  Timestamp duration = 0;                         // simulated time to run; 0: until stop()
  std::optional<Timestamp> start;                 // simulated start; default: now
  std::vector<std::string> faults;                // fault texts, relative to the start
  Timestamp status_every = 5 * kMicrosPerSecond;  // wall time between status lines
  bool read_stdin = false;
  std::filesystem::path fault_log;  // empty: none
  std::filesystem::path summary;    // empty: none
};

// Totals of one transport, as the status line and the summary show them.
struct TransportTotals {
  std::size_t devices = 0;
  std::uint32_t up = 0;
  std::uint64_t sent = 0, acked = 0, failed = 0, samples_sent = 0, samples_acked = 0;
};

class SimRunner {
 public:
  // Loads the profile and models, builds the plant, places the faults of the options, provisions
  // the devices and starts every transport. Errors name the option or file to fix.
  static Result<std::unique_ptr<SimRunner>> create(SimOptions options, std::FILE* status_out);
  ~SimRunner();

  // Runs until the duration has passed or stop() is called, then waits up to 5 s for the
  // outstanding acknowledgements and writes the fault log and summary.
  Status run();
  // Thread-safe; run() returns soon after.
  void stop() { stop_ = true; }
  // Thread-safe: places a fault (fault text, start relative to the current simulated time) at
  // the next tick. Returns the parse error at once.
  Status inject(const std::string& text);

  [[nodiscard]] TransportTotals totals(Transport t) const;
  [[nodiscard]] std::string status_line() const;
  [[nodiscard]] const Plant& plant() const { return *plant_; }
  // The Modbus port of a device, or 0.
  [[nodiscard]] std::uint16_t modbus_port(std::string_view device) const;
  // The models' view of each device (what it sends), in Plant::devices() order.
  [[nodiscard]] const std::vector<WireModel>& wire() const { return wire_; }

 private:
  // The simulated clock of a run: `speed` simulated seconds per wall second from `start`.
  class ScaledClock final : public Clock {
   public:
    ScaledClock(Timestamp start, double speed);
    [[nodiscard]] Timestamp now() const override;

   private:
    Timestamp start_;
    double speed_;
    std::chrono::steady_clock::time_point wall0_;
  };

  SimRunner() = default;
  void dispatch(std::vector<Emission>& batch);
  void apply_pending_faults();
  void write_outputs() const;
  void read_stdin_lines();

  SimOptions opt_;
  std::FILE* out_ = nullptr;
  std::unique_ptr<Plant> plant_;
  std::unique_ptr<ScaledClock> clock_;
  std::vector<WireModel> wire_;
  std::vector<std::size_t> slot_;  // device → its index within its transport
  std::vector<std::size_t> count_by_transport_ = std::vector<std::size_t>(kTransportCount);
  std::unique_ptr<MqttUplink> mqtt_;
  std::unique_ptr<HttpUplink> http_;
  std::unique_ptr<CoapUplink> coap_;
  std::unique_ptr<SparkplugUplink> sparkplug_;
  std::unique_ptr<ModbusServer> modbus_;
  std::vector<std::size_t> modbus_devices_;  // slot → device
  std::uint64_t samples_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex pending_mu_;
  std::deque<FaultSpec> pending_;
  std::vector<std::string> pending_text_;
};

}  // namespace strata::sim

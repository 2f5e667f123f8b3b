#pragma once
// ModbusPoller: Modbus TCP devices do not send anything — someone has to ask. The poller reads each
// configured device's register map at the device's interval, decodes the registers into readings
// and hands one TelemetryMessage per poll to the pipeline; it also carries device commands the
// other way (register writes). Wire encoding of the values: ingest/modbus/register_codec.hpp.
//
// Threads. The devices share a small pool of worker threads. A worker takes the device that is due
// first, does its I/O (blocking libmodbus calls, bounded by the device's response timeout) and
// gives it back, so a device is in the hands of one thread at a time and its libmodbus context is
// never used by two threads at once. A device that times out holds one worker for at most its
// timeout; the other devices go on on the other workers.
//
// Time. Every due time is computed from the Clock (a SimulatedClock in tests): a device is polled
// when clock.now() reaches its due time. Workers wait on a condition variable for the real time
// left until the earliest due time (at most options.max_idle_wait); wake() makes them look at the
// clock again at once, which is what a test does after moving a SimulatedClock.
//
// What a poll submits (pipeline::TelemetryMessage):
//   transport = modbus, device_id = the device's id, message_id = "<device id>/<poll number>"
//   (1, 2, ... per device since start()), received = clock.now() after the reads,
//   raw = the hex dump of the registers read (register_codec.hpp), one Reading per map entry whose
//   read request succeeded (metric = the entry's telemetry name, no own timestamp).
//
// Failures are reported per device in ModbusDeviceHealth (counters and the last error, for /metrics
// and the device's health):
//   - cannot connect, timeout, broken reply: the connection is closed and re-opened after a backoff
//     that doubles from options.backoff_initial to options.backoff_max (reset by a good poll);
//   - a Modbus exception (the device answered "illegal data address", ...): counted, the connection
//     is kept; the other read requests of the poll still deliver their readings.
// Back-pressure: when TelemetrySink::submit refuses a message, the poller keeps it and offers it
// again after options.backpressure_retry; the device's next poll waits until it was taken. Nothing
// is dropped (except a message still held when stop() is called: the device keeps the values).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "ingest/modbus/register_codec.hpp"
#include "model/modbus_register.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::ingest {

// One polled device: where it is and what to read (from the device registry and its model).
struct ModbusDeviceConfig {
  std::string device_id;  // the registry id; the messages carry it
  std::string host;       // name or address of the Modbus TCP server (device or gateway)
  std::uint16_t port = 502;
  int unit_id = 1;  // the Modbus unit (slave) id, 0..255; gateways route on it
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds response_timeout{1000};  // also bounds the TCP connect
  std::vector<model::ModbusRegister> registers;      // the model's register map
};

// Knobs of the poller as a whole.
struct ModbusPollerOptions {
  std::size_t workers = 2;  // threads; at most one per device is started
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds backpressure_retry{100};
  std::chrono::milliseconds max_idle_wait{1000};  // longest real wait before the clock is re-read
};

// What /metrics and the device health show of one polled device. Counters only grow.
struct ModbusDeviceHealth {
  std::string device_id;
  bool connected = false;
  std::uint64_t polls = 0;              // messages submitted to the pipeline
  std::uint64_t read_requests = 0;      // read requests answered with registers
  std::uint64_t connect_failures = 0;   // TCP connects that failed
  std::uint64_t io_errors = 0;          // timeouts and broken replies (the connection is re-opened)
  std::uint64_t modbus_exceptions = 0;  // exception replies from the device
  std::uint64_t backpressure_retries = 0;  // submits the pipeline refused (the message was kept)
  std::uint64_t stored = 0;                // readings stored, from the pipeline's completions
  std::uint64_t quarantined = 0;           // readings quarantined, from the completions
  std::uint64_t store_errors = 0;          // messages whose completion reported a store error
  std::uint64_t writes = 0;                // register writes done
  std::uint64_t write_failures = 0;
  std::string last_error;  // empty until something failed; names the device, request and fix
  Timestamp last_error_at = 0;
  Timestamp last_poll_at = 0;  // clock time of the last message submitted
};

// Polls Modbus TCP devices on a thread pool; see the top of this file.
class ModbusPoller {
 public:
  // How a write ends: ok, or the error (connection, exception, out of range, ...). Runs on a worker
  // thread, or inside write() when the request is refused before any I/O; must not block.
  using WriteDone = std::function<void(const Status&)>;

  // Checks every device (id present and unique, host, interval and timeout > 0, unit id 0..255,
  // register map per plan_modbus_reads) and builds the poller, not started. errc
  // bad_device_config / bad_register_map name the device and what to fix.
  [[nodiscard]] static Result<std::unique_ptr<ModbusPoller>> create(
      std::vector<ModbusDeviceConfig> devices, pipeline::TelemetrySink& sink, const Clock& clock,
      ModbusPollerOptions options = {});

  ModbusPoller(const ModbusPoller&) = delete;
  ModbusPoller& operator=(const ModbusPoller&) = delete;
  ~ModbusPoller();  // stop()

  // Starts the workers; every device is due at once.
  void start();
  // Stops the workers after the I/O in progress; pending writes end with errc::stopped.
  void stop();
  // Makes idle workers re-read the clock now (after a SimulatedClock moved).
  void wake();

  [[nodiscard]] std::vector<ModbusDeviceHealth> health() const;
  [[nodiscard]] std::optional<ModbusDeviceHealth> health(std::string_view device_id) const;

  // Writes `value` to the holding register(s) the device's map names for `telemetry`, encoded as a
  // poll would decode it (scale and offset inverted; function 6 for 16-bit types, 16 for 32-bit
  // ones). Queued to the device and done by the worker that next takes it, before its next poll.
  // Refused at once (done called inside this call) for an unknown device or telemetry, an input
  // register, or a value out of range.
  void write(std::string_view device_id, std::string_view telemetry, double value, WriteDone done);

 private:
  struct Device;
  struct Write;
  ModbusPoller(pipeline::TelemetrySink& sink, const Clock& clock, ModbusPollerOptions options);
  void work();
  // REQUIRES: the calling worker holds `device` (Device::busy), for these three.
  void serve(Device& device);
  void poll(Device& device, Timestamp now);
  void submit(Device& device, Timestamp now);
  void record_error(Device& device, std::uint64_t ModbusDeviceHealth::*counter,
                    const std::string& message);
  void back_off(Device& device, Timestamp now);
  [[nodiscard]] Timestamp due(const Device& device) const;  // REQUIRES: mutex_ held

  pipeline::TelemetrySink& sink_;
  const Clock& clock_;
  ModbusPollerOptions options_;
  std::vector<std::unique_ptr<Device>> devices_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace strata::ingest

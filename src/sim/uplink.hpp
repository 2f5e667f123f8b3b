#pragma once
// Uplink: how simulated devices hand their telemetry to one transport (MQTT, HTTP, CoAP), and the
// counters that let a test prove end to end that what was sent is what was stored: a message is
// `sent` when it left the simulator, `acked` when the server acknowledged it (MQTT PUBACK, HTTP
// 200, CoAP 2.xx), `failed` when it could not be sent or the server refused it. The Modbus server
// uses the same counters: `sent` counts register refreshes, `acked` requests it answered.
#include <atomic>
#include <cstdint>
#include <string>

namespace strata::sim {

struct LinkCounters {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> samples_sent{0};   // samples inside the sent messages
  std::atomic<std::uint64_t> samples_acked{0};  // samples inside the acknowledged ones
  std::atomic<std::uint32_t> devices_up{0};     // connected (MQTT), reachable (HTTP, CoAP), serving
};

// One message of one device: the JSON telemetry payload and how many samples it holds.
struct UplinkMessage {
  std::size_t slot = 0;  // the device's index in the uplink's device list
  std::string payload;
  std::size_t samples = 1;
};

// A transport's sending side. send() never blocks on the network; failures are counted.
class Uplink {
 public:
  virtual ~Uplink() = default;
  virtual void send(UplinkMessage message) = 0;
  // Waits up to `timeout_ms` for every sent message to be acknowledged or failed.
  virtual void drain(int timeout_ms) = 0;
  [[nodiscard]] const LinkCounters& counters() const { return counters_; }
  // The last error a server or the library reported, for the status line ("" when none).
  [[nodiscard]] virtual std::string last_error() const = 0;

 protected:
  LinkCounters counters_;
};

}  // namespace strata::sim

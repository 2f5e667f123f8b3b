#pragma once
// ModbusServer: simulated Modbus TCP devices. Modbus devices send nothing; Strata's poller reads
// their registers. So the simulator serves, for each Modbus device, a TCP server (libmodbus) on
// its own port whose holding and input registers hold the device's latest sample, encoded per its
// model's register map exactly as the poller decodes it (ingest/modbus/register_codec.hpp, the
// poller's own codec: raw = (value - offset) / scale, then the type's byte and word order).
// One thread serves every device's listening socket and clients with select(). Until a device's
// first sample is written, its requests are answered with exception 6 (server device busy), as a
// device still booting would, so no poll reads zeros that look like readings.
//
// Counters: `sent` counts register refreshes, `acked` requests answered, `failed` values that did
// not fit their register (named in last_error()).
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "model/modbus_register.hpp"
#include "sim/uplink.hpp"

namespace strata::sim {

struct ModbusDevice {
  std::string id;
  std::uint16_t port = 0;  // 0: any free port (see ModbusServer::port())
  std::vector<model::ModbusRegister> registers;
  std::vector<int> value_index;  // registers[i]'s value in the values given to update(); -1: none
};

class ModbusServer {
 public:
  static Result<std::unique_ptr<ModbusServer>> create(const std::string& host,
                                                      std::vector<ModbusDevice> devices);
  ~ModbusServer();
  // The port device `slot` listens on.
  [[nodiscard]] std::uint16_t port(std::size_t slot) const;
  // Writes a sample into device `slot`'s registers; `samples` is how many samples were due since
  // the last refresh (only the newest is kept, as a real device's registers keep only the present).
  void update(std::size_t slot, std::span<const double> values, std::size_t samples = 1);
  [[nodiscard]] const LinkCounters& counters() const { return counters_; }
  [[nodiscard]] std::string last_error() const;

 private:
  struct Served;
  ModbusServer() = default;
  void run();

  std::vector<std::unique_ptr<Served>> served_;
  mutable std::mutex mu_;
  std::string last_error_;
  LinkCounters counters_;
  int wake_[2] = {-1, -1};
  std::thread worker_;
};

}  // namespace strata::sim

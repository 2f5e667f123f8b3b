#pragma once
// MqttUplink: simulated devices as MQTT clients (libmosquitto), one connection per device with the
// device token as username and an empty password, publishing JSON telemetry at QoS 1 either on
// Strata's topic strata/v1/devices/{id}/telemetry or on ThingsBoard's v1/devices/me/telemetry.
// A message is acknowledged by its PUBACK. While a device is disconnected its messages are counted
// as failed (not queued), so the counters never hide a backlog.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sim/profile.hpp"
#include "sim/uplink.hpp"

struct mosquitto;

namespace strata::sim {

struct MqttDevice {
  std::string id;
  std::string token;  // the MQTT username
  MqttTopics topics = MqttTopics::strata;
};

class MqttUplink final : public Uplink {
 public:
  // Starts one client per device connecting to host:port (connections complete in the
  // background; devices_up counts the connected ones).
  static Result<std::unique_ptr<MqttUplink>> create(const std::string& host, int port,
                                                    std::vector<MqttDevice> devices);
  ~MqttUplink() override;
  void send(UplinkMessage message) override;
  void drain(int timeout_ms) override;
  [[nodiscard]] std::string last_error() const override;
  // Waits up to timeout_ms until every device is connected; true when they are.
  bool wait_connected(int timeout_ms) const;

 private:
  struct Client;
  MqttUplink() = default;
  static void on_connect(struct mosquitto*, void* obj, int rc);
  static void on_disconnect(struct mosquitto*, void* obj, int rc);
  static void on_publish(struct mosquitto*, void* obj, int mid);
  void set_error(std::string e);

  std::vector<std::unique_ptr<Client>> clients_;
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace strata::sim

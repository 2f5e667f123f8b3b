#pragma once
// Provisioning: before its devices talk, the simulator registers what they are with Strata's REST
// surface, as an installer would — each device model (POST /api/v1/models, the DTDL file as read)
// and each device (POST /api/v1/devices with its site, line, tags, "state":"active" and, for a
// Modbus device, the "modbus" endpoint the poller should read), collecting the device access
// token each creation returns. A model or device that already exists (409) is fine: the device is
// brought up to date (PATCH) and its token rotated (POST /api/v1/devices/{id}/token) to learn it
// again. Authenticated with an API token (the admin token that `strata serve` writes to
// DATA_DIR/admin-token).
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>

#include "core/result.hpp"
#include "sim/plant.hpp"
#include "sim/wire.hpp"

namespace strata::sim {

struct ProvisionReport {
  std::map<std::string, std::string> tokens;  // device id → device access token
  std::size_t models_created = 0, models_existing = 0;
  std::size_t devices_created = 0, devices_existing = 0;
};

struct ProvisionTarget {
  std::string server;       // http://127.0.0.1:8080
  std::string admin_token;  // a user API token (stk_…)
  std::string modbus_host = "127.0.0.1";
  std::function<std::uint16_t(std::size_t device)> modbus_port;  // for Modbus devices
};

// Registers the models the devices use (those found in `catalog`) and the devices. Fails on the
// first refusal with the server's problem detail, naming the model or device.
Result<ProvisionReport> provision(const ProvisionTarget& target, const ModelCatalog& catalog,
                                  std::span<const PlantDevice> devices);

// The body of POST /api/v1/devices for a device (without "modbus" when port is 0).
std::string device_document(const PlantDevice& device, const std::string& modbus_host,
                            std::uint16_t modbus_port);

}  // namespace strata::sim

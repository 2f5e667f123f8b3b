#pragma once
// DeviceAuthenticator: how a transport learns who is connecting. The device registry implements
// it; transports see nothing else of the registry. Tokens and secrets are compared against hashes
// (the registry never keeps them in clear).
#include <optional>
#include <string>
#include <string_view>

namespace strata::ingest {

struct DeviceIdentity {
  std::string device_id;
};

class DeviceAuthenticator {
 public:
  virtual ~DeviceAuthenticator() = default;
  // A device access token (MQTT username with an empty password, CoAP/HTTP path or bearer).
  [[nodiscard]] virtual std::optional<DeviceIdentity> by_token(std::string_view token) const = 0;
  // A device id with its secret (MQTT username/password).
  [[nodiscard]] virtual std::optional<DeviceIdentity> by_secret(std::string_view device_id,
                                                                std::string_view secret) const = 0;
};

}  // namespace strata::ingest

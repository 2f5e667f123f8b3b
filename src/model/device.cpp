#include "model/device.hpp"

#include <nlohmann/json.hpp>
namespace strata::model {
std::string_view device_state_name(DeviceState) { return "?"; }
std::optional<DeviceState> parse_device_state(std::string_view) { return std::nullopt; }
bool is_valid_device_id(std::string_view) { return false; }
Result<Device> device_from_json(const nlohmann::json&, std::string_view) {
  return Error::of(errc::invalid_device, "not implemented yet");
}
Result<Device> parse_device(std::string_view) {
  return Error::of(errc::invalid_device, "not implemented yet");
}
Result<std::vector<Device>> devices_from_json(const nlohmann::json&) {
  return Error::of(errc::invalid_device, "not implemented yet");
}
Result<Device> patch_device(const Device&, const nlohmann::json&) {
  return Error::of(errc::invalid_device, "not implemented yet");
}
nlohmann::json to_json(const Device&) { return {}; }
}  // namespace strata::model

#include "model/device_model.hpp"

#include <nlohmann/json.hpp>
namespace strata::model {
std::string_view schema_kind_name(SchemaKind) { return "?"; }
bool operator==(const Schema& a, const Schema& b) {
  return a.kind == b.kind && a.enum_value_schema == b.enum_value_schema &&
         a.enum_values == b.enum_values && a.fields == b.fields;
}
const Telemetry* DeviceModel::find_telemetry(std::string_view) const { return nullptr; }
const Property* DeviceModel::find_property(std::string_view) const { return nullptr; }
const Command* DeviceModel::find_command(std::string_view) const { return nullptr; }
std::vector<ModbusRegister> DeviceModel::register_map() const { return {}; }
Result<DeviceModel> parse_device_model(std::string_view) {
  return Error::of(errc::invalid_model, "not implemented yet");
}
Result<DeviceModel> parse_device_model(const nlohmann::json&) {
  return Error::of(errc::invalid_model, "not implemented yet");
}
nlohmann::json to_json(const DeviceModel&) { return {}; }
std::optional<Dimension> semantic_type_dimension(std::string_view) { return std::nullopt; }
std::string_view register_table_name(RegisterTable) { return "?"; }
std::string_view register_type_name(RegisterType) { return "?"; }
std::string_view byte_order_name(ByteOrder) { return "?"; }
}  // namespace strata::model

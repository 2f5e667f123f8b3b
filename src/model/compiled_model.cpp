#include "model/compiled_model.hpp"
namespace strata::model {
Result<double> TelemetrySpec::accept(double number, std::optional<std::string_view>) const {
  return number;
}
std::string_view TelemetrySpec::enum_name(double) const { return {}; }
Result<double> TelemetrySpec::check_range(double value) const { return value; }
Result<CompiledModel> CompiledModel::create(const DeviceModel&) {
  return Error::of(errc::invalid_model, "not implemented yet");
}
const TelemetrySpec* CompiledModel::find(std::string_view) const { return nullptr; }
Result<double> CompiledModel::accept(std::string_view, double,
                                     std::optional<std::string_view>) const {
  return Error::of(errc::unknown_metric, "not implemented yet");
}
}  // namespace strata::model

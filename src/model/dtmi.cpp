#include "model/dtmi.hpp"
namespace strata::model {
std::optional<std::string> dtmi_error(std::string_view) { return std::nullopt; }
bool dtmi_has_version(std::string_view) { return true; }
}  // namespace strata::model

#pragma once
// Which detector scores what. A series gets the detector its device names for its metric
// (`"detectors": {"temp": "<spec>" | "off"}`), else the one its model's telemetry names
// (`"strata:detector"`); a device whose model has `"strata:multivariate"` gets one multivariate
// detector over those signals. A choice carries a version, `name@<CRC-32C of every parameter>`
// (defaults included), so a restarted server restores a checkpointed detector only when its
// configuration is the same, and an event says exactly which configuration produced it.
//
// DetectorSpecValidator is the registry's check (registry::DocumentValidator): a model or device
// naming a detector that cannot be built is refused when it is written, with the JSONPath and the
// parameter, instead of failing later on the data path.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/detector_registry.hpp"
#include "analytics/multivariate.hpp"
#include "core/result.hpp"
#include "detect/errc.hpp"
#include "pipeline/device_catalog.hpp"
#include "registry/document_validator.hpp"

namespace strata::detect {

// A detector as chosen: the spec as written, parsed, and its version.
struct DetectorChoice {
  std::string text;  // "ensemble:spatial_tolerance=0.05", as written in the model or device
  analytics::DetectorSpec spec;
  std::string version;  // "ensemble@1a2b3c4d"
  // The same configuration (equal versions: "ensemble" and "ensemble:rest=0" are the same).
  [[nodiscard]] bool same_as(const DetectorChoice& o) const { return version == o.version; }
};

// A univariate detector spec, parsed and versioned (not built: cheap). Unknown detectors and
// parameters are refused; values are range-checked by check_buildable().
[[nodiscard]] Result<DetectorChoice> choose_detector(std::string_view text);
// Builds the detector once: refuses values out of range with the parameter and its range.
[[nodiscard]] Status check_buildable(const DetectorChoice& choice);

// The multivariate detector over `signals` (names, in order): the spec must name `mahalanobis`;
// its `signals` parameter is the list's length, not set by hand. The version covers the signal
// names too.
[[nodiscard]] Result<DetectorChoice> choose_multivariate(std::string_view text,
                                                         std::span<const std::string> signals);
[[nodiscard]] Result<analytics::MultivariateDetector::Config> multivariate_config(
    const DetectorChoice& choice, std::size_t signals);

// The spec text a device's metric is scored with: the device's override, else the model's
// strata:detector; nullopt for none ("off", no detector, or a metric the model lacks).
[[nodiscard]] std::optional<std::string_view> detector_text(const pipeline::DeviceContext& ctx,
                                                            std::string_view metric);
// Whether `metric` is one of the device model's multivariate signals.
[[nodiscard]] bool is_signal(const pipeline::DeviceContext& ctx, std::string_view metric);

// The registry's check of every model and device that names detectors.
class DetectorSpecValidator final : public registry::DocumentValidator {
 public:
  [[nodiscard]] Status check_model(const model::DeviceModel& m) const override;
  [[nodiscard]] Status check_device(const model::Device& d,
                                    const model::DeviceModel& m) const override;
};

}  // namespace strata::detect

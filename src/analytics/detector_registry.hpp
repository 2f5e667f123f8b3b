#pragma once
// Detectors chosen at run time, by name and parameters (a device model, `strata nab --detector`):
// AnyDetector holds one of this module's detectors in a std::variant, so a call dispatches by a
// switch, never a virtual call, and each alternative's update() stays inlinable.
//
// A detector spec reads `name` or `name:param=value,param=value`, e.g.
// `baseline:alpha=0.1,season_seconds=0`. Unknown names and parameters, and values outside their
// range, are refused with a message naming the detector, the parameter and the allowed range.
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/detectors.hpp"

namespace strata::analytics {

// A detector by name with parameters over its defaults.
struct DetectorSpec {
  std::string name = "ensemble";
  std::vector<Param> params;
  [[nodiscard]] std::string to_string() const;
};

// Parses `name[:param=value[,param=value…]]`.
[[nodiscard]] Result<DetectorSpec> parse_detector_spec(std::string_view text);

// The names AnyDetector::create accepts, the default first.
[[nodiscard]] std::vector<std::string_view> detector_names();

// Every parameter of the detector `spec` names, its defaults included, in the detector's order,
// without building it: what identifies a configuration (the detection stage's detector version
// is a checksum of it). Unknown detectors and parameters are refused as create() refuses them;
// values are range-checked by create() only.
[[nodiscard]] Result<std::vector<Param>> spec_parameters(const DetectorSpec& spec);

// One of this module's univariate detectors, chosen at run time.
class AnyDetector {
 public:
  [[nodiscard]] static Result<AnyDetector> create(const DetectorSpec& spec);
  // Rebuilds whichever detector the state frame holds (its kind byte says which).
  [[nodiscard]] static Result<AnyDetector> restore(std::span<const std::uint8_t> bytes);

  Assessment update(Timestamp ts, double value) {
    return std::visit([&](auto& d) { return d.update(ts, value); }, d_);
  }
  void save(std::vector<std::uint8_t>& out) const {
    std::visit([&](const auto& d) { d.save(out); }, d_);
  }
  [[nodiscard]] std::size_t memory_bytes() const {
    return std::visit([](const auto& d) { return d.memory_bytes(); }, d_);
  }
  [[nodiscard]] std::string_view name() const {
    return std::visit(
        [](const auto& d) { return std::string_view(std::decay_t<decltype(d)>::kName); }, d_);
  }
  // The configuration as name=value pairs.
  [[nodiscard]] std::vector<Param> parameters() const;

 private:
  using Variant = std::variant<Ensemble, RobustBaseline, LikelihoodBaseline, HoltWinters,
                               ContextualDetector, ChangePointDetector, MeanShiftDetector,
                               RankContextDetector, SpectralResidual, RandomCutForest>;
  explicit AnyDetector(Variant d) : d_(std::move(d)) {}
  Variant d_;
};

}  // namespace strata::analytics

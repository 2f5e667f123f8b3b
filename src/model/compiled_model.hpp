#pragma once
// CompiledModel: a device model turned into what the ingestion pipeline needs per reading — for
// each telemetry a TelemetrySpec that maps the value as sent (a number, or text for enums and
// booleans) to the number stored: enum names become their values, booleans 0/1, the unit is
// converted to the target unit, and the result is checked against [strata:min, strata:max].
//
// The validator calls accept() once per reading on the hot path: a successful call allocates
// nothing (lookup by metric is a binary search over views; enum names are compared in place), and
// only a refusal builds its message. A CompiledModel is immutable once built and may be shared by
// every shard thread without locks.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "model/device_model.hpp"
#include "model/errc.hpp"
#include "model/units.hpp"

namespace strata::model {

// Maximum length of a value of a string telemetry (longer text is refused, not truncated).
inline constexpr std::size_t kMaxTextValueBytes = 1024;

// The ingestion rules of one telemetry, precomputed.
class TelemetrySpec {
 public:
  // Maps a reading to the number stored, or refuses it:
  //  - double/float/integer/long: `number`, converted to the target unit. Refused (wrong_type):
  //    text; NaN or ±inf; integer/long values that are not integral or outside int32/int64;
  //    float values beyond ±FLT_MAX.
  //  - boolean: 0 or 1, or text "true"/"false" (also "1"/"0") → 1/0.
  //  - Enum: text is an enum name (or, for a string enum, its enumValue); a number must be one of
  //    an integer enum's values. Returns the integer value, or a string enum entry's position.
  //  - string: text required (at most kMaxTextValueBytes); returns 0 — the text itself is the
  //    value (the pipeline pseudonymises it first when personal()) and is stored dictionary-coded.
  // Then the range: out_of_range when outside [min, max] (in the target unit), e.g.
  //   metric 'discharge_temperature': 262.5 degreeCelsius is outside [-20, 250] degreeCelsius
  // Allocates only when it refuses.
  [[nodiscard]] Result<double> accept(double number, std::optional<std::string_view> text) const;

  [[nodiscard]] std::string_view metric() const { return name_; }
  [[nodiscard]] SchemaKind kind() const { return kind_; }
  [[nodiscard]] bool is_text() const { return kind_ == SchemaKind::string; }
  // The unit readings arrive in and the unit stored (DTDL names; empty when unitless).
  [[nodiscard]] std::string_view unit() const { return unit_; }
  [[nodiscard]] std::string_view target_unit() const { return target_unit_; }
  [[nodiscard]] LinearConversion conversion() const { return conversion_; }
  [[nodiscard]] std::optional<double> min() const { return min_; }
  [[nodiscard]] std::optional<double> max() const { return max_; }
  // Values must be pseudonymised before they are stored or shown (strata:personal).
  [[nodiscard]] bool personal() const { return personal_; }
  // How often a reading is due (µs), for staleness alarms; nullopt when the model does not say.
  [[nodiscard]] std::optional<Timestamp> expected_interval() const { return expected_interval_; }
  // The detector spec scoring this series (strata:detector), or empty.
  [[nodiscard]] std::string_view detector() const { return detector_; }
  // An enum's entries (empty for other schemas): name ↔ stored number.
  [[nodiscard]] std::span<const EnumValue> enum_values() const { return enum_values_; }
  // The name of an enum's stored number (for display), or empty when it is none of them.
  [[nodiscard]] std::string_view enum_name(double stored) const;

 private:
  friend class CompiledModel;
  [[nodiscard]] Result<double> check_range(double value) const;

  std::string name_;
  SchemaKind kind_ = SchemaKind::double_;
  SchemaKind enum_value_schema_ = SchemaKind::integer;
  std::string unit_;
  std::string target_unit_;
  LinearConversion conversion_;
  std::optional<double> min_;
  std::optional<double> max_;
  bool personal_ = false;
  std::optional<Timestamp> expected_interval_;
  std::vector<EnumValue> enum_values_;
  std::string detector_;
};

// All the TelemetrySpecs of one model, looked up by metric name.
class CompiledModel {
 public:
  // Fails (errc::invalid_model, errc::unknown_unit, errc::incompatible_units) only for a model
  // that did not come from parse_device_model() and breaks its rules.
  [[nodiscard]] static Result<CompiledModel> create(const DeviceModel& model);

  [[nodiscard]] std::string_view model_id() const { return model_id_; }
  // The spec of a metric, or nullptr when the model has no telemetry of that name.
  [[nodiscard]] const TelemetrySpec* find(std::string_view metric) const;
  // find() then accept(); errc::unknown_metric when the model has no such telemetry:
  //   metric 'foo' is not in model dtmi:strata:compressor;1
  // so that the pipeline can decide (quarantine, or store unvalidated) apart from bad values.
  [[nodiscard]] Result<double> accept(std::string_view metric, double number,
                                      std::optional<std::string_view> text) const;
  // Every spec, sorted by metric name.
  [[nodiscard]] std::span<const TelemetrySpec> telemetry() const { return specs_; }
  // The machine's signals scored together (strata:multivariate), if the model says so.
  [[nodiscard]] const std::optional<MultivariateSpec>& multivariate() const {
    return multivariate_;
  }

 private:
  std::string model_id_;
  std::optional<MultivariateSpec> multivariate_;
  std::vector<TelemetrySpec> specs_;  // sorted by name_
};

}  // namespace strata::model

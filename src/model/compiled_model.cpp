#include "model/compiled_model.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace strata::model {
namespace {

// A number as messages show it: integers without a fraction, others as JSON writes them (the
// shortest text that reads back the same double).
std::string number_text(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  return nlohmann::json(v).dump();
}

std::string shown_text(std::string_view text) {
  constexpr std::size_t kShown = 64;
  std::string s = nlohmann::json(std::string(text.substr(0, kShown)))
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kShown) s += "...";
  return s;
}

bool is_integral(double v) { return std::isfinite(v) && v == std::trunc(v); }

}  // namespace

Result<double> TelemetrySpec::check_range(double value) const {
  if ((!min_ || value >= *min_) && (!max_ || value <= *max_)) return value;
  const std::string unit = target_unit_.empty() ? "" : " " + target_unit_;
  const std::string lo = min_ ? number_text(*min_) : "-inf";
  const std::string hi = max_ ? number_text(*max_) : "inf";
  return Error::of(errc::out_of_range, "metric '" + name_ + "': " + number_text(value) + unit +
                                           " is outside [" + lo + ", " + hi + "]" + unit);
}

Result<double> TelemetrySpec::accept(double number, std::optional<std::string_view> text) const {
  switch (kind_) {
    case SchemaKind::double_:
    case SchemaKind::float_:
    case SchemaKind::integer:
    case SchemaKind::long_: {
      if (text)
        return Error::of(errc::wrong_type, "metric '" + name_ + "' expects a number (" +
                                               std::string(schema_kind_name(kind_)) + "), got " +
                                               shown_text(*text));
      if (!std::isfinite(number))
        return Error::of(errc::wrong_type, "metric '" + name_ + "' expects a finite number, got " +
                                               number_text(number));
      if (kind_ == SchemaKind::integer || kind_ == SchemaKind::long_) {
        if (!is_integral(number))
          return Error::of(errc::wrong_type, "metric '" + name_ + "' expects an integer (" +
                                                 std::string(schema_kind_name(kind_)) + "), got " +
                                                 number_text(number));
        const bool fits = kind_ == SchemaKind::integer
                              ? number >= -2147483648.0 && number <= 2147483647.0
                              : number >= -9223372036854775808.0 && number < 9223372036854775808.0;
        if (!fits)
          return Error::of(errc::wrong_type, "metric '" + name_ + "': " + number_text(number) +
                                                 " does not fit its schema " +
                                                 std::string(schema_kind_name(kind_)));
      } else if (kind_ == SchemaKind::float_ && std::abs(number) > FLT_MAX) {
        return Error::of(errc::wrong_type, "metric '" + name_ + "': " + number_text(number) +
                                               " does not fit its schema float");
      }
      const double value = conversion_.apply(number);
      if ((!min_ || value >= *min_) && (!max_ || value <= *max_)) return value;
      return check_range(value);
    }
    case SchemaKind::boolean: {
      if (text) {
        if (*text == "true" || *text == "1") return 1.0;
        if (*text == "false" || *text == "0") return 0.0;
        return Error::of(errc::wrong_type,
                         "metric '" + name_ + "' expects true or false, got " + shown_text(*text));
      }
      if (number == 0.0 || number == 1.0) return number + 0.0;  // -0 becomes 0
      return Error::of(
          errc::wrong_type,
          "metric '" + name_ + "' expects true or false (1 or 0), got " + number_text(number));
    }
    case SchemaKind::enumeration: {
      if (text) {
        for (const EnumValue& v : enum_values_)
          if (v.name == *text || (!v.text.empty() && v.text == *text))
            return static_cast<double>(v.number);
      } else if (enum_value_schema_ == SchemaKind::integer) {
        for (const EnumValue& v : enum_values_)
          if (static_cast<double>(v.number) == number) return static_cast<double>(v.number);
      }
      std::string names;
      for (const EnumValue& v : enum_values_) {
        if (names.size() > 200) {
          names += ", ...";
          break;
        }
        if (!names.empty()) names += ", ";
        names += v.name;
        if (enum_value_schema_ == SchemaKind::integer) names += "=" + std::to_string(v.number);
      }
      return Error::of(errc::wrong_type, "metric '" + name_ + "' expects one of " + names +
                                             ", got " +
                                             (text ? shown_text(*text) : number_text(number)));
    }
    case SchemaKind::string: {
      if (!text)
        return Error::of(errc::wrong_type, "metric '" + name_ + "' expects text, got the number " +
                                               number_text(number));
      if (text->size() > kMaxTextValueBytes)
        return Error::of(errc::wrong_type,
                         "metric '" + name_ + "': text of " + std::to_string(text->size()) +
                             " bytes is longer than " + std::to_string(kMaxTextValueBytes));
      return 0.0;
    }
    case SchemaKind::object:
      break;
  }
  return Error::of(errc::wrong_type, "metric '" + name_ +
                                         "' has an Object schema, which telemetry "
                                         "cannot have");
}

std::string_view TelemetrySpec::enum_name(double stored) const {
  for (const EnumValue& v : enum_values_)
    if (static_cast<double>(v.number) == stored) return v.name;
  return {};
}

Result<CompiledModel> CompiledModel::create(const DeviceModel& model) {
  CompiledModel out;
  out.model_id_ = model.id;
  out.multivariate_ = model.multivariate;
  out.specs_.reserve(model.telemetry.size());
  for (const Telemetry& t : model.telemetry) {
    TelemetrySpec s;
    s.name_ = t.name;
    s.kind_ = t.schema.kind;
    if (s.kind_ == SchemaKind::object)
      return Error::of(errc::invalid_model, "telemetry '" + t.name + "' has an Object schema");
    s.enum_value_schema_ = t.schema.enum_value_schema;
    s.enum_values_ = t.schema.enum_values;
    s.unit_ = t.unit;
    s.target_unit_ = t.target_unit.empty() ? t.unit : t.target_unit;
    if (!s.unit_.empty() || !s.target_unit_.empty()) {
      if (s.unit_.empty())
        return Error::of(errc::invalid_model,
                         "telemetry '" + t.name + "' has a target unit but no unit");
      auto conv = conversion(s.unit_, s.target_unit_);
      if (!conv) return conv.error();
      s.conversion_ = *conv;
    }
    s.min_ = t.min;
    s.max_ = t.max;
    if (s.min_ && s.max_ && *s.min_ > *s.max_)
      return Error::of(errc::invalid_model, "telemetry '" + t.name + "': strata:min > strata:max");
    s.personal_ = t.personal;
    s.expected_interval_ = t.expected_interval;
    s.detector_ = t.detector;
    out.specs_.push_back(std::move(s));
  }
  std::sort(out.specs_.begin(), out.specs_.end(),
            [](const TelemetrySpec& a, const TelemetrySpec& b) { return a.name_ < b.name_; });
  for (std::size_t i = 1; i < out.specs_.size(); ++i)
    if (out.specs_[i].name_ == out.specs_[i - 1].name_)
      return Error::of(errc::invalid_model,
                       "telemetry '" + out.specs_[i].name_ + "' is defined twice");
  return out;
}

const TelemetrySpec* CompiledModel::find(std::string_view metric) const {
  const auto it = std::lower_bound(
      specs_.begin(), specs_.end(), metric,
      [](const TelemetrySpec& s, std::string_view m) { return std::string_view(s.name_) < m; });
  if (it == specs_.end() || it->name_ != metric) return nullptr;
  return &*it;
}

Result<double> CompiledModel::accept(std::string_view metric, double number,
                                     std::optional<std::string_view> text) const {
  const TelemetrySpec* spec = find(metric);
  if (spec == nullptr)
    return Error::of(errc::unknown_metric, "metric '" + std::string(metric.substr(0, 128)) +
                                               (metric.size() > 128 ? "..." : "") +
                                               "' is not in model " + model_id_);
  return spec->accept(number, text);
}

}  // namespace strata::model

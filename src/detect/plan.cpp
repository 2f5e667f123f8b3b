#include "detect/plan.hpp"

#include <charconv>
#include <cstdio>

#include "core/crc32c.hpp"

namespace strata::detect {

namespace {

void append_number(std::string& s, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}

// "name@xxxxxxxx": the CRC-32C of "p1=v1,p2=v2,..." (every parameter, shortest round-trip
// decimals) and of `extra` (the signal names of a multivariate detector).
std::string version_of(std::string_view name, const std::vector<analytics::Param>& params,
                       std::span<const std::string> extra = {}) {
  std::string text;
  for (const auto& p : params) {
    if (!text.empty()) text += ',';
    text += p.name;
    text += '=';
    append_number(text, p.value);
  }
  for (const auto& e : extra) {
    text += ';';
    text += e;
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", crc32c(text.data(), text.size()));
  return std::string(name) + "@" + hex;
}

// $.detectors.temp, or $.detectors['odd key'] for a key that is not an identifier.
std::string detectors_path(std::string_view metric) {
  bool ident = !metric.empty() && !(metric[0] >= '0' && metric[0] <= '9');
  for (char c : metric)
    ident = ident && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_');
  if (ident) return "$.detectors." + std::string(metric);
  std::string quoted;
  for (char c : metric) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return "$.detectors['" + quoted + "']";
}

}  // namespace

Result<DetectorChoice> choose_detector(std::string_view text) {
  auto spec = analytics::parse_detector_spec(text);
  if (!spec) return Error::of(errc::bad_spec, spec.error().message);
  if (spec->name == analytics::MultivariateDetector::kName)
    return Error::of(errc::bad_spec,
                     "mahalanobis reads several signals together: name it in the model's "
                     "strata:multivariate, not on one series");
  auto params = analytics::spec_parameters(*spec);
  if (!params) return Error::of(errc::bad_spec, params.error().message);
  DetectorChoice c;
  c.text = std::string(text);
  c.version = version_of(spec->name, *params);
  c.spec = std::move(*spec);
  return c;
}

Status check_buildable(const DetectorChoice& choice) {
  auto d = analytics::AnyDetector::create(choice.spec);
  if (!d) return Error::of(errc::bad_spec, d.error().message);
  return {};
}

Result<analytics::MultivariateDetector::Config> multivariate_config(const DetectorChoice& choice,
                                                                    std::size_t signals) {
  using analytics::MultivariateDetector;
  MultivariateDetector::Config c;
  for (const auto& p : choice.spec.params) {
    if (p.name == "signals")
      return Error::of(errc::bad_spec,
                       "mahalanobis: 'signals' is the length of the signals list; do not set it");
    if (auto s = analytics::set_param(c, MultivariateDetector::kName, p); !s)
      return Error::of(errc::bad_spec, s.error().message);
  }
  c.signals = static_cast<double>(signals);
  // A warm-up shorter than the signal count would be refused; follow the list's length.
  bool warmup_set = false;
  for (const auto& p : choice.spec.params) warmup_set = warmup_set || p.name == "warmup";
  if (!warmup_set && c.warmup < c.signals) c.warmup = c.signals;
  if (auto s = MultivariateDetector::validate(c); !s)
    return Error::of(errc::bad_spec, s.error().message);
  return c;
}

Result<DetectorChoice> choose_multivariate(std::string_view text,
                                           std::span<const std::string> signals) {
  auto spec = analytics::parse_detector_spec(text);
  if (!spec) return Error::of(errc::bad_spec, spec.error().message);
  if (spec->name != analytics::MultivariateDetector::kName)
    return Error::of(errc::bad_spec, "'" + spec->name +
                                         "' is not a multivariate detector (the one there is: "
                                         "mahalanobis)");
  DetectorChoice c;
  c.text = std::string(text);
  c.spec = std::move(*spec);
  auto config = multivariate_config(c, signals.size());
  if (!config) return config.error();
  std::vector<analytics::Param> params;
  config->each([&](std::string_view name, auto& v) {
    params.push_back({std::string(name), static_cast<double>(v)});
  });
  c.version = version_of(c.spec.name, params, signals);
  return c;
}

std::optional<std::string_view> detector_text(const pipeline::DeviceContext& ctx,
                                              std::string_view metric) {
  if (!ctx.model) return std::nullopt;
  const model::TelemetrySpec* t = ctx.model->find(metric);
  if (!t || !model::is_numeric(t->kind())) return std::nullopt;
  if (const std::string* o = ctx.device.detector_override(metric)) {
    if (*o == "off") return std::nullopt;
    return std::string_view(*o);
  }
  if (t->detector().empty()) return std::nullopt;
  return t->detector();
}

bool is_signal(const pipeline::DeviceContext& ctx, std::string_view metric) {
  if (!ctx.model || !ctx.model->multivariate()) return false;
  for (const auto& s : ctx.model->multivariate()->signals)
    if (s == metric) return true;
  return false;
}

Status DetectorSpecValidator::check_model(const model::DeviceModel& m) const {
  for (std::size_t i = 0; i < m.telemetry.size(); ++i) {
    const auto& t = m.telemetry[i];
    if (t.detector.empty()) continue;
    auto c = choose_detector(t.detector);
    Status st = c ? check_buildable(*c) : Status(c.error());
    if (!st)
      return Error::of(errc::bad_spec, m.telemetry_path(i) + "['strata:detector']: telemetry '" +
                                           t.name + "': " + st.error().message);
  }
  if (m.multivariate) {
    auto c = choose_multivariate(m.multivariate->detector, m.multivariate->signals);
    if (!c)
      return Error::of(errc::bad_spec, "$['strata:multivariate'].detector: " + c.error().message);
  }
  return {};
}

Status DetectorSpecValidator::check_device(const model::Device& d,
                                           const model::DeviceModel& m) const {
  for (const auto& [metric, text] : d.detectors) {
    const std::string at = detectors_path(metric);
    const model::Telemetry* t = m.find_telemetry(metric);
    if (!t)
      return Error::of(errc::bad_spec,
                       at + ": model " + m.id + " has no telemetry '" + metric + "'");
    if (!model::is_numeric(t->schema.kind))
      return Error::of(errc::bad_spec,
                       at + ": '" + metric + "' is " +
                           std::string(model::schema_kind_name(t->schema.kind)) +
                           ": a detector scores numbers (double, float, integer or long)");
    if (text == "off") continue;
    auto c = choose_detector(text);
    Status st = c ? check_buildable(*c) : Status(c.error());
    if (!st) return Error::of(errc::bad_spec, at + ": " + st.error().message);
  }
  return {};
}

}  // namespace strata::detect

#include "analytics/detector_registry.hpp"

#include <charconv>
#include <cmath>

namespace strata::analytics {

namespace {

template <class D>
Result<AnyDetector> build(const DetectorSpec& spec, auto wrap) {
  typename D::Config c;
  for (const auto& p : spec.params)
    if (auto s = set_param(c, D::kName, p); !s) return s.error();
  auto d = D::create(c);
  if (!d) return d.error();
  return wrap(std::move(*d));
}

template <class D>
Result<std::vector<Param>> parameters_of(const DetectorSpec& spec) {
  typename D::Config c;
  for (const auto& p : spec.params)
    if (auto s = set_param(c, D::kName, p); !s) return s.error();
  std::vector<Param> out;
  c.each([&](std::string_view name, auto& v) {
    out.push_back({std::string(name), static_cast<double>(v)});
  });
  return out;
}

Error unknown_detector(const std::string& name) {
  std::string known;
  for (auto n : detector_names()) known += (known.empty() ? "" : ", ") + std::string(n);
  return Error::of(errc::unknown_detector,
                   "no detector named '" + name + "' (known: " + known + ")");
}

}  // namespace

Result<std::vector<Param>> spec_parameters(const DetectorSpec& spec) {
  if (spec.name == Ensemble::kName) return parameters_of<Ensemble>(spec);
  if (spec.name == RobustBaseline::kName) return parameters_of<RobustBaseline>(spec);
  if (spec.name == LikelihoodBaseline::kName) return parameters_of<LikelihoodBaseline>(spec);
  if (spec.name == HoltWinters::kName) return parameters_of<HoltWinters>(spec);
  if (spec.name == ContextualDetector::kName) return parameters_of<ContextualDetector>(spec);
  if (spec.name == SpectralResidual::kName) return parameters_of<SpectralResidual>(spec);
  if (spec.name == RandomCutForest::kName) return parameters_of<RandomCutForest>(spec);
  if (spec.name == ChangePointDetector::kName) return parameters_of<ChangePointDetector>(spec);
  if (spec.name == MeanShiftDetector::kName) return parameters_of<MeanShiftDetector>(spec);
  if (spec.name == RankContextDetector::kName) return parameters_of<RankContextDetector>(spec);
  return unknown_detector(spec.name);
}

std::string DetectorSpec::to_string() const {
  std::string s = name;
  char buf[32];
  for (std::size_t i = 0; i < params.size(); ++i) {
    s += i == 0 ? ':' : ',';
    const auto r = std::to_chars(buf, buf + sizeof buf, params[i].value);
    s += params[i].name + "=" + std::string(buf, r.ptr);
  }
  return s;
}

Result<DetectorSpec> parse_detector_spec(std::string_view text) {
  DetectorSpec spec;
  const auto colon = text.find(':');
  spec.name = std::string(text.substr(0, colon));
  if (spec.name.empty())
    return Error::of(errc::bad_config, "detector spec '" + std::string(text) +
                                           "' names no detector; write name[:param=value,…]");
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const auto eq = item.find('=');
    Param p;
    if (eq == std::string_view::npos || eq == 0)
      return Error::of(errc::bad_config, "detector spec '" + std::string(text) + "': '" +
                                             std::string(item) + "' is not param=value");
    p.name = std::string(item.substr(0, eq));
    const std::string_view v = item.substr(eq + 1);
    const auto r = std::from_chars(v.data(), v.data() + v.size(), p.value);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || !std::isfinite(p.value))
      return Error::of(errc::bad_config, "detector spec '" + std::string(text) + "': value of '" +
                                             p.name + "' is not a number: '" + std::string(v) +
                                             "'");
    spec.params.push_back(std::move(p));
  }
  return spec;
}

std::vector<std::string_view> detector_names() {
  return {Ensemble::kName,          RobustBaseline::kName,      LikelihoodBaseline::kName,
          HoltWinters::kName,       ContextualDetector::kName,  ChangePointDetector::kName,
          MeanShiftDetector::kName, RankContextDetector::kName, SpectralResidual::kName,
          RandomCutForest::kName};
}

Result<AnyDetector> AnyDetector::create(const DetectorSpec& spec) {
  auto wrap = [](auto d) { return AnyDetector(Variant(std::move(d))); };
  if (spec.name == Ensemble::kName) return build<Ensemble>(spec, wrap);
  if (spec.name == RobustBaseline::kName) return build<RobustBaseline>(spec, wrap);
  if (spec.name == LikelihoodBaseline::kName) return build<LikelihoodBaseline>(spec, wrap);
  if (spec.name == HoltWinters::kName) return build<HoltWinters>(spec, wrap);
  if (spec.name == ContextualDetector::kName) return build<ContextualDetector>(spec, wrap);
  if (spec.name == SpectralResidual::kName) return build<SpectralResidual>(spec, wrap);
  if (spec.name == RandomCutForest::kName) return build<RandomCutForest>(spec, wrap);
  if (spec.name == ChangePointDetector::kName) return build<ChangePointDetector>(spec, wrap);
  if (spec.name == MeanShiftDetector::kName) return build<MeanShiftDetector>(spec, wrap);
  if (spec.name == RankContextDetector::kName) return build<RankContextDetector>(spec, wrap);
  return unknown_detector(spec.name);
}

Result<AnyDetector> AnyDetector::restore(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 6)
    return Error::of(errc::bad_state, "detector state is " + std::to_string(bytes.size()) +
                                          " bytes: too short to name its detector");
  auto lift = [](auto r) -> Result<AnyDetector> {
    if (!r) return r.error();
    return AnyDetector(Variant(std::move(*r)));
  };
  switch (static_cast<DetectorKind>(bytes[5])) {
    case DetectorKind::ensemble:
      return lift(Ensemble::restore(bytes));
    case DetectorKind::robust_baseline:
      return lift(RobustBaseline::restore(bytes));
    case DetectorKind::likelihood:
      return lift(LikelihoodBaseline::restore(bytes));
    case DetectorKind::holt_winters:
      return lift(HoltWinters::restore(bytes));
    case DetectorKind::contextual:
      return lift(ContextualDetector::restore(bytes));
    case DetectorKind::change_point:
      return lift(ChangePointDetector::restore(bytes));
    case DetectorKind::mean_shift:
      return lift(MeanShiftDetector::restore(bytes));
    case DetectorKind::rank_context:
      return lift(RankContextDetector::restore(bytes));
    case DetectorKind::spectral_residual:
      return lift(SpectralResidual::restore(bytes));
    case DetectorKind::random_cut_forest:
      return lift(RandomCutForest::restore(bytes));
    case DetectorKind::multivariate:
      break;
  }
  return Error::of(errc::bad_state, "detector state names detector kind " +
                                        std::to_string(bytes[5]) + ", which this build lacks");
}

std::vector<Param> AnyDetector::parameters() const {
  std::vector<Param> out;
  std::visit(
      [&](const auto& d) {
        auto c = d.config();
        c.each([&](std::string_view name, auto& v) {
          out.push_back({std::string(name), static_cast<double>(v)});
        });
      },
      d_);
  return out;
}

}  // namespace strata::analytics

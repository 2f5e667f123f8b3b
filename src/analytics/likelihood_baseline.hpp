#pragma once
// LikelihoodBaseline: RobustBaseline's deviation scores through the AnomalyLikelihood
// post-processor — Numenta's recipe (raw score, then likelihood) on the cheapest raw score. Its
// parameters are the two parts' (baseline.*, likelihood.*).
// Cost: the two parts' sum, O(1) per point.
#include <string>
#include <string_view>

#include "analytics/anomaly_likelihood.hpp"
#include "analytics/robust_baseline.hpp"

namespace strata::analytics {

class LikelihoodBaseline {
 public:
  static constexpr std::string_view kName = "likelihood";
  static constexpr DetectorKind kKind = DetectorKind::likelihood;

  // The configurations of the two parts.
  struct Config {
    RobustBaseline::Config baseline;
    AnomalyLikelihood::Config likelihood;
    template <class F>
    void each(F&& f) {
      baseline.each([&](std::string_view n, auto& v) { f(std::string("baseline.") += n, v); });
      likelihood.each([&](std::string_view n, auto& v) { f(std::string("likelihood.") += n, v); });
    }
  };

  [[nodiscard]] static Result<LikelihoodBaseline> create(const Config& c) {
    auto b = RobustBaseline::create(c.baseline);
    if (!b) return b.error();
    auto l = AnomalyLikelihood::create(c.likelihood);
    if (!l) return l.error();
    return LikelihoodBaseline(c, std::move(*b), std::move(*l));
  }

  Assessment update(Timestamp ts, double x) {
    Assessment a = baseline_.update(ts, x);
    a.raw_score = a.score;
    a.driver = "baseline";
    a.score = likelihood_.update(a.score);
    return a;
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<LikelihoodBaseline> restore(std::span<const std::uint8_t> in) {
    return restore_state<LikelihoodBaseline>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  [[nodiscard]] bool state_valid() const {
    return likelihood_.state_valid() && same_config(baseline_.config(), config_.baseline) &&
           same_config(likelihood_.config(), config_.likelihood);
  }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(Config) + baseline_.memory_bytes() + likelihood_.memory_bytes();
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    baseline_.visit(io);
    likelihood_.visit(io);
  }

 private:
  LikelihoodBaseline(const Config& c, RobustBaseline b, AnomalyLikelihood l)
      : config_(c), baseline_(std::move(b)), likelihood_(std::move(l)) {}
  Config config_;
  RobustBaseline baseline_;
  AnomalyLikelihood likelihood_;
};

}  // namespace strata::analytics

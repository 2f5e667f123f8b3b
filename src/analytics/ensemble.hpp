#pragma once
// Ensemble: the default detector. Six cheap views of a series vote on each point —
//   RobustBaseline      how far the value is from the level (or the time-of-day level) expected,
//   (magnitude)         the same deviation scored with a half-point of 20 spreads instead of 3,
//                       so one of 50 spreads is told from one of 10 (0.86 and 0.2 here, 0.996
//                       and 0.92 on the baseline's scale),
//   ContextualDetector  whether the recent sequence of levels has been seen before,
//   ChangePointDetector whether the level has been drifting away (CUSUM),
//   MeanShiftDetector   whether the mean of the last points has left the long-run level,
//   RankContextDetector whether the recent sequence of ranks (deciles of the last values) has
//                       been seen before;
// each part's raw score goes through its own AnomalyLikelihood, so it says how unusual the recent
// raw scores are *for this series* and one threshold fits every series, and the score is the
// largest of the weighted likelihoods. As in Numenta's NAB detector, a value beyond the range
// seen so far by more than `spatial_tolerance` of that range scores 1 (with `spatial_band`, it
// must also clear the range by that many of the baseline's bands). After an alarm (a score ≥
// `alarm`), the next `rest` points are damped by `rest_factor`, so one event is reported once
// rather than as a run.
// Cost: the parts' sum — O(window) per point, about 3.8 KiB per series with the defaults.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "analytics/anomaly_likelihood.hpp"
#include "analytics/change_point.hpp"
#include "analytics/contextual_detector.hpp"
#include "analytics/mean_shift.hpp"
#include "analytics/rank_context.hpp"
#include "analytics/robust_baseline.hpp"

namespace strata::analytics {

class Ensemble {
 public:
  static constexpr std::string_view kName = "ensemble";
  static constexpr DetectorKind kKind = DetectorKind::ensemble;
  // baseline, contextual, CUSUM, mean shift, ranks, magnitude of the baseline's deviation
  static constexpr std::size_t kParts = 6;

  // The parts' configurations (baseline.*, contextual.*, cusum.*, mean_shift.*, rank.*,
  // likelihood.*) and the vote's.
  struct Config {
    Config() {
      baseline.z_half = 3;
      baseline.season_seconds = 7 * 86400;  // a week of hourly bins: daily and weekly rhythms
      baseline.season_bins = 168;
      contextual.levels = 10;
      contextual.depth = 3;
      contextual.extremes = 0;     // the range rule below covers new extremes
      contextual.table_bits = 11;  // 1110 contexts, one counter each
      contextual.age_every = 6000;
      baseline.clip = 5;
      cusum.k = 0.75;
      cusum.h = 30;
      likelihood.learning = 200;
      likelihood.history = 20000;
      likelihood.min_variance = 0.0005;
      likelihood.min_mean = 0.01;
    }
    RobustBaseline::Config baseline;
    ContextualDetector::Config contextual;
    ChangePointDetector::Config cusum;
    MeanShiftDetector::Config mean_shift;
    RankContextDetector::Config rank;
    AnomalyLikelihood::Config likelihood;  // one likelihood per part, all configured alike
    double w_baseline = 1;  // weight of each part's likelihood in the vote, [0, 1]; 0: not run
    double w_contextual = 1;
    double w_cusum = 1;
    double w_mean_shift = 1;
    double w_rank = 1;
    double w_magnitude = 1;
    // The baseline's deviation (in its spreads) that scores 0.5 on the magnitude's scale, > 0.
    double magnitude_z_half = 20;
    // A value this far (× the range seen) beyond that range scores 1; 0: off.
    double spatial_tolerance = 0.025;
    double spatial_warmup = 100;  // points before the range rule applies
    // With the range rule, a value must also clear the range by this many of the baseline's
    // bands (z_half spreads); 0: the range alone decides.
    double spatial_band = 0;
    // A score ≥ alarm starts a rest period, (0, 1]: at or above the threshold events use (a
    // lower one lets a score that raises no event hide the alarm that follows).
    double alarm = 0.6;
    double rest = 30;          // points damped after an alarm
    double rest_factor = 0.5;  // damping during the rest, [0, 1]
    template <class F>
    void each(F&& f) {
      baseline.each([&](std::string_view n, auto& v) { f(std::string("baseline.") += n, v); });
      contextual.each([&](std::string_view n, auto& v) { f(std::string("contextual.") += n, v); });
      cusum.each([&](std::string_view n, auto& v) { f(std::string("cusum.") += n, v); });
      mean_shift.each([&](std::string_view n, auto& v) { f(std::string("mean_shift.") += n, v); });
      rank.each([&](std::string_view n, auto& v) { f(std::string("rank.") += n, v); });
      likelihood.each([&](std::string_view n, auto& v) { f(std::string("likelihood.") += n, v); });
      f("w_baseline", w_baseline);
      f("w_contextual", w_contextual);
      f("w_cusum", w_cusum);
      f("w_mean_shift", w_mean_shift);
      f("w_rank", w_rank);
      f("w_magnitude", w_magnitude);
      f("magnitude_z_half", magnitude_z_half);
      f("spatial_tolerance", spatial_tolerance);
      f("spatial_warmup", spatial_warmup);
      f("spatial_band", spatial_band);
      f("alarm", alarm);
      f("rest", rest);
      f("rest_factor", rest_factor);
    }
  };

  [[nodiscard]] static Status validate(const Config& c) {
    for (auto [name, w] :
         {std::pair{"w_baseline", c.w_baseline}, std::pair{"w_contextual", c.w_contextual},
          std::pair{"w_cusum", c.w_cusum}, std::pair{"w_mean_shift", c.w_mean_shift},
          std::pair{"w_rank", c.w_rank}, std::pair{"w_magnitude", c.w_magnitude}})
      if (!(w >= 0 && w <= 1)) return bad_param(kName, name, w, "use a weight in [0, 1]");
    if (c.w_baseline + c.w_contextual + c.w_cusum + c.w_mean_shift + c.w_rank + c.w_magnitude == 0)
      return Error::of(
          errc::bad_config,
          "ensemble: every part has weight 0; give w_baseline or another w_* a weight");
    if (!(c.magnitude_z_half > 0 && c.magnitude_z_half < 1e6))
      return bad_param(kName, "magnitude_z_half", c.magnitude_z_half,
                       "use a positive number of spreads");
    if (!(c.spatial_tolerance >= 0 && c.spatial_tolerance <= 10))
      return bad_param(kName, "spatial_tolerance", c.spatial_tolerance,
                       "use 0 (off) or a fraction of the range up to 10");
    if (!(c.spatial_band >= 0 && c.spatial_band <= 1000))
      return bad_param(kName, "spatial_band", c.spatial_band,
                       "use 0 (off) or a number of bands up to 1000");
    if (!(c.spatial_warmup >= 0 && c.spatial_warmup <= 1e9))
      return bad_param(kName, "spatial_warmup", c.spatial_warmup, "use a point count >= 0");
    if (!(c.alarm > 0 && c.alarm <= 1))
      return bad_param(kName, "alarm", c.alarm, "use a score in (0, 1]");
    if (!(c.rest >= 0 && c.rest <= 1e6) || c.rest != std::floor(c.rest))
      return bad_param(kName, "rest", c.rest, "use a whole number of points >= 0");
    if (!(c.rest_factor >= 0 && c.rest_factor <= 1))
      return bad_param(kName, "rest_factor", c.rest_factor, "use a factor in [0, 1]");
    return {};
  }

  [[nodiscard]] static Result<Ensemble> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    auto b = RobustBaseline::create(c.baseline);
    if (!b) return b.error();
    auto x = ContextualDetector::create(c.contextual);
    if (!x) return x.error();
    auto p = ChangePointDetector::create(c.cusum);
    if (!p) return p.error();
    auto m = MeanShiftDetector::create(c.mean_shift);
    if (!m) return m.error();
    auto r = RankContextDetector::create(c.rank);
    if (!r) return r.error();
    if (auto s = AnomalyLikelihood::validate(c.likelihood); !s) return s.error();
    return Ensemble(c, std::move(*b), std::move(*x), std::move(*p), std::move(*m), std::move(*r));
  }

  Assessment update(Timestamp ts, double x) {
    Assessment a = baseline_.update(ts, x);
    const double w[kParts] = {config_.w_baseline,   config_.w_contextual, config_.w_cusum,
                              config_.w_mean_shift, config_.w_rank,       config_.w_magnitude};
    const double raw[kParts] = {
        a.score, w[1] > 0 ? contextual_.update(ts, x).score : 0.0,
        w[2] > 0 ? cusum_.update(ts, x).score : 0.0,
        w[3] > 0 ? mean_shift_.update(ts, x).score : 0.0,
        w[4] > 0 ? rank_.update(ts, x).score : 0.0,
        // The baseline's deviation again, scored like its own but unsaturated to tens of spreads.
        w[5] > 0 && baseline_.warm()
            ? deviation_score(std::abs(baseline_.last_z()), config_.magnitude_z_half)
            : 0.0};
    static constexpr std::string_view kPartNames[kParts] = {
        "baseline", "contextual", "cusum", "mean_shift", "rank_context", "magnitude"};
    double score = -1;  // validate() leaves at least one part with a weight
    std::size_t decider = 0;
    for (std::size_t i = 0; i < kParts; ++i) {
      if (w[i] == 0) continue;
      const double s = w[i] * likelihoods_[i].update(config_.likelihood, raw[i]);
      if (s > score) score = s, decider = i;
    }
    a.raw_score = raw[decider];
    a.driver = kPartNames[decider];
    if (n_ == 0) lo_ = hi_ = x;
    if (config_.spatial_tolerance > 0 && n_ >= config_.spatial_warmup && hi_ > lo_) {
      const double tol = (hi_ - lo_) * config_.spatial_tolerance + config_.spatial_band * a.band;
      if (x > hi_ + tol || x < lo_ - tol) {
        score = 1.0;
        a.raw_score = 1.0;
        a.driver = "range";
      }
    }
    lo_ = std::min(lo_, x);
    hi_ = std::max(hi_, x);
    ++n_;
    if (rest_left_ > 0) {
      --rest_left_;
      score *= config_.rest_factor;
    } else if (score >= config_.alarm) {
      rest_left_ = static_cast<std::uint32_t>(config_.rest);
    }
    a.score = clamp01(score);
    return a;
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<Ensemble> restore(std::span<const std::uint8_t> in) {
    return restore_state<Ensemble>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable (every part's indexes within range).
  [[nodiscard]] bool state_valid() const {
    for (const auto& l : likelihoods_)
      if (!l.valid()) return false;
    return same_config(baseline_.config(), config_.baseline) &&
           same_config(contextual_.config(), config_.contextual) &&
           same_config(cusum_.config(), config_.cusum) &&
           same_config(mean_shift_.config(), config_.mean_shift) &&
           same_config(rank_.config(), config_.rank) && contextual_.state_valid() &&
           mean_shift_.state_valid() && rank_.state_valid();
  }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(Config) + 32 + baseline_.memory_bytes() + contextual_.memory_bytes() +
           cusum_.memory_bytes() + mean_shift_.memory_bytes() + rank_.memory_bytes() +
           kParts * likelihoods_[0].memory_bytes();  // the configuration is config_'s
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    baseline_.visit(io);
    contextual_.visit(io);
    cusum_.visit(io);
    mean_shift_.visit(io);
    rank_.visit(io);
    for (auto& l : likelihoods_) l.visit(io);
    io.field(n_);
    io.field(lo_);
    io.field(hi_);
    io.field(rest_left_);
  }

 private:
  Ensemble(const Config& c, RobustBaseline b, ContextualDetector x, ChangePointDetector p,
           MeanShiftDetector m, RankContextDetector r)
      : config_(c),
        baseline_(std::move(b)),
        contextual_(std::move(x)),
        cusum_(std::move(p)),
        mean_shift_(std::move(m)),
        rank_(std::move(r)),
        likelihoods_{
            AnomalyLikelihood::State(c.likelihood), AnomalyLikelihood::State(c.likelihood),
            AnomalyLikelihood::State(c.likelihood), AnomalyLikelihood::State(c.likelihood),
            AnomalyLikelihood::State(c.likelihood), AnomalyLikelihood::State(c.likelihood)} {}
  Config config_;
  RobustBaseline baseline_;
  ContextualDetector contextual_;
  ChangePointDetector cusum_;
  MeanShiftDetector mean_shift_;
  RankContextDetector rank_;
  // One likelihood per part, all with config_.likelihood (kept once, here).
  std::array<AnomalyLikelihood::State, kParts> likelihoods_;
  std::uint64_t n_ = 0;
  double lo_ = 0, hi_ = 0;
  std::uint32_t rest_left_ = 0;
};

}  // namespace strata::analytics

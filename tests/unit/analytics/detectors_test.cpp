// Every detector on synthetic series with a known anomaly: it fires (score ≥ its alarm level)
// within kWindow points of the onset and stays below that level on the same series without the
// anomaly (after a warm-up of 1000 points), on three noise seeds. Each detector is held to the
// anomalies it is built for; the ensemble and the likelihood detector to all six.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <random>

#include "analytics/detector_registry.hpp"
#include "analytics/multivariate.hpp"
#include "core/crc32c.hpp"
#include "synthetic_signals.hpp"

namespace strata::analytics {
namespace {

using testing::Anomaly;
using testing::kOnset;
using testing::kPoints;
using testing::kWindow;

struct Case {
  const char* spec;
  double alarm;   // the score that counts as firing
  bool seasonal;  // which family of series the detector is meant for
  std::vector<Anomaly> catches;
};

// Each detector's operating point (the alarm level) sits above the largest score it gives the
// clean series of its family over three seeds; the anomalies listed are those it is built to see.
const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"ensemble",
       0.5,
       true,
       {Anomaly::spike, Anomaly::level_shift, Anomaly::drift, Anomaly::variance, Anomaly::stuck,
        Anomaly::broken_season}},
      {"likelihood", 0.6, true, {Anomaly::variance, Anomaly::stuck}},
      {"baseline",
       0.7,
       true,
       {Anomaly::spike, Anomaly::level_shift, Anomaly::variance, Anomaly::broken_season}},
      {"holt_winters", 0.55, true, {Anomaly::spike, Anomaly::variance, Anomaly::broken_season}},
      {"cusum",
       0.5,
       false,
       {Anomaly::level_shift, Anomaly::drift, Anomaly::variance, Anomaly::stuck}},
      {"mean_shift", 0.3, false, {Anomaly::level_shift, Anomaly::drift}},
      // The range rule alone calls a new record of clean noise an anomaly; with spatial_band the
      // value must also clear the range by a band, which noise does not.
      {"ensemble:spatial_band=1",
       0.5,
       false,
       {Anomaly::spike, Anomaly::level_shift, Anomaly::drift, Anomaly::variance, Anomaly::stuck}},
      {"spectral_residual", 0.38, false, {Anomaly::spike, Anomaly::variance}},
      {"rcf", 0.78, false, {Anomaly::spike, Anomaly::level_shift, Anomaly::variance}},
  };
  return all;
}

// Points after the onset within which a detector must fire: a drift needs time to grow.
std::size_t window_of(Anomaly a) { return a == Anomaly::drift ? 2 * kWindow : kWindow; }

// The largest scores in [from, to) and in [from2, to2) of one fresh detector run over the series.
std::pair<double, double> max_scores(const char* spec_text, const testing::Series& s,
                                     std::size_t from, std::size_t to, std::size_t from2,
                                     std::size_t to2) {
  auto spec = parse_detector_spec(spec_text);
  EXPECT_TRUE(spec.ok());
  auto d = AnyDetector::create(*spec);
  EXPECT_TRUE(d.ok()) << d.error().message;
  std::pair<double, double> best{0, 0};
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    const double score = d->update(s.ts[i], s.values[i]).score;
    EXPECT_GE(score, 0.0);
    EXPECT_LE(score, 1.0);
    if (i >= from && i < to) best.first = std::max(best.first, score);
    if (i >= from2 && i < to2) best.second = std::max(best.second, score);
  }
  return best;
}

// The largest score in [from, to) of a fresh detector run over the series.
double max_score(const char* spec_text, const testing::Series& s, std::size_t from,
                 std::size_t to) {
  return max_scores(spec_text, s, from, to, 0, 0).first;
}

TEST(Detectors, QuietOnCleanNoise) {
  for (const auto& c : cases())
    for (std::uint64_t seed : {1, 2, 3}) {
      const auto s = testing::make_series(Anomaly::none, seed, c.seasonal);
      EXPECT_LT(max_score(c.spec, s, 1000, kPoints), c.alarm) << c.spec << " seed " << seed;
    }
}

TEST(Detectors, FireInsideTheAnomalyWindow) {
  for (const auto& c : cases())
    for (Anomaly a : c.catches)
      for (std::uint64_t seed : {1, 2, 3}) {
        const auto s = testing::make_series(a, seed, c.seasonal);
        const auto [before, during] =
            max_scores(c.spec, s, 1000, kOnset, kOnset, kOnset + window_of(a));
        EXPECT_LT(before, c.alarm)
            << c.spec << " before the " << testing::anomaly_name(a) << ", seed " << seed;
        EXPECT_GE(during, c.alarm)
            << c.spec << " missed the " << testing::anomaly_name(a) << ", seed " << seed;
      }
}

// The contextual detector learns the sawtooth's sequences of levels; a reversed ramp, or a value
// far beyond the range, is a context never seen.
TEST(Detectors, ContextualSeesNewSequences) {
  using testing::make_sawtooth;
  using testing::SawtoothAnomaly;
  for (std::uint64_t seed : {1, 2, 3}) {
    EXPECT_LT(max_score("contextual", make_sawtooth(SawtoothAnomaly::none, seed), 1000, kPoints),
              0.5)
        << seed;
    const auto reversed = make_sawtooth(SawtoothAnomaly::reversed, seed);
    EXPECT_LT(max_score("contextual", reversed, 1000, kOnset), 0.5) << seed;
    EXPECT_GE(max_score("contextual", reversed, kOnset, kOnset + 24), 0.5)
        << "reversed ramp, seed " << seed;
    EXPECT_GE(
        max_score("contextual", make_sawtooth(SawtoothAnomaly::spike, seed), kOnset, kOnset + 3),
        0.5)
        << "spike, seed " << seed;
  }
}

// The rank contexts learn the sawtooth's sequence of ranks among the last values and see the
// reversed ramp — also after one early spike, which squeezes every later value into the lowest
// level of the range seen and blinds the contexts of levels.
TEST(Detectors, RankContextsSeeNewSequencesAfterAnEarlySpike) {
  using testing::make_sawtooth;
  using testing::SawtoothAnomaly;
  for (bool early_spike : {false, true})
    for (std::uint64_t seed : {1, 2, 3}) {
      const auto clean = make_sawtooth(SawtoothAnomaly::none, seed, early_spike);
      EXPECT_LT(max_score("rank_context", clean, 1000, kPoints), 0.3) << seed;
      const auto reversed = make_sawtooth(SawtoothAnomaly::reversed, seed, early_spike);
      EXPECT_LT(max_score("rank_context", reversed, 1000, kOnset), 0.3) << seed;
      EXPECT_GE(max_score("rank_context", reversed, kOnset, kOnset + 24), 0.3)
          << "reversed ramp, early spike " << early_spike << ", seed " << seed;
      if (early_spike) {  // what the ensemble has the rank contexts for
        EXPECT_LT(max_score("contextual", reversed, kOnset, kOnset + 24), 0.3) << seed;
      }
    }
}

// An alarm names what decided it: a spike far beyond the range seen is the range rule's, a level
// stuck sensor inside the range one of the parts', with that part's score before its likelihood. A
// detector without parts reports its own score as the raw score.
TEST(Detectors, AssessmentsNameTheirDriver) {
  auto spec = parse_detector_spec("ensemble");
  ASSERT_TRUE(spec.ok());
  for (Anomaly anomaly : {Anomaly::spike, Anomaly::stuck}) {
    const auto s = testing::make_series(anomaly, 1, true);
    auto d = AnyDetector::create(*spec);
    ASSERT_TRUE(d.ok());
    Assessment top;
    for (std::size_t i = 0; i < kOnset + kWindow; ++i) {
      const Assessment a = d->update(s.ts[i], s.values[i]);
      EXPECT_FALSE(a.driver.empty());
      EXPECT_GE(a.raw_score, 0.0);
      EXPECT_LE(a.raw_score, 1.0);
      if (i >= kOnset && a.score > top.score) top = a;
    }
    EXPECT_GE(top.score, 0.5) << testing::anomaly_name(anomaly);
    if (anomaly == Anomaly::spike) {
      EXPECT_EQ(top.driver, "range");
      EXPECT_EQ(top.raw_score, 1.0);
    } else {
      EXPECT_TRUE(top.driver == "baseline" || top.driver == "contextual" || top.driver == "cusum" ||
                  top.driver == "mean_shift" || top.driver == "rank_context" ||
                  top.driver == "magnitude")
          << top.driver;
    }
  }
  // With one part voting and the range rule off, every assessment names that part.
  const std::pair<const char*, std::string_view> alone[] = {
      {"w_baseline", "baseline"},     {"w_contextual", "contextual"}, {"w_cusum", "cusum"},
      {"w_mean_shift", "mean_shift"}, {"w_rank", "rank_context"},     {"w_magnitude", "magnitude"},
  };
  for (const auto& [weight, part] : alone) {
    std::string text = "ensemble:spatial_tolerance=0";
    for (const auto& [other, unused] : alone) text += std::string(",") + other + "=0";
    text += std::string(",") + weight + "=1";
    auto only = AnyDetector::create(*parse_detector_spec(text));
    ASSERT_TRUE(only.ok()) << text;
    const auto s = testing::make_series(Anomaly::level_shift, 2, true);
    for (std::size_t i = 0; i < kOnset + kWindow; ++i)
      ASSERT_EQ(only->update(s.ts[i], s.values[i]).driver, part) << text << " at " << i;
  }
  auto baseline = AnyDetector::create(*parse_detector_spec("baseline"));
  ASSERT_TRUE(baseline.ok());
  const auto s = testing::make_series(Anomaly::spike, 1, true);
  for (std::size_t i = 0; i < kOnset + 5; ++i) {
    const Assessment a = baseline->update(s.ts[i], s.values[i]);
    EXPECT_TRUE(a.driver.empty());
    EXPECT_EQ(a.raw_score, a.score);
  }
}

// Bursts of five points 10σ high every 100 points are this series' habit; from the onset a burst
// 40σ high is not. On the baseline's scale (half-point 3σ) both score about 1, so its likelihood
// cannot tell them apart; on the magnitude's (half-point 20σ) they score about 0.2 and 0.8. The
// range rule is off, so the parts alone decide.
TEST(Detectors, MagnitudeTellsALargeDeviationFromUsualOnes) {
  for (std::uint64_t seed : {1, 2, 3}) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, 1.0);
    testing::Series s;
    for (std::size_t i = 0; i < kPoints; ++i) {
      double v = 50 + noise(rng);
      if (i >= 300 && i < kOnset && i % 100 < 5) v += 10;
      if (i > kOnset && i <= kOnset + 5) v += 40;
      s.ts.push_back(testing::kStart + static_cast<Timestamp>(i) * testing::kStep);
      s.values.push_back(v);
    }
    const char* only_baseline =
        "ensemble:spatial_tolerance=0,w_contextual=0,w_cusum=0,w_mean_shift=0,w_rank=0,"
        "w_magnitude=0";
    const char* only_magnitude =
        "ensemble:spatial_tolerance=0,w_baseline=0,w_contextual=0,w_cusum=0,w_mean_shift=0,"
        "w_rank=0";
    const auto [usual, large] =
        max_scores(only_magnitude, s, 1000, kOnset, kOnset, kOnset + kWindow);
    EXPECT_LT(usual, 0.5) << "seed " << seed;
    EXPECT_GE(large, 0.6) << "seed " << seed;
    EXPECT_LT(max_score(only_baseline, s, kOnset, kOnset + kWindow), 0.6) << "seed " << seed;
  }
}

// Checkpoint after 1500 points, restore, continue both on the rest: the same scores, bit for bit,
// and the same state bytes at the end.
TEST(Detectors, CheckpointRestoresBitIdenticalScores) {
  const auto s = testing::make_series(Anomaly::level_shift, 5, true);
  for (auto name : detector_names()) {
    auto a = AnyDetector::create({std::string(name), {}});
    ASSERT_TRUE(a.ok()) << name;
    for (std::size_t i = 0; i < 1500; ++i) (void)a->update(s.ts[i], s.values[i]);
    std::vector<std::uint8_t> bytes;
    a->save(bytes);
    auto b = AnyDetector::restore(bytes);
    ASSERT_TRUE(b.ok()) << name << ": " << b.error().message;
    EXPECT_EQ(b->name(), name);
    for (std::size_t i = 1500; i < kPoints; ++i) {
      const double x = a->update(s.ts[i], s.values[i]).score;
      const double y = b->update(s.ts[i], s.values[i]).score;
      ASSERT_EQ(std::memcmp(&x, &y, sizeof x), 0)
          << name << " at " << i << ": " << x << " vs " << y;
    }
    std::vector<std::uint8_t> end_a, end_b;
    a->save(end_a);
    b->save(end_b);
    EXPECT_EQ(end_a, end_b) << name;
  }
}

// The same inside the ensemble's rest after an alarm: the checkpoint is taken 5 points after the
// range rule fired on a spike, while the following points are damped.
TEST(Detectors, CheckpointInsideARestRestoresBitIdenticalScores) {
  const auto s = testing::make_series(Anomaly::spike, 1, true);
  auto a = AnyDetector::create({"ensemble", {}});
  ASSERT_TRUE(a.ok());
  double at_onset = 0;
  for (std::size_t i = 0; i <= kOnset + 5; ++i) {
    const double score = a->update(s.ts[i], s.values[i]).score;
    if (i == kOnset) at_onset = score;
  }
  ASSERT_EQ(at_onset, 1.0);  // the range rule: a rest of 30 points follows
  std::vector<std::uint8_t> bytes;
  a->save(bytes);
  auto b = AnyDetector::restore(bytes);
  ASSERT_TRUE(b.ok()) << b.error().message;
  for (std::size_t i = kOnset + 6; i < kPoints; ++i) {
    const double x = a->update(s.ts[i], s.values[i]).score;
    const double y = b->update(s.ts[i], s.values[i]).score;
    ASSERT_EQ(std::memcmp(&x, &y, sizeof x), 0) << i << ": " << x << " vs " << y;
  }
}

// Rewrites bytes [at, at + n) of a state frame and seals it with a fresh CRC, so only the
// detector's own checks can refuse it.
std::vector<std::uint8_t> patched(std::vector<std::uint8_t> frame, std::size_t at,
                                  std::span<const std::uint8_t> with) {
  std::copy(with.begin(), with.end(), frame.begin() + static_cast<std::ptrdiff_t>(at));
  const std::uint32_t crc = crc32c(frame.data(), frame.size() - 4);
  std::memcpy(frame.data() + frame.size() - 4, &crc, 4);
  return frame;
}

// A frame whose CRC holds but whose indexes are out of range is refused as inconsistent.
TEST(Detectors, InconsistentNewPartStatesAreRefused) {
  constexpr std::size_t kBody = 12;
  const auto s = testing::make_series(Anomaly::none, 1, false);
  // rank_context: 5 configuration fields, n (u64), then the symbols (u32) and the position (u32).
  auto rank = AnyDetector::create({"rank_context", {}});
  ASSERT_TRUE(rank.ok());
  for (std::size_t i = 0; i < 200; ++i) (void)rank->update(s.ts[i], s.values[i]);
  std::vector<std::uint8_t> bytes;
  rank->save(bytes);
  ASSERT_TRUE(AnyDetector::restore(patched(bytes, kBody + 40, std::array<std::uint8_t, 0>{})).ok());
  const std::uint8_t bad_symbol[4] = {0x0F, 0, 0, 0};  // symbol 15 of 10 ranks
  auto r1 = AnyDetector::restore(patched(bytes, kBody + 48, bad_symbol));
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("inconsistent"), std::string::npos) << r1.error().message;
  const std::uint8_t bad_position[4] = {0xFF, 0, 0, 0};  // position 255 of a 32-value window
  auto r2 = AnyDetector::restore(patched(bytes, kBody + 52, bad_position));
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("inconsistent"), std::string::npos) << r2.error().message;
  // mean_shift: 5 configuration fields, n (u64), then the position (u64).
  auto shift = AnyDetector::create({"mean_shift", {}});
  ASSERT_TRUE(shift.ok());
  for (std::size_t i = 0; i < 200; ++i) (void)shift->update(s.ts[i], s.values[i]);
  bytes.clear();
  shift->save(bytes);
  auto r3 = AnyDetector::restore(patched(bytes, kBody + 48, bad_position));
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find("inconsistent"), std::string::npos) << r3.error().message;
}

TEST(Detectors, DamagedCheckpointsAreRefused) {
  auto d = AnyDetector::create({"ensemble", {}});
  ASSERT_TRUE(d.ok());
  for (int i = 0; i < 100; ++i) (void)d->update(i * 300'000'000LL, i % 7);
  std::vector<std::uint8_t> bytes;
  d->save(bytes);
  auto flipped = bytes;
  flipped[40] ^= 0x10;
  auto r1 = AnyDetector::restore(flipped);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("CRC"), std::string::npos) << r1.error().message;
  auto r2 = AnyDetector::restore(std::span(bytes).first(bytes.size() - 9));
  ASSERT_FALSE(r2.ok());
  auto r3 = RobustBaseline::restore(bytes);  // an ensemble's frame is not a baseline's
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find("kind"), std::string::npos) << r3.error().message;
  auto r4 = AnyDetector::restore(std::vector<std::uint8_t>{1, 2, 3});
  ASSERT_FALSE(r4.ok());
}

TEST(Detectors, BadConfigurationsAreRefusedByName) {
  const std::pair<const char*, const char*> bad[] = {
      {"baseline:alpha=0", "alpha=0"},
      {"baseline:season_bins=2.5", "season_bins"},
      {"holt_winters:season=1", "season"},
      {"spectral_residual:window=100", "power of two"},
      {"rcf:trees=0", "trees"},
      {"contextual:levels=1", "levels"},
      {"cusum:k=0", "k=0"},
      {"likelihood:likelihood.window=0", "window"},
      {"ensemble:w_baseline=0,w_contextual=0,w_cusum=0,w_mean_shift=0,w_rank=0,w_magnitude=0",
       "weight"},
      {"ensemble:w_magnitude=2", "w_magnitude=2"},
      {"ensemble:magnitude_z_half=0",
       "magnitude_z_half=0 is out of range; use a positive number of spreads"},
      {"ensemble:likelihood.min_variance=-1", "min_variance"},
      {"ensemble:w_mean_shift=2", "w_mean_shift=2"},
      {"ensemble:w_rank=-1", "w_rank=-1"},
      {"ensemble:spatial_band=-1", "spatial_band"},
      {"ensemble:mean_shift.z_half=0", "z_half=0"},
      {"ensemble:rank.window=2", "window=2"},
      {"mean_shift:window=1", "window=1 is out of range; use a whole number of points in 2..64"},
      {"mean_shift:alpha=0", "alpha=0"},
      {"mean_shift:warmup=10", "warmup=10 is out of range; use a point count >= window"},
      {"rank_context:ranks=17", "ranks=17 is out of range; use a whole number in 2..16"},
      {"rank_context:depth=4", "depth=4"},
      {"rank_context:window=300", "window=300"},
      {"nosuch", "known: ensemble"},
      {"baseline:nosuch=1", "no parameter 'nosuch'"},
      {"baseline:alpha=abc", "not a number"},
      {"baseline:alpha", "param=value"},
  };
  for (const auto& [text, why] : bad) {
    auto spec = parse_detector_spec(text);
    Result<AnyDetector> d = spec ? AnyDetector::create(*spec) : Result<AnyDetector>(spec.error());
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_NE(d.error().message.find(why), std::string::npos) << text << " → " << d.error().message;
  }
  MultivariateDetector::Config mc;
  mc.signals = 1;
  auto m = MultivariateDetector::create(mc);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("signals"), std::string::npos);
}

TEST(Detectors, ParametersOverrideDefaults) {
  auto d = AnyDetector::create(*parse_detector_spec("baseline:alpha=0.25,season_seconds=0"));
  ASSERT_TRUE(d.ok());
  bool seen = false;
  for (const auto& p : d->parameters())
    if (p.name == "alpha") {
      EXPECT_DOUBLE_EQ(p.value, 0.25);
      seen = true;
    }
  EXPECT_TRUE(seen);
}

TEST(Detectors, SpecParametersListEveryParameterWithoutBuilding) {
  for (auto name : detector_names()) {
    const DetectorSpec spec{std::string(name), {}};
    auto listed = spec_parameters(spec);
    ASSERT_TRUE(listed.ok()) << name << ": " << listed.error().message;
    auto built = AnyDetector::create(spec);
    ASSERT_TRUE(built.ok()) << name;
    const auto params = built->parameters();
    ASSERT_EQ(listed->size(), params.size()) << name;
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ((*listed)[i].name, params[i].name) << name;
      EXPECT_EQ((*listed)[i].value, params[i].value) << name << " " << params[i].name;
    }
  }
  auto set = spec_parameters(*parse_detector_spec("cusum:k=1.5"));
  ASSERT_TRUE(set.ok());
  bool k = false;
  for (const auto& p : *set) k = k || (p.name == "k" && p.value == 1.5);
  EXPECT_TRUE(k);
  auto unknown = spec_parameters({"nope", {}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(unknown.error().is(errc::unknown_detector));
  auto bad = spec_parameters(*parse_detector_spec("cusum:kk=1"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("no parameter 'kk'"), std::string::npos);
}

// Three signals, y = 2x + small noise, z independent. From the onset y = −2x: each signal alone
// is as usual, together they are not, and the explanation names y and x, not z.
TEST(Multivariate, NamesTheSignalsBehindAScore) {
  MultivariateDetector::Config c;
  c.signals = 3;
  auto d = MultivariateDetector::create(c);
  ASSERT_TRUE(d.ok());
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0.0, 1.0);
  double before = 0, during = 0;
  std::string why;
  std::vector<std::uint8_t> mid;
  for (std::size_t i = 0; i < 3000; ++i) {
    const double x = n(rng), z = n(rng);
    const double y = (i >= 2500 ? -2 : 2) * x + 0.1 * n(rng);
    const double v[3] = {x, y, z};
    const double s = d->update(0, v);
    if (i >= 500 && i < 2500) before = std::max(before, s);
    if (i >= 2500 && s > during) {
      during = s;
      why = d->explain(std::vector<std::string>{"x", "y", "z"});
    }
    if (i == 2000) d->save(mid);
  }
  EXPECT_LT(before, 0.5);
  EXPECT_GE(during, 0.9);
  EXPECT_TRUE(why.rfind("y", 0) == 0 || why.rfind("x", 0) == 0) << why;
  EXPECT_EQ(why.find("z"), std::string::npos) << why;
  auto back = MultivariateDetector::restore(mid);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->config().signals, 3.0);
}

// Two correlated signals, temperature = 2 · current + noise. A reading with the current one σ below
// its mean and the temperature a little below its own mean is hot for its current: both signals
// take part (each is far from what the other makes likely), no share is negative and they sum to
// 1. The split rᵢ·(Σ⁻¹r)ᵢ gave the temperature a negative share and the current more than all.
TEST(Multivariate, SharesAreConditionalAndNeverNegative) {
  MultivariateDetector::Config c;
  c.signals = 2;
  auto d = MultivariateDetector::create(c);
  ASSERT_TRUE(d.ok());
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n(0.0, 1.0);
  for (int i = 0; i < 3000; ++i) {
    const double current = n(rng);
    const double v[2] = {2 * current + 0.1 * n(rng), current};
    (void)d->update(0, v);
  }
  const double odd[2] = {-0.2, -1.0};  // temperature, current
  EXPECT_GE(d->update(0, odd), 0.9);
  const auto shares = d->contributions();
  ASSERT_EQ(shares.size(), 2u);
  double sum = 0;
  for (const auto& x : shares) {
    EXPECT_GE(x.share, 0.3) << "signal " << x.signal;
    sum += x.share;
  }
  EXPECT_NEAR(sum, 1.0, 1e-9);
  const std::string why = d->explain(std::vector<std::string>{"temperature", "current"});
  EXPECT_NE(why.find("temperature"), std::string::npos) << why;
  EXPECT_NE(why.find("current"), std::string::npos) << why;
}

}  // namespace
}  // namespace strata::analytics

// The NAB scorer on cases small enough to compute by hand (σs(y) = 2/(1+e^(5y)) − 1).
#include <gtest/gtest.h>

#include <cmath>

#include "analytics/nab.hpp"

namespace strata::analytics::nab {
namespace {

// σs at a few points, by hand: σs(0) = 0; σs(−1) = 2/(1+e^−5) − 1 = 0.98661429815…
TEST(NabScorer, ScaledSigmoid) {
  EXPECT_DOUBLE_EQ(scaled_sigmoid(0.0), 0.0);
  EXPECT_NEAR(scaled_sigmoid(-1.0), 0.9866142981514305, 1e-15);
  EXPECT_NEAR(scaled_sigmoid(1.0), -0.9866142981514305, 1e-15);
  EXPECT_EQ(scaled_sigmoid(3.5), -1.0);  // NAB's clamp far behind a window
}

TEST(NabScorer, ProbationIsFifteenPercentAtMost750) {
  EXPECT_EQ(probation_rows(100), 15u);
  EXPECT_EQ(probation_rows(4999), 749u);  // floor(749.85)
  EXPECT_EQ(probation_rows(5000), 750u);
  EXPECT_EQ(probation_rows(22695), 750u);
  EXPECT_EQ(probation_rows(6), 0u);
}

// 40 rows (probation 6), one window over rows 20..23 (W = 4).
Corpus one_file() {
  Corpus c;
  DataFile f;
  f.name = "cat/file.csv";
  for (int i = 0; i < 40; ++i) {
    f.timestamps.push_back(i * 300 * kMicrosPerSecond);
    f.timestamp_text.push_back(std::to_string(i));
    f.values.push_back(0.0);
  }
  f.windows.push_back({20, 23});
  c.files.push_back(std::move(f));
  return c;
}

double weight_in_window(std::size_t i) {  // A_TP = 1
  return scaled_sigmoid(-(23.0 - static_cast<double>(i) + 1.0) / 4.0) / scaled_sigmoid(-1.0);
}

TEST(NabScorer, EarliestDetectionInAWindowCountsOnce) {
  Corpus c = one_file();
  CorpusScores s{std::vector<double>(40, 0.0)};
  s[0][21] = 0.9;  // y = −3/4
  s[0][22] = 0.8;  // later: adds nothing
  const Profile p{"standard", 1.0, 1.0, 0.11};
  auto scorer = Scorer::create(c, s, p);
  ASSERT_TRUE(scorer.ok());
  const auto r = scorer->at(0.5);
  // 2/(1+e^−3.75) − 1 = 0.954045…, over σs(−1): 0.966989…
  EXPECT_NEAR(r.raw, 0.9669891, 1e-6);
  EXPECT_DOUBLE_EQ(r.raw, weight_in_window(21));
  EXPECT_EQ(r.tp, 2u);
  EXPECT_EQ(r.fp, 0u);
  EXPECT_EQ(r.detected, 1u);
  // Normalised: 100·(raw + 1)/2.
  EXPECT_NEAR(r.normalised, 100.0 * (r.raw + 1.0) / 2.0, 1e-12);
  // At the window's first row the detection earns exactly A_TP.
  s[0][20] = 0.7;
  auto scorer2 = Scorer::create(c, s, p);
  ASSERT_TRUE(scorer2.ok());
  EXPECT_DOUBLE_EQ(scorer2->at(0.5).raw, 1.0);
  EXPECT_DOUBLE_EQ(scorer2->at(0.5).normalised, 100.0);
}

TEST(NabScorer, FalsePositivesBeforeAndAfterAWindow) {
  Corpus c = one_file();
  CorpusScores s{std::vector<double>(40, 0.0)};
  s[0][2] = 1.0;   // in probation: not scored
  s[0][10] = 1.0;  // no window before it: −A_FP
  s[0][26] = 1.0;  // after the window: A_FP·σs(|23 − 26|/(4 − 1)) = 0.11·σs(1)
  const Profile p{"standard", 1.0, 1.0, 0.11};
  auto scorer = Scorer::create(c, s, p);
  ASSERT_TRUE(scorer.ok());
  const auto r = scorer->at(0.5);
  EXPECT_NEAR(r.raw, -1.0 - 0.11 - 0.11 * 0.9866142981514305, 1e-12);
  EXPECT_EQ(r.fp, 2u);
  EXPECT_EQ(r.fn, 4u);  // the window's four rows
  EXPECT_EQ(r.detected, 0u);
  EXPECT_EQ(r.tn, 40u - 6u - 4u - 2u);
  // reward_low_FP_rate doubles the cost, reward_low_FN_rate doubles the missed window.
  auto fp = Scorer::create(c, s, {"reward_low_FP_rate", 1.0, 1.0, 0.22});
  EXPECT_NEAR(fp->at(0.5).raw, -1.0 - 0.22 - 0.22 * 0.9866142981514305, 1e-12);
  auto fn = Scorer::create(c, s, {"reward_low_FN_rate", 1.0, 2.0, 0.11});
  EXPECT_NEAR(fn->at(0.5).raw, -2.0 - 0.11 - 0.11 * 0.9866142981514305, 1e-12);
  EXPECT_NEAR(fn->at(0.5).normalised, 100.0 * (fn->at(0.5).raw + 2.0) / 3.0, 1e-12);
}

TEST(NabScorer, OptimiserSweepsDownThroughTheScores) {
  Corpus c = one_file();
  CorpusScores s{std::vector<double>(40, 0.0)};
  s[0][30] = 0.9;  // FP just after the window: 0.11·σs(7/3) ≈ −0.1099
  s[0][22] = 0.6;  // TP, y = −2/4: +0.8598
  s[0][10] = 0.4;  // FP before the window: −0.11
  s[0][12] = 0.4;  // another
  auto scorer = Scorer::create(c, s, {"standard", 1.0, 1.0, 0.11});
  ASSERT_TRUE(scorer.ok());
  // Candidates: t > 0.9 → −1; t = 0.9 → −1.1099; t = 0.6 → −0.1099 + 0.8598; t = 0.4 → that − 0.22.
  const auto best = scorer->optimise();
  EXPECT_DOUBLE_EQ(best.threshold, 0.6);
  EXPECT_NEAR(best.raw, 0.11 * scaled_sigmoid(7.0 / 3.0) + weight_in_window(22), 1e-12);
  EXPECT_NEAR(scorer->at(0.4).raw, best.raw - 0.22, 1e-12);
  EXPECT_NEAR(scorer->at(0.95).raw, -1.0, 1e-12);
}

TEST(NabScorer, RefusesScoresOfTheWrongShape) {
  Corpus c = one_file();
  auto short_scores = Scorer::create(c, {std::vector<double>(39, 0.0)}, default_profiles()[0]);
  ASSERT_FALSE(short_scores.ok());
  EXPECT_TRUE(short_scores.error().is(errc::mismatch));
  EXPECT_NE(short_scores.error().message.find("cat/file.csv"), std::string::npos);
  std::vector<double> nan(40, 0.0);
  nan[7] = std::nan("");
  auto with_nan = Scorer::create(c, {nan}, default_profiles()[0]);
  ASSERT_FALSE(with_nan.ok());
  EXPECT_NE(with_nan.error().message.find("NaN"), std::string::npos);
}

TEST(NabScorer, LoadCorpusNamesAMissingDirectory) {
  auto c = load_corpus("/nonexistent/nab");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("--data"), std::string::npos);
}

}  // namespace
}  // namespace strata::analytics::nab

// The scorer against NAB's own: on the published results of ARTime, numenta (HTM) and contextOSE
// (CAD OSE) shipped in ../shared/datasets/nab/results, it must give their published normalised
// scores (results/final_results.json) within ±0.5, with the thresholds NAB chose
// (config/thresholds.json) and with its own threshold optimisation.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "analytics/nab.hpp"

namespace strata::analytics::nab {
namespace {

const std::filesystem::path kNab = std::filesystem::path(STRATA_SHARED_DIR) / "datasets" / "nab";

class NabReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = load_corpus(kNab);
    ASSERT_TRUE(c.ok()) << c.error().message;
    corpus_ = new Corpus(std::move(*c));
    std::ifstream in(kNab / "results" / "final_results.json");
    published_ = nlohmann::json::parse(in);
  }
  static void TearDownTestSuite() {
    delete corpus_;
    corpus_ = nullptr;
  }
  static Corpus* corpus_;
  static nlohmann::json published_;
};
Corpus* NabReference::corpus_ = nullptr;
nlohmann::json NabReference::published_;

TEST_F(NabReference, CorpusHasTheDocumentedShape) {
  EXPECT_EQ(corpus_->files.size(), 58u);
  EXPECT_EQ(corpus_->row_count(), 365558u);
  EXPECT_EQ(corpus_->window_count(), 116u);
}

TEST_F(NabReference, ReproducesPublishedScores) {
  auto profiles = load_profiles(kNab / "config" / "profiles.json");
  ASSERT_TRUE(profiles.ok()) << profiles.error().message;
  for (const std::string detector : {"ARTime", "numenta", "contextOSE"}) {
    auto scores = load_results(*corpus_, kNab / "results", detector);
    ASSERT_TRUE(scores.ok()) << scores.error().message;
    for (const auto& p : *profiles) {
      const double expected = published_.at(detector).at(p.name).get<double>();
      auto scorer = Scorer::create(*corpus_, *scores, p);
      ASSERT_TRUE(scorer.ok()) << scorer.error().message;
      auto t = load_threshold(kNab / "config" / "thresholds.json", detector, p.name);
      ASSERT_TRUE(t.ok()) << t.error().message;
      const auto fixed = scorer->at(*t);
      EXPECT_NEAR(fixed.normalised, expected, 0.5) << detector << " " << p.name << " at " << *t;
      const auto best = scorer->optimise();
      EXPECT_NEAR(best.normalised, expected, 0.5)
          << detector << " " << p.name << " optimised threshold " << best.threshold;
      // The optimiser cannot do worse than NAB's own choice of threshold.
      EXPECT_GE(best.raw, fixed.raw - 1e-9) << detector << " " << p.name;
      std::printf("%-11s %-19s fixed %.3f (t=%.6f)  optimised %.3f (t=%.6f)  published %.3f\n",
                  detector.c_str(), p.name.c_str(), fixed.normalised, *t, best.normalised,
                  best.threshold, expected);
    }
  }
}

TEST_F(NabReference, NullDetectorScoresZero) {
  CorpusScores zeros;
  for (const auto& f : corpus_->files) zeros.emplace_back(f.values.size(), 0.0);
  for (const auto& p : default_profiles()) {
    auto s = Scorer::create(*corpus_, zeros, p);
    ASSERT_TRUE(s.ok());
    EXPECT_DOUBLE_EQ(s->at(0.5).normalised, 0.0) << p.name;
    EXPECT_DOUBLE_EQ(s->at(0.5).raw, -p.fn * 116.0) << p.name;
  }
}

TEST_F(NabReference, PerfectDetectorScoresHundred) {
  CorpusScores perfect;
  for (const auto& f : corpus_->files) {
    std::vector<double> s(f.values.size(), 0.0);
    for (const auto& w : f.windows) s[w.first] = 1.0;
    perfect.push_back(std::move(s));
  }
  for (const auto& p : default_profiles()) {
    auto s = Scorer::create(*corpus_, perfect, p);
    ASSERT_TRUE(s.ok());
    EXPECT_NEAR(s->optimise().normalised, 100.0, 1e-9) << p.name;
  }
}

}  // namespace
}  // namespace strata::analytics::nab

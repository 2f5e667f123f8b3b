#pragma once
// Every univariate detector of this module (see src/analytics/README.md for how each works).
#include "analytics/anomaly_likelihood.hpp"
#include "analytics/change_point.hpp"
#include "analytics/contextual_detector.hpp"
#include "analytics/ensemble.hpp"
#include "analytics/holt_winters.hpp"
#include "analytics/likelihood_baseline.hpp"
#include "analytics/mean_shift.hpp"
#include "analytics/multivariate.hpp"
#include "analytics/random_cut_forest.hpp"
#include "analytics/rank_context.hpp"
#include "analytics/robust_baseline.hpp"
#include "analytics/spectral_residual.hpp"

namespace strata::analytics {
static_assert(Detector<RobustBaseline>);
static_assert(Detector<LikelihoodBaseline>);
static_assert(Detector<HoltWinters>);
static_assert(Detector<ContextualDetector>);
static_assert(Detector<ChangePointDetector>);
static_assert(Detector<MeanShiftDetector>);
static_assert(Detector<RankContextDetector>);
static_assert(Detector<Ensemble>);
static_assert(Detector<SpectralResidual>);
static_assert(Detector<RandomCutForest>);
}  // namespace strata::analytics

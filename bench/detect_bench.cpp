// Micro-benchmarks of the detectors' hot path (Google Benchmark): update() on a synthetic
// seasonal series, one detector per series, through the concept-typed class (what a shard worker
// that picks the type at compile time runs) and through AnyDetector (chosen at run time).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "analytics/detector_registry.hpp"

namespace {

using namespace strata;
using namespace strata::analytics;

struct Series {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

const Series& series() {
  static const Series s = [] {
    Series out;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> noise(0.0, 1.0);
    for (int i = 0; i < 65536; ++i) {
      out.ts.push_back(1'400'000'000'000'000LL + i * 300'000'000LL);
      out.values.push_back(50 + 10 * std::sin(i * 2 * 3.141592653589793 / 288) + noise(rng));
    }
    return out;
  }();
  return s;
}

template <Detector D>
void BM_Typed(benchmark::State& state) {
  const auto& s = series();
  auto d = D::create(typename D::Config{});
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(d->update(s.ts[i], s.values[i]).score);
    i = (i + 1) & 65535;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Typed<Ensemble>);
BENCHMARK(BM_Typed<RobustBaseline>);
BENCHMARK(BM_Typed<LikelihoodBaseline>);
BENCHMARK(BM_Typed<HoltWinters>);
BENCHMARK(BM_Typed<ContextualDetector>);
BENCHMARK(BM_Typed<ChangePointDetector>);
BENCHMARK(BM_Typed<MeanShiftDetector>);
BENCHMARK(BM_Typed<RankContextDetector>);
BENCHMARK(BM_Typed<SpectralResidual>);
BENCHMARK(BM_Typed<RandomCutForest>);

void BM_AnyDetectorEnsemble(benchmark::State& state) {
  const auto& s = series();
  auto d = AnyDetector::create({"ensemble", {}});
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(d->update(s.ts[i], s.values[i]).score);
    i = (i + 1) & 65535;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AnyDetectorEnsemble);

void BM_EnsembleCheckpoint(benchmark::State& state) {
  const auto& s = series();
  auto d = Ensemble::create({});
  for (std::size_t i = 0; i < 4096; ++i) (void)d->update(s.ts[i], s.values[i]);
  std::vector<std::uint8_t> bytes;
  for (auto _ : state) {
    bytes.clear();
    d->save(bytes);
    benchmark::DoNotOptimize(Ensemble::restore(bytes).ok());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_EnsembleCheckpoint);

}  // namespace

BENCHMARK_MAIN();

#include "app/bench_detect.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "analytics/detector_registry.hpp"
#include "analytics/nab.hpp"
#include "analytics/nab_runner.hpp"

namespace strata::app {

namespace {

namespace nab = analytics::nab;

void emit(bool json, const std::string& name, double value, const char* unit) {
  if (json)
    std::printf(
        "%s\n",
        nlohmann::json{{"suite", "detect"}, {"name", name}, {"value", value}, {"unit", unit}}
            .dump()
            .c_str());
  else
    std::printf("%-40s %14.6g %s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

// Points per second of one detector on one core: every corpus file through a fresh detector, in
// one thread; the best of `repeats` runs.
double points_per_second(const nab::Corpus& corpus, const analytics::DetectorSpec& spec,
                         unsigned repeats) {
  double best = 0;
  double sink = 0;
  for (unsigned r = 0; r < std::max(1u, repeats); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& f : corpus.files) {
      auto d = analytics::AnyDetector::create(spec);
      for (std::size_t i = 0; i < f.values.size(); ++i)
        sink += d->update(f.timestamps[i], f.values[i]).score;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(corpus.row_count()) / secs);
  }
  if (sink < 0) std::printf(" ");  // keeps the scores alive
  return best;
}

}  // namespace

int run_bench_detect(const BenchDetectOptions& o) {
  auto corpus = nab::load_corpus(o.nab_dir);
  if (!corpus) {
    std::fprintf(stderr, "strata bench detect: %s\n", corpus.error().message.c_str());
    return 2;
  }
  const analytics::DetectorSpec def{std::string(analytics::detector_names().front()), {}};
  auto scores = nab::run_detector(*corpus, def, 2);
  if (!scores) {
    std::fprintf(stderr, "strata bench detect: %s\n", scores.error().message.c_str());
    return 2;
  }
  const char* names[] = {"nab_standard", "nab_low_fp", "nab_low_fn"};
  int k = 0;
  for (const auto& p : nab::default_profiles()) {
    auto scorer = nab::Scorer::create(*corpus, *scores, p);
    if (!scorer) {
      std::fprintf(stderr, "strata bench detect: %s\n", scorer.error().message.c_str());
      return 2;
    }
    emit(o.json, names[k++], scorer->optimise().normalised, "score");
  }
  emit(o.json, "points_per_s_default", points_per_second(*corpus, def, o.repeats), "points/s");
  auto d = analytics::AnyDetector::create(def);
  emit(o.json, "bytes_per_series_default", static_cast<double>(d->memory_bytes()), "bytes");
  // The checkpoint of a detector that has seen a whole file.
  const auto& f = corpus->files.front();
  for (std::size_t i = 0; i < f.values.size(); ++i) (void)d->update(f.timestamps[i], f.values[i]);
  std::vector<std::uint8_t> state;
  d->save(state);
  emit(o.json, "checkpoint_bytes_default", static_cast<double>(state.size()), "bytes");
  for (auto name : analytics::detector_names())
    emit(o.json, "points_per_s_" + std::string(name),
         points_per_second(*corpus, {std::string(name), {}}, o.repeats), "points/s");
  return 0;
}

void register_bench_detect(CLI::App& bench) {
  auto o = std::make_shared<BenchDetectOptions>();
  auto* cmd = bench.add_subcommand(
      "detect", "Anomaly detectors: NAB scores of the default, points/s per core, bytes a series");
  cmd->add_flag("--json", o->json, "One JSON object a line (suite \"detect\")");
  cmd->add_option("--nab", o->nab_dir, "NAB folder (data/, labels/)")->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "Throughput runs per detector (the best counts)")
      ->capture_default_str();
  cmd->callback([o] {
    if (const int rc = run_bench_detect(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace strata::app

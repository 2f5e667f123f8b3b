#pragma once
// `strata bench detect`: the anomaly detectors' figures — the default detector's NAB scores (our
// scorer, corpus-wide thresholds), points per second on one core for the default and for every
// detector over the NAB corpus, and the default's memory per series (see docs/performance.md).
#include <CLI/CLI.hpp>
#include <string>

namespace strata::app {

struct BenchDetectOptions {
  bool json = false;
  std::string nab_dir = "../shared/datasets/nab";
  unsigned repeats = 3;  // throughput runs per detector; the best is reported
};

int run_bench_detect(const BenchDetectOptions& options);

// Adds `detect` under `strata bench`; it runs from CLI11's callback.
void register_bench_detect(CLI::App& bench);

}  // namespace strata::app

#pragma once
// `strata bench store`: compression, ingest and aggregate-query figures of the store, measured
// side by side in one run with VictoriaMetrics and InfluxDB fed the same line-protocol batches
// (see docs/performance.md for what each figure means).
#include <cstddef>
#include <string>

namespace strata::app {

struct BenchStoreOptions {
  bool json = false;
  std::string peers = "vm,influx";  // or "none"
  std::string nab_dir = "../shared/datasets/nab/data";
  std::string work_dir;  // default: a fresh directory under /tmp
  std::size_t synthetic_series = 1000;
  std::size_t synthetic_seconds = 10000;
};

int run_bench_store(const BenchStoreOptions& options);

}  // namespace strata::app

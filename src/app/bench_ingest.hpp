#pragma once
// `strata bench ingest`: end-to-end ingest figures of `strata serve` (started by the benchmark as a
// separate process on free 127.0.0.1 ports, with a fresh data directory), measured side by side in
// one run with Mosquitto (MQTT QoS 1 lossless pass-through), VictoriaMetrics and InfluxDB (line
// protocol over HTTP). What each figure means: docs/performance.md, section "Ingest".
#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

namespace strata::app {

struct BenchIngestOptions {
  bool json = false;
  std::string peers = "vm,influx,mosquitto";  // or "none"
  std::size_t points = 10'000'000;            // line-protocol points (1,000 series)
  std::size_t devices = 1000;                 // MQTT devices, one connection each
  std::size_t rss_devices = 10'000;           // devices of the resident-memory figure
  double mqtt_seconds = 5;                    // each MQTT measurement window
  unsigned in_flight = 8;                     // unacknowledged QoS 1 messages a device may have
  unsigned http_connections = 4;              // parallel line-protocol writers
  std::string fsync = "batch";                // `strata serve`'s store.fsync
  std::string work_dir;                       // default: a fresh directory under /tmp
};

int run_bench_ingest(const BenchIngestOptions& options);

// Adds `ingest` under `strata bench`; it runs from CLI11's callback.
void register_bench_ingest(CLI::App& bench);

}  // namespace strata::app

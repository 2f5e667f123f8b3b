#pragma once
// VictoriaMetrics (single-node, Debian `victoria-metrics` 1.79) as a benchmark peer.
//
// How it is run:
//   victoria-metrics -storageDataPath=<scratch>/storage -httpListenAddr=127.0.0.1:<free port>
//     -retentionPeriod=100y        our data sets are from 2011–2015 and 2024: with the default
//                                  retention (1 month) VM would drop them on arrival
//     -search.disableCache         no rollup-result cache: every query run reads the parts, so
//                                  repeated runs time the work and not a cache lookup
//     -search.latencyOffset=0s     no "too recent" trimming of query ends
// and its stdout/stderr go to <scratch>/victoria-metrics.log. Ready when GET /health answers 200.
//
// How it is fed, settled, measured and asked:
// - ingest: POST /write?precision=<p> (InfluxDB line protocol). VM names the metric
//   `<measurement>_<field>` ("sensor_value") and keeps the tags as labels. VM acknowledges once the
//   rows are parsed into its in-memory buffers (not yet on disk), unlike InfluxDB, whose
//   acknowledgement follows its WAL write.
// - settle: GET /internal/force_flush (buffered rows become searchable parts on disk), then wait
//   until /metrics shows no active merges and no pending rows and neither the part counts nor the
//   storage bytes move for 12 s (VM's merge workers back off up to 10 s when idle).
// - measure: total = every regular file under <scratch>/storage (data parts, indexdb, metadata);
//   data = the part files under storage/data/small and storage/data/big (the samples, not the
//   inverted index); reported = vm_data_size_bytes{type="storage/small"|"storage/big"}.
// - count: sum(count_over_time({__name__=~".+"}[<now − 1 day>s])) at time <now>: every sample
//   after 1970-01-02 (VM answers nothing for a window reaching back to 1970-01-01).
// - aggregate query: one /api/v1/query_range (nocache=1) a window, asking
//     union(label_set(avg_over_time({__name__=~".+"}[1m]), "agg", "avg"),
//           label_set(max_over_time({__name__=~".+"}[1m]), "agg", "max"))
//   with step=60s and evaluation instants at bucket_end − 1 ms: VM's window (t − 1m, t] at
//   millisecond resolution is then exactly the bucket [bucket_start, bucket_start + 1m), the same
//   buckets as InfluxDB's GROUP BY time(1m). Empty buckets are left out by VM as by InfluxDB with
//   fill(none).
#include <filesystem>
#include <memory>
#include <string>

#include "bench/peers/http_client.hpp"
#include "bench/peers/peer.hpp"
#include "bench/peers/peer_process.hpp"

namespace strata::bench {

class VictoriaMetrics final : public Peer {
 public:
  // Starts it in a scratch directory under work_dir and waits until it is ready; retries twice
  // with a new port if the server exits during start-up (another process took the port).
  static Result<std::unique_ptr<VictoriaMetrics>> create(const std::filesystem::path& work_dir,
                                                         const PeerOptions& options);

  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] pid_t pid() const override { return process_.pid(); }
  // http://127.0.0.1:<port>, for clients other than ingest() (bench ingest's parallel writers).
  [[nodiscard]] const std::string& base_url() const { return base_url_; }
  [[nodiscard]] const std::filesystem::path& scratch_dir() const override {
    return scratch_.path();
  }
  Result<double> ingest(const std::vector<std::string>& batches,
                        std::string_view precision) override;
  Result<PeerDiskUsage> settle_and_measure() override;
  Result<PeerDiskUsage> stop_and_measure() override;
  Result<std::uint64_t> count_points() override;
  [[nodiscard]] bool replaces_same_timestamp() const override { return false; }  // keeps both
  Result<QueryTiming> aggregate_query(Timestamp from, Timestamp to, int repeats) override;

 private:
  VictoriaMetrics(ScratchDir scratch, PeerProcess process, HttpClient http, std::string base_url,
                  PeerOptions options);

  // Members are destroyed bottom-up: the process is stopped before its directory is removed.
  ScratchDir scratch_;
  PeerProcess process_;
  std::uint64_t reported_data_bytes_ = 0;  // from the last settle_and_measure()
  Result<PeerDiskUsage> measure_dir() const;
  HttpClient http_;
  std::string base_url_;  // http://127.0.0.1:<port>
  std::string name_;
  PeerOptions options_;
};

}  // namespace strata::bench

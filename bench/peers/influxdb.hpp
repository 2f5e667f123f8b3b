#pragma once
// InfluxDB 1.6 (Debian `influxdb`, /usr/bin/influxd, TSM engine) as a benchmark peer.
//
// How it is run: `influxd -config <scratch>/influxdb.conf`, stdout/stderr to <scratch>/influxd.log.
// The config keeps everything in the scratch directory and on 127.0.0.1:
//   reporting-disabled = true; bind-address (backup RPC) = 127.0.0.1:<free port>
//   [meta] dir = <scratch>/db/meta
//   [data] dir = <scratch>/db/data, wal-dir = <scratch>/db/wal, index-version left at its
//          default (inmem), query-log-enabled = false,
//          cache-snapshot-write-cold-duration = "1s" and compact-full-write-cold-duration = "2s"
//          (so settling takes seconds, not the default 10 min / 4 h),
//          max-series-per-database = 0, max-values-per-tag = 0 (no limits)
//   [coordinator] max-select-point = max-select-series = max-select-buckets = 0 (no limits)
//   [monitor] store-enabled = false (no _internal database writing beside ours)
//   [http] bind-address = 127.0.0.1:<free port>, log-enabled = false (no line per request),
//          max-body-size = 0
//   [continuous_queries] enabled = false
// Ready when GET /ping answers 204; then `CREATE DATABASE bench` (retention policy autogen:
// infinite, 7-day shard groups, so NAB's 2011–2015 data lands in many shards — InfluxDB's default).
//
// How it is fed, settled, measured and asked:
// - ingest: POST /write?db=bench&precision=<p>. InfluxDB acknowledges after the WAL write (and its
//   fsync: wal-fsync-delay is 0).
// - settle: poll /debug/vars until every shard's cache is empty (snapshotted to TSM), no cache or
//   TSM compaction is active or queued, every shard's .tsm files belong to one generation (fully
//   compacted), and the .tsm file set has not changed for 3 s.
// - measure: total = every regular file under <scratch>/db (meta, data incl. the series file
//   and fields.idx, wal); data = the .tsm files; reported = Σ tsm1_filestore diskBytes.
// - count: SELECT count(value) FROM /.*/ (all measurements, all time), summed.
// - aggregate query: one GET /query a window with epoch=s,
//     SELECT mean(value), max(value) FROM /.*/ WHERE time >= <a> AND time < <b>
//       GROUP BY time(1m), * fill(none)
#include <filesystem>
#include <memory>
#include <string>

#include "bench/peers/http_client.hpp"
#include "bench/peers/peer.hpp"
#include "bench/peers/peer_process.hpp"

namespace strata::bench {

class InfluxDb final : public Peer {
 public:
  // Starts it in a scratch directory under work_dir, waits until it is ready and creates the
  // database; retries twice with new ports if the server exits during start-up.
  static Result<std::unique_ptr<InfluxDb>> create(const std::filesystem::path& work_dir,
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
  [[nodiscard]] bool replaces_same_timestamp() const override { return true; }  // last write wins
  Result<QueryTiming> aggregate_query(Timestamp from, Timestamp to, int repeats) override;

 private:
  InfluxDb(ScratchDir scratch, PeerProcess process, HttpClient http, std::string base_url,
           std::string version, PeerOptions options);
  // Runs an InfluxQL statement against the bench database; the parsed JSON text on success.
  Result<std::string> query(const std::string& influxql, bool post);

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

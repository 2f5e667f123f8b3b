#pragma once
// Peer: a time-series database that `strata bench store` starts beside Strata's own store, on
// 127.0.0.1 only, with its data in a scratch directory, to measure the same data set the same way:
// ingest seconds, bytes on disk, points held, and an aggregate query's time.
//
// Every peer is fed identical InfluxDB line-protocol batches over one keep-alive HTTP connection
// by the same client (bench/peers/http_client.hpp). A Peer owns its server process: destroying the
// Peer stops the process by PID (SIGTERM, then SIGKILL after a grace period) and removes its
// scratch directory, on every path, errors included. Not thread-safe: drive one Peer from one
// thread.
//
// What the peers assume of the data they are fed: the line protocol carries one field named
// `value` (as bench/datasets.hpp writes it), and timestamps lie after 1970 and before now.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::bench {

// Why a peer operation failed (Error::code of every Result in bench/peers/).
enum class PeerErrc {
  transport = 1,  // the HTTP request did not complete (refused, reset, timed out)
  http_status,    // the peer answered with a status the operation does not accept
  bad_response,   // the peer's answer could not be understood
  spawn,          // the scratch directory, log file, config or the process could not be made
  exited,         // the process ended before it was ready
  not_ready,      // the process did not answer its readiness URL in time
  not_settled,    // background flushes/merges/compactions did not finish in time
  io,             // walking or reading the peer's files failed
  bad_argument,   // the caller asked for something the operation cannot do
};

// Bytes a peer keeps on disk, taken after settle_and_measure() made everything durable and settled.
// Two ways of counting, because they differ for real: *_bytes is Σ st_size of regular files (the
// way Strata measures its own store, so the comparison is like for like); *_allocated_bytes is
// Σ st_blocks·512 (what `du --block-size=1` says the disk spends). They part ways on sparse
// preallocated files (InfluxDB 1.6 creates its series file as 8 segments of 4 MiB st_size each,
// nearly all holes) and on many small files (every file takes at least one 4 KiB block).
struct PeerDiskUsage {
  std::uint64_t total_bytes = 0;            // every regular file under the peer's data directory
  std::uint64_t data_bytes = 0;             // its compressed sample data only (see each peer)
  std::uint64_t total_allocated_bytes = 0;  // `du -s`: files and directories, hard links once
  std::uint64_t data_allocated_bytes = 0;   // the same files as data_bytes, allocated blocks
  std::uint64_t reported_data_bytes = 0;    // what the peer itself says its sample data takes
};

// Timing of an aggregate query run several times in a row on settled data.
struct QueryTiming {
  std::vector<double> runs_ms;  // wall time of each run, in order; runs_ms[0] is the cold run
  double cold_ms = 0;           // the first run after settling (OS page cache is warm: the data was
                                // just written; "cold" means the peer's own caches are)
  double median_ms = 0;         // median over all runs (mean of the middle two for an even count)
  std::uint64_t buckets = 0;    // (series, minute) buckets with data in the answer; equal across
                                // peers holding the same data, which proves they did the same work
  std::uint64_t requests_per_run = 0;  // HTTP requests a run took (the range is cut into windows)
};

// How to start a peer. Defaults are the Debian packages' paths and generous timeouts.
struct PeerOptions {
  std::filesystem::path program;  // empty: the Debian package's binary
  std::chrono::milliseconds ready_timeout{60'000};
  std::chrono::milliseconds settle_timeout{600'000};
  std::chrono::milliseconds stop_grace{10'000};  // SIGTERM → SIGKILL
};

class Peer {
 public:
  virtual ~Peer() = default;  // stops the process by PID, removes the scratch directory

  // "VictoriaMetrics 1.79.5", "InfluxDB 1.6.7~rc0": product and version as the peer reports it.
  [[nodiscard]] virtual std::string name() const = 0;
  // The server's PID while it runs (for logs and for tests that check it is gone afterwards).
  [[nodiscard]] virtual pid_t pid() const = 0;
  // The scratch directory holding the peer's data, config and log.
  [[nodiscard]] virtual const std::filesystem::path& scratch_dir() const = 0;

  // POSTs each batch (line protocol with timestamps in `precision`: "s", "ms", "u" or "ns"), in
  // order, over one keep-alive connection, and returns the wall seconds from the first request
  // until the last batch was acknowledged. Fails on the first batch the peer does not accept.
  virtual Result<double> ingest(const std::vector<std::string>& batches,
                                std::string_view precision) = 0;

  // Makes everything durable and settled, then measures the data directory (see each peer for
  // what "settled" and "data" mean there). Fails with not_settled after options.settle_timeout.
  virtual Result<PeerDiskUsage> settle_and_measure() = 0;
  // Stops the server cleanly (SIGTERM: it writes what it keeps across restarts) and measures its
  // data directory again: the footprint it leaves at rest, as ours is measured after `strata
  // import` exits. The peer answers nothing afterwards.
  virtual Result<PeerDiskUsage> stop_and_measure() = 0;

  // How many points the peer holds, over all series and all time (to prove nothing was lost).
  virtual Result<std::uint64_t> count_points() = 0;
  // Whether a point with the series and timestamp of one already held replaces it (InfluxDB)
  // rather than being kept beside it (VictoriaMetrics without -dedup.minScrapeInterval). If so,
  // count_points() should equal Dataset::distinct_points(), otherwise Dataset::points().
  [[nodiscard]] virtual bool replaces_same_timestamp() const = 0;

  // For every series, avg and max in 1-minute buckets over [from, to), `repeats` times in a row.
  // from and to must be whole minutes (both peers then cut identical buckets); ranges longer than
  // a week are asked in consecutive 7-day windows, each run timing the sum of its requests. Only
  // the HTTP round trips are timed; the answer is parsed afterwards to count its buckets.
  virtual Result<QueryTiming> aggregate_query(Timestamp from, Timestamp to, int repeats) = 0;
};

// VictoriaMetrics (Debian `victoria-metrics`, /usr/bin/victoria-metrics) in a scratch directory
// made under work_dir. See bench/peers/victoria_metrics.hpp for how it is run and measured.
Result<std::unique_ptr<Peer>> start_victoria_metrics(const std::filesystem::path& work_dir,
                                                     const PeerOptions& options = {});
// InfluxDB 1.6 (Debian `influxdb`, /usr/bin/influxd) in a scratch directory made under work_dir.
// See bench/peers/influxdb.hpp.
Result<std::unique_ptr<Peer>> start_influxdb(const std::filesystem::path& work_dir,
                                             const PeerOptions& options = {});

// The width of the windows aggregate_query() cuts a long range into: 7 days of 1-minute buckets
// (VictoriaMetrics refuses more than 30,000 points a series in one answer).
inline constexpr Timestamp kQueryWindow = Timestamp{7} * 24 * 3600 * kMicrosPerSecond;
inline constexpr Timestamp kBucketWidth = Timestamp{60} * kMicrosPerSecond;

}  // namespace strata::bench

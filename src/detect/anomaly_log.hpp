#pragma once
// AnomalyLog: where anomaly events are kept — anomalies.db under the data directory, SQLite
// through meta::Database, written in batches by a background thread (meta::BatchWriter, as the
// quarantine is) so a detection worker never waits on a transaction. An event is kept once per
// (series, time, detector version): a replay after a restart that produces it again changes
// nothing. The newest `max_entries` are kept.
//
//   anomalies(id INTEGER PRIMARY KEY AUTOINCREMENT, ts, device, metric, series, value, score,
//             raw_score, driver, detector, version, expected NULL, band NULL, unit, message,
//             signals (JSON text, multivariate only), multivariate, recorded,
//             UNIQUE(series, ts, version))
//
// The queue is bounded and never drops: a worker that finds it full waits (and the stage counts
// the wait), which slows the shards down behind it — back-pressure, as everywhere on the data path.
#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "detect/anomaly.hpp"
#include "meta/batch_writer.hpp"
#include "meta/database.hpp"

namespace strata::detect {

// Which events a query wants; newest first (by id), `before_id` pages back.
struct AnomalyQuery {
  std::optional<std::string> device;
  std::optional<std::string> metric;
  Timestamp from = kMinTimestamp, to = kMaxTimestamp;  // by the event's time
  double min_score = 0;
  std::size_t limit = 100;
  std::int64_t before_id = 0;  // 0: from the newest
};

// The events' store (above): written in the background, read by the REST routes.
class AnomalyLog {
 public:
  // An empty path keeps the events in memory (tests).
  static Result<std::unique_ptr<AnomalyLog>> open(const std::filesystem::path& file,
                                                  const Clock& clock,
                                                  std::size_t max_entries = 1'000'000,
                                                  std::size_t queue_bound = 100'000);
  ~AnomalyLog();

  // Queues the event; waits while the queue is full (returns true then). Any thread.
  bool add(AnomalyEvent event);
  // Events matching `q`, after everything queued before the call is written.
  Result<std::vector<AnomalyEvent>> query(const AnomalyQuery& q);
  // Returns once everything queued so far is written.
  void flush();
  // Batches whose transaction failed (their events are not kept); shown in /metrics.
  [[nodiscard]] std::uint64_t write_errors() const { return write_errors_.load(); }

 private:
  AnomalyLog(std::unique_ptr<meta::Database> db, const Clock& clock, std::size_t max_entries,
             std::size_t queue_bound);
  void write_batch(std::vector<AnomalyEvent>& batch);

  std::unique_ptr<meta::Database> db_;
  const Clock& clock_;
  std::size_t max_entries_;
  std::atomic<std::uint64_t> write_errors_{0};
  meta::BatchWriter<AnomalyEvent> writer_;  // last: drained before db_ closes
};

}  // namespace strata::detect

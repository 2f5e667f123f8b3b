#pragma once
// QuarantineLog: where readings and payloads the pipeline could not accept go, with the raw
// payload, the device, the transport and the reason, so nothing bad input carries disappears
// silently (shared/DESIGN.md, "Conventions"). Entries are written by a background thread in
// batches to an SQLite file of their own (quarantine.db), so a flood of bad input costs the data
// path a queue push, not a transaction; they are queryable (REST /api/v1/quarantine) and counted
// by transport and reason class in /metrics. The log keeps the newest `max_entries`.
//
// The queue is bounded: when bad input arrives faster than the writer can keep it (a flood), the
// entries beyond the bound are counted in `overflowed` — their count and reasons still reach
// /metrics — and the raw payloads of those are the only thing not kept.
#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "meta/batch_writer.hpp"
#include "meta/database.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::pipeline {

struct QuarantineEntry {
  std::int64_t id = 0;  // assigned when written
  Timestamp received = 0;
  Transport transport = Transport::http;
  std::string device_id;   // empty when the sender is unknown
  std::string message_id;  // empty when the transport has none
  std::string metric;      // empty when the whole payload was refused
  std::string reason;
  std::string raw;  // the payload (at most kMaxRawBytes kept)
};

struct QuarantineQuery {
  std::optional<std::string> device_id;
  std::optional<Transport> transport;
  Timestamp from = kMinTimestamp, to = kMaxTimestamp;  // by receive time
  std::size_t limit = 100;
  std::int64_t before_id = 0;  // paging: entries older than this id (0: the newest)
};

class QuarantineLog {
 public:
  static constexpr std::size_t kMaxRawBytes = 64 * 1024;

  static Result<std::unique_ptr<QuarantineLog>> open(const std::filesystem::path& file,
                                                     std::size_t max_entries = 1'000'000,
                                                     std::size_t queue_bound = 100'000);
  ~QuarantineLog();

  // Thread-safe, never blocks on I/O.
  void add(QuarantineEntry entry);
  // Newest first. Waits for entries added before the call to be written.
  Result<std::vector<QuarantineEntry>> query(const QuarantineQuery& q);
  // Blocks until everything added so far is written.
  void flush();

  [[nodiscard]] std::uint64_t total(Transport t) const {
    return totals_[static_cast<std::size_t>(t)].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t overflowed() const { return overflowed_.load(); }

 private:
  QuarantineLog(std::unique_ptr<meta::Database> db, std::size_t max_entries,
                std::size_t queue_bound);
  void write_batch(std::vector<QuarantineEntry>& batch);

  std::unique_ptr<meta::Database> db_;
  std::size_t max_entries_;
  std::atomic<std::uint64_t> totals_[kTransportCount] = {};
  std::atomic<std::uint64_t> overflowed_{0};
  meta::BatchWriter<QuarantineEntry> writer_;  // last: stopped (and drained) before db_ closes
};

}  // namespace strata::pipeline

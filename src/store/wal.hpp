#pragma once
// WriteAheadLog: makes appends durable before they are acknowledged. Appends go to the current
// segment with one write() per batch; fsync follows the policy (every batch, every N ms from a
// background thread, or never). A checkpoint rotates to a new segment and, once every point of
// the older segments is in durable chunk files, deletes them.
//
// Segment file wal/NNNNNNNN.wal: a sequence of records
//   u32 payload length, u32 CRC-32C of the payload, payload
// Payload (format 1):
//   u8 type = 1 (samples of one series): varint series, varint n, n × (i64 ts, f64 value)
//   u8 type = 2 (points of any series):  varint n, n × (u32 series, i64 ts, f64 value)
//   u8 type = 3 (points of any series, in runs of one series, what append(points) writes):
//           varint n_runs, per run: varint series, varint n, zz-varint ts0, [n ≥ 2] zz-varint
//           ts1 − ts0, (n − 2) × zz-varint delta-of-delta, n × f64 value  (≈ 9 bytes a point)
// Replay stops a segment at the first record whose length or CRC does not check: at the tail of
// the last segment that is a torn write (cut, with a warning); elsewhere it is corruption, and
// replay resynchronises on the next record that checks, reporting the bytes it skipped.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::store {

enum class FsyncPolicy { every_batch, interval, off };

struct WalOptions {
  FsyncPolicy fsync = FsyncPolicy::interval;
  Timestamp fsync_interval_us = 100'000;
  // Runs before every fsync of the WAL (the store syncs its series registry there).
  std::function<Status()> before_sync;
};

// What replay found that was not a clean record.
struct WalDamage {
  std::string segment;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  bool torn_tail = false;  // a cut last write (expected after a crash), not corruption
  Timestamp last_good_ts = kMinTimestamp;  // time of the last record before the damage, if any
};

class WriteAheadLog {
 public:
  // Replays every segment in dir through the callbacks, then opens a new segment for appends.
  using SamplesFn = std::function<void(SeriesId, std::span<const Sample>)>;
  using PointsFn = std::function<void(std::span<const Point>)>;
  static Result<std::unique_ptr<WriteAheadLog>> open(const std::filesystem::path& dir,
                                                     WalOptions options,
                                                     const SamplesFn& on_samples,
                                                     const PointsFn& on_points,
                                                     std::vector<WalDamage>& damage);
  ~WriteAheadLog();

  // REQUIRES: the caller serialises appends (the store's write lock).
  Status append(SeriesId series, std::span<const Sample> samples);
  Status append(std::span<const Point> points);
  Status sync();
  // Starts a new segment; returns the number of the first segment not yet covered by a checkpoint.
  Result<std::uint64_t> rotate();
  // Deletes the segments numbered below `first_kept`.
  Status drop_before(std::uint64_t first_kept);
  [[nodiscard]] std::uint64_t bytes() const { return bytes_.load(); }

 private:
  WriteAheadLog(std::filesystem::path dir, WalOptions options);
  Status open_segment(std::uint64_t number);
  Status write_record();
  Status sync_segment();  // REQUIRES: sync_mu_ held
  void sync_loop();

  std::filesystem::path dir_;
  WalOptions options_;
  int fd_ = -1;
  std::uint64_t segment_ = 0;
  std::vector<std::uint8_t> buf_;
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<bool> dirty_{false};
  std::mutex sync_mu_;  // orders fsync with segment switches
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread syncer_;
};

}  // namespace strata::store

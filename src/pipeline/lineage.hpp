#pragma once
// LineageLog: for any stored range of a device's data, where it came from — the transport, the
// message id, the sender and when it was received. The pipeline records one entry per message it
// stored (after the WAL step); a query names a device (or an API user, for line-protocol batches)
// and a time range and gets every message whose readings fall in it.
//
// Entries go to append-only segment files, one per hour of receive time, written by a background
// thread (a queue push on the data path; no fsync: lineage is an audit aid, the data's durability
// is the WAL's). Segments older than `keep` are deleted.
//
// Segment file <dir>/<hours since the epoch>.lin, a sequence of records (little endian):
//
//   u32 size            bytes after this field, up to and including crc
//   u8  version = 1
//   u8  transport       pipeline::Transport
//   u16 source_len
//   u16 message_len
//   u32 points
//   i64 received        µs since the epoch
//   i64 ts_min, ts_max  µs, the message's stored readings
//   source_len bytes    device id (or "user:<name>" for line protocol)
//   message_len bytes   message id
//   u32 crc             CRC-32C of the bytes from version to the end of the message id
//
// A torn or corrupt record ends the reading of its segment (reported by the query as a note).
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::pipeline {

struct LineageEntry {
  Transport transport = Transport::http;
  std::string source;  // the device id, or "user:<name>" for a batch from an API token
  std::string message_id;
  Timestamp received = 0;
  Timestamp ts_min = 0, ts_max = 0;
  std::uint32_t points = 0;
};

struct LineageAnswer {
  std::vector<LineageEntry> entries;  // by receive time
  std::vector<std::string> notes;     // damaged segments met on the way
  bool truncated = false;             // more than the limit matched
};

class LineageLog {
 public:
  static Result<std::unique_ptr<LineageLog>> open(const std::filesystem::path& dir,
                                                  Timestamp keep = 7 * 24 * 3600 *
                                                                   kMicrosPerSecond);
  ~LineageLog();

  void add(LineageEntry entry);  // thread-safe, never blocks on I/O
  void flush();                  // until everything added so far is written
  // Messages from `source` whose [ts_min, ts_max] meets [from, to].
  Result<LineageAnswer> query(const std::string& source, Timestamp from, Timestamp to,
                              std::size_t limit = 1000);

 private:
  explicit LineageLog(std::filesystem::path dir, Timestamp keep);
  void run();
  void write_batch(const std::vector<LineageEntry>& batch);
  void drop_old_segments(Timestamp now);

  std::filesystem::path dir_;
  Timestamp keep_;
  std::mutex mu_;
  std::condition_variable cv_, written_cv_;
  std::deque<LineageEntry> queue_;
  std::uint64_t enqueued_ = 0, written_ = 0;
  bool stop_ = false;
  int fd_ = -1;
  std::int64_t fd_hour_ = -1;
  std::thread writer_;
};

}  // namespace strata::pipeline

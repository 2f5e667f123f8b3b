#pragma once
// Store: Strata's embedded time-series engine (see README.md in this folder for the on-disk
// picture). One writer at a time appends (the shard workers of the server each call it under
// the write lock); any number of readers query concurrently from snapshots (the series' sealed
// chunks, shared and immutable, plus a copy of its head).
//
// Guarantees: an append returns only after its points are in the WAL under the fsync policy;
// after a crash every acknowledged point is back; points older than the out-of-order window are
// refused with a reason, never dropped silently; on equal timestamps the last write wins.
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/series_key.hpp"
#include "core/types.hpp"
#include "store/chunk_file.hpp"
#include "store/selector.hpp"
#include "store/series_registry.hpp"
#include "store/wal.hpp"

namespace strata::store {

enum class errc { io = 1, corrupt, invalid_argument, locked };

// Keep the points of the series a selector matches for `keep` (older ones are deleted).
struct RetentionRule {
  SeriesSelector match;
  Timestamp keep = 0;
};

struct StoreOptions {
  FsyncPolicy fsync = FsyncPolicy::interval;
  Timestamp fsync_interval_us = 100'000;
  Timestamp out_of_order_window_us = 3600 * kMicrosPerSecond;
  std::size_t chunk_max_points = 8192;
  std::uint64_t checkpoint_wal_bytes = 256ull
                                       << 20;  // seal everything when the WAL grows past this
  // Raw points (16 bytes each) the heads may gather before a sweep seals every head of 16 points
  // or more into a compressed in-memory chunk (written at the next checkpoint). Bounds memory
  // with many series; shorter heads stay (they compress poorly). The sweep is spread over the
  // appends that follow (a bounded number of points each), so no append waits for all of it.
  std::uint64_t head_points_budget = 1u << 20;
  // false: append() leaves the sweep, and the sealing of full heads, to the caller's
  // sweep_heads(), e.g. after it answered the writers, which encodes outside the writer's lock:
  // other threads append and their next requests are parsed while it encodes.
  bool sweep_in_append = true;
  std::vector<RetentionRule> retention;
  const Clock* clock = nullptr;  // defaults to the system clock
  // Called by compact_step() between encoding its runs (without the writer's lock) and putting
  // them in place: tests change the store there (a delete, a checkpoint) to see the step drop
  // work that no longer applies. Empty in production.
  std::function<void()> before_compaction_install;
};

// A sealed chunk as readers see it: immutable bytes kept alive by `owner`.
struct ChunkRef {
  Timestamp tmin = 0, tmax = 0;
  std::uint32_t count = 0;
  std::uint64_t precedence = 0;  // higher wins on equal timestamps
  std::uint32_t file = 0;        // 0 while the chunk waits for the next checkpoint (in memory)
  std::uint32_t index = 0;
  std::shared_ptr<const void> owner;
  std::span<const std::uint8_t> bytes;
};

// What a reader holds: consistent, immutable, free of locks.
struct SeriesSnapshot {
  SeriesId series = 0;
  std::shared_ptr<const std::vector<ChunkRef>> chunks;  // sorted by tmin
  std::vector<Sample> head;                             // sorted, newest writes
};

// Why a point was not stored.
struct Refusal {
  SeriesId series;
  Timestamp ts;
  std::string reason;
};

struct AppendResult {
  std::size_t accepted = 0;
  std::vector<Refusal> refused;
};

// Data the store found damaged at open and could not serve.
struct LostRange {
  std::optional<SeriesId> series;  // unknown when the damage hid which series it held
  std::string series_name;
  Timestamp from = kMinTimestamp, to = kMaxTimestamp;
  std::uint64_t points = 0;  // 0 when unknown
  std::string reason;
};

// What one compaction step did (Store::compact_step); the server adds these up in /metrics.
struct CompactionStep {
  std::uint64_t runs = 0;            // runs of short chunks merged
  std::uint64_t chunks_merged = 0;   // the short chunks they replaced
  std::uint64_t chunks_written = 0;  // the chunks that replace them
  std::uint64_t points = 0;          // points decoded and encoded anew
  // Runs whose chunks changed between the step's two locked phases (a delete, retention, a
  // compact(), a checkpoint of pending chunks, a late write overlapping them): work dropped.
  std::uint64_t runs_dropped = 0;
  // Every series was looked at and none had a run to merge; what the steps merged out of chunk
  // files is written (its own file, the MANIFEST). Call again later rather than at once.
  bool caught_up = false;
};

struct StoreStats {
  std::size_t series = 0;
  std::uint64_t points = 0;  // sealed and in heads
  std::uint64_t chunks = 0;
  std::uint64_t data_bytes = 0;       // compressed chunk payloads
  std::uint64_t bytes_on_disk = 0;    // every file under the data directory (sizes)
  std::uint64_t allocated_bytes = 0;  // what the file system allocated for it (du)
  std::uint64_t wal_bytes = 0;
  std::uint64_t head_points = 0;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                             StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- series
  Result<SeriesId> resolve(const SeriesKey& key);
  [[nodiscard]] std::optional<SeriesId> find(const SeriesKey& key) const;
  [[nodiscard]] std::optional<SeriesKey> key(SeriesId id) const;
  [[nodiscard]] std::vector<SeriesId> select(const SeriesSelector& selector) const;
  [[nodiscard]] std::size_t series_count() const;

  // --- writes (durable under the fsync policy when they return)
  Result<AppendResult> append(SeriesId series, std::span<const Sample> samples);
  Result<AppendResult> append(std::span<const Point> points);
  Status sync();
  // Continues the head sweep (StoreOptions::head_points_budget) by a bounded step, when one is
  // due, and seals the full heads appends set aside; append() does both itself unless
  // StoreOptions::sweep_in_append is false. The encoding runs outside the writer's lock.
  void sweep_heads();
  // Seals every head into a chunk file, then drops the WAL: on return every point is in
  // sealed, checksummed, fsynced chunk files.
  Status checkpoint();
  // Merges small and overlapping chunks of each series into full ones and rewrites files that
  // are mostly deleted chunks. Holds the writer's lock throughout (a batch import calls it).
  Status compact();
  // An incremental compaction a running server can afford: merges runs of consecutive short
  // chunks (fewer than chunk_max_points / 2 points) of a series into chunks of chunk_max_points,
  // decoding and encoding about max_points points (at least one full chunk's worth) outside the
  // writer's lock. A run is either pending chunks (sealed in memory; the merged ones stay in
  // memory until the next checkpoint) or chunks in files (the merged ones are written to a
  // compaction file of their own, with the MANIFEST retiring the old, when a few MiB gathered,
  // when the steps caught up, or at the next checkpoint, whichever comes first). Series are taken
  // round-robin. Merged chunks not yet written when the store closes are merged again after it
  // opens (the old ones are still live). An error when max_points is 0, a chunk does not decode
  // or the compaction file cannot be written.
  Result<CompactionStep> compact_step(std::size_t max_points);
  // Deletes the points of `series` in [from, to]; returns how many.
  Result<std::uint64_t> delete_range(SeriesId series, Timestamp from, Timestamp to);
  // Applies the retention rules at the clock's now; returns the points deleted.
  Result<std::uint64_t> apply_retention();

  // --- reads
  [[nodiscard]] SeriesSnapshot snapshot(SeriesId series) const;
  [[nodiscard]] StoreStats stats() const;
  [[nodiscard]] const std::vector<LostRange>& lost() const { return lost_; }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  struct SeriesState;
  Store(std::filesystem::path dir, StoreOptions options);
  SeriesState& state(SeriesId id);
  const SeriesState* state_if(SeriesId id) const;
  Status load_chunks();
  void insert_head(SeriesState& s, std::span<const Sample> samples);
  // Sealing heads into in-memory chunks, in three steps so the encoding can leave the writer's
  // lock: points are taken from heads (under write_mu_: by an append, for heads of a full chunk
  // or more, and by the sweep, StoreOptions::head_points_budget), encoded (no lock: the taken
  // points are immutable and readers still see them through SeriesState::sealing), then put in
  // place as chunks (under write_mu_, unless a checkpoint wrote them meanwhile).
  struct Sealing {
    SeriesState* state;
    std::shared_ptr<const std::vector<Sample>> samples;
    std::vector<std::shared_ptr<const std::vector<std::uint8_t>>> chunks;  // encoded
  };
  // Takes the first n points of a head into taken_. REQUIRES: write_mu_ held, nothing of the
  // series being sealed.
  void take_head(SeriesState& s, std::size_t n);
  void take_full_head(SeriesState& s);   // REQUIRES: write_mu_ held
  void take_sweep_step();                // REQUIRES: write_mu_ held
  std::vector<Sealing> take_sealings();  // REQUIRES: write_mu_ held
  void encode_sealing(Sealing& x) const;
  void install_sealings(std::vector<Sealing>& sealings);  // REQUIRES: write_mu_ held
  void seal(std::vector<Sealing> sealings);  // all three at once; REQUIRES: write_mu_ held
  std::string refusal_reason(Timestamp newest, Timestamp ts) const;
  Status checkpoint_locked();
  // Chunks of one series to retire, and what replaces them: samples to encode anew and
  // chunks to copy as they are. REQUIRES: write_mu_ held, no pending chunks (after a checkpoint).
  struct Replacement {
    SeriesId series;
    std::vector<const ChunkRef*> old;
    std::vector<Sample> samples;
    std::vector<const ChunkRef*> copy;
  };
  Status replace_chunks(std::vector<Replacement>& reps);
  // What checkpoints, replacements and compaction share: encoding samples into chunks of at
  // most chunk_max_points (the bytes kept alive in `keep`), and writing chunk file `file`, with
  // the refs to its chunks by series (the caller registers it and writes the MANIFEST).
  using EncodedChunks = std::vector<std::unique_ptr<std::vector<std::uint8_t>>>;
  void encode_chunks(SeriesId series, std::span<const Sample> samples,
                     std::vector<ChunkToWrite>& writes, EncodedChunks& keep) const;
  Result<std::map<SeriesId, std::vector<ChunkRef>>> write_chunks(
      std::uint32_t file, std::vector<ChunkToWrite>& writes) const;
  Result<std::uint64_t> delete_range_locked(SeriesId series, Timestamp from, Timestamp to);

  // Incremental compaction (compact_step), in three phases: runs are picked (under write_mu_,
  // the chunk list pinned), merged and encoded (no lock), then put in place (under write_mu_)
  // if their chunks are all still in the series' list and nothing else overlaps them.
  // A chunk compaction encoded: its series, time range and count (no offset yet), and bytes.
  struct CompactedChunk {
    ChunkMeta meta;
    std::shared_ptr<const std::vector<std::uint8_t>> bytes;
  };
  struct CompactionRun {
    SeriesId series = 0;
    std::shared_ptr<const std::vector<ChunkRef>> list;  // pinned: keeps the run's bytes alive
    std::size_t first = 0, end = 0;                     // the run: (*list)[first, end)
    bool in_files = false;                              // else pending chunks, in memory
    std::uint64_t points = 0;                           // after merging
    std::vector<CompactedChunk> encoded;
  };
  // Picks runs of about max_points points in all, from the round-robin cursor on; sets
  // caught_up when every series was looked at without finding one. REQUIRES: write_mu_ held.
  std::vector<CompactionRun> pick_compaction_runs(std::size_t max_points, bool& caught_up);
  // The next run of a series worth merging, if any. REQUIRES: write_mu_ held.
  std::optional<CompactionRun> find_compaction_run(SeriesId id, std::size_t budget);
  Status encode_compaction_run(CompactionRun& run) const;
  bool install_compaction_run(CompactionRun& run);  // false: dropped; REQUIRES: write_mu_ held
  // Writes what compaction merged out of chunk files into its own file (compaction_file_) and a
  // MANIFEST retiring the old chunks. REQUIRES: write_mu_ held.
  Status write_compaction_locked();
  // Marks chunks dead in `next`; files whose every chunk is then dead leave it (into `gone`,
  // for remove_chunk_files once the MANIFEST is written).
  void retire_chunks(Manifest& next,
                     const std::vector<std::pair<std::uint32_t, std::uint32_t>>& chunks,
                     std::vector<std::uint32_t>& gone) const;
  void remove_chunk_files(const std::vector<std::uint32_t>& gone) const;

  std::filesystem::path dir_;
  StoreOptions options_;
  SystemClock system_clock_;
  const Clock* clock_;
  int lock_fd_ = -1;
  std::unique_ptr<SeriesRegistry> registry_;
  std::unique_ptr<WriteAheadLog> wal_;
  Manifest manifest_;
  std::vector<LostRange> lost_;

  mutable std::mutex write_mu_;  // one writer at a time; also orders checkpoints
  mutable std::mutex states_mu_;
  std::vector<std::unique_ptr<SeriesState>> states_;
  std::uint64_t pending_counter_ = 0;
  // Points in all heads (an upper bound: deletions do not lower it; a checkpoint resets it),
  // what they held when the last sweep ended, and the sweep in progress (next series, or none).
  // Under write_mu_.
  std::uint64_t head_points_ = 0;
  std::uint64_t swept_head_points_ = 0;
  std::optional<SeriesId> sweep_next_;
  std::vector<Sealing> taken_;              // taken, not yet encoded (the next sweep_heads() does)
  std::vector<std::uint32_t> group_count_;  // append(points) scratch, all zero between calls

  std::mutex compaction_mu_;  // one compaction step at a time; taken before write_mu_
  // Under write_mu_: the round-robin cursor, series looked at since the last run found; what
  // compaction merged out of chunk files and that waits for its file: the file number reserved
  // for it (0: none), its chunks (in index order) and bytes, and the chunks they retire.
  SeriesId compaction_next_ = 0;
  std::size_t compaction_quiet_ = 0;
  std::uint32_t compaction_file_ = 0;
  std::vector<CompactedChunk> compaction_out_;
  std::uint64_t compaction_out_bytes_ = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> compaction_retired_;  // (file, index)
};

}  // namespace strata::store

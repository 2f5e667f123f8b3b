#pragma once
// The detectors' checkpoint: detectors.ckpt under the data directory. Every checkpoint_interval
// and at a clean stop the detection stage writes every detector's state frame (analytics' "SDET"
// frame) with what the stage keeps beside it — the time of the last point it scored, the points
// it has seen, its excursion state — so that after a restart each detector goes on from there
// and is fed what the store holds after that time: nothing acknowledged is missed or learnt twice.
//
// The file is written whole to detectors.ckpt.tmp, fsynced, renamed over detectors.ckpt, and the
// directory fsynced: a crash leaves the old file or the new one, never a mix. Little-endian:
//
//   header (16 bytes)
//   offset  size  field
//   0       4     magic "SDCK"
//   4       1     format version (1)
//   5       3     reserved, 0
//   8       8     written at (i64, µs since the epoch)
//
//   then records, one per detector, until the end of the file:
//   0       4     payload length P (u32, at most 64 MiB)
//   4       4     CRC-32C of the payload
//   8       P     payload:
//                   u8   kind: 1 a series' detector, 2 a machine's (multivariate) detector
//                   kind 1: u32 series id          kind 2: str device id
//                   str  spec as configured ("ensemble:rest=0")
//                   str  version ("ensemble@1a2b3c4d")
//                   i64  time of the last point scored (i64 min: none yet)
//                   u64  points seen (warm-up and live)
//                   u8   in an excursion (0/1)
//                   u32  points below the threshold since the excursion's last high one
//                   kind 2: u16 signal count n, then n × (str metric, u32 series id (0xffffffff:
//                           none yet), u8 fresh, i64 time, f64 value)
//                   u32  frame length F, then F bytes: the detector's state frame (detector.hpp)
//                 str = u16 length + bytes
//
// Reading: a file that is short or has another magic or version is refused whole (the stage then
// starts every detector cold and warms it up from the store). A record whose length runs past the
// end (a torn tail) ends the reading; a record whose CRC or payload is wrong is skipped and counted
// in `damaged` — its detector starts cold.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::detect {

inline constexpr SeriesId kNoSeries = 0xffffffffu;

// One detector's place in a checkpoint.
struct CheckpointRecord {
  enum class Kind : std::uint8_t { series = 1, machine = 2 };
  // A machine's signal and the reading being assembled from it.
  struct Signal {
    std::string metric;
    SeriesId series = kNoSeries;
    bool fresh = false;
    Timestamp ts = kMinTimestamp;
    double value = 0;
    friend bool operator==(const Signal&, const Signal&) = default;
  };
  Kind kind = Kind::series;
  SeriesId series = 0;  // kind series
  std::string device;   // kind machine
  std::string spec;
  std::string version;
  Timestamp last_ts = kMinTimestamp;
  std::uint64_t seen = 0;
  bool in_excursion = false;
  std::uint32_t calm = 0;
  std::vector<Signal> signals;      // kind machine
  std::vector<std::uint8_t> frame;  // the detector's state frame
  friend bool operator==(const CheckpointRecord&, const CheckpointRecord&) = default;
};

// What a checkpoint holds.
struct CheckpointContents {
  Timestamp written = 0;
  std::vector<CheckpointRecord> records;
  std::size_t damaged = 0;  // records skipped: bad CRC or payload
  bool torn = false;        // the last record ran past the end
};

// Appends one framed record (length, CRC, payload) to `out`.
void append_record(std::vector<std::uint8_t>& out, const CheckpointRecord& record);
// The whole file: header, then the records already framed by append_record().
std::vector<std::uint8_t> checkpoint_bytes(Timestamp written,
                                           std::span<const std::uint8_t> records);
// Reads a checkpoint (see above); an error only when the header is not a checkpoint's.
[[nodiscard]] Result<CheckpointContents> read_checkpoint(std::span<const std::uint8_t> bytes);

// Writes `bytes` as the file `path` (temp file, fsync, rename, fsync of the directory).
[[nodiscard]] Status write_checkpoint_file(const std::filesystem::path& path,
                                           std::span<const std::uint8_t> bytes);
// Reads `path`; a missing file is an empty checkpoint.
[[nodiscard]] Result<CheckpointContents> load_checkpoint_file(const std::filesystem::path& path);

}  // namespace strata::detect

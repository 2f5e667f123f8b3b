#pragma once
// SealedChunk: an immutable, compressed run of one series' samples (strictly increasing
// timestamps), the unit the store writes, indexes, reads and checks.
//
// Byte layout, format 1 (integers little-endian, varint = LEB128, zz = zigzag):
//   u8  magic 0xC7
//   u8  format (1)
//   u8  value codec (0 decimal, 1 gorilla, 2 dictionary; see value_codec.hpp)
//   u8  reserved (0)
//   varint count (≥ 1)
//   zz-varint t0
//   count ≥ 2: varint unit (the gcd of the deltas, µs), u8 mode, then in units:
//     mode 0: varint d0 = t1 − t0, residual block of the count − 2 zigzagged delta-of-deltas
//             (one constant-0 block for a regular series)
//     mode 1: varint base (the smallest delta), residual block of the count − 1 deltas − base
//   value codec payload (value_codec.hpp)
//   u32 CRC-32C of every preceding byte
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "store/residual_codec.hpp"
#include "store/value_codec.hpp"

namespace strata::store {

inline constexpr std::uint8_t kChunkMagic = 0xC7;
inline constexpr std::uint8_t kChunkFormat = 1;
inline constexpr std::size_t kMaxChunkPoints = std::size_t{1} << 20;  // a format limit

// Encodes samples (count ≥ 1, strictly increasing timestamps) into a sealed chunk.
std::vector<std::uint8_t> encode_chunk(std::span<const Sample> samples);

// Streams the samples of a sealed chunk in time order, a batch at a time, without materialising
// the chunk. Corrupt input is reported (open fails or failed() turns true), never a crash.
class ChunkDecoder {
 public:
  // Checks the CRC (unless verify_crc is false, for the fuzzer) and the header.
  static Result<std::unique_ptr<ChunkDecoder>> open(std::span<const std::uint8_t> bytes,
                                                    bool verify_crc = true);
  [[nodiscard]] std::size_t count() const { return count_; }
  [[nodiscard]] std::size_t remaining() const { return count_ - index_; }
  [[nodiscard]] ValueCodec codec() const { return codec_; }
  // Decodes up to `max` samples into out; returns how many (0 at the end or on failure).
  std::size_t next(Sample* out, std::size_t max);
  // The same as parallel arrays (the fast path of scans and aggregates).
  std::size_t next_block(Timestamp* ts, double* values, std::size_t max);
  // True for decimal chunks whose every value is exactly mantissa / scale(): aggregates
  // can then run on the integer mantissas. Use either next_block_mantissas or the others.
  [[nodiscard]] bool integer_values() const {
    return codec_ == ValueCodec::decimal && decimal_.exact();
  }
  [[nodiscard]] double scale() const { return decimal_.scale(); }  // 10^exponent
  // A regular chunk's timestamps are first + i·step: scans can skip decoding them (pass a null
  // ts to the next_block functions).
  [[nodiscard]] bool regular() const {
    return count_ < 2 || (ts_mode_ == 0 && dods_.constant() && dods_.constant_value() == 0);
  }
  // The timestamp of the next sample to decode (REQUIRES: regular() and remaining() > 0).
  [[nodiscard]] Timestamp next_timestamp() const {
    return index_ == 0 ? ts_ : ts_ + delta_ * unit_;
  }
  [[nodiscard]] Timestamp step() const { return delta_ * unit_; }
  std::size_t next_block_mantissas(Timestamp* ts, std::int64_t* mantissas, std::size_t max);
  [[nodiscard]] bool failed() const;

 private:
  ChunkDecoder() = default;
  std::size_t timestamps(Timestamp* out, std::size_t max);
  std::size_t count_ = 0;
  std::size_t index_ = 0;
  ValueCodec codec_ = ValueCodec::decimal;
  Timestamp ts_ = 0;
  std::int64_t delta_ = 0;  // delta-of-delta mode: the last delta; delta mode: the base (units)
  std::int64_t unit_ = 1;
  std::uint8_t ts_mode_ = 0;
  bool failed_ = false;
  ResidualDecoder dods_;
  DecimalDecoder decimal_;
  GorillaDecoder gorilla_;
  DictionaryDecoder dictionary_;
};

// Whether the chunk's trailing CRC-32C matches its bytes.
bool chunk_checksum_ok(std::span<const std::uint8_t> bytes);

// Decodes a whole chunk (tests, compaction).
Result<std::vector<Sample>> decode_chunk(std::span<const std::uint8_t> bytes);

enum class chunk_errc { corrupt = 1 };

}  // namespace strata::store

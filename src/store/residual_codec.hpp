#pragma once
// ResidualCodec: the entropy coder of sealed chunks. It stores a sequence of unsigned integers
// (zigzagged prediction residuals of timestamps and values) near their order-0 entropy.
//
// Each integer z is split into a high part h = z >> s and s low bits. The high parts are coded
// with a static rANS coder whose frequency table is fitted to this very block (a two-pass,
// per-chunk model, so the table is the best order-0 model for the chunk); the low bits, which are
// close to uniform when s is chosen well, go to a raw bit stream. h ≥ 63 is an escape: its symbol
// is its class, 62 + the bit length of h − 62 (63..126), so the coder learns how large the
// outliers of the block are, and the bits of h − 62 below its leading one go to the raw stream.
// s is chosen per block to minimise the coded size.
//
// Block layout:
//   u8 mode                     0 = constant; coded: 2 = two rANS states, 3 = four (1 = two
//                               states with Elias-gamma escapes, symbol 63 then the gamma code
//                               of h − 62 in the raw stream, and a gamma-coded table; read, no
//                               longer written)
//   mode 0: varint value        every integer of the block equals it (costs nothing per point)
//   mode 1..3: u8 shift s (0..63), u8 nsym (1..127; ≤ 64 in mode 1),
//           varint table_len, table: the frequencies of symbols 0..nsym−1, summing to 4096.
//             Modes 2, 3: for each but the last (4096 − the others), the Elias-gamma code of
//             zigzag(bit length − previous bit length) + 1, then the bits below its leading one.
//             Mode 1: nsym Elias-gamma codes of freq + 1.
//           varint rans_len, rans bytes (W = 2 or 4 interleaved 32-bit states, symbol i on state
//             i mod W, byte-wise renormalisation; the stream starts with the W final states, 4
//             bytes each). The encoder writes four states for blocks of 1,024 integers or more.
//           varint raw_len, raw bits (LSB-first): per integer, escape bits then its s low bits
// The count of integers is not stored: the chunk that holds a block knows it.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "store/byte_io.hpp"

namespace strata::store {

// How a block of values would be coded, and its estimated size: what choosing among predictors
// needs, kept so that the one chosen is encoded without being analysed again.
struct ResidualPlan {
  static constexpr unsigned kSymbols = 128;  // 0..62 high parts, 63..126 escape classes
  double bits = 0;        // estimated size in bits; close to the real size for large blocks
  bool constant = false;  // no values, or all equal: a constant block
  unsigned shift = 0;
  std::array<std::uint64_t, kSymbols> count{};  // high-part symbols at `shift`
  std::uint64_t escape_bits = 0;                // raw bits of escaped high parts
  unsigned nsym = 0;                            // symbols up to the last used one
};
ResidualPlan plan_residuals(std::span<const std::uint64_t> values);

// Appends the block of `values` to `out`; `plan` must be plan_residuals(values).
void encode_residuals(std::span<const std::uint64_t> values, const ResidualPlan& plan,
                      std::vector<std::uint8_t>& out);
inline void encode_residuals(std::span<const std::uint64_t> values,
                             std::vector<std::uint8_t>& out) {
  encode_residuals(values, plan_residuals(values), out);
}

// Streams the integers of one block back. Corrupt input never reads out of bounds; it sets
// failed() and yields garbage values, which callers catch by their own checks (and by the CRC).
class ResidualDecoder {
 public:
  ResidualDecoder() = default;
  // Reads the block header at `in`'s position and advances `in` past the whole block.
  bool open(ByteReader& in);
  std::uint64_t next() {
    std::uint64_t v;
    decode(&v, 1);
    return v;
  }
  // The next n integers into out: the fast path, state kept in registers.
  void decode(std::uint64_t* out, std::size_t n);
  [[nodiscard]] bool failed() const { return failed_ || raw_.failed(); }
  [[nodiscard]] bool constant() const { return constant_; }
  [[nodiscard]] std::uint64_t constant_value() const { return value_; }

  static constexpr unsigned kEscape = 63;

 private:
  enum class LowBits { none, fixed, wide };  // shift 0, 1..56, 57..63
  template <LowBits kLow, unsigned kWays>
  void decode_coded(std::uint64_t* out, std::size_t n);

  bool constant_ = true;
  std::uint64_t value_ = 0;
  unsigned shift_ = 0;
  bool legacy_ = false;  // mode 1: gamma escapes and a gamma-coded table
  unsigned ways_ = 2;    // interleaved rANS states: 2 (modes 1, 2) or 4 (mode 3)
  std::uint32_t states_[4] = {};
  unsigned phase_ = 0;  // the state the next integer is decoded with
  const std::uint8_t* rans_ = nullptr;
  const std::uint8_t* rans_end_ = nullptr;
  BitReader raw_;
  bool failed_ = false;
  // Per rANS slot: frequency (bits 0-12), slot − start of its symbol (bits 13-24), symbol
  // (bits 25-31): one load decodes a symbol.
  std::uint32_t slots_[4096];  // filled by open() for a coded block; unused for a constant one
};

}  // namespace strata::store

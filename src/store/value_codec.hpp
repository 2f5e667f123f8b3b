#pragma once
// The value codecs a sealed chunk chooses between (per chunk, by size):
//
// DecimalCodec — for readings that are short decimals (most sensor data). Each double v becomes
//   an integer mantissa m with v == m / 10^E bit for bit (E chosen per chunk, 0..18). The
//   mantissas are predicted (per chunk, the best of: level, delta, second delta, or an integer
//   EWMA with gain 1/2..1/16) and the zigzagged residuals go to the ResidualCodec. Values that are
//   a few ulps off a short decimal (51.846000000000004, the residue of float arithmetic) keep the
//   short mantissa plus an ulp correction; values with no decimal form (NaN, ±inf, -0.0, huge or
//   long ones) are exceptions stored raw. Every double comes back with the same bits.
//   Layout: u8 E, u8 predictor, zz-varint level, zz-varint m0,
//           residual block (count−1 mantissa residuals), residual block (count corrections:
//           0 exact, 1 raw exception, zigzag(ulp delta)+2), varint n_raw, n_raw × u64.
//
// DictionaryCodec — for chunks that repeat few distinct values in an order no predictor follows
//   (quantised readings such as CPU shares, counters sampled at fixed steps, mostly-zero signals
//   with bursts): the distinct values, sorted, are coded once, then each reading as its index in
//   that table. Layout: varint k (distinct values, 1..count), u8 table codec (0 decimal, 1
//   Gorilla), the table (k values ascending by bit order: -NaN … -0.0 < +0.0 … +NaN), then the
//   count indices as a decimal payload (exponent 0, exact).
//
// GorillaCodec — XOR of consecutive doubles with leading/trailing-zero windows (Pelkonen et al.,
//   "Gorilla", VLDB 2015), for chunks of arbitrary doubles. Layout: varint n_bytes, bit stream.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "store/byte_io.hpp"
#include "store/residual_codec.hpp"

namespace strata::store {

enum class ValueCodec : std::uint8_t { decimal = 0, gorilla = 1, dictionary = 2 };

// Appends the decimal encoding of `values` to out; false (out unchanged) when it does not apply.
bool encode_decimal(std::span<const double> values, std::vector<std::uint8_t>& out);
void encode_gorilla(std::span<const double> values, std::vector<std::uint8_t>& out);
// Appends the dictionary encoding; false (out unchanged) when three quarters of the values or more
// are distinct, when the values' best encoding so far, `to_beat` bytes, is already cheaper than
// half of log2(distinct values) bits a value, or when the table and the estimated index block
// come to more than `to_beat`: then it does not pay.
bool encode_dictionary(std::span<const double> values, std::size_t to_beat,
                       std::vector<std::uint8_t>& out);

// Streams the values of a decimal-coded chunk.
class DecimalDecoder {
 public:
  bool open(ByteReader& in, std::size_t count);
  // The next n values (REQUIRES: no more than remain).
  void values(double* out, std::size_t n);
  // The next n mantissas; with exact() every value is mantissa / 10^exponent(), so aggregates can
  // run on integers. REQUIRES: no more than remain; not mixed with values() on one decoder.
  void mantissas(std::int64_t* out, std::size_t n);
  [[nodiscard]] bool exact() const {
    return corrections_.constant() && corrections_.constant_value() == 0 && n_raw_ == 0;
  }
  [[nodiscard]] unsigned exponent() const { return exponent_; }
  // 10^exponent(): value = mantissa / scale().
  [[nodiscard]] double scale() const;
  [[nodiscard]] bool failed() const {
    return failed_ || residuals_.failed() || corrections_.failed();
  }

 private:
  unsigned exponent_ = 0;
  unsigned predictor_ = 0;
  std::int64_t level_ = 0;
  std::int64_t m1_ = 0, m2_ = 0;  // the previous two mantissas
  std::int64_t ewma_ = 0;         // EWMA state, 8 fractional bits
  std::size_t index_ = 0;
  std::uint64_t n_raw_ = 0;
  ResidualDecoder residuals_;
  ResidualDecoder corrections_;
  ByteReader raw_;
  bool failed_ = false;
};

// Streams the values of a Gorilla-coded chunk.
class GorillaDecoder {
 public:
  bool open(ByteReader& in, std::size_t count);
  double next();
  [[nodiscard]] bool failed() const { return bits_.failed(); }

 private:
  BitReader bits_;
  std::uint64_t prev_ = 0;
  unsigned lead_ = 0, sig_ = 0;
  bool first_ = true;
};

// Streams the values of a dictionary-coded chunk: the table is decoded at open (k ≤ count), the
// indices streamed.
class DictionaryDecoder {
 public:
  bool open(ByteReader& in, std::size_t count);
  // The next n values (REQUIRES: no more than remain).
  void values(double* out, std::size_t n);
  [[nodiscard]] bool failed() const { return failed_ || indices_.failed(); }

 private:
  std::vector<double> table_;
  DecimalDecoder indices_;
  bool failed_ = false;
};

}  // namespace strata::store

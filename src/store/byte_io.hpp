#pragma once
// Little-endian byte and bit readers/writers shared by every on-disk format of the store.
// Readers never read past their span: a read beyond the end yields zeros and sets failed(),
// so decoders of corrupt input stop cleanly instead of crashing.
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::store {

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t z) {
  return static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
}
inline std::uint64_t double_bits(double d) { return std::bit_cast<std::uint64_t>(d); }
inline double bits_double(std::uint64_t b) { return std::bit_cast<double>(b); }

// Appends bytes to a growing buffer.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void svarint(std::int64_t v) { varint(zigzag(v)); }
  void bytes(std::span<const std::uint8_t> b) { raw(b.data(), b.size()); }
  void str(std::string_view s) {
    varint(s.size());
    raw(s.data(), s.size());
  }
  void raw(const void* p, std::size_t n) {
    if (n == 0) return;
    const std::size_t at = out_.size();
    out_.resize(at + n);
    std::memcpy(out_.data() + at, p, n);
  }
  [[nodiscard]] std::size_t size() const { return out_.size(); }

 private:
  std::vector<std::uint8_t>& out_;
};

// Reads what ByteWriter wrote; bounds-checked.
class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(std::span<const std::uint8_t> in)
      : p_(in.data()), end_(in.data() + in.size()) {}
  std::uint8_t u8() {
    if (p_ >= end_) return fail(), 0;
    return *p_++;
  }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    raw(&v, 4);
    return v;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    raw(&v, 8);
    return v;
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return fail(), 0;
      const std::uint8_t b = *p_++;
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail(), 0;
  }
  std::int64_t svarint() { return unzigzag(varint()); }
  // A span of n bytes in place; empty and failed() if fewer remain.
  std::span<const std::uint8_t> bytes(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) return fail(), std::span<const std::uint8_t>{};
    std::span<const std::uint8_t> s(p_, n);
    p_ += n;
    return s;
  }
  std::string str() {
    const auto n = varint();
    auto b = bytes(n);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  void raw(void* dst, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) {
      std::memset(dst, 0, n);
      p_ = end_;
      fail();
      return;
    }
    std::memcpy(dst, p_, n);
    p_ += n;
  }
  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  [[nodiscard]] const std::uint8_t* position() const { return p_; }
  [[nodiscard]] bool failed() const { return failed_; }

 private:
  void fail() { failed_ = true; }
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  bool failed_ = false;
};

// Writes bit fields LSB-first into bytes.
class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  // Writes the low n bits of v (0 ≤ n ≤ 64).
  void put(std::uint64_t v, unsigned n) {
    if (n == 0) return;
    if (n < 64) v &= (std::uint64_t{1} << n) - 1;
    acc_ |= v << fill_;
    const unsigned room = 64 - fill_;
    if (n >= room) {
      flush_word();
      acc_ = room < 64 ? (v >> room) : 0;
      fill_ = n - room;
    } else {
      fill_ += n;
    }
  }
  void bit(bool b) { put(b ? 1 : 0, 1); }
  // Elias gamma code of v ≥ 1.
  void gamma(std::uint64_t v) {
    const unsigned n = 63 - static_cast<unsigned>(std::countl_zero(v));
    put(0, n);
    put(1, 1);
    put(v, n);  // the low n bits below the leading one
  }
  void finish() {
    while (fill_ > 0) {
      out_.push_back(static_cast<std::uint8_t>(acc_));
      acc_ >>= 8;
      fill_ = fill_ >= 8 ? fill_ - 8 : 0;
    }
  }

 private:
  void flush_word() {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(acc_ >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
};

// Reads BitWriter's output; bounds-checked (zeros past the end, failed() set).
class BitReader {
 public:
  BitReader() = default;
  explicit BitReader(std::span<const std::uint8_t> in)
      : p_(in.data()), end_(in.data() + in.size()) {}
  std::uint64_t get(unsigned n) {
    if (n == 0) return 0;
    if (n > 56) {
      const std::uint64_t lo = get(32);
      return lo | (get(n - 32) << 32);
    }
    if (fill_ < n) refill();
    if (fill_ < n) {
      failed_ = true;
      fill_ = n;  // zeros past the end
    }
    const std::uint64_t v = acc_ & ((std::uint64_t{1} << n) - 1);
    acc_ >>= n;
    fill_ -= n;
    return v;
  }
  // get(n) for hot loops with a fixed width: 1 ≤ n ≤ 56 and mask = 2^n − 1, both hoisted by the
  // caller; one well-predicted branch a call.
  std::uint64_t get_fixed(unsigned n, std::uint64_t mask) {
    if (fill_ < n) [[unlikely]] {
      refill();
      if (fill_ < n) {
        failed_ = true;
        fill_ = n;  // zeros past the end
      }
    }
    const std::uint64_t v = acc_ & mask;
    acc_ >>= n;
    fill_ -= n;
    return v;
  }
  bool bit() { return get(1) != 0; }
  std::uint64_t gamma() {
    unsigned n = 0;
    while (!get(1)) {
      if (++n > 63 || failed_) {
        failed_ = true;
        return 1;
      }
    }
    return (std::uint64_t{1} << n) | get(n);
  }
  [[nodiscard]] bool failed() const { return failed_; }

 private:
  // Tops the accumulator up to at least 56 bits: a whole 8-byte load while 8 bytes remain.
  void refill() {
    if (end_ - p_ >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p_, 8);
      acc_ |= word << fill_;
      p_ += (63 - fill_) >> 3;
      fill_ |= 56;
      return;
    }
    while (fill_ <= 56 && p_ < end_) {
      acc_ |= static_cast<std::uint64_t>(*p_++) << fill_;
      fill_ += 8;
    }
  }
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
  bool failed_ = false;
};

}  // namespace strata::store

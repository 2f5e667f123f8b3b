// Tests of core/crc32c: the published check values, seeding and continuation, and both paths (the
// SSE4.2 one crc32c() takes on this CPU, and the table one) against each other and an independent
// bitwise reference on buffers of every length and alignment the 8-byte fast path distinguishes.
#include "core/crc32c.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

namespace strata {
namespace {

// Bit at a time, reflected polynomial 0x82F63B78: the definition, shared with neither code path.
std::uint32_t reference_crc32c(const std::uint8_t* p, std::size_t n, std::uint32_t seed = 0) {
  std::uint32_t crc = ~seed;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

std::uint32_t crc_of(std::string_view s, std::uint32_t seed = 0) {
  return crc32c(s.data(), s.size(), seed);
}

TEST(Crc32c, CheckValueOf123456789) {
  EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_portable("123456789", 9), 0xE3069283u);
}

TEST(Crc32c, EmptyInputIsZeroAndKeepsTheSeed) {
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  EXPECT_EQ(crc32c(nullptr, 0, 0x12345678u), 0x12345678u);
  EXPECT_EQ(crc32c(std::span<const std::byte>{}), 0u);
}

// The iSCSI test vectors (RFC 3720, appendix B.4).
TEST(Crc32c, Rfc3720Vectors) {
  std::array<std::uint8_t, 32> buf{};
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x8A9136AAu);
  buf.fill(0xFF);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x62A8AB43u);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x46DD794Eu);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(31 - i);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x113FDB5Cu);
}

TEST(Crc32c, SpanOverloadAgreesWithPointerOverload) {
  const std::string_view s = "the quick brown fox jumps over the lazy dog";
  const auto bytes = std::as_bytes(std::span(s.data(), s.size()));
  EXPECT_EQ(crc32c(bytes), crc_of(s));
  EXPECT_EQ(crc32c(bytes, 77u), crc_of(s, 77u));
}

// The seed is a previous result: crc(a ++ b) == crc(b, seed = crc(a)) at every split point.
TEST(Crc32c, ContinuationOverEverySplit) {
  std::mt19937_64 rng(7);
  std::vector<std::uint8_t> buf(257);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  const std::uint32_t whole = crc32c(buf.data(), buf.size());
  for (std::size_t cut = 0; cut <= buf.size(); ++cut) {
    const std::uint32_t first = crc32c(buf.data(), cut);
    EXPECT_EQ(crc32c(buf.data() + cut, buf.size() - cut, first), whole) << "cut at " << cut;
  }
  // Three pieces, too.
  EXPECT_EQ(crc32c(buf.data() + 200, 57, crc32c(buf.data() + 13, 187, crc32c(buf.data(), 13))),
            whole);
}

TEST(Crc32c, SeedChangesTheResult) {
  EXPECT_NE(crc_of("123456789", 1), crc_of("123456789"));
  EXPECT_EQ(crc_of("123456789", 0xDEADBEEFu),
            reference_crc32c(reinterpret_cast<const std::uint8_t*>("123456789"), 9, 0xDEADBEEFu));
}

// The path the CPU takes and the table path agree with each other and with the bitwise definition
// on every length 0..100, every start alignment 0..7 and several seeds.
TEST(Crc32c, HardwareAndTablePathsAgreeOnRandomBuffers) {
  std::mt19937_64 rng(42);
  std::vector<std::uint8_t> storage(128 + 8);
  for (std::size_t len = 0; len <= 100; ++len) {
    for (std::size_t align = 0; align < 8; ++align) {
      for (auto& b : storage) b = static_cast<std::uint8_t>(rng());
      const std::uint8_t* p = storage.data() + align;
      for (std::uint32_t seed : {0u, 1u, 0xFFFFFFFFu, static_cast<std::uint32_t>(rng())}) {
        const std::uint32_t want = reference_crc32c(p, len, seed);
        ASSERT_EQ(crc32c(p, len, seed), want)
            << "length " << len << ", alignment " << align << ", seed " << seed;
        ASSERT_EQ(crc32c_portable(p, len, seed), want)
            << "length " << len << ", alignment " << align << ", seed " << seed;
      }
    }
  }
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
  std::mt19937_64 rng(3);
  std::vector<std::uint8_t> buf(64);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  const std::uint32_t good = crc32c(buf.data(), buf.size());
  for (std::size_t bit = 0; bit < buf.size() * 8; ++bit) {
    buf[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_NE(crc32c(buf.data(), buf.size()), good) << "bit " << bit;
    buf[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  }
}

TEST(Crc32c, LargeBufferAgreesWithReference) {
  std::mt19937_64 rng(11);
  std::vector<std::uint8_t> buf(1 << 16);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  const std::uint32_t want = reference_crc32c(buf.data(), buf.size());
  EXPECT_EQ(crc32c(buf.data(), buf.size()), want);
  EXPECT_EQ(crc32c_portable(buf.data(), buf.size()), want);
  // Continuation across the two paths: a prefix by one, the rest by the other.
  EXPECT_EQ(crc32c(buf.data() + 1001, buf.size() - 1001, crc32c_portable(buf.data(), 1001)), want);
}

}  // namespace
}  // namespace strata

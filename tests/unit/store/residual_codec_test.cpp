// Tests of store/residual_codec: exact round trips of blocks of every shape (constant, tiny,
// skewed, escapes, full 64-bit values, up to 65536 integers), that a block is self-delimiting,
// that it compresses to within a few percent of the order-0 entropy of its data, that the size
// estimate tracks the real size, and that corrupt or truncated blocks are survived.
#include "store/residual_codec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace strata::store {
namespace {

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

std::vector<std::uint8_t> encode(const std::vector<std::uint64_t>& values) {
  std::vector<std::uint8_t> out;
  encode_residuals(values, out);
  return out;
}

// Decodes a block of n integers that fills `bytes` except for `trailing` bytes after it, in
// batches of the given sizes (cycled; 1 is next()), so that calls stop and resume at every
// position of the interleaved rANS states.
std::vector<std::uint64_t> decode(const std::vector<std::uint8_t>& bytes, std::size_t n,
                                  std::size_t trailing = 0,
                                  const std::vector<std::size_t>& batches = {1}) {
  ByteReader in(bytes);
  auto d = std::make_unique<ResidualDecoder>();
  EXPECT_TRUE(d->open(in));
  EXPECT_FALSE(in.failed());
  EXPECT_EQ(in.remaining(), trailing) << "the block did not end where it was written";
  std::vector<std::uint64_t> out(n);
  for (std::size_t i = 0, b = 0; i < n; b = (b + 1) % batches.size()) {
    const std::size_t len = std::min(batches[b], n - i);
    if (len == 1)
      out[i] = d->next();
    else
      d->decode(out.data() + i, len);
    i += len;
  }
  EXPECT_FALSE(d->failed());
  return out;
}

void expect_round_trip(const std::vector<std::uint64_t>& values, const std::string& what) {
  SCOPED_TRACE(what + " (" + std::to_string(values.size()) + " integers)");
  auto bytes = encode(values);
  // A block is self-delimiting: bytes after it are not consumed.
  bytes.push_back(0xAB);
  bytes.push_back(0xCD);
  const std::vector<std::vector<std::size_t>> batchings = {{1}, {512}, {3, 1, 6, 2, 1, 1000, 5}};
  for (const auto& batches : batchings) {
    const auto back = decode(bytes, values.size(), 2, batches);
    ASSERT_EQ(back.size(), values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
      ASSERT_EQ(back[i], values[i]) << "at " << i << ", batches of " << batches[0] << "…";
  }
}

std::vector<std::uint64_t> geometric(std::mt19937_64& rng, std::size_t n, double p) {
  std::geometric_distribution<std::uint64_t> g(p);
  std::vector<std::uint64_t> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

// Zigzagged two-sided geometric (discrete Laplace) residuals with the given scale.
std::vector<std::uint64_t> laplace(std::mt19937_64& rng, std::size_t n, double scale) {
  std::exponential_distribution<double> e(1.0 / scale);
  std::bernoulli_distribution sign(0.5);
  std::vector<std::uint64_t> v(n);
  for (auto& x : v) {
    const auto m = static_cast<std::int64_t>(std::floor(e(rng)));
    x = zigzag(sign(rng) ? m : -m - 1);
  }
  return v;
}

// Order-0 entropy of the values as they are, in bits (the bound an order-0 coder is held to).
double empirical_entropy_bits(const std::vector<std::uint64_t>& values) {
  std::map<std::uint64_t, std::size_t> counts;
  for (auto v : values) ++counts[v];
  double h = 0;
  const auto n = static_cast<double>(values.size());
  for (const auto& [v, c] : counts)
    h -= static_cast<double>(c) * std::log2(static_cast<double>(c) / n);
  return h;
}

TEST(ResidualCodec, EmptyAndSingleBlocks) {
  EXPECT_EQ(encode({}).size(), 2u);
  expect_round_trip({}, "empty");
  expect_round_trip({0}, "one zero");
  expect_round_trip({1}, "one");
  expect_round_trip({kMax64}, "one maximum");
  expect_round_trip({0, 1}, "two");
  expect_round_trip({kMax64, 0}, "extremes");
  expect_round_trip({0, kMax64}, "extremes reversed");
}

TEST(ResidualCodec, ConstantBlocksCostAlmostNothing) {
  for (std::uint64_t c : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{62}, std::uint64_t{63},
                          std::uint64_t{12345}, std::uint64_t{1} << 40, kMax64 >> 1}) {
    for (std::size_t n : {1u, 2u, 100u, 8192u, 65536u}) {
      const std::vector<std::uint64_t> v(n, c);
      EXPECT_LE(encode(v).size(), 10u) << "constant " << c << " × " << n;
      expect_round_trip(v, "constant " + std::to_string(c));
    }
  }
  EXPECT_LE(encode(std::vector<std::uint64_t>(1000, kMax64)).size(), 11u);
  expect_round_trip(std::vector<std::uint64_t>(1000, kMax64), "constant maximum");
}

TEST(ResidualCodec, RoundTripsDistributionsAtManySizes) {
  std::mt19937_64 rng(1);
  for (std::size_t n : {2u, 3u, 7u, 16u, 100u, 1000u, 4096u, 65536u}) {
    expect_round_trip(geometric(rng, n, 0.5), "geometric 0.5");
    expect_round_trip(geometric(rng, n, 0.01), "geometric 0.01");
    expect_round_trip(laplace(rng, n, 3), "laplace 3");
    expect_round_trip(laplace(rng, n, 1e6), "laplace 1e6");
  }
}

TEST(ResidualCodec, RoundTripsFullWidthAndEscapes) {
  std::mt19937_64 rng(2);
  for (std::size_t n : {2u, 5u, 64u, 1000u, 20000u}) {
    std::vector<std::uint64_t> v(n);
    for (auto& x : v) x = rng();
    expect_round_trip(v, "uniform 64-bit");
    for (auto& x : v) x = rng() >> (rng() % 64);  // every bit length
    expect_round_trip(v, "mixed bit lengths");
    for (auto& x : v) x = rng() % 8 == 0 ? rng() : rng() % 4;  // rare huge values: escapes
    expect_round_trip(v, "small with rare escapes");
    for (auto& x : v) x = (std::uint64_t{1} << 63) | rng();  // top bit always set
    expect_round_trip(v, "top bit set");
  }
}

// Values whose high parts straddle the escape symbol (62, 63, 64 …) at whatever shift is chosen.
TEST(ResidualCodec, RoundTripsAroundTheEscapeSymbol) {
  std::mt19937_64 rng(3);
  for (std::uint64_t top : {63u, 64u, 65u, 126u, 127u, 128u, 200u, 4096u}) {
    std::vector<std::uint64_t> v(3000);
    for (auto& x : v) x = rng() % top;
    for (std::uint64_t k = 58; k < 70 && k < top; ++k) v[k] = k;  // every value near the escape
    expect_round_trip(v, "uniform below " + std::to_string(top));
  }
  std::vector<std::uint64_t> pow2;
  for (unsigned b = 0; b < 64; ++b) {
    pow2.push_back(std::uint64_t{1} << b);
    pow2.push_back((std::uint64_t{1} << b) - 1);
  }
  expect_round_trip(pow2, "powers of two and their predecessors");
}

// Extremely skewed tables: rare symbols get frequency 1 of 4096 and must still decode.
TEST(ResidualCodec, RoundTripsSkewedBlocks) {
  std::mt19937_64 rng(4);
  std::vector<std::uint64_t> v(65536, 0);
  v[12345] = 1;
  expect_round_trip(v, "one outlier in 65536");
  v[0] = kMax64;
  v[65535] = 63;
  expect_round_trip(v, "outliers at both ends");
  std::vector<std::uint64_t> all_symbols(65536, 5);
  for (std::uint64_t s = 0; s < 80; ++s) all_symbols[rng() % all_symbols.size()] = s;
  expect_round_trip(all_symbols, "every symbol once, one dominant");
  std::vector<std::uint64_t> alternating(10000);
  for (std::size_t i = 0; i < alternating.size(); ++i) alternating[i] = i % 2 ? 1000000 : 0;
  expect_round_trip(alternating, "alternating");
}

// The coder's promise: near the order-0 entropy of the block. 8192 integers drawn from a
// geometric or a discrete Laplace distribution cost at most 3% over their empirical entropy plus
// a small constant for the table and the coder's flush.
TEST(ResidualCodec, CompressesToNearOrder0Entropy) {
  std::mt19937_64 rng(5);
  struct Case {
    std::string name;
    std::vector<std::uint64_t> values;
  };
  std::vector<Case> cases;
  for (double p : {0.7, 0.5, 0.3, 0.1, 0.03})
    cases.push_back({"geometric p=" + std::to_string(p), geometric(rng, 8192, p)});
  for (double s : {0.5, 2.0, 8.0, 20.0})
    cases.push_back({"laplace scale=" + std::to_string(s), laplace(rng, 8192, s)});
  for (const auto& c : cases) {
    const double h = empirical_entropy_bits(c.values);
    const double bits = 8.0 * static_cast<double>(encode(c.values).size());
    EXPECT_LE(bits, 1.03 * h + 8 * 48)
        << c.name << ": " << bits / 8192 << " bits/integer, entropy " << h / 8192;
    expect_round_trip(c.values, c.name);
  }
}

// Wide distributions: the low bits go raw; still within a few percent of the entropy.
TEST(ResidualCodec, CompressesWideDistributions) {
  std::mt19937_64 rng(6);
  for (double s : {1e3, 1e6, 1e12}) {
    const auto v = laplace(rng, 8192, s);
    // The differential entropy of a discrete Laplace of scale s: log2(2 e s) bits.
    const double model_bits = 8192 * std::log2(2 * std::exp(1.0) * s);
    const double bits = 8.0 * static_cast<double>(encode(v).size());
    EXPECT_LE(bits, 1.03 * model_bits + 8 * 64)
        << "scale " << s << ": " << bits / 8192 << " bits/integer";
  }
}

TEST(ResidualCodec, EstimateTracksTheRealSize) {
  std::mt19937_64 rng(7);
  for (double p : {0.5, 0.05, 0.001}) {
    const auto v = geometric(rng, 8192, p);
    const double real = 8.0 * static_cast<double>(encode(v).size());
    const double est = plan_residuals(v).bits;
    EXPECT_NEAR(est, real, 0.03 * real + 128) << "geometric p=" << p;
  }
  // The estimate is what chunk encoding uses to choose predictors: the better block must look
  // better.
  EXPECT_LT(plan_residuals(geometric(rng, 4096, 0.5)).bits,
            plan_residuals(geometric(rng, 4096, 0.01)).bits);
  EXPECT_LE(plan_residuals(std::vector<std::uint64_t>(4096, 7)).bits, 16.0);
}

// Every strict prefix of a block is refused by open (the block ends with its lengths' payloads).
// Blocks written before escape classes (mode 1: Elias-gamma escapes and a gamma-coded table) are
// still read. Built by hand: one symbol holding the whole scale leaves every rANS state where it
// is, so the integers come from the raw stream alone, with or without gamma escapes.
TEST(ResidualCodec, ReadsLegacyGammaBlocks) {
  constexpr unsigned kShift = 5;
  for (unsigned symbol : {0u, 63u}) {
    SCOPED_TRACE("symbol " + std::to_string(symbol));
    std::mt19937_64 rng(symbol);
    std::vector<std::uint64_t> want;
    std::vector<std::uint8_t> table, raw;
    {
      BitWriter tw(table);
      for (unsigned s = 0; s < symbol; ++s) tw.gamma(1);  // frequency 0
      tw.gamma(4096 + 1);
      tw.finish();
      BitWriter bw(raw);
      for (int i = 0; i < 300; ++i) {
        std::uint64_t high = 0;
        if (symbol == 63) {
          high = 63 + rng() % 100000;
          bw.gamma(high - 62);
        }
        const std::uint64_t low = rng() % (1u << kShift);
        bw.put(low, kShift);
        want.push_back((high << kShift) | low);
      }
      bw.finish();
    }
    std::vector<std::uint8_t> block;
    ByteWriter w(block);
    w.u8(1);
    w.u8(kShift);
    w.u8(static_cast<std::uint8_t>(symbol + 1));
    w.varint(table.size());
    w.bytes(table);
    w.varint(8);
    for (int state = 0; state < 2; ++state) {
      for (std::uint8_t b : {0x00, 0x80, 0x00, 0x00}) w.u8(b);  // 2^23, big-endian
    }
    w.varint(raw.size());
    w.bytes(raw);
    for (const std::vector<std::size_t>& batches : {std::vector<std::size_t>{1}, {7, 100}}) {
      const auto back = decode(block, want.size(), 0, batches);
      ASSERT_EQ(back, want);
    }
  }
}

TEST(ResidualCodec, TruncatedBlocksAreRefused) {
  std::mt19937_64 rng(8);
  for (const auto& values :
       {geometric(rng, 300, 0.2), laplace(rng, 300, 1e9), std::vector<std::uint64_t>(50, 300)}) {
    const auto bytes = encode(values);
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(len));
      ByteReader in(cut);
      auto d = std::make_unique<ResidualDecoder>();
      EXPECT_FALSE(d->open(in)) << "prefix of " << len << " of " << bytes.size() << " bytes";
    }
  }
}

// Corrupt blocks: open may refuse them or yield garbage, but never reads out of bounds (ASan) and
// flags running out of data.
TEST(ResidualCodec, CorruptBlocksNeverCrash) {
  std::mt19937_64 rng(9);
  const std::vector<std::vector<std::uint64_t>> sources = {
      geometric(rng, 500, 0.2), laplace(rng, 500, 1e5), laplace(rng, 64, 2)};
  std::size_t refused = 0, decoded = 0, coded = 0, ran_dry = 0;
  for (int round = 0; round < 3000; ++round) {
    const auto& values = sources[static_cast<std::size_t>(round) % sources.size()];
    auto bytes = encode(values);
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k)
      bytes[rng() % bytes.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    if (round % 5 == 0) bytes.resize(rng() % (bytes.size() + 1));
    ByteReader in(bytes);
    auto d = std::make_unique<ResidualDecoder>();
    if (!d->open(in)) {
      ++refused;
      continue;
    }
    ++decoded;
    // Far more integers than the block holds: the decoder must run dry safely and (unless the
    // corruption produced a table that consumes no bits) say so.
    for (std::size_t i = 0; i < values.size() * 4; ++i) (void)d->next();
    if (!d->constant()) {
      ++coded;
      ran_dry += d->failed() ? 1 : 0;
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(decoded, 0u);
  EXPECT_GE(ran_dry * 10, coded * 9)
      << ran_dry << " of " << coded << " over-read blocks reported running dry";
}

}  // namespace
}  // namespace strata::store

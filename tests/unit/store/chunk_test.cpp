// Tests of store/chunk and, through it, store/value_codec: sealed chunks give back every
// timestamp and every value bit for bit (NaN payloads, ±inf, -0.0, subnormals, extremes, values
// a few ulps off short decimals, long decimals, huge integers; regular, irregular, huge and
// negative timestamps; 1 to 65536 samples), both value codecs are chosen where they should be,
// and corrupt chunks are refused by the CRC or, without it, survived.
#include "store/chunk.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/crc32c.hpp"

namespace strata::store {
namespace {

constexpr Timestamp kS = kMicrosPerSecond;
constexpr Timestamp kI64Min = std::numeric_limits<Timestamp>::min();
constexpr Timestamp kI64Max = std::numeric_limits<Timestamp>::max();

double from_bits(std::uint64_t b) { return std::bit_cast<double>(b); }
std::uint64_t bits(double d) { return std::bit_cast<std::uint64_t>(d); }

// Values that have no short decimal form, or are at the edges of the format.
std::vector<double> special_values() {
  return {
      from_bits(0x7FF8000000000000),  // the default quiet NaN
      from_bits(0xFFF8000000000000),  // negative quiet NaN
      from_bits(0x7FF0000000000001),  // signalling NaN, smallest payload
      from_bits(0x7FF8DEADBEEF0001),  // quiet NaN with a payload
      from_bits(0x7FFFFFFFFFFFFFFF),  // all payload bits set
      from_bits(0xFFF4000000000123),  // negative signalling NaN with a payload
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      -0.0,
      0.0,
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min(),
      from_bits(0x000FFFFFFFFFFFFF),  // the largest subnormal
      from_bits(0x0000000012345678),  // a subnormal with a pattern
      DBL_MIN,
      -DBL_MIN,
      DBL_MAX,
      -DBL_MAX,
      std::nextafter(DBL_MAX, 0.0),
      51.846000000000004,   // a few ulps off a short decimal
      0.30000000000000004,  // 0.1 + 0.2
      std::nextafter(51.846, 100.0),
      std::nextafter(std::nextafter(51.846, 0.0), 0.0),
      3.141592653589793,  // long decimals
      1.0 / 3.0,
      2.718281828459045,
      1e-300,
      1.2345678901234567e-200,
      9007199254740992.0,   // 2^53
      9007199254740994.0,   // 2^53 + 2
      18014398509481988.0,  // beyond 2^54
      1e18,
      1e19,
      -1e22,
      1e300,
      123456789012345680000.0,
  };
}

struct Decoded {
  std::vector<Sample> samples;
  ValueCodec codec = ValueCodec::decimal;
};

// Decodes with the given batch size; fails the test on any error.
Decoded decode(const std::vector<std::uint8_t>& bytes, std::size_t batch) {
  Decoded out;
  auto d = ChunkDecoder::open(bytes);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  if (!d) return out;
  out.codec = (*d)->codec();
  std::vector<Sample> buf(batch);
  EXPECT_EQ((*d)->remaining(), (*d)->count());
  for (;;) {
    const std::size_t n = (*d)->next(buf.data(), buf.size());
    if (n == 0) break;
    EXPECT_LE(n, batch);
    out.samples.insert(out.samples.end(), buf.begin(), buf.begin() + static_cast<long>(n));
  }
  EXPECT_FALSE((*d)->failed());
  EXPECT_EQ((*d)->remaining(), 0u);
  return out;
}

// Encodes, decodes in batches of several sizes and compares bit for bit; returns the codec.
ValueCodec expect_round_trip(const std::vector<Sample>& samples, const std::string& what) {
  SCOPED_TRACE(what + " (" + std::to_string(samples.size()) + " samples)");
  const auto bytes = encode_chunk(samples);
  ValueCodec codec = ValueCodec::decimal;
  for (std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{1024}, samples.size()}) {
    const Decoded d = decode(bytes, batch);
    codec = d.codec;
    EXPECT_EQ(d.samples.size(), samples.size()) << "batch " << batch;
    if (d.samples.size() != samples.size()) return codec;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      if (d.samples[i].ts != samples[i].ts || bits(d.samples[i].value) != bits(samples[i].value)) {
        ADD_FAILURE() << "sample " << i << " (batch " << batch << "): wrote (" << samples[i].ts
                      << ", " << std::hexfloat << samples[i].value << " = 0x" << std::hex
                      << bits(samples[i].value) << ") read (" << std::dec << d.samples[i].ts << ", "
                      << std::hexfloat << d.samples[i].value << " = 0x" << std::hex
                      << bits(d.samples[i].value) << ")";
        return codec;
      }
    }
  }
  const auto whole = decode_chunk(bytes);
  EXPECT_TRUE(whole.ok());
  if (whole) {
    EXPECT_EQ(whole->size(), samples.size());
  }
  return codec;
}

std::vector<Sample> with_regular_times(const std::vector<double>& values,
                                       Timestamp t0 = 1'600'000'000 * kS,
                                       Timestamp step = 10 * kS) {
  std::vector<Sample> s(values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    s[i] = {t0 + static_cast<Timestamp>(i) * step, values[i]};
  return s;
}

std::vector<Sample> with_jittered_times(const std::vector<double>& values, std::mt19937_64& rng) {
  std::vector<Sample> s(values.size());
  Timestamp t = 1'600'000'000 * kS + static_cast<Timestamp>(rng() % 1000);
  for (std::size_t i = 0; i < values.size(); ++i) {
    s[i] = {t, values[i]};
    t += 1 + static_cast<Timestamp>(rng() % (2 * kS));
  }
  return s;
}

// A random walk rounded to `decimals` places, as a parser of "51.846" would produce it.
std::vector<double> decimal_walk(std::mt19937_64& rng, std::size_t n, int decimals,
                                 double start = 50) {
  const double scale = std::pow(10.0, decimals);
  std::normal_distribution<double> step(0, 0.5);
  std::vector<double> v(n);
  double x = start;
  for (auto& y : v) {
    x += step(rng);
    y = static_cast<double>(std::llround(x * scale)) / scale;
  }
  return v;
}

TEST(Chunk, SingleAndTwoSamples) {
  expect_round_trip({{0, 1.5}}, "one sample at 0");
  expect_round_trip({{-5, -0.0}}, "one negative sample");
  expect_round_trip({{kI64Min, 1.0}}, "one sample at the minimum");
  expect_round_trip({{kI64Max, 2.0}}, "one sample at the maximum");
  expect_round_trip({{1, 1.0}, {2, 2.0}}, "two samples");
  expect_round_trip({{-10 * kS, std::nan("")}, {10 * kS, -std::numeric_limits<double>::infinity()}},
                    "two specials");
  for (double v : special_values()) {
    expect_round_trip({{1000, v}}, "one special");
    expect_round_trip({{1000, v}, {2000, v}}, "two equal specials");
    expect_round_trip({{1000, 1.5}, {2000, v}}, "a decimal then a special");
  }
}

TEST(Chunk, SpecialValuesRoundTripBitForBit) {
  std::mt19937_64 rng(1);
  auto v = special_values();
  expect_round_trip(with_regular_times(v), "specials in order");
  for (int round = 0; round < 20; ++round) {
    std::shuffle(v.begin(), v.end(), rng);
    expect_round_trip(with_jittered_times(v, rng), "specials shuffled");
  }
}

// Specials sprinkled into short decimals: the decimal codec stores them as exceptions.
TEST(Chunk, SpecialsInsideDecimalData) {
  std::mt19937_64 rng(2);
  const auto specials = special_values();
  for (std::size_t n : {20u, 300u, 5000u}) {
    auto v = decimal_walk(rng, n, 2);
    for (std::size_t i = 0; i < n; i += 1 + rng() % 40) v[i] = specials[rng() % specials.size()];
    const ValueCodec c = expect_round_trip(with_regular_times(v), "decimals with exceptions");
    if (n >= 300) {
      EXPECT_NE(c, ValueCodec::gorilla)
          << "a few exceptions should not push decimal data to gorilla";
    }
  }
}

TEST(Chunk, ValuesAFewUlpsOffShortDecimals) {
  std::mt19937_64 rng(3);
  for (int decimals : {1, 2, 3, 4}) {
    auto v = decimal_walk(rng, 2000, decimals);
    for (auto& x : v) {
      const int ulps = static_cast<int>(rng() % 7) - 3;
      for (int k = 0; k < std::abs(ulps); ++k)
        x = std::nextafter(x, ulps > 0 ? INFINITY : -INFINITY);
    }
    const ValueCodec c = expect_round_trip(
        with_regular_times(v), "ulp noise at " + std::to_string(decimals) + " decimals");
    EXPECT_EQ(c, ValueCodec::decimal);
  }
  // The float-arithmetic residue of a sum of readings.
  std::vector<double> sums;
  double acc = 0;
  for (int i = 0; i < 1000; ++i) sums.push_back(acc += 0.1);
  expect_round_trip(with_regular_times(sums), "running sum of 0.1");
}

// Few distinct values in no predictable order (quantised CPU shares, mostly-zero bursts): the
// dictionary codec, smaller than the decimal one, every value back bit for bit, -0.0 and +0.0
// and NaN payloads kept apart.
TEST(Chunk, FewDistinctValuesPickTheDictionary) {
  std::mt19937_64 rng(9);
  std::vector<double> levels;
  for (int k = 0; k < 40; ++k) levels.push_back(static_cast<double>(rng() % 1000000) / 1000.0);
  std::vector<double> v(4000);
  for (auto& x : v) x = levels[rng() % levels.size()];
  EXPECT_EQ(expect_round_trip(with_regular_times(v), "40 levels"), ValueCodec::dictionary);
  std::vector<std::uint8_t> decimal;
  ASSERT_TRUE(encode_decimal(v, decimal));
  EXPECT_LT(static_cast<double>(encode_chunk(with_regular_times(v)).size()),
            0.8 * static_cast<double>(decimal.size()));
  // Specials among the levels, the table going to Gorilla.
  auto specials = special_values();
  specials.push_back(-0.0);
  specials.push_back(0.0);
  for (std::size_t i = 0; i < v.size(); i += 7) v[i] = specials[rng() % specials.size()];
  expect_round_trip(with_regular_times(v), "40 levels and specials");
  // A mostly-zero signal with rare long bursts.
  std::vector<double> bursts(4000, 0.0);
  for (std::size_t i = 0; i < bursts.size(); i += 37) bursts[i] = 1e6 + static_cast<double>(i % 5);
  expect_round_trip(with_regular_times(bursts), "bursts");
}

TEST(Chunk, RandomWalksAtEveryPrecisionPickDecimal) {
  std::mt19937_64 rng(4);
  for (int decimals = 0; decimals <= 6; ++decimals) {
    for (std::size_t n : {3u, 50u, 1000u, 8192u}) {
      for (double start : {0.0, 50.0, -1000.0, 1e6}) {
        const auto v = decimal_walk(rng, n, decimals, start);
        const ValueCodec c = expect_round_trip(with_jittered_times(v, rng),
                                               "walk at " + std::to_string(decimals) + " decimals");
        // Short chunks go to whichever codec is smallest; longer ones to a decimal-aware one.
        if (n >= 1000) {
          EXPECT_NE(c, ValueCodec::gorilla) << decimals << " decimals, " << n << " samples";
        }
      }
    }
  }
}

TEST(Chunk, RandomDoublesPickGorilla) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1e3);
  for (std::size_t n : {2u, 10u, 1000u, 8192u}) {
    std::vector<double> bits_any(n), normals(n), walk(n);
    double x = 0;
    for (std::size_t i = 0; i < n; ++i) {
      bits_any[i] = from_bits(rng());  // any pattern, NaNs included
      normals[i] = normal(rng);
      walk[i] = x += normal(rng) * 1e-3;
    }
    EXPECT_EQ(expect_round_trip(with_regular_times(bits_any), "random bit patterns"),
              ValueCodec::gorilla);
    // Full-precision normals: either codec may win (the smaller is kept), both must round-trip.
    expect_round_trip(with_jittered_times(normals, rng), "random normals");
    expect_round_trip(with_regular_times(walk), "full-precision walk");
  }
}

// A chunk keeps the smaller of the two value encodings: its value payload never costs more than
// the better of encode_gorilla and encode_decimal (measured against the same timestamps with a
// constant value, whose payload is a few bytes).
TEST(Chunk, KeepsTheSmallerValueEncoding) {
  std::mt19937_64 rng(13);
  std::normal_distribution<double> normal(0, 1e3);
  std::vector<std::vector<double>> sets;
  for (std::size_t n : {10u, 1000u, 8192u}) {
    std::vector<double> normals(n), any(n);
    for (std::size_t i = 0; i < n; ++i) {
      normals[i] = normal(rng);
      any[i] = from_bits(rng());
    }
    sets.push_back(normals);
    sets.push_back(any);
    sets.push_back(decimal_walk(rng, n, 2));
    sets.push_back(decimal_walk(rng, n, 6, 1e6));
  }
  for (const auto& v : sets) {
    const auto samples = with_regular_times(v);
    const std::size_t constant_chunk =
        encode_chunk(with_regular_times(std::vector<double>(v.size(), 0.0))).size();
    std::vector<std::uint8_t> gorilla, decimal;
    encode_gorilla(v, gorilla);
    std::size_t best = gorilla.size();
    if (encode_decimal(v, decimal)) best = std::min(best, decimal.size());
    EXPECT_LE(encode_chunk(samples).size(), constant_chunk + best) << v.size() << " values";
  }
}

TEST(Chunk, LongDecimalsAndHugeIntegers) {
  std::mt19937_64 rng(6);
  std::vector<double> longs, huge, big_ints;
  for (int i = 0; i < 3000; ++i) {
    longs.push_back(static_cast<double>(rng() % 1000000000000) / 1e12);  // 12 decimals
    huge.push_back(static_cast<double>((std::uint64_t{1} << 53) + rng() % 100000) * 1024.0);
    big_ints.push_back(static_cast<double>(rng() >> 1));  // integers up to 2^63, not exact
  }
  expect_round_trip(with_regular_times(longs), "12 decimals");
  expect_round_trip(with_regular_times(huge), "integers beyond 2^53");
  expect_round_trip(with_regular_times(big_ints), "integers up to 2^63");
}

TEST(Chunk, ConstantEqualAndAlternatingSeries) {
  for (std::size_t n : {2u, 3u, 100u, 8192u}) {
    for (double c : {0.0, -0.0, 21.5, 1e300, std::nan(""), -std::numeric_limits<double>::infinity(),
                     DBL_MIN, std::numeric_limits<double>::denorm_min()}) {
      expect_round_trip(with_regular_times(std::vector<double>(n, c)), "constant");
    }
    std::vector<double> alt(n), alt_special(n), steps(n);
    for (std::size_t i = 0; i < n; ++i) {
      alt[i] = i % 2 ? 1.0 : 0.0;
      alt_special[i] = i % 2 ? 1e300 : -1e-300;
      steps[i] = static_cast<double>(i / 10) * 0.5;
    }
    const ValueCodec c = expect_round_trip(with_regular_times(alt), "alternating 0/1");
    if (n >= 100) {
      EXPECT_EQ(c, ValueCodec::decimal);
    }
    expect_round_trip(with_regular_times(alt_special), "alternating extremes");
    expect_round_trip(with_regular_times(steps), "staircase");
  }
  // A regular series of a constant costs almost nothing per point.
  const auto bytes = encode_chunk(with_regular_times(std::vector<double>(8192, 21.5)));
  EXPECT_LE(bytes.size(), 48u);
}

TEST(Chunk, Timestamps) {
  std::mt19937_64 rng(7);
  const std::vector<double> v = decimal_walk(rng, 1000, 1);
  expect_round_trip(with_regular_times(v, 0, 1), "every microsecond");
  expect_round_trip(with_regular_times(v, 0, 60 * kS), "every minute");
  expect_round_trip(with_regular_times(v, -500 * 60 * kS, 60 * kS), "crossing the epoch");
  expect_round_trip(with_regular_times(v, -1'000'000'000'000 * kS, 3 * kS), "far before the epoch");
  expect_round_trip(with_regular_times(v, kI64Max - 1000 * 999, 999), "up to the maximum");
  expect_round_trip(with_regular_times(v, kI64Min, 1), "from the minimum");
  // Millisecond-aligned jitter: the unit (gcd) is 1000 µs.
  std::vector<Sample> ms(v.size());
  Timestamp t = 1'700'000'000 * kS;
  for (std::size_t i = 0; i < v.size(); ++i, t += 1000 * (1 + static_cast<Timestamp>(rng() % 50)))
    ms[i] = {t, v[i]};
  expect_round_trip(ms, "millisecond jitter");
  // Mostly regular with rare gaps, and fully irregular.
  std::vector<Sample> gaps(v.size()), irregular(v.size());
  t = -7;
  for (std::size_t i = 0; i < v.size(); ++i) {
    gaps[i] = {t, v[i]};
    t += i % 97 == 0 ? 86400 * kS : 10 * kS;
  }
  t = 3;
  for (std::size_t i = 0; i < v.size(); ++i) {
    irregular[i] = {t, v[i]};
    t += 1 + static_cast<Timestamp>(rng() % 1'000'000'000);
  }
  expect_round_trip(gaps, "regular with gaps");
  expect_round_trip(irregular, "irregular");
}

// Gaps near the int64 range: first at INT64_MIN/2, then steps of INT64_MAX/4 with small ones
// between them (delta-of-deltas of ±2^61).
TEST(Chunk, HugeGaps) {
  const Timestamp big = kI64Max / 4;
  std::vector<Sample> s;
  Timestamp t = kI64Min / 2;
  for (int i = 0; i < 4; ++i) {
    s.push_back({t, static_cast<double>(i)});
    s.push_back({t + 1, -static_cast<double>(i)});
    t += big;
  }
  s.push_back({t, 99.0});
  expect_round_trip(s, "quarter-range gaps");
  expect_round_trip({{kI64Min / 2, 1.0}, {kI64Max / 2, 2.0}}, "one gap of almost the whole range");
  expect_round_trip(
      {{kI64Min / 2, 1.0}, {kI64Min / 2 + 1, 2.0}, {kI64Max / 2, 3.0}, {kI64Max / 2 + 1, 4.0}},
      "tiny, huge, tiny");
  expect_round_trip({{-1, 0.5}, {kI64Max - 1, 0.25}, {kI64Max, 0.125}}, "from -1 to the maximum");
  expect_round_trip({{kI64Min, 0.5}, {kI64Min + 1, 0.25}, {-1, 0.125}}, "from the minimum to -1");
}

TEST(Chunk, SizesUpTo65536) {
  std::mt19937_64 rng(8);
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 8u, 15u, 16u, 17u, 255u, 256u, 4097u, 65536u}) {
    expect_round_trip(with_jittered_times(decimal_walk(rng, n, 3), rng), "decimal walk");
    std::vector<double> any(n);
    for (auto& x : any) x = from_bits(rng());
    expect_round_trip(with_jittered_times(any, rng), "random bits");
  }
}

// Random mixtures of every kind of value and timestamp pattern.
TEST(Chunk, RandomMixturesRoundTrip) {
  std::mt19937_64 rng(9);
  const auto specials = special_values();
  for (int round = 0; round < 200; ++round) {
    const std::size_t n = 1 + rng() % 600;
    const int decimals = static_cast<int>(rng() % 7);
    auto v = decimal_walk(rng, n, decimals, static_cast<double>(rng() % 2000) - 1000);
    const unsigned special_every = 1 + static_cast<unsigned>(rng() % 50);
    for (std::size_t i = 0; i < n; ++i)
      if (rng() % special_every == 0) v[i] = specials[rng() % specials.size()];
    std::vector<Sample> s(n);
    Timestamp t = static_cast<Timestamp>(rng() >> 2) - (Timestamp{1} << 61);
    const Timestamp step = 1 + static_cast<Timestamp>(rng() % (60 * kS));
    for (std::size_t i = 0; i < n; ++i) {
      s[i] = {t, v[i]};
      t += rng() % 4 ? step : 1 + static_cast<Timestamp>(rng() % (1000 * kS));
    }
    expect_round_trip(s, "mixture " + std::to_string(round));
    if (HasFailure()) return;
  }
}

std::vector<std::uint8_t> sample_chunk() {
  std::mt19937_64 rng(10);
  auto v = decimal_walk(rng, 150, 2);
  v[17] = std::nan("");
  v[40] = 51.846000000000004;
  v[41] = -0.0;
  return encode_chunk(with_jittered_times(v, rng));
}

std::vector<std::uint8_t> sample_gorilla_chunk() {
  std::mt19937_64 rng(11);
  std::vector<double> v(150);
  for (auto& x : v) x = std::normal_distribution<double>(0, 1)(rng);
  return encode_chunk(with_jittered_times(v, rng));
}

// Recomputes the trailing CRC, so that header checks behind it are reached.
void reseal(std::vector<std::uint8_t>& bytes) {
  const std::uint32_t crc = crc32c(bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
}

TEST(ChunkCorruption, EverySingleBitFlipIsCaughtByTheCrc) {
  for (const auto& good : {sample_chunk(), sample_gorilla_chunk()}) {
    ASSERT_TRUE(ChunkDecoder::open(good).ok());
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
      auto bad = good;
      bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      auto d = ChunkDecoder::open(bad);
      ASSERT_FALSE(d.ok()) << "flip of bit " << bit << " of " << good.size() * 8
                           << " went unnoticed";
      EXPECT_TRUE(d.error().is(chunk_errc::corrupt));
      EXPECT_FALSE(decode_chunk(bad).ok());
    }
  }
}

TEST(ChunkCorruption, TruncationsFailCleanly) {
  for (const auto& good : {sample_chunk(), sample_gorilla_chunk()}) {
    for (std::size_t len = 0; len < good.size(); ++len) {
      const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<long>(len));
      EXPECT_FALSE(ChunkDecoder::open(cut).ok()) << "prefix of " << len << " bytes";
      EXPECT_FALSE(decode_chunk(cut).ok());
      // Without the CRC the decoder still must not read past the end.
      if (auto d = ChunkDecoder::open(cut, false)) {
        std::vector<Sample> buf(64);
        for (int k = 0; k < 100 && (*d)->next(buf.data(), buf.size()) > 0; ++k) {
        }
      }
    }
  }
}

TEST(ChunkCorruption, HeaderChecksBehindAValidCrc) {
  const auto good = sample_chunk();
  auto expect_refused = [](std::vector<std::uint8_t> bytes, const std::string& what,
                           const std::string& word) {
    reseal(bytes);
    auto d = ChunkDecoder::open(bytes);
    ASSERT_FALSE(d.ok()) << what;
    EXPECT_NE(d.error().message.find(word), std::string::npos) << what << ": " << d.error().message;
  };
  auto b = good;
  b[0] = 0x00;
  expect_refused(b, "magic", "magic");
  b = good;
  b[1] = 2;
  expect_refused(b, "format 2", "format");
  b = good;
  b[2] = 7;
  expect_refused(b, "codec 7", "codec");
  b = good;
  ASSERT_EQ(b[4], 0x96);  // the count 150 is the two-byte varint 96 01: make it the one-byte 0
  b.erase(b.begin() + 5);
  b[4] = 0;
  expect_refused(b, "count 0", "count");
  EXPECT_FALSE(ChunkDecoder::open(std::vector<std::uint8_t>(8, 0)).ok());
}

// Without the CRC, thousands of mutated chunks (bit flips, overwritten, inserted and deleted
// bytes, random tails) are decoded to the end: no crash, no read out of bounds (ASan), no
// undefined behaviour (UBSan), and whatever comes out has strictly increasing timestamps.
TEST(ChunkCorruption, GarbageNeverCrashesTheDecoder) {
  std::mt19937_64 rng(12);
  const std::vector<std::vector<std::uint8_t>> seeds = {
      sample_chunk(), sample_gorilla_chunk(),
      encode_chunk(
          std::vector<Sample>{{kI64Min / 2, 1.0}, {kI64Min / 2 + 1, 2.0}, {kI64Max / 2, 3.0}}),
      encode_chunk(with_regular_times(std::vector<double>(300, 4.25)))};
  std::size_t opened = 0;
  std::vector<Sample> buf(97);
  for (int round = 0; round < 6000; ++round) {
    auto bytes = seeds[static_cast<std::size_t>(round) % seeds.size()];
    switch (rng() % 5) {
      case 0:
        for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k)
          bytes[rng() % bytes.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        for (int k = 1 + static_cast<int>(rng() % 8); k > 0; --k)
          bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        break;
      case 2:
        bytes.insert(bytes.begin() + static_cast<long>(rng() % bytes.size()),
                     static_cast<std::uint8_t>(rng()));
        break;
      case 3:
        bytes.erase(bytes.begin() + static_cast<long>(rng() % bytes.size()));
        break;
      default:
        for (std::size_t i = 4 + rng() % (bytes.size() - 4); i < bytes.size(); ++i)
          bytes[i] = static_cast<std::uint8_t>(rng());
    }
    auto d = ChunkDecoder::open(bytes, /*verify_crc=*/false);
    if (!d) continue;
    ++opened;
    const std::size_t count = (*d)->count();
    std::size_t got = 0;
    Timestamp last = 0;
    bool first = true;
    for (std::size_t calls = 0; calls <= count; ++calls) {
      const std::size_t n = (*d)->next(buf.data(), buf.size());
      if (n == 0) break;
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_TRUE(first || buf[i].ts > last)
            << "round " << round << ": timestamps went backwards";
        last = buf[i].ts;
        first = false;
      }
      got += n;
    }
    ASSERT_LE(got, count) << "round " << round;
    (void)decode_chunk(bytes);
  }
  EXPECT_GT(opened, 100u) << "the mutations should leave many headers readable";
}

}  // namespace
}  // namespace strata::store

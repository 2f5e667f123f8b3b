#include "store/value_codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace strata::store {
namespace {

constexpr unsigned kMaxExponent = 18;
constexpr double kMantissaLimit = 9007199254740992.0;  // 2^53: mantissas stay exact doubles
constexpr std::int64_t kMaxUlpCorrection = std::int64_t{1} << 24;

constexpr std::array<double, kMaxExponent + 1> kPow10 = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                                         1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                                         1e14, 1e15, 1e16, 1e17, 1e18};

enum Predictor : unsigned {
  kLevel = 0,
  kDelta = 1,
  kDelta2 = 2,
  kEwma1 = 3,
  kEwma4 = 6,
  kPredictors = 7
};

// The mantissa of v at exponent e, if v is exactly m / 10^e.
bool exact_mantissa(double v, unsigned e, std::int64_t& m) {
  const double scaled = v * kPow10[e];
  if (!(std::fabs(scaled) < kMantissaLimit)) return false;
  m = std::llround(scaled);
  return double_bits(static_cast<double>(m) / kPow10[e]) == double_bits(v);
}

// The smallest exponent at which v is an exact decimal, or -1.
int min_exponent(double v) {
  std::int64_t m;
  for (unsigned e = 0; e <= kMaxExponent; ++e) {
    if (!std::isfinite(v) || std::fabs(v) * kPow10[e] >= kMantissaLimit) return -1;
    if (exact_mantissa(v, e, m)) return static_cast<int>(e);
  }
  return -1;
}

unsigned bit_length(std::uint64_t v) { return 64 - static_cast<unsigned>(std::countl_zero(v)); }

// Per point at exponent E: mantissa and correction symbol (0 exact, 1 raw, zigzag(ulps)+2).
struct Mantissas {
  std::vector<std::int64_t> m;
  std::vector<std::uint64_t> corrections;
  std::vector<std::uint64_t> raw;
  std::uint64_t cost_proxy = 0;  // bits, roughly: delta residuals plus corrections
};

Mantissas mantissas_at(std::span<const double> values, unsigned e) {
  Mantissas out;
  out.m.resize(values.size());
  out.corrections.resize(values.size());
  std::int64_t prev = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    std::int64_t m;
    std::uint64_t corr = 0;
    if (exact_mantissa(v, e, m)) {
      corr = 0;
    } else if (std::isfinite(v) && std::fabs(v * kPow10[e]) < kMantissaLimit &&
               !(v == 0 && std::signbit(v))) {
      m = std::llround(v * kPow10[e]);
      const double approx = static_cast<double>(m) / kPow10[e];
      const std::int64_t delta = static_cast<std::int64_t>(double_bits(v)) -
                                 static_cast<std::int64_t>(double_bits(approx));
      if (std::signbit(approx) == std::signbit(v) && delta > -kMaxUlpCorrection &&
          delta < kMaxUlpCorrection) {
        corr = zigzag(delta) + 2;
      } else {
        corr = 1;
      }
    } else {
      corr = 1;
    }
    if (corr == 1) {
      m = prev;  // an exception repeats the previous mantissa: its residual costs nothing
      out.raw.push_back(double_bits(v));
    }
    out.m[i] = m;
    out.corrections[i] = corr;
    out.cost_proxy +=
        bit_length(zigzag(m - prev)) + 1 + (corr ? 8 + bit_length(corr) : 0) + (corr == 1 ? 64 : 0);
    prev = m;
  }
  return out;
}

// The residuals of mantissas m[1..] under predictor p (m[0] is stored as is).
void residuals(const std::vector<std::int64_t>& m, unsigned p, std::int64_t level,
               std::vector<std::uint64_t>& out) {
  out.resize(m.empty() ? 0 : m.size() - 1);
  if (m.size() < 2) return;
  if (p == kLevel) {
    for (std::size_t i = 1; i < m.size(); ++i) out[i - 1] = zigzag(m[i] - level);
  } else if (p == kDelta) {
    for (std::size_t i = 1; i < m.size(); ++i) out[i - 1] = zigzag(m[i] - m[i - 1]);
  } else if (p == kDelta2) {
    out[0] = zigzag(m[1] - m[0]);
    for (std::size_t i = 2; i < m.size(); ++i)
      out[i - 1] = zigzag(m[i] - (2 * m[i - 1] - m[i - 2]));
  } else {
    const unsigned k = p - kEwma1 + 1;
    std::int64_t s = m[0] * 256;
    for (std::size_t i = 1; i < m.size(); ++i) {
      const std::int64_t pred = (s + 128) >> 8;
      out[i - 1] = zigzag(m[i] - pred);
      s += ((m[i] * 256) - s) >> k;
    }
  }
}

// Σ bit_length of the residuals under each predictor, in one pass (what residuals() would give).
std::array<std::uint64_t, kPredictors> proxy_bits(const std::vector<std::int64_t>& m,
                                                  std::int64_t level) {
  std::array<std::uint64_t, kPredictors> bits{};
  if (m.size() < 2) return bits;
  std::array<std::int64_t, kPredictors - kEwma1> s{};
  s.fill(m[0] * 256);
  bits[kDelta2] = bit_length(zigzag(m[1] - m[0]));
  for (std::size_t i = 1; i < m.size(); ++i) {
    const std::int64_t x = m[i];
    bits[kLevel] += bit_length(zigzag(x - level));
    bits[kDelta] += bit_length(zigzag(x - m[i - 1]));
    if (i >= 2) bits[kDelta2] += bit_length(zigzag(x - (2 * m[i - 1] - m[i - 2])));
    for (unsigned k = 0; k < kPredictors - kEwma1; ++k) {
      bits[kEwma1 + k] += bit_length(zigzag(x - ((s[k] + 128) >> 8)));
      s[k] += ((x * 256) - s[k]) >> (k + 1);
    }
  }
  return bits;
}

// How a block of mantissas is coded: the predictor is shortlisted by a bit-length proxy, the two
// best by the proxy are priced by the entropy estimate, the cheaper kept.
struct MantissaPlan {
  std::int64_t level = 0;
  std::array<unsigned, kPredictors> by_proxy{};  // predictors, best proxy first
  unsigned predictor = 0;
  std::vector<std::uint64_t> residuals;
  ResidualPlan plan;
};

// The plan of the predictor with the best proxy alone (what a quick price needs).
MantissaPlan shortlist(const Mantissas& mant) {
  MantissaPlan p;
  long double sum = 0;
  for (std::int64_t m : mant.m) sum += static_cast<long double>(m);
  p.level = std::llround(static_cast<double>(sum / static_cast<long double>(mant.m.size())));
  const auto proxy = proxy_bits(mant.m, p.level);
  for (unsigned i = 0; i < kPredictors; ++i) p.by_proxy[i] = i;
  std::sort(p.by_proxy.begin(), p.by_proxy.end(),
            [&](unsigned a, unsigned b) { return proxy[a] < proxy[b]; });
  p.predictor = p.by_proxy[0];
  residuals(mant.m, p.predictor, p.level, p.residuals);
  p.plan = plan_residuals(p.residuals);
  return p;
}

// The runner-up by the proxy, priced too; the plan keeps the cheaper.
void consider_runner_up(const Mantissas& mant, MantissaPlan& p) {
  if (mant.m.size() <= 16) return;
  std::vector<std::uint64_t> r;
  residuals(mant.m, p.by_proxy[1], p.level, r);
  if (ResidualPlan second = plan_residuals(r); second.bits < p.plan.bits) {
    p.predictor = p.by_proxy[1];
    p.residuals.swap(r);
    p.plan = second;
  }
}

// The decimal block of mantissas at exponent e (the layout in value_codec.hpp), as planned.
void write_mantissas(const Mantissas& mant, unsigned e, const MantissaPlan& p,
                     std::vector<std::uint8_t>& out) {
  ByteWriter w(out);
  w.u8(static_cast<std::uint8_t>(e));
  w.u8(static_cast<std::uint8_t>(p.predictor));
  w.svarint(p.level);
  w.svarint(mant.m[0]);
  encode_residuals(p.residuals, p.plan, out);
  encode_residuals(mant.corrections, out);
  w.varint(mant.raw.size());
  for (std::uint64_t b : mant.raw) w.u64(b);
}

void encode_mantissas(const Mantissas& mant, unsigned e, std::vector<std::uint8_t>& out) {
  MantissaPlan p = shortlist(mant);
  consider_runner_up(mant, p);
  write_mantissas(mant, e, p, out);
}

}  // namespace

bool encode_decimal(std::span<const double> values, std::vector<std::uint8_t>& out) {
  if (values.empty()) return false;
  // Candidate exponents: those at which a sample of the values become exact.
  std::array<std::uint32_t, kMaxExponent + 2> seen{};
  const std::size_t step = std::max<std::size_t>(1, values.size() / 256);
  std::size_t sampled = 0;
  for (std::size_t i = 0; i < values.size(); i += step, ++sampled) {
    const int e = min_exponent(values[i]);
    ++seen[e < 0 ? kMaxExponent + 1 : static_cast<unsigned>(e)];
  }
  if (seen[kMaxExponent + 1] == sampled) return false;  // nothing decimal here
  // Try the exponents that cover a sizeable share, plus the one that covers all decimals.
  std::vector<unsigned> candidates;
  unsigned max_e = 0;
  std::uint32_t covered = 0;
  for (unsigned e = 0; e <= kMaxExponent; ++e) {
    covered += seen[e];
    if (seen[e]) max_e = e;
    if (seen[e] && (seen[e] * 20 >= sampled || covered * 2 >= sampled)) candidates.push_back(e);
  }
  if (candidates.empty() || candidates.back() != max_e) candidates.push_back(max_e);
  if (candidates.size() > 4) candidates.erase(candidates.begin() + 3, candidates.end() - 1);

  Mantissas best;
  unsigned best_e = 0;
  bool have = false;
  for (unsigned e : candidates) {
    Mantissas c = mantissas_at(values, e);
    if (!have || c.cost_proxy < best.cost_proxy) {
      best = std::move(c);
      best_e = e;
      have = true;
    }
  }
  if (best.raw.size() * 2 > values.size()) return false;  // mostly exceptions: not decimal data
  encode_mantissas(best, best_e, out);
  return true;
}

bool DecimalDecoder::open(ByteReader& in, std::size_t count) {
  exponent_ = in.u8();
  predictor_ = in.u8();
  level_ = in.svarint();
  m1_ = in.svarint();
  if (exponent_ > kMaxExponent || predictor_ >= kPredictors) return false;
  if (!residuals_.open(in) || !corrections_.open(in)) return false;
  const std::uint64_t n_raw = in.varint();
  if (n_raw > count) return false;
  raw_ = ByteReader(in.bytes(n_raw * 8));
  n_raw_ = n_raw;
  index_ = 0;
  return !in.failed();
}

void DecimalDecoder::mantissas(std::int64_t* out, std::size_t n) {
  if (n == 0) return;
  std::size_t i = 0;
  if (index_ == 0) {
    out[i++] = m1_;
    ewma_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(m1_) << 8);  // wraps if corrupt
    m2_ = m1_;
  }
  // Wrapping arithmetic (corrupt input must not be undefined behaviour), range-checked below.
  auto add = [](std::int64_t a, std::uint64_t z) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) +
                                     static_cast<std::uint64_t>(unzigzag(z)));
  };
  constexpr std::int64_t kLimit = std::int64_t{1} << 53;
  auto outside = [](std::int64_t m) { return static_cast<std::uint64_t>(m + kLimit) >> 54; };
  std::uint64_t bad = 0;
  std::int64_t m1 = m1_, m2 = m2_, e = ewma_;
  const unsigned k = predictor_ >= kEwma1 ? predictor_ - kEwma1 + 1 : 0;
  std::uint64_t z[512];
  while (i < n) {
    const std::size_t len = std::min<std::size_t>(512, n - i);
    residuals_.decode(z, len);
    std::int64_t* o = out + i;
    switch (predictor_) {
      case kLevel:
        for (std::size_t j = 0; j < len; ++j) {
          o[j] = add(level_, z[j]);
          bad |= outside(o[j]);
        }
        break;
      case kDelta:
        for (std::size_t j = 0; j < len; ++j) {
          m1 = add(m1, z[j]);
          bad |= outside(m1);
          o[j] = m1;
        }
        break;
      case kDelta2:
        for (std::size_t j = 0; j < len; ++j) {
          const bool second = index_ + i + j == 1;
          const std::int64_t pred =
              second ? m1
                     : static_cast<std::int64_t>(2 * static_cast<std::uint64_t>(m1) -
                                                 static_cast<std::uint64_t>(m2));
          const std::int64_t m = add(pred, z[j]);
          bad |= outside(m);
          m2 = m1;
          m1 = m;
          o[j] = m;
        }
        break;
      default:
        for (std::size_t j = 0; j < len; ++j) {
          const std::int64_t m = add((e + 128) >> 8, z[j]);
          bad |= outside(m);
          if (!bad) e += ((m * 256) - e) >> k;
          o[j] = m;
        }
    }
    i += len;
  }
  m1_ = m1;
  m2_ = m2;
  ewma_ = e;
  index_ += n;
  if (bad) {
    failed_ = true;
    std::fill_n(out, n, 0);
  }
}

double DecimalDecoder::scale() const { return kPow10[exponent_]; }

void DecimalDecoder::values(double* out, std::size_t n) {
  std::int64_t m[512];
  const double scale = kPow10[exponent_];
  while (n > 0) {
    const std::size_t k = std::min<std::size_t>(n, 512);
    mantissas(m, k);
    if (exact()) {
      for (std::size_t i = 0; i < k; ++i) out[i] = static_cast<double>(m[i]) / scale;
    } else {
      for (std::size_t i = 0; i < k; ++i) {
        const std::uint64_t corr = corrections_.next();
        const double approx = static_cast<double>(m[i]) / scale;
        if (corr == 0) {
          out[i] = approx;
        } else if (corr == 1) {
          out[i] = bits_double(raw_.u64());
        } else {
          const std::int64_t delta = unzigzag(corr - 2);
          if (delta <= -kMaxUlpCorrection || delta >= kMaxUlpCorrection) {
            failed_ = true;
            out[i] = approx;
          } else {
            out[i] = bits_double(
                static_cast<std::uint64_t>(static_cast<std::int64_t>(double_bits(approx)) + delta));
          }
        }
      }
    }
    out += k;
    n -= k;
  }
}

void encode_gorilla(std::span<const double> values, std::vector<std::uint8_t>& out) {
  std::vector<std::uint8_t> bits;
  BitWriter bw(bits);
  std::uint64_t prev = 0;
  unsigned lead = 64, sig = 0;  // the current window; lead 64 = none yet
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint64_t b = double_bits(values[i]);
    if (i == 0) {
      bw.put(b, 64);
      prev = b;
      continue;
    }
    const std::uint64_t x = b ^ prev;
    prev = b;
    if (x == 0) {
      bw.bit(false);
      continue;
    }
    bw.bit(true);
    const unsigned l = std::min(31u, static_cast<unsigned>(std::countl_zero(x)));
    const unsigned t = static_cast<unsigned>(std::countr_zero(x));
    if (lead != 64 && l >= lead && t >= 64 - lead - sig) {
      bw.bit(false);
      bw.put(x >> (64 - lead - sig), sig);
    } else {
      lead = l;
      sig = 64 - l - t;
      bw.bit(true);
      bw.put(lead, 5);
      bw.put(sig - 1, 6);
      bw.put(x >> t, sig);
    }
  }
  bw.finish();
  ByteWriter w(out);
  w.varint(bits.size());
  w.bytes(bits);
}

bool GorillaDecoder::open(ByteReader& in, std::size_t /*count*/) {
  bits_ = BitReader(in.bytes(in.varint()));
  first_ = true;
  lead_ = 64;
  return !in.failed();
}

double GorillaDecoder::next() {
  if (first_) {
    first_ = false;
    prev_ = bits_.get(64);
    return bits_double(prev_);
  }
  if (bits_.bit()) {
    if (bits_.bit()) {
      lead_ = static_cast<unsigned>(bits_.get(5));
      sig_ = static_cast<unsigned>(bits_.get(6)) + 1;
      if (lead_ + sig_ > 64) sig_ = 64 - lead_;
    } else if (lead_ == 64) {
      return bits_double(prev_);  // corrupt: a window reuse before any window
    }
    const std::uint64_t x = bits_.get(sig_) << (64 - lead_ - sig_);
    prev_ ^= x;
  }
  return bits_double(prev_);
}

namespace {

// Orders doubles by value through their bits (-NaN < -inf < … < -0.0 < +0.0 < … < +NaN), a total
// order that tells -0.0 from +0.0 and keeps every NaN payload.
std::uint64_t order_key(double v) {
  const std::uint64_t b = double_bits(v);
  return (b >> 63) ? ~b : b | (std::uint64_t{1} << 63);
}

// The distinct values (by bits) in first-seen order and each value's id among them: one pass over
// an open-addressing set. False once `limit` distinct values are seen.
struct DistinctValues {
  std::vector<double> values;
  std::vector<std::uint32_t> id_of;  // per input value
};
bool find_distinct(std::span<const double> values, std::size_t limit, DistinctValues& d) {
  constexpr std::uint32_t kNone = ~std::uint32_t{0};
  std::size_t capacity = 16;
  while (capacity < 2 * limit) capacity *= 2;
  std::vector<std::uint64_t> keys(capacity, 0);  // bits + 1; 0 = empty
  std::vector<std::uint32_t> ids(capacity);
  std::uint32_t max_id = kNone;  // the value with every bit set, whose bits + 1 wrap to 0
  d.values.clear();
  d.id_of.resize(values.size());
  auto add = [&](double v) {
    d.values.push_back(v);
    return static_cast<std::uint32_t>(d.values.size() - 1);
  };
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint64_t key = double_bits(values[i]) + 1;
    std::uint32_t id;
    if (key == 0) {
      if (max_id == kNone) max_id = add(values[i]);
      id = max_id;
    } else {
      std::size_t at =
          static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & (capacity - 1);
      while (keys[at] != 0 && keys[at] != key) at = (at + 1) & (capacity - 1);
      if (keys[at] == 0) {
        keys[at] = key;
        ids[at] = add(values[i]);
      }
      id = ids[at];
    }
    if (d.values.size() >= limit) return false;
    d.id_of[i] = id;
  }
  return true;
}

}  // namespace

bool encode_dictionary(std::span<const double> values, std::size_t to_beat,
                       std::vector<std::uint8_t>& out) {
  // The price (table + estimated index block) above which a dictionary is not encoded, as a
  // share of what it must beat. On the NAB corpus and the synthetic plant in chunks of 100, 1,000
  // and 8,192 points, every dictionary that won was priced below 1.0; 9 in 10 of those that lost
  // were priced above 1.05 (and their chunks are the same as when every one was encoded).
  constexpr double kGiveUp = 1.05;
  const std::size_t n = values.size();
  if (n < 2) return false;
  // Indices into k values that follow no predictor cost about log2(k) bits each; when the values
  // already cost well under that, a dictionary rarely wins, and pricing it (two more encodings)
  // is most of a chunk's sealing time. Finding the distinct values first is cheap.
  DistinctValues distinct;
  if (!find_distinct(values, (3 * n + 3) / 4, distinct)) return false;
  const std::size_t k = distinct.values.size();
  if (8.0 * static_cast<double>(to_beat) < 0.5 * std::log2(static_cast<double>(k)) * n)
    return false;
  // The table in the total order; each value's index is the rank of its distinct value.
  std::vector<std::uint32_t> by_order(k);
  for (std::uint32_t id = 0; id < k; ++id) by_order[id] = id;
  std::sort(by_order.begin(), by_order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return order_key(distinct.values[a]) < order_key(distinct.values[b]);
  });
  std::vector<double> table(k);
  std::vector<std::uint32_t> rank(k);
  for (std::uint32_t r = 0; r < k; ++r) {
    table[r] = distinct.values[by_order[r]];
    rank[by_order[r]] = r;
  }
  // The indices as a decimal block at exponent 0: exact integers, so the mantissas are the
  // indices themselves, without corrections or exceptions (what encode_decimal would find).
  Mantissas indices;
  indices.m.resize(n);
  for (std::size_t i = 0; i < n; ++i) indices.m[i] = rank[distinct.id_of[i]];
  indices.corrections.assign(n, 0);
  const std::size_t start = out.size();
  ByteWriter w(out);
  w.varint(table.size());
  const std::size_t codec_at = out.size();
  w.u8(0);
  const std::size_t table_at = out.size();
  bool decimal = encode_decimal(table, out);
  std::vector<std::uint8_t> gorilla;
  encode_gorilla(table, gorilla);
  if (!decimal || gorilla.size() < out.size() - table_at) {
    out.resize(table_at);
    out.insert(out.end(), gorilla.begin(), gorilla.end());
    out[codec_at] = 1;
  }
  // Most dictionaries lose, and encoding their indices would be most of the time spent on them:
  // price the index block first, by the plan of its predictor with the best proxy (an estimate
  // that runs below the block's real size, which the runner-up predictor rarely beats by much),
  // and give up when the table and that price already come to more than what is to beat.
  MantissaPlan plan = shortlist(indices);
  const double price = static_cast<double>(out.size() - start) + plan.plan.bits / 8;
  if (price > kGiveUp * static_cast<double>(to_beat)) {
    out.resize(start);
    return false;
  }
  consider_runner_up(indices, plan);
  write_mantissas(indices, 0, plan, out);
  return true;
}

bool DictionaryDecoder::open(ByteReader& in, std::size_t count) {
  const std::uint64_t k = in.varint();
  const std::uint8_t table_codec = in.u8();
  if (in.failed() || k == 0 || k > count || table_codec > 1) return false;
  table_.resize(k);
  if (table_codec == 0) {
    auto table = std::make_unique<DecimalDecoder>();
    if (!table->open(in, k)) return false;
    table->values(table_.data(), k);
    if (table->failed()) return false;
  } else {
    GorillaDecoder table;
    if (!table.open(in, k)) return false;
    for (auto& v : table_) v = table.next();
    if (table.failed()) return false;
  }
  if (!indices_.open(in, count) || !indices_.exact() || indices_.exponent() != 0) return false;
  failed_ = false;
  return !in.failed();
}

void DictionaryDecoder::values(double* out, std::size_t n) {
  std::int64_t index[512];
  const auto k = static_cast<std::uint64_t>(table_.size());
  while (n > 0) {
    const std::size_t len = std::min<std::size_t>(n, 512);
    indices_.mantissas(index, len);
    for (std::size_t i = 0; i < len; ++i) {
      const auto at = static_cast<std::uint64_t>(index[i]);
      if (at < k) {
        out[i] = table_[at];
      } else {
        failed_ = true;
        out[i] = 0;
      }
    }
    out += len;
    n -= len;
  }
}

}  // namespace strata::store

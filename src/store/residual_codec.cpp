#include "store/residual_codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace strata::store {
namespace {

constexpr unsigned kScaleBits = 12;
constexpr std::uint32_t kScale = 1u << kScaleBits;
constexpr std::uint32_t kRansLow = 1u << 23;
constexpr unsigned kSymbols = ResidualPlan::kSymbols;
constexpr unsigned kEscape = ResidualDecoder::kEscape;

constexpr std::size_t kFourWayMin = 1024;  // blocks this long get four interleaved states

unsigned bit_length(std::uint64_t v) { return 64 - static_cast<unsigned>(std::countl_zero(v)); }

// The escape class of a high part h ≥ 63: symbol 62 + bit length of h − 62 (63..126); the bits of
// h − 62 below its leading one follow in the raw stream.
unsigned escape_symbol(std::uint64_t high) {
  return (kEscape - 1) + bit_length(high - (kEscape - 1));
}

// The high parts' histogram at a shift.
struct Histogram {
  std::array<std::uint64_t, kSymbols> count{};
  std::uint64_t escape_bits = 0;  // raw bits of escaped high parts
  unsigned nsym = 0;
};

Histogram histogram(std::span<const std::uint64_t> values, unsigned shift) {
  Histogram h;
  for (std::uint64_t v : values) {
    const std::uint64_t high = shift >= 64 ? 0 : v >> shift;
    if (high >= kEscape) {
      const unsigned sym = escape_symbol(high);
      ++h.count[sym];
      h.escape_bits += sym - kEscape;
    } else {
      ++h.count[high];
    }
  }
  for (unsigned s = kSymbols; s-- > 0;) {
    if (h.count[s]) {
      h.nsym = s + 1;
      break;
    }
  }
  return h;
}

double coded_bits(const Histogram& h, std::uint64_t n, unsigned shift) {
  double bits = 0;
  for (unsigned s = 0; s < h.nsym; ++s) {
    if (h.count[s])
      bits -= static_cast<double>(h.count[s]) *
              std::log2(static_cast<double>(h.count[s]) / static_cast<double>(n));
  }
  // table: about 7 bits a symbol up to the last used one, plus headers and the rANS flush
  return bits + static_cast<double>(h.escape_bits) + static_cast<double>(n) * shift + h.nsym * 7.0 +
         64;
}

// Chooses the shift, into the plan with its histogram and estimated size. Every shift is first
// priced from the histogram of bit lengths alone (values of one bit length share a high-part class;
// within a class the high parts are taken as uniform), which sees mixtures such as mostly zeros
// with rare 30-bit spikes that a percentile rule misses; the best estimate and its neighbours are
// then priced exactly.
void choose_shift(std::span<const std::uint64_t> values, ResidualPlan& plan) {
  std::array<std::uint64_t, 65> by_len{};
  for (std::uint64_t v : values) ++by_len[bit_length(v)];
  const auto n = static_cast<double>(values.size());
  const double log2_n = std::log2(n);
  unsigned longest = 64;
  while (longest > 0 && by_len[longest] == 0) --longest;
  // For a shift s, the bit lengths l > s each make a class of their own (k = l − s) and the
  // lengths l ≤ s make class 0; so the sums over l > s, taken as suffix sums once, price every
  // shift in constant time: extra = Σ c_l (l − s − 1), entropy = −Σ c_l log2(c_l / n).
  std::array<double, 66> suffix_count{}, suffix_len{}, suffix_entropy{};
  for (int l = 64; l >= 0; --l) {
    const auto c = static_cast<double>(by_len[static_cast<unsigned>(l)]);
    const auto i = static_cast<unsigned>(l);
    suffix_count[i] = suffix_count[i + 1] + c;
    suffix_len[i] = suffix_len[i + 1] + c * l;
    suffix_entropy[i] = suffix_entropy[i + 1] - (c > 0 ? c * (std::log2(c) - log2_n) : 0.0);
  }
  double best_estimate = 1e300;
  int guess = 0;
  for (unsigned s = 0; s <= std::min(63u, longest); ++s) {  // wider splits only add raw bits
    const double above = suffix_count[s + 1];
    const double extra = suffix_len[s + 1] - (s + 1.0) * above;
    const double zero = n - above;  // class 0
    double bits = extra + n * s + suffix_entropy[s + 1];
    if (zero > 0) bits -= zero * (std::log2(zero) - log2_n);
    if (bits < best_estimate) {
      best_estimate = bits;
      guess = static_cast<int>(s);
    }
  }
  // The estimate is rough where high parts are far from uniform within a class (a peaked
  // distribution): also price the shift that leaves about 90% of high parts below 32 and its
  // neighbours, as the estimate can only add candidates.
  const auto target = static_cast<std::uint64_t>(n * 0.9);
  std::uint64_t seen = 0;
  unsigned len90 = 0;
  for (unsigned l = 0; l <= 64; ++l) {
    seen += by_len[l];
    if (seen >= target) {
      len90 = l;
      break;
    }
  }
  const int s90 = std::max(0, static_cast<int>(len90) - 5);
  plan.bits = 1e300;
  auto price = [&](int s) {
    if (s < 0 || s > 63) return;
    Histogram h = histogram(values, static_cast<unsigned>(s));
    const double c = coded_bits(h, values.size(), static_cast<unsigned>(s));
    if (c < plan.bits) {
      plan.bits = c;
      plan.shift = static_cast<unsigned>(s);
      plan.count = h.count;
      plan.escape_bits = h.escape_bits;
      plan.nsym = h.nsym;
    }
  };
  for (int s = s90 - 2; s <= s90 + 1; ++s) price(s);
  for (int s = guess - 1; s <= guess + 1; ++s)
    if (s < s90 - 2 || s > s90 + 1) price(s);
}

// Scales counts to frequencies summing to kScale, every used symbol keeping at least 1.
std::array<std::uint32_t, kSymbols> normalise(const Histogram& h, std::uint64_t n) {
  std::array<std::uint32_t, kSymbols> f{};
  std::int64_t total = 0;
  for (unsigned s = 0; s < h.nsym; ++s) {
    if (!h.count[s]) continue;
    const double exact = static_cast<double>(h.count[s]) * kScale / static_cast<double>(n);
    f[s] = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(exact));
    total += f[s];
  }
  // Hand out (or take back) the remainder where it costs least: by count-weighted gain.
  while (total != kScale) {
    int best = -1;
    double best_gain = -1e300;
    for (unsigned s = 0; s < h.nsym; ++s) {
      if (!h.count[s]) continue;
      const double c = static_cast<double>(h.count[s]);
      double gain;
      if (total < kScale) {
        gain = c * std::log2(static_cast<double>(f[s] + 1) / f[s]);
      } else {
        if (f[s] <= 1) continue;
        gain = -c * std::log2(static_cast<double>(f[s]) / (f[s] - 1));
      }
      if (gain > best_gain) {
        best_gain = gain;
        best = static_cast<int>(s);
      }
    }
    if (total < kScale) {
      ++f[static_cast<unsigned>(best)];
      ++total;
    } else {
      --f[static_cast<unsigned>(best)];
      --total;
    }
  }
  return f;
}

}  // namespace

ResidualPlan plan_residuals(std::span<const std::uint64_t> values) {
  ResidualPlan plan;
  if (values.empty()) {
    plan.bits = 8;
    plan.constant = true;
  } else if (std::all_of(values.begin(), values.end(),
                         [&](std::uint64_t v) { return v == values[0]; })) {
    plan.bits = 16;
    plan.constant = true;
  } else {
    choose_shift(values, plan);
  }
  return plan;
}

void encode_residuals(std::span<const std::uint64_t> values, const ResidualPlan& plan,
                      std::vector<std::uint8_t>& out) {
  ByteWriter w(out);
  if (plan.constant) {
    w.u8(0);
    w.varint(values.empty() ? 0 : values[0]);
    return;
  }
  const unsigned shift = plan.shift;
  const Histogram h{plan.count, plan.escape_bits, plan.nsym};
  const auto freq = normalise(h, values.size());
  std::array<std::uint32_t, kSymbols> start{};
  for (unsigned s = 1; s < kSymbols; ++s) start[s] = start[s - 1] + freq[s - 1];

  // Raw bits go forward in symbol order; rANS runs backwards over the symbols.
  std::vector<std::uint8_t> raw;
  {
    BitWriter bw(raw);
    for (std::uint64_t v : values) {
      const std::uint64_t high = v >> shift;
      if (high >= kEscape) bw.put(high - (kEscape - 1), escape_symbol(high) - kEscape);
      bw.put(v, shift);
    }
    bw.finish();
  }
  // Interleaved rANS states (symbol i uses state i mod ways) split the decoder's dependency chain
  // so the CPU runs them in parallel; they share one byte stream, written backwards. Four for
  // long blocks; two for short ones, where 16 more bytes of final states would show.
  const unsigned ways = values.size() >= kFourWayMin ? 4 : 2;
  std::vector<std::uint8_t> rans(values.size() * 2 + 32);
  std::uint8_t* ptr = rans.data() + rans.size();
  auto emit = [&](std::uint8_t byte) {
    if (ptr == rans.data()) {  // grow at the front (rare: only for pathological tables)
      const std::size_t used = rans.size();
      std::vector<std::uint8_t> bigger(used * 2);
      std::copy(rans.begin(), rans.end(), bigger.begin() + static_cast<long>(used));
      rans.swap(bigger);
      ptr = rans.data() + used;
    }
    *--ptr = byte;
  };
  std::uint32_t xs[4] = {kRansLow, kRansLow, kRansLow, kRansLow};
  for (std::size_t i = values.size(); i-- > 0;) {
    std::uint32_t& x = xs[i % ways];
    const std::uint64_t high = values[i] >> shift;
    const unsigned sym = high >= kEscape ? escape_symbol(high) : static_cast<unsigned>(high);
    const std::uint32_t fs = freq[sym];
    const std::uint32_t x_max = ((kRansLow >> kScaleBits) << 8) * fs;
    while (x >= x_max) {
      emit(static_cast<std::uint8_t>(x & 0xFF));
      x >>= 8;
    }
    x = ((x / fs) << kScaleBits) + (x % fs) + start[sym];
  }
  for (int state = static_cast<int>(ways) - 1; state >= 0; --state) {
    for (int k = 0; k < 4; ++k) {
      emit(static_cast<std::uint8_t>(xs[state] & 0xFF));
      xs[state] >>= 8;
    }
  }
  const std::size_t rans_len = static_cast<std::size_t>(rans.data() + rans.size() - ptr);

  std::vector<std::uint8_t> table;
  {
    // Each frequency but the last (4096 − the others) as the change of its bit length from the
    // previous one (neighbouring frequencies are alike) and its bits below the leading one.
    BitWriter tw(table);
    unsigned prev_len = 0;
    for (unsigned s = 0; s + 1 < h.nsym; ++s) {
      const unsigned len = bit_length(freq[s]);
      tw.gamma(zigzag(static_cast<std::int64_t>(len) - static_cast<std::int64_t>(prev_len)) + 1);
      if (len >= 2) tw.put(freq[s], len - 1);
      prev_len = len;
    }
    tw.finish();
  }
  w.u8(ways == 4 ? 3 : 2);
  w.u8(static_cast<std::uint8_t>(shift));
  w.u8(static_cast<std::uint8_t>(h.nsym));
  w.varint(table.size());
  w.bytes(table);
  w.varint(rans_len);
  w.raw(ptr, rans_len);
  w.varint(raw.size());
  w.bytes(raw);
}

void ResidualDecoder::decode(std::uint64_t* out, std::size_t n) {
  if (constant_) {
    std::fill_n(out, n, value_);
    return;
  }
  const bool four = ways_ == 4;
  if (shift_ == 0) {
    four ? decode_coded<LowBits::none, 4>(out, n) : decode_coded<LowBits::none, 2>(out, n);
  } else if (shift_ <= 56) {
    four ? decode_coded<LowBits::fixed, 4>(out, n) : decode_coded<LowBits::fixed, 2>(out, n);
  } else {
    four ? decode_coded<LowBits::wide, 4>(out, n) : decode_coded<LowBits::wide, 2>(out, n);
  }
}

template <ResidualDecoder::LowBits kLow, unsigned kWays>
void ResidualDecoder::decode_coded(std::uint64_t* out, std::size_t n) {
  BitReader raw = raw_;  // local copies stay in registers
  const std::uint8_t* p = rans_;
  const std::uint8_t* const end = rans_end_;
  const unsigned shift = shift_;
  const bool gamma_escapes = legacy_;
  const std::uint64_t mask = kLow == LowBits::fixed ? (std::uint64_t{1} << shift) - 1 : 0;
  bool failed = false;
  // One rANS step; `checked` when fewer than two bytes may be left to renormalise from.
  auto step = [&](std::uint32_t & x, bool checked) __attribute__((always_inline))->std::uint64_t {
    const std::uint32_t e = slots_[x & (kScale - 1)];
    x = (e & 0x1FFF) * (x >> kScaleBits) + ((e >> 13) & 0xFFF);
    if (!checked) {  // at most two bytes renormalise a 12-bit-scale state: branch-free
      const unsigned bytes = (x < kRansLow) + (x < (kRansLow >> 8));
      const std::uint32_t next = (std::uint32_t{p[0]} << 8) | p[1];
      x = (x << (8 * bytes)) | (next >> (8 * (2 - bytes)));
      p += bytes;
    } else {
      while (x < kRansLow) {
        if (p < end) {
          x = (x << 8) | *p++;
        } else {
          failed = true;
          x = kRansLow;
        }
      }
    }
    std::uint64_t high = e >> 25;
    if (high >= kEscape) [[unlikely]] {
      if (gamma_escapes) {
        high = raw.gamma() + (kEscape - 1);
      } else {
        const unsigned bits = static_cast<unsigned>(high) - kEscape;  // below the leading one
        high = ((std::uint64_t{1} << bits) | raw.get(bits)) + (kEscape - 1);
      }
    }
    if constexpr (kLow == LowBits::fixed) return (high << shift) | raw.get_fixed(shift, mask);
    if constexpr (kLow == LowBits::wide) return (high << shift) | raw.get(shift);
    return high;
  };
  std::size_t i = 0;
  for (; i < n && phase_ != 0; ++i) {  // finish the group a previous call stopped inside
    out[i] = step(states_[phase_], true);
    phase_ = (phase_ + 1) % kWays;
  }
  std::uint32_t x[kWays];
  std::copy_n(states_, kWays, x);
  // Whole groups while 2·kWays bytes are left (a step renormalises from at most two): no bounds
  // checks inside.
  while (n - i >= kWays) {
    const std::size_t groups =
        std::min(static_cast<std::size_t>(end - p) / (2 * kWays), (n - i) / kWays);
    if (groups == 0) break;
    for (const std::size_t stop = i + groups * kWays; i < stop; i += kWays) {
#pragma GCC unroll 4
      for (unsigned k = 0; k < kWays; ++k) out[i + k] = step(x[k], false);
    }
  }
  for (; n - i >= kWays; i += kWays) {
#pragma GCC unroll 4
    for (unsigned k = 0; k < kWays; ++k) out[i + k] = step(x[k], true);
  }
#pragma GCC unroll 4
  for (unsigned k = 0; k < kWays; ++k) {
    if (i < n) {
      out[i++] = step(x[k], true);
      phase_ = k + 1;
    }
  }
  std::copy_n(x, kWays, states_);
  rans_ = p;
  raw_ = raw;
  failed_ = failed_ || failed;
}

bool ResidualDecoder::open(ByteReader& in) {
  const std::uint8_t mode = in.u8();
  if (mode == 0) {
    constant_ = true;
    value_ = in.varint();
    return !in.failed();
  }
  if (mode < 1 || mode > 3) return false;
  ways_ = mode == 3 ? 4 : 2;
  legacy_ = mode == 1;
  constant_ = false;
  shift_ = in.u8();
  const unsigned nsym = in.u8();
  if (shift_ > 63 || nsym == 0 || nsym > (legacy_ ? kEscape + 1 : kSymbols - 1)) return false;
  BitReader table(in.bytes(in.varint()));
  std::uint32_t total = 0;
  unsigned prev_len = 0;
  for (unsigned s = 0; s < nsym; ++s) {
    std::uint64_t f;
    if (legacy_) {
      f = table.gamma() - 1;
    } else if (s + 1 == nsym) {
      f = kScale - total;  // the last frequency is what the others leave
      if (f == 0) return false;
    } else {
      const std::int64_t len = static_cast<std::int64_t>(prev_len) + unzigzag(table.gamma() - 1);
      if (len < 0 || len > 13) return false;
      prev_len = static_cast<unsigned>(len);
      f = len == 0 ? 0 : (std::uint64_t{1} << (len - 1)) | (len >= 2 ? table.get(len - 1) : 0);
    }
    if (f > kScale || total + f > kScale) return false;
    const std::uint32_t base = static_cast<std::uint32_t>(f) | (s << 25);
    std::uint32_t* slot = slots_ + total;
    // Four slots a step: open() runs once a block, and a 4,096-slot table is a visible part of
    // scanning short chunks.
    std::uint32_t k = 0;
    for (; k + 4 <= f; k += 4) {
      const std::uint32_t e = base + (k << 13);
      slot[k] = e;
      slot[k + 1] = e + (1u << 13);
      slot[k + 2] = e + (2u << 13);
      slot[k + 3] = e + (3u << 13);
    }
    for (; k < f; ++k) slot[k] = base + (k << 13);
    total += static_cast<std::uint32_t>(f);
  }
  if (total != kScale || table.failed()) return false;
  const auto rans = in.bytes(in.varint());
  if (rans.size() < 4 * ways_) return false;
  rans_ = rans.data();
  rans_end_ = rans.data() + rans.size();
  for (unsigned w = 0; w < ways_; ++w) {
    states_[w] = 0;
    for (int k = 0; k < 4; ++k) states_[w] = (states_[w] << 8) | *rans_++;
  }
  phase_ = 0;
  raw_ = BitReader(in.bytes(in.varint()));
  return !in.failed();
}

}  // namespace strata::store

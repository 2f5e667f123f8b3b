#pragma once
// ContextualDetector: a detector in the spirit of CAD OSE (Smirnov's Contextual Anomaly Detector,
// the open-source edition that scores 69.9 on NAB). It reads a series as words: each value is
// quantised into one of `levels` levels of the range seen so far, and the last 1, 2, … `depth`
// levels form contexts. A table of small counters remembers how often each context occurred
// (one counter per context when levels + levels² + … fit in 2^table_bits slots, hashed into them
// otherwise; halved every `age_every` points so old habits fade). A point
// whose contexts are new scores high: novelty of a context seen c times is 1/(1 + c), and the
// score is the mean novelty over the context lengths. A value outside the range seen so far is new
// by construction.
// Cost: O(depth) per point; one byte a context (1110 with 10 levels and depth 3), at most
// 2^table_bits, plus ~100 bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class ContextualDetector {
 public:
  static constexpr std::string_view kName = "contextual";
  static constexpr DetectorKind kKind = DetectorKind::contextual;

  // Tuning of ContextualDetector.
  struct Config {
    double levels = 12;       // quantisation levels of the range seen so far, 2..64
    double depth = 3;         // longest context, in points, 1..6
    double table_bits = 10;   // 2^table_bits counters, 6..16
    double age_every = 2000;  // counters halve every this many points; 0: never
    double warmup = 10;       // points scored 0 while the range forms
    double stride = 1;        // points averaged into one symbol, 1..1024 (a coarser time scale)
    double extremes = 1;   // 1: a value beyond the range seen is a symbol of its own (above, below)
    double day_parts = 0;  // parts of the day a context also names, 0..96; 0: time-blind
    template <class F>
    void each(F&& f) {
      f("stride", stride);
      f("extremes", extremes);
      f("day_parts", day_parts);
      f("levels", levels);
      f("depth", depth);
      f("table_bits", table_bits);
      f("age_every", age_every);
      f("warmup", warmup);
    }
  };

  [[nodiscard]] static Status validate(const Config& c, std::string_view owner = kName) {
    auto whole = [](double v, double lo, double hi) {
      return v >= lo && v <= hi && v == std::floor(v);
    };
    if (!whole(c.levels, 2, 64))
      return bad_param(owner, "levels", c.levels, "use a whole number in 2..64");
    if (!whole(c.depth, 1, 6)) return bad_param(owner, "depth", c.depth, "use 1..6 points");
    if (!whole(c.table_bits, 6, 16))
      return bad_param(owner, "table_bits", c.table_bits, "use 6..16 (64 B to 64 KiB)");
    if (!whole(c.age_every, 0, 1e9))
      return bad_param(owner, "age_every", c.age_every, "use 0 (never) or a point count");
    if (c.extremes != 0 && c.extremes != 1)
      return bad_param(owner, "extremes", c.extremes, "use 0 or 1");
    if (!whole(c.day_parts, 0, 96))
      return bad_param(owner, "day_parts", c.day_parts, "use 0 (none) or 1..96 parts a day");
    if (!whole(c.stride, 1, 1024))
      return bad_param(owner, "stride", c.stride, "use 1..1024 points a symbol");
    if (!whole(c.warmup, 0, 1e9))
      return bad_param(owner, "warmup", c.warmup, "use a point count >= 0");
    return {};
  }

  [[nodiscard]] static Result<ContextualDetector> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    ContextualDetector d;
    d.config_ = c;
    // Every context gets its own counter when they all fit in the table; else they are hashed.
    std::size_t exact = 0, codes = 1;
    const auto symbols = static_cast<std::size_t>(c.levels + 2 * c.extremes);
    for (int k = 1; k <= static_cast<int>(c.depth); ++k) exact += codes *= symbols;
    exact *= std::max<std::size_t>(1, static_cast<std::size_t>(c.day_parts));
    const std::size_t table = std::size_t{1} << static_cast<int>(c.table_bits);
    d.exact_ = exact <= table;
    d.counts_.assign(d.exact_ ? exact : table, 0);
    return d;
  }

  Assessment update(Timestamp ts, double v) {
    if (config_.stride > 1) {  // a symbol every `stride` points, from their mean
      block_sum_ += v;
      if (++block_n_ < static_cast<std::uint32_t>(config_.stride)) {
        ++n_;
        return Assessment::plain(n_ <= config_.warmup ? 0.0 : last_novelty_, lo_, hi_ - lo_);
      }
      v = block_sum_ / block_n_;
      block_sum_ = 0;
      block_n_ = 0;
    }
    const double x = v;
    if (symbols_ == 0) lo_ = hi_ = x;
    const auto levels = static_cast<std::uint32_t>(config_.levels);
    const std::uint32_t extreme = config_.extremes == 0 ? 0
                                  : x > hi_             ? levels
                                  : x < lo_             ? levels + 1
                                                        : 0;
    lo_ = std::min(lo_, x);
    hi_ = std::max(hi_, x);
    const double range = hi_ - lo_;
    std::uint32_t q = 0;
    if (range > 0) q = std::min(levels - 1, static_cast<std::uint32_t>((x - lo_) / range * levels));
    if (extreme != 0) q = extreme;
    const auto symbol_count = static_cast<std::size_t>(levels + 2 * config_.extremes);
    history_ = (history_ << 6) | q;  // the last levels, 6 bits each
    const auto depth = static_cast<std::uint32_t>(config_.depth);
    const std::uint32_t mask = static_cast<std::uint32_t>(counts_.size() - 1);
    double novelty = 0;
    const std::uint32_t seen =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(symbols_ + 1, depth));
    ++symbols_;
    const std::uint64_t part = config_.day_parts > 0
                                   ? (period_bin(ts, 86400 * kMicrosPerSecond,
                                                 static_cast<std::uint32_t>(config_.day_parts)) +
                                      1ull)
                                         << 40
                                   : 0;
    const std::size_t parts = std::max<std::size_t>(1, static_cast<std::size_t>(config_.day_parts));
    std::size_t base = 0, code = 0, mult = 1;
    for (std::uint32_t k = 1; k <= seen; ++k) {
      std::size_t slot;
      if (exact_) {  // contexts of length k: L^k codes after the shorter ones
        code += static_cast<std::size_t>((history_ >> (6 * (k - 1))) & 63) * mult;
        slot = (base + code) * parts + (part >> 40 ? (part >> 40) - 1 : 0);
        mult *= symbol_count;
        base += mult;
      } else {
        const std::uint64_t key =
            ((history_ & ((std::uint64_t{1} << (6 * k)) - 1)) | part) * 0x9E3779B97F4A7C15ull + k;
        slot = static_cast<std::uint32_t>((key ^ (key >> 29)) * 0xBF58476D1CE4E5B9ull >> 40) & mask;
      }
      std::uint8_t& c = counts_[slot];
      novelty += 1.0 / (1.0 + c);
      if (c < 255) ++c;
    }
    novelty /= seen;
    last_novelty_ = novelty;
    ++n_;
    if (config_.age_every > 0 && n_ % static_cast<std::uint64_t>(config_.age_every) == 0)
      for (auto& c : counts_) c = static_cast<std::uint8_t>(c >> 1);
    const double width = range / levels;
    return Assessment::plain(n_ <= config_.warmup ? 0.0 : novelty, lo_ + (q + 0.5) * width, width);
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<ContextualDetector> restore(std::span<const std::uint8_t> in) {
    return restore_state<ContextualDetector>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable: every remembered symbol is one this configuration makes.
  [[nodiscard]] bool state_valid() const {
    const auto symbols = static_cast<std::uint64_t>(config_.levels + 2 * config_.extremes);
    for (int k = 0; k < static_cast<int>(config_.depth); ++k)
      if (((history_ >> (6 * k)) & 63) >= symbols) return false;
    return block_n_ < config_.stride;
  }
  // The last point's novelty in (0, 1], warm-up or not.
  [[nodiscard]] double last_novelty() const { return last_novelty_; }
  [[nodiscard]] std::size_t memory_bytes() const { return sizeof(*this) + counts_.capacity(); }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(n_);
    io.field(history_);
    io.field(symbols_);
    io.field(lo_);
    io.field(hi_);
    io.field(block_sum_);
    io.field(block_n_);
    io.field(last_novelty_);
    io.array(counts_, counts_.size());
  }

 private:
  Config config_;
  std::uint64_t n_ = 0;
  std::uint64_t history_ = 0;
  std::uint64_t symbols_ = 0;
  double lo_ = 0, hi_ = 0;
  double block_sum_ = 0;
  std::uint32_t block_n_ = 0;
  bool exact_ = false;  // one counter per context (derived from the configuration)
  double last_novelty_ = 0;
  std::vector<std::uint8_t> counts_;
};

}  // namespace strata::analytics

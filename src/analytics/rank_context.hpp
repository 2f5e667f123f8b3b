#pragma once
// RankContextDetector: ContextualDetector's contexts over ranks instead of levels. Each value
// becomes the symbol of where it falls among the last `window` values — with `ranks` = 10, which
// decile of the recent values it is in — and the last 1, 2, … `depth` symbols are contexts with a
// small counter each. A point whose contexts are new scores high: novelty of a context seen c
// times is 1/(1 + c), and the score is the mean novelty over the context lengths.
//
// Levels of the range seen so far (ContextualDetector) are squeezed by one early spike: every
// later value falls in one or two levels and those contexts say nothing. Ranks are relative to
// the recent values, so they keep their resolution whatever the range, and they follow a level
// shift within `window` points. By construction every rank is equally frequent, so the contexts
// learn transitions, not rarity: on a smooth series consecutive ranks are close, and a jump across
// the recent distribution (or a reversal the series does not make) is a context not seen before.
// With 10 ranks, 3-symbol contexts (1000 of them) are too many to learn on noise; the default
// depth is 2 (110 contexts).
// Cost: O(window + depth) per point (the rank is a count over the window); one byte a context
// (ranks + ranks² + …), 4 bytes a value of the window, plus ~100 bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class RankContextDetector {
 public:
  static constexpr std::string_view kName = "rank_context";
  static constexpr DetectorKind kKind = DetectorKind::rank_context;

  // Tuning of RankContextDetector.
  struct Config {
    double ranks = 10;        // rank symbols: 10 is deciles of the window, 2..16
    double window = 32;       // recent values a rank is taken among, 4..256
    double depth = 2;         // longest context, in points, 1..3
    double age_every = 6000;  // counters halve every this many points; 0: never
    double warmup = 100;      // points scored 0 while the window and the counters fill
    template <class F>
    void each(F&& f) {
      f("ranks", ranks);
      f("window", window);
      f("depth", depth);
      f("age_every", age_every);
      f("warmup", warmup);
    }
  };

  [[nodiscard]] static Status validate(const Config& c, std::string_view owner = kName) {
    auto whole = [](double v, double lo, double hi) {
      return v >= lo && v <= hi && v == std::floor(v);
    };
    if (!whole(c.ranks, 2, 16))
      return bad_param(owner, "ranks", c.ranks, "use a whole number in 2..16");
    if (!whole(c.window, 4, 256))
      return bad_param(owner, "window", c.window, "use a whole number of points in 4..256");
    if (!whole(c.depth, 1, 3)) return bad_param(owner, "depth", c.depth, "use 1..3 points");
    if (!whole(c.age_every, 0, 1e9))
      return bad_param(owner, "age_every", c.age_every, "use 0 (never) or a point count");
    if (!whole(c.warmup, 0, 1e9))
      return bad_param(owner, "warmup", c.warmup, "use a point count >= 0");
    return {};
  }

  [[nodiscard]] static Result<RankContextDetector> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    RankContextDetector d;
    d.config_ = c;
    std::size_t contexts = 0, codes = 1;
    for (int k = 1; k <= static_cast<int>(c.depth); ++k)
      contexts += codes *= static_cast<std::size_t>(c.ranks);
    d.counts_.assign(contexts, 0);
    d.window_.assign(static_cast<std::size_t>(c.window), 0.0f);
    return d;
  }

  Assessment update(Timestamp, double x) {
    const std::size_t w = window_.size();
    if (n_ == 0) std::fill(window_.begin(), window_.end(), static_cast<float>(x));
    // The rank: the share of the window below the value (ties count half), as one of `ranks`.
    std::uint32_t halves = 0;  // 2 a value below, 1 a value equal
    float sum = 0, lo = window_[0], hi = window_[0];
    for (const float v : window_) {
      halves += static_cast<std::uint32_t>(static_cast<double>(v) < x) +
                static_cast<std::uint32_t>(static_cast<double>(v) <= x);
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const auto ranks = static_cast<std::uint32_t>(config_.ranks);
    const double share = halves / (2.0 * static_cast<double>(w));
    const std::uint32_t q = std::min(ranks - 1, static_cast<std::uint32_t>(share * ranks));
    window_[pos_] = static_cast<float>(x);
    pos_ = pos_ + 1 == w ? 0 : pos_ + 1;
    // The contexts: of length k, ranks^k codes after the shorter ones.
    history_ = (history_ << 4) | q;
    const auto depth = static_cast<std::uint32_t>(config_.depth);
    const std::uint32_t seen = static_cast<std::uint32_t>(std::min<std::uint64_t>(n_ + 1, depth));
    double novelty = 0;
    std::size_t base = 0, code = 0, mult = 1;
    for (std::uint32_t k = 1; k <= seen; ++k) {
      code += static_cast<std::size_t>((history_ >> (4 * (k - 1))) & 15) * mult;
      mult *= ranks;
      std::uint8_t& c = counts_[base + code];
      base += mult;
      novelty += 1.0 / (1.0 + c);
      if (c < 255) ++c;
    }
    novelty /= seen;
    ++n_;
    if (config_.age_every > 0 && n_ % static_cast<std::uint64_t>(config_.age_every) == 0)
      for (auto& c : counts_) c = static_cast<std::uint8_t>(c >> 1);
    // The explanation: the window's mean, and half its range as the band.
    return Assessment::plain(n_ <= config_.warmup ? 0.0 : novelty,
                             static_cast<double>(sum) / static_cast<double>(w),
                             (static_cast<double>(hi) - lo) / 2);
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<RankContextDetector> restore(std::span<const std::uint8_t> in) {
    return restore_state<RankContextDetector>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable: the window's position within it, every remembered symbol
  // one this configuration makes.
  [[nodiscard]] bool state_valid() const {
    for (int k = 0; k < static_cast<int>(config_.depth); ++k)
      if (((history_ >> (4 * k)) & 15) >= config_.ranks) return false;
    return pos_ < window_.size();
  }
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(*this) + counts_.capacity() + window_.capacity() * sizeof(float);
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(n_);
    io.field(history_);
    io.field(pos_);
    io.array(window_, window_.size());
    io.array(counts_, counts_.size());
  }

 private:
  Config config_;
  std::uint64_t n_ = 0;
  std::uint32_t history_ = 0;  // the last symbols, 4 bits each
  std::uint32_t pos_ = 0;
  std::vector<float> window_;  // the last `window` values, oldest at pos_
  std::vector<std::uint8_t> counts_;
};

}  // namespace strata::analytics

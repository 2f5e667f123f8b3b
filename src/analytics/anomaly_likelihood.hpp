#pragma once
// AnomalyLikelihood: Numenta's post-processor (Ahmad et al., "Unsupervised real-time anomaly
// detection for streaming data", 2017), which turns a detector's raw scores into how unlikely the
// recent ones are for this series. It averages the last `window` raw scores, models that average
// as a Gaussian over a long history (mean and variance, floored at min_mean and min_variance so a
// quiet series does not alarm on the first blip), and reports L = 1 − Q(|z|). With log_output it
// reports log(1.0000000001 − L)/log(1e−10), which spreads the top of the scale (L = 0.99999 →
// 0.5). As Numenta filters it, a tail probability in the red zone (≤ 1e−5) right after another one
// is lowered to the yellow zone (1e−3), so a long excursion alarms once.
//
// Unlike Numenta's, the history is not a window of 8640 stored scores: its moments are running
// (cumulative for the first `history` points, exponentially weighted with weight 1/history after),
// so memory is bounded by the averaging window alone. Cost: O(1) per score, 128 + 4·window bytes
// (72 + 4·window for a State without its configuration, in a composite).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class AnomalyLikelihood {
 public:
  static constexpr std::string_view kName = "likelihood";

  // Tuning of AnomalyLikelihood (Numenta's defaults).
  struct Config {
    double window = 10;            // raw scores averaged, 1..64
    double history = 8640;         // points the distribution is estimated over, >= 10
    double learning = 388;         // points before the first estimate (scores 0 until then), >= 0
    double min_mean = 0.03;        // floor of the modelled mean
    double min_variance = 0.0003;  // floor of the modelled variance, > 0
    double log_output = 1;         // 1: report the log-likelihood; 0: the likelihood
    double filter_repeats = 1;     // 1: a red-zone value right after another drops to yellow
    template <class F>
    void each(F&& f) {
      f("window", window);
      f("history", history);
      f("learning", learning);
      f("min_mean", min_mean);
      f("min_variance", min_variance);
      f("log_output", log_output);
      f("filter_repeats", filter_repeats);
    }
  };

  [[nodiscard]] static Status validate(const Config& c, std::string_view owner = kName) {
    if (!(c.window >= 1 && c.window <= 64) || c.window != std::floor(c.window))
      return bad_param(owner, "window", c.window, "use a whole number of scores in 1..64");
    if (!(c.history >= 10 && c.history <= 1e9))
      return bad_param(owner, "history", c.history, "use at least 10 points");
    if (!(c.learning >= 0 && c.learning <= 1e9))
      return bad_param(owner, "learning", c.learning, "use a point count >= 0");
    if (!(c.min_mean >= 0 && c.min_mean <= 1))
      return bad_param(owner, "min_mean", c.min_mean, "use a score in [0, 1]");
    if (!(c.min_variance > 0 && c.min_variance <= 1))
      return bad_param(owner, "min_variance", c.min_variance, "use a variance in (0, 1]");
    if (c.log_output != 0 && c.log_output != 1)
      return bad_param(owner, "log_output", c.log_output, "use 0 or 1");
    if (c.filter_repeats != 0 && c.filter_repeats != 1)
      return bad_param(owner, "filter_repeats", c.filter_repeats, "use 0 or 1");
    return {};
  }

  // The running state of one likelihood without its configuration: the window of recent raw
  // scores and the moments of their averages. A composite that runs several likelihoods with one
  // configuration (Ensemble) keeps one State each and the configuration once.
  class State {
   public:
    explicit State(const Config& c) : ring_(static_cast<std::size_t>(c.window), 0.0f) {}

    // The likelihood (or log-likelihood) of the raw score `raw` in [0, 1], given the past; `c` is
    // the configuration this state was made with.
    double update(const Config& c, double raw) {
      const std::size_t w = ring_.size();
      const double old = ring_[pos_];
      ring_[pos_] = static_cast<float>(raw);
      sum_ += static_cast<double>(ring_[pos_]) - old;  // the sum of what the ring holds
      pos_ = pos_ + 1 == w ? 0 : pos_ + 1;
      ++n_;
      const double avg = sum_ / static_cast<double>(std::min<std::uint64_t>(n_, w));
      double out = 0;
      if (n_ > c.learning) {
        // The averages learnt so far, this one excepted (the first n_ − 1 − ⌊learning⌋ points past
        // the learning period).
        const auto m = n_ - 1 - static_cast<std::uint64_t>(c.learning);
        if (m > 0) {
          const double mean = std::max(mean_, c.min_mean);
          const double var = std::max(var_, c.min_variance);
          const double z = std::abs(avg - mean) / std::sqrt(var);
          double tail = gaussian_tail(z);
          if (c.filter_repeats != 0 && tail <= 1e-5) {
            if (prev_tail_ <= 1e-5) tail = 1e-3;
            prev_tail_ = gaussian_tail(z);
          } else {
            prev_tail_ = tail;
          }
          const double likelihood = 1.0 - tail;
          out = c.log_output != 0 ? std::log(1.0000000001 - likelihood) / -23.02585084720009
                                  : likelihood;
        }
        // Learn the distribution of the averages after the learning period.
        const double a = std::max(1.0 / static_cast<double>(m + 1), 1.0 / c.history);
        const double d = avg - mean_;
        mean_ += a * d;
        var_ = (1 - a) * (var_ + a * d * d);
      }
      return clamp01(out);
    }

    // Whether restored state is usable (indexes within their arrays).
    [[nodiscard]] bool valid() const { return pos_ < ring_.size(); }
    [[nodiscard]] std::size_t memory_bytes() const {
      return sizeof(*this) + ring_.capacity() * sizeof(float);
    }

    // The state's fields in checkpoint order; the ring's length is the configuration's window.
    template <class Io>
    void visit(Io& io) {
      io.field(n_);
      io.field(pos_);
      io.field(sum_);
      io.field(mean_);
      io.field(var_);
      io.field(prev_tail_);
      io.array(ring_, ring_.size());
    }

   private:
    std::uint64_t n_ = 0;
    std::uint64_t pos_ = 0;
    double sum_ = 0, mean_ = 0, var_ = 0, prev_tail_ = 1;
    std::vector<float> ring_;
  };

  [[nodiscard]] static Result<AnomalyLikelihood> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    return AnomalyLikelihood(c);
  }

  // The likelihood (or log-likelihood) of the raw score `raw` in [0, 1], given the past.
  double update(double raw) { return state_.update(config_, raw); }

  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable (indexes within their arrays).
  [[nodiscard]] bool state_valid() const { return state_.valid(); }
  [[nodiscard]] std::size_t memory_bytes() const { return sizeof(Config) + state_.memory_bytes(); }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    state_.visit(io);
  }

 private:
  explicit AnomalyLikelihood(const Config& c) : config_(c), state_(c) {}
  Config config_;
  State state_;
};

}  // namespace strata::analytics

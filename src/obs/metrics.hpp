#pragma once
// MetricsRegistry: the numbers Strata shows at /metrics, in the Prometheus text exposition format
// 0.0.4. Every module that counts something (points stored, readings quarantined, requests served)
// registers its metrics once at start-up and then updates them on the hot path with one atomic
// operation and no lock; rendering takes the registry's lock and reads the atomics.
//
// Rendered text (one family per metric name, in registration order; children of a family in
// registration order; '\n' ends every line):
//
//   # HELP strata_points_stored_total Points made durable in the WAL.
//   # TYPE strata_points_stored_total counter
//   strata_points_stored_total{transport="mqtt"} 1024
//   strata_points_stored_total{transport="http"} 7
//   # HELP strata_http_request_duration_seconds Time from request head to response written.
//   # TYPE strata_http_request_duration_seconds histogram
//   strata_http_request_duration_seconds_bucket{le="0.005"} 3
//   strata_http_request_duration_seconds_bucket{le="+Inf"} 4
//   strata_http_request_duration_seconds_sum 0.0121
//   strata_http_request_duration_seconds_count 4
//
// - HELP text escapes '\' as "\\" and a line feed as "\n"; label values escape '\', '"' and a line
//   feed as "\\", "\"", "\n".
// - Numbers: counters as unsigned integers; gauges, sums and bucket bounds as an integer when they
//   are one (below 2^53), else the shortest decimal that reads back to the same double, in fixed
//   notation for exponents -4..5 and scientific beyond ("0.0005", "1e-07", "1.5e+20"); "+Inf",
//   "-Inf", "NaN".
// - Histogram buckets are cumulative; the "+Inf" bucket equals _count.
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]* (not starting
// with "__", and not "le" on a histogram). A metric name registered with one type stays that type.
// Registration happens at start-up with names written in the code, so a violation is a programming
// error: the registration call throws std::invalid_argument (never the update calls).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::obs {

// A fixed label set of one metric child, e.g. {{"transport", "mqtt"}}. Order is kept as given.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A count that only goes up (events, points, bytes). Lock-free.
class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (queue depth, open connections). Lock-free.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void sub(double d) { value_.fetch_sub(d, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (latencies in seconds, sizes in bytes). Lock-free: one
// bucket increment and one add to the sum per observation.
class Histogram {
 public:
  // bounds: strictly increasing finite upper bounds; the "+Inf" bucket is implicit.
  explicit Histogram(std::span<const double> bounds);

  void observe(double v);

  [[nodiscard]] std::span<const double> bounds() const { return bounds_; }
  // Cumulative counts, one per bound plus the final "+Inf" one (== count()).
  [[nodiscard]] std::vector<std::uint64_t> cumulative_counts() const;
  [[nodiscard]] std::uint64_t count() const;
  [[nodiscard]] double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

// Latency buckets in seconds, from 0.5 ms to 10 s (Prometheus client defaults, plus 0.5 ms and
// 1 ms for the ingestion paths).
inline constexpr double kLatencyBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};

// The process's metrics: what /metrics renders. Thread-safe. References returned by the register
// calls stay valid as long as the registry lives.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registering the same (name, labels) again returns the same metric; the help text of a family
  // is the one given first.
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  Histogram& histogram(std::string_view name, std::string_view help,
                       std::span<const double> bounds = kLatencyBuckets, Labels labels = {});
  // A gauge whose value is computed when /metrics is rendered (store size, series count). The
  // callback runs under the registry's lock on the rendering thread: keep it short, and never
  // register metrics from it. Registering the same (name, labels) again replaces the callback.
  void callback_gauge(std::string_view name, std::string_view help, std::function<double()> read,
                      Labels labels = {});
  // The same for a value that only goes up but is kept elsewhere (bytes written by the store).
  void callback_counter(std::string_view name, std::string_view help, std::function<double()> read,
                        Labels labels = {});

  // Text exposition format 0.0.4: serve with "text/plain; version=0.0.4; charset=utf-8".
  [[nodiscard]] std::string render() const;

 private:
  struct Family;
  Family& family(std::string_view name, std::string_view help, int type);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
};

// The content type of render()'s output.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace strata::obs

#include "bench/peers/victoria_metrics.hpp"

#include <charconv>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

namespace strata::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kQuietPeriod = std::chrono::seconds(12);
constexpr auto kPollInterval = std::chrono::milliseconds(250);
constexpr const char* kAllSeries = R"({__name__=~".+"})";

// Prometheus text format, reduced to what settling needs: "name{labels}" → value.
std::map<std::string, double> parse_metrics(std::string_view text) {
  std::map<std::string, double> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    double value = 0;
    const auto value_text = line.substr(space + 1);
    if (std::from_chars(value_text.data(), value_text.data() + value_text.size(), value).ec !=
        std::errc())
      continue;
    out.emplace(std::string(line.substr(0, space)), value);
  }
  return out;
}

double sum_of(const std::map<std::string, double>& metrics, std::string_view name) {
  double sum = 0;
  for (const auto& [key, value] : metrics)
    if (key.starts_with(name) && (key.size() == name.size() || key[name.size()] == '{'))
      sum += value;
  return sum;
}

// Seconds since the epoch with millisecond decimals, as VM's start/end/time parameters take them.
std::string vm_seconds(std::int64_t ms) {
  std::string frac = std::to_string(ms % 1000);
  return std::to_string(ms / 1000) + "." + std::string(3 - frac.size(), '0') + frac;
}

}  // namespace

VictoriaMetrics::VictoriaMetrics(ScratchDir scratch, PeerProcess process, HttpClient http,
                                 std::string base_url, PeerOptions options)
    : scratch_(std::move(scratch)),
      process_(std::move(process)),
      http_(std::move(http)),
      base_url_(std::move(base_url)),
      options_(std::move(options)) {
  // VM 1.79 as packaged by Debian reports no version of its own (-version and vm_app_version are
  // empty), so the package's is used when the package's binary runs.
  const std::string version =
      options_.program.empty() ? debian_package_version("victoria-metrics") : std::string();
  name_ = "VictoriaMetrics ";
  if (!version.empty()) {
    name_ += version;
  } else if (options_.program.empty()) {
    name_ += "(version unknown)";
  } else {
    name_ += '(';
    name_ += options_.program.string();
    name_ += ')';
  }
}

Result<std::unique_ptr<VictoriaMetrics>> VictoriaMetrics::create(const fs::path& work_dir,
                                                                 const PeerOptions& options) {
  auto scratch = ScratchDir::create(work_dir, "victoria-metrics-");
  if (!scratch) return scratch.error();
  const fs::path program =
      options.program.empty() ? fs::path("/usr/bin/victoria-metrics") : options.program;
  Error last{static_cast<int>(PeerErrc::spawn), "not started"};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto port = pick_free_port();
    if (!port) return port.error();
    const std::string address = "127.0.0.1:" + std::to_string(*port);
    ProcessSpec spec{
        .name = "victoria-metrics",
        .program = program,
        .args = {"-storageDataPath=" + (scratch->path() / "storage").string(),
                 "-httpListenAddr=" + address, "-retentionPeriod=100y", "-search.disableCache",
                 "-search.latencyOffset=0s"},
        .log_file = scratch->path() / "victoria-metrics.log",
        .working_dir = scratch->path(),
    };
    auto process = PeerProcess::spawn(spec, options.stop_grace);
    if (!process) return process.error();
    const std::string base_url = "http://" + address;
    auto ready = process->wait_ready(base_url + "/health", options.ready_timeout);
    if (!ready) {
      last = ready.error();
      if (ready.error().is(PeerErrc::exited)) continue;  // most likely the port was taken
      return last;
    }
    auto http = HttpClient::create();
    if (!http) return http.error();
    return std::unique_ptr<VictoriaMetrics>(new VictoriaMetrics(
        std::move(*scratch), std::move(*process), std::move(*http), base_url, options));
  }
  return last;
}

Result<double> VictoriaMetrics::ingest(const std::vector<std::string>& batches,
                                       std::string_view precision) {
  return post_batches(http_, base_url_ + "/write?precision=" + url_encode(precision), batches,
                      name_);
}

Result<PeerDiskUsage> VictoriaMetrics::settle_and_measure() {
  auto flushed = http_.get(base_url_ + "/internal/force_flush");
  if (!flushed) return flushed.error();
  if (!flushed->ok())
    return Error::of(PeerErrc::http_status, name_ + ": /internal/force_flush answered HTTP " +
                                                std::to_string(flushed->status) + ": " +
                                                excerpt(flushed->body));
  const fs::path storage = scratch_.path() / "storage";
  const auto deadline = Clock::now() + options_.settle_timeout;
  std::string last_state;
  auto quiet_since = Clock::now();
  std::map<std::string, double> metrics;
  for (;;) {
    auto scraped = http_.get(base_url_ + "/metrics");
    if (!scraped) return scraped.error();
    if (!scraped->ok())
      return Error::of(PeerErrc::http_status,
                       name_ + ": /metrics answered HTTP " + std::to_string(scraped->status));
    metrics = parse_metrics(scraped->body);
    auto bytes = tree_bytes(storage);
    if (!bytes) return bytes.error();
    const double merges = sum_of(metrics, "vm_active_merges");
    const double pending = sum_of(metrics, "vm_pending_rows");
    const std::string state = "parts=" + std::to_string(sum_of(metrics, "vm_parts")) +
                              " merges=" + std::to_string(merges) +
                              " pending=" + std::to_string(pending) +
                              " bytes=" + std::to_string(bytes->size);
    const auto now = Clock::now();
    if (merges != 0 || pending != 0 || state != last_state) {
      last_state = state;
      quiet_since = now;
    } else if (now - quiet_since >= kQuietPeriod) {
      break;
    }
    if (now >= deadline)
      return Error::of(PeerErrc::not_settled, name_ + " did not settle within " +
                                                  std::to_string(options_.settle_timeout.count()) +
                                                  " ms (last state: " + state + ")");
    std::this_thread::sleep_for(kPollInterval);
  }

  reported_data_bytes_ =
      static_cast<std::uint64_t>(metrics[R"(vm_data_size_bytes{type="storage/small"})"] +
                                 metrics[R"(vm_data_size_bytes{type="storage/big"})"]);
  return measure_dir();
}

Result<PeerDiskUsage> VictoriaMetrics::measure_dir() const {
  const fs::path storage = scratch_.path() / "storage";
  auto total = tree_bytes(storage, {}, /*with_directories=*/true);
  if (!total) return total.error();
  PeerDiskUsage usage;
  usage.total_bytes = total->size;
  usage.total_allocated_bytes = total->allocated;
  for (const char* part : {"small", "big"}) {
    const fs::path dir = storage / "data" / part;
    std::error_code ec;
    if (!fs::exists(dir, ec)) continue;
    auto data = tree_bytes(dir);
    if (!data) return data.error();
    usage.data_bytes += data->size;
    usage.data_allocated_bytes += data->allocated;
  }
  usage.reported_data_bytes = reported_data_bytes_;
  return usage;
}

Result<PeerDiskUsage> VictoriaMetrics::stop_and_measure() {
  if (auto s = process_.stop(); !s) return s.error();
  if (process_.was_killed())
    return Error::of(PeerErrc::not_settled, name_ + " did not stop on SIGTERM");
  return measure_dir();
}

Result<std::uint64_t> VictoriaMetrics::count_points() {
  // VM answers nothing when the window reaches back to 1970-01-01 00:00 or before, so the window
  // starts a day later; no data set here is that old.
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const std::string query = std::string("sum(count_over_time(") + kAllSeries + "[" +
                            std::to_string(now_s - 86'400) + "s]))";
  auto response =
      http_.get(base_url_ + "/api/v1/query?" +
                form_encode({{"query", query}, {"time", std::to_string(now_s)}, {"nocache", "1"}}));
  if (!response) return response.error();
  if (!response->ok())
    return Error::of(PeerErrc::http_status, name_ + ": count query answered HTTP " +
                                                std::to_string(response->status) + ": " +
                                                excerpt(response->body));
  // nlohmann::json reports a missing key or a wrong type by throwing: caught here, at the edge.
  try {
    const auto doc = nlohmann::json::parse(response->body);
    if (doc.at("status").get<std::string>() != "success") throw std::runtime_error("not success");
    const auto& result = doc.at("data").at("result");
    if (result.empty()) return std::uint64_t{0};  // no series at all
    const std::string text = result.at(0).at("value").at(1).get<std::string>();
    double count = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), count).ec != std::errc())
      throw std::runtime_error("count is not a number");
    return static_cast<std::uint64_t>(count);
  } catch (const std::exception& e) {
    return Error::of(PeerErrc::bad_response, name_ + ": unexpected count answer (" + e.what() +
                                                 "): " + excerpt(response->body));
  }
}

Result<QueryTiming> VictoriaMetrics::aggregate_query(Timestamp from, Timestamp to, int repeats) {
  if (repeats < 1)
    return Error::of(PeerErrc::bad_argument, "aggregate query: repeats must be at least 1");
  auto windows = query_windows(from, to);
  if (!windows) return windows.error();
  const std::string all(kAllSeries);
  const std::string query = "union(label_set(avg_over_time(" + all + "[1m]), \"agg\", \"avg\"), " +
                            "label_set(max_over_time(" + all + "[1m]), \"agg\", \"max\"))";
  std::vector<std::string> urls;
  for (const auto& [a, b] : *windows) {
    const std::int64_t start_ms = a / 1000 + 60'000 - 1;  // end of the first bucket, minus 1 ms
    const std::int64_t end_ms = b / 1000 - 1;             // end of the last bucket, minus 1 ms
    urls.push_back(base_url_ + "/api/v1/query_range?" +
                   form_encode({{"query", query},
                                {"start", vm_seconds(start_ms)},
                                {"end", vm_seconds(end_ms)},
                                {"step", "60s"},
                                {"nocache", "1"}}));
  }
  QueryTiming timing;
  timing.requests_per_run = urls.size();
  for (int run = 0; run < repeats; ++run) {
    double run_ms = 0;
    std::uint64_t avg_buckets = 0;
    std::uint64_t max_buckets = 0;
    for (const auto& url : urls) {
      const auto start = Clock::now();
      auto response = http_.get(url);
      run_ms += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (!response) return response.error();
      if (!response->ok())
        return Error::of(PeerErrc::http_status, name_ + ": query_range answered HTTP " +
                                                    std::to_string(response->status) + ": " +
                                                    excerpt(response->body));
      try {
        const auto doc = nlohmann::json::parse(response->body);
        if (doc.at("status").get<std::string>() != "success")
          throw std::runtime_error("status is not success");
        for (const auto& series : doc.at("data").at("result")) {
          const auto& values = series.at("values");
          if (!values.is_array()) throw std::runtime_error("values is not an array");
          const auto& metric = series.at("metric");
          const bool avg = metric.contains("agg") && metric.at("agg").get<std::string>() == "avg";
          (avg ? avg_buckets : max_buckets) += values.size();
        }
      } catch (const std::exception& e) {
        return Error::of(PeerErrc::bad_response, name_ + ": unexpected query_range answer (" +
                                                     e.what() + "): " + excerpt(response->body));
      }
    }
    if (avg_buckets != max_buckets)
      return Error::of(PeerErrc::bad_response,
                       name_ + ": query answered " + std::to_string(avg_buckets) +
                           " avg buckets but " + std::to_string(max_buckets) + " max buckets");
    if (run == 0) timing.buckets = avg_buckets;
    timing.runs_ms.push_back(run_ms);
  }
  summarise_runs(timing);
  return timing;
}

Result<std::unique_ptr<Peer>> start_victoria_metrics(const std::filesystem::path& work_dir,
                                                     const PeerOptions& options) {
  auto peer = VictoriaMetrics::create(work_dir, options);
  if (!peer) return peer.error();
  return std::unique_ptr<Peer>(std::move(*peer));
}

}  // namespace strata::bench

#include "bench/peers/influxdb.hpp"

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

namespace strata::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kQuietPeriod = std::chrono::seconds(3);
constexpr auto kPollInterval = std::chrono::milliseconds(250);
constexpr const char* kDatabase = "bench";

// A TOML basic string.
std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string config_text(const fs::path& db, std::uint16_t http_port, std::uint16_t rpc_port) {
  const auto address = [](std::uint16_t port) {
    return toml_string("127.0.0.1:" + std::to_string(port));
  };
  return "reporting-disabled = true\n"
         "bind-address = " +
         address(rpc_port) +
         "\n"
         "\n[meta]\n"
         "  dir = " +
         toml_string((db / "meta").string()) +
         "\n"
         "\n[data]\n"
         "  dir = " +
         toml_string((db / "data").string()) +
         "\n"
         "  wal-dir = " +
         toml_string((db / "wal").string()) +
         "\n"
         "  query-log-enabled = false\n"
         "  cache-snapshot-write-cold-duration = \"1s\"\n"
         "  compact-full-write-cold-duration = \"2s\"\n"
         "  max-series-per-database = 0\n"
         "  max-values-per-tag = 0\n"
         "\n[coordinator]\n"
         "  max-select-point = 0\n"
         "  max-select-series = 0\n"
         "  max-select-buckets = 0\n"
         "\n[monitor]\n"
         "  store-enabled = false\n"
         "\n[http]\n"
         "  bind-address = " +
         address(http_port) +
         "\n"
         "  log-enabled = false\n"
         "  max-body-size = 0\n"
         "\n[continuous_queries]\n"
         "  enabled = false\n";
}

// What /debug/vars and the data directory say about background work.
struct EngineState {
  double cache_bytes = 0;         // Σ tsm1_cache memBytes: points not yet in TSM files
  double compactions = 0;         // Σ tsm1_engine *Active and *Queue
  double reported_tsm_bytes = 0;  // Σ tsm1_filestore diskBytes
  std::size_t shards_with_many_generations = 0;
  std::size_t temporary_files = 0;
  std::string tsm_files;  // "path:size;" of every .tsm file, sorted
  [[nodiscard]] bool idle() const {
    return cache_bytes == 0 && compactions == 0 && shards_with_many_generations == 0 &&
           temporary_files == 0;
  }
  [[nodiscard]] std::string describe() const {
    return "cache bytes " + std::to_string(cache_bytes) + ", compactions active or queued " +
           std::to_string(compactions) + ", shards not fully compacted " +
           std::to_string(shards_with_many_generations) + ", temporary files " +
           std::to_string(temporary_files);
  }
};

Result<void> read_tsm_files(const fs::path& data_dir, EngineState& state) {
  std::map<fs::path, std::set<std::string>> generations;  // shard dir → TSM generations
  std::map<std::string, std::uintmax_t> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(data_dir, ec);
  if (ec)
    return Error::of(PeerErrc::io, "cannot list '" + data_dir.string() + "': " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) {
        ec.clear();
        continue;
      }
      return Error::of(PeerErrc::io, "cannot walk '" + data_dir.string() + "': " + ec.message());
    }
    const fs::path& p = it->path();
    const std::string file = p.filename().string();
    if (file.ends_with(".tsm.tmp") || file.ends_with(".tsm.compacting")) ++state.temporary_files;
    if (!file.ends_with(".tsm")) continue;
    std::error_code size_ec;
    const auto size = fs::file_size(p, size_ec);
    if (size_ec) continue;  // compacted away while we looked
    files[p.string()] = size;
    generations[p.parent_path()].insert(file.substr(0, file.find('-')));
  }
  for (const auto& [shard, gens] : generations)
    if (gens.size() > 1) ++state.shards_with_many_generations;
  for (const auto& [path, size] : files) state.tsm_files += path + ":" + std::to_string(size) + ";";
  return {};
}

void read_debug_vars(const nlohmann::json& vars, EngineState& state) {
  for (const auto& [key, entry] : vars.items()) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("values")) continue;
    const auto& name = entry.at("name");
    const auto& values = entry.at("values");
    if (!name.is_string() || !values.is_object()) continue;
    if (name == "tsm1_cache" && values.contains("memBytes")) {
      state.cache_bytes += values.at("memBytes").get<double>();
    } else if (name == "tsm1_engine") {
      for (const auto& [field, value] : values.items())
        if ((field.ends_with("Active") || field.ends_with("Queue")) && value.is_number())
          state.compactions += value.get<double>();
    } else if (name == "tsm1_filestore" && values.contains("diskBytes")) {
      state.reported_tsm_bytes += values.at("diskBytes").get<double>();
    }
  }
}

}  // namespace

InfluxDb::InfluxDb(ScratchDir scratch, PeerProcess process, HttpClient http, std::string base_url,
                   std::string version, PeerOptions options)
    : scratch_(std::move(scratch)),
      process_(std::move(process)),
      http_(std::move(http)),
      base_url_(std::move(base_url)),
      name_("InfluxDB " + (version.empty() ? std::string("(version unknown)") : version)),
      options_(std::move(options)) {}

Result<std::unique_ptr<InfluxDb>> InfluxDb::create(const fs::path& work_dir,
                                                   const PeerOptions& options) {
  auto scratch = ScratchDir::create(work_dir, "influxdb-");
  if (!scratch) return scratch.error();
  const fs::path program = options.program.empty() ? fs::path("/usr/bin/influxd") : options.program;
  const fs::path config = scratch->path() / "influxdb.conf";
  Error last{static_cast<int>(PeerErrc::spawn), "not started"};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto http_port = pick_free_port();
    if (!http_port) return http_port.error();
    auto rpc_port = pick_free_port();
    if (!rpc_port) return rpc_port.error();
    if (*rpc_port == *http_port) continue;
    {
      std::ofstream out(config, std::ios::trunc);
      out << config_text(scratch->path() / "db", *http_port, *rpc_port);
      if (!out.flush())
        return Error::of(PeerErrc::spawn, "influxd: cannot write config '" + config.string() + "'");
    }
    ProcessSpec spec{
        .name = "influxd",
        .program = program,
        .args = {"-config", config.string()},
        .log_file = scratch->path() / "influxd.log",
        .working_dir = scratch->path(),
    };
    auto process = PeerProcess::spawn(spec, options.stop_grace);
    if (!process) return process.error();
    const std::string base_url = "http://127.0.0.1:" + std::to_string(*http_port);
    auto ready = process->wait_ready(base_url + "/ping", options.ready_timeout);
    if (!ready) {
      last = ready.error();
      if (ready.error().is(PeerErrc::exited)) continue;  // most likely a port was taken
      return last;
    }
    auto http = HttpClient::create();
    if (!http) return http.error();
    auto ping = http->get(base_url + "/ping");
    if (!ping) return ping.error();
    const std::string* version = ping->header("X-Influxdb-Version");
    auto peer = std::unique_ptr<InfluxDb>(
        new InfluxDb(std::move(*scratch), std::move(*process), std::move(*http), base_url,
                     version ? *version : std::string(), options));
    auto created = peer->query(std::string("CREATE DATABASE ") + kDatabase, /*post=*/true);
    if (!created) return created.error();
    return peer;
  }
  return last;
}

Result<std::string> InfluxDb::query(const std::string& influxql, bool post) {
  const std::string params = form_encode({{"db", kDatabase}, {"epoch", "s"}, {"q", influxql}});
  auto response =
      post ? http_.post(base_url_ + "/query", params, "application/x-www-form-urlencoded")
           : http_.get(base_url_ + "/query?" + params);
  if (!response) return response.error();
  if (!response->ok())
    return Error::of(PeerErrc::http_status, name_ + ": '" + influxql + "' answered HTTP " +
                                                std::to_string(response->status) + ": " +
                                                excerpt(response->body));
  // InfluxDB reports a failed statement with HTTP 200 and an "error" inside the result.
  const auto doc = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("results") ||
      !doc.at("results").is_array())
    return Error::of(PeerErrc::bad_response, name_ + ": unexpected answer to '" + influxql +
                                                 "': " + excerpt(response->body));
  for (const auto& result : doc.at("results"))
    if (result.is_object() && result.contains("error"))
      return Error::of(PeerErrc::bad_response,
                       name_ + ": '" + influxql + "' failed: " + result.at("error").dump());
  return std::move(response->body);
}

Result<double> InfluxDb::ingest(const std::vector<std::string>& batches,
                                std::string_view precision) {
  return post_batches(http_,
                      base_url_ + "/write?db=" + kDatabase + "&precision=" + url_encode(precision),
                      batches, name_);
}

Result<PeerDiskUsage> InfluxDb::settle_and_measure() {
  const fs::path db = scratch_.path() / "db";
  const auto deadline = Clock::now() + options_.settle_timeout;
  EngineState state;
  std::string last_files;
  auto quiet_since = Clock::now();
  for (;;) {
    state = EngineState{};
    auto vars = http_.get(base_url_ + "/debug/vars");
    if (!vars) return vars.error();
    if (!vars->ok())
      return Error::of(PeerErrc::http_status,
                       name_ + ": /debug/vars answered HTTP " + std::to_string(vars->status));
    try {
      read_debug_vars(nlohmann::json::parse(vars->body), state);
    } catch (const std::exception& e) {
      return Error::of(PeerErrc::bad_response,
                       name_ + ": cannot read /debug/vars (" + e.what() + ")");
    }
    if (auto files = read_tsm_files(db / "data", state); !files) return files.error();
    const auto now = Clock::now();
    if (!state.idle() || state.tsm_files != last_files) {
      last_files = state.tsm_files;
      quiet_since = now;
    } else if (now - quiet_since >= kQuietPeriod) {
      break;
    }
    if (now >= deadline)
      return Error::of(PeerErrc::not_settled, name_ + " did not settle within " +
                                                  std::to_string(options_.settle_timeout.count()) +
                                                  " ms (last state: " + state.describe() + ")");
    std::this_thread::sleep_for(kPollInterval);
  }

  reported_data_bytes_ = static_cast<std::uint64_t>(state.reported_tsm_bytes);
  return measure_dir();
}

Result<PeerDiskUsage> InfluxDb::measure_dir() const {
  const fs::path db = scratch_.path() / "db";
  auto total = tree_bytes(db, {}, /*with_directories=*/true);
  if (!total) return total.error();
  auto data = tree_bytes(db / "data", [](const fs::path& p) { return p.extension() == ".tsm"; });
  if (!data) return data.error();
  PeerDiskUsage usage;
  usage.total_bytes = total->size;
  usage.total_allocated_bytes = total->allocated;
  usage.data_bytes = data->size;
  usage.data_allocated_bytes = data->allocated;
  usage.reported_data_bytes = reported_data_bytes_;
  return usage;
}

Result<PeerDiskUsage> InfluxDb::stop_and_measure() {
  if (auto s = process_.stop(); !s) return s.error();
  if (process_.was_killed())
    return Error::of(PeerErrc::not_settled, name_ + " did not stop on SIGTERM");
  return measure_dir();
}

Result<std::uint64_t> InfluxDb::count_points() {
  auto body = query("SELECT count(value) FROM /.*/", /*post=*/false);
  if (!body) return body.error();
  try {
    std::uint64_t count = 0;
    const auto doc = nlohmann::json::parse(*body);
    for (const auto& result : doc.at("results")) {
      if (!result.contains("series")) continue;  // empty database
      for (const auto& series : result.at("series"))
        for (const auto& row : series.at("values")) count += row.at(1).get<std::uint64_t>();
    }
    return count;
  } catch (const std::exception& e) {
    return Error::of(PeerErrc::bad_response,
                     name_ + ": unexpected count answer (" + e.what() + "): " + excerpt(*body));
  }
}

Result<QueryTiming> InfluxDb::aggregate_query(Timestamp from, Timestamp to, int repeats) {
  if (repeats < 1)
    return Error::of(PeerErrc::bad_argument, "aggregate query: repeats must be at least 1");
  auto windows = query_windows(from, to);
  if (!windows) return windows.error();
  std::vector<std::string> urls;
  for (const auto& [a, b] : *windows) {
    const std::string influxql =
        "SELECT mean(value), max(value) FROM /.*/ WHERE time >= " + std::to_string(a * 1000) +
        " AND time < " + std::to_string(b * 1000) + " GROUP BY time(1m), * fill(none)";
    urls.push_back(base_url_ + "/query?" +
                   form_encode({{"db", kDatabase}, {"epoch", "s"}, {"q", influxql}}));
  }
  QueryTiming timing;
  timing.requests_per_run = urls.size();
  for (int run = 0; run < repeats; ++run) {
    double run_ms = 0;
    std::uint64_t buckets = 0;
    for (const auto& url : urls) {
      const auto start = Clock::now();
      auto response = http_.get(url);
      run_ms += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (!response) return response.error();
      if (!response->ok())
        return Error::of(PeerErrc::http_status, name_ + ": aggregate query answered HTTP " +
                                                    std::to_string(response->status) + ": " +
                                                    excerpt(response->body));
      try {
        const auto doc = nlohmann::json::parse(response->body);
        for (const auto& result : doc.at("results")) {
          if (result.contains("error"))
            throw std::runtime_error("error: " + result.at("error").dump());
          if (!result.contains("series")) continue;  // nothing in this window
          for (const auto& series : result.at("series")) buckets += series.at("values").size();
        }
      } catch (const std::exception& e) {
        return Error::of(PeerErrc::bad_response, name_ + ": unexpected aggregate answer (" +
                                                     e.what() + "): " + excerpt(response->body));
      }
    }
    if (run == 0) timing.buckets = buckets;
    timing.runs_ms.push_back(run_ms);
  }
  summarise_runs(timing);
  return timing;
}

Result<std::unique_ptr<Peer>> start_influxdb(const std::filesystem::path& work_dir,
                                             const PeerOptions& options) {
  auto peer = InfluxDb::create(work_dir, options);
  if (!peer) return peer.error();
  return std::unique_ptr<Peer>(std::move(*peer));
}

}  // namespace strata::bench

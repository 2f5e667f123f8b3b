#include "app/bench_store.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "bench/datasets.hpp"
#include "bench/peers/influxdb.hpp"
#include "bench/peers/peer.hpp"
#include "bench/peers/victoria_metrics.hpp"
#include "store/query.hpp"
#include "store/store.hpp"

extern char** environ;

namespace strata::app {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One figure; printed as a JSON line or a table row.
struct Figure {
  std::string name;
  double value;
  std::string unit;
  std::optional<std::string> peer;
  std::optional<double> peer_value;
};

class Report {
 public:
  explicit Report(bool json) : json_(json) {
    if (!json_)
      std::printf("%-32s %14s %-8s %-28s %14s %8s\n", "figure", "value", "unit", "peer",
                  "peer value", "ratio");
  }
  void add(const Figure& f) {
    if (json_) {
      nlohmann::json j{{"suite", "store"}, {"name", f.name}, {"value", f.value}, {"unit", f.unit}};
      if (f.peer && f.peer_value) {
        j["peer"] = *f.peer;
        j["peer_value"] = *f.peer_value;
        j["ratio"] = *f.peer_value != 0 ? f.value / *f.peer_value : 0.0;
      }
      std::printf("%s\n", j.dump().c_str());
    } else if (f.peer && f.peer_value) {
      std::printf("%-32s %14.4g %-8s %-28s %14.4g %8.3f\n", f.name.c_str(), f.value, f.unit.c_str(),
                  f.peer->c_str(), *f.peer_value,
                  *f.peer_value != 0 ? f.value / *f.peer_value : 0.0);
    } else {
      std::printf("%-32s %14.4g %-8s\n", f.name.c_str(), f.value, f.unit.c_str());
    }
    std::fflush(stdout);
  }

 private:
  bool json_;
};

void note(const char* fmt, const std::string& what) {
  std::fprintf(stderr, fmt, what.c_str());
  std::fputc('\n', stderr);
}

// Runs `strata --data-dir DIR --fsync interval import FILE --precision P` as a separate process.
std::optional<double> run_import(const std::filesystem::path& data_dir,
                                 const std::filesystem::path& file, const std::string& precision) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args{self,          "--data-dir",  data_dir.string(), "import",
                                file.string(), "--precision", precision};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const auto t0 = Clock::now();
  if (posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ) != 0) return std::nullopt;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  waitpid(pid, &status, 0);
  const double secs = seconds_since(t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return secs;
}

struct OurRun {
  double import_s = 0;
  store::StoreStats stats;
};

std::optional<OurRun> ours(const bench::Dataset& ds, const std::vector<std::string>& batches,
                           const std::string& precision, const std::filesystem::path& work) {
  const auto lp = work / (ds.name + ".lp");
  {
    std::ofstream out(lp, std::ios::binary);
    for (const auto& b : batches) out << b;
  }
  const auto dir = work / ("strata-" + ds.name);
  std::filesystem::remove_all(dir);
  auto secs = run_import(dir, lp, precision);
  std::filesystem::remove(lp);
  if (!secs) return std::nullopt;
  auto st = store::Store::open(dir, {});
  if (!st) return std::nullopt;
  return OurRun{*secs, (*st)->stats()};
}

std::vector<std::unique_ptr<bench::Peer>> start_peers(const std::string& which,
                                                      const std::filesystem::path& work) {
  std::vector<std::unique_ptr<bench::Peer>> out;
  if (which.find("vm") != std::string::npos) {
    auto p = bench::start_victoria_metrics(work / "vm");
    if (p)
      out.push_back(std::move(*p));
    else
      note("bench: VictoriaMetrics did not start: %s", p.error().message);
  }
  if (which.find("influx") != std::string::npos) {
    auto p = bench::start_influxdb(work / "influx");
    if (p)
      out.push_back(std::move(*p));
    else
      note("bench: InfluxDB did not start: %s", p.error().message);
  }
  return out;
}

// Runs of the aggregate query, on each side; the median is reported.
constexpr int kQueryRuns = 7;

// 1-minute buckets, avg and max, over every series; median of `repeats` runs, 2 threads taking
// series from a shared counter (a core slowed by a busy host takes fewer).
double our_query_ms(store::Store& st, Timestamp from, Timestamp to, int repeats,
                    std::uint64_t& buckets_out) {
  std::vector<double> runs;
  const std::size_t n = st.series_count();
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    std::atomic<std::uint64_t> buckets{0};
    std::atomic<std::size_t> next_series{0};
    auto work = [&] {
      double sink = 0;
      std::uint64_t b = 0;
      for (std::size_t id; (id = next_series.fetch_add(1)) < n;) {
        auto res = store::aggregate(
            st.snapshot(static_cast<SeriesId>(id)), from, to - 1, 60 * kMicrosPerSecond,
            store::aggregate_set({store::Aggregate::avg, store::Aggregate::max}));
        if (!res) continue;
        for (const auto& bk : *res)
          sink += bk.value(store::Aggregate::avg) + bk.value(store::Aggregate::max);
        b += res->size();
      }
      buckets += b;
      volatile double keep = sink;  // the answers are used, so no work is optimised away
      (void)keep;
    };
    std::thread other(work);
    work();
    other.join();
    runs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    buckets_out = buckets;
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

// In-process appends, one thread, fsync every 100 ms: time-major batches of 10,000 points.
double ingest_rate(const bench::Dataset& ds, const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  store::StoreOptions o;
  o.fsync = store::FsyncPolicy::interval;
  o.fsync_interval_us = 100'000;
  auto st = store::Store::open(dir, o);
  if (!st) return 0;
  std::vector<SeriesId> ids;
  for (const auto& s : ds.series) ids.push_back(*(*st)->resolve(s.key));
  std::size_t len = 0;
  for (const auto& s : ds.series) len = std::max(len, s.samples.size());
  std::vector<Point> batch;
  batch.reserve(10000);
  std::uint64_t total = 0;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < len; ++i) {
    for (std::size_t k = 0; k < ds.series.size(); ++k) {
      if (i >= ds.series[k].samples.size()) continue;
      const auto& x = ds.series[k].samples[i];
      batch.push_back(Point{ids[k], x.ts, x.value});
      if (batch.size() == 10000) {
        total += (*st)->append(batch)->accepted;
        batch.clear();
      }
    }
  }
  if (!batch.empty()) total += (*st)->append(batch)->accepted;
  const double secs = seconds_since(t0);
  return static_cast<double>(total) / secs;
}

}  // namespace

int run_bench_store(const BenchStoreOptions& options) {
  std::filesystem::path work = options.work_dir;
  if (work.empty()) {
    char tmpl[] = "/tmp/strata-bench-XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::fprintf(stderr, "strata: cannot create a scratch directory under /tmp\n");
      return 2;
    }
    work = tmpl;
  }
  std::filesystem::create_directories(work);
  Report report(options.json);
  const bool with_peers = options.peers != "none";

  // Data sets
  auto nab = bench::nab_dataset(options.nab_dir);
  if (!nab) {
    std::fprintf(stderr, "strata: %s\n", nab.error().message.c_str());
    return 2;
  }
  const auto synth =
      bench::synthetic_dataset(1, options.synthetic_series, options.synthetic_seconds);

  std::map<std::string, double> vm_import_pps, influx_import_pps, our_import_pps;
  for (const bench::Dataset* ds : std::initializer_list<const bench::Dataset*>{&*nab, &synth}) {
    std::string precision;
    const auto batches = bench::to_line_protocol(*ds, 10'000, precision);
    const double pts = static_cast<double>(ds->points());
    auto run = ours(*ds, batches, precision, work);
    if (!run) {
      std::fprintf(stderr, "strata: importing the %s set failed\n", ds->name.c_str());
      return 1;
    }
    // Total on disk as `du` counts it (allocated blocks), like the peers' published figures; the
    // sum of file sizes beside it for ours and theirs.
    const double total_bpp = static_cast<double>(run->stats.allocated_bytes) / pts;
    const double size_bpp = static_cast<double>(run->stats.bytes_on_disk) / pts;
    const double data_bpp = static_cast<double>(run->stats.data_bytes) / pts;
    if (run->stats.points != ds->distinct_points())
      std::fprintf(stderr,
                   "strata: bench: our store holds %llu points of the %s set, expected %llu\n",
                   static_cast<unsigned long long>(run->stats.points), ds->name.c_str(),
                   static_cast<unsigned long long>(ds->distinct_points()));
    our_import_pps[ds->name] = pts / run->import_s;
    struct PeerSizes {
      double total, size, data;
    };
    std::optional<PeerSizes> vm, influx;
    if (with_peers) {
      for (auto& peer : start_peers(options.peers, work / ("peers-" + ds->name))) {
        auto secs = peer->ingest(batches, precision);
        if (!secs) {
          note("bench: %s", peer->name() + ": " + secs.error().message);
          continue;
        }
        auto disk = peer->settle_and_measure();
        if (!disk) {
          note("bench: %s", peer->name() + ": " + disk.error().message);
          continue;
        }
        const auto held = peer->count_points();
        const std::uint64_t expected =
            peer->replaces_same_timestamp() ? ds->distinct_points() : ds->points();
        if (!held || *held != expected)
          note("bench: %s",
               peer->name() +
                   " does not hold every point it acknowledged; its figures are left out");
        const bool is_vm = peer->name().find("Victoria") != std::string::npos;
        (is_vm ? vm_import_pps : influx_import_pps)[ds->name] = pts / *secs;
        // The aggregate query, side by side: the peer's while it runs, ours once it has stopped,
        // so that neither competes with the other for the cores.
        std::optional<bench::QueryTiming> timing;
        Timestamp q_from = 0, q_to = 0;
        if (ds == &synth) {
          auto [from, to] = ds->time_span();
          const Timestamp minute = 60 * kMicrosPerSecond;
          q_from = from / minute * minute;
          q_to = (to / minute + 1) * minute;
          auto t = peer->aggregate_query(q_from, q_to, kQueryRuns);
          if (t)
            timing = *t;
          else
            note("bench: %s", peer->name() + " query: " + t.error().message);
        }
        // Total on disk at rest: after a clean stop, as ours is measured after `strata import`
        // exits.
        auto rest = peer->stop_and_measure();
        if (timing) {
          auto st = store::Store::open(work / ("strata-" + ds->name), {});
          if (st) {
            std::uint64_t buckets = 0;
            const double ms = our_query_ms(**st, q_from, q_to, kQueryRuns, buckets);
            if (buckets != timing->buckets)
              note("bench: %s",
                   peer->name() + " answered a different number of buckets than we did");
            report.add({is_vm ? "vm_query_ratio" : "influx_query_ratio", ms, "ms", peer->name(),
                        timing->median_ms});
          }
        }
        if (!rest) {
          note("bench: %s", peer->name() + ": " + rest.error().message);
          continue;
        }
        if (held && *held == expected)
          (is_vm ? vm : influx) = PeerSizes{static_cast<double>(rest->total_allocated_bytes) / pts,
                                            static_cast<double>(rest->total_bytes) / pts,
                                            static_cast<double>(disk->data_bytes) / pts};
      }
    }
    const std::string suffix = ds == &synth ? "synthetic" : "nab";
    report.add({"bytes_per_point_" + suffix, total_bpp, "B/pt", std::nullopt, std::nullopt});
    report.add({"data_bytes_per_point_" + suffix, data_bpp, "B/pt",
                vm ? std::optional<std::string>("VictoriaMetrics") : std::nullopt,
                vm ? std::optional<double>(vm->data) : std::nullopt});
    if (vm) {
      report.add({"vm_bytes_ratio_" + suffix, total_bpp, "B/pt", "VictoriaMetrics", vm->total});
      report.add({"vm_file_bytes_ratio_" + suffix, size_bpp, "B/pt", "VictoriaMetrics", vm->size});
    }
    if (influx) {
      report.add({"influx_bytes_ratio_" + suffix, total_bpp, "B/pt", "InfluxDB", influx->total});
      report.add({"influx_data_bytes_ratio_" + suffix, data_bpp, "B/pt", "InfluxDB", influx->data});
    }
  }
  // Ingest: in-process and `strata import` end to end, against the peers' HTTP ingest of the same
  // file.
  report.add({"ingest_points_per_s", ingest_rate(synth, work / "ingest"), "pts/s", std::nullopt,
              std::nullopt});
  report.add(
      {"import_points_per_s", our_import_pps["synthetic"], "pts/s", std::nullopt, std::nullopt});
  if (vm_import_pps.count("synthetic"))
    report.add({"vm_import_ratio", our_import_pps["synthetic"], "pts/s", "VictoriaMetrics",
                vm_import_pps["synthetic"]});
  if (influx_import_pps.count("synthetic"))
    report.add({"influx_import_ratio", our_import_pps["synthetic"], "pts/s", "InfluxDB",
                influx_import_pps["synthetic"]});
  {
    auto st = store::Store::open(work / "strata-synthetic", {});
    if (st) {
      auto [from, to] = synth.time_span();
      std::uint64_t buckets = 0;
      report.add({"agg_query_ms", our_query_ms(**st, from, to + 1, kQueryRuns, buckets), "ms",
                  std::nullopt, std::nullopt});
    }
  }
  if (options.work_dir.empty()) std::filesystem::remove_all(work);
  return 0;
}

}  // namespace strata::app

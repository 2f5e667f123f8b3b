// strata: the command line. Each subcommand is a thin shell over a module; user errors exit 2
// with one line naming the thing and the fix.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/bench_detect.hpp"
#include "app/bench_ingest.hpp"
#include "app/bench_store.hpp"
#include "app/file_import.hpp"
#include "app/nab_command.hpp"
#include "app/serve_command.hpp"
#include "app/sim_command.hpp"
#include "core/time_format.hpp"
#include "store/query.hpp"
#include "store/store.hpp"

namespace {

using namespace strata;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "strata: %s\n", message.c_str());
  std::exit(2);
}

struct Globals {
  std::string data_dir = "data";
  std::string fsync = "interval";
  std::string fsync_interval = "100ms";
  std::string ooo_window = "1h";
  std::size_t chunk_points = 8192;
  std::string log_level = "warn";
};

store::StoreOptions store_options(const Globals& g) {
  store::StoreOptions o;
  if (g.fsync == "batch")
    o.fsync = store::FsyncPolicy::every_batch;
  else if (g.fsync == "interval")
    o.fsync = store::FsyncPolicy::interval;
  else if (g.fsync == "off")
    o.fsync = store::FsyncPolicy::off;
  else
    fail("--fsync must be batch, interval or off, not '" + g.fsync + "'");
  auto iv = parse_duration(g.fsync_interval);
  if (!iv || *iv <= 0)
    fail("--fsync-interval: '" + g.fsync_interval + "' is not a duration such as 100ms");
  o.fsync_interval_us = *iv;
  auto w = parse_duration(g.ooo_window);
  if (!w) fail("--out-of-order-window: '" + g.ooo_window + "' is not a duration such as 1h");
  o.out_of_order_window_us = *w;
  o.chunk_max_points = g.chunk_points;
  return o;
}

std::unique_ptr<store::Store> open_store(const Globals& g) {
  auto st = store::Store::open(g.data_dir, store_options(g));
  if (!st) fail(st.error().message);
  return std::move(*st);
}

Timestamp parse_time_arg(const std::string& s, Timestamp dflt) {
  if (s.empty()) return dflt;
  if (auto t = parse_iso8601(s)) return *t;
  if (s == "now") return SystemClock().now();
  if (s.size() > 4 && s.rfind("now-", 0) == 0) {
    if (auto d = parse_duration(s.substr(4))) return SystemClock().now() - *d;
  }
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end && *end == 0) return v;  // µs since the epoch
  fail("'" + s +
       "' is not a time (ISO 8601 such as 2014-04-01T00:00:00Z, now, now-1h, or µs since the "
       "epoch)");
}

std::string fmt_value(double v) {
  char buf[32];
  const auto r =
      std::to_chars(buf, buf + sizeof buf, v);  // the shortest form that reads back the same
  return std::string(buf, r.ptr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Strata: the AIoT platform — store, query and benchmark industrial telemetry"};
  app.require_subcommand(1);
  Globals g;
  auto* data_dir_option = app.add_option("--data-dir", g.data_dir, "Data directory of the store")
                              ->capture_default_str()
                              ->envname("STRATA_DATA_DIR");
  app.add_option("--fsync", g.fsync, "WAL fsync policy: batch (every append), interval, off")
      ->capture_default_str()
      ->envname("STRATA_FSYNC");
  app.add_option("--fsync-interval", g.fsync_interval, "Fsync period for --fsync interval")
      ->capture_default_str();
  app.add_option("--out-of-order-window", g.ooo_window,
                 "How far behind a series' newest point writes are accepted")
      ->capture_default_str();
  app.add_option("--chunk-points", g.chunk_points, "Points per sealed chunk")
      ->capture_default_str();
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->envname("STRATA_LOG_LEVEL");

  // import
  auto* imp = app.add_subcommand("import",
                                 "Import CSV (.csv) and InfluxDB line-protocol files; returns once "
                                 "every point is durable and sealed");
  std::vector<std::string> files;
  std::string precision = "ns", time_unit = "auto", device;
  std::vector<std::string> tags;
  imp->add_option("files", files, "Files to import")->required()->check(CLI::ExistingFile);
  imp->add_option("--precision", precision, "Line protocol timestamp unit: ns, us, ms, s")
      ->capture_default_str();
  imp->add_option("--time-unit", time_unit, "CSV numeric timestamps: auto, s, ms, us, ns")
      ->capture_default_str();
  imp->add_option("--device", device,
                  "CSV: device of every column (default: the file name without extension)");
  imp->add_option("--tag", tags, "CSV: tag key=value added to every series (repeatable)");

  // query
  auto* q = app.add_subcommand("query",
                               "Query a range, aggregates per interval, or the latest value of the "
                               "series a selector matches");
  std::string selector, from, to, every, aggs;
  bool latest = false, json = false;
  std::size_t limit = 0;
  q->add_option("selector", selector,
                "Series selector, e.g. device=pump-7,metric=temp (empty: all)");
  q->add_option("--from", from, "Start (inclusive): ISO 8601, now, now-1h, or µs");
  q->add_option("--to", to, "End (inclusive)");
  q->add_option("--every", every, "Aggregate per interval, e.g. 1m (with --agg)");
  q->add_option("--agg", aggs,
                "Aggregates, comma separated: min,max,avg,sum,count,first,last,stddev");
  q->add_flag("--latest", latest, "Only the latest value of each series");
  q->add_option("--limit", limit, "At most this many rows per series (0: all)");
  q->add_flag("--json", json, "JSON lines instead of a table");

  // stats
  auto* stats = app.add_subcommand("stats", "Series, points and bytes of the store");
  bool stats_json = false;
  stats->add_flag("--json", stats_json, "One JSON object");

  // compact, delete, retention
  auto* compact = app.add_subcommand(
      "compact", "Merge small and overlapping chunks; rewrite mostly-deleted files");
  auto* del =
      app.add_subcommand("delete", "Delete the points of the matched series in a time range");
  std::string del_sel, del_from, del_to;
  del->add_option("selector", del_sel, "Series selector")->required();
  del->add_option("--from", del_from, "Start (inclusive); default: the beginning");
  del->add_option("--to", del_to, "End (inclusive)")->required();
  auto* ret =
      app.add_subcommand("retention", "Delete points older than a duration for the matched series");
  std::string ret_sel, ret_keep;
  ret->add_option("selector", ret_sel, "Series selector (empty: all)");
  ret->add_option("--keep", ret_keep, "How long to keep, e.g. 30d")->required();

  // bench
  auto* bench = app.add_subcommand("bench", "Benchmarks, side by side with peers where named");
  auto* bench_store = bench->add_subcommand(
      "store", "Compression, ingest and query of the store against VictoriaMetrics and InfluxDB");
  app::BenchStoreOptions bopt;
  bench_store->add_flag("--json", bopt.json, "One JSON object a line");
  bench_store->add_option("--peers", bopt.peers, "Peers to run beside ours: vm,influx or none")
      ->capture_default_str();
  bench_store->add_option("--nab", bopt.nab_dir, "NAB data directory")->capture_default_str();
  bench_store->add_option("--work-dir", bopt.work_dir,
                          "Scratch directory (default: a new one under /tmp)");
  bench_store->add_option("--series", bopt.synthetic_series, "Synthetic set: series")
      ->capture_default_str();
  bench_store->add_option("--seconds", bopt.synthetic_seconds, "Synthetic set: seconds of readings")
      ->capture_default_str();
  app::register_bench_detect(*bench);
  app::register_bench_ingest(*bench);
  bench->require_subcommand(1);
  app::register_nab_command(app);
  app::register_serve_command(app, g.data_dir, data_dir_option);
  app::register_sim_command(app);

  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("strata");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(g.log_level));

  if (imp->parsed()) {
    app::ImportOptions o;
    if (auto p = ingest::parse_precision(precision))
      o.precision = *p;
    else
      fail("--precision must be ns, us, ms or s, not '" + precision + "'");
    if (auto u = ingest::parse_epoch_unit(time_unit))
      o.epoch_unit = *u;
    else
      fail("--time-unit must be auto, s, ms, us or ns, not '" + time_unit + "'");
    o.device = device;
    for (const auto& t : tags) {
      const auto eq = t.find('=');
      if (eq == std::string::npos || eq == 0) fail("--tag '" + t + "' must be key=value");
      o.tags.emplace_back(t.substr(0, eq), t.substr(eq + 1));
    }
    auto st = open_store(g);
    std::vector<std::filesystem::path> paths(files.begin(), files.end());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = app::import_files(*st, paths, o);
    if (!r) fail(r.error().message);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& reason : r->reasons) std::fprintf(stderr, "refused: %s\n", reason.c_str());
    if (r->refused > r->reasons.size())
      std::fprintf(stderr, "refused: … and %llu more\n",
                   static_cast<unsigned long long>(r->refused - r->reasons.size()));
    std::printf(
        "imported %llu points, refused %llu, from %zu file(s) in %.3f s (%.0f points/s); durable "
        "and sealed\n",
        static_cast<unsigned long long>(r->accepted), static_cast<unsigned long long>(r->refused),
        files.size(), secs, secs > 0 ? static_cast<double>(r->accepted) / secs : 0.0);
    return 0;
  }

  if (stats->parsed()) {
    auto st = open_store(g);
    const auto s = st->stats();
    const double bpp =
        s.points ? static_cast<double>(s.bytes_on_disk) / static_cast<double>(s.points) : 0.0;
    const double dpp =
        s.points ? static_cast<double>(s.data_bytes) / static_cast<double>(s.points) : 0.0;
    nlohmann::json lost = nlohmann::json::array();
    for (const auto& l : st->lost())
      lost.push_back({{"series", l.series_name},
                      {"from", l.from == kMinTimestamp ? "" : format_iso8601(l.from)},
                      {"to", l.to == kMaxTimestamp ? "" : format_iso8601(l.to)},
                      {"points", l.points},
                      {"reason", l.reason}});
    if (stats_json) {
      nlohmann::json j{{"series", s.series},
                       {"points", s.points},
                       {"chunks", s.chunks},
                       {"bytes_on_disk", s.bytes_on_disk},
                       {"allocated_bytes", s.allocated_bytes},
                       {"data_bytes", s.data_bytes},
                       {"wal_bytes", s.wal_bytes},
                       {"head_points", s.head_points},
                       {"bytes_per_point", bpp},
                       {"data_bytes_per_point", dpp},
                       {"lost", lost}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf(
          "series         %zu\npoints         %llu\nchunks         %llu\nbytes on disk  %llu (%.3f "
          "B/point; %llu allocated)\n"
          "data bytes     %llu (%.3f B/point)\nWAL bytes      %llu\nlost ranges    %zu\n",
          s.series, static_cast<unsigned long long>(s.points),
          static_cast<unsigned long long>(s.chunks),
          static_cast<unsigned long long>(s.bytes_on_disk), bpp,
          static_cast<unsigned long long>(s.allocated_bytes),
          static_cast<unsigned long long>(s.data_bytes), dpp,
          static_cast<unsigned long long>(s.wal_bytes), st->lost().size());
      for (const auto& l : lost) std::printf("  lost: %s\n", l.dump().c_str());
    }
    return 0;
  }

  if (q->parsed()) {
    auto sel = store::SeriesSelector::parse(selector);
    if (!sel) fail(sel.error().message);
    auto st = open_store(g);
    const Timestamp t_from = parse_time_arg(from, kMinTimestamp),
                    t_to = parse_time_arg(to, kMaxTimestamp);
    std::vector<store::Aggregate> agg_list;
    if (!aggs.empty()) {
      std::size_t p = 0;
      while (p <= aggs.size()) {
        auto c = aggs.find(',', p);
        if (c == std::string::npos) c = aggs.size();
        auto a = store::parse_aggregate(aggs.substr(p, c - p));
        if (!a) fail(a.error().message);
        agg_list.push_back(*a);
        p = c + 1;
      }
    }
    Timestamp interval = 0;
    if (!every.empty()) {
      auto d = parse_duration(every);
      if (!d || *d <= 0) fail("--every: '" + every + "' is not a duration such as 1m");
      interval = *d;
      if (agg_list.empty()) agg_list = {store::Aggregate::avg};
    }
    const auto ids = st->select(*sel);
    if (!json) {
      std::printf("%-40s %-28s", "series", "time");
      if (agg_list.empty()) std::printf(" %s", "value");
      for (auto a : agg_list) std::printf(" %14s", std::string(store::aggregate_name(a)).c_str());
      std::printf("\n");
    }
    for (SeriesId id : ids) {
      const std::string name = st->key(id)->to_string();
      const auto snap = st->snapshot(id);
      auto row = [&](Timestamp ts, const std::vector<double>& vals,
                     const std::vector<std::string>& names) {
        if (json) {
          nlohmann::json j{{"series", name}, {"time", format_iso8601(ts)}};
          for (std::size_t i = 0; i < vals.size(); ++i) j[names[i]] = vals[i];
          std::printf("%s\n", j.dump().c_str());
        } else {
          std::printf("%-40s %-28s", name.c_str(), format_iso8601(ts).c_str());
          for (double v : vals) std::printf(" %14s", fmt_value(v).c_str());
          std::printf("\n");
        }
      };
      std::vector<std::string> names;
      store::AggregateSet need = 0;
      for (auto a : agg_list) {
        names.emplace_back(store::aggregate_name(a));
        need |= store::aggregate_set({a});
      }
      if (latest) {
        if (auto s = store::latest(snap)) row(s->ts, {s->value}, {"value"});
        continue;
      }
      std::size_t rows = 0;
      if (!agg_list.empty()) {
        std::vector<store::Bucket> buckets;
        if (interval > 0) {
          auto b = store::aggregate(snap, t_from, t_to, interval, need);
          if (!b) fail(name + ": " + b.error().message);
          buckets = std::move(*b);
        } else {
          auto b = store::aggregate_all(snap, t_from, t_to);
          if (!b) fail(name + ": " + b.error().message);
          if (b->count) buckets.push_back(*b);
        }
        for (const auto& b : buckets) {
          if (limit && rows++ >= limit) break;
          std::vector<double> vals;
          for (auto a : agg_list) vals.push_back(b.value(a));
          row(b.start, vals, names);
        }
        continue;
      }
      store::RangeCursor cursor(snap, t_from, t_to);
      std::vector<Sample> batch;
      while (cursor.next(batch) && !(limit && rows >= limit)) {
        for (const auto& s : batch) {
          if (limit && rows++ >= limit) break;
          row(s.ts, {s.value}, {"value"});
        }
      }
      if (!cursor.status())
        std::fprintf(stderr, "strata: %s: %s\n", name.c_str(),
                     cursor.status().error().message.c_str());
    }
    return 0;
  }

  if (compact->parsed()) {
    auto st = open_store(g);
    const auto before = st->stats();
    if (auto s = st->compact(); !s) fail(s.error().message);
    const auto after = st->stats();
    std::printf("compacted: %llu → %llu chunks, %llu → %llu bytes on disk\n",
                static_cast<unsigned long long>(before.chunks),
                static_cast<unsigned long long>(after.chunks),
                static_cast<unsigned long long>(before.bytes_on_disk),
                static_cast<unsigned long long>(after.bytes_on_disk));
    return 0;
  }

  if (del->parsed() || ret->parsed()) {
    const std::string& sel_text = del->parsed() ? del_sel : ret_sel;
    auto sel = store::SeriesSelector::parse(sel_text);
    if (!sel) fail(sel.error().message);
    Timestamp t_from = kMinTimestamp, t_to;
    if (del->parsed()) {
      t_from = parse_time_arg(del_from, kMinTimestamp);
      t_to = parse_time_arg(del_to, kMaxTimestamp);
    } else {
      auto keep = parse_duration(ret_keep);
      if (!keep) fail("--keep: '" + ret_keep + "' is not a duration such as 30d");
      t_to = SystemClock().now() - *keep;
    }
    auto st = open_store(g);
    std::uint64_t n = 0;
    for (SeriesId id : st->select(*sel)) {
      auto r = st->delete_range(id, t_from, t_to);
      if (!r) fail(r.error().message);
      n += *r;
    }
    std::printf("deleted %llu points\n", static_cast<unsigned long long>(n));
    return 0;
  }

  if (bench_store->parsed()) return app::run_bench_store(bopt);
  return 0;
}

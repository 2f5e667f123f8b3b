// The side-by-side peers of `strata bench store` (bench/peers/) and its data sets (bench/datasets).
// Starts the real VictoriaMetrics and InfluxDB on 127.0.0.1, feeds them a small plant, checks that
// they hold every point and answer the same buckets, and that their processes are gone afterwards.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/datasets.hpp"
#include "bench/peers/peer.hpp"
#include "bench/peers/peer_process.hpp"

namespace strata::bench {
namespace {

namespace fs = std::filesystem;

bool pid_gone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

// A work directory for one test, removed afterwards.
class WorkDir {
 public:
  WorkDir()
      : path_(fs::path(::testing::TempDir()) /
              ("strata-peers-test-" + std::to_string(::getpid()))) {}
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---- data sets --------------------------------------------------------------------------------

TEST(SyntheticDataset, FollowsTheRecipe) {
  const Dataset d = synthetic_dataset(1, 14, 300);
  ASSERT_EQ(d.series.size(), 14u);
  EXPECT_EQ(d.points(), 14u * 300u);
  EXPECT_EQ(d.measurement, "sensor");
  EXPECT_EQ(d.series[3].key.device, "dev0003");
  EXPECT_EQ(d.series[3].key.metric, "current");
  EXPECT_EQ(d.series[10].key.metric, "current");
  ASSERT_NE(d.series[13].key.tag("kind"), nullptr);
  EXPECT_EQ(*d.series[13].key.tag("kind"), "counter");
  EXPECT_EQ(d.time_span().first, Timestamp{1'704'067'200'000'000});
  EXPECT_EQ(d.time_span().second, Timestamp{1'704'067'200'000'000} + 299 * kMicrosPerSecond);

  EXPECT_EQ(d.series[0].samples[0].value, 60.0);  // temperature: the walk starts at 60, sin(0) = 0
  EXPECT_EQ(d.series[5].samples[0].value, 1.0);   // state starts at 1
  EXPECT_EQ(d.series[6].samples[0].value, 0.0);   // counter starts at 0
  const int decimals[7] = {2, 3, 3, 1, 1, 0, 0};
  for (const auto& s : d.series) {
    const int kind = static_cast<int>(&s - d.series.data()) % 7;
    const double scale = std::pow(10.0, decimals[kind]);
    double previous = s.samples[0].value;
    for (const auto& sample : s.samples) {
      const double scaled = sample.value * scale;
      EXPECT_NEAR(scaled, std::round(scaled), 1e-6) << s.key.to_string();
      if (kind == 5) {
        EXPECT_TRUE(sample.value == 0.0 || sample.value == 1.0);
      } else if (kind == 6) {
        EXPECT_TRUE(sample.value == previous || sample.value == previous + 1);
      } else if (kind == 1) {
        EXPECT_GE(sample.value, 0.0);
      }
      previous = sample.value;
    }
  }
  // The counter steps with probability 0.8: after 299 draws it is near 239.
  EXPECT_NEAR(d.series[6].samples.back().value, 239, 25);
}

TEST(SyntheticDataset, IsDeterministicAndSmallerPlantsArePrefixes) {
  const Dataset big = synthetic_dataset(7, 21, 200);
  const Dataset small = synthetic_dataset(7, 9, 50);
  for (std::size_t k = 0; k < small.series.size(); ++k)
    for (std::size_t i = 0; i < small.series[k].samples.size(); ++i) {
      ASSERT_EQ(small.series[k].samples[i].ts, big.series[k].samples[i].ts);
      ASSERT_EQ(small.series[k].samples[i].value, big.series[k].samples[i].value);
    }
  const Dataset other = synthetic_dataset(8, 9, 50);
  EXPECT_NE(other.series[0].samples[10].value, small.series[0].samples[10].value);
}

TEST(LineProtocol, WritesShortestValuesSortedTagsAndCoarsestPrecision) {
  Dataset d;
  d.measurement = "nab";
  d.order = SendOrder::series_major;
  d.series.push_back({SeriesKey{"m 1", "value", {{"category", "a,b"}}},
                      {{1'000'000, 73.96732207}, {2'000'000, 0.1 + 0.2}}});
  d.series.push_back({SeriesKey{"x=y", "value", {{"category", "c"}}}, {{3'000'000, 5.0}}});
  std::string precision;
  const auto batches = to_line_protocol(d, 2, precision);
  EXPECT_EQ(precision, "s");
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0],
            "nab,category=a\\,b,device=m\\ 1 value=73.96732207 1\n"
            "nab,category=a\\,b,device=m\\ 1 value=0.30000000000000004 2\n");
  EXPECT_EQ(batches[1], "nab,category=c,device=x\\=y value=5 3\n");

  d.series[1].samples[0].ts = 3'000'500;
  (void)to_line_protocol(d, 10, precision);
  EXPECT_EQ(precision, "u");
  d.series[1].samples[0].ts = 3'005'000;
  const auto ms = to_line_protocol(d, 10, precision);
  EXPECT_EQ(precision, "ms");
  EXPECT_NE(ms[0].find(" 3005\n"), std::string::npos);
}

TEST(LineProtocol, SyntheticPlantIsSentTimeMajor) {
  const Dataset d = synthetic_dataset(1, 3, 2);
  std::string precision;
  const auto batches = to_line_protocol(d, 4, precision);
  ASSERT_EQ(batches.size(), 2u);
  const std::string all = batches[0] + batches[1];
  const auto line = [&](int n) {
    std::size_t pos = 0;
    for (int i = 0; i < n; ++i) pos = all.find('\n', pos) + 1;
    return all.substr(pos, all.find('\n', pos) - pos);
  };
  EXPECT_EQ(line(0), "sensor,device=dev0000,kind=temperature value=60 1704067200");
  EXPECT_TRUE(line(1).starts_with("sensor,device=dev0001,kind=vibration value="));
  EXPECT_TRUE(line(1).ends_with(" 1704067200"));
  EXPECT_TRUE(line(2).starts_with("sensor,device=dev0002,kind=pressure value="));
  EXPECT_TRUE(line(3).starts_with("sensor,device=dev0000,kind=temperature value="));
  EXPECT_TRUE(line(3).ends_with(" 1704067201"));
}

TEST(NabDataset, LoadsAllFilesBitExact) {
  const fs::path dir = fs::path(STRATA_SHARED_DIR) / "datasets" / "nab" / "data";
  ASSERT_TRUE(fs::exists(dir)) << "no NAB data at " << dir;
  auto d = nab_dataset(dir);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->series.size(), 58u);
  EXPECT_EQ(d->points(), 365'558u);
  EXPECT_EQ(d->distinct_points(), 365'509u);  // 49 rows repeat a timestamp of their file
  const SeriesData* machine = nullptr;
  for (const auto& s : d->series)
    if (s.key.device == "machine_temperature_system_failure") machine = &s;
  ASSERT_NE(machine, nullptr);
  EXPECT_EQ(*machine->key.tag("category"), "realKnownCause");
  EXPECT_EQ(machine->samples[0].ts,
            Timestamp{1'386'018'900} * kMicrosPerSecond);  // 2013-12-02 21:15
  EXPECT_EQ(machine->samples[0].value, 73.96732207);
  EXPECT_EQ(machine->samples[1].value, 74.93588199999998);
}

TEST(NabDataset, RefusesAMissingDirectory) {
  auto d = nab_dataset("/nonexistent/nab/data");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("/nonexistent/nab/data"), std::string::npos);
}

// ---- processes --------------------------------------------------------------------------------

TEST(PeerProcess, ReportsTheLogWhenTheServerDiesAtStart) {
  WorkDir work;
  auto dir = ScratchDir::create(work.path(), "dying-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  auto port = pick_free_port();
  ASSERT_TRUE(port.ok());
  auto process =
      PeerProcess::spawn({.name = "dying",
                          .program = "/bin/sh",
                          .args = {"-c", "echo 'cannot open storage: disk on fire'; exit 3"},
                          .log_file = dir->path() / "dying.log",
                          .working_dir = dir->path()});
  ASSERT_TRUE(process.ok()) << process.error().message;
  auto ready = process->wait_ready("http://127.0.0.1:" + std::to_string(*port) + "/health",
                                   std::chrono::seconds(10));
  ASSERT_FALSE(ready.ok());
  EXPECT_TRUE(ready.error().is(PeerErrc::exited)) << ready.error().message;
  EXPECT_NE(ready.error().message.find("disk on fire"), std::string::npos) << ready.error().message;
  EXPECT_NE(ready.error().message.find("exit status 3"), std::string::npos)
      << ready.error().message;
}

TEST(PeerProcess, KillsAServerThatIgnoresSigterm) {
  WorkDir work;
  auto dir = ScratchDir::create(work.path(), "stubborn-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  auto process = PeerProcess::spawn({.name = "stubborn",
                                     .program = "/bin/sh",
                                     .args = {"-c", "trap '' TERM; exec sleep 30"},
                                     .log_file = dir->path() / "stubborn.log",
                                     .working_dir = dir->path()},
                                    std::chrono::milliseconds(300));
  ASSERT_TRUE(process.ok()) << process.error().message;
  const pid_t pid = process->pid();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let sh reach the trap
  EXPECT_TRUE(process->running());
  ASSERT_TRUE(process->stop().ok());
  EXPECT_TRUE(process->was_killed());
  EXPECT_EQ(process->exit_description(), "killed by signal 9");
  EXPECT_TRUE(pid_gone(pid));
}

TEST(PeerProcess, ScratchDirIsRemovedWithItsContents) {
  WorkDir work;
  fs::path path;
  {
    auto dir = ScratchDir::create(work.path(), "scratch-");
    ASSERT_TRUE(dir.ok()) << dir.error().message;
    path = dir->path();
    fs::create_directories(path / "a" / "b");
    std::ofstream(path / "a" / "b" / "f") << "x";
    auto bytes = tree_bytes(path);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(bytes->size, 1u);
    EXPECT_EQ(bytes->files, 1u);
  }
  EXPECT_FALSE(fs::exists(path));
}

// ---- the peers, end to end --------------------------------------------------------------------

struct PeerCase {
  const char* label;
  Result<std::unique_ptr<Peer>> (*start)(const fs::path&, const PeerOptions&);
  friend void PrintTo(const PeerCase& c, std::ostream* os) { *os << c.label; }
};

class PeersTest : public ::testing::TestWithParam<PeerCase> {};

TEST_P(PeersTest, HoldEverythingSentAndAnswerEveryBucket) {
  WorkDir work;
  const Dataset plant = synthetic_dataset(1, 20, 600);  // 20 series × 600 s = 12,000 points
  std::string precision;
  auto batches = to_line_protocol(plant, 1000, precision);
  ASSERT_EQ(precision, "s");
  ASSERT_EQ(batches.size(), 12u);
  // One more batch: the first point again with another value, to see what the peer does with a
  // repeated (series, timestamp).
  const std::string first = batches[0].substr(0, batches[0].find('\n'));
  ASSERT_EQ(first, "sensor,device=dev0000,kind=temperature value=60 1704067200");
  batches.push_back("sensor,device=dev0000,kind=temperature value=61 1704067200\n");

  pid_t pid = -1;
  fs::path scratch;
  {
    auto peer = GetParam().start(work.path(), PeerOptions{});
    ASSERT_TRUE(peer.ok()) << peer.error().message;
    Peer& p = **peer;
    pid = p.pid();
    scratch = p.scratch_dir();
    EXPECT_GT(pid, 0);
    EXPECT_NE(p.name().find(GetParam().label), std::string::npos) << p.name();
    EXPECT_EQ(p.name().find("unknown"), std::string::npos) << p.name();

    auto seconds = p.ingest(batches, precision);
    ASSERT_TRUE(seconds.ok()) << seconds.error().message;
    EXPECT_GT(*seconds, 0.0);

    auto usage = p.settle_and_measure();
    ASSERT_TRUE(usage.ok()) << usage.error().message;
    EXPECT_GT(usage->data_bytes, 0u);
    EXPECT_LE(usage->data_bytes, usage->total_bytes);
    EXPECT_LE(usage->data_allocated_bytes, usage->total_allocated_bytes);
    EXPECT_GT(usage->reported_data_bytes, 0u);

    auto count = p.count_points();
    ASSERT_TRUE(count.ok()) << count.error().message;
    EXPECT_EQ(*count, plant.points() + (p.replaces_same_timestamp() ? 0 : 1));

    const Timestamp from = plant.time_span().first;
    auto timing = p.aggregate_query(from, from + 600 * kMicrosPerSecond, 3);
    ASSERT_TRUE(timing.ok()) << timing.error().message;
    EXPECT_EQ(timing->buckets, 20u * 10u);  // every series, ten whole minutes
    EXPECT_EQ(timing->runs_ms.size(), 3u);
    EXPECT_EQ(timing->requests_per_run, 1u);
    EXPECT_GT(timing->median_ms, 0.0);
    EXPECT_EQ(timing->cold_ms, timing->runs_ms[0]);

    auto misaligned = p.aggregate_query(from + 1, from + 600 * kMicrosPerSecond, 1);
    ASSERT_FALSE(misaligned.ok());
    EXPECT_TRUE(misaligned.error().is(PeerErrc::bad_argument));
  }
  EXPECT_TRUE(pid_gone(pid)) << "pid " << pid << " still there after the peer was destroyed";
  EXPECT_FALSE(fs::exists(scratch));
}

INSTANTIATE_TEST_SUITE_P(Peers, PeersTest,
                         ::testing::Values(PeerCase{"VictoriaMetrics", &start_victoria_metrics},
                                           PeerCase{"InfluxDB", &start_influxdb}),
                         [](const auto& info) { return std::string(info.param.label); });

TEST(Peers, StartFailsClearlyWithoutTheProgram) {
  WorkDir work;
  PeerOptions options;
  options.program = "/nonexistent/victoria-metrics";
  auto peer = start_victoria_metrics(work.path(), options);
  ASSERT_FALSE(peer.ok());
  EXPECT_TRUE(peer.error().is(PeerErrc::spawn));
  EXPECT_NE(peer.error().message.find("/nonexistent/victoria-metrics"), std::string::npos);
}

}  // namespace
}  // namespace strata::bench

// `strata serve` compacts as it runs: a data directory whose chunk files hold short chunks (as a
// server writing many series at once leaves them) is served by the real process; its upkeep
// thread's compaction steps merge them into full chunks, /metrics counts the steps, the chunks
// merged and the points rewritten, and after a clean stop the store holds every point, bit for
// bit, in fewer chunks.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <map>

#include "server_harness.hpp"
#include "store/query.hpp"
#include "store/store.hpp"

namespace strata::test {
namespace {

constexpr int kSeries = 20;
constexpr int kCheckpoints = 10;
constexpr int kPointsEach = 1000;  // a checkpoint's chunk: short (chunks hold 8192)

double metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

std::vector<Sample> read_series(const store::Store& st, SeriesId id) {
  store::RangeCursor cursor(st.snapshot(id), kMinTimestamp, kMaxTimestamp);
  std::vector<Sample> out, batch;
  while (cursor.next(batch)) out.insert(out.end(), batch.begin(), batch.end());
  EXPECT_TRUE(cursor.status().ok());
  return out;
}

TEST(ServerCompaction, TheUpkeepThreadMergesShortChunksAndCountsIt) {
  TempDir dir("compaction");
  const auto data = dir.path() / "data";
  std::map<SeriesId, std::vector<Sample>> want;
  {
    store::StoreOptions o;
    o.fsync = store::FsyncPolicy::off;
    auto st = store::Store::open(data / "store", o);
    ASSERT_TRUE(st) << st.error().message;
    const Timestamp t0 = 1'700'000'000 * kMicrosPerSecond;
    for (int s = 0; s < kSeries; ++s)
      ASSERT_TRUE((*st)->resolve(SeriesKey{"pump-" + std::to_string(s), "temp", {}}));
    for (int c = 0; c < kCheckpoints; ++c) {
      for (SeriesId id = 0; id < kSeries; ++id) {
        std::vector<Sample> batch;
        for (int i = 0; i < kPointsEach; ++i) {
          const int k = c * kPointsEach + i;
          batch.push_back({t0 + k * kMicrosPerSecond,
                           std::round((50 + 10 * std::sin(k / 300.0 + id)) * 100) / 100});
        }
        ASSERT_TRUE((*st)->append(id, batch));
        want[id].insert(want[id].end(), batch.begin(), batch.end());
      }
      ASSERT_TRUE((*st)->checkpoint());
    }
    ASSERT_EQ((*st)->stats().chunks, std::uint64_t{kSeries * kCheckpoints});
  }
  std::string metrics;
  {
    StrataServer server(data, {"STRATA_STORE_COMPACTION_PAUSE=10ms"});
    ASSERT_TRUE(server.started()) << server.output();
    HttpClient c(server.http_port);
    // Each series: nine chunks of 1000 (or all ten, as the step's budget allows) become 8192
    // and the rest; what is left at the end of a series (less than a chunk) waits for more.
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      metrics = c.get("/metrics").body;
      if (metric(metrics, "strata_store_compaction_caught_up") == 1 &&
          metric(metrics, "strata_store_compaction_runs_total") >= kSeries)
        break;
      std::this_thread::sleep_for(50ms);
    }
    const double merged = metric(metrics, "strata_store_compaction_chunks_merged_total");
    EXPECT_EQ(metric(metrics, "strata_store_compaction_caught_up"), 1) << metrics;
    EXPECT_EQ(metric(metrics, "strata_store_compaction_runs_total"), kSeries);
    EXPECT_GE(merged, kSeries * 9);
    EXPECT_LE(merged, kSeries * 10);
    EXPECT_EQ(metric(metrics, "strata_store_compaction_chunks_written_total"), kSeries * 2);
    EXPECT_EQ(metric(metrics, "strata_store_compaction_points_total"), merged * kPointsEach);
    EXPECT_EQ(metric(metrics, "strata_store_compaction_runs_dropped_total"), 0);
    EXPECT_EQ(metric(metrics, "strata_store_compaction_errors_total"), 0);
    EXPECT_GT(metric(metrics, "strata_store_compaction_steps_total"), 0);
    EXPECT_EQ(metric(metrics, "strata_store_chunks"),
              kSeries * kCheckpoints - merged + kSeries * 2);
    EXPECT_EQ(metric(metrics, "strata_store_points"), kSeries * kCheckpoints * kPointsEach);
    const auto status = server.stop(SIGTERM);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << server.output();
  }
  store::StoreOptions o;
  o.fsync = store::FsyncPolicy::off;
  auto st = store::Store::open(data / "store", o);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_TRUE((*st)->lost().empty());
  EXPECT_EQ(static_cast<double>((*st)->stats().chunks), metric(metrics, "strata_store_chunks"));
  for (const auto& [id, samples] : want) {
    EXPECT_EQ((*st)->snapshot(id).chunks->front().count, 8192u) << "series " << id;
    const auto got = read_series(**st, id);
    ASSERT_EQ(got.size(), samples.size()) << "series " << id;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].ts, samples[i].ts) << "series " << id << " point " << i;
      ASSERT_EQ(std::bit_cast<std::uint64_t>(got[i].value),
                std::bit_cast<std::uint64_t>(samples[i].value))
          << "series " << id << " point " << i;
    }
  }
}

}  // namespace
}  // namespace strata::test

// A detector warmed up from a series' stored history scores the next points exactly as one that
// saw the same points live.
#include "analytics/warm_up.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/series_key.hpp"
#include "store/store.hpp"
#include "synthetic_signals.hpp"

namespace strata::analytics {
namespace {

TEST(WarmUp, FromStoredHistoryMatchesLive) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("strata-warmup-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto st = store::Store::open(dir);
  ASSERT_TRUE(st.ok()) << st.error().message;
  SeriesKey key;
  key.device = "pump-7";
  key.metric = "temp";
  auto id = (*st)->resolve(key);
  ASSERT_TRUE(id.ok());
  const auto s = testing::make_series(testing::Anomaly::level_shift, 4, true);
  std::vector<Sample> history;
  for (std::size_t i = 0; i < 2000; ++i) history.push_back({s.ts[i], s.values[i]});
  ASSERT_TRUE((*st)->append(*id, history).ok());
  ASSERT_TRUE((*st)->checkpoint().ok());

  auto live = AnyDetector::create({"ensemble", {}});
  auto warm = AnyDetector::create({"ensemble", {}});
  ASSERT_TRUE(live.ok() && warm.ok());
  for (const auto& p : history) (void)live->update(p.ts, p.value);
  auto fed = warm_up(*warm, **st, *id);
  ASSERT_TRUE(fed.ok()) << fed.error().message;
  EXPECT_EQ(*fed, 2000u);
  for (std::size_t i = 2000; i < s.values.size(); ++i) {
    const double a = live->update(s.ts[i], s.values[i]).score;
    const double b = warm->update(s.ts[i], s.values[i]).score;
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i;
  }
  // A range: only the points inside it are fed.
  auto part = AnyDetector::create({"baseline", {}});
  auto n = warm_up(*part, **st, *id, s.ts[100], s.ts[199]);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 100u);
  // With a callback: every point fed, in order, with the assessment a live detector gave it.
  auto seen = AnyDetector::create({"ensemble", {}});
  auto again = AnyDetector::create({"ensemble", {}});
  std::vector<Timestamp> order;
  std::size_t differ = 0;
  auto m =
      warm_up(*seen, **st, *id, kMinTimestamp, kMaxTimestamp,
              [&](Timestamp ts, double v, const Assessment& a) {
                const Assessment b = again->update(ts, v);
                if (std::memcmp(&a.score, &b.score, sizeof a.score) != 0 || a.driver != b.driver)
                  ++differ;
                order.push_back(ts);
              });
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, 2000u);
  ASSERT_EQ(order.size(), 2000u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(order.front(), s.ts[0]);
  EXPECT_EQ(differ, 0u);
  st->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::analytics

// The detection stage on a real store and registry: which series are scored, events (one per
// excursion, none while learning), late points, back-pressure, warm-up, device changes,
// checkpoints and their restore, and the multivariate detector.
#include "detect/stage.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "detect/checkpoint.hpp"
#include "detect_fixture.hpp"

namespace strata::detect {
namespace {

using testing::fingerprint;
using testing::kStart;
using testing::kStep;
using testing::machine_model;
using testing::Plant;
using testing::temperature_at;

std::vector<std::string> fingerprints(const std::vector<AnomalyEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(fingerprint(e));
  return out;
}

// Feeds points i in [from, to) of the temperature series, `per_group` a group commit.
void feed_temperature(Plant& p, SeriesId s, std::size_t from, std::size_t to,
                      const std::vector<std::size_t>& spikes = {}, std::size_t per_group = 7) {
  std::vector<Point> group;
  for (std::size_t i = from; i < to; ++i) {
    group.push_back({s, kStart + static_cast<Timestamp>(i) * kStep, temperature_at(i, spikes)});
    if (group.size() == per_group || i + 1 == to) {
      p.feed(group);
      group.clear();
    }
  }
}

TEST(DetectionStage, ASpikeIsOneEventWithItsExplanationAndOnlySeriesWithADetectorAreScored) {
  Plant p("spike");
  p.add_model(machine_model("ensemble"));
  p.add_device("m-1");
  p.start();
  const SeriesId temp = p.series("m-1", "temperature");
  const SeriesId note = p.series("m-1", "note");
  const SeriesId other = p.series("unregistered", "x");
  // A spike during learning (point 150 < 200) makes no event; the one at 1200 does.
  feed_temperature(p, temp, 0, 1500, {150, 1200});
  for (std::size_t i = 0; i < 300; ++i) {
    p.feed(note, kStart + static_cast<Timestamp>(i) * kStep, 1.0 + (i % 5 == 0 ? 100 : 0));
    p.feed(other, kStart + static_cast<Timestamp>(i) * kStep, 5.0);
  }
  // The spike during learning made none; the one at 1200 makes one, and only one for its
  // excursion (the ensemble may find other things in this noise: they are other excursions).
  const auto events = p.events();
  std::vector<AnomalyEvent> at_spike;
  for (const auto& x : events) {
    EXPECT_GT(x.ts, kStart + 200 * kStep) << fingerprint(x);
    if (x.ts >= kStart + 1200 * kStep && x.ts <= kStart + 1210 * kStep) at_spike.push_back(x);
  }
  ASSERT_EQ(at_spike.size(), 1u);
  const auto& e = at_spike[0];
  EXPECT_EQ(e.device, "m-1");
  EXPECT_EQ(e.metric, "temperature");
  EXPECT_EQ(e.series, temp);
  EXPECT_EQ(e.ts, kStart + 1200 * kStep);
  EXPECT_NEAR(e.value, temperature_at(1200, {150, 1200}), 1e-9);
  EXPECT_GE(e.score, 0.6);
  EXPECT_EQ(e.driver, "range");
  EXPECT_EQ(e.raw_score, 1.0);
  EXPECT_EQ(e.detector, "ensemble");
  EXPECT_EQ(e.version, choose_detector("ensemble")->version);
  EXPECT_EQ(e.version.rfind("ensemble@", 0), 0u);
  ASSERT_TRUE(e.expected && e.band);
  EXPECT_NEAR(*e.expected, 60, 5);
  EXPECT_GT(*e.band, 0);
  EXPECT_EQ(e.unit, "°C");
  EXPECT_NE(e.message.find("temperature 1"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("°C is above the expected"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("(range rule"), std::string::npos) << e.message;
  EXPECT_FALSE(e.replayed);
  // Only the temperature series reached a detector.
  const auto& c = p.stage->counters();
  EXPECT_EQ(c.points_scored.load(), 1500u);
  EXPECT_EQ(c.detectors.load(), 1);
  EXPECT_GT(c.memory_bytes.load(), 1000);
  EXPECT_EQ(c.events.load(), events.size());
  auto status = p.stage->detectors_of("m-1");
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].metric, "temperature");
  EXPECT_EQ(status[0].state, "scoring");
  EXPECT_EQ(status[0].points, 1500u);
  EXPECT_EQ(status[0].series, temp);
  ASSERT_TRUE(status[0].last_ts);
  EXPECT_EQ(*status[0].last_ts, kStart + 1499 * kStep);
}

TEST(DetectionStage, OneEventPerExcursionAndLatePointsAreCountedNotScored) {
  Plant p("excursion");
  p.add_model(machine_model("baseline:z_half=6"));
  p.add_device("m-1");
  auto o = p.options();
  o.learning_points = 400;  // a plain baseline's spread settles within its first few hundred
  p.start(o);
  const SeriesId temp = p.series("m-1", "temperature");
  feed_temperature(p, temp, 0, 600);
  // Ten points far off: one excursion, one event; then back to normal, then off again.
  for (std::size_t i = 600; i < 610; ++i)
    p.feed(temp, kStart + static_cast<Timestamp>(i) * kStep, 90.0);
  feed_temperature(p, temp, 610, 700);
  for (std::size_t i = 700; i < 703; ++i)
    p.feed(temp, kStart + static_cast<Timestamp>(i) * kStep, 95.0);
  // A point at or before the last scored one: late.
  p.feed({{temp, kStart + 650 * kStep + 1, 60.0}});
  p.stage->flush();
  const auto events = p.events();
  ASSERT_EQ(events.size(), 2u) << fingerprint(events[0]);
  EXPECT_EQ(events[0].ts, kStart + 600 * kStep);
  EXPECT_EQ(events[1].ts, kStart + 700 * kStep);
  EXPECT_EQ(p.stage->counters().late_points.load(), 1u);
  EXPECT_EQ(p.stage->counters().points_scored.load(), 703u);
}

TEST(DetectionStage, AFullQueueMakesTheShardWaitAndNothingIsDropped) {
  Plant p("pressure");
  p.add_model(machine_model("ensemble"));
  p.add_device("m-1");
  auto o = p.options();
  o.workers = 1;
  o.queue_points = 16;
  p.start(o);
  const SeriesId temp = p.series("m-1", "temperature");
  // Two "shards" pushing groups of 10 into a queue of 16.
  std::vector<Point> a, b;
  for (std::size_t i = 0; i < 2000; ++i)
    (i % 2 ? a : b).push_back({temp, kStart + static_cast<Timestamp>(i) * kStep, 60.0});
  ASSERT_TRUE(p.store->append(a));
  ASSERT_TRUE(p.store->append(b));
  auto shard = [&](const std::vector<Point>& pts) {
    for (std::size_t i = 0; i < pts.size(); i += 10)
      p.stage->stored(std::span(pts).subspan(i, std::min<std::size_t>(10, pts.size() - i)));
  };
  auto t1 = std::async(std::launch::async, shard, std::cref(a));
  auto t2 = std::async(std::launch::async, shard, std::cref(b));
  t1.get();
  t2.get();
  p.stage->flush();
  const auto& c = p.stage->counters();
  // Every point was either scored or (interleaved shards) late: none vanished.
  EXPECT_EQ(c.points_scored.load() + c.late_points.load(), 2000u);
  EXPECT_GT(c.queue_waits.load(), 0u);
  EXPECT_EQ(p.stage->queued(), 0u);
}

// A detector attached to a series with history learns it first, then emits exactly what a
// detector that had run all along emits.
TEST(DetectionStage, WarmUpGivesTheEventsOfADetectorThatRanAllAlong) {
  const std::vector<std::size_t> spikes = {500, 1200};  // the second twice the first
  Plant all("all-along");
  all.add_model(machine_model("ensemble"));
  all.add_device("m-1");
  all.start();
  const SeriesId a = all.series("m-1", "temperature");
  feed_temperature(all, a, 0, 1600, spikes);
  ASSERT_GE(all.events().size(), 2u);

  Plant late("attached");
  late.add_model(machine_model(""));  // no detector yet
  late.add_device("m-1");
  late.start();
  const SeriesId b = late.series("m-1", "temperature");
  ASSERT_EQ(a, b);
  feed_temperature(late, b, 0, 1000, spikes);  // history, unscored
  EXPECT_EQ(late.stage->counters().points_scored.load(), 0u);
  late.replace_model(machine_model("ensemble"));
  feed_temperature(late, b, 1000, 1600, spikes);
  const auto after = fingerprints(late.events());
  // The reference's events after the attachment, and nothing of the warm-up.
  std::vector<std::string> expected;
  for (const auto& e : all.events())
    if (e.ts >= kStart + 1000 * kStep) expected.push_back(fingerprint(e));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(after, expected);
  EXPECT_EQ(late.stage->counters().warm_up_points.load(), 1000u);
  EXPECT_EQ(late.stage->counters().points_scored.load(), 600u);
  auto status = late.stage->detectors_of("m-1");
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].points, 1600u);
}

TEST(DetectionStage, DeviceOverridesWinAndAChangeRebuildsOnlyWhatChanged) {
  Plant p("override");
  p.add_model(machine_model("ensemble"));
  p.add_device("m-1");
  p.add_device("m-2");
  p.start();
  const SeriesId t1 = p.series("m-1", "temperature");
  const SeriesId t2 = p.series("m-2", "temperature");
  feed_temperature(p, t1, 0, 100);
  feed_temperature(p, t2, 0, 100);
  p.stage->flush();
  EXPECT_EQ(p.stage->counters().detectors.load(), 2);
  // m-2 turns its detector off: its points stop being scored.
  auto d2 = *p.registry->device_by_id("m-2");
  d2.detectors = {{"temperature", "off"}};
  ASSERT_TRUE(p.registry->update_device(d2));
  feed_temperature(p, t2, 100, 150);
  // m-1 changes a tag only: its detector goes on (its points count on).
  auto d1 = *p.registry->device_by_id("m-1");
  d1.tags = {{"area", "north"}};
  ASSERT_TRUE(p.registry->update_device(d1));
  feed_temperature(p, t1, 100, 150);
  p.stage->flush();
  auto s1 = p.stage->detectors_of("m-1");
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_EQ(s1[0].points, 150u);
  EXPECT_TRUE(p.stage->detectors_of("m-2").empty());
  EXPECT_EQ(p.stage->counters().detectors.load(), 1);
  // m-1 overrides with another detector: rebuilt, warmed up from its 150 stored points.
  d1.detectors = {{"temperature", "cusum"}};
  ASSERT_TRUE(p.registry->update_device(d1));
  feed_temperature(p, t1, 150, 160);
  p.stage->flush();
  s1 = p.stage->detectors_of("m-1");
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_EQ(s1[0].detector, "cusum");
  EXPECT_EQ(s1[0].points, 160u);
  EXPECT_EQ(p.stage->counters().warm_up_points.load(), 150u);
  // A spec that cannot be built is refused when written: nothing changes.
  d1.detectors = {{"temperature", "cusum:k=-1"}};
  auto refused = p.registry->update_device(d1);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("$.detectors.temperature: cusum: k=-1"), std::string::npos)
      << refused.error().message;
}

TEST(DetectionStage, ConfiguredDetectorsWithoutPointsAreListedAsWaiting) {
  Plant p("waiting");
  p.add_model(machine_model("ensemble", true));
  p.add_device("m-1");
  p.start();
  auto s = p.stage->detectors_of("m-1");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].kind, "multivariate");
  EXPECT_EQ(s[0].metric, "temperature,current");
  EXPECT_EQ(s[0].state, "waiting");
  EXPECT_EQ(s[1].kind, "series");
  EXPECT_EQ(s[1].state, "waiting");
  EXPECT_FALSE(s[1].series);
  EXPECT_TRUE(p.stage->detectors_of("nobody").empty());
}

// The current swings with the load; the temperature follows it. From reading 1200 the temperature
// runs 3 °C hot for its current — well inside the range it has shown — and the multivariate
// detector names it.
struct MachineReading {
  double current, temperature;
};
MachineReading reading(std::size_t i, bool hot) {
  static std::mt19937_64 rng(11);
  static std::vector<std::pair<double, double>> noise = [] {
    std::normal_distribution<double> n(0.0, 1.0);
    std::vector<std::pair<double, double>> v(5000);
    for (auto& x : v) x = {n(rng), n(rng)};
    return v;
  }();
  const double load = 0.5 + 0.4 * std::sin(static_cast<double>(i) * 0.05) * std::cos(i * 0.011);
  const double current = 20 + 60 * load + noise[i % noise.size()].first * 2;
  const double temperature =
      40 + 0.5 * current + noise[i % noise.size()].second * 0.3 + (hot ? 3.0 : 0.0);
  return {current, temperature};
}

void feed_machine(Plant& p, SeriesId temp, SeriesId cur, std::size_t from, std::size_t to,
                  std::size_t hot_from) {
  for (std::size_t i = from; i < to; ++i) {
    const auto r = reading(i, i >= hot_from);
    const Timestamp ts = kStart + static_cast<Timestamp>(i) * kStep;
    p.feed({{cur, ts, r.current}, {temp, ts, r.temperature}});
  }
}

TEST(DetectionStage, MultivariateNamesATemperatureHotForItsCurrentWithinTenReadings) {
  Plant p("machine");
  p.add_model(machine_model("", true));
  p.add_device("m-1");
  p.start();
  const SeriesId temp = p.series("m-1", "temperature");
  const SeriesId cur = p.series("m-1", "current");
  constexpr std::size_t kHot = 1200;
  feed_machine(p, temp, cur, 0, kHot + 30, kHot);
  // The hot temperatures stay inside what the temperature alone has shown.
  double lo = 1e9, hi = -1e9;
  for (std::size_t i = 0; i < kHot; ++i) {
    lo = std::min(lo, reading(i, false).temperature);
    hi = std::max(hi, reading(i, false).temperature);
  }
  for (std::size_t i = kHot; i < kHot + 10; ++i) {
    EXPECT_GT(reading(i, true).temperature, lo);
    EXPECT_LT(reading(i, true).temperature, hi);
  }
  const auto events = p.events();
  ASSERT_FALSE(events.empty()) << "no multivariate event";
  const auto& e = events.front();
  EXPECT_TRUE(e.multivariate);
  EXPECT_GE(e.ts, kStart + static_cast<Timestamp>(kHot) * kStep);
  EXPECT_LT(e.ts, kStart + static_cast<Timestamp>(kHot + 10) * kStep) << fingerprint(e);
  // Two signals that move together: "too hot for its current" is also "too little current for
  // its temperature", so both are named; the temperature carries a large share.
  EXPECT_NE(e.driver.find("temperature ("), std::string::npos) << e.driver;
  EXPECT_NE(e.message.find("temperature ("), std::string::npos) << e.message;
  ASSERT_EQ(e.signals.size(), 2u);
  double temperature_share = 0;
  for (const auto& s : e.signals)
    if (s.metric == "temperature") temperature_share = s.share;
  EXPECT_GE(temperature_share, 0.4) << e.driver;
  EXPECT_EQ(e.series, e.metric == "temperature" ? temp : cur);
  EXPECT_EQ(e.version.rfind("mahalanobis@", 0), 0u);
  // No event before the fault.
  for (const auto& x : events) EXPECT_GE(x.ts, kStart + static_cast<Timestamp>(kHot) * kStep);
}

// The checkpoint taken at `cut` is the state a SIGKILL after `crash` leaves; the restored stage
// catches up from the store and goes on: its events are those of an uninterrupted run.
void restore_matches_uninterrupted(bool multivariate) {
  const std::vector<std::size_t> spikes = {700, 1150, 1500};
  constexpr std::size_t kEnd = 1700, kCut = 1000, kCrash = 1300;
  auto run_part = [&](Plant& p, SeriesId temp, SeriesId cur, std::size_t from, std::size_t to) {
    if (multivariate)
      feed_machine(p, temp, cur, from, to, 1100);
    else
      feed_temperature(p, temp, from, to, spikes);
  };
  const std::string model = machine_model(multivariate ? "" : "ensemble", multivariate);
  Plant ref("uninterrupted");
  ref.add_model(model);
  ref.add_device("m-1");
  ref.start();
  run_part(ref, ref.series("m-1", "temperature"), ref.series("m-1", "current"), 0, kEnd);
  const auto expected = fingerprints(ref.events());
  ASSERT_GE(expected.size(), 1u);

  Plant p("restored");
  p.add_model(model);
  p.add_device("m-1");
  p.start();
  const SeriesId temp = p.series("m-1", "temperature");
  const SeriesId cur = p.series("m-1", "current");
  run_part(p, temp, cur, 0, kCut);
  p.stage->flush();
  ASSERT_TRUE(p.stage->checkpoint());
  const auto ckpt = p.dir() / "detectors.ckpt";
  std::filesystem::copy_file(ckpt, p.dir() / "at-cut.ckpt");
  run_part(p, temp, cur, kCut, kCrash);  // scored, stored, not checkpointed
  p.stage->flush();
  p.stage.reset();  // its last checkpoint is thrown away below: as if killed
  std::filesystem::copy_file(p.dir() / "at-cut.ckpt", ckpt,
                             std::filesystem::copy_options::overwrite_existing);
  p.start();
  EXPECT_EQ(p.stage->counters().restored.load(), 1u);
  EXPECT_EQ(p.stage->counters().cold_starts.load(), 0u);
  run_part(p, temp, cur, kCrash, kEnd);
  EXPECT_EQ(fingerprints(p.events()), expected);
  // Every stored point learnt exactly once.
  const auto status = p.stage->detectors_of("m-1");
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].points, kEnd);
}

TEST(DetectionStage, RestoreGivesTheEventsOfAnUninterruptedRunForASeries) {
  restore_matches_uninterrupted(false);
}

TEST(DetectionStage, RestoreGivesTheEventsOfAnUninterruptedRunForAMachine) {
  restore_matches_uninterrupted(true);
}

TEST(DetectionStage, ADamagedCheckpointRecordStartsItsDetectorColdAndWarm) {
  Plant p("damaged");
  p.add_model(machine_model("ensemble"));
  p.add_device("m-1");
  p.add_device("m-2");
  p.start();
  const SeriesId t1 = p.series("m-1", "temperature");
  const SeriesId t2 = p.series("m-2", "temperature");
  feed_temperature(p, t1, 0, 300);
  feed_temperature(p, t2, 0, 300);
  p.stage.reset();  // a clean stop writes the checkpoint
  const auto file = p.dir() / "detectors.ckpt";
  auto contents = load_checkpoint_file(file);
  ASSERT_TRUE(contents) << contents.error().message;
  ASSERT_EQ(contents->records.size(), 2u);
  // Flip a byte inside the second record's frame.
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  const auto size = std::filesystem::file_size(file);
  f.seekp(static_cast<std::streamoff>(size - 100));
  f.put('\x5a');
  f.close();
  p.start();
  EXPECT_EQ(p.stage->counters().restored.load(), 1u);
  feed_temperature(p, t1, 300, 310);
  feed_temperature(p, t2, 300, 310);
  p.stage->flush();
  EXPECT_EQ(p.stage->counters().cold_starts.load(), 1u);
  // Both know all 310 points: one restored, one warmed up from the store.
  for (const char* d : {"m-1", "m-2"}) {
    auto s = p.stage->detectors_of(d);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].points, 310u) << d;
  }
  EXPECT_EQ(p.stage->counters().warm_up_points.load(), 300u);
}

TEST(DetectionStage, AChangedSpecIsNotRestored) {
  Plant p("respec");
  p.add_model(machine_model("ensemble"));
  p.add_device("m-1");
  p.start();
  const SeriesId t = p.series("m-1", "temperature");
  feed_temperature(p, t, 0, 300);
  p.stage.reset();
  p.replace_model(machine_model("ensemble:rest=3"));
  p.start();
  EXPECT_EQ(p.stage->counters().restored.load(), 0u);
  feed_temperature(p, t, 300, 301);
  p.stage->flush();
  EXPECT_EQ(p.stage->counters().cold_starts.load(), 1u);
  auto s = p.stage->detectors_of("m-1");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].detector, "ensemble:rest=3");
  EXPECT_EQ(s[0].points, 301u);  // warmed up from the store
}

TEST(DetectionStage, BadOptionsAreRefused) {
  Plant p("options");
  auto o = p.options();
  o.event_threshold = 1.5;
  auto s = DetectionStage::create({*p.store, *p.registry, *p.log, p.clock}, o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "analytics: event_threshold must be in (0, 1]");
  o = p.options();
  o.workers = 0;
  EXPECT_FALSE(DetectionStage::create({*p.store, *p.registry, *p.log, p.clock}, o));
}

}  // namespace
}  // namespace strata::detect

#include "pipeline/pipeline.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <future>

#include "registry/device_registry.hpp"
#include "store/query.hpp"
#include "test_plant.hpp"

namespace strata::pipeline {
namespace {

constexpr Timestamp kNow = 1'750'000'000'000'000;
constexpr Timestamp kSec = kMicrosPerSecond;

// Holds the shard thread inside stored() until released: lets a test fill the queues.
class GateObserver final : public LiveObserver {
 public:
  bool wants(std::string_view) const override { return true; }
  void stored(std::string_view device, std::span<const LiveReading> readings) override {
    std::unique_lock lock(mu_);
    for (const auto& r : readings) seen.emplace_back(std::string(device), std::string(r.metric));
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void wait_entered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !seen.empty(); });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<std::pair<std::string, std::string>> seen;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("pipeline-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = meta::Database::open_in_memory();
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    auto reg = registry::DeviceRegistry::create(*db_, clock_);
    ASSERT_TRUE(reg) << reg.error().message;
    registry_ = std::move(*reg);
    auto m = model::parse_device_model(testing::kCompressorModel);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(registry_->add_model(*m));
    model::Device d;
    d.id = "cmp-1";
    d.model_id = "dtmi:test:compressor;1";
    d.site = "plant-a";
    d.line = "line-1";
    ASSERT_TRUE(registry_->add_device(d));
    auto q = QuarantineLog::open({});
    ASSERT_TRUE(q);
    quarantine_ = std::move(*q);
    auto l = LineageLog::open(dir_ / "lineage");
    ASSERT_TRUE(l);
    lineage_ = std::move(*l);
    pseudonymiser_ = std::make_unique<govern::Pseudonymiser>(std::array<std::uint8_t, 32>{7});
    open();
  }
  void open(PipelineOptions options = {}) {
    pipeline_.reset();
    store_.reset();
    store::StoreOptions so;
    so.clock = &clock_;
    auto st = store::Store::open(dir_ / "store", so);
    ASSERT_TRUE(st) << st.error().message;
    store_ = std::move(*st);
    options.text_dictionary_file = dir_ / "texts.dict";
    auto p = Pipeline::create(
        {*store_, *registry_, *quarantine_, lineage_.get(), pseudonymiser_.get(), clock_}, options);
    ASSERT_TRUE(p) << p.error().message;
    pipeline_ = std::move(*p);
  }
  void TearDown() override {
    pipeline_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  TelemetryMessage message(std::vector<Reading> readings, std::string id = "m1") {
    TelemetryMessage m;
    m.transport = Transport::mqtt;
    m.device_id = "cmp-1";
    m.message_id = std::move(id);
    m.received = clock_.now();
    m.raw = std::make_shared<const std::string>("{\"raw\":true}");
    m.readings = std::move(readings);
    return m;
  }
  static Reading num(std::string metric, double v, std::optional<Timestamp> ts = std::nullopt) {
    return Reading{std::move(metric), ts, v, std::nullopt};
  }
  static Reading text(std::string metric, std::string v) {
    return Reading{std::move(metric), std::nullopt, 0, std::move(v)};
  }
  // Submits and waits for the completion.
  IngestOutcome ingest(TelemetryMessage m) {
    std::promise<IngestOutcome> done;
    Completion c = [&](const IngestOutcome& o) { done.set_value(o); };
    EXPECT_TRUE(pipeline_->submit(m, c));
    return done.get_future().get();
  }
  std::vector<Sample> stored(const std::string& metric) {
    SeriesKey key{"cmp-1", metric, {{"line", "line-1"}, {"site", "plant-a"}}};
    auto id = store_->find(key);
    if (!id) return {};
    auto snap = store_->snapshot(*id);
    return snap.head;
  }

  std::filesystem::path dir_;
  SimulatedClock clock_{kNow};
  std::unique_ptr<meta::Database> db_;
  std::unique_ptr<registry::DeviceRegistry> registry_;
  std::unique_ptr<QuarantineLog> quarantine_;
  std::unique_ptr<LineageLog> lineage_;
  std::unique_ptr<govern::Pseudonymiser> pseudonymiser_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(PipelineTest, StoresNormalisedReadingsBeforeCompleting) {
  auto o = ingest(message({num("discharge_temperature", 212.0, kNow - kSec),
                           num("discharge_pressure", 14.503773773), text("state", "running")}));
  ASSERT_TRUE(o.status) << o.status.error().message;
  EXPECT_EQ(o.stored, 3u);
  EXPECT_EQ(o.quarantined, 0u);
  auto t = stored("discharge_temperature");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NEAR(t[0].value, 100.0, 1e-9);  // °F → °C
  EXPECT_EQ(t[0].ts, kNow - kSec);
  auto p = stored("discharge_pressure");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NEAR(p[0].value, 1.0, 1e-6);  // psi → bar
  EXPECT_EQ(p[0].ts, kNow);            // no timestamp: the receive time
  auto s = stored("state");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].value, 2.0);  // enum name → its value
  EXPECT_EQ(pipeline_->counters().readings_stored[0].load(), 3u);
}

TEST_F(PipelineTest, BadReadingsAreQuarantinedWithReasonsAndTheRestStored) {
  auto o = ingest(message({num("discharge_temperature", 1000.0),  // 537.8 °C > 250
                           num("no_such_metric", 1.0), text("discharge_pressure", "high"),
                           num("discharge_pressure", 100.0)}));
  ASSERT_TRUE(o.status);
  EXPECT_EQ(o.stored, 1u);
  EXPECT_EQ(o.quarantined, 3u);
  ASSERT_EQ(o.reasons.size(), 3u);
  EXPECT_NE(o.reasons[0].find("outside"), std::string::npos) << o.reasons[0];
  EXPECT_NE(o.reasons[1].find("'no_such_metric' is not in model dtmi:test:compressor;1"),
            std::string::npos)
      << o.reasons[1];
  auto q = quarantine_->query({});
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 3u);
  // Newest first; the raw payload is kept once per message (on its first entry).
  EXPECT_EQ((*q)[2].metric, "discharge_temperature");
  EXPECT_EQ((*q)[2].raw, "{\"raw\":true}");
  EXPECT_EQ((*q)[2].device_id, "cmp-1");
  EXPECT_EQ((*q)[2].message_id, "m1");
  EXPECT_EQ((*q)[2].transport, Transport::mqtt);
  EXPECT_TRUE((*q)[0].raw.empty());
  EXPECT_EQ(quarantine_->total(Transport::mqtt), 3u);
}

TEST_F(PipelineTest, UnknownAndSuspendedDevicesAreQuarantinedWhole) {
  auto m = message({num("discharge_pressure", 100.0)});
  m.device_id = "ghost";
  auto o = ingest(std::move(m));
  EXPECT_EQ(o.stored, 0u);
  ASSERT_EQ(o.reasons.size(), 1u);
  EXPECT_EQ(o.reasons[0], "device 'ghost' is not registered");
  auto d = *registry_->device_by_id("cmp-1");
  d.state = model::DeviceState::suspended;
  ASSERT_TRUE(registry_->update_device(d));
  o = ingest(message({num("discharge_pressure", 100.0)}));
  EXPECT_EQ(o.stored, 0u);
  EXPECT_NE(o.reasons[0].find("is suspended"), std::string::npos);
}

TEST_F(PipelineTest, FutureTimestampsAreRefusedAndAFastClockIsCorrected) {
  // A device clock 90 s ahead: refused at first (more than 60 s in the future) ...
  auto o = ingest(message({num("discharge_pressure", 14.5, kNow + 90 * kSec)}));
  EXPECT_EQ(o.stored, 0u);
  ASSERT_EQ(o.reasons.size(), 1u);
  EXPECT_NE(o.reasons[0].find("ahead of the receive time"), std::string::npos) << o.reasons[0];
  // ... and once 16 messages show the same skew, its timestamps are moved back by it.
  for (int i = 1; i < 16; ++i) {
    clock_.advance(kSec);
    ingest(message({num("discharge_pressure", 14.5, clock_.now() + 90 * kSec)}));
  }
  EXPECT_EQ(pipeline_->counters().skew_corrected_devices.load(), 1u);
  clock_.advance(kSec);
  o = ingest(message({num("discharge_pressure", 14.5, clock_.now() + 90 * kSec)}));
  EXPECT_EQ(o.stored, 1u);
  auto p = stored("discharge_pressure");
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.back().ts, clock_.now());
}

TEST_F(PipelineTest, PersonalValuesArePseudonymisedAndTextsKeptInADictionary) {
  ingest(message({text("operator_badge", "badge-4711"), text("firmware", "v2.1.0")}));
  ingest(message({text("operator_badge", "badge-4711")}));
  ingest(message({text("operator_badge", "badge-0042")}));
  auto badges = stored("operator_badge");
  ASSERT_EQ(badges.size(), 1u);  // same timestamp (the receive time): the last write wins
  EXPECT_EQ(badges[0].value, pseudonymiser_->pseudonym("badge-0042"));
  EXPECT_TRUE(pipeline_->text_of(badges[0].value).empty());  // no clear text of personal data
  auto fw = stored("firmware");
  ASSERT_EQ(fw.size(), 1u);
  EXPECT_EQ(pipeline_->text_of(fw[0].value), "v2.1.0");
  open();  // the dictionary survives a restart
  EXPECT_EQ(pipeline_->text_of(fw[0].value), "v2.1.0");
}

TEST_F(PipelineTest, AFullQueuePushesBackAndGroupsCommitTogether) {
  PipelineOptions o;
  o.shards = 1;
  o.queue_capacity = 64;
  open(o);
  GateObserver gate;
  pipeline_->set_live_observer(&gate);
  std::atomic<int> completed{0};
  int accepted = 0, refused = 0;
  for (int i = 0; i < 200; ++i) {
    auto m = message({num("discharge_pressure", 14.5, kNow - 1000 * kSec + i * kSec)},
                     "m" + std::to_string(i));
    Completion c = [&](const IngestOutcome& out) {
      EXPECT_EQ(out.stored, 1u);
      completed.fetch_add(1);
    };
    if (pipeline_->submit(m, c)) {
      if (i == 0) gate.wait_entered();
      ++accepted;
    } else {
      ++refused;
      EXPECT_EQ(m.message_id, "m" + std::to_string(i));  // a refused message is left whole
      EXPECT_TRUE(c);
    }
  }
  // The first message holds the shard in the gate; the queue takes 64 more, the rest wait.
  EXPECT_EQ(accepted, 65);
  EXPECT_EQ(refused, 135);
  EXPECT_EQ(pipeline_->counters().back_pressure.load(), 135u);
  gate.open();
  pipeline_->stop();
  EXPECT_EQ(completed.load(), 65);
  // One append for the first message, one for the 64 queued behind it.
  EXPECT_EQ(pipeline_->counters().groups.load(), 2u);
  EXPECT_EQ(stored("discharge_pressure").size(), 65u);
}

TEST_F(PipelineTest, LineageNamesTheMessagesBehindARange) {
  ingest(message({num("discharge_pressure", 14.5, kNow - 10 * kSec)}, "client-7/1"));
  ingest(message({num("discharge_pressure", 14.5, kNow - 5 * kSec)}, "client-7/2"));
  auto a = lineage_->query("cmp-1", kNow - 6 * kSec, kNow);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->entries.size(), 1u);
  EXPECT_EQ(a->entries[0].message_id, "client-7/2");
  EXPECT_EQ(a->entries[0].transport, Transport::mqtt);
  EXPECT_EQ(a->entries[0].received, kNow);
  EXPECT_EQ(a->entries[0].points, 1u);
  a = lineage_->query("cmp-1", kNow - 60 * kSec, kNow);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->entries.size(), 2u);
}

TEST_F(PipelineTest, PointBatchesAreStoredAndTracedToTheirUser) {
  auto id = store_->resolve(SeriesKey{"historian", "flow", {}});
  ASSERT_TRUE(id);
  PointBatch b;
  b.source = "ines";
  b.message_id = "req-1";
  b.received = kNow;
  b.points = {{*id, kNow - 2 * kSec, 1.5}, {*id, kNow - kSec, 2.5}};
  std::promise<IngestOutcome> done;
  Completion c = [&](const IngestOutcome& o) { done.set_value(o); };
  ASSERT_TRUE(pipeline_->submit(b, c));
  auto o = done.get_future().get();
  EXPECT_EQ(o.stored, 2u);
  auto a = lineage_->query("user:ines", kNow - 10 * kSec, kNow);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->entries.size(), 1u);
  EXPECT_EQ(a->entries[0].transport, Transport::line_protocol);
}

// Records every group it is handed, and how many writers had their answers by then.
class RecordingPointsObserver final : public StoredPointsObserver {
 public:
  explicit RecordingPointsObserver(std::atomic<int>& completions) : completions_(completions) {}
  void stored(std::span<const Point> points) override {
    std::lock_guard lock(mu);
    groups.emplace_back(points.begin(), points.end());
    completions_at_call.push_back(completions_.load());
    cv.notify_all();
  }
  std::vector<std::vector<Point>> wait_groups(std::size_t n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return groups.size() >= n; });
    return groups;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<Point>> groups;
  std::vector<int> completions_at_call;

 private:
  std::atomic<int>& completions_;
};

TEST_F(PipelineTest, StoredPointsReachTheObserverBeforeTheWritersAnswersForEveryTransport) {
  std::atomic<int> completions{0};
  RecordingPointsObserver observer(completions);
  pipeline_->set_stored_points_observer(&observer);
  // A device message: the stored readings, converted, without the quarantined one.
  auto m = message({num("discharge_temperature", 212.0, kNow - 2 * kSec),
                    num("discharge_temperature", 1000.0, kNow - kSec),  // out of range
                    num("discharge_pressure", 14.503773773, kNow - kSec)});
  std::promise<IngestOutcome> done;
  Completion c = [&](const IngestOutcome& o) {
    completions.fetch_add(1);
    done.set_value(o);
  };
  ASSERT_TRUE(pipeline_->submit(m, c));
  EXPECT_EQ(done.get_future().get().stored, 2u);
  auto groups = observer.wait_groups(1);
  ASSERT_EQ(groups[0].size(), 2u);
  const auto temp =
      store_->find({"cmp-1", "discharge_temperature", {{"line", "line-1"}, {"site", "plant-a"}}});
  ASSERT_TRUE(temp);
  EXPECT_EQ(groups[0][0].series, *temp);
  EXPECT_EQ(groups[0][0].ts, kNow - 2 * kSec);
  EXPECT_NEAR(groups[0][0].value, 100.0, 1e-9);
  EXPECT_EQ(observer.completions_at_call[0], 0);  // handed over before the writer's answer

  // A line-protocol batch: its points as they were stored; one older than the out-of-order
  // window is refused and not shown.
  auto id = store_->resolve(SeriesKey{"historian", "flow", {}});
  ASSERT_TRUE(id);
  PointBatch b;
  b.source = "ines";
  b.received = kNow;
  b.points = {{*id, kNow - 2 * kSec, 1.5}, {*id, kNow - kSec, 2.5}};
  std::promise<IngestOutcome> done2;
  Completion c2 = [&](const IngestOutcome& o) {
    completions.fetch_add(1);
    done2.set_value(o);
  };
  ASSERT_TRUE(pipeline_->submit(b, c2));
  EXPECT_EQ(done2.get_future().get().stored, 2u);
  // Batches go to the shards in turn; one sent once the one before is answered is handed over
  // after it (the other shard takes it, yet its points cannot overtake).
  ASSERT_EQ(observer.wait_groups(0).size(), 2u);
  PointBatch late;
  late.received = kNow;
  late.points = {{*id, kNow - 10'000 * kSec, 9.0}, {*id, kNow, 3.5}};
  std::promise<IngestOutcome> done3;
  Completion c3 = [&](const IngestOutcome& o) { done3.set_value(o); };
  ASSERT_TRUE(pipeline_->submit(late, c3));
  EXPECT_EQ(done3.get_future().get().stored, 1u);
  groups = observer.wait_groups(3);
  ASSERT_EQ(groups[1].size(), 2u);
  EXPECT_EQ(groups[1][1].series, *id);
  EXPECT_EQ(groups[1][1].value, 2.5);
  ASSERT_EQ(groups[2].size(), 1u);
  EXPECT_EQ(groups[2][0].ts, kNow);
  // A message with nothing stored hands nothing over.
  auto ghost = message({num("discharge_pressure", 1.0)});
  ghost.device_id = "ghost";
  EXPECT_EQ(ingest(std::move(ghost)).stored, 0u);
  pipeline_->stop();
  EXPECT_EQ(observer.groups.size(), 3u);
}

TEST_F(PipelineTest, BadOptionsAreRefused) {
  PipelineOptions o;
  o.shards = 0;
  auto p = Pipeline::create({*store_, *registry_, *quarantine_, nullptr, nullptr, clock_}, o);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("shards must be 1..256"), std::string::npos);
}

}  // namespace
}  // namespace strata::pipeline

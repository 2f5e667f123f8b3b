// Throughput of the detection stage (detect/stage.hpp) as the shard workers meet it: groups of
// stored points handed to DetectionStage::stored(), scored by its workers, until every point is
// scored (flush() inside the timed loop). Two cases over the same 1,000 series (one per device):
// none has a detector (the cost every ingested point pays: one lock-free lookup), and every one
// has the default ensemble (two workers).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "detect/plan.hpp"
#include "detect/stage.hpp"
#include "registry/device_registry.hpp"
#include "store/store.hpp"

namespace {

using namespace strata;

constexpr int kDevices = 1000;
constexpr Timestamp kStart = 1'700'000'000 * kMicrosPerSecond;

std::string model(bool detector) {
  return std::string(R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:m;1",
    "@type": "Interface", "contents": [{"@type": "Telemetry", "name": "v", "schema": "double")") +
         (detector ? R"(, "strata:detector": "ensemble")" : "") + "}]}";
}

struct Rig {
  explicit Rig(bool detector) {
    dir = std::filesystem::temp_directory_path() /
          ("strata-stage-bench-" + std::to_string(::getpid()) + (detector ? "-d" : "-n"));
    std::filesystem::remove_all(dir);
    store = store::Store::open(dir / "store").value();
    db = meta::Database::open_in_memory().value();
    registry = registry::DeviceRegistry::create(*db, clock).value();
    (void)registry->add_model(*model::parse_device_model(model(detector)));
    for (int i = 0; i < kDevices; ++i) {
      model::Device d;
      d.id = "dev-" + std::to_string(i);
      d.model_id = "dtmi:bench:m;1";
      (void)registry->add_device(d);
      series.push_back(*store->resolve({d.id, "v", {}}));
    }
    log = detect::AnomalyLog::open({}, clock).value();
    detect::DetectionOptions o;
    o.workers = 2;
    stage = detect::DetectionStage::create({*store, *registry, *log, clock}, o).value();
    (void)stage->start();
  }
  ~Rig() {
    stage.reset();
    log.reset();
    registry.reset();
    db.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  SystemClock clock;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<meta::Database> db;
  std::unique_ptr<registry::DeviceRegistry> registry;
  std::unique_ptr<detect::AnomalyLog> log;
  std::unique_ptr<detect::DetectionStage> stage;
  std::vector<SeriesId> series;
};

// An iteration: 100 groups, each a point of every series (a shard's group commit of 1,000
// points), then flush(): the workers score while the next groups are handed over, as on ingest.
void BM_DetectionStage(benchmark::State& state) {
  Rig rig(state.range(0) != 0);
  constexpr int kGroups = 100;
  // The groups of an iteration, made before timing; each iteration moves their times on.
  std::vector<std::vector<Point>> groups(kGroups, std::vector<Point>(kDevices));
  for (int g = 0; g < kGroups; ++g)
    for (int i = 0; i < kDevices; ++i)
      groups[static_cast<std::size_t>(g)][static_cast<std::size_t>(i)] = {
          rig.series[static_cast<std::size_t>(i)], kStart + g * 10 * kMicrosPerSecond,
          50 + 5 * std::sin(static_cast<double>(g + i) * 0.1)};
  const Timestamp span = kGroups * 10 * kMicrosPerSecond;
  for (auto _ : state) {
    for (auto& group : groups) rig.stage->stored(group);
    rig.stage->flush();
    state.PauseTiming();
    for (auto& group : groups)
      for (auto& p : group) p.ts += span;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kGroups * kDevices);
  state.counters["scored"] = static_cast<double>(rig.stage->counters().points_scored.load());
}
BENCHMARK(BM_DetectionStage)->Arg(0)->Arg(1)->ArgName("ensemble")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

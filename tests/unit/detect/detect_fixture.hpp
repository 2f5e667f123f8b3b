#pragma once
// A small plant for the detection stage's tests: a real store in a temporary directory, the
// device registry (in-memory entity store) as the catalog, an in-memory anomaly log, and a stage
// fed the way the pipeline feeds it — points appended to the store, then handed over.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "detect/plan.hpp"
#include "detect/stage.hpp"
#include "registry/device_registry.hpp"
#include "store/store.hpp"

namespace strata::detect::testing {

inline constexpr Timestamp kStart = 1'700'000'000 * kMicrosPerSecond;
inline constexpr Timestamp kStep = 60 * kMicrosPerSecond;

// A model with `temperature` (°C) and `current` (A); `detector` on temperature when not empty,
// and a multivariate detector over both when `multivariate`.
inline std::string machine_model(const std::string& detector, bool multivariate = false,
                                 const std::string& id = "dtmi:test:machine;1") {
  std::string t = R"({"@type": ["Telemetry", "Temperature"], "name": "temperature",
      "schema": "double", "unit": "degreeCelsius")";
  if (!detector.empty()) t += R"(, "strata:detector": ")" + detector + "\"";
  t += "}";
  std::string doc =
      R"({"@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
      "@id": ")" +
      id + R"(", "@type": "Interface", "contents": [)" + t +
      R"(, {"@type": ["Telemetry", "Current"], "name": "current",
      "schema": "double", "unit": "ampere"}, {"@type": "Telemetry", "name": "note",
      "schema": "double"}])";
  if (multivariate) doc += R"(, "strata:multivariate": {"signals": ["temperature", "current"]})";
  return doc + "}";
}

// What tests compare of an event: everything but its id and the replay mark.
inline std::string fingerprint(const AnomalyEvent& e) {
  char buf[512];
  std::uint64_t score_bits = 0;
  std::memcpy(&score_bits, &e.score, 8);
  std::snprintf(buf, sizeof buf,
                "%s/%s@%lld v=%.17g s=%016llx raw=%.17g %s %s exp=%.17g band=%.17g",
                e.device.c_str(), e.metric.c_str(), static_cast<long long>(e.ts), e.value,
                static_cast<unsigned long long>(score_bits), e.raw_score, e.driver.c_str(),
                e.version.c_str(), e.expected.value_or(-1), e.band.value_or(-1));
  return std::string(buf) + " | " + e.message;
}

class Plant {
 public:
  explicit Plant(const std::string& name) {
    dir_ =
        std::filesystem::temp_directory_path() /
        ("detect-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::StoreOptions so;
    so.clock = &clock;
    auto st = store::Store::open(dir_ / "store", so);
    EXPECT_TRUE(st) << st.error().message;
    store = std::move(*st);
    auto db = meta::Database::open_in_memory();
    EXPECT_TRUE(db);
    db_ = std::move(*db);
    auto reg = registry::DeviceRegistry::create(*db_, clock);
    EXPECT_TRUE(reg) << reg.error().message;
    registry = std::move(*reg);
    registry->add_validator(&validator_);
    auto log_ = AnomalyLog::open({}, clock);
    EXPECT_TRUE(log_);
    log = std::move(*log_);
    registry->on_device_change([this](const std::string& id, const model::Device*) {
      if (stage) stage->device_changed(id);
    });
  }
  ~Plant() {
    stage.reset();
    log.reset();
    registry.reset();
    db_.reset();
    store.reset();
    std::filesystem::remove_all(dir_);
  }
  Plant(const Plant&) = delete;
  Plant& operator=(const Plant&) = delete;

  void add_model(const std::string& json) {
    auto m = model::parse_device_model(json);
    ASSERT_TRUE(m) << m.error().message;
    auto r = registry->add_model(*m);
    ASSERT_TRUE(r) << r.error().message;
  }
  void replace_model(const std::string& json) {
    auto m = model::parse_device_model(json);
    ASSERT_TRUE(m) << m.error().message;
    auto r = registry->replace_model(*m);
    ASSERT_TRUE(r) << r.error().message;
  }
  void add_device(const std::string& id, const std::string& model = "dtmi:test:machine;1") {
    model::Device d;
    d.id = id;
    d.model_id = model;
    d.site = "plant-a";
    d.state = model::DeviceState::active;
    auto r = registry->add_device(d);
    ASSERT_TRUE(r) << r.error().message;
  }
  // The series the pipeline would give a device's metric.
  SeriesId series(const std::string& device, const std::string& metric) {
    SeriesKey key{device, metric, {{"site", "plant-a"}}};
    auto id = store->resolve(key);
    EXPECT_TRUE(id);
    return *id;
  }
  DetectionOptions options() {
    DetectionOptions o;
    o.workers = 2;
    o.learning_points = 200;
    o.checkpoint_file = dir_ / "detectors.ckpt";
    return o;
  }
  void start(DetectionOptions o) {
    auto s = DetectionStage::create({*store, *registry, *log, clock}, std::move(o));
    ASSERT_TRUE(s) << s.error().message;
    stage = std::move(*s);
    ASSERT_TRUE(stage->start());
  }
  void start() { start(options()); }
  // Stores the points (one group commit), then hands them over, as a shard does.
  void feed(const std::vector<Point>& points) {
    auto r = store->append(points);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->refused.empty()) << r->refused.front().reason;
    if (stage) stage->stored(points);
  }
  void feed(SeriesId s, Timestamp ts, double v) { feed({{s, ts, v}}); }
  // Every event stored so far, oldest first.
  std::vector<AnomalyEvent> events() {
    if (stage) stage->flush();
    AnomalyQuery q;
    q.limit = 100'000;
    auto r = log->query(q);
    EXPECT_TRUE(r);
    std::vector<AnomalyEvent> out(r->rbegin(), r->rend());
    return out;
  }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

  SimulatedClock clock{kStart + 30 * 86'400 * kMicrosPerSecond};
  std::unique_ptr<store::Store> store;
  std::unique_ptr<registry::DeviceRegistry> registry;
  std::unique_ptr<AnomalyLog> log;
  std::unique_ptr<DetectionStage> stage;

 private:
  static std::atomic<int>& counter() {
    static std::atomic<int> n{0};
    return n;
  }
  std::filesystem::path dir_;
  std::unique_ptr<meta::Database> db_;
  DetectorSpecValidator validator_;
};

// A temperature-like series: 60 ± 0.5 noise with a slow wave; the k-th spike (0-based) of the
// list adds 25·(k + 1), so each goes beyond the range the ones before it set.
inline double temperature_at(std::size_t i, const std::vector<std::size_t>& spikes = {}) {
  static const std::vector<double> noise = [] {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> n(0.0, 0.5);
    std::vector<double> v(100'000);
    for (auto& x : v) x = n(rng);
    return v;
  }();
  double v = 60 + 3 * std::sin(static_cast<double>(i) * 2 * 3.141592653589793 / 720.0) +
             noise[i % noise.size()];
  for (std::size_t k = 0; k < spikes.size(); ++k)
    if (spikes[k] == i) v += 25.0 * static_cast<double>(k + 1);
  return v;
}

}  // namespace strata::detect::testing

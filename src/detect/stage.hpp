#pragma once
// DetectionStage: streaming anomaly detection inside `strata serve`. It sits behind the store on
// the data path (shared/DESIGN.md, "The way a reading travels"): the pipeline's shard workers hand
// it every stored point (pipeline::StoredPointsObserver), it scores the points of series that carry
// a detector (detect/plan.hpp says which) and turns scores into anomaly events — stored in
// anomalies.db (AnomalyLog) and handed to listeners (AnomalyListener).
//
// - Cost on ingest: one lock-free lookup per point (SeriesRoutes); a series is resolved once (and
//   again after its device or model changes); points of series without a detector stop there.
// - Threads: `workers` detection workers, each owning whole devices (hash of the device id), so a
//   series — and a machine's signals — are scored in order by one thread that owns their state
//   without locks. The shard pushes a group's points to the workers' bounded queues; a full queue
//   makes the shard wait (counted), which pushes back on the senders. Nothing is dropped.
// - Late points (at or before the last point a detector scored) are counted, not scored.
// - Events: a score ≥ event_threshold starts an excursion and one event; it ends after
//   kCalmPoints points below the threshold. No events during a detector's first learning_points.
// - A detector attached to a series with history learns the last warm_up_window of it first
//   (analytics::warm_up), emitting nothing; its excursion state follows, so it then emits what a
//   detector that ran all along would.
// - Checkpoints (detect/checkpoint.hpp) every checkpoint_interval and at stop; start() restores
//   each detector whose spec and version are unchanged and feeds it what the store holds after
//   its checkpoint (emitting the events of those points again, marked `replayed`; storage keeps
//   one). A damaged record starts its detector cold, warmed up from the store.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "detect/anomaly_listener.hpp"
#include "detect/anomaly_log.hpp"
#include "detect/series_routes.hpp"
#include "pipeline/device_catalog.hpp"
#include "pipeline/stored_points_observer.hpp"
#include "store/store.hpp"

namespace strata::detect {

// Points below the threshold that end an excursion (so a score wavering around the threshold
// during one anomaly makes one event).
inline constexpr std::uint32_t kCalmPoints = 5;

// What the stage is told: the server's [analytics] section (docs/configuration.md), and where its
// checkpoint lives.
struct DetectionOptions {
  std::size_t workers = 2;
  double event_threshold = 0.6;         // (0, 1]
  std::uint64_t learning_points = 500;  // points a detector sees before it may emit
  Timestamp warm_up_window = 86'400 * kMicrosPerSecond;  // history a new detector learns; 0: none
  Timestamp checkpoint_interval = 60 * kMicrosPerSecond;
  std::size_t queue_points = 65'536;      // points waiting per worker before the shards wait
  std::filesystem::path checkpoint_file;  // empty: no checkpoints (tests)
};

// What /metrics shows (counters since start; gauges marked).
struct DetectionCounters {
  std::atomic<std::uint64_t> points_scored{0};  // live and replayed points scored
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::int64_t> detectors{0};     // gauge: detectors built (series and machines)
  std::atomic<std::int64_t> memory_bytes{0};  // gauge: their memory_bytes()
  std::atomic<std::uint64_t> warm_up_points{0};
  std::atomic<std::uint64_t> late_points{0};
  std::atomic<std::uint64_t> queue_waits{0};  // pushes that waited for room (shards, events)
  std::atomic<std::uint64_t> restored{0};     // detectors restored from the checkpoint
  std::atomic<std::uint64_t> cold_starts{0};  // detectors built fresh (then warmed up)
  std::atomic<std::uint64_t> checkpoints{0};  // checkpoint files written
  // Points that could not be scored (non-finite values), detectors that could not be built or
  // restored, warm-ups cut short by a damaged chunk, checkpoints not written.
  std::atomic<std::uint64_t> errors{0};
};

// One detector as GET /api/v1/devices/{id}/detectors shows it.
struct DetectorStatus {
  std::string kind;    // "series" or "multivariate"
  std::string metric;  // the series' metric; for a machine its signals, comma-separated
  std::optional<SeriesId> series;
  std::string detector, version;
  std::string state;  // "waiting" (no point yet), "warming", "learning", "scoring"
  std::uint64_t points = 0;
  std::optional<double> last_score;
  std::optional<Timestamp> last_ts;
  std::size_t memory_bytes = 0;
};

// The stage itself (the whole picture is above): one per server, between the pipeline and the
// consumers of anomaly events.
class DetectionStage final : public pipeline::StoredPointsObserver {
 public:
  struct Dependencies {
    store::Store& store;
    const pipeline::DeviceCatalog& catalog;
    AnomalyLog& log;
    const Clock& clock;
  };
  // Checks the options; starts nothing yet.
  static Result<std::unique_ptr<DetectionStage>> create(Dependencies deps,
                                                        DetectionOptions options = {});
  ~DetectionStage() override;
  DetectionStage(const DetectionStage&) = delete;
  DetectionStage& operator=(const DetectionStage&) = delete;

  // Before start(): `l` receives every event from then on; it must outlive the stage.
  void subscribe(AnomalyListener* l);
  // Restores the checkpoint, feeds restored detectors what the store holds after it, then
  // starts the workers and the checkpoint timer. Call before the pipeline hands over points.
  Status start();

  // pipeline::StoredPointsObserver: a shard thread's group of stored points.
  void stored(std::span<const Point> points) override;
  // The registry's listener: a device (or its model) changed or was removed; its series are
  // resolved again and its detectors rebuilt where their choice changed.
  void device_changed(const std::string& device);

  // Writes a checkpoint now (what the timer does).
  Status checkpoint();
  // Returns once every point handed over and every device change reported before the call has
  // been dealt with (points scored, their events queued).
  void flush();
  // Scores what is queued, writes a last checkpoint, stops the threads. Idempotent.
  void stop();

  // The detectors of a device's series and machine, and the configured ones no point reached yet.
  [[nodiscard]] std::vector<DetectorStatus> detectors_of(const std::string& device) const;
  [[nodiscard]] const DetectionCounters& counters() const { return counters_; }
  [[nodiscard]] const DetectionOptions& options() const { return options_; }
  // Points waiting in the workers' queues.
  [[nodiscard]] std::size_t queued() const;

  struct Worker;      // internal
  struct StatusCell;  // internal

 private:
  DetectionStage(Dependencies deps, DetectionOptions options);
  std::uint32_t resolve_route(SeriesId series);
  std::size_t worker_of(std::string_view device) const;
  void run(Worker& w);
  void run_timer();
  Status write_checkpoint(std::span<const std::uint8_t> records);

  Dependencies deps_;
  DetectionOptions options_;
  DetectionCounters counters_;
  std::vector<AnomalyListener*> listeners_;
  SeriesRoutes routes_;
  std::mutex route_mu_;  // resolving and forgetting routes
  std::unordered_map<std::string, std::vector<SeriesId>> routed_;  // device → series resolved
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};

  // Status cells for REST, by device (the workers update their atomics).
  mutable std::mutex status_mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<StatusCell>>> status_;

  // Checkpoints: one at a time; each worker serialises its own detectors.
  std::mutex checkpoint_mu_;
  std::mutex parts_mu_;
  std::condition_variable parts_cv_;
  std::vector<std::vector<std::uint8_t>> parts_;
  std::size_t parts_done_ = 0;

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool timer_stop_ = false;
  std::thread timer_;

  friend struct Worker;
};

}  // namespace strata::detect

#pragma once
// Pipeline: the data path from a decoded message to durable storage (shared/DESIGN.md, "The way a
// reading travels"): normalise (units, enums, text), validate (the device's model: schema and
// range; timestamp sanity and clock-skew correction; a per-device rate), then a shard worker
// stores the message's points and completes it. Bad readings go to quarantine with their reason;
// good readings of the same message are still stored.
//
// Sharding and group commit: messages are spread over N shard workers by device (one device's
// messages stay in order); a worker takes every message waiting in its queue, up to
// max_group_messages, and stores all their points with one Store::append — one WAL write and, under
// fsync policy batch, one fsync for the whole group — then runs each message's completion. So an
// acknowledgement (MQTT PUBACK, HTTP 200) is released only once its points are durable, and
// durability costs one fsync per group, not per message.
//
// Back-pressure: each shard queue is bounded; submit() returns false when it is full, and the
// transport pushes back on its sender (pauses reading, 429/503, CoAP 5.03). Nothing is dropped.
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "govern/secrets.hpp"
#include "pipeline/device_catalog.hpp"
#include "pipeline/lineage.hpp"
#include "pipeline/quarantine.hpp"
#include "pipeline/stored_points_observer.hpp"
#include "pipeline/telemetry.hpp"
#include "store/store.hpp"

namespace strata::pipeline {

struct PipelineOptions {
  std::size_t shards = 2;
  std::size_t queue_capacity = 8192;  // messages waiting per shard before back-pressure
  std::size_t max_group_messages = 4096;
  // A reading stamped further ahead of its receive time than this is refused (after any
  // clock-skew correction): the future cannot have been measured yet.
  Timestamp max_future = 60 * kMicrosPerSecond;
  // Clock-skew correction: when a device's clock runs ahead of ours by more than the tolerance
  // (the median over its last 16 timestamped messages), its timestamps are moved back by that
  // much. Clocks running behind are not corrected: late data is indistinguishable from buffered
  // data a device sends after an outage.
  bool correct_clock_skew = true;
  Timestamp skew_tolerance = 2 * kMicrosPerSecond;
  // Readings a second one device may send (token bucket, bursts of 10 s); 0: no limit.
  double device_rate_limit = 0;
  // Metrics a device's model does not declare: stored as numbers (true) or quarantined (false).
  bool accept_unknown_metrics = false;
  // Where the texts of string telemetry are kept (code → text, append-only); empty: memory only.
  std::filesystem::path text_dictionary_file;
};

// Counters the server shows in /metrics, by transport.
struct PipelineCounters {
  std::atomic<std::uint64_t> messages[kTransportCount] = {};
  std::atomic<std::uint64_t> readings_stored[kTransportCount] = {};
  std::atomic<std::uint64_t> readings_quarantined[kTransportCount] = {};
  std::atomic<std::uint64_t> back_pressure = 0;  // submits refused because a queue was full
  std::atomic<std::uint64_t> store_errors = 0;
  std::atomic<std::uint64_t> groups = 0;  // store appends (group commits)
  std::atomic<std::uint64_t> skew_corrected_devices = 0;
};

// One stored reading as live subscribers see it.
struct LiveReading {
  std::string_view metric;
  Timestamp ts;
  double value;
};

// Who receives a device's stored readings as they are stored, with their metric names (the
// WebSocket stream). The detectors see every stored point through StoredPointsObserver.
class LiveObserver {
 public:
  virtual ~LiveObserver() = default;
  // Cheap: asked for every message on the shard thread.
  [[nodiscard]] virtual bool wants(std::string_view device_id) const = 0;
  // After the WAL step, on a shard thread; must not block.
  virtual void stored(std::string_view device_id, std::span<const LiveReading> readings) = 0;
};

class Pipeline final : public TelemetrySink {
 public:
  struct Dependencies {
    store::Store& store;
    const DeviceCatalog& catalog;
    QuarantineLog& quarantine;
    LineageLog* lineage = nullptr;  // optional
    const govern::Pseudonymiser* pseudonymiser =
        nullptr;  // required when models mark personal data
    const Clock& clock;
  };
  static Result<std::unique_ptr<Pipeline>> create(Dependencies deps, PipelineOptions options = {});
  ~Pipeline() override;

  bool submit(TelemetryMessage& message, Completion& done) override;
  bool submit(PointBatch& batch, Completion& done) override;
  void quarantine(Transport transport, std::string_view device_id, std::string_view raw,
                  std::string_view reason) override;

  // Completes everything queued, then stops the workers (later submits return false).
  void stop();
  void set_live_observer(LiveObserver* observer) { observer_.store(observer); }
  // Set before the transports start (a group stored before it is not shown to the observer).
  void set_stored_points_observer(StoredPointsObserver* observer) {
    points_observer_.store(observer);
  }

  [[nodiscard]] const PipelineCounters& counters() const { return counters_; }
  [[nodiscard]] std::size_t queued() const;
  // Text a string telemetry stored as `code` (its dictionary), or empty.
  [[nodiscard]] std::string text_of(double code) const;

 private:
  struct Item {
    std::variant<TelemetryMessage, PointBatch> message;
    Completion done;
  };
  struct DeviceState;
  struct Shard;
  struct Group;

  Pipeline(Dependencies deps, PipelineOptions options);
  template <class M>
  bool enqueue(std::size_t shard, M& message, Completion& done);
  void run(Shard& shard);
  void process(Shard& shard, std::vector<Item>& items);
  void prepare(Shard& shard, TelemetryMessage& m, Group& g, std::size_t item);
  void prepare(PointBatch& b, Group& g, std::size_t item);
  double text_code(std::string_view text);

  Dependencies deps_;
  PipelineOptions options_;
  PipelineCounters counters_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::size_t> round_robin_{0};
  std::atomic<LiveObserver*> observer_{nullptr};
  std::atomic<StoredPointsObserver*> points_observer_{nullptr};
  mutable std::mutex text_mu_;
  std::unordered_map<std::uint64_t, std::string> texts_;
  int text_fd_ = -1;
};

}  // namespace strata::pipeline

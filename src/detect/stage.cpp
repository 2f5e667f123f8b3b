#include "detect/stage.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

#include "analytics/detector_registry.hpp"
#include "analytics/multivariate.hpp"
#include "analytics/warm_up.hpp"
#include "detect/checkpoint.hpp"
#include "detect/plan.hpp"
#include "model/units.hpp"
#include "store/query.hpp"

namespace strata::detect {

using analytics::AnyDetector;
using analytics::Assessment;
using analytics::MultivariateDetector;

namespace {

// How a point reaches a detector: live from the pipeline, replayed from the store after a
// restore (events again, marked), or fed as warm-up (no events, not counted as scored).
enum class Mode : std::uint8_t { live, replay, warm_up };

// One excursion above the threshold, one event.
struct Excursion {
  bool in = false;
  std::uint32_t calm = 0;  // points below the threshold since the last high one
  // Whether `score` starts an excursion.
  bool step(double score, double threshold) {
    if (score >= threshold) {
      calm = 0;
      if (in) return false;
      in = true;
      return true;
    }
    if (in && ++calm >= kCalmPoints) {
      in = false;
      calm = 0;
    }
    return false;
  }
};

std::string unit_symbol(const pipeline::DeviceContext& ctx, std::string_view metric) {
  if (!ctx.model) return {};
  const auto* t = ctx.model->find(metric);
  if (!t || t->target_unit().empty()) return {};
  const auto* u = model::find_unit_by_name(t->target_unit());
  return u ? std::string(u->symbol) : std::string(t->target_unit());
}

// The key the pipeline gives a device's own readings (its site and line as tags).
SeriesKey canonical_key(const pipeline::DeviceContext& ctx, const std::string& metric) {
  SeriesKey key{ctx.device.id, metric, {}};
  if (!ctx.device.site.empty()) key.tags.emplace_back("site", ctx.device.site);
  if (!ctx.device.line.empty()) key.tags.emplace_back("line", ctx.device.line);
  key.normalise();
  return key;
}

Timestamp window_start(Timestamp first, Timestamp window) {
  return first < kMinTimestamp + window ? kMinTimestamp : first - window;
}

}  // namespace

// REST's view of one detector: written by its worker, read by any thread.
struct DetectionStage::StatusCell {
  std::string device;
  std::string kind;
  std::string metric;
  std::optional<SeriesId> series;
  std::string detector, version;
  std::size_t memory = 0;
  std::atomic<std::uint64_t> seen{0};
  std::atomic<double> last_score{0};
  std::atomic<Timestamp> last_ts{kMinTimestamp};
  std::atomic<bool> warming{false};
};

namespace {

using StatusCell = DetectionStage::StatusCell;

// One series' detector and what the stage keeps beside it. REQUIRES: its worker's thread.
struct SeriesDetector {
  SeriesId series;
  std::string device, metric, unit;
  DetectorChoice choice;
  AnyDetector detector;
  Timestamp last_ts = kMinTimestamp;
  std::uint64_t seen = 0;
  Excursion excursion;
  std::shared_ptr<StatusCell> status;
};

// A machine's multivariate detector and the reading it assembles. REQUIRES: its worker's thread.
struct MachineDetector {
  std::string device;
  DetectorChoice choice;
  std::vector<std::string> signals;
  std::vector<SeriesId> signal_series;  // kNoSeries until bound
  MultivariateDetector detector;
  std::vector<double> values;
  std::vector<Timestamp> signal_ts;
  std::vector<char> fresh;
  std::size_t fresh_count = 0;
  Timestamp last_ts = kMinTimestamp;
  std::uint64_t seen = 0;
  Excursion excursion;
  std::shared_ptr<StatusCell> status;
};

struct SeriesEntry;

struct DeviceEntry {
  bool machine_resolved = false;
  std::unique_ptr<MachineDetector> machine;
  std::vector<SeriesId> series;
};

struct SeriesEntry {
  SeriesId series = 0;
  bool known = false;  // the store knows its key
  std::string device, metric;
  DeviceEntry* owner = nullptr;
  bool uni_resolved = false;
  std::unique_ptr<SeriesDetector> uni;
  bool signal_bound = false;
  int signal = -1;  // index in the owner's machine, or -1
};

}  // namespace

struct DetectionStage::Worker {
  DetectionStage& stage;
  std::size_t index;
  std::mutex mu;
  std::condition_variable cv, room_cv, idle_cv;
  std::vector<Point> queue;
  std::vector<std::string> changed;
  bool checkpoint_wanted = false;
  bool stopping = false;
  std::uint64_t pushed = 0, done = 0;                  // points
  std::uint64_t changes_pushed = 0, changes_done = 0;  // device changes
  std::thread thread;

  // REQUIRES: the worker's thread (or the stage's caller while the thread does not run).
  std::unordered_map<SeriesId, SeriesEntry> series;
  std::unordered_map<std::string, DeviceEntry> devices;
  // Counted here per point and added to the stage's shared counters once a batch (publish()), so
  // the workers do not contend for their cache lines.
  std::uint64_t scored = 0, late = 0;

  Worker(DetectionStage& s, std::size_t i) : stage(s), index(i) {}

  void publish() {
    stage.counters_.points_scored.fetch_add(scored, std::memory_order_relaxed);
    stage.counters_.late_points.fetch_add(late, std::memory_order_relaxed);
    scored = late = 0;
  }

  void push(std::span<const Point> points) {
    {
      std::unique_lock lock(mu);
      const std::size_t cap = stage.options_.queue_points;
      if (!queue.empty() && queue.size() + points.size() > cap) {
        stage.counters_.queue_waits.fetch_add(1, std::memory_order_relaxed);
        room_cv.wait(
            lock, [&] { return stopping || queue.empty() || queue.size() + points.size() <= cap; });
      }
      queue.insert(queue.end(), points.begin(), points.end());
      pushed += points.size();
    }
    cv.notify_one();
  }

  SeriesEntry& entry(SeriesId s) {
    auto [it, fresh] = series.try_emplace(s);
    SeriesEntry& e = it->second;
    if (fresh) {
      e.series = s;
      if (auto key = stage.deps_.store.key(s)) {
        e.known = true;
        e.device = key->device;
        e.metric = key->metric;
        e.owner = &devices[e.device];
        e.owner->series.push_back(s);
      }
    }
    return e;
  }

  void process(const Point& p, Mode mode) {
    SeriesEntry& e = entry(p.series);
    if (!e.known) return;
    if (!std::isfinite(p.value)) {
      stage.counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (!e.uni_resolved || !e.signal_bound || !e.owner->machine_resolved) resolve(e, p.ts);
    if (e.uni) score(*e.uni, p.ts, p.value, mode);
    if (e.signal >= 0 && e.owner->machine)
      offer(*e.owner->machine, static_cast<std::size_t>(e.signal), p.ts, p.value, mode);
  }

  // Builds what the entry (and its device's machine) lacks; `first` is the time of the point
  // about to be scored: warm-ups read the history before it.
  void resolve(SeriesEntry& e, Timestamp first) {
    auto ctx = stage.deps_.catalog.device(e.device);
    DeviceEntry& dev = *e.owner;
    if (!dev.machine_resolved) {
      dev.machine_resolved = true;
      if (ctx && ctx->model && ctx->model->multivariate()) build_machine(dev, *ctx, first);
    }
    if (!e.uni_resolved) {
      e.uni_resolved = true;
      if (ctx)
        if (auto text = detector_text(*ctx, e.metric)) build_series(e, *ctx, *text, first);
    }
    if (!e.signal_bound) {
      e.signal_bound = true;
      e.signal = -1;
      if (dev.machine) {
        auto& m = *dev.machine;
        for (std::size_t i = 0; i < m.signals.size(); ++i) {
          if (m.signals[i] != e.metric) continue;
          if (m.signal_series[i] == kNoSeries) m.signal_series[i] = e.series;
          if (m.signal_series[i] == e.series) e.signal = static_cast<int>(i);
        }
      }
    }
  }

  std::shared_ptr<StatusCell> new_cell(const std::string& device, std::string kind,
                                       std::string metric, std::optional<SeriesId> s,
                                       const DetectorChoice& c, std::size_t memory) {
    auto cell = std::make_shared<StatusCell>();
    cell->device = device;
    cell->kind = std::move(kind);
    cell->metric = std::move(metric);
    cell->series = s;
    cell->detector = c.text;
    cell->version = c.version;
    cell->memory = memory;
    {
      std::lock_guard lock(stage.status_mu_);
      stage.status_[device].push_back(cell);
    }
    stage.counters_.detectors.fetch_add(1, std::memory_order_relaxed);
    stage.counters_.memory_bytes.fetch_add(static_cast<std::int64_t>(memory),
                                           std::memory_order_relaxed);
    return cell;
  }

  void drop_cell(const std::shared_ptr<StatusCell>& cell) {
    if (!cell) return;
    {
      std::lock_guard lock(stage.status_mu_);
      auto it = stage.status_.find(cell->device);
      if (it != stage.status_.end()) {
        std::erase(it->second, cell);
        if (it->second.empty()) stage.status_.erase(it);
      }
    }
    stage.counters_.detectors.fetch_sub(1, std::memory_order_relaxed);
    stage.counters_.memory_bytes.fetch_sub(static_cast<std::int64_t>(cell->memory),
                                           std::memory_order_relaxed);
  }

  // A fresh detector for the entry's series; it learns the history before `first` (warm-up).
  void build_series(SeriesEntry& e, const pipeline::DeviceContext& ctx, std::string_view text,
                    Timestamp first) {
    auto choice = choose_detector(text);
    if (!choice) {
      stage.counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto d = AnyDetector::create(choice->spec);
    if (!d) {
      stage.counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto sd = std::make_unique<SeriesDetector>(SeriesDetector{e.series,
                                                              e.device,
                                                              e.metric,
                                                              unit_symbol(ctx, e.metric),
                                                              std::move(*choice),
                                                              std::move(*d),
                                                              kMinTimestamp,
                                                              0,
                                                              {},
                                                              nullptr});
    sd->status =
        new_cell(e.device, "series", e.metric, e.series, sd->choice, sd->detector.memory_bytes());
    stage.counters_.cold_starts.fetch_add(1, std::memory_order_relaxed);
    if (stage.options_.warm_up_window > 0) {
      sd->status->warming = true;
      const double threshold = stage.options_.event_threshold;
      SeriesDetector& s = *sd;
      auto fed = analytics::warm_up(s.detector, stage.deps_.store, e.series,
                                    window_start(first, stage.options_.warm_up_window), first - 1,
                                    [&](Timestamp ts, double, const Assessment& a) {
                                      ++s.seen;
                                      s.last_ts = ts;
                                      (void)s.excursion.step(a.score, threshold);
                                    });
      if (!fed) stage.counters_.errors.fetch_add(1, std::memory_order_relaxed);
      stage.counters_.warm_up_points.fetch_add(s.seen, std::memory_order_relaxed);
      s.status->seen = s.seen;
      if (s.seen > 0) s.status->last_ts = s.last_ts;
      s.status->warming = false;
    }
    e.uni = std::move(sd);
  }

  std::unique_ptr<MachineDetector> machine_from(const pipeline::DeviceContext& ctx,
                                                const DetectorChoice& choice) {
    const auto& mv = *ctx.model->multivariate();
    auto config = multivariate_config(choice, mv.signals.size());
    if (!config) return nullptr;
    auto det = MultivariateDetector::create(*config);
    if (!det) return nullptr;
    const std::size_t n = mv.signals.size();
    auto m =
        std::make_unique<MachineDetector>(MachineDetector{ctx.device.id,
                                                          choice,
                                                          mv.signals,
                                                          std::vector<SeriesId>(n, kNoSeries),
                                                          std::move(*det),
                                                          std::vector<double>(n, 0.0),
                                                          std::vector<Timestamp>(n, kMinTimestamp),
                                                          std::vector<char>(n, 0),
                                                          0,
                                                          kMinTimestamp,
                                                          0,
                                                          {},
                                                          nullptr});
    std::string names;
    for (const auto& s : m->signals) names += (names.empty() ? "" : ",") + s;
    m->status = new_cell(ctx.device.id, "multivariate", names, std::nullopt, m->choice,
                         m->detector.memory_bytes());
    return m;
  }

  void build_machine(DeviceEntry& dev, const pipeline::DeviceContext& ctx, Timestamp first) {
    const auto& mv = *ctx.model->multivariate();
    auto choice = choose_multivariate(mv.detector, mv.signals);
    std::unique_ptr<MachineDetector> m = choice ? machine_from(ctx, *choice) : nullptr;
    if (!m) {
      stage.counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    stage.counters_.cold_starts.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < m->signals.size(); ++i)
      if (auto id = stage.deps_.store.find(canonical_key(ctx, m->signals[i])))
        m->signal_series[i] = *id;
    if (stage.options_.warm_up_window > 0) {
      m->status->warming = true;
      std::vector<Timestamp> after(m->signals.size(),
                                   window_start(first, stage.options_.warm_up_window) - 1);
      const auto fed = feed_machine(*m, after, first - 1, Mode::warm_up);
      stage.counters_.warm_up_points.fetch_add(fed, std::memory_order_relaxed);
      m->status->warming = false;
    }
    dev.machine = std::move(m);
  }

  // Feeds a machine its signals' stored points with after[i] < ts ≤ to, merged in time order
  // (ties in signal order); returns the points fed.
  std::uint64_t feed_machine(MachineDetector& m, const std::vector<Timestamp>& after, Timestamp to,
                             Mode mode) {
    std::vector<std::tuple<Timestamp, std::size_t, double>> points;
    for (std::size_t i = 0; i < m.signals.size(); ++i) {
      if (m.signal_series[i] == kNoSeries || after[i] >= to) continue;
      store::RangeCursor cursor(stage.deps_.store.snapshot(m.signal_series[i]), after[i] + 1, to);
      std::vector<Sample> batch;
      while (cursor.next(batch))
        for (const auto& s : batch) points.emplace_back(s.ts, i, s.value);
      if (!cursor.status()) stage.counters_.errors.fetch_add(1, std::memory_order_relaxed);
    }
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
      return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
    });
    for (const auto& [ts, i, v] : points)
      if (std::isfinite(v)) offer(m, i, ts, v, mode);
    return points.size();
  }

  void score(SeriesDetector& d, Timestamp ts, double value, Mode mode) {
    if (ts <= d.last_ts) {
      ++late;
      return;
    }
    const Assessment a = d.detector.update(ts, value);
    ++d.seen;
    d.last_ts = ts;
    ++scored;
    d.status->seen.store(d.seen, std::memory_order_relaxed);
    d.status->last_score.store(a.score, std::memory_order_relaxed);
    d.status->last_ts.store(ts, std::memory_order_relaxed);
    if (!d.excursion.step(a.score, stage.options_.event_threshold)) return;
    if (d.seen <= stage.options_.learning_points) return;
    AnomalyEvent ev;
    ev.device = d.device;
    ev.metric = d.metric;
    ev.series = d.series;
    ev.ts = ts;
    ev.value = value;
    ev.score = a.score;
    ev.raw_score = a.raw_score;
    ev.driver = std::string(a.driver);
    ev.detector = d.choice.text;
    ev.version = d.choice.version;
    ev.expected = a.expected;
    ev.band = a.band;
    ev.unit = d.unit;
    emit(std::move(ev), mode);
  }

  void offer(MachineDetector& m, std::size_t i, Timestamp ts, double value, Mode mode) {
    if (ts <= m.signal_ts[i]) {
      if (mode != Mode::warm_up) ++late;
      return;
    }
    m.values[i] = value;
    m.signal_ts[i] = ts;
    if (!m.fresh[i]) {
      m.fresh[i] = 1;
      ++m.fresh_count;
    }
    if (m.fresh_count < m.signals.size()) return;
    const Timestamp at = *std::max_element(m.signal_ts.begin(), m.signal_ts.end());
    const double score = m.detector.update(at, m.values);
    std::fill(m.fresh.begin(), m.fresh.end(), 0);
    m.fresh_count = 0;
    ++m.seen;
    m.last_ts = at;
    m.status->seen.store(m.seen, std::memory_order_relaxed);
    m.status->last_score.store(score, std::memory_order_relaxed);
    m.status->last_ts.store(at, std::memory_order_relaxed);
    if (mode != Mode::warm_up)
      stage.counters_.points_scored.fetch_add(1, std::memory_order_relaxed);
    if (!m.excursion.step(score, stage.options_.event_threshold)) return;
    if (m.seen <= stage.options_.learning_points || mode == Mode::warm_up) return;
    AnomalyEvent ev;
    ev.multivariate = true;
    ev.device = m.device;
    const auto shares = m.detector.contributions();  // largest first
    for (const auto& c : shares) ev.signals.push_back({m.signals[c.signal], c.share});
    const std::size_t top = shares.front().signal;
    ev.metric = m.signals[top];
    ev.series = m.signal_series[top];
    ev.ts = at;
    ev.value = m.values[top];
    ev.score = score;
    ev.raw_score = score;
    ev.driver = m.detector.explain(m.signals);
    ev.detector = m.choice.text;
    ev.version = m.choice.version;
    emit(std::move(ev), mode);
  }

  void emit(AnomalyEvent ev, Mode mode) {
    if (mode == Mode::warm_up) return;
    ev.replayed = mode == Mode::replay;
    ev.message = describe(ev);
    stage.counters_.events.fetch_add(1, std::memory_order_relaxed);
    for (auto* l : stage.listeners_) l->on_anomaly(ev);
    if (stage.deps_.log.add(std::move(ev)))
      stage.counters_.queue_waits.fetch_add(1, std::memory_order_relaxed);
  }

  void drop_series(SeriesEntry& e) {
    if (e.uni) drop_cell(e.uni->status);
    e.uni.reset();
    e.uni_resolved = false;
  }
  void drop_machine(DeviceEntry& dev) {
    if (dev.machine) drop_cell(dev.machine->status);
    dev.machine.reset();
    dev.machine_resolved = false;
    for (SeriesId s : dev.series) {
      auto& e = series[s];
      e.signal_bound = false;
      e.signal = -1;
    }
  }

  // A device or its model changed: keep what is unchanged, drop what is not (rebuilt, warmed
  // up, at the next point).
  void apply_change(const std::string& device) {
    auto it = devices.find(device);
    if (it == devices.end()) return;
    DeviceEntry& dev = it->second;
    auto ctx = stage.deps_.catalog.device(device);
    if (!ctx) {  // removed
      drop_machine(dev);
      for (SeriesId s : dev.series) {
        drop_series(series[s]);
        series.erase(s);
      }
      devices.erase(it);
      return;
    }
    if (dev.machine_resolved) {
      std::optional<DetectorChoice> now;
      if (ctx->model && ctx->model->multivariate())
        if (auto c = choose_multivariate(ctx->model->multivariate()->detector,
                                         ctx->model->multivariate()->signals))
          now = std::move(*c);
      const bool same = dev.machine ? (now && dev.machine->choice.same_as(*now)) : !now;
      if (!same) drop_machine(dev);
    }
    for (SeriesId s : dev.series) {
      SeriesEntry& e = series[s];
      if (!e.uni_resolved) continue;
      std::optional<DetectorChoice> now;
      if (auto text = detector_text(*ctx, e.metric))
        if (auto c = choose_detector(*text)) now = std::move(*c);
      if (e.uni && now && e.uni->choice.same_as(*now)) {
        e.uni->choice.text = now->text;  // the same configuration, maybe written differently
        continue;
      }
      if (!e.uni && !now) continue;
      drop_series(e);
    }
  }

  // Every detector's checkpoint record, framed, appended to `out`.
  void serialise(std::vector<std::uint8_t>& out) const {
    for (const auto& [id, e] : series) {
      if (!e.uni) continue;
      const auto& d = *e.uni;
      CheckpointRecord r;
      r.kind = CheckpointRecord::Kind::series;
      r.series = id;
      r.spec = d.choice.text;
      r.version = d.choice.version;
      r.last_ts = d.last_ts;
      r.seen = d.seen;
      r.in_excursion = d.excursion.in;
      r.calm = d.excursion.calm;
      d.detector.save(r.frame);
      append_record(out, r);
    }
    for (const auto& [name, dev] : devices) {
      if (!dev.machine) continue;
      const auto& m = *dev.machine;
      CheckpointRecord r;
      r.kind = CheckpointRecord::Kind::machine;
      r.device = name;
      r.spec = m.choice.text;
      r.version = m.choice.version;
      r.last_ts = m.last_ts;
      r.seen = m.seen;
      r.in_excursion = m.excursion.in;
      r.calm = m.excursion.calm;
      for (std::size_t i = 0; i < m.signals.size(); ++i)
        r.signals.push_back(
            {m.signals[i], m.signal_series[i], m.fresh[i] != 0, m.signal_ts[i], m.values[i]});
      m.detector.save(r.frame);
      append_record(out, r);
    }
  }

  // A checkpointed series detector back, if its configuration is unchanged; then the points
  // the store holds after it. False: it starts cold at its next point.
  bool restore_series(const CheckpointRecord& r) {
    SeriesEntry& e = entry(r.series);
    if (!e.known || e.uni) return false;
    auto ctx = stage.deps_.catalog.device(e.device);
    if (!ctx) return false;
    auto text = detector_text(*ctx, e.metric);
    if (!text) return false;
    auto choice = choose_detector(*text);
    if (!choice || choice->version != r.version) return false;
    auto d = AnyDetector::restore(r.frame);
    if (!d) return false;
    auto sd = std::make_unique<SeriesDetector>(SeriesDetector{
        e.series, e.device, e.metric, unit_symbol(*ctx, e.metric), std::move(*choice),
        std::move(*d), r.last_ts, r.seen, Excursion{r.in_excursion, r.calm}, nullptr});
    sd->status =
        new_cell(e.device, "series", e.metric, e.series, sd->choice, sd->detector.memory_bytes());
    sd->status->seen = sd->seen;
    sd->status->last_ts = sd->last_ts;
    e.uni = std::move(sd);
    e.uni_resolved = true;
    return true;
  }

  bool restore_machine(const CheckpointRecord& r) {
    auto ctx = stage.deps_.catalog.device(r.device);
    if (!ctx || !ctx->model || !ctx->model->multivariate()) return false;
    const auto& mv = *ctx->model->multivariate();
    auto choice = choose_multivariate(mv.detector, mv.signals);
    if (!choice || choice->version != r.version || r.signals.size() != mv.signals.size())
      return false;
    for (std::size_t i = 0; i < mv.signals.size(); ++i)
      if (r.signals[i].metric != mv.signals[i]) return false;
    auto det = MultivariateDetector::restore(r.frame);
    if (!det || det->config().signals != static_cast<double>(mv.signals.size())) return false;
    DeviceEntry& dev = devices[r.device];
    if (dev.machine) return false;
    auto m = machine_from(*ctx, *choice);
    if (!m) return false;
    m->detector = std::move(*det);  // the same configuration: the same memory
    for (std::size_t i = 0; i < r.signals.size(); ++i) {
      m->signal_series[i] = r.signals[i].series;
      m->fresh[i] = r.signals[i].fresh ? 1 : 0;
      m->signal_ts[i] = r.signals[i].ts;
      m->values[i] = r.signals[i].value;
      m->fresh_count += r.signals[i].fresh ? 1 : 0;
    }
    m->last_ts = r.last_ts;
    m->seen = r.seen;
    m->excursion = Excursion{r.in_excursion, r.calm};
    m->status->seen = m->seen;
    m->status->last_ts = m->last_ts;
    dev.machine = std::move(m);
    dev.machine_resolved = true;
    return true;
  }

  // After restores: each restored detector is fed what the store holds after its checkpoint.
  void catch_up() {
    for (auto& [id, e] : series) {
      if (!e.uni) continue;
      SeriesDetector& d = *e.uni;
      if (d.last_ts == kMaxTimestamp) continue;
      store::RangeCursor cursor(stage.deps_.store.snapshot(id), d.last_ts + 1, kMaxTimestamp);
      std::vector<Sample> batch;
      while (cursor.next(batch))
        for (const auto& s : batch)
          if (std::isfinite(s.value)) score(d, s.ts, s.value, Mode::replay);
      if (!cursor.status()) stage.counters_.errors.fetch_add(1, std::memory_order_relaxed);
    }
    for (auto& [name, dev] : devices) {
      if (!dev.machine) continue;
      const std::vector<Timestamp> after = dev.machine->signal_ts;
      (void)feed_machine(*dev.machine, after, kMaxTimestamp, Mode::replay);
    }
  }
};

// ---- the stage

DetectionStage::DetectionStage(Dependencies deps, DetectionOptions options)
    : deps_(deps), options_(std::move(options)) {
  for (std::size_t i = 0; i < options_.workers; ++i)
    workers_.push_back(std::make_unique<Worker>(*this, i));
}

Result<std::unique_ptr<DetectionStage>> DetectionStage::create(Dependencies deps,
                                                               DetectionOptions options) {
  auto bad = [](const std::string& m) { return Error::of(errc::bad_option, "analytics: " + m); };
  if (options.workers == 0 || options.workers > 256)
    return bad("workers must be 1..256, not " + std::to_string(options.workers));
  if (!(options.event_threshold > 0 && options.event_threshold <= 1))
    return bad("event_threshold must be in (0, 1]");
  if (options.queue_points == 0) return bad("queue_points must be positive");
  if (options.checkpoint_interval <= 0) return bad("checkpoint_interval must be positive");
  if (options.warm_up_window < 0) return bad("warm_up_window must not be negative");
  return std::unique_ptr<DetectionStage>(new DetectionStage(deps, std::move(options)));
}

DetectionStage::~DetectionStage() { stop(); }

void DetectionStage::subscribe(AnomalyListener* l) { listeners_.push_back(l); }

std::size_t DetectionStage::worker_of(std::string_view device) const {
  return std::hash<std::string_view>{}(device) % workers_.size();
}

Status DetectionStage::start() {
  if (started_) return {};
  if (!options_.checkpoint_file.empty()) {
    auto loaded = load_checkpoint_file(options_.checkpoint_file);
    if (!loaded) {
      // An unreadable checkpoint is not fatal: every detector starts cold (warmed up).
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
    } else {
      auto& records = loaded->records;
      // Machines first: a series' signal binding looks at its device's machine.
      std::stable_partition(records.begin(), records.end(), [](const CheckpointRecord& r) {
        return r.kind == CheckpointRecord::Kind::machine;
      });
      for (const auto& r : records) {
        bool ok = false;
        if (r.kind == CheckpointRecord::Kind::machine) {
          ok = workers_[worker_of(r.device)]->restore_machine(r);
        } else if (auto key = deps_.store.key(r.series)) {
          ok = workers_[worker_of(key->device)]->restore_series(r);
        }
        // One not restored starts cold (and warm) at its next point, counted then.
        if (ok) counters_.restored.fetch_add(1, std::memory_order_relaxed);
      }
      for (auto& w : workers_) {
        w->catch_up();
        w->publish();
      }
    }
  }
  started_ = true;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { run(*worker); });
  }
  if (!options_.checkpoint_file.empty()) timer_ = std::thread([this] { run_timer(); });
  return {};
}

std::uint32_t DetectionStage::resolve_route(SeriesId series) {
  std::lock_guard lock(route_mu_);
  std::uint32_t r = routes_.get(series);
  if (r != SeriesRoutes::kUnresolved) return r;  // resolved meanwhile by another shard
  auto key = deps_.store.key(series);
  if (!key) {
    routes_.set(series, SeriesRoutes::kNone);
    return SeriesRoutes::kNone;
  }
  auto ctx = deps_.catalog.device(key->device);
  const bool has = ctx && (detector_text(*ctx, key->metric) || is_signal(*ctx, key->metric));
  r = has ? SeriesRoutes::kFirstWorker + static_cast<std::uint32_t>(worker_of(key->device))
          : SeriesRoutes::kNone;
  routes_.set(series, r);
  routed_[key->device].push_back(series);
  return r;
}

void DetectionStage::stored(std::span<const Point> points) {
  if (!started_ || stopped_.load(std::memory_order_relaxed)) return;
  thread_local std::vector<std::vector<Point>> batches;
  if (batches.size() < workers_.size()) batches.resize(workers_.size());
  bool any = false;
  for (const Point& p : points) {
    std::uint32_t r = routes_.get(p.series);
    if (r == SeriesRoutes::kNone) continue;
    if (r == SeriesRoutes::kUnresolved) r = resolve_route(p.series);
    if (r < SeriesRoutes::kFirstWorker) continue;
    batches[r - SeriesRoutes::kFirstWorker].push_back(p);
    any = true;
  }
  if (!any) return;
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (batches[w].empty()) continue;
    workers_[w]->push(batches[w]);
    batches[w].clear();
  }
}

void DetectionStage::device_changed(const std::string& device) {
  {
    std::lock_guard lock(route_mu_);
    if (auto it = routed_.find(device); it != routed_.end()) {
      for (SeriesId s : it->second) routes_.set(s, SeriesRoutes::kUnresolved);
      routed_.erase(it);
    }
  }
  if (!started_ || stopped_) return;
  Worker& w = *workers_[worker_of(device)];
  {
    std::lock_guard lock(w.mu);
    w.changed.push_back(device);
    ++w.changes_pushed;
  }
  w.cv.notify_one();
}

void DetectionStage::run(Worker& w) {
  std::vector<Point> batch;
  std::vector<std::string> changed;
  for (;;) {
    bool checkpoint_wanted = false;
    {
      std::unique_lock lock(w.mu);
      w.cv.wait(lock, [&] {
        return w.stopping || !w.queue.empty() || !w.changed.empty() || w.checkpoint_wanted;
      });
      if (w.queue.empty() && w.changed.empty() && !w.checkpoint_wanted) return;  // stopping
      batch.swap(w.queue);
      changed.swap(w.changed);
      checkpoint_wanted = w.checkpoint_wanted;
      w.checkpoint_wanted = false;
    }
    w.room_cv.notify_all();
    for (const auto& d : changed) w.apply_change(d);
    for (const auto& p : batch) w.process(p, Mode::live);
    w.publish();
    {
      std::lock_guard lock(w.mu);
      w.done += batch.size();
      w.changes_done += changed.size();
    }
    changed.clear();
    w.idle_cv.notify_all();
    batch.clear();
    if (checkpoint_wanted) {
      std::vector<std::uint8_t> part;
      w.serialise(part);
      std::lock_guard lock(parts_mu_);
      parts_[w.index] = std::move(part);
      ++parts_done_;
      parts_cv_.notify_all();
    }
  }
}

void DetectionStage::run_timer() {
  std::unique_lock lock(timer_mu_);
  while (!timer_stop_) {
    timer_cv_.wait_for(lock, std::chrono::microseconds(options_.checkpoint_interval),
                       [&] { return timer_stop_; });
    if (timer_stop_) break;
    lock.unlock();
    (void)checkpoint();  // a failure is counted in errors
    lock.lock();
  }
}

Status DetectionStage::write_checkpoint(std::span<const std::uint8_t> records) {
  const auto bytes = checkpoint_bytes(deps_.clock.now(), records);
  auto st = write_checkpoint_file(options_.checkpoint_file, bytes);
  if (!st) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return st;
  }
  counters_.checkpoints.fetch_add(1, std::memory_order_relaxed);
  return {};
}

Status DetectionStage::checkpoint() {
  if (options_.checkpoint_file.empty()) return {};
  std::lock_guard one(checkpoint_mu_);
  std::vector<std::uint8_t> records;
  if (!started_ || stopped_) {
    for (const auto& w : workers_) w->serialise(records);  // no thread runs them
    return write_checkpoint(records);
  }
  {
    std::lock_guard lock(parts_mu_);
    parts_.assign(workers_.size(), {});
    parts_done_ = 0;
  }
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mu);
      w->checkpoint_wanted = true;
    }
    w->cv.notify_one();
  }
  {
    std::unique_lock lock(parts_mu_);
    parts_cv_.wait(lock, [&] { return parts_done_ == workers_.size(); });
    for (const auto& p : parts_) records.insert(records.end(), p.begin(), p.end());
  }
  return write_checkpoint(records);
}

void DetectionStage::flush() {
  for (auto& w : workers_) {
    std::unique_lock lock(w->mu);
    const std::uint64_t target = w->pushed, changes = w->changes_pushed;
    w->idle_cv.wait(lock, [&] { return w->done >= target && w->changes_done >= changes; });
  }
}

std::size_t DetectionStage::queued() const {
  std::size_t n = 0;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mu);
    n += w->queue.size();
  }
  return n;
}

void DetectionStage::stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(timer_mu_);
    timer_stop_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  {
    std::lock_guard one(checkpoint_mu_);  // a checkpoint in progress completes first
    for (auto& w : workers_) {
      {
        std::lock_guard lock(w->mu);
        w->stopping = true;
      }
      w->cv.notify_all();
      w->room_cv.notify_all();
    }
    for (auto& w : workers_)
      if (w->thread.joinable()) w->thread.join();
  }
  if (started_) (void)checkpoint();
}

std::vector<DetectorStatus> DetectionStage::detectors_of(const std::string& device) const {
  std::vector<DetectorStatus> out;
  auto state_of = [&](const StatusCell& c) -> std::string {
    if (c.warming.load()) return "warming";
    return c.seen.load() <= options_.learning_points ? "learning" : "scoring";
  };
  {
    std::lock_guard lock(status_mu_);
    if (auto it = status_.find(device); it != status_.end()) {
      for (const auto& c : it->second) {
        DetectorStatus s;
        s.kind = c->kind;
        s.metric = c->metric;
        s.series = c->series;
        s.detector = c->detector;
        s.version = c->version;
        s.state = state_of(*c);
        s.points = c->seen.load();
        const Timestamp ts = c->last_ts.load();
        if (ts != kMinTimestamp) {
          s.last_ts = ts;
          s.last_score = c->last_score.load();
        }
        s.memory_bytes = c->memory;
        out.push_back(std::move(s));
      }
    }
  }
  // What is configured but has not met a point since the start.
  auto ctx = deps_.catalog.device(device);
  if (ctx && ctx->model) {
    for (const auto& t : ctx->model->telemetry()) {
      auto text = detector_text(*ctx, t.metric());
      if (!text) continue;
      const bool built = std::any_of(out.begin(), out.end(), [&](const DetectorStatus& s) {
        return s.kind == "series" && s.metric == t.metric();
      });
      if (built) continue;
      DetectorStatus s;
      s.kind = "series";
      s.metric = std::string(t.metric());
      s.detector = std::string(*text);
      if (auto c = choose_detector(*text)) s.version = c->version;
      s.state = "waiting";
      out.push_back(std::move(s));
    }
    if (const auto& mv = ctx->model->multivariate()) {
      const bool built = std::any_of(
          out.begin(), out.end(), [](const DetectorStatus& s) { return s.kind == "multivariate"; });
      if (!built) {
        DetectorStatus s;
        s.kind = "multivariate";
        for (const auto& sig : mv->signals) s.metric += (s.metric.empty() ? "" : ",") + sig;
        s.detector = mv->detector;
        if (auto c = choose_multivariate(mv->detector, mv->signals)) s.version = c->version;
        s.state = "waiting";
        out.push_back(std::move(s));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const DetectorStatus& a, const DetectorStatus& b) {
    return std::tie(a.kind, a.metric, a.series) < std::tie(b.kind, b.metric, b.series);
  });
  return out;
}

}  // namespace strata::detect

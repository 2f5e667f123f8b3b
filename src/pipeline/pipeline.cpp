#include "pipeline/pipeline.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#include "core/time_format.hpp"

namespace strata::pipeline {

std::string_view transport_name(Transport t) {
  static constexpr std::array<std::string_view, kTransportCount> kNames = {
      "mqtt", "mqtt_connector", "sparkplug", "http",  "line_protocol",
      "coap", "modbus",         "opcua",     "import"};
  return kNames[static_cast<std::size_t>(t)];
}

// What a shard remembers of a device between messages. REQUIRES: touched only by its shard.
struct Pipeline::DeviceState {
  std::shared_ptr<const DeviceContext> context;
  std::unordered_map<std::string, SeriesId> series;  // metric → series, for `context`
  std::array<Timestamp, 16> ahead{};                 // ts − received of recent messages
  std::size_t ahead_count = 0;
  Timestamp skew = 0;  // subtracted from the device's timestamps
  double tokens = 0;   // rate limit bucket
  Timestamp refilled = 0;
};

struct Pipeline::Shard {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Item> queue;
  bool stopping = false;
  std::thread thread;
  std::unordered_map<std::string, DeviceState> devices;  // REQUIRES: the shard thread
};

// The messages a shard stores with one append, and what became of each.
struct Pipeline::Group {
  std::vector<Point> points;
  std::vector<std::uint32_t> owner;  // item index of each point
  std::vector<IngestOutcome> outcomes;
};

namespace {

constexpr std::size_t kMaxReasons = 16;

void add_reason(IngestOutcome& o, std::string reason) {
  ++o.quarantined;
  if (o.reasons.size() < kMaxReasons) o.reasons.push_back(std::move(reason));
}

std::string seconds(Timestamp us) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f s", static_cast<double>(us) / 1e6);
  return b;
}

}  // namespace

Result<std::unique_ptr<Pipeline>> Pipeline::create(Dependencies deps, PipelineOptions options) {
  if (options.shards == 0 || options.shards > 256)
    return Error{1, "pipeline: shards must be 1..256, not " + std::to_string(options.shards)};
  if (options.queue_capacity == 0 || options.max_group_messages == 0)
    return Error{1, "pipeline: queue_capacity and max_group_messages must be positive"};
  std::unique_ptr<Pipeline> p(new Pipeline(deps, std::move(options)));
  if (!p->options_.text_dictionary_file.empty()) {
    const auto& file = p->options_.text_dictionary_file;
    std::ifstream in(file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Records: u64 code, u16 length, bytes (little endian); a torn tail is ignored and rewritten.
    std::size_t off = 0;
    while (off + 10 <= data.size()) {
      std::uint64_t code;
      std::uint16_t len;
      std::memcpy(&code, data.data() + off, 8);
      std::memcpy(&len, data.data() + off + 8, 2);
      if (off + 10 + len > data.size()) break;
      p->texts_[code].assign(data.data() + off + 10, len);
      off += 10 + len;
    }
    p->text_fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (p->text_fd_ < 0 || ::ftruncate(p->text_fd_, static_cast<off_t>(off)) != 0 ||
        ::lseek(p->text_fd_, static_cast<off_t>(off), SEEK_SET) < 0)
      return Error{1, "pipeline: cannot open the text dictionary " + file.string() + ": " +
                          std::strerror(errno)};
  }
  for (auto& s : p->shards_) {
    Shard* shard = s.get();
    shard->thread = std::thread([p = p.get(), shard] { p->run(*shard); });
  }
  return p;
}

Pipeline::Pipeline(Dependencies deps, PipelineOptions options)
    : deps_(deps), options_(std::move(options)) {
  for (std::size_t i = 0; i < options_.shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

Pipeline::~Pipeline() {
  stop();
  if (text_fd_ >= 0) ::close(text_fd_);
}

void Pipeline::stop() {
  for (auto& s : shards_) {
    {
      std::lock_guard lock(s->mu);
      s->stopping = true;
    }
    s->cv.notify_all();
  }
  for (auto& s : shards_)
    if (s->thread.joinable()) s->thread.join();
}

std::size_t Pipeline::queued() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->queue.size();
  }
  return n;
}

template <class M>
bool Pipeline::enqueue(std::size_t shard, M& message, Completion& done) {
  Shard& s = *shards_[shard];
  {
    // Checked before moving: a refused submit leaves the caller's message and completion whole.
    std::lock_guard lock(s.mu);
    if (s.stopping || s.queue.size() >= options_.queue_capacity) {
      counters_.back_pressure.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    s.queue.push_back(Item{std::move(message), std::move(done)});
  }
  s.cv.notify_one();
  return true;
}

bool Pipeline::submit(TelemetryMessage& message, Completion& done) {
  return enqueue(std::hash<std::string>{}(message.device_id) % shards_.size(), message, done);
}

bool Pipeline::submit(PointBatch& batch, Completion& done) {
  return enqueue(round_robin_.fetch_add(1, std::memory_order_relaxed) % shards_.size(), batch,
                 done);
}

void Pipeline::quarantine(Transport transport, std::string_view device_id, std::string_view raw,
                          std::string_view reason) {
  counters_.readings_quarantined[static_cast<std::size_t>(transport)].fetch_add(
      1, std::memory_order_relaxed);
  QuarantineEntry e;
  e.received = deps_.clock.now();
  e.transport = transport;
  e.device_id = device_id;
  e.reason = reason;
  e.raw = raw.substr(0, QuarantineLog::kMaxRawBytes);
  deps_.quarantine.add(std::move(e));
}

void Pipeline::run(Shard& shard) {
  std::vector<Item> items;
  for (;;) {
    {
      std::unique_lock lock(shard.mu);
      shard.cv.wait(lock, [&] { return shard.stopping || !shard.queue.empty(); });
      if (shard.queue.empty()) return;  // stopping, and everything is done
      if (shard.queue.size() <= options_.max_group_messages) {
        items.swap(shard.queue);
      } else {
        auto end = shard.queue.begin() + static_cast<std::ptrdiff_t>(options_.max_group_messages);
        items.assign(std::make_move_iterator(shard.queue.begin()), std::make_move_iterator(end));
        shard.queue.erase(shard.queue.begin(), end);
      }
    }
    process(shard, items);
    // Sealing heads over the budget after the writers have their answers: their next requests
    // are decoded while this worker encodes.
    deps_.store.sweep_heads();
    items.clear();
  }
}

double Pipeline::text_code(std::string_view text) {
  unsigned char h[8];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                     nullptr, 0);
  std::uint64_t v = 0;
  for (unsigned char b : h) v = (v << 8) | b;
  v >>= 16;  // 48 bits: exact in a double
  std::lock_guard lock(text_mu_);
  auto [it, inserted] = texts_.try_emplace(v, text);
  if (inserted && text_fd_ >= 0) {
    std::string rec(10, '\0');
    const auto len = static_cast<std::uint16_t>(std::min<std::size_t>(text.size(), 0xffff));
    std::memcpy(rec.data(), &v, 8);
    std::memcpy(rec.data() + 8, &len, 2);
    rec.append(text.substr(0, len));
    if (::write(text_fd_, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) {
      // The reading is still stored; only its text is not kept across a restart.
      counters_.store_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return static_cast<double>(v);
}

std::string Pipeline::text_of(double code) const {
  std::lock_guard lock(text_mu_);
  auto it = texts_.find(static_cast<std::uint64_t>(code));
  return it == texts_.end() ? std::string() : it->second;
}

void Pipeline::prepare(Shard& shard, TelemetryMessage& m, Group& g, std::size_t item) {
  IngestOutcome& out = g.outcomes[item];
  const auto t = static_cast<std::size_t>(m.transport);
  counters_.messages[t].fetch_add(1, std::memory_order_relaxed);
  bool raw_kept = false;
  auto refuse = [&](std::string_view metric, std::string reason) {
    QuarantineEntry e;
    e.received = m.received;
    e.transport = m.transport;
    e.device_id = m.device_id;
    e.message_id = m.message_id;
    e.metric = metric;
    e.reason = reason;
    if (!raw_kept && m.raw) {  // the payload once per message; later entries name the message
      e.raw = m.raw->substr(0, QuarantineLog::kMaxRawBytes);
      raw_kept = true;
    }
    deps_.quarantine.add(std::move(e));
    add_reason(out, std::move(reason));
    counters_.readings_quarantined[t].fetch_add(1, std::memory_order_relaxed);
  };
  auto refuse_all = [&](const std::string& reason) {
    for (const auto& r : m.readings) refuse(r.metric, reason);
    if (m.readings.empty()) refuse({}, reason);
  };

  auto ctx = deps_.catalog.device(m.device_id);
  if (!ctx) return refuse_all("device '" + m.device_id + "' is not registered");
  if (ctx->device.state == model::DeviceState::suspended ||
      ctx->device.state == model::DeviceState::decommissioned)
    return refuse_all("device '" + m.device_id + "' is " +
                      std::string(model::device_state_name(ctx->device.state)) +
                      "; set its state to active to accept its readings");
  DeviceState& ds = shard.devices[m.device_id];
  if (ds.context != ctx) {
    ds.context = ctx;
    ds.series.clear();
  }
  if (options_.device_rate_limit > 0) {
    const double burst = options_.device_rate_limit * 10;
    if (ds.refilled == 0) ds.tokens = burst;
    ds.tokens = std::min(burst, ds.tokens + static_cast<double>(m.received - ds.refilled) * 1e-6 *
                                                options_.device_rate_limit);
    ds.refilled = m.received;
    if (ds.tokens < static_cast<double>(m.readings.size()))
      return refuse_all("device '" + m.device_id + "' sends more than " +
                        std::to_string(static_cast<long long>(options_.device_rate_limit)) +
                        " readings a second (the rate limit)");
    ds.tokens -= static_cast<double>(m.readings.size());
  }
  if (options_.correct_clock_skew) {
    Timestamp newest = kMinTimestamp;
    for (const auto& r : m.readings)
      if (r.ts) newest = std::max(newest, *r.ts);
    if (newest != kMinTimestamp) {
      ds.ahead[ds.ahead_count++ % ds.ahead.size()] = newest - m.received;
      if (ds.ahead_count >= ds.ahead.size()) {
        auto sorted = ds.ahead;
        std::nth_element(sorted.begin(), sorted.begin() + 8, sorted.end());
        const Timestamp median = sorted[8];
        const Timestamp skew = median > options_.skew_tolerance ? median : 0;
        if ((skew != 0) != (ds.skew != 0))
          counters_.skew_corrected_devices.fetch_add(skew != 0 ? 1 : -1, std::memory_order_relaxed);
        ds.skew = skew;
      }
    }
  }
  const model::CompiledModel* model = ctx->model.get();
  for (auto& r : m.readings) {
    Timestamp ts = r.ts ? *r.ts - ds.skew : m.received;
    if (ts > m.received + options_.max_future) {
      refuse(r.metric, "metric '" + r.metric + "': timestamp " + format_iso8601(ts) + " is " +
                           seconds(ts - m.received) +
                           " ahead of the receive time; check the device's clock");
      continue;
    }
    const model::TelemetrySpec* spec = model ? model->find(r.metric) : nullptr;
    double value = r.number;
    const std::optional<std::string_view> text =
        r.text ? std::optional<std::string_view>(*r.text) : std::nullopt;
    if (!spec) {
      if (!options_.accept_unknown_metrics || text) {
        refuse(r.metric,
               model ? "metric '" + r.metric + "' is not in model " + std::string(model->model_id())
                     : "device '" + m.device_id + "' has no model '" + ctx->device.model_id + "'");
        continue;
      }
    } else {
      auto v = spec->accept(r.number, text);
      if (!v) {
        refuse(r.metric, v.error().message);
        continue;
      }
      value = *v;
      if (spec->personal()) {
        if (!deps_.pseudonymiser) {
          refuse(r.metric,
                 "metric '" + r.metric + "' is personal but no pseudonymisation key is configured");
          continue;
        }
        value = text ? deps_.pseudonymiser->pseudonym(*text)
                     : deps_.pseudonymiser->pseudonym(std::to_string(r.number));
      } else if (spec->is_text()) {
        value = text_code(*text);
      }
    }
    auto sit = ds.series.find(r.metric);
    if (sit == ds.series.end()) {
      SeriesKey key{m.device_id, r.metric, {}};
      if (!ctx->device.site.empty()) key.tags.emplace_back("site", ctx->device.site);
      if (!ctx->device.line.empty()) key.tags.emplace_back("line", ctx->device.line);
      key.normalise();
      auto id = deps_.store.resolve(key);
      if (!id) {
        refuse(r.metric, id.error().message);
        continue;
      }
      sit = ds.series.emplace(r.metric, *id).first;
    }
    g.points.push_back(Point{sit->second, ts, value});
    g.owner.push_back(static_cast<std::uint32_t>(item));
  }
}

void Pipeline::prepare(PointBatch& b, Group& g, std::size_t item) {
  counters_.messages[static_cast<std::size_t>(b.transport)].fetch_add(1, std::memory_order_relaxed);
  g.points.insert(g.points.end(), b.points.begin(), b.points.end());
  g.owner.insert(g.owner.end(), b.points.size(), static_cast<std::uint32_t>(item));
}

void Pipeline::process(Shard& shard, std::vector<Item>& items) {
  Group g;
  g.outcomes.resize(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (auto* m = std::get_if<TelemetryMessage>(&items[i].message))
      prepare(shard, *m, g, i);
    else
      prepare(std::get<PointBatch>(items[i].message), g, i);
  }

  // Per item: stored points, and the range they cover (lineage).
  std::vector<std::size_t> stored(items.size(), 0);
  std::vector<Timestamp> tmin(items.size(), kMaxTimestamp), tmax(items.size(), kMinTimestamp);
  std::vector<char> refused_point;
  bool result_ok = false;
  if (!g.points.empty()) {
    auto result = deps_.store.append(g.points);
    result_ok = result.ok();
    counters_.groups.fetch_add(1, std::memory_order_relaxed);
    if (!result) {
      counters_.store_errors.fetch_add(1, std::memory_order_relaxed);
      for (auto& o : g.outcomes) o.status = result.error();
    } else if (!result->refused.empty()) {
      // Rare (points older than the out-of-order window): find each refused point's message.
      refused_point.assign(g.points.size(), 0);
      for (const auto& ref : result->refused) {
        for (std::size_t p = 0; p < g.points.size(); ++p) {
          if (!refused_point[p] && g.points[p].series == ref.series && g.points[p].ts == ref.ts) {
            refused_point[p] = 1;
            const std::size_t i = g.owner[p];
            const Transport tr = std::visit([](auto& m) { return m.transport; }, items[i].message);
            QuarantineEntry e;
            e.received = deps_.clock.now();
            e.transport = tr;
            if (auto* m = std::get_if<TelemetryMessage>(&items[i].message)) {
              e.device_id = m->device_id;
              e.message_id = m->message_id;
            }
            if (auto key = deps_.store.key(ref.series)) {
              if (e.device_id.empty()) e.device_id = key->device;
              e.metric = key->metric;
            }
            e.reason = ref.reason;
            add_reason(g.outcomes[i], ref.reason);
            counters_.readings_quarantined[static_cast<std::size_t>(tr)].fetch_add(
                1, std::memory_order_relaxed);
            deps_.quarantine.add(std::move(e));
            break;
          }
        }
      }
    }
    if (result) {
      for (std::size_t p = 0; p < g.points.size(); ++p) {
        if (!refused_point.empty() && refused_point[p]) continue;
        const std::size_t i = g.owner[p];
        ++stored[i];
        tmin[i] = std::min(tmin[i], g.points[p].ts);
        tmax[i] = std::max(tmax[i], g.points[p].ts);
      }
    }
  }

  // The stages behind the store (anomaly detection) are handed the group before its writers have
  // their answers: a writer that sends its next batch once answered (Telegraf, an InfluxDB client)
  // may see it taken by another shard, and its points must not overtake these.
  StoredPointsObserver* after = points_observer_.load(std::memory_order_acquire);
  if (after && !g.points.empty() && result_ok) {
    if (refused_point.empty()) {
      after->stored(g.points);
    } else {
      std::vector<Point> kept;
      kept.reserve(g.points.size());
      for (std::size_t p = 0; p < g.points.size(); ++p)
        if (!refused_point[p]) kept.push_back(g.points[p]);
      after->stored(kept);
    }
  }

  LiveObserver* observer = observer_.load(std::memory_order_acquire);
  std::vector<LiveReading> live;
  for (std::size_t i = 0; i < items.size(); ++i) {
    IngestOutcome& o = g.outcomes[i];
    o.stored = stored[i];
    const Transport tr = std::visit([](auto& m) { return m.transport; }, items[i].message);
    counters_.readings_stored[static_cast<std::size_t>(tr)].fetch_add(stored[i],
                                                                      std::memory_order_relaxed);
    if (stored[i] > 0 && deps_.lineage) {
      LineageEntry e;
      e.transport = tr;
      e.ts_min = tmin[i];
      e.ts_max = tmax[i];
      e.points = static_cast<std::uint32_t>(stored[i]);
      if (auto* m = std::get_if<TelemetryMessage>(&items[i].message)) {
        e.source = m->device_id;
        e.message_id = m->message_id;
        e.received = m->received;
      } else {
        auto& b = std::get<PointBatch>(items[i].message);
        e.source = "user:" + b.source;
        e.message_id = b.message_id;
        e.received = b.received;
      }
      deps_.lineage->add(std::move(e));
    }
    if (observer && stored[i] > 0) {
      if (auto* m = std::get_if<TelemetryMessage>(&items[i].message);
          m && observer->wants(m->device_id)) {
        live.clear();
        auto it = shard.devices.find(m->device_id);
        for (std::size_t p = 0; p < g.points.size(); ++p) {
          if (g.owner[p] != i || (!refused_point.empty() && refused_point[p])) continue;
          std::string_view metric;
          if (it != shard.devices.end())
            for (const auto& [name, id] : it->second.series)
              if (id == g.points[p].series) metric = name;
          live.push_back({metric, g.points[p].ts, g.points[p].value});
        }
        observer->stored(m->device_id, live);
      }
    }
    if (items[i].done) items[i].done(o);
  }
}

}  // namespace strata::pipeline

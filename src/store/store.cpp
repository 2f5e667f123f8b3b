#include "store/store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>

#include "core/crc32c.hpp"
#include "core/time_format.hpp"
#include "store/chunk.hpp"

namespace strata::store {

namespace {
// The chunk list of every series without chunks: one shared, immutable, empty list.
const std::shared_ptr<const std::vector<ChunkRef>>& no_chunks() {
  static const auto empty = std::make_shared<const std::vector<ChunkRef>>();
  return empty;
}
}  // namespace

// Per series: the head (sorted, unique timestamps, newest writes), the points being sealed and the
// sealed chunks.
struct Store::SeriesState {
  mutable std::mutex mu;  // guards head, sealing and the chunks pointer against readers
  std::vector<Sample> head;
  // Points taken from the head and being encoded into chunks outside the writer's lock (at most
  // one batch a series). Readers see them as part of the head, under it, until their chunks are
  // in place or a checkpoint has written them itself.
  std::shared_ptr<const std::vector<Sample>> sealing;
  std::shared_ptr<const std::vector<ChunkRef>> chunks = no_chunks();
  Timestamp max_ts = kMinTimestamp;
  // The chunk list compaction last found nothing to merge in (under write_mu_): skipped until
  // the list is replaced. Weak: it keeps no chunk alive, and a live weak_ptr keeps its control
  // block, so no other list can be mistaken for it.
  std::weak_ptr<const std::vector<ChunkRef>> compaction_checked;
};

namespace {

// The oldest timestamp the window accepts after `newest` (saturating: no overflow near the
// int64 minimum).
// Timestamps Strata stores: ±2^62 µs (±146,000 years), so that any two of a series are less than
// INT64_MAX apart and every chunk delta is representable.
constexpr Timestamp kTimestampLimit = Timestamp{1} << 62;
bool in_range(Timestamp ts) { return ts >= -kTimestampLimit && ts <= kTimestampLimit; }
std::string range_reason(Timestamp ts) {
  return "timestamp " + std::to_string(ts) +
         " µs is outside the range Strata stores (±2^62 µs since the epoch)";
}

Timestamp window_floor(Timestamp newest, Timestamp window) {
  return newest < kMinTimestamp + window ? kMinTimestamp : newest - window;
}

std::uint64_t precedence_of(std::uint32_t file, std::uint32_t index) {
  return (static_cast<std::uint64_t>(file) << 32) | index;
}

void add_chunk(std::shared_ptr<const std::vector<ChunkRef>>& list, ChunkRef ref) {
  auto next = std::make_shared<std::vector<ChunkRef>>(*list);
  auto at = std::upper_bound(next->begin(), next->end(), ref.tmin,
                             [](Timestamp t, const ChunkRef& c) { return t < c.tmin; });
  next->insert(at, std::move(ref));
  list = std::move(next);
}

// All samples of the given chunks, merged: on equal timestamps the higher precedence wins.
Result<std::vector<Sample>> merge_chunks(std::vector<const ChunkRef*> chunks) {
  // Chunks disjoint in time (the usual case) are simply decoded one after the other.
  std::sort(chunks.begin(), chunks.end(), [](auto* a, auto* b) { return a->tmin < b->tmin; });
  bool disjoint = true;
  for (std::size_t i = 1; i < chunks.size() && disjoint; ++i)
    disjoint = chunks[i]->tmin > chunks[i - 1]->tmax;
  if (disjoint) {
    std::vector<Sample> out;
    std::size_t n = 0;
    for (const ChunkRef* c : chunks) n += c->count;
    out.reserve(n);
    for (const ChunkRef* c : chunks) {
      auto samples = decode_chunk(c->bytes);
      if (!samples) return samples.error();
      out.insert(out.end(), samples->begin(), samples->end());
    }
    return out;
  }
  std::sort(chunks.begin(), chunks.end(),
            [](auto* a, auto* b) { return a->precedence < b->precedence; });
  std::map<Timestamp, double> merged;
  for (const ChunkRef* c : chunks) {
    auto samples = decode_chunk(c->bytes);
    if (!samples) return samples.error();
    for (const Sample& s : *samples) merged[s.ts] = s.value;
  }
  std::vector<Sample> out;
  out.reserve(merged.size());
  for (auto [ts, v] : merged) out.push_back({ts, v});
  return out;
}

// The points being sealed with the head over them: on equal timestamps the head's (newer) wins.
std::vector<Sample> merge_under(const std::vector<Sample>& older,
                                const std::vector<Sample>& newer) {
  std::vector<Sample> out;
  out.reserve(older.size() + newer.size());
  auto o = older.begin();
  for (const Sample& x : newer) {
    for (; o != older.end() && o->ts < x.ts; ++o) out.push_back(*o);
    if (o != older.end() && o->ts == x.ts) ++o;
    out.push_back(x);
  }
  out.insert(out.end(), o, older.end());
  return out;
}

}  // namespace

Store::Store(std::filesystem::path dir, StoreOptions options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &system_clock_) {}

Store::~Store() {
  wal_.reset();  // syncs under the policy
  registry_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Store::SeriesState& Store::state(SeriesId id) {
  std::lock_guard lk(states_mu_);
  while (states_.size() <= id) states_.push_back(std::make_unique<SeriesState>());
  return *states_[id];
}

const Store::SeriesState* Store::state_if(SeriesId id) const {
  std::lock_guard lk(states_mu_);
  return id < states_.size() ? states_[id].get() : nullptr;
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir, StoreOptions options) {
  if (options.out_of_order_window_us < 0)
    return Error::of(errc::invalid_argument, "out_of_order_window must not be negative");
  if (options.chunk_max_points < 2 || options.chunk_max_points > kMaxChunkPoints)
    return Error::of(errc::invalid_argument,
                     "chunk_max_points must be between 2 and " + std::to_string(kMaxChunkPoints));
  std::error_code ec;
  std::filesystem::create_directories(dir / "chunks", ec);
  if (ec)
    return Error::of(errc::io,
                     "cannot create data directory '" + dir.string() + "': " + ec.message());
  std::unique_ptr<Store> st(new Store(dir, std::move(options)));
  st->lock_fd_ = ::open((dir / "LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (st->lock_fd_ < 0 || ::flock(st->lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return Error::of(errc::locked,
                     "data directory '" + dir.string() + "' is in use by another Strata process");
  auto reg = SeriesRegistry::open(dir / "series.log");
  if (!reg) return reg.error();
  st->registry_ = std::move(*reg);
  if (auto s = st->load_chunks(); !s) return s.error();

  std::vector<WalDamage> damage;
  Store* self = st.get();
  std::uint64_t orphans =
      0;  // WAL points of series the registry does not know (lost registrations)
  auto on_samples = [self, &orphans](SeriesId id, std::span<const Sample> samples) {
    if (id >= self->registry_->size()) {
      orphans += samples.size();
      return;
    }
    auto& s = self->state(id);
    self->insert_head(s, samples);
  };
  auto on_points = [self, &orphans](std::span<const Point> points) {
    for (const Point& p : points) {
      if (p.series >= self->registry_->size()) {
        ++orphans;
        continue;
      }
      const Sample s{p.ts, p.value};
      self->insert_head(self->state(p.series), {&s, 1});
    }
  };
  WalOptions wo{st->options_.fsync, st->options_.fsync_interval_us,
                [self] { return self->registry_->sync(); }};
  auto wal = WriteAheadLog::open(dir / "wal", wo, on_samples, on_points, damage);
  if (!wal) return wal.error();
  st->wal_ = std::move(*wal);
  if (orphans > 0)
    st->lost_.push_back(
        LostRange{std::nullopt, "", kMinTimestamp, kMaxTimestamp, orphans,
                  "WAL points of series ids the registry does not hold (registrations lost)"});
  for (const auto& d : damage) {
    if (d.torn_tail) continue;
    st->lost_.push_back(LostRange{std::nullopt, "", d.last_good_ts, kMaxTimestamp, 0,
                                  "WAL segment " + d.segment + ": " + std::to_string(d.bytes) +
                                      " corrupt bytes at offset " + std::to_string(d.offset) +
                                      " skipped"});
  }
  for (SeriesId id = 0; id < st->registry_->size(); ++id) st->take_full_head(st->state(id));
  st->seal(st->take_sealings());
  for (const auto& l : st->lost_) {
    spdlog::error("store: lost {} {} .. {} ({} points): {}",
                  l.series_name.empty() ? "unknown series" : l.series_name,
                  l.from == kMinTimestamp ? "-" : format_iso8601(l.from),
                  l.to == kMaxTimestamp ? "-" : format_iso8601(l.to), l.points, l.reason);
  }
  return st;
}

Status Store::load_chunks() {
  const auto chunk_dir = dir_ / "chunks";
  const auto manifest_path = dir_ / "MANIFEST";
  if (std::filesystem::exists(manifest_path)) {
    auto m = Manifest::read(manifest_path);
    if (m) {
      manifest_ = std::move(*m);
    } else {
      // Rebuild the list of live files from what is on disk; deletions recorded there are lost.
      spdlog::error("store: {}; rebuilding it from the chunk files", m.error().message);
      lost_.push_back(LostRange{std::nullopt, "", kMinTimestamp, kMaxTimestamp, 0,
                                m.error().message + " (deleted ranges may reappear)"});
      manifest_ = Manifest{};
      for (const auto& e : std::filesystem::directory_iterator(chunk_dir)) {
        if (e.path().extension() != ".chunks") continue;
        const std::string stem = e.path().stem().string();
        std::uint32_t n = 0;
        const auto [end, ec] = std::from_chars(stem.data(), stem.data() + stem.size(), n);
        if (ec != std::errc() || end != stem.data() + stem.size() || n == 0) {
          spdlog::warn("store: ignoring unexpected file {}", e.path().string());
          continue;
        }
        manifest_.files[n];
        manifest_.next_file = std::max(manifest_.next_file, n + 1);
      }
    }
  }
  for (const auto& [file, dead] : manifest_.files) {
    const auto path = chunk_file_path(chunk_dir, file);
    auto index = read_chunk_index(chunk_dir, file);
    auto mapped = MappedFile::open(path);
    std::span<const std::uint8_t> bytes;
    if (mapped) bytes = (*mapped)->bytes();
    std::vector<ChunkMeta> metas;
    auto report = [&](std::optional<SeriesId> series, Timestamp from, Timestamp to,
                      std::uint64_t points, std::string why) {
      std::string name;
      if (series) {
        if (auto k = registry_->key(*series)) name = k->to_string();
      }
      lost_.push_back(LostRange{series, name, from, to, points, std::move(why)});
    };
    if (index) {
      metas = std::move(*index);
    } else {
      std::uint64_t stopped_at = 0;
      std::vector<SkippedChunk> skipped;
      metas = scan_chunk_file(bytes, stopped_at, skipped);
      spdlog::warn("store: {}; rebuilt from {}", index.error().message, path.string());
      for (const auto& k : skipped)
        report(k.series < registry_->size() ? std::optional<SeriesId>(k.series) : std::nullopt,
               kMinTimestamp, kMaxTimestamp, 0,
               path.filename().string() + ": the chunk at byte " + std::to_string(k.offset) +
                   " fails its checksum and the index that dated it is unreadable");
      if (!mapped)
        report(std::nullopt, kMinTimestamp, kMaxTimestamp, 0,
               path.filename().string() + " missing and its index unreadable");
      else if (stopped_at < bytes.size())
        report(std::nullopt, kMinTimestamp, kMaxTimestamp, 0,
               path.filename().string() + " damaged from byte " + std::to_string(stopped_at) +
                   " and its index unreadable");
    }
    for (std::uint32_t i = 0; i < metas.size(); ++i) {
      if (dead.count(i)) continue;
      const ChunkMeta& m = metas[i];
      if (m.series >= registry_->size()) {
        report(
            std::nullopt, m.tmin, m.tmax, m.count,
            path.filename().string() + ": chunk of unknown series id " + std::to_string(m.series));
        continue;
      }
      if (!mapped || m.offset + m.length > bytes.size()) {
        report(m.series, m.tmin, m.tmax, m.count,
               path.filename().string() + (mapped ? " is truncated" : " is missing"));
        continue;
      }
      const auto cb = bytes.subspan(m.offset, m.length);
      if (!chunk_checksum_ok(cb)) {
        report(m.series, m.tmin, m.tmax, m.count,
               path.filename().string() + ": chunk " + std::to_string(i) + " fails its checksum");
        continue;
      }
      auto& s = state(m.series);
      ChunkRef ref{m.tmin, m.tmax, m.count, precedence_of(file, i), file, i, *mapped, cb};
      add_chunk(s.chunks, std::move(ref));
      s.max_ts = std::max(s.max_ts, m.tmax);
    }
  }
  return {};
}

void Store::insert_head(SeriesState& s, std::span<const Sample> samples) {
  std::lock_guard lk(s.mu);
  // The usual case first: samples in order, after the head's newest, appended in one copy.
  std::size_t in_order = 0;
  Timestamp newest = s.head.empty() ? kMinTimestamp : s.head.back().ts;
  while (in_order < samples.size() && samples[in_order].ts > newest)
    newest = samples[in_order++].ts;
  s.head.insert(s.head.end(), samples.begin(), samples.begin() + static_cast<long>(in_order));
  head_points_ += in_order;
  s.max_ts = std::max(s.max_ts, newest);
  for (const Sample& x : samples.subspan(in_order)) {
    if (s.head.empty() || x.ts > s.head.back().ts) {
      s.head.push_back(x);
    } else {
      auto it = std::lower_bound(s.head.begin(), s.head.end(), x.ts,
                                 [](const Sample& a, Timestamp t) { return a.ts < t; });
      if (it != s.head.end() && it->ts == x.ts) {
        it->value = x.value;
        continue;
      }
      s.head.insert(it, x);
    }
    ++head_points_;
    s.max_ts = std::max(s.max_ts, x.ts);
  }
}

void Store::take_head(SeriesState& s, std::size_t n) {
  std::shared_ptr<const std::vector<Sample>> part;
  std::lock_guard lk(s.mu);
  if (n == s.head.size()) {
    part = std::make_shared<const std::vector<Sample>>(std::move(s.head));
    s.head = {};  // the memory went with the points
  } else {
    part = std::make_shared<const std::vector<Sample>>(s.head.begin(),
                                                       s.head.begin() + static_cast<long>(n));
    s.head.erase(s.head.begin(), s.head.begin() + static_cast<long>(n));
  }
  s.sealing = part;
  head_points_ -= std::min<std::uint64_t>(head_points_, n);
  taken_.push_back(Sealing{&s, std::move(part), {}});
}

void Store::take_full_head(SeriesState& s) {
  const std::size_t full = s.head.size() - s.head.size() % options_.chunk_max_points;
  if (full > 0 && !s.sealing) take_head(s, full);
}

void Store::take_sweep_step() {
  if (!sweep_next_) {
    if (head_points_ < swept_head_points_ + options_.head_points_budget) return;
    sweep_next_ = 0;
  }
  constexpr std::size_t kMinSealed = 16;         // a chunk of a few points compresses poorly
  constexpr std::uint64_t kStepPoints = 65'536;  // taken by one step, at most about this
  std::size_t n_states;
  {
    std::lock_guard lk(states_mu_);
    n_states = states_.size();
  }
  std::uint64_t taken = 0;
  SeriesId& id = *sweep_next_;
  for (; id < n_states && taken < kStepPoints; ++id) {
    SeriesState& s = state(id);
    if (s.head.size() < kMinSealed || s.sealing) continue;  // one sealing a series at a time
    taken += s.head.size();
    take_head(s, s.head.size());
  }
  if (id >= n_states) {
    sweep_next_.reset();
    swept_head_points_ = head_points_;
  }
}

std::vector<Store::Sealing> Store::take_sealings() {
  std::vector<Sealing> out;
  out.swap(taken_);
  return out;
}

void Store::seal(std::vector<Sealing> sealings) {
  for (Sealing& x : sealings) encode_sealing(x);
  install_sealings(sealings);
}

void Store::encode_sealing(Sealing& x) const {
  const auto& samples = *x.samples;
  for (std::size_t at = 0; at < samples.size(); at += options_.chunk_max_points) {
    const std::span<const Sample> part(samples.data() + at,
                                       std::min(options_.chunk_max_points, samples.size() - at));
    x.chunks.push_back(std::make_shared<const std::vector<std::uint8_t>>(encode_chunk(part)));
  }
}

void Store::install_sealings(std::vector<Sealing>& sealings) {
  for (Sealing& x : sealings) {
    SeriesState& s = *x.state;
    std::lock_guard lk(s.mu);
    if (s.sealing != x.samples) continue;  // a checkpoint wrote these points itself
    auto list = std::make_shared<std::vector<ChunkRef>>(*s.chunks);
    const auto& samples = *x.samples;
    for (std::size_t c = 0, at = 0; c < x.chunks.size(); ++c, at += options_.chunk_max_points) {
      const std::size_t n = std::min(options_.chunk_max_points, samples.size() - at);
      list->push_back(ChunkRef{
          samples[at].ts, samples[at + n - 1].ts, static_cast<std::uint32_t>(n),
          precedence_of(manifest_.next_file, static_cast<std::uint32_t>(pending_counter_++)), 0, 0,
          x.chunks[c], std::span<const std::uint8_t>(*x.chunks[c])});
    }
    std::stable_sort(list->begin(), list->end(),
                     [](const ChunkRef& a, const ChunkRef& b) { return a.tmin < b.tmin; });
    s.chunks = std::move(list);
    s.sealing.reset();
  }
}

void Store::sweep_heads() {
  std::unique_lock wl(write_mu_);
  take_sweep_step();
  auto sealings = take_sealings();
  if (sealings.empty()) return;
  wl.unlock();
  for (Sealing& x : sealings) encode_sealing(x);  // the long part, while others append
  wl.lock();
  install_sealings(sealings);
}

std::string Store::refusal_reason(Timestamp newest, Timestamp ts) const {
  char window[32];
  const auto end =
      std::to_chars(window, window + sizeof window,
                    static_cast<double>(options_.out_of_order_window_us) / kMicrosPerSecond)
          .ptr;
  return "timestamp " + format_iso8601(ts) + " is older than the out-of-order window (" +
         std::string(window, end) + " s before the series' newest point " + format_iso8601(newest) +
         "); raise --out-of-order-window to accept it";
}

Result<SeriesId> Store::resolve(const SeriesKey& key) { return registry_->resolve(key); }
std::optional<SeriesId> Store::find(const SeriesKey& key) const { return registry_->find(key); }
std::optional<SeriesKey> Store::key(SeriesId id) const { return registry_->key(id); }
std::size_t Store::series_count() const { return registry_->size(); }

std::vector<SeriesId> Store::select(const SeriesSelector& selector) const {
  std::vector<SeriesId> candidates;
  bool narrowed = false;
  for (const auto& m : selector.matchers()) {
    if (m.op != Matcher::Op::eq) continue;
    auto ids = registry_->with(m.field, m.value);
    if (!narrowed) {
      candidates = std::move(ids);
      narrowed = true;
    } else {
      std::vector<SeriesId> both;
      std::set_intersection(candidates.begin(), candidates.end(), ids.begin(), ids.end(),
                            std::back_inserter(both));
      candidates.swap(both);
    }
  }
  if (!narrowed) {
    candidates.resize(registry_->size());
    for (SeriesId i = 0; i < candidates.size(); ++i) candidates[i] = i;
  }
  std::vector<SeriesId> out;
  for (SeriesId id : candidates) {
    auto k = registry_->key(id);
    if (k && selector.matches(*k)) out.push_back(id);
  }
  return out;
}

Result<AppendResult> Store::append(SeriesId series, std::span<const Sample> samples) {
  if (series >= registry_->size())
    return Error::of(errc::invalid_argument,
                     "series id " + std::to_string(series) + " is not registered");
  std::lock_guard wl(write_mu_);
  auto& s = state(series);
  AppendResult result;
  std::vector<Sample> kept;
  std::span<const Sample> accepted = samples;
  const Timestamp floor = s.max_ts == kMinTimestamp
                              ? kMinTimestamp
                              : window_floor(s.max_ts, options_.out_of_order_window_us);
  Timestamp running_max = s.max_ts;
  bool all_ok = true;
  for (const Sample& x : samples) {
    if (x.ts < floor || !in_range(x.ts) ||
        (running_max != kMinTimestamp &&
         x.ts < window_floor(running_max, options_.out_of_order_window_us))) {
      all_ok = false;
      break;
    }
    running_max = std::max(running_max, x.ts);
  }
  if (!all_ok) {
    running_max = s.max_ts;
    for (const Sample& x : samples) {
      if (!in_range(x.ts)) {
        result.refused.push_back(Refusal{series, x.ts, range_reason(x.ts)});
        continue;
      }
      if (running_max != kMinTimestamp &&
          x.ts < window_floor(running_max, options_.out_of_order_window_us)) {
        result.refused.push_back(Refusal{series, x.ts, refusal_reason(running_max, x.ts)});
        continue;
      }
      running_max = std::max(running_max, x.ts);
      kept.push_back(x);
    }
    accepted = kept;
  }
  if (!accepted.empty()) {
    if (auto st = wal_->append(series, accepted); !st) return st.error();
    insert_head(s, accepted);
    take_full_head(s);
    result.accepted = accepted.size();
  }
  if (wal_->bytes() > options_.checkpoint_wal_bytes) {
    if (auto st = checkpoint_locked(); !st) return st.error();
  }
  if (options_.sweep_in_append) {
    take_sweep_step();
    seal(take_sealings());
  }
  return result;
}

Result<AppendResult> Store::append(std::span<const Point> points) {
  const std::size_t n_series = registry_->size();
  std::lock_guard wl(write_mu_);
  AppendResult result;
  // Group the batch by series (stable), so each series is checked and inserted under one lock.
  group_count_.resize(n_series + 1);
  std::vector<SeriesId> touched;
  for (const Point& p : points) {
    if (p.series >= n_series) {
      result.refused.push_back(
          Refusal{p.series, p.ts, "series id " + std::to_string(p.series) + " is not registered"});
      continue;
    }
    if (group_count_[p.series]++ == 0) touched.push_back(p.series);
  }
  std::vector<std::uint32_t> start(touched.size() + 1, 0);
  for (std::size_t g = 0; g < touched.size(); ++g) {
    start[g + 1] = start[g] + group_count_[touched[g]];
    group_count_[touched[g]] = static_cast<std::uint32_t>(g);  // now: the group index
  }
  std::vector<Point> grouped(start.back());
  {
    std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
    for (const Point& p : points)
      if (p.series < n_series) grouped[fill[group_count_[p.series]]++] = p;
  }
  for (SeriesId id : touched) group_count_[id] = 0;
  std::vector<SeriesState*> states(touched.size());  // by group
  {
    std::lock_guard lk(states_mu_);
    while (states_.size() < n_series) states_.push_back(std::make_unique<SeriesState>());
    for (std::size_t g = 0; g < touched.size(); ++g) states[g] = states_[touched[g]].get();
  }
  // The window, per series, in arrival order.
  std::size_t kept = 0;
  std::vector<Sample> samples;
  const std::vector<std::uint32_t> bounds = start;
  for (std::size_t g = 0; g < touched.size(); ++g) {
    SeriesState& s = *states[g];
    Timestamp running = s.max_ts;
    for (std::uint32_t i = bounds[g]; i < bounds[g + 1]; ++i) {
      const Point& p = grouped[i];
      if (!in_range(p.ts)) {
        result.refused.push_back(Refusal{p.series, p.ts, range_reason(p.ts)});
        continue;
      }
      if (running != kMinTimestamp &&
          p.ts < window_floor(running, options_.out_of_order_window_us)) {
        result.refused.push_back(Refusal{p.series, p.ts, refusal_reason(running, p.ts)});
        continue;
      }
      running = std::max(running, p.ts);
      grouped[kept++] = p;
    }
    start[g + 1] = static_cast<std::uint32_t>(kept);  // groups stay contiguous after compaction
  }
  grouped.resize(kept);
  if (!grouped.empty()) {
    if (auto st = wal_->append(grouped); !st) return st.error();
    std::uint32_t begin = 0;
    for (std::size_t g = 0; g < touched.size(); ++g) {
      const std::uint32_t end = start[g + 1];
      if (end == begin) continue;
      samples.clear();
      for (std::uint32_t i = begin; i < end; ++i)
        samples.push_back(Sample{grouped[i].ts, grouped[i].value});
      SeriesState& s = *states[g];
      insert_head(s, samples);
      take_full_head(s);
      begin = end;
    }
    result.accepted = grouped.size();
  }
  if (wal_->bytes() > options_.checkpoint_wal_bytes) {
    if (auto st = checkpoint_locked(); !st) return st.error();
  }
  if (options_.sweep_in_append) {
    take_sweep_step();
    seal(take_sealings());
  }
  return result;
}

Status Store::sync() { return wal_->sync(); }

Status Store::checkpoint() {
  std::lock_guard wl(write_mu_);
  return checkpoint_locked();
}

void Store::encode_chunks(SeriesId series, std::span<const Sample> samples,
                          std::vector<ChunkToWrite>& writes, EncodedChunks& keep) const {
  for (std::size_t at = 0; at < samples.size(); at += options_.chunk_max_points) {
    const std::size_t n = std::min(options_.chunk_max_points, samples.size() - at);
    const std::span<const Sample> part(samples.data() + at, n);
    keep.push_back(std::make_unique<std::vector<std::uint8_t>>(encode_chunk(part)));
    writes.push_back(ChunkToWrite{
        ChunkMeta{series, part.front().ts, part.back().ts, static_cast<std::uint32_t>(n), 0, 0},
        std::span<const std::uint8_t>(*keep.back())});
  }
}

Result<std::map<SeriesId, std::vector<ChunkRef>>> Store::write_chunks(
    std::uint32_t file, std::vector<ChunkToWrite>& writes) const {
  const auto chunk_dir = dir_ / "chunks";
  if (auto s = write_chunk_file(chunk_dir, file, writes); !s) return s.error();
  auto mapped = MappedFile::open(chunk_file_path(chunk_dir, file));
  if (!mapped) return mapped.error();
  std::map<SeriesId, std::vector<ChunkRef>> refs;
  for (std::uint32_t i = 0; i < writes.size(); ++i) {
    const auto& w = writes[i];
    refs[w.meta.series].push_back(
        ChunkRef{w.meta.tmin, w.meta.tmax, w.meta.count, precedence_of(file, i), file, i, *mapped,
                 (*mapped)->bytes().subspan(w.meta.offset, w.meta.length)});
  }
  return refs;
}

Status Store::checkpoint_locked() {
  // What compaction merged out of chunk files first, into its own file: those chunks live long,
  // while the checkpoint's short ones are soon merged away (a file with no live chunk is removed).
  if (auto s = write_compaction_locked(); !s) return s;
  if (auto s = registry_->sync(); !s) return s;
  auto first_kept = wal_->rotate();
  if (!first_kept) return first_kept.error();
  // Pending chunks in precedence order, then every head, encoded: one new file.
  std::vector<std::pair<const ChunkRef*, SeriesId>> pending;
  std::vector<std::shared_ptr<const std::vector<ChunkRef>>> pins;  // keep pending refs alive
  std::size_t n_states;
  {
    std::lock_guard lk(states_mu_);
    n_states = states_.size();
  }
  for (SeriesId id = 0; id < n_states; ++id) {
    auto& s = state(id);
    std::lock_guard lk(s.mu);
    pins.push_back(s.chunks);
    for (const auto& c : *s.chunks)
      if (c.file == 0) pending.emplace_back(&c, id);
  }
  std::sort(pending.begin(), pending.end(),
            [](const auto& a, const auto& b) { return a.first->precedence < b.first->precedence; });
  std::vector<ChunkToWrite> writes;
  for (const auto& [c, id] : pending)
    writes.push_back(ChunkToWrite{ChunkMeta{id, c->tmin, c->tmax, c->count, 0, 0}, c->bytes});
  EncodedChunks encoded;
  for (SeriesId id = 0; id < n_states; ++id) {
    auto& s = state(id);
    std::lock_guard lk(s.mu);
    if (s.sealing) encode_chunks(id, *s.sealing, writes, encoded);  // under the head's points
    encode_chunks(id, s.head, writes, encoded);
  }
  if (!writes.empty()) {
    Manifest next = manifest_;
    auto added = write_chunks(next.next_file, writes);
    if (!added) return added.error();
    next.files[next.next_file++];
    if (auto s = next.write(dir_ / "MANIFEST"); !s) return s;
    manifest_ = std::move(next);
    // Swap every series to the file-backed chunks and empty the heads.
    for (auto& [id, refs] : *added) {
      auto& s = state(id);
      std::lock_guard lk(s.mu);
      auto next_list = std::make_shared<std::vector<ChunkRef>>();
      for (const auto& c : *s.chunks)
        if (c.file != 0) next_list->push_back(c);
      for (auto& r : refs) next_list->push_back(std::move(r));
      std::stable_sort(next_list->begin(), next_list->end(),
                       [](const ChunkRef& a, const ChunkRef& b) { return a.tmin < b.tmin; });
      s.chunks = std::move(next_list);
      s.head.clear();
      s.head.shrink_to_fit();
      s.sealing.reset();  // a sweep encoding them drops its chunks
    }
  }
  taken_.clear();
  pending_counter_ = 0;
  head_points_ = swept_head_points_ = 0;
  sweep_next_.reset();
  return wal_->drop_before(*first_kept);
}

void Store::retire_chunks(Manifest& next,
                          const std::vector<std::pair<std::uint32_t, std::uint32_t>>& chunks,
                          std::vector<std::uint32_t>& gone) const {
  std::set<std::uint32_t> touched;
  for (auto [file, index] : chunks) {
    next.files[file].insert(index);
    touched.insert(file);
  }
  // Files whose every chunk is deleted go away entirely.
  for (std::uint32_t f : touched) {
    auto idx = read_chunk_index(dir_ / "chunks", f);
    if (idx && next.files[f].size() >= idx->size()) {
      next.files.erase(f);
      gone.push_back(f);
    }
  }
}

void Store::remove_chunk_files(const std::vector<std::uint32_t>& gone) const {
  for (auto f : gone) {
    std::error_code ec;
    std::filesystem::remove(chunk_file_path(dir_ / "chunks", f), ec);
    std::filesystem::remove(chunk_index_path(dir_ / "chunks", f), ec);
  }
}

Status Store::replace_chunks(std::vector<Replacement>& reps) {
  std::vector<ChunkToWrite> writes;
  EncodedChunks encoded;
  for (const auto& rep : reps) {
    encode_chunks(rep.series, rep.samples, writes, encoded);
    for (const ChunkRef* c : rep.copy)
      writes.push_back(
          ChunkToWrite{ChunkMeta{rep.series, c->tmin, c->tmax, c->count, 0, 0}, c->bytes});
  }
  Manifest next = manifest_;
  std::map<SeriesId, std::vector<ChunkRef>> added;
  if (!writes.empty()) {
    auto refs = write_chunks(next.next_file, writes);
    if (!refs) return refs.error();
    added = std::move(*refs);
    next.files[next.next_file++];
  }
  std::vector<std::pair<std::uint32_t, std::uint32_t>> dead;
  for (const auto& rep : reps)
    for (const ChunkRef* c : rep.old) dead.emplace_back(c->file, c->index);
  std::vector<std::uint32_t> gone;
  retire_chunks(next, dead, gone);
  if (auto s = next.write(dir_ / "MANIFEST"); !s) return s;
  manifest_ = std::move(next);
  remove_chunk_files(gone);
  for (const auto& rep : reps) {
    auto& s = state(rep.series);
    std::lock_guard lk(s.mu);
    auto list = std::make_shared<std::vector<ChunkRef>>();
    for (const auto& c : *s.chunks) {
      const bool replaced = std::any_of(rep.old.begin(), rep.old.end(), [&](const ChunkRef* o) {
        return o->file == c.file && o->index == c.index;
      });
      if (!replaced) list->push_back(c);
    }
    for (auto& c : added[rep.series]) list->push_back(std::move(c));
    added[rep.series].clear();
    std::stable_sort(list->begin(), list->end(),
                     [](const ChunkRef& a, const ChunkRef& b) { return a.tmin < b.tmin; });
    s.chunks = std::move(list);
  }
  return {};
}

Result<std::uint64_t> Store::delete_range(SeriesId series, Timestamp from, Timestamp to) {
  std::lock_guard wl(write_mu_);
  return delete_range_locked(series, from, to);
}

Result<std::uint64_t> Store::delete_range_locked(SeriesId series, Timestamp from, Timestamp to) {
  if (series >= registry_->size())
    return Error::of(errc::invalid_argument,
                     "series id " + std::to_string(series) + " is not registered");
  if (from > to) return Error::of(errc::invalid_argument, "delete range is empty (from after to)");
  if (auto s = checkpoint_locked(); !s) return s.error();
  const auto pinned = snapshot(series).chunks;
  // The chunks touching the range, and (transitively) the chunks overlapping those.
  std::vector<const ChunkRef*> group;
  Timestamp lo = from, hi = to;
  bool grew = true;
  std::vector<bool> in(pinned->size(), false);
  while (grew) {
    grew = false;
    for (std::size_t i = 0; i < pinned->size(); ++i) {
      const auto& c = (*pinned)[i];
      if (!in[i] && c.tmax >= lo && c.tmin <= hi) {
        in[i] = true;
        group.push_back(&c);
        lo = std::min(lo, c.tmin);
        hi = std::max(hi, c.tmax);
        grew = true;
      }
    }
  }
  if (group.empty()) return std::uint64_t{0};
  auto merged = merge_chunks(group);
  if (!merged) return merged.error();
  Replacement rep{series, group, {}, {}};
  std::uint64_t deleted = 0;
  for (const Sample& x : *merged) {
    if (x.ts >= from && x.ts <= to)
      ++deleted;
    else
      rep.samples.push_back(x);
  }
  std::vector<Replacement> reps{std::move(rep)};
  if (auto s = replace_chunks(reps); !s) return s.error();
  return deleted;
}

Result<std::uint64_t> Store::apply_retention() {
  std::lock_guard wl(write_mu_);
  const Timestamp now = clock_->now();
  std::uint64_t deleted = 0;
  for (const auto& rule : options_.retention) {
    for (SeriesId id : select(rule.match)) {
      auto n = delete_range_locked(id, kMinTimestamp, now - rule.keep);
      if (!n) return n.error();
      deleted += *n;
    }
  }
  return deleted;
}

Status Store::compact() {
  std::lock_guard wl(write_mu_);
  if (auto s = checkpoint_locked(); !s) return s;
  const std::size_t small = options_.chunk_max_points / 2;
  std::vector<std::shared_ptr<const std::vector<ChunkRef>>> pins;
  std::vector<Replacement> reps;
  for (SeriesId id = 0; id < registry_->size(); ++id) {
    auto chunks = snapshot(id).chunks;
    pins.push_back(chunks);
    std::size_t n_small = 0;
    bool overlap = false;
    for (std::size_t i = 0; i < chunks->size(); ++i) {
      if ((*chunks)[i].count < small) ++n_small;
      if (i > 0 && (*chunks)[i].tmin <= (*chunks)[i - 1].tmax) overlap = true;
    }
    if (overlap || n_small >= 2) {
      std::vector<const ChunkRef*> all;
      for (const auto& c : *chunks) all.push_back(&c);
      auto merged = merge_chunks(all);
      if (!merged) return merged.error();
      reps.push_back(Replacement{id, std::move(all), std::move(*merged), {}});
    }
  }
  // Chunk files that are mostly deleted chunks: move their live chunks (as they are) too.
  const auto chunk_dir = dir_ / "chunks";
  std::set<std::uint32_t> sparse;
  for (const auto& [f, dead] : manifest_.files) {
    auto idx = read_chunk_index(chunk_dir, f);
    if (idx && dead.size() * 2 > idx->size()) sparse.insert(f);
  }
  if (!sparse.empty()) {
    for (SeriesId id = 0; id < pins.size(); ++id) {
      if (std::any_of(reps.begin(), reps.end(),
                      [&](const Replacement& r) { return r.series == id; }))
        continue;
      Replacement rep{id, {}, {}, {}};
      for (const auto& c : *pins[id]) {
        if (sparse.count(c.file)) {
          rep.old.push_back(&c);
          rep.copy.push_back(&c);
        }
      }
      if (!rep.old.empty()) reps.push_back(std::move(rep));
    }
  }
  if (reps.empty()) return {};
  return replace_chunks(reps);
}

// Incremental compaction.
//
// Precedence: a chunk's precedence (which write wins on equal timestamps) comes from its file
// number and index, so a merged chunk, written later into a newer file (or pending in memory,
// ahead of older pending chunks), ranks above chunks that hold newer writes. compact() and
// delete_range() rewrite every chunk that overlaps another, resolving them first; a step instead
// merges only a run that overlaps nothing else of its series — no other chunk, file-backed or
// pending, nor the head or the points being sealed — checked when it is picked and again, under
// the writer's lock, before it is put in place. Whatever is written later (a late point in the
// run's range) ranks above it, and nothing written before overlaps it, so the merged chunk's
// precedence is never consulted. Chunks of one run may overlap each other: they are merged by
// their own precedences.
//
// Write amplification: a run is merged once it holds a full chunk's worth of points (the first
// chunks up to that, then more within the step's budget) or once a full chunk follows it (it can
// no longer grow); the last merged chunk keeps the rest and may be merged again once, with the
// short chunks that follow it. So no point is rewritten more than twice, and a series whose short
// chunks add up to less than a chunk waits.
//
// Crash safety: pending chunks merge in memory (the WAL still holds their points until the next
// checkpoint writes the merged chunks). Chunks merged out of files wait in memory, readers seeing
// them at once, until write_compaction_locked() writes them to a file of their own, fsynced, and
// then a MANIFEST that lists it and marks the old chunks dead (atomic rename: the commit point).
// A crash before leaves the old chunks live and the new file unlisted; open ignores files the
// MANIFEST does not list, and the next file written takes the unlisted number again (O_TRUNC).

Result<CompactionStep> Store::compact_step(std::size_t max_points) {
  if (max_points == 0)
    return Error::of(errc::invalid_argument, "a compaction step needs max_points above 0");
  std::lock_guard cl(compaction_mu_);
  CompactionStep step;
  std::unique_lock wl(write_mu_);
  auto runs = pick_compaction_runs(max_points, step.caught_up);
  if (runs.empty()) {
    if (step.caught_up && !compaction_out_.empty()) {
      // Written, the last chunks merged out of files may start runs with the short chunks
      // after them: another round looks.
      if (auto s = write_compaction_locked(); !s) return s.error();
      step.caught_up = false;
    }
    return step;
  }
  wl.unlock();
  for (CompactionRun& run : runs) {
    if (auto s = encode_compaction_run(run); !s) {
      wl.lock();
      auto& st = state(run.series);
      st.compaction_checked = run.list;  // not again until the list changes
      return Error::of(s.error().code, "compaction of series " + std::to_string(run.series) + ": " +
                                           s.error().message);
    }
  }
  if (options_.before_compaction_install) options_.before_compaction_install();
  wl.lock();
  for (CompactionRun& run : runs) {
    if (!install_compaction_run(run)) {
      ++step.runs_dropped;
      continue;
    }
    ++step.runs;
    step.chunks_merged += run.end - run.first;
    step.chunks_written += run.encoded.size();
    step.points += run.points;
  }
  constexpr std::uint64_t kCompactionFileBytes = 8u << 20;
  if (compaction_out_bytes_ >= kCompactionFileBytes) {
    if (auto s = write_compaction_locked(); !s) return s.error();
  }
  return step;
}

std::vector<Store::CompactionRun> Store::pick_compaction_runs(std::size_t max_points,
                                                              bool& caught_up) {
  std::size_t n_states;
  {
    std::lock_guard lk(states_mu_);
    n_states = states_.size();
  }
  std::vector<CompactionRun> runs;
  caught_up = n_states == 0;
  if (n_states == 0) return runs;
  // Series looked at a step, at most: bounds the time under the lock when little has changed.
  constexpr std::size_t kScanSeries = 4096;
  std::size_t points = 0;
  for (std::size_t scanned = 0; scanned < std::min(n_states, kScanSeries) && points < max_points;
       ++scanned) {
    if (compaction_next_ >= n_states) compaction_next_ = 0;
    const SeriesId id = compaction_next_++;
    auto run = find_compaction_run(id, max_points - points);
    if (!run) {
      if (++compaction_quiet_ >= n_states) {
        caught_up = true;
        compaction_quiet_ = 0;
        break;
      }
      continue;
    }
    compaction_quiet_ = 0;
    for (std::size_t i = run->first; i < run->end; ++i) points += (*run->list)[i].count;
    runs.push_back(std::move(*run));
  }
  return runs;
}

std::optional<Store::CompactionRun> Store::find_compaction_run(SeriesId id, std::size_t budget) {
  SeriesState& s = state(id);
  std::lock_guard lk(s.mu);
  const auto list = s.chunks;
  if (!s.compaction_checked.owner_before(list) && !list.owner_before(s.compaction_checked))
    return std::nullopt;  // unchanged since it had nothing to merge
  const auto& c = *list;
  const std::size_t n = c.size();
  const std::size_t full = options_.chunk_max_points;
  const std::size_t small = full / 2;
  // 0: not part of any run (long, or merged out of files and waiting for its file);
  // 1: short and pending; 2: short and in a chunk file.
  auto kind = [&](const ChunkRef& x) {
    if (x.count >= small) return 0;
    if (x.file == 0) return 1;
    return x.file == compaction_file_ ? 0 : 2;
  };
  auto overlaps = [](Timestamp lo, Timestamp hi, Timestamp a, Timestamp b) {
    return a <= hi && b >= lo;
  };
  bool waits = false;  // a run overlaps the head or the points being sealed: look again later
  for (std::size_t i = 0; i < n;) {
    const int k = kind(c[i]);
    if (k == 0) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    std::uint64_t total = c[i].count;
    for (; j < n && kind(c[j]) == k; ++j) total += c[j].count;
    const bool closed = j < n && c[j].count >= small;
    if (j - i >= 2 && (total >= full || closed)) {
      // As much as the budget allows: up to a full chunk's worth, then more, but not so far that
      // the last merged chunk ends long and not full (it would never be merged again). Failing
      // that (the newest chunks of the run overlap the head, say), just a full chunk's worth.
      std::size_t least = i;
      for (std::uint64_t points = 0; least < j && points < full;) points += c[least++].count;
      std::size_t most = i;
      std::uint64_t taken = 0;
      while (most < j && (taken < full || taken + c[most].count <= budget))
        taken += c[most++].count;
      while (taken > full && taken % full >= small) taken -= c[--most].count;
      const std::size_t ends[] = {most, least};
      for (std::size_t e = 0; e < (most == least ? 1u : 2u); ++e) {
        std::size_t end = ends[e];
        // Chunks of the run that overlap those taken (writes that arrived out of order across
        // seals) are taken too: left behind, they would keep the merged chunk from being alone.
        const Timestamp lo = c[i].tmin;  // the least: the list is sorted by tmin
        Timestamp hi = c[i].tmax;
        for (std::size_t x = i; x < end; ++x) hi = std::max(hi, c[x].tmax);
        for (; end < j && c[end].tmin <= hi; ++end) hi = std::max(hi, c[end].tmax);
        bool alone = true;
        for (std::size_t x = 0; x < n && alone; ++x)
          if ((x < i || x >= end) && overlaps(lo, hi, c[x].tmin, c[x].tmax)) alone = false;
        if (!alone) continue;
        const bool head = !s.head.empty() && overlaps(lo, hi, s.head.front().ts, s.head.back().ts);
        const bool sealing = s.sealing && !s.sealing->empty() &&
                             overlaps(lo, hi, s.sealing->front().ts, s.sealing->back().ts);
        if (!head && !sealing) return CompactionRun{id, list, i, end, k == 2, 0, {}};
        waits = true;
      }
    }
    i = j;
  }
  if (!waits) s.compaction_checked = list;
  return std::nullopt;
}

Status Store::encode_compaction_run(CompactionRun& run) const {
  std::vector<const ChunkRef*> chunks;
  for (std::size_t i = run.first; i < run.end; ++i) chunks.push_back(&(*run.list)[i]);
  auto merged = merge_chunks(std::move(chunks));
  if (!merged) return merged.error();
  run.points = merged->size();
  for (std::size_t at = 0; at < merged->size(); at += options_.chunk_max_points) {
    const std::span<const Sample> part(merged->data() + at,
                                       std::min(options_.chunk_max_points, merged->size() - at));
    run.encoded.push_back(
        CompactedChunk{ChunkMeta{run.series, part.front().ts, part.back().ts,
                                 static_cast<std::uint32_t>(part.size()), 0, 0},
                       std::make_shared<const std::vector<std::uint8_t>>(encode_chunk(part))});
  }
  return {};
}

bool Store::install_compaction_run(CompactionRun& run) {
  SeriesState& s = state(run.series);
  std::lock_guard lk(s.mu);
  const auto& now = *s.chunks;
  const auto& old = *run.list;
  Timestamp lo = old[run.first].tmin, hi = old[run.first].tmax;
  for (std::size_t i = run.first; i < run.end; ++i) {
    lo = std::min(lo, old[i].tmin);
    hi = std::max(hi, old[i].tmax);
  }
  // A chunk is its file and index, or, pending, its bytes.
  auto identity = [](const ChunkRef& c) {
    return std::pair<std::uint32_t, std::uintptr_t>(
        c.file, c.file == 0 ? reinterpret_cast<std::uintptr_t>(c.bytes.data()) : c.index);
  };
  std::vector<std::pair<std::uint32_t, std::uintptr_t>> ids;
  for (std::size_t i = run.first; i < run.end; ++i) ids.push_back(identity(old[i]));
  std::sort(ids.begin(), ids.end());
  // Every chunk of the run still there, and nothing else overlapping it.
  std::vector<bool> replaced(now.size(), false);
  std::size_t found = 0;
  for (std::size_t x = 0; x < now.size(); ++x) {
    if (std::binary_search(ids.begin(), ids.end(), identity(now[x]))) {
      replaced[x] = true;
      ++found;
    } else if (now[x].tmin <= hi && now[x].tmax >= lo) {
      return false;
    }
  }
  if (found != run.end - run.first) return false;
  if (!s.head.empty() && s.head.front().ts <= hi && s.head.back().ts >= lo) return false;
  if (s.sealing && !s.sealing->empty() && s.sealing->front().ts <= hi && s.sealing->back().ts >= lo)
    return false;

  auto list = std::make_shared<std::vector<ChunkRef>>();
  list->reserve(now.size() - found + run.encoded.size());
  for (std::size_t x = 0; x < now.size(); ++x)
    if (!replaced[x]) list->push_back(now[x]);
  if (run.in_files) {
    // Into the compaction file, written later; its number is taken now, so every file written
    // meanwhile (checkpoints) gets a higher one.
    if (compaction_file_ == 0) compaction_file_ = manifest_.next_file++;
    for (auto& e : run.encoded) {
      const auto index = static_cast<std::uint32_t>(compaction_out_.size());
      list->push_back(ChunkRef{e.meta.tmin, e.meta.tmax, e.meta.count,
                               precedence_of(compaction_file_, index), compaction_file_, index,
                               e.bytes, std::span<const std::uint8_t>(*e.bytes)});
      compaction_out_bytes_ += e.bytes->size();
      compaction_out_.push_back(e);
    }
    for (std::size_t i = run.first; i < run.end; ++i)
      compaction_retired_.emplace_back(old[i].file, old[i].index);
  } else {
    // Pending, like sealed chunks: the next checkpoint writes them.
    for (auto& e : run.encoded)
      list->push_back(ChunkRef{
          e.meta.tmin, e.meta.tmax, e.meta.count,
          precedence_of(manifest_.next_file, static_cast<std::uint32_t>(pending_counter_++)), 0, 0,
          e.bytes, std::span<const std::uint8_t>(*e.bytes)});
  }
  std::stable_sort(list->begin(), list->end(),
                   [](const ChunkRef& a, const ChunkRef& b) { return a.tmin < b.tmin; });
  s.chunks = std::move(list);
  return true;
}

Status Store::write_compaction_locked() {
  if (compaction_out_.empty()) return {};
  const std::uint32_t file = compaction_file_;
  std::vector<ChunkToWrite> writes;
  writes.reserve(compaction_out_.size());
  for (const auto& c : compaction_out_)
    writes.push_back(ChunkToWrite{c.meta, std::span<const std::uint8_t>(*c.bytes)});
  auto added = write_chunks(file, writes);
  if (!added) return added.error();
  Manifest next = manifest_;
  next.files[file];
  next.next_file = std::max(next.next_file, file + 1);
  std::vector<std::uint32_t> gone;
  retire_chunks(next, compaction_retired_, gone);
  if (auto s = next.write(dir_ / "MANIFEST"); !s) return s;
  manifest_ = std::move(next);
  remove_chunk_files(gone);
  // The series read the chunks from the file from now on (the memory goes with the last reader).
  for (auto& [id, refs] : *added) {
    auto& s = state(id);
    std::lock_guard lk(s.mu);
    auto list = std::make_shared<std::vector<ChunkRef>>(*s.chunks);
    for (auto& c : *list) {
      if (c.file != file) continue;
      for (const auto& r : refs)
        if (r.index == c.index) c = r;
    }
    s.chunks = std::move(list);
  }
  compaction_out_.clear();
  compaction_out_bytes_ = 0;
  compaction_retired_.clear();
  compaction_file_ = 0;
  return {};
}

SeriesSnapshot Store::snapshot(SeriesId series) const {
  SeriesSnapshot snap;
  snap.series = series;
  const SeriesState* s = state_if(series);
  if (!s) {
    snap.chunks = std::make_shared<const std::vector<ChunkRef>>();
    return snap;
  }
  std::lock_guard lk(s->mu);
  snap.chunks = s->chunks;
  snap.head = s->sealing ? merge_under(*s->sealing, s->head) : s->head;
  return snap;
}

StoreStats Store::stats() const {
  StoreStats st;
  st.series = registry_->size();
  for (SeriesId id = 0; id < st.series; ++id) {
    const SeriesState* s = state_if(id);
    if (!s) continue;
    std::lock_guard lk(s->mu);
    for (const auto& c : *s->chunks) {
      st.points += c.count;
      st.data_bytes += c.bytes.size();
      ++st.chunks;
    }
    const std::size_t head = s->head.size() + (s->sealing ? s->sealing->size() : 0);
    st.head_points += head;
    st.points += head;
  }
  st.wal_bytes = wal_->bytes();
  const DirectoryUsage usage = directory_usage(dir_);
  st.bytes_on_disk = usage.bytes;
  st.allocated_bytes = usage.allocated;
  return st;
}

}  // namespace strata::store

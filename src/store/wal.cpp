#include "store/wal.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/crc32c.hpp"
#include "store/byte_io.hpp"
#include "store/file_io.hpp"

namespace strata::store {
namespace {

constexpr std::uint8_t kSamplesRecord = 1;
constexpr std::uint8_t kPointsRecord = 2;
constexpr std::uint8_t kRunsRecord = 3;
constexpr std::uint32_t kMaxRecord = 256u << 20;

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t n) {
  char name[32];
  std::snprintf(name, sizeof name, "%08llu.wal", static_cast<unsigned long long>(n));
  return dir / name;
}

std::vector<std::uint64_t> list_segments(const std::filesystem::path& dir) {
  std::vector<std::uint64_t> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() != ".wal") continue;
    try {
      out.push_back(std::stoull(name));
    } catch (...) {
      spdlog::warn("wal: ignoring unexpected file {}", name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Decodes one record's payload; false when it does not parse (counted as damage).
bool replay_payload(std::span<const std::uint8_t> payload,
                    const WriteAheadLog::SamplesFn& on_samples,
                    const WriteAheadLog::PointsFn& on_points, Timestamp& last_ts) {
  ByteReader in(payload);
  const std::uint8_t type = in.u8();
  if (type == kSamplesRecord) {
    const auto series = in.varint();
    const auto n = in.varint();
    if (n > in.remaining() / 16 || series > UINT32_MAX) return false;
    std::vector<Sample> s(n);
    for (auto& x : s) {
      x.ts = static_cast<Timestamp>(in.u64());
      x.value = bits_double(in.u64());
    }
    if (in.failed()) return false;
    if (!s.empty()) last_ts = s.back().ts;
    on_samples(static_cast<SeriesId>(series), s);
    return true;
  }
  if (type == kRunsRecord) {
    const auto runs = in.varint();
    std::vector<Sample> s;
    for (std::uint64_t r = 0; r < runs; ++r) {
      const auto series = in.varint();
      const auto n = in.varint();
      if (in.failed() || n == 0 || n > in.remaining() / 9 || series > UINT32_MAX) return false;
      s.resize(n);
      s[0].ts = in.svarint();
      std::uint64_t delta = 0;
      for (std::uint64_t i = 1; i < n; ++i) {
        // wrapping arithmetic: corrupt input must not be undefined behaviour
        delta = i == 1 ? static_cast<std::uint64_t>(in.svarint())
                       : delta + static_cast<std::uint64_t>(in.svarint());
        s[i].ts = static_cast<Timestamp>(static_cast<std::uint64_t>(s[i - 1].ts) + delta);
      }
      for (auto& x : s) x.value = bits_double(in.u64());
      if (in.failed()) return false;
      last_ts = s.back().ts;
      on_samples(static_cast<SeriesId>(series), s);
    }
    return in.remaining() == 0;
  }
  if (type == kPointsRecord) {
    const auto n = in.varint();
    if (n > in.remaining() / 20) return false;
    std::vector<Point> p(n);
    for (auto& x : p) {
      x.series = in.u32();
      x.ts = static_cast<Timestamp>(in.u64());
      x.value = bits_double(in.u64());
    }
    if (in.failed()) return false;
    if (!p.empty()) last_ts = p.back().ts;
    on_points(p);
    return true;
  }
  return false;
}

bool record_at(std::span<const std::uint8_t> data, std::size_t pos,
               std::span<const std::uint8_t>& payload) {
  if (data.size() - pos < 8) return false;
  std::uint32_t len, crc;
  std::memcpy(&len, data.data() + pos, 4);
  std::memcpy(&crc, data.data() + pos + 4, 4);
  if (len == 0 || len > kMaxRecord || data.size() - pos - 8 < len) return false;
  payload = data.subspan(pos + 8, len);
  return crc32c(payload.data(), payload.size()) == crc;
}

}  // namespace

WriteAheadLog::WriteAheadLog(std::filesystem::path dir, WalOptions options)
    : dir_(std::move(dir)), options_(options) {}

Result<std::unique_ptr<WriteAheadLog>> WriteAheadLog::open(const std::filesystem::path& dir,
                                                           WalOptions options,
                                                           const SamplesFn& on_samples,
                                                           const PointsFn& on_points,
                                                           std::vector<WalDamage>& damage) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Error::of(io_errc::io,
                     "cannot create WAL directory '" + dir.string() + "': " + ec.message());
  std::unique_ptr<WriteAheadLog> wal(new WriteAheadLog(dir, options));
  const auto segments = list_segments(dir);
  std::uint64_t total = 0;
  for (std::size_t k = 0; k < segments.size(); ++k) {
    const auto path = segment_path(dir, segments[k]);
    auto data = read_file(path);
    if (!data) return data.error();
    const std::span<const std::uint8_t> bytes(*data);
    const bool last = k + 1 == segments.size();
    std::size_t pos = 0;
    Timestamp last_ts = kMinTimestamp;
    while (pos < bytes.size()) {
      std::span<const std::uint8_t> payload;
      if (record_at(bytes, pos, payload) &&
          replay_payload(payload, on_samples, on_points, last_ts)) {
        pos += 8 + payload.size();
        continue;
      }
      // Damage: find the next offset where a whole record checks.
      std::size_t next = pos + 1;
      while (next < bytes.size() && !record_at(bytes, next, payload)) ++next;
      WalDamage d{path.filename().string(), pos, next - pos, last && next >= bytes.size(), last_ts};
      if (d.torn_tail) {
        spdlog::warn(
            "wal: torn tail in {} at byte {} ({} bytes cut): the last write was interrupted",
            d.segment, pos, d.bytes);
        if (::truncate(path.c_str(), static_cast<off_t>(pos)) != 0)
          return Error::of(io_errc::io, "cannot cut torn WAL tail of '" + path.string() + "'");
      } else {
        spdlog::error(
            "wal: corrupt record in {} at byte {}: {} bytes skipped (points written after {} may "
            "be lost)",
            d.segment, pos, d.bytes,
            last_ts == kMinTimestamp ? std::string("the segment start") : std::to_string(last_ts));
      }
      damage.push_back(d);
      pos = next;
    }
    total += bytes.size();
    if (bytes.empty()) std::filesystem::remove(path, ec);  // nothing to keep
  }
  wal->bytes_ = total;
  const std::uint64_t next = segments.empty() ? 1 : segments.back() + 1;
  if (auto s = wal->open_segment(next); !s) return s.error();
  if (options.fsync == FsyncPolicy::interval)
    wal->syncer_ = std::thread([w = wal.get()] { w->sync_loop(); });
  return wal;
}

WriteAheadLog::~WriteAheadLog() {
  {
    std::lock_guard lk(sync_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (fd_ >= 0) {
    if (options_.fsync != FsyncPolicy::off) (void)sync_segment();
    ::close(fd_);
  }
}

Status WriteAheadLog::open_segment(std::uint64_t number) {
  const auto path = segment_path(dir_, number);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return Error::of(io_errc::io,
                     "cannot create WAL segment '" + path.string() + "': " + std::strerror(errno));
  std::lock_guard lk(sync_mu_);
  if (fd_ >= 0) {
    if (options_.fsync != FsyncPolicy::off) {
      if (auto s = sync_segment(); !s) {
        ::close(fd);
        return s;
      }
    }
    ::close(fd_);
  }
  fd_ = fd;
  segment_ = number;
  return sync_dir(dir_);
}

Status WriteAheadLog::write_record() {
  // buf_ holds 8 reserved bytes and the payload.
  const auto len = static_cast<std::uint32_t>(buf_.size() - 8);
  const std::uint32_t crc = crc32c(buf_.data() + 8, len);
  std::memcpy(buf_.data(), &len, 4);
  std::memcpy(buf_.data() + 4, &crc, 4);
  if (auto s = write_all(fd_, buf_.data(), buf_.size(), segment_path(dir_, segment_)); !s) return s;
  bytes_ += buf_.size();
  if (options_.fsync == FsyncPolicy::every_batch) {
    std::lock_guard lk(sync_mu_);
    return sync_segment();
  }
  dirty_ = true;
  return {};
}

Status WriteAheadLog::append(SeriesId series, std::span<const Sample> samples) {
  buf_.assign(8, 0);
  ByteWriter w(buf_);
  w.u8(kSamplesRecord);
  w.varint(series);
  w.varint(samples.size());
  const std::size_t at = buf_.size();
  buf_.resize(at + samples.size() * 16);
  std::uint8_t* p = buf_.data() + at;
  for (const Sample& s : samples) {
    std::memcpy(p, &s.ts, 8);
    std::memcpy(p + 8, &s.value, 8);
    p += 16;
  }
  return write_record();
}

Status WriteAheadLog::append(std::span<const Point> points) {
  buf_.assign(8, 0);
  buf_.reserve(8 + points.size() * 10 + 16);
  ByteWriter w(buf_);
  w.u8(kRunsRecord);
  std::size_t runs = 0;
  for (std::size_t i = 0; i < points.size(); ++runs)
    for (const SeriesId id = points[i].series; i < points.size() && points[i].series == id;) ++i;
  w.varint(runs);
  for (std::size_t i = 0; i < points.size();) {
    std::size_t end = i;
    while (end < points.size() && points[end].series == points[i].series) ++end;
    w.varint(points[i].series);
    w.varint(end - i);
    w.svarint(points[i].ts);
    std::uint64_t prev_delta = 0;
    for (std::size_t k = i + 1; k < end; ++k) {
      const std::uint64_t delta =
          static_cast<std::uint64_t>(points[k].ts) - static_cast<std::uint64_t>(points[k - 1].ts);
      w.svarint(static_cast<std::int64_t>(k == i + 1 ? delta : delta - prev_delta));
      prev_delta = delta;
    }
    for (std::size_t k = i; k < end; ++k) w.u64(double_bits(points[k].value));
    i = end;
  }
  return write_record();
}

Status WriteAheadLog::sync_segment() {
  if (options_.before_sync) {
    if (auto s = options_.before_sync(); !s) return s;
  }
  return sync_fd(fd_, segment_path(dir_, segment_));
}

Status WriteAheadLog::sync() {
  std::lock_guard lk(sync_mu_);
  dirty_ = false;
  return sync_segment();
}

void WriteAheadLog::sync_loop() {
  std::unique_lock lk(sync_mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lk, std::chrono::microseconds(options_.fsync_interval_us));
    if (stopping_) break;
    if (dirty_.exchange(false)) {
      if (auto s = sync_segment(); !s) spdlog::error("wal: {}", s.error().message);
    }
  }
}

Result<std::uint64_t> WriteAheadLog::rotate() {
  const std::uint64_t next = segment_ + 1;
  if (auto s = open_segment(next); !s) return s.error();
  return next;
}

Status WriteAheadLog::drop_before(std::uint64_t first_kept) {
  std::uint64_t freed = 0;
  for (std::uint64_t n : list_segments(dir_)) {
    if (n >= first_kept) continue;
    const auto path = segment_path(dir_, n);
    std::error_code ec;
    freed += std::filesystem::file_size(path, ec);
    if (!std::filesystem::remove(path, ec) && ec)
      return Error::of(io_errc::io,
                       "cannot delete WAL segment '" + path.string() + "': " + ec.message());
  }
  bytes_ -= std::min<std::uint64_t>(freed, bytes_);
  return sync_dir(dir_);
}

}  // namespace strata::store

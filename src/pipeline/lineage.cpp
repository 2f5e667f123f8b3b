#include "pipeline/lineage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/crc32c.hpp"

namespace strata::pipeline {

namespace {

constexpr Timestamp kHour = 3600 * kMicrosPerSecond;
constexpr std::size_t kFixed = 1 + 1 + 2 + 2 + 4 + 8 * 3;  // version .. ts_max

std::int64_t hour_of(Timestamp t) { return t >= 0 ? t / kHour : (t - kHour + 1) / kHour; }

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out.append(b, sizeof(T));
}
template <class T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string encode(const LineageEntry& e) {
  std::string body;
  const auto src = e.source.substr(0, 0xffff), msg = e.message_id.substr(0, 0xffff);
  put<std::uint8_t>(body, 1);
  put<std::uint8_t>(body, static_cast<std::uint8_t>(e.transport));
  put<std::uint16_t>(body, static_cast<std::uint16_t>(src.size()));
  put<std::uint16_t>(body, static_cast<std::uint16_t>(msg.size()));
  put<std::uint32_t>(body, e.points);
  put<std::int64_t>(body, e.received);
  put<std::int64_t>(body, e.ts_min);
  put<std::int64_t>(body, e.ts_max);
  body += src;
  body += msg;
  std::string rec;
  put<std::uint32_t>(rec, static_cast<std::uint32_t>(body.size() + 4));
  rec += body;
  put<std::uint32_t>(rec, crc32c(body.data(), body.size()));
  return rec;
}

}  // namespace

Result<std::unique_ptr<LineageLog>> LineageLog::open(const std::filesystem::path& dir,
                                                     Timestamp keep) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Error{1, "cannot create the lineage directory " + dir.string() + ": " + ec.message()};
  return std::unique_ptr<LineageLog>(new LineageLog(dir, keep));
}

LineageLog::LineageLog(std::filesystem::path dir, Timestamp keep)
    : dir_(std::move(dir)), keep_(keep) {
  writer_ = std::thread([this] { run(); });
}

LineageLog::~LineageLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
  if (fd_ >= 0) ::close(fd_);
}

void LineageLog::add(LineageEntry entry) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(entry));
    ++enqueued_;
  }
  cv_.notify_one();
}

void LineageLog::run() {
  std::vector<LineageEntry> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty() && stop_) return;
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    lock.unlock();
    write_batch(batch);
    lock.lock();
    written_ += batch.size();
    written_cv_.notify_all();
  }
}

void LineageLog::write_batch(const std::vector<LineageEntry>& batch) {
  std::string buf;
  auto flush_to_file = [&] {
    if (buf.empty() || fd_ < 0) return;
    std::size_t off = 0;
    while (off < buf.size()) {
      const ssize_t n = ::write(fd_, buf.data() + off, buf.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a full disk loses lineage, never data: the WAL is elsewhere
      off += static_cast<std::size_t>(n);
    }
    buf.clear();
  };
  for (const auto& e : batch) {
    const std::int64_t h = hour_of(e.received);
    if (h != fd_hour_) {
      flush_to_file();
      if (fd_ >= 0) ::close(fd_);
      const auto path = dir_ / (std::to_string(h) + ".lin");
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      fd_hour_ = h;
      drop_old_segments(e.received);
    }
    buf += encode(e);
  }
  flush_to_file();
}

void LineageLog::drop_old_segments(Timestamp now) {
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec)) {
    if (f.path().extension() != ".lin") continue;
    const std::string stem = f.path().stem().string();
    char* end = nullptr;
    const long long h = std::strtoll(stem.c_str(), &end, 10);
    if (end && *end == 0 && (h + 1) * kHour < now - keep_) std::filesystem::remove(f.path(), ec);
  }
}

void LineageLog::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = enqueued_;
  written_cv_.wait(lock, [&] { return written_ >= target; });
}

Result<LineageAnswer> LineageLog::query(const std::string& source, Timestamp from, Timestamp to,
                                        std::size_t limit) {
  flush();
  LineageAnswer answer;
  std::vector<std::pair<long long, std::filesystem::path>> segments;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec)) {
    if (f.path().extension() != ".lin") continue;
    char* end = nullptr;
    const std::string stem = f.path().stem().string();
    const long long h = std::strtoll(stem.c_str(), &end, 10);
    // Messages are received after their readings were taken (an hour of device clock skew
    // allowed): a segment that ends before `from` holds none of them.
    if (end && *end == 0 && (h + 2) * kHour >= from) segments.emplace_back(h, f.path());
  }
  std::sort(segments.begin(), segments.end());
  for (const auto& [h, path] : segments) {
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t off = 0;
    while (off + 4 <= data.size()) {
      const auto size = get<std::uint32_t>(data.data() + off);
      if (size < kFixed + 4 || off + 4 + size > data.size()) {
        answer.notes.push_back(path.filename().string() + ": torn record at byte " +
                               std::to_string(off));
        break;
      }
      const char* body = data.data() + off + 4;
      const std::size_t body_len = size - 4;
      if (get<std::uint32_t>(body + body_len) != crc32c(body, body_len) || body[0] != 1) {
        answer.notes.push_back(path.filename().string() + ": corrupt record at byte " +
                               std::to_string(off));
        break;
      }
      const auto src_len = get<std::uint16_t>(body + 2), msg_len = get<std::uint16_t>(body + 4);
      if (kFixed + src_len + msg_len != body_len) {
        answer.notes.push_back(path.filename().string() + ": bad record at byte " +
                               std::to_string(off));
        break;
      }
      off += 4 + size;
      if (std::string_view(body + kFixed, src_len) != source) continue;
      LineageEntry e;
      e.ts_min = get<std::int64_t>(body + 18);
      e.ts_max = get<std::int64_t>(body + 26);
      if (e.ts_max < from || e.ts_min > to) continue;
      if (answer.entries.size() == limit) {
        answer.truncated = true;
        return answer;
      }
      e.transport = static_cast<Transport>(static_cast<std::uint8_t>(body[1]));
      e.points = get<std::uint32_t>(body + 6);
      e.received = get<std::int64_t>(body + 10);
      e.source = source;
      e.message_id.assign(body + kFixed + src_len, msg_len);
      answer.entries.push_back(std::move(e));
    }
  }
  return answer;
}

}  // namespace strata::pipeline

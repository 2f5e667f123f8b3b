#include "detect/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/crc32c.hpp"
#include "detect/errc.hpp"

namespace strata::detect {

namespace {

constexpr std::uint8_t kMagic[4] = {'S', 'D', 'C', 'K'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeader = 16;
constexpr std::uint32_t kMaxPayload = 64u << 20;

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}
  template <class T>
  void put(T v) {
    const auto at = out_.size();
    out_.resize(at + sizeof v);
    std::memcpy(out_.data() + at, &v, sizeof v);
  }
  void str(const std::string& s) {
    const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(s.size(), 0xffff));
    put(n);
    out_.insert(out_.end(), s.begin(), s.begin() + n);
  }

 private:
  std::vector<std::uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  template <class T>
  bool get(T& v) {
    if (pos_ + sizeof v > in_.size()) return ok_ = false;
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  bool str(std::string& s) {
    std::uint16_t n = 0;
    if (!get(n) || pos_ + n > in_.size()) return ok_ = false;
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool bytes(std::vector<std::uint8_t>& b, std::size_t n) {
    if (pos_ + n > in_.size()) return ok_ = false;
    b.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
             in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool parse_payload(std::span<const std::uint8_t> payload, CheckpointRecord& r) {
  Reader in(payload);
  std::uint8_t kind = 0;
  in.get(kind);
  if (kind != 1 && kind != 2) return false;
  r.kind = static_cast<CheckpointRecord::Kind>(kind);
  if (r.kind == CheckpointRecord::Kind::series)
    in.get(r.series);
  else
    in.str(r.device);
  in.str(r.spec);
  in.str(r.version);
  in.get(r.last_ts);
  in.get(r.seen);
  std::uint8_t excursion = 0;
  in.get(excursion);
  if (excursion > 1) return false;
  r.in_excursion = excursion != 0;
  in.get(r.calm);
  if (r.kind == CheckpointRecord::Kind::machine) {
    std::uint16_t n = 0;
    in.get(n);
    for (std::uint16_t i = 0; in.ok() && i < n; ++i) {
      CheckpointRecord::Signal s;
      std::uint8_t fresh = 0;
      in.str(s.metric);
      in.get(s.series);
      in.get(fresh);
      in.get(s.ts);
      in.get(s.value);
      if (fresh > 1) return false;
      s.fresh = fresh != 0;
      r.signals.push_back(std::move(s));
    }
  }
  std::uint32_t frame = 0;
  in.get(frame);
  if (in.ok()) in.bytes(r.frame, frame);
  return in.ok() && in.at_end();
}

Error io_error(const std::string& what, const std::filesystem::path& p) {
  return Error::of(errc::io, what + " " + p.string() + ": " + std::strerror(errno));
}

}  // namespace

void append_record(std::vector<std::uint8_t>& out, const CheckpointRecord& r) {
  std::vector<std::uint8_t> payload;
  Writer w(payload);
  w.put(static_cast<std::uint8_t>(r.kind));
  if (r.kind == CheckpointRecord::Kind::series)
    w.put(r.series);
  else
    w.str(r.device);
  w.str(r.spec);
  w.str(r.version);
  w.put(r.last_ts);
  w.put(r.seen);
  w.put(static_cast<std::uint8_t>(r.in_excursion ? 1 : 0));
  w.put(r.calm);
  if (r.kind == CheckpointRecord::Kind::machine) {
    w.put(static_cast<std::uint16_t>(r.signals.size()));
    for (const auto& s : r.signals) {
      w.str(s.metric);
      w.put(s.series);
      w.put(static_cast<std::uint8_t>(s.fresh ? 1 : 0));
      w.put(s.ts);
      w.put(s.value);
    }
  }
  w.put(static_cast<std::uint32_t>(r.frame.size()));
  payload.insert(payload.end(), r.frame.begin(), r.frame.end());
  Writer head(out);
  head.put(static_cast<std::uint32_t>(payload.size()));
  head.put(crc32c(payload.data(), payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
}

std::vector<std::uint8_t> checkpoint_bytes(Timestamp written,
                                           std::span<const std::uint8_t> records) {
  std::vector<std::uint8_t> out(kMagic, kMagic + 4);
  Writer w(out);
  w.put(kVersion);
  w.put(std::uint8_t{0});
  w.put(std::uint16_t{0});
  w.put(written);
  out.insert(out.end(), records.begin(), records.end());
  return out;
}

Result<CheckpointContents> read_checkpoint(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, 4) != 0)
    return Error::of(errc::corrupt, "not a detector checkpoint (no SDCK header)");
  if (bytes[4] != kVersion)
    return Error::of(errc::corrupt, "detector checkpoint of format version " +
                                        std::to_string(bytes[4]) + "; this build reads version " +
                                        std::to_string(kVersion));
  CheckpointContents c;
  std::memcpy(&c.written, bytes.data() + 8, 8);
  std::size_t pos = kHeader;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 8) {
      c.torn = true;
      break;
    }
    std::uint32_t len = 0, crc = 0;
    std::memcpy(&len, bytes.data() + pos, 4);
    std::memcpy(&crc, bytes.data() + pos + 4, 4);
    if (len > kMaxPayload || len > bytes.size() - pos - 8) {
      c.torn = true;
      break;
    }
    const auto payload = bytes.subspan(pos + 8, len);
    pos += 8 + len;
    CheckpointRecord r;
    if (crc32c(payload.data(), payload.size()) != crc || !parse_payload(payload, r)) {
      ++c.damaged;
      continue;
    }
    c.records.push_back(std::move(r));
  }
  return c;
}

Status write_checkpoint_file(const std::filesystem::path& path,
                             std::span<const std::uint8_t> bytes) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", tmp);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto e = io_error("cannot write", tmp);
      ::close(fd);
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto e = io_error("cannot fsync", tmp);
    ::close(fd);
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot rename into", path);
  const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<CheckpointContents> load_checkpoint_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return CheckpointContents{};
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot read", path);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  return read_checkpoint(bytes);
}

}  // namespace strata::detect

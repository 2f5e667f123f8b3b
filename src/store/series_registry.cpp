#include "store/series_registry.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "core/crc32c.hpp"
#include "store/byte_io.hpp"
#include "store/file_io.hpp"

namespace strata::store {

std::string SeriesRegistry::canonical(const SeriesKey& key) {
  std::string s;
  auto add = [&](const std::string& x) {
    s += std::to_string(x.size());
    s += ':';
    s += x;
  };
  add(key.device);
  add(key.metric);
  for (const auto& [k, v] : key.tags) {
    add(k);
    add(v);
  }
  return s;
}

void SeriesRegistry::index(SeriesId id, const SeriesKey& key) {
  ids_.emplace(canonical(key), id);
  postings_[{"device", key.device}].push_back(id);
  postings_[{"metric", key.metric}].push_back(id);
  for (const auto& [k, v] : key.tags) postings_[{k, v}].push_back(id);
}

Result<std::unique_ptr<SeriesRegistry>> SeriesRegistry::open(const std::filesystem::path& file) {
  std::unique_ptr<SeriesRegistry> r(new SeriesRegistry());
  r->file_ = file;
  if (std::filesystem::exists(file)) {
    auto data = read_file(file);
    if (!data) return data.error();
    const std::span<const std::uint8_t> bytes(*data);
    std::size_t pos = 0;
    while (pos + 8 <= bytes.size()) {
      std::uint32_t len, crc;
      std::memcpy(&len, bytes.data() + pos, 4);
      std::memcpy(&crc, bytes.data() + pos + 4, 4);
      if (len > bytes.size() - pos - 8 || crc32c(bytes.data() + pos + 8, len) != crc) break;
      ByteReader in(bytes.subspan(pos + 8, len));
      const auto id = in.varint();
      SeriesKey key;
      key.device = in.str();
      key.metric = in.str();
      const auto n = in.varint();
      for (std::uint64_t i = 0; i < n && !in.failed(); ++i) {
        std::string k = in.str();
        std::string v = in.str();
        key.tags.emplace_back(std::move(k), std::move(v));
      }
      if (in.failed() || id != r->keys_.size()) break;
      r->index(static_cast<SeriesId>(id), key);
      r->keys_.push_back(std::move(key));
      pos += 8 + len;
    }
    if (pos != bytes.size()) {
      // A torn write damages only the tail. A record that checks after the damage means the file
      // is corrupt in the middle: cutting there would drop the registrations after it and hand
      // their ids to new series, which would then own the old series' chunks.
      for (std::size_t next = pos + 1; next + 8 <= bytes.size(); ++next) {
        std::uint32_t len, crc;
        std::memcpy(&len, bytes.data() + next, 4);
        std::memcpy(&crc, bytes.data() + next + 4, 4);
        if (len > 0 && len <= bytes.size() - next - 8 &&
            crc32c(bytes.data() + next + 8, len) == crc)
          return Error::of(io_errc::corrupt, "series registry '" + file.string() +
                                                 "' is corrupt at byte " + std::to_string(pos) +
                                                 " and has intact registrations after it; " +
                                                 "restore it from a backup (it was left as it is)");
      }
      spdlog::warn("series registry: {} bytes after byte {} of {} do not check (torn write); cut",
                   bytes.size() - pos, pos, file.string());
      if (::truncate(file.c_str(), static_cast<off_t>(pos)) != 0)
        return Error::of(io_errc::io, "cannot cut the torn tail of '" + file.string() + "'");
    }
  }
  r->fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (r->fd_ < 0)
    return Error::of(io_errc::io, "cannot open '" + file.string() + "': " + std::strerror(errno));
  return r;
}

SeriesRegistry::~SeriesRegistry() {
  if (fd_ >= 0) ::close(fd_);
}

Result<SeriesId> SeriesRegistry::resolve(SeriesKey key) {
  key.normalise();
  const std::string c = canonical(key);
  {
    std::shared_lock lk(mu_);
    if (auto it = ids_.find(c); it != ids_.end()) return it->second;
  }
  std::unique_lock lk(mu_);
  if (auto it = ids_.find(c); it != ids_.end()) return it->second;
  const auto id = static_cast<SeriesId>(keys_.size());
  std::vector<std::uint8_t> rec(8, 0);
  ByteWriter w(rec);
  w.varint(id);
  w.str(key.device);
  w.str(key.metric);
  w.varint(key.tags.size());
  for (const auto& [k, v] : key.tags) {
    w.str(k);
    w.str(v);
  }
  const auto len = static_cast<std::uint32_t>(rec.size() - 8);
  const std::uint32_t crc = crc32c(rec.data() + 8, len);
  std::memcpy(rec.data(), &len, 4);
  std::memcpy(rec.data() + 4, &crc, 4);
  if (auto s = write_all(fd_, rec.data(), rec.size(), file_); !s) return s.error();
  dirty_ = true;
  index(id, key);
  keys_.push_back(std::move(key));
  return id;
}

Status SeriesRegistry::sync() {
  std::unique_lock lk(mu_);
  if (!dirty_) return {};
  dirty_ = false;
  return sync_fd(fd_, file_);
}

std::optional<SeriesId> SeriesRegistry::find(const SeriesKey& key) const {
  SeriesKey k = key;
  k.normalise();
  std::shared_lock lk(mu_);
  if (auto it = ids_.find(canonical(k)); it != ids_.end()) return it->second;
  return std::nullopt;
}

std::optional<SeriesKey> SeriesRegistry::key(SeriesId id) const {
  std::shared_lock lk(mu_);
  if (id >= keys_.size()) return std::nullopt;
  return keys_[id];
}

std::size_t SeriesRegistry::size() const {
  std::shared_lock lk(mu_);
  return keys_.size();
}

std::vector<SeriesId> SeriesRegistry::with(const std::string& field,
                                           const std::string& value) const {
  std::shared_lock lk(mu_);
  if (auto it = postings_.find({field, value}); it != postings_.end()) return it->second;
  return {};
}

std::vector<SeriesKey> SeriesRegistry::keys() const {
  std::shared_lock lk(mu_);
  return keys_;
}

}  // namespace strata::store

#include "store/chunk_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "core/crc32c.hpp"
#include "store/byte_io.hpp"
#include "store/chunk.hpp"

namespace strata::store {
namespace {
constexpr std::uint32_t kChunksMagic = 0x31464353;    // "SCF1"
constexpr std::uint32_t kIndexMagic = 0x31494353;     // "SCI1"
constexpr std::uint32_t kManifestMagic = 0x31464D53;  // "SMF1"

std::string numbered(std::uint32_t file, const char* ext) {
  char name[32];
  std::snprintf(name, sizeof name, "%08u.%s", file, ext);
  return name;
}

Error corrupt(const std::string& what) { return Error::of(io_errc::corrupt, what); }
}  // namespace

std::filesystem::path chunk_file_path(const std::filesystem::path& dir, std::uint32_t file) {
  return dir / numbered(file, "chunks");
}
std::filesystem::path chunk_index_path(const std::filesystem::path& dir, std::uint32_t file) {
  return dir / numbered(file, "index");
}

Status write_chunk_file(const std::filesystem::path& dir, std::uint32_t file,
                        std::vector<ChunkToWrite>& chunks) {
  std::vector<std::uint8_t> data;
  std::size_t total = 4;
  for (const auto& c : chunks) total += 8 + c.bytes.size();
  data.reserve(total);
  ByteWriter w(data);
  w.u32(kChunksMagic);
  for (auto& c : chunks) {
    w.u32(c.meta.series);
    w.u32(static_cast<std::uint32_t>(c.bytes.size()));
    c.meta.offset = data.size();
    c.meta.length = static_cast<std::uint32_t>(c.bytes.size());
    w.bytes(c.bytes);
  }
  std::vector<std::uint8_t> index;
  ByteWriter iw(index);
  iw.u32(kIndexMagic);
  iw.varint(chunks.size());
  for (const auto& c : chunks) {
    iw.varint(c.meta.series);
    iw.svarint(c.meta.tmin);
    iw.varint(static_cast<std::uint64_t>(c.meta.tmax - c.meta.tmin));
    iw.varint(c.meta.count);
    iw.varint(c.meta.offset);
    iw.varint(c.meta.length);
  }
  iw.u32(crc32c(index.data(), index.size()));
  // The data first, then the index: an index never names bytes that are not durable.
  for (auto [path, bytes] : {std::pair{chunk_file_path(dir, file), &data},
                             std::pair{chunk_index_path(dir, file), &index}}) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      return Error::of(io_errc::io,
                       "cannot create '" + path.string() + "': " + std::strerror(errno));
    Status s = write_all(fd, bytes->data(), bytes->size(), path);
    if (s) s = sync_fd(fd, path);
    ::close(fd);
    if (!s) return s;
  }
  return sync_dir(dir);
}

Result<std::vector<ChunkMeta>> read_chunk_index(const std::filesystem::path& dir,
                                                std::uint32_t file) {
  const auto path = chunk_index_path(dir, file);
  auto data = read_file(path);
  if (!data) return data.error();
  if (data->size() < 8) return corrupt("index '" + path.string() + "' is truncated");
  std::uint32_t stored;
  std::memcpy(&stored, data->data() + data->size() - 4, 4);
  if (crc32c(data->data(), data->size() - 4) != stored)
    return corrupt("index '" + path.string() + "' fails its checksum");
  ByteReader in(std::span<const std::uint8_t>(*data).first(data->size() - 4));
  if (in.u32() != kIndexMagic) return corrupt("index '" + path.string() + "' has a bad magic");
  const auto n = in.varint();
  std::vector<ChunkMeta> out;
  for (std::uint64_t i = 0; i < n && !in.failed(); ++i) {
    ChunkMeta m;
    m.series = static_cast<SeriesId>(in.varint());
    m.tmin = in.svarint();
    m.tmax = m.tmin + static_cast<Timestamp>(in.varint());
    m.count = static_cast<std::uint32_t>(in.varint());
    m.offset = in.varint();
    m.length = static_cast<std::uint32_t>(in.varint());
    out.push_back(m);
  }
  if (in.failed()) return corrupt("index '" + path.string() + "' is malformed");
  return out;
}

std::vector<ChunkMeta> scan_chunk_file(std::span<const std::uint8_t> file,
                                       std::uint64_t& stopped_at,
                                       std::vector<SkippedChunk>& skipped) {
  std::vector<ChunkMeta> out;
  std::uint64_t pos = 4;
  std::uint32_t magic = 0;
  if (file.size() >= 4) std::memcpy(&magic, file.data(), 4);
  if (magic != kChunksMagic) {
    stopped_at = 0;
    return out;
  }
  // The chunk framed at pos, if it checks.
  auto chunk_at = [&](std::uint64_t at, std::uint32_t& series,
                      std::uint32_t& len) -> std::optional<std::vector<Sample>> {
    if (at + 8 > file.size()) return std::nullopt;
    std::memcpy(&series, file.data() + at, 4);
    std::memcpy(&len, file.data() + at + 4, 4);
    if (len > file.size() - at - 8) return std::nullopt;
    auto samples = decode_chunk(file.subspan(at + 8, len));
    if (!samples || samples->empty()) return std::nullopt;
    return std::move(*samples);
  };
  while (pos + 8 <= file.size()) {
    std::uint32_t series = 0, len = 0;
    if (auto samples = chunk_at(pos, series, len)) {
      out.push_back(ChunkMeta{series, samples->front().ts, samples->back().ts,
                              static_cast<std::uint32_t>(samples->size()), pos + 8, len});
      pos += 8 + len;
      continue;
    }
    // A damaged chunk whose frame still leads to the end or to a chunk that checks is skipped.
    const std::uint64_t next = pos + 8 + len;
    std::uint32_t s2, l2;
    if (pos + 8 <= file.size() && len <= file.size() - pos - 8 &&
        (next == file.size() || chunk_at(next, s2, l2))) {
      skipped.push_back(SkippedChunk{series, pos});
      pos = next;
      continue;
    }
    break;
  }
  stopped_at = pos;
  return out;
}

Result<Manifest> Manifest::read(const std::filesystem::path& path) {
  auto data = read_file(path);
  if (!data) return data.error();
  if (data->size() < 8) return corrupt("MANIFEST is truncated");
  std::uint32_t stored;
  std::memcpy(&stored, data->data() + data->size() - 4, 4);
  if (crc32c(data->data(), data->size() - 4) != stored)
    return corrupt("MANIFEST fails its checksum");
  ByteReader in(std::span<const std::uint8_t>(*data).first(data->size() - 4));
  Manifest m;
  if (in.u32() != kManifestMagic) return corrupt("MANIFEST has a bad magic");
  m.next_file = static_cast<std::uint32_t>(in.varint());
  const auto n = in.varint();
  for (std::uint64_t i = 0; i < n && !in.failed(); ++i) {
    auto& dead = m.files[static_cast<std::uint32_t>(in.varint())];
    const auto nd = in.varint();
    for (std::uint64_t k = 0; k < nd && !in.failed(); ++k)
      dead.insert(static_cast<std::uint32_t>(in.varint()));
  }
  if (in.failed()) return corrupt("MANIFEST is malformed");
  return m;
}

Status Manifest::write(const std::filesystem::path& path) const {
  std::vector<std::uint8_t> out;
  ByteWriter w(out);
  w.u32(kManifestMagic);
  w.varint(next_file);
  w.varint(files.size());
  for (const auto& [file, dead] : files) {
    w.varint(file);
    w.varint(dead.size());
    for (auto d : dead) w.varint(d);
  }
  w.u32(crc32c(out.data(), out.size()));
  return write_file_atomic(path, out);
}

}  // namespace strata::store

#pragma once
// ChunkFile: an immutable file of sealed chunks written at a checkpoint, and its index; and the
// Manifest that says which chunk files are live and which of their chunks were deleted.
//
// chunks/NNNNNNNN.chunks:  u32 magic "SCF1", then per chunk: u32 series, u32 length, the chunk
//                          (chunk.hpp; it ends with its own CRC-32C)
// chunks/NNNNNNNN.index:   u32 magic "SCI1", varint n, n × (varint series, zz-varint tmin,
//                          varint tmax − tmin, varint count, varint offset of the chunk bytes,
//                          varint length), u32 CRC-32C of everything before it
// MANIFEST:                u32 magic "SMF1", varint next_file, varint n_files,
//                          n × (varint file, varint n_dead, n_dead × varint chunk index),
//                          u32 CRC-32C; replaced atomically (write, fsync, rename)
// A chunk's precedence (which write wins on equal timestamps) is (file << 32 | index): files are
// numbered in the order they are written.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "store/file_io.hpp"

namespace strata::store {

// Where a chunk lives and what it covers.
struct ChunkMeta {
  SeriesId series = 0;
  Timestamp tmin = 0, tmax = 0;
  std::uint32_t count = 0;
  std::uint64_t offset = 0;  // of the chunk bytes in the .chunks file
  std::uint32_t length = 0;
};

// A chunk to be written: its series and encoded bytes.
struct ChunkToWrite {
  ChunkMeta meta;
  std::span<const std::uint8_t> bytes;
};

std::filesystem::path chunk_file_path(const std::filesystem::path& dir, std::uint32_t file);
std::filesystem::path chunk_index_path(const std::filesystem::path& dir, std::uint32_t file);

// Writes the .chunks file and then its .index, both fsynced. Fills in offsets.
Status write_chunk_file(const std::filesystem::path& dir, std::uint32_t file,
                        std::vector<ChunkToWrite>& chunks);

// Reads an index; an error when it is missing or does not check.
Result<std::vector<ChunkMeta>> read_chunk_index(const std::filesystem::path& dir,
                                                std::uint32_t file);

// A damaged chunk that a scan stepped over by its frame: its series and byte offset.
struct SkippedChunk {
  SeriesId series;
  std::uint64_t offset;
};

// Rebuilds the index of a .chunks file from its framed records. A damaged chunk whose frame
// leads to a chunk that checks (or to the end) is skipped and listed; the scan stops where the
// framing itself is lost: `stopped_at` (the file size when it read to the end).
std::vector<ChunkMeta> scan_chunk_file(std::span<const std::uint8_t> file,
                                       std::uint64_t& stopped_at,
                                       std::vector<SkippedChunk>& skipped);

struct Manifest {
  std::uint32_t next_file = 1;
  std::map<std::uint32_t, std::set<std::uint32_t>> files;  // live file → deleted chunk indexes

  static Result<Manifest> read(const std::filesystem::path& path);
  Status write(const std::filesystem::path& path) const;
};

}  // namespace strata::store

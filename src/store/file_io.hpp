#pragma once
// Thin POSIX file helpers of the store: whole writes, fsync of files and directories, atomic
// replacement, and read-only memory maps shared by readers (a map stays valid after the file is
// unlinked, so a reader's snapshot outlives compaction).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace strata::store {

enum class io_errc { io = 1, corrupt };

Status write_all(int fd, const void* data, std::size_t size, const std::filesystem::path& what);
Status sync_fd(int fd, const std::filesystem::path& what);
Status sync_dir(const std::filesystem::path& dir);
// Writes `bytes` to path via a temporary file, fsync and rename; then syncs the directory.
Status write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);
Result<std::vector<std::uint8_t>> read_file(const std::filesystem::path& path);

// A read-only view of a whole file, kept alive by shared ownership.
class MappedFile {
 public:
  static Result<std::shared_ptr<const MappedFile>> open(const std::filesystem::path& path);
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// What a directory takes, in one walk.
struct DirectoryUsage {
  std::uint64_t bytes = 0;      // sizes of the regular files under it ("bytes on disk" in Strata)
  std::uint64_t allocated = 0;  // blocks allocated for it and everything under it (`du -s`)
};
DirectoryUsage directory_usage(const std::filesystem::path& dir);

}  // namespace strata::store

#include "store/file_io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace strata::store {
namespace {
Error io_error(const std::string& what, const std::filesystem::path& p) {
  return Error::of(io_errc::io, what + " '" + p.string() + "': " + std::strerror(errno));
}
}  // namespace

Status write_all(int fd, const void* data, std::size_t size, const std::filesystem::path& what) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", what);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

Status sync_fd(int fd, const std::filesystem::path& what) {
  if (::fdatasync(fd) != 0) return io_error("cannot sync", what);
  return {};
}

Status sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return io_error("cannot open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot sync directory", dir);
  return {};
}

Status write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", tmp);
  Status s = write_all(fd, bytes.data(), bytes.size(), tmp);
  if (s) s = sync_fd(fd, tmp);
  ::close(fd);
  if (!s) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot rename to", path);
  return sync_dir(path.parent_path());
}

Result<std::vector<std::uint8_t>> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return io_error("cannot read", path);
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return io_error("cannot stat", path);
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->size_ = static_cast<std::size_t>(st.st_size);
  if (m->size_ > 0) {
    void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return io_error("cannot map", path);
    }
    m->data_ = static_cast<const std::uint8_t*>(p);
  }
  ::close(fd);
  return std::shared_ptr<const MappedFile>(std::move(m));
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

DirectoryUsage directory_usage(const std::filesystem::path& dir) {
  DirectoryUsage usage;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0)
    usage.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    usage.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
    if (S_ISREG(st.st_mode)) usage.bytes += static_cast<std::uint64_t>(st.st_size);
  }
  return usage;
}

}  // namespace strata::store

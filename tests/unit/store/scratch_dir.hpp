#pragma once
// ScratchDir: a fresh directory under the system temp directory for one test, removed with
// everything in it when the test ends; and the few file surgeries the store tests perform on the
// files a store left behind (flip a bit, cut a file, read and write whole files).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace strata::store::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    for (;;) {
      path_ = std::filesystem::temp_directory_path() / ("strata-test-" + std::to_string(rng()));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<std::uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << p;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << p;
}

inline void flip_bit(const std::filesystem::path& p, std::uint64_t offset, unsigned bit = 0) {
  auto bytes = file_bytes(p);
  ASSERT_LT(offset, bytes.size()) << p;
  bytes[offset] ^= static_cast<std::uint8_t>(1u << bit);
  write_bytes(p, bytes);
}

inline void cut_file(const std::filesystem::path& p, std::uint64_t size) {
  std::filesystem::resize_file(p, size);
}

// The files of a directory with the given extension (".wal", ".chunks"), sorted by name.
inline std::vector<std::filesystem::path> files_with_extension(const std::filesystem::path& dir,
                                                               const std::string& ext) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace strata::store::testing

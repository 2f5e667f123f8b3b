// Fuzzes WAL replay: an arbitrary segment file must replay what checks and report the rest as
// damage, never crash. The replayed samples are checked for the record invariants.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/wal.hpp"

using namespace strata;
using namespace strata::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("strata-wal-fuzz-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "00000001.wal", std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::size_t replayed = 0;
  std::vector<WalDamage> damage;
  auto wal = WriteAheadLog::open(
      dir, WalOptions{FsyncPolicy::off, 100'000, {}},
      [&](SeriesId, std::span<const Sample> s) { replayed += s.size(); },
      [&](std::span<const Point> p) { replayed += p.size(); }, damage);
  if (!wal) std::abort();  // damage is reported, never a failure to open
  for (const auto& d : damage)
    if (d.bytes == 0 || d.offset + d.bytes > size) std::abort();
  if (replayed * 16 > size) std::abort();  // each point costs at least 16 bytes of record
  wal->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

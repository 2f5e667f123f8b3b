#pragma once
// What the Store tests share: opening a store with test options (no fsync: the tests do not
// crash the machine), registering series, reading a series back through a RangeCursor (checking
// that every batch is strictly ordered and within the range) and comparing samples bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/query.hpp"
#include "store/store.hpp"

namespace strata::store::testing {

inline StoreOptions test_options(std::size_t chunk_max_points = 8192) {
  StoreOptions o;
  o.fsync = FsyncPolicy::off;
  o.chunk_max_points = chunk_max_points;
  return o;
}

inline std::unique_ptr<Store> open_store(const std::filesystem::path& dir,
                                         const StoreOptions& options) {
  auto s = Store::open(dir, options);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

inline SeriesKey series_key(std::string device, std::string metric,
                            std::vector<std::pair<std::string, std::string>> tags = {}) {
  return SeriesKey{std::move(device), std::move(metric), std::move(tags)};
}

inline SeriesId must_resolve(Store& store, const SeriesKey& key) {
  auto id = store.resolve(key);
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
  return id ? *id : 0;
}

// Everything a RangeCursor yields over [from, to], in batches of `batch`; every batch must be
// strictly increasing (and continue the previous one) and inside the range.
inline std::vector<Sample> read_range(const SeriesSnapshot& snap, Timestamp from, Timestamp to,
                                      std::size_t batch = 4096) {
  RangeCursor cursor(snap, from, to);
  std::vector<Sample> out, b;
  while (cursor.next(b, batch)) {
    EXPECT_LE(b.size(), batch);
    for (const Sample& s : b) {
      EXPECT_TRUE(out.empty() || s.ts > out.back().ts) << "out of order at " << s.ts;
      EXPECT_GE(s.ts, from);
      EXPECT_LE(s.ts, to);
      out.push_back(s);
    }
  }
  EXPECT_TRUE(cursor.status().ok()) << cursor.status().error().message;
  return out;
}

inline std::vector<Sample> read_all(const Store& store, SeriesId id, std::size_t batch = 4096) {
  return read_range(store.snapshot(id), kMinTimestamp, kMaxTimestamp, batch);
}

inline std::vector<Sample> to_samples(const std::map<Timestamp, double>& m) {
  std::vector<Sample> out;
  for (auto [ts, v] : m) out.push_back({ts, v});
  return out;
}

inline bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// got == want exactly (timestamps and value bits); reports the first difference.
inline ::testing::AssertionResult same_samples(const std::vector<Sample>& got,
                                               const std::vector<Sample>& want) {
  const std::size_t n = std::min(got.size(), want.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (got[i].ts != want[i].ts || !same_bits(got[i].value, want[i].value))
      return ::testing::AssertionFailure()
             << "sample " << i << ": got (" << got[i].ts << ", " << got[i].value << ") want ("
             << want[i].ts << ", " << want[i].value << ")";
  }
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << "got " << got.size() << " samples, want " << want.size()
           << (got.size() > n    ? "; first extra ts " + std::to_string(got[n].ts)
               : want.size() > n ? "; first missing ts " + std::to_string(want[n].ts)
                                 : std::string());
  return ::testing::AssertionSuccess();
}

}  // namespace strata::store::testing

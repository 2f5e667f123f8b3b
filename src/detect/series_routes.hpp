#pragma once
// SeriesRoutes: what the shard threads ask for every stored point — does this series have a
// detector, and which detection worker owns it — in one lock-free lookup. Series ids are dense
// (the store hands them out in order), so the table is an array indexed by id, in chunks of 64 Ki
// entries allocated on first use; the chunk pointers and entries are atomics, so readers never
// lock and a writer (the stage, resolving a series once, or forgetting a device's series when it
// changes) never blocks them.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/types.hpp"

namespace strata::detect {

class SeriesRoutes {
  using Entry = std::atomic<std::uint32_t>;

 public:
  static constexpr std::uint32_t kUnresolved = 0;   // not looked at yet (or to look at again)
  static constexpr std::uint32_t kNone = 1;         // no detector: skip
  static constexpr std::uint32_t kFirstWorker = 2;  // worker w is kFirstWorker + w

  SeriesRoutes() : chunks_(std::make_unique<std::atomic<Entry*>[]>(kChunks)) {}
  SeriesRoutes(const SeriesRoutes&) = delete;
  SeriesRoutes& operator=(const SeriesRoutes&) = delete;

  // Any thread, never blocks: two atomic loads.
  [[nodiscard]] std::uint32_t get(SeriesId id) const {
    const auto* chunk = chunks_[id >> kChunkBits].load(std::memory_order_acquire);
    return chunk ? chunk[id & kChunkMask].load(std::memory_order_relaxed) : kUnresolved;
  }
  // Any thread; allocates the series' chunk on first use (under a lock: the slow path).
  void set(SeriesId id, std::uint32_t route) {
    auto& slot = chunks_[id >> kChunkBits];
    Entry* chunk = slot.load(std::memory_order_acquire);
    if (!chunk) {
      std::lock_guard lock(alloc_mu_);
      chunk = slot.load(std::memory_order_acquire);
      if (!chunk) {
        owned_.push_back(std::make_unique<Entry[]>(kChunkSize));  // zero: kUnresolved
        chunk = owned_.back().get();
        slot.store(chunk, std::memory_order_release);
      }
    }
    chunk[id & kChunkMask].store(route, std::memory_order_relaxed);
  }

 private:
  static constexpr unsigned kChunkBits = 16;
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;
  static constexpr std::uint32_t kChunkMask = kChunkSize - 1;
  static constexpr std::size_t kChunks = (std::size_t{1} << 32) >> kChunkBits;
  std::unique_ptr<std::atomic<Entry*>[]> chunks_;  // 512 KiB of pointers, null until used
  std::mutex alloc_mu_;
  std::vector<std::unique_ptr<Entry[]>> owned_;  // the chunks, freed with the table
};

}  // namespace strata::detect

#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace strata::server {

// Byte strings to series ids, for the line-protocol hot path: open addressing on a 64-bit hash
// (8 bytes a step), the keys in one arena, so a probe reads one slot and compares the key only
// when the whole hash matches; no node to chase, no allocation per key.
class SeriesIdTable {
 public:
  static std::uint64_t hash(std::string_view key) {
    constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ull;
    std::uint64_t h = key.size() * kMul;
    std::size_t i = 0;
    auto mix = [&](std::uint64_t w) {
      h = (h ^ w) * kMul;
      h ^= h >> 29;
    };
    for (; i + 8 <= key.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, key.data() + i, 8);
      mix(w);
    }
    if (i < key.size()) {
      std::uint64_t w = 0;
      std::memcpy(&w, key.data() + i, key.size() - i);
      mix(w);
    }
    return h ^ (h >> 32);
  }

  [[nodiscard]] std::optional<SeriesId> find(std::string_view key, std::uint64_t h) const {
    if (slots_.empty()) return std::nullopt;
    for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
      const Slot& s = slots_[i];
      if (!s.used) return std::nullopt;
      if (s.hash == h && key == std::string_view(arena_).substr(s.offset, s.length)) return s.id;
    }
  }

  void insert(std::string_view key, std::uint64_t h, SeriesId id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    std::size_t i = h & mask();
    while (slots_[i].used) i = (i + 1) & mask();
    slots_[i] = Slot{h, arena_.size(), key.size(), id, true};
    arena_.append(key);
    ++size_;
  }

  void clear() {
    slots_.clear();
    arena_.clear();
    size_ = 0;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::size_t offset = 0, length = 0;
    SeriesId id = 0;
    bool used = false;
  };
  [[nodiscard]] std::size_t mask() const { return slots_.size() - 1; }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    for (const Slot& s : old) {
      if (!s.used) continue;
      std::size_t i = s.hash & mask();
      while (slots_[i].used) i = (i + 1) & mask();
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;  // a power of two, at most half full
  std::string arena_;
  std::size_t size_ = 0;
};

}  // namespace strata::server

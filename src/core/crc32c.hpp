#pragma once
// CRC-32C (Castagnoli), the checksum of every on-disk record (WAL records, chunks, indexes).
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise; both give the same value.
#include <cstddef>
#include <cstdint>
#include <span>

namespace strata {

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t seed = 0);
inline std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t seed = 0) {
  return crc32c(bytes.data(), bytes.size(), seed);
}
// The table-driven path alone, whatever the CPU has: what crc32c() runs without SSE4.2 (the unit
// tests check that both paths agree).
std::uint32_t crc32c_portable(const void* data, std::size_t size, std::uint32_t seed = 0);

}  // namespace strata

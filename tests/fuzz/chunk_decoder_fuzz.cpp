// Fuzzes the sealed-chunk decoder: arbitrary bytes (with and without the CRC check) must decode
// or fail cleanly; and samples derived from the input must round-trip bit for bit.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "store/chunk.hpp"

using namespace strata;
using namespace strata::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  for (bool verify : {false, true}) {
    auto d = ChunkDecoder::open(bytes, verify);
    if (!d) continue;
    Sample buf[256];
    std::size_t total = 0;
    while (std::size_t n = (*d)->next(buf, 256)) {
      for (std::size_t i = 1; i < n; ++i)
        if (buf[i].ts <= buf[i - 1].ts) std::abort();  // a decoder never yields unordered time
      total += n;
    }
    if (total > (*d)->count()) std::abort();
  }
  // Round trip: the input as (timestamp delta, value) pairs.
  std::vector<Sample> samples;
  Timestamp ts = -1'000'000;
  for (std::size_t at = 0; at + 12 <= size && samples.size() < 4096; at += 12) {
    std::uint32_t gap;
    std::uint64_t bits;
    std::memcpy(&gap, data + at, 4);
    std::memcpy(&bits, data + at + 4, 8);
    ts += 1 + (gap % 100'000'000);
    // Half the values as short decimals, so both codecs see input.
    double v;
    if (bits & 1)
      v = static_cast<double>(static_cast<std::int64_t>(bits >> 40) - (1 << 22)) / 100.0;
    else
      std::memcpy(&v, &bits, 8);
    samples.push_back({ts, v});
  }
  if (samples.empty()) return 0;
  const auto enc = encode_chunk(samples);
  auto back = decode_chunk(enc);
  if (!back || back->size() != samples.size()) std::abort();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::uint64_t a, b;
    std::memcpy(&a, &samples[i].value, 8);
    std::memcpy(&b, &(*back)[i].value, 8);
    if ((*back)[i].ts != samples[i].ts || a != b) std::abort();
  }
  return 0;
}

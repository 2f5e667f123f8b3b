// Fuzzes the detector checkpoint decoder (AnyDetector::restore, MultivariateDetector::restore).
// The input is tried twice: as a whole frame, and as [kind byte][body] wrapped in a frame with a
// correct header and CRC, so the fuzzer reaches the body's fields past the checksum. A frame that
// restores must score points in [0, 1] without fault, and its checkpoint restore to the same bytes
// (or be refused, when crafted magnitudes overflowed to non-finite numbers).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "analytics/detector_registry.hpp"
#include "analytics/multivariate.hpp"
#include "core/crc32c.hpp"

using namespace strata;
using namespace strata::analytics;

namespace {

std::vector<std::uint8_t> framed(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> f = {'S', 'D', 'E', 'T', 1, size ? data[0] : std::uint8_t{0}, 0, 0};
  const auto body = static_cast<std::uint32_t>(size ? size - 1 : 0);
  f.resize(12);
  std::memcpy(f.data() + 8, &body, 4);
  if (size > 1) f.insert(f.end(), data + 1, data + size);
  const std::uint32_t crc = crc32c(f.data(), f.size());
  f.resize(f.size() + 4);
  std::memcpy(f.data() + f.size() - 4, &crc, 4);
  return f;
}

void exercise(const std::vector<std::uint8_t>& bytes) {
  if (auto d = AnyDetector::restore(bytes)) {
    for (int i = 0; i < 64; ++i) {
      const double s = d->update(i * 300'000'000LL, (i * 37) % 11 - 5.0).score;
      if (!(s >= 0 && s <= 1)) std::abort();
    }
    std::vector<std::uint8_t> a, b;
    d->save(a);
    // A crafted state of extreme magnitudes may overflow while scoring; its checkpoint is then
    // refused (non-finite numbers), which is the documented outcome. Otherwise: same bytes.
    auto again = AnyDetector::restore(a);
    if (!again) return;
    again->save(b);
    if (a != b) std::abort();
  }
  if (auto m = MultivariateDetector::restore(bytes)) {
    std::vector<double> x(static_cast<std::size_t>(m->config().signals), 1.0);
    for (int i = 0; i < 16; ++i) {
      x[0] = i;
      const double s = m->update(0, x);
      if (!(s >= 0 && s <= 1)) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise(std::vector<std::uint8_t>(data, data + size));
  exercise(framed(data, size));
  return 0;
}

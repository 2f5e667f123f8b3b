// Fuzzes the detection stage's checkpoint reader (detect/checkpoint.hpp) on whole files, and on
// one record built from the input with a correct header, length and CRC, so the fuzzer reaches the
// payload's fields past the checksum. Whatever it reads must write back to a file that reads the
// same, and a record's frame goes where the stage sends it (the detectors' restore).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "analytics/detector_registry.hpp"
#include "analytics/multivariate.hpp"
#include "core/crc32c.hpp"
#include "detect/checkpoint.hpp"

using namespace strata;
using namespace strata::detect;

namespace {

void exercise(const std::vector<std::uint8_t>& bytes) {
  auto c = read_checkpoint(bytes);
  if (!c) return;
  std::vector<std::uint8_t> records;
  for (const auto& r : c->records) {
    append_record(records, r);
    if (r.kind == CheckpointRecord::Kind::series)
      (void)analytics::AnyDetector::restore(r.frame);
    else
      (void)analytics::MultivariateDetector::restore(r.frame);
  }
  // Compared as bytes: a record may hold a NaN, which equals nothing.
  auto again = read_checkpoint(checkpoint_bytes(c->written, records));
  if (!again || again->damaged != 0 || again->torn) std::abort();
  std::vector<std::uint8_t> rewritten;
  for (const auto& r : again->records) append_record(rewritten, r);
  if (rewritten != records) std::abort();
}

std::vector<std::uint8_t> one_record(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> f = {'S', 'D', 'C', 'K', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const auto len = static_cast<std::uint32_t>(size);
  const std::uint32_t crc = crc32c(data, size);
  f.resize(24);
  std::memcpy(f.data() + 16, &len, 4);
  std::memcpy(f.data() + 20, &crc, 4);
  f.insert(f.end(), data, data + size);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise(std::vector<std::uint8_t>(data, data + size));
  exercise(one_record(data, size));
  return 0;
}

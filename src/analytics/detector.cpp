#include "analytics/detector.hpp"

#include "core/crc32c.hpp"

namespace strata::analytics {

namespace {
constexpr std::uint8_t kMagic[4] = {'S', 'D', 'E', 'T'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeader = 12;
}  // namespace

StateWriter::StateWriter(std::vector<std::uint8_t>& out, DetectorKind kind)
    : out_(out), start_(out.size()) {
  out_.insert(out_.end(), kMagic, kMagic + 4);
  out_.push_back(kVersion);
  out_.push_back(static_cast<std::uint8_t>(kind));
  out_.push_back(0);
  out_.push_back(0);
  out_.resize(out_.size() + 4);  // body length, filled by finish()
}

void StateWriter::put(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  out_.insert(out_.end(), b, b + n);  // the build targets little-endian hosts only
}

void StateWriter::finish() {
  const auto body = static_cast<std::uint32_t>(out_.size() - start_ - kHeader);
  std::memcpy(out_.data() + start_ + 8, &body, 4);
  const std::uint32_t crc = crc32c(out_.data() + start_, out_.size() - start_);
  put(&crc, 4);
}

StateReader::StateReader(std::span<const std::uint8_t> bytes, DetectorKind kind) {
  if (bytes.size() < kHeader + 4) {
    fail("detector state is " + std::to_string(bytes.size()) +
         " bytes, shorter than a frame (16): the checkpoint is truncated");
    return;
  }
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) {
    fail("detector state does not start with 'SDET': not a detector checkpoint");
    return;
  }
  if (bytes[4] != kVersion) {
    fail("detector state has format version " + std::to_string(bytes[4]) + ", this build reads " +
         std::to_string(kVersion));
    return;
  }
  if (bytes[5] != static_cast<std::uint8_t>(kind)) {
    fail("detector state holds detector kind " + std::to_string(bytes[5]) + ", expected " +
         std::to_string(static_cast<int>(kind)));
    return;
  }
  std::uint32_t body = 0;
  std::memcpy(&body, bytes.data() + 8, 4);
  if (bytes.size() != kHeader + body + 4) {
    fail("detector state frame says " + std::to_string(body) + " body bytes but holds " +
         std::to_string(bytes.size() - kHeader - 4));
    return;
  }
  std::uint32_t crc = 0;
  std::memcpy(&crc, bytes.data() + kHeader + body, 4);
  if (crc != crc32c(bytes.data(), kHeader + body)) {
    fail("detector state fails its CRC-32C: the checkpoint is corrupt");
    return;
  }
  body_ = bytes.subspan(kHeader, body);
}

void StateReader::get(void* p, std::size_t n) {
  if (!ok()) {
    std::memset(p, 0, n);
    return;
  }
  if (body_.size() - pos_ < n) {
    std::memset(p, 0, n);
    fail("detector state body ends early at byte " + std::to_string(pos_) +
         ": the checkpoint does not match this detector");
    return;
  }
  std::memcpy(p, body_.data() + pos_, n);
  pos_ += n;
}

Status StateReader::status() const {
  if (!ok()) return Error::of(errc::bad_state, error_);
  return {};
}

Status StateReader::finish() const {
  if (!ok()) return Error::of(errc::bad_state, error_);
  if (pos_ != body_.size())
    return Error::of(errc::bad_state, "detector state has " + std::to_string(body_.size() - pos_) +
                                          " bytes left over: the checkpoint does not match this "
                                          "detector");
  return {};
}

}  // namespace strata::analytics

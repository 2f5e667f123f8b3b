#include "ingest/text_scan.hpp"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "ingest/errc.hpp"

namespace strata::ingest {

const char* after_line_end(const char* q, const char* end, bool final) {
  if (q < end && *q == '\r') ++q;
  if (q == end) return final ? end : nullptr;
  return q + 1;
}

const char* after_next_newline(const char* q, const char* end, bool final) {
  const void* nl = std::memchr(q, '\n', static_cast<std::size_t>(end - q));
  if (nl == nullptr) return final ? end : nullptr;
  return static_cast<const char*>(nl) + 1;
}

std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b <= 0xDF ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

std::string shown(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < kMax) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7F) {
      out += s[i++];
    } else if (const std::size_t n = b >= 0x80 ? utf8_length(s, i) : 0; n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
      ++i;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

NumberStatus parse_out_of_range_double(std::string_view s, double& out) {
  // strtod needs a terminated string; most tokens fit the stack copy.
  std::array<char, 128> small;
  std::string big;
  const char* z;
  if (s.size() < small.size()) {
    std::memcpy(small.data(), s.data(), s.size());
    small[s.size()] = '\0';
    z = small.data();
  } else {
    big.assign(s);
    z = big.c_str();
  }
  const double v = std::strtod(z, nullptr);
  if (std::isinf(v)) return NumberStatus::out_of_range;
  out = v;
  return NumberStatus::ok;
}

Result<std::unique_ptr<std::FILE, FileCloser>> open_import_file(const std::filesystem::path& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file)
    return Error::of(errc::io, "cannot open '" + path.string() + "': " + std::strerror(errno));
  return file;
}

std::span<char> CarryOverBuffer::prepare(std::size_t n) {
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (cap_ - end_ < n) {
    const std::size_t cap = std::max(end_ + n, cap_ * 2);
    auto grown = std::make_unique_for_overwrite<char[]>(cap);
    if (end_ > 0) std::memcpy(grown.get(), buf_.get(), end_);
    buf_ = std::move(grown);
    cap_ = cap;
  }
  return {buf_.get() + end_, n};
}

bool CarryOverBuffer::drop_through_newline() {
  const void* nl = std::memchr(buf_.get() + begin_, '\n', end_ - begin_);
  if (nl == nullptr) {
    begin_ = end_;
    return false;
  }
  begin_ = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.get()) + 1;
  return true;
}

}  // namespace strata::ingest

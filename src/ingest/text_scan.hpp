#pragma once
// What the text decoders of this module (line_protocol.cpp, csv_reader.cpp) share: where a line
// ends, how a token is quoted in a message, how a decimal is read bit-exact, how a file is opened
// and how text arriving in blocks waits to be parsed. Internal to src/ingest: the decoders include
// it (their headers for CarryOverBuffer only); other modules use the decoders' headers.
//
// The small predicates and the common path of parse_double() are inline: they run once a byte or
// once a value on the import path, and a call into another translation unit would cost a
// noticeable share of it.
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "core/result.hpp"

namespace strata::ingest {

// ASCII digits only: both formats are byte-oriented, and std::isdigit would depend on the locale.
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// True at the end of a line: the end of the text, '\n', or a '\r' that ends the text or precedes
// '\n'. Both formats end lines with "\n" or "\r\n"; a '\r' anywhere else is an ordinary byte.
inline bool is_eol(const char* p, const char* end) {
  return p == end || *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
}

// Where the text goes on after a record whose last line ends at q (q at a line end, see is_eol):
// one past its "\n" or "\r\n", or end when the text ends there. nullptr when the text ends there
// and is not final, i.e. more of it may still come, so the record may not be complete yet.
const char* after_line_end(const char* q, const char* end, bool final);

// The same after the first '\n' from q, whatever comes before it: how a refused or skipped record
// is passed over.
const char* after_next_newline(const char* q, const char* end, bool final);

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one.
std::size_t utf8_length(std::string_view s, std::size_t i);

// A name, token or cell as shown in a message: at most 64 bytes (then "..."); control bytes and
// bytes that are not UTF-8 as \xNN, so that a message built from any input is printable text.
std::string shown(std::string_view s);

enum class NumberStatus { ok, invalid, out_of_range };

// A decimal integer, the whole of s, as from_chars reads it; false when s is not one or it does
// not fit (`overflow` says which).
inline bool parse_int64(std::string_view s, std::int64_t& out, bool& overflow) {
  overflow = false;
  const std::size_t sign = !s.empty() && s[0] == '-' ? 1 : 0;
  if (s.size() > sign && s.size() - sign <= 18) {  // fast path: no overflow possible
    std::int64_t v = 0;
    std::size_t i = sign;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + (s[i] - '0');
    if (i == s.size()) {
      out = sign ? -v : v;
      return true;
    }
    return false;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ptr != s.data() + s.size() || ec == std::errc::invalid_argument) return false;
  overflow = ec == std::errc::result_out_of_range;
  return !overflow;
}

// The rare path of parse_double(): from_chars found a number it could not represent.
NumberStatus parse_out_of_range_double(std::string_view s, double& out);

// A decimal float, the whole of s, read as strtod reads it (from_chars is correctly rounded, so
// the value is bit for bit strtod's). from_chars leaves out unset when the result is out of range;
// strtod on a copy then gives what strtod gives for an underflow (zero or a denormal), while an
// overflow (±inf) is out_of_range and leaves out unset. from_chars also reads "inf" and "nan":
// a caller that refuses them checks first that s starts with a digit or '.' (after a '-').
inline NumberStatus parse_double(std::string_view s, double& out) {
  // Fast path, for what sensors send: [-]digits[.digits] with at most 15 digits is m / 10^k with
  // m < 2^53 and k <= 15, two exact doubles, and IEEE division rounds correctly: from_chars' value.
  static constexpr double kPow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  if (!s.empty() && s.size() <= 17) {
    std::size_t i = s[0] == '-' ? 1 : 0;
    std::uint64_t m = 0;
    std::size_t digits = 0, frac = 0;
    bool dot = false;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (c >= '0' && c <= '9') {
        m = m * 10 + static_cast<unsigned>(c - '0');
        ++digits;
        frac += dot;
      } else if (c == '.' && !dot && digits > 0) {
        dot = true;
      } else {
        break;
      }
    }
    if (i == s.size() && digits > 0 && digits <= 15 && !(dot && frac == 0)) {
      const double v = static_cast<double>(m) / kPow10[frac];
      out = s[0] == '-' ? -v : v;
      return NumberStatus::ok;
    }
  }
  const char* const end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  if (ptr != end || ec == std::errc::invalid_argument) return NumberStatus::invalid;
  if (ec == std::errc()) return NumberStatus::ok;
  return parse_out_of_range_double(s, out);
}

// Closes the FILE* of a file the module opened, so that every return path does.
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Opens a file to import for reading, or says why not (errc::io, naming the file and the cause).
[[nodiscard]] Result<std::unique_ptr<std::FILE, FileCloser>> open_import_file(
    const std::filesystem::path& path);

// The input of a streaming decoder (LineProtocolStream, CsvReader) that has arrived but is not
// parsed yet: a record cut at a block boundary waits here for the rest. One buffer, compacted
// before each prepare() and grown by doubling, so that reading a file in blocks copies only the
// carried-over tails.
class CarryOverBuffer {
 public:
  // A writable span of n bytes after the pending ones, valid until the next call.
  std::span<char> prepare(std::size_t n);
  // Makes k <= n bytes of the last prepare() pending (more than were prepared are not taken).
  void commit(std::size_t k) { end_ += std::min(k, cap_ - end_); }

  [[nodiscard]] std::string_view pending() const { return {buf_.get() + begin_, end_ - begin_}; }
  // The first n pending bytes have been parsed (n <= pending().size()).
  void consume(std::size_t n) { begin_ += n; }
  // Drops the pending bytes up to and including the first '\n'; false, with all of them dropped,
  // when there is none.
  bool drop_through_newline();
  void clear() { begin_ = end_ = 0; }

 private:
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  // first pending byte
  std::size_t end_ = 0;    // one past the last committed byte
};

}  // namespace strata::ingest

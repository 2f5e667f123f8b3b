#include "ingest/line_protocol.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ingest/text_scan.hpp"

namespace strata::ingest {
namespace {

enum : std::uint8_t { kPlain, kComma, kSpace, kEquals, kBackslash, kNewline, kReturn };

constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> t{};
  t[static_cast<unsigned char>(',')] = kComma;
  t[static_cast<unsigned char>(' ')] = kSpace;
  t[static_cast<unsigned char>('=')] = kEquals;
  t[static_cast<unsigned char>('\\')] = kBackslash;
  t[static_cast<unsigned char>('\n')] = kNewline;
  t[static_cast<unsigned char>('\r')] = kReturn;
  return t;
}();

inline std::uint8_t byte_class(char c) { return kByteClass[static_cast<unsigned char>(c)]; }
inline bool escapable(char c) { return c == ',' || c == ' ' || c == '='; }

// The first byte at or after p that is not kPlain (or end): 16 bytes a step with SSE2, which
// every x86-64 has; the rest a byte at a time.
inline const char* skip_plain(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(','), space = _mm_set1_epi8(' '), equals = _mm_set1_epi8('='),
                backslash = _mm_set1_epi8('\\'), newline = _mm_set1_epi8('\n'),
                ret = _mm_set1_epi8('\r');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, space)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, equals), _mm_cmpeq_epi8(v, backslash))),
        _mm_or_si128(_mm_cmpeq_epi8(v, newline), _mm_cmpeq_epi8(v, ret)));
    if (const int mask = _mm_movemask_epi8(hit); mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && byte_class(*p) == kPlain) ++p;
  return p;
}

// Scans a name from p to the first unescaped ',' or ' ' (and '=' when kStopAtEquals), or to the
// line end. kInLine: end is where the text ends (a line end); otherwise (a series text handed out
// by the parser) '\r' and '\n' are ordinary bytes.
template <bool kStopAtEquals, bool kInLine = true>
const char* scan_name(const char* p, const char* end) {
  while ((p = skip_plain(p, end)) < end) {
    switch (byte_class(*p)) {
      case kComma:
      case kSpace:
        return p;
      case kNewline:
        if constexpr (kInLine) return p;
        ++p;
        break;
      case kEquals:
        if constexpr (kStopAtEquals) return p;
        ++p;
        break;
      case kBackslash:
        p += (p + 1 < end && escapable(p[1])) ? 2 : 1;
        break;
      default:  // kReturn
        if (kInLine && (p + 1 == end || p[1] == '\n')) return p;
        ++p;
        break;
    }
  }
  return p;
}

// Scans a field value or a timestamp to the next ',' or ' ' or line end.
const char* scan_token(const char* p, const char* end) {
  while ((p = skip_plain(p, end)) < end) {
    const std::uint8_t c = byte_class(*p);
    if (c == kComma || c == kSpace || c == kNewline) return p;
    if (c == kReturn && (p + 1 == end || p[1] == '\n')) return p;
    ++p;
  }
  return p;
}

// Removes the backslash of `\,` `\ ` `\=`; every other byte is kept as written.
std::string unescape_name(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && escapable(s[i + 1])) ++i;
    out += s[i];
  }
  return out;
}

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::ns:
      return "ns";
    case Precision::us:
      return "us";
    case Precision::ms:
      return "ms";
    case Precision::s:
      return "s";
  }
  return "?";
}

// Converts a timestamp in precision p to µs; false when it does not fit.
bool to_micros(std::int64_t v, Precision p, Timestamp& out) {
  switch (p) {
    case Precision::ns:
      out = v / 1000 - (v % 1000 < 0 ? 1 : 0);  // floor: -1 ns is in the µs before the epoch
      return true;
    case Precision::us:
      out = v;
      return true;
    case Precision::ms:
      return !__builtin_mul_overflow(v, std::int64_t{1000}, &out);
    case Precision::s:
      return !__builtin_mul_overflow(v, std::int64_t{1'000'000}, &out);
  }
  return false;
}

bool is_boolean(std::string_view t, bool& value) {
  if (t == "t" || t == "T" || t == "true" || t == "True" || t == "TRUE") {
    value = true;
    return true;
  }
  if (t == "f" || t == "F" || t == "false" || t == "False" || t == "FALSE") {
    value = false;
    return true;
  }
  return false;
}

struct Progress {
  std::size_t bytes = 0;
  std::size_t lines = 0;
};

// A parsed field waiting for the end of its line: nothing of a line reaches the sink before the
// whole line is known to be good.
struct PendingField {
  std::string_view key;
  double value = 0;
  bool is_string = false;
  std::size_t line_no = 0;  // where a string value starts, for its refusal
  std::size_t byte = 0;
};

// The fields of one line, in a fixed inline array so that ordinary lines allocate nothing.
class FieldBuffer {
 public:
  void clear() {
    n_ = 0;
    spill_.clear();
  }
  void push(const PendingField& f) {
    if (n_ < kInline)
      inline_[n_] = f;
    else
      spill_.push_back(f);
    ++n_;
  }
  [[nodiscard]] std::size_t size() const { return n_; }
  const PendingField& operator[](std::size_t i) const {
    return i < kInline ? inline_[i] : spill_[i - kInline];
  }

 private:
  static constexpr std::size_t kInline = 32;
  std::array<PendingField, kInline> inline_{};
  std::vector<PendingField> spill_;
  std::size_t n_ = 0;
};

// Parses records one at a time. With final == false, a record that the text cuts off (its line end
// is not in the text yet) is left unparsed, so that a stream can parse it when the rest arrives.
class Parser {
 public:
  Parser(const LineProtocolOptions& options, LineProtocolSink& sink, bool final)
      : options_(options), sink_(sink), final_(final) {}

  Progress run(std::string_view text, std::size_t first_line_no) {
    const char* p = text.data();
    end_ = p + text.size();
    std::size_t line = first_line_no;
    while (p < end_) {
      if (record(p, line) == Outcome::incomplete) break;
      p = next_;
      line += record_lines_;
    }
    return {static_cast<std::size_t>(p - text.data()), line - first_line_no};
  }

 private:
  enum class Outcome { done, incomplete };

  // Ends the record at q (a line end): sets next_ and record_lines_.
  Outcome finish_line(const char* q) { return end_record(after_line_end(q, end_, final_)); }

  // Ends the record at the first '\n' from q, whatever is in between.
  Outcome skip_line(const char* q) { return end_record(after_next_newline(q, end_, final_)); }

  Outcome end_record(const char* next) {
    if (next == nullptr) return Outcome::incomplete;
    next_ = next;
    record_lines_ = line_ - record_line_ + 1;
    return Outcome::done;
  }

  // Refuses the whole line: "line L: <what> (byte B)", B counted from 1 at the line's start.
  Outcome fail(const char* at, const std::string& what) {
    if (skip_line(at) == Outcome::incomplete) return Outcome::incomplete;
    const std::string reason = "line " + std::to_string(line_) + ": " + what + " (byte " +
                               std::to_string(at - line_start_ + 1) + ")";
    sink_.refuse(line_, reason);
    return Outcome::done;
  }

  Outcome record(const char* p, std::size_t line) {
    record_line_ = line_ = line;
    line_start_ = p;
    fields_.clear();
    const char* q = p;
    while (q < end_ && (*q == ' ' || *q == '\t')) ++q;
    if (is_eol(q, end_)) return finish_line(q);  // blank line
    if (*q == '#') return skip_line(q);          // comment

    // Series: measurement, then ",key=value" tags.
    const char* const series_begin = q;
    q = scan_name<false>(q, end_);
    if (q == series_begin) return fail(q, "expected a measurement name at the start of the line");
    while (q < end_ && *q == ',') {
      const char* const k = q + 1;
      const char* const k_end = scan_name<true>(k, end_);
      if (k_end == k) return fail(k, "expected a tag key after ','");
      const std::string_view key(k, static_cast<std::size_t>(k_end - k));
      if (k_end == end_ || *k_end != '=')
        return fail(k_end, "expected '=' after tag key '" + shown(key) + "'");
      const char* const v = k_end + 1;
      q = scan_name<true>(v, end_);
      if (q == v) return fail(v, "expected a value for tag '" + shown(key) + "'");
      if (q < end_ && *q == '=')
        return fail(q, "unescaped '=' in the value of tag '" + shown(key) + "'; write it as '\\='");
    }
    const std::string_view series(series_begin, static_cast<std::size_t>(q - series_begin));
    if (is_eol(q, end_))
      return fail(q, "expected a space and then fields (key=value) after '" + shown(series) + "'");
    while (q < end_ && *q == ' ') ++q;
    if (is_eol(q, end_))
      return fail(q, "expected fields (key=value) after '" + shown(series) + "'");

    // Fields.
    std::string_view key;
    for (;;) {
      const char* const k = q;
      const char* const k_end = scan_name<true>(k, end_);
      if (k_end == k) return fail(k, "expected a field key");
      key = std::string_view(k, static_cast<std::size_t>(k_end - k));
      if (k_end == end_ || *k_end != '=')
        return fail(k_end, "expected '=' after field key '" + shown(key) + "'");
      const char* const v = k_end + 1;
      if (v < end_ && *v == '"') {
        const std::size_t v_line = line_;
        const char* const v_line_start = line_start_;
        const char* s = v + 1;
        while (s < end_ && *s != '"') {
          if (*s == '\\' && s + 1 < end_ && (s[1] == '"' || s[1] == '\\')) {
            s += 2;
            continue;
          }
          if (*s == '\n') {
            ++line_;
            line_start_ = s + 1;
          }
          ++s;
        }
        if (s == end_) {
          if (!final_) return Outcome::incomplete;
          line_ = v_line;
          line_start_ = v_line_start;
          return fail(v, "the string value of field '" + shown(key) + "' is not closed with '\"'");
        }
        fields_.push({key, 0.0, true, v_line, static_cast<std::size_t>(v - v_line_start + 1)});
        q = s + 1;
      } else {
        const char* const t_end = scan_token(v, end_);
        double value = 0;
        if (const std::string why =
                value_of(std::string_view(v, static_cast<std::size_t>(t_end - v)), key, value);
            !why.empty())
          return fail(v, why);
        fields_.push({key, value, false, 0, 0});
        q = t_end;
      }
      if (q < end_ && *q == ',') {
        ++q;
        continue;
      }
      break;
    }
    if (!is_eol(q, end_) && *q != ' ')
      return fail(q, "expected ',' or a space after the value of field '" + shown(key) + "'");

    // Timestamp.
    Timestamp ts = options_.default_time;
    while (q < end_ && *q == ' ') ++q;
    if (!is_eol(q, end_)) {
      const char* const t = q;
      const char* const t_end = scan_token(t, end_);
      const std::string_view text(t, static_cast<std::size_t>(t_end - t));
      std::int64_t raw = 0;
      bool overflow = false;
      if (!parse_int64(text, raw, overflow)) {
        if (overflow)
          return fail(t, "timestamp '" + shown(text) + "' does not fit in a signed 64-bit integer");
        return fail(t, "expected an integer timestamp in " +
                           std::string(precision_name(options_.precision)) +
                           " after the fields, got '" + shown(text) + "'");
      }
      if (!to_micros(raw, options_.precision, ts))
        return fail(t, "timestamp " + std::string(text) + " " +
                           std::string(precision_name(options_.precision)) +
                           " is beyond what Strata stores (int64 microseconds since 1970); "
                           "check the precision");
      q = t_end;
      while (q < end_ && *q == ' ') ++q;
      if (!is_eol(q, end_))
        return fail(q, "unexpected text after the timestamp; a line ends there");
    }
    if (finish_line(q) == Outcome::incomplete) return Outcome::incomplete;

    for (std::size_t i = 0; i < fields_.size(); ++i) {
      const PendingField& f = fields_[i];
      if (!f.is_string) {
        sink_.point(series, f.key, ts, f.value);
      } else {
        const std::string reason =
            "line " + std::to_string(f.line_no) + ": string field '" + shown(f.key) +
            "' is not supported (numeric series only); drop it or send a number (byte " +
            std::to_string(f.byte) + ")";
        sink_.refuse(f.line_no, reason);
      }
    }
    return Outcome::done;
  }

  // Reads a non-string field value; returns why it is not one (empty when it is).
  static std::string value_of(std::string_view t, std::string_view key, double& out) {
    if (t.empty()) return "expected a value after '" + shown(key) + "='";
    const char c = t[0];
    if (is_digit(c) || c == '-' || c == '.') {
      const bool sign_ok = c != '-' || (t.size() > 1 && (is_digit(t[1]) || t[1] == '.'));
      const char last = t.back();
      if (sign_ok && last == 'i') {
        std::int64_t v = 0;
        const char* const e = t.data() + t.size() - 1;
        const auto [ptr, ec] = std::from_chars(t.data(), e, v);
        if (ptr == e && ec == std::errc()) {
          out = static_cast<double>(v);
          return {};
        }
        if (ptr == e && ec == std::errc::result_out_of_range)
          return "integer " + shown(t) + " of field '" + shown(key) + "' does not fit in 64 bits";
      } else if (sign_ok && last == 'u') {
        std::uint64_t v = 0;
        const char* const e = t.data() + t.size() - 1;
        const auto [ptr, ec] = std::from_chars(t.data(), e, v);
        if (ptr == e && ec == std::errc()) {
          out = static_cast<double>(v);
          return {};
        }
        if (ptr == e && ec == std::errc::result_out_of_range)
          return "unsigned " + shown(t) + " of field '" + shown(key) + "' does not fit in 64 bits";
      } else if (sign_ok) {
        switch (parse_double(t, out)) {
          case NumberStatus::ok:
            return {};
          case NumberStatus::out_of_range:
            return "number " + shown(t) + " of field '" + shown(key) +
                   "' is beyond the range of a double";
          case NumberStatus::invalid:
            break;
        }
      }
      return "invalid number '" + shown(t) + "' for field '" + shown(key) +
             "'; expected a decimal like 21.5 or 2.15e1, an integer like 21i or 21u";
    }
    bool b = false;
    if (is_boolean(t, b)) {
      out = b ? 1.0 : 0.0;
      return {};
    }
    return "invalid value '" + shown(t) + "' for field '" + shown(key) +
           "'; expected a number (21.5, 21i, 21u; no inf or nan), true/false or a \"string\"";
  }

  const LineProtocolOptions& options_;
  LineProtocolSink& sink_;
  const bool final_;
  const char* end_ = nullptr;
  std::size_t record_line_ = 0;       // line where the record starts
  std::size_t line_ = 0;              // line being read (a string value may span lines)
  const char* line_start_ = nullptr;  // first byte of line_
  const char* next_ = nullptr;        // set by a finished record: where the next one starts
  std::size_t record_lines_ = 0;      // set by a finished record: physical lines it took
  FieldBuffer fields_;
};

}  // namespace

std::optional<Precision> parse_precision(std::string_view text) {
  if (text == "ns" || text == "n") return Precision::ns;
  if (text == "us" || text == "u" || text == "\xC2\xB5s") return Precision::us;
  if (text == "ms") return Precision::ms;
  if (text == "s") return Precision::s;
  return std::nullopt;
}

std::size_t parse_line_protocol(std::string_view text, const LineProtocolOptions& options,
                                LineProtocolSink& sink, std::size_t first_line_no) {
  return Parser(options, sink, true).run(text, first_line_no).lines;
}

Result<SeriesKey> series_key_for(std::string_view series_text, std::string_view field) {
  const auto bad = [&](std::string_view why) {
    return Error::of(errc::syntax, "series '" + shown(series_text) + "': " + std::string(why));
  };
  const char* p = series_text.data();
  const char* const end = p + series_text.size();
  const char* m_end = scan_name<false, false>(p, end);
  if (m_end == p) return bad("expected a measurement name");
  const std::string measurement =
      unescape_name(std::string_view(p, static_cast<std::size_t>(m_end - p)));
  SeriesKey key;
  bool has_device = false;
  p = m_end;
  while (p < end) {
    if (*p != ',') return bad("expected ',' before a tag");
    const char* const k = p + 1;
    const char* const k_end = scan_name<true, false>(k, end);
    if (k_end == k || k_end == end || *k_end != '=') return bad("expected key=value after ','");
    const char* const v = k_end + 1;
    p = scan_name<true, false>(v, end);
    if (p == v || (p < end && *p != ',')) return bad("expected a tag value after '='");
    std::string tag_key = unescape_name(std::string_view(k, static_cast<std::size_t>(k_end - k)));
    std::string tag_value = unescape_name(std::string_view(v, static_cast<std::size_t>(p - v)));
    if (tag_key == "device") {
      key.device = std::move(tag_value);  // a later `device` tag wins, as normalise() does for tags
      has_device = true;
    } else {
      key.tags.emplace_back(std::move(tag_key), std::move(tag_value));
    }
  }
  if (field.empty()) return bad("empty field key");
  std::string metric = unescape_name(field);
  if (!has_device) {
    key.device = measurement;
    key.metric = std::move(metric);
  } else if (metric == "value") {
    key.metric = measurement;
  } else {
    key.metric = measurement + "_" + metric;
  }
  key.normalise();
  return key;
}

LineProtocolStream::LineProtocolStream(const LineProtocolOptions& options, LineProtocolSink& sink,
                                       std::size_t first_line_no)
    : options_(options), sink_(sink), first_line_(first_line_no), next_line_(first_line_no) {}

void LineProtocolStream::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  const std::span<char> dst = prepare(bytes.size());
  std::memcpy(dst.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

std::span<char> LineProtocolStream::prepare(std::size_t n) { return buffer_.prepare(n); }

void LineProtocolStream::commit(std::size_t n) {
  buffer_.commit(n);
  if (skipping_) {
    if (!buffer_.drop_through_newline()) return;
    ++next_line_;
    skipping_ = false;
  }
  parse_buffered();
  if (buffer_.pending().size() > options_.max_record_bytes) refuse_overlong_record();
}

void LineProtocolStream::parse_buffered() {
  const Progress done = Parser(options_, sink_, false).run(buffer_.pending(), next_line_);
  buffer_.consume(done.bytes);
  next_line_ += done.lines;
}

void LineProtocolStream::refuse_overlong_record() {
  // A quote left open makes a record run on over newlines. Parse up to the last newline as if the
  // text ended there: that refuses the open quote's line and reads the lines after it normally.
  const std::string_view tail = buffer_.pending();
  if (const std::size_t nl = tail.rfind('\n'); nl != std::string_view::npos) {
    const Progress done = Parser(options_, sink_, true).run(tail.substr(0, nl + 1), next_line_);
    buffer_.consume(done.bytes);
    next_line_ += done.lines;
  }
  if (buffer_.pending().size() <= options_.max_record_bytes) return;
  sink_.refuse(next_line_, "line " + std::to_string(next_line_) + ": longer than " +
                               std::to_string(options_.max_record_bytes) +
                               " bytes without a line end; split it into lines");
  buffer_.clear();
  skipping_ = true;
}

void LineProtocolStream::finish() {
  if (skipping_) {
    ++next_line_;
    skipping_ = false;
  } else {
    const Progress done = Parser(options_, sink_, true).run(buffer_.pending(), next_line_);
    next_line_ += done.lines;
  }
  buffer_.clear();
}

Result<std::size_t> parse_line_protocol_file(std::FILE* file, const LineProtocolOptions& options,
                                             LineProtocolSink& sink, std::size_t block_bytes) {
  LineProtocolStream stream(options, sink);
  block_bytes = std::max<std::size_t>(block_bytes, 1);
  for (;;) {
    const std::span<char> dst = stream.prepare(block_bytes);
    const std::size_t n = std::fread(dst.data(), 1, dst.size(), file);
    stream.commit(n);
    if (n < dst.size()) {
      if (std::ferror(file))
        return Error::of(errc::io, "read error after line " + std::to_string(stream.lines()) +
                                       ": " + std::strerror(errno));
      break;
    }
  }
  stream.finish();
  return stream.lines();
}

Result<std::size_t> parse_line_protocol_file(const std::filesystem::path& path,
                                             const LineProtocolOptions& options,
                                             LineProtocolSink& sink, std::size_t block_bytes) {
  const auto file = open_import_file(path);
  if (!file) return file.error();
  return parse_line_protocol_file(file->get(), options, sink, block_bytes);
}

}  // namespace strata::ingest

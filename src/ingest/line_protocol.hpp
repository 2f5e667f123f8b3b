#pragma once
// InfluxDB line protocol (1.x and 2.x) decoder: text in, (series text, field, timestamp, value)
// out. The import path (`strata import FILE`, the HTTP /write endpoint) runs it at millions of
// points per second on one core, so it allocates nothing per point: names reach the sink as views
// into the input, numbers are read with std::from_chars (correctly rounded, bit-exact to strtod).
//
// Grammar, as accepted here (one record a line; src/ingest/README.md has the long version):
//
//   record     = series ' '+ field (',' field)* [' '+ timestamp] ' '* EOL
//   series     = measurement (',' tag_key '=' tag_value)*
//   field      = field_key '=' field_value
//   field_value= float | integer 'i' | unsigned 'u' | boolean | '"' string '"'
//   EOL        = '\n' | "\r\n" | end of text
//
// - Names (measurement, tag keys and values, field keys) escape ',' ' ' '=' with a backslash;
//   any other backslash is a literal byte (so `a\\,b` is `a\` followed by an escaped comma, as in
//   InfluxDB 1.x). Inside a string value `\"` and `\\` are escapes; a string may span lines.
// - Blank lines and lines whose first non-blank byte is '#' are skipped.
// - float: what strtod reads in decimal form, with a leading '-' but no '+', no hex, no inf/nan
//   (InfluxDB refuses those too). integer `-12i` is int64, unsigned `12u` is uint64; both become
//   doubles (exact up to 2^53). Booleans t T true True TRUE f F false False FALSE become 1.0 / 0.0.
//   Strings are refused per field (the rest of the line is kept): Strata stores numeric series.
// - timestamp: an int64 in the configured precision, converted to µs (ns by floor division,
//   Strata's resolution being 1 µs). Absent → LineProtocolOptions::default_time. Overflow → the
//   line is refused.
// - A line with a syntax error is refused whole; parsing resumes at the next '\n'.
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>

#include "core/result.hpp"
#include "core/series_key.hpp"
#include "core/types.hpp"
#include "ingest/errc.hpp"       // errc, kImportBlockBytes
#include "ingest/text_scan.hpp"  // CarryOverBuffer

namespace strata::ingest {

// Unit of the timestamps in a line-protocol text (InfluxDB's `precision` parameter).
enum class Precision { ns, us, ms, s };

// "ns"/"n", "us"/"u"/"µs", "ms", "s" (InfluxDB 2.x and 1.x spellings); nullopt for anything else.
std::optional<Precision> parse_precision(std::string_view text);

// Receives what the parser finds, in input order. The views point into the parser's buffer and are
// valid only during the call; copy what must outlive it.
class LineProtocolSink {
 public:
  virtual ~LineProtocolSink() = default;
  // series_text is the raw "measurement,tag=v,..." part exactly as written (escapes intact, never
  // empty); field is the raw field key (escapes intact, never empty). value is finite.
  virtual void point(std::string_view series_text, std::string_view field, Timestamp ts,
                     double value) = 0;
  // line_no is 1-based. reason is the whole message a user sees, starting with "line N: ", naming
  // the field or byte (1-based within the line) and what was expected.
  virtual void refuse(std::size_t line_no, std::string_view reason) = 0;
};

struct LineProtocolOptions {
  Precision precision = Precision::ns;
  Timestamp default_time = 0;  // for lines without a timestamp
  // LineProtocolStream only: a record longer than this without a line end is refused and skipped.
  std::size_t max_record_bytes = std::size_t{64} << 20;
};

// Parses every line of `text`; a trailing line without '\n' is parsed too. Points and refusals go
// to `sink` in input order; lines are numbered from first_line_no. Returns the number of physical
// lines consumed: the count of '\n' in text, plus one when text does not end with '\n' (and is not
// empty) — so first_line_no + result numbers the next call's first line.
std::size_t parse_line_protocol(std::string_view text, const LineProtocolOptions& options,
                                LineProtocolSink& sink, std::size_t first_line_no = 1);

// The documented mapping from a point's (series_text, field) to the series it belongs to:
//  - device = the value of tag `device` if present, else the measurement;
//  - metric = the field key when the device came from the measurement; otherwise (a `device` tag
//    is present) the measurement if the field key is "value", else "<measurement>_<field>";
//  - every other tag stays a tag (unescaped), sorted by key (SeriesKey::normalise()).
// Names are unescaped. errc::syntax when series_text or field is not what the parser hands out.
[[nodiscard]] Result<SeriesKey> series_key_for(std::string_view series_text,
                                               std::string_view field);

// Parses a text that arrives in pieces (a file read in blocks, an HTTP body), carrying a record cut
// at a block boundary over to the next block. Emits exactly what parse_line_protocol would emit on
// the concatenated text, except that a record longer than options.max_record_bytes is refused.
// Either hand it bytes with feed(), or let it own the buffer: read into prepare(n), then commit().
class LineProtocolStream {
 public:
  LineProtocolStream(const LineProtocolOptions& options, LineProtocolSink& sink,
                     std::size_t first_line_no = 1);

  // Parses every complete record in the bytes given so far.
  void feed(std::string_view bytes);
  // A writable span of n bytes at the end of the internal buffer; commit(k) makes k <= n of them
  // part of the input and parses what became complete. The span is valid until the next call.
  std::span<char> prepare(std::size_t n);
  void commit(std::size_t n);
  // End of input: parses the last record even without a line end. The stream can then be reused.
  void finish();

  // Physical lines fully consumed so far (all of them after finish()).
  [[nodiscard]] std::size_t lines() const { return next_line_ - first_line_; }

 private:
  void parse_buffered();
  void refuse_overlong_record();

  LineProtocolOptions options_;
  LineProtocolSink& sink_;
  CarryOverBuffer buffer_;
  std::size_t first_line_;
  std::size_t next_line_;  // number of the line that begins at the first pending byte
  bool skipping_ = false;  // discarding an over-long record up to its '\n'
};

// Parses a whole file (or stdin, via the FILE* form) in blocks of block_bytes with a
// LineProtocolStream. Returns the number of lines read, or errc::io when the file cannot be opened
// or read (points before the failure have been delivered).
[[nodiscard]] Result<std::size_t> parse_line_protocol_file(
    const std::filesystem::path& path, const LineProtocolOptions& options, LineProtocolSink& sink,
    std::size_t block_bytes = kImportBlockBytes);
[[nodiscard]] Result<std::size_t> parse_line_protocol_file(
    std::FILE* file, const LineProtocolOptions& options, LineProtocolSink& sink,
    std::size_t block_bytes = kImportBlockBytes);

}  // namespace strata::ingest

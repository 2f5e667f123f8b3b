#include "ingest/csv_reader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "core/time_format.hpp"
#include "ingest/text_scan.hpp"

namespace strata::ingest {
namespace {

// A value cell: optional sign, then what strtod reads in decimal form (no inf, nan or hex).
bool parse_value(std::string_view s, double& out) {
  if (s.empty()) return false;
  std::size_t i = 0;
  if (s[0] == '+') {
    s.remove_prefix(1);
    if (s.empty()) return false;
  } else if (s[0] == '-') {
    i = 1;
  }
  if (i >= s.size() || !(is_digit(s[i]) || s[i] == '.')) return false;
  return parse_double(s, out) == NumberStatus::ok;
}

// Epoch number ("1396310700", "-12.5", "1396310700123") in unit, to µs, floored.
// Returns an empty string on success, else why not.
std::string parse_epoch(std::string_view s, EpochUnit unit, Timestamp& out) {
  const bool negative = s[0] == '-';
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  std::uint64_t whole = 0;
  bool any_digit = false;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    any_digit = true;
    if (__builtin_mul_overflow(whole, std::uint64_t{10}, &whole) ||
        __builtin_add_overflow(whole, static_cast<std::uint64_t>(s[i] - '0'), &whole))
      return "epoch number is out of range";
  }
  std::string_view frac;
  if (i < s.size() && s[i] == '.') {
    const std::size_t f = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    frac = s.substr(f, i - f);
    any_digit = any_digit || !frac.empty();
  }
  if (i != s.size() || !any_digit) return "not a number";
  if (whole > static_cast<std::uint64_t>(kMaxTimestamp)) return "epoch number is out of range";
  if (unit == EpochUnit::auto_detect) {
    unit = whole < 100'000'000'000ULL           ? EpochUnit::s
           : whole < 100'000'000'000'000ULL     ? EpochUnit::ms
           : whole < 100'000'000'000'000'000ULL ? EpochUnit::us
                                                : EpochUnit::ns;
  }
  std::int64_t us = 0;
  bool remainder = false;  // a non-zero part below 1 µs was dropped
  if (unit == EpochUnit::ns) {
    us = static_cast<std::int64_t>(whole / 1000);
    remainder = whole % 1000 != 0 || frac.find_first_not_of('0') != std::string_view::npos;
  } else {
    const int digits = unit == EpochUnit::s ? 6 : unit == EpochUnit::ms ? 3 : 0;
    std::int64_t scale = 1;
    for (int k = 0; k < digits; ++k) scale *= 10;
    std::int64_t part = 0;
    for (int k = 0; k < digits; ++k)
      part =
          part * 10 +
          (static_cast<std::size_t>(k) < frac.size() ? frac[static_cast<std::size_t>(k)] - '0' : 0);
    if (frac.size() > static_cast<std::size_t>(digits))
      remainder = frac.substr(static_cast<std::size_t>(digits)).find_first_not_of('0') !=
                  std::string_view::npos;
    if (__builtin_mul_overflow(static_cast<std::int64_t>(whole), scale, &us) ||
        __builtin_add_overflow(us, part, &us))
      return "epoch number is out of range";
  }
  if (negative) us = remainder ? -us - 1 : -us;  // floor; -us cannot overflow as us >= 0
  out = us;
  return {};
}

bool looks_like_epoch(std::string_view s) {
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (!is_digit(s[i]) && s[i] != '.') return false;
  return true;
}

bool usable_delimiter(char d) { return d != '"' && d != ' ' && d != '\r' && d != '\n'; }

}  // namespace

struct CsvReader::Cell {
  const char* begin;  // contents: inside the quotes for a quoted cell, trimmed otherwise
  const char* end;
  bool quoted;
};

// Reads rows one at a time. With final == false, a row that the text cuts off (its line end is
// not in the text yet) is left unread, so that the reader can read it when the rest arrives.
class CsvReader::RowParser {
 public:
  struct Progress {
    std::size_t bytes = 0;
    std::size_t lines = 0;
    bool fatal = false;  // the header is unusable; reader.header_error_ says why
  };

  RowParser(CsvReader& reader, bool final) : r_(reader), final_(final) {
    const char d = reader.options_.delimiter;
    stop_[static_cast<unsigned char>(d)] = true;
    stop_[static_cast<unsigned char>('\n')] = true;
    stop_[static_cast<unsigned char>('\r')] = true;
    skip_tab_ = d != '\t';
  }

  Progress run(std::string_view text, std::size_t first_line_no) {
    text_begin_ = text.data();
    const char* p = text.data();
    end_ = p + text.size();
    std::size_t line = first_line_no;
    Progress progress;
    while (p < end_) {
      const Outcome o = row(p, line);
      if (o == Outcome::incomplete) break;
      if (o == Outcome::fatal) {
        progress.fatal = true;
        break;
      }
      r_.at_start_ = false;
      p = next_;
      line += row_lines_;
    }
    progress.bytes = static_cast<std::size_t>(p - text.data());
    progress.lines = line - first_line_no;
    return progress;
  }

 private:
  enum class Outcome { done, incomplete, fatal };

  [[nodiscard]] bool is_blank(char c) const { return c == ' ' || (c == '\t' && skip_tab_); }

  Outcome finish_line(const char* q) { return end_row(after_line_end(q, end_, final_)); }
  Outcome skip_line(const char* q) { return end_row(after_next_newline(q, end_, final_)); }

  Outcome end_row(const char* next) {
    if (next == nullptr) return Outcome::incomplete;
    next_ = next;
    row_lines_ = line_ - row_line_ + 1;
    return Outcome::done;
  }

  [[nodiscard]] std::string column_label(std::size_t i) const {
    if (i < r_.columns_.size() && !r_.columns_[i].empty()) return "'" + shown(r_.columns_[i]) + "'";
    return std::to_string(i + 1);
  }

  // A broken row: refused whole (or, in the header, the whole input), and skipped to the next '\n'.
  Outcome fail(const char* at, std::size_t column, const std::string& what) {
    if (skip_line(at) == Outcome::incomplete) return Outcome::incomplete;
    const std::string where = "line " + std::to_string(line_) + ", column " + column_label(column);
    const std::string byte = " (byte " + std::to_string(at - line_start_ + 1) + ")";
    if (r_.columns_.empty()) {
      r_.header_error_ = Error::of(errc::bad_header, where + " of the header: " + what + byte);
      return Outcome::fatal;
    }
    ++r_.rows_;
    r_.sink_.refuse(line_, where + ": " + what + byte + "; the row is skipped");
    return Outcome::done;
  }

  // Splits the row at p into r_.cells_, then reads it as the header or as data.
  Outcome row(const char* p, std::size_t line) {
    row_line_ = line_ = line;
    line_start_ = p;
    if (r_.at_start_ && p == text_begin_ && end_ - p >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0)
      p += 3;
    r_.cells_.clear();
    const char delim = r_.options_.delimiter;
    const char* q = p;
    for (;;) {
      while (q < end_ && is_blank(*q)) ++q;
      if (q < end_ && *q == '"') {
        const std::size_t q_line = line_;
        const char* const q_line_start = line_start_;
        const char* const open = q;
        const char* s = q + 1;
        const char* close = nullptr;
        for (;;) {
          const void* found = std::memchr(s, '"', static_cast<std::size_t>(end_ - s));
          const char* const stop = found ? static_cast<const char*>(found) : end_;
          for (const char* c = s; c < stop; ++c)
            if (*c == '\n') {
              ++line_;
              line_start_ = c + 1;
            }
          if (found == nullptr) break;
          if (stop + 1 < end_ && stop[1] == '"') {
            s = stop + 2;
            continue;
          }
          close = stop;
          break;
        }
        if (close == nullptr) {
          if (!final_) return Outcome::incomplete;
          line_ = q_line;
          line_start_ = q_line_start;
          return fail(open, r_.cells_.size(), "quoted cell is never closed");
        }
        r_.cells_.push_back({open + 1, close, true});
        q = close + 1;
        while (q < end_ && is_blank(*q)) ++q;
        if (q < end_ && *q == delim) {
          ++q;
          continue;
        }
        if (is_eol(q, end_)) break;
        return fail(q, r_.cells_.size() - 1,
                    "expected the delimiter or a line end after the closing quote");
      }
      const char* const b = q;
      while (q < end_ &&
             !(stop_[static_cast<unsigned char>(*q)] && (*q != '\r' || is_eol(q, end_))))
        ++q;
      const char* e = q;
      while (e > b && is_blank(e[-1])) --e;
      r_.cells_.push_back({b, e, false});
      if (q < end_ && *q == delim) {
        ++q;
        continue;
      }
      break;
    }
    if (const Outcome o = finish_line(q); o != Outcome::done) return o;

    const bool blank = std::all_of(r_.cells_.begin(), r_.cells_.end(),
                                   [](const Cell& c) { return !c.quoted && c.begin == c.end; });
    if (blank) return Outcome::done;
    if (r_.columns_.empty()) return header();
    return data();
  }

  Outcome header() {
    std::vector<std::string> names;
    names.reserve(r_.cells_.size());
    for (const Cell& c : r_.cells_) {
      std::string name;
      for (const char* s = c.begin; s < c.end; ++s) {
        name += *s;
        if (c.quoted && *s == '"') ++s;  // "" inside quotes is one quote
      }
      names.push_back(std::move(name));
    }
    const std::string where = "line " + std::to_string(row_line_) + " (header): ";
    if (names.size() < 2) {
      r_.header_error_ = Error::of(
          errc::bad_header, where +
                                "no metric column; the header names the time column, then one "
                                "column per metric (e.g. timestamp,value)");
      return Outcome::fatal;
    }
    std::unordered_map<std::string_view, std::size_t> seen;
    for (std::size_t i = 1; i < names.size(); ++i) {
      if (names[i].empty()) {
        r_.header_error_ =
            Error::of(errc::bad_header, where + "column " + std::to_string(i + 1) +
                                            " has no name; name every metric column");
        return Outcome::fatal;
      }
      if (const auto [it, fresh] = seen.emplace(names[i], i); !fresh) {
        r_.header_error_ = Error::of(
            errc::bad_header, where + "column '" + shown(names[i]) + "' appears twice (columns " +
                                  std::to_string(it->second + 1) + " and " + std::to_string(i + 1) +
                                  "); give each metric column its own name");
        return Outcome::fatal;
      }
    }
    r_.columns_ = std::move(names);
    r_.sink_.header(r_.columns_);
    return Outcome::done;
  }

  Outcome data() {
    ++r_.rows_;
    const auto& cells = r_.cells_;
    const std::size_t n_columns = r_.columns_.size();
    if (cells.size() > n_columns) {
      r_.sink_.refuse(row_line_, "line " + std::to_string(row_line_) + ": " +
                                     std::to_string(cells.size()) + " cells but the header names " +
                                     std::to_string(n_columns) + " columns; the row is skipped");
      return Outcome::done;
    }
    const std::string_view time = trimmed(cells[0]);
    Timestamp ts = 0;
    std::string why;
    if (time.empty()) {
      why = "the time is empty";
    } else if (looks_like_epoch(time)) {
      why = parse_epoch(time, r_.options_.epoch_unit, ts);
      if (!why.empty()) why += ", got \"" + shown(time) + "\"";
    } else if (const auto iso = parse_iso8601(time)) {
      ts = *iso;
    } else {
      why = "expected an ISO 8601 time (2014-04-01 00:05:00) or an epoch number, got \"" +
            shown(time) + "\"";
    }
    if (!why.empty()) {
      r_.sink_.refuse(row_line_, "line " + std::to_string(row_line_) + ", column " +
                                     column_label(0) + ": " + why + "; the row is skipped");
      return Outcome::done;
    }
    for (std::size_t i = 1; i < cells.size(); ++i) {
      const std::string_view text = trimmed(cells[i]);
      if (text.empty()) continue;
      double value = 0;
      if (parse_value(text, value)) {
        r_.sink_.point(i, ts, value);
      } else {
        r_.sink_.refuse(row_line_, "line " + std::to_string(row_line_) + ", column " +
                                       column_label(i) + ": expected a number, got \"" +
                                       shown(text) + "\"");
      }
    }
    return Outcome::done;
  }

  [[nodiscard]] std::string_view trimmed(const Cell& c) const {
    const char* b = c.begin;
    const char* e = c.end;
    while (b < e && is_blank(*b)) ++b;
    while (e > b && is_blank(e[-1])) --e;
    return {b, static_cast<std::size_t>(e - b)};
  }

  CsvReader& r_;
  const bool final_;
  std::array<bool, 256> stop_{};
  bool skip_tab_ = true;
  const char* text_begin_ = nullptr;
  const char* end_ = nullptr;
  std::size_t row_line_ = 0;          // line where the row starts
  std::size_t line_ = 0;              // line being read (a quoted cell may span lines)
  const char* line_start_ = nullptr;  // first byte of line_
  const char* next_ = nullptr;        // set by a finished row: where the next one starts
  std::size_t row_lines_ = 0;         // set by a finished row: physical lines it took
};

std::optional<EpochUnit> parse_epoch_unit(std::string_view text) {
  if (text == "auto") return EpochUnit::auto_detect;
  if (text == "s") return EpochUnit::s;
  if (text == "ms") return EpochUnit::ms;
  if (text == "us") return EpochUnit::us;
  if (text == "ns") return EpochUnit::ns;
  return std::nullopt;
}

CsvReader::CsvReader(const CsvOptions& options, CsvSink& sink) : options_(options), sink_(sink) {
  if (!usable_delimiter(options.delimiter))
    header_error_ = Error::of(errc::syntax,
                              "a quote, space or line end cannot be the CSV "
                              "delimiter; use ',', ';' or a tab");
}

CsvReader::~CsvReader() = default;

Status CsvReader::feed(std::string_view bytes) {
  if (bytes.empty()) return header_error_ ? Status(*header_error_) : Status();
  const std::span<char> dst = prepare(bytes.size());
  std::memcpy(dst.data(), bytes.data(), bytes.size());
  return commit(bytes.size());
}

std::span<char> CsvReader::prepare(std::size_t n) { return buffer_.prepare(n); }

Status CsvReader::commit(std::size_t n) {
  if (header_error_) return *header_error_;
  buffer_.commit(n);
  if (skipping_) {
    if (!buffer_.drop_through_newline()) return {};
    ++next_line_;
    skipping_ = false;
  }
  if (Status s = parse_buffered(false, buffer_.pending().size()); !s) return s;
  if (buffer_.pending().size() > options_.max_record_bytes) refuse_overlong_record();
  return header_error_ ? Status(*header_error_) : Status();
}

Status CsvReader::parse_buffered(bool final, std::size_t limit) {
  const RowParser::Progress done =
      RowParser(*this, final).run(buffer_.pending().substr(0, limit), next_line_);
  buffer_.consume(done.bytes);
  next_line_ += done.lines;
  if (done.fatal) return *header_error_;
  return {};
}

void CsvReader::refuse_overlong_record() {
  // A quote left open makes a row run on over line ends. Read up to the last newline as if the
  // text ended there: that refuses the open quote's row and reads the rows after it normally.
  const std::string_view tail = buffer_.pending();
  if (const std::size_t nl = tail.rfind('\n'); nl != std::string_view::npos) {
    if (!parse_buffered(true, nl + 1)) return;
  }
  if (buffer_.pending().size() <= options_.max_record_bytes) return;
  if (columns_.empty()) {
    header_error_ =
        Error::of(errc::bad_header,
                  "line " + std::to_string(next_line_) + " (header): longer than " +
                      std::to_string(options_.max_record_bytes) + " bytes without a line end");
    return;
  }
  ++rows_;
  sink_.refuse(next_line_, "line " + std::to_string(next_line_) + ": longer than " +
                               std::to_string(options_.max_record_bytes) +
                               " bytes without a line end; the row is skipped");
  buffer_.clear();
  skipping_ = true;
}

Status CsvReader::finish() {
  if (header_error_) return *header_error_;
  if (skipping_) {
    ++next_line_;
    skipping_ = false;
  } else if (Status s = parse_buffered(true, buffer_.pending().size()); !s) {
    return s;
  }
  buffer_.clear();
  if (columns_.empty()) {
    header_error_ = Error::of(errc::bad_header,
                              "no header row; the first line names the columns: "
                              "the time column, then one per metric");
    return *header_error_;
  }
  return {};
}

Result<std::size_t> parse_csv(std::string_view text, const CsvOptions& options, CsvSink& sink) {
  CsvReader reader(options, sink);
  if (Status s = reader.feed(text); !s) return s.error();
  if (Status s = reader.finish(); !s) return s.error();
  return reader.rows();
}

Result<std::size_t> read_csv_file(std::FILE* file, const CsvOptions& options, CsvSink& sink,
                                  std::size_t block_bytes) {
  CsvReader reader(options, sink);
  block_bytes = std::max<std::size_t>(block_bytes, 1);
  for (;;) {
    const std::span<char> dst = reader.prepare(block_bytes);
    const std::size_t n = std::fread(dst.data(), 1, dst.size(), file);
    if (Status s = reader.commit(n); !s) return s.error();
    if (n < dst.size()) {
      if (std::ferror(file))
        return Error::of(errc::io, "read error after line " + std::to_string(reader.lines()) +
                                       ": " + std::strerror(errno));
      break;
    }
  }
  if (Status s = reader.finish(); !s) return s.error();
  return reader.rows();
}

Result<std::size_t> read_csv_file(const std::filesystem::path& path, const CsvOptions& options,
                                  CsvSink& sink, std::size_t block_bytes) {
  const auto file = open_import_file(path);
  if (!file) return file.error();
  return read_csv_file(file->get(), options, sink, block_bytes);
}

}  // namespace strata::ingest

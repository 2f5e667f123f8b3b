#pragma once
// Wide CSV decoder: one time column, then one column per metric, as NAB and most historian exports
// write it:
//
//   timestamp,value            <- header row (required): column 0 is the time, the others metrics
//   2014-04-01 00:05:00,20.0   <- one row: a time and one reading per metric column
//
// - Cells follow RFC 4180: a cell may be quoted ("..." with "" for a quote inside, and may then
//   hold the delimiter or line ends); lines end with '\n' or "\r\n"; a UTF-8 BOM before the header
//   is skipped; blank lines (and rows whose every cell is empty) are skipped. Spaces around an
//   unquoted cell are ignored.
// - Time cells: ISO 8601 as core/time_format.hpp reads it, or an epoch number (optionally with a
//   decimal fraction) in CsvOptions::epoch_unit. EpochUnit::auto_detect decides by the magnitude of
//   the integer part: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else
//   nanoseconds — right for every time from 1973-03-03 to 5138-11-16. Sub-µs parts are floored.
// - Value cells: a decimal number as strtod reads it (optional sign, exponent; no inf, nan or hex),
//   bit-exact. An empty cell is no reading. Anything else refuses that cell only:
//   `line 5, column 'value': expected a number, got "warm"`.
// - A bad time, a broken quote or more cells than the header has refuses the whole row. A row with
//   fewer cells than the header has no reading for the missing ones.
// - The header must name at least one metric column, each non-empty and distinct; otherwise the
//   whole input is refused (errc::bad_header).
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "ingest/errc.hpp"       // errc, kImportBlockBytes
#include "ingest/text_scan.hpp"  // CarryOverBuffer

namespace strata::ingest {

// Unit of epoch-number time cells.
enum class EpochUnit { auto_detect, s, ms, us, ns };

// "auto", "s", "ms", "us", "ns"; nullopt for anything else.
std::optional<EpochUnit> parse_epoch_unit(std::string_view text);

struct CsvOptions {
  EpochUnit epoch_unit = EpochUnit::auto_detect;
  // ',' ';' or '\t'. A quote, space or line end here makes every CsvReader call return
  // errc::syntax.
  char delimiter = ',';
  // CsvReader only: a row longer than this without a line end is refused and skipped.
  std::size_t max_record_bytes = std::size_t{64} << 20;
};

// Receives what the reader finds, in input order.
class CsvSink {
 public:
  virtual ~CsvSink() = default;
  // Once, when the header row has been read: the column names, [0] being the time column.
  virtual void header(std::span<const std::string> columns) { (void)columns; }
  // One reading: column indexes header()'s names (1 and up; 0 is the time column); finite value.
  virtual void point(std::size_t column, Timestamp ts, double value) = 0;
  // line_no is 1-based; reason is the whole message a user sees, starting with "line N".
  virtual void refuse(std::size_t line_no, std::string_view reason) = 0;
};

// Reads a CSV text that arrives in pieces (a file read in blocks, an HTTP body); a row cut at a
// block boundary is carried over to the next block. Either hand it bytes with feed(), or let it own
// the buffer: read into prepare(n), then commit(). Every call returns the header's error, if any,
// once the header has been found unusable; the reader then ignores further input.
class CsvReader {
 public:
  CsvReader(const CsvOptions& options, CsvSink& sink);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  Status feed(std::string_view bytes);
  // A writable span of n bytes at the end of the internal buffer, valid until the next call;
  // commit(k) makes k <= n of them part of the input and reads the rows that became complete.
  std::span<char> prepare(std::size_t n);
  Status commit(std::size_t n);
  // End of input: reads the last row even without a line end; errc::bad_header if there was no
  // header row at all.
  Status finish();

  // Column names from the header row, [0] being the time column; empty until the header is read.
  [[nodiscard]] const std::vector<std::string>& columns() const { return columns_; }
  // Physical lines fully consumed, and data rows read (refused ones included, blank ones not).
  [[nodiscard]] std::size_t lines() const { return next_line_ - 1; }
  [[nodiscard]] std::size_t rows() const { return rows_; }

 private:
  struct Cell;
  class RowParser;
  Status parse_buffered(bool final, std::size_t limit);
  void refuse_overlong_record();

  CsvOptions options_;
  CsvSink& sink_;
  CarryOverBuffer buffer_;
  std::size_t next_line_ = 1;
  std::size_t rows_ = 0;
  bool skipping_ = false;  // discarding an over-long row up to its '\n'
  bool at_start_ = true;   // nothing consumed yet: a BOM may come
  std::vector<std::string> columns_;
  std::optional<Error> header_error_;
  std::vector<Cell> cells_;  // reused for every row
};

// Reads a whole CSV text. Returns the number of data rows (refused ones included), or
// errc::bad_header.
[[nodiscard]] Result<std::size_t> parse_csv(std::string_view text, const CsvOptions& options,
                                            CsvSink& sink);

// Reads a whole file (or stdin, via the FILE* form) in blocks of block_bytes with a CsvReader.
// Returns the number of data rows, errc::bad_header, or errc::io when the file cannot be opened or
// read (rows before the failure have been delivered).
[[nodiscard]] Result<std::size_t> read_csv_file(const std::filesystem::path& path,
                                                const CsvOptions& options, CsvSink& sink,
                                                std::size_t block_bytes = kImportBlockBytes);
[[nodiscard]] Result<std::size_t> read_csv_file(std::FILE* file, const CsvOptions& options,
                                                CsvSink& sink,
                                                std::size_t block_bytes = kImportBlockBytes);

}  // namespace strata::ingest

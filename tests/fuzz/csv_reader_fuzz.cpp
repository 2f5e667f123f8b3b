// Fuzz target for the CSV reader (src/ingest/csv_reader.hpp). The first byte picks the options and
// how the stream is cut; the rest is the text. On every input it checks:
//  - the header is announced at most once, with at least two columns, before any point;
//  - a point names a metric column of the header and has a finite value;
//  - a refusal has a reason starting with "line N" for its own line N, within the text's lines;
//  - a CsvReader fed the same text in pieces gives the same events, rows and header error.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/csv_reader.hpp"

namespace {

using strata::Timestamp;
using namespace strata::ingest;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "csv_reader_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

struct Event {
  bool refused;
  std::size_t column;
  Timestamp ts;
  std::uint64_t value_bits;
  std::size_t line;
  std::string reason;
  bool operator==(const Event&) const = default;
};

class CheckingSink : public CsvSink {
 public:
  explicit CheckingSink(std::size_t max_line) : max_line_(max_line) {}
  void header(std::span<const std::string> names) override {
    check(columns == 0, "the header is announced once");
    check(events.empty(), "the header comes before any row");
    check(names.size() >= 2, "the header has a time column and a metric column");
    columns = names.size();
  }
  void point(std::size_t column, Timestamp ts, double value) override {
    check(column >= 1 && column < columns, "point names a metric column");
    check(std::isfinite(value), "point value is finite");
    events.push_back({false, column, ts, std::bit_cast<std::uint64_t>(value), 0, {}});
  }
  void refuse(std::size_t line, std::string_view reason) override {
    check(columns != 0, "rows are refused only after the header");
    check(line >= 1 && line <= max_line_, "refusal names a line of the text");
    const std::string prefix = "line " + std::to_string(line);
    check(reason.size() > prefix.size() + 2 && reason.substr(0, prefix.size()) == prefix &&
              (reason[prefix.size()] == ':' || reason[prefix.size()] == ','),
          "refusal reason starts with its line and says something");
    events.push_back({true, 0, 0, 0, line, std::string(reason)});
  }
  std::size_t columns = 0;
  std::vector<Event> events;

 private:
  std::size_t max_line_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t knobs = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  CsvOptions options;
  options.epoch_unit = static_cast<EpochUnit>(knobs % 5);
  static constexpr char kDelimiters[] = {',', ';', '\t', ','};
  options.delimiter = kDelimiters[(knobs >> 3) & 3];

  std::size_t newlines = 0;
  for (char c : text) newlines += c == '\n';
  const std::size_t max_line = newlines + 1;

  CheckingSink whole(max_line);
  const auto rows = parse_csv(text, options, whole);
  if (!rows.ok()) {
    check(rows.error().is(errc::bad_header), "only the header can refuse a whole text");
    check(!rows.error().message.empty(), "a header error says why");
    check(whole.events.empty(), "nothing is emitted when the header is refused");
  }

  CheckingSink pieces(max_line);
  CsvReader reader(options, pieces);
  const std::size_t step = 1 + (knobs * 37u) % 97u;
  strata::Status status;
  for (std::size_t i = 0; i < text.size() && status.ok(); i += step)
    status = reader.feed(text.substr(i, step));
  if (status.ok()) status = reader.finish();
  check(status.ok() == rows.ok(), "the reader fails when the one-shot parse fails");
  if (!status.ok()) {
    check(status.error().message == rows.error().message, "with the same header error");
  } else {
    check(reader.rows() == *rows, "the reader counts the same rows");
    check(reader.lines() <= max_line, "the reader counts no more lines than the text has");
  }
  check(pieces.events == whole.events, "the reader emits what the one-shot parse emits");
  return 0;
}

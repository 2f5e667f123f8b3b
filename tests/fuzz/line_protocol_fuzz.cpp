// Fuzz target for the line-protocol parser (src/ingest/line_protocol.hpp). The first byte picks
// the options and how the stream is cut; the rest is the text. On every input it checks:
//  - a refusal has a reason starting with "line N: " for its own line N, within the text's lines;
//  - a point has a non-empty series and field, a finite value, and series_key_for() accepts it;
//  - the line count is the number of '\n' plus one for a trailing partial line;
//  - a LineProtocolStream fed the same text in pieces emits exactly the same events.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/line_protocol.hpp"

namespace {

using strata::Timestamp;
using namespace strata::ingest;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "line_protocol_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

struct Event {
  bool refused;
  std::string a;  // series, or reason
  std::string b;  // field
  Timestamp ts;
  std::uint64_t value_bits;
  std::size_t line;
  bool operator==(const Event&) const = default;
};

class CheckingSink : public LineProtocolSink {
 public:
  explicit CheckingSink(std::size_t max_line) : max_line_(max_line) {}
  void point(std::string_view series, std::string_view field, Timestamp ts, double value) override {
    check(!series.empty(), "point has a series");
    check(!field.empty(), "point has a field");
    check(std::isfinite(value), "point value is finite");
    const auto key = series_key_for(series, field);
    check(key.ok(), "series_key_for accepts what the parser hands out");
    check(!key->device.empty() && !key->metric.empty(), "series key has a device and a metric");
    events.push_back({false, std::string(series), std::string(field), ts,
                      std::bit_cast<std::uint64_t>(value), 0});
  }
  void refuse(std::size_t line, std::string_view reason) override {
    check(line >= 1 && line <= max_line_, "refusal names a line of the text");
    const std::string prefix = "line " + std::to_string(line) + ": ";
    check(reason.size() > prefix.size() && reason.substr(0, prefix.size()) == prefix,
          "refusal reason starts with its line and says something");
    events.push_back({true, std::string(reason), {}, 0, 0, line});
  }
  std::vector<Event> events;

 private:
  std::size_t max_line_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t knobs = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  LineProtocolOptions options;
  options.precision = static_cast<Precision>(knobs & 3);
  options.default_time = static_cast<Timestamp>(knobs >> 2) - 32;

  std::size_t newlines = 0;
  for (char c : text) newlines += c == '\n';
  const std::size_t expected_lines = newlines + (!text.empty() && text.back() != '\n' ? 1 : 0);

  CheckingSink whole(expected_lines);
  const std::size_t lines = parse_line_protocol(text, options, whole);
  check(lines == expected_lines, "line count is newlines plus a trailing partial line");

  CheckingSink pieces(expected_lines);
  LineProtocolStream stream(options, pieces);
  const std::size_t step = 1 + (knobs * 37u) % 97u;
  for (std::size_t i = 0; i < text.size(); i += step) stream.feed(text.substr(i, step));
  stream.finish();
  check(stream.lines() == lines, "the stream counts the same lines");
  check(pieces.events == whole.events, "the stream emits what the one-shot parser emits");
  return 0;
}

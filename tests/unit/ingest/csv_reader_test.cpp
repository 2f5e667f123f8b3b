#include "ingest/csv_reader.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/time_format.hpp"

#ifndef STRATA_SHARED_DIR
#error "STRATA_SHARED_DIR must name the shared directory (set in tests/unit/ingest/CMakeLists.txt)"
#endif

namespace strata::ingest {
namespace {

struct Event {
  bool refused = false;
  std::size_t column = 0;
  Timestamp ts = 0;
  double value = 0;
  std::size_t line = 0;
  std::string reason;

  bool operator==(const Event& o) const {
    return refused == o.refused && column == o.column && ts == o.ts &&
           std::bit_cast<std::uint64_t>(value) == std::bit_cast<std::uint64_t>(o.value) &&
           line == o.line && reason == o.reason;
  }
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  if (e.refused) return os << "refuse(" << e.line << ", \"" << e.reason << "\")";
  return os << "point(" << e.column << ", " << e.ts << ", " << e.value << ")";
}

class RecordingSink : public CsvSink {
 public:
  void header(std::span<const std::string> names) override {
    ++headers;
    columns.assign(names.begin(), names.end());
  }
  void point(std::size_t column, Timestamp ts, double value) override {
    events.push_back({false, column, ts, value, 0, {}});
  }
  void refuse(std::size_t line, std::string_view reason) override {
    events.push_back({true, 0, 0, 0, line, std::string(reason)});
  }
  int headers = 0;
  std::vector<std::string> columns;
  std::vector<Event> events;
};

Event pt(std::size_t column, Timestamp ts, double value) {
  return {false, column, ts, value, 0, {}};
}
Event refusal(std::size_t line, std::string reason) {
  return {true, 0, 0, 0, line, std::move(reason)};
}

constexpr Timestamp kSecond = 1'000'000;

std::vector<Event> read(std::string_view text, CsvOptions options = {}) {
  RecordingSink sink;
  const auto rows = parse_csv(text, options, sink);
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  return sink.events;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::filesystem::path kNycTaxi =
    std::filesystem::path(STRATA_SHARED_DIR) / "datasets/nab/data/realKnownCause/nyc_taxi.csv";

TEST(CsvReader, ReadsTheNabNycTaxiFile) {
  RecordingSink sink;
  const auto rows = read_csv_file(kNycTaxi, {}, sink);
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(*rows, 10320u);
  EXPECT_EQ(sink.headers, 1);
  EXPECT_EQ(sink.columns, (std::vector<std::string>{"timestamp", "value"}));
  ASSERT_EQ(sink.events.size(), 10320u);
  for (const Event& e : sink.events) ASSERT_FALSE(e.refused) << e.reason;
  EXPECT_EQ(sink.events.front(), pt(1, 1404172800 * kSecond, 10844.0));  // 2014-07-01 00:00:00
  EXPECT_EQ(sink.events[1], pt(1, 1404174600 * kSecond, 8127.0));        // 2014-07-01 00:30:00
  EXPECT_EQ(sink.events.back(), pt(1, 1422747000 * kSecond, 26288.0));   // 2015-01-31 23:30:00
  for (std::size_t i = 1; i < sink.events.size(); ++i)
    ASSERT_EQ(sink.events[i].ts - sink.events[i - 1].ts, 1800 * kSecond) << "row " << i;
}

TEST(CsvReader, ReadsTheNabFileTheSameInBlocksOfAnySize) {
  const std::string text = slurp(kNycTaxi);
  ASSERT_FALSE(text.empty());
  RecordingSink whole;
  ASSERT_TRUE(parse_csv(text, {}, whole).ok());
  for (std::size_t block : {std::size_t{1}, std::size_t{13}, std::size_t{4096}}) {
    RecordingSink sink;
    const auto rows = read_csv_file(kNycTaxi, {}, sink, block);
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(*rows, 10320u);
    ASSERT_EQ(sink.events, whole.events) << "block " << block;
  }
}

TEST(CsvReader, ExposesTheColumnsAfterTheHeader) {
  RecordingSink sink;
  CsvReader reader({}, sink);
  EXPECT_TRUE(reader.columns().empty());
  ASSERT_TRUE(reader.feed("time,temp,\"hum, %\",\"say \"\"hi\"\"\"\r\n").ok());
  EXPECT_EQ(reader.columns(), (std::vector<std::string>{"time", "temp", "hum, %", "say \"hi\""}));
  EXPECT_EQ(sink.columns, reader.columns());
  ASSERT_TRUE(reader.finish().ok());
  EXPECT_EQ(reader.rows(), 0u);
  EXPECT_EQ(reader.lines(), 1u);
}

TEST(CsvReader, ReadsQuotedCellsCrlfBomAndBlankLines) {
  const auto events = read(
      "\xEF\xBB\xBFtime,a,b\r\n"
      "\r\n"
      "\"2014-04-01 00:05:00\",\"20.5\",-1e3\r\n"
      "   \n"
      ",,\n"
      "2014-04-01T00:06:00Z , 21 ,\"\"\n"
      "\"2014-04-01 00:07:00\",\"1\n2\",3\n"
      "2014-04-01 00:08:00,4,5");
  const Timestamp t0 = *parse_iso8601("2014-04-01 00:05:00");
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events[0], pt(1, t0, 20.5));
  EXPECT_EQ(events[1], pt(2, t0, -1000.0));
  EXPECT_EQ(events[2], pt(1, t0 + 60 * kSecond, 21.0));
  EXPECT_EQ(events[3], refusal(7, "line 7, column 'a': expected a number, got \"1\\x0A2\""));
  EXPECT_EQ(events[4], pt(2, t0 + 120 * kSecond, 3.0));
  EXPECT_EQ(events[5], pt(1, t0 + 180 * kSecond, 4.0));
  EXPECT_EQ(events[6], pt(2, t0 + 180 * kSecond, 5.0));
}

TEST(CsvReader, EmptyCellIsNoReading) {
  const auto events = read("t,a,b,c\n0,,2,\n1,1,,\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], pt(2, 0, 2.0));
  EXPECT_EQ(events[1], pt(1, kSecond, 1.0));
}

TEST(CsvReader, RefusesANonNumericCellOnlyAndNamesLineAndColumn) {
  const auto events = read("timestamp,value,other\n0,1,2\n1,2,3\n2,3,4\n3,warm,5\n");
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(events[6], refusal(5, "line 5, column 'value': expected a number, got \"warm\""));
  EXPECT_EQ(events[7], pt(2, 3 * kSecond, 5.0));
}

TEST(CsvReader, RefusesTheWholeRowOnABadTime) {
  const auto events = read("timestamp,value\nyesterday,1\n,2\n2014-13-01 00:00:00,3\n1e9,4\n5,5\n");
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0], refusal(2,
                               "line 2, column 'timestamp': expected an ISO 8601 time "
                               "(2014-04-01 00:05:00) or an epoch number, got \"yesterday\"; "
                               "the row is skipped"));
  EXPECT_EQ(events[1], refusal(3,
                               "line 3, column 'timestamp': the time is empty; the row is "
                               "skipped"));
  EXPECT_TRUE(events[2].refused);
  EXPECT_EQ(events[2].line, 4u);
  EXPECT_TRUE(events[3].refused);
  EXPECT_EQ(events[3].line, 5u);
  EXPECT_EQ(events[4], pt(1, 5 * kSecond, 5.0));
}

TEST(CsvReader, RefusesRowsWithMoreCellsThanTheHeaderAndAcceptsFewer) {
  const auto events = read("t,a,b\n1,2,3,4\n2,5\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], refusal(2,
                               "line 2: 4 cells but the header names 3 columns; the row is "
                               "skipped"));
  EXPECT_EQ(events[1], pt(1, 2 * kSecond, 5.0));
}

TEST(CsvReader, RefusesBrokenQuotesRowByRow) {
  const auto events = read("t,a\n1,\"2\"x\n2,\"3\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], refusal(2,
                               "line 2, column 'a': expected the delimiter or a line end after "
                               "the closing quote (byte 6); the row is skipped"));
  EXPECT_EQ(events[1], refusal(3,
                               "line 3, column 'a': quoted cell is never closed (byte 3); the "
                               "row is skipped"));
}

TEST(CsvReader, ReadsEpochTimesInEachUnit) {
  const auto at = [](const std::string& cell, EpochUnit unit) {
    const auto events = read("t,v\n" + cell + ",1\n", {.epoch_unit = unit});
    EXPECT_EQ(events.size(), 1u) << cell;
    EXPECT_FALSE(events.empty() || events[0].refused) << (events.empty() ? "" : events[0].reason);
    return events.empty() ? Timestamp{-999} : events[0].ts;
  };
  EXPECT_EQ(at("1396310700", EpochUnit::s), 1396310700 * kSecond);
  EXPECT_EQ(at("1396310700.25", EpochUnit::s), 1396310700 * kSecond + 250000);
  EXPECT_EQ(at("1.0000005", EpochUnit::s), kSecond);  // below 1 µs: floored
  EXPECT_EQ(at("-1.5", EpochUnit::s), -1500000);
  EXPECT_EQ(at("-1.0000005", EpochUnit::s), -kSecond - 1);
  EXPECT_EQ(at("1396310700123", EpochUnit::ms), 1396310700123000);
  EXPECT_EQ(at("12.5", EpochUnit::ms), 12500);
  EXPECT_EQ(at("1396310700123456", EpochUnit::us), 1396310700123456);
  EXPECT_EQ(at("1396310700123456789", EpochUnit::ns), 1396310700123456);
  EXPECT_EQ(at("-1", EpochUnit::ns), -1);
  EXPECT_EQ(at("-1000", EpochUnit::ns), -1);
  EXPECT_EQ(at("+7", EpochUnit::s), 7 * kSecond);
  // auto: below 1e11 seconds, below 1e14 ms, below 1e17 µs, else ns.
  EXPECT_EQ(at("1396310700", EpochUnit::auto_detect), 1396310700 * kSecond);
  EXPECT_EQ(at("99999999999", EpochUnit::auto_detect), 99999999999 * kSecond);
  EXPECT_EQ(at("100000000000", EpochUnit::auto_detect), 100000000000 * 1000);
  EXPECT_EQ(at("1396310700123", EpochUnit::auto_detect), 1396310700123000);
  EXPECT_EQ(at("1396310700123456", EpochUnit::auto_detect), 1396310700123456);
  EXPECT_EQ(at("1396310700123456789", EpochUnit::auto_detect), 1396310700123456);
  EXPECT_EQ(at("0", EpochUnit::auto_detect), 0);
}

TEST(CsvReader, RefusesEpochsThatDoNotFit) {
  const auto events =
      read("t,v\n9223372036855,1\n99999999999999999999,1\n1.2.3,1\n", {.epoch_unit = EpochUnit::s});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], refusal(2,
                               "line 2, column 't': epoch number is out of range, got "
                               "\"9223372036855\"; the row is skipped"));
  EXPECT_EQ(events[1].line, 3u);
  EXPECT_EQ(events[2], refusal(4,
                               "line 4, column 't': not a number, got \"1.2.3\"; the row is "
                               "skipped"));
}

TEST(CsvReader, ReadsValueForms) {
  const auto events = read(
      "t,v\n0,+1.5\n0,-.5\n0,5.\n0,1E3\n0, 7 \n0,1e-400\n0,inf\n0,nan\n"
      "0,0x10\n0,1e400\n0,1 2\n0,++1\n0,-\n");
  std::vector<double> values;
  std::size_t refused = 0;
  for (const Event& e : events) {
    if (e.refused)
      ++refused;
    else
      values.push_back(e.value);
  }
  EXPECT_EQ(values, (std::vector<double>{1.5, -0.5, 5.0, 1000.0, 7.0, 0.0}));
  EXPECT_EQ(refused, 7u);
}

TEST(CsvReader, ValuesAreBitExactToStrtod) {
  std::mt19937_64 rng(77);
  std::string text = "t,v\n";
  std::vector<std::string> literals;
  for (int i = 0; i < 30000; ++i) {
    double d;
    do d = std::bit_cast<double>(rng());
    while (!std::isfinite(d));
    char buf[64];
    if (i % 2) {
      std::snprintf(buf, sizeof buf, "%.17g", d);
    } else {
      *std::to_chars(buf, buf + sizeof buf - 1, d).ptr = '\0';
    }
    literals.emplace_back(buf);
    text += "0," + literals.back() + "\n";
  }
  const auto events = read(text);
  ASSERT_EQ(events.size(), literals.size());
  for (std::size_t i = 0; i < literals.size(); ++i) {
    ASSERT_FALSE(events[i].refused) << literals[i];
    ASSERT_EQ(std::bit_cast<std::uint64_t>(events[i].value),
              std::bit_cast<std::uint64_t>(std::strtod(literals[i].c_str(), nullptr)))
        << literals[i];
  }
}

TEST(CsvReader, ReadsOtherDelimiters) {
  auto events = read("t;a;b\n1;2,5;3\n", {.delimiter = ';'});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], refusal(2, "line 2, column 'a': expected a number, got \"2,5\""));
  EXPECT_EQ(events[1], pt(2, kSecond, 3.0));
  events = read("t\ta\n1\t 2\n", {.delimiter = '\t'});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], pt(1, kSecond, 2.0));
  RecordingSink sink;
  const auto bad = parse_csv("t\"a\n", {.delimiter = '"'}, sink);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(errc::syntax));
}

TEST(CsvReader, RefusesAnUnusableHeader) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"",
                "no header row; the first line names the columns: the time column, then one "
                "per metric"},
           Case{"\n\n",
                "no header row; the first line names the columns: the time column, then "
                "one per metric"},
           Case{"timestamp\n1\n",
                "line 1 (header): no metric column; the header names the time "
                "column, then one column per metric (e.g. timestamp,value)"},
           Case{"t,a,,b\n", "line 1 (header): column 3 has no name; name every metric column"},
           Case{"\nt,a,b,a\n1,2,3,4\n",
                "line 2 (header): column 'a' appears twice (columns 2 "
                "and 4); give each metric column its own name"},
           Case{"t,\"a\n", "line 1, column 2 of the header: quoted cell is never closed (byte 3)"},
       }) {
    RecordingSink sink;
    const auto rows = parse_csv(c.text, {}, sink);
    ASSERT_FALSE(rows.ok()) << c.text;
    EXPECT_TRUE(rows.error().is(errc::bad_header)) << c.text;
    EXPECT_EQ(rows.error().message, c.message);
    EXPECT_TRUE(sink.events.empty());
  }
}

TEST(CsvReader, StopsAfterAHeaderError) {
  RecordingSink sink;
  CsvReader reader({}, sink);
  EXPECT_FALSE(reader.feed("t\n").ok());
  EXPECT_FALSE(reader.feed("1,2\n").ok());
  EXPECT_FALSE(reader.finish().ok());
  EXPECT_TRUE(sink.events.empty());
}

const char* const kMixed =
    "\xEF\xBB\xBF\"time\",a,\"b\"\"x\"\r\n"
    "2014-04-01 00:05:00,1.5,\"2\"\r\n"
    "\r\n"
    "1396310760,\"multi\nline\",3\n"
    "bad,1,2\n"
    "1396310820,,\"4\"\"\"\n"
    "1396310880,1,2,3\n"
    "1396310940,\"7\"z,8\n"
    "1396311000,9,10";

TEST(CsvReader, EmitsTheSameWhereverTheTextIsCut) {
  RecordingSink whole;
  const auto rows = parse_csv(kMixed, {}, whole);
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(*rows, 7u);
  EXPECT_EQ(whole.columns, (std::vector<std::string>{"time", "a", "b\"x"}));
  const std::vector<Event> expected{
      pt(1, 1396310700 * kSecond, 1.5),
      pt(2, 1396310700 * kSecond, 2.0),
      refusal(4, "line 4, column 'a': expected a number, got \"multi\\x0Aline\""),
      pt(2, 1396310760 * kSecond, 3.0),
      refusal(6,
              "line 6, column 'time': expected an ISO 8601 time (2014-04-01 00:05:00) or an "
              "epoch number, got \"bad\"; the row is skipped"),
      refusal(7, "line 7, column 'b\"x': expected a number, got \"4\"\"\""),
      refusal(8, "line 8: 4 cells but the header names 3 columns; the row is skipped"),
      refusal(9,
              "line 9, column 'a': expected the delimiter or a line end after the closing "
              "quote (byte 15); the row is skipped"),
      pt(1, 1396311000 * kSecond, 9.0),
      pt(2, 1396311000 * kSecond, 10.0),
  };
  ASSERT_EQ(whole.events, expected);
  const std::string text = kMixed;
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    RecordingSink sink;
    CsvReader reader({}, sink);
    ASSERT_TRUE(reader.feed(std::string_view(text).substr(0, cut)).ok());
    ASSERT_TRUE(reader.feed(std::string_view(text).substr(cut)).ok());
    ASSERT_TRUE(reader.finish().ok());
    ASSERT_EQ(sink.events, expected) << "cut at " << cut;
    EXPECT_EQ(reader.rows(), 7u);
    EXPECT_EQ(reader.lines(), 10u);
  }
}

TEST(CsvReader, RefusesAnOverlongRowAndReadsOnAfterIt) {
  RecordingSink sink;
  CsvReader reader({.max_record_bytes = 32}, sink);
  ASSERT_TRUE(reader.feed("t,v\n1,1\n2,").ok());
  ASSERT_TRUE(reader.feed(std::string(50, '9')).ok());
  ASSERT_TRUE(reader.feed(std::string(50, '9')).ok());
  ASSERT_TRUE(reader.feed("\n3,3\n4,\"open\n5,5\n6,6\n7,7\n8,8\n9,9\n10,10\n11,11\n").ok());
  ASSERT_TRUE(reader.finish().ok());
  ASSERT_GE(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0], pt(1, kSecond, 1.0));
  EXPECT_EQ(sink.events[1], refusal(3,
                                    "line 3: longer than 32 bytes without a line end; the row "
                                    "is skipped"));
  EXPECT_EQ(sink.events[2], pt(1, 3 * kSecond, 3.0));
  // The open quote on line 5 is refused once the row outgrows the limit; lines 6.. read normally.
  std::vector<Event> rest(sink.events.begin() + 3, sink.events.end());
  ASSERT_EQ(rest.size(), 8u);
  EXPECT_EQ(rest[0], refusal(5,
                             "line 5, column 'v': quoted cell is never closed (byte 3); the row "
                             "is skipped"));
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(rest[static_cast<std::size_t>(i) + 1], pt(1, (i + 5) * kSecond, i + 5.0));
  EXPECT_EQ(reader.lines(), 12u);
}

TEST(CsvReader, ReportsAMissingFile) {
  RecordingSink sink;
  const auto rows = read_csv_file("/nonexistent/strata.csv", {}, sink);
  ASSERT_FALSE(rows.ok());
  EXPECT_TRUE(rows.error().is(errc::io));
  EXPECT_EQ(rows.error().message,
            "cannot open '/nonexistent/strata.csv': No such file or directory");
}

TEST(CsvReader, ParsesEpochUnitNames) {
  EXPECT_EQ(parse_epoch_unit("auto"), EpochUnit::auto_detect);
  EXPECT_EQ(parse_epoch_unit("s"), EpochUnit::s);
  EXPECT_EQ(parse_epoch_unit("ms"), EpochUnit::ms);
  EXPECT_EQ(parse_epoch_unit("us"), EpochUnit::us);
  EXPECT_EQ(parse_epoch_unit("ns"), EpochUnit::ns);
  EXPECT_EQ(parse_epoch_unit("h"), std::nullopt);
}

}  // namespace
}  // namespace strata::ingest

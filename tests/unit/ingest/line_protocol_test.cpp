#include "ingest/line_protocol.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

// Counts heap allocations, to check that the parser allocates nothing per point.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// Every replaceable non-aligned form is replaced, so that each allocation is counted and each
// pointer is freed by the function that matches its allocation. noinline: the compiler must not
// pair an inlined free() with the new-expressions it sees.
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (void* p = operator new(n, std::nothrow)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) { return operator new(n); }
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return operator new(n, std::nothrow);
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace strata::ingest {
namespace {

// What a sink saw, in order: a point or a refusal.
struct Event {
  bool refused = false;
  std::string series;
  std::string field;
  Timestamp ts = 0;
  double value = 0;
  std::size_t line = 0;
  std::string reason;

  bool operator==(const Event& o) const {
    return refused == o.refused && series == o.series && field == o.field && ts == o.ts &&
           std::bit_cast<std::uint64_t>(value) == std::bit_cast<std::uint64_t>(o.value) &&
           line == o.line && reason == o.reason;
  }
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  if (e.refused) return os << "refuse(" << e.line << ", \"" << e.reason << "\")";
  return os << "point(" << e.series << ", " << e.field << ", " << e.ts << ", " << e.value << ")";
}

class RecordingSink : public LineProtocolSink {
 public:
  void point(std::string_view series, std::string_view field, Timestamp ts, double value) override {
    events.push_back({false, std::string(series), std::string(field), ts, value, 0, {}});
  }
  void refuse(std::size_t line, std::string_view reason) override {
    events.push_back({true, {}, {}, 0, 0, line, std::string(reason)});
  }
  [[nodiscard]] std::vector<Event> points() const {
    std::vector<Event> out;
    for (const auto& e : events)
      if (!e.refused) out.push_back(e);
    return out;
  }
  [[nodiscard]] std::vector<std::string> reasons() const {
    std::vector<std::string> out;
    for (const auto& e : events)
      if (e.refused) out.push_back(e.reason);
    return out;
  }
  std::vector<Event> events;
};

Event pt(std::string series, std::string field, Timestamp ts, double value) {
  return {false, std::move(series), std::move(field), ts, value, 0, {}};
}
Event refusal(std::size_t line, std::string reason) {
  return {true, {}, {}, 0, 0, line, std::move(reason)};
}

std::vector<Event> parse(std::string_view text, LineProtocolOptions options = {}) {
  RecordingSink sink;
  parse_line_protocol(text, options, sink);
  return sink.events;
}

// The value of a one-field line, or NaN-free failure marker via `ok`.
double value_of(const std::string& literal, bool& ok) {
  const auto events = parse("m f=" + literal + " 0");
  ok = events.size() == 1 && !events[0].refused;
  return ok ? events[0].value : 0.0;
}

std::uint64_t bits(double d) { return std::bit_cast<std::uint64_t>(d); }

TEST(LineProtocol, ParsesTheInfluxDocumentationExample) {
  const auto events = parse("cpu,host=server01,region=us-west value=0.64 1434055562000000000\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], pt("cpu,host=server01,region=us-west", "value", 1434055562000000, 0.64));
}

TEST(LineProtocol, KeepsFieldOrderAndSharesTheTimestamp) {
  const auto events = parse("weather,site=a temp=21.5,hum=40i,ok=true 1000000\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], pt("weather,site=a", "temp", 1000, 21.5));
  EXPECT_EQ(events[1], pt("weather,site=a", "hum", 1000, 40.0));
  EXPECT_EQ(events[2], pt("weather,site=a", "ok", 1000, 1.0));
}

TEST(LineProtocol, HandsOverNamesWithTheirEscapesIntact) {
  const auto events = parse(R"(my\ meas\,x,t\=k=v\ 1\,2\=3 f\ k\,\==1 5000)");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].series, R"(my\ meas\,x,t\=k=v\ 1\,2\=3)");
  EXPECT_EQ(events[0].field, R"(f\ k\,\=)");
  EXPECT_EQ(events[0].ts, 5);
}

TEST(LineProtocol, MeasurementMayHoldAnUnescapedEqualsSign) {
  const auto events = parse("a=b f=1 0");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].series, "a=b");
}

TEST(LineProtocol, BackslashBeforeOtherBytesIsLiteral) {
  // `\\,` is a literal backslash followed by an escaped comma (InfluxDB 1.x reads it so).
  auto events = parse(R"(a\\,b f=1 0)");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].series, R"(a\\,b)");
  auto key = series_key_for(events[0].series, events[0].field);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->device, R"(a\,b)");

  events = parse(R"(a\b,t=x\y f\n=1 0)");
  ASSERT_EQ(events.size(), 1u);
  key = series_key_for(events[0].series, events[0].field);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->device, R"(a\b)");
  EXPECT_EQ(key->metric, R"(f\n)");
  ASSERT_EQ(key->tags.size(), 1u);
  EXPECT_EQ(key->tags[0].second, R"(x\y)");
}

TEST(LineProtocol, RefusesStringFieldsOneByOneAndKeepsTheRest) {
  const auto events = parse("m,d=1 a=1,s=\"x, y=\\\"z\\\" \\\\\",b=2 7000\nm c=3 0\n");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0], pt("m,d=1", "a", 7, 1.0));
  EXPECT_EQ(events[1], refusal(1,
                               "line 1: string field 's' is not supported (numeric series only); "
                               "drop it or send a number (byte 13)"));
  EXPECT_EQ(events[2], pt("m,d=1", "b", 7, 2.0));
  EXPECT_EQ(events[3], pt("m", "c", 0, 3.0));
}

TEST(LineProtocol, StringValuesMaySpanLines) {
  RecordingSink sink;
  const std::size_t lines =
      parse_line_protocol("m s=\"one\ntwo\nthree\",v=1 0\nm x=oops\n", LineProtocolOptions{}, sink);
  EXPECT_EQ(lines, 4u);
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0].line, 1u);
  EXPECT_EQ(sink.events[1], pt("m", "v", 0, 1.0));
  ASSERT_TRUE(sink.events[2].refused);
  EXPECT_EQ(sink.events[2].line, 4u);
  EXPECT_EQ(sink.events[2].reason.rfind("line 4: invalid value 'oops' for field 'x'", 0), 0u)
      << sink.events[2].reason;
}

TEST(LineProtocol, UnclosedStringIsRefusedAndTheNextLinesStillRead) {
  const auto events = parse("m s=\"open,v=1 0\nm v=2 0\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], refusal(1,
                               "line 1: the string value of field 's' is not closed with '\"' "
                               "(byte 5)"));
  EXPECT_EQ(events[1], pt("m", "v", 0, 2.0));
}

TEST(LineProtocol, SkipsCommentsBlankLinesAndHandlesCrlf) {
  RecordingSink sink;
  const std::size_t lines = parse_line_protocol(
      "# a comment\r\n\r\n   \n\t# indented comment\n  m v=1 2000\r\nm v=2\r\n\r\nm v=3 3000",
      LineProtocolOptions{.precision = Precision::ns, .default_time = 42}, sink);
  EXPECT_EQ(lines, 8u);
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0], pt("m", "v", 2, 1.0));
  EXPECT_EQ(sink.events[1], pt("m", "v", 42, 2.0));
  EXPECT_EQ(sink.events[2], pt("m", "v", 3, 3.0));
}

TEST(LineProtocol, CarriageReturnInsideANameIsAnOrdinaryByte) {
  const auto events = parse("m\rx v=1\r\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].series, "m\rx");
}

TEST(LineProtocol, CountsLinesAndNumbersFromFirstLineNo) {
  RecordingSink sink;
  EXPECT_EQ(parse_line_protocol("", {}, sink), 0u);
  EXPECT_EQ(parse_line_protocol("\n\n", {}, sink), 2u);
  EXPECT_EQ(parse_line_protocol("m v=1", {}, sink), 1u);
  EXPECT_EQ(parse_line_protocol("m v=1\n", {}, sink), 1u);
  EXPECT_EQ(parse_line_protocol("m v=1\nbad\n", {}, sink, 100), 2u);
  ASSERT_EQ(sink.reasons().size(), 1u);
  EXPECT_EQ(sink.events.back().line, 101u);
  EXPECT_EQ(sink.reasons()[0].rfind("line 101: ", 0), 0u);
}

TEST(LineProtocol, MissingTimestampTakesDefaultTime) {
  const auto events = parse("m v=1\nm v=2   \nm v=3 9000\n", {.default_time = -77});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].ts, -77);
  EXPECT_EQ(events[1].ts, -77);
  EXPECT_EQ(events[2].ts, 9);
}

TEST(LineProtocol, ConvertsEachPrecisionToMicroseconds) {
  const auto at = [](const std::string& ts, Precision p) {
    const auto events = parse("m v=1 " + ts, {.precision = p});
    EXPECT_EQ(events.size(), 1u) << ts;
    EXPECT_FALSE(events.empty() || events[0].refused) << (events.empty() ? "" : events[0].reason);
    return events.empty() ? Timestamp{-999} : events[0].ts;
  };
  EXPECT_EQ(at("1999", Precision::ns), 1);  // floor division: Strata keeps whole µs
  EXPECT_EQ(at("1000", Precision::ns), 1);
  EXPECT_EQ(at("999", Precision::ns), 0);
  EXPECT_EQ(at("-1", Precision::ns), -1);
  EXPECT_EQ(at("-1000", Precision::ns), -1);
  EXPECT_EQ(at("-1001", Precision::ns), -2);
  EXPECT_EQ(at("9223372036854775807", Precision::ns), 9223372036854775);
  EXPECT_EQ(at("-9223372036854775808", Precision::ns), -9223372036854776);
  EXPECT_EQ(at("1434055562000001", Precision::us), 1434055562000001);
  EXPECT_EQ(at("-5", Precision::us), -5);
  EXPECT_EQ(at("1434055562001", Precision::ms), 1434055562001000);
  EXPECT_EQ(at("-3", Precision::ms), -3000);
  EXPECT_EQ(at("1434055562", Precision::s), 1434055562000000);
  EXPECT_EQ(at("9223372036854", Precision::s), 9223372036854000000);
}

TEST(LineProtocol, RefusesTimestampsThatDoNotFit) {
  EXPECT_EQ(parse("m v=1 9223372036855", {.precision = Precision::s}),
            std::vector<Event>{refusal(1,
                                       "line 1: timestamp 9223372036855 s is beyond what Strata "
                                       "stores (int64 microseconds since 1970); check the "
                                       "precision (byte 7)")});
  EXPECT_EQ(parse("m v=1 9223372036854776", {.precision = Precision::ms}).at(0).refused, true);
  EXPECT_EQ(parse("m v=1 -9223372036854776", {.precision = Precision::ms}).at(0).refused, true);
  EXPECT_EQ(parse("m v=1 9223372036854775808"),
            std::vector<Event>{refusal(1,
                                       "line 1: timestamp '9223372036854775808' does not fit "
                                       "in a signed 64-bit integer (byte 7)")});
}

TEST(LineProtocol, ParsesPrecisionNames) {
  EXPECT_EQ(parse_precision("ns"), Precision::ns);
  EXPECT_EQ(parse_precision("n"), Precision::ns);
  EXPECT_EQ(parse_precision("us"), Precision::us);
  EXPECT_EQ(parse_precision("u"), Precision::us);
  EXPECT_EQ(parse_precision("ms"), Precision::ms);
  EXPECT_EQ(parse_precision("s"), Precision::s);
  EXPECT_EQ(parse_precision("h"), std::nullopt);
  EXPECT_EQ(parse_precision(""), std::nullopt);
}

TEST(LineProtocol, ReadsEveryBooleanSpelling) {
  for (const char* t : {"t", "T", "true", "True", "TRUE"}) {
    bool ok = false;
    EXPECT_EQ(value_of(t, ok), 1.0) << t;
    EXPECT_TRUE(ok) << t;
  }
  for (const char* f : {"f", "F", "false", "False", "FALSE"}) {
    bool ok = false;
    EXPECT_EQ(value_of(f, ok), 0.0) << f;
    EXPECT_TRUE(ok) << f;
  }
  for (const char* bad : {"tRUE", "yes", "tru", "FALSe", "on"}) {
    bool ok = true;
    value_of(bad, ok);
    EXPECT_FALSE(ok) << bad;
  }
}

TEST(LineProtocol, ReadsIntegerAndUnsignedForms) {
  struct Case {
    const char* text;
    double value;
  };
  for (const Case& c : {Case{"12i", 12.0}, Case{"-12i", -12.0}, Case{"0i", 0.0},
                        Case{"9223372036854775807i", 9223372036854775807.0},
                        Case{"-9223372036854775808i", -9223372036854775808.0}, Case{"12u", 12.0},
                        Case{"18446744073709551615u", 18446744073709551615.0}}) {
    bool ok = false;
    EXPECT_EQ(value_of(c.text, ok), c.value) << c.text;
    EXPECT_TRUE(ok) << c.text;
  }
  EXPECT_EQ(parse("m f=9223372036854775808i 0"),
            std::vector<Event>{refusal(1,
                                       "line 1: integer 9223372036854775808i of field 'f' does "
                                       "not fit in 64 bits (byte 5)")});
  EXPECT_EQ(parse("m f=18446744073709551616u 0").at(0).refused, true);
  for (const char* bad : {"-1u", "1.5i", "1e3i", "i", "-i", "12iu", "12ii", "0x10i", "+5i"}) {
    bool ok = true;
    value_of(bad, ok);
    EXPECT_FALSE(ok) << bad;
  }
}

TEST(LineProtocol, ReadsFloatForms) {
  struct Case {
    const char* text;
    double value;
  };
  for (const Case& c : {Case{"1", 1.0}, Case{"-1", -1.0}, Case{"1.5", 1.5}, Case{".5", 0.5},
                        Case{"-.5", -0.5}, Case{"5.", 5.0}, Case{"1e3", 1000.0},
                        Case{"1E3", 1000.0}, Case{"1.5e+10", 1.5e10}, Case{"2.5E-3", 2.5e-3},
                        Case{"007", 7.0}, Case{"1.7976931348623157e308", 1.7976931348623157e308},
                        Case{"4.9406564584124654e-324", 4.9406564584124654e-324}}) {
    bool ok = false;
    EXPECT_EQ(value_of(c.text, ok), c.value) << c.text;
    EXPECT_TRUE(ok) << c.text;
  }
  bool ok = false;
  EXPECT_EQ(bits(value_of("-0", ok)), bits(-0.0));
  EXPECT_TRUE(ok);
  // Underflow reads as strtod reads it (zero), overflow is refused.
  EXPECT_EQ(bits(value_of("1e-400", ok)), bits(0.0));
  EXPECT_TRUE(ok);
  EXPECT_EQ(bits(value_of("-1e-400", ok)), bits(-0.0));
  EXPECT_TRUE(ok);
  EXPECT_EQ(parse("m f=1e400 0"),
            std::vector<Event>{refusal(1,
                                       "line 1: number 1e400 of field 'f' is beyond the range "
                                       "of a double (byte 5)")});
  for (const char* bad :
       {"inf", "-inf", "+inf", "nan", "NaN", "-nan", "Infinity", "+1", "1.2.3", "0x10", "1e",
        "1e+", "-",    ".",    "-.",  "1,5", "1 2",  "1_000",    "e5", "1.0f",  "--1"}) {
    ok = true;
    value_of(bad, ok);
    EXPECT_FALSE(ok) << bad;
  }
}

// Every double that strtod reads from a text, the parser reads bit for bit the same.
TEST(LineProtocol, FloatsAreBitExactToStrtod) {
  std::mt19937_64 rng(20240601);
  std::string text;
  std::vector<std::string> literals;
  for (int i = 0; i < 60000; ++i) {
    char buf[64];
    double d;
    do d = std::bit_cast<double>(rng());
    while (!std::isfinite(d));
    if (i % 3 == 0) {
      std::snprintf(buf, sizeof buf, "%.17g", d);
    } else if (i % 3 == 1) {
      const auto r = std::to_chars(buf, buf + sizeof buf - 1, d);  // shortest round trip
      *r.ptr = '\0';
    } else {
      // A short decimal like sensors send: digits, a point, maybe an exponent.
      const int digits = 1 + static_cast<int>(rng() % 19);
      std::string s = rng() % 2 ? "-" : "";
      for (int k = 0; k < digits; ++k) s += static_cast<char>('0' + rng() % 10);
      s.insert(s.size() - static_cast<std::size_t>(rng() % static_cast<unsigned>(digits)), ".");
      if (rng() % 4 == 0) s += "e" + std::to_string(static_cast<int>(rng() % 700) - 350);
      std::snprintf(buf, sizeof buf, "%s", s.c_str());
    }
    literals.emplace_back(buf);
    text += "m f=";
    text += buf;
    text += " 0\n";
  }
  RecordingSink sink;
  parse_line_protocol(text, {}, sink);
  ASSERT_EQ(sink.events.size(), literals.size());
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < literals.size(); ++i) {
    const double want = std::strtod(literals[i].c_str(), nullptr);
    if (std::isinf(want)) {
      EXPECT_TRUE(sink.events[i].refused) << literals[i];
      continue;
    }
    ASSERT_FALSE(sink.events[i].refused) << literals[i] << ": " << sink.events[i].reason;
    if (bits(sink.events[i].value) != bits(want) && ++mismatches < 10)
      ADD_FAILURE() << literals[i] << " read as " << sink.events[i].value;
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(LineProtocol, DenormalsAreBitExactToStrtod) {
  for (const char* s :
       {"2e-324", "3e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-310",
        "-2.2250738585072011e-308", "2.2250738585072012e-308", "4.9e-324", "1e-323"}) {
    bool ok = false;
    const double got = value_of(s, ok);
    EXPECT_TRUE(ok) << s;
    EXPECT_EQ(bits(got), bits(std::strtod(s, nullptr))) << s;
  }
}

// Each syntax error refuses the whole line with a message naming the byte and what was expected;
// the lines around it are read.
TEST(LineProtocol, NamesTheByteAndTheFixInEachSyntaxError) {
  struct Case {
    const char* line;
    const char* reason;
  };
  const Case cases[] = {
      {"weather,site=hall temp 21.5", "expected '=' after field key 'temp' (byte 23)"},
      {"weather,site=hall temp", "expected '=' after field key 'temp' (byte 23)"},
      {"m,t v=1", "expected '=' after tag key 't' (byte 4)"},
      {"m,=x v=1", "expected a tag key after ',' (byte 3)"},
      {"m,t= v=1", "expected a value for tag 't' (byte 5)"},
      {"m,t=a=b v=1", "unescaped '=' in the value of tag 't'; write it as '\\=' (byte 6)"},
      {",t=a v=1", "expected a measurement name at the start of the line (byte 1)"},
      {"m", "expected a space and then fields (key=value) after 'm' (byte 2)"},
      {"m,t=a", "expected a space and then fields (key=value) after 'm,t=a' (byte 6)"},
      {"m   ", "expected fields (key=value) after 'm' (byte 5)"},
      {"m =1", "expected a field key (byte 3)"},
      {"m v=1,", "expected a field key (byte 7)"},
      {"m v=", "expected a value after 'v=' (byte 5)"},
      {"m v=,w=1", "expected a value after 'v=' (byte 5)"},
      {"m v=warm",
       "invalid value 'warm' for field 'v'; expected a number (21.5, 21i, 21u; no inf "
       "or nan), true/false or a \"string\" (byte 5)"},
      {"m v=inf",
       "invalid value 'inf' for field 'v'; expected a number (21.5, 21i, 21u; no inf or "
       "nan), true/false or a \"string\" (byte 5)"},
      {"m v=1.2.3",
       "invalid number '1.2.3' for field 'v'; expected a decimal like 21.5 or 2.15e1, "
       "an integer like 21i or 21u (byte 5)"},
      {"m v=\"s\"x", "expected ',' or a space after the value of field 'v' (byte 8)"},
      {"m v=1 12:00", "expected an integer timestamp in ns after the fields, got '12:00' (byte 7)"},
      {"m v=1 1.5", "expected an integer timestamp in ns after the fields, got '1.5' (byte 7)"},
      {"m v=1 15 extra", "unexpected text after the timestamp; a line ends there (byte 10)"},
      {"m v=1 15,", "unexpected text after the timestamp; a line ends there (byte 9)"},
      {"m v=\xff",
       "invalid value '\\xFF' for field 'v'; expected a number (21.5, 21i, 21u; no inf "
       "or nan), true/false or a \"string\" (byte 5)"},
  };
  for (const Case& c : cases) {
    const std::string text = std::string("m v=1 0\n") + c.line + "\nm v=2 0\n";
    const auto events = parse(text);
    ASSERT_EQ(events.size(), 3u) << c.line;
    EXPECT_EQ(events[0], pt("m", "v", 0, 1.0));
    EXPECT_EQ(events[1], refusal(2, std::string("line 2: ") + c.reason)) << c.line;
    EXPECT_EQ(events[2], pt("m", "v", 0, 2.0));
  }
}

TEST(LineProtocol, NumbersRefusalsFromTheCallersFirstLine) {
  RecordingSink sink;
  EXPECT_EQ(parse_line_protocol("weather,site=hall temp 21.5\n", {}, sink, 17), 1u);
  EXPECT_EQ(sink.events, std::vector<Event>{refusal(17,
                                                    "line 17: expected '=' after field key "
                                                    "'temp' (byte 23)")});
}

TEST(LineProtocol, ARefusedLineDeliversNoneOfItsFields) {
  const auto events = parse("m a=1,b=2,c=oops 0\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].refused);
}

TEST(LineProtocol, ShowsLongAndBinaryNamesSafely) {
  const std::string key(100, 'k');
  const auto events = parse("m " + key + " 0\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason,
            "line 1: expected '=' after field key '" + std::string(64, 'k') + "...' (byte 103)");
  const auto utf8 = parse("m temp\xC3\xA9rature 0\n");
  ASSERT_EQ(utf8.size(), 1u);
  EXPECT_EQ(utf8[0].reason, "line 1: expected '=' after field key 'temp\xC3\xA9rature' (byte 15)");
}

TEST(LineProtocol, ReadsLinesWithManyFields) {
  std::string line = "m ";
  for (int i = 0; i < 100; ++i)
    line += (i ? "," : "") + std::string("f") + std::to_string(i) + "=" + std::to_string(i);
  const auto events = parse(line + " 1000\n");
  ASSERT_EQ(events.size(), 100u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(events[static_cast<std::size_t>(i)], pt("m", "f" + std::to_string(i), 1, i));
}

class CountingSink : public LineProtocolSink {
 public:
  void point(std::string_view, std::string_view, Timestamp, double value) override {
    ++points;
    sum += value;
  }
  void refuse(std::size_t, std::string_view) override { ++refusals; }
  std::size_t points = 0, refusals = 0;
  double sum = 0;
};

TEST(LineProtocol, AllocatesNothingPerPoint) {
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "cpu,host=h" + std::to_string(i % 7) + ",dc=x\\ y usage=" + std::to_string(i) +
            ".25,idle=3i,ok=t " + std::to_string(1434055562000000000LL + i) + "\n";
  CountingSink sink;
  const long before = g_allocations.load();
  parse_line_protocol(text, {}, sink);
  const long after = g_allocations.load();
  EXPECT_EQ(sink.points, 6000u);
  EXPECT_EQ(sink.refusals, 0u);
  EXPECT_EQ(after - before, 0);
}

TEST(SeriesKeyFor, DeviceIsTheMeasurementWithoutADeviceTag) {
  const auto key = series_key_for("boiler,site=plant\\ 2,line=3", "temp");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->device, "boiler");
  EXPECT_EQ(key->metric, "temp");
  const std::vector<std::pair<std::string, std::string>> tags{{"line", "3"}, {"site", "plant 2"}};
  EXPECT_EQ(key->tags, tags);
}

TEST(SeriesKeyFor, DeviceTagNamesTheDeviceAndTheMeasurementTheMetric) {
  auto key = series_key_for("temperature,device=pump-7,zone=b", "value");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->device, "pump-7");
  EXPECT_EQ(key->metric, "temperature");
  ASSERT_EQ(key->tags.size(), 1u);
  EXPECT_EQ(key->tags[0], (std::pair<std::string, std::string>{"zone", "b"}));

  key = series_key_for("vibration,zone=b,device=pump-7", "rms");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->device, "pump-7");
  EXPECT_EQ(key->metric, "vibration_rms");
  EXPECT_EQ(key->to_string(), "pump-7/vibration_rms{zone=b}");
}

TEST(SeriesKeyFor, UnescapesEveryName) {
  const auto key = series_key_for(R"(my\ m\,x,device=p\,1,k\=1=v\ 2)", R"(f\=\ g)");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->device, "p,1");
  EXPECT_EQ(key->metric, "my m,x_f= g");
  ASSERT_EQ(key->tags.size(), 1u);
  EXPECT_EQ(key->tags[0], (std::pair<std::string, std::string>{"k=1", "v 2"}));
}

TEST(SeriesKeyFor, SortsTagsAndALaterDuplicateWins) {
  const auto key = series_key_for("m,z=1,a=2,m=3,a=4", "f");
  ASSERT_TRUE(key.ok());
  const std::vector<std::pair<std::string, std::string>> tags{{"a", "4"}, {"m", "3"}, {"z", "1"}};
  EXPECT_EQ(key->tags, tags);
}

TEST(SeriesKeyFor, AgreesWithWhatTheParserHandsOut) {
  const auto events = parse("env,device=press\\ 4,line=2 value=1,pressure=2 0\n");
  ASSERT_EQ(events.size(), 2u);
  const auto a = series_key_for(events[0].series, events[0].field);
  const auto b = series_key_for(events[1].series, events[1].field);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->to_string(), "press 4/env{line=2}");
  EXPECT_EQ(b->to_string(), "press 4/env_pressure{line=2}");
}

TEST(SeriesKeyFor, RefusesTextThatIsNotASeries) {
  for (const auto& [series, field] :
       std::vector<std::pair<std::string, std::string>>{{"", "f"},
                                                        {",t=1", "f"},
                                                        {"m,t", "f"},
                                                        {"m,t=", "f"},
                                                        {"m,=1", "f"},
                                                        {"m t=1", "f"},
                                                        {"m,t=1 x", "f"},
                                                        {"m,t=a=b", "f"},
                                                        {"m", ""}}) {
    const auto key = series_key_for(series, field);
    ASSERT_FALSE(key.ok()) << series << " / " << field;
    EXPECT_TRUE(key.error().is(errc::syntax));
    EXPECT_FALSE(key.error().message.empty());
  }
}

// A text with every construct, to cut at every byte.
const char* const kMixed =
    "# header comment\r\n"
    "cpu,host=a\\ b,dc=x\\,y usage=0.5,idle=3i,ok=T 1434055562000001999\r\n"
    "\n"
    "m s=\"multi\nline \\\" string\",v=1.5e3 2000\n"
    "bad line here\n"
    "m,device=d1 value=-7u\n"
    "m v=1e400 5\n"
    "  m v=.25 -1001\r\n"
    "m v=2";

TEST(LineProtocolStream, EmitsWhatTheOneShotParserEmitsWhereverTheTextIsCut) {
  RecordingSink whole;
  const std::size_t whole_lines = parse_line_protocol(kMixed, {.default_time = 11}, whole);
  ASSERT_EQ(whole_lines, 10u);
  ASSERT_EQ(whole.points().size(), 6u);
  ASSERT_EQ(whole.reasons().size(), 4u);
  const std::string text = kMixed;
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    RecordingSink sink;
    LineProtocolStream stream({.default_time = 11}, sink);
    stream.feed(std::string_view(text).substr(0, cut));
    stream.feed(std::string_view(text).substr(cut));
    stream.finish();
    ASSERT_EQ(sink.events, whole.events) << "cut at " << cut;
    ASSERT_EQ(stream.lines(), whole_lines);
  }
  for (std::size_t step = 1; step <= 7; ++step) {
    RecordingSink sink;
    LineProtocolStream stream({.default_time = 11}, sink);
    for (std::size_t i = 0; i < text.size(); i += step)
      stream.feed(std::string_view(text).substr(i, step));
    stream.finish();
    ASSERT_EQ(sink.events, whole.events) << "step " << step;
  }
}

TEST(LineProtocolStream, RefusesAnOverlongRecordAndReadsOnAfterIt) {
  RecordingSink sink;
  LineProtocolOptions options;
  options.max_record_bytes = 32;
  LineProtocolStream stream(options, sink);
  stream.feed("m v=1 0\nm v=2,");
  stream.feed(std::string(40, 'x'));
  stream.feed(std::string(40, 'y'));
  stream.feed("=1 0\nm v=3 0\n");
  stream.finish();
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0], pt("m", "v", 0, 1.0));
  EXPECT_EQ(sink.events[1],
            refusal(2, "line 2: longer than 32 bytes without a line end; split it into lines"));
  EXPECT_EQ(sink.events[2], pt("m", "v", 0, 3.0));
  EXPECT_EQ(stream.lines(), 3u);
}

TEST(LineProtocolStream, AnOpenQuoteDoesNotSwallowTheLinesAfterIt) {
  RecordingSink sink;
  LineProtocolOptions options;
  options.max_record_bytes = 64;
  LineProtocolStream stream(options, sink);
  stream.feed("m s=\"never closed\n");
  for (int i = 0; i < 10; ++i) stream.feed("m v=" + std::to_string(i) + " 0\n");
  stream.finish();
  ASSERT_EQ(sink.events.size(), 11u);
  EXPECT_TRUE(sink.events[0].refused);
  EXPECT_EQ(sink.events[0].line, 1u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(sink.events[static_cast<std::size_t>(i) + 1], pt("m", "v", 0, i));
  EXPECT_EQ(stream.lines(), 11u);
}

TEST(LineProtocolStream, PrepareAndCommitReadInPlace) {
  RecordingSink sink;
  LineProtocolStream stream({}, sink, 5);
  const std::string a = "m v=1 0\nm v=";
  auto span = stream.prepare(64);
  ASSERT_EQ(span.size(), 64u);
  std::memcpy(span.data(), a.data(), a.size());
  stream.commit(a.size());
  EXPECT_EQ(sink.events.size(), 1u);
  span = stream.prepare(8);
  std::memcpy(span.data(), "2 0\nx", 5);
  stream.commit(5);
  EXPECT_EQ(sink.events.size(), 2u);
  stream.finish();
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[2].line, 7u);
  EXPECT_EQ(stream.lines(), 3u);
}

TEST(LineProtocolFile, ReadsAFileInBlocksLikeTheOneShotParser) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("strata_lp_test_" + std::to_string(::getpid()) + ".lp");
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += "m,device=d" + std::to_string(i % 13) + " value=" + std::to_string(i) + ".5 " +
            std::to_string(i) + "000\n" + (i % 1000 == 0 ? "oops\n" : "");
  text += kMixed;
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  RecordingSink whole;
  const std::size_t lines = parse_line_protocol(text, {}, whole);
  for (std::size_t block : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, kImportBlockBytes}) {
    RecordingSink sink;
    const auto read = parse_line_protocol_file(path, {}, sink, block);
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(*read, lines);
    ASSERT_EQ(sink.events, whole.events) << "block " << block;
  }
  std::filesystem::remove(path);
  RecordingSink sink;
  const auto missing = parse_line_protocol_file(path, {}, sink);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().is(errc::io));
  EXPECT_NE(missing.error().message.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace strata::ingest

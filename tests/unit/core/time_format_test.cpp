// Tests of core/time_format: ISO 8601 parsing ('T' and ' ' separators, fractions, Z and offsets,
// pre-1970 times, leap days), refusal of malformed or impossible dates, formatting and the round
// trip, and durations. Expected values were computed independently (Python's datetime).
#include "core/time_format.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace strata {
namespace {

constexpr Timestamp kS = kMicrosPerSecond;

TEST(ParseIso8601, SpaceAndTSeparatorsAreTheSame) {
  EXPECT_EQ(parse_iso8601("2014-04-01 00:05:00"), 1396310700 * kS);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00"), 1396310700 * kS);
  EXPECT_EQ(parse_iso8601("2014-04-01t00:05:00"), 1396310700 * kS);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00Z"), 1396310700 * kS);
  EXPECT_EQ(parse_iso8601("2014-04-01 00:05:00z"), 1396310700 * kS);
}

TEST(ParseIso8601, DateOnlyAndMinutesOnly) {
  EXPECT_EQ(parse_iso8601("2014-04-01"), 1396310400 * kS);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05"), 1396310700 * kS);
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseIso8601, Fractions) {
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00.250Z"), 1396310700 * kS + 250000);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00.5"), 1396310700 * kS + 500000);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00,5"), 1396310700 * kS + 500000);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00.000001Z"), 1396310700 * kS + 1);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00.123456"), 1396310700 * kS + 123456);
  // Beyond microseconds the digits are accepted and truncated.
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00.1234569"), 1396310700 * kS + 123456);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00.999999999Z"), 1396310700 * kS + 999999);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00.250+01:00"), (1396310700 - 3600) * kS + 250000);
}

TEST(ParseIso8601, Offsets) {
  const Timestamp utc = 1396310700 * kS;
  EXPECT_EQ(parse_iso8601("2014-04-01T02:05:00+02:00"), utc);
  EXPECT_EQ(parse_iso8601("2014-04-01T02:05:00+0200"), utc);
  EXPECT_EQ(parse_iso8601("2014-04-01T02:05:00+02"), utc);
  EXPECT_EQ(parse_iso8601("2014-03-31T22:05:00-02:00"), utc);
  EXPECT_EQ(parse_iso8601("2014-04-01T05:35:00+05:30"), utc);
  EXPECT_EQ(parse_iso8601("2014-03-31T20:35:00-0330"), utc);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00+00:00"), utc);
  EXPECT_EQ(parse_iso8601("2014-04-01T00:05:00-00:00"), utc);
}

TEST(ParseIso8601, BeforeTheEpoch) {
  EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59Z"), -1 * kS);
  EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59.5Z"), -kS / 2);
  EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59.999999Z"), -1);
  EXPECT_EQ(parse_iso8601("1900-01-01T00:00:00Z"), -2208988800 * kS);
  EXPECT_EQ(parse_iso8601("0001-01-01T00:00:00Z"), -62135596800 * kS);
  EXPECT_EQ(parse_iso8601("1970-01-01T00:30:00+01:00"), -1800 * kS);
}

TEST(ParseIso8601, LeapDays) {
  EXPECT_EQ(parse_iso8601("2020-02-29T12:00:00Z"), 1582977600 * kS);
  EXPECT_EQ(parse_iso8601("2000-02-29"), 951782400 * kS);  // divisible by 400: leap
  EXPECT_EQ(parse_iso8601("1600-02-29"), -11670998400 * kS);
  EXPECT_EQ(parse_iso8601("2000-03-01"), 951868800 * kS);
  // The day after a leap day is the next day, whatever the year.
  EXPECT_EQ(*parse_iso8601("2020-03-01") - *parse_iso8601("2020-02-29"), 86400 * kS);
  EXPECT_EQ(*parse_iso8601("2019-03-01") - *parse_iso8601("2019-02-28"), 86400 * kS);
}

TEST(ParseIso8601, LatestRepresentableDate) {
  EXPECT_EQ(parse_iso8601("9999-12-31T23:59:59Z"), 253402300799 * kS);
}

TEST(ParseIso8601, RefusesDaysAMonthDoesNotHave) {
  EXPECT_EQ(parse_iso8601("2019-02-29"), std::nullopt);  // not a leap year
  EXPECT_EQ(parse_iso8601("1900-02-29"), std::nullopt);  // divisible by 100, not by 400
  EXPECT_EQ(parse_iso8601("2020-02-30"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2021-04-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2021-06-31"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2021-09-31"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2021-11-31"), std::nullopt);
  EXPECT_TRUE(parse_iso8601("2021-12-31").has_value());
  EXPECT_TRUE(parse_iso8601("2021-04-30").has_value());
}

TEST(ParseIso8601, RefusesMalformedInput) {
  for (const char* bad : {
           "",
           "2014",
           "2014-04",
           "2014-4-01",
           "14-04-01",
           "2014/04/01",
           "2014-13-01",
           "2014-00-10",
           "2014-04-00",
           "2014-04-32",
           "2014-04-01T",
           "2014-04-01 ",
           " 2014-04-01",
           "2014-04-01X00:05:00",
           "2014-04-01T0:05:00",
           "2014-04-01T00:5:00",
           "2014-04-01T00-05-00",
           "2014-04-01T24:00:00",
           "2014-04-01T25:00:00",
           "2014-04-01T00:60:00",
           "2014-04-01T00:05:61",
           "2014-04-01T00:05:0",
           "2014-04-01T00:05:00.",
           "2014-04-01T00:05:00.Z",
           "2014-04-01T00:05:00.abc",
           "2014-04-01T00:05:00ZZ",
           "2014-04-01T00:05:00Z ",
           "2014-04-01T00:05:00 Z",
           "2014-04-01T00:05:00UTC",
           "2014-04-01T00:05:00+2",
           "2014-04-01T00:05:00+",
           "2014-04-01T00:05:00+02:0",
           "2014-04-01T00:05:00+02:",
           "2014-04-01T00:05:00+02:00:00",
           "2014-04-01T00:05:00+24:00",
           "2014-04-01T00:05:00+02:60",
           "2014-04-01T00:05:00+ab:00",
           "abcd-ef-gh",
           "2014-04-01T00:05:00\n",
       }) {
    EXPECT_EQ(parse_iso8601(bad), std::nullopt) << "'" << bad << "' was accepted";
  }
}

TEST(FormatIso8601, Forms) {
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(1396310700 * kS), "2014-04-01T00:05:00Z");
  EXPECT_EQ(format_iso8601(1396310700 * kS + 250000), "2014-04-01T00:05:00.250000Z");
  EXPECT_EQ(format_iso8601(1582977600 * kS), "2020-02-29T12:00:00Z");
  EXPECT_EQ(format_iso8601(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_iso8601(-kS), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_iso8601(-2208988800 * kS), "1900-01-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(-62135596800 * kS), "0001-01-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(253402300799 * kS + 999999), "9999-12-31T23:59:59.999999Z");
}

TEST(FormatIso8601, ExtremesDoNotCrash) {
  EXPECT_FALSE(format_iso8601(kMinTimestamp).empty());
  EXPECT_FALSE(format_iso8601(kMaxTimestamp).empty());
}

// parse(format(t)) == t for random instants from year 1 to 9999, before and after the epoch.
TEST(FormatIso8601, RoundTripsThroughParse) {
  std::mt19937_64 rng(1);
  const Timestamp lo = -62135596800 * kS;
  const Timestamp hi = 253402300799 * kS + 999999;
  std::uniform_int_distribution<Timestamp> any(lo, hi);
  std::uniform_int_distribution<Timestamp> near(-10 * 86400 * kS, 10 * 86400 * kS);
  for (int i = 0; i < 20000; ++i) {
    Timestamp t = i % 2 ? any(rng) : near(rng);
    if (i % 3 == 0) t -= t % kS;  // whole seconds too, formatted without a fraction
    const std::string s = format_iso8601(t);
    ASSERT_EQ(parse_iso8601(s), t) << s;
  }
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(parse_duration("250us"), 250);
  EXPECT_EQ(parse_duration("500ms"), 500000);
  EXPECT_EQ(parse_duration("90s"), 90 * kS);
  EXPECT_EQ(parse_duration("90"), 90 * kS);  // seconds without a unit
  EXPECT_EQ(parse_duration("15m"), 15 * 60 * kS);
  EXPECT_EQ(parse_duration("2h"), 2 * 3600 * kS);
  EXPECT_EQ(parse_duration("7d"), 7 * 86400 * kS);
  EXPECT_EQ(parse_duration("2w"), 14 * 86400 * kS);
  EXPECT_EQ(parse_duration("1y"), 365 * 86400 * kS);
  EXPECT_EQ(parse_duration("0s"), 0);
  EXPECT_EQ(parse_duration("0"), 0);
}

TEST(ParseDuration, LimitsOfTheRange) {
  // 106751991 days is the last whole number of days below 2^63 µs.
  EXPECT_EQ(parse_duration("106751991d"), Timestamp{106751991} * 86400 * kS);
  EXPECT_EQ(parse_duration("106751992d"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775807us"), kMaxTimestamp);
  EXPECT_EQ(parse_duration("9223372036854775808us"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999s"), std::nullopt);
}

TEST(ParseDuration, RefusesMalformedInput) {
  for (const char* bad : {"", "s", "ms", "-5s", "+5s", "5x", "5 s", " 5s", "5s ", "1.5h", "5S",
                          "5sec", "5mss", "h2", "5m5s", "0x10s"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << "'" << bad << "' was accepted";
  }
}

}  // namespace
}  // namespace strata

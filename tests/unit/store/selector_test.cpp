// Tests of store/selector: parsing of =, !=, =~ and !~ matchers on device, metric and tags
// (whitespace, empty selectors), refusal of bad syntax and bad regexes with a message that names
// the selector and what is wrong, and matches() with whole-value regexes and missing tags.
#include "store/selector.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::store {
namespace {

SeriesKey key(std::string device, std::string metric,
              std::vector<std::pair<std::string, std::string>> tags = {}) {
  SeriesKey k{std::move(device), std::move(metric), std::move(tags)};
  k.normalise();
  return k;
}

SeriesSelector parse(std::string_view text) {
  auto s = SeriesSelector::parse(text);
  EXPECT_TRUE(s.ok()) << "'" << text << "': " << (s.ok() ? "" : s.error().message);
  return s ? std::move(*s) : SeriesSelector{};
}

TEST(SeriesSelector, ParsesEveryOperator) {
  const auto s = parse("device=pump-7,metric=~temp.*,site!=B,line!~[0-9]+");
  EXPECT_EQ(s.text(), "device=pump-7,metric=~temp.*,site!=B,line!~[0-9]+");
  const auto& m = s.matchers();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].field, "device");
  EXPECT_EQ(m[0].op, Matcher::Op::eq);
  EXPECT_EQ(m[0].value, "pump-7");
  EXPECT_EQ(m[1].field, "metric");
  EXPECT_EQ(m[1].op, Matcher::Op::re);
  EXPECT_EQ(m[1].value, "temp.*");
  EXPECT_EQ(m[2].field, "site");
  EXPECT_EQ(m[2].op, Matcher::Op::ne);
  EXPECT_EQ(m[2].value, "B");
  EXPECT_EQ(m[3].field, "line");
  EXPECT_EQ(m[3].op, Matcher::Op::nre);
  EXPECT_EQ(m[3].value, "[0-9]+");
}

TEST(SeriesSelector, TrimsWhitespaceAndKeepsValuesWhole) {
  const auto s = parse("  device = pump-7 ,\tmetric =~ temp.* , site != B  ");
  ASSERT_EQ(s.matchers().size(), 3u);
  EXPECT_EQ(s.matchers()[0].field, "device");
  EXPECT_EQ(s.matchers()[0].value, "pump-7");
  EXPECT_EQ(s.matchers()[1].value, "temp.*");
  EXPECT_EQ(s.matchers()[2].field, "site");
  EXPECT_EQ(s.matchers()[2].value, "B");
  // An '=' inside a value belongs to the value; an empty value is allowed.
  const auto t = parse("expr=a=b,site=");
  ASSERT_EQ(t.matchers().size(), 2u);
  EXPECT_EQ(t.matchers()[0].value, "a=b");
  EXPECT_EQ(t.matchers()[1].value, "");
}

// A comma inside (), {} or a [] class of a regex is the regex's, not a separator.
TEST(SeriesSelector, CommasInsideARegexBelongToIt) {
  const auto s = parse("line=~[0-9]{1,3},site=A,metric!~(temp|a,b),sep=~[,;]+,x!=1");
  ASSERT_EQ(s.matchers().size(), 5u);
  EXPECT_EQ(s.matchers()[0].value, "[0-9]{1,3}");
  EXPECT_EQ(s.matchers()[1].field, "site");
  EXPECT_EQ(s.matchers()[2].value, "(temp|a,b)");
  EXPECT_EQ(s.matchers()[3].value, "[,;]+");
  EXPECT_EQ(s.matchers()[4].field, "x");
  EXPECT_TRUE(s.matches(key("d", "pressure", {{"line", "12"}, {"site", "A"}, {"sep", ",;,"}})));
  EXPECT_FALSE(s.matches(key("d", "pressure", {{"line", "1234"}, {"site", "A"}, {"sep", ",;,"}})));
  EXPECT_FALSE(s.matches(key("d", "a,b", {{"line", "12"}, {"site", "A"}, {"sep", ",;,"}})));
  // Plain values still end at the comma, brackets or not.
  const auto plain = parse("device={a,site=b");
  ASSERT_EQ(plain.matchers().size(), 2u);
  EXPECT_EQ(plain.matchers()[0].value, "{a");
  // An escaped bracket does not open a group.
  const auto escaped = parse("metric=~a\\(,site=b");
  ASSERT_EQ(escaped.matchers().size(), 2u);
  EXPECT_EQ(escaped.matchers()[0].value, "a\\(");
}

TEST(SeriesSelector, EmptySelectorMatchesEverything) {
  for (const char* text : {"", "   ", ","}) {
    const auto s = parse(text);
    EXPECT_TRUE(s.matchers().empty()) << "'" << text << "'";
    EXPECT_TRUE(s.matches(key("any", "thing")));
    EXPECT_TRUE(s.matches(key("", "", {{"a", "b"}})));
  }
}

TEST(SeriesSelector, BadSyntaxIsRefusedWithAClearMessage) {
  for (const char* text : {"device", "pump-7", "=x", "!=x", "=~x", " = x", "device~x", "device!x",
                           "a=1,b", "a=1,=2", "device>5"}) {
    auto s = SeriesSelector::parse(text);
    ASSERT_FALSE(s.ok()) << "'" << text << "' was accepted";
    EXPECT_TRUE(s.error().is(selector_errc::syntax));
    const std::string& msg = s.error().message;
    EXPECT_NE(msg.find(std::string("'") + text + "'"), std::string::npos)
        << "the message names the selector: " << msg;
    EXPECT_TRUE(msg.find("operator") != std::string::npos)
        << "the message says what is expected: " << msg;
  }
}

TEST(SeriesSelector, BadRegexIsRefusedWithAClearMessage) {
  for (const char* re : {"(", "[a-", "*x", "a{2,1}", "(?<", "\\", "(a,b"}) {
    for (const char* op : {"=~", "!~"}) {
      const std::string text = std::string("device=pump,metric") + op + re;
      auto s = SeriesSelector::parse(text);
      ASSERT_FALSE(s.ok()) << "'" << text << "' was accepted";
      EXPECT_TRUE(s.error().is(selector_errc::syntax));
      const std::string& msg = s.error().message;
      EXPECT_NE(msg.find("bad regex"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("'") + re + "'"), std::string::npos)
          << "the message names the regex: " << msg;
      EXPECT_NE(msg.find(text), std::string::npos) << "the message names the selector: " << msg;
    }
  }
}

TEST(SeriesSelector, EqualsAndDiffers) {
  const auto pump7 = key("pump-7", "temp", {{"site", "A"}});
  const auto pump8 = key("pump-8", "temp", {{"site", "B"}});
  const auto untagged = key("pump-9", "temp");
  EXPECT_TRUE(parse("device=pump-7").matches(pump7));
  EXPECT_FALSE(parse("device=pump-7").matches(pump8));
  EXPECT_FALSE(parse("device=pump").matches(pump7)) << "= is the whole value";
  EXPECT_TRUE(parse("site=A").matches(pump7));
  EXPECT_FALSE(parse("site=A").matches(untagged)) << "a missing tag equals nothing";
  EXPECT_FALSE(parse("site=").matches(untagged)) << "a missing tag is not an empty one for =";
  EXPECT_TRUE(parse("site!=B").matches(pump7));
  EXPECT_FALSE(parse("site!=B").matches(pump8));
  EXPECT_TRUE(parse("site!=B").matches(untagged)) << "a missing tag differs from every value";
  EXPECT_TRUE(parse("metric=temp").matches(untagged));
  EXPECT_FALSE(parse("metric=Temp").matches(untagged)) << "matching is case-sensitive";
  // Every matcher must hold.
  EXPECT_TRUE(parse("metric=temp,site=A").matches(pump7));
  EXPECT_FALSE(parse("metric=temp,site=A").matches(pump8));
  EXPECT_FALSE(parse("device=pump-7,device=pump-8").matches(pump7));
}

TEST(SeriesSelector, RegexMatchesTheWholeValue) {
  const auto temp = key("pump-7", "temperature", {{"line", "12"}});
  const auto xtemp = key("pump-7", "xtemperature");
  EXPECT_TRUE(parse("metric=~temp.*").matches(temp));
  EXPECT_FALSE(parse("metric=~temp.*").matches(xtemp)) << "=~ is anchored at the start";
  EXPECT_FALSE(parse("metric=~temp").matches(temp)) << "=~ is anchored at the end";
  EXPECT_TRUE(parse("metric=~.*temp.*").matches(xtemp));
  EXPECT_TRUE(parse("device=~pump-[0-9]+").matches(temp));
  EXPECT_TRUE(parse("metric=~pressure|temperature").matches(temp));
  EXPECT_FALSE(parse("metric!~temp.*").matches(temp));
  EXPECT_TRUE(parse("metric!~temp.*").matches(xtemp));
  EXPECT_TRUE(parse("line=~[0-9]{2}").matches(temp));
  EXPECT_FALSE(parse("line=~[0-9]").matches(temp));
  // A missing tag is the empty string to a regex.
  EXPECT_FALSE(parse("line=~[0-9]+").matches(xtemp));
  EXPECT_TRUE(parse("line=~.*").matches(xtemp));
  EXPECT_TRUE(parse("line!~[0-9]+").matches(xtemp));
  EXPECT_FALSE(parse("line!~.*").matches(xtemp));
}

}  // namespace
}  // namespace strata::store

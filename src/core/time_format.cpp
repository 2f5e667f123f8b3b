#include "core/time_format.hpp"

#include <charconv>
#include <cstdio>

namespace strata {
namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t y;
  unsigned m, d;
};
constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<Timestamp> parse_iso8601(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  // The day must exist in that month (2019-02-29 and 2021-04-31 are not dates).
  const bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
  constexpr int kDaysIn[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > kDaysIn[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  std::size_t p = 10;
  Timestamp frac = 0;
  if (p < s.size() && (s[p] == 'T' || s[p] == ' ' || s[p] == 't')) {
    if (!digits(s, p + 1, 2, h) || p + 3 >= s.size() || s[p + 3] != ':' || !digits(s, p + 4, 2, mi))
      return std::nullopt;
    p += 6;
    if (p < s.size() && s[p] == ':') {
      if (!digits(s, p + 1, 2, se)) return std::nullopt;
      p += 3;
    }
    if (h > 23 || mi > 59 || se > 60) return std::nullopt;
    if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
      ++p;
      int n = 0;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        if (n < 6) frac = frac * 10 + (s[p] - '0');
        ++n;
        ++p;
      }
      if (n == 0) return std::nullopt;
      for (int k = n; k < 6; ++k) frac *= 10;
    }
  }
  Timestamp offset = 0;
  if (p < s.size()) {
    if (s[p] == 'Z' || s[p] == 'z') {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      int oh, om = 0;
      if (!digits(s, p + 1, 2, oh)) return std::nullopt;
      std::size_t q = p + 3;
      const bool colon = q < s.size() && s[q] == ':';
      if (colon) ++q;
      if (q < s.size() || colon) {  // "+02:" needs its minutes
        if (!digits(s, q, 2, om)) return std::nullopt;
        q += 2;
      }
      if (oh > 23 || om > 59) return std::nullopt;
      offset = (oh * 3600LL + om * 60LL) * kMicrosPerSecond * (s[p] == '-' ? -1 : 1);
      p = q;
    }
  }
  if (p != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const std::int64_t secs = days * 86400 + h * 3600LL + mi * 60LL + se;
  return secs * kMicrosPerSecond + frac - offset;
}

std::string format_iso8601(Timestamp ts) {
  std::int64_t secs = ts / kMicrosPerSecond;
  std::int64_t us = ts % kMicrosPerSecond;
  if (us < 0) {
    us += kMicrosPerSecond;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const Civil c = civil_from_days(days);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
                        static_cast<long long>(c.y), c.m, c.d, static_cast<long long>(rem / 3600),
                        static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  if (us != 0) n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(us));
  buf[n++] = 'Z';
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<Timestamp> parse_duration(std::string_view s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  std::string_view unit(ptr, static_cast<std::size_t>(s.data() + s.size() - ptr));
  std::int64_t mul;
  if (unit == "us")
    mul = 1;
  else if (unit == "ms")
    mul = 1000;
  else if (unit == "s" || unit.empty())
    mul = kMicrosPerSecond;
  else if (unit == "m")
    mul = 60 * kMicrosPerSecond;
  else if (unit == "h")
    mul = 3600 * kMicrosPerSecond;
  else if (unit == "d")
    mul = 86400 * kMicrosPerSecond;
  else if (unit == "w")
    mul = 7 * 86400 * kMicrosPerSecond;
  else if (unit == "y")
    mul = 365 * 86400 * kMicrosPerSecond;
  else
    return std::nullopt;
  if (v > kMaxTimestamp / mul) return std::nullopt;
  return v * mul;
}

}  // namespace strata

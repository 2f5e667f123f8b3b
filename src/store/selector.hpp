#pragma once
// SeriesSelector: which series a query, a retention rule or a detector applies to, written as
// `device=pump-7,metric=~temp.*,site!=B` — a comma-separated list of matchers on `device`,
// `metric` or a tag key, with = (equals), != (differs), =~ (matches the regex, whole value) and
// !~ (does not match; a comma inside (), {} or [] of a regex is the regex's own, as in
// `line=~[0-9]{1,3}`). An empty selector matches every series.
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/series_key.hpp"

namespace strata::store {

enum class selector_errc { syntax = 1 };

struct Matcher {
  enum class Op { eq, ne, re, nre };
  std::string field;
  Op op = Op::eq;
  std::string value;
  std::regex regex;  // for re / nre
};

class SeriesSelector {
 public:
  static Result<SeriesSelector> parse(std::string_view text);
  [[nodiscard]] bool matches(const SeriesKey& key) const;
  [[nodiscard]] const std::vector<Matcher>& matchers() const { return matchers_; }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::vector<Matcher> matchers_;
  std::string text_;
};

}  // namespace strata::store

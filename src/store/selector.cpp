#include "store/selector.hpp"

#include <algorithm>

namespace strata::store {
namespace {
std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}
const std::string* field_of(const SeriesKey& key, const std::string& field) {
  if (field == "device") return &key.device;
  if (field == "metric") return &key.metric;
  return key.tag(field);
}
// Where the matcher starting at `start` ends: the next comma, except that in a regex value a
// comma inside (), {} or a [] class belongs to the regex (`line=~[0-9]{1,3}` is one matcher).
std::size_t matcher_end(std::string_view text, std::size_t start) {
  const std::size_t comma = std::min(text.find(',', start), text.size());
  const std::size_t op = text.find_first_of("=!", start);
  if (op >= comma || op + 1 >= text.size() || text[op + 1] != '~') return comma;
  int depth = 0;
  bool in_class = false;
  for (std::size_t i = op + 2; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(' || c == '{') {
      ++depth;
    } else if ((c == ')' || c == '}') && depth > 0) {
      --depth;
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return text.size();
}
}  // namespace

Result<SeriesSelector> SeriesSelector::parse(std::string_view text) {
  SeriesSelector sel;
  sel.text_ = std::string(text);
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = matcher_end(text, start);
    const std::string part = trim(text.substr(start, end - start));
    start = end + 1;
    if (part.empty()) {
      if (end == text.size()) break;
      continue;
    }
    const std::size_t op = part.find_first_of("=!");
    if (op == std::string::npos || op == 0)
      return Error::of(selector_errc::syntax,
                       "selector '" + std::string(text) + "': matcher '" + part +
                           "' needs a field, an operator (=, !=, =~, !~) and a value");
    Matcher m;
    m.field = trim(std::string_view(part).substr(0, op));
    std::size_t vpos;
    if (part.compare(op, 2, "=~") == 0)
      m.op = Matcher::Op::re, vpos = op + 2;
    else if (part.compare(op, 2, "!~") == 0)
      m.op = Matcher::Op::nre, vpos = op + 2;
    else if (part.compare(op, 2, "!=") == 0)
      m.op = Matcher::Op::ne, vpos = op + 2;
    else if (part[op] == '=')
      m.op = Matcher::Op::eq, vpos = op + 1;
    else
      return Error::of(selector_errc::syntax,
                       "selector '" + std::string(text) + "': unknown operator in '" + part + "'");
    m.value = trim(std::string_view(part).substr(vpos));
    if (m.op == Matcher::Op::re || m.op == Matcher::Op::nre) {
      try {
        m.regex = std::regex(m.value, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return Error::of(selector_errc::syntax, "selector '" + std::string(text) +
                                                    "': bad regex '" + m.value + "': " + e.what());
      }
    }
    sel.matchers_.push_back(std::move(m));
    if (end == text.size()) break;
  }
  return sel;
}

bool SeriesSelector::matches(const SeriesKey& key) const {
  for (const auto& m : matchers_) {
    const std::string* v = field_of(key, m.field);
    const std::string& s = v ? *v : std::string();
    switch (m.op) {
      case Matcher::Op::eq:
        if (!v || s != m.value) return false;
        break;
      case Matcher::Op::ne:
        if (v && s == m.value) return false;
        break;
      case Matcher::Op::re:
        if (!std::regex_match(s, m.regex)) return false;
        break;
      case Matcher::Op::nre:
        if (std::regex_match(s, m.regex)) return false;
        break;
    }
  }
  return true;
}

}  // namespace strata::store

#include "model/dtmi.hpp"

#include <string>

namespace strata::model {
namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Checks a run of digits: first digit 1-9, at most max_digits in all.
std::optional<std::string> check_number(std::string_view n, std::size_t max_digits,
                                        std::string_view what) {
  if (n.empty()) return "the " + std::string(what) + " is empty";
  for (char c : n)
    if (!is_digit(c))
      return "the " + std::string(what) + " '" + std::string(n) + "' is not a number";
  if (n[0] == '0') return "the " + std::string(what) + " '" + std::string(n) + "' starts with 0";
  if (n.size() > max_digits)
    return "the " + std::string(what) + " '" + std::string(n) + "' has more than " +
           std::to_string(max_digits) + " digits";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> dtmi_error(std::string_view text) {
  constexpr std::string_view kScheme = "dtmi:";
  if (text.size() > kMaxDtmiLength)
    return "longer than " + std::to_string(kMaxDtmiLength) + " characters";
  if (text.substr(0, kScheme.size()) != kScheme) return "does not start with 'dtmi:'";
  std::string_view rest = text.substr(kScheme.size());
  std::string_view path = rest;
  std::optional<std::string_view> version;
  if (const auto semi = rest.find(';'); semi != std::string_view::npos) {
    path = rest.substr(0, semi);
    version = rest.substr(semi + 1);
  }
  std::size_t index = 0;
  while (true) {
    ++index;
    const auto colon = path.find(':');
    const std::string_view seg = path.substr(0, colon);
    const std::string where = "segment " + std::to_string(index);
    if (seg.empty()) return where + " is empty";
    const std::string shown = " '" + std::string(seg) + "'";
    for (char c : seg)
      if (!is_letter(c) && !is_digit(c) && c != '_')
        return where + shown + " holds '" + std::string(1, c) +
               "' (only letters, digits and '_' are allowed)";
    std::size_t i = 0;
    while (i < seg.size() && seg[i] == '_') ++i;
    if (i == seg.size()) return where + shown + " has no letter or digit";
    if (i == 0 && !is_letter(seg[0])) return where + shown + " starts with a digit";
    if (seg.back() == '_') return where + shown + " ends with '_'";
    if (colon == std::string_view::npos) break;
    path = path.substr(colon + 1);
  }
  if (version) {
    const auto dot = version->find('.');
    if (auto e = check_number(version->substr(0, dot), 9, "version")) return e;
    if (dot != std::string_view::npos)
      if (auto e = check_number(version->substr(dot + 1), 6, "minor version")) return e;
  }
  return std::nullopt;
}

bool dtmi_has_version(std::string_view dtmi) { return dtmi.find(';') != std::string_view::npos; }

}  // namespace strata::model

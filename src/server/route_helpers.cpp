#include "server/route_helpers.hpp"

#include <charconv>

#include "core/time_format.hpp"
#include "registry/device_registry.hpp"

namespace strata::server {

api::Problem validation_problem(const std::string& message) {
  std::string pointer, reason = message;
  if (message.rfind('$', 0) == 0) {
    const auto colon = message.find(": ");
    if (colon != std::string::npos) {
      const std::string path = message.substr(1, colon - 1);
      reason = message.substr(colon + 2);
      // JSONPath segments (.name, [3], ['strata:min']) → JSON pointer segments (RFC 6901:
      // '~' and '/' inside a name are written ~0 and ~1).
      bool quoted = false;
      for (std::size_t i = 0; i < path.size(); ++i) {
        const char c = path[i];
        if (quoted) {
          if (c == '\\' && i + 1 < path.size())
            pointer += path[++i];
          else if (c == '\'')
            quoted = false;
          else if (c == '~')
            pointer += "~0";
          else if (c == '/')
            pointer += "~1";
          else
            pointer += c;
        } else if (c == '.' || c == '[') {
          pointer += '/';
          if (c == '[' && i + 1 < path.size() && path[i + 1] == '\'') {
            quoted = true;
            ++i;
          }
        } else if (c == '~') {
          pointer += "~0";
        } else if (c != ']') {
          pointer += c;
        }
      }
    }
  }
  return api::unprocessable({{pointer, reason}}, message);
}

api::Problem registry_problem(const Error& e) {
  using registry::errc;
  if (e.is(errc::not_found)) {
    api::Problem p = api::not_found("");
    p.detail = e.message;
    return p;
  }
  if (e.is(errc::conflict) || e.is(errc::in_use)) return api::conflict(e.message);
  if (e.is(errc::invalid)) return validation_problem(e.message);
  return api::internal_error(e.message);
}

Result<Timestamp> time_param(const api::Request& r, std::string_view name, Timestamp fallback,
                             Timestamp now) {
  auto v = r.query_param(name);
  if (!v) return fallback;
  if (auto t = parse_iso8601(*v)) return *t;
  if (*v == "now") return now;
  if (v->rfind("now-", 0) == 0)
    if (auto d = parse_duration(v->substr(4))) return now - *d;
  long long us = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), us);
  if (ec == std::errc() && p == v->data() + v->size()) return us;
  return Error{400, "query parameter '" + std::string(name) + "': '" + *v +
                        "' is not a time (ISO 8601 such as 2026-01-31T12:00:00Z, now, now-1h, or "
                        "µs since the epoch)"};
}

Result<std::size_t> count_param(const api::Request& r, std::string_view name, std::size_t fallback,
                                std::size_t max) {
  auto v = r.query_param(name);
  if (!v) return fallback;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n == 0 || n > max)
    return Error{400, "query parameter '" + std::string(name) + "': expected an integer 1.." +
                          std::to_string(max) + ", got '" + *v + "'"};
  return n;
}

}  // namespace strata::server

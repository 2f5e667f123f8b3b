#include "ingest/mqtt_connector/broker_route.hpp"

#include <algorithm>
#include <charconv>

#include "ingest/text_scan.hpp"  // shown()

namespace strata::ingest::mqtt_connector {
namespace {

Error url_error(std::string_view url, const std::string& why) {
  return Error::of(errc::bad_url, "broker URL '" + shown(url) + "': " + why);
}

Error route_error(std::string_view pattern, const std::string& why) {
  return Error::of(errc::bad_route, "route pattern '" + shown(pattern) + "': " + why);
}

std::vector<std::string_view> split_levels(std::string_view topic) {
  std::vector<std::string_view> levels;
  for (std::size_t start = 0;;) {
    const std::size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(topic.substr(start));
      return levels;
    }
    levels.push_back(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

}  // namespace

Result<BrokerAddress> parse_broker_url(std::string_view url) {
  std::string_view rest;
  BrokerAddress out;
  for (std::string_view scheme : {"mqtt://", "tcp://", "mqtts://", "ssl://"}) {
    if (url.starts_with(scheme)) {
      rest = url.substr(scheme.size());
      out.tls = scheme == "mqtts://" || scheme == "ssl://";
      out.port = out.tls ? 8883 : 1883;
    }
  }
  if (rest.data() == nullptr) {
    if (url.starts_with("ws")) {
      return url_error(url,
                       "MQTT over WebSocket is not supported by the connector; use the broker's "
                       "MQTT listener (mqtt://host:1883, or mqtts://host:8883 with TLS)");
    }
    return url_error(url, "expected mqtt://host[:port] or mqtts://host[:port]");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view host = rest;
  if (rest.starts_with('[')) {  // [::1]:1883
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return url_error(url, "an IPv6 address misses its ']'");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return url_error(url, "expected ':port' after ']'");
  } else {
    const std::size_t colon = rest.rfind(':');
    host = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
  }
  if (host.empty()) return url_error(url, "the host is empty");
  if (host.find_first_of("/@?#") != std::string_view::npos) {
    return url_error(url,
                     "the host may not contain '/', '@', '?' or '#' (credentials are the "
                     "username and password options, not part of the URL)");
  }
  out.host = std::string(host);
  if (!rest.empty()) {
    const std::string_view port = rest.substr(1);
    unsigned value = 0;
    const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return url_error(url, "port '" + shown(port) + "' is not a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

Result<BrokerRoute> BrokerRoute::create(std::string_view pattern,
                                        std::string_view device_template) {
  BrokerRoute r;
  r.pattern_ = std::string(pattern);
  if (pattern.empty()) return route_error(pattern, "is empty");
  const auto levels = split_levels(pattern);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const std::string_view level = levels[i];
    if (i) r.filter_ += '/';
    if (level == "#") {
      if (i + 1 != levels.size()) return route_error(pattern, "'#' may only be the last level");
      r.multi_level_tail_ = true;
      r.filter_ += '#';
      continue;
    }
    if (level.empty()) {
      return route_error(pattern, "level " + std::to_string(i + 1) + " is empty");
    }
    if (level.size() >= 2 && level.front() == '{' && level.back() == '}') {
      std::string name(level.substr(1, level.size() - 2));
      if (name.empty() || name.find_first_of("{}/+#") != std::string::npos) {
        return route_error(pattern, "capture '" + shown(level) + "' needs a plain name");
      }
      if (std::find(r.capture_names_.begin(), r.capture_names_.end(), name) !=
          r.capture_names_.end()) {
        return route_error(pattern, "capture {" + name + "} appears twice");
      }
      r.capture_names_.push_back(name);
      r.levels_.push_back({std::move(name), true});
      r.filter_ += '+';
      continue;
    }
    if (level.find_first_of("+#{}") != std::string_view::npos) {
      return route_error(pattern, "level '" + shown(level) +
                                      "' mixes text with '+', '#' or braces (a capture is a "
                                      "whole level: {name})");
    }
    r.levels_.push_back({std::string(level), false});
    r.filter_ += level;
  }
  // The device template: literal text and {capture} references.
  if (device_template.empty()) return route_error(pattern, "the device template is empty");
  for (std::size_t i = 0; i < device_template.size();) {
    const std::size_t open = device_template.find('{', i);
    if (open != i) {
      const std::size_t end = open == std::string_view::npos ? device_template.size() : open;
      r.device_template_.push_back({std::string(device_template.substr(i, end - i)), -1});
      i = end;
      continue;
    }
    const std::size_t close = device_template.find('}', open);
    if (close == std::string_view::npos) {
      return route_error(pattern,
                         "device template '" + shown(device_template) + "' has a '{' without '}'");
    }
    const std::string name(device_template.substr(open + 1, close - open - 1));
    const auto it = std::find(r.capture_names_.begin(), r.capture_names_.end(), name);
    if (it == r.capture_names_.end()) {
      return route_error(pattern, "device template '" + shown(device_template) + "' uses {" +
                                      shown(name) + "}, which the pattern does not capture");
    }
    r.device_template_.push_back({name, static_cast<int>(it - r.capture_names_.begin())});
    i = close + 1;
  }
  return r;
}

std::optional<std::string> BrokerRoute::device_for(std::string_view topic) const {
  const auto levels = split_levels(topic);
  if (levels.size() < levels_.size() || (!multi_level_tail_ && levels.size() != levels_.size())) {
    return std::nullopt;
  }
  // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match topics starting with '$'.
  if (!topic.empty() && topic[0] == '$' && (levels_.empty() || levels_[0].capture)) {
    return std::nullopt;
  }
  std::vector<std::string_view> captured;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (levels_[i].capture) {
      if (levels[i].empty()) return std::nullopt;
      captured.push_back(levels[i]);
    } else if (levels[i] != levels_[i].text) {
      return std::nullopt;
    }
  }
  std::string device;
  for (const Piece& p : device_template_) {
    device +=
        p.capture < 0 ? std::string_view(p.text) : captured[static_cast<std::size_t>(p.capture)];
  }
  return device;
}

}  // namespace strata::ingest::mqtt_connector

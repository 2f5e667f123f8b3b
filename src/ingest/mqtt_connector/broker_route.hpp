#pragma once
// What the MQTT broker connector is told in its configuration, checked before it connects: the
// broker's URL, and the routes that say which topics carry whose telemetry.
//
//   URL      mqtt://host[:port]        (port 1883 by default; tcp:// is read the same way)
//            mqtts://host[:port]       TLS (port 8883 by default; ssl:// is read the same way)
//   route    pattern  plant/{site}/{line}/{device}/telemetry
//            device   {device}  or any text with captures, e.g. {site}.{line}.{device}
//
// A pattern is a topic with levels that are either literal text (no '+' or '#') or a capture
// `{name}` (one whole level, any text); its last level may be '#' (any number of further levels,
// captured as nothing). The subscription filter replaces each capture with '+': the pattern above
// subscribes `$share/{share_group}/plant/+/+/+/telemetry`. A topic matches a route when every
// literal level is equal and every captured level is non-empty.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace strata::ingest::mqtt_connector {

// Error codes of the connector's configuration and connection.
enum class errc {
  bad_url = 1,  // not mqtt[s]://host[:port]
  bad_route,    // a route pattern or device template that cannot work
  bad_config,   // another option (client id, share group ...)
  connection,   // the broker refused us or the connection broke (the message says which)
};

struct BrokerAddress {
  std::string host;
  std::uint16_t port = 1883;
  bool tls = false;
};

// Reads mqtt://host[:port] (or tcp://) and mqtts://host[:port] (or ssl://). errc::bad_url names
// what is wrong and the fix; ws:// and wss:// are refused (MQTT over WebSocket is not built: use
// the broker's MQTT listener, which every broker that offers WebSocket has too).
[[nodiscard]] Result<BrokerAddress> parse_broker_url(std::string_view url);

// One configured topic pattern and how its captures name the device.
class BrokerRoute {
 public:
  // errc::bad_route when the pattern is empty, has an empty level, a '+' or '#' inside a level, a
  // '#' before the last level, a capture named twice, or when the device template names a
  // capture the pattern does not have or has an unclosed '{'.
  [[nodiscard]] static Result<BrokerRoute> create(std::string_view pattern,
                                                  std::string_view device_template = "{device}");

  // The MQTT filter of the pattern (captures → '+').
  [[nodiscard]] const std::string& filter() const { return filter_; }
  [[nodiscard]] const std::string& pattern() const { return pattern_; }

  // The device id for a topic, or nullopt when the topic does not match the pattern.
  [[nodiscard]] std::optional<std::string> device_for(std::string_view topic) const;

 private:
  struct Level {
    std::string text;  // the literal, or the capture's name
    bool capture = false;
  };
  struct Piece {
    std::string text;  // literal text, or a capture's name
    int capture = -1;  // index into the pattern's captures, or -1 for literal text
  };
  BrokerRoute() = default;
  std::string pattern_;
  std::string filter_;
  std::vector<Level> levels_;
  bool multi_level_tail_ = false;
  std::vector<std::string> capture_names_;
  std::vector<Piece> device_template_;
};

}  // namespace strata::ingest::mqtt_connector

#pragma once
// The WebSocket side of a route, without Boost. A route registered with a WebSocketEndpoint is
// upgraded by the server after the router has matched and authenticated it; the endpoint then sees
// sessions open, receive text messages and close. The LiveHub (live_hub.hpp) is one endpoint.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/exchange.hpp"

namespace strata::api {

// The bounds of one session, set by the route (LiveHub fills them from its options). A slow peer
// costs at most max_queued_messages / max_queued_bytes of memory, then it is disconnected.
struct WebSocketLimits {
  std::size_t max_queued_messages = 256;
  std::size_t max_queued_bytes = std::size_t{8} << 20;
  std::size_t max_incoming_bytes = std::size_t{64} << 10;  // a larger message closes with 1009
  // The last message a peer whose queue overflowed receives, before the close frame.
  std::string overflow_notice =
      R"({"type":"overflow","detail":"you read too slowly: messages were queued beyond the limit; reconnect and read faster or subscribe to fewer topics"})";
  // After an overflow or close(), the time the peer gets to take the last message and the close
  // frame before the socket is closed under it.
  std::chrono::milliseconds close_grace{2000};
};

// One open WebSocket connection, as an endpoint sees it. Thread-safe: send() and close() may be
// called from any thread and never block on the network.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  enum class SendResult : std::uint8_t {
    queued,      // will be written in order
    overflowed,  // this message overflowed the queue: the session is now closing (see below)
    closed,      // the session was already closing or closed; nothing queued
  };
  // Queues a text message; never blocks. When the message would take the queue over the route's
  // WebSocketLimits, the session drops what waits, sends WebSocketLimits::overflow_notice as its
  // last message, then a close frame with code 1008 (policy violation), and closes the socket
  // after close_grace at the latest.
  virtual SendResult send(std::shared_ptr<const std::string> text) = 0;
  // Starts the close handshake with code 1000 and the given reason (at most 123 bytes).
  virtual void close(std::string_view reason) = 0;
  // Messages waiting to be written.
  [[nodiscard]] virtual std::size_t queued() const = 0;
  // The authenticated user (nullopt on a public route) and the peer, for logs.
  [[nodiscard]] virtual const std::optional<Caller>& caller() const = 0;
  [[nodiscard]] virtual const std::string& remote_address() const = 0;
};

// What a WebSocket route implements. Callbacks of one session are serialised (they run on its
// strand); callbacks of different sessions may run concurrently.
class WebSocketEndpoint {
 public:
  virtual ~WebSocketEndpoint() = default;
  // After the handshake. `request` is the upgrade request (query parameters, caller); valid for
  // the call only.
  virtual void on_open(const std::shared_ptr<WebSocketSession>& session,
                       const Request& request) = 0;
  // One complete text message from the peer (binary messages are refused by the server).
  virtual void on_message(const std::shared_ptr<WebSocketSession>& session,
                          std::string_view text) = 0;
  // Once, when the session ends for any reason; the endpoint drops its reference here.
  virtual void on_close(const std::shared_ptr<WebSocketSession>& session) = 0;
};

}  // namespace strata::api

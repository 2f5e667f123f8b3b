#pragma once
// LiveHub: live data to browsers and dashboards over WebSocket (/api/v1/stream). Subscribers name
// topics (device ids, "alarms", ...); the rest of Strata publishes JSON messages to a topic from
// any thread; the hub fans each message out to the topic's subscribers. Publishing never blocks and
// never waits on a subscriber: each session has a bounded queue, and a subscriber that reads too
// slowly is sent a last "overflow" message and disconnected (WebSocketLimits).
//
// Client protocol (text frames, JSON):
//   connect   GET /api/v1/stream?topic=pump-7&topic=pump-8   (or ?topics=pump-7,pump-8;
//             token as `Authorization: Bearer …` or ?token=…)
//   → {"subscribe":["pump-9"]}         ←
//   {"type":"subscribed","topics":["pump-7","pump-8","pump-9"]} → {"unsubscribe":["pump-7"]} ←
//   {"type":"subscribed","topics":["pump-8","pump-9"]} ←
//   {"type":"message","topic":"pump-8","data":<the published JSON>} ←
//   {"type":"error","detail":"..."}  (a message the hub cannot read; the session stays open) ←
//   {"type":"overflow","detail":"..."} then close 1008 (too slow)
// On connect the hub sends one "subscribed" message (possibly with no topics), so a client knows
// its query topics are in place before anything is published. Topics are 1..256 bytes; a session
// has at most max_topics of them.
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/router.hpp"
#include "api/websocket.hpp"
#include "core/result.hpp"

namespace strata::api {

struct LiveHubOptions {
  WebSocketLimits limits;
  std::size_t max_topics = 1024;  // per session
};

class LiveHub {
 public:
  explicit LiveHub(LiveHubOptions options = {});
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // Registers the WebSocket route (GET `pattern`, token also accepted as ?token=) on `router`.
  [[nodiscard]] Status add_route(Router& router, std::string pattern, govern::RoleSet roles,
                                 std::string summary = "Live data: subscribe to topics");

  // Sends `message` to every subscriber of `topic`. Any thread; never blocks on a subscriber.
  // Returns the number of sessions it was queued for (a session whose queue is full is counted out
  // and disconnected). publish_text() takes the message already serialised: `json_text` must be
  // one JSON value (the hub embeds it without re-reading it).
  std::size_t publish(std::string_view topic, const nlohmann::json& message);
  std::size_t publish_text(std::string_view topic, std::string_view json_text);

  // Open sessions, and sessions subscribed to a topic.
  [[nodiscard]] std::size_t sessions() const;
  [[nodiscard]] std::size_t subscribers(std::string_view topic) const;
  // Sessions disconnected for reading too slowly, since start.
  [[nodiscard]] std::size_t overflows() const;

  struct State;  // internal

 private:
  std::shared_ptr<State> state_;
};

}  // namespace strata::api

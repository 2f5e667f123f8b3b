#include "api/live_hub.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

namespace strata::api {

namespace {

constexpr std::size_t kMaxTopicBytes = 256;

struct Subscriber {
  std::shared_ptr<WebSocketSession> session;
  std::set<std::string, std::less<>> topics;  // guarded by State::mu
};

std::shared_ptr<const std::string> frame(const nlohmann::json& doc) {
  return std::make_shared<const std::string>(
      doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::shared_ptr<const std::string> error_frame(std::string detail) {
  return frame({{"type", "error"}, {"detail", std::move(detail)}});
}

}  // namespace

struct LiveHub::State : WebSocketEndpoint, std::enable_shared_from_this<LiveHub::State> {
  explicit State(LiveHubOptions o) : options(std::move(o)) {}

  LiveHubOptions options;
  mutable std::shared_mutex mu;
  std::unordered_map<const WebSocketSession*, std::shared_ptr<Subscriber>> sessions;
  std::map<std::string, std::vector<std::shared_ptr<Subscriber>>, std::less<>> topics;
  std::atomic<std::size_t> overflow_count{0};

  // REQUIRES: mu held exclusively. Adds what fits; returns the refusals as one message ("" if
  // none).
  std::string subscribe(const std::shared_ptr<Subscriber>& s, const std::vector<std::string>& add) {
    std::vector<std::string> problems;
    for (const auto& t : add) {
      if (t.empty() || t.size() > kMaxTopicBytes) {
        problems.push_back(fmt::format("topic of {} bytes refused: a topic has 1..{} bytes",
                                       t.size(), kMaxTopicBytes));
        continue;
      }
      if (s->topics.count(t) != 0) continue;
      if (s->topics.size() >= options.max_topics) {
        problems.push_back(fmt::format("topic '{}' refused: at most {} topics per session", t,
                                       options.max_topics));
        continue;
      }
      s->topics.insert(t);
      topics[t].push_back(s);
    }
    std::string out;
    for (const auto& p : problems) out += (out.empty() ? "" : "; ") + p;
    return out;
  }

  // REQUIRES: mu held exclusively.
  void unsubscribe(const std::shared_ptr<Subscriber>& s, const std::vector<std::string>& drop) {
    for (const auto& t : drop) {
      if (s->topics.erase(t) == 0) continue;
      auto it = topics.find(t);
      if (it == topics.end()) continue;
      auto& list = it->second;
      list.erase(std::remove(list.begin(), list.end(), s), list.end());
      if (list.empty()) topics.erase(it);
    }
  }

  // REQUIRES: mu held (either way).
  static std::shared_ptr<const std::string> ack(const Subscriber& s) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& t : s.topics) list.push_back(t);
    return frame({{"type", "subscribed"}, {"topics", std::move(list)}});
  }

  void on_open(const std::shared_ptr<WebSocketSession>& session, const Request& request) override {
    std::vector<std::string> wanted = request.query_params("topic");
    for (const auto& list : request.query_params("topics")) {
      std::string_view rest = list;
      while (!rest.empty()) {
        std::size_t comma = rest.find(',');
        if (comma != 0) wanted.emplace_back(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    auto s = std::make_shared<Subscriber>();
    s->session = session;
    std::string refused;
    std::shared_ptr<const std::string> reply;
    {
      std::unique_lock lock(mu);
      sessions[session.get()] = s;
      refused = subscribe(s, wanted);
      reply = ack(*s);
    }
    if (!refused.empty()) session->send(error_frame(refused));
    session->send(reply);
  }

  void on_message(const std::shared_ptr<WebSocketSession>& session,
                  std::string_view text) override {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    auto topic_list = [&](const char* key, std::vector<std::string>& out) -> std::string {
      if (!doc.contains(key)) return {};
      const auto& v = doc[key];
      if (!v.is_array()) return fmt::format("'{}' must be an array of topic strings", key);
      for (const auto& t : v) {
        if (!t.is_string()) return fmt::format("'{}' must be an array of topic strings", key);
        out.push_back(t.get<std::string>());
      }
      return {};
    };
    std::vector<std::string> add, drop;
    std::string problem;
    if (doc.is_discarded() || !doc.is_object()) {
      problem =
          R"(expected a JSON object such as {"subscribe":["pump-7"]} or {"unsubscribe":["pump-7"]})";
    } else if (!doc.contains("subscribe") && !doc.contains("unsubscribe")) {
      problem = R"(the message names neither "subscribe" nor "unsubscribe")";
    } else {
      problem = topic_list("subscribe", add);
      if (problem.empty()) problem = topic_list("unsubscribe", drop);
    }
    if (!problem.empty()) {
      session->send(error_frame(std::move(problem)));
      return;
    }
    std::shared_ptr<const std::string> reply;
    std::string refused;
    {
      std::unique_lock lock(mu);
      auto it = sessions.find(session.get());
      if (it == sessions.end()) return;
      unsubscribe(it->second, drop);
      refused = subscribe(it->second, add);
      reply = ack(*it->second);
    }
    if (!refused.empty()) session->send(error_frame(refused));
    session->send(reply);
  }

  void on_close(const std::shared_ptr<WebSocketSession>& session) override {
    std::unique_lock lock(mu);
    auto it = sessions.find(session.get());
    if (it == sessions.end()) return;
    auto s = it->second;
    std::vector<std::string> all(s->topics.begin(), s->topics.end());
    unsubscribe(s, all);
    sessions.erase(it);
  }

  std::size_t publish(std::string_view topic, std::shared_ptr<const std::string> message) {
    std::vector<std::shared_ptr<Subscriber>> targets;
    {
      std::shared_lock lock(mu);
      auto it = topics.find(topic);
      if (it == topics.end()) return 0;
      targets = it->second;
    }
    std::size_t queued = 0;
    for (const auto& t : targets) {
      switch (t->session->send(message)) {
        case WebSocketSession::SendResult::queued:
          ++queued;
          break;
        case WebSocketSession::SendResult::overflowed:
          overflow_count.fetch_add(1, std::memory_order_relaxed);
          break;
        case WebSocketSession::SendResult::closed:
          break;
      }
    }
    return queued;
  }
};

LiveHub::LiveHub(LiveHubOptions options) : state_(std::make_shared<State>(std::move(options))) {}

LiveHub::~LiveHub() = default;

Status LiveHub::add_route(Router& router, std::string pattern, govern::RoleSet roles,
                          std::string summary) {
  Route route;
  route.method = Method::get;
  route.pattern = std::move(pattern);
  route.summary = std::move(summary);
  route.tag = "live";
  route.access = Access::roles(roles);
  route.token_query_param = "token";
  route.query_params = {{"topic", "a topic to subscribe to (repeatable)"},
                        {"topics", "topics to subscribe to, comma-separated"}};
  route.websocket = state_;
  route.websocket_limits = state_->options.limits;
  return router.add(std::move(route));
}

std::size_t LiveHub::publish(std::string_view topic, const nlohmann::json& message) {
  if (subscribers(topic) == 0) return 0;
  return publish_text(topic,
                      message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::size_t LiveHub::publish_text(std::string_view topic, std::string_view json_text) {
  {
    std::shared_lock lock(state_->mu);
    if (state_->topics.find(topic) == state_->topics.end()) return 0;  // no one listens: no work
  }
  // {"type":"message","topic":<topic>,"data":<json_text>}, built once for every subscriber.
  std::string text = R"({"type":"message","topic":)";
  text += nlohmann::json(std::string(topic))
              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += R"(,"data":)";
  text += json_text;
  text += '}';
  return state_->publish(topic, std::make_shared<const std::string>(std::move(text)));
}

std::size_t LiveHub::sessions() const {
  std::shared_lock lock(state_->mu);
  return state_->sessions.size();
}

std::size_t LiveHub::subscribers(std::string_view topic) const {
  std::shared_lock lock(state_->mu);
  auto it = state_->topics.find(topic);
  return it == state_->topics.end() ? 0 : it->second.size();
}

std::size_t LiveHub::overflows() const {
  return state_->overflow_count.load(std::memory_order_relaxed);
}

}  // namespace strata::api

#include "api/live_hub.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "api/http_server.hpp"
#include "http_client.hpp"
#include "test_auth.hpp"

namespace strata::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using govern::Role;
using testing::eventually;

// A Beast WebSocket client whose reads give up after a deadline instead of hanging the test.
class WsClient {
 public:
  // Connects and performs the handshake; returns the HTTP status of the handshake answer (101 on
  // success). `small_window` shrinks the receive buffer so a non-reading client fills up fast.
  int connect(unsigned short port, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers = {},
              bool small_window = false) {
    tcp::socket& s = ws_.next_layer();
    s.open(tcp::v4());
    if (small_window) s.set_option(asio::socket_base::receive_buffer_size(4096));
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    websocket::response_type res;
    beast::error_code ec;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
    response_body_ = res.body();
    handshake_error_ = ec;
    return static_cast<int>(res.result_int());
  }

  // The next text message, or nullopt when the session ended (close_reason() tells why) or the
  // deadline passed (timed_out()).
  std::optional<std::string> read(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    beast::flat_buffer buffer;
    bool done = false;
    beast::error_code result;
    ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    io_.restart();
    io_.run_for(deadline);
    if (!done) {
      timed_out_ = true;
      beast::get_lowest_layer(ws_).close();
      io_.restart();
      io_.run();
      return std::nullopt;
    }
    if (result) {
      error_ = result;
      return std::nullopt;
    }
    return beast::buffers_to_string(buffer.data());
  }

  nlohmann::json read_json() {
    auto text = read();
    if (!text) return nullptr;
    return nlohmann::json::parse(*text);
  }

  void write(const std::string& text) { ws_.write(asio::buffer(text)); }
  void write_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(asio::buffer(bytes));
  }
  void close() {
    beast::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }

  websocket::close_reason close_reason() const { return ws_.reason(); }
  bool timed_out() const { return timed_out_; }
  beast::error_code error() const { return error_; }
  const std::string& response_body() const { return response_body_; }

 private:
  asio::io_context io_;
  websocket::stream<tcp::socket> ws_{io_};
  bool timed_out_ = false;
  beast::error_code error_;
  std::string response_body_;

 public:
  beast::error_code handshake_error_;
};

class LiveHubTest : public ::testing::Test {
 protected:
  void start(LiveHubOptions options = {}) {
    auth.add("view", "victor", Role::viewer);
    auth.add("exec", "erica", Role::executive);
    hub = std::make_unique<LiveHub>(options);
    ASSERT_TRUE(
        hub->add_route(router, "/api/v1/stream", {Role::admin, Role::operator_, Role::viewer})
            .ok());
    HttpServerOptions o;
    o.threads = 2;
    auto s = HttpServer::create(io, o, router);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server = std::move(*s);
  }
  void TearDown() override {
    if (server) server->stop();
  }
  unsigned short port() const { return server->port(); }

  asio::io_context io;
  testing::TableAuthenticator auth;
  Router router{&auth};
  std::unique_ptr<LiveHub> hub;
  std::unique_ptr<HttpServer> server;
};

TEST_F(LiveHubTest, QueryTopicsReceivePublishedMessages) {
  start();
  WsClient c;
  ASSERT_EQ(c.connect(port(), "/api/v1/stream?topic=pump-7&topics=pump-8,pump-9&token=view"), 101);
  EXPECT_EQ(c.read_json(), nlohmann::json::parse(
                               R"({"type":"subscribed","topics":["pump-7","pump-8","pump-9"]})"));
  EXPECT_EQ(hub->sessions(), 1u);
  EXPECT_EQ(hub->subscribers("pump-8"), 1u);
  EXPECT_EQ(hub->publish("pump-8", nlohmann::json{{"temp", 21.5}}), 1u);
  EXPECT_EQ(hub->publish("pump-1", nlohmann::json{{"temp", 0}}), 0u);  // nobody listens
  EXPECT_EQ(hub->publish_text("pump-7", R"([1,2,3])"), 1u);
  EXPECT_EQ(c.read(), R"({"type":"message","topic":"pump-8","data":{"temp":21.5}})");
  EXPECT_EQ(c.read(), R"({"type":"message","topic":"pump-7","data":[1,2,3]})");
  c.close();
  EXPECT_TRUE(eventually([&] { return hub->sessions() == 0; }));
  EXPECT_EQ(hub->subscribers("pump-8"), 0u);
}

TEST_F(LiveHubTest, SubscribeAndUnsubscribeByMessage) {
  start();
  WsClient c;
  ASSERT_EQ(c.connect(port(), "/api/v1/stream", {{"Authorization", "Bearer view"}}), 101);
  EXPECT_EQ(c.read_json()["topics"], nlohmann::json::array());
  c.write(R"({"subscribe":["a","b"]})");
  EXPECT_EQ(c.read_json()["topics"], nlohmann::json::array({"a", "b"}));
  c.write(R"({"unsubscribe":["a"],"subscribe":["c"]})");
  EXPECT_EQ(c.read_json()["topics"], nlohmann::json::array({"b", "c"}));
  EXPECT_EQ(hub->publish("a", nlohmann::json(1)), 0u);
  EXPECT_EQ(hub->publish("c", nlohmann::json("x\"y")), 1u);
  EXPECT_EQ(c.read(), R"({"type":"message","topic":"c","data":"x\"y"})");
}

TEST_F(LiveHubTest, UnreadableMessagesGetAnErrorAndTheSessionStays) {
  LiveHubOptions o;
  o.max_topics = 2;
  start(o);
  WsClient c;
  ASSERT_EQ(c.connect(port(), "/api/v1/stream?token=view"), 101);
  c.read();
  for (const char* bad :
       {"not json", "[1]", R"({"subscribe":"a"})", R"({"subscribe":[1]})", R"({"hello":1})"}) {
    c.write(bad);
    auto doc = c.read_json();
    EXPECT_EQ(doc["type"], "error") << bad;
    EXPECT_FALSE(doc["detail"].get<std::string>().empty());
  }
  c.write(R"({"subscribe":["a","b","c",""]})");
  auto err = c.read_json();
  EXPECT_EQ(err["type"], "error");
  EXPECT_NE(err["detail"].get<std::string>().find("at most 2 topics"), std::string::npos) << err;
  EXPECT_NE(err["detail"].get<std::string>().find("1..256 bytes"), std::string::npos) << err;
  EXPECT_EQ(c.read_json()["topics"], nlohmann::json::array({"a", "b"}));
}

TEST_F(LiveHubTest, HandshakeNeedsATokenWithAnAdmittedRole) {
  start();
  // The refused handshake read with a raw socket (Beast 1.74's client keeps no declined answer).
  auto handshake = [&](const std::string& target) {
    return testing::raw_exchange(
        port(), "GET " + target +
                    " HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\nUpgrade: "
                    "websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                    "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  };
  std::string reply = handshake("/api/v1/stream");
  EXPECT_EQ(reply.rfind("HTTP/1.1 401", 0), 0u) << reply;
  EXPECT_NE(reply.find("WWW-Authenticate: Bearer"), std::string::npos) << reply;
  EXPECT_NE(reply.find("urn:strata:problem:unauthorized"), std::string::npos) << reply;
  reply = handshake("/api/v1/stream?token=wrong");
  EXPECT_EQ(reply.rfind("HTTP/1.1 401", 0), 0u) << reply;
  reply = handshake("/api/v1/stream?token=exec");
  EXPECT_EQ(reply.rfind("HTTP/1.1 403", 0), 0u) << reply;
  {
    WsClient c;  // and Beast's client sees the refusal as a declined upgrade
    EXPECT_NE(c.connect(port(), "/api/v1/stream?token=exec"), 101);
    EXPECT_EQ(c.handshake_error_, websocket::error::upgrade_declined);
  }
  EXPECT_TRUE(eventually([&] { return hub->sessions() == 0; }));
  // Without an upgrade, the stream route says how to reach it.
  testing::CurlClient http;
  auto r = http.request("GET",
                        "http://127.0.0.1:" + std::to_string(port()) + "/api/v1/stream?token=view");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
}

TEST_F(LiveHubTest, BinaryMessagesCloseTheSession) {
  start();
  WsClient c;
  ASSERT_EQ(c.connect(port(), "/api/v1/stream?token=view"), 101);
  c.read();
  c.write_binary(std::string("\x00\x01", 2));
  EXPECT_EQ(c.read(), std::nullopt);
  EXPECT_FALSE(c.timed_out());
  EXPECT_EQ(c.close_reason().code, websocket::close_code::unknown_data);
  EXPECT_TRUE(eventually([&] { return hub->sessions() == 0; }));
}

TEST_F(LiveHubTest, SlowSubscriberGetsTheOverflowNoticeAndIsDisconnected) {
  LiveHubOptions o;
  o.limits.max_queued_messages = 8;
  o.limits.close_grace = std::chrono::seconds(10);  // time for the test to read what is left
  start(o);
  WsClient slow, fast;
  ASSERT_EQ(slow.connect(port(), "/api/v1/stream?topic=flood&token=view", {}, true), 101);
  ASSERT_EQ(fast.connect(port(), "/api/v1/stream?topic=other&token=view"), 101);
  slow.read();
  fast.read();

  // The slow client reads nothing while 24 MiB are published to it: its queue of 8 fills (its
  // kernel buffers too, if the writer keeps up with the publisher), then it is cut off. The
  // publisher never waits.
  std::string payload = "\"" + std::string(8192, 'p') + "\"";
  std::size_t queued = 0;
  for (int i = 0; i < 3000; ++i) queued += hub->publish_text("flood", payload);
  EXPECT_LT(queued, 3000u);
  EXPECT_EQ(hub->overflows(), 1u);
  // Others are unaffected.
  EXPECT_EQ(hub->publish("other", nlohmann::json(1)), 1u);
  EXPECT_EQ(fast.read(), R"({"type":"message","topic":"other","data":1})");

  std::size_t messages = 0;
  std::string last;
  while (auto text = slow.read()) {
    if (text->find(R"("type":"message")") != std::string::npos) {
      ++messages;
    } else {
      last = *text;
    }
  }
  EXPECT_FALSE(slow.timed_out());
  EXPECT_LE(messages, queued);
  EXPECT_EQ(last, o.limits.overflow_notice);
  EXPECT_EQ(slow.close_reason().code, websocket::close_code::policy_error);
  EXPECT_TRUE(eventually([&] { return hub->subscribers("flood") == 0; }));
  EXPECT_EQ(hub->sessions(), 1u);
}

TEST_F(LiveHubTest, StopEndsOpenSessions) {
  start();
  WsClient c;
  ASSERT_EQ(c.connect(port(), "/api/v1/stream?topic=x&token=view"), 101);
  c.read();
  server->stop();
  EXPECT_EQ(c.read(), std::nullopt);
  EXPECT_FALSE(c.timed_out());
  EXPECT_EQ(hub->sessions(), 0u);
}

}  // namespace
}  // namespace strata::api

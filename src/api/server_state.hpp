#pragma once
// Internal to api/: what the listener and its connections share (http_server.cpp,
// websocket_connection.cpp). Includes Boost.Beast; no other module includes it.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/http_server.hpp"

namespace strata::obs {
class Counter;
class Gauge;
class Histogram;
}  // namespace strata::obs

namespace strata::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// A live connection the server can end on stop().
class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  // Closes the socket and cancels the connection's timers. Any thread (posts onto the strand).
  virtual void shut_down() = 0;
};

struct HttpServer::State {
  State(asio::io_context& io, HttpServerOptions options, const Router& router);

  asio::io_context& io;
  HttpServerOptions options;
  const Router& router;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::uint16_t port = 0;
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::atomic<bool> stopped{false};
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> next_id{1};

  std::mutex live_mu;
  std::unordered_map<std::uint64_t, std::weak_ptr<ServerConnection>> live;

  // Set when options.metrics is: responses by status class (index status/100 - 1), latency.
  obs::Counter* responses[5] = {};
  obs::Histogram* latency = nullptr;
  obs::Gauge* connections = nullptr;

  // Registers a connection for stop(); returns its key. Unregister from the destructor.
  std::uint64_t enter(std::weak_ptr<ServerConnection> c);
  void leave(std::uint64_t key);
  void count_response(int status, double seconds);
};

// Takes over an HTTP connection whose upgrade request the router accepted for a WebSocket route
// (websocket_connection.cpp). `request` has its params and caller filled.
void start_websocket(std::shared_ptr<HttpServer::State> server, beast::tcp_stream stream,
                     http::request<http::string_body> upgrade, const Route& route, Request request);

}  // namespace strata::api

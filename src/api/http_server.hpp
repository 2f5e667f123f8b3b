#pragma once
// HttpServer: the HTTP/1.1 and WebSocket listener of the REST surface (Boost.Beast on Boost.Asio,
// kept out of this header). It reads requests, lets the Router resolve them, hands them to the
// route's handler and writes what the handler answers — on the connection's strand, whichever
// thread answered. Bad bytes on the wire get a problem document and a closed connection, never a
// crash.
//
// Per connection: keep-alive (several requests in turn; pipelined requests wait for the previous
// answer), one strand, an idle timeout on every read and on the wait for a handler's answer.
// Limits: the request head (request line + headers) is bounded by max_header_bytes (→ 431), the
// body by the route's max_body_bytes or else the server's (→ 413). A request with
// `Expect: 100-continue` gets "100 Continue" only once its route has accepted it, so a refused
// upload is never sent. A response to a request that was not read to its end closes the
// connection (after a short drain, so the peer sees the answer rather than a reset).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/errc.hpp"
#include "api/router.hpp"
#include "core/result.hpp"

namespace boost::asio {
class io_context;
}

namespace strata::obs {
class MetricsRegistry;
}

namespace strata::api {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port; port() tells which
  std::size_t max_body_bytes = std::size_t{64} << 20;
  std::size_t max_header_bytes = std::size_t{16} << 10;
  // A connection that sends nothing for this long (between requests, within one, or while its
  // handler has not answered) is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  // Threads that run the io_context for the server; 0: the caller runs it.
  unsigned threads = 2;
  // Connections beyond this are closed as soon as they are accepted.
  std::size_t max_connections = 1024;
  // When set, the server counts requests by status class, their latency and open connections
  // (strata_http_*); the registry must outlive the server.
  obs::MetricsRegistry* metrics = nullptr;
};

// A listening server. Destroying it stops it.
class HttpServer {
 public:
  // Binds, listens and starts accepting (and, with options.threads > 0, the threads that run
  // `io`). errc::bind names the address and the reason. `io` and `router` must outlive the server.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> create(boost::asio::io_context& io,
                                                                  HttpServerOptions options,
                                                                  const Router& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port bound (the one the system chose when options.port was 0).
  [[nodiscard]] std::uint16_t port() const;
  // Open connections (HTTP and WebSocket).
  [[nodiscard]] std::size_t connections() const;

  // Stops accepting, closes every connection (handlers still running answer into the void) and
  // joins the server's threads. Those threads return once the io_context has no other work: when
  // it is shared with other components, stop them first. Idempotent.
  void stop();

  struct State;  // internal, shared with the connections

 private:
  explicit HttpServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace strata::api

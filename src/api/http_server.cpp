#include "api/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <limits>

#include "api/server_state.hpp"
#include "obs/metrics.hpp"

namespace strata::api {

namespace {

using Clock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr std::size_t kDrainBytes = std::size_t{1} << 20;  // read after a closing answer
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr std::size_t kBodyStep = std::size_t{256} << 10;  // a body is read this much at a time

std::string endpoint_text(const tcp::socket& socket) {
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

bool is_disconnect(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor;
}

// One HTTP/1.1 connection: reads a request, resolves it, waits for the handler's answer, writes
// it, and reads the next one. Every member is touched on the connection's strand only, except
// through the Responder, which posts onto it.
class HttpConnection final : public ServerConnection,
                             public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<HttpServer::State> server, tcp::socket socket)
      : server_(std::move(server)),
        stream_(std::move(socket)),
        answer_timer_(stream_.get_executor()),
        remote_(endpoint_text(stream_.socket())) {}

  ~HttpConnection() override {
    if (key_ != 0) server_->leave(key_);
  }

  void start() {
    key_ = server_->enter(weak_from_this());
    if (server_->stopped.load()) return shut_down();  // accepted while stop() ran
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_head(); });
  }

  void shut_down() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->handed_over_ = true;  // nothing more is written
      self->waiting_ = false;
      self->answer_timer_.cancel();
      error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.socket().close(ignored);
    });
  }

 private:
  const HttpServerOptions& options() const { return server_->options; }

  void read_head() {
    if (handed_over_) return;
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(options().max_header_bytes, UINT32_MAX)));
    // No limit yet: Beast checks Content-Length against it while reading the head, before the
    // route (and so the route's own limit) is known; on_head sets the route's limit. (Not
    // boost::none: Beast 1.74 compares Content-Length with the optional, and none loses.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(options().idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_head(ec); });
  }

  void on_head(error_code ec) {
    started_ = Clock::now();
    if (ec) {
      if (is_disconnect(ec)) return close_now();
      if (ec == http::error::partial_message)
        return answer_and_close(
            Response::problem(bad_request("the request ended before its head was complete"), "/"));
      if (ec == http::error::header_limit) {
        Problem p;
        p.status = 431;
        p.type = "urn:strata:problem:header-too-large";
        p.detail = fmt::format("the request line and headers are over the limit of {} bytes",
                               options().max_header_bytes);
        return answer_and_close(Response::problem(p, "/"));
      }
      return answer_and_close(Response::problem(
          bad_request(fmt::format("the request is not valid HTTP/1.1: {}", ec.message())), "/"));
    }

    auto& head = parser_->get();
    request_ = Request{};
    request_.id = server_->next_id.fetch_add(1, std::memory_order_relaxed);
    request_.remote_address = remote_;
    request_.target = std::string(head.target());
    std::string_view target = request_.target;
    std::size_t q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    for (const auto& field : head)
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    keep_alive_ = head.keep_alive();

    auto method = parse_method(sv(head.method_string()));
    if (!method) {
      Problem p;
      p.status = 501;
      p.type = "urn:strata:problem:method-not-implemented";
      p.detail = fmt::format("the method '{}' is not one this server implements",
                             sv(head.method_string()));
      return refuse(p);
    }
    request_.method = *method;
    if (request_.path.empty() || request_.path.front() != '/')
      return refuse(bad_request(fmt::format(
          "the request target '{}' must be a path starting with '/'", request_.target)));

    Resolution r = server_->router.resolve(request_);
    if (!r.route) return refuse(*r.refusal);
    route_ = r.route;

    if (route_->websocket) {
      if (beast::websocket::is_upgrade(head)) {
        handed_over_ = true;
        answer_timer_.cancel();
        stream_.expires_never();
        start_websocket(server_, std::move(stream_), parser_->release(), *route_,
                        std::move(request_));
        return;
      }
      // Not an upgrade: the router answers 426.
    }

    std::size_t limit =
        route_->max_body_bytes != 0 ? route_->max_body_bytes : options().max_body_bytes;
    if (auto length = parser_->content_length(); length && *length > limit)
      return refuse(payload_too_large(limit));
    parser_->body_limit(limit);
    body_limit_ = limit;

    if (parser_->is_done()) return run_handler();
    auto expect = head[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(options().idle_timeout);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](error_code wec, std::size_t) {
                          if (wec) return self->close_now();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(options().idle_timeout);
    // Beast reads at most the buffer's free capacity at a time, which the header left at a few
    // hundred bytes: a large body would take a system call every 2 KiB.
    const std::size_t want = std::min(parser_->content_length().value_or(kBodyStep), kBodyStep);
    if (want > buffer_.capacity() - buffer_.size()) buffer_.reserve(buffer_.size() + want);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_body(error_code ec) {
    if (ec) {
      if (ec == http::error::body_limit) return refuse(payload_too_large(body_limit_));
      if (ec == http::error::partial_message)
        return refuse(
            bad_request("the request ended before its body was complete (fewer bytes "
                        "than its Content-Length)"));
      if (is_disconnect(ec)) return close_now();
      return refuse(bad_request(fmt::format("the request body cannot be read: {}", ec.message())));
    }
    request_.body = std::move(parser_->get().body());
    // Kept for the connection's next large body (the writers that send them send many); only a
    // buffer grown beyond the step is given back.
    if (buffer_.capacity() > kBodyStep && buffer_.size() == 0) buffer_.shrink_to_fit();
    run_handler();
  }

  void run_handler() {
    waiting_ = true;
    ++generation_;
    answer_timer_.expires_after(options().idle_timeout);
    answer_timer_.async_wait([self = shared_from_this(), generation = generation_](error_code ec) {
      if (ec || !self->waiting_ || self->generation_ != generation) return;
      // The handler has not answered within the idle timeout: the connection goes, and the
      // late answer (if any) finds it gone.
      spdlog::warn("api: {} {} (request {}) got no answer within {} ms; connection closed",
                   method_name(self->request_.method), self->request_.path, self->request_.id,
                   self->options().idle_timeout.count());
      self->waiting_ = false;
      self->close_now();
    });
    std::weak_ptr<HttpConnection> weak = weak_from_this();
    Responder responder(
        [weak, generation = generation_](Response response) {
          auto self = weak.lock();
          if (!self) return;
          asio::post(self->stream_.get_executor(),
                     [self, generation, response = std::move(response)]() mutable {
                       self->on_answer(generation, std::move(response));
                     });
        },
        request_.path);
    server_->router.invoke(*route_, request_, std::move(responder));
  }

  void on_answer(std::uint64_t generation, Response response) {
    if (!waiting_ || generation != generation_) return;
    waiting_ = false;
    answer_timer_.cancel();
    write(std::move(response), !keep_alive_);
  }

  // A refusal before the body was read: the connection closes after it unless the request had
  // no body.
  void refuse(const Problem& problem) {
    Response r = Response::problem(problem, request_.path.empty() ? "/" : request_.path);
    bool rest_unread = !parser_ || !parser_->is_done();
    write(std::move(r), rest_unread || !keep_alive_);
  }

  void answer_and_close(Response response) { write(std::move(response), true); }

  void write(Response response, bool close) {
    if (handed_over_) return;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(response.status));
    res->set(http::field::server, "strata");
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->insert(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(!close);
    res->prepare_payload();
    server_->count_response(response.status,
                            std::chrono::duration<double>(Clock::now() - started_).count());
    stream_.expires_after(options().idle_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, close](error_code ec, std::size_t) {
                        if (ec) return self->close_now();
                        if (close) return self->drain_and_close();
                        self->read_head();
                      });
  }

  // Half-closes, then reads and discards what the peer still sends (an unread body) for a short
  // while, so the peer reads our answer instead of a reset.
  void drain_and_close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(kDrainTime, options().idle_timeout));
    drain_buffer_.resize(16 * 1024);
    drain_more();
  }

  void drain_more() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kDrainBytes) return self->close_now();
                              self->drain_more();
                            });
  }

  void close_now() {
    if (handed_over_) return;
    waiting_ = false;
    answer_timer_.cancel();
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  std::shared_ptr<HttpServer::State> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  asio::steady_timer answer_timer_;
  std::string remote_;
  std::uint64_t key_ = 0;
  Request request_;
  const Route* route_ = nullptr;
  std::size_t body_limit_ = 0;
  bool keep_alive_ = true;
  bool waiting_ = false;
  bool handed_over_ = false;  // the stream now belongs to a WebSocket session, or is shut down
  std::uint64_t generation_ = 0;
  Clock::time_point started_;
  std::vector<char> drain_buffer_;
  std::size_t drained_ = 0;
};

void accept_next(const std::shared_ptr<HttpServer::State>& state);

void on_accept(const std::shared_ptr<HttpServer::State>& state, error_code ec, tcp::socket socket) {
  if (state->stopped.load()) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // Out of descriptors or a transient network error: wait a little rather than spin.
    spdlog::warn("api: accept on port {} failed: {}; retrying in 100 ms", state->port,
                 ec.message());
    state->accept_retry.expires_after(std::chrono::milliseconds(100));
    state->accept_retry.async_wait([state](error_code wec) {
      if (!wec) accept_next(state);
    });
    return;
  }
  if (state->open.load() >= state->options.max_connections) {
    spdlog::warn("api: {} connections open (max_connections); closing a new one",
                 state->open.load());
    error_code ignored;
    socket.close(ignored);
  } else {
    std::make_shared<HttpConnection>(state, std::move(socket))->start();
  }
  accept_next(state);
}

void accept_next(const std::shared_ptr<HttpServer::State>& state) {
  state->acceptor.async_accept(
      asio::make_strand(state->io),
      [state](error_code ec, tcp::socket socket) { on_accept(state, ec, std::move(socket)); });
}

}  // namespace

HttpServer::State::State(asio::io_context& io_, HttpServerOptions options_, const Router& router_)
    : io(io_),
      options(std::move(options_)),
      router(router_),
      acceptor(asio::make_strand(io_)),
      accept_retry(acceptor.get_executor()) {}

std::uint64_t HttpServer::State::enter(std::weak_ptr<ServerConnection> c) {
  std::uint64_t key = next_id.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(live_mu);
    live.emplace(key, std::move(c));
  }
  open.fetch_add(1);
  if (connections) connections->add(1);
  return key;
}

void HttpServer::State::leave(std::uint64_t key) {
  {
    std::lock_guard lock(live_mu);
    live.erase(key);
  }
  open.fetch_sub(1);
  if (connections) connections->sub(1);
}

void HttpServer::State::count_response(int status, double seconds) {
  int cls = status / 100;
  if (cls >= 1 && cls <= 5 && responses[cls - 1]) responses[cls - 1]->inc();
  if (latency) latency->observe(seconds);
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::io_context& io,
                                                       HttpServerOptions options,
                                                       const Router& router) {
  auto state = std::make_shared<State>(io, std::move(options), router);
  const HttpServerOptions& o = state->options;
  error_code ec;
  auto address = asio::ip::make_address(o.address, ec);
  if (ec)
    return Error::of(errc::bind, fmt::format("HTTP server: '{}' is not an IP address ({}); give "
                                             "one such as 127.0.0.1 or 0.0.0.0",
                                             o.address, ec.message()));
  tcp::endpoint endpoint(address, o.port);
  auto fail = [&](std::string_view step) {
    return Error::of(
        errc::bind,
        fmt::format("HTTP server: cannot {} {}:{}: {}{}", step, o.address, o.port, ec.message(),
                    ec == asio::error::address_in_use
                        ? " (another process listens there; choose another port)"
                        : ""));
  };
  state->acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("set SO_REUSEADDR on");
  state->acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  state->port = state->acceptor.local_endpoint(ec).port();

  if (o.metrics) {
    static constexpr std::array<const char*, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (std::size_t i = 0; i < kClasses.size(); ++i)
      state->responses[i] =
          &o.metrics->counter("strata_http_responses_total",
                              "HTTP responses written, by status class.", {{"class", kClasses[i]}});
    state->latency = &o.metrics->histogram(
        "strata_http_request_duration_seconds",
        "Time from a request's head read to its response written to the socket.");
    state->connections =
        &o.metrics->gauge("strata_http_connections", "Open HTTP and WebSocket connections.");
  }

  accept_next(state);
  if (o.threads > 0) {
    state->guard.emplace(io.get_executor());
    for (unsigned i = 0; i < o.threads; ++i) state->threads.emplace_back([&io] { io.run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const { return state_->port; }

std::size_t HttpServer::connections() const { return state_->open.load(); }

void HttpServer::stop() {
  if (state_->stopped.exchange(true)) return;
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    error_code ignored;
    state->acceptor.close(ignored);
    state->accept_retry.cancel();
  });
  std::vector<std::shared_ptr<ServerConnection>> live;
  {
    std::lock_guard lock(state_->live_mu);
    for (auto& [key, weak] : state_->live)
      if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->shut_down();
  live.clear();
  state_->guard.reset();
  for (auto& t : state_->threads) t.join();
  state_->threads.clear();
}

}  // namespace strata::api

// The server side of a WebSocket session: Beast's websocket::stream behind the WebSocketSession
// interface, with the bounded send queue that keeps a slow peer from costing unbounded memory.
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>

#include "api/server_state.hpp"

namespace strata::api {

namespace {

namespace websocket = boost::beast::websocket;
using boost::system::error_code;

class WebSocketConnection final : public WebSocketSession,
                                  public ServerConnection,
                                  public std::enable_shared_from_this<WebSocketConnection> {
 public:
  WebSocketConnection(std::shared_ptr<HttpServer::State> server, beast::tcp_stream stream,
                      const Route& route, Request request)
      : server_(std::move(server)),
        ws_(std::move(stream)),
        endpoint_(route.websocket),
        limits_(route.websocket_limits),
        request_(std::move(request)),
        caller_(request_.caller),
        remote_(request_.remote_address),
        grace_timer_(ws_.get_executor()) {}

  ~WebSocketConnection() override {
    if (key_ != 0) server_->leave(key_);
  }

  void start(http::request<http::string_body> upgrade) {
    key_ = server_->enter(std::weak_ptr<ServerConnection>(shared_from_this()));
    if (server_->stopped.load()) return shut_down();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = server_->options.idle_timeout;
    timeout.idle_timeout = server_->options.idle_timeout;
    timeout.keep_alive_pings = true;  // an idle but healthy peer answers pings and stays
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "strata"); }));
    ws_.read_message_max(limits_.max_incoming_bytes);
    auto up = std::make_shared<http::request<http::string_body>>(std::move(upgrade));
    ws_.async_accept(*up, [self = shared_from_this(), up](error_code ec) { self->on_accept(ec); });
  }

  // WebSocketSession ------------------------------------------------------------------------

  SendResult send(std::shared_ptr<const std::string> text) override {
    bool start_writer = false;
    {
      std::lock_guard lock(mu_);
      if (closing_) return SendResult::closed;
      if (queue_.size() + 1 > limits_.max_queued_messages ||
          queued_bytes_ + text->size() > limits_.max_queued_bytes) {
        // Too slow: what waits is dropped, the notice goes out next, then the close frame.
        closing_ = true;
        close_code_ = websocket::close_code::policy_error;
        close_reason_ = "subscriber too slow: send queue overflowed";
        queue_.clear();
        queued_bytes_ = 0;
        queue_.push_back(std::make_shared<const std::string>(limits_.overflow_notice));
        start_writer = !writing_;
        writing_ = true;
        schedule_close(start_writer);
        return SendResult::overflowed;
      }
      queued_bytes_ += text->size();
      queue_.push_back(std::move(text));
      start_writer = !writing_;
      writing_ = true;
    }
    if (start_writer)
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->write_next(); });
    return SendResult::queued;
  }

  void close(std::string_view reason) override {
    bool start_writer = false;
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      closing_ = true;
      close_code_ = websocket::close_code::normal;
      close_reason_ = std::string(reason.substr(0, 123));
      start_writer = !writing_;
      writing_ = true;
    }
    schedule_close(start_writer);
  }

  std::size_t queued() const override {
    std::lock_guard lock(mu_);
    return queue_.size();
  }
  const std::optional<Caller>& caller() const override { return caller_; }
  const std::string& remote_address() const override { return remote_; }

  // ServerConnection ------------------------------------------------------------------------

  void shut_down() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      {
        std::lock_guard lock(self->mu_);
        self->closing_ = true;
      }
      self->grace_timer_.cancel();
      error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
  }

 private:
  // After closing_ was set: starts the writer if asked (it sends what is queued, then the close
  // frame), and the timer that ends the socket if the close does not complete in time. Only posts,
  // so it may be called with mu_ held.
  void schedule_close(bool start_writer) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), start_writer] {
      if (start_writer) self->write_next();
      self->grace_timer_.expires_after(self->limits_.close_grace);
      self->grace_timer_.async_wait([self](error_code ec) {
        if (ec) return;
        error_code ignored;
        beast::get_lowest_layer(self->ws_).socket().close(ignored);
      });
    });
  }

  void on_accept(error_code ec) {
    if (ec) {
      spdlog::debug("api: WebSocket handshake with {} failed: {}", remote_, ec.message());
      return;
    }
    auto endpoint = endpoint_.lock();
    if (!endpoint) return shut_down();
    open_ = true;
    endpoint->on_open(shared_from_this(), request_);
    request_.body.clear();
    read_next();
  }

  void read_next() {
    ws_.async_read(read_buffer_,
                   [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec) return finish();
    if (!ws_.got_text()) {
      read_buffer_.consume(read_buffer_.size());
      bool start_writer = false;
      {
        std::lock_guard lock(mu_);
        if (closing_) return read_next();
        closing_ = true;
        close_code_ = websocket::close_code::unknown_data;
        close_reason_ = "binary messages are not read here: send JSON text";
        start_writer = !writing_;
        writing_ = true;
      }
      schedule_close(start_writer);
      return read_next();
    }
    std::string text = beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    if (auto endpoint = endpoint_.lock()) endpoint->on_message(shared_from_this(), text);
    read_next();
  }

  // REQUIRES: on the strand, writing_ set.
  void write_next() {
    std::shared_ptr<const std::string> next;
    bool do_close = false;
    {
      std::lock_guard lock(mu_);
      if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= std::min(queued_bytes_, next->size());
      } else if (closing_ && !close_sent_) {
        close_sent_ = true;
        do_close = true;
      } else {
        writing_ = false;
        return;
      }
    }
    if (do_close) {
      ws_.async_close(websocket::close_reason(close_code_, close_reason_),
                      [self = shared_from_this()](error_code) {
                        std::lock_guard lock(self->mu_);
                        self->writing_ = false;
                      });
      return;
    }
    ws_.text(true);
    ws_.async_write(asio::buffer(*next),
                    [self = shared_from_this(), next](error_code ec, std::size_t) {
                      if (ec) {
                        {
                          std::lock_guard lock(self->mu_);
                          self->closing_ = true;
                          self->writing_ = false;
                          self->queue_.clear();
                        }
                        error_code ignored;
                        beast::get_lowest_layer(self->ws_).socket().close(ignored);
                        return;
                      }
                      self->write_next();
                    });
  }

  void finish() {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    grace_timer_.cancel();
    if (open_) {
      open_ = false;
      if (auto endpoint = endpoint_.lock()) endpoint->on_close(shared_from_this());
    }
  }

  std::shared_ptr<HttpServer::State> server_;
  websocket::stream<beast::tcp_stream> ws_;
  // Weak: the endpoint (a hub) holds its sessions; the route keeps the endpoint alive.
  std::weak_ptr<WebSocketEndpoint> endpoint_;
  WebSocketLimits limits_;
  Request request_;
  std::optional<Caller> caller_;
  std::string remote_;
  asio::steady_timer grace_timer_;
  beast::flat_buffer read_buffer_;
  std::uint64_t key_ = 0;
  bool open_ = false;  // on_open called, on_close not yet (strand only)

  mutable std::mutex mu_;  // guards the members below
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;  // a writer is scheduled or running on the strand
  bool closing_ = false;
  bool close_sent_ = false;
  websocket::close_code close_code_ = websocket::close_code::normal;
  std::string close_reason_;
};

}  // namespace

void start_websocket(std::shared_ptr<HttpServer::State> server, beast::tcp_stream stream,
                     http::request<http::string_body> upgrade, const Route& route,
                     Request request) {
  auto c = std::make_shared<WebSocketConnection>(std::move(server), std::move(stream), route,
                                                 std::move(request));
  c->start(std::move(upgrade));
}

}  // namespace strata::api

#pragma once
// Test doubles of the MQTT endpoint's tests (unit and integration): a TelemetrySink of our own
// interface that records messages and lets the test complete them, a fixed DeviceAuthenticator,
// the endpoint on its own io_context thread, and a raw-socket MQTT client built on our codec.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "ingest/device_auth.hpp"
#include "ingest/mqtt/mqtt_codec.hpp"
#include "ingest/mqtt/mqtt_endpoint.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::ingest::mqtt::mqtt_test {

using namespace std::chrono_literals;

// Records what the endpoint submits; completions run when the test says (or at once, from a
// worker thread of its own, in auto-complete mode). submit() refuses messages of blocked devices.
class RecordingSink : public pipeline::TelemetrySink {
 public:
  struct Entry {
    pipeline::TelemetryMessage message;
    pipeline::Completion done;
  };
  struct Quarantined {
    pipeline::Transport transport;
    std::string device;
    std::string raw;
    std::string reason;
  };

  explicit RecordingSink(bool auto_complete = false) : auto_complete_(auto_complete) {
    if (auto_complete_) worker_ = std::thread([this] { run_worker(); });
  }
  ~RecordingSink() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  bool submit(pipeline::TelemetryMessage& message, pipeline::Completion& done) override {
    std::lock_guard lock(mutex_);
    if (blocked_.count(message.device_id) != 0) {
      ++refused_;
      cv_.notify_all();
      return false;
    }
    entries_.push_back({std::move(message), std::move(done)});
    if (auto_complete_) to_complete_.push_back(entries_.size() - 1);
    cv_.notify_all();
    return true;
  }
  bool submit(pipeline::PointBatch&, pipeline::Completion&) override {
    ADD_FAILURE() << "the MQTT endpoint does not submit point batches";
    return false;
  }
  void quarantine(pipeline::Transport transport, std::string_view device_id, std::string_view raw,
                  std::string_view reason) override {
    std::lock_guard lock(mutex_);
    quarantined_.push_back(
        {transport, std::string(device_id), std::string(raw), std::string(reason)});
    cv_.notify_all();
  }

  void block(const std::string& device, bool blocked) {
    std::lock_guard lock(mutex_);
    if (blocked) {
      blocked_.insert(device);
    } else {
      blocked_.erase(device);
    }
  }
  // Waits until at least n messages were taken (false after the timeout).
  bool wait_messages(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return entries_.size() >= n; });
  }
  bool wait_refused(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return refused_ >= n; });
  }
  bool wait_quarantined(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return quarantined_.size() >= n; });
  }
  // Runs message i's completion on this (the test's) thread, not the endpoint's.
  void complete(std::size_t i) { complete(i, ok_outcome()); }
  void complete(std::size_t i, const pipeline::IngestOutcome& outcome) {
    pipeline::Completion done;
    {
      std::lock_guard lock(mutex_);
      done = std::move(entries_.at(i).done);
    }
    ASSERT_TRUE(done) << "message " << i << " completed twice";
    done(outcome);
  }
  static pipeline::IngestOutcome ok_outcome(std::size_t stored = 1) {
    pipeline::IngestOutcome o;
    o.stored = stored;
    return o;
  }
  std::vector<pipeline::TelemetryMessage> messages() {
    std::lock_guard lock(mutex_);
    std::vector<pipeline::TelemetryMessage> out;
    for (const auto& e : entries_) out.push_back(e.message);
    return out;
  }
  std::size_t message_count() {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }
  std::size_t refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }
  std::vector<Quarantined> quarantined() {
    std::lock_guard lock(mutex_);
    return quarantined_;
  }

 private:
  void run_worker() {
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !to_complete_.empty(); });
      if (stopping_) return;
      const std::size_t i = to_complete_.front();
      to_complete_.pop_front();
      auto done = std::move(entries_[i].done);
      lock.unlock();
      done(ok_outcome(1));
      lock.lock();
    }
  }

  const bool auto_complete_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
  std::vector<Quarantined> quarantined_;
  std::set<std::string> blocked_;
  std::size_t refused_ = 0;
  std::deque<std::size_t> to_complete_;
  bool stopping_ = false;
  std::thread worker_;
};

// Devices d1 and d2 with tokens "tok-d1"/"tok-d2" and secrets "secret-d1"/"secret-d2"; the edge
// node "edge1" with token "tok-edge1".
class FixedAuthenticator : public DeviceAuthenticator {
 public:
  std::optional<DeviceIdentity> by_token(std::string_view token) const override {
    if (token == "tok-d1") return DeviceIdentity{"d1"};
    if (token == "tok-d2") return DeviceIdentity{"d2"};
    if (token == "tok-edge1") return DeviceIdentity{"edge1"};
    return std::nullopt;
  }
  std::optional<DeviceIdentity> by_secret(std::string_view id,
                                          std::string_view secret) const override {
    if ((id == "d1" || id == "d2") && secret == "secret-" + std::string(id)) {
      return DeviceIdentity{std::string(id)};
    }
    return std::nullopt;
  }
};

// The endpoint on 127.0.0.1, port 0, run by one io_context thread.
class EndpointHarness {
 public:
  explicit EndpointHarness(RecordingSink& sink, MqttEndpointOptions options = {},
                           Timestamp clock_start = 1'700'000'000'000'000)
      : clock(clock_start), work_(boost::asio::make_work_guard(io_)) {
    options.bind_address = "127.0.0.1";
    options.port = 0;
    auto created = MqttEndpoint::create(io_, std::move(options), sink, auth, clock);
    if (!created.ok()) throw std::runtime_error(created.error().message);
    endpoint = std::move(created).value();
  }
  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EndpointHarness() {
    endpoint->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    endpoint.reset();
  }
  // Waits for a condition on the endpoint's stats (no sleeping for synchronisation: polls).
  template <class Pred>
  bool wait_stats(Pred pred, std::chrono::milliseconds timeout = 10s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (pred(endpoint->stats())) return true;
      std::this_thread::sleep_for(2ms);
    }
    return pred(endpoint->stats());
  }

  FixedAuthenticator auth;
  SimulatedClock clock;
  std::unique_ptr<MqttEndpoint> endpoint;

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

// A minimal MQTT client on a blocking POSIX socket, speaking through our codec: it lets a test
// send exactly the packets it means (including wrong ones) and see exactly what comes back.
class RawClient {
 public:
  enum class Status { packet, timeout, closed };

  RawClient(std::uint16_t port, Version version) : version_(version) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(const Packet& p) {
    std::vector<std::uint8_t> bytes;
    ASSERT_TRUE(encode(p, version_, bytes).ok());
    send_bytes(bytes);
  }
  void send_bytes(const std::vector<std::uint8_t>& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  // The next packet, or nullopt on timeout / close (see status()).
  std::optional<Packet> receive(std::chrono::milliseconds timeout = 10s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto frame = next_frame(buffer_, 1 << 24);
      if (!frame.ok()) {
        ADD_FAILURE() << "server sent a bad frame: " << frame.error().message;
        status_ = Status::closed;
        return std::nullopt;
      }
      if (frame->has_value()) {
        auto packet = decode(**frame, version_);
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>((*frame)->size));
        if (!packet.ok()) {
          ADD_FAILURE() << "server sent a bad packet: " << packet.error().message;
          status_ = Status::closed;
          return std::nullopt;
        }
        status_ = Status::packet;
        return std::move(*packet);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        status_ = Status::timeout;
        return std::nullopt;
      }
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      std::uint8_t chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        status_ = Status::closed;
        return std::nullopt;
      }
      buffer_.insert(buffer_.end(), chunk, chunk + n);
    }
  }
  template <class T>
  std::optional<T> receive_as(std::chrono::milliseconds timeout = 10s) {
    auto p = receive(timeout);
    if (!p) return std::nullopt;
    if (!std::holds_alternative<T>(*p)) {
      ADD_FAILURE() << "expected another packet than " << packet_name(type_of(*p));
      return std::nullopt;
    }
    return std::get<T>(std::move(*p));
  }
  // True when the server closes the connection (packets before the close are discarded).
  bool wait_closed(std::chrono::milliseconds timeout = 10s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      receive(std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now()));
      if (status_ == Status::closed) return true;
    }
    return false;
  }
  [[nodiscard]] Status status() const { return status_; }

  // CONNECT with a token; returns the CONNACK.
  std::optional<Connack> connect(std::string client_id, std::optional<std::string> user,
                                 std::optional<std::string> password = std::nullopt,
                                 bool clean = true, std::uint16_t keep_alive = 60,
                                 std::optional<Will> will = std::nullopt,
                                 Properties properties = {}) {
    Connect c;
    c.version = version_;
    c.client_id = std::move(client_id);
    c.username = std::move(user);
    c.password = std::move(password);
    c.clean_start = clean;
    c.keep_alive = keep_alive;
    c.will = std::move(will);
    c.properties = std::move(properties);
    send(c);
    return receive_as<Connack>();
  }

 private:
  int fd_ = -1;
  Version version_;
  std::vector<std::uint8_t> buffer_;
  Status status_ = Status::timeout;
};

inline Publish telemetry(std::string topic, std::string payload, std::uint8_t qos,
                         std::uint16_t id) {
  Publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = qos;
  p.packet_id = id;
  return p;
}

}  // namespace strata::ingest::mqtt::mqtt_test

#include "bench/load/mqtt_load.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/peers/peer.hpp"
#include "ingest/mqtt/mqtt_codec.hpp"

namespace strata::bench {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
namespace mqtt = ingest::mqtt;

namespace {

constexpr std::size_t kMaxPacket = 16u << 20;

// Bytes read from a socket and not yet framed.
struct ReadBuffer {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(4096);
  std::size_t used = 0;
  asio::mutable_buffer space() {
    if (bytes.size() - used < 2048) bytes.resize(bytes.size() * 2);
    return asio::buffer(bytes.data() + used, bytes.size() - used);
  }
  void consume(std::size_t n) {
    std::memmove(bytes.data(), bytes.data() + n, used - n);
    used -= n;
  }
};

// Frames and decodes what the buffer holds, calling f(packet) for each; an error ends it.
template <class F>
Status for_each_packet(ReadBuffer& rb, F&& f) {
  while (true) {
    auto frame = mqtt::next_frame({rb.bytes.data(), rb.used}, kMaxPacket);
    if (!frame) return frame.error();
    if (!*frame) return {};
    auto packet = mqtt::decode(**frame, mqtt::Version::v311);
    const std::size_t size = (*frame)->size;
    if (!packet) return packet.error();
    if (auto st = f(*packet); !st) return st;
    rb.consume(size);
  }
}

std::string connack_text(std::uint8_t code) {
  switch (code) {
    case mqtt::reason::v311_bad_username_or_password:
      return "bad user name or password";
    case mqtt::reason::v311_not_authorized:
      return "not authorised";
    case mqtt::reason::v311_server_unavailable:
      return "server unavailable";
    default:
      return "return code " + std::to_string(code);
  }
}

struct Connection {
  Connection(asio::io_context& io, std::size_t i) : socket(io), timer(io), index(i) {}
  tcp::socket socket;
  asio::steady_timer timer;
  std::size_t index;
  ReadBuffer rb;
  std::vector<std::uint8_t> pending, busy;
  bool writing = false;
  bool connected = false;
  bool closed = false;
  unsigned in_flight = 0;
  std::uint64_t seq = 0;
  std::uint64_t acked = 0;
  std::uint16_t next_id = 1;
  Clock::time_point next_tick;
  std::vector<std::pair<std::uint16_t, Clock::time_point>> sent_at;
};

class PublisherRun {
 public:
  explicit PublisherRun(const MqttLoadOptions& o)
      : o_(o), phase_timer_(io_), drain_timer_(io_), run_timer_(io_) {}

  Result<MqttLoadResult> run() {
    if (o_.usernames.size() != o_.topics.size() || o_.usernames.empty() || !o_.payload)
      return Error::of(PeerErrc::bad_argument,
                       "MQTT load: usernames and topics must be non-empty and of equal size, and "
                       "a payload function is required");
    endpoint_ = tcp::endpoint(asio::ip::make_address(o_.host), o_.port);
    for (std::size_t i = 0; i < o_.usernames.size(); ++i)
      conns_.push_back(std::make_unique<Connection>(io_, i));
    result_.acked_per_connection.assign(conns_.size(), 0);
    if (o_.record_latency) result_.latencies_ms.reserve(1 << 20);
    t_start_ = Clock::now();
    run_timer_.expires_after(o_.run_timeout);
    run_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || phase_ == Phase::done) return;
      fail("MQTT load: the run took longer than " + std::to_string(o_.run_timeout.count()) +
           " ms: " + std::to_string(connected_) + " of " + std::to_string(conns_.size()) +
           " connections up, " + std::to_string(total_in_flight_) + " messages unacknowledged");
    });
    start_connects();
    io_.run();
    result_.sent_per_connection.assign(conns_.size(), 0);
    for (auto& c : conns_) {
      result_.acked_per_connection[c->index] = c->acked;
      result_.sent_per_connection[c->index] = c->seq;
    }
    result_.unacked_at_end = total_in_flight_;
    if (error_) return *error_;
    return std::move(result_);
  }

 private:
  enum class Phase { connecting, warmup, window, draining, done };

  void fail(std::string message) {
    if (!error_) error_ = Error::of(PeerErrc::transport, std::move(message));
    finish();
  }

  void finish() {
    if (phase_ == Phase::done) return;
    phase_ = Phase::done;
    phase_timer_.cancel();
    drain_timer_.cancel();
    run_timer_.cancel();
    for (auto& c : conns_) {
      c->closed = true;
      boost::system::error_code ec;
      c->timer.cancel();
      c->socket.close(ec);
    }
  }

  void start_connects() {
    while (connecting_ < o_.max_concurrent_connects && next_connect_ < conns_.size()) {
      Connection& c = *conns_[next_connect_++];
      ++connecting_;
      c.socket.async_connect(endpoint_, [this, &c](boost::system::error_code ec) {
        if (phase_ == Phase::done) return;
        if (ec)
          return fail("MQTT load: connection " + std::to_string(c.index) + " to " + o_.host + ":" +
                      std::to_string(o_.port) + ": " + ec.message());
        c.socket.set_option(tcp::no_delay(true));
        mqtt::Connect connect;
        connect.version = mqtt::Version::v311;
        connect.clean_start = true;
        connect.keep_alive = 0;
        connect.client_id = "bench-" + std::to_string(c.index);
        if (!o_.usernames[c.index].empty()) connect.username = o_.usernames[c.index];
        (void)mqtt::encode(connect, mqtt::Version::v311, c.pending);
        flush(c);
        read(c);
      });
    }
  }

  void read(Connection& c) {
    c.socket.async_read_some(c.rb.space(), [this, &c](boost::system::error_code ec, std::size_t n) {
      if (c.closed || phase_ == Phase::done) return;
      if (ec)
        return fail("MQTT load: connection " + std::to_string(c.index) + " lost: " + ec.message() +
                    " (" + std::to_string(c.in_flight) + " in flight)");
      c.rb.used += n;
      auto st = for_each_packet(c.rb, [&](const mqtt::Packet& p) { return on_packet(c, p); });
      if (!st)
        return fail("MQTT load: connection " + std::to_string(c.index) + ": " + st.error().message);
      if (phase_ != Phase::done) read(c);
    });
  }

  Status on_packet(Connection& c, const mqtt::Packet& p) {
    if (const auto* ack = std::get_if<mqtt::Connack>(&p)) {
      if (ack->reason_code != 0)
        return Error::of(PeerErrc::http_status,
                         "CONNACK refused: " + connack_text(ack->reason_code));
      c.connected = true;
      --connecting_;
      ++connected_;
      start_connects();
      if (connected_ == conns_.size()) all_connected();
      return {};
    }
    if (const auto* ack = std::get_if<mqtt::PubAck>(&p)) {
      const auto now = Clock::now();
      auto it = std::find_if(c.sent_at.begin(), c.sent_at.end(),
                             [&](const auto& e) { return e.first == ack->packet_id; });
      if (it == c.sent_at.end())
        return Error::of(PeerErrc::bad_response,
                         "PUBACK for packet id " + std::to_string(ack->packet_id) + " not sent");
      if (ack->reason_code >= 0x80)
        return Error::of(PeerErrc::http_status,
                         "PUBACK refused, reason " + std::to_string(ack->reason_code));
      const auto sent = it->second;
      *it = c.sent_at.back();
      c.sent_at.pop_back();
      --c.in_flight;
      --total_in_flight_;
      ++c.acked;
      ++result_.acked;
      if (now >= window_start_ && now <= window_end_) ++result_.acked_in_window;
      if (o_.record_latency && sent >= window_start_ && sent <= window_end_)
        result_.latencies_ms.push_back(
            std::chrono::duration<float, std::milli>(now - sent).count());
      if (o_.max_messages_per_connection > 0 && c.acked == o_.max_messages_per_connection &&
          ++finished_ == conns_.size()) {
        window_end_ = now;
        result_.window_seconds = std::chrono::duration<double>(now - window_start_).count();
        if (o_.on_phase) o_.on_phase(MqttLoadOptions::kAllAcked);
        finish();
        return {};
      }
      if (phase_ == Phase::draining && total_in_flight_ == 0) {
        finish();
        return {};
      }
      if (o_.rate <= 0) publish_more(c);
      return {};
    }
    if (std::holds_alternative<mqtt::PingResp>(p)) return {};
    return Error::of(PeerErrc::bad_response,
                     "unexpected " + std::string(mqtt::packet_name(mqtt::type_of(p))));
  }

  void all_connected() {
    const auto now = Clock::now();
    result_.connect_seconds = std::chrono::duration<double>(now - t_start_).count();
    if (o_.on_phase) o_.on_phase(MqttLoadOptions::kConnected);
    if (o_.max_messages_per_connection > 0) {
      phase_ = Phase::window;
      window_start_ = Clock::now();
      window_end_ = Clock::time_point::max();
    } else {
      phase_ = Phase::warmup;
      window_start_ = Clock::time_point::max();
      window_end_ = Clock::time_point::max();
      phase_timer_.expires_after(o_.warmup);
      phase_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || phase_ == Phase::done) return;
        phase_ = Phase::window;
        if (o_.on_phase) o_.on_phase(MqttLoadOptions::kWindowOpens);
        window_start_ = Clock::now();
        phase_timer_.expires_after(o_.duration);
        phase_timer_.async_wait([this](boost::system::error_code ec2) {
          if (ec2 || phase_ == Phase::done) return;
          window_end_ = Clock::now();
          result_.window_seconds =
              std::chrono::duration<double>(window_end_ - window_start_).count();
          if (o_.on_phase) o_.on_phase(MqttLoadOptions::kWindowCloses);
          phase_ = Phase::draining;
          if (total_in_flight_ == 0) return finish();
          drain_timer_.expires_after(o_.drain_timeout);
          drain_timer_.async_wait([this](boost::system::error_code ec3) {
            if (!ec3) finish();
          });
        });
      });
    }
    const double interval_s = o_.rate > 0 ? static_cast<double>(conns_.size()) / o_.rate : 0;
    for (auto& c : conns_) {
      if (o_.rate > 0) {
        // Spread the first ticks over one interval so the connections do not publish in step.
        const auto offset = std::chrono::duration<double>(
            interval_s * static_cast<double>(c->index) / static_cast<double>(conns_.size()));
        c->next_tick = now + std::chrono::duration_cast<Clock::duration>(offset);
        tick(*c, std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(interval_s)));
      } else {
        publish_more(*c);
      }
    }
  }

  void tick(Connection& c, Clock::duration interval) {
    c.timer.expires_at(c.next_tick);
    c.timer.async_wait([this, &c, interval](boost::system::error_code ec) {
      if (ec || c.closed || phase_ == Phase::done) return;
      if (c.in_flight < o_.in_flight && may_publish(c)) publish(c);
      c.next_tick = std::max(c.next_tick + interval, Clock::now() - interval);
      flush(c);
      if (may_publish(c)) tick(c, interval);
    });
  }

  bool may_publish(const Connection& c) const {
    if (phase_ != Phase::warmup && phase_ != Phase::window) return false;
    return o_.max_messages_per_connection == 0 || c.seq < o_.max_messages_per_connection;
  }

  void publish_more(Connection& c) {
    while (c.in_flight < o_.in_flight && may_publish(c)) publish(c);
    flush(c);
  }

  void publish(Connection& c) {
    mqtt::Publish p;
    p.qos = 1;
    p.topic = o_.topics[c.index];
    p.packet_id = c.next_id;
    c.next_id = c.next_id == 65535 ? 1 : c.next_id + 1;
    p.payload = o_.payload(c.index, c.seq++);
    (void)mqtt::encode(p, mqtt::Version::v311, c.pending);
    c.sent_at.emplace_back(p.packet_id, Clock::now());
    ++c.in_flight;
    ++total_in_flight_;
    ++result_.sent;
  }

  void flush(Connection& c) {
    if (c.writing || c.pending.empty() || c.closed) return;
    c.writing = true;
    std::swap(c.pending, c.busy);
    asio::async_write(c.socket, asio::buffer(c.busy),
                      [this, &c](boost::system::error_code ec, std::size_t) {
                        c.writing = false;
                        c.busy.clear();
                        if (c.closed || phase_ == Phase::done) return;
                        if (ec)
                          return fail("MQTT load: connection " + std::to_string(c.index) +
                                      " write: " + ec.message());
                        flush(c);
                      });
  }

  const MqttLoadOptions& o_;
  asio::io_context io_{1};
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<Connection>> conns_;
  asio::steady_timer phase_timer_, drain_timer_, run_timer_;
  Phase phase_ = Phase::connecting;
  std::size_t next_connect_ = 0, connecting_ = 0, connected_ = 0, finished_ = 0;
  std::uint64_t total_in_flight_ = 0;
  Clock::time_point t_start_, window_start_ = Clock::time_point::max(),
                              window_end_ = Clock::time_point::max();
  MqttLoadResult result_;
  std::optional<Error> error_;
};

// Blocking: reads until one whole packet is buffered, decodes it.
Result<mqtt::Packet> read_packet(tcp::socket& s, ReadBuffer& rb) {
  while (true) {
    auto frame = mqtt::next_frame({rb.bytes.data(), rb.used}, kMaxPacket);
    if (!frame) return frame.error();
    if (*frame) {
      auto packet = mqtt::decode(**frame, mqtt::Version::v311);
      rb.consume((*frame)->size);
      return packet;
    }
    boost::system::error_code ec;
    const std::size_t n = s.read_some(rb.space(), ec);
    if (ec) return Error::of(PeerErrc::transport, "read: " + ec.message());
    rb.used += n;
  }
}

}  // namespace

Result<MqttLoadResult> run_mqtt_publishers(const MqttLoadOptions& options) {
  PublisherRun run(options);
  return run.run();
}

struct MqttCountingSubscriber::State {
  asio::io_context io{1};
  tcp::socket socket{io};
  ReadBuffer rb;
  std::vector<std::uint8_t> pending, busy;
  bool writing = false;
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> stopping{false};
  std::thread thread;

  void flush() {
    if (writing || pending.empty()) return;
    writing = true;
    std::swap(pending, busy);
    asio::async_write(socket, asio::buffer(busy),
                      [this](boost::system::error_code ec, std::size_t) {
                        writing = false;
                        busy.clear();
                        if (!ec) flush();
                      });
  }
  void read() {
    socket.async_read_some(rb.space(), [this](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      rb.used += n;
      std::uint64_t got = 0;
      auto st = for_each_packet(rb, [&](const mqtt::Packet& p) -> Status {
        if (const auto* pub = std::get_if<mqtt::Publish>(&p)) {
          ++got;
          if (pub->qos == 1) {
            mqtt::PubAck ack;
            ack.packet_id = pub->packet_id;
            (void)mqtt::encode(ack, mqtt::Version::v311, pending);
          }
        }
        return {};
      });
      received.fetch_add(got, std::memory_order_relaxed);
      flush();
      if (st) read();
    });
  }
};

Result<std::unique_ptr<MqttCountingSubscriber>> MqttCountingSubscriber::start(
    const std::string& host, std::uint16_t port, const std::string& filter,
    const std::string& client_id) {
  auto state = std::make_unique<State>();
  boost::system::error_code ec;
  state->socket.connect(tcp::endpoint(asio::ip::make_address(host), port), ec);
  if (ec)
    return Error::of(PeerErrc::transport, "MQTT subscriber: connect to " + host + ":" +
                                              std::to_string(port) + ": " + ec.message());
  state->socket.set_option(tcp::no_delay(true));
  std::vector<std::uint8_t> out;
  mqtt::Connect connect;
  connect.version = mqtt::Version::v311;
  connect.client_id = client_id;
  connect.keep_alive = 0;
  mqtt::Subscribe sub;
  sub.packet_id = 1;
  sub.subscriptions.push_back({.filter = filter, .qos = 1});
  (void)mqtt::encode(connect, mqtt::Version::v311, out);
  (void)mqtt::encode(sub, mqtt::Version::v311, out);
  asio::write(state->socket, asio::buffer(out), ec);
  if (ec) return Error::of(PeerErrc::transport, "MQTT subscriber: write: " + ec.message());
  for (int answers = 0; answers < 2;) {
    auto p = read_packet(state->socket, state->rb);
    if (!p) return Error::of(PeerErrc::transport, "MQTT subscriber: " + p.error().message);
    if (const auto* ack = std::get_if<mqtt::Connack>(&*p)) {
      if (ack->reason_code != 0)
        return Error::of(PeerErrc::http_status,
                         "MQTT subscriber: CONNACK refused: " + connack_text(ack->reason_code));
      ++answers;
    } else if (const auto* sa = std::get_if<mqtt::Suback>(&*p)) {
      if (sa->reason_codes.empty() || sa->reason_codes[0] != 1)
        return Error::of(PeerErrc::http_status,
                         "MQTT subscriber: '" + filter + "' was not granted QoS 1");
      ++answers;
    }
  }
  State* s = state.get();
  s->read();
  s->thread = std::thread([s] { s->io.run(); });
  return std::unique_ptr<MqttCountingSubscriber>(new MqttCountingSubscriber(std::move(state)));
}

MqttCountingSubscriber::MqttCountingSubscriber(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

MqttCountingSubscriber::~MqttCountingSubscriber() {
  State* s = state_.get();
  asio::post(s->io, [s] {
    std::vector<std::uint8_t> bye;
    (void)mqtt::encode(mqtt::Disconnect{}, mqtt::Version::v311, bye);
    boost::system::error_code ec;
    asio::write(s->socket, asio::buffer(bye), ec);
    s->socket.close(ec);
  });
  if (s->thread.joinable()) s->thread.join();
}

std::uint64_t MqttCountingSubscriber::received() const {
  return state_->received.load(std::memory_order_relaxed);
}

std::uint64_t MqttCountingSubscriber::wait_for(std::uint64_t count,
                                               std::chrono::milliseconds timeout) const {
  const auto end = Clock::now() + timeout;
  while (received() < count && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return received();
}

}  // namespace strata::bench

#include "ingest/mqtt/mqtt_endpoint.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/container/deque.hpp>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ingest/json_telemetry.hpp"
#include "ingest/mqtt/mqtt_codec.hpp"

namespace strata::ingest::mqtt {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

enum class endpoint_errc { bind = 1, bad_command, no_subscriber, queue_full, bad_topic };

std::vector<std::string_view> levels_of(std::string_view topic) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(topic.substr(start));
      return out;
    }
    out.push_back(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

// Whether every topic `filter` can match is matched by `pattern` (both filters): the filter may
// narrow a '+' of the pattern to a name, never widen a name to a wildcard.
bool filter_within(std::string_view filter, std::string_view pattern) {
  const auto f = levels_of(filter);
  const auto p = levels_of(pattern);
  if (f.size() != p.size()) return false;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (p[i] == "+") {
      if (f[i] == "#") return false;
      continue;
    }
    if (f[i] != p[i]) return false;
  }
  return true;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xF];
      out += kHex[c & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// What a device may do with a topic it publishes to.
enum class TopicKind { forbidden, telemetry, rpc_response, command_response, sparkplug };

struct Classified {
  TopicKind kind = TopicKind::forbidden;
  std::string id;  // the RPC request id or the command id of a response
};

}  // namespace

// A message on its way to a client, kept by its session until PUBACKed.
struct Outgoing {
  std::string topic;
  std::shared_ptr<const std::string> payload;
  std::uint8_t qos = 1;
  bool retain = false;
  bool is_command = false;
  std::uint16_t packet_id = 0;
  bool sent_before = false;  // redelivery: DUP
};

struct SessionSubscription {
  std::string filter;
  std::uint8_t qos = 0;
};

class Connection;

// A will's readings on their way into the pipeline after the connection has gone: retried on a
// timer of its own while the pipeline pushes back, so nothing is dropped.
struct WillSubmission : std::enable_shared_from_this<WillSubmission> {
  WillSubmission(std::shared_ptr<MqttEndpoint::State> s, const asio::any_io_executor& ex)
      : state(std::move(s)), timer(ex) {}
  void attempt();

  std::shared_ptr<MqttEndpoint::State> state;
  asio::steady_timer timer;
  pipeline::TelemetryMessage message;
  pipeline::Completion done = [](const pipeline::IngestOutcome&) {};
};

// What survives a connection: subscriptions and QoS 1 messages to the client. Every field is
// GUARDED_BY(State::mutex).
struct Session {
  std::string device_id;
  std::string client_id;
  Version version = Version::v5;
  bool persistent = false;
  std::uint32_t expiry_s = 0;
  SteadyClock::time_point offline_since{};
  std::vector<SessionSubscription> subscriptions;
  // boost's deque allocates nothing while empty (std::deque allocates a 512-byte block at once):
  // most of 10,000 sessions hold no message most of the time.
  boost::container::deque<Outgoing> queue;     // not sent yet
  boost::container::deque<Outgoing> inflight;  // sent, awaiting PUBACK
  std::uint16_t next_packet_id = 1;
  std::uint16_t client_receive_maximum = 65535;
  std::uint32_t client_max_packet = kMaxRemainingLength;
  std::weak_ptr<Connection> connection;

  [[nodiscard]] std::size_t pending() const { return queue.size() + inflight.size(); }
  [[nodiscard]] const SessionSubscription* match(std::string_view topic) const {
    const SessionSubscription* best = nullptr;
    for (const auto& s : subscriptions) {
      if (topic_matches(s.filter, topic) && (best == nullptr || s.qos > best->qos)) best = &s;
    }
    return best;
  }
};

struct MqttEndpoint::State : std::enable_shared_from_this<MqttEndpoint::State> {
  State(asio::io_context& io_, MqttEndpointOptions options_, pipeline::TelemetrySink& sink_,
        const DeviceAuthenticator& auth_, const Clock& clock_)
      : io(io_),
        options(std::move(options_)),
        sink(sink_),
        auth(auth_),
        clock(clock_),
        acceptor(asio::make_strand(io_)) {}

  void accept();
  void refuse(std::string_view who, std::string_view why) {
    if (refusal_handler) refusal_handler(who, why);
  }
  // Drops persistent sessions offline past their expiry; a scan at most every 100 ms (it visits
  // every session, and 10,000 devices connecting at once would make that quadratic).
  // REQUIRES: mutex held.
  void expire_sessions_locked();
  SteadyClock::time_point next_expiry_scan;            // GUARDED_BY(mutex)
  void wake(const std::shared_ptr<Session>& session);  // REQUIRES: mutex held

  asio::io_context& io;
  const MqttEndpointOptions options;
  pipeline::TelemetrySink& sink;
  const DeviceAuthenticator& auth;
  const Clock& clock;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;

  SparkplugHandler sparkplug_handler;
  std::function<void(const CommandResponse&)> response_handler;
  std::function<void(const DeviceWill&)> will_handler;
  std::function<void(std::string_view, std::string_view)> refusal_handler;

  std::mutex mutex;
  bool stopped = false;                                      // GUARDED_BY(mutex)
  std::map<std::string, std::shared_ptr<Session>> sessions;  // GUARDED_BY(mutex)
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;     // GUARDED_BY
  std::map<std::string, std::shared_ptr<const std::string>, std::less<>> retained;  // GUARDED_BY
  std::map<std::pair<std::string, std::uint32_t>, std::string> rpc_commands;        // GUARDED_BY
  std::deque<std::pair<std::string, std::uint32_t>> rpc_order;                      // GUARDED_BY
  std::unordered_map<std::string, std::uint32_t> next_rpc_id;                       // GUARDED_BY
  std::uint64_t next_command = 0;                                                   // GUARDED_BY
  std::uint64_t next_client = 0;                                                    // GUARDED_BY

  struct Counters {
    std::atomic<std::uint64_t> connections_accepted{0}, connections_active{0}, connects_refused{0},
        messages_received{0}, messages_acknowledged{0}, bytes_received{0}, bytes_sent{0},
        publishes_refused{0}, subscriptions_refused{0}, protocol_errors{0}, payloads_quarantined{0},
        backpressure_pauses{0}, keep_alive_timeouts{0}, wills_published{0}, commands_sent{0},
        commands_redelivered{0};
  } counters;
};

namespace {
std::string session_key(std::string_view device, std::string_view client) {
  std::string key(device);
  key += '\0';
  key += client;
  return key;
}

// One JSON parser an I/O thread, not one a connection: a simdjson parser holds about 8 KiB, which
// 10,000 mostly idle connections would multiply.
JsonTelemetryDecoder& json_decoder() {
  thread_local JsonTelemetryDecoder decoder;
  return decoder;
}
}  // namespace

// One TCP connection. Everything below runs on the connection's strand unless it says otherwise.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<MqttEndpoint::State> state, tcp::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        retry_timer_(socket_.get_executor()) {
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    peer_ =
        ec ? "unknown peer" : remote.address().to_string() + ":" + std::to_string(remote.port());
  }

  void start(bool over_limit) {
    over_limit_ = over_limit;
    last_activity_ = SteadyClock::now();
    arm_timer(SteadyClock::now() + state_->options.connect_timeout);
    read();
  }

  // From any thread.
  void post(std::function<void(Connection&)> fn) {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), fn = std::move(fn)] { fn(*self); });
  }

  void shutdown(std::uint8_t v5_reason) {
    if (closed_) return;
    if (connected_ && version_ == Version::v5) {
      Disconnect d;
      d.reason_code = v5_reason;
      send(d);
    }
    close_after_flush(false);
  }

  // Sends queued messages of the session up to the in-flight limit.
  void pump();
  void redeliver();

 private:
  MqttEndpoint::State& S() { return *state_; }
  const MqttEndpointOptions& O() const { return state_->options; }
  std::string who() const { return client_id_.empty() ? peer_ : device_id_ + "/" + client_id_; }

  void arm_timer(SteadyClock::time_point at) {
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->on_timer();
    });
  }

  void on_timer() {
    if (closed_) return;
    const auto now = SteadyClock::now();
    if (!connected_) {
      S().refuse(who(), "no CONNECT within the connect timeout; connection closed");
      close(false);
      return;
    }
    // Not reading by our own choice (back-pressure) is not the client's silence.
    if (paused_ || waiting_acks_) last_activity_ = now;
    const auto limit = std::chrono::milliseconds(std::uint64_t{keep_alive_s_} * 1500);
    if (now - last_activity_ >= limit) {
      S().counters.keep_alive_timeouts++;
      S().refuse(who(),
                 "no packet within 1.5 x keep-alive (" + std::to_string(keep_alive_s_) +
                     " s); connection closed [MQTT-3.1.2-24 in 3.1.1, MQTT-3.1.2-22 in 5.0]");
      if (version_ == Version::v5) {
        Disconnect d;
        d.reason_code = reason::keep_alive_timeout;
        send(d);
      }
      close_after_flush(true);
      return;
    }
    arm_timer(last_activity_ + limit);
  }

  // Waits until the socket is readable, then reads what is there into a per-thread scratch
  // buffer and appends it to in_: a connection holds only the bytes of a packet not yet whole
  // (nothing at all when idle), and no read zero-fills a buffer first.
  void read() {
    if (closed_ || closing_ || reading_ || paused_ || waiting_acks_) return;
    reading_ = true;
    compact();
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         self->reading_ = false;
                         if (ec) {
                           self->close(true);
                           return;
                         }
                         thread_local std::array<std::uint8_t, 65536> scratch;
                         boost::system::error_code rec;
                         self->socket_.non_blocking(true, rec);
                         const std::size_t n =
                             rec ? 0 : self->socket_.read_some(asio::buffer(scratch), rec);
                         if (rec == asio::error::would_block || rec == asio::error::try_again) {
                           self->read();
                           return;
                         }
                         if (rec) {
                           self->close(true);
                           return;
                         }
                         self->in_.insert(self->in_.end(), scratch.data(), scratch.data() + n);
                         self->S().counters.bytes_received += n;
                         self->last_activity_ = SteadyClock::now();
                         self->process();
                       });
  }

  void compact() {
    if (in_begin_ == in_.size()) {
      in_.clear();
      // A large packet grew the buffer: give the memory back once it is consumed.
      if (in_.capacity() > 16384) in_.shrink_to_fit();
    } else if (in_begin_ != 0) {
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_begin_));
    }
    in_begin_ = 0;
  }

  void process() {
    while (!closed_ && !closing_ && !paused_) {
      if (acks_.size() >= O().receive_maximum) {
        waiting_acks_ = true;
        return;
      }
      const std::span<const std::uint8_t> pending(in_.data() + in_begin_, in_.size() - in_begin_);
      auto frame = next_frame(pending, O().max_packet_size);
      if (!frame.ok()) {
        protocol_failure(frame.error());
        return;
      }
      if (!frame->has_value()) break;
      const Frame f = **frame;
      auto packet = decode(f, version_);
      in_begin_ += f.size;
      if (!packet.ok()) {
        protocol_failure(packet.error());
        return;
      }
      handle(std::move(*packet));
    }
    read();
  }

  void protocol_failure(const Error& e) {
    S().counters.protocol_errors++;
    S().refuse(who(), e.message);
    if (!connected_) {
      // A refused CONNECT: 3.1.1 answers an unknown level with return code 1 [MQTT-3.1.2-2];
      // 5.0 answers with a CONNACK reason code; other 3.1.1 errors just close.
      const bool v5 = peek_v5();
      if (e.is(errc::unsupported_protocol_version)) {
        version_ = Version::v311;
        send(Connack{false, reason::v311_unacceptable_protocol_version, {}});
      } else if (v5) {
        version_ = Version::v5;
        Connack c;
        c.reason_code = reason_code_for(static_cast<errc>(e.code));
        send(c);
      } else if (e.is(errc::client_identifier_not_valid)) {
        version_ = Version::v311;
        send(Connack{false, reason::v311_identifier_rejected, {}});
      }
      S().counters.connects_refused++;
      close_after_flush(false);
      return;
    }
    if (version_ == Version::v5) {
      Disconnect d;
      d.reason_code = reason_code_for(static_cast<errc>(e.code));
      d.properties.reason_string = e.message.substr(0, 512);
      send(d);
    }
    close_after_flush(true);
  }

  // Whether the bytes of a CONNECT being refused say protocol level 5.
  bool peek_v5() const {
    // fixed header (2..5 bytes), then 00 04 'M' 'Q' 'T' 'T' level
    for (std::size_t h = 2; h <= 5 && h + 7 <= in_.size(); ++h) {
      if (in_[h] == 0 && in_[h + 1] == 4 && in_[h + 2] == 'M' && in_[h + 6] == 5) return true;
    }
    return false;
  }

  void handle(Packet packet) {
    if (!connected_) {
      if (auto* c = std::get_if<Connect>(&packet)) {
        handle_connect(std::move(*c));
      } else {
        protocol_failure(Error::of(errc::protocol_error,
                                   std::string(packet_name(type_of(packet))) +
                                       ": the first packet must be CONNECT [MQTT-3.1.0-1]"));
      }
      return;
    }
    std::visit([this](auto& p) { on(p); }, packet);
  }

  void on(Connect&) {
    protocol_failure(Error::of(errc::protocol_error, "CONNECT: a second CONNECT [MQTT-3.1.0-2]"));
  }
  void on(Connack&) { server_bound_only("CONNACK"); }
  void on(Suback&) { server_bound_only("SUBACK"); }
  void on(Unsuback&) { server_bound_only("UNSUBACK"); }
  void on(PingResp&) { server_bound_only("PINGRESP"); }
  void on(PingReq&) { send(PingResp{}); }
  void on(Auth&) {
    protocol_failure(Error::of(errc::protocol_error,
                               "AUTH: enhanced authentication was not started by CONNECT "
                               "(Strata authenticates with user name and password) "
                               "[MQTT-4.12.0-1]"));
  }
  void on(PubAck& a) {
    if (a.type != PacketType::puback) {
      // Strata neither sends nor accepts QoS 2, so no PUBREC/PUBREL/PUBCOMP belongs here.
      protocol_failure(Error::of(errc::protocol_error,
                                 std::string(packet_name(a.type)) +
                                     ": QoS 2 is not supported by this server (maximum QoS 1)"));
      return;
    }
    {
      std::lock_guard lock(S().mutex);
      auto& inflight = session_->inflight;
      for (auto it = inflight.begin(); it != inflight.end(); ++it) {
        if (it->packet_id == a.packet_id) {
          inflight.erase(it);
          break;
        }
      }
    }
    pump();
  }
  void on(Disconnect& d);
  void on(Publish& p);
  void on(Subscribe& s);
  void on(Unsubscribe& u);

  void server_bound_only(std::string_view name) {
    protocol_failure(Error::of(errc::protocol_error,
                               std::string(name) + ": a client does not send this packet"));
  }

  void handle_connect(Connect c);
  void refuse_connect(std::uint8_t v5_code, std::uint8_t v311_code, std::string why) {
    S().counters.connects_refused++;
    S().refuse(who(), why);
    Connack ack;
    ack.reason_code = version_ == Version::v5 ? v5_code : v311_code;
    if (version_ == Version::v5) ack.properties.reason_string = why;
    send(ack);
    close_after_flush(false);
  }

  Classified classify(std::string_view topic) const;
  bool may_subscribe(std::string_view filter) const;
  bool sparkplug_owner(std::string_view group, std::string_view edge) const {
    if (O().sparkplug_owner) return O().sparkplug_owner(device_id_, group, edge);
    return edge == device_id_;
  }

  // QoS 1 acknowledgements leave in the order the PUBLISHes came [MQTT-4.6.0-2]: each has a slot.
  std::uint64_t push_slot(std::uint16_t packet_id) {
    acks_.push_back({packet_id, SlotState::pending});
    return first_slot_ + acks_.size() - 1;
  }
  void finish_slot(std::uint64_t seq, bool kept) {
    if (closed_ || seq < first_slot_ || seq - first_slot_ >= acks_.size()) return;
    acks_[seq - first_slot_].state = kept ? SlotState::kept : SlotState::failed;
    flush_slots();
  }
  void refuse_slot(std::uint64_t seq, std::uint8_t code) {
    acks_[seq - first_slot_].state = SlotState::refused;
    acks_[seq - first_slot_].reason = code;
    flush_slots();
  }
  void flush_slots() {
    while (!acks_.empty() && acks_.front().state != SlotState::pending) {
      const Slot slot = acks_.front();
      acks_.pop_front();
      ++first_slot_;
      if (slot.state == SlotState::kept) {
        S().counters.messages_acknowledged++;
        send(PubAck{PacketType::puback, slot.packet_id, reason::success, {}});
      } else if (slot.state == SlotState::refused) {
        PubAck nack{PacketType::puback, slot.packet_id, slot.reason, {}};
        send(nack);
      } else {
        S().counters.publishes_refused++;
        S().refuse(who(), "PUBLISH " + std::to_string(slot.packet_id) +
                              ": the message could not be stored; not acknowledged");
        if (version_ == Version::v5) {
          PubAck nack{PacketType::puback, slot.packet_id, reason::unspecified_error, {}};
          nack.properties.reason_string = "not stored (server store error): send it again";
          send(nack);
        } else {
          // 3.1.1 has no negative PUBACK: close without one, so the device sends it again.
          close_after_flush(false);
          return;
        }
      }
    }
    if (waiting_acks_ && acks_.size() < O().receive_maximum) {
      waiting_acks_ = false;
      process();
    }
  }
  void ingest(const Publish& p, std::uint64_t slot);
  void submit_pending();
  void deliver_will();

  // Packets are encoded one after another into out_; one write sends all that gathered while the
  // previous one was in flight (the PUBACKs of a group commit leave in one system call).
  void send(const Packet& p) {
    if (closed_) return;
    const std::size_t before = out_.size();
    if (const Status st = encode(p, version_, out_); !st) {
      S().refuse(who(), "not sent: " + st.error().message);
      return;
    }
    S().counters.bytes_sent += out_.size() - before;
    if (!writing_) write();
  }

  void write() {
    writing_ = true;
    out_.swap(sending_);
    asio::async_write(
        socket_, asio::buffer(sending_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->writing_ = false;
          if (self->closed_) return;
          if (ec) {
            self->close(true);
            return;
          }
          self->sending_.clear();
          // A large message grew the buffer: give the memory back.
          if (self->sending_.capacity() > 16384) self->sending_.shrink_to_fit();
          if (!self->out_.empty()) {
            self->write();
          } else if (self->closing_) {
            self->close(self->will_on_close_);
          }
        });
  }

  void close_after_flush(bool use_will) {
    if (closed_) return;
    closing_ = true;
    will_on_close_ = use_will;
    if (!writing_) close(use_will);
  }

 public:
  void close(bool use_will);

 private:
  enum class SlotState { pending, kept, failed, refused };
  struct Slot {
    std::uint16_t packet_id;
    SlotState state;
    std::uint8_t reason = 0;
  };

  std::shared_ptr<MqttEndpoint::State> state_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::steady_timer retry_timer_;
  std::string peer_;
  std::vector<std::uint8_t> in_;
  std::size_t in_begin_ = 0;
  std::vector<std::uint8_t> out_;      // encoded, not written yet
  std::vector<std::uint8_t> sending_;  // what the write in flight sends (kept until it completes)
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool will_on_close_ = false;
  bool paused_ = false;
  bool waiting_acks_ = false;
  bool over_limit_ = false;
  bool connected_ = false;
  Version version_ = Version::v311;
  std::string device_id_;
  std::string client_id_;
  std::optional<Will> will_;
  std::uint16_t keep_alive_s_ = 0;
  SteadyClock::time_point last_activity_;
  std::shared_ptr<Session> session_;
  std::vector<std::string> aliases_;
  boost::container::deque<Slot> acks_;  // allocates nothing while empty
  std::uint64_t first_slot_ = 0;
  std::uint64_t qos0_count_ = 0;
  // A message submit() did not take yet (back-pressure), with its completion.
  std::optional<pipeline::TelemetryMessage> pending_;
  pipeline::Completion pending_done_;
};

void Connection::handle_connect(Connect c) {
  version_ = c.version;
  const bool v5 = version_ == Version::v5;
  client_id_ = c.client_id;
  if (over_limit_) {
    refuse_connect(reason::server_busy, reason::v311_server_unavailable,
                   "CONNECT: the server has its maximum of " + std::to_string(O().max_connections) +
                       " connections; try again later");
    return;
  }
  if (v5 && c.properties.authentication_method) {
    refuse_connect(reason::bad_authentication_method, reason::v311_not_authorized,
                   "CONNECT: authentication method '" + *c.properties.authentication_method +
                       "' is not supported: send the device token as user name, or the device "
                       "id and secret as user name and password");
    return;
  }
  // Authentication: token as user name (no or empty password), or device id + secret.
  std::optional<DeviceIdentity> identity;
  if (!c.username || c.username->empty()) {
    refuse_connect(reason::not_authorized, reason::v311_not_authorized,
                   "CONNECT: no user name: send the device token as user name (empty password) "
                   "or the device id as user name and its secret as password");
    return;
  }
  if (!c.password || c.password->empty()) {
    identity = S().auth.by_token(*c.username);
  } else {
    identity = S().auth.by_secret(*c.username, *c.password);
  }
  if (!identity) {
    refuse_connect(reason::bad_username_or_password, reason::v311_bad_username_or_password,
                   "CONNECT: bad user name or password (an unknown or revoked device token, or a "
                   "wrong device id/secret)");
    return;
  }
  device_id_ = identity->device_id;
  if (c.will) {
    if (c.will->qos == 2) {
      if (v5) {
        refuse_connect(reason::qos_not_supported, 0,
                       "CONNECT: will QoS 2 is not supported (maximum QoS 1) [MQTT-3.2.2-12]");
        return;
      }
      c.will->qos = 1;  // 3.1.1 has no code for it; Strata ingests the will itself
    }
    if (classify(c.will->topic).kind == TopicKind::forbidden) {
      refuse_connect(reason::not_authorized, reason::v311_not_authorized,
                     "CONNECT: will topic '" + c.will->topic.substr(0, 128) +
                         "' is not one device '" + device_id_ + "' may publish to");
      return;
    }
    will_ = std::move(c.will);
  }
  if (client_id_.empty()) {
    if (!v5 && !c.clean_start) {
      refuse_connect(0, reason::v311_identifier_rejected,
                     "CONNECT: an empty client identifier needs clean session 1 [MQTT-3.1.3-8]");
      return;
    }
  }
  std::uint16_t ka = c.keep_alive == 0 ? O().keep_alive_max_s : c.keep_alive;
  ka = std::clamp(ka, O().keep_alive_min_s, O().keep_alive_max_s);
  keep_alive_s_ = ka;
  aliases_.assign(std::size_t{O().topic_alias_maximum} + 1, std::string());

  Connack ack;
  std::shared_ptr<Connection> previous;
  bool too_many_sessions = false;
  {
    std::lock_guard lock(S().mutex);
    if (client_id_.empty()) client_id_ = "strata-" + std::to_string(++S().next_client);
    S().expire_sessions_locked();
    const std::string key = session_key(device_id_, client_id_);
    auto it = S().sessions.find(key);
    std::shared_ptr<Session> existing = it == S().sessions.end() ? nullptr : it->second;
    if (existing) previous = existing->connection.lock();
    bool persistent = false;
    std::uint32_t expiry = 0;
    if (v5) {
      expiry = std::min(c.properties.session_expiry_interval.value_or(0), O().max_session_expiry_s);
      persistent = expiry > 0;
    } else {
      persistent = !c.clean_start;
      expiry = O().max_session_expiry_s;
    }
    std::size_t persistent_count = 0;
    for (const auto& [k, s] : S().sessions) persistent_count += s->persistent ? 1 : 0;
    if (persistent && !(existing && existing->persistent) &&
        persistent_count >= O().max_persistent_sessions) {
      persistent = false;
      expiry = 0;
      // 5.0 is told (session expiry 0 in CONNACK); 3.1.1 cannot be, so it is refused below.
      too_many_sessions = !v5;
    }
    if (too_many_sessions) {
      // Refused after the lock is released (the refusal hook must not run under it).
    } else {
      if (c.clean_start || !existing) {
        existing = std::make_shared<Session>();
        existing->device_id = device_id_;
        existing->client_id = client_id_;
        S().sessions[key] = existing;
      } else {
        ack.session_present = true;
      }
      session_ = existing;
      session_->version = version_;
      session_->persistent = persistent;
      session_->expiry_s = expiry;
      session_->client_receive_maximum = c.properties.receive_maximum.value_or(65535);
      session_->client_max_packet = c.properties.maximum_packet_size.value_or(kMaxRemainingLength);
      // Clean start 0 resumes a kept session even when this connection will not keep it
      // beyond its end (5.0 session expiry 0): it is removed when the connection closes.
      session_->connection = weak_from_this();
    }
  }
  if (too_many_sessions) {
    refuse_connect(0, reason::v311_server_unavailable,
                   "CONNECT: the server keeps no more persistent sessions (" +
                       std::to_string(O().max_persistent_sessions) + ")");
    return;
  }
  if (previous && previous.get() != this) {
    // Session takeover [MQTT-3.1.4-3]: the old connection goes (with its will, as it did not
    // send DISCONNECT).
    previous->post([](Connection& old) {
      if (old.version_ == Version::v5) {
        Disconnect d;
        d.reason_code = reason::session_taken_over;
        old.send(d);
      }
      old.close_after_flush(true);
    });
  }
  if (v5) {
    auto& p = ack.properties;
    p.maximum_qos = 1;
    p.receive_maximum = O().receive_maximum;
    p.topic_alias_maximum = O().topic_alias_maximum;
    p.maximum_packet_size = static_cast<std::uint32_t>(O().max_packet_size);
    p.wildcard_subscription_available = 1;
    p.subscription_identifier_available = 0;
    p.shared_subscription_available = 0;
    if (c.client_id.empty()) p.assigned_client_identifier = client_id_;
    if (ka != c.keep_alive) p.server_keep_alive = ka;
    if (c.properties.session_expiry_interval &&
        session_->expiry_s != *c.properties.session_expiry_interval) {
      p.session_expiry_interval = session_->expiry_s;
    }
  }
  send(ack);
  connected_ = true;
  last_activity_ = SteadyClock::now();
  timer_.cancel();
  arm_timer(last_activity_ + std::chrono::milliseconds(std::uint64_t{keep_alive_s_} * 1500));
  if (ack.session_present) redeliver();
  pump();
}

Classified Connection::classify(std::string_view topic) const {
  if (topic == "v1/devices/me/telemetry" || topic == "v1/devices/me/attributes") {
    return {TopicKind::telemetry, {}};
  }
  const auto l = levels_of(topic);
  if (l.size() == 6 && l[0] == "v1" && l[1] == "devices" && l[2] == "me" && l[3] == "rpc" &&
      l[4] == "response" && !l[5].empty()) {
    return {TopicKind::rpc_response, std::string(l[5])};
  }
  if (l.size() >= 5 && l[0] == "strata" && l[1] == "v1" && l[2] == "devices" &&
      l[3] == device_id_) {
    if (l.size() == 5 && l[4] == "telemetry") return {TopicKind::telemetry, {}};
    if (l.size() == 7 && l[4] == "commands" && l[6] == "response" && !l[5].empty()) {
      return {TopicKind::command_response, std::string(l[5])};
    }
  }
  if (l.size() >= 4 && l[0] == "spBv1.0" && l[1] != "STATE") {
    const std::string_view type = l[2];
    const bool node = type == "NBIRTH" || type == "NDEATH" || type == "NDATA";
    const bool device = type == "DBIRTH" || type == "DDEATH" || type == "DDATA";
    if (((node && l.size() == 4) || (device && l.size() == 5 && !l[4].empty())) &&
        sparkplug_owner(l[1], l[3])) {
      return {TopicKind::sparkplug, {}};
    }
  }
  return {};
}

bool Connection::may_subscribe(std::string_view filter) const {
  const std::string own = "strata/v1/devices/" + device_id_ + "/commands/+";
  for (const std::string_view pattern :
       {std::string_view(own), std::string_view("v1/devices/me/rpc/request/+"),
        std::string_view("v1/devices/me/attributes"),
        std::string_view("v1/devices/me/attributes/response/+"),
        std::string_view("spBv1.0/STATE/+")}) {
    if (filter_within(filter, pattern)) return true;
  }
  const auto l = levels_of(filter);
  if (l.size() >= 4 && l[0] == "spBv1.0" && l[3] != "+" && l[3] != "#") {
    if ((l[2] == "NCMD" && l.size() == 4) || (l[2] == "DCMD" && l.size() == 5 && l[4] != "#")) {
      if (l[1] == "#") return false;
      if (l[1] == "+") return !O().sparkplug_owner && l[3] == device_id_;
      return sparkplug_owner(l[1], l[3]);
    }
  }
  return false;
}

void Connection::on(Publish& p) {
  S().counters.messages_received++;
  const bool v5 = version_ == Version::v5;
  if (v5 && p.properties.topic_alias) {
    const std::uint16_t alias = *p.properties.topic_alias;
    if (alias > O().topic_alias_maximum) {
      protocol_failure(Error::of(errc::protocol_error,
                                 "PUBLISH: topic alias " + std::to_string(alias) +
                                     " exceeds the topic alias maximum " +
                                     std::to_string(O().topic_alias_maximum) + " [MQTT-3.3.2-9]"));
      return;
    }
    if (p.topic.empty()) {
      if (aliases_[alias].empty()) {
        protocol_failure(
            Error::of(errc::protocol_error, "PUBLISH: topic alias " + std::to_string(alias) +
                                                " has no topic yet [section 3.3.2.3.4]"));
        return;
      }
      p.topic = aliases_[alias];
    } else {
      aliases_[alias] = p.topic;
    }
  }
  if (p.qos == 2) {
    S().counters.publishes_refused++;
    const std::string why = "PUBLISH to '" + p.topic.substr(0, 128) +
                            "': QoS 2 is not supported (maximum QoS 1); publish at QoS 1";
    S().refuse(who(), why);
    if (v5) {
      // 5.0 section 3.2.2.3.4: a PUBLISH above the advertised maximum QoS is answered with
      // DISCONNECT 0x9B (0x9B is not a PUBREC reason code).
      Disconnect d;
      d.reason_code = reason::qos_not_supported;
      d.properties.reason_string = why;
      send(d);
    }
    close_after_flush(true);
    return;
  }
  const Classified c = classify(p.topic);
  const std::uint64_t slot = p.qos == 1 ? push_slot(p.packet_id) : 0;
  switch (c.kind) {
    case TopicKind::forbidden: {
      S().counters.publishes_refused++;
      const std::string why = "PUBLISH to '" + p.topic.substr(0, 128) + "': device '" + device_id_ +
                              "' may not publish there (its topics: "
                              "v1/devices/me/telemetry, strata/v1/devices/" +
                              device_id_ + "/telemetry, ...)";
      S().refuse(who(), why);
      if (v5 && p.qos == 1) {
        refuse_slot(slot, reason::not_authorized);
        return;
      }
      if (v5) {
        Disconnect d;
        d.reason_code = reason::not_authorized;
        d.properties.reason_string = why;
        send(d);
      }
      // 3.1.1 has no negative PUBACK: the connection is closed [MQTT-3.3.5-2].
      close_after_flush(true);
      return;
    }
    case TopicKind::telemetry:
      ingest(p, slot);
      return;
    case TopicKind::rpc_response:
    case TopicKind::command_response: {
      CommandResponse r;
      r.device_id = device_id_;
      r.topic = p.topic;
      r.payload = p.payload;
      if (c.kind == TopicKind::command_response) {
        r.command_id = c.id;
      } else {
        std::uint32_t n = 0;
        const auto [ptr, ec] = std::from_chars(c.id.data(), c.id.data() + c.id.size(), n);
        if (ec == std::errc() && ptr == c.id.data() + c.id.size()) {
          std::lock_guard lock(S().mutex);
          const auto it = S().rpc_commands.find({device_id_, n});
          if (it != S().rpc_commands.end()) r.command_id = it->second;
        }
      }
      if (S().response_handler) S().response_handler(r);
      if (p.qos == 1) finish_slot(slot, true);
      return;
    }
    case TopicKind::sparkplug: {
      if (!S().sparkplug_handler) {
        S().counters.payloads_quarantined++;
        S().sink.quarantine(pipeline::Transport::sparkplug, device_id_, p.payload,
                            "Sparkplug B message on '" + p.topic.substr(0, 128) +
                                "' but no Sparkplug host is configured on this endpoint");
        if (p.qos == 1) finish_slot(slot, true);
        return;
      }
      SparkplugAck ack = [](bool) {};
      if (p.qos == 1) {
        std::weak_ptr<Connection> weak = weak_from_this();
        auto once = std::make_shared<std::atomic<bool>>(false);
        ack = [weak, slot, once](bool kept) {
          if (once->exchange(true)) return;
          if (auto self = weak.lock()) {
            self->post([slot, kept](Connection& c) { c.finish_slot(slot, kept); });
          }
        };
      }
      S().sparkplug_handler(DeviceIdentity{device_id_}, p.topic, p.payload, std::move(ack));
      return;
    }
  }
}

void Connection::ingest(const Publish& p, std::uint64_t slot) {
  auto decoded = json_decoder().decode(p.payload);
  if (!decoded.ok()) {
    S().counters.payloads_quarantined++;
    S().sink.quarantine(pipeline::Transport::mqtt, device_id_, p.payload,
                        "topic '" + p.topic.substr(0, 128) + "': " + decoded.error().message);
    // Kept in quarantine, not lost: acknowledged, so the device does not resend it forever.
    if (p.qos == 1) finish_slot(slot, true);
    return;
  }
  for (const auto& r : decoded->refused) {
    S().counters.payloads_quarantined++;
    S().sink.quarantine(pipeline::Transport::mqtt, device_id_, p.payload,
                        "topic '" + p.topic.substr(0, 128) + "': " + r.reason);
  }
  if (decoded->readings.empty()) {
    if (p.qos == 1) finish_slot(slot, true);
    return;
  }
  pipeline::TelemetryMessage m;
  m.transport = pipeline::Transport::mqtt;
  m.device_id = device_id_;
  m.message_id = client_id_ + "/" +
                 (p.qos == 1 ? std::to_string(p.packet_id) : "-" + std::to_string(++qos0_count_));
  m.received = S().clock.now();
  m.raw = std::make_shared<const std::string>(p.payload);
  m.readings = std::move(decoded->readings);
  std::weak_ptr<Connection> weak = weak_from_this();
  const bool qos1 = p.qos == 1;
  pending_done_ = [weak, slot, qos1](const pipeline::IngestOutcome& outcome) {
    // Runs on a shard thread: only post back to the connection's strand.
    if (!qos1) return;
    const bool kept = outcome.status.ok();
    if (auto self = weak.lock()) {
      self->post([slot, kept](Connection& c) { c.finish_slot(slot, kept); });
    }
  };
  pending_ = std::move(m);
  submit_pending();
}

void Connection::submit_pending() {
  if (closed_ || !pending_) return;
  if (S().sink.submit(*pending_, pending_done_)) {
    pending_.reset();
    pending_done_ = nullptr;
    if (paused_) {
      paused_ = false;
      process();
    }
    return;
  }
  if (!paused_) S().counters.backpressure_pauses++;
  paused_ = true;
  retry_timer_.expires_after(O().submit_retry);
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->submit_pending();
  });
}

void Connection::on(Subscribe& s) {
  const bool v5 = version_ == Version::v5;
  if (v5 && !s.properties.subscription_identifiers.empty()) {
    const std::string why =
        "SUBSCRIBE: subscription identifiers are not supported (CONNACK said so) "
        "[section 3.2.2.3.12]";
    S().counters.protocol_errors++;
    S().refuse(who(), why);
    Disconnect d;
    d.reason_code = reason::subscription_identifiers_not_supported;
    d.properties.reason_string = why;
    send(d);
    close_after_flush(true);
    return;
  }
  Suback ack;
  ack.packet_id = s.packet_id;
  std::vector<std::pair<std::string, std::shared_ptr<const std::string>>> retained;
  std::vector<std::string> refusals;
  {
    std::lock_guard lock(S().mutex);
    for (const auto& sub : s.subscriptions) {
      std::uint8_t code = 0;
      std::string why;
      if (const Status st = validate_topic_filter(sub.filter); !st) {
        code = v5 ? reason::topic_filter_invalid : reason::v311_subscribe_failure;
        why = "SUBSCRIBE: " + st.error().message;
      } else if (sub.filter.starts_with("$share/")) {
        code = v5 ? reason::shared_subscriptions_not_supported : reason::v311_subscribe_failure;
        why = "SUBSCRIBE: shared subscriptions are not supported ('" + sub.filter.substr(0, 128) +
              "')";
      } else if (!may_subscribe(sub.filter)) {
        code = v5 ? reason::not_authorized : reason::v311_subscribe_failure;
        why = "SUBSCRIBE: device '" + device_id_ + "' may not subscribe to '" +
              sub.filter.substr(0, 128) + "' (its topics: strata/v1/devices/" + device_id_ +
              "/commands/+, v1/devices/me/rpc/request/+, ...)";
      }
      if (!why.empty()) {
        S().counters.subscriptions_refused++;
        refusals.push_back(std::move(why));
        ack.reason_codes.push_back(code);
        continue;
      }
      const std::uint8_t granted = std::min<std::uint8_t>(sub.qos, 1);
      bool existed = false;
      for (auto& have : session_->subscriptions) {
        if (have.filter == sub.filter) {
          have.qos = granted;
          existed = true;
        }
      }
      if (!existed) session_->subscriptions.push_back({sub.filter, granted});
      ack.reason_codes.push_back(granted);
      if (sub.retain_handling == 2 || (sub.retain_handling == 1 && existed)) continue;
      for (const auto& [topic, payload] : S().retained) {
        if (topic_matches(sub.filter, topic)) retained.emplace_back(topic, payload);
      }
    }
  }
  for (const auto& why : refusals) S().refuse(who(), why);
  send(ack);
  if (!retained.empty()) {
    std::lock_guard lock(S().mutex);
    for (auto& [topic, payload] : retained) {
      const SessionSubscription* m = session_->match(topic);
      if (m == nullptr) continue;
      session_->queue.push_back({topic, payload, m->qos, true, false, 0, false});
    }
  }
  pump();
}

void Connection::on(Unsubscribe& u) {
  Unsuback ack;
  ack.packet_id = u.packet_id;
  {
    std::lock_guard lock(S().mutex);
    for (const auto& f : u.filters) {
      auto& subs = session_->subscriptions;
      const auto it = std::find_if(subs.begin(), subs.end(),
                                   [&](const SessionSubscription& s) { return s.filter == f; });
      if (it == subs.end()) {
        ack.reason_codes.push_back(reason::no_subscription_existed);
      } else {
        subs.erase(it);
        ack.reason_codes.push_back(reason::success);
      }
    }
  }
  send(ack);
}

void Connection::on(Disconnect& d) {
  if (version_ == Version::v5 && d.properties.session_expiry_interval) {
    std::lock_guard lock(S().mutex);
    if (session_->expiry_s == 0 && *d.properties.session_expiry_interval != 0) {
      // [MQTT-3.14.2-2]: a session that expired at close cannot be made persistent now.
      S().counters.protocol_errors++;
    } else {
      session_->expiry_s =
          std::min(*d.properties.session_expiry_interval, O().max_session_expiry_s);
      session_->persistent = session_->expiry_s > 0;
    }
  }
  // Normal disconnection discards the will [MQTT-3.14.4-3]; 0x04 asks for it.
  const bool with_will = version_ == Version::v5 && d.reason_code == reason::disconnect_with_will;
  close(with_will);
}

void Connection::pump() {
  if (closed_ || !connected_ || !session_) return;
  std::vector<Publish> to_send;
  std::vector<std::string> refusals;
  {
    std::lock_guard lock(S().mutex);
    auto& s = *session_;
    const std::size_t limit =
        std::min<std::size_t>(s.client_receive_maximum, O().max_inflight_to_client);
    while (!s.queue.empty() && (s.queue.front().qos == 0 || s.inflight.size() < limit)) {
      Outgoing o = std::move(s.queue.front());
      s.queue.pop_front();
      // A 5.0 client's maximum packet size: a larger message is not sent to it (5.0 MQTT-3.1.2-24).
      // (7 = fixed header, topic length and packet id; properties are not sent here.)
      if (o.topic.size() + o.payload->size() + 7 > s.client_max_packet) {
        refusals.push_back("message on '" + o.topic.substr(0, 128) + "' (" +
                           std::to_string(o.payload->size()) +
                           " bytes) exceeds the client's maximum packet size of " +
                           std::to_string(s.client_max_packet) + " bytes; not sent");
        continue;
      }
      if (o.qos == 1) {
        // A packet id not in use by another message in flight.
        for (;;) {
          const std::uint16_t id = s.next_packet_id;
          s.next_packet_id = static_cast<std::uint16_t>(id == 65535 ? 1 : id + 1);
          if (std::none_of(s.inflight.begin(), s.inflight.end(),
                           [&](const Outgoing& x) { return x.packet_id == id; })) {
            o.packet_id = id;
            break;
          }
        }
      }
      Publish p;
      p.qos = o.qos;
      p.retain = o.retain;
      p.topic = o.topic;
      p.packet_id = o.packet_id;
      p.payload = *o.payload;
      if (o.is_command) S().counters.commands_sent++;
      to_send.push_back(std::move(p));
      if (o.qos == 1) {
        o.sent_before = true;
        s.inflight.push_back(std::move(o));
      }
    }
  }
  for (const auto& why : refusals) S().refuse(who(), why);
  for (const auto& p : to_send) send(p);
}

void Connection::redeliver() {
  std::vector<Publish> again;
  {
    std::lock_guard lock(S().mutex);
    for (const auto& o : session_->inflight) {
      Publish p;
      p.dup = true;  // [MQTT-3.3.1-1]
      p.qos = o.qos;
      p.retain = o.retain;
      p.topic = o.topic;
      p.packet_id = o.packet_id;
      p.payload = *o.payload;
      if (o.is_command) S().counters.commands_redelivered++;
      again.push_back(std::move(p));
    }
  }
  for (const auto& p : again) send(p);
}

void Connection::close(bool use_will) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  retry_timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  out_.clear();  // not sending_: a write in flight may still read it
  pending_.reset();
  pending_done_ = nullptr;
  if (use_will && connected_ && will_) deliver_will();
  {
    std::lock_guard lock(S().mutex);
    S().connections.erase(this);
    if (session_ && session_->connection.lock().get() == this) {
      session_->connection.reset();
      session_->offline_since = SteadyClock::now();
      if (!session_->persistent) {
        const auto it = S().sessions.find(session_key(device_id_, client_id_));
        if (it != S().sessions.end() && it->second == session_) S().sessions.erase(it);
      }
    }
  }
  S().counters.connections_active--;
}

void Connection::deliver_will() {
  S().counters.wills_published++;
  const Will& w = *will_;
  if (S().will_handler) {
    S().will_handler(DeviceWill{device_id_, client_id_, w.topic, w.payload, w.qos, w.retain});
  }
  const Classified c = classify(w.topic);
  if (c.kind == TopicKind::sparkplug && S().sparkplug_handler) {
    S().sparkplug_handler(DeviceIdentity{device_id_}, w.topic, w.payload, [](bool) {});
    return;
  }
  if (c.kind != TopicKind::telemetry) return;
  auto decoded = json_decoder().decode(w.payload);
  if (!decoded.ok()) {
    S().counters.payloads_quarantined++;
    S().sink.quarantine(pipeline::Transport::mqtt, device_id_, w.payload,
                        "will on '" + w.topic.substr(0, 128) + "': " + decoded.error().message);
    return;
  }
  for (const auto& r : decoded->refused) {
    S().counters.payloads_quarantined++;
    S().sink.quarantine(pipeline::Transport::mqtt, device_id_, w.payload,
                        "will on '" + w.topic.substr(0, 128) + "': " + r.reason);
  }
  if (decoded->readings.empty()) return;
  // The connection is gone, so back-pressure cannot pause it: a timer of its own retries.
  auto will = std::make_shared<WillSubmission>(state_, socket_.get_executor());
  will->message.transport = pipeline::Transport::mqtt;
  will->message.device_id = device_id_;
  will->message.message_id = client_id_ + "/will";
  will->message.received = S().clock.now();
  will->message.raw = std::make_shared<const std::string>(w.payload);
  will->message.readings = std::move(decoded->readings);
  will->attempt();
}

void WillSubmission::attempt() {
  if (state->sink.submit(message, done)) return;
  timer.expires_after(state->options.submit_retry);
  timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->attempt();
  });
}

void MqttEndpoint::State::accept() {
  acceptor.async_accept(
      asio::make_strand(io),
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
        {
          std::lock_guard lock(self->mutex);
          if (self->stopped) return;
        }
        if (!ec) {
          self->counters.connections_accepted++;
          self->counters.connections_active++;
          boost::system::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          auto connection = std::make_shared<Connection>(self, std::move(socket));
          bool over_limit = false;
          {
            std::lock_guard lock(self->mutex);
            over_limit = self->connections.size() >= self->options.max_connections;
            self->connections[connection.get()] = connection;
          }
          connection->post([over_limit](Connection& c) { c.start(over_limit); });
        }
        self->accept();
      });
}

void MqttEndpoint::State::expire_sessions_locked() {
  const auto now = SteadyClock::now();
  if (now < next_expiry_scan) return;
  next_expiry_scan = now + std::chrono::milliseconds(100);
  for (auto it = sessions.begin(); it != sessions.end();) {
    const Session& s = *it->second;
    if (s.connection.expired() && s.persistent &&
        now - s.offline_since >= std::chrono::seconds(s.expiry_s)) {
      it = sessions.erase(it);
    } else {
      ++it;
    }
  }
}

void MqttEndpoint::State::wake(const std::shared_ptr<Session>& session) {
  if (auto c = session->connection.lock()) c->post([](Connection& conn) { conn.pump(); });
}

MqttEndpoint::MqttEndpoint(std::shared_ptr<State> state) : state_(std::move(state)) {}

MqttEndpoint::~MqttEndpoint() { stop(); }

Result<std::unique_ptr<MqttEndpoint>> MqttEndpoint::create(asio::io_context& io,
                                                           MqttEndpointOptions options,
                                                           pipeline::TelemetrySink& sink,
                                                           const DeviceAuthenticator& auth,
                                                           const Clock& clock) {
  const std::string where = options.bind_address + ":" + std::to_string(options.port);
  auto state = std::make_shared<State>(io, std::move(options), sink, auth, clock);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(state->options.bind_address, ec);
  if (ec) {
    return Error::of(endpoint_errc::bind, "MQTT endpoint: '" + state->options.bind_address +
                                              "' is not an IP address: set the bind address to "
                                              "one, e.g. 127.0.0.1 or 0.0.0.0");
  }
  const tcp::endpoint endpoint(address, state->options.port);
  auto& a = state->acceptor;
  if (a.open(endpoint.protocol(), ec); !ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::of(endpoint_errc::bind, "MQTT endpoint: cannot listen on " + where + ": " +
                                              ec.message() +
                                              " (choose another port or stop the other listener)");
  }
  state->port = a.local_endpoint().port();
  state->accept();
  return std::unique_ptr<MqttEndpoint>(new MqttEndpoint(std::move(state)));
}

std::uint16_t MqttEndpoint::port() const { return state_->port; }

void MqttEndpoint::set_sparkplug_handler(SparkplugHandler handler) {
  state_->sparkplug_handler = std::move(handler);
}
void MqttEndpoint::set_command_response_handler(
    std::function<void(const CommandResponse&)> handler) {
  state_->response_handler = std::move(handler);
}
void MqttEndpoint::set_will_handler(std::function<void(const DeviceWill&)> handler) {
  state_->will_handler = std::move(handler);
}
void MqttEndpoint::set_refusal_handler(
    std::function<void(std::string_view, std::string_view)> handler) {
  state_->refusal_handler = std::move(handler);
}

Result<std::string> MqttEndpoint::send_command(std::string_view device_id, std::string_view name,
                                               std::string_view params_json) {
  State& s = *state_;
  if (name.empty() || name.find_first_of("/+#") != std::string_view::npos ||
      !validate_topic_name(name).ok()) {
    return Error::of(endpoint_errc::bad_command,
                     "command name '" + std::string(name.substr(0, 64)) +
                         "' must be one topic level: non-empty UTF-8 without '/', '+', '#'");
  }
  const std::string strata_topic =
      "strata/v1/devices/" + std::string(device_id) + "/commands/" + std::string(name);
  if (!validate_topic_name(strata_topic).ok() ||
      device_id.find_first_of("/+#") != std::string_view::npos) {
    return Error::of(endpoint_errc::bad_command,
                     "device id '" + std::string(device_id.substr(0, 64)) +
                         "' cannot be part of a topic (no '/', '+', '#')");
  }
  {
    simdjson::dom::parser parser;
    const simdjson::padded_string padded(params_json);
    simdjson::dom::element ignored;
    if (const auto e = parser.parse(padded).get(ignored)) {
      return Error::of(endpoint_errc::bad_command,
                       "command '" + std::string(name) + "': params are not JSON (" +
                           simdjson::error_message(e) + "): send a JSON value, e.g. {} or 42");
    }
  }
  std::vector<std::shared_ptr<Session>> woken;
  std::string command_id;
  {
    std::lock_guard lock(s.mutex);
    s.expire_sessions_locked();
    command_id = "cmd-" + std::to_string(s.clock.now()) + "-" + std::to_string(++s.next_command);
    const std::string lo = std::string(device_id) + '\0';
    const std::string hi = std::string(device_id) + '\1';
    struct Target {
      std::shared_ptr<Session> session;
      bool rpc;
      std::uint8_t qos;
    };
    std::vector<Target> targets;
    for (auto it = s.sessions.lower_bound(lo); it != s.sessions.end() && it->first < hi; ++it) {
      const auto& session = it->second;
      if (const auto* m = session->match(strata_topic)) {
        targets.push_back({session, false, m->qos});
      } else if (const auto* r = session->match("v1/devices/me/rpc/request/1")) {
        targets.push_back({session, true, r->qos});
      }
    }
    if (targets.empty()) {
      return Error::of(endpoint_errc::no_subscriber,
                       "device '" + std::string(device_id) +
                           "' has no session subscribed to its commands: it must subscribe to "
                           "strata/v1/devices/" +
                           std::string(device_id) +
                           "/commands/+ or v1/devices/me/rpc/request/+ (with a persistent session "
                           "to receive commands while offline)");
    }
    for (const auto& t : targets) {
      if (t.session->pending() >= s.options.max_queued_commands) {
        return Error::of(endpoint_errc::queue_full,
                         "device '" + std::string(device_id) +
                             "': " + std::to_string(t.session->pending()) +
                             " commands are already waiting for client '" + t.session->client_id +
                             "' (the limit): try again once it has taken them");
      }
    }
    const std::string strata_payload = "{\"id\":" + json_string(command_id) +
                                       ",\"name\":" + json_string(name) +
                                       ",\"params\":" + std::string(params_json) + "}";
    const std::string rpc_payload =
        "{\"method\":" + json_string(name) + ",\"params\":" + std::string(params_json) + "}";
    for (const auto& t : targets) {
      Outgoing o;
      o.qos = std::min<std::uint8_t>(t.qos, 1);
      o.is_command = true;
      if (t.rpc) {
        const std::uint32_t n = ++s.next_rpc_id[std::string(device_id)];
        o.topic = "v1/devices/me/rpc/request/" + std::to_string(n);
        o.payload = std::make_shared<const std::string>(rpc_payload);
        s.rpc_commands[{std::string(device_id), n}] = command_id;
        s.rpc_order.emplace_back(std::string(device_id), n);
        if (s.rpc_order.size() > 100'000) {
          s.rpc_commands.erase(s.rpc_order.front());
          s.rpc_order.pop_front();
        }
      } else {
        o.topic = strata_topic;
        o.payload = std::make_shared<const std::string>(strata_payload);
      }
      t.session->queue.push_back(std::move(o));
      s.wake(t.session);
    }
  }
  return command_id;
}

Result<std::size_t> MqttEndpoint::publish(std::string_view topic, std::string_view payload,
                                          std::uint8_t qos, bool retain) {
  State& s = *state_;
  if (const Status st = validate_topic_name(topic); !st) {
    return Error::of(endpoint_errc::bad_topic, "publish: " + st.error().message);
  }
  if (qos > 1) {
    return Error::of(endpoint_errc::bad_topic, "publish to '" + std::string(topic) + "': QoS " +
                                                   std::to_string(qos) +
                                                   " is not supported (0 or 1)");
  }
  auto shared = std::make_shared<const std::string>(payload);
  std::size_t given = 0;
  std::vector<std::pair<std::string, std::string>> refusals;
  std::unique_lock lock(s.mutex);
  if (retain) {
    if (payload.empty()) {
      s.retained.erase(std::string(topic));
    } else {
      s.retained[std::string(topic)] = shared;
    }
  }
  for (const auto& [key, session] : s.sessions) {
    const SessionSubscription* m = session->match(topic);
    if (m == nullptr) continue;
    if (session->pending() >= s.options.max_queued_commands) {
      refusals.emplace_back(
          session->device_id + "/" + session->client_id,
          "publish to '" + std::string(topic) + "': the session's queue is full; not given");
      continue;
    }
    session->queue.push_back(
        {std::string(topic), shared, std::min(qos, m->qos), false, false, 0, false});
    s.wake(session);
    ++given;
  }
  lock.unlock();
  for (const auto& [who, why] : refusals) s.refuse(who, why);
  return given;
}

MqttEndpointStats MqttEndpoint::stats() const {
  const auto& c = state_->counters;
  MqttEndpointStats out;
  out.connections_accepted = c.connections_accepted;
  out.connections_active = c.connections_active;
  out.connects_refused = c.connects_refused;
  out.messages_received = c.messages_received;
  out.messages_acknowledged = c.messages_acknowledged;
  out.bytes_received = c.bytes_received;
  out.bytes_sent = c.bytes_sent;
  out.publishes_refused = c.publishes_refused;
  out.subscriptions_refused = c.subscriptions_refused;
  out.protocol_errors = c.protocol_errors;
  out.payloads_quarantined = c.payloads_quarantined;
  out.backpressure_pauses = c.backpressure_pauses;
  out.keep_alive_timeouts = c.keep_alive_timeouts;
  out.wills_published = c.wills_published;
  out.commands_sent = c.commands_sent;
  out.commands_redelivered = c.commands_redelivered;
  std::lock_guard lock(state_->mutex);
  for (const auto& [key, s] : state_->sessions) {
    out.commands_queued += s->pending();
    out.sessions_persistent += s->persistent ? 1 : 0;
  }
  return out;
}

void MqttEndpoint::stop() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped) return;
    state_->stopped = true;
    for (auto& [ptr, weak] : state_->connections) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (auto& c : open)
    c->post([](Connection& conn) { conn.shutdown(reason::server_shutting_down); });
}

}  // namespace strata::ingest::mqtt

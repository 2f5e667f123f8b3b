#include "ingest/mqtt_connector/mqtt_connector.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>
#include <span>
#include <unordered_set>

#include "ingest/json_telemetry.hpp"
#include "ingest/mqtt/mqtt_codec.hpp"
#include "ingest/text_scan.hpp"  // shown()

namespace strata::ingest::mqtt_connector {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

std::string hex_reason(std::uint8_t code) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("0x") + kHex[code >> 4] + kHex[code & 0xF];
}

}  // namespace

struct MqttConnector::State : std::enable_shared_from_this<State> {
  struct PendingAck {
    std::uint16_t packet_id = 0;
    bool done = false;
  };
  struct Blocked {
    pipeline::TelemetryMessage message;
    pipeline::Completion done;
  };
  struct Counters {
    std::atomic<std::uint64_t> connects{0}, subscribed{0}, messages{0}, redeliveries{0}, acked{0},
        submitted{0}, quarantined{0}, backpressure{0}, published{0}, connection_errors{0};
  };

  State(asio::io_context& io, MqttConnectorOptions o, pipeline::TelemetrySink& s, const Clock& c)
      : strand(asio::make_strand(io)),
        options(std::move(o)),
        sink(s),
        clock(c),
        resolver(strand),
        socket(strand),
        reconnect_timer(strand),
        retry_timer(strand),
        ping_timer(strand),
        connect_timer(strand),
        backoff(options.reconnect_min) {}

  asio::strand<asio::io_context::executor_type> strand;
  MqttConnectorOptions options;
  pipeline::TelemetrySink& sink;
  const Clock& clock;
  BrokerAddress address;
  std::vector<BrokerRoute> routes;
  std::vector<std::string> filters;
  std::optional<sparkplug::SparkplugHost> host;
  std::optional<sparkplug::OutboundMessage> state_birth;
  std::optional<sparkplug::OutboundMessage> state_offline;
  JsonTelemetryDecoder json;

  tcp::resolver resolver;
  tcp::socket socket;  // the connection, or (TLS) the socket under `tls`
  // TLS (mqtts://): the context made once, and each connection's stream, shared with the handlers
  // of its operations so that it outlives them when a connection is replaced.
  std::optional<asio::ssl::context> tls_context;
  std::shared_ptr<asio::ssl::stream<tcp::socket>> tls;
  asio::steady_timer reconnect_timer, retry_timer, ping_timer, connect_timer;
  std::chrono::milliseconds backoff;
  std::chrono::seconds keep_alive{0};  // the session's: ours, or the broker's if it imposes one

  // Connection state; everything below is reset by close_connection().
  std::uint64_t generation = 0;  // bumped whenever a connection ends: stale handlers see it
  bool running = false;
  bool connected = false;  // CONNACK received
  bool closing = false;    // DISCONNECT queued: close once the queue is written
  bool reading = false;
  bool writing = false;
  bool paused = false;  // back-pressure: a message waits in `blocked`
  std::vector<std::uint8_t> in;
  std::size_t in_start = 0, in_end = 0;
  // Packets are encoded one after another into `out`; one write sends all that gathered while
  // the previous write (`sending`) was in flight: the PUBACKs of a group commit leave together.
  std::vector<std::uint8_t> out, sending;
  std::deque<PendingAck> acks;
  std::uint64_t acks_base = 0;  // sequence number of acks.front()
  std::optional<Blocked> blocked;
  std::uint16_t next_packet_id = 1;
  std::unordered_set<std::uint16_t> outgoing_ids;
  SteadyClock::time_point last_received;
  Counters counters;

  void report(const std::string& message) const {
    if (options.on_error) options.on_error(message);
  }

  void start() {
    running = true;
    connect();
  }

  // The connection's transport: f(stream, keep), where `keep` is what the handlers of an operation
  // on it hold (the TLS stream; nothing for the plain socket, a member).
  template <class F>
  void with_stream(F&& f) {
    if (tls)
      f(*tls, tls);
    else
      f(socket, std::shared_ptr<void>());
  }

  // The socket the TCP connection is made on.
  tcp::socket& tcp_socket() { return tls ? tls->next_layer() : socket; }

  void connect() {
    if (!running) return;
    if (tls_context) {
      tls = std::make_shared<asio::ssl::stream<tcp::socket>>(strand, *tls_context);
      // SNI, and the broker's certificate must name the host of the URL (or its IP address).
      SSL_set_tlsext_host_name(tls->native_handle(), address.host.c_str());
      tls->set_verify_mode(asio::ssl::verify_peer);
      tls->set_verify_callback(asio::ssl::host_name_verification(address.host));
    }
    const std::uint64_t gen = generation;
    resolver.async_resolve(
        address.host, std::to_string(address.port),
        [self = shared_from_this(), gen](const boost::system::error_code& ec,
                                         const tcp::resolver::results_type& results) {
          if (gen != self->generation || !self->running) return;
          if (ec) {
            self->fail("cannot resolve MQTT broker host '" + self->address.host +
                       "': " + ec.message());
            return;
          }
          self->connect_timer.expires_after(self->options.connect_timeout);
          self->connect_timer.async_wait([self, gen](const boost::system::error_code& e) {
            if (e || gen != self->generation || self->connected) return;
            self->fail("MQTT broker " + self->address.host + ":" +
                       std::to_string(self->address.port) + " did not accept the connection in " +
                       std::to_string(self->options.connect_timeout.count()) + " ms");
          });
          asio::async_connect(self->tcp_socket(), results,
                              [self, gen, keep = self->tls](const boost::system::error_code& e,
                                                            const tcp::endpoint&) {
                                if (gen != self->generation) return;
                                if (e) {
                                  self->fail("cannot connect to MQTT broker " + self->address.host +
                                             ":" + std::to_string(self->address.port) + ": " +
                                             e.message());
                                  return;
                                }
                                self->on_tcp_connected();
                              });
        });
  }

  void on_tcp_connected() {
    boost::system::error_code ignored;
    tcp_socket().set_option(tcp::no_delay(true), ignored);
    if (!tls) return on_connected();
    const std::uint64_t gen = generation;
    tls->async_handshake(
        asio::ssl::stream_base::client,
        [self = shared_from_this(), gen, keep = tls](const boost::system::error_code& e) {
          if (gen != self->generation) return;
          if (e) {
            self->fail("TLS handshake with MQTT broker " + self->address.host + ":" +
                       std::to_string(self->address.port) + " failed: " + tls_reason(e));
            return;
          }
          self->on_connected();
        });
  }

  // What went wrong in a TLS handshake, in words (OpenSSL's reason, with the certificate check
  // that failed when it was one).
  static std::string tls_reason(const boost::system::error_code& e) {
    std::string why = e.message();
    if (e.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(e.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED)
      why += " (the broker's certificate does not chain to ca_file or does not name the host)";
    return why;
  }

  void on_connected() {
    last_received = SteadyClock::now();
    mqtt::Connect c;
    c.version = mqtt::Version::v5;
    c.clean_start = false;
    c.keep_alive =
        static_cast<std::uint16_t>(std::clamp<std::int64_t>(options.keep_alive.count(), 0, 65535));
    c.client_id = options.client_id;
    if (!options.username.empty()) c.username = options.username;
    if (!options.password.empty()) c.password = options.password;
    c.properties.session_expiry_interval =
        static_cast<std::uint32_t>(std::max<std::int64_t>(options.session_expiry.count(), 0));
    c.properties.receive_maximum = options.receive_maximum;
    c.properties.maximum_packet_size = options.max_packet_size;
    if (host) {
      const auto state = host->begin_session(clock.now());
      state_birth = state.birth;
      state_offline = state.will;
      c.will =
          mqtt::Will{state.will.topic, state.will.payload, state.will.qos, state.will.retain, {}};
    }
    send(c);
    read();
  }

  void read() {
    if (reading || paused || closing) return;
    reading = true;
    if (in.size() < in_end + kReadChunk) in.resize(in_end + kReadChunk);
    const std::uint64_t gen = generation;
    with_stream([&](auto& stream, auto keep) {
      stream.async_read_some(asio::buffer(in.data() + in_end, kReadChunk),
                             [self = shared_from_this(), gen, keep](
                                 const boost::system::error_code& ec, std::size_t n) {
                               if (gen != self->generation) return;
                               self->reading = false;
                               if (ec) {
                                 self->fail("connection to the MQTT broker lost: " + ec.message());
                                 return;
                               }
                               self->in_end += n;
                               self->last_received = SteadyClock::now();
                               self->process();
                             });
    });
  }

  // Decodes and handles every complete packet in the buffer, unless paused; then reads more.
  void process() {
    const std::uint64_t gen = generation;
    while (!paused && in_start < in_end) {
      const std::span<const std::uint8_t> bytes(in.data() + in_start, in_end - in_start);
      auto frame = mqtt::next_frame(bytes, options.max_packet_size);
      if (!frame) {
        fail("MQTT broker sent a bad packet: " + frame.error().message);
        return;
      }
      if (!frame->has_value()) break;
      auto packet = mqtt::decode(**frame, mqtt::Version::v5);
      in_start += (*frame)->size;
      if (!packet) {
        fail("MQTT broker sent a bad packet: " + packet.error().message);
        return;
      }
      on_packet(std::move(*packet));
      if (gen != generation) return;  // the packet ended the connection
    }
    if (in_start == in_end) {
      in_start = in_end = 0;
    } else if (in_start > 0 && in_end + kReadChunk > in.size()) {
      std::memmove(in.data(), in.data() + in_start, in_end - in_start);
      in_end -= in_start;
      in_start = 0;
    }
    if (!paused) read();
  }

  void on_packet(mqtt::Packet packet) {
    if (auto* p = std::get_if<mqtt::Publish>(&packet)) {
      on_publish(std::move(*p));
    } else if (auto* a = std::get_if<mqtt::PubAck>(&packet)) {
      if (a->type == mqtt::PacketType::puback) outgoing_ids.erase(a->packet_id);
    } else if (auto* c = std::get_if<mqtt::Connack>(&packet)) {
      on_connack(*c);
    } else if (auto* s = std::get_if<mqtt::Suback>(&packet)) {
      on_suback(*s);
    } else if (std::holds_alternative<mqtt::PingResp>(packet)) {
      // last_received is enough
    } else if (auto* d = std::get_if<mqtt::Disconnect>(&packet)) {
      fail("MQTT broker closed the session with reason " + hex_reason(d->reason_code) +
           (d->properties.reason_string ? " (" + *d->properties.reason_string + ")" : ""));
    } else {
      fail("MQTT broker sent an unexpected " +
           std::string(mqtt::packet_name(mqtt::type_of(packet))) + " packet");
    }
  }

  void on_connack(const mqtt::Connack& c) {
    if (c.reason_code != mqtt::reason::success) {
      std::string why = "MQTT broker refused the connection of client '" + options.client_id +
                        "' with reason " + hex_reason(c.reason_code);
      if (c.reason_code == mqtt::reason::bad_username_or_password ||
          c.reason_code == mqtt::reason::not_authorized) {
        why += " (check the connector's username and password)";
      } else if (c.reason_code == mqtt::reason::unsupported_protocol_version) {
        why += " (the connector needs an MQTT 5 broker)";
      }
      if (c.properties.reason_string) why += ": " + *c.properties.reason_string;
      fail(why);
      return;
    }
    connected = true;
    connect_timer.cancel();
    backoff = options.reconnect_min;
    if (!c.session_present && counters.connects > 0) {
      report("MQTT broker had no session for client '" + options.client_id +
             "' (it expired, or the broker restarted without persistence): messages published "
             "while the connector was away are not redelivered; raise session_expiry if the gap "
             "was shorter than the outage");
    }
    counters.connects++;
    // The broker may impose its own keep-alive [MQTT-3.2.2-21].
    keep_alive = c.properties.server_keep_alive
                     ? std::chrono::seconds(*c.properties.server_keep_alive)
                     : options.keep_alive;
    mqtt::Subscribe s;
    s.packet_id = allocate_packet_id();
    for (const auto& f : filters) s.subscriptions.push_back({f, 1, false, false, 0});
    send(s);
    arm_ping();
  }

  void on_suback(const mqtt::Suback& s) {
    outgoing_ids.erase(s.packet_id);
    for (std::size_t i = 0; i < s.reason_codes.size() && i < filters.size(); ++i) {
      if (s.reason_codes[i] >= 0x80) {
        std::string why = "MQTT broker refused the subscription '" + filters[i] + "' with reason " +
                          hex_reason(s.reason_codes[i]);
        if (s.reason_codes[i] == mqtt::reason::shared_subscriptions_not_supported) {
          why += " (the broker does not support shared subscriptions: set share_group = \"\")";
        } else if (s.reason_codes[i] == mqtt::reason::not_authorized) {
          why += " (the broker's ACL does not let this user read the topic)";
        }
        fail(why);
        return;
      }
    }
    counters.subscribed++;
    if (state_birth) publish(*state_birth);
  }

  void on_publish(mqtt::Publish p) {
    counters.messages++;
    if (p.dup) counters.redeliveries++;
    if (p.qos > 1) {
      fail("MQTT broker sent QoS 2 on '" + shown(p.topic) +
           "' although the connector subscribed "
           "with QoS 1");
      return;
    }
    const bool needs_ack = p.qos == 1;
    std::uint64_t ack_seq = 0;
    if (needs_ack) {
      ack_seq = acks_base + acks.size();
      acks.push_back({p.packet_id, false});
    }
    auto raw = std::make_shared<const std::string>(std::move(p.payload));
    const Timestamp now = clock.now();
    std::optional<pipeline::TelemetryMessage> message;
    if (host && p.topic.starts_with("spBv1.0/")) {
      auto out = host->handle(p.topic, *raw, now);
      for (const auto& q : out.quarantine) {
        sink.quarantine(pipeline::Transport::sparkplug, q.device_id, *q.raw, q.reason);
        counters.quarantined++;
      }
      for (const auto& m : out.publish) publish(m);
      if (options.on_sparkplug_event) {
        for (const auto& e : out.events) options.on_sparkplug_event(e);
      }
      message = std::move(out.telemetry);
    } else {
      message = json_message(p.topic, p.packet_id, raw, now);
    }
    if (message) {
      submit(std::move(*message), needs_ack, ack_seq);
    } else if (needs_ack) {
      complete(ack_seq, generation, true, {});
    }
  }

  std::optional<pipeline::TelemetryMessage> json_message(
      const std::string& topic, std::uint16_t packet_id,
      const std::shared_ptr<const std::string>& raw, Timestamp now) {
    const auto quarantine = [&](std::string_view device, const std::string& why) {
      sink.quarantine(pipeline::Transport::mqtt_connector, device, *raw, why);
      counters.quarantined++;
    };
    std::optional<std::string> device;
    for (const auto& r : routes) {
      if ((device = r.device_for(topic))) break;
    }
    if (!device) {
      quarantine(topic, "topic '" + shown(topic) +
                            "' matches no route of the MQTT connector (add a route pattern for "
                            "it, or narrow the broker's ACL)");
      return std::nullopt;
    }
    auto decoded = json.decode(*raw);
    if (!decoded) {
      quarantine(*device, "topic '" + shown(topic) + "': " + decoded.error().message);
      return std::nullopt;
    }
    for (const auto& r : decoded->refused) {
      quarantine(*device, "topic '" + shown(topic) + "': " + r.reason);
    }
    if (decoded->readings.empty()) return std::nullopt;
    pipeline::TelemetryMessage m;
    m.transport = pipeline::Transport::mqtt_connector;
    m.device_id = std::move(*device);
    m.message_id = options.client_id + ":" + topic + "#" + std::to_string(packet_id);
    m.received = now;
    m.raw = raw;
    m.readings = std::move(decoded->readings);
    return m;
  }

  pipeline::Completion completion_for(bool needs_ack, std::uint64_t ack_seq) {
    if (!needs_ack) return [](const pipeline::IngestOutcome&) {};
    std::weak_ptr<State> weak = shared_from_this();
    const std::uint64_t gen = generation;
    return [weak, gen, ack_seq](const pipeline::IngestOutcome& outcome) {
      auto self = weak.lock();
      if (!self) return;
      std::string why = outcome.status.ok() ? std::string() : outcome.status.error().message;
      asio::post(self->strand, [self, gen, ack_seq, ok = outcome.status.ok(),
                                why = std::move(why)] { self->complete(ack_seq, gen, ok, why); });
    };
  }

  void submit(pipeline::TelemetryMessage message, bool needs_ack, std::uint64_t ack_seq) {
    pipeline::Completion done = completion_for(needs_ack, ack_seq);
    if (sink.submit(message, done)) {
      counters.submitted++;
      return;
    }
    counters.backpressure++;
    blocked = Blocked{std::move(message), std::move(done)};
    paused = true;
    arm_retry();
  }

  void arm_retry() {
    const std::uint64_t gen = generation;
    retry_timer.expires_after(options.submit_retry);
    retry_timer.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
      if (ec || gen != self->generation || !self->blocked) return;
      if (!self->sink.submit(self->blocked->message, self->blocked->done)) {
        self->counters.backpressure++;
        self->arm_retry();
        return;
      }
      self->counters.submitted++;
      self->blocked.reset();
      self->paused = false;
      self->process();  // the packets already buffered, then the socket again
    });
  }

  // A message's completion (or its handling, when it made no telemetry): PUBACKs go out in the
  // order the PUBLISHes came, so only the done prefix of the queue is acknowledged.
  void complete(std::uint64_t ack_seq, std::uint64_t gen, bool ok, const std::string& why) {
    if (gen != generation || ack_seq < acks_base || ack_seq - acks_base >= acks.size()) return;
    if (!ok) {
      fail("the pipeline could not make a message durable (" + why +
           "); reconnecting so that the broker sends it again");
      return;
    }
    acks[ack_seq - acks_base].done = true;
    while (!acks.empty() && acks.front().done) {
      mqtt::PubAck a;
      a.type = mqtt::PacketType::puback;
      a.packet_id = acks.front().packet_id;
      send(a);
      acks.pop_front();
      acks_base++;
      counters.acked++;
    }
  }

  void publish(const sparkplug::OutboundMessage& m) {
    mqtt::Publish p;
    p.topic = m.topic;
    p.qos = m.qos;
    p.retain = m.retain;
    p.payload = m.payload;
    if (p.qos > 0) p.packet_id = allocate_packet_id();
    send(p);
    counters.published++;
  }

  std::uint16_t allocate_packet_id() {
    for (;;) {
      const std::uint16_t id = next_packet_id++;
      if (next_packet_id == 0) next_packet_id = 1;
      if (outgoing_ids.insert(id).second) return id;
    }
  }

  void send(const mqtt::Packet& packet) {
    if (auto st = mqtt::encode(packet, mqtt::Version::v5, out); !st) {
      report("MQTT connector could not encode a " +
             std::string(mqtt::packet_name(mqtt::type_of(packet))) + ": " + st.error().message);
      return;
    }
    write_next();
  }

  void write_next() {
    if (writing || out.empty()) return;
    writing = true;
    out.swap(sending);
    const std::uint64_t gen = generation;
    with_stream([&](auto& stream, auto keep) {
      asio::async_write(
          stream, asio::buffer(sending),
          [self = shared_from_this(), gen, keep](const boost::system::error_code& ec, std::size_t) {
            if (gen != self->generation) return;
            self->writing = false;
            if (ec) {
              self->fail("cannot write to the MQTT broker: " + ec.message());
              return;
            }
            self->sending.clear();
            if (self->out.empty() && self->closing) {
              self->close_connection();
              return;
            }
            self->write_next();
          });
    });
  }

  void arm_ping() {
    if (keep_alive.count() <= 0) return;
    const std::uint64_t gen = generation;
    ping_timer.expires_after(keep_alive / 2);
    ping_timer.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
      if (ec || gen != self->generation) return;
      if (SteadyClock::now() - self->last_received > self->keep_alive * 3 / 2) {
        self->fail("MQTT broker sent nothing for 1.5 keep-alive intervals");
        return;
      }
      self->send(mqtt::PingReq{});
      self->arm_ping();
    });
  }

  // Ends the connection: nothing of it is acknowledged any more (the broker redelivers).
  void close_connection() {
    boost::system::error_code ignored;
    tcp_socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_socket().close(ignored);
    tls.reset();  // the handlers still in flight hold it until they have run
    resolver.cancel();
    retry_timer.cancel();
    ping_timer.cancel();
    connect_timer.cancel();
    ++generation;
    connected = closing = reading = writing = paused = false;
    in.clear();
    in_start = in_end = 0;
    out.clear();
    sending.clear();  // keeps its storage: a write the close aborted may still point into it
    acks_base += acks.size();
    acks.clear();
    blocked.reset();
    outgoing_ids.clear();
  }

  void fail(const std::string& why) {
    close_connection();
    if (!running) return;
    counters.connection_errors++;
    report(why + "; reconnecting in " + std::to_string(backoff.count()) + " ms");
    reconnect_timer.expires_after(backoff);
    backoff = std::min(backoff * 2, options.reconnect_max);
    reconnect_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->connect();
    });
  }

  void stop() {
    running = false;
    reconnect_timer.cancel();
    if (!connected) {
      close_connection();
      return;
    }
    // Sparkplug 3.0: a host that disconnects on purpose first says it is offline.
    if (state_offline) publish(*state_offline);
    send(mqtt::Disconnect{});
    closing = true;
    if (!writing && out.empty()) close_connection();
  }
};

Result<std::shared_ptr<MqttConnector>> MqttConnector::create(asio::io_context& io,
                                                             MqttConnectorOptions options,
                                                             pipeline::TelemetrySink& sink,
                                                             const Clock& clock) {
  auto address = parse_broker_url(options.url);
  if (!address) return address.error();
  if (options.client_id.empty() || options.client_id.size() > 65535) {
    return Error::of(errc::bad_config,
                     "MQTT connector needs a client_id (stable across restarts: the broker keeps "
                     "the session, and the unacknowledged messages, under it)");
  }
  if (options.share_group.find_first_of("/+#") != std::string::npos) {
    return Error::of(errc::bad_config, "MQTT connector share_group '" + shown(options.share_group) +
                                           "' may not contain '/', '+' or '#'");
  }
  if (options.receive_maximum == 0) {
    return Error::of(errc::bad_config, "MQTT connector receive_maximum must be at least 1");
  }
  const bool has_cert = !options.cert_file.empty(), has_key = !options.key_file.empty();
  if (has_cert != has_key) {
    return Error::of(errc::bad_config,
                     "MQTT connector needs both cert_file and key_file for a client certificate "
                     "(or neither)");
  }
  if (!address->tls && (!options.ca_file.empty() || has_cert)) {
    return Error::of(errc::bad_config, "MQTT connector has TLS files but the URL '" +
                                           shown(options.url) +
                                           "' is plain MQTT; use mqtts:// to connect with TLS");
  }
  std::optional<asio::ssl::context> tls_context;
  if (address->tls) {
    tls_context.emplace(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    const auto refuse = [&](const char* what, const std::string& file) {
      return Error::of(errc::bad_config, "MQTT connector cannot load " + std::string(what) +
                                             (file.empty() ? "" : " '" + shown(file) + "'") + ": " +
                                             ec.message());
    };
    tls_context->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    if (options.ca_file.empty()) {
      if (tls_context->set_default_verify_paths(ec); ec)
        return refuse("the system's trust store", {});
    } else if (tls_context->load_verify_file(options.ca_file, ec); ec) {
      return refuse("ca_file", options.ca_file);
    }
    if (has_cert) {
      if (tls_context->use_certificate_chain_file(options.cert_file, ec); ec)
        return refuse("cert_file", options.cert_file);
      if (tls_context->use_private_key_file(options.key_file, asio::ssl::context::pem, ec); ec)
        return refuse("key_file", options.key_file);
    }
  }
  auto state = std::make_shared<State>(io, std::move(options), sink, clock);
  state->address = std::move(*address);
  state->tls_context = std::move(tls_context);
  for (const auto& rc : state->options.routes) {
    auto route = BrokerRoute::create(rc.pattern, rc.device);
    if (!route) return route.error();
    const std::string filter = state->options.share_group.empty()
                                   ? route->filter()
                                   : "$share/" + state->options.share_group + "/" + route->filter();
    if (std::find(state->filters.begin(), state->filters.end(), filter) == state->filters.end()) {
      state->filters.push_back(filter);
    }
    state->routes.push_back(std::move(*route));
  }
  if (state->options.sparkplug) {
    auto host = sparkplug::SparkplugHost::create(*state->options.sparkplug);
    if (!host) return host.error();
    state->host.emplace(std::move(*host));
    for (const auto& f : state->options.sparkplug_filters) {
      if (!f.starts_with("spBv1.0/")) {
        return Error::of(errc::bad_config, "Sparkplug filter '" + shown(f) +
                                               "' must start with spBv1.0/ (e.g. spBv1.0/# or "
                                               "spBv1.0/plant-a/#)");
      }
      state->filters.push_back(f);
    }
    // A host watches its own STATE (an old retained "offline" is answered with "online").
    const std::string own_state = state->host->state_topic();
    if (std::none_of(state->filters.begin(), state->filters.end(),
                     [&](const std::string& f) { return mqtt::topic_matches(f, own_state); })) {
      state->filters.push_back(own_state);
    }
  }
  if (state->filters.empty()) {
    return Error::of(errc::bad_config,
                     "MQTT connector has nothing to subscribe: configure at least one route or "
                     "Sparkplug");
  }
  return std::shared_ptr<MqttConnector>(new MqttConnector(std::move(state)));
}

MqttConnector::MqttConnector(std::shared_ptr<State> state) : s_(std::move(state)) {}

MqttConnector::~MqttConnector() { stop(); }

void MqttConnector::start() {
  asio::post(s_->strand, [s = s_] { s->start(); });
}

void MqttConnector::stop() {
  asio::post(s_->strand, [s = s_] { s->stop(); });
}

MqttConnectorStats MqttConnector::stats() const {
  const auto& c = s_->counters;
  MqttConnectorStats st;
  st.connects = c.connects;
  st.subscribed = c.subscribed;
  st.messages = c.messages;
  st.redeliveries = c.redeliveries;
  st.acked = c.acked;
  st.submitted = c.submitted;
  st.quarantined = c.quarantined;
  st.backpressure = c.backpressure;
  st.published = c.published;
  st.connection_errors = c.connection_errors;
  return st;
}

}  // namespace strata::ingest::mqtt_connector

#pragma once
// MQTT load for `strata bench ingest`: many simulated devices publishing QoS 1, each on its own TCP
// connection, and a subscriber that only counts. One Boost.Asio io_context on one thread drives
// every connection (a device costs a socket and two small buffers, not a thread), and every packet
// goes through Strata's own codec (ingest/mqtt/mqtt_codec.hpp), so the client does the same work
// against every broker it is pointed at.
//
// Wire: MQTT 3.1.1. CONNECT (clean session, keep alive 0, username = the connection's username,
// no password), then PUBLISH QoS 1 with up to `in_flight` packets a connection unacknowledged;
// a PUBACK frees a slot and the next message goes out at once (or at the connection's next tick
// when a rate is set). The subscriber CONNECTs, SUBSCRIBEs one filter at QoS 1 and answers every
// PUBLISH with its PUBACK.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace strata::bench {

// What a publisher run does.
struct MqttLoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::vector<std::string> usernames;  // one connection each; empty string: no username
  std::vector<std::string> topics;     // the topic of each connection (same size as usernames)
  // The payload of message `seq` (0, 1, 2, ... per connection) of connection `conn`.
  std::function<std::string(std::size_t conn, std::uint64_t seq)> payload;
  unsigned in_flight = 8;                    // unacknowledged PUBLISHes a connection may have
  double rate = 0;                           // messages/s over all connections; 0: as fast as acked
  std::chrono::milliseconds warmup{1000};    // publishing before the measured window opens
  std::chrono::milliseconds duration{5000};  // the measured window
  std::uint64_t max_messages_per_connection = 0;    // >0: stop each after this many (no window)
  std::chrono::milliseconds drain_timeout{30'000};  // waiting for the last PUBACKs
  std::chrono::milliseconds run_timeout{300'000};   // the whole run; then it fails, naming why
  unsigned max_concurrent_connects = 256;           // the rest wait: a listen backlog is finite
  bool record_latency = false;  // publish → PUBACK of messages sent in the window
  // Called on the run's thread (so it should be quick): kConnected once every connection is
  // connected; kWindowOpens and kWindowCloses around the measured window; kAllAcked, with
  // max_messages_per_connection, after the last PUBACK while the connections are still open.
  static constexpr int kConnected = 0, kAllAcked = 1, kWindowOpens = 2, kWindowCloses = 3;
  std::function<void(int phase)> on_phase;
};

struct MqttLoadResult {
  std::uint64_t sent = 0;   // PUBLISHes written
  std::uint64_t acked = 0;  // PUBACKs received (all of the run)
  std::uint64_t acked_in_window = 0;
  double window_seconds = 0;
  double connect_seconds = 0;  // until every CONNACK arrived
  std::vector<std::uint64_t> acked_per_connection;
  std::vector<std::uint64_t> sent_per_connection;  // messages seq 0..n-1 of each were sent
  std::vector<float> latencies_ms;   // publish → PUBACK of messages sent in the window
  std::uint64_t unacked_at_end = 0;  // still in flight when the drain timed out
  [[nodiscard]] double rate() const {
    return window_seconds > 0 ? static_cast<double>(acked_in_window) / window_seconds : 0;
  }
};

// Connects every connection, publishes (warmup, then the window, or max_messages_per_connection),
// stops publishing, waits for the last PUBACKs and closes. Fails when a connection is refused or
// lost, naming it and the broker's reason.
Result<MqttLoadResult> run_mqtt_publishers(const MqttLoadOptions& options);

// A QoS 1 subscriber on its own thread that counts what it receives.
class MqttCountingSubscriber {
 public:
  // Connects, subscribes `filter` at QoS 1 and returns once the SUBACK granted it.
  static Result<std::unique_ptr<MqttCountingSubscriber>> start(const std::string& host,
                                                               std::uint16_t port,
                                                               const std::string& filter,
                                                               const std::string& client_id);
  ~MqttCountingSubscriber();  // disconnects and joins its thread
  MqttCountingSubscriber(const MqttCountingSubscriber&) = delete;
  MqttCountingSubscriber& operator=(const MqttCountingSubscriber&) = delete;

  [[nodiscard]] std::uint64_t received() const;
  // Waits until received() >= count or the timeout passes; returns received().
  std::uint64_t wait_for(std::uint64_t count, std::chrono::milliseconds timeout) const;

  struct State;

 private:
  explicit MqttCountingSubscriber(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace strata::bench

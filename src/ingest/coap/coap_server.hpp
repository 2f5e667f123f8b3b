#pragma once
// CoapServer: the CoAP endpoint for constrained devices (UDP, libcoap 4.3), speaking ThingsBoard's
// CoAP device API so that devices built for ThingsBoard work unchanged. What a request may be and
// how it is answered: ingest/coap/coap_telemetry.hpp.
//
// Acknowledgement means durable: a telemetry request is answered 2.04 only after the pipeline's
// Completion (after the WAL step). Meanwhile the server does not wait: it registers the request as
// a libcoap "separate response" (coap_register_async; a CON request gets an empty ACK at once so
// the device stops retransmitting), hands the message to the pipeline and goes on serving. The
// completion, which runs on a shard thread, only posts the outcome to the server's inbox and wakes
// its thread (an eventfd); the server thread then triggers the async request and libcoap calls the
// handler again, which answers with the outcome:
//
//   outcome                              response
//   stored (some readings quarantined)   2.04 Changed (payload names the quarantined keys, if any)
//   store error                          5.00 Internal Server Error, diagnostic payload
//   pipeline full (submit refused)       5.03 Service Unavailable, Max-Age = busy_max_age
//
// CoAP cannot pause a sender, so the 5.03 is the back-pressure: the device retries after Max-Age.
// The number of requests awaiting the pipeline is bounded too (max_pending, then 5.03).
//
// Large payloads arrive in Block1 transfers (RFC 7959); libcoap reassembles them
// (COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY) and the handler sees the whole body. NON
// requests are answered NON, CON requests as separate CON responses.
//
// Threads: one, the server's own; every libcoap call happens on it. create() builds the context
// there too before start() — libcoap 4.3 is not thread-safe, so nothing else touches it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "ingest/coap/coap_telemetry.hpp"
#include "ingest/device_auth.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::ingest {

// Error codes of the CoAP server's setup (Error::code of create()).
enum class coap_errc {
  bad_config = 1,  // the bind address cannot be read
  bind,            // the UDP port could not be bound (in use, no permission)
  io,              // libcoap or the event fd could not be set up
};

// Settings of the CoAP endpoint (config keys in docs/coap.md).
struct CoapServerOptions {
  std::string bind_address = "127.0.0.1";  // IPv4 or IPv6 literal; "0.0.0.0" for every interface
  std::uint16_t port = 5683;               // 0: any free port (port() reports it)
  std::size_t max_payload_bytes = 64 * 1024;
  std::chrono::seconds busy_max_age{2};  // Max-Age of a 5.03: when the device may retry
  std::size_t max_pending = 1024;        // requests awaiting the pipeline, beyond which 5.03
};

// Counters for /metrics. Each request is counted once, under the response it got.
struct CoapServerStats {
  std::uint64_t requests = 0;
  std::uint64_t changed = 0;               // 2.04 (durable)
  std::uint64_t bad_request = 0;           // 4.00
  std::uint64_t unauthorized = 0;          // 4.01
  std::uint64_t not_found = 0;             // 4.04 and 4.05
  std::uint64_t too_large = 0;             // 4.13
  std::uint64_t unsupported_format = 0;    // 4.15
  std::uint64_t store_errors = 0;          // 5.00
  std::uint64_t busy = 0;                  // 5.03
  std::uint64_t quarantined_payloads = 0;  // whole payloads handed to TelemetrySink::quarantine
  std::uint64_t quarantined_keys = 0;      // refused keys handed to TelemetrySink::quarantine
  std::uint64_t pending = 0;               // now awaiting the pipeline
};

// The CoAP device endpoint; see the top of this file.
class CoapServer {
 public:
  // Binds the UDP endpoint (so port() is known) without serving yet. errc bind when the port is
  // taken, bad_config for an unreadable bind address.
  [[nodiscard]] static Result<std::unique_ptr<CoapServer>> create(CoapServerOptions options,
                                                                  pipeline::TelemetrySink& sink,
                                                                  const DeviceAuthenticator& auth,
                                                                  const Clock& clock);

  CoapServer(const CoapServer&) = delete;
  CoapServer& operator=(const CoapServer&) = delete;
  ~CoapServer();  // stop()

  // Serves on the server's own thread until stop().
  void start();
  // Stops serving. Requests still awaiting the pipeline get no answer (their devices retry);
  // completions arriving later are ignored safely.
  void stop();

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] CoapServerStats stats() const;

  struct State;  // libcoap context, inbox, pending requests (coap_server.cpp)

 private:
  CoapServer() = default;
  void run();

  std::unique_ptr<State> state_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace strata::ingest

#pragma once
// CoapUplink: simulated devices posting JSON telemetry over CoAP (libcoap3, UDP) to ThingsBoard's
// device API, POST coap://host:port/api/v1/{device token}/telemetry, as confirmable messages with
// Content-Format 50 (application/json). A message is acknowledged by a 2.xx response (the server
// answers 2.04 Changed once durable); a 4.xx/5.xx response or a message that runs out of
// retransmissions fails. One worker thread owns the libcoap context.
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "sim/uplink.hpp"

namespace strata::sim {

class CoapUplink final : public Uplink {
 public:
  // host is an IPv4 address or name; tokens[i] is device slot i's token.
  static Result<std::unique_ptr<CoapUplink>> create(const std::string& host, int port,
                                                    std::vector<std::string> tokens);
  ~CoapUplink() override;
  void send(UplinkMessage message) override;
  void drain(int timeout_ms) override;
  [[nodiscard]] std::string last_error() const override;

  static constexpr std::size_t kMaxQueued = 10000;
  // A payload larger than this does not fit one datagram without block-wise transfer: the caller
  // sends one sample a message.
  static constexpr std::size_t kMaxPayload = 1024;

 private:
  CoapUplink() = default;
  void run();
  void settle(const std::string& token, bool ok, const std::string& why);

  std::string host_;
  int port_ = 5683;
  std::vector<std::string> tokens_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<UplinkMessage> queue_;
  std::map<std::string, std::pair<std::size_t, std::size_t>>
      pending_;  // CoAP token → (slot, samples)
  std::vector<bool> reachable_;
  bool stop_ = false;
  std::string last_error_;
  std::thread worker_;
};

}  // namespace strata::sim

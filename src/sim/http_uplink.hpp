#pragma once
// HttpUplink: simulated devices posting JSON telemetry with libcurl to ThingsBoard's device API,
// POST {server}/api/v1/{device token}/telemetry. A message is acknowledged by 200 (the server
// answers it once the readings are durable); any other status or a transport error fails it, and
// the last problem document's title or the curl error is kept for the status line. One worker
// thread sends the queued messages in order over a kept-alive connection.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "sim/uplink.hpp"

namespace strata::sim {

class HttpUplink final : public Uplink {
 public:
  // `server` is the base URL (http://127.0.0.1:8080); tokens[i] is device slot i's token.
  static Result<std::unique_ptr<HttpUplink>> create(std::string server,
                                                    std::vector<std::string> tokens);
  ~HttpUplink() override;
  void send(UplinkMessage message) override;
  void drain(int timeout_ms) override;
  [[nodiscard]] std::string last_error() const override;

  // At most this many messages wait; beyond it a message fails at once (never a silent drop).
  static constexpr std::size_t kMaxQueued = 10000;

 private:
  HttpUplink() = default;
  void run();

  std::string server_;
  std::vector<std::string> tokens_;
  std::vector<bool> reachable_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<UplinkMessage> queue_;
  bool busy_ = false, stop_ = false;
  std::string last_error_;
  std::thread worker_;
};

}  // namespace strata::sim

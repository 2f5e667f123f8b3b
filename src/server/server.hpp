#pragma once
// Server: `strata serve` — every component of the embedded default, started in order and stopped
// in reverse (shared/DESIGN.md, "Components and how they start"): the telemetry store, the entity
// store (SQLite), users and the device registry, quarantine and lineage, the ingestion pipeline,
// then the listeners — REST/WebSocket (HTTP), the device MQTT endpoint, CoAP, the Modbus poller and
// the broker connector. Readiness (/readyz) is true only once all of them run.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "server/config.hpp"

namespace strata::server {

// Ports the listeners got (the configured ones, or what the system chose for port 0).
struct BoundPorts {
  std::uint16_t http = 0;
  std::uint16_t mqtt = 0;
  std::uint16_t coap = 0;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> start(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] BoundPorts ports() const;
  [[nodiscard]] const ServerConfig& config() const;
  // Stops accepting, completes what is queued, checkpoints nothing (the WAL has it all).
  // Idempotent.
  void stop();

  struct Parts;  // internal

 private:
  explicit Server(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace strata::server

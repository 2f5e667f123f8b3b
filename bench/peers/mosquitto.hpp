#pragma once
// Mosquitto (Debian `mosquitto` 2.0, /usr/sbin/mosquitto) as the MQTT broker `strata bench ingest`
// measures beside Strata: its lossless QoS 1 pass-through rate, and the broker our connector
// (ingest/mqtt_connector/) subscribes to.
//
// How it is run: `mosquitto -c <scratch>/mosquitto.conf`, output to <scratch>/mosquitto.log, with
//   listener <free port> 127.0.0.1
//   allow_anonymous true
//   persistence false            (a QoS 1 message is acknowledged once it is in memory)
//   max_queued_messages 0        (no limit: a slow subscriber queues, nothing is dropped)
//   max_inflight_messages 256    (QoS 1 messages in flight to a 3.1.1 subscriber: the receive
//                                maximum our connector asks for, so both consumers get the same
//                                window; 0, "no limit", makes Mosquitto search a long in-flight
//                                list on every PUBACK and halves its rate)
//   log_type error, log_type warning
// Ready when a TCP connection to the port is accepted.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "bench/peers/peer.hpp"
#include "bench/peers/peer_process.hpp"

namespace strata::bench {

class Mosquitto {
 public:
  // Starts it in a scratch directory under work_dir; retries with a new port if it exits during
  // start-up (another process took the port).
  static Result<std::unique_ptr<Mosquitto>> create(const std::filesystem::path& work_dir,
                                                   const PeerOptions& options = {});

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return process_.pid(); }
  [[nodiscard]] const std::string& name() const { return name_; }  // "Mosquitto 2.0.11"

 private:
  Mosquitto(ScratchDir scratch, PeerProcess process, std::uint16_t port, std::string name)
      : scratch_(std::move(scratch)),
        process_(std::move(process)),
        port_(port),
        name_(std::move(name)) {}
  // Destroyed bottom-up: the process is stopped before its directory is removed.
  ScratchDir scratch_;
  PeerProcess process_;
  std::uint16_t port_;
  std::string name_;
};

}  // namespace strata::bench

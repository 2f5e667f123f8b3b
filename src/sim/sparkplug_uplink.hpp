#pragma once
// SparkplugUplink: simulated devices as Sparkplug B edge nodes (Eclipse Sparkplug 3.0) on Strata's
// MQTT endpoint, one libmosquitto connection each. Strata's bridge takes an edge node that
// authenticates as a registered device (token as username) and whose edge node id is that device
// id; its own metrics are stored under the id. So each device is an edge node of group = its site:
//
//   CONNECT   will spBv1.0/{site}/NDEATH/{id}  {bdSeq}
//   NBIRTH    spBv1.0/{site}/NBIRTH/{id}   seq 0, bdSeq, Node Control/Rebirth, every metric with
//             its name, alias (its index), datatype and the first sample's value
//   NDATA     spBv1.0/{site}/NDATA/{id}    seq 1..255,0,…; the samples of a tick, by alias, each
//             metric with its sample's timestamp
//   NCMD      spBv1.0/{site}/NCMD/{id}     "Node Control/Rebirth" = true → the next tick sends
//             an NBIRTH again (seq 0) instead of NDATA
//
// Payloads are encoded by ingest/sparkplug's encode_payload() (protobuf behind its narrow header).
// Datatypes: Double for numbers, Boolean, String for texts, Int64 for integer enums. Published at
// QoS 1 (the specification says 0 for NBIRTH/NDATA; QoS 1 is what makes Strata's PUBACK an
// acknowledgement of durability); a message is acknowledged by its PUBACK.
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sim/plant.hpp"
#include "sim/uplink.hpp"
#include "sim/wire.hpp"

struct mosquitto;
struct mosquitto_message;

namespace strata::sim {

struct SparkplugDevice {
  std::string id;     // edge node id
  std::string group;  // group id: the site
  std::string token;  // MQTT username
  const WireModel* wire = nullptr;
};

class SparkplugUplink final : public Uplink {
 public:
  static Result<std::unique_ptr<SparkplugUplink>> create(const std::string& host, int port,
                                                         std::vector<SparkplugDevice> devices);
  ~SparkplugUplink() override;
  // Not used: Sparkplug messages carry samples, not JSON (see send_samples).
  void send(UplinkMessage message) override;
  // Sends the samples of one tick of device `slot` (NBIRTH first, then NDATA).
  void send_samples(std::size_t slot, std::span<const Emission* const> samples);
  void drain(int timeout_ms) override;
  [[nodiscard]] std::string last_error() const override;

 private:
  struct Node;
  SparkplugUplink() = default;
  static void on_connect(struct mosquitto*, void* obj, int rc);
  static void on_disconnect(struct mosquitto*, void* obj, int rc);
  static void on_publish(struct mosquitto*, void* obj, int mid);
  static void on_message(struct mosquitto*, void* obj, const ::mosquitto_message* m);
  void set_error(std::string e);
  void publish(Node& n, const std::string& topic, const std::string& payload, std::size_t samples);

  std::vector<std::unique_ptr<Node>> nodes_;
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace strata::sim

#pragma once
// SparkplugBridge: Sparkplug B edge nodes that publish on Strata's own MQTT endpoint. Every
// spBv1.0/... message goes, in arrival order, through one SparkplugHost (alias tables, bdSeq and
// seq checks) on a worker thread; its telemetry goes to the pipeline and the edge node's PUBACK
// waits for the WAL; its rebirth requests (NCMD) and the host's STATE go back out through the
// endpoint.
//
// Device ids: an edge node authenticates as a registered device and publishes as edge node id =
// that device id (the endpoint checks it). Its own metrics are stored under that id; the metrics
// of a device behind it, "{group}/{edge}/{device}" in Sparkplug, under "{edge}:{device}" — a
// registry id (':' is allowed there, '/' is not), which must be registered too.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "ingest/mqtt/mqtt_endpoint.hpp"
#include "ingest/sparkplug/sparkplug_host.hpp"
#include "pipeline/telemetry.hpp"

namespace strata::server {

class SparkplugBridge {
 public:
  static Result<std::unique_ptr<SparkplugBridge>> create(
      ingest::mqtt::MqttEndpoint& endpoint, pipeline::TelemetrySink& sink, const Clock& clock,
      ingest::sparkplug::SparkplugHostOptions options);
  ~SparkplugBridge();

  // The endpoint's Sparkplug handler: queues the message for the worker.
  void handle(const ingest::DeviceIdentity& who, std::string_view topic, std::string_view payload,
              ingest::mqtt::SparkplugAck ack);
  // Stops the worker; queued messages are not acknowledged (their senders send them again).
  void stop();

 private:
  struct Item {
    std::string device_id, topic, payload;
    ingest::mqtt::SparkplugAck ack;
  };
  SparkplugBridge(ingest::mqtt::MqttEndpoint& endpoint, pipeline::TelemetrySink& sink,
                  const Clock& clock, ingest::sparkplug::SparkplugHost host);
  void run();
  void process(Item& item);

  ingest::mqtt::MqttEndpoint& endpoint_;
  pipeline::TelemetrySink& sink_;
  const Clock& clock_;
  ingest::sparkplug::SparkplugHost host_;  // REQUIRES: the worker thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace strata::server

#include "server/sparkplug_bridge.hpp"

#include <spdlog/spdlog.h>

#include "ingest/sparkplug/sparkplug_topic.hpp"

namespace strata::server {

Result<std::unique_ptr<SparkplugBridge>> SparkplugBridge::create(
    ingest::mqtt::MqttEndpoint& endpoint, pipeline::TelemetrySink& sink, const Clock& clock,
    ingest::sparkplug::SparkplugHostOptions options) {
  auto host = ingest::sparkplug::SparkplugHost::create(std::move(options));
  if (!host) return host.error();
  std::unique_ptr<SparkplugBridge> b(new SparkplugBridge(endpoint, sink, clock, std::move(*host)));
  const auto state = b->host_.begin_session(clock.now());
  (void)endpoint.publish(state.birth.topic, state.birth.payload, state.birth.qos,
                         state.birth.retain);
  b->worker_ = std::thread([p = b.get()] { p->run(); });
  return b;
}

SparkplugBridge::SparkplugBridge(ingest::mqtt::MqttEndpoint& endpoint,
                                 pipeline::TelemetrySink& sink, const Clock& clock,
                                 ingest::sparkplug::SparkplugHost host)
    : endpoint_(endpoint), sink_(sink), clock_(clock), host_(std::move(host)) {}

SparkplugBridge::~SparkplugBridge() { stop(); }

void SparkplugBridge::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void SparkplugBridge::handle(const ingest::DeviceIdentity& who, std::string_view topic,
                             std::string_view payload, ingest::mqtt::SparkplugAck ack) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(Item{who.device_id, std::string(topic), std::string(payload), std::move(ack)});
  }
  cv_.notify_one();
}

void SparkplugBridge::run() {
  for (;;) {
    Item item;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    process(item);
  }
}

void SparkplugBridge::process(Item& item) {
  auto out = host_.handle(item.topic, item.payload, clock_.now());
  // "{group}/{edge}" → the edge node's registry id; "{group}/{edge}/{device}" → "{edge}:{device}".
  auto registry_id = [&](const std::string& sparkplug_id) {
    const auto first = sparkplug_id.find('/');
    if (first == std::string::npos) return sparkplug_id;
    const auto second = sparkplug_id.find('/', first + 1);
    if (second == std::string::npos) return item.device_id;
    return item.device_id + ":" + sparkplug_id.substr(second + 1);
  };
  for (const auto& q : out.quarantine)
    sink_.quarantine(pipeline::Transport::sparkplug, registry_id(q.device_id),
                     q.raw ? std::string_view(*q.raw) : std::string_view(), q.reason);
  for (const auto& m : out.publish) (void)endpoint_.publish(m.topic, m.payload, m.qos, m.retain);
  for (const auto& e : out.events)
    spdlog::info("sparkplug: {}/{}{}{}: {}", e.group_id, e.edge_node_id,
                 e.device_id.empty() ? "" : "/", e.device_id, e.detail);
  if (!out.telemetry) return item.ack(true);
  pipeline::TelemetryMessage m = std::move(*out.telemetry);
  m.device_id = registry_id(m.device_id);
  pipeline::Completion done = [ack = item.ack](const pipeline::IngestOutcome& o) {
    ack(o.status.ok());
  };
  // Order matters to a Sparkplug host: wait for room rather than reorder (the endpoint bounds
  // what is in flight per connection, so this queue cannot grow without bound).
  while (!sink_.submit(m, done)) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace strata::server

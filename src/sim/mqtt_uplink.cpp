#include "sim/mqtt_uplink.hpp"

#include <mosquitto.h>

#include <chrono>
#include <thread>

#include "sim/errc.hpp"

namespace strata::sim {

struct MqttUplink::Client {
  MqttUplink* owner = nullptr;
  MqttDevice device;
  std::string topic;
  struct mosquitto* mosq = nullptr;
  std::atomic<bool> connected{false};
  std::mutex mu;
  std::vector<std::pair<int, std::size_t>> inflight;  // (mid, samples) awaiting PUBACK
};

namespace {
std::once_flag g_lib_once;
}

Result<std::unique_ptr<MqttUplink>> MqttUplink::create(const std::string& host, int port,
                                                       std::vector<MqttDevice> devices) {
  std::call_once(g_lib_once, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttUplink> up(new MqttUplink());
  for (auto& d : devices) {
    auto c = std::make_unique<Client>();
    c->owner = up.get();
    c->topic = d.topics == MqttTopics::thingsboard ? "v1/devices/me/telemetry"
                                                   : "strata/v1/devices/" + d.id + "/telemetry";
    c->device = std::move(d);
    c->mosq = mosquitto_new(("strata-sim-" + c->device.id).c_str(), true, c.get());
    if (!c->mosq)
      return Error::of(errc::transport, "MQTT: cannot create a client for '" + c->device.id + "'");
    mosquitto_username_pw_set(c->mosq, c->device.token.c_str(), "");
    mosquitto_connect_callback_set(c->mosq, &MqttUplink::on_connect);
    mosquitto_disconnect_callback_set(c->mosq, &MqttUplink::on_disconnect);
    mosquitto_publish_callback_set(c->mosq, &MqttUplink::on_publish);
    mosquitto_reconnect_delay_set(c->mosq, 1, 10, true);
    const int rc = mosquitto_connect_async(c->mosq, host.c_str(), port, 30);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO)
      return Error::of(errc::transport, "MQTT: cannot connect to " + host + ":" +
                                            std::to_string(port) + ": " + mosquitto_strerror(rc));
    if (mosquitto_loop_start(c->mosq) != MOSQ_ERR_SUCCESS)
      return Error::of(errc::transport, "MQTT: cannot start the network thread");
    up->clients_.push_back(std::move(c));
  }
  return up;
}

MqttUplink::~MqttUplink() {
  for (auto& c : clients_) {
    mosquitto_disconnect(c->mosq);
    mosquitto_loop_stop(c->mosq, false);
    mosquitto_destroy(c->mosq);
  }
}

void MqttUplink::set_error(std::string e) {
  std::lock_guard lock(error_mu_);
  last_error_ = std::move(e);
}

std::string MqttUplink::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

void MqttUplink::on_connect(struct mosquitto*, void* obj, int rc) {
  auto* c = static_cast<Client*>(obj);
  if (rc == 0) {
    if (!c->connected.exchange(true)) ++c->owner->counters_.devices_up;
  } else {
    c->owner->set_error("MQTT: '" + c->device.id + "' refused: " + mosquitto_connack_string(rc));
  }
}

void MqttUplink::on_disconnect(struct mosquitto*, void* obj, int rc) {
  auto* c = static_cast<Client*>(obj);
  if (c->connected.exchange(false)) --c->owner->counters_.devices_up;
  std::size_t lost = 0, lost_samples = 0;
  {
    std::lock_guard lock(c->mu);
    lost = c->inflight.size();
    for (auto& [mid, n] : c->inflight) lost_samples += n;
    c->inflight.clear();
  }
  // QoS 1 messages in flight at a disconnect are not retried by this clean session: failed.
  c->owner->counters_.failed += lost;
  if (rc != 0)
    c->owner->set_error("MQTT: '" + c->device.id + "' disconnected: " + mosquitto_strerror(rc));
}

void MqttUplink::on_publish(struct mosquitto*, void* obj, int mid) {
  auto* c = static_cast<Client*>(obj);
  std::size_t samples = 0;
  bool found = false;
  {
    std::lock_guard lock(c->mu);
    for (auto it = c->inflight.begin(); it != c->inflight.end(); ++it)
      if (it->first == mid) {
        samples = it->second;
        c->inflight.erase(it);
        found = true;
        break;
      }
  }
  if (!found) return;
  ++c->owner->counters_.acked;
  c->owner->counters_.samples_acked += samples;
}

void MqttUplink::send(UplinkMessage m) {
  Client& c = *clients_.at(m.slot);
  if (!c.connected) {
    ++counters_.failed;
    return;
  }
  int mid = 0;
  // The lock covers publish and the inflight entry, so a PUBACK cannot overtake its entry.
  std::lock_guard lock(c.mu);
  const int rc = mosquitto_publish(c.mosq, &mid, c.topic.c_str(),
                                   static_cast<int>(m.payload.size()), m.payload.data(), 1, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    ++counters_.failed;
    set_error("MQTT: publish of '" + c.device.id + "' failed: " + mosquitto_strerror(rc));
    return;
  }
  c.inflight.emplace_back(mid, m.samples);
  ++counters_.sent;
  counters_.samples_sent += m.samples;
}

void MqttUplink::drain(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool empty = true;
    for (auto& c : clients_) {
      std::lock_guard lock(c->mu);
      empty = empty && c->inflight.empty();
    }
    if (empty) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool MqttUplink::wait_connected(int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (counters_.devices_up.load() < clients_.size()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace strata::sim

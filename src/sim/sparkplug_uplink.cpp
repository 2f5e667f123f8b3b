#include "sim/sparkplug_uplink.hpp"

#include <mosquitto.h>

#include <chrono>
#include <thread>

#include "ingest/sparkplug/sparkplug_payload.hpp"
#include "sim/errc.hpp"

namespace strata::sim {

namespace sp = ingest::sparkplug;

struct SparkplugUplink::Node {
  SparkplugUplink* owner = nullptr;
  SparkplugDevice device;
  std::string prefix;  // spBv1.0/{group}/
  struct mosquitto* mosq = nullptr;
  std::atomic<bool> connected{false};
  std::atomic<bool> need_birth{true};
  std::uint64_t bd_seq = 0;
  std::uint64_t seq = 0;
  std::mutex mu;
  std::vector<std::pair<int, std::size_t>> inflight;
};

namespace {

std::once_flag g_lib_once;

sp::Metric metric_of(const WireMetric& m, std::size_t alias, double value, Timestamp ts,
                     bool with_name) {
  sp::Metric out;
  if (with_name) out.name = m.name;
  out.alias = alias;
  out.timestamp = ts;
  const double v = m.wire_value(value);
  switch (m.form) {
    case WireMetric::Form::boolean:
      out.datatype = static_cast<std::uint32_t>(sp::DataType::boolean);
      out.value.field = sp::WireValue::Field::boolean_value;
      out.value.integer = v != 0 ? 1 : 0;
      break;
    case WireMetric::Form::text: {
      const auto n = static_cast<std::size_t>(v);
      const std::string t = n < m.texts.size() ? m.texts[n] : std::string("0");
      if (m.quoted) {
        out.datatype = static_cast<std::uint32_t>(sp::DataType::string);
        out.value.field = sp::WireValue::Field::string_value;
        out.value.bytes = t;
      } else {
        out.datatype = static_cast<std::uint32_t>(sp::DataType::int64);
        out.value.field = sp::WireValue::Field::long_value;
        out.value.integer = static_cast<std::uint64_t>(std::stoll(t));
      }
      break;
    }
    case WireMetric::Form::number:
      if (m.integer) {
        out.datatype = static_cast<std::uint32_t>(sp::DataType::int64);
        out.value.field = sp::WireValue::Field::long_value;
        out.value.integer = static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
        break;
      }
      out.datatype = static_cast<std::uint32_t>(sp::DataType::double_);
      out.value.field = sp::WireValue::Field::double_value;
      out.value.real = v;
      break;
  }
  return out;
}

sp::Metric bd_seq_metric(std::uint64_t bd_seq) {
  sp::Metric m;
  m.name = "bdSeq";
  m.datatype = static_cast<std::uint32_t>(sp::DataType::uint64);
  m.value.field = sp::WireValue::Field::long_value;
  m.value.integer = bd_seq;
  return m;
}

}  // namespace

Result<std::unique_ptr<SparkplugUplink>> SparkplugUplink::create(
    const std::string& host, int port, std::vector<SparkplugDevice> devices) {
  std::call_once(g_lib_once, [] { mosquitto_lib_init(); });
  std::unique_ptr<SparkplugUplink> up(new SparkplugUplink());
  for (auto& d : devices) {
    auto n = std::make_unique<Node>();
    n->owner = up.get();
    n->prefix = "spBv1.0/" + d.group + "/";
    n->device = std::move(d);
    n->mosq = mosquitto_new(("strata-sim-sp-" + n->device.id).c_str(), true, n.get());
    if (!n->mosq)
      return Error::of(errc::transport,
                       "Sparkplug: cannot create a client for '" + n->device.id + "'");
    mosquitto_username_pw_set(n->mosq, n->device.token.c_str(), "");
    sp::Payload death;
    death.metrics.push_back(bd_seq_metric(n->bd_seq));
    const std::string will = sp::encode_payload(death);
    mosquitto_will_set(n->mosq, (n->prefix + "NDEATH/" + n->device.id).c_str(),
                       static_cast<int>(will.size()), will.data(), 1, false);
    mosquitto_connect_callback_set(n->mosq, &SparkplugUplink::on_connect);
    mosquitto_disconnect_callback_set(n->mosq, &SparkplugUplink::on_disconnect);
    mosquitto_publish_callback_set(n->mosq, &SparkplugUplink::on_publish);
    mosquitto_message_callback_set(n->mosq, &SparkplugUplink::on_message);
    const int rc = mosquitto_connect_async(n->mosq, host.c_str(), port, 30);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO)
      return Error::of(errc::transport, "Sparkplug: cannot connect to " + host + ":" +
                                            std::to_string(port) + ": " + mosquitto_strerror(rc));
    if (mosquitto_loop_start(n->mosq) != MOSQ_ERR_SUCCESS)
      return Error::of(errc::transport, "Sparkplug: cannot start the network thread");
    up->nodes_.push_back(std::move(n));
  }
  return up;
}

SparkplugUplink::~SparkplugUplink() {
  for (auto& n : nodes_) {
    mosquitto_disconnect(n->mosq);
    mosquitto_loop_stop(n->mosq, false);
    mosquitto_destroy(n->mosq);
  }
}

void SparkplugUplink::set_error(std::string e) {
  std::lock_guard lock(error_mu_);
  last_error_ = std::move(e);
}

std::string SparkplugUplink::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

void SparkplugUplink::on_connect(struct mosquitto* m, void* obj, int rc) {
  auto* n = static_cast<Node*>(obj);
  if (rc != 0) {
    n->owner->set_error("Sparkplug: '" + n->device.id +
                        "' refused: " + mosquitto_connack_string(rc));
    return;
  }
  mosquitto_subscribe(m, nullptr, (n->prefix + "NCMD/" + n->device.id).c_str(), 1);
  n->need_birth = true;  // every new session starts with a birth
  if (!n->connected.exchange(true)) ++n->owner->counters_.devices_up;
}

void SparkplugUplink::on_disconnect(struct mosquitto*, void* obj, int rc) {
  auto* n = static_cast<Node*>(obj);
  if (n->connected.exchange(false)) --n->owner->counters_.devices_up;
  std::size_t lost = 0;
  {
    std::lock_guard lock(n->mu);
    lost = n->inflight.size();
    n->inflight.clear();
    ++n->bd_seq;  // the next session's birth/death sequence
  }
  n->owner->counters_.failed += lost;
  if (rc != 0)
    n->owner->set_error("Sparkplug: '" + n->device.id +
                        "' disconnected: " + mosquitto_strerror(rc));
}

void SparkplugUplink::on_publish(struct mosquitto*, void* obj, int mid) {
  auto* n = static_cast<Node*>(obj);
  std::size_t samples = 0;
  bool found = false;
  {
    std::lock_guard lock(n->mu);
    for (auto it = n->inflight.begin(); it != n->inflight.end(); ++it)
      if (it->first == mid) {
        samples = it->second;
        n->inflight.erase(it);
        found = true;
        break;
      }
  }
  if (!found) return;  // the NBIRTH's session metrics or a subscription
  ++n->owner->counters_.acked;
  n->owner->counters_.samples_acked += samples;
}

void SparkplugUplink::on_message(struct mosquitto*, void* obj, const ::mosquitto_message* m) {
  auto* n = static_cast<Node*>(obj);
  auto p = sp::decode_payload(std::string_view(static_cast<const char*>(m->payload),
                                               static_cast<std::size_t>(m->payloadlen)));
  if (!p) return;
  for (const auto& metric : p->metrics)
    if (metric.name && *metric.name == "Node Control/Rebirth" && metric.value.integer != 0)
      n->need_birth = true;
}

void SparkplugUplink::send(UplinkMessage) { ++counters_.failed; }

void SparkplugUplink::publish(Node& n, const std::string& topic, const std::string& payload,
                              std::size_t samples) {
  int mid = 0;
  std::lock_guard lock(n.mu);
  const int rc = mosquitto_publish(n.mosq, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), 1, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    ++counters_.failed;
    set_error("Sparkplug: publish of '" + n.device.id + "' failed: " + mosquitto_strerror(rc));
    return;
  }
  n.inflight.emplace_back(mid, samples);
  ++counters_.sent;
  counters_.samples_sent += samples;
}

void SparkplugUplink::send_samples(std::size_t slot, std::span<const Emission* const> samples) {
  Node& n = *nodes_.at(slot);
  if (!n.connected) {
    ++counters_.failed;
    return;
  }
  const WireModel& w = *n.device.wire;
  std::size_t first = 0;
  if (n.need_birth.exchange(false)) {
    // NBIRTH: every metric with its name and alias, valued by the tick's first sample.
    sp::Payload birth;
    birth.timestamp = samples.front()->ts;
    birth.seq = 0;
    n.seq = 0;
    birth.metrics.push_back(bd_seq_metric(n.bd_seq));
    sp::Metric rebirth;
    rebirth.name = "Node Control/Rebirth";
    rebirth.datatype = static_cast<std::uint32_t>(sp::DataType::boolean);
    rebirth.value.field = sp::WireValue::Field::boolean_value;
    rebirth.value.integer = 0;
    birth.metrics.push_back(rebirth);
    for (std::size_t i = 0; i < w.metrics.size(); ++i)
      birth.metrics.push_back(metric_of(
          w.metrics[i], i, samples.front()->values[w.metrics[i].index], samples.front()->ts, true));
    publish(n, n.prefix + "NBIRTH/" + n.device.id, sp::encode_payload(birth), 1);
    first = 1;
  }
  if (first >= samples.size()) return;
  sp::Payload data;
  data.timestamp = samples.back()->ts;
  n.seq = (n.seq + 1) % 256;
  data.seq = n.seq;
  for (std::size_t s = first; s < samples.size(); ++s)
    for (std::size_t i = 0; i < w.metrics.size(); ++i)
      data.metrics.push_back(metric_of(w.metrics[i], i, samples[s]->values[w.metrics[i].index],
                                       samples[s]->ts, false));
  publish(n, n.prefix + "NDATA/" + n.device.id, sp::encode_payload(data), samples.size() - first);
}

void SparkplugUplink::drain(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool empty = true;
    for (auto& n : nodes_) {
      std::lock_guard lock(n->mu);
      empty = empty && n->inflight.empty();
    }
    if (empty) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace strata::sim

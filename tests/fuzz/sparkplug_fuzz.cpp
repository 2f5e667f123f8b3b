// Fuzz target for the Sparkplug B primary host (src/ingest/sparkplug/): topic parsing, payload
// decoding, the datatype mapping and the host's state machine across a sequence of messages.
// Input: records of [topic selector: 1 byte][payload length: 2 bytes, little-endian][payload].
// A selector below the table's size picks a topic of one edge node (so births, data and deaths
// meet the same state); any other selector takes the topic from the payload up to its first '\n'.
// On every message it checks:
//  - telemetry is transport sparkplug, has readings, each named, and text or finite number;
//  - every quarantine entry and event has a reason; every publish is an NCMD or our STATE;
//  - node_status() of the fixed edge node is consistent (a stale node has a reason to be stale:
//    it is reported online or offline, never with devices while offline).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingest/sparkplug/sparkplug_host.hpp"

namespace {

using namespace strata::ingest::sparkplug;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "sparkplug_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

constexpr std::string_view kTopics[] = {
    "spBv1.0/g/NBIRTH/e",    "spBv1.0/g/DBIRTH/e/d", "spBv1.0/g/DDATA/e/d",
    "spBv1.0/g/NDATA/e",     "spBv1.0/g/DDEATH/e/d", "spBv1.0/g/NDEATH/e",
    "spBv1.0/g/DBIRTH/e/d2", "spBv1.0/g/DDATA/e/d2", "spBv1.0/STATE/fuzz-host",
    "spBv1.0/STATE/other",   "spBv1.0/g/NCMD/e",
};
constexpr std::size_t kTopicCount = sizeof(kTopics) / sizeof(kTopics[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  SparkplugHostOptions options;
  options.host_id = "fuzz-host";
  options.rebirth_interval = 3;
  auto created = SparkplugHost::create(options);
  check(created.ok(), "the host is created");
  SparkplugHost host = std::move(created).value();
  (void)host.begin_session(1000);
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  strata::Timestamp now = 1'700'000'000'000'000;
  for (std::size_t pos = 0; pos + 3 <= in.size();) {
    const auto selector = static_cast<std::uint8_t>(in[pos]);
    const std::size_t len = static_cast<std::uint8_t>(in[pos + 1]) |
                            (static_cast<std::size_t>(static_cast<std::uint8_t>(in[pos + 2])) << 8);
    pos += 3;
    std::string_view payload = in.substr(pos, len);
    pos += payload.size();
    std::string_view topic;
    if (selector < kTopicCount) {
      topic = kTopics[selector];
    } else {
      const std::size_t nl = payload.find('\n');
      topic = payload.substr(0, nl);
      payload = nl == std::string_view::npos ? std::string_view() : payload.substr(nl + 1);
    }
    now += selector;
    const HostOutput out = host.handle(topic, payload, now);
    if (out.telemetry) {
      check(out.telemetry->transport == strata::pipeline::Transport::sparkplug, "transport");
      check(!out.telemetry->readings.empty(), "telemetry has readings");
      check(!out.telemetry->device_id.empty(), "telemetry names a device");
      check(out.telemetry->raw && *out.telemetry->raw == payload, "raw is the payload");
      for (const auto& r : out.telemetry->readings) {
        check(!r.metric.empty(), "a reading is named");
        check(r.text.has_value() || std::isfinite(r.number), "a number is finite");
      }
    }
    for (const auto& q : out.quarantine) {
      check(!q.reason.empty(), "a quarantine entry has a reason");
      check(q.raw && *q.raw == payload, "quarantine keeps the whole payload");
    }
    for (const auto& e : out.events) check(!e.detail.empty(), "an event says what happened");
    for (const auto& p : out.publish) {
      check(p.topic == host.state_topic() || p.topic.find("/NCMD/") != std::string::npos,
            "publishes only NCMD or our STATE");
      if (p.topic != host.state_topic()) {
        const auto cmd = decode_payload(p.payload);
        check(
            cmd.ok() && cmd->metrics.size() == 1 && cmd->metrics[0].name == "Node Control/Rebirth",
            "an NCMD is a rebirth request");
      }
    }
    if (const auto s = host.node_status("g", "e")) {
      check(s->online || s->devices_online.empty(), "an offline node has no online devices");
    }
  }
  return 0;
}

// SparkplugHost: birth/data/death sequences as an edge node sends them (payloads built with the
// protoc-generated classes), alias resolution, seq checks and wrap, rebirth requests, bdSeq, STATE.
#include "ingest/sparkplug/sparkplug_host.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sparkplug_b.pb.h"

namespace strata::ingest::sparkplug {
namespace {

namespace pb = org::eclipse::tahu::protobuf;

constexpr Timestamp kT0 = 1'700'000'000'000'000;  // µs
constexpr std::uint64_t kT0ms = 1'700'000'000'000;

// An edge node "g1/e1" with device "d1", as a Tahu client would build its messages.
struct EdgeNode {
  std::uint64_t seq = 0;
  std::uint64_t bd_seq = 0;

  pb::Payload payload(std::optional<std::uint64_t> with_seq = std::nullopt) {
    pb::Payload p;
    p.set_timestamp(kT0ms);
    p.set_seq(with_seq ? *with_seq : (seq++ & 0xFF));
    return p;
  }
  std::string nbirth() {
    seq = 0;
    pb::Payload p = payload();
    add(p, "bdSeq", std::nullopt, pb::Int64)->set_long_value(bd_seq);
    add(p, "Node Control/Rebirth", std::nullopt, pb::Boolean)->set_boolean_value(false);
    add(p, "uptime", 1, pb::UInt64)->set_long_value(3600);
    add(p, "mode", 2, pb::String)->set_string_value("AUTO");
    return p.SerializeAsString();
  }
  std::string ndeath(std::uint64_t bd) {
    pb::Payload p;
    p.set_timestamp(kT0ms);
    add(p, "bdSeq", std::nullopt, pb::Int64)->set_long_value(bd);
    return p.SerializeAsString();
  }
  std::string dbirth() {
    pb::Payload p = payload();
    add(p, "temp", 10, pb::Float)->set_float_value(20.5f);
    add(p, "count", 11, pb::Int32)->set_int_value(static_cast<std::uint32_t>(-3));
    add(p, "running", 12, pb::Boolean)->set_boolean_value(true);
    add(p, "blob", 13, pb::Bytes)->set_bytes_value("\x01\x02");
    return p.SerializeAsString();
  }
  // A DDATA by alias; temp with its own timestamp.
  std::string ddata(float temp, std::optional<std::uint64_t> with_seq = std::nullopt) {
    pb::Payload p = payload(with_seq);
    auto* m = p.add_metrics();
    m->set_alias(10);
    m->set_timestamp(kT0ms + 5);
    m->set_float_value(temp);
    return p.SerializeAsString();
  }
  std::string ndata(std::uint64_t uptime) {
    pb::Payload p = payload();
    auto* m = p.add_metrics();
    m->set_alias(1);
    m->set_long_value(uptime);
    return p.SerializeAsString();
  }
  static pb::Payload_Metric* add(pb::Payload& p, const std::string& name,
                                 std::optional<std::uint64_t> alias, pb::DataType type) {
    auto* m = p.add_metrics();
    m->set_name(name);
    if (alias) m->set_alias(*alias);
    m->set_datatype(type);
    m->set_timestamp(kT0ms);
    return m;
  }
};

SparkplugHost make_host(SparkplugHostOptions options = {}) {
  if (options.host_id.empty()) options.host_id = "strata";
  auto host = SparkplugHost::create(std::move(options));
  EXPECT_TRUE(host.ok());
  return std::move(host).value();
}

bool has_event(const HostOutput& out, HostEventKind kind, std::string_view device = {}) {
  for (const auto& e : out.events)
    if (e.kind == kind && e.device_id == device) return true;
  return false;
}

// The rebirth NCMD, checked field by field; false when `out` publishes none.
bool is_rebirth_request(const HostOutput& out, Timestamp at) {
  if (out.publish.size() != 1) return false;
  const OutboundMessage& m = out.publish[0];
  EXPECT_EQ(m.topic, "spBv1.0/g1/NCMD/e1");
  EXPECT_EQ(m.qos, 0);
  EXPECT_FALSE(m.retain);
  pb::Payload p;
  EXPECT_TRUE(p.ParseFromString(m.payload));
  EXPECT_EQ(p.timestamp(), static_cast<std::uint64_t>(at / 1000));
  EXPECT_EQ(p.metrics_size(), 1);
  if (p.metrics_size() != 1) return false;
  EXPECT_EQ(p.metrics(0).name(), "Node Control/Rebirth");
  EXPECT_EQ(p.metrics(0).datatype(), static_cast<std::uint32_t>(pb::Boolean));
  EXPECT_TRUE(p.metrics(0).has_boolean_value());
  EXPECT_TRUE(p.metrics(0).boolean_value());
  return true;
}

TEST(SparkplugHost, BirthsAndDataBecomeTelemetryNamedByMetric) {
  SparkplugHost host = make_host();
  EdgeNode node;
  auto nb = host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  EXPECT_TRUE(has_event(nb, HostEventKind::node_online));
  EXPECT_TRUE(nb.publish.empty());
  EXPECT_TRUE(nb.quarantine.empty());
  ASSERT_TRUE(nb.telemetry.has_value());
  EXPECT_EQ(nb.telemetry->device_id, "g1/e1");
  EXPECT_EQ(nb.telemetry->transport, pipeline::Transport::sparkplug);
  // bdSeq and Node Control/* are not readings.
  ASSERT_EQ(nb.telemetry->readings.size(), 2u);
  EXPECT_EQ(nb.telemetry->readings[0].metric, "uptime");
  EXPECT_EQ(nb.telemetry->readings[0].number, 3600);
  EXPECT_EQ(nb.telemetry->readings[1].metric, "mode");
  EXPECT_EQ(nb.telemetry->readings[1].text, "AUTO");

  auto db = host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0 + 1);
  EXPECT_TRUE(has_event(db, HostEventKind::device_online, "d1"));
  ASSERT_TRUE(db.telemetry.has_value());
  EXPECT_EQ(db.telemetry->device_id, "g1/e1/d1");
  ASSERT_EQ(db.telemetry->readings.size(), 3u);
  EXPECT_EQ(db.telemetry->readings[0].metric, "temp");
  EXPECT_EQ(db.telemetry->readings[0].number, 20.5);
  EXPECT_EQ(db.telemetry->readings[1].metric, "count");
  EXPECT_EQ(db.telemetry->readings[1].number, -3);
  EXPECT_EQ(db.telemetry->readings[2].metric, "running");
  EXPECT_EQ(db.telemetry->readings[2].number, 1);
  // The Bytes metric is set aside with its reason, not dropped.
  ASSERT_EQ(db.quarantine.size(), 1u);
  EXPECT_EQ(db.quarantine[0].device_id, "g1/e1/d1");
  EXPECT_NE(db.quarantine[0].reason.find("metric 'blob': datatype Bytes"), std::string::npos)
      << db.quarantine[0].reason;
  EXPECT_TRUE(db.publish.empty());  // a value Strata does not keep is no reason for a rebirth

  auto dd = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(22.25f), kT0 + 2);
  ASSERT_TRUE(dd.telemetry.has_value());
  ASSERT_EQ(dd.telemetry->readings.size(), 1u);
  EXPECT_EQ(dd.telemetry->readings[0].metric, "temp");  // alias 10 resolved by the DBIRTH
  EXPECT_EQ(dd.telemetry->readings[0].number, 22.25);   // datatype Float from the DBIRTH
  EXPECT_EQ(dd.telemetry->readings[0].ts, kT0 + 5000);  // the metric's ms, as µs
  EXPECT_EQ(dd.telemetry->received, kT0 + 2);
  EXPECT_EQ(*dd.telemetry->raw, node.ddata(22.25f, 2));
  EXPECT_EQ(dd.telemetry->message_id, "spBv1.0/g1/DDATA/e1/d1#2");
  EXPECT_TRUE(dd.quarantine.empty());
  EXPECT_TRUE(dd.publish.empty());

  auto nd = host.handle("spBv1.0/g1/NDATA/e1", node.ndata(3700), kT0 + 3);
  ASSERT_TRUE(nd.telemetry.has_value());
  EXPECT_EQ(nd.telemetry->readings[0].metric, "uptime");
  EXPECT_EQ(nd.telemetry->readings[0].number, 3700);
  EXPECT_EQ(nd.telemetry->readings[0].ts, Timestamp{kT0ms * 1000});  // the payload's time

  auto status = host.node_status("g1", "e1");
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->online);
  EXPECT_FALSE(status->stale);
  EXPECT_EQ(status->last_seq, 3);
  EXPECT_EQ(status->devices_online, std::vector<std::string>{"d1"});
}

TEST(SparkplugHost, AMappingTableNamesTheRegistryDevice) {
  SparkplugHostOptions options;
  options.device_ids["g1/e1/d1"] = "press-7";
  SparkplugHost host = make_host(options);
  EdgeNode node;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  auto db = host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0);
  ASSERT_TRUE(db.telemetry.has_value());
  EXPECT_EQ(db.telemetry->device_id, "press-7");
  EXPECT_EQ(host.device_id_for("g1", "e1"), "g1/e1");
}

TEST(SparkplugHost, SeqWrapsFrom255ToZero) {
  SparkplugHost host = make_host();
  EdgeNode node;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  (void)host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0);
  for (int i = 0; i < 600; ++i) {  // seq runs 2..255, 0..255, 0..89
    auto out = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(static_cast<float>(i)), kT0 + i);
    ASSERT_TRUE(out.publish.empty()) << "message " << i;
    ASSERT_TRUE(out.quarantine.empty()) << "message " << i;
    ASSERT_TRUE(out.telemetry.has_value());
    ASSERT_EQ(out.telemetry->readings[0].number, i);
  }
  EXPECT_EQ(host.node_status("g1", "e1")->last_seq, (600 + 1) % 256);
  EXPECT_FALSE(host.node_status("g1", "e1")->stale);
}

TEST(SparkplugHost, ASeqGapMakesTheNodeStaleAndRequestsARebirth) {
  SparkplugHost host = make_host();
  EdgeNode node;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  (void)host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0);  // seq 1
  auto gap = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(1, 5), kT0 + 10);
  EXPECT_TRUE(is_rebirth_request(gap, kT0 + 10));
  EXPECT_TRUE(has_event(gap, HostEventKind::node_stale, "d1"));
  EXPECT_FALSE(gap.telemetry.has_value());
  ASSERT_EQ(gap.quarantine.size(), 1u);
  EXPECT_NE(gap.quarantine[0].reason.find("has seq 5, expected 2"), std::string::npos)
      << gap.quarantine[0].reason;
  EXPECT_TRUE(host.node_status("g1", "e1")->stale);

  // Data while stale is quarantined; the rebirth request is not repeated within the interval...
  auto more = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(2, 6), kT0 + 20);
  EXPECT_FALSE(more.telemetry.has_value());
  ASSERT_EQ(more.quarantine.size(), 1u);
  EXPECT_NE(more.quarantine[0].reason.find("awaiting its NBIRTH"), std::string::npos);
  EXPECT_TRUE(more.publish.empty());
  // ... but is after it.
  auto later =
      host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(3, 7), kT0 + 10 + 5 * kMicrosPerSecond);
  EXPECT_TRUE(is_rebirth_request(later, kT0 + 10 + 5 * kMicrosPerSecond));

  // The rebirth: NBIRTH then DBIRTH; data flows again.
  auto nb = host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0 + 100);
  EXPECT_TRUE(has_event(nb, HostEventKind::device_offline, "d1"));
  EXPECT_FALSE(host.node_status("g1", "e1")->stale);
  (void)host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0 + 101);
  auto ok = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(4), kT0 + 102);
  ASSERT_TRUE(ok.telemetry.has_value());
  EXPECT_EQ(ok.telemetry->readings[0].number, 4);
  EXPECT_TRUE(ok.publish.empty());
}

TEST(SparkplugHost, AnOutOfOrderSeqIsAGapToo) {
  SparkplugHost host = make_host();
  EdgeNode node;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  (void)host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0);
  (void)host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(1), kT0);  // seq 2
  auto back = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(1, 1), kT0 + 1);
  EXPECT_TRUE(is_rebirth_request(back, kT0 + 1));
  EXPECT_FALSE(back.telemetry.has_value());
}

TEST(SparkplugHost, AnUnknownAliasIsQuarantinedAndAsksForARebirth) {
  SparkplugHost host = make_host();
  EdgeNode node;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  (void)host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0);
  pb::Payload p = node.payload();
  p.add_metrics()->set_alias(10);
  p.mutable_metrics(0)->set_float_value(30);
  p.add_metrics()->set_alias(99);
  p.mutable_metrics(1)->set_double_value(1);
  auto out = host.handle("spBv1.0/g1/DDATA/e1/d1", p.SerializeAsString(), kT0 + 7);
  ASSERT_TRUE(out.telemetry.has_value());  // the known metric still arrives
  ASSERT_EQ(out.telemetry->readings.size(), 1u);
  EXPECT_EQ(out.telemetry->readings[0].metric, "temp");
  ASSERT_EQ(out.quarantine.size(), 1u);
  EXPECT_NE(out.quarantine[0].reason.find("metric alias 99 is not in the BIRTH"), std::string::npos)
      << out.quarantine[0].reason;
  EXPECT_TRUE(is_rebirth_request(out, kT0 + 7));
  EXPECT_TRUE(host.node_status("g1", "e1")->stale);
}

TEST(SparkplugHost, DataBeforeBirthIsQuarantinedAndAsksForARebirth) {
  SparkplugHost host = make_host();
  EdgeNode node;
  node.seq = 17;
  auto out = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(1), kT0);
  EXPECT_FALSE(out.telemetry.has_value());
  ASSERT_EQ(out.quarantine.size(), 1u);
  EXPECT_EQ(out.quarantine[0].device_id, "g1/e1/d1");
  EXPECT_NE(out.quarantine[0].reason.find("no NBIRTH of this edge node is current"),
            std::string::npos)
      << out.quarantine[0].reason;
  EXPECT_EQ(*out.quarantine[0].raw, node.ddata(1, 17));
  EXPECT_TRUE(is_rebirth_request(out, kT0));
  EXPECT_TRUE(has_event(out, HostEventKind::node_stale, "d1"));

  // A DDATA of a device without DBIRTH, on a born node.
  SparkplugHost host2 = make_host();
  EdgeNode node2;
  (void)host2.handle("spBv1.0/g1/NBIRTH/e1", node2.nbirth(), kT0);
  auto dd = host2.handle("spBv1.0/g1/DDATA/e1/d1", node2.ddata(1), kT0 + 1);
  EXPECT_FALSE(dd.telemetry.has_value());
  ASSERT_EQ(dd.quarantine.size(), 1u);
  EXPECT_NE(dd.quarantine[0].reason.find("device 'd1' has no current DBIRTH"), std::string::npos);
  EXPECT_TRUE(is_rebirth_request(dd, kT0 + 1));
}

TEST(SparkplugHost, ADeathWhoseBdSeqDoesNotMatchTheBirthIsIgnored) {
  SparkplugHost host = make_host();
  EdgeNode node;
  node.bd_seq = 4;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  (void)host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0);
  auto late = host.handle("spBv1.0/g1/NDEATH/e1", node.ndeath(3), kT0 + 1);
  EXPECT_TRUE(has_event(late, HostEventKind::death_ignored));
  EXPECT_FALSE(has_event(late, HostEventKind::node_offline));
  EXPECT_TRUE(host.node_status("g1", "e1")->online);
  auto dd = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(9), kT0 + 2);
  ASSERT_TRUE(dd.telemetry.has_value());  // still online, still in sequence

  auto death = host.handle("spBv1.0/g1/NDEATH/e1", node.ndeath(4), kT0 + 3);
  EXPECT_TRUE(has_event(death, HostEventKind::node_offline));
  EXPECT_TRUE(has_event(death, HostEventKind::device_offline, "d1"));
  EXPECT_FALSE(host.node_status("g1", "e1")->online);
  EXPECT_TRUE(host.node_status("g1", "e1")->devices_online.empty());
}

TEST(SparkplugHost, ADeviceDeathTakesTheDeviceOffline) {
  SparkplugHost host = make_host();
  EdgeNode node;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  (void)host.handle("spBv1.0/g1/DBIRTH/e1/d1", node.dbirth(), kT0);
  auto dd = host.handle("spBv1.0/g1/DDEATH/e1/d1", node.payload().SerializeAsString(), kT0 + 1);
  EXPECT_TRUE(has_event(dd, HostEventKind::device_offline, "d1"));
  EXPECT_TRUE(host.node_status("g1", "e1")->devices_online.empty());
  auto after = host.handle("spBv1.0/g1/DDATA/e1/d1", node.ddata(1), kT0 + 2);
  EXPECT_FALSE(after.telemetry.has_value());
  EXPECT_EQ(after.quarantine.size(), 1u);
}

TEST(SparkplugHost, NullTransientAndUndecodableInputNeverCrashOrVanish) {
  SparkplugHost host = make_host();
  EdgeNode node;
  (void)host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0);
  pb::Payload p = node.payload();
  auto* a = p.add_metrics();
  a->set_alias(1);
  a->set_is_null(true);
  auto* b = p.add_metrics();
  b->set_alias(2);
  b->set_is_transient(true);
  b->set_string_value("MANUAL");
  auto* c = p.add_metrics();
  c->set_name("mode");
  c->set_string_value("MANUAL");
  auto out = host.handle("spBv1.0/g1/NDATA/e1", p.SerializeAsString(), kT0);
  ASSERT_TRUE(out.telemetry.has_value());
  ASSERT_EQ(out.telemetry->readings.size(), 1u);  // by name; the null and the transient are not
  EXPECT_EQ(out.telemetry->readings[0].text, "MANUAL");

  auto garbage = host.handle("spBv1.0/g1/NDATA/e1", std::string("\x0a\xff\xff", 3), kT0 + 1);
  EXPECT_TRUE(has_event(garbage, HostEventKind::message_refused));
  ASSERT_EQ(garbage.quarantine.size(), 1u);
  EXPECT_NE(garbage.quarantine[0].reason.find("NDATA from g1/e1: Sparkplug payload of 3 bytes"),
            std::string::npos)
      << garbage.quarantine[0].reason;
  EXPECT_TRUE(is_rebirth_request(garbage, kT0 + 1));

  auto bad_topic = host.handle("spBv1.0/g1/NOPE/e1", "x", kT0);
  EXPECT_TRUE(has_event(bad_topic, HostEventKind::message_refused));
  ASSERT_EQ(bad_topic.quarantine.size(), 1u);
  EXPECT_EQ(bad_topic.quarantine[0].device_id, "spBv1.0/g1/NOPE/e1");
}

TEST(SparkplugHost, TemplateInstancesBecomeReadingsPerMember) {
  SparkplugHost host = make_host();
  EdgeNode node;
  pb::Payload birth = node.payload();
  birth.mutable_metrics()->Clear();
  node.seq = 1;
  EdgeNode::add(birth, "bdSeq", std::nullopt, pb::Int64)->set_long_value(0);
  auto* def = EdgeNode::add(birth, "_types_/Motor", std::nullopt, pb::Template);
  def->mutable_template_value()->set_is_definition(true);
  auto* dm = def->mutable_template_value()->add_metrics();
  dm->set_name("rpm");
  dm->set_datatype(pb::Int32);
  dm->set_int_value(0);
  auto* inst = EdgeNode::add(birth, "Motor1", 5, pb::Template);
  auto* t = inst->mutable_template_value();
  t->set_template_ref("Motor");
  auto* rpm = t->add_metrics();
  rpm->set_name("rpm");
  rpm->set_datatype(pb::Int32);
  rpm->set_int_value(1500);
  auto* state = t->add_metrics();
  state->set_name("state");
  state->set_datatype(pb::String);
  state->set_string_value("RUN");
  auto nb = host.handle("spBv1.0/g1/NBIRTH/e1", birth.SerializeAsString(), kT0);
  EXPECT_TRUE(nb.quarantine.empty()) << nb.quarantine[0].reason;
  ASSERT_TRUE(nb.telemetry.has_value());
  ASSERT_EQ(nb.telemetry->readings.size(), 2u);  // the definition is not a reading
  EXPECT_EQ(nb.telemetry->readings[0].metric, "Motor1/rpm");
  EXPECT_EQ(nb.telemetry->readings[0].number, 1500);
  EXPECT_EQ(nb.telemetry->readings[1].metric, "Motor1/state");
  EXPECT_EQ(nb.telemetry->readings[1].text, "RUN");

  // NDATA by alias; the member's datatype comes from the NBIRTH.
  pb::Payload data = node.payload();
  auto* m = data.add_metrics();
  m->set_alias(5);
  auto* member = m->mutable_template_value()->add_metrics();
  member->set_name("rpm");
  member->set_int_value(1600);
  auto nd = host.handle("spBv1.0/g1/NDATA/e1", data.SerializeAsString(), kT0 + 1);
  EXPECT_TRUE(nd.quarantine.empty());
  EXPECT_TRUE(nd.publish.empty());
  ASSERT_TRUE(nd.telemetry.has_value());
  ASSERT_EQ(nd.telemetry->readings.size(), 1u);
  EXPECT_EQ(nd.telemetry->readings[0].metric, "Motor1/rpm");
  EXPECT_EQ(nd.telemetry->readings[0].number, 1600);
}

TEST(SparkplugHost, StateBirthAndWillShareTheSessionTimestamp) {
  SparkplugHost host = make_host();
  EXPECT_EQ(host.state_topic(), "spBv1.0/STATE/strata");
  StateMessages s = host.begin_session(kT0 + 999);
  EXPECT_EQ(s.birth.topic, "spBv1.0/STATE/strata");
  EXPECT_EQ(s.will.topic, "spBv1.0/STATE/strata");
  EXPECT_TRUE(s.birth.retain && s.will.retain);
  EXPECT_EQ(s.birth.qos, 1);
  EXPECT_EQ(s.will.qos, 1);
  const auto birth = nlohmann::json::parse(s.birth.payload);
  const auto will = nlohmann::json::parse(s.will.payload);
  EXPECT_EQ(birth["online"], true);
  EXPECT_EQ(will["online"], false);
  EXPECT_EQ(birth["timestamp"], kT0ms);
  EXPECT_EQ(will["timestamp"], kT0ms);

  // Our own id seen offline (a retained will of an earlier session): the birth is republished.
  auto own = host.handle("spBv1.0/STATE/strata", s.will.payload, kT0 + 5);
  ASSERT_EQ(own.publish.size(), 1u);
  EXPECT_EQ(own.publish[0].payload, s.birth.payload);
  EXPECT_TRUE(host.handle("spBv1.0/STATE/strata", s.birth.payload, kT0).publish.empty());
  EXPECT_TRUE(host.handle("spBv1.0/STATE/other", s.will.payload, kT0).publish.empty());
  EXPECT_TRUE(host.handle("spBv1.0/STATE/strata", "not json", kT0).publish.empty());
}

TEST(SparkplugHost, TracksAtMostMaxEdgeNodes) {
  SparkplugHostOptions options;
  options.max_edge_nodes = 1;
  SparkplugHost host = make_host(options);
  EdgeNode node;
  EXPECT_TRUE(host.handle("spBv1.0/g1/NBIRTH/e1", node.nbirth(), kT0).telemetry.has_value());
  auto second = host.handle("spBv1.0/g1/NBIRTH/e2", node.nbirth(), kT0);
  EXPECT_FALSE(second.telemetry.has_value());
  ASSERT_EQ(second.quarantine.size(), 1u);
  EXPECT_NE(second.quarantine[0].reason.find("already tracks 1 edge nodes"), std::string::npos);
  EXPECT_FALSE(host.node_status("g1", "e2").has_value());
  EXPECT_TRUE(host.handle("spBv1.0/g1/NDATA/e1", node.ndata(1), kT0).telemetry.has_value());
}

TEST(SparkplugHost, RefusesAnUnusableHostId) {
  for (const char* id : {"", "a/b", "a+", "#"}) {
    SparkplugHostOptions o;
    o.host_id = id;
    auto h = SparkplugHost::create(o);
    ASSERT_FALSE(h.ok()) << id;
    EXPECT_TRUE(h.error().is(errc::bad_config));
  }
}

}  // namespace
}  // namespace strata::ingest::sparkplug

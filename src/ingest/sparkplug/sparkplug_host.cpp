#include "ingest/sparkplug/sparkplug_host.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

#include "ingest/text_scan.hpp"  // shown()

namespace strata::ingest::sparkplug {
namespace {

constexpr std::string_view kRebirthMetric = "Node Control/Rebirth";
constexpr std::string_view kNodeControlPrefix = "Node Control/";
constexpr std::string_view kBdSeq = "bdSeq";
constexpr std::size_t kMaxReasons = 16;

std::string node_key(std::string_view group, std::string_view edge) {
  std::string k(group);
  k += '/';
  k += edge;
  return k;
}

// "NDATA from g1/e1 (seq 7)", the start of every reason about a message.
std::string describe(const Topic& t, const Payload* p = nullptr) {
  std::string s(message_type_name(t.type));
  s += " from ";
  s += node_key(t.group_id, t.edge_node_id);
  if (!t.device_id.empty()) {
    s += '/';
    s += t.device_id;
  }
  if (p != nullptr && p->seq) s += " (seq " + std::to_string(*p->seq) + ")";
  return s;
}

std::optional<std::uint64_t> bd_seq_of(const Payload& p) {
  for (const Metric& m : p.metrics) {
    if (m.name && *m.name == kBdSeq &&
        (m.value.field == WireValue::Field::long_value ||
         m.value.field == WireValue::Field::int_value)) {
      return m.value.integer;
    }
  }
  return std::nullopt;
}

std::string show_bd_seq(const std::optional<std::uint64_t>& b) {
  return b ? std::to_string(*b) : std::string("none");
}

std::string metric_label(const Metric& m, std::size_t index) {
  if (m.name) return "metric '" + shown(*m.name) + "'";
  if (m.alias) return "metric alias " + std::to_string(*m.alias);
  return "metric #" + std::to_string(index + 1);
}

// Declares a Template instance's members ("{instance}/{member}", recursively) with their
// datatypes, so that a DATA message may leave a member's datatype out.
void add_members(const std::string& prefix, const Metric& m, auto& table) {
  for (const Metric& member : m.members) {
    if (!member.name || member.name->empty()) continue;
    const std::string full = prefix + "/" + *member.name;
    if (member.datatype) table.datatype_by_name[full] = *member.datatype;
    add_members(full, member, table);
  }
}

}  // namespace

std::string_view host_event_name(HostEventKind kind) {
  static constexpr std::array<std::string_view, 7> kNames = {
      "node_online", "node_offline",  "device_online",  "device_offline",
      "node_stale",  "death_ignored", "message_refused"};
  return kNames[static_cast<std::size_t>(kind)];
}

Result<SparkplugHost> SparkplugHost::create(SparkplugHostOptions options) {
  if (options.host_id.empty() || options.host_id.find_first_of("/+#") != std::string::npos) {
    return Error::of(errc::bad_config,
                     "Sparkplug host id '" + shown(options.host_id) +
                         "' must be non-empty and contain no '/', '+' or '#' (it names the topic "
                         "spBv1.0/STATE/{host_id})");
  }
  if (options.rebirth_interval < 0) {
    return Error::of(errc::bad_config, "Sparkplug rebirth interval must not be negative");
  }
  return SparkplugHost(std::move(options));
}

SparkplugHost::SparkplugHost(SparkplugHostOptions options)
    : options_(std::move(options)),
      state_topic_(std::string(kNamespace) + "/STATE/" + options_.host_id) {}

std::string SparkplugHost::device_id_for(std::string_view group, std::string_view edge,
                                         std::string_view device) const {
  std::string name = node_key(group, edge);
  if (!device.empty()) {
    name += '/';
    name += device;
  }
  if (auto it = options_.device_ids.find(name); it != options_.device_ids.end()) return it->second;
  return name;
}

std::optional<NodeStatus> SparkplugHost::node_status(std::string_view group,
                                                     std::string_view edge) const {
  const auto it = nodes_.find(node_key(group, edge));
  if (it == nodes_.end()) return std::nullopt;
  const Node& n = it->second;
  NodeStatus s;
  s.online = n.online;
  s.stale = n.stale;
  s.bd_seq = n.bd_seq;
  s.last_seq = n.last_seq;
  s.node_metrics = n.metrics.datatype_by_name.size();
  for (const auto& [device, table] : n.devices) s.devices_online.push_back(device);
  return s;
}

StateMessages SparkplugHost::begin_session(Timestamp connect_time) {
  session_time_ = connect_time;
  const auto state = [&](bool online) {
    nlohmann::json j = {{"online", online}, {"timestamp", connect_time / 1000}};
    return OutboundMessage{state_topic_, j.dump(), 1, true};
  };
  return StateMessages{state(true), state(false)};
}

SparkplugHost::Node* SparkplugHost::node_for(const Topic& t) {
  std::string key = node_key(t.group_id, t.edge_node_id);
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    if (nodes_.size() >= options_.max_edge_nodes) return nullptr;
    it = nodes_.emplace(std::move(key), Node{}).first;
  }
  return &it->second;
}

HostOutput SparkplugHost::handle(std::string_view topic_text, std::string_view payload_bytes,
                                 Timestamp received) {
  HostOutput out;
  const auto topic = parse_topic(topic_text);
  if (!topic) {
    out.events.push_back(
        {HostEventKind::message_refused, {}, {}, {}, topic.error().message, received});
    out.quarantine.push_back({std::string(topic_text),
                              std::make_shared<const std::string>(payload_bytes),
                              topic.error().message});
    return out;
  }
  const Topic& t = *topic;
  if (t.type == MessageType::state) {
    on_state(t, payload_bytes, out);
    return out;
  }
  // Commands are ours (a host subscribed to spBv1.0/# sees its own NCMDs) or another host's:
  // they are not telemetry and carry no seq of the edge node.
  if (t.type == MessageType::ncmd || t.type == MessageType::dcmd) return out;

  const std::string device_id = device_id_for(t.group_id, t.edge_node_id, t.device_id);
  auto raw = std::make_shared<const std::string>(payload_bytes);
  Node* found = node_for(t);
  if (found == nullptr) {
    const std::string reason =
        describe(t) + ": Strata already tracks " + std::to_string(options_.max_edge_nodes) +
        " edge nodes (raise the Sparkplug host's max_edge_nodes, or narrow its filters)";
    out.events.push_back({HostEventKind::message_refused, t.group_id, t.edge_node_id, t.device_id,
                          reason, received});
    out.quarantine.push_back({device_id, raw, reason});
    return out;
  }
  Node& node = *found;
  const auto decoded = decode_payload(payload_bytes);
  if (!decoded) {
    const std::string reason = describe(t) + ": " + decoded.error().message;
    out.events.push_back({HostEventKind::message_refused, t.group_id, t.edge_node_id, t.device_id,
                          reason, received});
    out.quarantine.push_back({device_id, raw, reason});
    // After an unreadable BIRTH or DATA the node's state is unknown: ask for all of it again.
    if (t.type != MessageType::ndeath) make_stale(t, node, reason, received, out);
    return out;
  }
  const Payload& p = *decoded;

  std::vector<std::string> problems;
  pipeline::TelemetryMessage msg;
  switch (t.type) {
    case MessageType::nbirth:
      on_node_birth(t, node, p, received, out, problems);
      break;
    case MessageType::ndeath:
      on_node_death(t, node, p, received, out);
      break;
    default:
      on_sequenced(t, node, p, received, out, problems);
      break;
  }
  if (out.telemetry) {
    out.telemetry->transport = pipeline::Transport::sparkplug;
    out.telemetry->device_id = device_id;
    out.telemetry->message_id = std::string(topic_text);
    if (p.seq) out.telemetry->message_id += "#" + std::to_string(*p.seq);
    out.telemetry->received = received;
    out.telemetry->raw = raw;
  }
  if (!problems.empty()) {
    std::string reason = describe(t, &p) + ": ";
    for (std::size_t i = 0; i < problems.size() && i < kMaxReasons; ++i) {
      if (i) reason += "; ";
      reason += problems[i];
    }
    if (problems.size() > kMaxReasons) {
      reason += "; and " + std::to_string(problems.size() - kMaxReasons) + " more";
    }
    out.quarantine.push_back({device_id, raw, std::move(reason)});
  }
  return out;
}

void SparkplugHost::on_state(const Topic& t, std::string_view payload, HostOutput& out) const {
  // Another host's STATE is not ours to act on. Our own "offline" (a stale retained will, or
  // another instance with our id that went away) is answered with our birth again (§7.4.1).
  if (t.host_id != options_.host_id || !session_time_) return;
  const auto j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  const auto online = j.find("online");
  if (online == j.end() || !online->is_boolean() || online->get<bool>()) return;
  nlohmann::json birth = {{"online", true}, {"timestamp", *session_time_ / 1000}};
  out.publish.push_back({state_topic_, birth.dump(), 1, true});
}

SparkplugHost::AliasTable SparkplugHost::table_of(const Payload& p,
                                                  std::vector<std::string>& problems) {
  AliasTable table;
  for (std::size_t i = 0; i < p.metrics.size(); ++i) {
    const Metric& m = p.metrics[i];
    if (!m.name || m.name->empty()) {
      problems.push_back(metric_label(m, i) + " has no name (a BIRTH must name every metric)");
      continue;
    }
    if (!m.datatype) {
      problems.push_back(metric_label(m, i) +
                         " has no datatype (a BIRTH must declare every metric's datatype)");
      continue;
    }
    table.datatype_by_name[*m.name] = *m.datatype;
    add_members(*m.name, m, table);
    if (m.alias) {
      auto [it, inserted] = table.by_alias.try_emplace(*m.alias, MetricDef{*m.name, *m.datatype});
      if (!inserted && it->second.name != *m.name) {
        problems.push_back("alias " + std::to_string(*m.alias) + " is given to both '" +
                           shown(it->second.name) + "' and '" + shown(*m.name) +
                           "'; the first is kept");
      }
    }
  }
  return table;
}

bool SparkplugHost::readings_of(const AliasTable& table, const Payload& p, bool birth,
                                pipeline::TelemetryMessage& msg,
                                std::vector<std::string>& problems) const {
  bool unknown = false;
  for (std::size_t i = 0; i < p.metrics.size(); ++i) {
    const Metric& m = p.metrics[i];
    std::string name;
    std::optional<std::uint32_t> datatype = m.datatype;
    if (m.name && m.name->empty()) {
      problems.push_back(metric_label(m, i) + " has an empty name");
      continue;
    }
    if (m.name) {
      name = *m.name;
      const auto it = table.datatype_by_name.find(name);
      if (it != table.datatype_by_name.end()) {
        if (!datatype) datatype = it->second;
      } else if (!birth) {
        problems.push_back(metric_label(m, i) + " is not in the BIRTH (rebirth requested)");
        unknown = true;
        continue;
      }
    } else if (m.alias) {
      const auto it = table.by_alias.find(*m.alias);
      if (it == table.by_alias.end()) {
        problems.push_back(metric_label(m, i) + " is not in the BIRTH (rebirth requested)");
        unknown = true;
        continue;
      }
      name = it->second.name;
      if (!datatype) datatype = it->second.datatype;
    } else {
      problems.push_back(metric_label(m, i) + " has neither a name nor an alias");
      continue;
    }
    // Not readings: the birth/death counter, the node's control switches, template definitions,
    // metrics the node marks as not to be historised, explicit nulls, declarations without value.
    if (name == kBdSeq || name.starts_with(kNodeControlPrefix) || m.is_template_definition ||
        m.is_transient || m.is_null || (birth && m.value.field == WireValue::Field::none)) {
      continue;
    }
    add_readings(std::move(name), datatype, m, p.timestamp, table, msg, problems);
  }
  return unknown;
}

void SparkplugHost::add_readings(std::string name, std::optional<std::uint32_t> datatype,
                                 const Metric& m, std::optional<Timestamp> ts,
                                 const AliasTable& table, pipeline::TelemetryMessage& msg,
                                 std::vector<std::string>& problems) const {
  if (!m.problem.empty()) {
    problems.push_back("metric '" + shown(name) + "': " + m.problem);
    return;
  }
  if (m.timestamp) ts = m.timestamp;
  if (m.value.field == WireValue::Field::template_value) {
    // A Template instance: each member is a reading "{instance}/{member}"; a member's datatype
    // is its own or the one the BIRTH declared for that member.
    for (std::size_t i = 0; i < m.members.size(); ++i) {
      const Metric& member = m.members[i];
      if (!member.name || member.name->empty()) {
        problems.push_back("member #" + std::to_string(i + 1) + " of template instance '" +
                           shown(name) + "' has no name");
        continue;
      }
      if (member.is_transient || member.is_null || member.is_template_definition ||
          (member.value.field == WireValue::Field::none)) {
        continue;
      }
      std::string full = name + "/" + *member.name;
      std::optional<std::uint32_t> member_type = member.datatype;
      if (!member_type) {
        if (const auto it = table.datatype_by_name.find(full); it != table.datatype_by_name.end())
          member_type = it->second;
      }
      add_readings(std::move(full), member_type, member, ts, table, msg, problems);
    }
    return;
  }
  if (!datatype) {
    problems.push_back("metric '" + shown(name) + "' has no datatype");
    return;
  }
  auto value = metric_value(*datatype, m.value);
  if (!value) {
    problems.push_back("metric '" + shown(name) + "': " + value.error().message);
    return;
  }
  pipeline::Reading& r = msg.readings.emplace_back();
  r.metric = std::move(name);
  r.ts = ts;
  if (value->is_text) {
    r.text = std::move(value->text);
  } else {
    r.number = value->number;
  }
}

void SparkplugHost::on_node_birth(const Topic& t, Node& node, const Payload& p, Timestamp received,
                                  HostOutput& out, std::vector<std::string>& problems) {
  for (const auto& [device, table] : node.devices) {
    out.events.push_back({HostEventKind::device_offline, t.group_id, t.edge_node_id, device,
                          "its edge node was reborn; a DBIRTH will follow", received});
  }
  node.devices.clear();
  node.online = true;
  node.stale = false;
  node.stale_reason.clear();
  node.bd_seq = bd_seq_of(p);
  node.last_seq.reset();
  if (p.seq && *p.seq <= 255) {
    node.last_seq = static_cast<std::uint8_t>(*p.seq);
  } else {
    problems.push_back("the NBIRTH has no seq in 0..255; the next message's seq starts the count");
  }
  if (!node.bd_seq) problems.push_back("the NBIRTH has no bdSeq metric");
  node.metrics = table_of(p, problems);
  out.events.push_back({HostEventKind::node_online,
                        t.group_id,
                        t.edge_node_id,
                        {},
                        "NBIRTH with bdSeq " + show_bd_seq(node.bd_seq) + ", " +
                            std::to_string(node.metrics.datatype_by_name.size()) + " metrics",
                        received});
  pipeline::TelemetryMessage msg;
  readings_of(node.metrics, p, true, msg, problems);
  if (!msg.readings.empty()) out.telemetry = std::move(msg);
}

void SparkplugHost::on_node_death(const Topic& t, Node& node, const Payload& p, Timestamp received,
                                  HostOutput& out) {
  const auto bd_seq = bd_seq_of(p);
  if (!node.online) {
    out.events.push_back(
        {HostEventKind::death_ignored,
         t.group_id,
         t.edge_node_id,
         {},
         "NDEATH with bdSeq " + show_bd_seq(bd_seq) + " for an edge node that is not online",
         received});
    return;
  }
  if (bd_seq != node.bd_seq) {
    out.events.push_back({HostEventKind::death_ignored,
                          t.group_id,
                          t.edge_node_id,
                          {},
                          "NDEATH with bdSeq " + show_bd_seq(bd_seq) +
                              " does not match the current NBIRTH's bdSeq " +
                              show_bd_seq(node.bd_seq) + " (a late will of an earlier session)",
                          received});
    return;
  }
  for (const auto& [device, table] : node.devices) {
    out.events.push_back({HostEventKind::device_offline, t.group_id, t.edge_node_id, device,
                          "its edge node went offline (NDEATH)", received});
  }
  node.devices.clear();
  node.online = false;
  node.stale = false;
  node.stale_reason.clear();
  node.last_seq.reset();
  out.events.push_back({HostEventKind::node_offline,
                        t.group_id,
                        t.edge_node_id,
                        {},
                        "NDEATH with bdSeq " + show_bd_seq(bd_seq),
                        received});
}

void SparkplugHost::on_sequenced(const Topic& t, Node& node, const Payload& p, Timestamp received,
                                 HostOutput& out, std::vector<std::string>& problems) {
  const auto quarantine_all = [&](const std::string& why) {
    problems.push_back(why + "; its " + std::to_string(p.metrics.size()) +
                       " metrics are quarantined");
  };
  if (!node.online) {
    const std::string why = "no NBIRTH of this edge node is current (rebirth requested)";
    make_stale(t, node, describe(t, &p) + " before its NBIRTH", received, out);
    quarantine_all(why);
    return;
  }
  if (!check_seq(t, node, p, received, out)) {
    quarantine_all("edge node is stale: " + node.stale_reason);
    return;
  }
  if (node.stale) {
    request_rebirth(t, node, received, out);
    quarantine_all("edge node is stale since " + node.stale_reason + "; awaiting its NBIRTH");
    return;
  }
  if (t.type == MessageType::ddeath) {
    const bool was_online = node.devices.erase(t.device_id) > 0;
    out.events.push_back({HostEventKind::device_offline, t.group_id, t.edge_node_id, t.device_id,
                          was_online ? "DDEATH" : "DDEATH of a device that was not online",
                          received});
    return;
  }
  pipeline::TelemetryMessage msg;
  bool unknown = false;
  if (t.type == MessageType::dbirth) {
    AliasTable table = table_of(p, problems);
    readings_of(table, p, true, msg, problems);
    out.events.push_back(
        {HostEventKind::device_online, t.group_id, t.edge_node_id, t.device_id,
         "DBIRTH with " + std::to_string(table.datatype_by_name.size()) + " metrics", received});
    node.devices.insert_or_assign(t.device_id, std::move(table));
  } else if (t.type == MessageType::ndata) {
    unknown = readings_of(node.metrics, p, false, msg, problems);
  } else {  // ddata
    const auto device = node.devices.find(t.device_id);
    if (device == node.devices.end()) {
      make_stale(t, node, describe(t, &p) + " before the device's DBIRTH", received, out);
      quarantine_all("device '" + shown(t.device_id) +
                     "' has no current DBIRTH (rebirth requested)");
      return;
    }
    unknown = readings_of(device->second, p, false, msg, problems);
  }
  if (unknown) {
    make_stale(t, node, describe(t, &p) + " named a metric its BIRTH did not declare", received,
               out);
  }
  if (!msg.readings.empty()) out.telemetry = std::move(msg);
}

bool SparkplugHost::check_seq(const Topic& t, Node& node, const Payload& p, Timestamp received,
                              HostOutput& out) {
  if (!p.seq || *p.seq > 255) {
    make_stale(t, node,
               describe(t) + (p.seq ? " with seq " + std::to_string(*p.seq) + " (not in 0..255)"
                                    : " without a seq"),
               received, out);
    return false;
  }
  const auto seq = static_cast<std::uint8_t>(*p.seq);
  const std::optional<std::uint8_t> last = node.last_seq;
  node.last_seq = seq;
  if (!last) return true;  // the NBIRTH had none: this message starts the count
  const auto expected = static_cast<std::uint8_t>(*last + 1);
  if (seq == expected) return true;
  if (!node.stale) {
    make_stale(t, node,
               "a seq gap (" + describe(t) + " has seq " + std::to_string(seq) + ", expected " +
                   std::to_string(expected) + ")",
               received, out);
  } else {
    request_rebirth(t, node, received, out);
  }
  return false;
}

void SparkplugHost::make_stale(const Topic& t, Node& node, std::string why, Timestamp received,
                               HostOutput& out) {
  if (!node.stale) {
    node.stale = true;
    node.stale_reason = std::move(why);
    out.events.push_back({HostEventKind::node_stale, t.group_id, t.edge_node_id, t.device_id,
                          node.stale_reason + "; rebirth requested", received});
  }
  request_rebirth(t, node, received, out);
}

void SparkplugHost::request_rebirth(const Topic& t, Node& node, Timestamp received,
                                    HostOutput& out) {
  if (node.last_rebirth_request &&
      received - *node.last_rebirth_request < options_.rebirth_interval &&
      received >= *node.last_rebirth_request) {
    return;
  }
  node.last_rebirth_request = received;
  Payload p;
  p.timestamp = received;
  Metric& m = p.metrics.emplace_back();
  m.name = std::string(kRebirthMetric);
  m.timestamp = received;
  m.datatype = static_cast<std::uint32_t>(DataType::boolean);
  m.value.field = WireValue::Field::boolean_value;
  m.value.integer = 1;
  Topic cmd;
  cmd.type = MessageType::ncmd;
  cmd.group_id = t.group_id;
  cmd.edge_node_id = t.edge_node_id;
  out.publish.push_back({topic_string(cmd), encode_payload(p), 0, false});
}

}  // namespace strata::ingest::sparkplug

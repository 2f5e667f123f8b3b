#include "ingest/sparkplug/sparkplug_topic.hpp"

#include <array>
#include <optional>
#include <vector>

#include "ingest/text_scan.hpp"  // shown(), utf8_length()

namespace strata::ingest::sparkplug {
namespace {

constexpr std::array<std::string_view, 9> kTypeNames = {
    "NBIRTH", "NDEATH", "NDATA", "NCMD", "DBIRTH", "DDEATH", "DDATA", "DCMD", "STATE"};

std::optional<MessageType> parse_type(std::string_view s) {
  for (std::size_t i = 0; i < kTypeNames.size(); ++i) {
    if (kTypeNames[i] == s) return static_cast<MessageType>(i);
  }
  return std::nullopt;
}

Error topic_error(std::string_view topic, const std::string& why) {
  return Error::of(errc::bad_topic, "Sparkplug topic '" + shown(topic) + "': " + why);
}

// Why an id segment is not valid, or empty when it is.
std::string id_problem(std::string_view what, std::string_view id) {
  if (id.empty()) return std::string(what) + " is empty";
  for (std::size_t i = 0; i < id.size();) {
    const char c = id[i];
    if (c == '+' || c == '#') {
      return std::string(what) + " '" + shown(id) + "' contains the MQTT wildcard '" + c + "'";
    }
    const std::size_t n = static_cast<unsigned char>(c) < 0x80 ? 1 : utf8_length(id, i);
    if (n == 0) return std::string(what) + " '" + shown(id) + "' is not valid UTF-8";
    i += n;
  }
  return {};
}

}  // namespace

std::string_view message_type_name(MessageType type) {
  return kTypeNames[static_cast<std::size_t>(type)];
}

Result<Topic> parse_topic(std::string_view topic) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = topic.find('/', start);
    parts.push_back(topic.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
    if (parts.size() > 5) break;  // too many segments either way; the count check says so
  }
  if (parts[0] != kNamespace) {
    return topic_error(
        topic, "does not start with '" + std::string(kNamespace) + "/' (only Sparkplug B is read)");
  }
  Topic out;
  if (parts.size() >= 2 && parts[1] == "STATE") {
    if (parts.size() != 3) {
      return topic_error(topic, "a STATE topic is spBv1.0/STATE/{host_id}");
    }
    if (auto p = id_problem("host_id", parts[2]); !p.empty()) return topic_error(topic, p);
    out.type = MessageType::state;
    out.host_id = std::string(parts[2]);
    return out;
  }
  if (parts.size() < 4 || parts.size() > 5) {
    return topic_error(topic,
                       "expected spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]");
  }
  const auto type = parse_type(parts[2]);
  if (!type || *type == MessageType::state) {
    return topic_error(topic, "message type '" + shown(parts[2]) +
                                  "' is not one of NBIRTH, NDEATH, NDATA, NCMD, DBIRTH, DDEATH, "
                                  "DDATA, DCMD");
  }
  out.type = *type;
  if (is_device_message(*type) != (parts.size() == 5)) {
    return topic_error(topic, std::string(message_type_name(*type)) +
                                  (is_device_message(*type) ? " needs a device_id segment"
                                                            : " takes no device_id segment"));
  }
  if (auto p = id_problem("group_id", parts[1]); !p.empty()) return topic_error(topic, p);
  if (auto p = id_problem("edge_node_id", parts[3]); !p.empty()) return topic_error(topic, p);
  out.group_id = std::string(parts[1]);
  out.edge_node_id = std::string(parts[3]);
  if (parts.size() == 5) {
    if (auto p = id_problem("device_id", parts[4]); !p.empty()) return topic_error(topic, p);
    out.device_id = std::string(parts[4]);
  }
  return out;
}

std::string topic_string(const Topic& topic) {
  std::string s(kNamespace);
  if (topic.type == MessageType::state) return s + "/STATE/" + topic.host_id;
  s += '/';
  s += topic.group_id;
  s += '/';
  s += message_type_name(topic.type);
  s += '/';
  s += topic.edge_node_id;
  if (is_device_message(topic.type)) {
    s += '/';
    s += topic.device_id;
  }
  return s;
}

}  // namespace strata::ingest::sparkplug

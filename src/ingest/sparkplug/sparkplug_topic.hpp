#pragma once
// Sparkplug B topics (Eclipse Sparkplug 3.0, §4.1 "Topic Namespace Elements"): which edge node or
// device a message is about and what kind of message it is, read from the MQTT topic alone.
//
//   spBv1.0/{group_id}/{NBIRTH|NDEATH|NDATA|NCMD}/{edge_node_id}
//   spBv1.0/{group_id}/{DBIRTH|DDEATH|DDATA|DCMD}/{edge_node_id}/{device_id}
//   spBv1.0/STATE/{host_id}                                    (a primary host's state, JSON)
//
// group_id, edge_node_id, device_id and host_id are non-empty UTF-8 without '/', '+' or '#'.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "ingest/sparkplug/sparkplug_payload.hpp"  // errc

namespace strata::ingest::sparkplug {

inline constexpr std::string_view kNamespace = "spBv1.0";

// The message types of Sparkplug B, plus a host application's STATE.
enum class MessageType : std::uint8_t {
  nbirth,
  ndeath,
  ndata,
  ncmd,
  dbirth,
  ddeath,
  ddata,
  dcmd,
  state
};

// "NBIRTH", "DDATA", "STATE" ...
std::string_view message_type_name(MessageType type);

// True for the types whose topic names a device (DBIRTH, DDEATH, DDATA, DCMD).
constexpr bool is_device_message(MessageType t) {
  return t == MessageType::dbirth || t == MessageType::ddeath || t == MessageType::ddata ||
         t == MessageType::dcmd;
}

// A parsed Sparkplug topic. For STATE only host_id is set; for node messages device_id is empty.
struct Topic {
  MessageType type = MessageType::ndata;
  std::string group_id;
  std::string edge_node_id;
  std::string device_id;
  std::string host_id;
};

// Parses an MQTT topic. errc::bad_topic names the segment that is wrong and what was expected:
// `Sparkplug topic 'spBv1.0/g1/NDATUM/e1': message type 'NDATUM' is not one of NBIRTH, ...`.
[[nodiscard]] Result<Topic> parse_topic(std::string_view topic);

// The topic of a message: spBv1.0/{group}/{TYPE}/{edge}[/{device}], or spBv1.0/STATE/{host}.
std::string topic_string(const Topic& topic);

}  // namespace strata::ingest::sparkplug

#pragma once
// MQTT 3.1.1 (OASIS 2014, protocol level 4) and 5.0 (OASIS 2019, level 5) control packets: framing
// from a byte stream, strict decoding and encoding. Both sides use it: Strata's device endpoint
// (decodes CONNECT/PUBLISH/SUBSCRIBE..., encodes CONNACK/PUBACK/SUBACK...) and the broker
// connector (encodes CONNECT/SUBSCRIBE/PUBACK, decodes CONNACK/SUBACK/PUBLISH). Every packet
// type decodes and encodes in both versions; which packets a side accepts is the caller's rule.
//
// Every error names the packet, the field and the rule of the specification it breaks, e.g.
// "CONNECT: protocol level 6 is not MQTT 3.1.1 (4) or 5 (5) [MQTT-3.1.2-2]", and carries an
// mqtt::errc whose reason code (reason_code_for) is what the server answers with.
//
// Wire formats (all integers big-endian; "varint" is the Variable Byte Integer: 7 bits a byte,
// least significant group first, high bit = more follows, at most 4 bytes, minimal length):
//
//   fixed header          byte 0: type (bits 7-4) | flags (bits 3-0); then remaining length
//                         (varint, 0..268,435,455) = bytes after it. Flags are 0 except
//                         PUBLISH (DUP bit 3, QoS bits 2-1, RETAIN bit 0) and PUBREL,
//                         SUBSCRIBE, UNSUBSCRIBE (0b0010).
//   UTF-8 string          u16 length | bytes (well-formed UTF-8, no U+0000)
//   binary data           u16 length | bytes
//   properties (5.0)      varint length | { varint id | value }*   (table: Properties below)
//
//   CONNECT (1)           string "MQTT" | u8 level 4/5 | u8 flags | u16 keep alive (s)
//                         | [5.0: properties]
//                         | client id | [will: [5.0: will properties] | topic | binary payload]
//                         | [username string] | [password binary]
//      flags bit:         7 username | 6 password | 5 will retain | 4-3 will QoS | 2 will
//                         | 1 clean session (3.1.1) / clean start (5.0) | 0 reserved = 0
//   CONNACK (2)           u8 flags (bit 0 session present, others 0) | u8 return/reason code
//                         | [5.0: properties]
//   PUBLISH (3)           topic string | [QoS>0: u16 packet id] | [5.0: properties] | payload
//   PUBACK (4) PUBREC (5) u16 packet id | [5.0: u8 reason | properties; both may be left out
//   PUBREL (6) PUBCOMP(7)  when the reason is 0 (success) and there are no properties]
//   SUBSCRIBE (8)         u16 packet id | [5.0: properties] | { filter string | u8 options }+
//      options:           3.1.1: bits 1-0 QoS, others 0; 5.0: bits 1-0 QoS | 2 no local
//                         | 3 retain as published | 5-4 retain handling (0..2) | 7-6 = 0
//   SUBACK (9)            u16 packet id | [5.0: properties] | { u8 return/reason code }+
//   UNSUBSCRIBE (10)      u16 packet id | [5.0: properties] | { filter string }+
//   UNSUBACK (11)         u16 packet id | [5.0: properties | { u8 reason code }+]
//   PINGREQ (12), PINGRESP (13)   no variable header, remaining length 0
//   DISCONNECT (14)       3.1.1: empty. 5.0: [u8 reason | [properties]] (empty = 0x00)
//   AUTH (15)             5.0 only: [u8 reason | [properties]] (empty = 0x00)
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace strata::ingest::mqtt {

// Why a packet was refused; each maps to the reason code the receiver answers with.
enum class errc {
  malformed = 1,                 // 0x81 Malformed Packet (3.1.1: close the connection)
  protocol_error,                // 0x82 Protocol Error
  unsupported_protocol_version,  // CONNACK 0x84 (3.1.1: return code 1)
  client_identifier_not_valid,   // CONNACK 0x85 (3.1.1: return code 2)
  packet_too_large,              // 0x95 Packet Too Large
  topic_name_invalid,            // 0x90 Topic Name Invalid
  topic_filter_invalid,          // 0x8F Topic Filter Invalid
  encoding,                      // encode(): a field does not fit the format (string > 65,535 B)
};

// MQTT 5.0 reason codes (section 2.4), and 3.1.1 CONNACK return codes (3.2.2.3).
namespace reason {
inline constexpr std::uint8_t success = 0x00;  // also: normal disconnection, granted QoS 0
inline constexpr std::uint8_t granted_qos1 = 0x01;
inline constexpr std::uint8_t granted_qos2 = 0x02;
inline constexpr std::uint8_t disconnect_with_will = 0x04;
inline constexpr std::uint8_t no_matching_subscribers = 0x10;
inline constexpr std::uint8_t no_subscription_existed = 0x11;
inline constexpr std::uint8_t continue_authentication = 0x18;
inline constexpr std::uint8_t re_authenticate = 0x19;
inline constexpr std::uint8_t unspecified_error = 0x80;
inline constexpr std::uint8_t malformed_packet = 0x81;
inline constexpr std::uint8_t protocol_error = 0x82;
inline constexpr std::uint8_t implementation_specific_error = 0x83;
inline constexpr std::uint8_t unsupported_protocol_version = 0x84;
inline constexpr std::uint8_t client_identifier_not_valid = 0x85;
inline constexpr std::uint8_t bad_username_or_password = 0x86;
inline constexpr std::uint8_t not_authorized = 0x87;
inline constexpr std::uint8_t server_unavailable = 0x88;
inline constexpr std::uint8_t server_busy = 0x89;
inline constexpr std::uint8_t banned = 0x8A;
inline constexpr std::uint8_t server_shutting_down = 0x8B;
inline constexpr std::uint8_t bad_authentication_method = 0x8C;
inline constexpr std::uint8_t keep_alive_timeout = 0x8D;
inline constexpr std::uint8_t session_taken_over = 0x8E;
inline constexpr std::uint8_t topic_filter_invalid = 0x8F;
inline constexpr std::uint8_t topic_name_invalid = 0x90;
inline constexpr std::uint8_t packet_identifier_in_use = 0x91;
inline constexpr std::uint8_t packet_identifier_not_found = 0x92;
inline constexpr std::uint8_t receive_maximum_exceeded = 0x93;
inline constexpr std::uint8_t topic_alias_invalid = 0x94;
inline constexpr std::uint8_t packet_too_large = 0x95;
inline constexpr std::uint8_t message_rate_too_high = 0x96;
inline constexpr std::uint8_t quota_exceeded = 0x97;
inline constexpr std::uint8_t administrative_action = 0x98;
inline constexpr std::uint8_t payload_format_invalid = 0x99;
inline constexpr std::uint8_t retain_not_supported = 0x9A;
inline constexpr std::uint8_t qos_not_supported = 0x9B;
inline constexpr std::uint8_t use_another_server = 0x9C;
inline constexpr std::uint8_t server_moved = 0x9D;
inline constexpr std::uint8_t shared_subscriptions_not_supported = 0x9E;
inline constexpr std::uint8_t connection_rate_exceeded = 0x9F;
inline constexpr std::uint8_t maximum_connect_time = 0xA0;
inline constexpr std::uint8_t subscription_identifiers_not_supported = 0xA1;
inline constexpr std::uint8_t wildcard_subscriptions_not_supported = 0xA2;
// 3.1.1 only: the SUBACK return code of a refused subscription.
inline constexpr std::uint8_t v311_subscribe_failure = 0x80;
// 3.1.1 CONNACK return codes.
inline constexpr std::uint8_t v311_unacceptable_protocol_version = 1;
inline constexpr std::uint8_t v311_identifier_rejected = 2;
inline constexpr std::uint8_t v311_server_unavailable = 3;
inline constexpr std::uint8_t v311_bad_username_or_password = 4;
inline constexpr std::uint8_t v311_not_authorized = 5;
}  // namespace reason

// The reason code an error maps to in MQTT 5.0 (DISCONNECT or CONNACK).
std::uint8_t reason_code_for(errc e);

// Protocol level of the CONNECT packet; the session speaks it from then on.
enum class Version : std::uint8_t { v311 = 4, v5 = 5 };

enum class PacketType : std::uint8_t {
  connect = 1,
  connack,
  publish,
  puback,
  pubrec,
  pubrel,
  pubcomp,
  subscribe,
  suback,
  unsubscribe,
  unsuback,
  pingreq,
  pingresp,
  disconnect,
  auth,
};
std::string_view packet_name(PacketType t);  // "CONNECT", ...

// MQTT 5.0 properties (section 2.2.2.2): each packet type admits its own set, and the decoder
// refuses the others (Protocol Error). Absent = not sent. 3.1.1 packets have none.
struct Properties {
  std::optional<std::uint8_t> payload_format_indicator;      // 0x01 PUBLISH, will
  std::optional<std::uint32_t> message_expiry_interval;      // 0x02 PUBLISH, will
  std::optional<std::string> content_type;                   // 0x03 PUBLISH, will
  std::optional<std::string> response_topic;                 // 0x08 PUBLISH, will
  std::optional<std::string> correlation_data;               // 0x09 PUBLISH, will (binary)
  std::vector<std::uint32_t> subscription_identifiers;       // 0x0B PUBLISH (n), SUBSCRIBE (1)
  std::optional<std::uint32_t> session_expiry_interval;      // 0x11 CONNECT, CONNACK, DISCONNECT
  std::optional<std::string> assigned_client_identifier;     // 0x12 CONNACK
  std::optional<std::uint16_t> server_keep_alive;            // 0x13 CONNACK
  std::optional<std::string> authentication_method;          // 0x15 CONNECT, CONNACK, AUTH
  std::optional<std::string> authentication_data;            // 0x16 CONNECT, CONNACK, AUTH
  std::optional<std::uint8_t> request_problem_information;   // 0x17 CONNECT
  std::optional<std::uint32_t> will_delay_interval;          // 0x18 will
  std::optional<std::uint8_t> request_response_information;  // 0x19 CONNECT
  std::optional<std::string> response_information;           // 0x1A CONNACK
  std::optional<std::string> server_reference;               // 0x1C CONNACK, DISCONNECT
  std::optional<std::string> reason_string;                  // 0x1F acks, DISCONNECT, AUTH
  std::optional<std::uint16_t> receive_maximum;              // 0x21 CONNECT, CONNACK
  std::optional<std::uint16_t> topic_alias_maximum;          // 0x22 CONNECT, CONNACK
  std::optional<std::uint16_t> topic_alias;                  // 0x23 PUBLISH
  std::optional<std::uint8_t> maximum_qos;                   // 0x24 CONNACK
  std::optional<std::uint8_t> retain_available;              // 0x25 CONNACK
  std::vector<std::pair<std::string, std::string>> user_properties;  // 0x26 all but PING*
  std::optional<std::uint32_t> maximum_packet_size;                  // 0x27 CONNECT, CONNACK
  std::optional<std::uint8_t> wildcard_subscription_available;       // 0x28 CONNACK
  std::optional<std::uint8_t> subscription_identifier_available;     // 0x29 CONNACK
  std::optional<std::uint8_t> shared_subscription_available;         // 0x2A CONNACK
  bool operator==(const Properties&) const = default;
};

// The last-will message a client registers in CONNECT.
struct Will {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  Properties properties;  // 5.0
  bool operator==(const Will&) const = default;
};

struct Connect {
  Version version = Version::v5;
  bool clean_start = true;  // 3.1.1: clean session
  std::uint16_t keep_alive = 60;
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary
  Properties properties;
  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool session_present = false;
  std::uint8_t reason_code = reason::success;  // 3.1.1: the return code 0..5
  Properties properties;
  bool operator==(const Connack&) const = default;
};

struct Publish {
  bool dup = false;
  std::uint8_t qos = 0;
  bool retain = false;
  std::string topic;            // empty only in 5.0 with properties.topic_alias set
  std::uint16_t packet_id = 0;  // QoS > 0 only
  Properties properties;
  std::string payload;
  bool operator==(const Publish&) const = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP: the same layout.
struct PubAck {
  PacketType type = PacketType::puback;
  std::uint16_t packet_id = 0;
  std::uint8_t reason_code = reason::success;  // 5.0
  Properties properties;
  bool operator==(const PubAck&) const = default;
};

struct Subscription {
  std::string filter;
  std::uint8_t qos = 0;
  bool no_local = false;             // 5.0
  bool retain_as_published = false;  // 5.0
  std::uint8_t retain_handling = 0;  // 5.0, 0..2
  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<Subscription> subscriptions;  // at least one
  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::uint8_t> reason_codes;  // one per subscription (3.1.1: 0,1,2 or 0x80)
  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::string> filters;  // at least one
  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::uint8_t> reason_codes;  // 5.0 only (3.1.1 has none)
  bool operator==(const Unsuback&) const = default;
};

struct PingReq {
  bool operator==(const PingReq&) const = default;
};
struct PingResp {
  bool operator==(const PingResp&) const = default;
};

struct Disconnect {
  std::uint8_t reason_code = reason::success;  // 5.0
  Properties properties;
  bool operator==(const Disconnect&) const = default;
};

// 5.0 enhanced authentication. Decoded so that it can be refused with a reason (Strata's
// endpoint does not do enhanced authentication).
struct Auth {
  std::uint8_t reason_code = reason::success;
  Properties properties;
  bool operator==(const Auth&) const = default;
};

using Packet = std::variant<Connect, Connack, Publish, PubAck, Subscribe, Suback, Unsubscribe,
                            Unsuback, PingReq, PingResp, Disconnect, Auth>;

PacketType type_of(const Packet& p);

// The largest remaining length the varint can say (4 bytes), and so the largest packet.
inline constexpr std::uint32_t kMaxRemainingLength = 268'435'455;

// One packet's bytes found in a buffer by next_frame().
struct Frame {
  std::uint8_t first_byte = 0;         // type and flags
  std::span<const std::uint8_t> body;  // the remaining-length bytes after the fixed header
  std::size_t size = 0;                // fixed header + body: what to consume from the buffer
};

// Finds the packet at the start of `buffer`: nullopt when more bytes are needed, an error when the
// remaining length is malformed (errc::malformed) or the packet would be larger than
// max_packet_size (errc::packet_too_large; said as soon as the length is known, before the body
// arrives). The frame's body points into `buffer`.
[[nodiscard]] Result<std::optional<Frame>> next_frame(std::span<const std::uint8_t> buffer,
                                                      std::size_t max_packet_size);

// Decodes one framed packet. `version` is the session's (CONNECT carries its own and ignores it).
[[nodiscard]] Result<Packet> decode(const Frame& frame, Version version);

// Appends the encoded packet to `out` (errc::encoding when a field does not fit; nothing is
// appended then). Properties are written only for 5.0.
[[nodiscard]] Status encode(const Packet& packet, Version version, std::vector<std::uint8_t>& out);

// Topic rules of section 4.7. A topic name (PUBLISH) has no wildcards and at least one byte; a
// filter (SUBSCRIBE) has '#' only as its last level and '+' only as a whole level. Both are UTF-8
// strings without U+0000.
[[nodiscard]] Status validate_topic_name(std::string_view topic);
[[nodiscard]] Status validate_topic_filter(std::string_view filter);
// Whether a topic name matches a filter; wildcards at the first level do not match topics that
// begin with '$' [MQTT-4.7.2-1].
[[nodiscard]] bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace strata::ingest::mqtt

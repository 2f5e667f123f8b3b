#include "ingest/mqtt/mqtt_codec.hpp"

#include <algorithm>
#include <array>
#include <type_traits>

namespace strata::ingest::mqtt {
namespace {

std::string hex(std::uint32_t v) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s = "0x";
  s += kDigits[(v >> 4) & 0xF];
  s += kDigits[v & 0xF];
  return s;
}

// Length of the valid UTF-8 sequence at s[i] as MQTT requires it (well-formed, no surrogates, no
// overlong forms, at most U+10FFFF, not U+0000), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// The byte offset of the first byte that breaks the UTF-8 rules, or npos.
std::size_t bad_utf8_at(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

// Where a property may appear (section 2.2.2.2).
enum Where : std::uint16_t {
  kConnect = 1 << 0,
  kConnack = 1 << 1,
  kPublish = 1 << 2,
  kWill = 1 << 3,
  kAcks = 1 << 4,  // PUBACK, PUBREC, PUBREL, PUBCOMP
  kSubscribe = 1 << 5,
  kSuback = 1 << 6,
  kUnsubscribe = 1 << 7,
  kUnsuback = 1 << 8,
  kDisconnect = 1 << 9,
  kAuth = 1 << 10,
  kAll = 0x7FF,
};

enum class Kind { byte, u16, u32, varint, string, binary, pair };

struct PropertyInfo {
  std::uint8_t id;
  const char* name;
  Kind kind;
  std::uint16_t where;
};

constexpr std::array<PropertyInfo, 27> kProperties{{
    {0x01, "payload format indicator", Kind::byte, kPublish | kWill},
    {0x02, "message expiry interval", Kind::u32, kPublish | kWill},
    {0x03, "content type", Kind::string, kPublish | kWill},
    {0x08, "response topic", Kind::string, kPublish | kWill},
    {0x09, "correlation data", Kind::binary, kPublish | kWill},
    {0x0B, "subscription identifier", Kind::varint, kPublish | kSubscribe},
    {0x11, "session expiry interval", Kind::u32, kConnect | kConnack | kDisconnect},
    {0x12, "assigned client identifier", Kind::string, kConnack},
    {0x13, "server keep alive", Kind::u16, kConnack},
    {0x15, "authentication method", Kind::string, kConnect | kConnack | kAuth},
    {0x16, "authentication data", Kind::binary, kConnect | kConnack | kAuth},
    {0x17, "request problem information", Kind::byte, kConnect},
    {0x18, "will delay interval", Kind::u32, kWill},
    {0x19, "request response information", Kind::byte, kConnect},
    {0x1A, "response information", Kind::string, kConnack},
    {0x1C, "server reference", Kind::string, kConnack | kDisconnect},
    {0x1F, "reason string", Kind::string,
     kConnack | kAcks | kSuback | kUnsuback | kDisconnect | kAuth},
    {0x21, "receive maximum", Kind::u16, kConnect | kConnack},
    {0x22, "topic alias maximum", Kind::u16, kConnect | kConnack},
    {0x23, "topic alias", Kind::u16, kPublish},
    {0x24, "maximum QoS", Kind::byte, kConnack},
    {0x25, "retain available", Kind::byte, kConnack},
    {0x26, "user property", Kind::pair, kAll},
    {0x27, "maximum packet size", Kind::u32, kConnect | kConnack},
    {0x28, "wildcard subscription available", Kind::byte, kConnack},
    {0x29, "subscription identifier available", Kind::byte, kConnack},
    {0x2A, "shared subscription available", Kind::byte, kConnack},
}};

const PropertyInfo* property_info(std::uint32_t id) {
  for (const auto& p : kProperties)
    if (p.id == id) return &p;
  return nullptr;
}

// Reads the fields of one packet body; the first failure is kept with its packet and field.
class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, std::string_view packet)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()), packet_(packet) {}

  [[nodiscard]] std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  [[nodiscard]] bool at_end() const { return p_ == end_; }

  Error fail(errc code, std::string_view message) {
    return Error::of(code, std::string(packet_) + ": " + std::string(message));
  }
  Error truncated(std::string_view field) {
    return fail(errc::malformed, std::string(field) +
                                     " is cut short by the remaining length (the packet ends "
                                     "before it) [MQTT-1.5]");
  }

  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = *p_++;
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>((p_[0] << 8) | p_[1]);
    p_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (left() < 4) return false;
    v = (std::uint32_t{p_[0]} << 24) | (std::uint32_t{p_[1]} << 16) | (std::uint32_t{p_[2]} << 8) |
        p_[3];
    p_ += 4;
    return true;
  }
  // 0 = ok, 1 = truncated, 2 = malformed (over 4 bytes or not minimal).
  int varint(std::uint32_t& v) {
    v = 0;
    for (int i = 0; i < 4; ++i) {
      if (at_end()) return 1;
      const std::uint8_t b = *p_++;
      v |= std::uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) return (i > 0 && b == 0) ? 2 : 0;
    }
    return 2;
  }
  bool bytes(std::string& v) {
    std::uint16_t n = 0;
    if (!u16(n) || left() < n) return false;
    v.assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  std::string rest() {
    std::string v(reinterpret_cast<const char*>(p_), left());
    p_ = end_;
    return v;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    std::span<const std::uint8_t> s(p_, n);
    p_ += n;
    return s;
  }

  // A UTF-8 string field: present, within the packet, well-formed [MQTT-1.5.4-1, -2].
  std::optional<Error> utf8(std::string& v, std::string_view field) {
    if (!bytes(v)) return truncated(field);
    const std::size_t bad = bad_utf8_at(v);
    if (bad != std::string_view::npos) {
      return fail(errc::malformed, std::string(field) +
                                       " is not well-formed UTF-8 without U+0000 "
                                       "(byte " +
                                       std::to_string(bad + 1) +
                                       " of the string) [MQTT-1.5.4-1, MQTT-1.5.4-2]");
    }
    return std::nullopt;
  }
  std::optional<Error> binary(std::string& v, std::string_view field) {
    if (!bytes(v)) return truncated(field);
    return std::nullopt;
  }
  std::optional<Error> packet_id(std::uint16_t& v) {
    if (!u16(v)) return truncated("packet identifier");
    if (v == 0) return fail(errc::malformed, "packet identifier 0 is not allowed [MQTT-2.2.1-3]");
    return std::nullopt;
  }

  std::optional<Error> properties(Properties& out, Where where, std::string_view whose);

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::string_view packet_;
};

std::optional<Error> Reader::properties(Properties& out, Where where, std::string_view whose) {
  std::uint32_t length = 0;
  const std::string prefix = std::string(whose) + " ";
  if (const int r = varint(length); r != 0) {
    return r == 1 ? truncated(prefix + "property length")
                  : fail(errc::malformed, prefix +
                                              "property length is not a valid variable byte "
                                              "integer [MQTT-1.5.5-1]");
  }
  if (length > left()) return truncated(prefix + "properties");
  Reader r(take(length), packet_);
  std::uint32_t seen = 0;  // bit (id & 31) | for ids < 64 via two words
  std::uint32_t seen_high = 0;
  while (!r.at_end()) {
    std::uint32_t id = 0;
    if (const int v = r.varint(id); v != 0) {
      return fail(errc::malformed, prefix +
                                       "property identifier is not a valid variable byte "
                                       "integer [MQTT-2.2.2-1]");
    }
    const PropertyInfo* info = property_info(id);
    if (info == nullptr) {
      return fail(errc::malformed, prefix + "property identifier " + std::to_string(id) +
                                       " is not an MQTT 5.0 property [MQTT-2.2.2]");
    }
    if ((info->where & where) == 0) {
      return fail(errc::malformed, prefix + "property '" + info->name + "' (" + hex(id) +
                                       ") is not allowed in this packet [section 2.2.2.2]");
    }
    const std::uint32_t bit = 1u << (id & 31);
    std::uint32_t& set = id < 32 ? seen : seen_high;
    const bool repeatable = id == 0x26 || (id == 0x0B && where == kPublish);
    if ((set & bit) && !repeatable) {
      return fail(errc::protocol_error,
                  prefix + "property '" + info->name +
                      "' appears more than once (a Protocol Error) [section 2.2.2.2]");
    }
    set |= bit;
    const std::string field = prefix + "property '" + info->name + "'";
    std::uint8_t b = 0;
    std::uint16_t w = 0;
    std::uint32_t d = 0;
    std::string s;
    std::string s2;
    switch (info->kind) {
      case Kind::byte:
        if (!r.u8(b)) return truncated(field);
        break;
      case Kind::u16:
        if (!r.u16(w)) return truncated(field);
        break;
      case Kind::u32:
        if (!r.u32(d)) return truncated(field);
        break;
      case Kind::varint:
        if (const int v = r.varint(d); v != 0) {
          return v == 1 ? truncated(field)
                        : fail(errc::malformed, field + " is not a valid variable byte integer");
        }
        break;
      case Kind::string:
        if (auto e = r.utf8(s, field)) return e;
        break;
      case Kind::binary:
        if (auto e = r.binary(s, field)) return e;
        break;
      case Kind::pair:
        if (auto e = r.utf8(s, field + " name")) return e;
        if (auto e = r.utf8(s2, field + " value")) return e;
        break;
    }
    const auto zero_or_one = [&](std::optional<std::uint8_t>& slot) -> std::optional<Error> {
      if (b > 1) {
        return fail(errc::protocol_error,
                    field + " is " + std::to_string(b) + ", not 0 or 1 [section 2.2.2.2]");
      }
      slot = b;
      return std::nullopt;
    };
    switch (id) {
      case 0x01:
        if (auto e = zero_or_one(out.payload_format_indicator)) return e;
        break;
      case 0x02:
        out.message_expiry_interval = d;
        break;
      case 0x03:
        out.content_type = std::move(s);
        break;
      case 0x08:
        if (s.find_first_of("+#") != std::string::npos) {
          return fail(errc::protocol_error,
                      field + " contains a wildcard; it must be a topic name [MQTT-3.3.2-14]");
        }
        out.response_topic = std::move(s);
        break;
      case 0x09:
        out.correlation_data = std::move(s);
        break;
      case 0x0B:
        if (d == 0) {
          return fail(errc::protocol_error,
                      field + " is 0; it must be 1 to 268,435,455 [MQTT-3.8.2.1.2]");
        }
        out.subscription_identifiers.push_back(d);
        break;
      case 0x11:
        out.session_expiry_interval = d;
        break;
      case 0x12:
        out.assigned_client_identifier = std::move(s);
        break;
      case 0x13:
        out.server_keep_alive = w;
        break;
      case 0x15:
        out.authentication_method = std::move(s);
        break;
      case 0x16:
        out.authentication_data = std::move(s);
        break;
      case 0x17:
        if (auto e = zero_or_one(out.request_problem_information)) return e;
        break;
      case 0x18:
        out.will_delay_interval = d;
        break;
      case 0x19:
        if (auto e = zero_or_one(out.request_response_information)) return e;
        break;
      case 0x1A:
        out.response_information = std::move(s);
        break;
      case 0x1C:
        out.server_reference = std::move(s);
        break;
      case 0x1F:
        out.reason_string = std::move(s);
        break;
      case 0x21:
        if (w == 0)
          return fail(errc::protocol_error,
                      field + " is 0; it must be 1 or more [section 3.1.2.11.3]");
        out.receive_maximum = w;
        break;
      case 0x22:
        out.topic_alias_maximum = w;
        break;
      case 0x23:
        if (w == 0) {
          return fail(errc::protocol_error, field +
                                                " is 0; a topic alias is 1 or more "
                                                "[MQTT-3.3.2-8]");
        }
        out.topic_alias = w;
        break;
      case 0x24:
        if (auto e = zero_or_one(out.maximum_qos)) return e;
        break;
      case 0x25:
        if (auto e = zero_or_one(out.retain_available)) return e;
        break;
      case 0x26:
        out.user_properties.emplace_back(std::move(s), std::move(s2));
        break;
      case 0x27:
        if (d == 0)
          return fail(errc::protocol_error,
                      field + " is 0; it must be 1 or more [section 3.1.2.11.4]");
        out.maximum_packet_size = d;
        break;
      case 0x28:
        if (auto e = zero_or_one(out.wildcard_subscription_available)) return e;
        break;
      case 0x29:
        if (auto e = zero_or_one(out.subscription_identifier_available)) return e;
        break;
      case 0x2A:
        if (auto e = zero_or_one(out.shared_subscription_available)) return e;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

// The reason codes each packet may carry in 5.0 (table 2.6, sections 3.x.2.1). The sv suffix keeps
// the 0x00 bytes (a plain literal would end at the first one).
using namespace std::string_view_literals;
constexpr std::string_view kConnackReasons =
    "\x00\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8A\x8C\x90\x95\x97\x99\x9A\x9B\x9C\x9D\x9F"sv;
constexpr std::string_view kPubackReasons = "\x00\x10\x80\x83\x87\x90\x91\x97\x99"sv;  // PUBREC too
constexpr std::string_view kPubrelReasons = "\x00\x92"sv;  // PUBCOMP too
constexpr std::string_view kSubackReasons = "\x00\x01\x02\x80\x83\x87\x8F\x91\x97\x9E\xA1\xA2"sv;
constexpr std::string_view kUnsubackReasons = "\x00\x11\x80\x83\x87\x8F\x91"sv;
constexpr std::string_view kDisconnectReasons =
    "\x00\x04\x80\x81\x82\x83\x87\x89\x8B\x8D\x8E\x8F\x90\x93\x94\x95\x96\x97\x98\x99\x9A\x9B\x9C"
    "\x9D\x9E\x9F\xA0\xA1\xA2"sv;
constexpr std::string_view kAuthReasons = "\x00\x18\x19"sv;

bool allowed(std::string_view set, std::uint8_t code) {
  return set.find(static_cast<char>(code)) != std::string_view::npos;
}

std::optional<Error> check_reason(Reader& r, std::uint8_t code, std::string_view set) {
  if (allowed(set, code)) return std::nullopt;
  return r.fail(errc::protocol_error,
                "reason code " + hex(code) + " is not one this packet may carry [section 2.4]");
}

Error trailing(Reader& r, std::string_view after) {
  return r.fail(errc::malformed, std::to_string(r.left()) + " byte(s) after the " +
                                     std::string(after) +
                                     " that the remaining length does not account for");
}

Result<Packet> decode_connect(Reader& r) {
  Connect c;
  std::string name;
  if (!r.bytes(name)) return r.truncated("protocol name");
  std::uint8_t level = 0;
  if (!r.u8(level)) return r.truncated("protocol level");
  if (name == "MQIsdp") {
    return r.fail(errc::unsupported_protocol_version,
                  "protocol 'MQIsdp' level " + std::to_string(level) +
                      " is MQTT 3.1, which is not supported: use MQTT 3.1.1 (4) or 5 (5) "
                      "[MQTT-3.1.2-2]");
  }
  if (name != "MQTT") {
    return r.fail(errc::malformed, "protocol name '" + std::string(name.substr(0, 16)) +
                                       "' is not 'MQTT' [MQTT-3.1.2-1]");
  }
  if (level != 4 && level != 5) {
    return r.fail(errc::unsupported_protocol_version,
                  "protocol level " + std::to_string(level) +
                      " is not MQTT 3.1.1 (4) or 5 (5) [MQTT-3.1.2-2]");
  }
  c.version = static_cast<Version>(level);
  const bool v5 = c.version == Version::v5;
  std::uint8_t flags = 0;
  if (!r.u8(flags)) return r.truncated("connect flags");
  if (flags & 0x01) {
    return r.fail(errc::malformed,
                  "reserved connect flag (bit 0) is 1; it must be 0 "
                  "[MQTT-3.1.2-3]");
  }
  c.clean_start = (flags & 0x02) != 0;
  const bool will = (flags & 0x04) != 0;
  const std::uint8_t will_qos = (flags >> 3) & 3;
  const bool will_retain = (flags & 0x20) != 0;
  const bool has_password = (flags & 0x40) != 0;
  const bool has_username = (flags & 0x80) != 0;
  if (!will && (will_qos != 0 || will_retain)) {
    return r.fail(errc::malformed,
                  "will QoS or will retain set without the will flag "
                  "[MQTT-3.1.2-11, MQTT-3.1.2-13]");
  }
  if (will_qos == 3) return r.fail(errc::malformed, "will QoS is 3 [MQTT-3.1.2-14]");
  if (!v5 && has_password && !has_username) {
    return r.fail(errc::malformed,
                  "password flag set without the user name flag "
                  "[MQTT-3.1.2-22]");
  }
  if (!r.u16(c.keep_alive)) return r.truncated("keep alive");
  if (v5) {
    if (auto e = r.properties(c.properties, kConnect, "CONNECT")) return *e;
  }
  if (auto e = r.utf8(c.client_id, "client identifier")) {
    return Error::of(errc::client_identifier_not_valid, e->message);
  }
  if (will) {
    Will w;
    w.qos = will_qos;
    w.retain = will_retain;
    if (v5) {
      if (auto e = r.properties(w.properties, kWill, "will")) return *e;
    }
    if (auto e = r.utf8(w.topic, "will topic")) return *e;
    if (auto st = validate_topic_name(w.topic); !st) {
      return Error::of(errc::topic_name_invalid, "CONNECT: will " + st.error().message);
    }
    if (auto e = r.binary(w.payload, "will payload")) return *e;
    c.will = std::move(w);
  }
  if (has_username) {
    std::string u;
    if (auto e = r.utf8(u, "user name")) return *e;
    c.username = std::move(u);
  }
  if (has_password) {
    std::string p;
    if (auto e = r.binary(p, "password")) return *e;
    c.password = std::move(p);
  }
  if (!r.at_end()) return trailing(r, "payload");
  return Packet{std::move(c)};
}

Result<Packet> decode_connack(Reader& r, Version version) {
  Connack c;
  std::uint8_t flags = 0;
  if (!r.u8(flags)) return r.truncated("acknowledge flags");
  if (flags & 0xFE) {
    return r.fail(errc::malformed, "acknowledge flags bits 7-1 are not 0 [MQTT-3.2.2-1]");
  }
  c.session_present = flags & 1;
  if (!r.u8(c.reason_code)) return r.truncated("return code");
  if (version == Version::v311) {
    if (c.reason_code > 5) {
      return r.fail(errc::malformed, "return code " + std::to_string(c.reason_code) +
                                         " is not 0..5 [section 3.2.2.3]");
    }
  } else {
    if (auto e = check_reason(r, c.reason_code, kConnackReasons)) return *e;
    if (auto e = r.properties(c.properties, kConnack, "CONNACK")) return *e;
  }
  if (c.reason_code != 0 && c.session_present) {
    return r.fail(errc::malformed, "session present is 1 with a refusal [MQTT-3.2.2-4]");
  }
  if (!r.at_end()) return trailing(r, "variable header");
  return Packet{std::move(c)};
}

Result<Packet> decode_publish(Reader& r, std::uint8_t flags, Version version) {
  Publish p;
  p.dup = (flags & 0x08) != 0;
  p.qos = (flags >> 1) & 3;
  p.retain = (flags & 0x01) != 0;
  if (p.qos == 3) return r.fail(errc::malformed, "QoS bits are 3 [MQTT-3.3.1-4]");
  if (p.dup && p.qos == 0) return r.fail(errc::malformed, "DUP is 1 at QoS 0 [MQTT-3.3.1-2]");
  if (auto e = r.utf8(p.topic, "topic name")) return *e;
  if (p.topic.find_first_of("+#") != std::string::npos) {
    return r.fail(errc::topic_name_invalid,
                  "topic name contains a wildcard ('+' or '#') [MQTT-3.3.2-2]");
  }
  if (p.qos > 0) {
    if (auto e = r.packet_id(p.packet_id)) return *e;
  }
  if (version == Version::v5) {
    if (auto e = r.properties(p.properties, kPublish, "PUBLISH")) return *e;
    if (p.topic.empty() && !p.properties.topic_alias) {
      return r.fail(errc::protocol_error,
                    "topic name is empty and there is no topic alias [MQTT-3.3.2-1, 3.3.2.3.4]");
    }
  } else if (p.topic.empty()) {
    return r.fail(errc::topic_name_invalid, "topic name is empty [MQTT-4.7.3-1]");
  }
  p.payload = r.rest();
  return Packet{std::move(p)};
}

Result<Packet> decode_puback(Reader& r, PacketType type, Version version) {
  PubAck a;
  a.type = type;
  if (auto e = r.packet_id(a.packet_id)) return *e;
  if (version == Version::v311) {
    if (!r.at_end()) return trailing(r, "packet identifier");
    return Packet{std::move(a)};
  }
  if (r.at_end()) return Packet{std::move(a)};
  r.u8(a.reason_code);
  const bool release = type == PacketType::pubrel || type == PacketType::pubcomp;
  if (auto e = check_reason(r, a.reason_code, release ? kPubrelReasons : kPubackReasons)) {
    return *e;
  }
  if (r.at_end()) return Packet{std::move(a)};
  if (auto e = r.properties(a.properties, kAcks, packet_name(type))) return *e;
  if (!r.at_end()) return trailing(r, "properties");
  return Packet{std::move(a)};
}

Result<Packet> decode_subscribe(Reader& r, Version version) {
  Subscribe s;
  if (auto e = r.packet_id(s.packet_id)) return *e;
  if (version == Version::v5) {
    if (auto e = r.properties(s.properties, kSubscribe, "SUBSCRIBE")) return *e;
  }
  if (r.at_end()) {
    return r.fail(errc::protocol_error,
                  "no topic filter; at least one is required "
                  "[MQTT-3.8.3-3]");
  }
  while (!r.at_end()) {
    Subscription sub;
    if (auto e = r.utf8(sub.filter, "topic filter")) return *e;
    std::uint8_t options = 0;
    if (!r.u8(options)) return r.truncated("subscription options");
    sub.qos = options & 3;
    if (sub.qos == 3) {
      return r.fail(errc::malformed, "subscription options: QoS 3 for '" +
                                         sub.filter.substr(0, 64) +
                                         "' [MQTT-3-8.3-4, section 3.8.3.1]");
    }
    if (version == Version::v311) {
      if (options & 0xFC) {
        return r.fail(errc::malformed,
                      "subscription options: reserved bits 7-2 are not 0 [MQTT-3-8.3-4]");
      }
    } else {
      sub.no_local = (options & 0x04) != 0;
      sub.retain_as_published = (options & 0x08) != 0;
      sub.retain_handling = (options >> 4) & 3;
      if (sub.retain_handling == 3) {
        return r.fail(errc::protocol_error,
                      "subscription options: retain handling 3 "
                      "(a Protocol Error) [section 3.8.3.1]");
      }
      if (options & 0xC0) {
        return r.fail(errc::malformed,
                      "subscription options: reserved bits 7-6 are not 0 [MQTT-3.8.3-5]");
      }
    }
    s.subscriptions.push_back(std::move(sub));
  }
  return Packet{std::move(s)};
}

Result<Packet> decode_suback(Reader& r, Version version) {
  Suback s;
  if (auto e = r.packet_id(s.packet_id)) return *e;
  if (version == Version::v5) {
    if (auto e = r.properties(s.properties, kSuback, "SUBACK")) return *e;
  }
  if (r.at_end()) return r.fail(errc::protocol_error, "no return code [MQTT-3.9.3-1]");
  while (!r.at_end()) {
    std::uint8_t code = 0;
    r.u8(code);
    if (version == Version::v311) {
      if (code > 2 && code != 0x80) {
        return r.fail(errc::malformed, "return code " + hex(code) +
                                           " is not 0x00, 0x01, 0x02 or 0x80 [MQTT-3.9.3-2]");
      }
    } else if (auto e = check_reason(r, code, kSubackReasons)) {
      return *e;
    }
    s.reason_codes.push_back(code);
  }
  return Packet{std::move(s)};
}

Result<Packet> decode_unsubscribe(Reader& r, Version version) {
  Unsubscribe u;
  if (auto e = r.packet_id(u.packet_id)) return *e;
  if (version == Version::v5) {
    if (auto e = r.properties(u.properties, kUnsubscribe, "UNSUBSCRIBE")) return *e;
  }
  if (r.at_end()) {
    return r.fail(errc::protocol_error,
                  "no topic filter; at least one is required "
                  "[MQTT-3.10.3-2]");
  }
  while (!r.at_end()) {
    std::string f;
    if (auto e = r.utf8(f, "topic filter")) return *e;
    u.filters.push_back(std::move(f));
  }
  return Packet{std::move(u)};
}

Result<Packet> decode_unsuback(Reader& r, Version version) {
  Unsuback u;
  if (auto e = r.packet_id(u.packet_id)) return *e;
  if (version == Version::v311) {
    if (!r.at_end()) return trailing(r, "packet identifier");
    return Packet{std::move(u)};
  }
  if (auto e = r.properties(u.properties, kUnsuback, "UNSUBACK")) return *e;
  if (r.at_end()) return r.fail(errc::protocol_error, "no reason code [section 3.11.3]");
  while (!r.at_end()) {
    std::uint8_t code = 0;
    r.u8(code);
    if (auto e = check_reason(r, code, kUnsubackReasons)) return *e;
    u.reason_codes.push_back(code);
  }
  return Packet{std::move(u)};
}

template <class T>
Result<Packet> decode_reason_only(Reader& r, Version version, std::string_view codes, Where where,
                                  std::string_view name) {
  T t;
  if (version == Version::v311 || r.at_end()) {
    if (!r.at_end()) return trailing(r, "fixed header (3.1.1 has no variable header here)");
    return Packet{std::move(t)};
  }
  r.u8(t.reason_code);
  if (auto e = check_reason(r, t.reason_code, codes)) return *e;
  if (r.at_end()) return Packet{std::move(t)};
  if (auto e = r.properties(t.properties, where, name)) return *e;
  if (!r.at_end()) return trailing(r, "properties");
  return Packet{std::move(t)};
}

// Writes fields of one packet body.
class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<std::uint8_t>(v >> s));
  }
  void varint(std::uint32_t v) {
    do {
      std::uint8_t b = v & 0x7F;
      v >>= 7;
      if (v) b |= 0x80;
      out_.push_back(b);
    } while (v);
  }
  // A string or binary field; false (and error_ set) when it is longer than 65,535 bytes.
  void bytes(std::string_view s, std::string_view field) {
    if (s.size() > 0xFFFF) {
      if (error_.empty()) error_ = std::string(field) + " is longer than 65,535 bytes";
      return;
    }
    u16(static_cast<std::uint16_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void raw(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void properties(const Properties& p);
  std::string error_;

 private:
  std::vector<std::uint8_t>& out_;
};

void Writer::properties(const Properties& p) {
  std::vector<std::uint8_t> body;
  Writer w(body);
  const auto byte = [&](std::uint8_t id, const std::optional<std::uint8_t>& v) {
    if (v) w.u8(id), w.u8(*v);
  };
  const auto u16p = [&](std::uint8_t id, const std::optional<std::uint16_t>& v) {
    if (v) w.u8(id), w.u16(*v);
  };
  const auto u32p = [&](std::uint8_t id, const std::optional<std::uint32_t>& v) {
    if (v) w.u8(id), w.u32(*v);
  };
  const auto str = [&](std::uint8_t id, const std::optional<std::string>& v, const char* name) {
    if (v) w.u8(id), w.bytes(*v, name);
  };
  byte(0x01, p.payload_format_indicator);
  u32p(0x02, p.message_expiry_interval);
  str(0x03, p.content_type, "content type");
  str(0x08, p.response_topic, "response topic");
  str(0x09, p.correlation_data, "correlation data");
  for (const std::uint32_t id : p.subscription_identifiers) w.u8(0x0B), w.varint(id);
  u32p(0x11, p.session_expiry_interval);
  str(0x12, p.assigned_client_identifier, "assigned client identifier");
  u16p(0x13, p.server_keep_alive);
  str(0x15, p.authentication_method, "authentication method");
  str(0x16, p.authentication_data, "authentication data");
  byte(0x17, p.request_problem_information);
  u32p(0x18, p.will_delay_interval);
  byte(0x19, p.request_response_information);
  str(0x1A, p.response_information, "response information");
  str(0x1C, p.server_reference, "server reference");
  str(0x1F, p.reason_string, "reason string");
  u16p(0x21, p.receive_maximum);
  u16p(0x22, p.topic_alias_maximum);
  u16p(0x23, p.topic_alias);
  byte(0x24, p.maximum_qos);
  byte(0x25, p.retain_available);
  for (const auto& [k, v] : p.user_properties) {
    w.u8(0x26);
    w.bytes(k, "user property name");
    w.bytes(v, "user property value");
  }
  u32p(0x27, p.maximum_packet_size);
  byte(0x28, p.wildcard_subscription_available);
  byte(0x29, p.subscription_identifier_available);
  byte(0x2A, p.shared_subscription_available);
  if (error_.empty()) error_ = w.error_;
  varint(static_cast<std::uint32_t>(body.size()));
  out_.insert(out_.end(), body.begin(), body.end());
}

struct Encoder {
  Writer& w;
  Version version;
  bool v5() const { return version == Version::v5; }

  std::uint8_t operator()(const Connect& c) {
    w.bytes("MQTT", "protocol name");
    w.u8(static_cast<std::uint8_t>(c.version));
    std::uint8_t flags = c.clean_start ? 0x02 : 0;
    if (c.will) flags |= 0x04 | ((c.will->qos & 3) << 3) | (c.will->retain ? 0x20 : 0);
    if (c.password) flags |= 0x40;
    if (c.username) flags |= 0x80;
    w.u8(flags);
    w.u16(c.keep_alive);
    if (v5()) w.properties(c.properties);
    w.bytes(c.client_id, "client identifier");
    if (c.will) {
      if (v5()) w.properties(c.will->properties);
      w.bytes(c.will->topic, "will topic");
      w.bytes(c.will->payload, "will payload");
    }
    if (c.username) w.bytes(*c.username, "user name");
    if (c.password) w.bytes(*c.password, "password");
    return 0x10;
  }
  std::uint8_t operator()(const Connack& c) {
    w.u8(c.session_present ? 1 : 0);
    w.u8(c.reason_code);
    if (v5()) w.properties(c.properties);
    return 0x20;
  }
  std::uint8_t operator()(const Publish& p) {
    w.bytes(p.topic, "topic name");
    if (p.qos > 0) w.u16(p.packet_id);
    if (v5()) w.properties(p.properties);
    w.raw(p.payload);
    return static_cast<std::uint8_t>(0x30 | (p.dup ? 0x08 : 0) | ((p.qos & 3) << 1) |
                                     (p.retain ? 1 : 0));
  }
  std::uint8_t operator()(const PubAck& a) {
    w.u16(a.packet_id);
    if (v5() && (a.reason_code != 0 || a.properties != Properties{})) {
      w.u8(a.reason_code);
      if (a.properties != Properties{}) w.properties(a.properties);
    }
    const auto type = static_cast<std::uint8_t>(a.type);
    return static_cast<std::uint8_t>(type << 4 | (a.type == PacketType::pubrel ? 0x02 : 0));
  }
  std::uint8_t operator()(const Subscribe& s) {
    w.u16(s.packet_id);
    if (v5()) w.properties(s.properties);
    for (const auto& sub : s.subscriptions) {
      w.bytes(sub.filter, "topic filter");
      std::uint8_t options = sub.qos & 3;
      if (v5()) {
        options |= (sub.no_local ? 0x04 : 0) | (sub.retain_as_published ? 0x08 : 0) |
                   ((sub.retain_handling & 3) << 4);
      }
      w.u8(options);
    }
    return 0x82;
  }
  std::uint8_t operator()(const Suback& s) {
    w.u16(s.packet_id);
    if (v5()) w.properties(s.properties);
    for (const std::uint8_t code : s.reason_codes) w.u8(code);
    return 0x90;
  }
  std::uint8_t operator()(const Unsubscribe& u) {
    w.u16(u.packet_id);
    if (v5()) w.properties(u.properties);
    for (const auto& f : u.filters) w.bytes(f, "topic filter");
    return 0xA2;
  }
  std::uint8_t operator()(const Unsuback& u) {
    w.u16(u.packet_id);
    if (v5()) {
      w.properties(u.properties);
      for (const std::uint8_t code : u.reason_codes) w.u8(code);
    }
    return 0xB0;
  }
  std::uint8_t operator()(const PingReq&) { return 0xC0; }
  std::uint8_t operator()(const PingResp&) { return 0xD0; }
  std::uint8_t operator()(const Disconnect& d) {
    if (v5() && (d.reason_code != 0 || d.properties != Properties{})) {
      w.u8(d.reason_code);
      if (d.properties != Properties{}) w.properties(d.properties);
    }
    return 0xE0;
  }
  std::uint8_t operator()(const Auth& a) {
    if (a.reason_code != 0 || a.properties != Properties{}) {
      w.u8(a.reason_code);
      if (a.properties != Properties{}) w.properties(a.properties);
    }
    return 0xF0;
  }
};

}  // namespace

std::uint8_t reason_code_for(errc e) {
  switch (e) {
    case errc::malformed:
      return reason::malformed_packet;
    case errc::protocol_error:
      return reason::protocol_error;
    case errc::unsupported_protocol_version:
      return reason::unsupported_protocol_version;
    case errc::client_identifier_not_valid:
      return reason::client_identifier_not_valid;
    case errc::packet_too_large:
      return reason::packet_too_large;
    case errc::topic_name_invalid:
      return reason::topic_name_invalid;
    case errc::topic_filter_invalid:
      return reason::topic_filter_invalid;
    case errc::encoding:
      return reason::implementation_specific_error;
  }
  return reason::unspecified_error;
}

std::string_view packet_name(PacketType t) {
  static constexpr std::array<std::string_view, 16> kNames{
      "reserved(0)", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
      "PUBREL",      "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
      "PINGREQ",     "PINGRESP", "DISCONNECT", "AUTH"};
  return kNames[static_cast<std::size_t>(t) & 15];
}

PacketType type_of(const Packet& p) {
  return std::visit(
      [](const auto& v) -> PacketType {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Connect>) return PacketType::connect;
        if constexpr (std::is_same_v<T, Connack>) return PacketType::connack;
        if constexpr (std::is_same_v<T, Publish>) return PacketType::publish;
        if constexpr (std::is_same_v<T, PubAck>) return v.type;
        if constexpr (std::is_same_v<T, Subscribe>) return PacketType::subscribe;
        if constexpr (std::is_same_v<T, Suback>) return PacketType::suback;
        if constexpr (std::is_same_v<T, Unsubscribe>) return PacketType::unsubscribe;
        if constexpr (std::is_same_v<T, Unsuback>) return PacketType::unsuback;
        if constexpr (std::is_same_v<T, PingReq>) return PacketType::pingreq;
        if constexpr (std::is_same_v<T, PingResp>) return PacketType::pingresp;
        if constexpr (std::is_same_v<T, Disconnect>) return PacketType::disconnect;
        return PacketType::auth;
      },
      p);
}

Result<std::optional<Frame>> next_frame(std::span<const std::uint8_t> buffer,
                                        std::size_t max_packet_size) {
  if (buffer.size() < 2) return std::optional<Frame>{};
  std::uint32_t length = 0;
  std::size_t i = 1;
  for (;; ++i) {
    if (i == buffer.size()) return std::optional<Frame>{};
    const std::uint8_t b = buffer[i];
    length |= std::uint32_t{b & 0x7Fu} << (7 * (i - 1));
    if ((b & 0x80) == 0) {
      if (i > 1 && b == 0) {
        return Error::of(errc::malformed,
                         "fixed header: remaining length is not encoded in the "
                         "fewest bytes [MQTT-1.5.5-1]");
      }
      break;
    }
    if (i == 4) {
      return Error::of(errc::malformed,
                       "fixed header: remaining length runs over 4 bytes "
                       "[MQTT-1.5.5-1, section 2.1.4]");
    }
  }
  const std::size_t header = i + 1;
  const std::size_t total = header + length;
  if (total > max_packet_size) {
    return Error::of(errc::packet_too_large,
                     std::string(packet_name(static_cast<PacketType>(buffer[0] >> 4))) +
                         ": packet of " + std::to_string(total) +
                         " bytes exceeds the maximum packet size of " +
                         std::to_string(max_packet_size) + " bytes [section 3.1.2.11.4]");
  }
  if (buffer.size() < total) return std::optional<Frame>{};
  return std::optional<Frame>{Frame{buffer[0], buffer.subspan(header, length), total}};
}

Result<Packet> decode(const Frame& frame, Version version) {
  const auto type = static_cast<PacketType>(frame.first_byte >> 4);
  const std::uint8_t flags = frame.first_byte & 0x0F;
  Reader r(frame.body, packet_name(type));
  const auto flags_must_be = [&](std::uint8_t want) -> std::optional<Error> {
    if (flags == want) return std::nullopt;
    return r.fail(errc::malformed, "fixed header flags are " + hex(flags) + ", not " + hex(want) +
                                       " [MQTT-2.2.2-1, MQTT-2.2.2-2]");
  };
  switch (type) {
    case PacketType::connect:
      if (auto e = flags_must_be(0)) return *e;
      return decode_connect(r);
    case PacketType::connack:
      if (auto e = flags_must_be(0)) return *e;
      return decode_connack(r, version);
    case PacketType::publish:
      return decode_publish(r, flags, version);
    case PacketType::puback:
    case PacketType::pubrec:
    case PacketType::pubcomp:
      if (auto e = flags_must_be(0)) return *e;
      return decode_puback(r, type, version);
    case PacketType::pubrel:
      if (auto e = flags_must_be(2)) return *e;
      return decode_puback(r, type, version);
    case PacketType::subscribe:
      if (auto e = flags_must_be(2)) return *e;
      return decode_subscribe(r, version);
    case PacketType::suback:
      if (auto e = flags_must_be(0)) return *e;
      return decode_suback(r, version);
    case PacketType::unsubscribe:
      if (auto e = flags_must_be(2)) return *e;
      return decode_unsubscribe(r, version);
    case PacketType::unsuback:
      if (auto e = flags_must_be(0)) return *e;
      return decode_unsuback(r, version);
    case PacketType::pingreq:
    case PacketType::pingresp:
      if (auto e = flags_must_be(0)) return *e;
      if (!r.at_end()) return trailing(r, "fixed header (remaining length must be 0)");
      if (type == PacketType::pingreq) return Packet{PingReq{}};
      return Packet{PingResp{}};
    case PacketType::disconnect:
      if (auto e = flags_must_be(0)) return *e;
      return decode_reason_only<Disconnect>(r, version, kDisconnectReasons, kDisconnect,
                                            "DISCONNECT");
    case PacketType::auth:
      if (version == Version::v311) {
        return r.fail(errc::malformed, "packet type 15 is reserved in MQTT 3.1.1 [section 2.2.1]");
      }
      if (auto e = flags_must_be(0)) return *e;
      return decode_reason_only<Auth>(r, version, kAuthReasons, kAuth, "AUTH");
  }
  return Error::of(errc::malformed, "fixed header: packet type 0 is reserved [section 2.1.2]");
}

Status encode(const Packet& packet, Version version, std::vector<std::uint8_t>& out) {
  std::vector<std::uint8_t> body;
  Writer w(body);
  const std::uint8_t first = std::visit(Encoder{w, version}, packet);
  const std::string_view name = packet_name(type_of(packet));
  if (!w.error_.empty()) {
    return Error::of(errc::encoding, std::string(name) + ": " + w.error_);
  }
  if (body.size() > kMaxRemainingLength) {
    return Error::of(errc::encoding, std::string(name) + ": " + std::to_string(body.size()) +
                                         " bytes exceed the largest remaining length, " +
                                         std::to_string(kMaxRemainingLength));
  }
  out.reserve(out.size() + body.size() + 5);
  out.push_back(first);
  Writer(out).varint(static_cast<std::uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return {};
}

Status validate_topic_name(std::string_view topic) {
  if (topic.empty())
    return Error::of(errc::topic_name_invalid, "topic name is empty [MQTT-4.7.3-1]");
  if (topic.size() > 0xFFFF) {
    return Error::of(errc::topic_name_invalid, "topic name is longer than 65,535 bytes");
  }
  if (bad_utf8_at(topic) != std::string_view::npos) {
    return Error::of(errc::topic_name_invalid,
                     "topic name is not well-formed UTF-8 without U+0000 [MQTT-4.7.3-2]");
  }
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return Error::of(errc::topic_name_invalid,
                     "topic name contains a wildcard ('+' or '#') [MQTT-3.3.2-2]");
  }
  return {};
}

Status validate_topic_filter(std::string_view filter) {
  if (filter.empty()) {
    return Error::of(errc::topic_filter_invalid, "topic filter is empty [MQTT-4.7.3-1]");
  }
  if (bad_utf8_at(filter) != std::string_view::npos) {
    return Error::of(errc::topic_filter_invalid,
                     "topic filter is not well-formed UTF-8 without U+0000 [MQTT-4.7.3-2]");
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = filter.find('/', start);
    const std::string_view level = filter.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (level.find('#') != std::string_view::npos &&
        (level != "#" || slash != std::string_view::npos)) {
      return Error::of(errc::topic_filter_invalid,
                       "topic filter '" + std::string(filter.substr(0, 64)) +
                           "': '#' must be a whole level and the last one [MQTT-4.7.1-2]");
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return Error::of(errc::topic_filter_invalid,
                       "topic filter '" + std::string(filter.substr(0, 64)) +
                           "': '+' must be a whole level [MQTT-4.7.1-3]");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() &&
      (filter[0] == '+' || filter[0] == '#'))
    return false;
  std::size_t f = 0;
  std::size_t t = 0;
  while (true) {
    const std::size_t fe = std::min(filter.find('/', f), filter.size());
    const std::string_view flevel = filter.substr(f, fe - f);
    if (flevel == "#") return true;  // matches the parent level too ("a/#" matches "a")
    if (t > topic.size()) return false;
    const std::size_t te = std::min(topic.find('/', t), topic.size());
    if (flevel != "+" && flevel != topic.substr(t, te - t)) return false;
    const bool filter_done = fe == filter.size();
    const bool topic_done = te == topic.size();
    if (filter_done || topic_done) {
      if (filter_done && topic_done) return true;
      // "a/#" matches "a": the filter's next level is '#' and the topic has ended.
      return topic_done && filter.substr(fe) == "/#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

}  // namespace strata::ingest::mqtt

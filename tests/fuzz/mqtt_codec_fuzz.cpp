// Fuzz target for the MQTT codec (src/ingest/mqtt/mqtt_codec.hpp). The first byte picks the
// session version and the maximum packet size; the rest is a byte stream of packets. On every
// input it checks:
//  - framing consumes at least one byte a frame and never runs past the buffer or the maximum;
//  - an error has a message that names the packet or the fixed header;
//  - a decoded packet encodes, and its encoding decodes to an equal packet (round trip), and
//    re-encoding gives the same bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "ingest/mqtt/mqtt_codec.hpp"

namespace {

using namespace strata::ingest::mqtt;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "mqtt_codec_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Version version = (data[0] & 1) ? Version::v5 : Version::v311;
  const std::size_t max = 16 + (std::size_t{data[0]} << 4);
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  while (!rest.empty()) {
    auto frame = next_frame(rest, max);
    if (!frame.ok()) {
      check(!frame.error().message.empty(), "a framing error says why");
      return 0;
    }
    if (!frame->has_value()) return 0;
    const Frame f = **frame;
    check(f.size >= 2 && f.size <= rest.size() && f.size <= max, "a frame fits");
    auto packet = decode(f, version);
    if (!packet.ok()) {
      check(packet.error().message.find(": ") != std::string::npos, "an error names the packet");
    } else {
      // A decoded CONNECT speaks its own version.
      Version v = version;
      if (const auto* c = std::get_if<Connect>(&*packet)) v = c->version;
      std::vector<std::uint8_t> wire;
      check(encode(*packet, v, wire).ok(), "a decoded packet encodes");
      auto again = next_frame(wire, wire.size());
      check(again.ok() && again->has_value() && (*again)->size == wire.size(),
            "an encoded packet frames whole");
      auto decoded = decode(**again, v);
      check(decoded.ok(), "an encoded packet decodes");
      check(*decoded == *packet, "decode(encode(p)) == p");
      std::vector<std::uint8_t> wire2;
      check(encode(*decoded, v, wire2).ok() && wire2 == wire, "encoding is deterministic");
    }
    rest = rest.subspan(f.size);
  }
  return 0;
}

// Fuzz target for the JSON telemetry decoder (src/ingest/json_telemetry.hpp). On every input:
//  - an error has a message that names what is wrong and the accepted shapes;
//  - a reading has a non-empty metric and either a text or a finite number;
//  - a refusal has a reason that says something, printable whatever the key (shown() escapes it);
//  - a reused decoder gives exactly what a fresh one gives (parser buffers carry nothing over).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "ingest/json_telemetry.hpp"

namespace {

using namespace strata::ingest;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "json_telemetry_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

bool same(const strata::Result<JsonTelemetry>& a, const strata::Result<JsonTelemetry>& b) {
  if (a.ok() != b.ok()) return false;
  if (!a.ok()) return a.error().message == b.error().message;
  if (a->readings.size() != b->readings.size() || a->refused.size() != b->refused.size())
    return false;
  for (std::size_t i = 0; i < a->readings.size(); ++i) {
    const auto& x = a->readings[i];
    const auto& y = b->readings[i];
    if (x.metric != y.metric || x.ts != y.ts || x.text != y.text) return false;
    if (!x.text && x.number != y.number) return false;
  }
  for (std::size_t i = 0; i < a->refused.size(); ++i) {
    if (a->refused[i].key != b->refused[i].key || a->refused[i].reason != b->refused[i].reason)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  static JsonTelemetryDecoder reused;  // NOLINT: the point is to reuse it across inputs
  const auto fresh = decode_json_telemetry(payload);
  const auto again = reused.decode(payload);
  check(same(fresh, again), "a reused decoder decodes like a fresh one");
  if (!fresh.ok()) {
    check(fresh.error().message.find("JSON telemetry") == 0, "an error names JSON telemetry");
    check(fresh.error().message.find("send an object") != std::string_view::npos,
          "an error says what to send");
    return 0;
  }
  for (const auto& r : fresh->readings) {
    check(!r.metric.empty(), "a reading has a metric");
    check(r.text.has_value() || std::isfinite(r.number), "a number reading is finite");
  }
  for (const auto& r : fresh->refused) {
    check(r.reason.size() > 16, "a refusal says why");
    for (const char c : r.reason) {
      check(static_cast<unsigned char>(c) >= 0x20,
            "a refusal is printable (keys are shown escaped)");
    }
  }
  return 0;
}

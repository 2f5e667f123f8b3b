// Fuzz target for the device-model parser (src/model/device_model.hpp) and, on what it accepts,
// the compiled per-metric checks (src/model/compiled_model.hpp); the same bytes also go to the
// device document parser (src/model/device.hpp). On every input it checks:
//  - a refusal is errc::invalid_json ("not JSON: ...") or a path-first message ("$...: reason");
//  - an accepted model survives to_json() and back unchanged, and compiles;
//  - accept() on every metric, with numbers and texts taken from the input, either returns a
//    finite number within the metric's range or refuses with wrong_type / out_of_range, and
//    CompiledModel::accept reports an unknown metric as unknown_metric;
//  - an accepted device survives to_json() and back unchanged.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "model/compiled_model.hpp"
#include "model/device.hpp"
#include "model/device_model.hpp"

namespace {

using namespace strata::model;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "device_model_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

void check_refusal(const strata::Error& e, errc path_code) {
  if (e.is(errc::invalid_json)) {
    check(e.message.rfind("not JSON: ", 0) == 0, "a JSON error says so");
    return;
  }
  check(e.is(path_code), "a refusal has the parser's code");
  check(!e.message.empty() && e.message[0] == '$', "a refusal starts with its JSON path");
  check(e.message.find(": ") != std::string::npos, "a refusal gives a reason after the path");
}

void check_accept(const TelemetrySpec& spec, double number, std::optional<std::string_view> text) {
  const auto r = spec.accept(number, text);
  if (r.ok()) {
    check(std::isfinite(*r), "an accepted value is finite");
    if (spec.min()) check(*r >= *spec.min(), "an accepted value is not below min");
    if (spec.max()) check(*r <= *spec.max(), "an accepted value is not above max");
    if (spec.kind() == SchemaKind::boolean) check(*r == 0 || *r == 1, "a boolean is 0 or 1");
    if (spec.kind() == SchemaKind::enumeration)
      check(!spec.enum_name(*r).empty(), "an enum value names an entry");
    if (text && spec.kind() != SchemaKind::string && spec.kind() != SchemaKind::boolean &&
        spec.kind() != SchemaKind::enumeration)
      check(false, "text is never accepted for a numeric schema");
    return;
  }
  check(r.error().is(errc::wrong_type) || r.error().is(errc::out_of_range),
        "a refused reading is wrong_type or out_of_range");
  check(r.error().message.find(std::string(spec.metric().substr(0, 128))) != std::string::npos,
        "a refused reading names its metric");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto model = parse_device_model(text);
  if (!model.ok()) {
    check_refusal(model.error(), errc::invalid_model);
  } else {
    auto again = device_model_from_json(to_json(*model));
    check(again.ok(), "to_json of a model parses again");
    check(*again == *model, "a model survives to_json and back");
    auto compiled = CompiledModel::create(*model);
    check(compiled.ok(), "a parsed model compiles");
    // Numbers and texts to try: a few fixed ones and some taken from the input.
    double numbers[] = {0, 1, -1, 2.5, 212, 1e300, -0.0, std::numeric_limits<double>::quiet_NaN(),
                        0};
    if (size >= 8) std::memcpy(&numbers[8], data + size - 8, 8);
    const std::string_view texts[] = {"true", "running", "", text.substr(0, 16)};
    for (const TelemetrySpec& spec : compiled->telemetry()) {
      check(compiled->find(spec.metric()) == &spec, "find() returns the metric's own spec");
      for (double n : numbers) check_accept(spec, n, std::nullopt);
      for (std::string_view t : texts) check_accept(spec, 0, t);
      for (const EnumValue& v : spec.enum_values()) {
        check(spec.accept(0, v.name).ok() || spec.accept(0, v.name).error().is(errc::out_of_range),
              "an enum name is accepted");
      }
    }
    const auto unknown = compiled->accept("\x01not-a-metric", 1, std::nullopt);
    check(!unknown.ok() && unknown.error().is(errc::unknown_metric),
          "an unknown metric is reported as such");
  }

  auto device = parse_device(text);
  if (!device.ok()) {
    check_refusal(device.error(), errc::invalid_device);
  } else {
    check(is_valid_device_id(device->id), "an accepted device has a valid id");
    auto again = device_from_json(to_json(*device));
    check(again.ok() && *again == *device, "a device survives to_json and back");
  }
  return 0;
}

#include "model/device.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "model/dtmi.hpp"
#include "model/json_document.hpp"

namespace strata::model {
namespace {

using detail::member_path;
using detail::shown;
using nlohmann::json;

constexpr std::size_t kMaxPlaceLength = 128;
constexpr std::size_t kMaxTagKeyLength = 64;
constexpr std::size_t kMaxTagValueLength = 256;
constexpr std::size_t kMaxTags = 64;
constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxDetectors = 1024;
constexpr std::size_t kMaxDetectorText = 512;

struct Invalid {
  std::string path;
  std::string reason;
};

[[noreturn]] void fail(std::string path, std::string reason) {
  throw Invalid{std::move(path), std::move(reason)};
}

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

const std::string& string_at(const json& v, const std::string& path, std::string_view what) {
  if (!v.is_string()) fail(path, "expected " + std::string(what) + ", got " + shown(v));
  return v.get_ref<const std::string&>();
}

std::string place(const json& v, const std::string& path) {
  const std::string& s = string_at(v, path, "a string");
  if (s.size() > kMaxPlaceLength)
    fail(path, "longer than " + std::to_string(kMaxPlaceLength) + " bytes");
  if (has_control(s)) fail(path, "holds a control character");
  return s;
}

std::string device_id(const json& v, const std::string& path) {
  const std::string& id = string_at(v, path, "a device id string");
  if (!is_valid_device_id(id))
    fail(path, shown(v) + " is not a device id (1 to 128 of A-Z a-z 0-9 . _ : -)");
  return id;
}

std::int64_t integer_in(const json& v, const std::string& path, std::int64_t lo, std::int64_t hi) {
  const bool ok = v.is_number_integer() &&
                  !(v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(hi)) &&
                  v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
  if (!ok)
    fail(path, "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                   shown(v));
  return v.get<std::int64_t>();
}

ModbusEndpoint endpoint(const json& v, const std::string& path) {
  if (!v.is_object())
    fail(path,
         "expected an object {\"host\", \"port\", \"unit_id\", \"interval_ms\"}, got " + shown(v));
  ModbusEndpoint e;
  bool host = false;
  for (const auto& [key, value] : v.items()) {
    const std::string at = member_path(path, key);
    if (key == "host") {
      e.host = string_at(value, at, "a host name or address");
      if (e.host.empty() || e.host.size() > kMaxHostLength)
        fail(at, "expected 1 to " + std::to_string(kMaxHostLength) + " bytes");
      if (has_control(e.host) || e.host.find(' ') != std::string::npos)
        fail(at, shown(value) + " is not a host name or address");
      host = true;
    } else if (key == "port") {
      e.port = static_cast<std::uint16_t>(integer_in(value, at, 1, 65535));
    } else if (key == "unit_id") {
      e.unit_id = static_cast<std::uint8_t>(integer_in(value, at, 0, 255));
    } else if (key == "interval_ms") {
      e.interval_ms = static_cast<std::uint32_t>(integer_in(value, at, 10, 86'400'000));
    } else {
      fail(at, "unknown key (a Modbus endpoint has host, port, unit_id, interval_ms)");
    }
  }
  if (!host) fail(path, "missing required key \"host\"");
  return e;
}

std::vector<std::pair<std::string, std::string>> tags_of(const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "expected an object of string values, got " + shown(v));
  if (v.size() > kMaxTags) fail(path, "more than " + std::to_string(kMaxTags) + " tags");
  std::vector<std::pair<std::string, std::string>> tags;
  for (const auto& [key, value] : v.items()) {
    const std::string at = member_path(path, key);
    if (key.empty() || key.size() > kMaxTagKeyLength ||
        !std::all_of(key.begin(), key.end(), is_id_char))
      fail(at, "a tag key is 1 to " + std::to_string(kMaxTagKeyLength) + " of A-Z a-z 0-9 . _ : -");
    const std::string& s = string_at(value, at, "a string");
    if (s.size() > kMaxTagValueLength)
      fail(at, "longer than " + std::to_string(kMaxTagValueLength) + " bytes");
    if (has_control(s)) fail(at, "holds a control character");
    tags.emplace_back(key, s);
  }
  std::sort(tags.begin(), tags.end());  // nlohmann's objects are sorted already; keep the promise
  return tags;
}

// "detectors": {"metric": "<detector spec>" | "off"}: the form only; whether the metric is a
// numeric telemetry of the model and the spec a detector is the registry's validation hook's.
std::vector<std::pair<std::string, std::string>> detectors_of(const json& v,
                                                              const std::string& path) {
  if (!v.is_object())
    fail(path, "expected an object of metric: detector spec (or \"off\"), got " + shown(v));
  if (v.size() > kMaxDetectors)
    fail(path, "more than " + std::to_string(kMaxDetectors) + " detectors");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : v.items()) {
    const std::string at = member_path(path, key);
    if (key.empty() || key.size() > kMaxDetectorText || has_control(key))
      fail(at, "a metric name is 1 to " + std::to_string(kMaxDetectorText) +
                   " bytes without control characters");
    const std::string& spec =
        string_at(value, at, "a detector spec such as \"ensemble\", or \"off\"");
    if (spec.empty() || spec.size() > kMaxDetectorText || has_control(spec) ||
        spec.find(' ') != std::string::npos)
      fail(at,
           "expected a detector spec such as \"ensemble\" or \"baseline:alpha=0.1\", or "
           "\"off\", got " +
               shown(value));
    out.emplace_back(key, spec);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void apply(Device& d, const json& v, const std::string& path, bool patch) {
  if (!v.is_object()) fail(path, "expected an object (a device), got " + shown(v));
  bool id = false;
  bool model = false;
  for (const auto& [key, value] : v.items()) {
    const std::string at = member_path(path, key);
    if (key == "id") {
      std::string new_id = device_id(value, at);
      if (patch && new_id != d.id)
        fail(at, "a device's id cannot change (create a new device and decommission this one)");
      d.id = std::move(new_id);
      id = true;
    } else if (key == "model") {
      const std::string& m = string_at(value, at, "a model DTMI string");
      if (auto e = dtmi_error(m)) fail(at, shown(value) + " is not a DTMI: " + *e);
      d.model_id = m;
      model = true;
    } else if (key == "site") {
      d.site = place(value, at);
    } else if (key == "line") {
      d.line = place(value, at);
    } else if (key == "tags") {
      d.tags = tags_of(value, at);
    } else if (key == "state") {
      const auto s = value.is_string() ? parse_device_state(value.get<std::string>())
                                       : std::optional<DeviceState>{};
      if (!s)
        fail(at, "expected \"provisioned\", \"active\", \"suspended\" or \"decommissioned\", got " +
                     shown(value));
      d.state = *s;
    } else if (key == "modbus") {
      if (value.is_null() && patch)
        d.modbus.reset();
      else
        d.modbus = endpoint(value, at);
    } else if (key == "detectors") {
      if (value.is_null() && patch)
        d.detectors.clear();
      else
        d.detectors = detectors_of(value, at);
    } else {
      fail(at, "unknown key (a device has id, model, site, line, tags, state, modbus, detectors)");
    }
  }
  if (!patch && !id) fail(path, "missing required key \"id\"");
  if (!patch && !model) fail(path, "missing required key \"model\"");
}

template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Invalid& e) {
    return Error::of(errc::invalid_device, e.path + ": " + e.reason);
  } catch (const std::exception& e) {
    return Error::of(errc::invalid_device, std::string("$: ") + e.what());
  }
}

}  // namespace

std::string_view device_state_name(DeviceState s) {
  switch (s) {
    case DeviceState::provisioned:
      return "provisioned";
    case DeviceState::active:
      return "active";
    case DeviceState::suspended:
      return "suspended";
    case DeviceState::decommissioned:
      return "decommissioned";
  }
  return "unknown";
}

std::optional<DeviceState> parse_device_state(std::string_view name) {
  for (auto s : {DeviceState::provisioned, DeviceState::active, DeviceState::suspended,
                 DeviceState::decommissioned})
    if (device_state_name(s) == name) return s;
  return std::nullopt;
}

bool is_valid_device_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxDeviceIdLength &&
         std::all_of(id.begin(), id.end(), is_id_char);
}

Result<Device> device_from_json(const nlohmann::json& document, std::string_view path) {
  return guarded([&]() -> Result<Device> {
    Device d;
    apply(d, document, std::string(path), false);
    return d;
  });
}

Result<Device> parse_device(std::string_view json_text) {
  auto doc = detail::parse_json_strictly(json_text, static_cast<int>(errc::invalid_device));
  if (!doc) return doc.error();
  return device_from_json(*doc);
}

Result<std::vector<Device>> devices_from_json(const nlohmann::json& array) {
  if (!array.is_array())
    return Error::of(errc::invalid_device, "$: expected an array of devices, got " + shown(array));
  std::vector<Device> out;
  out.reserve(array.size());
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const std::string at = detail::element_path("$", i);
    auto d = device_from_json(array[i], at);
    if (!d) return d.error();
    if (!seen.insert(d->id).second)
      return Error::of(errc::invalid_device,
                       member_path(at, "id") + ": device \"" + d->id + "\" appears twice");
    out.push_back(std::move(*d));
  }
  return out;
}

Result<Device> patch_device(const Device& device, const nlohmann::json& patch) {
  return guarded([&]() -> Result<Device> {
    Device d = device;
    apply(d, patch, "$", true);
    return d;
  });
}

nlohmann::json to_json(const Device& d) {
  json tags = json::object();
  for (const auto& [k, v] : d.tags) tags[k] = v;
  json j = {{"id", d.id},     {"model", d.model_id}, {"site", d.site},
            {"line", d.line}, {"tags", tags},        {"state", device_state_name(d.state)}};
  if (d.modbus)
    j["modbus"] = {{"host", d.modbus->host},
                   {"port", d.modbus->port},
                   {"unit_id", d.modbus->unit_id},
                   {"interval_ms", d.modbus->interval_ms}};
  if (!d.detectors.empty()) {
    json det = json::object();
    for (const auto& [metric, spec] : d.detectors) det[metric] = spec;
    j["detectors"] = std::move(det);
  }
  return j;
}

}  // namespace strata::model

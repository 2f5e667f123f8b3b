#include "server/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/time_format.hpp"
#include "store/selector.hpp"

extern char** environ;

namespace strata::server {

namespace {

enum class errc { invalid = 1, io };

// One setting: its path ("http.port"), and how to set it from a TOML node or an environment text.
struct Key {
  std::string path;
  std::function<std::optional<std::string>(const toml::node&)> from_toml;
  std::function<std::optional<std::string>(std::string_view)> from_text;
};

std::optional<std::string> expect(const char* what) { return std::string("expected ") + what; }

template <class T>
Key integer(std::string path, T& out, long long lo, long long hi) {
  auto set = [&out, lo, hi](long long v) -> std::optional<std::string> {
    if (v < lo || v > hi)
      return "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
             std::to_string(v);
    out = static_cast<T>(v);
    return std::nullopt;
  };
  return {std::move(path),
          [set](const toml::node& n) -> std::optional<std::string> {
            if (auto v = n.value_exact<int64_t>()) return set(*v);
            return expect("an integer");
          },
          [set](std::string_view s) -> std::optional<std::string> {
            long long v = 0;
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            if (ec != std::errc() || p != s.data() + s.size()) return expect("an integer");
            return set(v);
          }};
}

Key boolean(std::string path, bool& out) {
  return {std::move(path),
          [&out](const toml::node& n) -> std::optional<std::string> {
            if (auto v = n.value_exact<bool>()) {
              out = *v;
              return std::nullopt;
            }
            return expect("true or false");
          },
          [&out](std::string_view s) -> std::optional<std::string> {
            if (s == "true" || s == "1")
              out = true;
            else if (s == "false" || s == "0")
              out = false;
            else
              return expect("true or false");
            return std::nullopt;
          }};
}

Key number(std::string path, double& out) {
  return {std::move(path),
          [&out](const toml::node& n) -> std::optional<std::string> {
            if (auto v = n.value<double>(); v && *v >= 0) {
              out = *v;
              return std::nullopt;
            }
            return expect("a number >= 0");
          },
          [&out](std::string_view s) -> std::optional<std::string> {
            char* end = nullptr;
            const std::string t(s);
            const double v = std::strtod(t.c_str(), &end);
            if (!end || *end || v < 0) return expect("a number >= 0");
            out = v;
            return std::nullopt;
          }};
}

// A number in (lo, hi] (`open_low`) or [lo, hi].
Key bounded_number(std::string path, double& out, double lo, double hi, bool open_low) {
  auto set = [&out, lo, hi, open_low](double v) -> std::optional<std::string> {
    const bool ok = (open_low ? v > lo : v >= lo) && v <= hi;
    if (!ok) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "expected a number in %s%g, %g], got %g", open_low ? "(" : "[",
                    lo, hi, v);
      return std::string(buf);
    }
    out = v;
    return std::nullopt;
  };
  return {std::move(path),
          [set](const toml::node& n) -> std::optional<std::string> {
            if (auto v = n.value<double>()) return set(*v);
            return expect("a number");
          },
          [set](std::string_view s) -> std::optional<std::string> {
            char* end = nullptr;
            const std::string t(s);
            const double v = std::strtod(t.c_str(), &end);
            if (t.empty() || !end || *end) return expect("a number");
            return set(v);
          }};
}

Key text(std::string path, std::string& out, std::function<bool(const std::string&)> ok = {},
         const char* what = "a string") {
  auto set = [&out, ok, what](std::string v) -> std::optional<std::string> {
    if (ok && !ok(v)) return std::string("expected ") + what + ", got \"" + v + "\"";
    out = std::move(v);
    return std::nullopt;
  };
  return {std::move(path),
          [set](const toml::node& n) -> std::optional<std::string> {
            if (auto v = n.value_exact<std::string>()) return set(*v);
            return expect("a string");
          },
          [set](std::string_view s) { return set(std::string(s)); }};
}

Key duration(std::string path, Timestamp& out, bool allow_zero = false) {
  auto set = [&out, allow_zero](std::string_view s) -> std::optional<std::string> {
    auto d = parse_duration(s);
    if (!d || *d < 0 || (!allow_zero && *d == 0))
      return "expected a duration such as 100ms, 30s, 1h or 7d, got \"" + std::string(s) + "\"";
    out = *d;
    return std::nullopt;
  };
  return {std::move(path),
          [set](const toml::node& n) -> std::optional<std::string> {
            if (auto v = n.value_exact<std::string>()) return set(*v);
            return expect("a duration string such as \"100ms\"");
          },
          set};
}

Key size(std::string path, std::uint64_t& out) {
  auto set = [&out](std::string_view s) -> std::optional<std::string> {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc()) return expect("a size such as 64MiB");
    const std::string_view unit(p, static_cast<std::size_t>(s.data() + s.size() - p));
    if (unit == "KiB")
      v <<= 10;
    else if (unit == "MiB")
      v <<= 20;
    else if (unit == "GiB")
      v <<= 30;
    else if (!unit.empty() && unit != "B")
      return expect("a size such as 64MiB (B, KiB, MiB, GiB)");
    if (v == 0) return expect("a size above 0");
    out = v;
    return std::nullopt;
  };
  return {std::move(path),
          [set](const toml::node& n) -> std::optional<std::string> {
            if (auto v = n.value_exact<std::string>()) return set(*v);
            if (auto i = n.value_exact<int64_t>(); i && *i > 0) return set(std::to_string(*i));
            return expect("a size such as \"64MiB\"");
          },
          set};
}

std::vector<Key> keys(ServerConfig& c, std::string& data_dir) {
  auto fsync_ok = [](const std::string& v) {
    return v == "batch" || v == "interval" || v == "off";
  };
  auto level_ok = [](const std::string& v) {
    return v == "trace" || v == "debug" || v == "info" || v == "warn" || v == "error" || v == "off";
  };
  return {
      text("data_dir", data_dir),
      text("log_level", c.log_level, level_ok, "trace, debug, info, warn, error or off"),
      boolean("http.enabled", c.http.enabled),
      text("http.address", c.http.address),
      integer("http.port", c.http.port, 0, 65535),
      integer("http.threads", c.http_threads, 1, 64),
      size("http.max_body", c.http_max_body_bytes),
      boolean("mqtt.enabled", c.mqtt.enabled),
      text("mqtt.address", c.mqtt.address),
      integer("mqtt.port", c.mqtt.port, 0, 65535),
      integer("mqtt.max_packet_bytes", c.mqtt_max_packet_bytes, 64, 256 << 20),
      integer("mqtt.max_connections", c.mqtt_max_connections, 1, 1'000'000),
      boolean("coap.enabled", c.coap.enabled),
      text("coap.address", c.coap.address),
      integer("coap.port", c.coap.port, 0, 65535),
      boolean("modbus.enabled", c.modbus_enabled),
      text("store.fsync", c.fsync, fsync_ok, "batch, interval or off"),
      duration("store.fsync_interval", c.fsync_interval),
      duration("store.out_of_order_window", c.out_of_order_window, true),
      integer("store.chunk_points", c.chunk_points, 16, 1 << 20),
      duration("store.retention_check_interval", c.retention_check_interval),
      integer("store.compaction_step", c.compaction_step, 0, 1 << 24),
      duration("store.compaction_pause", c.compaction_pause),
      integer("pipeline.shards", c.shards, 1, 256),
      integer("pipeline.queue_capacity", c.queue_capacity, 1, 1 << 24),
      duration("pipeline.max_future", c.max_future),
      boolean("pipeline.correct_clock_skew", c.correct_clock_skew),
      duration("pipeline.skew_tolerance", c.skew_tolerance),
      number("pipeline.device_rate_limit", c.device_rate_limit),
      boolean("pipeline.accept_unknown_metrics", c.accept_unknown_metrics),
      integer("pipeline.quarantine_max_entries", c.quarantine_max_entries, 1, 1LL << 40),
      duration("pipeline.lineage_keep", c.lineage_keep),
      text("mqtt_connector.url", c.connector.url),
      text("mqtt_connector.username", c.connector.username),
      text("mqtt_connector.password", c.connector.password),
      text("mqtt_connector.ca_file", c.connector.ca_file),
      text("mqtt_connector.cert_file", c.connector.cert_file),
      text("mqtt_connector.key_file", c.connector.key_file),
      text("mqtt_connector.client_id", c.connector.client_id),
      text("mqtt_connector.share_group", c.connector.share_group),
      duration("mqtt_connector.session_expiry", c.connector.session_expiry),
      duration("mqtt_connector.keep_alive", c.connector.keep_alive),
      integer("mqtt_connector.receive_maximum", c.connector.receive_maximum, 1, 65535),
      integer("mqtt_connector.sessions", c.connector.sessions, 1, 16),
      boolean("mqtt_connector.sparkplug", c.connector.sparkplug),
      boolean("analytics.enabled", c.analytics.enabled),
      integer("analytics.workers", c.analytics.workers, 1, 256),
      bounded_number("analytics.event_threshold", c.analytics.event_threshold, 0, 1, true),
      integer("analytics.learning_points", c.analytics.learning_points, 0, 1'000'000'000),
      duration("analytics.warm_up_window", c.analytics.warm_up_window, true),
      duration("analytics.checkpoint_interval", c.analytics.checkpoint_interval),
      integer("analytics.queue_points", c.analytics.queue_points, 1, 1 << 24),
      duration("sparkplug.rebirth_interval", c.sparkplug_rebirth_interval),
      text("sparkplug.host_id", c.sparkplug_host_id),
  };
}

std::string env_name(const std::string& path) {
  std::string n = "STRATA_";
  for (char ch : path)
    n += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return n;
}

}  // namespace

Result<ServerConfig> parse_config(std::string_view toml_text, const std::vector<std::string>& env) {
  ServerConfig c;
  std::string data_dir = c.data_dir.string();
  auto table_keys = keys(c, data_dir);
  toml::table doc;
  try {
    doc = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "configuration: line " << e.source().begin.line << ", column " << e.source().begin.column
        << ": " << e.description();
    return Error::of(errc::invalid, msg.str());
  }
  // Every leaf must be a known key; [[store.retention]] is the one array of tables.
  std::vector<std::string> errors;
  std::function<void(const toml::table&, const std::string&)> walk =
      [&](const toml::table& t, const std::string& prefix) {
        for (const auto& [k, node] : t) {
          const std::string path =
              prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
          if (path == "mqtt_connector.routes") {
            const auto* arr = node.as_array();
            for (std::size_t i = 0; arr && i < arr->size(); ++i) {
              const auto* rt = arr->get(i)->as_table();
              const std::string at = path + "[" + std::to_string(i) + "]";
              auto pattern = rt ? (*rt)["pattern"].value<std::string>() : std::nullopt;
              auto device = rt ? (*rt)["device"].value_or<std::string>("{device}") : std::string();
              if (!pattern || rt->size() > 2 || (rt->size() == 2 && !rt->contains("device")))
                errors.push_back(at +
                                 ": expected pattern = \"<topic pattern>\" and optionally "
                                 "device = \"<template>\"");
              else
                c.connector.routes.emplace_back(*pattern, device);
            }
            if (!arr) errors.push_back(path + ": expected [[mqtt_connector.routes]] tables");
            continue;
          }
          if (path == "mqtt_connector.sparkplug_device_ids") {
            const auto* ids = node.as_table();
            if (!ids)
              errors.push_back(path +
                               ": expected a table of \"group/edge[/device]\" = \"device id\"");
            for (const auto& [name, id] : ids ? *ids : toml::table{}) {
              if (auto v = id.value<std::string>())
                c.connector.sparkplug_device_ids.emplace_back(std::string(name.str()), *v);
              else
                errors.push_back(path + "." + std::string(name.str()) +
                                 ": expected a device id string");
            }
            continue;
          }
          if (path == "store.retention") {
            const auto* arr = node.as_array();
            if (!arr) {
              errors.push_back(path + ": expected [[store.retention]] tables");
              continue;
            }
            for (std::size_t i = 0; i < arr->size(); ++i) {
              const auto* rt = arr->get(i)->as_table();
              const std::string at = path + "[" + std::to_string(i) + "]";
              auto match = rt ? (*rt)["match"].value<std::string>() : std::nullopt;
              auto keep = rt ? (*rt)["keep"].value<std::string>() : std::nullopt;
              if (!match || !keep || rt->size() != 2) {
                errors.push_back(
                    at + ": expected exactly match = \"<selector>\" and keep = \"<duration>\"");
                continue;
              }
              auto sel = store::SeriesSelector::parse(*match);
              auto d = parse_duration(*keep);
              if (!sel)
                errors.push_back(at + ".match: " + sel.error().message);
              else if (!d || *d <= 0)
                errors.push_back(at + ".keep: expected a duration such as 90d");
              else
                c.retention.push_back({std::move(*sel), *d});
            }
            continue;
          }
          if (const auto* sub = node.as_table()) {
            walk(*sub, path);
            continue;
          }
          auto key = std::find_if(table_keys.begin(), table_keys.end(),
                                  [&](const Key& key) { return key.path == path; });
          if (key == table_keys.end()) {
            errors.push_back(path + ": not a setting (docs/configuration.md lists them)");
            continue;
          }
          if (auto err = key->from_toml(node)) errors.push_back(path + ": " + *err);
        }
      };
  walk(doc, "");
  for (const auto& entry : env) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || entry.rfind("STRATA_", 0) != 0) continue;
    const std::string name = entry.substr(0, eq);
    for (const auto& key : table_keys) {
      if (env_name(key.path) != name) continue;
      if (auto err = key.from_text(std::string_view(entry).substr(eq + 1)))
        errors.push_back(name + ": " + *err);
    }
  }
  if (c.connector.sessions > 1 && c.connector.share_group.empty())
    errors.push_back(
        "mqtt_connector.sessions: more than one session needs a share_group (without one, every "
        "session would receive every message)");
  if (!errors.empty()) {
    std::string msg = "configuration: " + errors.front();
    for (std::size_t i = 1; i < errors.size(); ++i) msg += "; " + errors[i];
    return Error::of(errc::invalid, msg);
  }
  c.data_dir = data_dir;
  return c;
}

Result<ServerConfig> load_config(const std::filesystem::path& file) {
  std::string text;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return Error::of(errc::io, "cannot read the configuration file " + file.string());
    text.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return parse_config(text, env);
}

}  // namespace strata::server

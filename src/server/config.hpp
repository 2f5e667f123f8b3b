#pragma once
// ServerConfig: everything `strata serve` can be told, from one TOML file (docs/configuration.md
// lists every key with its default) with environment overrides: STRATA_<SECTION>_<KEY> in capitals
// (STRATA_HTTP_PORT=9090, STRATA_STORE_FSYNC=batch), and STRATA_DATA_DIR for the top-level
// data_dir. Unknown keys and wrong types are refused with the key's path and what it expects, so a
// misspelt setting never silently keeps its default.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "store/store.hpp"

namespace strata::server {

struct ListenerConfig {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
};

struct ServerConfig {
  std::filesystem::path data_dir = "data";
  std::string log_level = "info";

  ListenerConfig http{true, "127.0.0.1", 8080};
  unsigned http_threads = 2;
  std::uint64_t http_max_body_bytes = 64ull << 20;

  ListenerConfig mqtt{true, "127.0.0.1", 1883};
  std::uint32_t mqtt_max_packet_bytes = 1u << 20;
  std::uint32_t mqtt_max_connections = 20000;

  ListenerConfig coap{true, "127.0.0.1", 5683};
  bool modbus_enabled = true;

  // Store: the same keys as the command line's global options (docs/cli.md).
  std::string fsync = "interval";
  Timestamp fsync_interval = 100'000;
  Timestamp out_of_order_window = 3600 * kMicrosPerSecond;
  std::size_t chunk_points = 8192;
  std::vector<store::RetentionRule> retention;
  Timestamp retention_check_interval = 3600 * kMicrosPerSecond;
  // Incremental compaction in the upkeep thread (Store::compact_step): points a step merges at
  // most (0: off), and the pause between steps while work remains.
  std::size_t compaction_step = 65'536;
  Timestamp compaction_pause = 100'000;

  // Pipeline (pipeline/pipeline.hpp).
  std::size_t shards = 2;
  std::size_t queue_capacity = 8192;
  Timestamp max_future = 60 * kMicrosPerSecond;
  bool correct_clock_skew = true;
  Timestamp skew_tolerance = 2 * kMicrosPerSecond;
  double device_rate_limit = 0;
  bool accept_unknown_metrics = false;
  std::size_t quarantine_max_entries = 1'000'000;
  Timestamp lineage_keep = 7 * 24 * 3600 * kMicrosPerSecond;

  // The broker connector (docs/mqtt-connector.md): off unless a URL is given.
  struct Connector {
    std::string url;  // mqtt://host[:port], mqtts://host[:port]
    std::string username, password;
    std::string ca_file, cert_file, key_file;  // TLS (mqtts://): trust anchor, client certificate
    std::string client_id = "strata";          // unique per Strata node, stable across restarts
    std::string share_group = "strata";
    Timestamp session_expiry = 3600 * kMicrosPerSecond;
    Timestamp keep_alive = 30 * kMicrosPerSecond;
    std::uint16_t receive_maximum = 256;
    // MQTT sessions this node holds in the share group: the broker spreads the messages over
    // them, each with its own receive_maximum in flight (client ids client_id, client_id-2, ...).
    unsigned sessions = 1;
    std::vector<std::pair<std::string, std::string>> routes;  // (pattern, device template)
    bool sparkplug = false;  // also a Sparkplug B primary host on the broker
    // "{group}/{edge}" or "{group}/{edge}/{device}" → registry device id
    std::vector<std::pair<std::string, std::string>> sparkplug_device_ids;
  } connector;

  // Streaming anomaly detection (detect/stage.hpp, docs/anomaly-detection.md "In the server").
  struct Analytics {
    bool enabled = true;
    std::size_t workers = 2;
    double event_threshold = 0.6;
    std::uint64_t learning_points = 500;
    Timestamp warm_up_window = 86'400 * kMicrosPerSecond;
    Timestamp checkpoint_interval = 60 * kMicrosPerSecond;
    std::size_t queue_points = 65'536;
  } analytics;

  // Sparkplug B primary host (docs/sparkplug.md), on the MQTT endpoint and, when enabled, on the
  // connector's broker.
  std::string sparkplug_host_id = "strata";
  Timestamp sparkplug_rebirth_interval = 5 * kMicrosPerSecond;
};

// Reads `file` (may be empty: defaults only), then the environment.
Result<ServerConfig> load_config(const std::filesystem::path& file);
// The same from TOML text (tests); `env` stands in for the environment: NAME=VALUE entries.
Result<ServerConfig> parse_config(std::string_view toml_text,
                                  const std::vector<std::string>& env = {});

}  // namespace strata::server

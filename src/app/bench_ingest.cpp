#include "app/bench_ingest.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/datasets.hpp"
#include "bench/load/http_load.hpp"
#include "bench/load/mqtt_load.hpp"
#include "bench/peers/http_client.hpp"
#include "bench/peers/influxdb.hpp"
#include "bench/peers/mosquitto.hpp"
#include "bench/peers/peer_process.hpp"
#include "bench/peers/victoria_metrics.hpp"

namespace strata::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kModelId = "dtmi:strata:bench:meter;1";
constexpr int kMetrics = 10;  // readings a message, metrics a device

// One figure: a JSON line, or a table row.
class Report {
 public:
  explicit Report(bool json) : json_(json) {
    if (!json_)
      std::printf("%-28s %12s %-7s %-26s %12s %12s %-8s\n", "figure", "value", "unit", "peer",
                  "ours", "theirs", "rates in");
  }
  // A plain figure.
  void add(const std::string& name, double value, const std::string& unit, json extra = {}) {
    if (json_) {
      json j{{"suite", "ingest"}, {"name", name}, {"value", value}, {"unit", unit}};
      if (extra.is_object()) j.update(extra);
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%-28s %12.4g %-7s\n", name.c_str(), value, unit.c_str());
    }
    std::fflush(stdout);
  }
  // A ratio ours ÷ theirs; value is the ratio, the two rates go along.
  void ratio(const std::string& name, double ours, double theirs, const std::string& peer,
             const std::string& rate_unit, json extra = {}) {
    const double r = theirs > 0 ? ours / theirs : 0;
    if (json_) {
      json j{{"suite", "ingest"},    {"name", name}, {"value", r},
             {"unit", "ratio"},      {"ours", ours}, {"peer", peer},
             {"peer_value", theirs}, {"ratio", r},   {"rate_unit", rate_unit}};
      if (extra.is_object()) j.update(extra);
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%-28s %12.4g %-7s %-26s %12.4g %12.4g %-8s\n", name.c_str(), r, "ratio",
                  peer.c_str(), ours, theirs, rate_unit.c_str());
    }
    std::fflush(stdout);
  }

 private:
  bool json_;
};

void note(const std::string& what) {
  std::fprintf(stderr, "bench ingest: %s\n", what.c_str());
  std::fflush(stderr);
}

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Resident memory of a process in MiB (VmRSS of /proc/<pid>/status), or -1.
double rss_mb(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!text) return -1;
  const auto at = text->find("VmRSS:");
  if (at == std::string::npos) return -1;
  return std::strtod(text->c_str() + at + 6, nullptr) / 1024.0;  // kB
}

// `strata serve` as a child process: its ports, its admin token, an authenticated HTTP client.
struct StrataServer {
  std::unique_ptr<bench::ScratchDir> scratch;
  std::optional<bench::PeerProcess> process;
  std::uint16_t http_port = 0, mqtt_port = 0;
  std::string base_url;  // http://127.0.0.1:<port>
  std::string admin_token;
  std::optional<bench::HttpClient> http;
};

Result<std::unique_ptr<StrataServer>> start_strata(const fs::path& work, const std::string& fsync,
                                                   std::uint16_t broker_port) {
  auto server = std::make_unique<StrataServer>();
  auto scratch = bench::ScratchDir::create(work, "strata-serve-");
  if (!scratch) return scratch.error();
  server->scratch = std::make_unique<bench::ScratchDir>(std::move(*scratch));
  const fs::path dir = server->scratch->path();
  const fs::path conf = dir / "strata.toml";
  {
    std::ofstream out(conf);
    out << "log_level = \"warn\"\n"
        << "[http]\nport = 0\n[mqtt]\nport = 0\n[coap]\nenabled = false\n"
        << "[modbus]\nenabled = false\n[store]\nfsync = \"" << fsync << "\"\n";
    if (broker_port != 0)
      out << "[mqtt_connector]\nurl = \"mqtt://127.0.0.1:" << broker_port << "\"\n"
          << "client_id = \"strata-bench\"\nsessions = 2\n"
          << "[[mqtt_connector.routes]]\npattern = \"strata/{device}/telemetry\"\n";
  }
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  bench::ProcessSpec spec{
      .name = "strata serve",
      .program = self,
      .args = {"--data-dir", (dir / "data").string(), "serve", "--config", conf.string()},
      .log_file = dir / "serve.log",
      .working_dir = dir};
  // STRATA_BENCH_SERVE_PREFIX runs the server under a tool, e.g. "/usr/bin/valgrind
  // --tool=callgrind --callgrind-out-file=/tmp/serve.cg" (words split on spaces; the first is an
  // absolute path), to see where a short run's time goes.
  if (const char* prefix = std::getenv("STRATA_BENCH_SERVE_PREFIX"); prefix && *prefix) {
    std::vector<std::string> words;
    std::istringstream in(prefix);
    for (std::string w; in >> w;) words.push_back(w);
    words.push_back(self);
    words.insert(words.end(), spec.args.begin(), spec.args.end());
    spec.program = words.front();
    spec.args.assign(words.begin() + 1, words.end());
  }
  auto process = bench::PeerProcess::spawn(spec, std::chrono::seconds(60));
  if (!process) return process.error();
  server->process.emplace(std::move(*process));
  // The server prints the ports it got (port 0 in the configuration) once it listens.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (server->http_port == 0 || server->mqtt_port == 0) {
    if (!server->process->running() || Clock::now() > deadline)
      return Error::of(bench::PeerErrc::exited, "strata serve did not start (" +
                                                    server->process->exit_description() + "):\n" +
                                                    server->process->log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto log = read_file(spec.log_file).value_or("");
    auto port_after = [&](std::string_view marker) -> std::uint16_t {
      const auto at = log.find(marker);
      return at == std::string::npos
                 ? 0
                 : static_cast<std::uint16_t>(std::atoi(log.c_str() + at + marker.size()));
    };
    server->http_port = port_after("REST API   http://127.0.0.1:");
    server->mqtt_port = port_after("MQTT       127.0.0.1:");
  }
  server->base_url = "http://127.0.0.1:" + std::to_string(server->http_port);
  if (auto st = server->process->wait_ready(server->base_url + "/readyz", std::chrono::seconds(60));
      !st)
    return st.error();
  auto token = read_file(dir / "data" / "admin-token");
  if (!token) return Error::of(bench::PeerErrc::io, "no admin-token in " + dir.string());
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
  server->admin_token = *token;
  auto http = bench::HttpClient::create();
  if (!http) return http.error();
  http->set_headers({"Authorization: Bearer " + server->admin_token});
  server->http.emplace(std::move(*http));
  return server;
}

Result<json> rest(StrataServer& s, const std::string& method, const std::string& path,
                  const std::string& body = {}) {
  auto r = method == "GET" ? s.http->get(s.base_url + path)
                           : s.http->post(s.base_url + path, body, "application/json");
  if (!r) return r.error();
  if (!r->ok())
    return Error::of(bench::PeerErrc::http_status, method + " " + path + " answered HTTP " +
                                                       std::to_string(r->status) + ": " +
                                                       bench::excerpt(r->body));
  try {
    return r->body.empty() ? json() : json::parse(r->body);
  } catch (const json::exception& e) {
    return Error::of(bench::PeerErrc::bad_response, path + ": " + e.what());
  }
}

std::string device_id(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "meter-%05zu", i);
  return buf;
}

Status provision_model(StrataServer& s) {
  json contents = json::array();
  for (int m = 0; m < kMetrics; ++m)
    contents.push_back(
        {{"@type", "Telemetry"}, {"name", "m" + std::to_string(m)}, {"schema", "double"}});
  json model{{"@context", "dtmi:dtdl:context;3"},
             {"@id", kModelId},
             {"@type", "Interface"},
             {"displayName", "Benchmark meter"},
             {"contents", contents}};
  auto r = rest(s, "POST", "/api/v1/models", model.dump());
  if (!r) return r.error();
  return {};
}

// Registers devices [from, to) and appends their tokens to `tokens`.
Status provision_devices(StrataServer& s, std::size_t from, std::size_t to,
                         std::vector<std::string>& tokens) {
  for (std::size_t start = from; start < to; start += 1000) {
    json batch = json::array();
    for (std::size_t i = start; i < std::min(to, start + 1000); ++i)
      batch.push_back({{"id", device_id(i)}, {"model", kModelId}, {"site", "bench"}});
    auto r = rest(s, "POST", "/api/v1/devices/import", batch.dump());
    if (!r) return r.error();
    if (!r->is_array() || r->size() != batch.size())
      return Error::of(bench::PeerErrc::bad_response, "device import answered no token list");
    for (const auto& d : *r) tokens.push_back(d.at("token").get<std::string>());
  }
  return {};
}

// Per device: the next message number (each message's timestamp is base + number ms, so no two
// messages of a device share a timestamp across the whole run).
struct DeviceClock {
  std::int64_t base_ms;
  std::vector<std::uint64_t> next;
};

std::string telemetry_json(std::int64_t ts_ms, std::uint64_t seq) {
  std::string p = "{\"ts\":" + std::to_string(ts_ms) + ",\"values\":{";
  char buf[48];
  for (int m = 0; m < kMetrics; ++m) {
    const double v =
        20.0 + static_cast<double>((seq * 7 + static_cast<std::uint64_t>(m) * 13) % 1000) / 10.0;
    std::snprintf(buf, sizeof buf, "%s\"m%d\":%.1f", m ? "," : "", m, v);
    p += buf;
  }
  p += "}}";
  return p;
}

bench::MqttLoadOptions mqtt_options(std::uint16_t port, const std::vector<std::string>& users,
                                    const std::vector<std::string>& topics, DeviceClock& clock,
                                    const BenchIngestOptions& o) {
  bench::MqttLoadOptions m;
  m.port = port;
  m.usernames = users;
  m.topics = topics;
  m.in_flight = o.in_flight;
  m.duration = std::chrono::milliseconds(static_cast<long>(o.mqtt_seconds * 1000));
  m.payload = [&clock](std::size_t conn, std::uint64_t seq) {
    const std::uint64_t n = clock.next[conn] + seq;
    return telemetry_json(clock.base_ms + static_cast<std::int64_t>(n), n);
  };
  return m;
}

void advance(DeviceClock& clock, const bench::MqttLoadResult& r) {
  for (std::size_t i = 0; i < r.sent_per_connection.size(); ++i)
    clock.next[i] += r.sent_per_connection[i];
}

double percentile(std::vector<float> v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(std::min<double>(v.size() - 1, p * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

double scrape(StrataServer& s, std::string_view metric) {
  auto r = s.http->get(s.base_url + "/metrics");
  if (!r || !r->ok()) return -1;
  double sum = 0;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(metric)) continue;
    const char next = line.size() > metric.size() ? line[metric.size()] : ' ';
    if (next != ' ' && next != '{') continue;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

// Points the store holds for a device in [from_us, to_us): Σ count over its series.
Result<std::uint64_t> stored_points(StrataServer& s, const std::string& device,
                                    std::int64_t from_us, std::int64_t to_us) {
  auto r = rest(s, "GET",
                "/api/v1/devices/" + device + "/telemetry?from=" + std::to_string(from_us) +
                    "&to=" + std::to_string(to_us) + "&every=1d&agg=count");
  if (!r) return r.error();
  std::uint64_t n = 0;
  for (const auto& series : r->at("series"))
    for (const auto& b : series.at("buckets"))
      if (b.contains("count") && b.at("count").is_number()) n += b.at("count").get<std::uint64_t>();
  return n;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int run_bench_ingest(const BenchIngestOptions& o) {
  Report report(o.json);
  const fs::path work =
      o.work_dir.empty() ? fs::temp_directory_path() / "strata-bench-ingest" : fs::path(o.work_dir);
  auto scratch = bench::ScratchDir::create(work, "run-");
  if (!scratch) {
    note(scratch.error().message);
    return 1;
  }
  const fs::path run_dir = scratch->path();
  const bool with_mosquitto = o.peers.find("mosquitto") != std::string::npos;
  const auto t_bench = Clock::now();

  std::unique_ptr<bench::Mosquitto> mosquitto;
  std::string mosquitto_name = "Mosquitto (not run)";
  if (with_mosquitto) {
    auto m = bench::Mosquitto::create(run_dir);
    if (m) {
      mosquitto = std::move(*m);
      mosquitto_name = mosquitto->name();
    } else
      note("Mosquitto did not start: " + m.error().message);
  }
  auto started = start_strata(run_dir, o.fsync, mosquitto ? mosquitto->port() : 0);
  if (!started) {
    note(started.error().message);
    return 1;
  }
  StrataServer& srv = **started;
  note("strata serve pid " + std::to_string(srv.process->pid()) + ", HTTP " +
       std::to_string(srv.http_port) + ", MQTT " + std::to_string(srv.mqtt_port) + ", fsync " +
       o.fsync);

  const double rss_at_start = rss_mb(srv.process->pid());
  std::vector<std::string> tokens;
  if (auto st = provision_model(srv); !st) {
    note(st.error().message);
    return 1;
  }
  if (auto st = provision_devices(srv, 0, o.devices, tokens); !st) {
    note(st.error().message);
    return 1;
  }
  DeviceClock clock{now_ms() - 50 * 60 * 1000, std::vector<std::uint64_t>(o.rss_devices, 0)};
  clock.next.resize(std::max(o.rss_devices, o.devices), 0);
  const std::int64_t from_us = clock.base_ms * 1000 - 1;

  std::vector<std::string> users(tokens.begin(), tokens.begin() + static_cast<long>(o.devices));
  std::vector<std::string> tb_topics(o.devices, "v1/devices/me/telemetry");
  std::vector<std::uint64_t> acked_total(o.devices, 0);

  // 1. Our MQTT endpoint at full speed: PUBACKs a second (each PUBACK: 10 points durable).
  auto ours = bench::run_mqtt_publishers(mqtt_options(srv.mqtt_port, users, tb_topics, clock, o));
  if (!ours) {
    note("MQTT load on strata serve: " + ours.error().message);
    return 1;
  }
  advance(clock, *ours);
  for (std::size_t i = 0; i < o.devices; ++i) acked_total[i] += ours->acked_per_connection[i];
  const double our_rate = ours->rate();
  note("strata MQTT: " + std::to_string(static_cast<long>(our_rate)) + " msg/s over " +
       std::to_string(o.devices) + " connections (connect " +
       std::to_string(ours->connect_seconds) + " s)");

  // 2. Latency publish → PUBACK (= durable) at half that rate.
  auto half = mqtt_options(srv.mqtt_port, users, tb_topics, clock, o);
  half.rate = our_rate / 2;
  half.record_latency = true;
  auto lat = bench::run_mqtt_publishers(half);
  if (!lat) {
    note("MQTT latency run: " + lat.error().message);
    return 1;
  }
  advance(clock, *lat);
  for (std::size_t i = 0; i < o.devices; ++i) acked_total[i] += lat->acked_per_connection[i];

  // 3. Every PUBACKed message's points are in the store.
  std::uint64_t missing = 0, expected = 0, stored = 0;
  for (std::size_t i = 0; i < o.devices; ++i) {
    auto n = stored_points(srv, device_id(i), from_us, now_ms() * 1000 + 60'000'000);
    if (!n) {
      note("verification: " + n.error().message);
      return 1;
    }
    expected += acked_total[i] * kMetrics;
    stored += *n;
    if (*n < acked_total[i] * kMetrics) missing += acked_total[i] * kMetrics - *n;
  }

  // 4. Mosquitto's lossless pass-through, then our connector behind it.
  double mosquitto_rate = 0, connector_rate = 0, mosquitto_publishers_rate = 0;
  std::uint64_t connector_backlog = 0;
  if (mosquitto) {
    auto sub = bench::MqttCountingSubscriber::start("127.0.0.1", mosquitto->port(), "bench/#",
                                                    "bench-counter");
    if (!sub) {
      note("Mosquitto subscriber: " + sub.error().message);
    } else {
      std::vector<std::string> anon(o.devices), topics;
      for (std::size_t i = 0; i < o.devices; ++i) topics.push_back("bench/" + device_id(i));
      DeviceClock scratch_clock{clock.base_ms, std::vector<std::uint64_t>(o.devices, 0)};
      auto m = mqtt_options(mosquitto->port(), anon, topics, scratch_clock, o);
      std::uint64_t at_open = 0, at_close = 0;
      Clock::time_point t_open, t_close;
      m.on_phase = [&](int phase) {
        if (phase == bench::MqttLoadOptions::kWindowOpens) {
          at_open = (*sub)->received();
          t_open = Clock::now();
        } else if (phase == bench::MqttLoadOptions::kWindowCloses) {
          at_close = (*sub)->received();
          t_close = Clock::now();
        }
      };
      auto pass = bench::run_mqtt_publishers(m);
      if (!pass) {
        note("MQTT load on Mosquitto: " + pass.error().message);
      } else {
        mosquitto_rate = static_cast<double>(at_close - at_open) /
                         std::chrono::duration<double>(t_close - t_open).count();
        mosquitto_publishers_rate = pass->rate();
        const auto got = (*sub)->wait_for(pass->sent, std::chrono::seconds(30));
        note("Mosquitto pass-through: " + std::to_string(static_cast<long>(mosquitto_rate)) +
             " msg/s to the subscriber (publishers acked " +
             std::to_string(static_cast<long>(pass->rate())) + " msg/s; subscriber got " +
             std::to_string(got) + " of " + std::to_string(pass->sent) + ")");
      }
    }
    if (sub) sub->reset();  // disconnects the subscriber

    // The connector: publishers → Mosquitto → $share subscription → pipeline → store.
    std::vector<std::string> anon(o.devices), topics;
    for (std::size_t i = 0; i < o.devices; ++i)
      topics.push_back("strata/" + device_id(i) + "/telemetry");
    auto m = mqtt_options(mosquitto->port(), anon, topics, clock, o);
    const double acked_before = scrape(srv, "strata_mqtt_connector_acked_total");
    double at_open = 0, at_close = 0;
    Clock::time_point t_open, t_close;
    m.on_phase = [&](int phase) {
      if (phase == bench::MqttLoadOptions::kWindowOpens) {
        at_open = scrape(srv, "strata_mqtt_connector_acked_total");
        t_open = Clock::now();
      } else if (phase == bench::MqttLoadOptions::kWindowCloses) {
        at_close = scrape(srv, "strata_mqtt_connector_acked_total");
        t_close = Clock::now();
      }
    };
    auto conn = bench::run_mqtt_publishers(m);
    if (!conn) {
      note("MQTT load on Mosquitto for the connector: " + conn.error().message);
    } else {
      advance(clock, *conn);
      connector_rate =
          (at_close - at_open) / std::chrono::duration<double>(t_close - t_open).count();
      // Let the connector catch up (bounded), so the next phase measures alone.
      const double want = acked_before + static_cast<double>(conn->acked);
      const auto until = Clock::now() + std::chrono::seconds(30);
      double now_acked = 0;
      while ((now_acked = scrape(srv, "strata_mqtt_connector_acked_total")) < want &&
             Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      connector_backlog = want > now_acked ? static_cast<std::uint64_t>(want - now_acked) : 0;
      note("connector: " + std::to_string(static_cast<long>(connector_rate)) +
           " msg/s; backlog after 30 s: " + std::to_string(connector_backlog));
    }
    mosquitto.reset();
  }

  if (mosquitto_rate <= 0)
    report.add("mqtt_ingest_msgs_per_s", our_rate, "msg/s",
               {{"points_per_s", our_rate * kMetrics}, {"devices", o.devices}});
  else
    report.ratio("mqtt_ingest_ratio", our_rate, mosquitto_rate, mosquitto_name, "msg/s",
                 {{"ours_points_per_s", our_rate * kMetrics},
                  {"devices", o.devices},
                  {"in_flight", o.in_flight},
                  {"readings_per_message", kMetrics},
                  {"peer_publishers_acked_per_s", mosquitto_publishers_rate},
                  {"fsync", o.fsync}});
  report.add("mqtt_acked_points_missing", static_cast<double>(missing), "points",
             {{"expected", expected}, {"stored", stored}});
  report.add("publish_to_stored_p50_ms", percentile(lat->latencies_ms, 0.50), "ms",
             {{"rate_msg_per_s", lat->rate()}, {"samples", lat->latencies_ms.size()}});
  report.add("publish_to_stored_p99_ms", percentile(lat->latencies_ms, 0.99), "ms",
             {{"rate_msg_per_s", lat->rate()}, {"samples", lat->latencies_ms.size()}});
  if (mosquitto_rate > 0)
    report.ratio("mqtt_connector_ratio", connector_rate, mosquitto_rate, mosquitto_name, "msg/s",
                 {{"connector_backlog_after_30s", connector_backlog}});

  // 5. Resident memory with rss_devices devices × 10 metrics, every one connected and reporting.
  if (o.rss_devices > 0) {
    const double rss_before = rss_mb(srv.process->pid());
    const double points_before = scrape(srv, "strata_points_stored_total");
    if (o.rss_devices > o.devices) {
      if (auto st = provision_devices(srv, o.devices, o.rss_devices, tokens); !st) {
        note(st.error().message);
        return 1;
      }
    }
    const double rss_provisioned = rss_mb(srv.process->pid());
    std::vector<std::string> all(tokens.begin(), tokens.begin() + static_cast<long>(o.rss_devices));
    std::vector<std::string> topics(o.rss_devices, "v1/devices/me/telemetry");
    auto m = mqtt_options(srv.mqtt_port, all, topics, clock, o);
    m.max_messages_per_connection = 3;
    double rss = -1, rss_connected = -1;
    const pid_t pid = srv.process->pid();
    m.on_phase = [&](int phase) {
      if (phase == bench::MqttLoadOptions::kAllAcked) rss = rss_mb(pid);
      if (phase == bench::MqttLoadOptions::kConnected) rss_connected = rss_mb(pid);
    };
    auto r = bench::run_mqtt_publishers(m);
    if (!r) {
      note("MQTT load for the memory figure: " + r.error().message);
    } else {
      advance(clock, *r);
      report.add("rss_mb_10k_devices", rss, "MiB",
                 {{"devices", o.rss_devices},
                  {"metrics_per_device", kMetrics},
                  {"connections_open", o.rss_devices},
                  {"rss_at_start_mb", rss_at_start},
                  {"rss_before_phase_mb", rss_before},
                  {"rss_after_provisioning_mb", rss_provisioned},
                  {"rss_connected_before_publishing_mb", rss_connected},
                  {"stored_points_before_phase", points_before},
                  {"rss_after_disconnect_mb", rss_mb(pid)}});
    }
  }

  // 6. Line protocol over HTTP: the same batches to every server, by the same parallel client.
  if (o.points > 0) {
    const std::size_t series = 1000;
    const std::size_t seconds = std::max<std::size_t>(1, o.points / series);
    auto ds = bench::synthetic_dataset(1, series, seconds);
    std::string precision;
    auto batches = bench::to_line_protocol(ds, 10'000, precision);
    const double points = static_cast<double>(ds.points());
    ds = {};
    auto ours_lp = bench::post_batches_parallel(
        srv.base_url + "/write?db=bench&precision=" + precision + "&p=" + srv.admin_token, batches,
        o.http_connections, "strata");
    if (!ours_lp) {
      note("line protocol to strata: " + ours_lp.error().message);
      return 1;
    }
    const double our_pps = points / ours_lp->seconds;
    note("strata line protocol: " + std::to_string(static_cast<long>(our_pps)) + " points/s (" +
         std::to_string(ours_lp->retries) + " retries after 503)");
    auto peer_rate = [&](const std::string& name, const std::string& url) -> double {
      auto r = bench::post_batches_parallel(url, batches, o.http_connections, name);
      if (!r) {
        note(r.error().message);
        return 0;
      }
      return points / r->seconds;
    };
    const json lp_extra{{"points", points},
                        {"batch_lines", 10'000},
                        {"connections", o.http_connections},
                        {"fsync", o.fsync}};
    if (o.peers.find("vm") != std::string::npos) {
      auto vm = bench::VictoriaMetrics::create(run_dir, {});
      if (!vm) {
        note("VictoriaMetrics did not start: " + vm.error().message);
      } else {
        const double r =
            peer_rate((*vm)->name(), (*vm)->base_url() + "/write?precision=" + precision);
        report.ratio("lineprotocol_vm_ratio", our_pps, r, (*vm)->name(), "points/s", lp_extra);
      }
    }
    if (o.peers.find("influx") != std::string::npos) {
      auto influx = bench::InfluxDb::create(run_dir, {});
      if (!influx) {
        note("InfluxDB did not start: " + influx.error().message);
      } else {
        const double r = peer_rate(
            (*influx)->name(), (*influx)->base_url() + "/write?db=bench&precision=" + precision);
        report.ratio("lineprotocol_influx_ratio", our_pps, r, (*influx)->name(), "points/s",
                     lp_extra);
      }
    }
    if (o.peers == "none") report.add("lineprotocol_points_per_s", our_pps, "points/s", lp_extra);

    // What the store keeps of it: the bytes a point of its chunks when the writes are answered,
    // and once the server's compaction steps have caught up (the head budget, shared by the
    // 1,000 series, seals chunks of about 1,000 points; compaction merges them into full ones).
    struct StoreFigures {
      double chunk_bytes, chunk_points, chunks;
    };
    auto store_figures = [&srv] {
      const double points = scrape(srv, "strata_store_points");
      const double head = scrape(srv, "strata_store_head_points");
      return StoreFigures{scrape(srv, "strata_store_chunk_bytes"), points - head,
                          scrape(srv, "strata_store_chunks")};
    };
    auto per_point = [](const StoreFigures& f) {
      return f.chunk_points > 0 ? f.chunk_bytes / f.chunk_points : 0.0;
    };
    const StoreFigures answered = store_figures();
    const auto t_wait = Clock::now();
    double runs = -1;
    while (Clock::now() - t_wait < std::chrono::seconds(300)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      const double now_runs = scrape(srv, "strata_store_compaction_runs_total");
      const bool idle = scrape(srv, "strata_store_compaction_caught_up") == 1 ||
                        scrape(srv, "strata_store_compaction_steps_total") == 0;  // turned off
      if (idle && now_runs == runs) break;
      runs = now_runs;
    }
    const StoreFigures compacted = store_figures();
    report.add(
        "lineprotocol_chunk_bytes_per_point", per_point(compacted), "B/pt",
        {{"when_answered", per_point(answered)},
         {"chunks_when_answered", answered.chunks},
         {"chunks", compacted.chunks},
         {"points_in_chunks", compacted.chunk_points},
         {"compaction_wait_s", std::chrono::duration<double>(Clock::now() - t_wait).count()},
         {"compaction_chunks_merged", scrape(srv, "strata_store_compaction_chunks_merged_total")},
         {"compaction_points_rewritten", scrape(srv, "strata_store_compaction_points_total")},
         {"note", "the whole store: the line-protocol set and the MQTT steps' readings"}});
  }
  note("done in " +
       std::to_string(
           static_cast<long>(std::chrono::duration<double>(Clock::now() - t_bench).count())) +
       " s");
  return 0;
}

void register_bench_ingest(CLI::App& bench) {
  auto o = std::make_shared<BenchIngestOptions>();
  auto* cmd = bench.add_subcommand(
      "ingest",
      "strata serve end to end: MQTT vs Mosquitto, the broker connector, line protocol vs "
      "VictoriaMetrics and InfluxDB, latency, memory with 10k devices");
  cmd->add_flag("--json", o->json, "One JSON object a line (suite \"ingest\")");
  cmd->add_option("--peers", o->peers, "Peers: vm,influx,mosquitto or none")->capture_default_str();
  cmd->add_option("--points", o->points, "Line-protocol points (0: skip)")->capture_default_str();
  cmd->add_option("--devices", o->devices, "MQTT devices, one connection each")
      ->capture_default_str();
  cmd->add_option("--rss-devices", o->rss_devices, "Devices of the memory figure (0: skip)")
      ->capture_default_str();
  cmd->add_option("--seconds", o->mqtt_seconds, "Each MQTT measurement window")
      ->capture_default_str();
  cmd->add_option("--in-flight", o->in_flight, "Unacknowledged QoS 1 messages a device may have")
      ->capture_default_str();
  cmd->add_option("--connections", o->http_connections, "Parallel line-protocol writers")
      ->capture_default_str();
  cmd->add_option("--fsync", o->fsync, "strata serve's store.fsync: batch or interval")
      ->check(CLI::IsMember({"batch", "interval", "off"}))
      ->capture_default_str();
  cmd->add_option("--work-dir", o->work_dir, "Scratch directory (default: under /tmp)");
  cmd->callback([o] {
    if (const int rc = run_bench_ingest(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace strata::app

// strata sim end to end against real peers started by the test: Mosquitto from Debian (the MQTT
// uplink, counted by mosquitto_sub), a libmodbus client reading the simulator's Modbus servers back
// and decoding them independently of the poller's codec, and two small receivers written here
// with plain sockets for HTTP and CoAP. Each checks that what the simulator counted as sent and
// acknowledged is what the peer received, sample for sample.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/time_format.hpp"
#include "ingest/sparkplug/sparkplug_payload.hpp"
#include "sim/runner.hpp"

extern char** environ;

namespace strata::sim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A child process started by the test and stopped by its PID.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& stdout_file) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    if (!wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 5000ms)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  [[nodiscard]] bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

int bind_loopback(int type, std::uint16_t& port) {
  const int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

std::uint16_t free_tcp_port() {
  std::uint16_t port = 0;
  const int fd = bind_loopback(SOCK_STREAM, port);
  close(fd);
  return port;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The number of samples in a JSON telemetry document (an object or an array of them).
std::size_t samples_in(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_array()) return j.size();
  return j.is_object() ? 1 : 0;
}

// An HTTP/1.1 server that answers every request 200 and keeps what it received.
class HttpReceiver {
 public:
  HttpReceiver() {
    fd_ = bind_loopback(SOCK_STREAM, port_);
    listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpReceiver() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  std::vector<std::pair<std::string, std::string>> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string buf;
      char chunk[65536];
      for (;;) {
        const auto head_end = buf.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          const auto cl = buf.find("Content-Length: ");
          const std::size_t len = cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16, 12));
          if (buf.size() >= head_end + 4 + len) {
            const std::string line = buf.substr(0, buf.find("\r\n"));
            {
              std::lock_guard lock(mu_);
              requests_.emplace_back(line, buf.substr(head_end + 4, len));
            }
            buf.erase(0, head_end + 4 + len);
            const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
            if (write(c, ok, sizeof ok - 1) < 0) break;
            continue;
          }
        }
        const ssize_t n = read(c, chunk, sizeof chunk);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      close(c);
    }
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> requests_;
  std::thread thread_;
};

// A CoAP server over UDP that acknowledges every confirmable request with a piggybacked 2.04 and
// keeps each request's Uri-Path and payload (RFC 7252 §3: header, token, options, 0xFF, payload).
class CoapReceiver {
 public:
  CoapReceiver() {
    fd_ = bind_loopback(SOCK_DGRAM, port_);
    timeval tv{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] { serve(); });
  }
  ~CoapReceiver() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  std::vector<std::pair<std::string, std::string>> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    std::uint8_t b[2048];
    while (!stop_) {
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      const ssize_t n = recvfrom(fd_, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 4) continue;
      const std::size_t tkl = b[0] & 0x0F;
      std::size_t i = 4 + tkl;
      unsigned option = 0;
      std::string path, payload;
      while (i < static_cast<std::size_t>(n)) {
        if (b[i] == 0xFF) {
          payload.assign(reinterpret_cast<const char*>(b + i + 1),
                         static_cast<std::size_t>(n) - i - 1);
          break;
        }
        unsigned delta = b[i] >> 4, len = b[i] & 0x0F;
        ++i;
        if (delta == 13)
          delta = 13 + b[i++];
        else if (delta == 14)
          delta = 269 + (b[i] << 8 | b[i + 1]), i += 2;
        if (len == 13)
          len = 13 + b[i++];
        else if (len == 14)
          len = 269 + (b[i] << 8 | b[i + 1]), i += 2;
        option += delta;
        if (option == 11) path += "/" + std::string(reinterpret_cast<const char*>(b + i), len);
        i += len;
      }
      {
        std::lock_guard lock(mu_);
        requests_.emplace_back(path, payload);
      }
      std::uint8_t ack[12] = {static_cast<std::uint8_t>(0x60 | tkl), 0x44, b[2], b[3]};
      std::copy(b + 4, b + 4 + tkl, ack + 4);
      sendto(fd_, ack, 4 + tkl, 0, reinterpret_cast<sockaddr*>(&from), fl);
    }
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> requests_;
  std::thread thread_;
};

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/strata-sim-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

constexpr const char* kProfile = R"(
seed = 11
modbus_base_port = 0
[[sites]]
id = "site"
shifts = "continuous"
  [[sites.lines]]
  id = "line"
  devices = [
    { id = "cmp-1", kind = "compressor", transport = "mqtt" },
    { id = "mtr-1", kind = "motor", transport = "mqtt", topics = "thingsboard" },
    { id = "pmp-1", kind = "pump", transport = "http" },
    { id = "pmp-2", kind = "pump", transport = "coap", interval = "2s" },
    { id = "em-1", kind = "energy_meter", transport = "modbus" },
    { id = "sp-1", kind = "pump", transport = "sparkplug" },
  ]
)";

struct SimRun {
  ScratchDir dir;
  SimOptions o;
  SimRun() {
    std::ofstream(dir.path() / "plant.toml") << kProfile;
    o.profile = dir.path() / "plant.toml";
    o.models = STRATA_SOURCE_DIR "/examples/models";
    o.provision = false;
    o.speed = 600;                           // ten simulated minutes a wall second
    o.duration = 5 * 60 * kMicrosPerSecond;  // half a wall second
    o.start = *parse_iso8601("2026-11-25T10:00:00Z");
    o.status_every = 60 * kMicrosPerSecond;  // no status line during the run
    o.fault_log = dir.path() / "faults.jsonl";
    o.summary = dir.path() / "summary.json";
    o.faults = {"cmp-1:spike@+1m,metric=vibration_rms"};
  }
};

TEST(SimEndToEnd, EveryTransportDeliversWhatItCounted) {
  ScratchDir mq;
  const std::uint16_t mqtt_port = free_tcp_port();
  Process broker({"/usr/sbin/mosquitto", "-v", "-p", std::to_string(mqtt_port)},
                 (mq.path() / "broker.log").string());
  ASSERT_TRUE(broker.started());
  ASSERT_TRUE(wait_until(
      [&] {
        std::uint16_t unused = 0;
        const int fd = bind_loopback(SOCK_STREAM, unused);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(mqtt_port);
        const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        close(fd);
        return ok;
      },
      10s));
  const fs::path sub_out = mq.path() / "sub.txt";
  // Line-buffered (stdbuf), so each message is in the file as it arrives; the broker's verbose log
  // tells when the subscription stands, before the simulator starts.
  Process sub(
      {"/usr/bin/stdbuf", "-oL", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p",
       std::to_string(mqtt_port), "-q", "1", "-t", "#", "-F", "%t %x", "-i", "sim-test-counter"},
      sub_out.string());
  ASSERT_TRUE(wait_until(
      [&] {
        return read_file(mq.path() / "broker.log").find("sim-test-counter 1 #") !=
               std::string::npos;
      },
      10s))
      << read_file(sub_out) << read_file(mq.path() / "broker.log");
  HttpReceiver http;
  CoapReceiver coap;

  SimRun run;
  run.o.mqtt = "127.0.0.1:" + std::to_string(mqtt_port);
  run.o.server = "http://127.0.0.1:" + std::to_string(http.port());
  run.o.coap = "127.0.0.1:" + std::to_string(coap.port());
  const fs::path status = run.dir.path() / "status.txt";
  std::FILE* out = std::fopen(status.c_str(), "w");
  auto runner = SimRunner::create(run.o, out);
  ASSERT_TRUE(runner) << runner.error().message;
  SimRunner& r = **runner;
  // Every MQTT device connected before the clock matters: nothing counts as failed.
  ASSERT_TRUE(wait_until(
      [&] { return r.totals(Transport::mqtt).up == 2 && r.totals(Transport::sparkplug).up == 1; },
      10s));
  ASSERT_TRUE(r.run());
  std::fclose(out);

  // Five simulated minutes: 300 samples a 1-second device, 150 for the 2-second one.
  const TransportTotals m = r.totals(Transport::mqtt);
  EXPECT_EQ(m.samples_sent, 600u);
  EXPECT_EQ(m.samples_acked, 600u);
  EXPECT_EQ(m.acked, m.sent);
  EXPECT_EQ(m.failed, 0u);
  EXPECT_GT(m.sent, 4u);  // batched by the 50 ms tick, not one message for all
  const TransportTotals spk = r.totals(Transport::sparkplug);
  EXPECT_EQ(spk.samples_acked, 300u);
  EXPECT_EQ(spk.acked, spk.sent);
  EXPECT_EQ(spk.failed, 0u);
  // mosquitto_sub saw every message on the right topic (payloads in hex: JSON or protobuf).
  std::size_t received = 0, samples = 0, strata_topic = 0, tb_topic = 0;
  std::size_t births = 0, data = 0, sp_samples = 0;
  std::vector<std::uint64_t> seqs;
  ASSERT_TRUE(wait_until(
      [&] {
        received = samples = strata_topic = tb_topic = births = data = sp_samples = 0;
        seqs.clear();
        std::istringstream in(read_file(sub_out));
        std::string line;
        while (std::getline(in, line)) {
          const auto sp = line.find(' ');
          if (sp == std::string::npos) continue;
          const std::string topic = line.substr(0, sp);
          std::string payload;
          for (std::size_t i = sp + 1; i + 1 < line.size(); i += 2)
            payload += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
          if (topic.rfind("spBv1.0/site/", 0) == 0) {
            auto p = ingest::sparkplug::decode_payload(payload);
            EXPECT_TRUE(p) << topic;
            if (!p) continue;
            std::set<Timestamp> ts;
            for (const auto& m : p->metrics)
              if (m.timestamp) ts.insert(*m.timestamp);
            if (topic == "spBv1.0/site/NBIRTH/sp-1") ++births;
            if (topic == "spBv1.0/site/NDATA/sp-1") ++data;
            if (p->seq) seqs.push_back(*p->seq);
            sp_samples += ts.size();
            continue;
          }
          ++received;
          samples += samples_in(payload);
          if (topic == "strata/v1/devices/cmp-1/telemetry") ++strata_topic;
          if (topic == "v1/devices/me/telemetry") ++tb_topic;
        }
        return received >= m.sent && births + data >= spk.sent;
      },
      10s));
  EXPECT_EQ(births, 1u);
  EXPECT_EQ(births + data, spk.sent);
  EXPECT_EQ(sp_samples, 300u);
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i % 256);
  EXPECT_EQ(received, m.sent);
  EXPECT_EQ(samples, 600u);
  EXPECT_EQ(strata_topic + tb_topic, received);
  EXPECT_GT(strata_topic, 0u);
  EXPECT_GT(tb_topic, 0u);

  // HTTP: ThingsBoard's path with the token (the device id without provisioning).
  const TransportTotals h = r.totals(Transport::http);
  const auto reqs = http.requests();
  EXPECT_EQ(reqs.size(), h.sent);
  EXPECT_EQ(h.acked, h.sent);
  std::size_t http_samples = 0;
  for (const auto& [line, body] : reqs) {
    EXPECT_EQ(line, "POST /api/v1/pmp-1/telemetry HTTP/1.1");
    http_samples += samples_in(body);
  }
  EXPECT_EQ(http_samples, 300u);
  EXPECT_EQ(h.samples_acked, 300u);

  // CoAP: confirmable POSTs, each acknowledged 2.04, each payload within one datagram.
  const TransportTotals c = r.totals(Transport::coap);
  const auto creqs = coap.requests();
  EXPECT_EQ(creqs.size(), c.sent);
  EXPECT_EQ(c.acked, c.sent);
  EXPECT_EQ(c.failed, 0u);
  std::size_t coap_samples = 0;
  for (const auto& [path, body] : creqs) {
    EXPECT_EQ(path, "/api/v1/pmp-2/telemetry");
    EXPECT_LE(body.size(), CoapUplink::kMaxPayload);
    coap_samples += samples_in(body);
  }
  EXPECT_EQ(coap_samples, 150u);

  // The spike of --fault went out in exactly one MQTT sample and is in the fault log.
  const std::string log = read_file(run.o.fault_log);
  auto rec = nlohmann::json::parse(log.substr(0, log.find('\n')));
  EXPECT_EQ(rec["device"], "cmp-1");
  EXPECT_EQ(rec["source"], "command_line");
  EXPECT_FALSE(rec["first_sample"].is_null());
  auto summary = nlohmann::json::parse(read_file(run.o.summary));
  EXPECT_EQ(summary["transports"]["mqtt"]["samples_acked"], 600);
  EXPECT_EQ(summary["samples"], 300 + 300 + 300 + 150 + 300 + 300);
}

// The values the Modbus registers hold, decoded with libmodbus' own helpers and plain arithmetic
// (not the poller's codec), equal the energy meter's last sample in the model's units.
TEST(SimEndToEnd, ModbusRegistersDecodeToTheSimulatedValues) {
  SimRun run;
  run.o.faults.clear();
  auto runner = SimRunner::create(run.o, stdout);
  ASSERT_TRUE(runner) << runner.error().message;
  SimRunner& r = **runner;
  const std::uint16_t port = r.modbus_port("em-1");
  ASSERT_NE(port, 0);
  {
    // Before the first sample the device answers "busy" rather than zeros.
    modbus_t* early = modbus_new_tcp("127.0.0.1", port);
    ASSERT_EQ(modbus_connect(early), 0) << modbus_strerror(errno);
    std::uint16_t regs[6];
    EXPECT_EQ(modbus_read_registers(early, 110, 6, regs), -1);
    EXPECT_EQ(errno, EMBXSBUSY) << modbus_strerror(errno);
    modbus_close(early);
    modbus_free(early);
  }
  ASSERT_TRUE(r.run());

  // A twin plant reaches the same time: its last meter sample is what the registers hold.
  auto profile = parse_profile(kProfile, "twin.toml");
  ASSERT_TRUE(profile);
  auto twin = Plant::create(*profile, 11, *run.o.start);
  ASSERT_TRUE(twin);
  const auto emissions = (*twin)->advance_to(r.plant().now());
  const std::size_t em = *(*twin)->find("em-1");
  const Emission* last = nullptr;
  for (const auto& e : emissions)
    if (e.device == em) last = &e;
  ASSERT_NE(last, nullptr);
  const WireModel& w = r.wire()[em];
  auto expect = [&](const char* name) {
    const int i = w.find(name);
    EXPECT_GE(i, 0) << name;
    const auto& m = w.metrics[static_cast<std::size_t>(i)];
    return m.wire_value(last->values[m.index]);
  };

  modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
  ASSERT_NE(ctx, nullptr);
  ASSERT_EQ(modbus_connect(ctx), 0) << modbus_strerror(errno);
  std::uint16_t in[8], hold_energy[2], hold[6];
  ASSERT_EQ(modbus_read_input_registers(ctx, 0, 8, in), 8);
  ASSERT_EQ(modbus_read_registers(ctx, 100, 2, hold_energy), 2);
  ASSERT_EQ(modbus_read_registers(ctx, 110, 6, hold), 6);
  modbus_close(ctx);
  modbus_free(ctx);

  // examples/models/energy-meter.json: active_power float32 ABCD at input 0 (watts);
  // voltage_l1/l2 float32 word-swapped (CDAB) at 2 and 4; voltage_l3 fully swapped (DCBA) at 6.
  EXPECT_NEAR(modbus_get_float_abcd(in + 0), expect("active_power"),
              std::fabs(expect("active_power")) * 1e-6);
  EXPECT_GT(expect("active_power"), 1000.0);  // watts on the wire: a line draws kilowatts
  EXPECT_NEAR(modbus_get_float_cdab(in + 2), expect("voltage_l1"), 1e-4);
  EXPECT_NEAR(modbus_get_float_cdab(in + 4), expect("voltage_l2"), 1e-4);
  EXPECT_NEAR(modbus_get_float_dcba(in + 6), expect("voltage_l3"), 1e-4);
  EXPECT_GT(expect("voltage_l1"), 220.0);
  // active_energy uint32 big word order, scale 0.01.
  const double energy =
      static_cast<double>(std::uint32_t{hold_energy[0]} << 16 | hold_energy[1]) * 0.01;
  EXPECT_NEAR(energy, expect("active_energy"), 0.0051);
  // current_l1..l3 uint16 scale 0.01; power_factor int16 scale 0.001; frequency uint16 scale
  // 0.01; internal_temperature uint16 scale 0.1 offset -40.
  EXPECT_NEAR(hold[0] * 0.01, expect("current_l1"), 0.0051);
  EXPECT_NEAR(hold[1] * 0.01, expect("current_l2"), 0.0051);
  EXPECT_NEAR(hold[2] * 0.01, expect("current_l3"), 0.0051);
  EXPECT_NEAR(static_cast<std::int16_t>(hold[3]) * 0.001, expect("power_factor"), 0.00051);
  EXPECT_NEAR(hold[4] * 0.01, expect("frequency"), 0.0051);
  EXPECT_NEAR(hold[5] * 0.1 - 40, expect("internal_temperature"), 0.051);
  // The server counts a request once its reply has left, so the count may trail the reply.
  EXPECT_TRUE(wait_until([&] { return r.totals(Transport::modbus).acked >= 3; }, 2000ms));
  const TransportTotals t = r.totals(Transport::modbus);
  EXPECT_EQ(t.acked, 3u);           // the three reads above
  EXPECT_EQ(t.samples_sent, 300u);  // every sample reached the registers (the newest stays)
  EXPECT_GT(t.sent, 4u);            // one refresh a tick
  EXPECT_EQ(t.failed, 0u);
}

TEST(SimEndToEnd, ProfileAndFaultErrorsAreRefusedBeforeAnythingStarts) {
  SimRun run;
  run.o.faults = {"cmp-9:spike@+1m"};
  auto r = SimRunner::create(run.o, stdout);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--fault: fault on 'cmp-9': no such device"), std::string::npos)
      << r.error().message;
  run.o.faults.clear();
  run.o.models = "/nonexistent";
  auto r2 = SimRunner::create(run.o, stdout);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("give --models"), std::string::npos);
}

}  // namespace
}  // namespace strata::sim

// The MQTT broker connector against a real broker: Mosquitto from Debian, started by the test on
// 127.0.0.1 with a free port, fed by mosquitto_pub and by Eclipse Tahu's Sparkplug client (node).
//  - Flood: 20,000 numbered QoS 1 messages through a shared subscription, a sink that refuses
//    every 50th submit (back-pressure); every number must arrive (duplicates counted apart).
//  - Two sessions in one share group split a flood between them and miss nothing.
//  - Redelivery: a sink that never completes; the connector is stopped and a new one started with
//    the same client id: the messages delivered but not completed arrive again, and all others too.
//  - Sparkplug: NBIRTH/DBIRTH/DDATA from Tahu reach the sink by metric name; a forced seq gap
//    is answered with a rebirth NCMD that reaches the Tahu client; the gap's data are quarantined.
//  - TLS: Mosquitto's TLS listener with certificates the test makes with openssl (a CA, the
//    broker's for IP 127.0.0.1, a client's): a flood arrives whole over mqtts://; a broker whose
//    certificate another CA signed, and a broker that wants a client certificate not given, are
//    refused in the handshake with the reason, and nothing arrives.
#include "ingest/mqtt_connector/mqtt_connector.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"

extern char** environ;

namespace strata::ingest::mqtt_connector {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls `done` until it holds or `timeout` passes; true when it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  return {};
}

// A child process started by the test and stopped by its PID.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& stdin_file = {},
          const std::string& stdout_file = {}) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!stdin_file.empty()) {
      posix_spawn_file_actions_addopen(&actions, 0, stdin_file.c_str(), O_RDONLY, 0);
    }
    if (!stdout_file.empty()) {
      posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() { stop(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }
  // The exit status once the process has ended within `timeout`, else -1.
  int wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return exit_code_;
    int status = 0;
    const bool ended = wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
    if (!ended) return -1;
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    if (wait(5000ms) < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

bool port_accepts(std::uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A TLS listener of the test broker: its certificate and key, and the CA that client certificates
// must chain to when it requires them.
struct TlsListener {
  fs::path ca, cert, key;
  bool require_client_certificate = false;
};

// Mosquitto on 127.0.0.1 with a configuration of the test's own: nothing queued is ever dropped
// (max_queued_messages 0), no persistence (the broker lives as long as the test). With `tls`, a
// second listener speaks TLS (publishers use the plain one).
class Mosquitto {
 public:
  explicit Mosquitto(const std::optional<TlsListener>& tls = std::nullopt) {
    char tmpl[] = "/tmp/strata-mosquitto-XXXXXX";
    dir_ = mkdtemp(tmpl);
    port_ = free_port();
    std::ofstream conf(dir_ / "mosquitto.conf");
    conf << "allow_anonymous true\n"
         << "persistence false\n"
         << "max_queued_messages 0\n"
         << "max_queued_bytes 0\n"
         << "max_inflight_messages 100\n"
         << "set_tcp_nodelay true\n"
         << "log_dest stdout\n"
         << "listener " << port_ << " 127.0.0.1\n";
    if (tls) {
      tls_port_ = free_port();
      conf << "listener " << tls_port_ << " 127.0.0.1\n"
           << "cafile " << tls->ca.string() << "\n"
           << "certfile " << tls->cert.string() << "\n"
           << "keyfile " << tls->key.string() << "\n"
           << "require_certificate " << (tls->require_client_certificate ? "true" : "false")
           << "\n";
    }
    conf.close();
    const std::string bin = find_program("mosquitto");
    if (bin.empty()) return;
    process_ = std::make_unique<Process>(
        std::vector<std::string>{bin, "-c", (dir_ / "mosquitto.conf").string()}, std::string(),
        (dir_ / "mosquitto.log").string());
    ready_ =
        process_->started() &&
        wait_until([&] { return port_accepts(port_) && (!tls_port_ || port_accepts(tls_port_)); },
                   std::chrono::milliseconds(10'000));
  }
  ~Mosquitto() {
    process_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::string tls_url() const {
    return "mqtts://127.0.0.1:" + std::to_string(tls_port_);
  }
  [[nodiscard]] const fs::path& dir() const { return dir_; }
  [[nodiscard]] std::string log() const { return read_file(dir_ / "mosquitto.log"); }

 private:
  fs::path dir_;
  std::uint16_t port_ = 0, tls_port_ = 0;
  std::unique_ptr<Process> process_;
  bool ready_ = false;
};

struct SeenReading {
  std::string device;
  pipeline::Reading reading;
  pipeline::Transport transport;
};

// A pipeline stand-in: records what it takes and completes it on a worker thread of its own (as
// a shard would), or holds the completions; refuses every `reject_every`-th submit (a full queue).
class TestSink final : public pipeline::TelemetrySink {
 public:
  explicit TestSink(bool hold = false, int reject_every = 0, int failures = 0)
      : hold_(hold), reject_every_(reject_every), failures_(failures), worker_([this] { run(); }) {}
  ~TestSink() override {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  bool submit(pipeline::TelemetryMessage& message, pipeline::Completion& done) override {
    std::lock_guard lock(m_);
    if (reject_every_ > 0 && ++calls_ % reject_every_ == 0) {
      ++rejected_;
      return false;
    }
    for (const auto& r : message.readings) {
      seen_.push_back({message.device_id, r, message.transport});
      if (r.metric == "n" && !r.text) ++numbers_[static_cast<long>(r.number)];
    }
    pipeline::IngestOutcome outcome;
    outcome.stored = message.readings.size();
    if (failures_ > 0) {  // the store could not write it
      --failures_;
      outcome.stored = 0;
      outcome.status = Error{1, "WAL write failed: disk full"};
    }
    if (hold_) {
      held_.push_back(std::move(done));
    } else {
      queue_.emplace_back(std::move(done), std::move(outcome));
      cv_.notify_one();
    }
    return true;
  }
  bool submit(pipeline::PointBatch&, pipeline::Completion&) override { return false; }
  void quarantine(pipeline::Transport, std::string_view device, std::string_view,
                  std::string_view reason) override {
    std::lock_guard lock(m_);
    quarantined_.push_back(std::string(device) + ": " + std::string(reason));
  }

  std::map<long, int> numbers() {
    std::lock_guard lock(m_);
    return numbers_;
  }
  std::vector<SeenReading> seen() {
    std::lock_guard lock(m_);
    return seen_;
  }
  std::vector<std::string> quarantined() {
    std::lock_guard lock(m_);
    return quarantined_;
  }
  std::size_t rejected() {
    std::lock_guard lock(m_);
    return rejected_;
  }

 private:
  void run() {
    std::unique_lock lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      auto [done, outcome] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      done(outcome);
      lock.lock();
    }
  }

  const bool hold_;
  const int reject_every_;
  int failures_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::size_t calls_ = 0, rejected_ = 0;
  std::map<long, int> numbers_;
  std::vector<SeenReading> seen_;
  std::vector<std::string> quarantined_;
  std::vector<pipeline::Completion> held_;
  std::deque<std::pair<pipeline::Completion, pipeline::IngestOutcome>> queue_;
  std::thread worker_;  // last: starts once the members above exist
};

// A connector running on an io_context thread of its own.
class RunningConnector {
 public:
  RunningConnector(MqttConnectorOptions options, TestSink& sink) {
    options.on_error = [this](const std::string& e) {
      std::lock_guard lock(m_);
      errors_.push_back(e);
    };
    auto c = MqttConnector::create(io_, std::move(options), sink, clock_);
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (!c.ok()) return;
    connector_ = std::move(c).value();
    connector_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningConnector() { stop(); }
  void stop() {
    if (!connector_) return;
    connector_->stop();
    connector_.reset();  // the state lives on in the handlers until they end
    thread_.join();      // run() returns when the DISCONNECT is written and nothing is pending
  }
  MqttConnector& operator*() { return *connector_; }
  MqttConnector* operator->() { return connector_.get(); }
  std::string errors() {
    std::lock_guard lock(m_);
    std::string s;
    for (const auto& e : errors_) s += e + "\n";
    return s;
  }

 private:
  SystemClock clock_;
  boost::asio::io_context io_;
  std::shared_ptr<MqttConnector> connector_;
  std::thread thread_;
  std::mutex m_;
  std::vector<std::string> errors_;
};

MqttConnectorOptions json_options(const Mosquitto& broker, const std::string& client_id) {
  MqttConnectorOptions o;
  o.url = broker.url();
  o.client_id = client_id;
  o.routes.push_back({"plant/{site}/{line}/{device}/telemetry", "{device}"});
  return o;
}

// Writes n lines {"n":i} and publishes them as QoS 1 messages with mosquitto_pub -l.
int publish_numbers(const Mosquitto& broker, int first, int n, const std::string& topic) {
  const fs::path lines = broker.dir() / ("lines-" + std::to_string(first));
  {
    std::ofstream out(lines);
    for (int i = first; i < first + n; ++i) out << "{\"n\":" << i << "}\n";
  }
  Process pub(
      {find_program("mosquitto_pub"), "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-q",
       "1", "-t", topic, "-l", "-i", "pub-" + std::to_string(first)},
      lines.string());
  return pub.wait(120'000ms);
}

// Certificates made with the openssl command for one test, in a scratch directory: a CA, the
// broker's (CN and subjectAltName IP 127.0.0.1) and a client's, both signed by the CA, and a
// second CA that signed nothing here.
class TestPki {
 public:
  TestPki() {
    char tmpl[] = "/tmp/strata-pki-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ / "san.ext") << "subjectAltName=IP:127.0.0.1\n";
    ok_ = self_signed("ca") && self_signed("other-ca") &&
          signed_by_ca("server", "127.0.0.1", true) &&
          signed_by_ca("client", "strata-tls-test", false);
    // Mosquitto started as root reads its files as the mosquitto user: test keys, readable.
    std::error_code ec;
    fs::permissions(dir_,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec,
                    ec);
    for (const auto& e : fs::directory_iterator(dir_, ec))
      fs::permissions(e.path(), fs::perms::others_read | fs::perms::group_read,
                      fs::perm_options::add, ec);
  }
  ~TestPki() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] fs::path file(const std::string& name) const { return dir_ / name; }

 private:
  int openssl(std::vector<std::string> args) {
    args.insert(args.begin(), find_program("openssl"));
    Process p(args, std::string(), (dir_ / "openssl.log").string());
    return p.wait(30'000ms);
  }
  bool self_signed(const std::string& name) {
    return openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=" + name, "-keyout",
                    (dir_ / (name + ".key")).string(), "-out",
                    (dir_ / (name + ".pem")).string()}) == 0;
  }
  bool signed_by_ca(const std::string& name, const std::string& cn, bool san) {
    const auto csr = (dir_ / (name + ".csr")).string();
    if (openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-subj", "/CN=" + cn, "-keyout", (dir_ / (name + ".key")).string(), "-out",
                 csr}) != 0)
      return false;
    std::vector<std::string> args = {"x509",
                                     "-req",
                                     "-in",
                                     csr,
                                     "-CA",
                                     (dir_ / "ca.pem").string(),
                                     "-CAkey",
                                     (dir_ / "ca.key").string(),
                                     "-CAcreateserial",
                                     "-days",
                                     "2",
                                     "-out",
                                     (dir_ / (name + ".pem")).string()};
    if (san) {
      args.push_back("-extfile");
      args.push_back((dir_ / "san.ext").string());
    }
    return openssl(args) == 0;
  }
  fs::path dir_;
  bool ok_ = false;
};

#define REQUIRE_BROKER(broker)                                                    \
  if (!(broker).ready()) {                                                        \
    GTEST_FAIL() << "mosquitto did not start (is the Debian package installed?)"; \
  }

TEST(MqttConnector, EveryMessageOfAFloodArrivesDespiteBackPressure) {
  Mosquitto broker;
  REQUIRE_BROKER(broker);
  constexpr int kMessages = 20'000;
  TestSink sink(/*hold=*/false, /*reject_every=*/50);
  auto options = json_options(broker, "strata-flood");
  options.submit_retry = 1ms;  // the test's full queue empties at once; don't wait 5 ms for it
  RunningConnector connector(options, sink);
  ASSERT_TRUE(wait_until([&] { return connector->stats().subscribed >= 1; }, 10'000ms))
      << connector.errors();

  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(publish_numbers(broker, 0, kMessages, "plant/a/l1/press-1/telemetry"), 0);
  const bool all = wait_until([&] { return sink.numbers().size() == kMessages; }, 120'000ms);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto numbers = sink.numbers();
  std::size_t duplicates = 0;
  for (const auto& [n, count] : numbers) duplicates += static_cast<std::size_t>(count - 1);
  ASSERT_TRUE(all) << numbers.size() << " of " << kMessages << " numbers arrived\n"
                   << connector.errors();
  EXPECT_EQ(numbers.begin()->first, 0);
  EXPECT_EQ(numbers.rbegin()->first, kMessages - 1);
  EXPECT_GT(sink.rejected(), 0u);  // back-pressure happened, and lost nothing
  EXPECT_TRUE(wait_until([&] { return connector->stats().acked >= kMessages; }, 10'000ms));
  const auto seen = sink.seen();
  EXPECT_EQ(seen.front().device, "press-1");
  EXPECT_EQ(seen.front().transport, pipeline::Transport::mqtt_connector);
  EXPECT_TRUE(sink.quarantined().empty());
  std::printf(
      "flood: %d QoS 1 messages in %.2f s (%.0f msg/s), %zu duplicates, %zu refused "
      "submits\n",
      kMessages, seconds, kMessages / seconds, duplicates, sink.rejected());
}

// Two sessions of one node in the share group (the server's mqtt_connector.sessions = 2): the
// broker spreads the flood over both, and together they take every message.
TEST(MqttConnector, TwoSessionsOfOneShareGroupSplitAFlood) {
  Mosquitto broker;
  REQUIRE_BROKER(broker);
  constexpr int kMessages = 4'000;
  TestSink sink;
  RunningConnector first(json_options(broker, "strata-split"), sink);
  RunningConnector second(json_options(broker, "strata-split-2"), sink);
  ASSERT_TRUE(wait_until(
      [&] { return first->stats().subscribed >= 1 && second->stats().subscribed >= 1; }, 10'000ms))
      << first.errors() << second.errors();
  ASSERT_EQ(publish_numbers(broker, 0, kMessages, "plant/a/l1/press-1/telemetry"), 0);
  ASSERT_TRUE(wait_until([&] { return sink.numbers().size() == kMessages; }, 60'000ms))
      << sink.numbers().size() << " of " << kMessages << " numbers arrived\n"
      << first.errors() << second.errors();
  EXPECT_GT(first->stats().messages, 0u);
  EXPECT_GT(second->stats().messages, 0u);
  EXPECT_EQ(first->stats().messages + second->stats().messages,
            static_cast<std::uint64_t>(kMessages))
      << "each message went to one session of the group, once";
}

TEST(MqttConnector, MessagesNotCompletedAreRedeliveredAfterARestart) {
  Mosquitto broker;
  REQUIRE_BROKER(broker);
  constexpr int kMessages = 200;
  auto options = json_options(broker, "strata-redeliver");
  options.receive_maximum = 20;
  std::map<long, int> held;
  {
    TestSink holding(/*hold=*/true);
    RunningConnector first(options, holding);
    ASSERT_TRUE(wait_until([&] { return first->stats().subscribed >= 1; }, 10'000ms))
        << first.errors();
    ASSERT_EQ(publish_numbers(broker, 0, kMessages, "plant/a/l1/press-2/telemetry"), 0);
    // The broker sends at most receive_maximum unacknowledged messages; none is completed.
    ASSERT_TRUE(wait_until([&] { return holding.numbers().size() == 20; }, 10'000ms));
    EXPECT_EQ(first->stats().acked, 0u);
    held = holding.numbers();
    first.stop();
  }
  TestSink sink;
  RunningConnector second(options, sink);
  const bool all = wait_until([&] { return sink.numbers().size() == kMessages; }, 30'000ms);
  ASSERT_TRUE(all) << sink.numbers().size() << " of " << kMessages << "\n" << second.errors();
  const auto numbers = sink.numbers();
  for (const auto& [n, count] : held) EXPECT_TRUE(numbers.contains(n)) << n << " not redelivered";
  EXPECT_GE(second->stats().redeliveries, held.size());
}

TEST(MqttConnector, AMessageThePipelineCouldNotStoreIsNotAcknowledgedAndComesBack) {
  Mosquitto broker;
  REQUIRE_BROKER(broker);
  TestSink sink(/*hold=*/false, /*reject_every=*/0, /*failures=*/1);
  RunningConnector connector(json_options(broker, "strata-failure"), sink);
  ASSERT_TRUE(wait_until([&] { return connector->stats().subscribed >= 1; }, 10'000ms))
      << connector.errors();
  ASSERT_EQ(publish_numbers(broker, 0, 1, "plant/a/l1/press-3/telemetry"), 0);
  // Seen twice: once failed (no PUBACK, the connection restarts), once stored and acknowledged.
  ASSERT_TRUE(wait_until([&] { return sink.numbers()[0] == 2; }, 10'000ms)) << connector.errors();
  EXPECT_TRUE(wait_until([&] { return connector->stats().acked == 1; }, 10'000ms));
  EXPECT_GE(connector->stats().connects, 2u);
  EXPECT_EQ(connector->stats().redeliveries, 1u);
  EXPECT_NE(connector.errors().find("WAL write failed: disk full"), std::string::npos)
      << connector.errors();
}

TEST(MqttConnector, SparkplugFromTahuReachesTheSinkAndAGapAsksTahuForARebirth) {
  Mosquitto broker;
  REQUIRE_BROKER(broker);
  const std::string node = find_program("node");
  ASSERT_FALSE(node.empty()) << "node is needed for the Tahu client";
  MqttConnectorOptions options;
  options.url = broker.url();
  options.client_id = "strata-sparkplug";
  options.sparkplug = sparkplug::SparkplugHostOptions{};
  options.sparkplug->host_id = "strata-test";
  std::mutex events_m;
  std::vector<std::string> events;
  options.on_sparkplug_event = [&](const sparkplug::HostEvent& e) {
    std::lock_guard lock(events_m);
    events.push_back(std::string(sparkplug::host_event_name(e.kind)) + " " + e.device_id);
  };
  TestSink sink;
  RunningConnector connector(options, sink);
  ASSERT_TRUE(wait_until([&] { return connector->stats().subscribed >= 1; }, 10'000ms))
      << connector.errors();

  // Our STATE birth is retained on the broker.
  const fs::path state_out = broker.dir() / "state.txt";
  Process sub(
      {find_program("mosquitto_sub"), "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-t",
       "spBv1.0/STATE/strata-test", "-C", "1", "-W", "10"},
      {}, state_out.string());
  EXPECT_EQ(sub.wait(15'000ms), 0);
  EXPECT_NE(read_file(state_out).find("\"online\":true"), std::string::npos)
      << read_file(state_out);

  const fs::path edge_out = broker.dir() / "edge.txt";
  Process edge(
      {node, STRATA_SOURCE_DIR "/tests/integration/clients/sparkplug_edge.js", broker.url()}, {},
      edge_out.string());
  ASSERT_EQ(edge.wait(30'000ms), 0) << read_file(edge_out) << connector.errors();
  EXPECT_NE(read_file(edge_out).find("REBIRTH requested"), std::string::npos);

  // The last DDATA (after the rebirth) is the last reading of d1 to arrive.
  const auto last_temp_is = [&](double v) {
    const auto seen = sink.seen();
    for (auto it = seen.rbegin(); it != seen.rend(); ++it)
      if (it->device == "g1/e1/d1" && it->reading.metric == "temp") return it->reading.number == v;
    return false;
  };
  ASSERT_TRUE(wait_until([&] { return last_temp_is(23.75); }, 10'000ms)) << connector.errors();

  std::vector<std::string> d1;  // "metric=value" in arrival order
  bool uptime = false;
  for (const auto& s : sink.seen()) {
    EXPECT_EQ(s.transport, pipeline::Transport::sparkplug);
    if (s.device == "g1/e1" && s.reading.metric == "uptime") uptime = s.reading.number == 3600;
    if (s.device != "g1/e1/d1") continue;
    std::ostringstream v;
    v << s.reading.metric << "=" << (s.reading.text ? *s.reading.text : "");
    if (!s.reading.text) v << s.reading.number;
    d1.push_back(v.str());
  }
  EXPECT_TRUE(uptime);
  const std::vector<std::string> expected = {
      "temp=20.5",  "count=-3", "running=1", "state=RUN",  // DBIRTH
      "temp=21.25", "count=-7",                            // DDATA by alias
      "temp=22.5",  "count=-3", "running=1", "state=RUN",  // DBIRTH after the rebirth
      "temp=23.75"};                                       // DDATA
  EXPECT_EQ(d1, expected);  // 99, sent after the gap, is not among them
  const auto q = sink.quarantined();
  ASSERT_EQ(q.size(), 1u) << connector.errors();
  EXPECT_NE(q[0].find("g1/e1/d1: DDATA from g1/e1/d1 (seq 8)"), std::string::npos) << q[0];
  EXPECT_NE(q[0].find("a seq gap"), std::string::npos) << q[0];
  std::lock_guard lock(events_m);
  EXPECT_NE(std::find(events.begin(), events.end(), "node_stale d1"), events.end());
}

}  // namespace
}  // namespace strata::ingest::mqtt_connector

namespace strata::ingest::mqtt_connector {
namespace {

TEST(MqttConnector, TlsChecksTheBrokersCertificateAndCarriesEveryMessage) {
  TestPki pki;
  ASSERT_TRUE(pki.ok()) << "openssl could not make the test certificates";
  Mosquitto broker(TlsListener{pki.file("ca.pem"), pki.file("server.pem"), pki.file("server.key"),
                               /*require_client_certificate=*/true});
  REQUIRE_BROKER(broker);

  // The broker's certificate chains to ca_file and names 127.0.0.1; ours chains to its cafile.
  {
    constexpr int kMessages = 2'000;
    TestSink sink;
    auto options = json_options(broker, "strata-tls");
    options.url = broker.tls_url();
    options.ca_file = pki.file("ca.pem").string();
    options.cert_file = pki.file("client.pem").string();
    options.key_file = pki.file("client.key").string();
    RunningConnector connector(options, sink);
    ASSERT_TRUE(wait_until([&] { return connector->stats().subscribed >= 1; }, 10'000ms))
        << connector.errors() << broker.log();
    ASSERT_EQ(publish_numbers(broker, 0, kMessages, "plant/a/l1/press-9/telemetry"), 0);
    ASSERT_TRUE(wait_until([&] { return sink.numbers().size() == kMessages; }, 60'000ms))
        << sink.numbers().size() << " of " << kMessages << " numbers arrived\n"
        << connector.errors();
    EXPECT_TRUE(wait_until([&] { return connector->stats().acked >= kMessages; }, 10'000ms));
    EXPECT_EQ(connector.errors(), "");
  }
  // Refusals, each before anything is sent: a broker certificate of another CA, and no client
  // certificate for a broker that requires one.
  const auto refused = [&](const std::string& ca, bool with_client_certificate) {
    TestSink sink;
    auto options = json_options(broker, "strata-tls-refused");
    options.url = broker.tls_url();
    options.ca_file = pki.file(ca).string();
    if (with_client_certificate) {
      options.cert_file = pki.file("client.pem").string();
      options.key_file = pki.file("client.key").string();
    }
    RunningConnector connector(options, sink);
    EXPECT_TRUE(wait_until([&] { return connector->stats().connection_errors >= 1; }, 10'000ms));
    EXPECT_EQ(connector->stats().connects, 0u);
    EXPECT_TRUE(sink.seen().empty());
    return connector.errors();
  };
  const std::string wrong_ca = refused("other-ca.pem", true);
  EXPECT_NE(wrong_ca.find("TLS handshake with MQTT broker 127.0.0.1:"), std::string::npos)
      << wrong_ca;
  EXPECT_NE(wrong_ca.find("certificate verify failed"), std::string::npos) << wrong_ca;
  EXPECT_NE(wrong_ca.find("does not chain to ca_file"), std::string::npos) << wrong_ca;
  const std::string no_client_certificate = refused("ca.pem", false);
  EXPECT_FALSE(no_client_certificate.empty());
  EXPECT_EQ(no_client_certificate.find("certificate verify failed"), std::string::npos)
      << no_client_certificate;
}

}  // namespace
}  // namespace strata::ingest::mqtt_connector

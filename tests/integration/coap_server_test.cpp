// CoapServer against Debian's coap-client (libcoap3-bin), started by the test on 127.0.0.1 and
// stopped by PID: the requests a real CoAP stack sends — CON and NON, Block1 — reach the sink, and
// the answers come back with the codes docs/coap.md promises, only after the pipeline's completion.
#include "ingest/coap/coap_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "recording_sink.hpp"

namespace strata::ingest {
namespace {

using testing::RecordingSink;
using namespace std::chrono_literals;

constexpr Timestamp kNow = 1'700'000'000'000'000;

class FixedAuthenticator : public DeviceAuthenticator {
 public:
  std::optional<DeviceIdentity> by_token(std::string_view token) const override {
    if (token == "A1_TEST_TOKEN") return DeviceIdentity{"cmp-a1-01"};
    return std::nullopt;
  }
  std::optional<DeviceIdentity> by_secret(std::string_view, std::string_view) const override {
    return std::nullopt;
  }
};

// coap-client in a child process, its stdout and stderr in a file.
class CoapClient {
 public:
  explicit CoapClient(std::vector<std::string> args) {
    char path[] = "/tmp/strata-coap-client-XXXXXX";
    const int fd = mkstemp(path);
    output_path_ = path;
    args.insert(args.begin(), {"coap-client-openssl", "-B", "10"});
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(fd);
  }
  CoapClient(const CoapClient&) = delete;
  CoapClient& operator=(const CoapClient&) = delete;
  ~CoapClient() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    unlink(output_path_.c_str());
  }

  // True once the process has exited (not blocking).
  bool exited() {
    if (status_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_.has_value();
  }
  // Waits for the exit (the client gives up by itself after -B 10 s) and returns the output.
  std::string finish() {
    if (!status_) {
      int status = 0;
      waitpid(pid_, &status, 0);
      status_ = status;
    }
    std::ifstream in(output_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  int exit_code() const { return status_ && WIFEXITED(*status_) ? WEXITSTATUS(*status_) : -1; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string output_path_;
};

class CoapServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(CoapServerOptions options) {
    server_.reset();
    options.bind_address = "127.0.0.1";
    options.port = 0;
    auto server = CoapServer::create(options, sink_, auth_, clock_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
    server_->start();
  }

  std::string uri(std::string_view token) const {
    return "coap://127.0.0.1:" + std::to_string(server_->port()) + "/api/v1/" + std::string(token) +
           "/telemetry";
  }
  std::string post(std::string_view token, std::string payload,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-m", "post", "-t", "json", "-e", std::move(payload)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(uri(token));
    CoapClient client(args);
    return client.finish();
  }

  RecordingSink sink_;
  FixedAuthenticator auth_;
  SimulatedClock clock_{kNow};
  std::unique_ptr<CoapServer> server_;
};

TEST_F(CoapServerTest, GoodTokenReachesTheSinkAndIsAnsweredChanged) {
  const std::string out = post("A1_TEST_TOKEN", R"({"temp":21.5,"running":true})");
  EXPECT_EQ(out.find("4."), std::string::npos) << out;
  EXPECT_EQ(out.find("5."), std::string::npos) << out;
  const auto messages = sink_.messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto& m = messages[0];
  EXPECT_EQ(m.transport, pipeline::Transport::coap);
  EXPECT_EQ(m.device_id, "cmp-a1-01");
  EXPECT_EQ(m.received, kNow);
  EXPECT_EQ(m.message_id.rfind("127.0.0.1:", 0), 0u) << m.message_id;
  ASSERT_EQ(m.readings.size(), 2u);
  EXPECT_EQ(m.readings[0].metric, "temp");
  EXPECT_EQ(m.readings[0].number, 21.5);
  EXPECT_EQ(m.readings[1].metric, "running");
  EXPECT_EQ(m.readings[1].number, 1);
  const CoapServerStats stats = server_->stats();
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_EQ(stats.changed, 1u);
  EXPECT_EQ(stats.pending, 0u);
}

TEST_F(CoapServerTest, NonConfirmableAndTimestampedArraysToo) {
  post("A1_TEST_TOKEN",
       R"([{"ts":1700000000000,"values":{"p":1.5}},{"ts":1700000001000,"values":{"p":2.5}}])",
       {"-N"});
  ASSERT_TRUE(sink_.wait_for_messages(1));
  const auto m = sink_.messages()[0];
  ASSERT_EQ(m.readings.size(), 2u);
  EXPECT_EQ(m.readings[1].ts, 1'700'000'001'000'000);
  EXPECT_EQ(m.readings[1].number, 2.5);
}

TEST_F(CoapServerTest, BadTokenIsUnauthorizedAndNothingReachesTheSink) {
  const std::string out = post("WRONG_TOKEN", R"({"temp":21.5})");
  EXPECT_NE(out.find("4.01"), std::string::npos) << out;
  EXPECT_NE(out.find("device token in the path is not known"), std::string::npos) << out;
  EXPECT_TRUE(sink_.messages().empty());
  EXPECT_TRUE(sink_.quarantined().empty());
  EXPECT_EQ(server_->stats().unauthorized, 1u);
}

TEST_F(CoapServerTest, GarbageIsABadRequestAndIsQuarantinedWithItsReason) {
  const std::string out = post("A1_TEST_TOKEN", "temp=21.5 garbage");
  EXPECT_NE(out.find("4.00"), std::string::npos) << out;
  EXPECT_NE(out.find("payload is not JSON telemetry"), std::string::npos) << out;
  EXPECT_TRUE(sink_.messages().empty());
  const auto q = sink_.quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].transport, pipeline::Transport::coap);
  EXPECT_EQ(q[0].device_id, "cmp-a1-01");
  EXPECT_EQ(q[0].raw, "temp=21.5 garbage");
  EXPECT_NE(q[0].reason.find("payload is not JSON telemetry"), std::string::npos) << q[0].reason;
  EXPECT_EQ(server_->stats().quarantined_payloads, 1u);
}

TEST_F(CoapServerTest, WrongPathIsNotFound) {
  CoapClient client({"-m", "post", "-e", "{}",
                     "coap://127.0.0.1:" + std::to_string(server_->port()) + "/api/v1/x/attr"});
  const std::string out = client.finish();
  EXPECT_NE(out.find("4.04"), std::string::npos) << out;
}

TEST_F(CoapServerTest, TheAnswerWaitsForThePipelinesCompletion) {
  sink_.hold_completions = true;
  CoapClient client({"-m", "post", "-t", "json", "-e", R"({"temp":1})", uri("A1_TEST_TOKEN")});
  ASSERT_TRUE(sink_.wait_for_messages(1));
  // The message is in the pipeline, not yet durable: the device has only the empty ACK.
  EXPECT_FALSE(client.exited());
  EXPECT_EQ(server_->stats().pending, 1u);
  sink_.complete_held();
  const std::string out = client.finish();
  EXPECT_EQ(client.exit_code(), 0) << out;
  EXPECT_EQ(out.find("5."), std::string::npos) << out;
  EXPECT_EQ(server_->stats().changed, 1u);
  EXPECT_EQ(server_->stats().pending, 0u);
}

TEST_F(CoapServerTest, StoreErrorIsAnInternalServerError) {
  sink_.outcome_status = Error{5, "WAL write failed: disk full"};
  const std::string out = post("A1_TEST_TOKEN", R"({"temp":1})");
  EXPECT_NE(out.find("5.00"), std::string::npos) << out;
  EXPECT_NE(out.find("WAL write failed: disk full"), std::string::npos) << out;
  EXPECT_EQ(server_->stats().store_errors, 1u);
}

TEST_F(CoapServerTest, FullPipelineIsServiceUnavailableWithMaxAge) {
  sink_.refuse_next(1);
  const std::string out = post("A1_TEST_TOKEN", R"({"temp":1})", {"-v", "7"});
  EXPECT_NE(out.find("5.03"), std::string::npos) << out;
  EXPECT_NE(out.find("Max-Age"), std::string::npos) << out;
  EXPECT_TRUE(sink_.messages().empty());
  EXPECT_EQ(server_->stats().busy, 1u);
  // The device's retry gets through.
  post("A1_TEST_TOKEN", R"({"temp":1})");
  EXPECT_EQ(sink_.messages().size(), 1u);
}

TEST_F(CoapServerTest, LargePayloadArrivesInBlocks) {
  std::string payload = "{";
  for (int i = 0; i < 100; ++i) {
    payload += (i ? "," : "") + ("\"metric_" + std::to_string(i) + "\":" + std::to_string(i));
  }
  payload += "}";
  ASSERT_GT(payload.size(), 1024u);
  const std::string out = post("A1_TEST_TOKEN", payload, {"-b", "64"});
  EXPECT_EQ(out.find("4."), std::string::npos) << out;
  const auto messages = sink_.messages();
  ASSERT_EQ(messages.size(), 1u);
  ASSERT_EQ(messages[0].readings.size(), 100u);
  EXPECT_EQ(messages[0].readings[99].metric, "metric_99");
  EXPECT_EQ(messages[0].readings[99].number, 99);
  EXPECT_EQ(*messages[0].raw, payload);
}

TEST_F(CoapServerTest, OversizePayloadIsRefused) {
  CoapServerOptions options;
  options.max_payload_bytes = 200;
  start(options);
  std::string payload = R"({"pad":")" + std::string(300, 'x') + R"(","t":1})";
  const std::string out = post("A1_TEST_TOKEN", payload, {"-b", "64"});
  EXPECT_NE(out.find("4.13"), std::string::npos) << out;
  EXPECT_TRUE(sink_.messages().empty());
}

// A CoAP peer at the byte level (RFC 7252 §3), for what coap-client cannot be made to do: send
// the same confirmable request twice.
class RawCoapPeer {
 public:
  explicit RawCoapPeer(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    server_.sin_family = AF_INET;
    server_.sin_port = htons(port);
    server_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  RawCoapPeer(const RawCoapPeer&) = delete;
  RawCoapPeer& operator=(const RawCoapPeer&) = delete;
  ~RawCoapPeer() { close(fd_); }

  struct Message {
    int type = -1;  // 0 CON, 1 NON, 2 ACK, 3 RST
    int code = -1;  // class << 5 | detail
    int mid = -1;
    std::string token;
  };

  // POST api/v1/{token}/telemetry, Content-Format 50, as a CON message.
  void post(std::uint16_t mid, std::string_view coap_token, std::string_view device_token,
            std::string_view payload) {
    std::string m;
    m += static_cast<char>(0x40 | coap_token.size());  // version 1, CON, token length
    m += static_cast<char>(0x02);                      // 0.02 POST
    m += static_cast<char>(mid >> 8);
    m += static_cast<char>(mid & 0xFF);
    m += coap_token;
    auto option = [&](int delta, std::string_view value) {
      const auto nibble = [](std::size_t v) { return v < 13 ? v : 13; };
      m += static_cast<char>(nibble(static_cast<std::size_t>(delta)) << 4 | nibble(value.size()));
      if (delta >= 13) m += static_cast<char>(delta - 13);
      if (value.size() >= 13) m += static_cast<char>(value.size() - 13);
      m += value;
    };
    option(11, "api");  // Uri-Path (11)
    option(0, "v1");
    option(0, device_token);
    option(0, "telemetry");
    option(1, "\x32");  // Content-Format (12): 50
    m += static_cast<char>(0xFF);
    m += payload;
    send(m);
  }
  void ack(int mid) {
    send(std::string{static_cast<char>(0x60), 0, static_cast<char>(mid >> 8),
                     static_cast<char>(mid & 0xFF)});
  }
  // The next datagram from the server, or nullopt after 5 s.
  std::optional<Message> receive() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return std::nullopt;
    std::uint8_t buf[1500];
    const auto n = recv(fd_, buf, sizeof buf, 0);
    if (n < 4) return std::nullopt;
    Message m;
    m.type = (buf[0] >> 4) & 3;
    m.code = buf[1];
    m.mid = buf[2] << 8 | buf[3];
    m.token.assign(reinterpret_cast<const char*>(buf + 4), buf[0] & 0xF);
    return m;
  }

 private:
  void send(const std::string& m) {
    sendto(fd_, m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&server_), sizeof server_);
  }
  int fd_ = -1;
  sockaddr_in server_{};
};

TEST_F(CoapServerTest, ARetransmissionIsNotStoredTwice) {
  sink_.hold_completions = true;
  RawCoapPeer peer(server_->port());
  peer.post(0x1001, "\xA1\xB2", "A1_TEST_TOKEN", R"({"temp":1})");
  auto m = peer.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, 2);  // the empty ACK of a separate response
  EXPECT_EQ(m->code, 0);
  EXPECT_EQ(m->mid, 0x1001);
  ASSERT_TRUE(sink_.wait_for_messages(1));

  // The device did not get the ACK and sends the same message again: it gets the empty ACK again
  // and the readings are not submitted twice.
  peer.post(0x1001, "\xA1\xB2", "A1_TEST_TOKEN", R"({"temp":1})");
  m = peer.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, 2);
  EXPECT_EQ(m->code, 0);
  EXPECT_EQ(m->mid, 0x1001);
  EXPECT_EQ(sink_.messages().size(), 1u);

  // Durable now: the separate response comes as a CON 2.04 with the request's token.
  sink_.complete_held();
  m = peer.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, 0);
  EXPECT_EQ(m->code, 2 << 5 | 4);
  EXPECT_EQ(m->token, "\xA1\xB2");
  peer.ack(m->mid);
  EXPECT_EQ(server_->stats().changed, 1u);
  EXPECT_EQ(server_->stats().requests, 1u);
}

TEST(CoapServerCreate, RefusesAnUnreadableAddressAndATakenPort) {
  RecordingSink sink;
  FixedAuthenticator auth;
  SimulatedClock clock;
  CoapServerOptions options;
  options.bind_address = "localhost:5683";
  auto bad = CoapServer::create(options, sink, auth, clock);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("coap.bind_address 'localhost:5683'"), std::string::npos);

  options.bind_address = "127.0.0.1";
  options.port = 0;
  auto first = CoapServer::create(options, sink, auth, clock);
  ASSERT_TRUE(first.ok()) << first.error().message;
  options.port = (*first)->port();
  auto second = CoapServer::create(options, sink, auth, clock);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(
      second.error().message.find("cannot bind UDP 127.0.0.1:" + std::to_string(options.port)),
      std::string::npos)
      << second.error().message;
}

}  // namespace
}  // namespace strata::ingest

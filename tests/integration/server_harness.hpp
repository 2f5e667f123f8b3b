#pragma once
// What the whole-server tests (server_api_test.cpp, server_durability_test.cpp,
// server_detection_test.cpp) share: the real
// `strata serve` process on 127.0.0.1 with every listener on port 0 (the ports it got are read from
// its stdout), stopped by PID; a small keep-alive HTTP/1.1 client and a WebSocket client on Beast;
// helpers to run external clients (mosquitto_sub, node) and to register models and devices.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/time_format.hpp"

namespace strata::test {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A fresh directory under the system's temp dir, removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("strata-" + name + "-" + std::to_string(::getpid()) + "-" +
               std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A child process: argv[0] looked up in PATH, extra NAME=VALUE environment entries added to ours,
// stdout and stderr to `out_file` (or, with capture_stdout, stdout to a pipe read by read_line()).
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
        const fs::path& out_file, bool capture_stdout) {
    int fds[2] = {-1, -1};
    if (capture_stdout && ::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (capture_stdout) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        ::close(fds[1]);
      } else {
        ::dup2(out, 1);
      }
      ::dup2(out, 2);
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      _exit(127);
    }
    if (capture_stdout) {
      ::close(fds[1]);
      out_fd_ = fds[0];
    }
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  // The next line of the child's stdout (without '\n'), or nullopt at its end or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || out_fd_ < 0) return std::nullopt;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // Sends `sig` and waits up to `timeout` for the exit, then SIGKILLs; the exit status as
  // waitpid() gives it, or nullopt when the child had to be killed.
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout = 30s) {
    if (pid_ <= 0) return std::nullopt;
    if (exited_) return status_;
    ::kill(pid_, sig);
    if (wait(timeout)) return status_;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    exited_ = true;
    return std::nullopt;
  }
  // Waits up to `timeout` for the child to exit by itself; true (and its status) when it did.
  bool wait(std::chrono::milliseconds timeout, int* status = nullptr) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!exited_) {
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        break;
      }
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(10ms);
    }
    if (status) *status = status_;
    return true;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  bool exited_ = false;
  int status_ = 0;
};

// `strata --data-dir D serve` with HTTP, MQTT and CoAP on 127.0.0.1 port 0 and the Modbus poller
// off; ready once it printed its ports (it prints them after every component started).
class StrataServer {
 public:
  StrataServer(const fs::path& data_dir, std::vector<std::string> env = {})
      : data_dir_(data_dir),
        log_(data_dir.parent_path() / (data_dir.filename().string() + ".log")) {
    env.insert(env.begin(), {"STRATA_HTTP_PORT=0", "STRATA_MQTT_PORT=0", "STRATA_COAP_PORT=0",
                             "STRATA_HTTP_ADDRESS=127.0.0.1", "STRATA_MQTT_ADDRESS=127.0.0.1",
                             "STRATA_COAP_ADDRESS=127.0.0.1", "STRATA_MODBUS_ENABLED=false",
                             "STRATA_LOG_LEVEL=warn"});
    child_ = std::make_unique<Child>(
        std::vector<std::string>{STRATA_BIN_PATH, "--data-dir", data_dir.string(), "serve"}, env,
        log_, true);
    // Lines: "  REST API   http://127.0.0.1:P/api/v1  (…)", "  MQTT       127.0.0.1:P",
    // "  CoAP       coap://127.0.0.1:P" (the last one).
    while (auto line = child_->read_line(60s)) {
      stdout_ += *line + "\n";
      auto port_after = [&](const std::string& prefix) -> std::uint16_t {
        const auto at = line->find(prefix);
        if (at == std::string::npos) return 0;
        return static_cast<std::uint16_t>(std::stoi(line->substr(at + prefix.size())));
      };
      if (line->find("REST API") != std::string::npos) http_port = port_after("http://127.0.0.1:");
      if (line->find("MQTT") != std::string::npos) mqtt_port = port_after("127.0.0.1:");
      if (line->find("CoAP") != std::string::npos) {
        coap_port = port_after("coap://127.0.0.1:");
        break;
      }
    }
    if (http_port != 0) admin_token = trim(read_file(data_dir / "admin-token"));
  }
  ~StrataServer() { stop(SIGTERM); }

  [[nodiscard]] bool started() const {
    return http_port != 0 && mqtt_port != 0 && coap_port != 0 && !admin_token.empty();
  }
  // What it printed, and its log (stderr): for failure messages.
  [[nodiscard]] std::string output() const { return stdout_ + read_file(log_); }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }
  std::optional<int> stop(int sig) { return child_->stop(sig); }

  std::uint16_t http_port = 0, mqtt_port = 0, coap_port = 0;
  std::string admin_token;

 private:
  fs::path data_dir_, log_;
  std::unique_ptr<Child> child_;
  std::string stdout_;
};

struct HttpResult {
  int status = 0;  // 0: no answer (connection refused or closed)
  std::string body;
  std::string content_type;
  std::string error;
  [[nodiscard]] json doc() const { return json::parse(body, nullptr, false); }
};

// HTTP/1.1 with keep-alive on one connection, reconnecting after an error. Not thread-safe: one
// per thread.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) : port_(port) {}

  HttpResult request(http::verb verb, const std::string& target, const std::string& body = {},
                     const std::string& authorization = {},
                     const std::string& content_type = "application/json",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    HttpResult out;
    for (int attempt = 0; attempt < 2; ++attempt) {
      beast::error_code ec;
      if (!stream_) {
        stream_.emplace(io_);
        stream_->connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
        if (ec) {
          stream_.reset();
          out.error = "connect: " + ec.message();
          return out;
        }
        fresh_ = true;
      }
      http::request<http::string_body> req{verb, target, 11};
      req.set(http::field::host, "127.0.0.1");
      if (!authorization.empty()) req.set(http::field::authorization, authorization);
      for (const auto& [name, value] : headers) req.set(name, value);
      if (!body.empty() || verb == http::verb::post || verb == http::verb::put ||
          verb == http::verb::patch) {
        req.set(http::field::content_type, content_type);
        req.body() = body;
      }
      req.prepare_payload();
      http::write(*stream_, req, ec);
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(std::uint64_t{256} << 20);
      if (!ec) http::read(*stream_, buffer, parser, ec);
      if (ec) {
        stream_.reset();
        out.error = ec.message();
        // A kept-alive connection the server closed meanwhile: try once on a new one. A fresh
        // connection that fails gets no second request (it may have been acted upon).
        if (fresh_) return out;
        continue;
      }
      fresh_ = false;
      auto res = parser.release();
      out.status = static_cast<int>(res.result_int());
      out.body = std::move(res.body());
      out.content_type = std::string(res[http::field::content_type]);
      if (!res.keep_alive()) stream_.reset();
      return out;
    }
    return out;
  }
  HttpResult get(const std::string& target, const std::string& token = {}) {
    return request(http::verb::get, target, {}, token.empty() ? "" : "Bearer " + token);
  }
  HttpResult post(const std::string& target, const std::string& body, const std::string& token) {
    return request(http::verb::post, target, body, token.empty() ? "" : "Bearer " + token);
  }

 private:
  boost::asio::io_context io_;
  std::optional<beast::tcp_stream> stream_;
  bool fresh_ = false;
  std::uint16_t port_;
};

// "dtmi:strata:compressor;1" → "dtmi%3Astrata%3Acompressor%3B1": every byte but unreserved ones.
inline std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline std::string example_model(const std::string& name) {
  return read_file(fs::path(STRATA_SOURCE_DIR) / "examples" / "models" / (name + ".json"));
}

// Registers `device` (following `model`, a DTMI) with the admin token; its device token.
inline std::string add_device(HttpClient& c, const std::string& admin, const std::string& device,
                              const std::string& model) {
  auto r = c.post("/api/v1/devices", json{{"id", device}, {"model", model}}.dump(), admin);
  EXPECT_EQ(r.status, 201) << r.body;
  const auto d = r.doc();
  return d.is_object() && d.contains("token") ? d["token"].get<std::string>() : std::string();
}

// Every stored point of device/metric in [from, to] µs as (ts µs, value), from the REST API
// (GET /api/v1/devices/{id}/telemetry). Empty when the series does not exist.
inline std::vector<std::pair<std::int64_t, double>> stored_points(
    HttpClient& c, const std::string& token, const std::string& device, const std::string& metric,
    std::int64_t from_us, std::int64_t to_us) {
  std::vector<std::pair<std::int64_t, double>> out;
  auto r = c.get(
      "/api/v1/devices/" + url_encode(device) + "/telemetry?metric=" + url_encode(metric) +
          "&from=" + std::to_string(from_us) + "&to=" + std::to_string(to_us) + "&limit=1000000",
      token);
  EXPECT_EQ(r.status, 200) << r.body;
  const auto doc = r.doc();
  if (!doc.is_object() || !doc["series"].is_array()) return out;
  for (const auto& series : doc["series"]) {
    if (series.value("metric", "") != metric) continue;
    EXPECT_FALSE(series.value("truncated", false));
    for (const auto& p : series["points"]) {
      const auto ts = parse_iso8601(p[0].get<std::string>());
      EXPECT_TRUE(ts.has_value()) << p.dump();
      out.emplace_back(ts.value_or(0), p[1].is_number() ? p[1].get<double>() : std::nan(""));
    }
  }
  return out;
}

// A WebSocket client on Beast; reads wait at most a given time.
class WsClient {
 public:
  std::string connect(std::uint16_t port, const std::string& target) {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).connect(
        tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return "connect: " + ec.message();
    ws_.handshake("127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) return "handshake: " + ec.message();
    return {};
  }
  std::optional<json> read(std::chrono::milliseconds timeout) {
    beast::flat_buffer buffer;
    std::optional<json> out;
    bool done = false;
    ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) {
      done = true;
      if (!ec) out = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      beast::get_lowest_layer(ws_).cancel();
      io_.restart();
      io_.run();
    }
    return out;
  }

 private:
  boost::asio::io_context io_;
  beast::websocket::stream<beast::tcp_stream> ws_{io_};
};

}  // namespace strata::test

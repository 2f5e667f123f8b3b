#pragma once
// Test clients for the api server: libcurl for HTTP (one easy handle, so keep-alive reuses its
// connection), and a raw TCP socket for bytes no HTTP client would send.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace strata::api::testing {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string error;                           // curl's error when the transfer failed
  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string("<absent>") : it->second;
  }
};

class CurlClient {
 public:
  CurlClient() : handle_(curl_easy_init()) {}
  ~CurlClient() { curl_easy_cleanup(handle_); }
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  Reply request(const std::string& method, const std::string& url, const std::string& body = {},
                const std::vector<std::string>& headers = {}, long timeout_ms = 10000) {
    Reply reply;
    curl_easy_reset(handle_);  // keeps the connection cache
    curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    if (method == "GET") {
      curl_easy_setopt(handle_, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, method.c_str());
      if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        curl_easy_setopt(handle_, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(handle_, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(body.size()));
      }
    }
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    // curl adds "Expect: 100-continue" to bodies over 1 MiB unless told otherwise.
    bool has_expect = false;
    for (const auto& h : headers) has_expect |= h.rfind("Expect:", 0) == 0;
    if (!has_expect) list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, &CurlClient::on_body);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, &CurlClient::on_header);
    curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &reply);
    CURLcode rc = curl_easy_perform(handle_);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) reply.error = curl_easy_strerror(rc);
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_easy_getinfo(handle_, CURLINFO_NUM_CONNECTS, &last_connects_);
    return reply;
  }

  // New connections the last transfer opened (0 when it reused a kept-alive one).
  [[nodiscard]] long last_connects() const { return last_connects_; }

 private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    static_cast<Reply*>(user)->body.append(data, size * n);
    return size * n;
  }
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    std::string line(data, size * n);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
      static_cast<Reply*>(user)->headers[name] = value;
    }
    return size * n;
  }

  CURL* handle_;
  long last_connects_ = 0;
};

// Sends `bytes` on a fresh connection to 127.0.0.1:port and returns everything the server sends
// until it closes the connection (or 5 s pass). `half_close` shuts our sending side after the
// bytes, as a client that has nothing more to say.
inline std::string raw_exchange(unsigned short port, const std::string& bytes,
                                bool half_close = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "<socket failed>";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close before reading everything: that is allowed
    sent += static_cast<std::size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Waits until pred() holds or the deadline passes; returns pred().
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return pred();
    ::usleep(2000);  // polling a condition the server changes on its own threads
  }
  return true;
}

}  // namespace strata::api::testing

#pragma once
// HttpClient: the one HTTP client that feeds and asks every benchmark peer, so they are measured
// through the same code. It wraps one libcurl easy handle and reuses it, so consecutive requests to
// a peer share one keep-alive TCP connection (what a gateway streaming readings does) and the time
// measured is the server's work, not connection setup. Proxies from the environment are ignored
// (every peer is on 127.0.0.1), only http:// is allowed, bodies are sent as they are (no
// compression asked or offered) and "Expect: 100-continue" is never sent.
// Not thread-safe: one HttpClient per thread.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/peers/peer.hpp"
#include "core/result.hpp"

namespace strata::bench {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, in order

  // The first header of that name (case-insensitive), or nullptr.
  [[nodiscard]] const std::string* header(std::string_view name) const;
  [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
};

struct HttpTimeouts {
  std::chrono::milliseconds connect{2'000};
  std::chrono::milliseconds total{600'000};  // a whole request, answer included
};

class HttpClient {
 public:
  // Fails (PeerErrc::transport) only if libcurl cannot make a handle.
  static Result<HttpClient> create(HttpTimeouts timeouts = {});

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // A request that got any HTTP answer succeeds, whatever its status: check response.status.
  // It fails (PeerErrc::transport) when there was no answer: refused, reset, timed out.
  Result<HttpResponse> get(const std::string& url);
  Result<HttpResponse> post(const std::string& url, std::string_view body,
                            std::string_view content_type);

  void set_timeouts(HttpTimeouts timeouts);
  // Header lines ("Authorization: Bearer …") sent with every later request (bench ingest asks
  // Strata's REST API, which wants a token).
  void set_headers(std::vector<std::string> lines);

 private:
  struct State;
  explicit HttpClient(std::unique_ptr<State> state);
  Result<HttpResponse> perform(const std::string& url);
  std::unique_ptr<State> state_;
};

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string url_encode(std::string_view text);
// "k1=v1&k2=v2" with both sides percent-encoded: a query string or a form body.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace strata::bench

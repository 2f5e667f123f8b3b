#include "bench/peers/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace strata::bench {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after a 1xx or a redirect): keep only the final one
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers->emplace_back(lower(trim(line.substr(0, colon))),
                          std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

struct CurlSlist {
  curl_slist* list = nullptr;
  CurlSlist() = default;
  CurlSlist(const CurlSlist&) = delete;
  CurlSlist& operator=(const CurlSlist&) = delete;
  ~CurlSlist() { curl_slist_free_all(list); }
  void append(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

}  // namespace

struct HttpClient::State {
  CURL* curl = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> extra_headers;  // set_headers()
  ~State() {
    if (curl) curl_easy_cleanup(curl);
  }
};

const std::string* HttpResponse::header(std::string_view name) const {
  const std::string key = lower(name);
  for (const auto& [k, v] : headers)
    if (k == key) return &v;
  return nullptr;
}

Result<HttpClient> HttpClient::create(HttpTimeouts timeouts) {
  static std::once_flag global_init;
  static CURLcode global_rc = CURLE_OK;
  std::call_once(global_init, [] { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global_rc != CURLE_OK)
    return Error::of(PeerErrc::transport,
                     std::string("libcurl could not initialise: ") + curl_easy_strerror(global_rc));
  auto state = std::make_unique<State>();
  state->curl = curl_easy_init();
  if (!state->curl)
    return Error::of(PeerErrc::transport,
                     "libcurl could not create an easy handle (out of memory?)");
  CURL* c = state->curl;
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy from http_proxy & co.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, state->error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &state->body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &state->headers);
  HttpClient client(std::move(state));
  client.set_timeouts(timeouts);
  return client;
}

HttpClient::HttpClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

void HttpClient::set_headers(std::vector<std::string> lines) {
  state_->extra_headers = std::move(lines);
}

void HttpClient::set_timeouts(HttpTimeouts timeouts) {
  curl_easy_setopt(state_->curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(timeouts.connect.count()));
  curl_easy_setopt(state_->curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts.total.count()));
}

Result<HttpResponse> HttpClient::perform(const std::string& url) {
  CURL* c = state_->curl;
  state_->body.clear();
  state_->headers.clear();
  state_->error[0] = '\0';
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string detail = state_->error[0] ? state_->error : curl_easy_strerror(rc);
    return Error::of(PeerErrc::transport, "HTTP request to " + url + " failed: " + detail);
  }
  HttpResponse response;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(state_->body);
  response.headers = std::move(state_->headers);
  state_->body = std::string();
  state_->headers = {};
  return response;
}

Result<HttpResponse> HttpClient::get(const std::string& url) {
  CURL* c = state_->curl;
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  CurlSlist headers;
  for (const auto& line : state_->extra_headers) headers.append(line);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  auto response = perform(url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);  // `headers` dies here
  return response;
}

Result<HttpResponse> HttpClient::post(const std::string& url, std::string_view body,
                                      std::string_view content_type) {
  CURL* c = state_->curl;
  CurlSlist headers;
  headers.append("Content-Type: " + std::string(content_type));
  headers.append("Expect:");  // no 100-continue round trip before large bodies
  for (const auto& line : state_->extra_headers) headers.append(line);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  auto response = perform(url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);  // `headers` dies here
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
  return response;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const unsigned char ch : text) {
    const bool unreserved = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
                            ch == '~';
    if (unreserved) {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 0xF];
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += url_encode(k);
    out += '=';
    out += url_encode(v);
  }
  return out;
}

}  // namespace strata::bench

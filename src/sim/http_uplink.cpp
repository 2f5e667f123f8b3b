#include "sim/http_uplink.hpp"

#include <curl/curl.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "sim/errc.hpp"

namespace strata::sim {
namespace {

std::once_flag g_curl_once;

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() < 4096) s->append(data, size * n);
  return size * n;
}

}  // namespace

Result<std::unique_ptr<HttpUplink>> HttpUplink::create(std::string server,
                                                       std::vector<std::string> tokens) {
  std::call_once(g_curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!server.empty() && server.back() == '/') server.pop_back();
  if (server.rfind("http://", 0) != 0 && server.rfind("https://", 0) != 0)
    return Error::of(errc::transport,
                     "--server '" + server + "' must be a URL such as http://127.0.0.1:8080");
  std::unique_ptr<HttpUplink> up(new HttpUplink());
  up->server_ = std::move(server);
  up->reachable_.assign(tokens.size(), false);
  up->tokens_ = std::move(tokens);
  up->worker_ = std::thread([p = up.get()] { p->run(); });
  return up;
}

HttpUplink::~HttpUplink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void HttpUplink::send(UplinkMessage m) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      ++counters_.failed;
      last_error_ =
          "HTTP: " + std::to_string(kMaxQueued) + " messages queued; the server is too slow";
      return;
    }
    queue_.push_back(std::move(m));
  }
  cv_.notify_one();
}

void HttpUplink::drain(int timeout_ms) {
  std::unique_lock lock(mu_);
  idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return queue_.empty() && !busy_; });
}

std::string HttpUplink::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void HttpUplink::run() {
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::string body;
  for (;;) {
    UplinkMessage m;
    {
      std::unique_lock lock(mu_);
      busy_ = false;
      idle_cv_.notify_all();
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) break;
      m = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    const std::string& token = tokens_.at(m.slot);
    char* escaped = curl_easy_escape(curl, token.data(), static_cast<int>(token.size()));
    const std::string url = server_ + "/api/v1/" + (escaped ? escaped : "") + "/telemetry";
    curl_free(escaped);
    body.clear();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, m.payload.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(m.payload.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    ++counters_.sent;
    counters_.samples_sent += m.samples;
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    const bool was_up = reachable_[m.slot];
    reachable_[m.slot] = rc == CURLE_OK && status == 200;
    if (reachable_[m.slot] != was_up) {
      if (reachable_[m.slot])
        ++counters_.devices_up;
      else
        --counters_.devices_up;
    }
    if (rc == CURLE_OK && status == 200) {
      ++counters_.acked;
      counters_.samples_acked += m.samples;
      continue;
    }
    ++counters_.failed;
    std::string why;
    if (rc != CURLE_OK) {
      why = std::string("HTTP: ") + curl_easy_strerror(rc) + " (" + server_ + ")";
    } else {
      why = "HTTP " + std::to_string(status);
      auto j = nlohmann::json::parse(body, nullptr, false);
      if (j.is_object() && j.contains("detail") && j["detail"].is_string())
        why += ": " + j["detail"].get<std::string>();
      else if (j.is_object() && j.contains("title") && j["title"].is_string())
        why += ": " + j["title"].get<std::string>();
    }
    std::lock_guard lock(mu_);
    last_error_ = std::move(why);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  std::lock_guard lock(mu_);
  busy_ = false;
  idle_cv_.notify_all();
}

}  // namespace strata::sim

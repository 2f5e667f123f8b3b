#include "sim/coap_uplink.hpp"

#include <arpa/inet.h>
#include <coap3/coap.h>
#include <netdb.h>

#include <chrono>
#include <cstring>

#include "sim/errc.hpp"

namespace strata::sim {
namespace {

std::once_flag g_coap_once;

std::string token_key(coap_bin_const_t t) {
  return std::string(reinterpret_cast<const char*>(t.s), t.length);
}

}  // namespace

Result<std::unique_ptr<CoapUplink>> CoapUplink::create(const std::string& host, int port,
                                                       std::vector<std::string> tokens) {
  std::call_once(g_coap_once, [] {
    coap_startup();
    coap_set_log_level(LOG_EMERG);
  });
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res)
    return Error::of(errc::transport, "--coap: cannot resolve host '" + host + "'");
  freeaddrinfo(res);
  std::unique_ptr<CoapUplink> up(new CoapUplink());
  up->host_ = host;
  up->port_ = port;
  up->reachable_.assign(tokens.size(), false);
  up->tokens_ = std::move(tokens);
  up->worker_ = std::thread([p = up.get()] { p->run(); });
  return up;
}

CoapUplink::~CoapUplink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void CoapUplink::send(UplinkMessage m) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      ++counters_.failed;
      last_error_ =
          "CoAP: " + std::to_string(kMaxQueued) + " messages queued; the server is too slow";
      return;
    }
    queue_.push_back(std::move(m));
  }
  cv_.notify_one();
}

void CoapUplink::drain(int timeout_ms) {
  std::unique_lock lock(mu_);
  idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return queue_.empty() && pending_.empty(); });
}

std::string CoapUplink::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void CoapUplink::settle(const std::string& token, bool ok, const std::string& why) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  const auto [slot, samples] = it->second;
  pending_.erase(it);
  if (reachable_[slot] != ok) {
    reachable_[slot] = ok;
    if (ok)
      ++counters_.devices_up;
    else
      --counters_.devices_up;
  }
  if (ok) {
    ++counters_.acked;
    counters_.samples_acked += samples;
  } else {
    ++counters_.failed;
    last_error_ = why;
  }
  if (queue_.empty() && pending_.empty()) idle_cv_.notify_all();
}

void CoapUplink::run() {
  coap_context_t* ctx = coap_new_context(nullptr);
  coap_set_app_data(ctx, this);
  coap_register_response_handler(
      ctx,
      [](coap_session_t* session, const coap_pdu_t*, const coap_pdu_t* received,
         const coap_mid_t) -> coap_response_t {
        auto* self = static_cast<CoapUplink*>(coap_get_app_data(coap_session_get_context(session)));
        const coap_pdu_code_t code = coap_pdu_get_code(received);
        const int cls = COAP_RESPONSE_CLASS(code);
        std::string why;
        if (cls != 2) {
          why = "CoAP " + std::to_string(cls) + "." + (code % 32 < 10 ? "0" : "") +
                std::to_string(code % 32);
          size_t len = 0;
          const uint8_t* data = nullptr;
          if (coap_get_data(received, &len, &data) && len > 0)
            why +=
                ": " + std::string(reinterpret_cast<const char*>(data), std::min<size_t>(len, 200));
        }
        self->settle(token_key(coap_pdu_get_token(received)), cls == 2, why);
        return COAP_RESPONSE_OK;
      });
  coap_register_nack_handler(ctx, [](coap_session_t* session, const coap_pdu_t* sent,
                                     const coap_nack_reason_t reason, const coap_mid_t) {
    auto* self = static_cast<CoapUplink*>(coap_get_app_data(coap_session_get_context(session)));
    if (!sent) return;
    self->settle(
        token_key(coap_pdu_get_token(sent)), false,
        reason == COAP_NACK_TOO_MANY_RETRIES
            ? "CoAP: no answer from " + self->host_ + ":" + std::to_string(self->port_)
            : "CoAP: message not delivered (" + std::to_string(static_cast<int>(reason)) + ")");
  });
  coap_address_t dst;
  coap_address_init(&dst);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host_.c_str(), nullptr, &hints, &res) == 0 && res) {
    std::memcpy(&dst.addr.sin, res->ai_addr, sizeof(sockaddr_in));
    dst.size = sizeof(sockaddr_in);
    freeaddrinfo(res);
  }
  dst.addr.sin.sin_port = htons(static_cast<uint16_t>(port_));
  coap_session_t* session = coap_new_client_session(ctx, nullptr, &dst, COAP_PROTO_UDP);
  if (!session) {
    std::lock_guard lock(mu_);
    last_error_ = "CoAP: cannot open a session to " + host_ + ":" + std::to_string(port_);
  }
  uint8_t cf[4];
  const unsigned cf_len = coap_encode_var_safe(cf, sizeof cf, COAP_MEDIATYPE_APPLICATION_JSON);
  for (;;) {
    std::deque<UplinkMessage> batch;
    {
      std::unique_lock lock(mu_);
      if (stop_) break;
      if (queue_.empty() && pending_.empty()) {
        idle_cv_.notify_all();
        cv_.wait_for(lock, std::chrono::milliseconds(100),
                     [&] { return stop_ || !queue_.empty(); });
        if (stop_) break;
      }
      batch.swap(queue_);
    }
    for (auto& m : batch) {
      if (!session) {
        ++counters_.failed;
        continue;
      }
      coap_pdu_t* pdu =
          coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(session),
                        coap_session_max_pdu_size(session));
      uint8_t tok[8];
      size_t tok_len = 0;
      coap_session_new_token(session, &tok_len, tok);
      coap_add_token(pdu, tok_len, tok);
      const std::string& device_token = tokens_.at(m.slot);
      for (std::string_view seg : {std::string_view("api"), std::string_view("v1"),
                                   std::string_view(device_token), std::string_view("telemetry")})
        coap_add_option(pdu, COAP_OPTION_URI_PATH, seg.size(),
                        reinterpret_cast<const uint8_t*>(seg.data()));
      coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, cf_len, cf);
      if (!coap_add_data(pdu, m.payload.size(),
                         reinterpret_cast<const uint8_t*>(m.payload.data()))) {
        coap_delete_pdu(pdu);
        ++counters_.failed;
        std::lock_guard lock(mu_);
        last_error_ = "CoAP: payload of " + std::to_string(m.payload.size()) + " bytes too large";
        continue;
      }
      const std::string key(reinterpret_cast<const char*>(tok), tok_len);
      {
        std::lock_guard lock(mu_);
        pending_[key] = {m.slot, m.samples};
      }
      ++counters_.sent;
      counters_.samples_sent += m.samples;
      if (coap_send(session, pdu) == COAP_INVALID_MID) settle(key, false, "CoAP: send failed");
    }
    coap_io_process(ctx, 50);
  }
  if (session) coap_session_release(session);
  coap_free_context(ctx);
  std::lock_guard lock(mu_);
  idle_cv_.notify_all();
}

}  // namespace strata::sim

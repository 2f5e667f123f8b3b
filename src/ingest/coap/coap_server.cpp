#include "ingest/coap/coap_server.hpp"

#include <arpa/inet.h>
#include <coap3/coap.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fmt/format.h"

namespace strata::ingest {
namespace {

// What a completion reports, copied so that it can cross to the server thread.
struct Outcome {
  bool ok = true;
  std::string error;
};

// Where completions leave their outcomes for the server thread; shared with the completions, which
// may run after the server stopped (then they find it closed and do nothing).
struct Inbox {
  std::mutex mutex;
  std::vector<std::pair<std::uint64_t, Outcome>> done;  // under mutex
  int event_fd = -1;                                    // under mutex; -1 once closed

  void post(std::uint64_t id, Outcome outcome) {
    std::lock_guard lock(mutex);
    if (event_fd == -1) return;
    done.emplace_back(id, std::move(outcome));
    signal();
  }
  void wake() {
    std::lock_guard lock(mutex);
    if (event_fd != -1) signal();
  }
  void signal() {  // REQUIRES: mutex held, event_fd open
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(event_fd, &one, sizeof one);
  }
};

void handle_request(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                    const coap_string_t* query, coap_pdu_t* response);

std::once_flag g_coap_startup;

}  // namespace

struct CoapServer::State {
  CoapServerOptions options;
  pipeline::TelemetrySink* sink = nullptr;
  const DeviceAuthenticator* auth = nullptr;
  const Clock* clock = nullptr;
  coap_context_t* ctx = nullptr;
  std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
  std::atomic<bool> stopping{false};

  // Used only on the server thread (or before it starts / after it stopped).
  JsonTelemetryDecoder decoder;
  std::uint64_t next_id = 1;
  struct Pending {
    coap_async_t* async = nullptr;
    std::string diagnostic;  // the quarantined keys, for the 2.04's payload
    std::optional<Outcome> outcome;
  };
  std::unordered_map<std::uint64_t, Pending> pending;

  mutable std::mutex stats_mutex;
  CoapServerStats stats;  // under stats_mutex

  ~State() {
    if (ctx != nullptr) coap_free_context(ctx);
    std::lock_guard lock(inbox->mutex);
    if (inbox->event_fd != -1) ::close(inbox->event_fd);
    inbox->event_fd = -1;
  }

  void count(std::uint64_t CoapServerStats::*counter, std::uint64_t n = 1) {
    std::lock_guard lock(stats_mutex);
    stats.*counter += n;
  }

  void respond(coap_pdu_t* response, CoapCode code, std::string_view diagnostic) {
    coap_pdu_set_code(response, static_cast<coap_pdu_code_t>(code));
    std::uint64_t CoapServerStats::*counter = &CoapServerStats::changed;
    switch (code) {
      case CoapCode::changed:
        break;
      case CoapCode::bad_request:
        counter = &CoapServerStats::bad_request;
        break;
      case CoapCode::unauthorized:
        counter = &CoapServerStats::unauthorized;
        break;
      case CoapCode::not_found:
      case CoapCode::method_not_allowed:
        counter = &CoapServerStats::not_found;
        break;
      case CoapCode::request_entity_too_large:
        counter = &CoapServerStats::too_large;
        break;
      case CoapCode::unsupported_content_format:
        counter = &CoapServerStats::unsupported_format;
        break;
      case CoapCode::internal_server_error:
        counter = &CoapServerStats::store_errors;
        break;
      case CoapCode::service_unavailable:
        counter = &CoapServerStats::busy;
        break;
    }
    count(counter);
    std::uint8_t buf[4];
    if (code == CoapCode::service_unavailable) {
      coap_add_option(response, COAP_OPTION_MAXAGE,
                      coap_encode_var_safe(buf, sizeof buf,
                                           static_cast<unsigned>(options.busy_max_age.count())),
                      buf);
    }
    if (code == CoapCode::request_entity_too_large) {  // RFC 7959 §4: the size we accept
      coap_add_option(
          response, COAP_OPTION_SIZE1,
          coap_encode_var_safe(buf, sizeof buf, static_cast<unsigned>(options.max_payload_bytes)),
          buf);
    }
    if (!diagnostic.empty()) {
      coap_add_data(response, diagnostic.size(),
                    reinterpret_cast<const std::uint8_t*>(diagnostic.data()));
    }
  }

  // REQUIRES: the server thread (a libcoap handler).
  void handle(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response) {
    const coap_bin_const_t token = coap_pdu_get_token(request);
    if (coap_async_t* async = coap_find_async(session, token)) {
      // The pipeline finished: we triggered the async request and libcoap calls us with its copy.
      // (A request whose token matches one still in the pipeline, a retransmission or not, never
      // gets here: libcoap answers it with an empty ACK itself.)
      const auto id = reinterpret_cast<std::uintptr_t>(coap_async_get_app_data(async));
      const auto it = pending.find(id);
      if (it == pending.end() || !it->second.outcome) return;
      const Outcome outcome = std::move(*it->second.outcome);
      const std::string diagnostic = std::move(it->second.diagnostic);
      pending.erase(it);
      {
        std::lock_guard lock(stats_mutex);
        stats.pending = pending.size();
      }
      if (outcome.ok) {
        respond(response, CoapCode::changed, diagnostic);
      } else {
        respond(response, CoapCode::internal_server_error,
                fmt::format("the readings could not be stored: {}; send them again later",
                            outcome.error));
      }
      return;
    }

    count(&CoapServerStats::requests);
    std::vector<std::string_view> path;
    coap_opt_filter_t filter;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_PATH);
    coap_opt_iterator_t options_it;
    coap_option_iterator_init(request, &options_it, &filter);
    while (coap_opt_t* opt = coap_option_next(&options_it)) {
      path.emplace_back(reinterpret_cast<const char*>(coap_opt_value(opt)), coap_opt_length(opt));
    }
    std::optional<unsigned> format;
    if (coap_opt_t* opt = coap_check_option(request, COAP_OPTION_CONTENT_FORMAT, &options_it)) {
      format = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    }
    std::size_t length = 0;
    std::size_t offset = 0;
    std::size_t total = 0;
    const std::uint8_t* data = nullptr;
    std::string_view payload;
    if (coap_get_data_large(request, &length, &data, &offset, &total) != 0 && data != nullptr) {
      payload = {reinterpret_cast<const char*>(data), length};
    }
    char peer[64] = {};
    coap_print_addr(coap_session_get_addr_remote(session), reinterpret_cast<unsigned char*>(peer),
                    sizeof peer - 1);
    const std::string message_id = fmt::format("{}/{}", peer, coap_pdu_get_mid(request));

    CoapRequestView view;
    view.post = coap_pdu_get_code(request) == COAP_REQUEST_CODE_POST;
    view.path = path;
    view.content_format = format;
    view.payload = payload;
    view.received = clock->now();
    view.message_id = message_id;
    CoapTelemetryLimits limits;
    limits.max_payload_bytes = options.max_payload_bytes;
    CoapAdmission a = admit_coap_telemetry(view, *auth, decoder, limits);

    if (a.quarantine_payload) {
      sink->quarantine(pipeline::Transport::coap, a.device_id, payload, a.diagnostic);
      count(&CoapServerStats::quarantined_payloads);
    }
    for (const JsonTelemetryRefusal& r : a.refused) {
      sink->quarantine(pipeline::Transport::coap, a.device_id, payload, r.reason);
    }
    count(&CoapServerStats::quarantined_keys, a.refused.size());
    if (a.code != CoapCode::changed) return respond(response, a.code, a.diagnostic);
    if (a.message.readings.empty()) return respond(response, CoapCode::changed, a.diagnostic);

    const std::string busy = fmt::format("the pipeline is busy: send again after Max-Age ({} s)",
                                         options.busy_max_age.count());
    if (pending.size() >= options.max_pending) {
      return respond(response, CoapCode::service_unavailable, busy);
    }
    coap_async_t* async = coap_register_async(session, request, 0);
    if (async == nullptr) return respond(response, CoapCode::service_unavailable, busy);
    const std::uint64_t id = next_id++;
    coap_async_set_app_data(async, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)));
    pipeline::Completion done = [inbox = inbox, id](const pipeline::IngestOutcome& o) {
      inbox->post(id, Outcome{o.status.ok(), o.status.ok() ? "" : o.status.error().message});
    };
    pending.emplace(id, Pending{async, a.diagnostic, std::nullopt});
    auto publish_pending = [&] {
      std::lock_guard lock(stats_mutex);
      stats.pending = pending.size();
    };
    publish_pending();
    if (!sink->submit(a.message, done)) {
      pending.erase(id);
      publish_pending();
      coap_free_async(session, async);
      return respond(response, CoapCode::service_unavailable, busy);
    }
    // No response code: libcoap sends the empty ACK of a separate response (CON) or nothing (NON).
  }

  // Moves the outcomes the completions posted to their requests and triggers them, so that the
  // next coap_io_process() calls the handler again to answer. REQUIRES: the server thread.
  void drain() {
    std::vector<std::pair<std::uint64_t, Outcome>> done;
    {
      std::lock_guard lock(inbox->mutex);
      done.swap(inbox->done);
    }
    for (auto& [id, outcome] : done) {
      const auto it = pending.find(id);
      if (it == pending.end()) continue;
      it->second.outcome = std::move(outcome);
      coap_async_trigger(it->second.async);
    }
    std::lock_guard lock(stats_mutex);
    stats.pending = pending.size();
  }
};

namespace {

void handle_request(coap_resource_t*, coap_session_t* session, const coap_pdu_t* request,
                    const coap_string_t*, coap_pdu_t* response) {
  auto* state =
      static_cast<CoapServer::State*>(coap_get_app_data(coap_session_get_context(session)));
  state->handle(session, request, response);
}

}  // namespace

Result<std::unique_ptr<CoapServer>> CoapServer::create(CoapServerOptions options,
                                                       pipeline::TelemetrySink& sink,
                                                       const DeviceAuthenticator& auth,
                                                       const Clock& clock) {
  std::call_once(g_coap_startup, [] { coap_startup(); });
  coap_address_t address;
  coap_address_init(&address);
  if (inet_pton(AF_INET, options.bind_address.c_str(), &address.addr.sin.sin_addr) == 1) {
    address.addr.sin.sin_family = AF_INET;
    address.addr.sin.sin_port = htons(options.port);
    address.size = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, options.bind_address.c_str(), &address.addr.sin6.sin6_addr) == 1) {
    address.addr.sin6.sin6_family = AF_INET6;
    address.addr.sin6.sin6_port = htons(options.port);
    address.size = sizeof(sockaddr_in6);
  } else {
    return Error::of(coap_errc::bad_config,
                     fmt::format("coap.bind_address '{}' is not an IPv4 or IPv6 address (use "
                                 "127.0.0.1, 0.0.0.0 or ::)",
                                 options.bind_address));
  }

  std::unique_ptr<CoapServer> server(new CoapServer());
  server->state_ = std::make_unique<State>();
  State& s = *server->state_;
  s.options = options;
  s.sink = &sink;
  s.auth = &auth;
  s.clock = &clock;
  s.inbox->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.inbox->event_fd == -1) {
    return Error::of(coap_errc::io, fmt::format("CoAP server: eventfd: {}", std::strerror(errno)));
  }
  s.ctx = coap_new_context(nullptr);
  if (s.ctx == nullptr) return Error::of(coap_errc::io, "CoAP server: libcoap context failed");
  coap_set_app_data(s.ctx, &s);
  coap_context_set_block_mode(s.ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  // libcoap binds with SO_REUSEADDR, which lets a second UDP socket share a port already in use
  // (and steal its datagrams); a bind without it first finds out whether the port is free.
  bool taken = false;
  if (options.port != 0) {
    const int probe = ::socket(address.addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    taken =
        probe != -1 && ::bind(probe, &address.addr.sa, address.size) != 0 && errno == EADDRINUSE;
    if (probe != -1) ::close(probe);
  }
  coap_endpoint_t* endpoint = taken ? nullptr : coap_new_endpoint(s.ctx, &address, COAP_PROTO_UDP);
  if (taken) errno = EADDRINUSE;
  if (endpoint == nullptr) {
    return Error::of(coap_errc::bind,
                     fmt::format("CoAP server: cannot bind UDP {}:{} ({}); choose another "
                                 "coap.port or stop what holds it",
                                 options.bind_address, options.port, std::strerror(errno)));
  }
  // "127.0.0.1:40049 UDP" or "[::1]:5683 UDP": the port actually bound.
  const std::string_view described = coap_endpoint_str(endpoint);
  const std::string_view host_port = described.substr(0, described.find(' '));
  server->port_ = options.port;
  if (const auto colon = host_port.rfind(':'); colon != std::string_view::npos) {
    std::from_chars(host_port.data() + colon + 1, host_port.data() + host_port.size(),
                    server->port_);
  }
  coap_resource_t* resource = coap_resource_unknown_init2(handle_request, 0);
  for (coap_request_t method : {COAP_REQUEST_POST, COAP_REQUEST_GET, COAP_REQUEST_DELETE,
                                COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH}) {
    coap_register_request_handler(resource, method, handle_request);
  }
  coap_add_resource(s.ctx, resource);
  return server;
}

CoapServer::~CoapServer() { stop(); }

void CoapServer::start() {
  if (thread_.joinable() || !state_) return;
  state_->stopping = false;
  thread_ = std::thread([this] { run(); });
}

void CoapServer::stop() {
  if (!thread_.joinable()) return;
  state_->stopping = true;
  state_->inbox->wake();
  thread_.join();
}

CoapServerStats CoapServer::stats() const {
  std::lock_guard lock(state_->stats_mutex);
  return state_->stats;
}

void CoapServer::run() {
  State& s = *state_;
  const int coap_fd = coap_context_get_coap_fd(s.ctx);
  int event_fd = -1;
  {
    std::lock_guard lock(s.inbox->mutex);
    event_fd = s.inbox->event_fd;
  }
  while (!s.stopping) {
    s.drain();
    if (coap_io_process(s.ctx, COAP_IO_NO_WAIT) < 0) break;
    if (coap_fd == -1) {  // libcoap built without epoll: poll its sockets with a short timeout
      coap_io_process(s.ctx, 20);
      continue;
    }
    pollfd fds[2] = {{coap_fd, POLLIN, 0}, {event_fd, POLLIN, 0}};
    // libcoap arms its own timer in coap_fd for retransmissions; the timeout is a safety net.
    if (::poll(fds, 2, 1000) > 0 && (fds[1].revents & POLLIN) != 0) {
      std::uint64_t n = 0;
      [[maybe_unused]] const auto r = ::read(event_fd, &n, sizeof n);
    }
  }
}

}  // namespace strata::ingest

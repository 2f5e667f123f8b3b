#include "api/exchange.hpp"

#include <array>
#include <atomic>

#include "api/errc.hpp"
#include "api/router.hpp"  // percent_decode

namespace strata::api {

namespace {

constexpr std::array<std::string_view, kMethodCount> kMethodNames = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Calls f(name, value) for each `name=value` pair of a query string, still encoded.
template <class F>
void for_each_query_pair(std::string_view query, F&& f) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (!f(name, value)) return;
  }
}

}  // namespace

std::string_view method_name(Method m) { return kMethodNames[static_cast<std::size_t>(m)]; }

std::optional<Method> parse_method(std::string_view token) {
  for (std::size_t i = 0; i < kMethodNames.size(); ++i)
    if (kMethodNames[i] == token) return static_cast<Method>(i);
  return std::nullopt;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::optional<std::string> found;
  for_each_query_pair(query, [&](std::string_view k, std::string_view v) {
    auto key = percent_decode(k, true);
    if (!key || *key != name) return true;
    found = percent_decode(v, true);
    return false;
  });
  return found;
}

std::vector<std::string> Request::query_params(std::string_view name) const {
  std::vector<std::string> out;
  for_each_query_pair(query, [&](std::string_view k, std::string_view v) {
    auto key = percent_decode(k, true);
    if (key && *key == name) {
      if (auto value = percent_decode(v, true)) out.push_back(std::move(*value));
    }
    return true;
  });
  return out;
}

std::optional<std::string_view> Request::bearer_token() const {
  auto value = header("Authorization");
  if (!value) return std::nullopt;
  std::string_view v = *value;
  std::size_t space = v.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view scheme = v.substr(0, space);
  if (!iequals(scheme, "Bearer") && !iequals(scheme, "Token")) return std::nullopt;
  std::string_view token = v.substr(space + 1);
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

Result<nlohmann::json> Request::json_body() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string what = e.what();
    std::size_t at = what.find("] ");
    return Error::of(errc::bad_json, "the request body is not JSON: " +
                                         (at == std::string::npos ? what : what.substr(at + 2)));
  }
}

Response Response::json(int status, const nlohmann::json& document) {
  Response r;
  r.status = status;
  r.body = document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::problem(const Problem& problem, std::string_view instance) {
  nlohmann::json doc = problem.to_json();
  if (problem.instance.empty() && !instance.empty()) doc["instance"] = instance;
  Response r = json(problem.status, doc);
  r.content_type = kProblemContentType;
  r.headers = problem.headers;
  return r;
}

namespace detail {

struct Exchange {
  std::function<void(Response)> deliver;
  std::string path;
  std::atomic<bool> answered{false};

  void answer(Response response) {
    if (answered.exchange(true, std::memory_order_acq_rel)) return;
    if (response.status == 0) response.status = 500;
    deliver(std::move(response));
  }

  ~Exchange() {
    if (!answered.load(std::memory_order_acquire))
      answer(Response::problem(internal_error("the handler of this route did not answer"), path));
  }
};

}  // namespace detail

Responder::Responder(std::function<void(Response)> deliver, std::string path)
    : exchange_(std::make_shared<detail::Exchange>()) {
  exchange_->deliver = std::move(deliver);
  exchange_->path = std::move(path);
}

void Responder::send(Response response) const { exchange_->answer(std::move(response)); }

void Responder::send(const Problem& problem) const {
  exchange_->answer(Response::problem(problem, exchange_->path));
}

bool Responder::answered() const { return exchange_->answered.load(std::memory_order_acquire); }

const std::string& Responder::path() const { return exchange_->path; }

}  // namespace strata::api

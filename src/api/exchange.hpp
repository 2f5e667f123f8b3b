#pragma once
// The request a route handler reads, the response it writes, and the Responder through which it
// answers — possibly later and from another thread (the ingestion routes answer only once the data
// is durable, from a shard thread). These types carry no Boost: handlers and the modules that
// implement them compile without Beast.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/problem.hpp"
#include "core/result.hpp"
#include "govern/role.hpp"

namespace strata::api {

// The HTTP methods routes may be registered for.
enum class Method : std::uint8_t { get, head, post, put, patch, delete_, options };
inline constexpr std::size_t kMethodCount = 7;

// "GET", "DELETE", ...
std::string_view method_name(Method m);
// The method of a request line token (case-sensitive, as HTTP is); nullopt for others.
std::optional<Method> parse_method(std::string_view token);

// Who is calling: the user behind an API token, as the Authenticator resolved it.
struct Caller {
  std::string user;
  govern::Role role = govern::Role::viewer;
  // A view of this caller, valid as long as this object is.
  [[nodiscard]] govern::Principal principal() const { return {user, role}; }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One HTTP request, as the router hands it to a handler. Valid until the handler returns: move
// out what an asynchronous handler needs later (the body, the params).
struct Request {
  Method method = Method::get;
  std::string target;  // as sent: "/api/v1/models/dtmi%3Astrata%3Ax%3B1?limit=10"
  std::string path;    // the target before '?', still percent-encoded
  std::string query;   // the target after '?', without it; "" when absent
  HeaderList headers;  // names as sent; look them up with header()
  std::string body;
  // Path parameters of the matched route ({id} → "dtmi:strata:x;1"), percent-decoded.
  std::vector<std::pair<std::string, std::string>> params;
  // The authenticated user on routes with a role set; nullopt on public and device routes.
  std::optional<Caller> caller;
  std::string remote_address;  // "127.0.0.1:53422"
  std::uint64_t id = 0;        // unique within the process, for logs and message ids

  // The value of a header (case-insensitive name); the first one when repeated.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  // The value of a path parameter of the matched pattern ("" when the pattern has none by that
  // name — a programming error the route's tests catch).
  [[nodiscard]] std::string_view param(std::string_view name) const;
  // The first query parameter by that name, percent-decoded ('+' reads as a space); nullopt when
  // absent or badly encoded.
  [[nodiscard]] std::optional<std::string> query_param(std::string_view name) const;
  // Every value of a repeated query parameter (?topic=a&topic=b), percent-decoded.
  [[nodiscard]] std::vector<std::string> query_params(std::string_view name) const;
  // The credential of `Authorization: Bearer <t>` or `Authorization: Token <t>` (scheme
  // case-insensitive); nullopt when absent or another scheme. Device routes read it themselves.
  [[nodiscard]] std::optional<std::string_view> bearer_token() const;
  // The body parsed as JSON; the error names the byte where it stops being JSON (answer it with
  // bad_request(error.message)).
  [[nodiscard]] Result<nlohmann::json> json_body() const;
};

// One HTTP response. Content-Length is set by the server.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HeaderList headers;

  // A JSON document (serialised compactly).
  static Response json(int status, const nlohmann::json& document);
  // No body (204, or 201/202 without a document).
  static Response empty(int status);
  // A plain body of the given type.
  static Response text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
  // A problem document; `instance` is used when the problem leaves its own empty.
  static Response problem(const Problem& problem, std::string_view instance = {});
};

namespace detail {
struct Exchange;  // one request awaiting its answer (exchange.cpp)
}

// How a handler answers. Copyable; callable from any thread; the first answer wins and later ones
// are ignored (answered() tells). The answer is posted onto the connection's strand, so the
// handler's thread never blocks on the network.
// - If every copy is destroyed without an answer, the server answers 500 ("the handler did not
//   answer"), so a lost completion shows up as an error, not as a hung request.
// - A handler that keeps its Responder and never answers does not hold the connection: the
//   connection closes at its idle timeout and a later answer is dropped. Nothing leaks.
class Responder {
 public:
  // `deliver` receives the one answer (the server's posts it onto the connection's strand; tests
  // and in-process callers may capture it). `path` is the request path, for the 500 above.
  Responder(std::function<void(Response)> deliver, std::string path);
  void operator()(Response response) const { send(std::move(response)); }
  void send(Response response) const;
  void send(const Problem& problem) const;
  [[nodiscard]] bool answered() const;
  // The request path, for problem documents created on another thread.
  [[nodiscard]] const std::string& path() const;

 private:
  std::shared_ptr<detail::Exchange> exchange_;
};

}  // namespace strata::api

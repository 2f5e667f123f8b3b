#pragma once
// Error codes of the api module (Error::code of its Results).
namespace strata::api {

enum class errc : int {
  bind = 1,       // HttpServer::create: the address cannot be bound (in use, not local, denied)
  bad_route = 2,  // Router::add: the route is malformed or a duplicate
  bad_json = 3,   // Request::json_body: the body is not JSON
};

}  // namespace strata::api

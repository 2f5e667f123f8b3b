#include "api/http_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "http_client.hpp"
#include "obs/metrics.hpp"
#include "test_auth.hpp"

namespace strata::api {
namespace {

using govern::Role;
using testing::CurlClient;
using testing::eventually;
using testing::raw_exchange;
using testing::Reply;

// A thread that answers Responders handed to it, as a shard thread answers ingestion requests.
class AnswerThread {
 public:
  AnswerThread()
      : thread_([this] {
          std::unique_lock lock(mu_);
          while (true) {
            cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
            if (jobs_.empty()) return;
            auto [responder, body] = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            responder.send(Response::json(
                200, {{"durable", body.size()},
                      {"thread", std::hash<std::thread::id>{}(std::this_thread::get_id())}}));
            lock.lock();
          }
        }) {}
  ~AnswerThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void answer_later(Responder r, std::string body) {
    {
      std::lock_guard lock(mu_);
      jobs_.emplace_back(std::move(r), std::move(body));
    }
    cv_.notify_all();
  }
  std::size_t id() const { return std::hash<std::thread::id>{}(thread_.get_id()); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Responder, std::string>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth.add("adm", "alice", Role::admin);
    auth.add("view", "victor", Role::viewer);
    add({.method = Method::get,
         .pattern = "/api/v1/devices/{id}",
         .access = Access::roles({Role::admin, Role::viewer}),
         .sync_handler = [](Request& r) {
           return Response::json(200, {{"id", r.param("id")},
                                       {"user", r.caller->user},
                                       {"limit", r.query_param("limit").value_or("")}});
         }});
    add({.method = Method::delete_,
         .pattern = "/api/v1/devices/{id}",
         .access = Access::roles({Role::admin}),
         .sync_handler = [](Request&) { return Response::empty(204); }});
    add({.method = Method::post,
         .pattern = "/echo",
         .access = Access::public_route(),
         .max_body_bytes = 1024,
         .sync_handler = [](Request& r) {
           return Response::text(200, std::to_string(r.body.size()) + ":" + r.body.substr(0, 16));
         }});
    add({.method = Method::post,
         .pattern = "/big",
         .access = Access::public_route(),
         .max_body_bytes = 200'000,
         .sync_handler = [](Request& r) {
           return Response::text(200, std::to_string(r.body.size()));
         }});
    add({.method = Method::post,
         .pattern = "/default-limit",
         .access = Access::public_route(),
         .sync_handler = [](Request& r) {
           return Response::text(200, std::to_string(r.body.size()));
         }});
    add({.method = Method::post,
         .pattern = "/api/v1/{token}/telemetry",
         .access = Access::device(),
         .handler = [this](Request& r, Responder respond) {
           handler_thread = std::hash<std::thread::id>{}(std::this_thread::get_id());
           if (r.param("token") != "dvt_ok") {
             respond.send(unauthorized("unknown device token", true));
             return;
           }
           answers.answer_later(std::move(respond), std::move(r.body));
         }});
    add({.method = Method::get,
         .pattern = "/never",
         .access = Access::public_route(),
         .handler = [this](Request&, Responder respond) {
           std::lock_guard lock(kept_mu);
           kept.push_back(std::move(respond));  // kept, never answered
         }});
    add({.method = Method::get,
         .pattern = "/forgets",
         .access = Access::public_route(),
         .handler = [](Request&, Responder) {}});  // drops its Responder unanswered
  }

  void TearDown() override {
    if (server) server->stop();
  }

  void add(Route r) { ASSERT_TRUE(router.add(std::move(r)).ok()); }

  void start(HttpServerOptions options = {}) {
    options.threads = 2;
    auto s = HttpServer::create(io, options, router);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server = std::move(*s);
    ASSERT_NE(server->port(), 0);
    base = "http://127.0.0.1:" + std::to_string(server->port());
  }

  nlohmann::json json(const Reply& r) { return nlohmann::json::parse(r.body); }

  boost::asio::io_context io;
  testing::TableAuthenticator auth;
  Router router{&auth};
  AnswerThread answers;
  std::atomic<std::size_t> handler_thread{0};
  std::mutex kept_mu;
  std::vector<Responder> kept;
  std::unique_ptr<HttpServer> server;
  std::string base;
};

TEST_F(HttpServerTest, RoutesWithParamsAndQuery) {
  start();
  CurlClient c;
  Reply r = c.request("GET", base + "/api/v1/devices/dtmi%3Astrata%3Ax%3B1?limit=10", {},
                      {"Authorization: Bearer view"});
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(json(r),
            nlohmann::json({{"id", "dtmi:strata:x;1"}, {"user", "victor"}, {"limit", "10"}}));
  r = c.request("DELETE", base + "/api/v1/devices/x", {}, {"Authorization: Bearer adm"});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
}

TEST_F(HttpServerTest, RefusalsAreProblemDocuments) {
  start();
  CurlClient c;
  Reply r = c.request("GET", base + "/nowhere");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  EXPECT_EQ(json(r)["instance"], "/nowhere");

  r = c.request("PUT", base + "/api/v1/devices/x", "{}", {"Authorization: Bearer adm"});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, DELETE");
  EXPECT_EQ(r.header("content-type"), "application/problem+json");

  r = c.request("GET", base + "/api/v1/devices/x");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"strata\"");
  EXPECT_EQ(r.header("content-type"), "application/problem+json");

  r = c.request("DELETE", base + "/api/v1/devices/x", {}, {"Authorization: Bearer view"});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  EXPECT_EQ(json(r)["type"], "urn:strata:problem:forbidden");

  r = c.request("GET", base + "/api/v1/devices/%zz", {}, {"Authorization: Bearer adm"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
}

TEST_F(HttpServerTest, BodyLimitsPerRouteAndServer) {
  HttpServerOptions o;
  o.max_body_bytes = 4096;
  start(o);
  CurlClient c;
  Reply r = c.request("POST", base + "/echo", std::string(1024, 'a'));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "1024:aaaaaaaaaaaaaaaa");

  r = c.request("POST", base + "/echo", std::string(1025, 'a'));  // the route's own limit
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  EXPECT_EQ(json(r)["limit_bytes"], 1024);

  r = c.request("POST", base + "/default-limit", std::string(5000, 'b'));  // the server's
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json(r)["limit_bytes"], 4096);

  r = c.request("POST", base + "/big", std::string(150'000, 'c'));  // a route may allow more
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "150000");

  // Chunked: the size is known only while reading.
  r = c.request("POST", base + "/echo", std::string(3000, 'd'), {"Transfer-Encoding: chunked"});
  EXPECT_EQ(r.status, 413) << r.error;
  r = c.request("POST", base + "/echo", std::string(100, 'e'), {"Transfer-Encoding: chunked"});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "100:eeeeeeeeeeeeeeee");
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredOnlyForAcceptedRequests) {
  start();
  CurlClient c;
  Reply r = c.request("POST", base + "/big", std::string(100'000, 'x'), {"Expect: 100-continue"});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "100000");
  // Refused before the body: the answer is the refusal, and the body is never needed.
  r = c.request("POST", base + "/echo", std::string(100'000, 'x'), {"Expect: 100-continue"});
  EXPECT_EQ(r.status, 413) << r.error;
}

TEST_F(HttpServerTest, AsyncAnswerFromAnotherThread) {
  start();
  CurlClient c;
  Reply r = c.request("POST", base + "/api/v1/dvt_ok/telemetry", R"({"temp":21.5})");
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  auto doc = json(r);
  EXPECT_EQ(doc["durable"], 13);
  EXPECT_EQ(doc["thread"], answers.id());  // answered by the other thread
  EXPECT_NE(handler_thread.load(), answers.id());
  r = c.request("POST", base + "/api/v1/dvt_bad/telemetry", "{}");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  CurlClient c;
  for (int i = 0; i < 5; ++i) {
    Reply r = c.request("POST", base + "/api/v1/dvt_ok/telemetry", std::string(i + 1, '{'));
    ASSERT_EQ(r.status, 200) << i << r.error;
    EXPECT_EQ(json(r)["durable"], i + 1);
    EXPECT_EQ(c.last_connects(), i == 0 ? 1 : 0) << "request " << i;
    // Refusals that read the whole request keep the connection too.
    r = c.request("GET", base + "/nowhere");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(c.last_connects(), 0);
  }
  EXPECT_EQ(server->connections(), 1u);
}

TEST_F(HttpServerTest, HandlerThatNeverAnswersIsCutAtTheIdleTimeout) {
  HttpServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(300);
  start(o);
  CurlClient c;
  Reply r = c.request("GET", base + "/never");
  EXPECT_EQ(r.status, 0);  // no response: the connection was closed
  EXPECT_FALSE(r.error.empty());
  ASSERT_TRUE(eventually([&] { return server->connections() == 0; }));
  // The late answer finds the connection gone: nothing is written, nothing crashes.
  std::lock_guard lock(kept_mu);
  ASSERT_EQ(kept.size(), 1u);
  kept[0].send(Response::empty(204));
  EXPECT_TRUE(kept[0].answered());
  // The server still serves.
  EXPECT_EQ(c.request("GET", base + "/nowhere").status, 404);
}

TEST_F(HttpServerTest, HandlerThatDropsItsResponderAnswers500) {
  start();
  CurlClient c;
  Reply r = c.request("GET", base + "/forgets");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  EXPECT_NE(json(r)["detail"].get<std::string>().find("did not answer"), std::string::npos);
}

TEST_F(HttpServerTest, GarbageOnTheSocketGets400AndDoesNotCrash) {
  start();
  std::string reply =
      raw_exchange(server->port(), std::string("\x16\x03\x01\x02\x00\xff garbage\r\n\r\n", 18));
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("application/problem+json"), std::string::npos) << reply;

  reply = raw_exchange(server->port(), "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: zz\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;

  reply =
      raw_exchange(server->port(), "BREW /pot HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 501", 0), 0u) << reply;

  reply = raw_exchange(server->port(),
                       "GET http://evil/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;

  std::string big_header =
      "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n";
  reply = raw_exchange(server->port(), big_header);
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 200);

  std::string noise;
  std::uint32_t x = 12345;
  for (int i = 0; i < 100'000; ++i) {
    x = x * 1103515245u + 12345u;
    noise += static_cast<char>(x >> 24);
  }
  reply = raw_exchange(server->port(), noise, true);
  EXPECT_TRUE(reply.empty() || reply.rfind("HTTP/1.1 4", 0) == 0) << reply.substr(0, 200);

  // A request cut in the middle: the client stops sending after 3 of 100 body bytes.
  reply = raw_exchange(server->port(),
                       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc", true);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;

  {
    CurlClient c;
    EXPECT_EQ(c.request("POST", base + "/echo", "still here").status, 200);
  }
  ASSERT_TRUE(eventually([&] { return server->connections() == 0; }));
}

TEST_F(HttpServerTest, CountsResponsesAndLatencyInMetrics) {
  obs::MetricsRegistry metrics;
  HttpServerOptions o;
  o.metrics = &metrics;
  start(o);
  CurlClient c;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.request("POST", base + "/echo", "x").status, 200);
  EXPECT_EQ(c.request("GET", base + "/nowhere").status, 404);
  std::string text = metrics.render();
  EXPECT_NE(text.find("strata_http_responses_total{class=\"2xx\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_http_responses_total{class=\"4xx\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_http_request_duration_seconds_count 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_http_connections 1\n"), std::string::npos) << text;
  server->stop();  // the registry must outlive the server
}

TEST_F(HttpServerTest, StopClosesOpenConnectionsAndReturns) {
  HttpServerOptions o;
  o.idle_timeout = std::chrono::minutes(10);  // stop() must not wait for it
  start(o);
  CurlClient c;
  EXPECT_EQ(c.request("POST", base + "/echo", "x").status, 200);
  {
    CurlClient waiting;
    std::thread t([&] { waiting.request("GET", base + "/never"); });
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(kept_mu);
      return kept.size() == 1;
    }));
    EXPECT_EQ(server->connections(), 2u);
    server->stop();
    t.join();
  }
  EXPECT_EQ(server->connections(), 0u);
  EXPECT_NE(c.request("GET", base + "/nowhere", {}, {}, 2000).status, 404);
}

TEST(HttpServer, BindErrorsNameTheAddress) {
  boost::asio::io_context io;
  Router router;
  auto first = HttpServer::create(io, {.threads = 0}, router);
  ASSERT_TRUE(first.ok());
  HttpServerOptions taken;
  taken.port = (*first)->port();
  taken.threads = 0;
  auto second = HttpServer::create(io, taken, router);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.error().is(errc::bind));
  EXPECT_NE(second.error().message.find("127.0.0.1:" + std::to_string(taken.port)),
            std::string::npos)
      << second.error().message;
  HttpServerOptions bad;
  bad.address = "not-an-ip";
  auto third = HttpServer::create(io, bad, router);
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.error().message.find("'not-an-ip' is not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace strata::api

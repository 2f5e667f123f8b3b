#include "bench/load/http_load.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/peers/http_client.hpp"
#include "bench/peers/peer_process.hpp"

namespace strata::bench {

Result<HttpLoadResult> post_batches_parallel(const std::string& url,
                                             const std::vector<std::string>& batches,
                                             unsigned connections, const std::string& peer_name) {
  if (connections == 0) connections = 1;
  std::vector<HttpClient> clients;
  for (unsigned i = 0; i < connections; ++i) {
    auto c = HttpClient::create();
    if (!c) return c.error();
    clients.push_back(std::move(*c));
  }
  std::atomic<std::size_t> next{0}, done{0}, retries{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<Error> error;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      while (!stop.load()) {
        const std::size_t i = next.fetch_add(1);
        if (i >= batches.size()) return;
        while (true) {
          auto r = clients[t].post(url, batches[i], "text/plain; charset=utf-8");
          std::string problem;
          if (!r) {
            problem = r.error().message;
          } else if (r->status == 503 || r->status == 429) {
            ++retries;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
          } else if (!r->ok()) {
            problem = "HTTP " + std::to_string(r->status) + ": " + excerpt(r->body);
          }
          if (!problem.empty()) {
            std::lock_guard lock(mu);
            if (!error)
              error = Error::of(PeerErrc::http_status, peer_name + ": batch " + std::to_string(i) +
                                                           " was refused: " + problem);
            stop = true;
            return;
          }
          ++done;
          break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  if (error) return *error;
  HttpLoadResult out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.batches = done.load();
  out.retries = retries.load();
  return out;
}

}  // namespace strata::bench

#pragma once
// HTTP write load for `strata bench ingest`: the same line-protocol batches POSTed to a URL by
// `connections` threads, each with its own keep-alive bench::HttpClient (bench/peers/), taking the
// next batch from a shared counter. Every peer is fed by this same code, so the rates compare the
// servers and not the clients.
#include <cstddef>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace strata::bench {

struct HttpLoadResult {
  double seconds = 0;       // first request sent → last answer received
  std::size_t batches = 0;  // answered 2xx
  std::size_t retries = 0;  // 503/429 answers retried after a short pause
};

// POSTs every batch once (text/plain) over `connections` parallel connections. A 503 or 429 is
// retried after 50 ms (a server shedding load is not an error; the time counts). Fails on any other
// non-2xx answer or a transport error, naming the batch and quoting the answer.
Result<HttpLoadResult> post_batches_parallel(const std::string& url,
                                             const std::vector<std::string>& batches,
                                             unsigned connections, const std::string& peer_name);

}  // namespace strata::bench

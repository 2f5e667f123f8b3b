#include "analytics/nab_runner.hpp"

#include <atomic>
#include <thread>

namespace strata::analytics::nab {

Result<CorpusScores> run_detector(const Corpus& corpus, const DetectorSpec& spec,
                                  unsigned threads) {
  if (auto probe = AnyDetector::create(spec); !probe) return probe.error();
  CorpusScores scores(corpus.files.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t k; (k = next.fetch_add(1)) < corpus.files.size();) {
      const auto& f = corpus.files[k];
      auto d = AnyDetector::create(spec);  // checked above: the same spec cannot fail now
      auto& out = scores[k];
      out.resize(f.values.size());
      for (std::size_t i = 0; i < f.values.size(); ++i)
        out[i] = d->update(f.timestamps[i], f.values[i]).score;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return scores;
}

}  // namespace strata::analytics::nab

#pragma once
// Runs a detector over the NAB corpus the way NAB's runner does: one fresh detector per file, fed
// the file's rows in order (timestamp and value only — the labels stay in the corpus), its score
// for each row recorded. Files are shared among `threads` worker threads.
#include "analytics/detector_registry.hpp"
#include "analytics/nab.hpp"

namespace strata::analytics::nab {

// The detector's scores over the corpus, or the configuration's refusal.
[[nodiscard]] Result<CorpusScores> run_detector(const Corpus& corpus, const DetectorSpec& spec,
                                                unsigned threads);

}  // namespace strata::analytics::nab

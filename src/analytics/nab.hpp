#pragma once
// The Numenta Anomaly Benchmark (NAB 1.1) as Strata reads and scores it: the corpus (data files and
// their labelled windows), the application profiles, detector results, and the scorer, written from
// the paper (Lavin & Ahmad, 2015) and the rules in ../shared/datasets/nab/README.md:
//
// - Probation: the first min(floor(0.15·N), 750) rows of a file of N rows are not scored.
// - A row is a detection when its anomaly score ≥ the threshold.
// - Scaled sigmoid σs(y) = 2/(1+e^(5y)) − 1 (−1 beyond y > 3, as NAB's code clamps it).
// - In a window [L, R] of W rows, a detection at row i has y = −(R − i + 1)/W; only the best
//   (earliest) detection of a window counts, A_TP·σs(y)/σs(−1). A window without one costs A_FN.
// - A detection outside every window costs A_FP when no window precedes it in its file; otherwise
//   it scores A_FP·σs(|i − R_prev| / (W_prev − 1)) (just after a window it costs less).
// - Raw score = the sum over all files; one threshold per profile for the whole corpus, the one
//   that maximises the raw score (a sweep down through the distinct scores).
// - Normalised = 100·(raw − raw_null)/(raw_perfect − raw_null): the null detector never detects
//   (−A_FN per window), the perfect one earns A_TP per window.
//
// Windows are matched to rows as NAB matches them: the window starts at the first row whose
// timestamp equals its start and ends at the first row whose timestamp equals its end (NAB files
// repeat a few timestamps); when no row has the exact time, the nearest row inside is taken.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::analytics::nab {

// Why loading or scoring failed.
enum class errc { io = 1, format, missing, mismatch };

// A labelled anomaly window, as row indices of its file (inclusive).
struct Window {
  std::size_t first = 0;
  std::size_t last = 0;
};

// One series of the corpus with its ground truth. Labels are kept apart from the values so a
// detector run never sees them: the harness hands a detector `values` and `timestamps` only.
struct DataFile {
  std::string name;  // "realKnownCause/machine_temperature_system_failure.csv"
  std::vector<std::string> timestamp_text;  // as written in the file, for the results files
  std::vector<Timestamp> timestamps;
  std::vector<double> values;
  std::vector<Window> windows;  // from labels/combined_windows.json, in time order
};

// The whole benchmark: every data file, sorted by name.
struct Corpus {
  std::vector<DataFile> files;
  [[nodiscard]] std::size_t window_count() const;
  [[nodiscard]] std::size_t row_count() const;
};

// Reads <nab_dir>/data/<category>/<file>.csv and <nab_dir>/labels/combined_windows.json.
[[nodiscard]] Result<Corpus> load_corpus(const std::filesystem::path& nab_dir);

// An application profile: the weights of a true positive, a missed window and a false positive.
struct Profile {
  std::string name;  // standard, reward_low_FP_rate, reward_low_FN_rate
  double tp = 1.0;
  double fn = 1.0;
  double fp = 0.11;
};

// NAB's three profiles with the weights of its config/profiles.json.
[[nodiscard]] std::vector<Profile> default_profiles();
// Reads config/profiles.json ({"standard": {"CostMatrix": {"tpWeight": …}}, …}).
[[nodiscard]] Result<std::vector<Profile>> load_profiles(const std::filesystem::path& file);
// Reads config/thresholds.json: the threshold of `detector` for `profile`.
[[nodiscard]] Result<double> load_threshold(const std::filesystem::path& file,
                                            const std::string& detector,
                                            const std::string& profile);

// A detector's anomaly scores over the corpus: one vector per file (same order as
// Corpus::files), one score per row.
using CorpusScores = std::vector<std::vector<double>>;

// Reads results/<detector>/<category>/<detector>_<file>.csv (any columns; the first is the
// timestamp and one is named anomaly_score), checked row for row against the corpus.
[[nodiscard]] Result<CorpusScores> load_results(const Corpus& corpus,
                                                const std::filesystem::path& results_dir,
                                                const std::string& detector);

// Writes results in NAB's format: <out>/<detector>/<category>/<detector>_<file>.csv with the
// columns timestamp,value,anomaly_score,label (label 1 inside a labelled window, as NAB's runner
// writes it).
[[nodiscard]] Status write_results(const Corpus& corpus, const CorpusScores& scores,
                                   const std::filesystem::path& out_dir,
                                   const std::string& detector);

// σs(y) = 2/(1+e^(5y)) − 1, and −1 for y > 3.
[[nodiscard]] double scaled_sigmoid(double y);
// Rows of a file of `rows` rows that are not scored: min(floor(0.15·rows), 750).
[[nodiscard]] std::size_t probation_rows(std::size_t rows);

// The score of one file at one threshold.
struct FileScore {
  std::string name;
  double raw = 0;
  std::size_t tp = 0, fp = 0, tn = 0, fn = 0;  // rows, as NAB counts them (probation excluded)
  std::size_t windows = 0, detected = 0;       // windows, and windows with a detection
};

// The score of a detector under one profile.
struct ProfileScore {
  Profile profile;
  double threshold = 0;
  double raw = 0;
  double normalised = 0;
  std::size_t tp = 0, fp = 0, tn = 0, fn = 0;
  std::size_t windows = 0, detected = 0;
  std::vector<FileScore> files;  // per file, at `threshold`
};

// Scores precomputed for one profile: every scorable row's weight if it were a detection.
// Building one costs a pass over the corpus; scoring a threshold or optimising one is then a pass
// (or a sort and a sweep) over the rows.
class Scorer {
 public:
  // errc::mismatch when `scores` does not have the corpus's shape or holds a NaN.
  [[nodiscard]] static Result<Scorer> create(const Corpus& corpus, const CorpusScores& scores,
                                             const Profile& profile);

  // Raw and normalised score, tallies and per-file scores at `threshold` (detection: score ≥ it).
  [[nodiscard]] ProfileScore at(double threshold) const;
  // The threshold that maximises the raw score over the whole corpus (the highest one among equal
  // maxima), scored as at() scores it.
  [[nodiscard]] ProfileScore optimise() const;

 private:
  struct Row {
    double score;         // the detector's anomaly score
    double weight;        // what a detection here adds (TP: σs-weighted; FP: negative)
    std::int32_t window;  // global window index, or -1 outside every window
    std::int32_t file;
  };
  Scorer() = default;
  [[nodiscard]] double normalise(double raw) const;

  Profile profile_;
  std::vector<Row> rows_;  // scorable rows (probation excluded), file by file
  std::vector<std::string> file_names_;
  std::vector<std::int32_t> window_file_;    // file of each global window
  std::vector<std::size_t> file_negatives_;  // scorable rows outside windows, per file
  std::vector<std::size_t> file_positives_;  // scorable rows inside windows, per file
};

// Normalised score from a raw one: 100·(raw + A_FN·windows)/((A_TP + A_FN)·windows).
[[nodiscard]] double normalised_score(double raw, const Profile& profile, std::size_t windows);

}  // namespace strata::analytics::nab

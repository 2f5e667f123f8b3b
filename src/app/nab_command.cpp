#include "app/nab_command.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "analytics/detector_registry.hpp"
#include "analytics/nab.hpp"
#include "analytics/nab_runner.hpp"

namespace strata::app {

namespace {

namespace nab = analytics::nab;

struct NabOptions {
  std::string data = "../shared/datasets/nab";
  std::string out;
  std::string detector = "ensemble";
  unsigned threads = 2;
  bool json = false;
  bool per_file = false;
  std::string score_only;  // a results folder: score <score_only>/<detector>/… instead of running
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "strata nab: %s\n", message.c_str());
  throw CLI::RuntimeError(2);
}

void run(const NabOptions& o) {
  auto spec = analytics::parse_detector_spec(o.detector);
  if (!spec) fail(spec.error().message);
  if (o.score_only.empty())
    if (auto probe = analytics::AnyDetector::create(*spec); !probe) fail(probe.error().message);
  auto corpus = nab::load_corpus(o.data);
  if (!corpus) fail(corpus.error().message);
  const auto t0 = std::chrono::steady_clock::now();
  auto scores = o.score_only.empty() ? nab::run_detector(*corpus, *spec, o.threads)
                                     : nab::load_results(*corpus, o.score_only, spec->name);
  if (!scores) fail(scores.error().message);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string name = spec->name;
  if (!o.out.empty() && o.score_only.empty())
    if (auto s = nab::write_results(*corpus, *scores, o.out, name); !s) fail(s.error().message);
  auto profiles = nab::load_profiles(std::filesystem::path(o.data) / "config" / "profiles.json");
  if (!profiles) profiles = nab::default_profiles();

  nlohmann::json published;
  if (std::ifstream in(std::filesystem::path(o.data) / "results" / "final_results.json"); in) {
    try {
      published = nlohmann::json::parse(in);
    } catch (const std::exception&) {
      published = nullptr;
    }
  }
  std::vector<nab::ProfileScore> results;
  for (const auto& p : *profiles) {
    auto scorer = nab::Scorer::create(*corpus, *scores, p);
    if (!scorer) fail(scorer.error().message);
    results.push_back(scorer->optimise());
  }
  const double rate = static_cast<double>(corpus->row_count()) / secs;
  if (o.json) {
    for (const auto& r : results)
      std::printf("%s\n", nlohmann::json{{"detector", spec->to_string()},
                                         {"profile", r.profile.name},
                                         {"threshold", r.threshold},
                                         {"raw", r.raw},
                                         {"score", r.normalised},
                                         {"tp_rows", r.tp},
                                         {"fp_rows", r.fp},
                                         {"windows_detected", r.detected},
                                         {"windows", r.windows}}
                              .dump()
                              .c_str());
    return;
  }
  std::printf("detector %s over %zu files, %zu rows in %.2f s (%.0f points/s on %u threads)%s%s\n",
              spec->to_string().c_str(), corpus->files.size(), corpus->row_count(), secs, rate,
              o.threads, o.out.empty() ? "" : "; results in ", o.out.c_str());
  std::printf("\n%-26s %10s %10s %10s\n", "detector", "standard", "low_FP", "low_FN");
  std::printf("%-26s %10.2f %10.2f %10.2f   (%s)\n", name.c_str(), results[0].normalised,
              results[1].normalised, results[2].normalised,
              o.score_only.empty() ? "ours" : "scored here");
  if (published.is_object())
    for (const auto& [det, v] : published.items()) {
      try {
        std::printf("%-26s %10.2f %10.2f %10.2f\n", det.c_str(), v.at("standard").get<double>(),
                    v.at("reward_low_FP_rate").get<double>(),
                    v.at("reward_low_FN_rate").get<double>());
      } catch (const std::exception&) {
      }
    }
  std::printf("\n%-20s %10s %9s %8s %8s %9s\n", "profile", "threshold", "raw", "TP rows", "FP rows",
              "windows");
  for (const auto& r : results)
    std::printf("%-20s %10.6f %9.3f %8zu %8zu %4zu/%zu\n", r.profile.name.c_str(), r.threshold,
                r.raw, r.tp, r.fp, r.detected, r.windows);
  if (o.per_file) {
    std::printf("\nper file (standard profile, threshold %.6f):\n", results[0].threshold);
    for (const auto& f : results[0].files)
      std::printf("  %-60s %8.3f  windows %zu/%zu  FP rows %zu\n", f.name.c_str(), f.raw,
                  f.detected, f.windows, f.fp);
  }
}

}  // namespace

void register_nab_command(CLI::App& app) {
  auto o = std::make_shared<NabOptions>();
  auto* cmd = app.add_subcommand(
      "nab",
      "Run a detector over the NAB corpus, write NAB's results files and score them (standard, "
      "reward_low_FP_rate, reward_low_FN_rate)");
  cmd->add_option("--data", o->data, "NAB folder (holds data/, labels/, config/)")
      ->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Write results here: <out>/<detector>/<category>/<detector>_<file>.csv");
  std::string names;
  for (auto n : analytics::detector_names()) names += (names.empty() ? "" : ", ") + std::string(n);
  cmd->add_option("--detector", o->detector, "name[:param=value,…] — one of " + names)
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Files scored in parallel")->capture_default_str();
  cmd->add_flag("--json", o->json, "One JSON object per profile");
  cmd->add_option("--score-only", o->score_only,
                  "Score the results in this folder (<dir>/<detector>/…, e.g. the published ones "
                  "in <data>/results) instead of running a detector");
  cmd->add_flag("--per-file", o->per_file, "Also each file's score under the standard profile");
  cmd->callback([o] { run(*o); });
}

}  // namespace strata::app

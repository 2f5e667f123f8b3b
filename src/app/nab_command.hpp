#pragma once
// `strata nab`: runs a detector over the NAB corpus, writes NAB's results files and scores them
// with analytics/nab (the three profiles, corpus-wide threshold optimisation), beside the published
// detectors' scores. See docs/anomaly-detection.md.
#include <CLI/CLI.hpp>

namespace strata::app {

// Adds the `nab` subcommand to `app`; it runs from CLI11's callback (exit 2 with one line on bad
// input, as every subcommand).
void register_nab_command(CLI::App& app);

}  // namespace strata::app

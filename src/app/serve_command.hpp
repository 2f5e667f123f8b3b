#pragma once
// `strata serve`: the platform server (server/server.hpp) until SIGINT or SIGTERM. Configuration
// from --config (TOML, docs/configuration.md), then STRATA_* environment variables, then the
// global --data-dir when given on the command line.
#include <CLI/CLI.hpp>
#include <string>

namespace strata::app {

// Adds the `serve` subcommand; it runs from CLI11's callback. `data_dir` and `data_dir_option` are
// the global --data-dir option's value and its CLI11 option (to tell whether it was given).
void register_serve_command(CLI::App& app, const std::string& data_dir,
                            const CLI::Option* data_dir_option);

}  // namespace strata::app

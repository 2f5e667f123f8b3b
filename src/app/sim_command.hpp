#pragma once
// `strata sim`: the virtual plant (sim/) as a command — it provisions the profile's devices on a
// running `strata serve`, then plays them over MQTT, HTTP, CoAP and Modbus TCP, printing a status
// line every few seconds. See docs/simulator.md.
#include <CLI/CLI.hpp>

namespace strata::app {

// Adds the `sim` subcommand to `app`; it runs from CLI11's callback (exit 2 with one line on bad
// input, as every subcommand).
void register_sim_command(CLI::App& app);

}  // namespace strata::app

#include "app/sim_command.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "core/time_format.hpp"
#include "sim/runner.hpp"

namespace strata::app {
namespace {

struct SimArgs {
  sim::SimOptions o;
  std::string token_file;
  std::string duration;
  std::string start;
  std::string status_every = "5s";
  std::uint64_t seed = 0;
  bool no_provision = false;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "strata sim: %s\n", message.c_str());
  throw CLI::RuntimeError(2);
}

void run_sim(SimArgs& a, const CLI::App& cmd) {
  sim::SimOptions o = a.o;
  if (cmd.count("--seed")) o.seed = a.seed;
  if (!a.duration.empty()) {
    auto d = parse_duration(a.duration);
    if (!d || *d <= 0) fail("--duration: '" + a.duration + "' is not a duration such as 10m");
    o.duration = *d;
  }
  if (!a.start.empty()) {
    auto t = parse_iso8601(a.start);
    if (!t) fail("--start: '" + a.start + "' is not an ISO 8601 time such as 2026-11-25T06:00:00Z");
    o.start = *t / 1000 * 1000;
  }
  auto every = parse_duration(a.status_every);
  if (!every || *every < 100'000)
    fail("--status-every: '" + a.status_every + "' must be 100ms or more");
  o.status_every = *every;
  o.provision = !a.no_provision;
  if (o.provision) {
    if (a.token_file.empty())
      fail(
          "--token-file is required to provision devices (the admin token, DATA_DIR/admin-token), "
          "or pass --no-provision");
    std::ifstream in(a.token_file);
    std::getline(in, o.admin_token);
    while (!o.admin_token.empty() && (o.admin_token.back() == '\r' || o.admin_token.back() == ' '))
      o.admin_token.pop_back();
    if (!in && o.admin_token.empty())
      fail("--token-file '" + a.token_file + "' cannot be read (start `strata serve` first; it " +
           "writes DATA_DIR/admin-token)");
    if (o.admin_token.empty()) fail("--token-file '" + a.token_file + "' is empty");
  }
  // SIGINT and SIGTERM end the run cleanly (fault log and summary written): they are blocked in
  // every thread and taken by one that stops the runner.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto runner = sim::SimRunner::create(std::move(o), stdout);
  if (!runner) fail(runner.error().message);
  sim::SimRunner* r = runner->get();
  std::thread signals([&set, r] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGUSR1) r->stop();
  });
  const Status st = r->run();
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  runner->reset();
  if (!st) fail(st.error().message);
}

}  // namespace

void register_sim_command(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  auto* cmd = app.add_subcommand(
      "sim",
      "Play a virtual plant against a running server: provision its devices, then send "
      "their telemetry over MQTT, HTTP, CoAP and Modbus TCP (docs/simulator.md)");
  sim::SimOptions& o = args->o;
  cmd->add_option("--server", o.server, "Strata's REST base URL (provisioning, HTTP telemetry)")
      ->capture_default_str();
  cmd->add_option("--mqtt", o.mqtt, "Strata's MQTT endpoint HOST:PORT")->capture_default_str();
  cmd->add_option("--coap", o.coap, "Strata's CoAP endpoint HOST:PORT")->capture_default_str();
  cmd->add_option("--token-file", args->token_file,
                  "File holding an admin API token (DATA_DIR/admin-token)");
  cmd->add_flag("--no-provision", args->no_provision,
                "Do not call the REST API; each device's token is its id (for a plain broker)");
  cmd->add_option("--profile", o.profile, "Plant profile (TOML)")->capture_default_str();
  cmd->add_option("--models", o.models, "Folder of the DTDL device models")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed (default: the profile's)");
  cmd->add_option("--speed", o.speed, "Simulated seconds per wall second")->capture_default_str();
  cmd->add_option("--duration", args->duration,
                  "Simulated time to run, e.g. 10m (default: until interrupted)");
  cmd->add_option("--start", args->start, "Simulated start time, ISO 8601 (default: now)");
  cmd->add_option("--fault", o.faults,
                  "A fault, DEVICE:KIND@+START[,for=D][,metric=M][,magnitude=X] (repeatable), "
                  "e.g. cmp-a1-01:bearing_wear@+2m");
  cmd->add_flag("--stdin", o.read_stdin,
                "Read more faults from standard input, one a line, starting relative to now");
  cmd->add_option("--fault-log", o.fault_log, "Write every fault's window here (JSON lines)");
  cmd->add_option("--summary", o.summary, "Write the run's totals here (one JSON object)");
  cmd->add_option("--modbus-host", o.modbus_host, "Address the Modbus servers listen on")
      ->capture_default_str();
  cmd->add_option("--status-every", args->status_every, "Wall time between status lines")
      ->capture_default_str();
  cmd->callback([args, cmd] { run_sim(*args, *cmd); });
}

}  // namespace strata::app

#include "app/serve_command.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "server/server.hpp"

namespace strata::app {

namespace {

struct ServeOptions {
  std::string config_file;
  std::string http_port, mqtt_port, coap_port;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "strata serve: %s\n", message.c_str());
  std::exit(2);
}

}  // namespace

void register_serve_command(CLI::App& app, const std::string& data_dir,
                            const CLI::Option* data_dir_option) {
  auto opts = std::make_shared<ServeOptions>();
  auto* serve = app.add_subcommand(
      "serve",
      "Run the platform server: REST/WebSocket API, device MQTT endpoint, CoAP, Modbus polling, "
      "ingestion pipeline and store, until SIGINT or SIGTERM");
  serve->add_option("--config", opts->config_file, "TOML configuration file")
      ->check(CLI::ExistingFile);
  serve->callback([opts, &data_dir, data_dir_option] {
    auto config = server::load_config(opts->config_file);
    if (!config) fail(config.error().message);
    if (data_dir_option->count() > 0) config->data_dir = data_dir;
    spdlog::set_level(spdlog::level::from_str(config->log_level));

    // Signals are taken by this thread alone (sigwait below): block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto srv = server::Server::start(*config);
    if (!srv) fail(srv.error().message);
    const auto ports = (*srv)->ports();
    const auto& c = (*srv)->config();
    std::printf("strata serve: data in %s\n", c.data_dir.c_str());
    if (ports.http)
      std::printf("  REST API   http://%s:%u/api/v1  (admin token: %s)\n", c.http.address.c_str(),
                  ports.http, (c.data_dir / "admin-token").c_str());
    if (ports.mqtt) std::printf("  MQTT       %s:%u\n", c.mqtt.address.c_str(), ports.mqtt);
    if (ports.coap) std::printf("  CoAP       coap://%s:%u\n", c.coap.address.c_str(), ports.coap);
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: stopping", sig);
    (*srv)->stop();
    std::exit(0);
  });
}

}  // namespace strata::app

#include "bench/peers/mosquitto.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace strata::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<Mosquitto>> Mosquitto::create(const fs::path& work_dir,
                                                     const PeerOptions& options) {
  auto scratch = ScratchDir::create(work_dir, "mosquitto-");
  if (!scratch) return scratch.error();
  const fs::path program =
      options.program.empty() ? fs::path("/usr/sbin/mosquitto") : options.program;
  const std::string version =
      options.program.empty() ? debian_package_version("mosquitto") : std::string();
  const std::string name =
      "Mosquitto " + (version.empty() ? std::string("(version unknown)") : version);
  Error last{static_cast<int>(PeerErrc::spawn), "not started"};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto port = pick_free_port();
    if (!port) return port.error();
    const fs::path conf = scratch->path() / "mosquitto.conf";
    {
      std::ofstream out(conf);
      out << "listener " << *port << " 127.0.0.1\n"
          << "allow_anonymous true\n"
          << "persistence false\n"
          << "max_queued_messages 0\n"
          << "max_inflight_messages 256\n"
          << "log_dest stdout\n"
          << "log_type error\n"
          << "log_type warning\n";
      if (!out) return Error::of(PeerErrc::spawn, "cannot write " + conf.string());
    }
    ProcessSpec spec{.name = "mosquitto",
                     .program = program,
                     .args = {"-c", conf.string()},
                     .log_file = scratch->path() / "mosquitto.log",
                     .working_dir = scratch->path()};
    auto process = PeerProcess::spawn(spec, options.stop_grace);
    if (!process) return process.error();
    const auto deadline = Clock::now() + options.ready_timeout;
    bool ready = false;
    while (Clock::now() < deadline && process->running()) {
      if (accepts(*port)) {
        ready = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (ready)
      return std::unique_ptr<Mosquitto>(
          new Mosquitto(std::move(*scratch), std::move(*process), *port, name));
    if (!process->running()) {
      last = Error::of(PeerErrc::exited, "mosquitto exited during start-up (" +
                                             process->exit_description() + "):\n" +
                                             process->log_tail());
      continue;
    }
    return Error::of(PeerErrc::not_ready, "mosquitto did not accept connections on 127.0.0.1:" +
                                              std::to_string(*port) + ":\n" + process->log_tail());
  }
  return last;
}

}  // namespace strata::bench

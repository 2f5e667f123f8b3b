#include "sim/modbus_server.hpp"

#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ingest/modbus/register_codec.hpp"
#include "sim/errc.hpp"

namespace strata::sim {

struct ModbusServer::Served {
  ModbusDevice device;
  modbus_t* ctx = nullptr;
  modbus_mapping_t* map = nullptr;
  int listen_fd = -1;
  std::uint16_t port = 0;
  std::vector<int> clients;
  bool ready = false;  // registers hold a sample; until then requests get "device busy"
};

Result<std::unique_ptr<ModbusServer>> ModbusServer::create(const std::string& host,
                                                           std::vector<ModbusDevice> devices) {
  std::unique_ptr<ModbusServer> s(new ModbusServer());
  for (auto& d : devices) {
    auto sv = std::make_unique<Served>();
    int hr = 0, ir = 0;
    for (const auto& r : d.registers) {
      const int end = r.address + static_cast<int>(model::register_count(r.type));
      (r.table == model::RegisterTable::holding ? hr : ir) =
          std::max(r.table == model::RegisterTable::holding ? hr : ir, end);
    }
    sv->map = modbus_mapping_new(0, 0, hr, ir);
    sv->ctx = modbus_new_tcp(host.c_str(), d.port);
    if (!sv->map || !sv->ctx)
      return Error::of(errc::transport, "Modbus: cannot set up a server for '" + d.id + "'");
    sv->listen_fd = modbus_tcp_listen(sv->ctx, 8);
    if (sv->listen_fd < 0)
      return Error::of(errc::transport, "Modbus: device '" + d.id + "' cannot listen on " + host +
                                            ":" + std::to_string(d.port) + ": " +
                                            modbus_strerror(errno) +
                                            " (choose another modbus_base_port in the profile)");
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(sv->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    sv->port = ntohs(addr.sin_port);
    sv->device = std::move(d);
    s->served_.push_back(std::move(sv));
    ++s->counters_.devices_up;
  }
  if (pipe(s->wake_) != 0) return Error::of(errc::transport, "Modbus: cannot create a pipe");
  s->worker_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

ModbusServer::~ModbusServer() {
  if (worker_.joinable()) {
    const char c = 'x';
    (void)!write(wake_[1], &c, 1);
    worker_.join();
  }
  for (auto& sv : served_) {
    for (int fd : sv->clients) close(fd);
    if (sv->listen_fd >= 0) close(sv->listen_fd);
    if (sv->ctx) modbus_free(sv->ctx);
    if (sv->map) modbus_mapping_free(sv->map);
  }
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

std::uint16_t ModbusServer::port(std::size_t slot) const { return served_.at(slot)->port; }

std::string ModbusServer::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void ModbusServer::update(std::size_t slot, std::span<const double> values, std::size_t samples) {
  Served& sv = *served_.at(slot);
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < sv.device.registers.size(); ++i) {
    const int vi = sv.device.value_index[i];
    if (vi < 0 || static_cast<std::size_t>(vi) >= values.size()) continue;
    const auto& reg = sv.device.registers[i];
    auto words = ingest::encode_modbus_value(reg, values[static_cast<std::size_t>(vi)]);
    if (!words) {
      ++counters_.failed;
      last_error_ = "Modbus: device '" + sv.device.id + "': " + words.error().message;
      continue;
    }
    std::uint16_t* table = reg.table == model::RegisterTable::holding ? sv.map->tab_registers
                                                                      : sv.map->tab_input_registers;
    std::copy(words->begin(), words->end(), table + reg.address);
  }
  sv.ready = true;
  ++counters_.sent;
  counters_.samples_sent += samples;
}

void ModbusServer::run() {
  std::vector<std::uint8_t> query(MODBUS_TCP_MAX_ADU_LENGTH);
  for (;;) {
    fd_set rd;
    FD_ZERO(&rd);
    int maxfd = wake_[0];
    FD_SET(wake_[0], &rd);
    for (auto& sv : served_) {
      FD_SET(sv->listen_fd, &rd);
      maxfd = std::max(maxfd, sv->listen_fd);
      for (int fd : sv->clients) {
        FD_SET(fd, &rd);
        maxfd = std::max(maxfd, fd);
      }
    }
    if (select(maxfd + 1, &rd, nullptr, nullptr, nullptr) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (FD_ISSET(wake_[0], &rd)) return;
    for (auto& sv : served_) {
      if (FD_ISSET(sv->listen_fd, &rd)) {
        int fd = sv->listen_fd;
        // modbus_tcp_accept sets the context's socket to the new client; it is reset per request.
        const int client = modbus_tcp_accept(sv->ctx, &fd);
        if (client >= 0 && sv->clients.size() < 64)
          sv->clients.push_back(client);
        else if (client >= 0)
          close(client);
      }
      for (auto it = sv->clients.begin(); it != sv->clients.end();) {
        if (!FD_ISSET(*it, &rd)) {
          ++it;
          continue;
        }
        modbus_set_socket(sv->ctx, *it);
        const int n = modbus_receive(sv->ctx, query.data());
        if (n > 0) {
          std::lock_guard lock(mu_);
          if (!sv->ready)  // still booting: no sample yet, so no zeros that look like readings
            modbus_reply_exception(sv->ctx, query.data(), MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
          else if (modbus_reply(sv->ctx, query.data(), n, sv->map) >= 0)
            ++counters_.acked;
          ++it;
        } else if (n == 0) {
          ++it;  // a request for another unit, ignored
        } else {
          close(*it);
          it = sv->clients.erase(it);
        }
      }
    }
  }
}

}  // namespace strata::sim

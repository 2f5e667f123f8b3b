#pragma once
// A real Modbus TCP server for tests: libmodbus' own server side (modbus_tcp_listen,
// modbus_mapping_new, modbus_receive/modbus_reply) on 127.0.0.1, serving one client at a time in a
// thread. Port 0 takes a free port; port() reports it. stop() makes it go away (the listening
// socket and the client connection are shut down); a new server on the same port brings it back.
#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace strata::ingest::testing {

class ModbusTestServer {
 public:
  ModbusTestServer(int holding_count, int input_count, std::uint16_t port = 0) {
    ctx_ = modbus_new_tcp("127.0.0.1", port);
    map_ = modbus_mapping_new(0, 0, holding_count, input_count);
    if (ctx_ == nullptr || map_ == nullptr) throw std::runtime_error("libmodbus server setup");
    listen_fd_ = modbus_tcp_listen(ctx_, 1);
    if (listen_fd_ == -1) {
      throw std::runtime_error(std::string("modbus_tcp_listen: ") + modbus_strerror(errno));
    }
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ModbusTestServer(const ModbusTestServer&) = delete;
  ModbusTestServer& operator=(const ModbusTestServer&) = delete;
  ~ModbusTestServer() {
    stop();
    modbus_mapping_free(map_);
    modbus_free(ctx_);
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }

  void set_holding(int address, std::uint16_t value) {
    std::lock_guard lock(mutex_);
    map_->tab_registers[address] = value;
  }
  void set_input(int address, std::uint16_t value) {
    std::lock_guard lock(mutex_);
    map_->tab_input_registers[address] = value;
  }
  [[nodiscard]] std::uint16_t holding(int address) {
    std::lock_guard lock(mutex_);
    return map_->tab_registers[address];
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      shutdown(listen_fd_, SHUT_RDWR);
      if (client_fd_ != -1) shutdown(client_fd_, SHUT_RDWR);
    }
    thread_.join();
    close(listen_fd_);
  }

 private:
  void serve() {
    std::vector<std::uint8_t> query(MODBUS_TCP_MAX_ADU_LENGTH);
    for (;;) {
      int listen_fd = listen_fd_;
      const int fd = modbus_tcp_accept(ctx_, &listen_fd);
      {
        std::lock_guard lock(mutex_);
        if (fd == -1 || stopping_) {
          if (fd != -1) close(fd);
          return;
        }
        client_fd_ = fd;
      }
      for (;;) {
        const int rc = modbus_receive(ctx_, query.data());
        if (rc == -1) break;
        if (rc == 0) continue;
        std::lock_guard lock(mutex_);
        modbus_reply(ctx_, query.data(), rc, map_);
      }
      std::lock_guard lock(mutex_);
      close(fd);
      client_fd_ = -1;
      if (stopping_) return;
    }
  }

  modbus_t* ctx_ = nullptr;
  modbus_mapping_t* map_ = nullptr;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  int client_fd_ = -1;  // under mutex_
  bool stopping_ = false;
  std::thread thread_;
};

// A TCP port that accepts connections (the kernel completes them into the backlog) but never
// answers: a device that hangs.
class SilentTcpPeer {
 public:
  SilentTcpPeer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 4) != 0) {
      throw std::runtime_error("silent peer: bind/listen");
    }
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  SilentTcpPeer(const SilentTcpPeer&) = delete;
  SilentTcpPeer& operator=(const SilentTcpPeer&) = delete;
  ~SilentTcpPeer() { close(fd_); }
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace strata::ingest::testing

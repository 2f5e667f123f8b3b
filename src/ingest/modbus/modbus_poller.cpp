#include "ingest/modbus/modbus_poller.hpp"

#include <modbus/modbus.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <unordered_set>
#include <utility>

#include "fmt/format.h"

namespace strata::ingest {
namespace {

using model::RegisterTable;

constexpr Timestamp micros(std::chrono::milliseconds ms) {
  return static_cast<Timestamp>(ms.count()) * 1000;
}

struct ContextDeleter {
  void operator()(modbus_t* ctx) const {
    modbus_close(ctx);
    modbus_free(ctx);
  }
};
using Context = std::unique_ptr<modbus_t, ContextDeleter>;

// The device answered, with an exception code (as opposed to no or a broken answer).
bool is_modbus_exception(int error) { return error >= EMBXILFUN && error <= EMBXGTAR; }

const char* table_words(RegisterTable t) {
  return t == RegisterTable::holding ? "holding registers" : "input registers";
}

std::string seconds(Timestamp us) { return fmt::format("{:.1f} s", static_cast<double>(us) / 1e6); }

}  // namespace

// What the pipeline's completions report back; shared with the completions, which may outlive the
// poller.
struct CompletionCounters {
  std::atomic<std::uint64_t> stored{0};
  std::atomic<std::uint64_t> quarantined{0};
  std::atomic<std::uint64_t> store_errors{0};
};

struct ModbusPoller::Write {
  std::size_t entry = 0;  // index into the device's register map
  std::vector<std::uint16_t> words;
  WriteDone done;
};

struct ModbusPoller::Device {
  ModbusDeviceConfig config;
  ModbusReadPlan plan;
  std::shared_ptr<CompletionCounters> completions = std::make_shared<CompletionCounters>();

  // Used only by the worker that holds the device (busy == true).
  Context ctx;
  std::optional<pipeline::TelemetryMessage> pending;  // refused by the sink, offered again
  std::uint64_t poll_no = 0;
  Timestamp backoff = 0;

  // Under ModbusPoller::mutex_.
  bool busy = false;
  Timestamp next_poll = 0;   // the regular schedule
  Timestamp hold_until = 0;  // a reconnect backoff or a back-pressure retry
  std::deque<Write> writes;
  ModbusDeviceHealth health;
};

ModbusPoller::ModbusPoller(pipeline::TelemetrySink& sink, const Clock& clock,
                           ModbusPollerOptions options)
    : sink_(sink), clock_(clock), options_(options) {}

ModbusPoller::~ModbusPoller() { stop(); }

Result<std::unique_ptr<ModbusPoller>> ModbusPoller::create(std::vector<ModbusDeviceConfig> devices,
                                                           pipeline::TelemetrySink& sink,
                                                           const Clock& clock,
                                                           ModbusPollerOptions options) {
  auto bad = [](std::string message) {
    return Error::of(modbus_errc::bad_device_config, std::move(message));
  };
  options.workers = std::max<std::size_t>(1, options.workers);
  options.backoff_initial = std::max(options.backoff_initial, std::chrono::milliseconds{1});
  options.backoff_max = std::max(options.backoff_max, options.backoff_initial);
  options.backpressure_retry = std::max(options.backpressure_retry, std::chrono::milliseconds{1});
  options.max_idle_wait = std::max(options.max_idle_wait, std::chrono::milliseconds{1});
  std::unique_ptr<ModbusPoller> poller(new ModbusPoller(sink, clock, options));
  std::unordered_set<std::string> ids;
  for (ModbusDeviceConfig& config : devices) {
    if (config.device_id.empty()) return bad("a Modbus device has no device id");
    const std::string& id = config.device_id;
    if (!ids.insert(id).second) {
      return bad(fmt::format("device '{}' is listed twice for Modbus polling", id));
    }
    if (config.host.empty()) {
      return bad(
          fmt::format("device '{}': modbus.host is empty; give the address of the device "
                      "or gateway",
                      id));
    }
    if (config.port == 0) return bad(fmt::format("device '{}': modbus.port is 0", id));
    if (config.unit_id < 0 || (config.unit_id > 247 && config.unit_id != 255)) {
      return bad(
          fmt::format("device '{}': modbus.unit_id {} is not a Modbus unit id (0..247, or "
                      "255 for a device that ignores it)",
                      id, config.unit_id));
    }
    if (config.interval.count() <= 0 || config.response_timeout.count() <= 0) {
      return bad(
          fmt::format("device '{}': modbus.interval_ms and the response timeout must be "
                      "positive",
                      id));
    }
    auto plan = plan_modbus_reads(config.registers);
    if (!plan) {
      return Error::of(modbus_errc::bad_register_map,
                       fmt::format("device '{}': {}", id, plan.error().message));
    }
    auto device = std::make_unique<Device>();
    device->plan = std::move(*plan);
    device->health.device_id = id;
    device->config = std::move(config);
    poller->devices_.push_back(std::move(device));
  }
  return poller;
}

void ModbusPoller::start() {
  std::lock_guard lock(mutex_);
  if (!workers_.empty()) return;
  stopping_ = false;
  const Timestamp now = clock_.now();
  for (auto& device : devices_) {
    device->next_poll = now;
    device->hold_until = 0;
    device->backoff = micros(options_.backoff_initial);
  }
  const std::size_t n = std::min(options_.workers, std::max<std::size_t>(1, devices_.size()));
  for (std::size_t i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
}

void ModbusPoller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  std::vector<Write> abandoned;
  {
    std::lock_guard lock(mutex_);
    for (auto& device : devices_) {
      for (Write& w : device->writes) abandoned.push_back(std::move(w));
      device->writes.clear();
      device->ctx.reset();
      device->health.connected = false;
    }
  }
  for (Write& w : abandoned) {
    w.done(Error::of(modbus_errc::stopped, "the Modbus poller stopped before the write was sent"));
  }
}

void ModbusPoller::wake() {
  { std::lock_guard lock(mutex_); }
  wake_.notify_all();
}

Timestamp ModbusPoller::due(const Device& device) const {
  if (!device.writes.empty()) return kMinTimestamp;
  if (device.pending) return device.hold_until;
  return std::max(device.next_poll, device.hold_until);
}

void ModbusPoller::work() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const Timestamp now = clock_.now();
    Device* next = nullptr;
    Timestamp next_due = kMaxTimestamp;
    for (auto& device : devices_) {
      if (device->busy) continue;
      const Timestamp t = due(*device);
      if (t < next_due) next = device.get(), next_due = t;
    }
    if (next != nullptr && next_due <= now) {
      next->busy = true;
      lock.unlock();
      serve(*next);
      lock.lock();
      next->busy = false;
      wake_.notify_all();
      continue;
    }
    const Timestamp idle = micros(options_.max_idle_wait);
    const Timestamp wait = next == nullptr ? idle : std::min(idle, next_due - now);
    wake_.wait_for(lock, std::chrono::microseconds(wait));
  }
}

void ModbusPoller::record_error(Device& device, std::uint64_t ModbusDeviceHealth::*counter,
                                const std::string& message) {
  const Timestamp now = clock_.now();
  std::lock_guard lock(mutex_);
  ModbusDeviceHealth& h = device.health;
  ++(h.*counter);
  h.last_error = message;
  h.last_error_at = now;
}

void ModbusPoller::back_off(Device& device, Timestamp now) {
  device.ctx.reset();
  std::lock_guard lock(mutex_);
  device.hold_until = now + device.backoff;
  device.backoff = std::min(device.backoff * 2, micros(options_.backoff_max));
  device.health.connected = false;
}

void ModbusPoller::serve(Device& device) {
  const ModbusDeviceConfig& config = device.config;
  std::deque<Write> writes;
  const Timestamp now = clock_.now();
  bool poll_due = false;
  {
    std::lock_guard lock(mutex_);
    writes.swap(device.writes);
    poll_due = device.pending ? device.hold_until <= now
                              : std::max(device.next_poll, device.hold_until) <= now;
  }
  auto fail_writes = [&](const Error& error) {
    for (Write& w : writes) {
      {
        std::lock_guard lock(mutex_);
        ++device.health.write_failures;
      }
      w.done(error);
    }
    writes.clear();
  };

  if (!device.ctx && (poll_due || !writes.empty())) {
    Context ctx(modbus_new_tcp_pi(config.host.c_str(), std::to_string(config.port).c_str()));
    std::string error;
    if (!ctx) {
      error = modbus_strerror(errno);
    } else {
      modbus_set_slave(ctx.get(), config.unit_id);
      const auto timeout =
          std::chrono::duration_cast<std::chrono::microseconds>(config.response_timeout).count();
      modbus_set_response_timeout(ctx.get(), static_cast<std::uint32_t>(timeout / 1000000),
                                  static_cast<std::uint32_t>(timeout % 1000000));
      if (modbus_connect(ctx.get()) == -1) error = modbus_strerror(errno);
    }
    if (!error.empty()) {
      const std::string message = fmt::format(
          "device '{}': cannot connect to the Modbus TCP server {}:{} ({}); retrying in {} — "
          "check that the device is reachable and its modbus host and port",
          config.device_id, config.host, config.port, error, seconds(device.backoff));
      record_error(device, &ModbusDeviceHealth::connect_failures, message);
      back_off(device, now);
      fail_writes(Error::of(modbus_errc::connection, message));
      return;
    }
    device.ctx = std::move(ctx);
    std::lock_guard lock(mutex_);
    device.health.connected = true;
  }

  while (!writes.empty()) {
    Write w = std::move(writes.front());
    writes.pop_front();
    const model::ModbusRegister& reg = config.registers[w.entry];
    const int n = static_cast<int>(w.words.size());
    const int rc = n == 1
                       ? modbus_write_register(device.ctx.get(), reg.address, w.words[0])
                       : modbus_write_registers(device.ctx.get(), reg.address, n, w.words.data());
    if (rc == n) {
      {
        std::lock_guard lock(mutex_);
        ++device.health.writes;
      }
      w.done(Status{});
      continue;
    }
    const int e = rc == -1 ? errno : EMBBADDATA;
    const bool exception = is_modbus_exception(e);
    const std::string message =
        fmt::format("device '{}': writing '{}' to holding register {} (unit {}) failed: {}{}",
                    config.device_id, reg.telemetry, reg.address, config.unit_id,
                    exception ? "Modbus exception: " : "", modbus_strerror(e));
    {
      std::lock_guard lock(mutex_);
      ++device.health.write_failures;
    }
    if (exception) {
      record_error(device, &ModbusDeviceHealth::modbus_exceptions, message);
      w.done(Error::of(modbus_errc::exception, message));
      continue;
    }
    // An I/O failure (as opposed to an exception reply) leaves the connection unusable: libmodbus
    // matches replies by order, and a late answer would be taken for the next request's.
    record_error(device, &ModbusDeviceHealth::io_errors, message);
    back_off(device, now);
    w.done(Error::of(modbus_errc::connection, message));
    fail_writes(Error::of(modbus_errc::connection, message));
    return;
  }

  if (!poll_due) return;
  if (device.pending) {
    submit(device, now);
    if (device.pending) return;
    std::lock_guard lock(mutex_);
    if (device.next_poll > now) return;
  }
  poll(device, now);
}

void ModbusPoller::submit(Device& device, Timestamp now) {
  pipeline::Completion done = [counters = device.completions](const pipeline::IngestOutcome& o) {
    counters->stored += o.stored;
    counters->quarantined += o.quarantined;
    if (!o.status.ok()) ++counters->store_errors;
  };
  const bool taken = sink_.submit(*device.pending, done);
  std::lock_guard lock(mutex_);
  if (!taken) {
    ++device.health.backpressure_retries;
    device.hold_until = now + micros(options_.backpressure_retry);
    return;
  }
  ++device.health.polls;
  device.health.last_poll_at = device.pending->received;
  device.pending.reset();
  device.hold_until = 0;
}

void ModbusPoller::poll(Device& device, Timestamp now) {
  const ModbusDeviceConfig& config = device.config;
  const ModbusReadPlan& plan = device.plan;
  {
    std::lock_guard lock(mutex_);
    device.next_poll += micros(config.interval);
    if (device.next_poll <= now) device.next_poll = now + micros(config.interval);
  }
  std::vector<std::vector<std::uint16_t>> words(plan.blocks.size());
  std::vector<bool> read(plan.blocks.size(), false);
  std::string dump;
  bool any = false;
  for (std::size_t i = 0; i < plan.blocks.size(); ++i) {
    const ModbusReadBlock& block = plan.blocks[i];
    words[i].resize(block.count);
    const int rc =
        block.table == RegisterTable::holding
            ? modbus_read_registers(device.ctx.get(), block.start, block.count, words[i].data())
            : modbus_read_input_registers(device.ctx.get(), block.start, block.count,
                                          words[i].data());
    if (rc == block.count) {
      read[i] = true;
      any = true;
      append_modbus_dump(dump, block.table, block.start, words[i]);
      std::lock_guard lock(mutex_);
      ++device.health.read_requests;
      continue;
    }
    const int e = rc == -1 ? errno : EMBBADDATA;
    const std::string what =
        fmt::format("device '{}': reading {} {}..{} (unit {}) from {}:{}", config.device_id,
                    table_words(block.table), block.start, block.start + block.count - 1,
                    config.unit_id, config.host, config.port);
    if (is_modbus_exception(e)) {
      record_error(
          device, &ModbusDeviceHealth::modbus_exceptions,
          fmt::format("{} got Modbus exception {} ({}){}", what, e - MODBUS_ENOBASE,
                      modbus_strerror(e),
                      e == EMBXILADD ? "; the device has no such registers: check the addresses "
                                       "in the device model's register map"
                                     : ""));
      continue;
    }
    record_error(device, &ModbusDeviceHealth::io_errors,
                 fmt::format("{} failed: {}; reconnecting in {}", what, modbus_strerror(e),
                             seconds(device.backoff)));
    back_off(device, now);
    return;
  }
  if (!any) return;
  device.backoff = micros(options_.backoff_initial);

  pipeline::TelemetryMessage message;
  message.transport = pipeline::Transport::modbus;
  message.device_id = config.device_id;
  message.message_id = fmt::format("{}/{}", config.device_id, ++device.poll_no);
  message.received = clock_.now();
  message.raw = std::make_shared<const std::string>(std::move(dump));
  message.readings.reserve(config.registers.size());
  for (std::size_t i = 0; i < config.registers.size(); ++i) {
    const ModbusSlot& slot = plan.slots[i];
    if (!read[slot.block]) continue;
    const model::ModbusRegister& reg = config.registers[i];
    const std::span<const std::uint16_t> at(words[slot.block].data() + slot.offset,
                                            model::register_count(reg.type));
    pipeline::Reading reading;
    reading.metric = reg.telemetry;
    reading.number = decode_modbus_value(reg, at);
    message.readings.push_back(std::move(reading));
  }
  device.pending = std::move(message);
  submit(device, now);
}

std::vector<ModbusDeviceHealth> ModbusPoller::health() const {
  std::vector<ModbusDeviceHealth> out;
  std::lock_guard lock(mutex_);
  out.reserve(devices_.size());
  for (const auto& device : devices_) {
    ModbusDeviceHealth h = device->health;
    h.stored = device->completions->stored.load();
    h.quarantined = device->completions->quarantined.load();
    h.store_errors = device->completions->store_errors.load();
    out.push_back(std::move(h));
  }
  return out;
}

std::optional<ModbusDeviceHealth> ModbusPoller::health(std::string_view device_id) const {
  for (ModbusDeviceHealth& h : health()) {
    if (h.device_id == device_id) return std::move(h);
  }
  return std::nullopt;
}

void ModbusPoller::write(std::string_view device_id, std::string_view telemetry, double value,
                         WriteDone done) {
  Device* device = nullptr;
  for (auto& d : devices_) {
    if (d->config.device_id == device_id) device = d.get();
  }
  if (device == nullptr) {
    done(Error::of(modbus_errc::unknown_device,
                   fmt::format("device '{}' is not polled over Modbus; writes go only to devices "
                               "with modbus settings",
                               device_id)));
    return;
  }
  const auto& registers = device->config.registers;
  const auto entry = std::find_if(registers.begin(), registers.end(),
                                  [&](const auto& r) { return r.telemetry == telemetry; });
  if (entry == registers.end()) {
    done(Error::of(modbus_errc::unknown_telemetry,
                   fmt::format("device '{}': telemetry '{}' is not in its Modbus register map",
                               device_id, telemetry)));
    return;
  }
  if (entry->table != RegisterTable::holding) {
    done(Error::of(modbus_errc::not_writable,
                   fmt::format("device '{}': telemetry '{}' is an input register, which Modbus "
                               "cannot write; map it to a holding register to command it",
                               device_id, telemetry)));
    return;
  }
  auto words = encode_modbus_value(*entry, value);
  if (!words) {
    done(Error::of(modbus_errc::value_out_of_range,
                   fmt::format("device '{}': {}", device_id, words.error().message)));
    return;
  }
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && !workers_.empty()) {
      device->writes.push_back({static_cast<std::size_t>(entry - registers.begin()),
                                std::move(*words), std::move(done)});
      queued = true;
    }
  }
  if (!queued) {
    done(Error::of(modbus_errc::stopped,
                   fmt::format("device '{}': the Modbus poller is not running", device_id)));
    return;
  }
  wake_.notify_all();
}

}  // namespace strata::ingest

#include "sim/runner.hpp"

#include <poll.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/time_format.hpp"
#include "sim/errc.hpp"
#include "sim/provision.hpp"

namespace strata::sim {
namespace {

Result<std::pair<std::string, int>> host_port(const std::string& text, const char* option) {
  const auto colon = text.rfind(':');
  int port = 0;
  if (colon != std::string::npos && colon > 0) {
    const char* b = text.data() + colon + 1;
    const char* e = text.data() + text.size();
    auto r = std::from_chars(b, e, port);
    if (r.ec == std::errc{} && r.ptr == e && port > 0 && port < 65536)
      return std::pair{text.substr(0, colon), port};
  }
  return Error::of(errc::transport, std::string(option) + " '" + text +
                                        "' must be HOST:PORT such as 127.0.0.1:1883");
}

std::string duration_text(Timestamp us) {
  const std::int64_t s = us / kMicrosPerSecond;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

SimRunner::ScaledClock::ScaledClock(Timestamp start, double speed)
    : start_(start), speed_(speed), wall0_(std::chrono::steady_clock::now()) {}

Timestamp SimRunner::ScaledClock::now() const {
  const auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - wall0_)
                        .count();
  return start_ + static_cast<Timestamp>(static_cast<double>(wall) * speed_);
}

Result<std::unique_ptr<SimRunner>> SimRunner::create(SimOptions o, std::FILE* out) {
  if (!(o.speed > 0 && o.speed <= 100000))
    return Error::of(errc::profile, "--speed must be above 0 and at most 100000");
  auto profile = load_profile(o.profile);
  if (!profile) return profile.error();
  auto catalog = ModelCatalog::load(o.models);
  if (!catalog) return catalog.error();
  std::unique_ptr<SimRunner> r(new SimRunner());
  r->out_ = out;
  // Faster than real time, a run that starts now would send readings from the future, which the
  // server refuses (more than a minute ahead of its clock). So by default it starts early enough
  // to end at the wall time it ends at: start = now - duration * (1 - 1/speed), and simulated
  // time never passes the wall clock.
  const Timestamp now = SystemClock().now() / 1000 * 1000;
  Timestamp start = now;
  if (!o.start && o.speed > 1 && o.duration > 0)
    start = now - static_cast<Timestamp>(static_cast<double>(o.duration) * (1.0 - 1.0 / o.speed)) /
                      1000 * 1000;
  if (o.start) start = *o.start;
  if (!o.start && o.speed > 1 && o.duration == 0)
    std::fprintf(out,
                 "sim: --speed %g without --duration runs ahead of the wall clock; the server "
                 "refuses readings more than a minute in its future (give --duration or --start)\n",
                 o.speed);
  auto plant = Plant::create(*profile, o.seed ? *o.seed : profile->seed, start);
  if (!plant) return plant.error();
  r->plant_ = std::move(*plant);
  for (const auto& text : o.faults) {
    auto spec = parse_fault_spec(text);
    if (!spec) return Error::of(errc::fault, "--fault: " + spec.error().message);
    auto rec = r->plant_->inject(*spec, start, "command_line");
    if (!rec) return Error::of(errc::fault, "--fault: " + rec.error().message);
  }
  const auto devices = r->plant_->devices();
  // What each device sends, by its model; mismatches are said once, not refused later.
  std::map<std::string, std::vector<std::string>> dropped;
  for (const auto& d : devices) {
    const CatalogEntry* e = catalog->find(d.spec.model);
    if (!e)
      std::fprintf(out, "sim: model '%s' of device '%s' is not in %s; sending every metric\n",
                   d.spec.model.c_str(), d.spec.id.c_str(), o.models.string().c_str());
    r->wire_.push_back(wire_model(d.spec.kind, e ? &e->model : nullptr));
    for (const auto& p : r->wire_.back().problems)
      std::fprintf(out, "sim: device '%s': %s\n", d.spec.id.c_str(), p.c_str());
    if (e && !r->wire_.back().not_in_model.empty())
      dropped[d.spec.model] = r->wire_.back().not_in_model;
  }
  for (const auto& [model, names] : dropped) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    std::fprintf(out, "sim: %s does not declare %s; those simulated values are not sent\n",
                 model.c_str(), list.c_str());
  }
  // Slots per transport.
  r->slot_.resize(devices.size());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const auto t = static_cast<std::size_t>(devices[i].spec.transport);
    r->slot_[i] = r->count_by_transport_[t]++;
  }
  // Modbus servers first: provisioning tells the server their ports.
  std::vector<ModbusDevice> mdevs;
  std::uint16_t next_port = profile->modbus_base_port;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    if (d.spec.transport != Transport::modbus) continue;
    const CatalogEntry* e = catalog->find(d.spec.model);
    ModbusDevice md;
    md.id = d.spec.id;
    md.port = d.spec.modbus_port ? d.spec.modbus_port
                                 : (profile->modbus_base_port ? next_port++ : std::uint16_t{0});
    if (e) md.registers = e->model.register_map();
    if (md.registers.empty())
      return Error::of(errc::profile, "device '" + d.spec.id +
                                          "' uses transport \"modbus\" but its model '" +
                                          d.spec.model + "' has no \"strata:modbus\" register map");
    for (const auto& reg : md.registers) md.value_index.push_back(r->wire_[i].find(reg.telemetry));
    mdevs.push_back(std::move(md));
    r->modbus_devices_.push_back(i);
  }
  if (!mdevs.empty()) {
    auto ms = ModbusServer::create(o.modbus_host, std::move(mdevs));
    if (!ms) return ms.error();
    r->modbus_ = std::move(*ms);
  }
  std::map<std::string, std::string> tokens;
  if (o.provision) {
    ProvisionTarget target{o.server, o.admin_token, o.modbus_host, [&](std::size_t device) {
                             for (std::size_t s = 0; s < r->modbus_devices_.size(); ++s)
                               if (r->modbus_devices_[s] == device) return r->modbus_->port(s);
                             return std::uint16_t{0};
                           }};
    auto rep = provision(target, *catalog, devices);
    if (!rep) return rep.error();
    std::fprintf(out,
                 "sim: provisioned %zu models (%zu already there) and %zu devices (%zu already "
                 "there, tokens rotated) on %s\n",
                 rep->models_created + rep->models_existing, rep->models_existing,
                 rep->devices_created + rep->devices_existing, rep->devices_existing,
                 o.server.c_str());
    tokens = std::move(rep->tokens);
  } else {
    for (const auto& d : devices) tokens[d.spec.id] = d.spec.id;
  }
  std::vector<MqttDevice> mqtt_devs;
  std::vector<std::string> http_tokens, coap_tokens;
  std::vector<SparkplugDevice> sp_devs;
  for (const auto& d : devices) {
    switch (d.spec.transport) {
      case Transport::mqtt:
        mqtt_devs.push_back(MqttDevice{d.spec.id, tokens[d.spec.id], d.spec.topics});
        break;
      case Transport::http:
        http_tokens.push_back(tokens[d.spec.id]);
        break;
      case Transport::coap:
        coap_tokens.push_back(tokens[d.spec.id]);
        break;
      case Transport::sparkplug:
        sp_devs.push_back(SparkplugDevice{d.spec.id, d.site, tokens[d.spec.id], nullptr});
        break;
      case Transport::modbus:
        break;
    }
  }
  for (std::size_t i = 0, s = 0; i < devices.size(); ++i)
    if (devices[i].spec.transport == Transport::sparkplug) sp_devs[s++].wire = &r->wire_[i];
  if (!mqtt_devs.empty()) {
    auto hp = host_port(o.mqtt, "--mqtt");
    if (!hp) return hp.error();
    auto m = MqttUplink::create(hp->first, hp->second, std::move(mqtt_devs));
    if (!m) return m.error();
    r->mqtt_ = std::move(*m);
  }
  if (!http_tokens.empty()) {
    auto h = HttpUplink::create(o.server, std::move(http_tokens));
    if (!h) return h.error();
    r->http_ = std::move(*h);
  }
  if (!coap_tokens.empty()) {
    auto hp = host_port(o.coap, "--coap");
    if (!hp) return hp.error();
    auto c = CoapUplink::create(hp->first, hp->second, std::move(coap_tokens));
    if (!c) return c.error();
    r->coap_ = std::move(*c);
  }
  if (!sp_devs.empty()) {
    auto hp = host_port(o.mqtt, "--mqtt");
    if (!hp) return hp.error();
    auto s = SparkplugUplink::create(hp->first, hp->second, std::move(sp_devs));
    if (!s) return s.error();
    r->sparkplug_ = std::move(*s);
  }
  r->opt_ = std::move(o);
  r->clock_ = std::make_unique<ScaledClock>(start, r->opt_.speed);
  return r;
}

SimRunner::~SimRunner() = default;

Status SimRunner::inject(const std::string& text) {
  auto spec = parse_fault_spec(text);
  if (!spec) return spec.error();
  std::lock_guard lock(pending_mu_);
  pending_.push_back(std::move(*spec));
  return {};
}

void SimRunner::apply_pending_faults() {
  std::deque<FaultSpec> todo;
  {
    std::lock_guard lock(pending_mu_);
    todo.swap(pending_);
  }
  for (const auto& spec : todo) {
    auto rec = plant_->inject(spec, plant_->now(), "stdin");
    if (rec)
      std::fprintf(out_, "fault placed: %s\n", fault_record_json(*rec).c_str());
    else
      std::fprintf(out_, "fault refused: %s\n", rec.error().message.c_str());
    std::fflush(out_);
  }
}

void SimRunner::dispatch(std::vector<Emission>& batch) {
  samples_ += batch.size();
  // Group by device, keeping time order within each.
  std::map<std::size_t, std::vector<const Emission*>> by_device;
  for (const auto& e : batch) by_device[e.device].push_back(&e);
  const auto devices = plant_->devices();
  for (auto& [d, samples] : by_device) {
    const PlantDevice& dev = devices[d];
    const WireModel& w = wire_[d];
    switch (dev.spec.transport) {
      case Transport::modbus: {
        std::vector<double> values(w.metrics.size());
        for (std::size_t i = 0; i < w.metrics.size(); ++i)
          values[i] = w.metrics[i].wire_value(samples.back()->values[w.metrics[i].index]);
        modbus_->update(slot_[d], values, samples.size());
        break;
      }
      case Transport::mqtt:
      case Transport::http: {
        constexpr std::size_t kMaxSamples = 500;
        for (std::size_t i = 0; i < samples.size(); i += kMaxSamples) {
          const std::size_t n = std::min(kMaxSamples, samples.size() - i);
          UplinkMessage m{slot_[d], telemetry_json(w, std::span(samples).subspan(i, n)), n};
          (dev.spec.transport == Transport::mqtt ? static_cast<Uplink&>(*mqtt_)
                                                 : static_cast<Uplink&>(*http_))
              .send(std::move(m));
        }
        break;
      }
      case Transport::coap: {
        // As many samples a message as fit one datagram.
        std::size_t i = 0;
        while (i < samples.size()) {
          std::size_t n = 1;
          std::string payload = telemetry_json(w, std::span(samples).subspan(i, 1));
          while (i + n < samples.size()) {
            std::string more = telemetry_json(w, std::span(samples).subspan(i, n + 1));
            if (more.size() > CoapUplink::kMaxPayload) break;
            payload = std::move(more);
            ++n;
          }
          coap_->send(UplinkMessage{slot_[d], std::move(payload), n});
          i += n;
        }
        break;
      }
      case Transport::sparkplug:
        sparkplug_->send_samples(slot_[d], samples);
        break;
    }
  }
}

TransportTotals SimRunner::totals(Transport t) const {
  TransportTotals tt;
  tt.devices = count_by_transport_[static_cast<std::size_t>(t)];
  const LinkCounters* c = nullptr;
  switch (t) {
    case Transport::mqtt:
      c = mqtt_ ? &mqtt_->counters() : nullptr;
      break;
    case Transport::http:
      c = http_ ? &http_->counters() : nullptr;
      break;
    case Transport::coap:
      c = coap_ ? &coap_->counters() : nullptr;
      break;
    case Transport::modbus:
      c = modbus_ ? &modbus_->counters() : nullptr;
      break;
    case Transport::sparkplug:
      c = sparkplug_ ? &sparkplug_->counters() : nullptr;
      break;
  }
  if (!c) return tt;
  tt.up = c->devices_up;
  tt.sent = c->sent;
  tt.acked = c->acked;
  tt.failed = c->failed;
  tt.samples_sent = c->samples_sent;
  tt.samples_acked = c->samples_acked;
  return tt;
}

std::string SimRunner::status_line() const {
  std::string s = "sim " + format_iso8601(plant_->now()).substr(0, 19) + " +" +
                  duration_text(plant_->now() - plant_->start());
  char buf[160];
  for (auto t : {Transport::mqtt, Transport::http, Transport::coap, Transport::modbus,
                 Transport::sparkplug}) {
    const TransportTotals tt = totals(t);
    if (!tt.devices) continue;
    if (t == Transport::modbus)
      std::snprintf(buf, sizeof buf, " | modbus %u/%zu serving, %llu refreshes, %llu polls", tt.up,
                    tt.devices, static_cast<unsigned long long>(tt.sent),
                    static_cast<unsigned long long>(tt.acked));
    else
      std::snprintf(buf, sizeof buf, " | %s %u/%zu up, sent %llu, acked %llu, failed %llu",
                    std::string(transport_name(t)).c_str(), tt.up, tt.devices,
                    static_cast<unsigned long long>(tt.sent),
                    static_cast<unsigned long long>(tt.acked),
                    static_cast<unsigned long long>(tt.failed));
    s += buf;
  }
  std::size_t active = 0;
  for (const auto& f : plant_->faults())
    if (f.active(plant_->now())) ++active;
  s += " | faults " + std::to_string(active) + " active, " +
       std::to_string(plant_->faults().size()) + " placed";
  return s;
}

std::uint16_t SimRunner::modbus_port(std::string_view device) const {
  for (std::size_t s = 0; s < modbus_devices_.size(); ++s)
    if (plant_->devices()[modbus_devices_[s]].spec.id == device) return modbus_->port(s);
  return 0;
}

void SimRunner::write_outputs() const {
  auto write_atomically = [](const std::filesystem::path& p, const std::string& text) {
    const auto tmp = p.string() + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << text;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, p, ec);
  };
  if (!opt_.fault_log.empty()) {
    std::string text;
    for (const auto& f : plant_->faults()) text += fault_record_json(f) + "\n";
    write_atomically(opt_.fault_log, text);
  }
  if (!opt_.summary.empty()) {
    nlohmann::json j{{"seed", plant_->seed()},
                     {"sim_start", format_iso8601(plant_->start())},
                     {"sim_end", format_iso8601(plant_->now())},
                     {"samples", samples_},
                     {"transports", nlohmann::json::object()},
                     {"faults", nlohmann::json::array()}};
    for (auto t : {Transport::mqtt, Transport::http, Transport::coap, Transport::modbus,
                   Transport::sparkplug}) {
      const TransportTotals tt = totals(t);
      if (!tt.devices) continue;
      j["transports"][std::string(transport_name(t))] = {{"devices", tt.devices},
                                                         {"up", tt.up},
                                                         {"sent", tt.sent},
                                                         {"acked", tt.acked},
                                                         {"failed", tt.failed},
                                                         {"samples_sent", tt.samples_sent},
                                                         {"samples_acked", tt.samples_acked}};
    }
    for (const auto& f : plant_->faults())
      j["faults"].push_back(nlohmann::json::parse(fault_record_json(f)));
    write_atomically(opt_.summary, j.dump() + "\n");
  }
}

void SimRunner::read_stdin_lines() {
  std::string buf;
  char chunk[512];
  while (!stop_) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int n = ::poll(&p, 1, 200);
    if (n <= 0) continue;
    const ssize_t got = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (got <= 0) return;  // end of input: no more commands
    buf.append(chunk, static_cast<std::size_t>(got));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') continue;
      if (auto s = inject(line); !s) {
        std::fprintf(out_, "fault refused: %s\n", s.error().message.c_str());
        std::fflush(out_);
      }
    }
  }
}

Status SimRunner::run() {
  std::thread input;
  if (opt_.read_stdin) input = std::thread([this] { read_stdin_lines(); });
  const Timestamp end = opt_.duration > 0 ? plant_->start() + opt_.duration : kMaxTimestamp;
  auto next_status =
      std::chrono::steady_clock::now() + std::chrono::microseconds(opt_.status_every);
  std::fprintf(out_, "sim: %zu devices from %s, seed %llu, x%g, start %s\n",
               plant_->devices().size(), opt_.profile.string().c_str(),
               static_cast<unsigned long long>(plant_->seed()), opt_.speed,
               format_iso8601(plant_->start()).c_str());
  std::fflush(out_);
  while (!stop_) {
    apply_pending_faults();
    const Timestamp now = std::min(clock_->now(), end);
    auto batch = plant_->advance_to(now);
    dispatch(batch);
    if (std::chrono::steady_clock::now() >= next_status) {
      std::fprintf(out_, "%s\n", status_line().c_str());
      std::fflush(out_);
      write_outputs();
      next_status += std::chrono::microseconds(opt_.status_every);
    }
    if (now >= end) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the tick of the real-time loop
  }
  stop_ = true;
  if (input.joinable()) input.join();
  for (Uplink* u : {static_cast<Uplink*>(mqtt_.get()), static_cast<Uplink*>(http_.get()),
                    static_cast<Uplink*>(coap_.get()), static_cast<Uplink*>(sparkplug_.get())})
    if (u) u->drain(5000);
  std::fprintf(out_, "%s\n", status_line().c_str());
  std::string errors;
  for (Uplink* u : {static_cast<Uplink*>(mqtt_.get()), static_cast<Uplink*>(http_.get()),
                    static_cast<Uplink*>(coap_.get()), static_cast<Uplink*>(sparkplug_.get())})
    if (u && !u->last_error().empty()) errors += " " + u->last_error() + ";";
  if (modbus_ && !modbus_->last_error().empty()) errors += " " + modbus_->last_error() + ";";
  if (!errors.empty()) std::fprintf(out_, "sim: last errors:%s\n", errors.c_str());
  std::fflush(out_);
  write_outputs();
  return {};
}

}  // namespace strata::sim

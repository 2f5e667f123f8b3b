#include "sim/wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "sim/errc.hpp"

namespace strata::sim {

namespace {

double round_to(double v, int decimals) {
  const double p = std::pow(10.0, decimals);
  return std::round(v * p) / p;
}

bool matches_state(RunState s, const model::EnumValue& e) {
  auto eq = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  static constexpr std::string_view kStopped[] = {"stopped", "stop", "off"};
  static constexpr std::string_view kIdle[] = {"idle", "standby", "ready"};
  static constexpr std::string_view kRunning[] = {"running", "run", "on"};
  static constexpr std::string_view kFault[] = {"fault", "tripped", "trip", "alarm", "error"};
  std::span<const std::string_view> names;
  switch (s) {
    case RunState::stopped:
      names = kStopped;
      break;
    case RunState::idle:
      names = kIdle;
      break;
    case RunState::running:
      names = kRunning;
      break;
    case RunState::fault:
      names = kFault;
      break;
  }
  for (auto n : names)
    if (eq(n, e.name) || eq(n, e.text)) return true;
  return false;
}

}  // namespace

double WireMetric::wire_value(double simulated) const {
  return round_to(to_model_unit.apply(simulated), decimals);
}

int WireModel::find(std::string_view name) const {
  for (std::size_t i = 0; i < metrics.size(); ++i)
    if (metrics[i].name == name) return static_cast<int>(i);
  return -1;
}

WireModel wire_model(DeviceKind kind, const model::DeviceModel* m) {
  WireModel w;
  const auto metrics = metrics_of(kind);
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const MetricInfo& info = metrics[i];
    WireMetric wm;
    wm.index = i;
    wm.name = std::string(info.name);
    wm.decimals = info.decimals;
    for (auto t : info.texts) wm.texts.emplace_back(t);
    if (!wm.texts.empty()) wm.form = WireMetric::Form::text;
    if (m) {
      const model::Telemetry* t = m->find_telemetry(info.name);
      if (!t) {
        w.not_in_model.emplace_back(info.name);
        continue;
      }
      if (t->schema.kind == model::SchemaKind::boolean) wm.form = WireMetric::Form::boolean;
      if (t->schema.kind == model::SchemaKind::integer ||
          t->schema.kind == model::SchemaKind::long_)
        wm.decimals = 0;
      if (t->schema.kind == model::SchemaKind::enumeration && info.name == "state") {
        // The run state by name ("stopped", "idle", "running", "fault" and their usual synonyms);
        // a model without an idle state hears "running" (an idle machine turns), one without a
        // fault state hears "stopped".
        const bool text = t->schema.enum_value_schema == model::SchemaKind::string;
        const auto& ev = t->schema.enum_values;
        auto pick = [&](RunState s) {
          return std::find_if(ev.begin(), ev.end(),
                              [&](const model::EnumValue& e) { return matches_state(s, e); });
        };
        for (auto s : {RunState::stopped, RunState::idle, RunState::running, RunState::fault}) {
          auto it = pick(s);
          if (it == ev.end() && s == RunState::idle) it = pick(RunState::running);
          if (it == ev.end() && s == RunState::fault) it = pick(RunState::stopped);
          if (it == ev.end()) {
            w.problems.push_back("state: the model's enum has no '" +
                                 std::string(run_state_name(s)) + "'");
            wm.texts.clear();
            break;
          }
          wm.texts.push_back(text ? it->text : std::to_string(it->number));
        }
        wm.form = wm.texts.size() == 4 ? WireMetric::Form::text : WireMetric::Form::number;
        wm.quoted = text;
      }
      if (!t->unit.empty() && !info.unit.empty() && t->unit != info.unit) {
        auto conv = model::conversion(info.unit, t->unit);
        if (!conv) {
          w.problems.push_back(std::string(info.name) + ": " + conv.error().message);
        } else {
          wm.to_model_unit = *conv;
          // Carry the resolution over: a power of ten shifts the decimals, anything else adds one.
          const double lg = std::log10(std::fabs(conv->a));
          wm.decimals = std::abs(lg - std::round(lg)) < 1e-9 && conv->b == 0
                            ? std::max(0, info.decimals - static_cast<int>(std::round(lg)))
                            : info.decimals + 1;
        }
      }
    }
    w.metrics.push_back(std::move(wm));
  }
  if (m)
    for (const auto& t : m->telemetry)
      if (!metric_index(kind, t.name)) w.not_simulated.push_back(t.name);
  return w;
}

namespace {

void append_number(std::string& out, double v, int decimals) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  out.append(buf, r.ptr);
}

void append_sample(std::string& out, const WireModel& w, const Emission& e) {
  out += "{\"ts\":";
  out += std::to_string(e.ts / 1000);
  out += ",\"values\":{";
  bool first = true;
  for (const auto& m : w.metrics) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += m.name;
    out += "\":";
    const double v = m.wire_value(e.values[m.index]);
    switch (m.form) {
      case WireMetric::Form::boolean:
        out += v != 0 ? "true" : "false";
        break;
      case WireMetric::Form::text: {
        const auto n = static_cast<std::size_t>(v);
        if (m.quoted) out += '"';
        out += n < m.texts.size() ? m.texts[n] : std::string("0");
        if (m.quoted) out += '"';
        break;
      }
      case WireMetric::Form::number:
        append_number(out, v, m.decimals);
        break;
    }
  }
  out += "}}";
}

}  // namespace

std::string telemetry_json(const WireModel& w, std::span<const Emission* const> samples) {
  std::string out;
  if (samples.size() == 1) {
    append_sample(out, w, *samples[0]);
    return out;
  }
  out += '[';
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i) out += ',';
    append_sample(out, w, *samples[i]);
  }
  out += ']';
  return out;
}

Result<ModelCatalog> ModelCatalog::load(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return Error::of(errc::io, "models directory '" + dir.string() +
                                   "' does not exist (give --models the folder of the DTDL "
                                   "models, e.g. examples/models)");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ModelCatalog c;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    if (!in && !in.eof()) return Error::of(errc::io, "model '" + f.string() + "' cannot be read");
    auto m = model::parse_device_model(os.str());
    if (!m) return Error::of(errc::profile, "model '" + f.string() + "': " + m.error().message);
    std::string id = m->id;
    c.entries_.emplace(id, CatalogEntry{std::move(*m), os.str(), f});
  }
  return c;
}

const CatalogEntry* ModelCatalog::find(std::string_view id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace strata::sim

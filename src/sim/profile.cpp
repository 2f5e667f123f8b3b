#include "sim/profile.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/time_format.hpp"
#include "sim/errc.hpp"

namespace strata::sim {
namespace {

// Where a node is, for messages: "plant.toml:12:5".
std::string where(std::string_view source, const toml::node& n) {
  const auto& s = n.source();
  return std::string(source) + ":" + std::to_string(s.begin.line) + ":" +
         std::to_string(s.begin.column);
}

struct Reader {
  std::string_view source;

  Error error(const toml::node& n, const std::string& what) const {
    return Error::of(errc::profile, where(source, n) + ": " + what);
  }

  // Refuses keys the format does not know, so a typo is named instead of silently ignored.
  Status only_keys(const toml::table& t, std::initializer_list<std::string_view> known,
                   const std::string& thing) const {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (auto kk : known) ok = ok || k.str() == kk;
      if (!ok) {
        std::string list;
        for (auto kk : known) list += (list.empty() ? "" : ", ") + std::string(kk);
        return error(v,
                     thing + ": unknown key '" + std::string(k.str()) + "' (known: " + list + ")");
      }
    }
    return {};
  }

  Result<std::string> string(const toml::table& t, std::string_view key, const std::string& thing,
                             std::optional<std::string> dflt) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (dflt) return *dflt;
      return Error::of(errc::profile, std::string(source) + ": " + thing + ": missing key '" +
                                          std::string(key) + "'");
    }
    if (auto v = n->value_exact<std::string>()) {
      if (v->empty()) return error(*n, thing + ": '" + std::string(key) + "' must not be empty");
      return *v;
    }
    return error(*n, thing + ": '" + std::string(key) + "' must be a string");
  }

  Result<double> number(const toml::table& t, std::string_view key, const std::string& thing,
                        double dflt, double lo, double hi) const {
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    std::optional<double> v;
    if (n->is_integer())
      v = static_cast<double>(*n->value_exact<std::int64_t>());
    else if (n->is_floating_point())
      v = *n->value_exact<double>();
    if (!v) return error(*n, thing + ": '" + std::string(key) + "' must be a number");
    if (!(*v >= lo && *v <= hi))
      return error(*n, thing + ": '" + std::string(key) + "' = " + std::to_string(*v) +
                           " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                           "]");
    return *v;
  }

  Result<Timestamp> duration(const toml::table& t, std::string_view key, const std::string& thing,
                             Timestamp dflt) const {
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    auto s = n->value_exact<std::string>();
    std::optional<Timestamp> d;
    if (s) d = parse_duration(*s);
    if (!d)
      return error(*n, thing + ": '" + std::string(key) +
                           "' must be a duration such as \"1s\" or \"500ms\"");
    return *d;
  }

  Result<FaultSpec> fault(const toml::node& n, const std::string& device,
                          const std::string& thing) const {
    if (auto s = n.value_exact<std::string>()) {
      auto f = parse_fault_spec(device + ":" + *s);
      if (!f) return error(n, thing + ": " + f.error().message);
      return f;
    }
    const toml::table* t = n.as_table();
    if (!t)
      return error(n, thing +
                          ": a fault is a string such as \"bearing_wear@+2h,for=6h\" or a table "
                          "{ kind = …, at = …, for = …, metric = …, magnitude = … }");
    if (auto s = only_keys(*t, {"kind", "at", "for", "metric", "magnitude"}, thing); !s)
      return s.error();
    auto kind = string(*t, "kind", thing, std::nullopt);
    if (!kind) return kind.error();
    auto at = string(*t, "at", thing, std::string("+0s"));
    if (!at) return at.error();
    std::string text = device + ":" + *kind + "@" + *at;
    if (const toml::node* d = t->get("for")) {
      auto v = d->value_exact<std::string>();
      if (!v) return error(*d, thing + ": 'for' must be a duration string such as \"30m\"");
      text += ",for=" + *v;
    }
    if (const toml::node* m = t->get("metric")) {
      auto v = m->value_exact<std::string>();
      if (!v) return error(*m, thing + ": 'metric' must be a string");
      text += ",metric=" + *v;
    }
    if (const toml::node* m = t->get("magnitude")) {
      auto v = m->value<double>();
      if (!v) return error(*m, thing + ": 'magnitude' must be a number");
      std::ostringstream os;
      os.precision(17);
      os << *v;
      text += ",magnitude=" + os.str();
    }
    auto f = parse_fault_spec(text);
    if (!f) return error(n, thing + ": " + f.error().message);
    return f;
  }

  Result<DeviceSpec> device(const toml::node& n, const std::string& thing) const {
    const toml::table* t = n.as_table();
    if (!t) return error(n, thing + ": a device is a table { id = …, kind = …, transport = … }");
    if (auto s = only_keys(*t,
                           {"id", "kind", "model", "transport", "topics", "interval", "rated_kw",
                            "modbus_port", "modbus_unit", "tags", "faults"},
                           thing);
        !s)
      return s.error();
    DeviceSpec d;
    auto id = string(*t, "id", thing, std::nullopt);
    if (!id) return id.error();
    d.id = *id;
    for (char c : d.id)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
        return error(*t->get("id"),
                     thing + ": id '" + d.id + "' may hold only letters, digits, '-', '_' and '.'");
    const std::string me = "device '" + d.id + "'";
    auto kind = string(*t, "kind", me, std::nullopt);
    if (!kind) return kind.error();
    if (auto k = parse_kind(*kind))
      d.kind = *k;
    else
      return error(*t->get("kind"), me + ": unknown kind '" + *kind +
                                        "' (expected compressor, pump, motor or energy_meter)");
    auto model = string(*t, "model", me, std::string(default_model(d.kind)));
    if (!model) return model.error();
    d.model = *model;
    auto tr = string(*t, "transport", me, std::string("mqtt"));
    if (!tr) return tr.error();
    if (auto x = parse_transport(*tr))
      d.transport = *x;
    else
      return error(*t->get("transport"), me + ": unknown transport '" + *tr +
                                             "' (expected mqtt, sparkplug, http, coap or modbus)");
    auto topics = string(*t, "topics", me, std::string("strata"));
    if (!topics) return topics.error();
    if (*topics == "strata")
      d.topics = MqttTopics::strata;
    else if (*topics == "thingsboard")
      d.topics = MqttTopics::thingsboard;
    else
      return error(*t->get("topics"),
                   me + ": topics must be \"strata\" or \"thingsboard\", not '" + *topics + "'");
    if (t->get("topics") && d.transport != Transport::mqtt)
      return error(*t->get("topics"), me + ": 'topics' applies to transport \"mqtt\" only");
    auto iv = duration(*t, "interval", me, kMicrosPerSecond);
    if (!iv) return iv.error();
    if (*iv < 10'000 || *iv > 3600 * kMicrosPerSecond || *iv % 1000 != 0)
      return error(*t->get("interval"),
                   me + ": interval must be whole milliseconds between 10ms and 1h");
    d.interval = *iv;
    auto kw = number(*t, "rated_kw", me, 0, 0.1, 10000);
    if (!kw) return kw.error();
    d.rated_kw = *kw;
    auto port = number(*t, "modbus_port", me, 0, 0, 65535);
    if (!port) return port.error();
    d.modbus_port = static_cast<std::uint16_t>(*port);
    auto unit = number(*t, "modbus_unit", me, 1, 1, 247);
    if (!unit) return unit.error();
    d.modbus_unit = static_cast<std::uint8_t>(*unit);
    if ((t->get("modbus_port") || t->get("modbus_unit")) && d.transport != Transport::modbus)
      return error(*t, me + ": 'modbus_port' and 'modbus_unit' apply to transport \"modbus\" only");
    if (const toml::node* tags = t->get("tags")) {
      const toml::table* tt = tags->as_table();
      if (!tt) return error(*tags, me + ": 'tags' must be a table of strings");
      for (const auto& [k, v] : *tt) {
        auto s = v.value_exact<std::string>();
        if (!s) return error(v, me + ": tag '" + std::string(k.str()) + "' must be a string");
        d.tags.emplace(std::string(k.str()), *s);
      }
    }
    if (const toml::node* fs = t->get("faults")) {
      const toml::array* arr = fs->as_array();
      if (!arr) return error(*fs, me + ": 'faults' must be an array");
      for (const auto& f : *arr) {
        auto spec = fault(f, d.id, me);
        if (!spec) return spec.error();
        d.faults.push_back(std::move(*spec));
      }
    }
    return d;
  }
};

}  // namespace

std::string_view transport_name(Transport t) {
  switch (t) {
    case Transport::mqtt:
      return "mqtt";
    case Transport::sparkplug:
      return "sparkplug";
    case Transport::http:
      return "http";
    case Transport::coap:
      return "coap";
    case Transport::modbus:
      return "modbus";
  }
  return "mqtt";
}

std::optional<Transport> parse_transport(std::string_view text) {
  for (auto t :
       {Transport::mqtt, Transport::sparkplug, Transport::http, Transport::coap, Transport::modbus})
    if (transport_name(t) == text) return t;
  return std::nullopt;
}

std::size_t PlantProfile::device_count() const {
  std::size_t n = 0;
  for (const auto& s : sites)
    for (const auto& l : s.lines) n += l.devices.size();
  return n;
}

Result<PlantProfile> parse_profile(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& s = e.source();
    return Error::of(errc::profile, std::string(source) + ":" + std::to_string(s.begin.line) + ":" +
                                        std::to_string(s.begin.column) + ": " +
                                        std::string(e.description()));
  }
  Reader r{source};
  if (auto s = r.only_keys(root, {"name", "seed", "modbus_base_port", "sites"}, "profile"); !s)
    return s.error();
  PlantProfile p;
  auto name = r.string(root, "name", "profile", std::string("plant"));
  if (!name) return name.error();
  p.name = *name;
  if (const toml::node* seed = root.get("seed")) {
    auto v = seed->value_exact<std::int64_t>();
    if (!v || *v < 0) return r.error(*seed, "profile: 'seed' must be a non-negative integer");
    p.seed = static_cast<std::uint64_t>(*v);
  }
  auto base = r.number(root, "modbus_base_port", "profile", 15020, 0, 65535);
  if (!base) return base.error();
  p.modbus_base_port = static_cast<std::uint16_t>(*base);
  const toml::array* sites = root["sites"].as_array();
  if (!sites || sites->empty())
    return Error::of(errc::profile, std::string(source) +
                                        ": the profile needs at least one [[sites]] table with "
                                        "[[sites.lines]] and their devices");
  std::set<std::string> device_ids, site_ids;
  for (std::size_t si = 0; si < sites->size(); ++si) {
    const toml::node& sn = *sites->get(si);
    const std::string sthing = "sites[" + std::to_string(si) + "]";
    const toml::table* st = sn.as_table();
    if (!st) return r.error(sn, sthing + ": a site is a table");
    if (auto s = r.only_keys(
            *st, {"id", "name", "shifts", "utc_offset", "ambient", "trips_per_day", "lines"},
            sthing);
        !s)
      return s.error();
    SiteSpec site;
    auto id = r.string(*st, "id", sthing, std::nullopt);
    if (!id) return id.error();
    site.id = *id;
    if (!site_ids.insert(site.id).second)
      return r.error(sn, sthing + ": site id '" + site.id + "' is used twice");
    const std::string sme = "site '" + site.id + "'";
    auto sname = r.string(*st, "name", sme, site.id);
    if (!sname) return sname.error();
    site.name = *sname;
    auto shifts = r.string(*st, "shifts", sme, std::string("three_shift"));
    if (!shifts) return shifts.error();
    if (auto sp = parse_shift_pattern(*shifts))
      site.shifts = *sp;
    else
      return r.error(*st->get("shifts"),
                     sme + ": unknown shifts '" + *shifts +
                         "' (expected continuous, three_shift, two_shift or day)");
    if (const toml::node* off = st->get("utc_offset")) {
      auto v = off->value_exact<std::string>();
      int h = 0, m = 0;
      char sign = 0;
      if (!v || v->size() != 6 || ((*v)[0] != '+' && (*v)[0] != '-') || (*v)[3] != ':' ||
          std::sscanf(v->c_str(), "%c%2d:%2d", &sign, &h, &m) != 3 || h > 14 || m > 59)
        return r.error(*off, sme + ": utc_offset must be \"+hh:mm\" or \"-hh:mm\"");
      site.utc_offset_minutes = (sign == '-' ? -1 : 1) * (h * 60 + m);
    }
    auto amb = r.number(*st, "ambient", sme, 22.0, -40, 60);
    if (!amb) return amb.error();
    site.ambient = *amb;
    auto trips = r.number(*st, "trips_per_day", sme, 0.0, 0, 100);
    if (!trips) return trips.error();
    site.trips_per_day = *trips;
    const toml::array* lines = st->get("lines") ? st->get("lines")->as_array() : nullptr;
    if (!lines || lines->empty())
      return r.error(sn, sme + ": needs at least one [[sites.lines]] table");
    std::set<std::string> line_ids;
    for (std::size_t li = 0; li < lines->size(); ++li) {
      const toml::node& ln = *lines->get(li);
      const std::string lthing = sme + ", lines[" + std::to_string(li) + "]";
      const toml::table* lt = ln.as_table();
      if (!lt) return r.error(ln, lthing + ": a line is a table");
      if (auto s = r.only_keys(*lt, {"id", "devices"}, lthing); !s) return s.error();
      LineSpec line;
      auto lid = r.string(*lt, "id", lthing, std::nullopt);
      if (!lid) return lid.error();
      line.id = *lid;
      if (!line_ids.insert(line.id).second)
        return r.error(ln, sme + ": line id '" + line.id + "' is used twice");
      const std::string lme = sme + ", line '" + line.id + "'";
      const toml::array* devs = lt->get("devices") ? lt->get("devices")->as_array() : nullptr;
      if (!devs || devs->empty()) return r.error(ln, lme + ": needs a non-empty 'devices' array");
      for (std::size_t di = 0; di < devs->size(); ++di) {
        auto d = r.device(*devs->get(di), lme + ", devices[" + std::to_string(di) + "]");
        if (!d) return d.error();
        if (!device_ids.insert(d->id).second)
          return r.error(*devs->get(di), "device id '" + d->id + "' is used twice");
        line.devices.push_back(std::move(*d));
      }
      site.lines.push_back(std::move(line));
    }
    p.sites.push_back(std::move(site));
  }
  return p;
}

Result<PlantProfile> load_profile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::of(errc::io, "plant profile '" + path.string() +
                                   "' cannot be read (give --profile an existing TOML file, e.g. "
                                   "examples/plant.toml)");
  std::ostringstream os;
  os << in.rdbuf();
  return parse_profile(os.str(), path.string());
}

}  // namespace strata::sim

#include "obs/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace strata::obs {

namespace {

enum Type : int { kCounter, kGauge, kHistogram };

constexpr std::string_view type_name(int type) {
  switch (type) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    default:
      return "histogram";
  }
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    out += std::to_string(static_cast<std::int64_t>(v));  // integral values read as integers
  } else {
    // Shortest round-trip digits, fixed notation for exponents -4..+5 (as Go's 'g' in the
    // Prometheus clients), so bucket bounds read "0.0005", not "5e-04".
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
    out.append(buf, end);
  }
}

void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"` without the closing brace, or "" when there are no labels and no extra label.
void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v, true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && !(bounds_[i] > bounds_[i - 1])))
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
  }
}

void Histogram::observe(double v) {
  // Buckets hold `le` (less or equal) counts; a NaN lands in +Inf only, as Prometheus clients do.
  std::size_t i = 0;
  while (i < bounds_.size() && !(v <= bounds_[i])) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::uint64_t Histogram::count() const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    total += buckets_[i].load(std::memory_order_relaxed);
  return total;
}

struct MetricsRegistry::Family {
  struct Callback {
    std::function<double()> read;
  };
  struct Child {
    Labels labels;
    std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>, std::unique_ptr<Histogram>,
                 Callback>
        metric;
  };
  std::string name;
  std::string help;
  int type = kCounter;
  std::vector<Child> children;

  Child* find(const Labels& labels) {
    for (auto& c : children)
      if (c.labels == labels) return &c;
    return nullptr;
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 int type) {
  if (!valid_metric_name(name))
    throw std::invalid_argument("metric name '" + std::string(name) +
                                "' must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  for (auto& f : families_) {
    if (f->name != name) continue;
    if (f->type != type)
      throw std::invalid_argument("metric '" + std::string(name) + "' is already a " +
                                  std::string(type_name(f->type)) + ", not a " +
                                  std::string(type_name(type)));
    return *f;
  }
  auto f = std::make_unique<Family>();
  f->name = name;
  f->help = help;
  f->type = type;
  families_.push_back(std::move(f));
  return *families_.back();
}

namespace {
void check_labels(std::string_view metric, const Labels& labels, bool histogram) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string& k = labels[i].first;
    if (!valid_label_name(k) || (histogram && k == "le"))
      throw std::invalid_argument("metric '" + std::string(metric) + "': label name '" + k +
                                  "' must match [a-zA-Z_][a-zA-Z0-9_]*, not start with '__'" +
                                  (histogram ? " and not be 'le'" : ""));
    for (std::size_t j = 0; j < i; ++j)
      if (labels[j].first == k)
        throw std::invalid_argument("metric '" + std::string(metric) + "': label '" + k +
                                    "' given twice");
  }
}
}  // namespace

// The owned child of a counter or gauge family with these labels, created on first use.
// REQUIRES: the registry's lock held.
template <class Metric, class FamilyT>
Metric& owned_child(FamilyT& f, std::string_view name, Labels labels) {
  if (auto* c = f.find(labels)) {
    if (auto* p = std::get_if<std::unique_ptr<Metric>>(&c->metric)) return **p;
    throw std::invalid_argument("metric '" + std::string(name) +
                                "' has a callback child with these labels");
  }
  auto owned = std::make_unique<Metric>();
  Metric& ref = *owned;
  f.children.push_back({std::move(labels), std::move(owned)});
  return ref;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  check_labels(name, labels, false);
  return owned_child<Counter>(family(name, help, kCounter), name, std::move(labels));
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  check_labels(name, labels, false);
  return owned_child<Gauge>(family(name, help, kGauge), name, std::move(labels));
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      std::span<const double> bounds, Labels labels) {
  std::lock_guard lock(mu_);
  check_labels(name, labels, true);
  Family& f = family(name, help, kHistogram);
  if (auto* c = f.find(labels)) return *std::get<std::unique_ptr<Histogram>>(c->metric);
  auto owned = std::make_unique<Histogram>(bounds);
  Histogram& ref = *owned;
  f.children.push_back({std::move(labels), std::move(owned)});
  return ref;
}

void MetricsRegistry::callback_gauge(std::string_view name, std::string_view help,
                                     std::function<double()> read, Labels labels) {
  std::lock_guard lock(mu_);
  check_labels(name, labels, false);
  Family& f = family(name, help, kGauge);
  if (auto* c = f.find(labels)) {
    if (!std::holds_alternative<Family::Callback>(c->metric))
      throw std::invalid_argument("metric '" + std::string(name) +
                                  "' has a stored child with these labels");
    c->metric = Family::Callback{std::move(read)};
    return;
  }
  f.children.push_back({std::move(labels), Family::Callback{std::move(read)}});
}

void MetricsRegistry::callback_counter(std::string_view name, std::string_view help,
                                       std::function<double()> read, Labels labels) {
  std::lock_guard lock(mu_);
  check_labels(name, labels, false);
  Family& f = family(name, help, kCounter);
  if (auto* c = f.find(labels)) {
    if (!std::holds_alternative<Family::Callback>(c->metric))
      throw std::invalid_argument("metric '" + std::string(name) +
                                  "' has a stored child with these labels");
    c->metric = Family::Callback{std::move(read)};
    return;
  }
  f.children.push_back({std::move(labels), Family::Callback{std::move(read)}});
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP ";
    out += f->name;
    out += ' ';
    append_escaped(out, f->help, false);
    out += "\n# TYPE ";
    out += f->name;
    out += ' ';
    out += type_name(f->type);
    out += '\n';
    for (const auto& child : f->children) {
      if (const auto* c = std::get_if<std::unique_ptr<Counter>>(&child.metric)) {
        out += f->name;
        append_labels(out, child.labels);
        out += ' ';
        out += std::to_string((*c)->value());
        out += '\n';
      } else if (const auto* g = std::get_if<std::unique_ptr<Gauge>>(&child.metric)) {
        out += f->name;
        append_labels(out, child.labels);
        out += ' ';
        append_number(out, (*g)->value());
        out += '\n';
      } else if (const auto* cb = std::get_if<Family::Callback>(&child.metric)) {
        out += f->name;
        append_labels(out, child.labels);
        out += ' ';
        append_number(out, cb->read());
        out += '\n';
      } else {
        const Histogram& h = *std::get<std::unique_ptr<Histogram>>(child.metric);
        // Read the sum before the buckets: a concurrent observation then shows in the counts
        // (which are read once) at worst without its sum, never the other way round.
        double sum = h.sum();
        std::vector<std::uint64_t> counts = h.cumulative_counts();
        auto bounds = h.bounds();
        for (std::size_t i = 0; i < counts.size(); ++i) {
          std::string le;
          if (i < bounds.size()) {
            append_number(le, bounds[i]);
          } else {
            le = "+Inf";
          }
          out += f->name;
          out += "_bucket";
          append_labels(out, child.labels, "le", le);
          out += ' ';
          out += std::to_string(counts[i]);
          out += '\n';
        }
        out += f->name;
        out += "_sum";
        append_labels(out, child.labels);
        out += ' ';
        append_number(out, sum);
        out += '\n';
        out += f->name;
        out += "_count";
        append_labels(out, child.labels);
        out += ' ';
        out += std::to_string(counts.back());
        out += '\n';
      }
    }
  }
  return out;
}

}  // namespace strata::obs

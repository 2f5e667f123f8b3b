#include "bench/datasets.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <queue>
#include <random>
#include <sstream>

#include "core/time_format.hpp"

namespace strata::bench {
namespace {

namespace fs = std::filesystem;

constexpr std::array<const char*, 7> kKinds = {"temperature", "vibration", "pressure", "current",
                                               "flow",        "state",     "counter"};
constexpr Timestamp kSyntheticStart = Timestamp{1'704'067'200} * kMicrosPerSecond;  // 2024-01-01

double round_to(double x, int decimals) {
  static constexpr std::array<double, 4> kScale = {1.0, 10.0, 100.0, 1000.0};
  const double scale = kScale[static_cast<std::size_t>(decimals)];
  return std::round(x * scale) / scale;
}

// Line protocol escaping: measurement names escape commas and spaces; tag keys, tag values and
// field keys also escape '='.
void append_escaped(std::string& out, std::string_view text, bool escape_equals) {
  for (const char c : text) {
    if (c == ',' || c == ' ' || (escape_equals && c == '=')) out += '\\';
    out += c;
  }
}

}  // namespace

std::uint64_t Dataset::points() const {
  std::uint64_t n = 0;
  for (const auto& s : series) n += s.samples.size();
  return n;
}

std::uint64_t Dataset::distinct_points() const {
  std::uint64_t n = 0;
  std::vector<Timestamp> times;
  for (const auto& s : series) {
    times.clear();
    for (const auto& sample : s.samples) times.push_back(sample.ts);
    std::sort(times.begin(), times.end());
    n += static_cast<std::uint64_t>(std::unique(times.begin(), times.end()) - times.begin());
  }
  return n;
}

std::pair<Timestamp, Timestamp> Dataset::time_span() const {
  Timestamp lo = kMaxTimestamp;
  Timestamp hi = kMinTimestamp;
  for (const auto& s : series)
    for (const auto& sample : s.samples) {
      lo = std::min(lo, sample.ts);
      hi = std::max(hi, sample.ts);
    }
  if (lo > hi) return {0, 0};
  return {lo, hi};
}

Dataset synthetic_dataset(std::uint64_t seed, std::size_t series_count, std::size_t seconds) {
  Dataset d;
  d.name = "synthetic";
  d.measurement = "sensor";
  d.order = SendOrder::time_major;
  d.series.reserve(series_count);
  for (std::size_t k = 0; k < series_count; ++k) {
    const std::size_t kind = k % kKinds.size();
    char device[32];
    std::snprintf(device, sizeof device, "dev%04zu", k);
    SeriesData s;
    s.key.device = device;
    s.key.metric = kKinds[kind];
    s.key.tags = {{"kind", kKinds[kind]}};
    s.samples.reserve(seconds);

    std::seed_seq seq{static_cast<std::uint32_t>(seed & 0xFFFF'FFFFu),
                      static_cast<std::uint32_t>(seed >> 32), static_cast<std::uint32_t>(k)};
    std::mt19937_64 rng(seq);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    auto z = [&] { return normal(rng); };
    auto u = [&] { return uniform(rng); };

    double walk = kind == 0 ? 60.0 : 6.0;
    double level = kind == 5 ? 1.0 : 0.0;  // state and counter
    for (std::size_t i = 0; i < seconds; ++i) {
      const bool first = i == 0;
      double v = 0;
      switch (kind) {
        case 0:  // temperature
          if (!first) walk += 0.05 * z();
          v = round_to(walk + 2.0 * std::sin(static_cast<double>(i) / 600.0), 2);
          break;
        case 1:  // vibration
          v = round_to(std::fabs(2.0 + 0.1 * z()), 3);
          break;
        case 2:  // pressure
          if (!first) walk += 0.002 * z();
          v = round_to(walk + 0.01 * z(), 3);
          break;
        case 3:  // current
          v = round_to(12.0 + 0.2 * z(), 1);
          break;
        case 4:  // flow
          v = round_to(30.0 + 0.5 * z(), 1);
          break;
        case 5:  // state
          if (!first && u() < 0.001) level = 1.0 - level;
          v = level;
          break;
        default:  // counter
          if (!first && u() < 0.8) level += 1.0;
          v = level;
          break;
      }
      s.samples.push_back(
          Sample{kSyntheticStart + static_cast<Timestamp>(i) * kMicrosPerSecond, v});
    }
    d.series.push_back(std::move(s));
  }
  return d;
}

Result<Dataset> nab_dataset(const fs::path& nab_data_dir) {
  std::error_code ec;
  if (!fs::is_directory(nab_data_dir, ec))
    return Error::of(DatasetErrc::io, "NAB data directory '" + nab_data_dir.string() +
                                          "' does not exist (expected …/shared/datasets/nab/data)");
  std::vector<fs::path> categories;
  for (const auto& entry : fs::directory_iterator(nab_data_dir, ec))
    if (entry.is_directory()) categories.push_back(entry.path());
  if (ec)
    return Error::of(DatasetErrc::io,
                     "cannot list '" + nab_data_dir.string() + "': " + ec.message());
  std::sort(categories.begin(), categories.end());

  Dataset d;
  d.name = "nab";
  d.measurement = "nab";
  d.order = SendOrder::series_major;
  for (const auto& category : categories) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(category, ec))
      if (entry.is_regular_file() && entry.path().extension() == ".csv")
        files.push_back(entry.path());
    if (ec)
      return Error::of(DatasetErrc::io, "cannot list '" + category.string() + "': " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) return Error::of(DatasetErrc::io, "cannot read '" + file.string() + "'");
      std::ostringstream buffer;
      buffer << in.rdbuf();
      const std::string text = buffer.str();

      SeriesData s;
      s.key.device = file.stem().string();
      s.key.metric = "value";
      s.key.tags = {{"category", category.filename().string()}};
      std::string_view rest(text);
      std::size_t line_no = 0;
      while (!rest.empty()) {
        const auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (line_no == 1) {
          if (line != "timestamp,value")
            return Error::of(DatasetErrc::bad_format,
                             file.string() + ":1: expected the header 'timestamp,value', got '" +
                                 std::string(line) + "'");
          continue;
        }
        const auto bad = [&](const std::string& why) {
          return Error::of(DatasetErrc::bad_format, file.string() + ":" + std::to_string(line_no) +
                                                        ": " + why + " in '" + std::string(line) +
                                                        "'");
        };
        const auto comma = line.find(',');
        if (comma == std::string_view::npos) return bad("no comma");
        const std::string_view ts_text = line.substr(0, comma);
        const std::string_view value_text = line.substr(comma + 1);
        // Exactly "YYYY-MM-DD HH:MM:SS", read as UTC.
        if (ts_text.size() != 19 || ts_text[10] != ' ')
          return bad("timestamp is not 'YYYY-MM-DD HH:MM:SS'");
        const auto ts = parse_iso8601(ts_text);
        if (!ts) return bad("timestamp is not 'YYYY-MM-DD HH:MM:SS'");
        double value = 0;
        const auto [end, err] =
            std::from_chars(value_text.data(), value_text.data() + value_text.size(), value);
        if (err != std::errc() || end != value_text.data() + value_text.size())
          return bad("value is not a number");
        if (!std::isfinite(value)) return bad("value is not finite");
        s.samples.push_back(Sample{*ts, value});
      }
      d.series.push_back(std::move(s));
    }
  }
  if (d.series.empty())
    return Error::of(DatasetErrc::bad_format,
                     "no <category>/<file>.csv under '" + nab_data_dir.string() + "'");
  return d;
}

std::vector<std::string> to_line_protocol(const Dataset& dataset, std::size_t points_per_batch,
                                          std::string& precision_out) {
  if (points_per_batch == 0) points_per_batch = 1;

  // The coarsest unit that holds every timestamp exactly.
  Timestamp unit = kMicrosPerSecond;
  for (const auto& s : dataset.series)
    for (const auto& sample : s.samples)
      while (unit > 1 && sample.ts % unit != 0) unit /= 1000;
  precision_out = unit == kMicrosPerSecond ? "s" : unit == 1000 ? "ms" : "u";

  // Each series' line prefix: "<measurement>,<k>=<v>,... value=".
  std::vector<std::string> prefixes;
  prefixes.reserve(dataset.series.size());
  for (const auto& s : dataset.series) {
    std::vector<std::pair<std::string, std::string>> tags = s.key.tags;
    tags.emplace_back("device", s.key.device);
    std::stable_sort(tags.begin(), tags.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string prefix;
    append_escaped(prefix, dataset.measurement, false);
    for (const auto& [k, v] : tags) {
      prefix += ',';
      append_escaped(prefix, k, true);
      prefix += '=';
      append_escaped(prefix, v, true);
    }
    prefix += " value=";
    prefixes.push_back(std::move(prefix));
  }

  std::vector<std::string> batches;
  std::string batch;
  std::size_t lines = 0;
  const auto emit = [&](std::size_t series, const Sample& sample) {
    if (batch.empty()) batch.reserve(points_per_batch * (prefixes[series].size() + 32));
    batch += prefixes[series];
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, sample.value);
    batch.append(buf, r.ptr);
    batch += ' ';
    r = std::to_chars(buf, buf + sizeof buf, sample.ts / unit);
    batch.append(buf, r.ptr);
    batch += '\n';
    if (++lines == points_per_batch) {
      batches.push_back(std::move(batch));
      batch = std::string();
      lines = 0;
    }
  };

  if (dataset.order == SendOrder::series_major) {
    for (std::size_t k = 0; k < dataset.series.size(); ++k)
      for (const auto& sample : dataset.series[k].samples) emit(k, sample);
  } else {
    // k-way merge on (timestamp, series index): time outer, series inner.
    using Head = std::pair<Timestamp, std::size_t>;
    std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
    std::vector<std::size_t> next(dataset.series.size(), 0);
    for (std::size_t k = 0; k < dataset.series.size(); ++k)
      if (!dataset.series[k].samples.empty()) heads.emplace(dataset.series[k].samples[0].ts, k);
    while (!heads.empty()) {
      const std::size_t k = heads.top().second;
      heads.pop();
      const auto& samples = dataset.series[k].samples;
      emit(k, samples[next[k]]);
      if (++next[k] < samples.size()) heads.emplace(samples[next[k]].ts, k);
    }
  }
  if (!batch.empty()) batches.push_back(std::move(batch));
  return batches;
}

}  // namespace strata::bench

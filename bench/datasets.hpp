#pragma once
// The data sets `strata bench store` measures every store with (Strata's own and the peers), and
// their InfluxDB line-protocol form, so that every store is sent exactly the same text.
//
// - synthetic: 1000 industrial sensors of 7 kinds, one reading a second for 10,000 s from
//   2024-01-01T00:00:00Z, written at sensor precision (short decimals), deterministic for a seed.
// - nab: the 58 real and artificial series of the Numenta Anomaly Benchmark
//   (../shared/datasets/nab/data), 365,558 points (365,509 distinct series and timestamp), values
//   bit-exact as in the CSV files.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/series_key.hpp"
#include "core/types.hpp"

namespace strata::bench {

enum class DatasetErrc {
  io = 1,      // a file or directory could not be read
  bad_format,  // a file is not what the data set's format says
};

// One series and its samples, in time order.
struct SeriesData {
  SeriesKey key;
  std::vector<Sample> samples;
};

// How to_line_protocol() interleaves the series, i.e. the order in which devices would send them.
enum class SendOrder {
  time_major,    // all series' readings of one instant, then the next instant (a live plant)
  series_major,  // one series from start to end, then the next (a backfill of files)
};

struct Dataset {
  std::string name;         // "synthetic", "nab"
  std::string measurement;  // line-protocol measurement: "sensor", "nab"
  SendOrder order = SendOrder::series_major;
  std::vector<SeriesData> series;

  [[nodiscard]] std::uint64_t points() const;
  // Points with a distinct (series, timestamp): what a store holds that keeps one value per series
  // and instant (InfluxDB: a later write replaces the earlier one). NAB repeats 49 timestamps
  // within a file (e.g. 12 in machine_temperature_system_failure on 2014-01-07 02:00–02:55, and the
  // two 2011-08-24 12:00:01 rows of exchange-2), so it has 365,509 distinct of 365,558 points.
  [[nodiscard]] std::uint64_t distinct_points() const;
  // Earliest and latest timestamp over all series ({0, 0} when there are no points).
  [[nodiscard]] std::pair<Timestamp, Timestamp> time_span() const;
};

// The synthetic plant, exactly this recipe. Series k (0 ≤ k < series_count) is device "dev%04d",
// kind k mod 7, metric = the kind's name, tag kind=<name>; reading i (0 ≤ i < seconds) is at
// 2024-01-01T00:00:00Z + i s. Each series draws from its own std::mt19937_64 seeded with
// std::seed_seq{seed low 32 bits, seed high 32 bits, k}; z is one std::normal_distribution<double>
// (0, 1) per series (so N(0, σ) = σ·z), u one std::uniform_real_distribution<double>(0, 1).
// Reading 0 is the start value; every later reading draws its step first, then its noise:
//   0 temperature  w₀ = 60, wᵢ = wᵢ₋₁ + 0.05·z;        value = w + 2·sin(i/600), 2 decimals
//   1 vibration    |2 + 0.1·z|,                        3 decimals
//   2 pressure     w₀ = 6, wᵢ = wᵢ₋₁ + 0.002·z;       value = w + 0.01·z, 3 decimals
//   3 current      12 + 0.2·z,                         1 decimal
//   4 flow         30 + 0.5·z,                         1 decimal
//   5 state        s₀ = 1; flips 1↔0 when u < 0.001
//   6 counter      c₀ = 0; c += 1 when u < 0.8
// "d decimals" is v = std::round(x·10^d) / 10^d. Because every series has its own generator, a
// smaller plant (fewer series, fewer seconds) is an exact prefix of the full one. Bit-identical
// wherever the C++ library is the same (the standard leaves normal_distribution's algorithm to
// the library; this is libstdc++'s).
Dataset synthetic_dataset(std::uint64_t seed = 1, std::size_t series_count = 1000,
                          std::size_t seconds = 10'000);

// NAB from its data directory (…/nab/data): every <category>/<file>.csv, categories and files in
// name order. Series: device = file stem, metric "value", tag category=<folder>. Rows are
// "YYYY-MM-DD HH:MM:SS,<value>" after a header line; timestamps are UTC, values are parsed with
// std::from_chars (bit-exact). A malformed row fails the load, naming file and line.
Result<Dataset> nab_dataset(const std::filesystem::path& nab_data_dir);

// The data set as InfluxDB line protocol, `points_per_batch` lines a batch (the last may be
// shorter; 0 is taken as 1), in the data set's SendOrder (time-major ties go in series order).
// A line is `<measurement>,<tags> value=<v> <t>`: the tags are device=<device> plus the series'
// tags, sorted by key as InfluxDB recommends (synthetic: device=…,kind=…; nab: category=…,
// device=…); the metric is not written (synthetic: it equals the kind tag; NAB: it is the field).
// <v> is the shortest text that reads back as the same double (std::to_chars without precision),
// so the text is what a sensor would send; values must be finite. <t> is in the coarsest unit
// that holds every timestamp exactly: "s", "ms" or "u", written to precision_out.
std::vector<std::string> to_line_protocol(const Dataset& dataset, std::size_t points_per_batch,
                                          std::string& precision_out);

}  // namespace strata::bench

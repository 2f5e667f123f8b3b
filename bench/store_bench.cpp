// Micro-benchmarks of the store's hot paths (Google Benchmark): chunk encoding and decoding,
// the aggregate fast path, and in-process appends. The side-by-side figures with peers come from
// `strata bench store` (src/app/bench_store.cpp); these guard the parts against regressions.
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "store/chunk.hpp"
#include "store/query.hpp"
#include "store/store.hpp"

namespace {

using namespace strata;
using namespace strata::store;

// A temperature-like series at sensor precision: a random walk, 2 decimals, one reading a second.
std::vector<Sample> sensor_series(std::size_t n) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> step(0, 0.05);
  std::vector<Sample> out(n);
  double w = 60;
  for (std::size_t i = 0; i < n; ++i) {
    w += step(rng);
    out[i] = {static_cast<Timestamp>(i) * kMicrosPerSecond, std::round(w * 100) / 100};
  }
  return out;
}

// Full chunks, and the shorter ones the head budget seals when many series share it.
void BM_EncodeChunk(benchmark::State& state) {
  const auto samples = sensor_series(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(encode_chunk(samples));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(samples.size()));
}
BENCHMARK(BM_EncodeChunk)->Arg(8192)->Arg(1024)->Arg(128);

void BM_DecodeChunk(benchmark::State& state) {
  const auto bytes = encode_chunk(sensor_series(8192));
  std::vector<Timestamp> ts(1024);
  std::vector<double> v(1024);
  for (auto _ : state) {
    auto d = ChunkDecoder::open(bytes);
    while ((*d)->next_block(ts.data(), v.data(), ts.size()) != 0)
      benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations() * 8192);
}
BENCHMARK(BM_DecodeChunk);

void BM_AggregateMinute(benchmark::State& state) {
  const auto bytes = encode_chunk(sensor_series(8192));
  auto owner = std::make_shared<std::vector<std::uint8_t>>(bytes);
  SeriesSnapshot snap;
  snap.chunks = std::make_shared<const std::vector<ChunkRef>>(std::vector<ChunkRef>{ChunkRef{
      0, 8191 * kMicrosPerSecond, 8192, 1, 1, 0, owner, std::span<const std::uint8_t>(*owner)}});
  for (auto _ : state)
    benchmark::DoNotOptimize(aggregate(snap, kMinTimestamp, kMaxTimestamp, 60 * kMicrosPerSecond));
  state.SetItemsProcessed(state.iterations() * 8192);
}
BENCHMARK(BM_AggregateMinute);

void BM_AppendBatch(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "strata-bench-append";
  std::filesystem::remove_all(dir);
  auto st = Store::open(dir, {});
  std::vector<SeriesId> ids;
  for (int k = 0; k < 100; ++k)
    ids.push_back(*(*st)->resolve(SeriesKey{"dev" + std::to_string(k), "temp", {}}));
  std::vector<Point> batch(10000);
  Timestamp t = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch.size(); ++i)
      batch[i] = Point{ids[i % ids.size()],
                       t + static_cast<Timestamp>(i / ids.size()) * kMicrosPerSecond, 20.5};
    t += static_cast<Timestamp>(batch.size() / ids.size()) * kMicrosPerSecond;
    benchmark::DoNotOptimize((*st)->append(batch));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
  st->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_AppendBatch);

}  // namespace

BENCHMARK_MAIN();

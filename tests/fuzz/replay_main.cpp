// Replays a fuzz target without libFuzzer: every file of the seed corpus given as argv[1], then
// 20,000 pseudo-random mutations of those seeds. Lets the sanitizer build exercise each target.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::vector<std::uint8_t>> seeds;
  if (argc > 1 && std::filesystem::is_directory(argv[1])) {
    for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
      std::ifstream in(e.path(), std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> buf = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits; ++k) {
      const auto op = rng() % 4;
      if (op == 0 && !buf.empty())
        buf[rng() % buf.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      else if (op == 1 && !buf.empty())
        buf.resize(rng() % buf.size());
      else if (op == 2)
        buf.insert(buf.begin() + static_cast<long>(buf.empty() ? 0 : rng() % buf.size()),
                   static_cast<std::uint8_t>(rng()));
      else if (!buf.empty())
        buf[rng() % buf.size()] = static_cast<std::uint8_t>(rng());
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("replayed %zu seeds and 20000 mutations\n", seeds.size());
  return 0;
}

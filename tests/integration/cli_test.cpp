// The command line as scripts use it: `strata --data-dir DIR import FILE…` and `stats --json`,
// on the real NAB corpus, plus refusals and exit codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Run {
  int rc;
  std::string out;
};

Run run(const std::string& args) {
  const std::string cmd = std::string(STRATA_BIN_PATH) + " " + args + " 2>&1";
  Run r{0, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("strata-cli-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(Cli, ImportsNabAndReportsStats) {
  const std::string nab = std::string(STRATA_SHARED_DIR) + "/datasets/nab/data";
  const auto imp = run("--data-dir " + dir_.string() + " import " + nab + "/*/*.csv");
  ASSERT_EQ(imp.rc, 0) << imp.out;
  EXPECT_NE(imp.out.find("imported 365558 points, refused 0"), std::string::npos) << imp.out;
  const auto stats = run("--data-dir " + dir_.string() + " stats --json");
  ASSERT_EQ(stats.rc, 0) << stats.out;
  const auto j = nlohmann::json::parse(stats.out);
  EXPECT_EQ(j["series"], 58);
  // 49 rows of NAB repeat an earlier timestamp of their file: the last write wins.
  EXPECT_EQ(j["points"], 365509);
  EXPECT_EQ(j["wal_bytes"], 0);
  EXPECT_GT(j["data_bytes"].get<std::uint64_t>(), 100'000u);
  EXPECT_LE(j["data_bytes"].get<std::uint64_t>(), j["bytes_on_disk"].get<std::uint64_t>());
  EXPECT_TRUE(j["lost"].empty());
  // the figure stats printed is what is on disk now (stats itself adds nothing that stays)
  std::uint64_t file_bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_))
    if (e.is_regular_file()) file_bytes += e.file_size();
  EXPECT_EQ(j["bytes_on_disk"].get<std::uint64_t>(), file_bytes);

  const auto q = run("--data-dir " + dir_.string() + " query device=nyc_taxi --latest --json");
  ASSERT_EQ(q.rc, 0) << q.out;
  const auto latest = nlohmann::json::parse(q.out.substr(0, q.out.find('\n')));
  EXPECT_EQ(latest["time"], "2015-01-31T23:30:00Z");
  EXPECT_EQ(latest["value"], 26288);
}

// More series than the heads' memory budget (1 Mi points) holds at full length: the store seals
// short chunks while importing, and import merges them before it returns, so each series of 500
// points ends in one chunk (without the merge: two, the first sealed at about 500 by the sweep).
TEST_F(Cli, ImportEndsWithFullChunks) {
  std::filesystem::create_directories(dir_);
  const auto file = dir_ / "many.lp";
  constexpr int kSeries = 2200, kPoints = 500;
  {
    std::ofstream out(file);
    for (int t = 0; t < kPoints; ++t)
      for (int s = 0; s < kSeries; ++s)
        out << "m,device=d" << s << " v=" << (s % 7) * 0.5 + t % 13 << ' ' << 1700000000 + t
            << '\n';
  }
  const auto imp =
      run("--data-dir " + (dir_ / "db").string() + " import " + file.string() + " --precision s");
  ASSERT_EQ(imp.rc, 0) << imp.out;
  EXPECT_NE(imp.out.find("imported 1100000 points, refused 0"), std::string::npos) << imp.out;
  const auto stats = run("--data-dir " + (dir_ / "db").string() + " stats --json");
  ASSERT_EQ(stats.rc, 0) << stats.out;
  const auto j = nlohmann::json::parse(stats.out);
  EXPECT_EQ(j["points"], kSeries * kPoints);
  EXPECT_EQ(j["chunks"], kSeries);
}

TEST_F(Cli, RefusesBadLinesWithReasonsAndKeepsTheRest) {
  std::filesystem::create_directories(dir_);
  const auto file = dir_ / "in.lp";
  std::ofstream(file) << "m,device=a temp=1.5 10000000000000\n"
                         "m,device=a temp=oops 20000000000000\n"
                         "m,device=a temp=2.5 30000000000000\n"
                         "m,device=a temp=0.5 1\n";  // 30,000 s older: beyond the 1 h window
  const auto imp =
      run("--data-dir " + (dir_ / "db").string() + " import " + file.string() + " --precision ns");
  ASSERT_EQ(imp.rc, 0) << imp.out;
  EXPECT_NE(imp.out.find("imported 2 points, refused 2"), std::string::npos) << imp.out;
  EXPECT_NE(imp.out.find("out-of-order window"), std::string::npos) << imp.out;
  EXPECT_NE(imp.out.find("line 2"), std::string::npos) << imp.out;
}

TEST_F(Cli, UserErrorsExitTwoWithOneLine) {
  auto r = run("--data-dir " + dir_.string() + " query 'device=~(' --latest");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("bad regex"), std::string::npos) << r.out;
  r = run("--data-dir " + dir_.string() + " --fsync sometimes stats");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--fsync must be"), std::string::npos) << r.out;
}

}  // namespace

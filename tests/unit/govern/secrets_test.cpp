#include "govern/secrets.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <set>

namespace strata::govern {
namespace {

TEST(Secrets, TokensAreRandomPrefixedAndHashedStably) {
  const std::string a = new_token("dvt_"), b = new_token("dvt_");
  EXPECT_EQ(a.rfind("dvt_", 0), 0u);
  EXPECT_EQ(a.size(), 4u + 43u);
  EXPECT_NE(a, b);
  EXPECT_EQ(token_hash(a), token_hash(a));
  EXPECT_NE(token_hash(a), token_hash(b));
  EXPECT_EQ(token_hash(a).size(), 64u);
  // BLAKE2b-256 of "abc" (RFC 7693 test vectors are for -512; this one is libsodium's own).
  EXPECT_EQ(token_hash("abc"), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

TEST(Secrets, PasswordsVerifyOnlyThemselves) {
  auto h = password_hash("correct horse");
  ASSERT_TRUE(h);
  EXPECT_TRUE(password_matches(*h, "correct horse"));
  EXPECT_FALSE(password_matches(*h, "correct horsE"));
  EXPECT_FALSE(password_matches("garbage", "correct horse"));
}

TEST(Secrets, PseudonymsAreStableKeyedAndExactInADouble) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("secrets-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto p1 = Pseudonymiser::from_key_file(dir / "key");
  ASSERT_TRUE(p1) << p1.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((dir / "key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto p2 = Pseudonymiser::from_key_file(dir / "key");  // the same key, read back
  ASSERT_TRUE(p2);
  const double v = p1->pseudonym("badge-4711");
  EXPECT_EQ(v, p2->pseudonym("badge-4711"));
  EXPECT_NE(v, p1->pseudonym("badge-4712"));
  EXPECT_EQ(v, std::floor(v));
  EXPECT_LT(v, 281474976710656.0);  // 2^48
  std::array<std::uint8_t, 32> other{};
  EXPECT_NE(Pseudonymiser(other).pseudonym("badge-4711"), v);
  std::set<double> distinct;
  for (int i = 0; i < 1000; ++i) distinct.insert(p1->pseudonym("badge-" + std::to_string(i)));
  EXPECT_EQ(distinct.size(), 1000u);
  std::filesystem::resize_file(dir / "key", 5);
  auto bad = Pseudonymiser::from_key_file(dir / "key");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("not 32 bytes"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::govern

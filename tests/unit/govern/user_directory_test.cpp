#include "govern/user_directory.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace strata::govern {
namespace {

class UserDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("users-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    reopen();
  }
  void TearDown() override {
    users_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    users_.reset();
    db_.reset();
    auto db = meta::Database::open(dir_ / "entities.db");
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    auto u = UserDirectory::create(*db_, clock_);
    ASSERT_TRUE(u) << u.error().message;
    users_ = std::move(*u);
  }
  std::filesystem::path dir_;
  SimulatedClock clock_{1'700'000'000'000'000};
  std::unique_ptr<meta::Database> db_;
  std::unique_ptr<UserDirectory> users_;
};

TEST_F(UserDirectoryTest, TokensAuthenticateTheirUserAcrossRestartsUntilRevoked) {
  ASSERT_TRUE(users_->add_user("ines", Role::engineer));
  auto t = users_->issue_token("ines", "laptop");
  ASSERT_TRUE(t);
  auto who = users_->authenticate(t->token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->user, "ines");
  EXPECT_EQ(who->role, Role::engineer);
  EXPECT_FALSE(users_->authenticate(t->token + "x"));
  reopen();
  ASSERT_TRUE(users_->authenticate(t->token));
  ASSERT_TRUE(users_->set_role("ines", Role::viewer));
  EXPECT_EQ(users_->authenticate(t->token)->role, Role::viewer);
  ASSERT_TRUE(users_->revoke_token(t->info.id));
  EXPECT_FALSE(users_->authenticate(t->token));
  reopen();
  EXPECT_FALSE(users_->authenticate(t->token));
}

TEST_F(UserDirectoryTest, OnlyHashesAreStored) {
  ASSERT_TRUE(users_->add_user("ines", Role::engineer));
  auto t = users_->issue_token("ines", "laptop");
  ASSERT_TRUE(t);
  users_.reset();
  db_.reset();
  std::ifstream f(dir_ / "entities.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::ifstream w(dir_ / "entities.db-wal", std::ios::binary);
  bytes.append((std::istreambuf_iterator<char>(w)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(t->token.substr(4)), std::string::npos);
  EXPECT_NE(bytes.find(token_hash(t->token)), std::string::npos);
}

TEST_F(UserDirectoryTest, RemovingAUserRevokesTheirTokens) {
  ASSERT_TRUE(users_->add_user("ole", Role::operator_));
  auto t = users_->issue_token("ole", "tablet");
  ASSERT_TRUE(t);
  ASSERT_TRUE(users_->remove_user("ole"));
  EXPECT_FALSE(users_->authenticate(t->token));
  EXPECT_TRUE(users_->tokens().empty());
}

TEST_F(UserDirectoryTest, BadNamesDuplicatesAndUnknownsAreRefusedClearly) {
  auto bad = users_->add_user("robert'); drop", Role::viewer);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("must be 1 to 64"), std::string::npos);
  ASSERT_TRUE(users_->add_user("ines", Role::viewer));
  auto dup = users_->add_user("ines", Role::admin);
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().is(errc::conflict));
  EXPECT_FALSE(users_->issue_token("nobody", "x"));
  EXPECT_TRUE(users_->revoke_token("000000000000").error().is(errc::not_found));
}

TEST_F(UserDirectoryTest, BootstrapCreatesAdminOnceWithAPrivateTokenFile) {
  auto first = users_->bootstrap_admin(dir_ / "admin-token");
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  std::ifstream f(dir_ / "admin-token");
  std::string token;
  f >> token;
  auto who = users_->authenticate(token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->role, Role::admin);
  EXPECT_EQ(std::filesystem::status(dir_ / "admin-token").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto again = users_->bootstrap_admin(dir_ / "admin-token");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
}

TEST(Roles, NamesRoundTrip) {
  for (std::size_t i = 0; i < kRoleCount; ++i) {
    const auto r = static_cast<Role>(i);
    EXPECT_EQ(parse_role(role_name(r)), r);
  }
  EXPECT_FALSE(parse_role("root"));
  RoleSet s{Role::admin, Role::engineer};
  EXPECT_TRUE(s.contains(Role::engineer));
  EXPECT_FALSE(s.contains(Role::viewer));
  EXPECT_TRUE(RoleSet::all().contains(Role::viewer));
}

}  // namespace
}  // namespace strata::govern

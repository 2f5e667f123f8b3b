#include "meta/database.hpp"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>

namespace strata::meta {
namespace {

constexpr std::array<Migration, 2> kV2 = {{
    {1, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"},
    {2, "ALTER TABLE t ADD COLUMN note TEXT"},
}};

TEST(Database, MigrationsApplyOnceAndSurviveReopen) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("meta-db-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto db = Database::open(dir / "entities.db");
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE((*db)->migrate("test", std::span(kV2).first(1)));
    ASSERT_TRUE((*db)->write([](SQLite::Database& d) { d.exec("INSERT INTO t VALUES('a', 1)"); }));
  }
  auto db = Database::open(dir / "entities.db");
  ASSERT_TRUE(db);
  // Version 1 is recorded: only version 2 runs (running 1 again would fail: the table exists).
  ASSERT_TRUE((*db)->migrate("test", kV2));
  int count = 0;
  ASSERT_TRUE((*db)->read([&](SQLite::Database& d) {
    SQLite::Statement q(d, "SELECT count(*), max(note IS NULL) FROM t");
    ASSERT_TRUE(q.executeStep());
    count = q.getColumn(0).getInt();
    EXPECT_EQ(q.getColumn(1).getInt(), 1);
  }));
  EXPECT_EQ(count, 1);
  std::filesystem::remove_all(dir);
}

TEST(Database, FailedWriteRollsBackAndNamesTheConstraint) {
  auto db = Database::open_in_memory();
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->migrate("test", std::span(kV2).first(1)));
  ASSERT_TRUE((*db)->write([](SQLite::Database& d) { d.exec("INSERT INTO t VALUES('a', 1)"); }));
  auto st = (*db)->write([](SQLite::Database& d) {
    d.exec("INSERT INTO t VALUES('b', 2)");
    d.exec("INSERT INTO t VALUES('a', 3)");  // duplicate key: the whole transaction goes
  });
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::constraint)) << st.error().message;
  int count = 0;
  ASSERT_TRUE((*db)->read(
      [&](SQLite::Database& d) { count = d.execAndGet("SELECT count(*) FROM t").getInt(); }));
  EXPECT_EQ(count, 1);
}

TEST(Database, UnopenablePathIsAClearError) {
  auto db = Database::open("/nonexistent-dir/x/entities.db");
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message.find("/nonexistent-dir/x/entities.db"), std::string::npos);
}

}  // namespace
}  // namespace strata::meta

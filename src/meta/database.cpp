#include "meta/database.hpp"

#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

namespace strata::meta {

namespace {

Error from_exception(const std::exception& e) {
  if (const auto* se = dynamic_cast<const SQLite::Exception*>(&e)) {
    if (se->getErrorCode() == SQLITE_CONSTRAINT) return Error::of(errc::constraint, se->what());
  }
  return Error::of(errc::io, std::string("entity store: ") + e.what());
}

}  // namespace

Result<std::unique_ptr<Database>> Database::configure(std::unique_ptr<SQLite::Database> db) {
  try {
    db->exec("PRAGMA journal_mode=WAL");
    db->exec("PRAGMA synchronous=FULL");
    db->exec("PRAGMA foreign_keys=ON");
    db->setBusyTimeout(5000);
    db->exec(
        "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, "
        "version INTEGER NOT NULL)");
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  return std::unique_ptr<Database>(new Database(std::move(db)));
}

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& file) {
  try {
    return configure(std::make_unique<SQLite::Database>(
        file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX));
  } catch (const std::exception& e) {
    return Error::of(errc::io, "cannot open the entity store " + file.string() + ": " + e.what());
  }
}

Result<std::unique_ptr<Database>> Database::open_in_memory() {
  try {
    return configure(std::make_unique<SQLite::Database>(
        ":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX));
  } catch (const std::exception& e) {
    return from_exception(e);
  }
}

Status Database::migrate(const std::string& component, std::span<const Migration> migrations) {
  int current = 0;
  auto st = read([&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT version FROM schema_versions WHERE component = ?");
    q.bind(1, component);
    if (q.executeStep()) current = q.getColumn(0).getInt();
  });
  if (!st) return st;
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    st = write([&](SQLite::Database& db) {
      db.exec(m.sql);
      SQLite::Statement up(db,
                           "INSERT INTO schema_versions(component, version) VALUES(?, ?) "
                           "ON CONFLICT(component) DO UPDATE SET version = excluded.version");
      up.bind(1, component);
      up.bind(2, m.version);
      up.exec();
    });
    if (!st)
      return Error::of(errc::schema, "entity store: migration " + std::to_string(m.version) +
                                         " of " + component + " failed: " + st.error().message);
  }
  return {};
}

Status Database::write(const std::function<void(SQLite::Database&)>& work) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    work(*db_);
    tx.commit();
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  return {};
}

Status Database::read(const std::function<void(SQLite::Database&)>& work) const {
  std::lock_guard lock(mu_);
  try {
    work(*db_);
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  return {};
}

}  // namespace strata::meta

#pragma once
// Database: the entity store (devices, models, users, tokens, quarantine, lineage) — an SQLite file
// under the data directory in the embedded default (shared/DESIGN.md, "Storage"). Repositories
// (registry/, govern/, pipeline/) write portable SQL through it; PostgreSQL comes when several
// nodes share their entities.
//
// Guarantees: every call runs alone (one connection, serialised); `write` runs in one transaction
// that is durable (journal WAL, synchronous FULL) when it returns ok, and rolled back on error.
// SQLiteCpp's exceptions stay inside: callers get a Result.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "core/result.hpp"

namespace strata::meta {

enum class errc { io = 1, constraint, not_found, schema };

// One step of a repository's schema: applied once, in order, recorded in `schema_versions`.
struct Migration {
  int version;
  const char* sql;
};

class Database {
 public:
  // Opens (creating) the SQLite file.
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& file);
  // An in-memory database, for tests.
  static Result<std::unique_ptr<Database>> open_in_memory();

  // Applies the migrations of `component` newer than the recorded version, each in a transaction.
  Status migrate(const std::string& component, std::span<const Migration> migrations);

  // Runs `work` in a transaction. A UNIQUE/PRIMARY KEY violation becomes errc::constraint.
  Status write(const std::function<void(SQLite::Database&)>& work);
  // Runs `work` (reads) under the connection lock.
  Status read(const std::function<void(SQLite::Database&)>& work) const;

 private:
  explicit Database(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
  static Result<std::unique_ptr<Database>> configure(std::unique_ptr<SQLite::Database> db);

  mutable std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace strata::meta

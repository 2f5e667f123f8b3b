#include "pipeline/quarantine.hpp"

#include <array>

namespace strata::pipeline {

namespace {
constexpr std::array<meta::Migration, 1> kSchema = {{
    {1,
     "CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, received INTEGER NOT NULL, "
     "  transport TEXT NOT NULL, device TEXT NOT NULL, message_id TEXT NOT NULL, "
     "  metric TEXT NOT NULL, reason TEXT NOT NULL, raw BLOB NOT NULL);"
     "CREATE INDEX quarantine_device ON quarantine(device, id);"},
}};

std::optional<Transport> transport_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kTransportCount; ++i)
    if (transport_name(static_cast<Transport>(i)) == name) return static_cast<Transport>(i);
  return std::nullopt;
}
}  // namespace

Result<std::unique_ptr<QuarantineLog>> QuarantineLog::open(const std::filesystem::path& file,
                                                           std::size_t max_entries,
                                                           std::size_t queue_bound) {
  auto db = file.empty() ? meta::Database::open_in_memory() : meta::Database::open(file);
  if (!db) return db.error();
  if (auto st = (*db)->migrate("quarantine", kSchema); !st) return st.error();
  return std::unique_ptr<QuarantineLog>(
      new QuarantineLog(std::move(*db), max_entries, queue_bound));
}

QuarantineLog::QuarantineLog(std::unique_ptr<meta::Database> db, std::size_t max_entries,
                             std::size_t queue_bound)
    : db_(std::move(db)),
      max_entries_(max_entries),
      writer_(queue_bound, 4096, [this](std::vector<QuarantineEntry>& b) { write_batch(b); }) {}

QuarantineLog::~QuarantineLog() = default;

void QuarantineLog::add(QuarantineEntry entry) {
  totals_[static_cast<std::size_t>(entry.transport)].fetch_add(1, std::memory_order_relaxed);
  if (entry.raw.size() > kMaxRawBytes) entry.raw.resize(kMaxRawBytes);
  if (!writer_.try_add(entry)) overflowed_.fetch_add(1, std::memory_order_relaxed);
}

void QuarantineLog::write_batch(std::vector<QuarantineEntry>& batch) {
  // A failed write is reported on the next query (the entries stay counted in totals).
  (void)db_->write([&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT INTO quarantine(received, transport, device, message_id, metric, "
                        "reason, raw) VALUES(?, ?, ?, ?, ?, ?, ?)");
    for (const auto& e : batch) {
      q.reset();
      q.bind(1, static_cast<int64_t>(e.received));
      q.bind(2, std::string(transport_name(e.transport)));
      q.bind(3, e.device_id);
      q.bind(4, e.message_id);
      q.bind(5, e.metric);
      q.bind(6, e.reason);
      q.bind(7, e.raw.data(), static_cast<int>(e.raw.size()));
      q.exec();
    }
    SQLite::Statement prune(db,
                            "DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM "
                            "quarantine) - ?");
    prune.bind(1, static_cast<int64_t>(max_entries_));
    prune.exec();
  });
}

void QuarantineLog::flush() { writer_.flush(); }

Result<std::vector<QuarantineEntry>> QuarantineLog::query(const QuarantineQuery& q) {
  flush();
  std::vector<QuarantineEntry> out;
  std::string sql =
      "SELECT id, received, transport, device, message_id, metric, reason, raw FROM quarantine "
      "WHERE received >= ? AND received <= ?";
  if (q.device_id) sql += " AND device = ?";
  if (q.transport) sql += " AND transport = ?";
  if (q.before_id > 0) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";
  auto st = db_->read([&](SQLite::Database& db) {
    SQLite::Statement s(db, sql);
    int i = 1;
    s.bind(i++, static_cast<int64_t>(q.from));
    s.bind(i++, static_cast<int64_t>(q.to));
    if (q.device_id) s.bind(i++, *q.device_id);
    if (q.transport) s.bind(i++, std::string(transport_name(*q.transport)));
    if (q.before_id > 0) s.bind(i++, static_cast<int64_t>(q.before_id));
    s.bind(i++, static_cast<int64_t>(q.limit));
    while (s.executeStep()) {
      QuarantineEntry e;
      e.id = s.getColumn(0).getInt64();
      e.received = s.getColumn(1).getInt64();
      e.transport = transport_from_name(s.getColumn(2).getString()).value_or(Transport::http);
      e.device_id = s.getColumn(3).getString();
      e.message_id = s.getColumn(4).getString();
      e.metric = s.getColumn(5).getString();
      e.reason = s.getColumn(6).getString();
      const auto raw = s.getColumn(7);
      e.raw.assign(static_cast<const char*>(raw.getBlob()),
                   static_cast<std::size_t>(raw.getBytes()));
      out.push_back(std::move(e));
    }
  });
  if (!st) return st.error();
  return out;
}

}  // namespace strata::pipeline

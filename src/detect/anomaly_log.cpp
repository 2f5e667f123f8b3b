#include "detect/anomaly_log.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace strata::detect {

namespace {

constexpr std::array<meta::Migration, 1> kSchema = {{
    {1,
     "CREATE TABLE anomalies (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, "
     "  device TEXT NOT NULL, metric TEXT NOT NULL, series INTEGER NOT NULL, value REAL, "
     "  score REAL NOT NULL, raw_score REAL, driver TEXT NOT NULL, detector TEXT NOT NULL, "
     "  version TEXT NOT NULL, expected REAL, band REAL, unit TEXT NOT NULL, "
     "  message TEXT NOT NULL, signals TEXT NOT NULL, multivariate INTEGER NOT NULL, "
     "  recorded INTEGER NOT NULL, UNIQUE(series, ts, version));"
     "CREATE INDEX anomalies_device ON anomalies(device, id);"},
}};

}  // namespace

Result<std::unique_ptr<AnomalyLog>> AnomalyLog::open(const std::filesystem::path& file,
                                                     const Clock& clock, std::size_t max_entries,
                                                     std::size_t queue_bound) {
  auto db = file.empty() ? meta::Database::open_in_memory() : meta::Database::open(file);
  if (!db) return db.error();
  if (auto st = (*db)->migrate("anomalies", kSchema); !st) return st.error();
  return std::unique_ptr<AnomalyLog>(
      new AnomalyLog(std::move(*db), clock, max_entries, queue_bound));
}

AnomalyLog::AnomalyLog(std::unique_ptr<meta::Database> db, const Clock& clock,
                       std::size_t max_entries, std::size_t queue_bound)
    : db_(std::move(db)),
      clock_(clock),
      max_entries_(max_entries),
      writer_(queue_bound, 1024, [this](std::vector<AnomalyEvent>& b) { write_batch(b); }) {}

AnomalyLog::~AnomalyLog() = default;

bool AnomalyLog::add(AnomalyEvent event) { return writer_.add(std::move(event)); }

void AnomalyLog::flush() { writer_.flush(); }

void AnomalyLog::write_batch(std::vector<AnomalyEvent>& batch) {
  const Timestamp now = clock_.now();
  auto st = db_->write([&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT OR IGNORE INTO anomalies(ts, device, metric, series, value, score, "
                        "raw_score, driver, detector, version, expected, band, unit, message, "
                        "signals, multivariate, recorded) "
                        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const auto& e : batch) {
      q.reset();
      q.bind(1, static_cast<int64_t>(e.ts));
      q.bind(2, e.device);
      q.bind(3, e.metric);
      q.bind(4, static_cast<int64_t>(e.series));
      q.bind(5, e.value);
      q.bind(6, e.score);
      q.bind(7, e.raw_score);
      q.bind(8, e.driver);
      q.bind(9, e.detector);
      q.bind(10, e.version);
      if (e.expected)
        q.bind(11, *e.expected);
      else
        q.bind(11);
      if (e.band)
        q.bind(12, *e.band);
      else
        q.bind(12);
      q.bind(13, e.unit);
      q.bind(14, e.message);
      std::string signals;
      if (e.multivariate) {
        nlohmann::json s = nlohmann::json::array();
        for (const auto& x : e.signals) s.push_back({x.metric, x.share});
        signals = s.dump();
      }
      q.bind(15, signals);
      q.bind(16, e.multivariate ? 1 : 0);
      q.bind(17, static_cast<int64_t>(now));
      q.exec();
    }
    SQLite::Statement prune(
        db, "DELETE FROM anomalies WHERE id <= (SELECT max(id) FROM anomalies) - ?");
    prune.bind(1, static_cast<int64_t>(max_entries_));
    prune.exec();
  });
  if (!st) write_errors_.fetch_add(1, std::memory_order_relaxed);
}

Result<std::vector<AnomalyEvent>> AnomalyLog::query(const AnomalyQuery& q) {
  flush();
  std::string sql =
      "SELECT id, ts, device, metric, series, value, score, raw_score, driver, detector, version, "
      "expected, band, unit, message, signals, multivariate FROM anomalies WHERE ts >= ? AND "
      "ts <= ? AND score >= ?";
  if (q.device) sql += " AND device = ?";
  if (q.metric) sql += " AND metric = ?";
  if (q.before_id > 0) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";
  std::vector<AnomalyEvent> out;
  auto st = db_->read([&](SQLite::Database& db) {
    SQLite::Statement s(db, sql);
    int i = 1;
    s.bind(i++, static_cast<int64_t>(q.from));
    s.bind(i++, static_cast<int64_t>(q.to));
    s.bind(i++, q.min_score);
    if (q.device) s.bind(i++, *q.device);
    if (q.metric) s.bind(i++, *q.metric);
    if (q.before_id > 0) s.bind(i++, static_cast<int64_t>(q.before_id));
    s.bind(i++, static_cast<int64_t>(q.limit));
    while (s.executeStep()) {
      AnomalyEvent e;
      e.id = s.getColumn(0).getInt64();
      e.ts = s.getColumn(1).getInt64();
      e.device = s.getColumn(2).getString();
      e.metric = s.getColumn(3).getString();
      e.series = static_cast<SeriesId>(s.getColumn(4).getInt64());
      e.value = s.getColumn(5).getDouble();
      e.score = s.getColumn(6).getDouble();
      e.raw_score = s.getColumn(7).getDouble();
      e.driver = s.getColumn(8).getString();
      e.detector = s.getColumn(9).getString();
      e.version = s.getColumn(10).getString();
      if (!s.getColumn(11).isNull()) e.expected = s.getColumn(11).getDouble();
      if (!s.getColumn(12).isNull()) e.band = s.getColumn(12).getDouble();
      e.unit = s.getColumn(13).getString();
      e.message = s.getColumn(14).getString();
      e.multivariate = s.getColumn(16).getInt() != 0;
      if (e.multivariate) {
        auto sig = nlohmann::json::parse(s.getColumn(15).getString(), nullptr, false);
        if (sig.is_array())
          for (const auto& x : sig)
            if (x.is_array() && x.size() == 2 && x[0].is_string() && x[1].is_number())
              e.signals.push_back({x[0].get<std::string>(), x[1].get<double>()});
      }
      out.push_back(std::move(e));
    }
  });
  if (!st) return st.error();
  return out;
}

}  // namespace strata::detect

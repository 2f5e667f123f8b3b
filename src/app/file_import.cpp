#include "app/file_import.hpp"

#include <string_view>
#include <unordered_map>

#include "core/time_format.hpp"

namespace strata::app {
namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Collects points into mixed batches and hands them to the store.
class BatchWriter {
 public:
  BatchWriter(store::Store& store, const ImportOptions& options, ImportReport& report)
      : store_(store), options_(options), report_(report) {
    points_.reserve(options.batch_points);
  }
  void add(SeriesId id, Timestamp ts, double value) {
    points_.push_back(Point{id, ts, value});
    if (points_.size() >= options_.batch_points) flush();
  }
  void refuse(std::string reason) {
    ++report_.refused;
    if (report_.reasons.size() < options_.keep_reasons)
      report_.reasons.push_back(std::move(reason));
  }
  void flush() {
    if (points_.empty() || !status_) return;
    auto r = store_.append(points_);
    points_.clear();
    if (!r) {
      status_ = r.error();
      return;
    }
    report_.accepted += r->accepted;
    for (auto& f : r->refused) {
      auto key = store_.key(f.series);
      refuse((key ? key->to_string() : "series " + std::to_string(f.series)) + ": " + f.reason);
    }
  }
  [[nodiscard]] const Status& status() const { return status_; }
  store::Store& store() { return store_; }

 private:
  store::Store& store_;
  const ImportOptions& options_;
  ImportReport& report_;
  std::vector<Point> points_;
  Status status_;
};

class LineProtocolImport final : public ingest::LineProtocolSink {
 public:
  explicit LineProtocolImport(BatchWriter& out) : out_(out) {}
  void point(std::string_view series_text, std::string_view field, Timestamp ts,
             double value) override {
    auto it = ids_.find(series_text);
    if (it == ids_.end()) it = ids_.emplace(std::string(series_text), Fields{}).first;
    for (const auto& [f, id] : it->second) {
      if (f == field) return out_.add(id, ts, value);
    }
    auto key = ingest::series_key_for(series_text, field);
    if (!key) return out_.refuse(key.error().message);
    auto id = out_.store().resolve(*key);
    if (!id) return out_.refuse(id.error().message);
    it->second.emplace_back(std::string(field), *id);
    out_.add(*id, ts, value);
  }
  void refuse(std::size_t, std::string_view reason) override { out_.refuse(std::string(reason)); }

 private:
  using Fields = std::vector<std::pair<std::string, SeriesId>>;
  BatchWriter& out_;
  std::unordered_map<std::string, Fields, StringHash, std::equal_to<>> ids_;
};

class CsvImport final : public ingest::CsvSink {
 public:
  CsvImport(BatchWriter& out, SeriesKey base, std::string file)
      : out_(out), base_(std::move(base)), file_(std::move(file)) {}
  void header(std::span<const std::string> columns) override {
    ids_.assign(columns.size(), std::nullopt);
    for (std::size_t c = 1; c < columns.size(); ++c) {
      SeriesKey key = base_;
      key.metric = columns[c];
      auto id = out_.store().resolve(key);
      if (id)
        ids_[c] = *id;
      else
        out_.refuse(file_ + ": column '" + columns[c] + "': " + id.error().message);
    }
  }
  void point(std::size_t column, Timestamp ts, double value) override {
    if (column < ids_.size() && ids_[column])
      out_.add(*ids_[column], ts, value);
    else
      out_.refuse(file_ + ": a reading in column " + std::to_string(column) + " has no series");
  }
  void refuse(std::size_t, std::string_view reason) override {
    out_.refuse(file_ + ": " + std::string(reason));
  }

 private:
  BatchWriter& out_;
  SeriesKey base_;
  std::string file_;
  std::vector<std::optional<SeriesId>> ids_;
};

}  // namespace

bool is_csv(const std::filesystem::path& file) {
  return file.extension() == ".csv" || file.extension() == ".CSV";
}

Result<ImportReport> import_files(store::Store& store,
                                  const std::vector<std::filesystem::path>& files,
                                  const ImportOptions& options) {
  ImportReport report;
  BatchWriter writer(store, options, report);
  LineProtocolImport lp(writer);
  for (const auto& file : files) {
    if (is_csv(file)) {
      SeriesKey base;
      base.device = options.device.empty() ? file.stem().string() : options.device;
      base.tags = options.tags;
      CsvImport sink(writer, base, file.filename().string());
      ingest::CsvOptions co;
      co.epoch_unit = options.epoch_unit;
      auto r = ingest::read_csv_file(file, co, sink);
      if (!r) return r.error();
    } else {
      ingest::LineProtocolOptions lo;
      lo.precision = options.precision;
      lo.default_time = SystemClock().now();
      auto r = ingest::parse_line_protocol_file(file, lo, lp);
      if (!r) return r.error();
    }
    writer.flush();
    if (!writer.status()) return writer.status().error();
  }
  if (auto s = store.checkpoint(); !s) return s.error();
  // With more series than the head budget holds at full length, the sweep sealed short chunks;
  // merged into full ones they compress better and aggregate faster.
  if (auto s = store.compact(); !s) return s.error();
  return report;
}

}  // namespace strata::app

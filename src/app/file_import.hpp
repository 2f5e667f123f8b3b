#pragma once
// FileImporter: `strata import` — reads CSV and InfluxDB line-protocol files into the store in
// large mixed batches (one WAL record each), counts what it took and what it refused (with the
// first reasons kept for the user), and ends with a checkpoint so that every point is durable
// and sealed when it returns.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "ingest/csv_reader.hpp"
#include "ingest/line_protocol.hpp"
#include "store/store.hpp"

namespace strata::app {

struct ImportOptions {
  ingest::Precision precision = ingest::Precision::ns;            // line protocol timestamps
  ingest::EpochUnit epoch_unit = ingest::EpochUnit::auto_detect;  // CSV numeric timestamps
  std::string device;  // CSV: the device of every column (default: the file's stem)
  std::vector<std::pair<std::string, std::string>> tags;  // CSV: tags of every series
  std::size_t batch_points = 65536;
  std::size_t keep_reasons = 10;
};

struct ImportReport {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
  std::vector<std::string> reasons;  // the first refusals, in words
};

// Format of a file by its extension: .csv → CSV, anything else → line protocol.
bool is_csv(const std::filesystem::path& file);

Result<ImportReport> import_files(store::Store& store,
                                  const std::vector<std::filesystem::path>& files,
                                  const ImportOptions& options);

}  // namespace strata::app

#pragma once
// SeriesRegistry: the persistent map (device, metric, tags) → dense SeriesId, and the inverted
// index that finds series by tag. A registration is written (survives a process crash) before
// the id is returned; its fsync is deferred to sync(), which the store calls before every WAL
// fsync and checkpoint, so no durable WAL record can name an id the registry lost to a power cut.
//
// File series.log: records of
//   u32 payload length, u32 CRC-32C of the payload,
//   payload: varint id, str device, str metric, varint n_tags, n × (str key, str value)
// (str = varint length + bytes). Ids are dense and in order; a torn tail is cut on open, while
// damage followed by records that check is corruption: open refuses it and leaves the file.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "core/series_key.hpp"
#include "core/types.hpp"

namespace strata::store {

class SeriesRegistry {
 public:
  static Result<std::unique_ptr<SeriesRegistry>> open(const std::filesystem::path& file);
  ~SeriesRegistry();

  // The id of key (normalised), registering it durably if new.
  Result<SeriesId> resolve(SeriesKey key);
  [[nodiscard]] std::optional<SeriesId> find(const SeriesKey& key) const;
  // Fsyncs the registrations written since the last sync.
  Status sync();
  // The key of a registered id (copy: the registry may grow concurrently).
  [[nodiscard]] std::optional<SeriesKey> key(SeriesId id) const;
  [[nodiscard]] std::size_t size() const;
  // Ids whose field (`device`, `metric` or a tag key) equals value.
  [[nodiscard]] std::vector<SeriesId> with(const std::string& field,
                                           const std::string& value) const;
  [[nodiscard]] std::vector<SeriesKey> keys() const;

 private:
  SeriesRegistry() = default;
  static std::string canonical(const SeriesKey& key);
  void index(SeriesId id, const SeriesKey& key);

  mutable std::shared_mutex mu_;
  std::filesystem::path file_;
  int fd_ = -1;
  bool dirty_ = false;  // guarded by mu_
  std::vector<SeriesKey> keys_;
  std::unordered_map<std::string, SeriesId> ids_;
  std::map<std::pair<std::string, std::string>, std::vector<SeriesId>> postings_;
};

}  // namespace strata::store

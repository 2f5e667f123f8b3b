#pragma once
// DeviceRegistry: the devices and device models a plant has, kept in the entity store and mirrored
// in memory so the data path never waits on SQL. It is what transports authenticate against
// (ingest::DeviceAuthenticator: a device token or a device id with its secret) and what the
// pipeline asks for a device's compiled model (pipeline::DeviceCatalog). Tokens and secrets are
// kept as hashes only (govern/secrets.hpp); a token is shown once, when it is issued.
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "ingest/device_auth.hpp"
#include "meta/database.hpp"
#include "model/compiled_model.hpp"
#include "model/device.hpp"
#include "model/device_model.hpp"
#include "pipeline/device_catalog.hpp"
#include "registry/document_validator.hpp"

namespace strata::registry {

enum class errc { not_found = 1, conflict, invalid, in_use, io };

// A model as the registry holds it: the parsed model and what the pipeline runs.
struct StoredModel {
  model::DeviceModel model;
  std::shared_ptr<const model::CompiledModel> compiled;
};

// A device just created or given a new token: the only time the token is in clear.
struct DeviceWithToken {
  model::Device device;
  std::string token;
};

class DeviceRegistry final : public ingest::DeviceAuthenticator, public pipeline::DeviceCatalog {
 public:
  static Result<std::unique_ptr<DeviceRegistry>> create(meta::Database& db, const Clock& clock);

  // --- models
  Result<std::shared_ptr<const StoredModel>> add_model(const model::DeviceModel& m);
  // Replaces a model; devices following it use the new version from their next message.
  Result<std::shared_ptr<const StoredModel>> replace_model(const model::DeviceModel& m);
  Status remove_model(const std::string& id);  // errc::in_use while devices follow it
  [[nodiscard]] std::shared_ptr<const StoredModel> model(const std::string& id) const;
  [[nodiscard]] std::vector<std::shared_ptr<const StoredModel>> models() const;

  // --- devices (the model must exist)
  Result<DeviceWithToken> add_device(const model::Device& d);
  // Several devices in one transaction: all or none.
  Result<std::vector<DeviceWithToken>> add_devices(const std::vector<model::Device>& ds);
  Result<model::Device> update_device(const model::Device& d);
  Status remove_device(const std::string& id);
  Result<std::string> rotate_token(const std::string& id);
  // Sets (or, with an empty secret, clears) the password for username/password MQTT logins.
  Status set_secret(const std::string& id, const std::string& secret);
  [[nodiscard]] std::optional<model::Device> device_by_id(const std::string& id) const;
  [[nodiscard]] std::vector<model::Device> devices() const;
  [[nodiscard]] std::size_t device_count() const;

  // Called after every change of a device (created, updated, removed: nullopt), outside locks.
  // A model replaced calls it for every device following the model.
  void on_device_change(std::function<void(const std::string& id, const model::Device*)> f);
  // Adds a check every model and device must pass before it is written (errc::invalid otherwise).
  // Install checks before serving; `v` must outlive the registry.
  void add_validator(const DocumentValidator* v);

  // --- ingest::DeviceAuthenticator
  [[nodiscard]] std::optional<ingest::DeviceIdentity> by_token(
      std::string_view token) const override;
  [[nodiscard]] std::optional<ingest::DeviceIdentity> by_secret(
      std::string_view device_id, std::string_view secret) const override;

  // --- pipeline::DeviceCatalog
  [[nodiscard]] std::shared_ptr<const pipeline::DeviceContext> device(
      std::string_view id) const override;

 private:
  struct Entry {
    std::shared_ptr<const pipeline::DeviceContext> context;
    std::string token_hash;
    std::string secret_hash;
  };
  DeviceRegistry(meta::Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  Status load();
  Result<std::shared_ptr<const StoredModel>> compile(const model::DeviceModel& m) const;
  Result<std::shared_ptr<const StoredModel>> put_model(const model::DeviceModel& m, bool replace);
  // The validators' verdict; `prefix` replaces the leading "$" of a device's message ("$[3]").
  // REQUIRES: mu_ held (validators_ and models_ are read).
  Status check_model(const model::DeviceModel& m) const;
  Status check_device(const model::Device& d, const std::string& prefix) const;
  std::shared_ptr<const pipeline::DeviceContext> context_for(const model::Device& d) const;
  void notify(const std::string& id, const model::Device* d);

  meta::Database& db_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const StoredModel>> models_;
  std::unordered_map<std::string, Entry> devices_;
  std::unordered_map<std::string, std::string> device_by_token_hash_;
  std::vector<std::function<void(const std::string&, const model::Device*)>> listeners_;
  std::vector<const DocumentValidator*> validators_;
};

}  // namespace strata::registry

#include "registry/device_registry.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <nlohmann/json.hpp>

#include "govern/secrets.hpp"

namespace strata::registry {

namespace {

constexpr std::array<meta::Migration, 1> kSchema = {{
    {1,
     "CREATE TABLE device_models (id TEXT PRIMARY KEY, document TEXT NOT NULL, "
     "  updated INTEGER NOT NULL);"
     "CREATE TABLE devices (id TEXT PRIMARY KEY, model TEXT NOT NULL REFERENCES device_models(id),"
     "  document TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL "
     "  DEFAULT '', created INTEGER NOT NULL, updated INTEGER NOT NULL);"},
}};

Error not_found(const std::string& what) { return Error::of(errc::not_found, what); }

}  // namespace

Result<std::unique_ptr<DeviceRegistry>> DeviceRegistry::create(meta::Database& db,
                                                               const Clock& clock) {
  if (auto st = db.migrate("device_registry", kSchema); !st) return st.error();
  std::unique_ptr<DeviceRegistry> r(new DeviceRegistry(db, clock));
  if (auto st = r->load(); !st) return st.error();
  return r;
}

Result<std::shared_ptr<const StoredModel>> DeviceRegistry::compile(
    const model::DeviceModel& m) const {
  auto compiled = model::CompiledModel::create(m);
  if (!compiled) return Error::of(errc::invalid, compiled.error().message);
  auto stored = std::make_shared<StoredModel>();
  stored->model = m;
  stored->compiled = std::make_shared<const model::CompiledModel>(std::move(*compiled));
  return std::shared_ptr<const StoredModel>(std::move(stored));
}

std::shared_ptr<const pipeline::DeviceContext> DeviceRegistry::context_for(
    const model::Device& d) const {
  auto ctx = std::make_shared<pipeline::DeviceContext>();
  ctx->device = d;
  if (auto it = models_.find(d.model_id); it != models_.end()) ctx->model = it->second->compiled;
  return ctx;
}

Status DeviceRegistry::load() {
  std::vector<std::string> model_docs;
  struct Row {
    std::string document, token_hash, secret_hash;
  };
  std::vector<Row> rows;
  auto st = db_.read([&](SQLite::Database& db) {
    SQLite::Statement m(db, "SELECT document FROM device_models");
    while (m.executeStep()) model_docs.push_back(m.getColumn(0).getString());
    SQLite::Statement d(db, "SELECT document, token_hash, secret_hash FROM devices");
    while (d.executeStep())
      rows.push_back(
          {d.getColumn(0).getString(), d.getColumn(1).getString(), d.getColumn(2).getString()});
  });
  if (!st) return st;
  for (const auto& doc : model_docs) {
    auto m = model::parse_device_model(doc);
    if (!m) return Error::of(errc::io, "entity store holds an invalid model: " + m.error().message);
    auto stored = compile(*m);
    if (!stored) return stored.error();
    models_[m->id] = std::move(*stored);
  }
  for (const auto& row : rows) {
    auto d = model::parse_device(row.document);
    if (!d)
      return Error::of(errc::io, "entity store holds an invalid device: " + d.error().message);
    device_by_token_hash_[row.token_hash] = d->id;
    devices_[d->id] = Entry{context_for(*d), row.token_hash, row.secret_hash};
  }
  return {};
}

Status DeviceRegistry::check_model(const model::DeviceModel& m) const {
  for (const auto* v : validators_)
    if (auto st = v->check_model(m); !st) return Error::of(errc::invalid, st.error().message);
  return {};
}

Status DeviceRegistry::check_device(const model::Device& d, const std::string& prefix) const {
  auto it = models_.find(d.model_id);
  if (it == models_.end()) return {};  // the caller refuses a missing model with its own message
  for (const auto* v : validators_) {
    if (auto st = v->check_device(d, it->second->model); !st) {
      std::string msg = st.error().message;
      if (!prefix.empty() && msg.rfind('$', 0) == 0) msg = prefix + msg.substr(1);
      return Error::of(errc::invalid, msg);
    }
  }
  return {};
}

void DeviceRegistry::add_validator(const DocumentValidator* v) {
  std::unique_lock lock(mu_);
  validators_.push_back(v);
}

Result<std::shared_ptr<const StoredModel>> DeviceRegistry::put_model(const model::DeviceModel& m,
                                                                     bool replace) {
  auto stored = compile(m);
  if (!stored) return stored;
  const std::string doc = model::to_json(m).dump();
  std::vector<std::string> affected;
  {
    std::unique_lock lock(mu_);
    if (auto st = check_model(m); !st) return st.error();
    // The devices following a replaced model must still pass with it (their detector overrides
    // name its metrics).
    for (const auto& [id, e] : devices_) {
      if (e.context->device.model_id != m.id) continue;
      for (const auto* v : validators_)
        if (auto st = v->check_device(e.context->device, m); !st)
          return Error::of(errc::invalid,
                           "device '" + id + "' follows this model: " + st.error().message);
    }
    const bool exists = models_.count(m.id) > 0;
    if (replace && !exists) return not_found("no device model '" + m.id + "'");
    if (!replace && exists)
      return Error::of(errc::conflict, "device model '" + m.id +
                                           "' already exists; PUT it to replace it, or raise "
                                           "its version (;N)");
    auto st = db_.write([&](SQLite::Database& db) {
      SQLite::Statement q(db,
                          "INSERT INTO device_models(id, document, updated) VALUES(?, ?, ?) "
                          "ON CONFLICT(id) DO UPDATE SET document = excluded.document, "
                          "updated = excluded.updated");
      q.bind(1, m.id);
      q.bind(2, doc);
      q.bind(3, static_cast<int64_t>(clock_.now()));
      q.exec();
    });
    if (!st) return st.error();
    models_[m.id] = *stored;
    for (auto& [id, e] : devices_) {
      if (e.context->device.model_id != m.id) continue;
      e.context = context_for(e.context->device);
      affected.push_back(id);
    }
  }
  for (const auto& id : affected) {
    auto d = device_by_id(id);
    notify(id, d ? &*d : nullptr);
  }
  return stored;
}

Result<std::shared_ptr<const StoredModel>> DeviceRegistry::add_model(const model::DeviceModel& m) {
  return put_model(m, false);
}

Result<std::shared_ptr<const StoredModel>> DeviceRegistry::replace_model(
    const model::DeviceModel& m) {
  return put_model(m, true);
}

Status DeviceRegistry::remove_model(const std::string& id) {
  std::unique_lock lock(mu_);
  if (!models_.count(id)) return not_found("no device model '" + id + "'");
  const auto users = std::count_if(devices_.begin(), devices_.end(), [&](const auto& kv) {
    return kv.second.context->device.model_id == id;
  });
  if (users > 0)
    return Error::of(errc::in_use, "device model '" + id + "' is used by " + std::to_string(users) +
                                       " devices; move or remove them first");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM device_models WHERE id = ?");
    q.bind(1, id);
    q.exec();
  });
  if (st) models_.erase(id);
  return st;
}

std::shared_ptr<const StoredModel> DeviceRegistry::model(const std::string& id) const {
  std::shared_lock lock(mu_);
  auto it = models_.find(id);
  return it == models_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const StoredModel>> DeviceRegistry::models() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const StoredModel>> out;
  for (const auto& [id, m] : models_) out.push_back(m);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->model.id < b->model.id; });
  return out;
}

Result<DeviceWithToken> DeviceRegistry::add_device(const model::Device& d) {
  auto r = add_devices({d});
  if (!r) return r.error();
  return std::move(r->front());
}

Result<std::vector<DeviceWithToken>> DeviceRegistry::add_devices(
    const std::vector<model::Device>& ds) {
  std::vector<DeviceWithToken> out;
  std::vector<std::string> hashes;
  for (const auto& d : ds) {
    out.push_back({d, govern::new_token("dvt_")});
    hashes.push_back(govern::token_hash(out.back().token));
  }
  {
    std::unique_lock lock(mu_);
    for (std::size_t i = 0; i < ds.size(); ++i) {
      const auto& d = ds[i];
      if (!models_.count(d.model_id))
        return Error::of(errc::invalid, "device '" + d.id + "': no device model '" + d.model_id +
                                            "'; POST it to /api/v1/models first");
      if (devices_.count(d.id))
        return Error::of(errc::conflict, "device '" + d.id + "' already exists");
      if (auto st = check_device(d, ds.size() > 1 ? "$[" + std::to_string(i) + "]" : ""); !st)
        return st.error();
    }
    const auto now = static_cast<int64_t>(clock_.now());
    auto st = db_.write([&](SQLite::Database& db) {
      SQLite::Statement q(db,
                          "INSERT INTO devices(id, model, document, token_hash, created, updated) "
                          "VALUES(?, ?, ?, ?, ?, ?)");
      for (std::size_t i = 0; i < ds.size(); ++i) {
        q.reset();
        q.bind(1, ds[i].id);
        q.bind(2, ds[i].model_id);
        q.bind(3, model::to_json(ds[i]).dump());
        q.bind(4, hashes[i]);
        q.bind(5, now);
        q.bind(6, now);
        q.exec();
      }
    });
    if (!st) {
      if (st.error().is(meta::errc::constraint))
        return Error::of(errc::conflict, "devices not created: " + st.error().message +
                                             " (a device id repeats in the request?)");
      return st.error();
    }
    for (std::size_t i = 0; i < ds.size(); ++i) {
      devices_[ds[i].id] = Entry{context_for(ds[i]), hashes[i], {}};
      device_by_token_hash_[hashes[i]] = ds[i].id;
    }
  }
  for (const auto& d : ds) notify(d.id, &d);
  return out;
}

Result<model::Device> DeviceRegistry::update_device(const model::Device& d) {
  {
    std::unique_lock lock(mu_);
    auto it = devices_.find(d.id);
    if (it == devices_.end()) return not_found("no device '" + d.id + "'");
    if (!models_.count(d.model_id))
      return Error::of(errc::invalid,
                       "device '" + d.id + "': no device model '" + d.model_id + "'");
    if (auto checked = check_device(d, ""); !checked) return checked.error();
    auto st = db_.write([&](SQLite::Database& db) {
      SQLite::Statement q(db,
                          "UPDATE devices SET model = ?, document = ?, updated = ? WHERE id = ?");
      q.bind(1, d.model_id);
      q.bind(2, model::to_json(d).dump());
      q.bind(3, static_cast<int64_t>(clock_.now()));
      q.bind(4, d.id);
      q.exec();
    });
    if (!st) return st.error();
    it->second.context = context_for(d);
  }
  notify(d.id, &d);
  return d;
}

Status DeviceRegistry::remove_device(const std::string& id) {
  {
    std::unique_lock lock(mu_);
    auto it = devices_.find(id);
    if (it == devices_.end()) return not_found("no device '" + id + "'");
    auto st = db_.write([&](SQLite::Database& db) {
      SQLite::Statement q(db, "DELETE FROM devices WHERE id = ?");
      q.bind(1, id);
      q.exec();
    });
    if (!st) return st;
    device_by_token_hash_.erase(it->second.token_hash);
    devices_.erase(it);
  }
  notify(id, nullptr);
  return {};
}

Result<std::string> DeviceRegistry::rotate_token(const std::string& id) {
  std::string token = govern::new_token("dvt_");
  const std::string hash = govern::token_hash(token);
  std::unique_lock lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return not_found("no device '" + id + "'");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db, "UPDATE devices SET token_hash = ?, updated = ? WHERE id = ?");
    q.bind(1, hash);
    q.bind(2, static_cast<int64_t>(clock_.now()));
    q.bind(3, id);
    q.exec();
  });
  if (!st) return st.error();
  device_by_token_hash_.erase(it->second.token_hash);
  it->second.token_hash = hash;
  device_by_token_hash_[hash] = id;
  return token;
}

Status DeviceRegistry::set_secret(const std::string& id, const std::string& secret) {
  std::string hash;
  if (!secret.empty()) {
    if (secret.size() < 12)
      return Error::of(errc::invalid, "device '" + id + "': a secret needs at least 12 characters");
    auto h = govern::password_hash(secret);
    if (!h) return h.error();
    hash = std::move(*h);
  }
  std::unique_lock lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return not_found("no device '" + id + "'");
  auto st = db_.write([&](SQLite::Database& db) {
    SQLite::Statement q(db, "UPDATE devices SET secret_hash = ? WHERE id = ?");
    q.bind(1, hash);
    q.bind(2, id);
    q.exec();
  });
  if (st) it->second.secret_hash = hash;
  return st;
}

std::optional<model::Device> DeviceRegistry::device_by_id(const std::string& id) const {
  std::shared_lock lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return std::nullopt;
  return it->second.context->device;
}

std::vector<model::Device> DeviceRegistry::devices() const {
  std::shared_lock lock(mu_);
  std::vector<model::Device> out;
  out.reserve(devices_.size());
  for (const auto& [id, e] : devices_) out.push_back(e.context->device);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::size_t DeviceRegistry::device_count() const {
  std::shared_lock lock(mu_);
  return devices_.size();
}

void DeviceRegistry::on_device_change(
    std::function<void(const std::string&, const model::Device*)> f) {
  std::unique_lock lock(mu_);
  listeners_.push_back(std::move(f));
}

void DeviceRegistry::notify(const std::string& id, const model::Device* d) {
  std::vector<std::function<void(const std::string&, const model::Device*)>> ls;
  {
    std::shared_lock lock(mu_);
    ls = listeners_;
  }
  for (auto& f : ls) f(id, d);
}

std::optional<ingest::DeviceIdentity> DeviceRegistry::by_token(std::string_view token) const {
  if (token.size() < 8) return std::nullopt;
  const std::string hash = govern::token_hash(token);
  std::shared_lock lock(mu_);
  auto it = device_by_token_hash_.find(hash);
  if (it == device_by_token_hash_.end()) return std::nullopt;
  return ingest::DeviceIdentity{it->second};
}

std::optional<ingest::DeviceIdentity> DeviceRegistry::by_secret(std::string_view device_id,
                                                                std::string_view secret) const {
  std::string hash;
  {
    std::shared_lock lock(mu_);
    auto it = devices_.find(std::string(device_id));
    if (it == devices_.end() || it->second.secret_hash.empty()) return std::nullopt;
    hash = it->second.secret_hash;
  }
  if (!govern::password_matches(hash, secret)) return std::nullopt;
  return ingest::DeviceIdentity{std::string(device_id)};
}

std::shared_ptr<const pipeline::DeviceContext> DeviceRegistry::device(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = devices_.find(std::string(id));
  return it == devices_.end() ? nullptr : it->second.context;
}

}  // namespace strata::registry

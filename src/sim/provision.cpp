#include "sim/provision.hpp"

#include <curl/curl.h>

#include <nlohmann/json.hpp>
#include <set>

#include "sim/errc.hpp"

namespace strata::sim {
namespace {

struct Reply {
  long status = 0;
  std::string body;
  std::string error;  // transport error, when status is 0
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One REST call: its own handle, so the provisioning works without shared state.
Reply call(const ProvisionTarget& t, const char* method, const std::string& path,
           const std::string& body) {
  Reply r;
  CURL* curl = curl_easy_init();
  if (!curl) {
    r.error = "cannot start libcurl";
    return r;
  }
  curl_slist* h = nullptr;
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Accept: application/json");
  h = curl_slist_append(h, ("Authorization: Bearer " + t.admin_token).c_str());
  const std::string url = t.server + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 15000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  else
    r.error = curl_easy_strerror(rc);
  curl_slist_free_all(h);
  curl_easy_cleanup(curl);
  return r;
}

std::string url_encode(const std::string& s) {
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Error refused(const std::string& what, const ProvisionTarget& t, const Reply& r) {
  if (r.status == 0)
    return Error::of(errc::provision, what + ": " + t.server + " cannot be reached (" + r.error +
                                          "); is `strata serve` running? (--server)");
  std::string detail;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    if (j.contains("detail") && j["detail"].is_string()) detail = j["detail"].get<std::string>();
    if (detail.empty() && j.contains("title") && j["title"].is_string())
      detail = j["title"].get<std::string>();
  }
  if (detail.empty()) detail = r.body.substr(0, 200);
  std::string hint;
  if (r.status == 401 || r.status == 403)
    hint = " (give --token-file the admin token file, DATA_DIR/admin-token)";
  return Error::of(errc::provision,
                   what + ": HTTP " + std::to_string(r.status) + ": " + detail + hint);
}

Result<std::string> token_of(const Reply& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("token") && j["token"].is_string())
    return j["token"].get<std::string>();
  return Error::of(errc::provision,
                   "the server's answer holds no \"token\": " + r.body.substr(0, 200));
}

}  // namespace

std::string device_document(const PlantDevice& d, const std::string& modbus_host,
                            std::uint16_t modbus_port) {
  nlohmann::json j{{"id", d.spec.id}, {"model", d.spec.model}, {"site", d.site},
                   {"line", d.line},  {"state", "active"},     {"tags", nlohmann::json::object()}};
  for (const auto& [k, v] : d.spec.tags) j["tags"][k] = v;
  j["tags"]["kind"] = std::string(kind_name(d.spec.kind));
  j["tags"]["transport"] = std::string(transport_name(d.spec.transport));
  j["tags"]["simulated"] = "true";
  if (modbus_port != 0)
    j["modbus"] = {{"host", modbus_host},
                   {"port", modbus_port},
                   {"unit_id", d.spec.modbus_unit},
                   {"interval_ms", d.spec.interval / 1000}};
  return j.dump();
}

Result<ProvisionReport> provision(const ProvisionTarget& t, const ModelCatalog& catalog,
                                  std::span<const PlantDevice> devices) {
  ProvisionReport rep;
  std::set<std::string> used;
  for (const auto& d : devices) used.insert(d.spec.model);
  for (const auto& id : used) {
    const CatalogEntry* e = catalog.find(id);
    if (!e) continue;  // the server may know it already; a device registration will tell
    const Reply r = call(t, "POST", "/api/v1/models", e->text);
    if (r.status == 201 || r.status == 200)
      ++rep.models_created;
    else if (r.status == 409)
      ++rep.models_existing;
    else
      return refused("model '" + id + "' (" + e->path.string() + ")", t, r);
  }
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const PlantDevice& d = devices[i];
    const std::uint16_t port =
        d.spec.transport == Transport::modbus && t.modbus_port ? t.modbus_port(i) : 0;
    const std::string body = device_document(d, t.modbus_host, port);
    const Reply r = call(t, "POST", "/api/v1/devices", body);
    const std::string what = "device '" + d.spec.id + "'";
    if (r.status == 201 || r.status == 200) {
      auto tok = token_of(r);
      if (!tok) return Error::of(errc::provision, what + ": " + tok.error().message);
      rep.tokens[d.spec.id] = *tok;
      ++rep.devices_created;
      continue;
    }
    if (r.status != 409) return refused(what, t, r);
    ++rep.devices_existing;
    auto patch = nlohmann::json::parse(body);
    patch.erase("id");
    const std::string path = "/api/v1/devices/" + url_encode(d.spec.id);
    const Reply p = call(t, "PATCH", path, patch.dump());
    if (p.status != 200 && p.status != 204) return refused(what + " (update)", t, p);
    const Reply k = call(t, "POST", path + "/token", "");
    if (k.status != 200 && k.status != 201) return refused(what + " (token rotation)", t, k);
    auto tok = token_of(k);
    if (!tok) return Error::of(errc::provision, what + ": " + tok.error().message);
    rep.tokens[d.spec.id] = *tok;
  }
  return rep;
}

}  // namespace strata::sim

#include "tenancy/connections.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json_parse.h"
#include "log/log.h"
#include "log/redact_json.h"
#include "vault/vault.h"

namespace ih::tenancy {

using nlohmann::json;

Connections::Connections(store::Store& store, vault::Vault& vault, sinks::EventSink* events)
    : store_(store), vault_(vault), events_(events), cache_(store, vault) {}

Result<store::Connection> Connections::save(std::string_view tenant_id, std::string_view integration_id,
                                            const vault::SecureString& credentials,
                                            std::string_view result_json, std::string_view actor,
                                            std::string_view via) const {
  const std::string tenant(tenant_id);
  const std::string integration(integration_id);
  const int64_t now = nowMs();
  // Secret-shaped values are masked, key names kept ("webhook_secret_set" stays a key).
  json info = result_json.empty() ? json::object() : parseJsonOrDiscarded(result_json);
  if (!info.is_object()) info = json::object();
  redactStrings(info);
  std::vector<store::SecretRow> secrets;
  if (!credentials.empty()) {
    auto sealed = vault_.seal(credentials.view(), {tenant, integration, kCredentialsPurpose});
    if (!sealed.isOk()) return sealed.status();
    secrets.push_back({tenant, integration, std::string(kCredentialsPurpose), sealed->key_id, sealed->nonce,
                       sealed->ciphertext, now});
  }
  store::Connection conn;
  conn.tenant_id = tenant;
  conn.integration_id = integration;
  conn.status = store::ConnectionStatus::kActive;
  conn.info_json = info.dump();
  conn.connected_at = now;
  conn.updated_at = now;
  conn.last_check_at = now;
  conn.last_check_ok = true;
  json detail = {{"info", info}};
  if (!via.empty()) detail["via"] = std::string(via);
  store::AuditEntry audit{0,  tenant, integration, std::string(actor), "integration.connected", detail.dump(),
                          now};
  if (Status s = store_.saveConnection(tenant, secrets, conn, audit); !s.isOk()) return s;
  emit(tenant, integration, "integration.connected",
       json({{"integration", integration}, {"info", info}}).dump());
  return conn;
}

Status Connections::remove(std::string_view tenant_id, std::string_view integration_id,
                           std::string_view actor, std::string_view audit_detail_json,
                           std::string_view event_data_json) const {
  store::AuditEntry audit{0,
                          std::string(tenant_id),
                          std::string(integration_id),
                          std::string(actor),
                          "integration.disconnected",
                          std::string(audit_detail_json),
                          nowMs()};
  if (Status s = store_.removeConnection(tenant_id, integration_id, audit); !s.isOk()) return s;
  emit(tenant_id, integration_id, "integration.disconnected", event_data_json);
  return Status::ok();
}

Result<vault::SecureString> Connections::credentials(std::string_view tenant_id,
                                                     std::string_view integration_id) const {
  auto opened = cache_.open(tenant_id, integration_id, kCredentialsPurpose);
  if (!opened.isOk() && opened.status().code() == StatusCode::kNotFound) {
    return Status::notFound("integration " + std::string(integration_id) + " is not connected");
  }
  return opened;
}

Result<vault::SecureString> Connections::openSecret(std::string_view tenant_id,
                                                    std::string_view integration_id,
                                                    std::string_view purpose) const {
  return cache_.open(tenant_id, integration_id, purpose);
}

void Connections::emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
                       std::string_view data_json) const {
  if (!events_) return;
  Status s = events_->emit(tenant_id, integration_id, type, data_json, {}, nullptr);
  if (!s.isOk()) log::warn("could not emit a connection event", {{"type", type}, {"error", s.message()}});
}

}  // namespace ih::tenancy

// A tenant's connections to integrations: what a connect or OAuth completion produced is stored (credentials
// sealed by the vault), a disconnect (by the tenant or revoked by the provider) wipes it, and the
// credentials are opened for plugin calls. Every change is one store transaction with its audit entry, then
// one event (integration.connected / integration.disconnected). Thread-safe.
#pragma once

#include <string_view>

#include "common/sinks.h"
#include "common/status.h"
#include "store/store.h"
#include "tenancy/secret_cache.h"
#include "vault/secure_string.h"

namespace ih::vault {
class Vault;
}

namespace ih::tenancy {

// The vault purpose (AAD) of a connection's credentials.
inline constexpr std::string_view kCredentialsPurpose = "credentials";

class Connections {
 public:
  // Borrowed; all must outlive this object. `events` may be null (no events).
  Connections(store::Store& store, vault::Vault& vault, sinks::EventSink* events);

  // Stores a successful connect / OAuth completion in ONE transaction: `credentials` sealed (when not
  // empty), an active connection whose info is `result_json` (the plugin's result, redacted; {} when not
  // an object), an audit entry "integration.connected" by `actor` (with "via": `via` when not empty); then
  // emits integration.connected. Returns the stored connection; on failure nothing is stored.
  Result<store::Connection> save(std::string_view tenant_id, std::string_view integration_id,
                                 const vault::SecureString& credentials, std::string_view result_json,
                                 std::string_view actor, std::string_view via = {}) const;

  // Wipes the credentials and marks the connection inactive in ONE transaction with an audit entry
  // "integration.disconnected" by `actor` holding `audit_detail_json`; then emits integration.disconnected
  // with `event_data_json` (both JSON objects). kNotFound when the tenant has no such connection.
  Status remove(std::string_view tenant_id, std::string_view integration_id, std::string_view actor,
                std::string_view audit_detail_json, std::string_view event_data_json) const;

  // The connection's credentials, opened. kNotFound when not connected; kInternal when they cannot be
  // opened (the message names the key, never the secret). Served from the SecretCache.
  Result<vault::SecureString> credentials(std::string_view tenant_id, std::string_view integration_id) const;
  // Any secret of the tenant's integration by vault purpose (a plugin's secret_put names), the same way.
  Result<vault::SecureString> openSecret(std::string_view tenant_id, std::string_view integration_id,
                                         std::string_view purpose) const;
  SecretCache::Stats secretCacheStats() const { return cache_.stats(); }

 private:
  void emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
            std::string_view data_json) const;

  store::Store& store_;
  vault::Vault& vault_;
  sinks::EventSink* const events_;
  mutable SecretCache cache_;
};

}  // namespace ih::tenancy

// Tenants and their API keys: creation, listing, revocation, and authentication of API callers (tenant keys)
// and operators (the admin token). Keys are high-entropy, prefixed ("ihk_live_…"), shown once, and stored
// only as a keyed hash (HMAC-SHA256 with the vault pepper). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ih::vault {
class Vault;
}

namespace ih::tenancy {

// Scopes a key may hold. "*" grants all of them.
inline constexpr std::string_view kScopeAll = "*";
inline constexpr std::string_view kScopeRead = "read";    // GET routes
inline constexpr std::string_view kScopeWrite = "write";  // everything that changes state

// Who is calling.
struct Principal {
  bool admin = false;
  std::string tenant_id;  // empty for the admin
  std::string key_id;     // empty for the admin
  std::vector<std::string> scopes;
  bool hasScope(std::string_view scope) const;
  // "api_key:<id>" or "admin": what the audit log records.
  std::string actor() const;
};

struct CreatedKey {
  store::ApiKey key;
  std::string plaintext;  // shown once, never stored
};

struct CreatedTenant {
  store::Tenant tenant;
  CreatedKey first_key;
};

class Tenancy {
 public:
  // `admin_token_env_value` is the value of the configured admin token variable (may be empty); the vault's
  // key ring may hold an admin token too. Both are accepted. Borrowed references must outlive this object.
  Tenancy(store::Store& store, vault::Vault& vault, std::string admin_token_env_value);

  // Names: 1-63 chars of [a-z0-9_-], starting with a letter or digit. kAlreadyExists for a taken name.
  Result<CreatedTenant> createTenant(std::string_view name);
  // Scopes default to {"*"}; unknown scopes are kInvalidArgument.
  Result<CreatedKey> createKey(std::string_view tenant_id, std::vector<std::string> scopes = {});
  Status revokeKey(std::string_view tenant_id, std::string_view key_id);
  // Looks a tenant up by id or by name.
  Result<store::Tenant> resolveTenant(std::string_view id_or_name);

  // Authenticates an `Authorization` header value ("Bearer <key>"). kUnauthenticated with a message saying
  // what is wrong (missing header, not a bearer token, unknown or revoked key) — never echoing the key.
  Result<Principal> authenticate(std::string_view authorization_header);
  // Same for the admin token; also accepts tenant keys? No: only the admin token authenticates an admin.
  Result<Principal> authenticateAdmin(std::string_view authorization_header);
  bool adminConfigured() const;

  // Appends `entry` to the tenant's audit log (e.g. an admin acting on its behalf). Thread-safe.
  Status appendAudit(const store::AuditEntry& entry);

 private:
  std::string hashKey(std::string_view plaintext) const;

  store::Store& store_;
  vault::Vault& vault_;
  const std::string admin_token_env_;
  std::mutex touch_mu_;
  std::map<std::string, int64_t> last_touch_ms_;  // GUARDED_BY(touch_mu_): throttles last-used writes
};

}  // namespace ih::tenancy

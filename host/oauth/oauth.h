// Host-side OAuth for plugins with IH_CAP_OAUTH (ABI 1.2): the plugin speaks the provider, the host owns the
// `state` and the two routes, so no plugin re-implements CSRF protection.
//
//   GET /api/integrations/{id}/oauth/start   (tenant key, write scope) → 200 {"url","state_expires_at"}
//   GET /oauth/{id}/callback?code=&state=…   (public) → 302 to the integration's success_url, or a page
//
// state = "v1.<nonce>.<expires>.<mac>": a random 256-bit nonce, the expiry (unix s) and
// HMAC-SHA256(key, integration | tenant | nonce | expires), base64url. The key is derived from the vault's
// pepper (never in TOML, stable across restarts and key rotation). Each issued state is a row in
// oauth_states (SHA-256 of the nonce, tenant, integration, expiry); the callback consumes it with ONE
// conditional UPDATE, so it is single-use even under concurrent callbacks. Tampered, unknown, reused or
// expired states are refused with 400 and nothing is stored; `error=access_denied` consumes the state and
// explains that the user declined. On success the plugin's oauth_complete runs under the tenant's context;
// its staged credentials are sealed and stored with the connection and an audit entry in one transaction,
// then integration.connected is emitted (like POST …/connect).
//
// Thread-safe. Borrowed collaborators must outlive the object (and the server its routes are on).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih::http {
class Server;
}
namespace ih::runtime {
class Runtime;
}
namespace ih::sinks {
class InboxSink;
}
namespace ih::store {
class Store;
}
namespace ih::tenancy {
class Connections;
class Tenancy;
}  // namespace ih::tenancy
namespace ih::vault {
class Vault;
}

namespace ih::oauth {

struct Options {
  std::chrono::seconds state_ttl{600};  // how long a state may wait for its callback
  // [server] public_url; the callback URL handed to plugins is <public_url>/oauth/<id>/callback. Empty: built
  // from the start request's Host header (fine on loopback, set public_url behind a proxy).
  std::string public_url;
};

// Outcome of checking a callback's state.
struct StateCheck {
  bool ok = false;
  std::string tenant_id;  // when ok
  std::string code;       // on failure: invalid_state | state_expired | state_already_used | unavailable
  std::string message;    // on failure, for the page / JSON error
};

class OAuth {
 public:
  // `inbox` may be null (no unbinding after a failed save). The connection is stored (and
  // integration.connected emitted) by tenancy::Connections::save.
  OAuth(store::Store& store, vault::Vault& vault, runtime::Runtime& runtime,
        tenancy::Connections& connections, sinks::InboxSink* inbox, Options options);
  ~OAuth();
  OAuth(const OAuth&) = delete;
  OAuth& operator=(const OAuth&) = delete;

  // Registers the two routes (before server.start()).
  void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy);

  // Issues a state bound to (tenant, integration) and stores its row.
  Result<std::string> issueState(std::string_view tenant_id, std::string_view integration_id);
  // Verifies the signature and consumes the state (single-use). Nothing else happens.
  StateCheck consumeState(std::string_view integration_id, std::string_view state);

  // Changes the lifetime of states issued from now on (tests use a short one). Thread-safe.
  void setStateTtl(std::chrono::seconds ttl);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ih::oauth

// The host's REST API: tenant routes under /api (integrations, connect/test/disconnect, actions, plugin
// routes, audit), operator routes under /api/admin (tenants, keys, plugins), and public plugin routes under
// /plugins. Every /api route authenticates first (401 missing/unknown key, 403 scope) and answers errors with
// the JSON envelope of http/server.h.
#pragma once

#include <memory>
#include <string>

namespace ih::config {
struct Config;
}
namespace ih::http {
class Server;
}
namespace ih::loader {
class Registry;
}
namespace ih::records {
class IdempotencyCache;
}
namespace ih::runtime {
class Runtime;
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

namespace ih::api {

// Borrowed collaborators; all must outlive the server the routes are registered on. `idempotency` may be
// null.
struct Context {
  const config::Config* config = nullptr;
  loader::Registry* registry = nullptr;
  runtime::Runtime* runtime = nullptr;
  store::Store* store = nullptr;
  vault::Vault* vault = nullptr;
  tenancy::Tenancy* tenancy = nullptr;
  tenancy::Connections* connections = nullptr;
  records::IdempotencyCache* idempotency = nullptr;  // action results for Idempotency-Key; may be null
};

// Registers every route on `server`. Call before server.start(). The handlers use the returned object: keep
// it alive as long as the server runs.
std::shared_ptr<void> registerRoutes(http::Server& server, Context& context);

}  // namespace ih::api

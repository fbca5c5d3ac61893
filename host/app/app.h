// The assembled host: config → store → vault → tenancy → plugins → runtime → HTTP routes. `ihost serve` runs
// one; integration tests run one in-process on port 0. Shutdown order: stop intake (HTTP) → drain in-flight
// plugin calls → destroy instances → unload libraries → close the store.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "store/store.h"

namespace ih::events {
class Events;
}
namespace ih::inbox {
class Inbox;
}
namespace ih::oauth {
class OAuth;
}
namespace ih::records {
class Records;
}
namespace ih::entitlements {
class Entitlements;
}
namespace ih::scheduler {
class Scheduler;
}
namespace ih::http {
class Server;
}
namespace ih::loader {
class Registry;
}
namespace ih::runtime {
class Runtime;
}
namespace ih::store {
class Store;
}
namespace ih::tenancy {
class Tenancy;
}
namespace ih::vault {
class Vault;
}

namespace ih::app {

class App {
 public:
  // Builds everything but does not listen yet. Fails (and starts nothing) when the store cannot open, the
  // vault key ring is missing or wrong, or the HTTP options are invalid; the message names what and how to
  // fix it. A plugin that is refused or an integration with bad settings does not fail the host: it is listed
  // as unavailable (unless `strict` is set, as `ihost config check` does).
  static Result<std::unique_ptr<App>> create(config::Config config, const config::Environment& env);
  ~App();  // stop()
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Binds [server] listen (port 0 picks a free one) and serves in the background.
  Status start();
  int port() const;
  std::string baseUrl() const;  // "http://127.0.0.1:<port>"
  // Graceful shutdown; idempotent.
  void stop();

  const config::Config& config() const;
  store::Store& store();
  vault::Vault& vault();
  tenancy::Tenancy& tenancy();
  loader::Registry& registry();
  runtime::Runtime& runtime();
  inbox::Inbox& inbox();
  events::Events& events();
  records::Records& records();
  entitlements::Entitlements& entitlements();  // the view derived from records (background pass)
  scheduler::Scheduler& scheduler();
  oauth::OAuth& oauth();   // host-side OAuth state and routes (ABI 1.2 plugins)
  http::Server& server();  // every route is registered by create()

 private:
  App();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Loads the vault key ring the config names (key file or env var). Shared by serve and the CLI verbs.
Result<std::unique_ptr<vault::Vault>> openVault(const config::Config& config, const config::Environment& env);

// The store's options from [storage]. Shared by serve and the CLI verbs.
store::Options storeOptions(const config::StorageConfig& storage);

// host:port of [server] listen, split. kInvalidArgument with the fix when malformed.
Status parseListen(const std::string& listen, std::string& host, int& port);

}  // namespace ih::app

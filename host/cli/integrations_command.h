// `ihost integrations list [--tenant T] [--json]` and `ihost integrations show <id> [--tenant T] [--json]`:
// what is configured, with which plugin version, whether it is enabled, its jobs and their schedules, its
// webhook URL, and, for a tenant (id or name), its connection: status, when connected, the last health check.
// Reads the configuration, the plugins directory and the database; changes nothing.
#pragma once

#include <iosfwd>
#include <string>

namespace ih::config {
struct Config;
}
namespace ih::loader {
class Registry;
}
namespace ih::store {
class Store;
struct Tenant;
}  // namespace ih::store

namespace ih::cli {

struct IntegrationsQuery {
  std::string verb;  // "list" or "show"
  std::string id;    // show: the integration
  bool json = false;
};

// `tenant` may be null (no connection columns). Exit codes as cli.h: 0, 1 (store failure), 2 (unknown verb or
// integration).
int runIntegrationsCommand(const IntegrationsQuery& query, const config::Config& config,
                           const loader::Registry& plugins, store::Store& store, const store::Tenant* tenant,
                           std::ostream& out, std::ostream& err);

}  // namespace ih::cli

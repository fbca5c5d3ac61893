#include "cli/storage_command.h"

#include <ostream>

#include "app/app.h"
#include "cli/cli.h"
#include "common/text.h"
#include "log/log.h"
#include "store/copy.h"
#include "store/store.h"

namespace ih::cli {
namespace {

std::string describe(const config::StorageConfig& storage) {
  if (storage.backend == "postgres") return "postgres " + maskUrlPasswords(storage.url);
  const std::string inbox = store::inboxPathFor(storage.path);
  return "sqlite " + storage.path + (inbox.empty() ? "" : " (+ " + inbox + ")");
}

}  // namespace

int runStorageCopy(const StorageCopyRequest& request, const config::Environment& env, std::ostream& out,
                   std::ostream& err) {
  if (request.from_config.empty() || request.to_config.empty()) {
    err << "ihost: storage copy needs --from FROM.toml and --to TO.toml (the configs whose [storage] to read "
           "and to fill)\n";
    return kExitUsage;
  }
  // The target's URL may come from the environment (IHOST_STORAGE__URL): it applies to --to only, so the source
  // is read from its file as written.
  config::Environment source_env = env;
  source_env.erase("IHOST_STORAGE__URL");
  auto from = config::loadFile(request.from_config, source_env);
  if (!from.isOk()) {
    err << "ihost: invalid configuration (--from):\n" << from.status().message() << "\n";
    return kExitConfig;
  }
  auto to = config::loadFile(request.to_config, env);
  if (!to.isOk()) {
    err << "ihost: invalid configuration (--to):\n" << to.status().message() << "\n";
    return kExitConfig;
  }
  log::setLevel(log::Level::kWarn);
  out << "copying " << describe(from->storage) << " -> " << describe(to->storage) << "\n";
  auto copied = store::copyStore(app::storeOptions(from->storage), app::storeOptions(to->storage),
                                 [&](const store::CopiedTable& table) {
                                   out << "  " << table.name << ": " << table.rows << " rows\n";
                                   out.flush();
                                 });
  if (!copied.isOk()) {
    err << "ihost: storage copy failed: " << copied.status().message() << "\n";
    return kExitFailure;
  }
  int64_t total = 0;
  for (const store::CopiedTable& table : *copied)
    total += table.rows;
  out << "copied " << total << " rows in " << copied->size()
      << " tables; counts verified. Start the servers with --to's config (same vault key ring).\n";
  return kExitOk;
}

}  // namespace ih::cli

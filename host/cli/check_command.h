// `ihost plugins check FILE.so [--config SETTINGS.toml] [--connect CONNECT.json]`: the conformance kit for
// plugin authors. Loads one plugin through the real loader into a throwaway host (its own temp directory,
// SQLite file and vault keys, on a loopback port), then runs acceptance checks through the real HTTP API:
//   exports      only ih_plugin_entry is exported
//   manifest     the loader accepts it (ABI, manifest, schemas) and the integration starts with the settings
//   routes       every declared route answers without a 500, and so do hostile requests to it
//   connect      hostile connect bodies (empty, wrong types, huge, malformed) are clean 4xx errors
//   webhooks     unsigned or garbage deliveries are refused (never accepted, never a 500)
//   actions      every action answers hostile inputs with clean errors (after --connect, if it needs one)
//   jobs         every job run finishes (success or a clean failure) within 60 s
//   concurrency  parallel calls stay clean and the host stays healthy
//   cancel       skipped: the ABI has no cancel signal yet
// Prints one line per check and a summary; exit 0 when nothing failed, 1 otherwise, 2 on usage errors.
#pragma once

#include <iosfwd>
#include <string>

namespace ih::cli {

struct PluginCheckOptions {
  std::string file;           // the plugin .so
  std::string settings_file;  // optional: the keys of its [integrations.<id>] table
  std::string connect_file;   // optional: a connect body (JSON) for the checks that need a connection
  bool isolated = false;      // run it in a plugin runner (isolation = "process"); this process never maps it
  std::string runner;         // the ihost executable for the runner; empty: this one
};

int runPluginCheck(const PluginCheckOptions& options, std::ostream& out, std::ostream& err);

}  // namespace ih::cli

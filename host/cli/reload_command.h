// The plugin commands that ask the running server (with the admin token):
//   `ihost plugins reload [--config FILE] [--url URL] [--json]`: hot-reload changed plugin files
//     (POST /api/admin/plugins/reload) and print what happened to each file;
//   `ihost plugins list --running [--config FILE] [--url URL] [--json]`: the version each integration runs
//     now, when it was loaded, the one before and how many reloads (GET /api/admin/plugins).
#pragma once

#include <iosfwd>
#include <string>

#include "config/config.h"

namespace ih::cli {

struct ReloadArgs {
  std::string config_path;  // the server's configuration: its listen address and admin token source
  std::string url;          // the server's base URL; default from [server] listen
  bool json = false;        // print the server's answer as it came
};

// Exit codes as cli.h: 0 nothing refused, 1 a file was refused or the server could not be asked, 3 invalid
// configuration.
int runPluginsReload(const ReloadArgs& args, const config::Environment& env, std::ostream& out,
                     std::ostream& err);
// Exit codes: 0 answered, 1 the server could not be asked, 3 invalid configuration.
int runPluginsRunning(const ReloadArgs& args, const config::Environment& env, std::ostream& out,
                      std::ostream& err);

}  // namespace ih::cli

// `ihost plugins reload [--config FILE] [--url URL] [--json]`: asks the running server to hot-reload changed
// plugin files (POST /api/admin/plugins/reload) with the admin token, and prints what happened to each file.
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

}  // namespace ih::cli

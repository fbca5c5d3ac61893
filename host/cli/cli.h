// The `ihost` command line: serve, config check, plugins list, vault init|rotate, tenants, keys, version.
//
// Exit codes (also printed by `ihost --help`):
//   0  success
//   1  the command failed at run time (store, vault, network, plugin)
//   2  usage error: unknown command or flag, missing argument
//   3  the configuration is invalid (file, key and fix are printed)
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ih::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConfig = 3;

// Runs one command. `args` excludes the program name. Output goes to `out`, diagnostics to `err`.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ih::cli

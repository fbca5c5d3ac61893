// `ihost sync run <integration> <job> [--tenant T] [--full] [--config FILE]`: runs a plugin job now, outside
// the server, for one tenant (id or name) or for every connected tenant, printing progress and the final
// figures. Builds the host without listening (App::create) and shares the server's database: the job lease
// keeps it from overlapping a run of a live `ihost serve`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ih::cli {

// `args` is the whole command line after the program name, starting with "sync". Exit codes as cli.h:
// 0 every run succeeded, 1 a run failed (or could not start), 2 usage, 3 invalid configuration.
int runSyncCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ih::cli

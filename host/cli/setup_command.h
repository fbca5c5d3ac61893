// `ihost setup <integration> --tenant T [--non-interactive] [--set key=value]... [--config FILE]`: runs the
// integration's `setup` action outside the server (config, store, vault, plugins, runtime; nothing listens).
// Prompts are answered from --set values first, then from the terminal (secrets without echo); with
// --non-interactive a prompt without a --set value and without a default fails the run.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ih::cli {

// `args` excludes the program name and starts with "setup". Returns an exit code of cli.h. Reads answers
// from `in` when interactive.
int runSetupCommand(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                    std::ostream& err);

}  // namespace ih::cli

// `ihost setup <integration> --tenant T [--non-interactive] [--set key=value]... [--config FILE]`: runs the
// integration's `setup` action outside the server (config, store, vault, plugins, runtime; nothing listens).
// Prompts are answered from --set values first, then from the terminal (secrets without echo); with
// --non-interactive a prompt without a --set value and without a default fails the run.
//
// On a terminal, Ctrl-C (SIGINT) ends the command at once with a message on stderr and exit code
// kExitInterrupted (130), restoring echo if a secret prompt had turned it off; Ctrl-D at a prompt ends it
// with kExitFailure. Steps finished before that stay (committed store rows, objects created at the provider);
// nothing is half-stored, and a re-run is safe.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ih::cli {

inline constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

// `args` excludes the program name and starts with "setup". Returns an exit code of cli.h (or
// kExitInterrupted). Reads answers from `in` when interactive.
int runSetupCommand(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                    std::ostream& err);

// Asks one plugin prompt (JSON: key, kind text|secret|confirm|choice, message, default, choices) on `out` and
// reads the answer line from `in`. Shows the default ("[Y/n]" for confirms) and the choices; Enter takes the
// default; confirms answer "yes"/"no" and re-ask on anything else; an empty answer without default re-asks (3
// tries, then an error). When `in` is std::cin on a terminal: secrets are read with echo off (turned off
// before the prompt is printed), Ctrl-C ends the process (see above), end of input ends it with exit 1.
// Elsewhere end of input is an error. Blocks the calling thread.
Result<std::string> askOnTerminal(std::string_view prompt_json, std::istream& in, std::ostream& out);

}  // namespace ih::cli

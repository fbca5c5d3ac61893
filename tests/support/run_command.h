// Runs a shell command for a test and collects what it prints (add "2>&1" to the command for stderr too).
#pragma once

#include <string>

namespace ih::test {

struct CommandResult {
  int rc = -1;  // the exit code; -1 when it did not exit normally
  std::string out;
};

CommandResult runCommand(const std::string& command);

}  // namespace ih::test

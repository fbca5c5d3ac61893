// The real `ihost` binary as a child process, for crash tests (SIGKILL mid-work, restart, check).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>

namespace ih::test {

// A loopback TCP port that was free a moment ago (bind, then close).
int freePort();

// Starts `ihost serve --config <config>` with stderr appended to `log_file` and `env` set. Returns the pid.
pid_t spawnHost(const std::string& config, const std::string& log_file,
                const std::map<std::string, std::string>& env = {});

// Polls GET /healthz until it answers 200 or `timeout` passes.
bool waitHealthy(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends `sig` and reaps the child.
void stopHost(pid_t pid, int sig);

}  // namespace ih::test

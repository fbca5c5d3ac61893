// The real `ihost` binary as a child process, for crash tests (SIGKILL mid-work, restart, check).
#pragma once

#include <sys/types.h>

#include <csignal>

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

// Every stored webhook's status by provider event id, read page by page from GET /api/admin/webhooks of the
// host on `port` (REQUIREs that each page answers 200).
std::map<std::string, std::string> webhookStatuses(int port, const std::string& admin_token);

// Sends `sig` and reaps the child.
void stopHost(pid_t pid, int sig);

// Holds the pid of a spawned host: SIGKILLs and reaps it when the scope ends with the host still running (a
// failed REQUIRE), so no orphan outlives the test. stop() stops it on purpose.
class HostGuard {
 public:
  explicit HostGuard(pid_t pid) : pid_(pid) {}
  ~HostGuard() {
    if (pid_ > 0) stopHost(pid_, SIGKILL);
  }
  HostGuard(const HostGuard&) = delete;
  HostGuard& operator=(const HostGuard&) = delete;
  void stop(int sig) {
    if (pid_ > 0) stopHost(pid_, sig);
    pid_ = 0;
  }
  // After stop(): a restarted host.
  void reset(pid_t pid) {
    stop(SIGKILL);
    pid_ = pid;
  }

 private:
  pid_t pid_;
};

}  // namespace ih::test

// Out-of-process plugins: each isolated integration's instance lives in its own runner child process
// (`ihost plugin-runner`, runner_main.cpp), which loads the .so through the same loader and ABI checks. The host
// never maps the library. Every host service a plugin calls (credentials, state, records, events, outbound
// HTTP, prompts) is proxied back over a socket pair and served here, so tenancy, the vault and the store stay
// in the host; the runner never opens the database or sees the key ring.
//
// A runner that crashes, exits, breaks the protocol or runs a call past its deadline (plus a grace) is killed;
// the calls in flight on it fail as retryable (IH_ERR_UNAVAILABLE / IH_ERR_DEADLINE), and the next call starts
// a new runner (with backoff while it keeps dying). Caps per runner: address space (RLIMIT_AS), open files,
// no core dumps, and optionally a seccomp filter that denies new sockets, program execution and file writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "ih/plugin_abi.h"
#include "loader/registry.h"

namespace ih::isolation {

// What the proxy descriptor's handlers return when the runner, not the plugin, failed the call (it crashed,
// was killed, broke the protocol, or is restarting); the call gate answers it as StatusCode::kPluginUnavailable.
// Never a plugin's own status: the proxy maps a runner's out-of-range statuses to IH_ERR_INTERNAL.
constexpr ih_status kRunnerFailed = 1000;

struct Options {
  std::string runner_path;   // the ihost executable to run as `plugin-runner`; empty: this process's own
  int64_t memory_mb = 1024;  // RLIMIT_AS per runner; 0: none
  int64_t max_files = 64;    // RLIMIT_NOFILE per runner
  bool seccomp = true;       // deny sockets, exec and file writes inside the runner
  std::chrono::milliseconds start_timeout{10000};  // runner start + the plugin's create
  std::chrono::milliseconds kill_grace{2000};      // past a call's deadline before the runner is killed
};

// Loads `path` in a short-lived runner (ABI, manifest and sha256 checks there) and returns a Plugin whose
// descriptor forwards every call to a runner of its own instance (create: createRemote). The error names why
// the runner refused the file.
Result<std::shared_ptr<loader::Plugin>> probe(const std::string& path, const std::string& expected_sha256,
                                              const Options& options);

// Starts a runner for one instance of remote `plugin` and creates the instance there. `host` serves the
// services the plugin calls (its `ih_call*` is the host's context of each call). The instance is released
// with the plugin's descriptor destroy (which stops the runner).
Result<ih_plugin*> createRemote(const loader::Plugin& plugin, const Options& options, const ih_host_api* host,
                                std::string_view integration_id, std::string_view config_json);

// What `plugins list`, /api/admin/plugins and the console show for an isolated instance.
struct RunnerStatus {
  bool up = false;
  int pid = 0;                // 0 when no runner is up
  int64_t restarts = 0;       // runners started after the first
  int64_t started_at_ms = 0;  // unix ms of the current (or last) runner's start
  std::string last_exit;      // e.g. "killed by signal 11 (SIGSEGV)"; empty when none exited
  int64_t last_exit_at_ms = 0;
};
// `instance` must have come from createRemote. Thread-safe.
RunnerStatus runnerStatus(const ih_plugin* instance);

// Entry point of `ihost plugin-runner` (argv after the subcommand). Returns the process exit status.
int runnerMain(int argc, char** argv);

}  // namespace ih::isolation

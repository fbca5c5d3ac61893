// Private to host/runtime: the host's definition of the opaque per-call context (declared, incomplete, in
// plugin_abi.h), shared by the call gate (call_gate.cpp), which fills one per call, and the host services
// (host_services.cpp), which read it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ih/plugin_abi.h"
#include "runtime/runtime.h"

struct ih_call {
  ih::runtime::Dependencies* deps = nullptr;
  ih::runtime::Integration* integration = nullptr;
  std::string_view tenant_id;
  std::string_view handler = "create";  // the ABI entry point being run (call_info)
  bool allow_credentials_put = false;
  const ih::runtime::PromptFn* prompt = nullptr;
  ih::runtime::CallResult* out = nullptr;
  // Where records_upsert / records_commit count their writes: the caller's live counter, or `own`.
  ih::runtime::WriteCounts own_counts;
  ih::runtime::WriteCounts* counts = &own_counts;
  std::string error_message;  // set_error
  // Non-empty: events emitted by this call are deduplicated by "<event_scope>:<type>:<n>" (runtime.h,
  // handleWebhook). `emitted` counts the call's events per type; a shared call emits from several threads.
  std::string_view event_scope;
  // Set: records_upsert, records_delete and emit_event queue their writes (sinks::WriteGroup).
  ih::sinks::Deferred deferred;
  std::mutex emitted_mu;
  std::vector<std::pair<std::string, int>> emitted;  // GUARDED_BY(emitted_mu)
  // The call's deadline (steady clock); the epoch = none. http_request is bounded by it, call_remaining_ms
  // reports it, and the call gate answers a failed call that ran past it as kDeadlineExceeded.
  std::chrono::steady_clock::time_point deadline{};
  // Distinguishes this invocation from earlier ones that reused the address (host_services.cpp, last_error).
  uint64_t serial = nextSerial();

  static uint64_t nextSerial() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
  }
};

namespace ih::runtime {

inline ih_str toStr(std::string_view s) {
  return ih_str{s.data(), s.size()};
}

// The services table handed to plugins (host_services.cpp).
const ih_host_api* hostServices();

}  // namespace ih::runtime

namespace ih::runtime {
// Generations (runtime.h): destroy an instance once; a call leaving a generation (call_gate.cpp).
void destroyInstance(Generation& g);
void releaseGeneration(Generation& g);
// Removes this process's copies of reloaded plugin files (hot_swap.cpp); at shutdown.
void removeStagedPlugins();
// Creates an instance of `plugin` for `in` with `settings_json` (the plugin's create); the error names why.
Result<ih_plugin*> createInstance(Dependencies& deps, Integration& in, loader::Plugin& plugin,
                                  const std::string& settings_json);
}  // namespace ih::runtime

// The operator console and the interactive workflow API.
//
//   registerConsole: GET /admin and /admin/... serve the single-page console (index.html, app.js, app.css)
//                    from bytes compiled into the binary, with a strict Content-Security-Policy (no inline
//                    script or style), strong ETags (304 on If-None-Match) and Cache-Control: no-cache.
//   Workflows:       runs a plugin action on a background thread and turns its prompts into HTTP:
//     POST   /api/integrations/{id}/workflows/{action}   start (tenant auth, write scope) → 202 + the run
//     GET    /api/workflows/{run}                        status, prompts asked, pending prompt, log, result
//     POST   /api/workflows/{run}/answer {"key","value"} answers the pending prompt
//     DELETE /api/workflows/{run}                        cancels: the pending and later prompts are refused
//   Runs belong to the tenant that started them (others get 404). Answers to "secret" prompts are handed to
//   the plugin only: never stored in the run, echoed, or logged.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

namespace ih::http {
class Server;
}
namespace ih::runtime {
class Runtime;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::admin {

// Registers the console routes. Register before the server starts.
void registerConsole(http::Server& server);

struct WorkflowOptions {
  // How long a prompt waits for its answer before the run is failed.
  std::chrono::milliseconds prompt_timeout = std::chrono::minutes(10);
  // Finished runs stay readable this long.
  std::chrono::milliseconds keep_finished = std::chrono::minutes(30);
  // Runs not yet finished, per tenant; more are refused with 429.
  size_t max_active_per_tenant = 4;
};

// Thread-safe. `runtime` is borrowed and must outlive this object; call stop() before the runtime shuts down.
class Workflows {
 public:
  explicit Workflows(runtime::Runtime& runtime, WorkflowOptions options = {});
  ~Workflows();  // stop()
  Workflows(const Workflows&) = delete;
  Workflows& operator=(const Workflows&) = delete;

  // `tenancy` is borrowed and must outlive the server's routes.
  void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy);
  // Refuses new runs, fails every pending prompt (the plugin sees "cancelled") and joins the run threads.
  // Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the route handlers
};

}  // namespace ih::admin

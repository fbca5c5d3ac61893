// GET /metrics: the global registry in Prometheus text format. Lives in app/, where the server is assembled:
// ih_metrics sits below ih_http in the module order (the server counts into it), so it cannot name the server.
#pragma once

#include <string>

#include "http/server.h"
#include "metrics/metrics.h"
#include "metrics/process.h"

namespace ih::metrics {

// Registers GET /metrics on `server` (call before server.start()). Unauthenticated, like /healthz: bind the
// listener to a private interface or filter /metrics at the proxy when the numbers must stay private. The
// registry's series, then the process metrics and ihost_build_info{version,abi} (metrics/process.h).
inline void registerRoutes(http::Server& server, Registry& source = registry(),
                           std::string version = "unknown", std::string abi = "unknown") {
  server.route("GET", "/metrics",
               [&source, version = std::move(version), abi = std::move(abi)](const http::Request&,
                                                                             http::Response& res) {
                 res.status = 200;
                 res.content_type = "text/plain; version=0.0.4; charset=utf-8";
                 res.body = source.exposition() + processExposition(version, abi);
               });
}

}  // namespace ih::metrics

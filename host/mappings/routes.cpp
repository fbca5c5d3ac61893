// GET/PUT /api/integrations/{id}/mappings. See mappings.h.
#include <chrono>
#include <string>

#include "http/server.h"
#include "mappings/mappings.h"
#include "tenancy/http_auth.h"

namespace ih::mappings {
namespace {

bool checkIntegration(const KnownIntegration& known, const http::Request& req, http::Response& res) {
  const std::string id = req.param("id");
  if (known(id)) return true;
  http::setError(res, 404, "unknown_integration",
                 "no integration \"" + id + "\" is configured (see GET /api/integrations)");
  return false;
}

}  // namespace

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Mappings& mappings,
                    KnownIntegration known) {
  server.route("GET", "/api/integrations/{id}/mappings",
               tenancy::requireTenant(
                   tenancy, tenancy::kScopeRead,
                   [&mappings, known](const tenancy::Principal& p, const http::Request& req,
                                      http::Response& res) {
                     if (!checkIntegration(known, req, res)) return;
                     auto set = mappings.get(p.tenant_id, req.param("id"));
                     if (!set.isOk()) return http::setError(res, set.status());
                     res.json(200, mappings.toJson(req.param("id"), *set));
                   }));
  server.route("PUT", "/api/integrations/{id}/mappings",
               tenancy::requireTenant(
                   tenancy, tenancy::kScopeWrite,
                   [&mappings, known](const tenancy::Principal& p, const http::Request& req,
                                      http::Response& res) {
                     if (!checkIntegration(known, req, res)) return;
                     const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count();
                     Status stored = mappings.replace(p.tenant_id, req.param("id"), req.body, now);
                     if (stored.code() == StatusCode::kInvalidArgument)
                       return http::setError(res, 400, "invalid_request", stored.message());
                     if (!stored.isOk()) return http::setError(res, stored);
                     auto set = mappings.get(p.tenant_id, req.param("id"));
                     if (!set.isOk()) return http::setError(res, set.status());
                     res.json(200, mappings.toJson(req.param("id"), *set));
                   }));
}

}  // namespace ih::mappings

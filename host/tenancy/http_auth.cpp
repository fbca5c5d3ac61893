#include "tenancy/http_auth.h"

#include <string>

#include "common/clock.h"
#include "log/log.h"

namespace ih::tenancy {
namespace {

std::string bearerValue(std::string_view header) {
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size()) return {};
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return {};
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  return std::string(token);
}

void recordOnBehalf(Tenancy& tenancy, const Principal& who, const http::Request& req, int status) {
  log::info("admin acting as tenant", {{"tenant", who.tenant_id},
                                       {"method", req.method},
                                       {"path", req.path},
                                       {"status", status},
                                       {"request_id", req.request_id}});
  if (req.method == "GET" || req.method == "HEAD") return;
  std::string detail = "{\"method\":" + http::jsonQuote(req.method) +
                       ",\"path\":" + http::jsonQuote(req.path) + ",\"status\":" + std::to_string(status) +
                       ",\"request_id\":" + http::jsonQuote(req.request_id) + "}";
  store::AuditEntry entry{0, who.tenant_id, "", who.actor(), "admin.on_behalf", detail, nowMs()};
  if (Status s = tenancy.appendAudit(entry); !s.isOk()) {
    log::warn("could not audit an admin-on-behalf call", {{"tenant", who.tenant_id}, {"error", s.message()}});
  }
}

}  // namespace

http::Handler requireTenant(Tenancy& tenancy, std::string_view scope, AuthedHandler handler) {
  return [&tenancy, scope, handler = std::move(handler)](const http::Request& req, http::Response& res) {
    const std::string authorization = req.header("Authorization");
    const std::string on_behalf = req.header(kOnBehalfHeader);
    // The admin token (never an ihk_ key) with X-Ihost-Tenant: the operator acts as that tenant.
    if (!on_behalf.empty() && bearerValue(authorization).rfind("ihk_", 0) != 0) {
      auto admin = tenancy.authenticateAdmin(authorization);
      if (!admin.isOk()) {
        http::setError(res, admin.status());
        return;
      }
      auto tenant = tenancy.resolveTenant(on_behalf);
      if (!tenant.isOk()) {
        if (tenant.status().code() == StatusCode::kNotFound) {
          http::setError(res, 404, "unknown_tenant",
                         std::string(kOnBehalfHeader) + " names no tenant (\"" + on_behalf.substr(0, 100) +
                             "\"); list them with GET /api/admin/tenants");
        } else {
          http::setError(res, tenant.status());
        }
        return;
      }
      Principal acting = *admin;
      acting.tenant_id = tenant->id;
      handler(acting, req, res);
      res.tenant_id = acting.tenant_id;
      recordOnBehalf(tenancy, acting, req, res.status);
      return;
    }
    auto principal = tenancy.authenticate(authorization);
    if (!principal.isOk()) {
      http::setError(res, principal.status());
      return;
    }
    if (!on_behalf.empty() && on_behalf != principal->tenant_id) {
      http::setError(res, 403, "forbidden",
                     std::string(kOnBehalfHeader) +
                         " is for the admin token only; a tenant API key acts for its own tenant");
      return;
    }
    if (!principal->hasScope(scope)) {
      http::setError(res, 403, "insufficient_scope",
                     "this API key lacks the \"" + std::string(scope) + "\" scope needed for " + req.method +
                         " " + req.path);
      return;
    }
    handler(*principal, req, res);
    res.tenant_id = principal->tenant_id;
  };
}

http::Handler requireAdmin(Tenancy& tenancy, AuthedHandler handler) {
  return [&tenancy, handler = std::move(handler)](const http::Request& req, http::Response& res) {
    auto principal = tenancy.authenticateAdmin(req.header("Authorization"));
    if (!principal.isOk()) {
      http::setError(res, principal.status());
      return;
    }
    handler(*principal, req, res);
  };
}

}  // namespace ih::tenancy

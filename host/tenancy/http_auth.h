// Authentication wrappers for HTTP handlers: every /api route goes through one of these.
//   requireTenant: "Authorization: Bearer ihk_…" → 401 when missing/unknown/revoked, 403 when the key lacks
//                  `scope`; the handler receives the caller's Principal (tenant id, key id, scopes).
//                  An operator acts AS a tenant with the admin token plus "X-Ihost-Tenant: <tenant id or
//                  name>" (the admin console does): 404 unknown_tenant when no such tenant; the Principal
//                  then has admin = true and that tenant_id, and the call is audited (below).
//   requireAdmin:  the admin token → 401 otherwise.
#pragma once

#include <functional>
#include <string_view>

#include "http/server.h"
#include "tenancy/tenancy.h"

namespace ih::tenancy {

using AuthedHandler = std::function<void(const Principal&, const http::Request&, http::Response&)>;

// The header naming the tenant an admin-token call acts for.
inline constexpr std::string_view kOnBehalfHeader = "X-Ihost-Tenant";

// `tenancy` is borrowed and must outlive the returned handler.
http::Handler requireTenant(Tenancy& tenancy, std::string_view scope, AuthedHandler handler);
http::Handler requireAdmin(Tenancy& tenancy, AuthedHandler handler);

// Admin-on-behalf-of-tenant calls are recorded: every such call is logged ("admin acting as tenant",
// method, path, status); calls that change state (any method but GET/HEAD) also append an audit row
// (actor "admin", action "admin.on_behalf", detail {method, path, status}) to the tenant's audit log
// through Tenancy::appendAudit.

}  // namespace ih::tenancy

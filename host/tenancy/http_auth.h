// Authentication wrappers for HTTP handlers: every /api route goes through one of these.
//   requireTenant: "Authorization: Bearer ihk_…" → 401 when missing/unknown/revoked, 403 when the key lacks
//                  `scope`; the handler receives the caller's Principal (tenant id, key id, scopes).
//   requireAdmin:  the admin token → 401 otherwise.
#pragma once

#include <functional>
#include <string_view>

#include "http/server.h"
#include "tenancy/tenancy.h"

namespace ih::tenancy {

using AuthedHandler = std::function<void(const Principal&, const http::Request&, http::Response&)>;

// `tenancy` is borrowed and must outlive the returned handler.
http::Handler requireTenant(Tenancy& tenancy, std::string_view scope, AuthedHandler handler);
http::Handler requireAdmin(Tenancy& tenancy, AuthedHandler handler);

}  // namespace ih::tenancy

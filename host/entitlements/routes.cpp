// GET /api/entitlements?customer=<reference>. See entitlements.h.
#include <string>

#include "entitlements/entitlements.h"
#include "http/server.h"
#include "tenancy/http_auth.h"

namespace ih::entitlements {

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Entitlements& entitlements) {
  server.route(
      "GET", "/api/entitlements",
      tenancy::requireTenant(
          tenancy, tenancy::kScopeRead,
          [&entitlements](const tenancy::Principal& p, const http::Request& req, http::Response& res) {
            const std::string customer = req.queryValue("customer");
            if (customer.empty() || customer.size() > kMaxCustomerBytes) {
              return http::setError(
                  res, 400, "invalid_request",
                  "query parameter customer (your customer reference, 1-200 bytes) is required");
            }
            auto rows = entitlements.forCustomer(p.tenant_id, customer);
            if (!rows.isOk()) return http::setError(res, rows.status());
            res.json(200, listJson(customer, *rows));
          }));
}

}  // namespace ih::entitlements

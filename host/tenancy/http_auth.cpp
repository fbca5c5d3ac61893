#include "tenancy/http_auth.h"

#include <string>

namespace ih::tenancy {

http::Handler requireTenant(Tenancy& tenancy, std::string_view scope, AuthedHandler handler) {
  return [&tenancy, scope, handler = std::move(handler)](const http::Request& req, http::Response& res) {
    auto principal = tenancy.authenticate(req.header("Authorization"));
    if (!principal.isOk()) {
      http::setError(res, principal.status());
      return;
    }
    if (!principal->hasScope(scope)) {
      http::setError(res, 403, "insufficient_scope",
                     "this API key lacks the \"" + std::string(scope) + "\" scope needed for " + req.method +
                         " " + req.path);
      return;
    }
    handler(*principal, req, res);
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

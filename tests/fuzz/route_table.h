// The host's route table (the patterns host/*/ registers with http::Server), shared by the routing targets.
#pragma once

#include <string_view>
#include <utility>

namespace ih::fuzz {

inline constexpr std::pair<std::string_view, std::string_view> kHostRoutes[] = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/admin"},
    {"GET", "/admin/{path...}"},
    {"GET", "/api/whoami"},
    {"GET", "/api/audit"},
    {"GET", "/api/integrations"},
    {"GET", "/api/integrations/{id}"},
    {"GET", "/api/integrations/{id}/test"},
    {"POST", "/api/integrations/{id}/connect"},
    {"POST", "/api/integrations/{id}/disconnect"},
    {"DELETE", "/api/integrations/{id}"},
    {"POST", "/api/integrations/{id}/actions/{action}"},
    {"POST", "/api/integrations/{id}/workflows/{action}"},
    {"GET", "/api/integrations/{id}/jobs"},
    {"POST", "/api/integrations/{id}/jobs/{job}/run"},
    {"GET", "/api/integrations/{id}/jobs/{job}/runs"},
    {"GET", "/api/integrations/{id}/jobs/{job}/runs/{run}"},
    {"GET", "/api/integrations/{id}/oauth/start"},
    {"GET", "/api/integrations/{id}/routes/{path...}"},
    {"POST", "/api/integrations/{id}/routes/{path...}"},
    {"GET", "/oauth/{id}/callback"},
    {"GET", "/api/records/{integration}/{model}"},
    {"GET", "/api/records/{integration}/{model}/{id}"},
    {"GET", "/api/events"},
    {"GET", "/api/events/stream"},
    {"GET", "/api/endpoints"},
    {"POST", "/api/endpoints"},
    {"GET", "/api/endpoints/{id}"},
    {"PATCH", "/api/endpoints/{id}"},
    {"DELETE", "/api/endpoints/{id}"},
    {"GET", "/api/endpoints/{id}/attempts"},
    {"POST", "/api/endpoints/{id}/rotate_secret"},
    {"POST", "/api/endpoints/{id}/recover"},
    {"POST", "/api/endpoints/{id}/messages/{event_id}/resend"},
    {"GET", "/api/webhooks"},
    {"GET", "/api/webhooks/{id}"},
    {"POST", "/api/webhooks/{id}/replay"},
    {"GET", "/api/workflows/{run}"},
    {"POST", "/api/workflows/{run}/answer"},
    {"DELETE", "/api/workflows/{run}"},
    {"GET", "/api/admin/plugins"},
    {"GET", "/api/admin/tenants"},
    {"POST", "/api/admin/tenants"},
    {"GET", "/api/admin/tenants/{tenant}/keys"},
    {"POST", "/api/admin/tenants/{tenant}/keys"},
    {"DELETE", "/api/admin/tenants/{tenant}/keys/{key}"},
    {"GET", "/api/admin/webhooks"},
    {"POST", "/webhooks/{integration}"},
    {"POST", "/webhooks/{integration}/{tenant}"},
};

}  // namespace ih::fuzz

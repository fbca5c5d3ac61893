// The OpenAPI 3.1 document of the HTTP API: docs/openapi.yaml, converted to compact JSON at build time
// (openapi_embed.cpp) and served at GET /api/openapi.json.
#pragma once

#include <string_view>

namespace ih::http {
class Server;
}

namespace ih::api {

extern const std::string_view kOpenApiJson;  // the whole document
extern const std::string_view kOpenApiEtag;  // a strong ETag of those bytes, quoted

// GET /api/openapi.json: unauthenticated (it describes the API, holds no data), with the ETag and
// If-None-Match (304). Call before server.start().
void registerOpenApi(http::Server& server);

}  // namespace ih::api

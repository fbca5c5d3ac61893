#include "api/openapi.h"

#include <string>

#include "http/server.h"

namespace ih::api {

void registerOpenApi(http::Server& server) {
  server.route("GET", "/api/openapi.json", [](const http::Request& req, http::Response& res) {
    res.setHeader("ETag", std::string(kOpenApiEtag));
    res.setHeader("Cache-Control", "no-cache");
    if (req.header("If-None-Match") == kOpenApiEtag) {
      res.status = 304;
      res.body.clear();
      return;
    }
    res.json(200, std::string(kOpenApiJson));
  });
}

}  // namespace ih::api

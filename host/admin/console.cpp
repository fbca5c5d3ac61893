// GET /admin[/...]: the console's embedded files, by their path under host/admin/assets/ ("app.js",
// "vendor/uPlot.iife.min.js"; only names in the embedded table are served). Paths without a file extension are
// console pages and get index.html (the console routes on the URL fragment, so any such path is the console).
#include <string>
#include <string_view>

#include "admin/admin.h"
#include "admin/assets.h"
#include "http/server.h"

namespace ih::admin {
namespace {

// No inline script or style, nothing from other origins; API calls go to this origin only. The console is
// never framed (clickjacking) and sends no Referer (the fragment never leaves, but be strict anyway).
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

std::string_view contentType(std::string_view name) {
  auto ends = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json")) return "application/json";
  if (ends(".txt")) return "text/plain; charset=utf-8";  // e.g. a vendored library's licence
  return "application/octet-stream";
}

const ConsoleAsset* findAsset(std::string_view name) {
  for (const ConsoleAsset* a = kConsoleAssets; a->name != nullptr; ++a) {
    if (name == a->name) return a;
  }
  return nullptr;
}

// True when an If-None-Match header value lists `etag` (or is "*").
bool etagMatches(std::string_view header, std::string_view etag) {
  if (header == "*") return true;
  size_t i = 0;
  while (i < header.size()) {
    size_t comma = header.find(',', i);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(i, comma - i);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == etag) return true;
    i = comma + 1;
  }
  return false;
}

void serve(const http::Request& req, http::Response& res) {
  std::string name = req.param("path");
  if (name.empty() || name.find('.') == std::string::npos) name = "index.html";
  const ConsoleAsset* asset = findAsset(name);
  if (asset == nullptr) {
    return http::setError(res, 404, "not_found", "the console has no file \"" + name + "\"");
  }
  std::string etag = "\"";
  etag.append(asset->sha256, 32);  // 128 bits of the SHA-256 are plenty for a cache validator
  etag += '"';
  res.setHeader("Content-Security-Policy", kContentSecurityPolicy);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  // Revalidate every time (file names carry no version); unchanged files cost a 304 with no body.
  res.setHeader("Cache-Control", "no-cache");
  res.setHeader("ETag", etag);
  if (etagMatches(req.header("If-None-Match"), etag)) {
    res.status = 304;
    res.body.clear();
    res.content_type = std::string(contentType(name));
    return;
  }
  res.status = 200;
  res.content_type = std::string(contentType(name));
  res.body.assign(reinterpret_cast<const char*>(asset->bytes), asset->size);
}

}  // namespace

void registerConsole(http::Server& server) {
  server.route("GET", "/admin", serve);
  server.route("GET", "/admin/{path...}", serve);
}

}  // namespace ih::admin

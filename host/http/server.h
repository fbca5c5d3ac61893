// The host's HTTP server: cpp-httplib underneath (TCP_NODELAY, a sized worker pool, body limit, timeouts),
// our own router on top, request ids, and one JSON error envelope: {"error":{"code":"…","message":"…",
// "request_id":"…"}}. httplib types stay out of this header so modules that register routes compile fast.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ih::http {

struct Request {
  std::string method;
  std::string path;  // without the query string
  std::string body;  // exact bytes received
  std::string remote_addr;
  std::string request_id;
  std::string route;                                         // the matched pattern, e.g. "/api/items/{id}"
  std::map<std::string, std::string, std::less<>> params;    // {name} segments of the route
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // as received

  // Case-insensitive header lookup; empty when absent.
  std::string header(std::string_view name) const;
  bool hasHeader(std::string_view name) const;
  // First query value for `name`; empty when absent.
  std::string queryValue(std::string_view name) const;
  bool hasQuery(std::string_view name) const;
  std::string param(std::string_view name) const;
};

// A streamed body (Server-Sent Events and the like): called repeatedly on a worker thread; write with
// `write`, return false to end the response. `write` returns false once the client is gone.
using StreamWriter = std::function<bool(const char* data, size_t len)>;
using StreamProducer = std::function<bool(const StreamWriter& write)>;

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  StreamProducer stream;  // when set, body is ignored and the response is chunked

  void setHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  void json(int http_status, std::string json_body) {
    status = http_status;
    body = std::move(json_body);
    content_type = "application/json";
  }
};

// Fills `response` with the JSON error envelope. The message is passed through ih::redact.
void setError(Response& response, int http_status, std::string_view code, std::string_view message);
void setError(Response& response, const Status& status);
// JSON string literal for `text` (quoted, escaped). Small helper for hand-built bodies.
std::string jsonQuote(std::string_view text);

using Handler = std::function<void(const Request&, Response&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see port())
  size_t max_body_bytes = 1 << 20;
  int read_timeout_ms = 10000;
  int write_timeout_ms = 10000;
  int idle_timeout_ms = 60000;
  // Threads started with the server. cpp-httplib serves each connection on one thread for its whole
  // keep-alive life, so the pool grows on demand (one thread per open connection) up to max_connections;
  // connections beyond that wait for one to close.
  int worker_threads = 32;
  int max_connections = 512;
  int keep_alive_max_requests = 10000;
};

// Called once per finished request (metrics, access log). `route` is the matched pattern or "unmatched".
using Observer = std::function<void(const Request&, int status, double seconds)>;

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a handler. Patterns are literal segments and {name} segments ("/api/items/{id}"); a final
  // "{name...}" segment matches the rest of the path. Literal routes win over parameter routes. Register
  // before start(); not thread-safe.
  void route(std::string_view method, std::string_view pattern, Handler handler);
  void setObserver(Observer observer);
  // /readyz answers 200 only after setReady(true).
  void setReady(bool ready);

  // Binds and serves on a background thread. Fails with a message naming the address when it cannot bind.
  Status start();
  // Bound port (after start()).
  int port() const;
  // Stops accepting, lets in-flight requests finish, joins. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ih::http

// The host's HTTP/1.1 server: Boost.Beast on Boost.Asio underneath (epoll, a few network threads, no thread
// per connection: idle keep-alive connections and open event streams cost a socket, not a thread), our own
// router on top, request ids, and one JSON error envelope: {"error":{"code":"…","message":"…"}}.
// Blocking handlers run on a worker pool; async handlers (routeAsync) run on a network thread and answer
// later from any thread, so a request waiting for a group commit holds no thread at all. Beast and Asio types
// stay out of this header so modules that register routes compile fast.
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

// Every string here except `body` is well-formed UTF-8: the server answers 400 invalid_request to a target or
// header that is not, so handlers may put any of them into JSON as is.
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

// The write side of a streamed response (Server-Sent Events and the like), pushed by the application from any
// thread: the response is chunked and stays open until close() or the client leaves. Thread-safe. The
// application may keep it as long as it likes: it does not keep the connection (nor the server) alive, and
// once either is gone every call is a no-op.
class StreamChannel {
 public:
  virtual ~StreamChannel() = default;
  // Queues `data` as one chunk (never blocks). False once the stream is closed; the data is dropped then.
  virtual bool write(std::string data) = 0;
  // Ends the response (last chunk). Idempotent.
  virtual void close() = 0;
  virtual bool isOpen() const = 0;
  // Bytes queued and not yet written to the socket (slow readers: close them past a limit).
  virtual size_t pendingBytes() const = 0;
  // `fn` runs once when the stream ends for any reason (client gone, close(), server stop), on a network
  // thread; immediately (on the caller's thread) when it has ended already. Must not block.
  virtual void onClose(std::function<void()> fn) = 0;
};
// Called once the response headers are on their way; keep the channel to push chunks.
using StreamOpen = std::function<void(std::shared_ptr<StreamChannel> channel)>;

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  StreamOpen stream;  // when set, body is ignored and the response is a chunked stream
  // The tenant the request acted for, once authenticated (tenancy's requireTenant, the webhook intake): for
  // the access log only, never sent.
  std::string tenant_id;

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

// Runs on a worker thread; may block (store reads and writes, plugin calls).
using Handler = std::function<void(const Request&, Response&)>;
// Completes an async request. Call exactly once, from any thread.
using Respond = std::function<void(Response response)>;
// Runs on a network thread and must not block: hand the work to something that calls `respond` later.
// `request` is valid only during the call; copy what the completion needs.
using AsyncHandler = std::function<void(const Request& request, Respond respond)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see port())
  size_t max_body_bytes = 1 << 20;
  // A request head (request line and headers) must be complete this long after its first byte (after the
  // accept on a new connection). Absolute: a slow trickle of bytes does not extend it.
  int header_timeout_ms = 10000;
  int read_timeout_ms = 10000;   // the whole body
  int write_timeout_ms = 10000;  // each write
  int idle_timeout_ms = 60000;   // a keep-alive connection waiting for the next request's first byte
  // Threads that run blocking handlers. A connection holds one only while its handler runs.
  int worker_threads = 32;
  int io_threads = 2;  // network threads (parsing, async handlers, writes)
  // Connection caps. Over either, a connection is answered 503 (JSON error, Retry-After) instead of being
  // served; health probes still are, through the reserve below.
  int max_connections = 10000;
  // Per client address (IPv6: per /64). 0 = no per-address cap. Behind a reverse proxy every client has the
  // proxy's address: raise it to max_connections there (and cap clients at the proxy).
  int max_connections_per_ip = 256;
  // Connections over a cap that may still send one request: /healthz, /readyz and /metrics are answered,
  // anything else gets the 503. At most a quarter of them per address; their head must arrive within
  // reserve_header_timeout_ms (or header_timeout_ms if shorter).
  int reserve_connections = 32;
  int reserve_header_timeout_ms = 2000;
  int keep_alive_max_requests = 10000;
};

// What the server knows of an answered request (for the access log).
struct Answered {
  int status = 0;
  double seconds = 0;          // from the request's first byte to the answer being queued
  size_t bytes_out = 0;        // response body (0 for a stream: its head is what is answered)
  std::string_view tenant_id;  // Response::tenant_id
};
// Called once per answered request, on a network thread. Request::route is the matched pattern or
// "unmatched". Must be quick and must not throw.
using Observer = std::function<void(const Request&, const Answered&)>;

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a handler. Patterns are literal segments and {name} segments ("/api/items/{id}"); a final
  // "{name...}" segment matches the rest of the path. Literal routes win over parameter routes (matching
  // rules: http/router.h). Register before start(); not thread-safe. REQUIRES: a valid pattern (the process
  // aborts on a malformed one: patterns are code, never input).
  void route(std::string_view method, std::string_view pattern, Handler handler);
  // Same matching rules; the handler runs on a network thread (see AsyncHandler).
  void routeAsync(std::string_view method, std::string_view pattern, AsyncHandler handler);
  void setObserver(Observer observer);
  // Every registered route as (method, pattern), in registration order (/healthz and /readyz included): what
  // the OpenAPI document must describe (tests compare the two).
  std::vector<std::pair<std::string, std::string>> routes() const;
  // /readyz answers 200 only after setReady(true).
  void setReady(bool ready);

  // Binds and serves on a background thread. Fails with a message naming the address when it cannot bind.
  Status start();
  // Bound port (after start()).
  int port() const;
  // Open connections (keep-alive, streams and reserve connections included).
  size_t connectionCount() const;
  // Stops accepting, lets running handlers finish, closes every connection and stream, joins. Idempotent.
  // Afterwards StreamChannels and Respond callbacks the application still holds are harmless no-ops (writes
  // return false), and every connection object is gone before the server's io_context.
  void stop();

 private:
  friend class Session;  // one connection (server.cpp)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ih::http

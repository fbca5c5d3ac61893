// HTTP/1.1 on Boost.Beast. One io_context served by `io_threads` network threads; each connection is a
// Session (shared_ptr) whose operations run on its own strand. A request is read with a Beast parser, routed
// (http/router.h), then:
//   - blocking Handler: posted to the worker pool; the response is posted back to the session's strand;
//   - AsyncHandler: called on the strand; `respond` posts the response back from whatever thread calls it;
//   - a streamed response (Response::stream): headers go out with Transfer-Encoding: chunked and the session
//     becomes a Stream: chunks pushed from any thread are queued and written one async_write at a time, and
//     a pending read notices when the client goes away.
// Deadlines (absolute, so bytes trickling in never extend them): a new connection's first request head must
// be complete within header_timeout_ms of the accept; a keep-alive connection waits idle_timeout_ms for the
// next request's first byte, then header_timeout_ms for the rest of its head; a body gets read_timeout_ms;
// each write write_timeout_ms. Connection caps and the reserve that keeps health probes answerable: see
// Server::Impl::admit.
#include "http/server.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "common/json_text.h"
#include "common/text.h"
#include "http/router.h"
#include "log/log.h"
#include "metrics/metrics.h"

namespace ih::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Whether `text` is 1..max_size bytes of printable ASCII (no spaces or controls).
bool isPrintableToken(std::string_view text, size_t max_size) {
  if (text.empty() || text.size() > max_size) return false;
  for (char c : text)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

std::string newRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[24];
  std::snprintf(buf, sizeof buf, "req_%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

constexpr char kRequestsName[] = "ihost_http_requests_total";
constexpr char kRequestsHelp[] = "HTTP requests served, by route pattern, method and status.";
constexpr char kDurationName[] = "ihost_http_request_duration_seconds";
constexpr char kDurationHelp[] =
    "Time from request parsed to response ready (streams: until the stream starts), by route pattern.";

// Metric handles of one (route, method): looked up on first use, then updated lock-free. The label is the
// route PATTERN (or "unmatched"), never the raw path, so cardinality stays bounded; routes never called add
// no series.
struct RouteMetrics {
  RouteMetrics(std::string route, std::string method) : route(std::move(route)), method(std::move(method)) {}
  void record(int status, double seconds) {
    metrics::Histogram* histogram = duration.load(std::memory_order_acquire);
    if (histogram == nullptr) {
      histogram = &metrics::registry().histogram(kDurationName, kDurationHelp,
                                                 {{"route", route}, {"method", method}});
      duration.store(histogram, std::memory_order_release);
    }
    histogram->observe(seconds);
    if (status < 100 || status >= static_cast<int>(by_status.size())) status = 0;
    metrics::Counter* counter = by_status[static_cast<size_t>(status)].load(std::memory_order_acquire);
    if (counter == nullptr) {
      counter = &metrics::registry().counter(
          kRequestsName, kRequestsHelp,
          {{"route", route}, {"method", method}, {"status", status == 0 ? "other" : std::to_string(status)}});
      by_status[static_cast<size_t>(status)].store(counter, std::memory_order_release);
    }
    counter->inc();
  }
  const std::string route;
  const std::string method;
  std::atomic<metrics::Histogram*> duration{nullptr};           // registry-owned
  std::array<std::atomic<metrics::Counter*>, 600> by_status{};  // index = HTTP status; registry-owned
};

// A registered handler; its index in Server::Impl::routes is its Router id.
struct Route {
  std::string method;
  std::string pattern;
  Handler handler;  // exactly one of handler / async_handler is set
  AsyncHandler async_handler;
  std::unique_ptr<RouteMetrics> metrics;
};

const char* reasonPhrase(int status) {
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return reason.empty() ? "Unknown" : reason.data();
}

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (equalsIgnoreCase(k, name)) return v;
  return {};
}

bool Request::hasHeader(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (equalsIgnoreCase(k, name)) return true;
  return false;
}

std::string Request::queryValue(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return {};
}

bool Request::hasQuery(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return true;
  return false;
}

std::string Request::param(std::string_view name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string jsonQuote(std::string_view text) {
  return ih::jsonQuote(text);
}

void setError(Response& response, int http_status, std::string_view code, std::string_view message) {
  response.status = http_status;
  response.content_type = "application/json";
  response.stream = nullptr;
  response.body =
      "{\"error\":{\"code\":" + jsonQuote(code) + ",\"message\":" + jsonQuote(redact(message)) + "}}";
}

void setError(Response& response, const Status& status) {
  setError(response, status.httpStatus(), status.codeName(), status.message());
}

class Session;

namespace {

// Whether a handler's response header may be written as is: a token name and a value without CR, LF or NUL.
// Handlers copy plugin and tenant text into headers (a redirect's Location, a plugin's own headers); a
// value with a line break would split the response. Such a header is dropped and logged, never sent.
bool safeHeader(std::string_view name, std::string_view value) {
  if (name.empty() || name.size() > 256) return false;
  for (char c : name) {
    const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void dropUnsafeHeaders(std::vector<std::pair<std::string, std::string>>& headers) {
  std::erase_if(headers, [](const auto& header) {
    if (safeHeader(header.first, header.second)) return false;
    log::warn("response header dropped: its name or value would break the response",
              {{"header", toValidUtf8(header.first.substr(0, 64))}});
    return true;
  });
}

// Paths a reserve connection may ask for (see Server::Impl::admit).
bool isProbePath(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

// IPv4 clients count per address; IPv6 clients per /64, the block one subscriber usually holds (counting
// per /128 would let one host open max_connections_per_ip connections from each of 2^64 addresses).
std::string addressKey(const asio::ip::address& address) {
  if (address.is_v6()) {
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes).to_string() + "/64";
  }
  return address.to_string();
}

enum class Admission { kNormal, kReserve, kRefused };
enum class Refusal { kNone, kMaxConnections, kMaxConnectionsPerIp };

const char* refusalLabel(Refusal reason) {
  return reason == Refusal::kMaxConnectionsPerIp ? "max_connections_per_ip" : "max_connections";
}

// The 503 a connection over a cap receives: a JSON error, Retry-After, and the connection closes.
void setRefusal(Response& res, Refusal reason, const ServerOptions& options) {
  if (reason == Refusal::kMaxConnectionsPerIp) {
    setError(res, 503, "too_many_connections",
             "this client address already holds " + std::to_string(options.max_connections_per_ip) +
                 " connections, the maximum ([server] max_connections_per_ip); reuse or close them and "
                 "retry");
  } else {
    setError(res, 503, "overloaded",
             "the server holds its maximum of " + std::to_string(options.max_connections) +
                 " connections ([server] max_connections); retry shortly");
  }
  res.setHeader("Retry-After", "2");
}

// Connection-level metrics (process-global registry; several servers in one process add up).
struct ConnectionMetrics {
  metrics::Gauge& open = metrics::registry().gauge(
      "ihost_http_connections_open", "Open HTTP connections (keep-alive, in flight and event streams).");
  metrics::Gauge& reserve_open = metrics::registry().gauge(
      "ihost_http_reserve_connections_open",
      "Connections over a cap held in the reserve that answers only /healthz, /readyz and /metrics.");
  metrics::Counter& refused_global = refused("max_connections");
  metrics::Counter& refused_per_ip = refused("max_connections_per_ip");
  metrics::Counter& timeout_header = timeout("header");
  metrics::Counter& timeout_idle = timeout("idle");
  metrics::Counter& timeout_body = timeout("body");

  static metrics::Counter& refused(const char* reason) {
    return metrics::registry().counter(
        "ihost_http_connections_refused_total",
        "Connections answered 503 (or closed when the reserve was full too) because a connection cap was "
        "reached, by cap.",
        {{"reason", reason}});
  }
  static metrics::Counter& timeout(const char* phase) {
    return metrics::registry().counter("ihost_http_read_timeouts_total",
                                       "Connections closed because a read deadline passed, by phase (header: "
                                       "the request head; idle: keep-alive wait; body).",
                                       {{"phase", phase}});
  }
};

// Whether application threads may still reach sessions through stream channels and async completions.
// Server::stop() closes it (exclusive lock) before the io_context goes away; every such call holds it shared
// while it touches a session or posts to its strand. It outlives the server: the handles hold it.
struct Gate {
  std::shared_mutex mu;
  bool open = true;  // GUARDED_BY(mu)
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Router router;                               // ids index `routes`
  std::vector<std::unique_ptr<Route>> routes;  // registered before start(); never changes after
  Observer observer;
  std::atomic<bool> ready{false};
  int port = 0;
  std::atomic<bool> running{false};

  // Declared before `ioc`: a Session destroyed while the io_context is destroyed (a handler that never ran)
  // still updates these.
  ConnectionMetrics connection_metrics;
  std::atomic<size_t> live_sessions{0};  // Session objects in existence; stop() waits for 0
  const std::shared_ptr<Gate> gate = std::make_shared<Gate>();

  asio::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_backoff;
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> io_threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  // Requests that matched no route, per method ("OTHER" for methods outside this list).
  std::map<std::string, std::unique_ptr<RouteMetrics>, std::less<>> unmatched_metrics = [] {
    std::map<std::string, std::unique_ptr<RouteMetrics>, std::less<>> m;
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER"})
      m.emplace(method, std::make_unique<RouteMetrics>("unmatched", method));
    return m;
  }();

  struct AddressCount {
    size_t normal = 0;
    size_t reserve = 0;
  };
  mutable std::mutex sessions_mu;
  std::set<std::shared_ptr<Session>> sessions;               // GUARDED_BY(sessions_mu)
  size_t normal_open = 0;                                    // GUARDED_BY(sessions_mu)
  size_t reserve_open = 0;                                   // GUARDED_BY(sessions_mu)
  std::unordered_map<std::string, AddressCount> by_address;  // GUARDED_BY(sessions_mu)

  // Refusals are counted in metrics; the log gets one line per minute at most, whatever the flood.
  std::atomic<int64_t> next_refusal_log_ms{0};
  std::atomic<uint64_t> refused_unlogged{0};

  // The route for `method` and `path` (params filled), or nullptr.
  const Route* match(std::string_view method, const DecodedPath& path, RouteParams& params) const {
    auto found = router.match(method, path);
    if (!found) return nullptr;
    params = std::move(found->params);
    return routes[static_cast<size_t>(found->id)].get();
  }

  void accept();
  void admit(tcp::socket socket);
  void refuseNow(tcp::socket& socket, Refusal reason);
  void noteRefusal(Refusal reason);
  void forget(const std::shared_ptr<Session>& session);
};

// One connection. Every member below is used only on the session's strand, except the stream queue (mu_)
// and busy_. Owned by Server::Impl::sessions until it closes, and by the handlers of its pending operations;
// application threads reach it only through a StreamHandle or an async Respond, which hold it weakly and only
// while the server's Gate is open, so a session never outlives the io_context.
class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, tcp::socket socket, std::string remote_addr, std::string address_key,
          bool reserve, Refusal refusal)
      : server_(server),
        stream_(std::move(socket)),
        remote_addr_(std::move(remote_addr)),
        address_key_(std::move(address_key)),
        reserve_(reserve),
        refusal_(refusal) {
    server_.live_sessions.fetch_add(1);
  }
  ~Session() { server_.live_sessions.fetch_sub(1); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->readHeader(); });
  }

  const std::string& addressKey() const { return address_key_; }
  bool reserve() const { return reserve_; }
  // Any thread: a request is being handled or answered (stop() waits for those).
  bool busy() const { return busy_.load(); }
  // Any thread: closes the socket (server stop).
  void shutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->closeNow(); });
  }

  // --- the stream side, for StreamHandle (any thread) ---
  bool streamWrite(std::string data) {
    if (data.empty()) return streamOpen();
    char size_line[20];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    std::string chunk;
    chunk.reserve(data.size() + 24);
    chunk += size_line;
    chunk += data;
    chunk += "\r\n";
    {
      std::lock_guard lock(mu_);
      if (stream_closed_ || stream_ending_) return false;
      pending_bytes_ += chunk.size();
      queue_.push_back(std::move(chunk));
    }
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->flush(); });
    return true;
  }
  void streamClose() {
    {
      std::lock_guard lock(mu_);
      if (stream_closed_ || stream_ending_) return;
      stream_ending_ = true;
      queue_.push_back("0\r\n\r\n");
    }
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->flush(); });
  }
  bool streamOpen() const {
    std::lock_guard lock(mu_);
    return !stream_closed_ && !stream_ending_;
  }
  size_t streamPendingBytes() const {
    std::lock_guard lock(mu_);
    return pending_bytes_;
  }
  // Keeps `fn` for closeNow(); false (fn untouched) when the connection has closed already.
  bool streamOnClose(std::function<void()>& fn) {
    std::lock_guard lock(mu_);
    if (stream_closed_) return false;
    on_close_.push_back(std::move(fn));
    return true;
  }

 private:
  enum class Phase { kHeader, kIdle, kBody, kOther };

  const ServerOptions& options() const { return server_.options; }

  // The whole head must arrive within this much time from its first byte (from accept on a new
  // connection): an absolute deadline, so bytes trickling in do not extend it.
  std::chrono::milliseconds headerTimeout() const {
    int ms = options().header_timeout_ms;
    if (reserve_) ms = std::min(ms, options().reserve_header_timeout_ms);
    return std::chrono::milliseconds(std::max(1, ms));
  }

  // Keep-alive: the next request's first byte may take idle_timeout_ms; then its head gets headerTimeout().
  void awaitNext() {
    if (closed_) return;
    if (buffer_.size() > 0) return readHeader();  // pipelined: the next head has begun already
    phase_ = Phase::kIdle;
    stream_.expires_after(std::chrono::milliseconds(options().idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->failRead(ec);
                              self->buffer_.commit(n);
                              self->readHeader();
                            });
  }

  void readHeader() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(options().max_body_bytes);
    phase_ = Phase::kHeader;
    stream_.expires_after(headerTimeout());
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    if (ec) return failRead(ec);
    phase_ = Phase::kOther;
    started_ = Clock::now();
    auto& msg = parser_->get();
    if (reserve_) {
      // Over a cap: only a bodiless health probe is served; anything else is told to come back later.
      const std::string_view target(msg.target().data(), msg.target().size());
      const bool probe = (msg.method() == bhttp::verb::get || msg.method() == bhttp::verb::head) &&
                         isProbePath(target.substr(0, target.find('?'))) && parser_->is_done();
      if (!probe) return refuse();
    }
    const auto length = parser_->content_length();
    if (length && *length > options().max_body_bytes) return tooLarge();
    // curl and others wait for "100 Continue" before sending a body of more than 1 KB.
    auto expect = msg.find(bhttp::field::expect);
    if (expect != msg.end() &&
        equalsIgnoreCase(std::string_view(expect->value().data(), expect->value().size()), "100-continue") &&
        !parser_->is_done()) {
      continue_line_ = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(std::chrono::milliseconds(options().write_timeout_ms));
      asio::async_write(stream_, asio::buffer(continue_line_),
                        [self = shared_from_this()](beast::error_code wec, size_t) {
                          if (wec) return self->closeNow();
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    if (parser_->is_done()) return onRequest();
    phase_ = Phase::kBody;
    stream_.expires_after(std::chrono::milliseconds(options().read_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->failRead(ec);
      self->phase_ = Phase::kOther;
      self->onRequest();
    });
  }

  void failRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return tooLarge();
    if (ec == beast::error::timeout) {
      // The stream closed the socket already; nothing can be written. Counted, not logged (slow clients
      // and slowloris attempts are routine).
      auto& m = server_.connection_metrics;
      (phase_ == Phase::kIdle   ? m.timeout_idle
       : phase_ == Phase::kBody ? m.timeout_body
                                : m.timeout_header)
          .inc();
      return closeNow();
    }
    // A parse error (bytes that are not HTTP/1.1) gets a 400; a closed or reset connection is just closed.
    if (ec == bhttp::error::end_of_stream ||
        &ec.category() != &bhttp::make_error_code(bhttp::error::bad_target).category()) {
      return closeNow();
    }
    // Bytes arrived that are not HTTP/1.1.
    Response res;
    setError(res, 400, "bad_request", "malformed HTTP request: " + ec.message());
    keep_alive_ = false;
    writeResponse(std::move(res), nullptr);
  }

  void tooLarge() {
    Response res;
    setError(res, 413, "payload_too_large",
             "request body exceeds the limit of " + std::to_string(options().max_body_bytes) +
                 " bytes ([server] max_body_bytes)");
    keep_alive_ = false;  // the unread body would be parsed as the next request
    linger_ = true;       // ...and closing with it unread would reset the connection before the client reads
    writeResponse(std::move(res), nullptr);
  }

  // A reserve connection that is not a health probe: 503 with Retry-After, then close.
  void refuse() {
    Response res;
    setRefusal(res, refusal_, options());
    keep_alive_ = false;
    linger_ = !parser_->is_done();  // a body may follow the head: drain it so the 503 is not reset away
    route_ = nullptr;
    head_ = false;
    writeResponse(std::move(res), nullptr);
  }

  void onRequest() {
    stream_.expires_never();
    busy_ = true;
    auto& msg = parser_->get();
    auto req = std::make_shared<Request>();
    req->method = std::string(msg.method_string());
    const std::string_view target(msg.target().data(), msg.target().size());
    auto decoded = decodeTarget(target);
    if (decoded.isOk()) {
      req->path = std::move(decoded->path.text);
      req->query = std::move(decoded->query);
    } else {
      req->path = toValidUtf8(target.substr(0, target.find('?')));  // for the observer only
    }
    req->body = std::move(msg.body());
    req->remote_addr = remote_addr_;
    req->headers.reserve(static_cast<size_t>(std::distance(msg.begin(), msg.end())));
    for (const auto& field : msg)
      req->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    // A client's request id is echoed in a response header, error messages and logs: printable ASCII only.
    req->request_id = req->header("X-Request-Id");
    if (!isPrintableToken(req->request_id, 128)) req->request_id = newRequestId();
    ++served_;
    keep_alive_ = !reserve_ && msg.keep_alive() &&
                  served_ < static_cast<size_t>(std::max(1, options().keep_alive_max_requests));
    version_ = msg.version();
    head_ = req->method == "HEAD";

    // Bytes that are not UTF-8 in the target or a header are the client's mistake: a specific 400, never an
    // exception further down (every string a handler receives goes into JSON as is), and no log line.
    std::string invalid;
    if (!decoded.isOk()) {
      invalid = decoded.status().message();
    } else {
      for (const auto& [name, value] : req->headers) {
        if (!isValidUtf8(value)) {
          invalid = "header " + name + " is not valid UTF-8";  // names are HTTP tokens: ASCII
          break;
        }
      }
    }
    if (!invalid.empty()) {
      route_ = nullptr;
      req->route = "unmatched";
      Response res;
      setError(res, 400, "invalid_request", invalid);
      return writeResponse(std::move(res), req);
    }
    const DecodedPath& path = decoded->path;
    const Route* route = server_.match(req->method, path, req->params);
    if (route == nullptr && head_) {
      // HEAD is GET without the body (RFC 9110 9.3.2): served by the GET route unless one is registered.
      route = server_.match("GET", path, req->params);
    }
    const bool path_known = route != nullptr || server_.router.matchesAnyMethod(path);
    route_ = route;
    if (route == nullptr) {
      req->route = "unmatched";
      Response res;
      if (path_known) {
        setError(res, 405, "method_not_allowed", "method " + req->method + " is not allowed on " + req->path);
      } else {
        setError(res, 404, "not_found", "no route for " + req->method + " " + req->path);
      }
      return writeResponse(std::move(res), req);
    }
    req->route = route->pattern;
    if (route->async_handler) {
      // The completion holds the session weakly and posts only while the gate is open: an application that
      // answers after the server stopped (a group commit finishing late) finds nothing to answer.
      auto answered = std::make_shared<std::atomic<bool>>(false);
      Respond respond = [gate = server_.gate, weak = weak_from_this(), req, answered](Response res) {
        if (answered->exchange(true)) return;  // exactly once
        std::shared_lock lock(gate->mu);
        if (!gate->open) return;
        auto self = weak.lock();
        if (!self) return;
        asio::post(self->stream_.get_executor(),
                   [self, req, res = std::move(res)]() mutable { self->writeResponse(std::move(res), req); });
      };
      try {
        route->async_handler(*req, respond);
      } catch (const std::exception& e) {
        failHandler(route, req, e.what(), respond);
      } catch (...) {
        failHandler(route, req, "unknown exception", respond);
      }
      return;
    }
    asio::post(*server_.workers, [self = shared_from_this(), req, route] {
      Response res;
      try {
        route->handler(*req, res);
      } catch (const std::exception& e) {
        internalError(route, req, e.what(), res);
      } catch (...) {
        internalError(route, req, "unknown exception", res);
      }
      asio::post(self->stream_.get_executor(),
                 [self, req, res = std::move(res)]() mutable { self->writeResponse(std::move(res), req); });
    });
  }

  static void internalError(const Route* route, const std::shared_ptr<Request>& req, const char* what,
                            Response& res) {
    log::error("unhandled exception in HTTP handler",
               {{"route", route->pattern}, {"error", what}, {"request_id", req->request_id}});
    setError(res, 500, "internal", "internal error (request id " + req->request_id + ")");
  }
  static void failHandler(const Route* route, const std::shared_ptr<Request>& req, const char* what,
                          const Respond& respond) {
    Response res;
    internalError(route, req, what, res);
    respond(std::move(res));
  }

  // Metrics (route pattern, never the raw path) and the observer, once per answered request.
  void observe(const std::shared_ptr<Request>& req, const Response& res, size_t bytes_out) {
    if (!req) return;
    const double secs = std::chrono::duration<double>(Clock::now() - started_).count();
    if (route_ != nullptr) {
      route_->metrics->record(res.status, secs);
    } else {
      auto it = server_.unmatched_metrics.find(req->method);
      if (it == server_.unmatched_metrics.end()) it = server_.unmatched_metrics.find("OTHER");
      it->second->record(res.status, secs);
    }
    if (server_.observer) {
      try {
        server_.observer(*req, Answered{res.status, secs, bytes_out, res.tenant_id});
      } catch (...) {  // an access log line lost; the answer goes on
      }
    }
  }

  void writeResponse(Response res, std::shared_ptr<Request> req) {
    if (closed_) return;
    if (!server_.running.load()) keep_alive_ = false;
    dropUnsafeHeaders(res.headers);
    if (res.stream) return startStream(std::move(res), std::move(req));
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(version_ == 10 ? 10 : 11);
    out->result(static_cast<unsigned>(res.status));
    out->set(bhttp::field::content_type, res.content_type);
    if (req) out->set("X-Request-Id", req->request_id);
    for (auto& [k, v] : res.headers)
      out->insert(k, v);
    out->keep_alive(keep_alive_);
    if (head_) {
      out->content_length(res.body.size());  // the length a GET would have sent; no body
    } else {
      out->body() = std::move(res.body);
      out->prepare_payload();
    }
    observe(req, res, head_ ? 0 : out->body().size());
    stream_.expires_after(std::chrono::milliseconds(options().write_timeout_ms));
    bhttp::async_write(stream_, *out, [self = shared_from_this(), out](beast::error_code ec, size_t) {
      self->busy_ = false;
      if (!ec && self->linger_) return self->lingerClose();
      if (ec || !self->keep_alive_) return self->closeNow();
      self->awaitNext();
    });
  }

  // --- streamed responses ---

  void startStream(Response res, std::shared_ptr<Request> req) {
    std::string head = "HTTP/1.1 " + std::to_string(res.status) + " " + reasonPhrase(res.status) + "\r\n";
    head += "Content-Type: " + res.content_type + "\r\n";
    if (req) head += "X-Request-Id: " + req->request_id + "\r\n";
    for (const auto& [k, v] : res.headers)
      head += k + ": " + v + "\r\n";
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    observe(req, res, 0);
    {
      std::lock_guard lock(mu_);
      pending_bytes_ += head.size();
      queue_.push_front(std::move(head));
      streaming_ = true;
    }
    keep_alive_ = false;
    busy_ = false;  // an open stream does not hold the server's shutdown
    // A read stays pending for the stream's life: EOF or an error means the client left.
    stream_.expires_never();
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code, size_t) { self->closeNow(); });
    flush();
    res.stream(std::make_shared<StreamHandle>(server_.gate, weak_from_this()));
  }

  void flush() {
    if (closed_ || writing_) return;
    std::string next;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) return;
      // Coalesce what is queued into one write.
      while (!queue_.empty() && next.size() < 64 * 1024) {
        next += queue_.front();
        queue_.pop_front();
      }
    }
    writing_ = true;
    auto data = std::make_shared<std::string>(std::move(next));
    stream_.expires_after(std::chrono::milliseconds(options().write_timeout_ms));
    asio::async_write(stream_, asio::buffer(*data),
                      [self = shared_from_this(), data](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        {
                          std::lock_guard lock(self->mu_);
                          self->pending_bytes_ -= std::min(self->pending_bytes_, data->size());
                        }
                        if (ec) return self->closeNow();
                        bool ended = false;
                        {
                          std::lock_guard lock(self->mu_);
                          ended = self->stream_ending_ && self->queue_.empty();
                        }
                        if (ended) return self->closeNow();
                        self->stream_.expires_never();
                        self->flush();
                      });
  }

  // Half-closes, then reads and drops what the client still sends (for at most 2 s, 500 ms on a reserve
  // connection) before closing: closing a socket with unread bytes sends a reset, which can destroy the
  // answer before the client reads it.
  void lingerClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(reserve_ ? std::chrono::milliseconds(500) : std::chrono::milliseconds(2000));
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->closeNow();
                              self->drain();
                            });
  }

  void closeNow() {
    if (closed_) return;
    closed_ = true;
    server_.forget(shared_from_this());  // before the client can see the close: its slot is free by then
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(mu_);
      stream_closed_ = true;
      queue_.clear();
      pending_bytes_ = 0;
      callbacks.swap(on_close_);
    }
    for (auto& fn : callbacks) {
      try {
        fn();
      } catch (const std::exception& e) {
        log::error("stream close callback failed", {{"error", e.what()}});
      }
    }
  }

  // What the application holds for a streamed response: the session weakly, and only while the gate is open
  // (see Gate). Once the server stopped, or the connection is gone, writes return false and onClose runs at
  // once.
  class StreamHandle final : public StreamChannel {
   public:
    StreamHandle(std::shared_ptr<Gate> gate, std::weak_ptr<Session> session)
        : gate_(std::move(gate)), session_(std::move(session)) {}
    bool write(std::string data) override {
      std::shared_lock lock(gate_->mu);
      if (!gate_->open) return false;
      auto s = session_.lock();  // destroyed before `lock` is released: the io_context is still alive
      return s && s->streamWrite(std::move(data));
    }
    void close() override {
      std::shared_lock lock(gate_->mu);
      if (!gate_->open) return;
      if (auto s = session_.lock()) s->streamClose();
    }
    bool isOpen() const override {
      std::shared_lock lock(gate_->mu);
      if (!gate_->open) return false;
      auto s = session_.lock();
      return s && s->streamOpen();
    }
    size_t pendingBytes() const override {
      std::shared_lock lock(gate_->mu);
      if (!gate_->open) return 0;
      auto s = session_.lock();
      return s ? s->streamPendingBytes() : 0;
    }
    void onClose(std::function<void()> fn) override {
      {
        std::shared_lock lock(gate_->mu);
        if (gate_->open) {
          auto s = session_.lock();
          if (s && s->streamOnClose(fn)) return;
        }
      }
      fn();
    }

   private:
    const std::shared_ptr<Gate> gate_;
    const std::weak_ptr<Session> session_;
  };

  Server::Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const std::string remote_addr_;
  const std::string address_key_;  // what the per-address cap counts (Server::Impl::by_address)
  const bool reserve_;             // admitted over a cap: serves one health probe, 503 otherwise
  const Refusal refusal_;          // the cap that was reached (reserve connections only)
  std::string continue_line_;
  const Route* route_ = nullptr;  // of the request being answered
  bool head_ = false;             // the request being answered is a HEAD
  Phase phase_ = Phase::kHeader;  // what the pending read is for (timeout metrics)
  Clock::time_point started_;
  size_t served_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool writing_ = false;
  bool linger_ = false;
  std::atomic<bool> busy_{false};
  char discard_[512];

  mutable std::mutex mu_;
  std::deque<std::string> queue_;                // GUARDED_BY(mu_): chunks not yet written
  size_t pending_bytes_ = 0;                     // GUARDED_BY(mu_)
  bool streaming_ = false;                       // GUARDED_BY(mu_)
  bool stream_ending_ = false;                   // GUARDED_BY(mu_): close() queued the last chunk
  bool stream_closed_ = false;                   // GUARDED_BY(mu_)
  std::vector<std::function<void()>> on_close_;  // GUARDED_BY(mu_)
};

void Server::Impl::accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      // EMFILE and the like: back off a little instead of spinning (without blocking a network thread).
      log::warn("HTTP accept failed", {{"error", ec.message()}});
      accept_backoff->expires_after(std::chrono::milliseconds(50));
      accept_backoff->async_wait([this](beast::error_code) {
        if (acceptor->is_open()) accept();
      });
      return;
    }
    admit(std::move(socket));
    accept();
  });
}

// Admission. A connection within both caps (max_connections, max_connections_per_ip) is served normally.
// Over a cap it goes to a small reserve (reserve_connections, at most a quarter of it per address) that
// serves exactly one request with a short header timeout: /healthz, /readyz and /metrics are answered as
// usual, anything else gets 503 with Retry-After. So health probes keep working while an attacker holds the
// caps, other clients learn why they are turned away, and the reserve itself cannot be held for long (its
// header timeout is short) nor by one address (its per-address share). When the reserve is full too, the
// 503 is written without reading the request and the connection is closed: best effort, never a thread or a
// buffer per refused connection.
void Server::Impl::admit(tcp::socket socket) {
  beast::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec || !running.load()) return;  // the client left already, or the server is stopping
  std::string key = addressKey(endpoint.address());
  Admission admission = Admission::kRefused;
  Refusal refusal = Refusal::kNone;
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(sessions_mu);
    AddressCount& count = by_address[key];
    const bool global_full = normal_open >= static_cast<size_t>(std::max(1, options.max_connections));
    const bool address_full = options.max_connections_per_ip > 0 &&
                              count.normal >= static_cast<size_t>(options.max_connections_per_ip);
    if (!global_full && !address_full) {
      admission = Admission::kNormal;
      ++normal_open;
      ++count.normal;
    } else {
      refusal = address_full ? Refusal::kMaxConnectionsPerIp : Refusal::kMaxConnections;
      const size_t reserve = static_cast<size_t>(std::max(0, options.reserve_connections));
      const size_t share = std::max<size_t>(1, reserve / 4);
      if (reserve_open < reserve && count.reserve < share) {
        admission = Admission::kReserve;
        ++reserve_open;
        ++count.reserve;
      } else if (count.normal == 0 && count.reserve == 0) {
        by_address.erase(key);
      }
    }
    if (admission != Admission::kRefused) {
      session = std::make_shared<Session>(*this, std::move(socket), endpoint.address().to_string(),
                                          std::move(key), admission == Admission::kReserve, refusal);
      sessions.insert(session);
    }
  }
  if (refusal != Refusal::kNone) noteRefusal(refusal);
  if (admission == Admission::kRefused) return refuseNow(socket, refusal);
  connection_metrics.open.add(1);
  if (admission == Admission::kReserve) connection_metrics.reserve_open.add(1);
  session->start();
}

void Server::Impl::refuseNow(tcp::socket& socket, Refusal reason) {
  Response res;
  setRefusal(res, reason, options);
  std::string text =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 2\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(text), ec);  // a fresh socket's send buffer takes it whole, or it is lost
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void Server::Impl::noteRefusal(Refusal reason) {
  (reason == Refusal::kMaxConnectionsPerIp ? connection_metrics.refused_per_ip
                                           : connection_metrics.refused_global)
      .inc();
  refused_unlogged.fetch_add(1);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  int64_t due = next_refusal_log_ms.load();
  if (now_ms < due || !next_refusal_log_ms.compare_exchange_strong(due, now_ms + 60000)) return;
  log::warn(
      "HTTP connections refused: a connection cap is reached (further refusals this minute are only "
      "counted in ihost_http_connections_refused_total)",
      {{"refused", static_cast<int64_t>(refused_unlogged.exchange(0))},
       {"last_cap", refusalLabel(reason)},
       {"max_connections", options.max_connections},
       {"max_connections_per_ip", options.max_connections_per_ip}});
}

void Server::Impl::forget(const std::shared_ptr<Session>& session) {
  {
    std::lock_guard lock(sessions_mu);
    if (sessions.erase(session) == 0) return;
    auto it = by_address.find(session->addressKey());
    if (it != by_address.end()) {
      size_t& n = session->reserve() ? it->second.reserve : it->second.normal;
      if (n > 0) --n;
      if (it->second.normal == 0 && it->second.reserve == 0) by_address.erase(it);
    }
    size_t& open = session->reserve() ? reserve_open : normal_open;
    if (open > 0) --open;
  }
  connection_metrics.open.add(-1);
  if (session->reserve()) connection_metrics.reserve_open.add(-1);
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  Impl* impl = impl_.get();
  route("GET", "/healthz", [](const Request&, Response& res) { res.json(200, R"({"status":"ok"})"); });
  route("GET", "/readyz", [impl](const Request&, Response& res) {
    if (impl->ready.load()) {
      res.json(200, R"({"status":"ready"})");
    } else {
      setError(res, 503, "not_ready", "the host is starting or shutting down");
    }
  });
}

Server::~Server() {
  stop();
}

namespace {
std::unique_ptr<Route> makeRoute(Router& router, size_t id, std::string_view method,
                                 std::string_view pattern) {
  if (Status s = router.add(method, pattern, static_cast<int>(id)); !s.isOk()) {
    // Patterns are written in code, never taken from input: a bad one is a bug to fix before shipping.
    std::fprintf(stderr, "ihost: invalid route pattern: %s\n", s.message().c_str());
    std::abort();
  }
  auto r = std::make_unique<Route>();
  r->method = std::string(method);
  r->pattern = std::string(pattern);
  r->metrics = std::make_unique<RouteMetrics>(r->pattern, r->method);
  return r;
}
}  // namespace

void Server::route(std::string_view method, std::string_view pattern, Handler handler) {
  auto r = makeRoute(impl_->router, impl_->routes.size(), method, pattern);
  r->handler = std::move(handler);
  impl_->routes.push_back(std::move(r));
}

void Server::routeAsync(std::string_view method, std::string_view pattern, AsyncHandler handler) {
  auto r = makeRoute(impl_->router, impl_->routes.size(), method, pattern);
  r->async_handler = std::move(handler);
  impl_->routes.push_back(std::move(r));
}

std::vector<std::pair<std::string, std::string>> Server::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(impl_->routes.size());
  for (const auto& r : impl_->routes)
    out.emplace_back(r->method, r->pattern);
  return out;
}

void Server::setObserver(Observer observer) {
  impl_->observer = std::move(observer);
}
void Server::setReady(bool ready) {
  impl_->ready.store(ready);
}

Status Server::start() {
  auto& o = impl_->options;
  // Every open connection and event stream is a descriptor: lift the soft limit (often 1024) to the hard one.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host, ec);
  if (ec) return Status::invalidArgument("cannot listen on \"" + o.host + "\": not an IP address");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
  tcp::acceptor acceptor(impl_->ioc);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) {
    return Status::unavailable("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (" +
                               ec.message() + "); change [server] listen");
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::unavailable("cannot listen on " + o.host + ": " + ec.message());
  impl_->port = acceptor.local_endpoint().port();
  impl_->acceptor.emplace(std::move(acceptor));
  impl_->accept_backoff.emplace(impl_->acceptor->get_executor());
  impl_->workers = std::make_unique<asio::thread_pool>(static_cast<size_t>(std::max(1, o.worker_threads)));
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->running = true;
  impl_->accept();
  for (int i = 0; i < std::max(1, o.io_threads); ++i) {
    impl_->io_threads.emplace_back([impl = impl_.get()] {
      // A thread entry point: an exception escaping a handler is logged and the thread keeps serving.
      for (;;) {
        try {
          impl->ioc.run();
          return;
        } catch (const std::exception& e) {
          log::error("unhandled exception on an HTTP network thread", {{"error", e.what()}});
        } catch (...) {
          log::error("unhandled exception on an HTTP network thread", {{"error", "unknown"}});
        }
      }
    });
  }
  return Status::ok();
}

int Server::port() const {
  return impl_->port;
}

size_t Server::connectionCount() const {
  std::lock_guard lock(impl_->sessions_mu);
  return impl_->sessions.size();
}

void Server::stop() {
  if (!impl_ || !impl_->running.exchange(false)) return;
  impl_->ready = false;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor->close(ec);
    impl->accept_backoff->cancel();
  });
  auto snapshot = [this] {
    std::lock_guard lock(impl_->sessions_mu);
    return std::vector<std::shared_ptr<Session>>(impl_->sessions.begin(), impl_->sessions.end());
  };
  // Idle keep-alive connections and streams close at once; requests being handled get up to 5 s to answer
  // (keep-alive is off from here on, so each connection closes after its answer).
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    bool busy = false;
    for (auto& s : snapshot()) {
      if (s->busy()) {
        busy = true;
      } else {
        s->shutdown();
      }
    }
    if (!busy || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& s : snapshot())
    s->shutdown();
  impl_->workers->join();
  // From here on no application thread reaches a session: stream channels and async completions that the
  // application still holds become no-ops. Taking the gate exclusively also waits for a call in progress.
  {
    std::unique_lock lock(impl_->gate->mu);
    impl_->gate->open = false;
  }
  // Let the network threads run the closed sessions' last handlers, so every Session is destroyed while the
  // io_context (its sockets' and timers' services) still exists.
  impl_->work.reset();
  const auto drain_deadline = Clock::now() + std::chrono::seconds(2);
  while (impl_->live_sessions.load() > 0 && Clock::now() < drain_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads)
    t.join();
  impl_->io_threads.clear();
  std::lock_guard lock(impl_->sessions_mu);
  impl_->connection_metrics.open.add(-static_cast<double>(impl_->normal_open + impl_->reserve_open));
  impl_->connection_metrics.reserve_open.add(-static_cast<double>(impl_->reserve_open));
  impl_->sessions.clear();
  impl_->by_address.clear();
  impl_->normal_open = 0;
  impl_->reserve_open = 0;
  // Any Session still referenced now is held by a handler that never ran; ~io_context destroys those
  // handlers (and so the sessions) before it destroys its services.
}

}  // namespace ih::http

// HTTP/1.1 on Boost.Beast. One io_context served by `io_threads` network threads; each connection is a
// Session (shared_ptr) whose operations run on its own strand. A request is read with a Beast parser (header
// first with the idle timeout, then the body with the read timeout and the body limit), routed, then:
//   - blocking Handler: posted to the worker pool; the response is posted back to the session's strand;
//   - AsyncHandler: called on the strand; `respond` posts the response back from whatever thread calls it;
//   - a streamed response (Response::stream): headers go out with Transfer-Encoding: chunked and the session
//     becomes a Stream: chunks pushed from any thread are queued and written one async_write at a time, and
//     a pending read notices when the client goes away.
#include "http/server.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
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
#include <thread>

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

struct Server::Impl {
  ServerOptions options;
  Router router;                               // ids index `routes`
  std::vector<std::unique_ptr<Route>> routes;  // registered before start(); never changes after
  Observer observer;
  std::atomic<bool> ready{false};
  int port = 0;
  std::atomic<bool> running{false};

  asio::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
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

  mutable std::mutex sessions_mu;
  std::set<std::shared_ptr<Session>> sessions;  // GUARDED_BY(sessions_mu)

  // The route for `method` and `path` (params filled), or nullptr.
  const Route* match(std::string_view method, const DecodedPath& path, RouteParams& params) const {
    auto found = router.match(method, path);
    if (!found) return nullptr;
    params = std::move(found->params);
    return routes[static_cast<size_t>(found->id)].get();
  }

  void accept();
  void forget(const std::shared_ptr<Session>& session) {
    std::lock_guard lock(sessions_mu);
    sessions.erase(session);
  }
};

// One connection. Every member below is used only on the session's strand, except the stream queue (mu_).
class Session final : public std::enable_shared_from_this<Session>, public StreamChannel {
 public:
  Session(Server::Impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

  void start() {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_addr_ = endpoint.address().to_string();
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->readHeader(); });
  }

  // Any thread: a request is being handled or answered (stop() waits for those).
  bool busy() const { return busy_.load(); }
  // Any thread: closes the socket (server stop).
  void shutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->closeNow(); });
  }

  // --- StreamChannel (any thread) ---
  bool write(std::string data) override {
    if (data.empty()) return isOpen();
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
  void close() override {
    {
      std::lock_guard lock(mu_);
      if (stream_closed_ || stream_ending_) return;
      stream_ending_ = true;
      queue_.push_back("0\r\n\r\n");
    }
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->flush(); });
  }
  bool isOpen() const override {
    std::lock_guard lock(mu_);
    return !stream_closed_ && !stream_ending_;
  }
  size_t pendingBytes() const override {
    std::lock_guard lock(mu_);
    return pending_bytes_;
  }
  void onClose(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (!stream_closed_) {
        on_close_.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

 private:
  const ServerOptions& options() const { return server_.options; }

  void readHeader() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(options().max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(options().idle_timeout_ms));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    if (ec) return failRead(ec);
    started_ = Clock::now();
    auto& msg = parser_->get();
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
    stream_.expires_after(std::chrono::milliseconds(options().read_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->failRead(ec);
      self->onRequest();
    });
  }

  void failRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return tooLarge();
    // A parse error (bytes that are not HTTP/1.1) gets a 400; a closed, reset or timed-out connection is
    // just closed.
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
    keep_alive_ =
        msg.keep_alive() && served_ < static_cast<size_t>(std::max(1, options().keep_alive_max_requests));
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
      auto self = shared_from_this();
      auto answered = std::make_shared<std::atomic<bool>>(false);
      Respond respond = [self, req, answered](Response res) {
        if (answered->exchange(true)) return;  // exactly once
        asio::post(self->stream_.get_executor(),
                   [self, req, res = std::move(res)]() mutable { self->writeResponse(std::move(res), req); });
      };
      try {
        route->async_handler(*req, respond);
      } catch (const std::exception& e) {
        log::error("unhandled exception in HTTP handler",
                   {{"route", route->pattern}, {"error", e.what()}, {"request_id", req->request_id}});
        Response res;
        setError(res, 500, "internal", "internal error (request id " + req->request_id + ")");
        respond(std::move(res));
      }
      return;
    }
    asio::post(*server_.workers, [self = shared_from_this(), req, route] {
      Response res;
      try {
        route->handler(*req, res);
      } catch (const std::exception& e) {
        log::error("unhandled exception in HTTP handler",
                   {{"route", route->pattern}, {"error", e.what()}, {"request_id", req->request_id}});
        setError(res, 500, "internal", "internal error (request id " + req->request_id + ")");
      }
      asio::post(self->stream_.get_executor(),
                 [self, req, res = std::move(res)]() mutable { self->writeResponse(std::move(res), req); });
    });
  }

  // Metrics (route pattern, never the raw path) and the observer, once per answered request.
  void observe(const std::shared_ptr<Request>& req, int status) {
    if (!req) return;
    const double secs = std::chrono::duration<double>(Clock::now() - started_).count();
    if (route_ != nullptr) {
      route_->metrics->record(status, secs);
    } else {
      auto it = server_.unmatched_metrics.find(req->method);
      if (it == server_.unmatched_metrics.end()) it = server_.unmatched_metrics.find("OTHER");
      it->second->record(status, secs);
    }
    if (server_.observer) server_.observer(*req, status, secs);
  }

  void writeResponse(Response res, std::shared_ptr<Request> req) {
    if (closed_) return;
    if (!server_.running.load()) keep_alive_ = false;
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
    observe(req, res.status);
    stream_.expires_after(std::chrono::milliseconds(options().write_timeout_ms));
    bhttp::async_write(stream_, *out, [self = shared_from_this(), out](beast::error_code ec, size_t) {
      self->busy_ = false;
      if (!ec && self->linger_) return self->lingerClose();
      if (ec || !self->keep_alive_) return self->closeNow();
      self->readHeader();
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
    observe(req, res.status);
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
    res.stream(std::static_pointer_cast<StreamChannel>(shared_from_this()));
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

  // Half-closes, then reads and drops what the client still sends (for at most 2 s) before closing: closing
  // a socket with unread bytes sends a reset, which can destroy the answer before the client reads it.
  void lingerClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
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
    for (auto& fn : callbacks)
      fn();
    server_.forget(shared_from_this());
  }

  Server::Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_addr_;
  std::string continue_line_;
  const Route* route_ = nullptr;  // of the request being answered
  bool head_ = false;             // the request being answered is a HEAD
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
      log::warn("HTTP accept failed", {{"error", ec.message()}});
      // EMFILE and the like: back off a little instead of spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return accept();
    }
    auto session = std::make_shared<Session>(*this, std::move(socket));
    bool admitted = false;
    {
      std::lock_guard lock(sessions_mu);
      if (sessions.size() < static_cast<size_t>(std::max(1, options.max_connections))) {
        sessions.insert(session);
        admitted = true;
      }
    }
    if (admitted) {
      session->start();
    } else {
      log::warn("HTTP connection refused: too many open connections",
                {{"max_connections", options.max_connections}});
    }
    accept();
  });
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
std::unique_ptr<Route> makeRoute(Router& router, size_t id, std::string_view method, std::string_view pattern) {
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
  impl_->workers = std::make_unique<asio::thread_pool>(static_cast<size_t>(std::max(1, o.worker_threads)));
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->running = true;
  impl_->accept();
  for (int i = 0; i < std::max(1, o.io_threads); ++i)
    impl_->io_threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
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
  impl_->work.reset();
  const auto drain_deadline = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < drain_deadline) {
    if (snapshot().empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads)
    t.join();
  impl_->io_threads.clear();
  std::lock_guard lock(impl_->sessions_mu);
  impl_->sessions.clear();
}

}  // namespace ih::http

#include "http/server.h"

#include "common/json_text.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "log/log.h"

namespace ih::http {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

std::string newRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[24];
  std::snprintf(buf, sizeof buf, "req_%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

struct Segment {
  enum class Kind { kLiteral, kParam, kRest } kind = Kind::kLiteral;
  std::string text;  // the literal, or the parameter's name
};

struct Route {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;  // parsed once in Server::route()
  int literal_count = 0;
  Handler handler;
};

// Whether `parts` matches `route` (no allocation: parameters are extracted only for the winning route).
bool matches(const Route& route, const std::vector<std::string_view>& parts) {
  size_t i = 0;
  for (const Segment& seg : route.segments) {
    if (seg.kind == Segment::Kind::kRest) return i < parts.size();
    if (i >= parts.size()) return false;
    if (seg.kind == Segment::Kind::kLiteral && seg.text != parts[i]) return false;
    ++i;
  }
  return i == parts.size();
}

// A pool that starts `warm` threads and grows on demand, one thread per waiting task, up to `max_threads`.
// cpp-httplib runs each connection as one task for its whole keep-alive life, so a fixed pool smaller than
// the number of open connections makes whole connections wait for another one to close (seconds of queueing).
// Threads are never retired: the pool only ever holds as many threads as connections were open at once.
class ConnectionPool final : public httplib::TaskQueue {
 public:
  ConnectionPool(size_t warm, size_t max_threads) : max_threads_(std::max<size_t>(max_threads, 1)) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < std::min(warm, max_threads_); ++i)
      threads_.emplace_back([this] { work(); });
  }
  ~ConnectionPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    jobs_.push_back(std::move(fn));
    // Each idle thread takes one job; start another thread for every job beyond them.
    if (jobs_.size() > idle_ && threads_.size() < max_threads_) {
      threads_.emplace_back([this] { work(); });
    } else {
      cv_.notify_one();
    }
  }

  void shutdown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads)
      t.join();
  }

 private:
  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping, and every queued connection was served
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;        // GUARDED_BY(mu_)
  size_t idle_ = 0;                         // GUARDED_BY(mu_)
  bool stopping_ = false;                   // GUARDED_BY(mu_)
};

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

std::string jsonQuote(std::string_view text) { return ih::jsonQuote(text); }

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

struct Server::Impl {
  ServerOptions options;
  httplib::Server server;
  std::vector<Route> routes;
  Observer observer;
  std::atomic<bool> ready{false};
  std::thread thread;
  int port = 0;
  std::atomic<bool> running{false};
  int listen_fd = -1;  // the listening socket, seen in the socket-options hook before bind

  const Route* match(std::string_view method, std::string_view path,
                     std::map<std::string, std::string, std::less<>>& params, bool& path_known) const {
    const auto parts = splitPath(path);
    const Route* best = nullptr;
    for (const auto& r : routes) {
      if (!matches(r, parts)) continue;
      path_known = true;
      if (r.method != method) continue;
      if (best == nullptr || r.literal_count > best->literal_count) best = &r;
    }
    if (best == nullptr) return nullptr;
    for (size_t i = 0; i < best->segments.size(); ++i) {
      const Segment& seg = best->segments[i];
      if (seg.kind == Segment::Kind::kParam) {
        params[seg.text] = httplib::detail::decode_url(std::string(parts[i]), false);
      } else if (seg.kind == Segment::Kind::kRest) {
        std::string joined;
        for (size_t k = i; k < parts.size(); ++k) {
          if (k > i) joined += '/';
          joined += parts[k];
        }
        params[seg.text] = httplib::detail::decode_url(joined, false);
        break;
      }
    }
    return best;
  }

  void dispatch(const httplib::Request& hreq, httplib::Response& hres) {
    auto started = std::chrono::steady_clock::now();
    Request req;
    req.method = hreq.method;
    req.path = hreq.path;
    req.body = hreq.body;
    req.remote_addr = hreq.remote_addr;
    for (const auto& [k, v] : hreq.headers)
      req.headers.emplace_back(k, v);
    for (const auto& [k, v] : hreq.params)
      req.query.emplace_back(k, v);
    req.request_id = req.header("X-Request-Id");
    if (req.request_id.empty() || req.request_id.size() > 128) req.request_id = newRequestId();

    Response res;
    bool path_known = false;
    const Route* route = match(req.method, req.path, req.params, path_known);
    if (route == nullptr) {
      req.route = "unmatched";
      if (path_known) {
        setError(res, 405, "method_not_allowed", "method " + req.method + " is not allowed on " + req.path);
      } else {
        setError(res, 404, "not_found", "no route for " + req.method + " " + req.path);
      }
    } else {
      req.route = route->pattern;
      try {
        route->handler(req, res);
      } catch (const std::exception& e) {
        log::error("unhandled exception in HTTP handler",
                   {{"route", route->pattern}, {"error", e.what()}, {"request_id", req.request_id}});
        setError(res, 500, "internal", "internal error (request id " + req.request_id + ")");
      }
    }

    hres.status = res.status;
    hres.set_header("X-Request-Id", req.request_id);
    for (const auto& [k, v] : res.headers)
      hres.set_header(k, v);
    if (res.stream) {
      auto producer = std::move(res.stream);
      hres.set_chunked_content_provider(res.content_type, [producer](size_t, httplib::DataSink& sink) {
        StreamWriter write = [&sink](const char* data, size_t len) {
          return sink.is_writable() && sink.write(data, len);
        };
        if (!producer(write)) {
          sink.done();
        }
        return true;
      });
    } else {
      hres.set_content(std::move(res.body), res.content_type);
    }
    if (observer) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      observer(req, res.status, secs);
    }
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& s = impl_->server;
  const auto& o = impl_->options;
  s.set_tcp_nodelay(true);
  // httplib's own options (SO_REUSEPORT), and the socket kept so that start() can raise the listen backlog.
  s.set_socket_options([impl = impl_.get()](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
    impl->listen_fd = sock;
  });
  const size_t warm = static_cast<size_t>(o.worker_threads > 0 ? o.worker_threads : 32);
  const size_t max_threads = std::max(warm, static_cast<size_t>(std::max(o.max_connections, 1)));
  s.new_task_queue = [warm, max_threads] { return new ConnectionPool(warm, max_threads); };
  s.set_payload_max_length(o.max_body_bytes);
  s.set_read_timeout(o.read_timeout_ms / 1000, (o.read_timeout_ms % 1000) * 1000);
  s.set_write_timeout(o.write_timeout_ms / 1000, (o.write_timeout_ms % 1000) * 1000);
  s.set_idle_interval(0, 100000);
  s.set_keep_alive_max_count(static_cast<size_t>(o.keep_alive_max_requests));
  s.set_keep_alive_timeout(o.idle_timeout_ms / 1000 > 0 ? o.idle_timeout_ms / 1000 : 1);

  Impl* impl = impl_.get();
  auto handler = [impl](const httplib::Request& req, httplib::Response& res) { impl->dispatch(req, res); };
  s.Get("/.*", handler);
  s.Post("/.*", handler);
  s.Put("/.*", handler);
  s.Patch("/.*", handler);
  s.Delete("/.*", handler);
  s.set_error_handler([impl](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already wrote an error body
    Response r;
    if (res.status == 413) {
      setError(r, 413, "payload_too_large",
               "request body exceeds the limit of " + std::to_string(impl->options.max_body_bytes) +
                   " bytes ([server] max_body_bytes)");
    } else if (res.status == 400) {
      setError(r, 400, "bad_request", "malformed HTTP request");
    } else {
      setError(r, res.status, "http_error", "HTTP error " + std::to_string(res.status) + " for " + req.path);
    }
    res.set_content(r.body, r.content_type);
  });
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

void Server::route(std::string_view method, std::string_view pattern, Handler handler) {
  Route r;
  r.method = std::string(method);
  r.pattern = std::string(pattern);
  for (auto seg : splitPath(pattern)) {
    Segment parsed;
    if (seg.size() > 5 && seg.front() == '{' && seg.substr(seg.size() - 4) == "...}") {
      parsed.kind = Segment::Kind::kRest;
      parsed.text = std::string(seg.substr(1, seg.size() - 5));
    } else if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      parsed.kind = Segment::Kind::kParam;
      parsed.text = std::string(seg.substr(1, seg.size() - 2));
    } else {
      parsed.text = std::string(seg);
      ++r.literal_count;
    }
    r.segments.push_back(std::move(parsed));
  }
  r.handler = std::move(handler);
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
  int port = o.port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(o.host);
    if (port <= 0) return Status::unavailable("cannot bind an HTTP port on " + o.host);
  } else if (!impl_->server.bind_to_port(o.host, port)) {
    return Status::unavailable("cannot listen on " + o.host + ":" + std::to_string(port) +
                               " (address in use or not permitted); change [server] listen");
  }
  // httplib listens with a backlog of 5: 64 clients connecting at once overflowed it and waited 1-3 s for SYN
  // retransmits. listen() again on the bound socket raises the backlog (to net.core.somaxconn at most).
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  impl_->port = port;
  impl_->running = true;
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  // stop() before the listener loop is running would be lost (httplib ignores it) and join() would hang.
  while (!impl_->server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::ok();
}

int Server::port() const {
  return impl_->port;
}

void Server::stop() {
  if (!impl_ || !impl_->running.exchange(false)) return;
  impl_->ready = false;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace ih::http

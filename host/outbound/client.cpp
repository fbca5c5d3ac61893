// The outbound client on Boost.Beast. One Connection = one socket (plain or TLS) with its own small
// io_context; a caller checks a connection out of the per-origin pool, runs each asynchronous step on that
// io_context on its own thread until the step completes or the attempt's deadline (tcp_stream::expires_at)
// cancels it, then returns the connection to the pool when the server keeps it alive. No thread of the
// client's own: a call costs the caller's thread and nothing else.
#include "outbound/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/text.h"
#include "log/log.h"
#include "metrics/metrics.h"

namespace ih::outbound {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Url {
  bool tls = false;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string host_header;  // host[:port] as sent in Host
  std::string origin;       // scheme://host:port (the pool key)
  std::string target;       // /path?query
};

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isTokenChar);
}

// Header values may hold visible ASCII, spaces, tabs and UTF-8, never CR, LF or NUL (request smuggling).
bool isFieldValue(std::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

Result<Url> parseUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::invalidArgument("outbound URL \"" + toValidUtf8(url.substr(0, 200)) + "\" " +
                                   std::string(why));
  };
  if (url.size() > 8192) return Status::invalidArgument("outbound URL is longer than 8192 bytes");
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad("has no scheme (expected http:// or https://)");
  const std::string_view scheme = url.substr(0, scheme_end);
  Url out;
  if (equalsIgnoreCase(scheme, "https")) {
    out.tls = true;
  } else if (!equalsIgnoreCase(scheme, "http")) {
    return bad("has an unsupported scheme (use http or https)");
  }
  const size_t host_start = scheme_end + 3;
  const size_t path_start = std::min(url.find_first_of("/?#", host_start), url.size());
  const std::string_view authority = url.substr(host_start, path_start - host_start);
  if (authority.find('@') != std::string_view::npos) return bad("carries credentials (user@host)");
  std::string_view host = authority;
  std::string_view port_text;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed IPv6 bracket");
    port_text = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port_text.empty() && port_text.front() != ':') return bad("has text after the IPv6 address");
    if (!port_text.empty()) port_text.remove_prefix(1);
    if (!IpAddress::parse(host).isOk()) return bad("has a malformed IPv6 address");
  } else {
    const size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    const bool valid_name =
        !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '.' || c == '_';
        });
    if (!valid_name) return bad(host.empty() ? "has no host" : "has a malformed host name");
  }
  out.port = out.tls ? 443 : 80;
  if (authority.find(':') != std::string_view::npos && (authority.front() != '[' || !port_text.empty())) {
    const auto port = parseInt64InRange(port_text, 1, 65535);
    if (!port) return bad("has a port outside 1-65535");
    out.port = static_cast<uint16_t>(*port);
  }
  out.host = toLowerAscii(host);
  const bool ipv6 = host.find(':') != std::string_view::npos;
  const std::string bracketed = ipv6 ? "[" + out.host + "]" : out.host;
  const bool default_port = out.port == (out.tls ? 443 : 80);
  out.host_header = default_port ? bracketed : bracketed + ":" + std::to_string(out.port);
  out.origin = std::string(out.tls ? "https://" : "http://") + bracketed + ":" + std::to_string(out.port);
  std::string_view target = url.substr(path_start);
  if (const size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f)
      return bad("has a space, control or non-ASCII byte in its path (percent-encode it)");
  }
  out.target = target.empty() ? "/" : std::string(target);
  if (out.target.front() == '?') out.target.insert(0, "/");
  return out;
}

std::string randomKey() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string key = "ihost_";
  for (int i = 0; i < 24; ++i)
    key += kAlphabet[rng() % 62];
  return key;
}

double jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.5, 1.0)(rng);
}

// Nominal rate for a request: the plugin's own, else Stripe's documented limit for the key's mode.
double budgetRate(const Request& request, const RateBudget& budget) {
  if (request.rate_limit_per_s > 0) return request.rate_limit_per_s;
  for (const auto& [k, v] : request.headers) {
    if (equalsIgnoreCase(k, "Authorization") && v.find("_live_") != std::string::npos)
      return budget.options().default_live_rate_per_s;
  }
  return budget.options().default_rate_per_s;
}

// Metric label for a path the caller did not name: segments holding a digit (ids like in_1Abc, 42) become
// "{id}", so a plugin that forgets `endpoint` cannot blow up the series count.
std::string templatedPath(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i + 1);
    if (j == std::string_view::npos) j = path.size();
    std::string_view segment = path.substr(i, j - i);  // includes the leading '/'
    bool has_digit = std::any_of(segment.begin(), segment.end(), [](char c) { return c >= '0' && c <= '9'; });
    out += has_digit ? std::string("/{id}") : std::string(segment);
    i = j;
  }
  return out.empty() ? "/" : out;
}

// Every finished attempt: ihost_outbound_requests_total{provider,endpoint,status} (status "error" for a
// transport failure) and ihost_outbound_request_duration_seconds{provider,endpoint}.
void recordAttempt(const AttemptInfo& info) {
  auto& r = metrics::registry();
  const std::string provider = info.provider.empty() ? "unknown" : info.provider;
  r.counter("ihost_outbound_requests_total",
            "Outbound HTTP attempts (each retry counts), by provider, endpoint and status (error = transport "
            "failure).",
            {{"provider", provider},
             {"endpoint", info.endpoint},
             {"status", info.status == 0 ? "error" : std::to_string(info.status)}})
      .inc();
  r.histogram("ihost_outbound_request_duration_seconds", "Duration of one outbound HTTP attempt.",
              {{"provider", provider}, {"endpoint", info.endpoint}})
      .observe(info.seconds);
}

// Resolves `url`'s host and keeps the addresses `policy` allows; fails naming the refused ones.
Result<std::vector<tcp::endpoint>> allowedEndpoints(const Url& url, const NetworkPolicy& policy) {
  std::vector<IpAddress> addresses;
  if (auto literal = IpAddress::parse(url.host); literal.isOk()) {
    addresses.push_back(*literal);
  } else {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    // Synchronous getaddrinfo: bounded by the system resolver's own timeouts (resolv.conf), not by ours.
    auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) return Status::unavailable("could not resolve " + url.host + ": " + ec.message());
    for (const auto& entry : results) {
      const auto address = entry.endpoint().address();
      IpAddress ip;
      if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        ip.is_v4 = true;
        ip.bytes[10] = ip.bytes[11] = 0xff;
        std::copy(bytes.begin(), bytes.end(), ip.bytes.begin() + 12);
      } else {
        const auto bytes = address.to_v6().to_bytes();
        std::copy(bytes.begin(), bytes.end(), ip.bytes.begin());
      }
      addresses.push_back(ip);
    }
  }
  std::vector<tcp::endpoint> allowed;
  std::string refused;
  for (const IpAddress& ip : addresses) {
    const std::string why = policy.refusal(ip);
    if (why.empty()) {
      beast::error_code ec;
      const auto address = asio::ip::make_address(ip.toString(), ec);
      if (!ec) allowed.emplace_back(address, url.port);
    } else if (refused.empty()) {
      refused = ip.toString() + " (" + why + ")";
    }
  }
  if (allowed.empty()) {
    if (refused.empty()) return Status::unavailable("could not resolve " + url.host + ": no addresses");
    return Status{StatusCode::kPermissionDenied,
                  "outbound connections to " + url.host + " are not allowed: it resolves to " + refused +
                      ". An operator can allow that network with [outbound] allow_networks"};
  }
  return allowed;
}

// One kept-alive connection. Used by one thread at a time (checked out of the pool).
struct Connection {
  explicit Connection(Url target) : url(std::move(target)) {}
  Url url;
  asio::io_context ioc;  // declared first: destroyed after the streams that use it
  beast::flat_buffer buffer{1024 * 1024};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  Clock::time_point idle_since;

  beast::tcp_stream& tcpLayer() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Runs the io_context until the started operation has completed (the deadline set on the tcp_stream
  // completes it with beast::error::timeout at the latest).
  void runToCompletion() {
    ioc.restart();
    ioc.run();
  }
};

// Error of one attempt, with whether the next attempt may go ahead.
struct AttemptError {
  Status status;
  bool retryable = true;
  bool stale = false;  // a reused connection failed before the server said anything: resend at once
};

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (equalsIgnoreCase(k, name)) return v;
  return {};
}

bool shouldRetry(const Response& r) {
  std::string should = r.header("Stripe-Should-Retry");
  if (should == "true") return true;
  if (should == "false") return false;
  // 429 is retried after the backoff (and the rate budget shrinks), so a sync slows down instead of failing.
  return r.status == 409 || r.status == 429 || r.status >= 500;
}

std::optional<std::chrono::milliseconds> retryAfter(std::string_view value, std::chrono::milliseconds cap) {
  value = trimAscii(value);
  if (value.empty() || value.size() > 32) return std::nullopt;
  // Whole seconds only. An ask longer than the cap (or too long to parse: it used to crash the host) is
  // ignored and the normal backoff applies, as the Stripe SDKs do: waiting the cap would only hold a worker.
  if (!std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const auto seconds = parseInt64(value);
  if (!seconds || *seconds > cap.count() / 1000) return std::nullopt;
  return std::chrono::milliseconds(*seconds * 1000);
}

Status checkUrl(std::string_view url, const NetworkPolicy& policy) {
  auto parsed = parseUrl(url);
  if (!parsed.isOk()) return parsed.status();
  auto endpoints = allowedEndpoints(*parsed, policy);
  if (!endpoints.isOk()) return endpoints.status();
  return Status::ok();
}

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), budget(options.budget) {
    tls_context.set_default_verify_paths();
    tls_context.set_verify_mode(ssl::verify_peer);
    tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (!options.ca_file.empty()) {
      beast::error_code ec;
      tls_context.load_verify_file(options.ca_file, ec);
      if (ec) {
        log::error("outbound: could not read the CA file; https may fail verification",
                   {{"file", options.ca_file}, {"error", ec.message()}});
      }
    }
  }

  const ClientOptions options;
  RateBudget budget;
  ssl::context tls_context{ssl::context::tls_client};  // thread-safe once configured
  std::mutex observer_mu;
  AttemptObserver observer;  // GUARDED_BY(observer_mu)
  std::mutex pool_mu;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // GUARDED_BY(pool_mu)

  std::unique_ptr<Connection> checkout(const std::string& origin) {
    std::lock_guard lock(pool_mu);
    auto it = idle.find(origin);
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    const auto now = Clock::now();
    while (!list.empty()) {
      auto connection = std::move(list.back());
      list.pop_back();
      // Servers close idle keep-alive connections (Stripe after about a minute): don't try stale ones.
      if (now - connection->idle_since < std::chrono::seconds(50)) return connection;
    }
    return nullptr;
  }

  void release(std::unique_ptr<Connection> connection) {
    connection->idle_since = Clock::now();
    std::lock_guard lock(pool_mu);
    auto& list = idle[connection->url.origin];
    if (list.size() < options.max_idle_per_origin) list.push_back(std::move(connection));
  }

  void notify(const AttemptInfo& info) {
    recordAttempt(info);
    std::lock_guard lock(observer_mu);
    if (observer) observer(info);
  }

  // A new connection to one of the allowed addresses, TLS handshaken when https.
  Result<std::unique_ptr<Connection>> connect(const Url& url, Clock::time_point deadline) {
    auto endpoints = allowedEndpoints(url, options.network);
    if (!endpoints.isOk()) return endpoints.status();
    auto connection = std::make_unique<Connection>(url);
    if (url.tls) {
      connection->tls.emplace(connection->ioc, tls_context);
    } else {
      connection->plain.emplace(connection->ioc);
    }
    beast::tcp_stream& tcp = connection->tcpLayer();
    tcp.expires_at(deadline);
    beast::error_code ec;
    tcp.async_connect(*endpoints, [&](const beast::error_code& e, const tcp::endpoint&) { ec = e; });
    connection->runToCompletion();
    if (ec) {
      return Status::unavailable("could not connect to " + url.host + ":" + std::to_string(url.port) + ": " +
                                 (ec == beast::error::timeout ? "timed out" : ec.message()));
    }
    tcp.socket().set_option(tcp::no_delay(true), ec);
    if (url.tls) {
      auto& stream = *connection->tls;
      if (!IpAddress::parse(url.host).isOk() &&
          !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
        return Status::unavailable("TLS: could not set the server name for " + url.host);
      }
      stream.set_verify_callback(ssl::host_name_verification(url.host));
      stream.async_handshake(ssl::stream_base::client, [&](const beast::error_code& e) { ec = e; });
      connection->runToCompletion();
      if (ec) {
        return Status::unavailable("TLS handshake with " + url.host +
                                   " failed: " + (ec == beast::error::timeout ? "timed out" : ec.message()));
      }
    }
    return connection;
  }

  // One exchange on `connection`. On success the response is complete (within the caps).
  template <class Stream>
  Result<bhttp::response<bhttp::string_body>> exchange(Connection& connection, Stream& stream,
                                                       bhttp::request<bhttp::string_body>& request,
                                                       Clock::time_point deadline, int timeout_ms,
                                                       bool reused, AttemptError& error) {
    connection.tcpLayer().expires_at(deadline);
    beast::error_code ec;
    bhttp::async_write(stream, request, [&](const beast::error_code& e, size_t) { ec = e; });
    connection.runToCompletion();
    const std::string& host = connection.url.host;
    if (ec) {
      error.stale = reused && ec != beast::error::timeout;
      error.status = Status::unavailable(
          "sending to " + host + " failed: " + (ec == beast::error::timeout ? "timed out" : ec.message()));
      return error.status;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(std::min<size_t>(options.max_header_bytes, UINT32_MAX)));
    parser.body_limit(options.max_response_bytes);
    if (request.method() == bhttp::verb::head) parser.skip(true);
    // The head first, then the body: a declared length over the cap is refused before a body byte is read
    // (Beast's own check at the end of the head was skipped when the head and body came in one read).
    bhttp::async_read_header(stream, connection.buffer, parser,
                             [&](const beast::error_code& e, size_t) { ec = e; });
    connection.runToCompletion();
    if (!ec && !parser.is_done()) {
      if (auto length = parser.content_length(); length && *length > options.max_response_bytes) {
        ec = bhttp::error::body_limit;
      } else {
        bhttp::async_read(stream, connection.buffer, parser,
                          [&](const beast::error_code& e, size_t) { ec = e; });
        connection.runToCompletion();
      }
    }
    if (ec) {
      if (ec == bhttp::error::body_limit) {
        error.retryable = false;
        error.status =
            Status{StatusCode::kProvider, host + " answered a body larger than " +
                                              std::to_string(options.max_response_bytes) + " bytes"};
      } else if (ec == bhttp::error::header_limit) {
        error.retryable = false;
        error.status = Status{StatusCode::kProvider, host + " answered headers larger than " +
                                                         std::to_string(options.max_header_bytes) + " bytes"};
      } else if (ec == beast::error::timeout) {
        error.status = Status::unavailable(host + " did not answer within the " + std::to_string(timeout_ms) +
                                           " ms deadline");
      } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
                 ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        error.status = Status{StatusCode::kProvider, host + " answered malformed HTTP: " + ec.message()};
      } else {
        error.stale = reused && !parser.got_some();
        error.status = Status::unavailable("reading the answer of " + host + " failed: " + ec.message());
      }
      return error.status;
    }
    return parser.release();
  }

  // One attempt, including at most one transparent resend when a pooled connection turned out closed.
  Result<bhttp::response<bhttp::string_body>> attempt(const Url& url,
                                                      bhttp::request<bhttp::string_body>& request,
                                                      Clock::time_point deadline, int timeout_ms,
                                                      AttemptError& error, bool& keep_alive) {
    for (int round = 0; round < 2; ++round) {
      error = AttemptError{};
      std::unique_ptr<Connection> connection = round == 0 ? checkout(url.origin) : nullptr;
      const bool reused = connection != nullptr;
      if (!connection) {
        auto fresh = connect(url, deadline);
        if (!fresh.isOk()) {
          error.status = fresh.status();
          error.retryable = fresh.status().code() == StatusCode::kUnavailable;
          return error.status;
        }
        connection = std::move(*fresh);
      }
      auto response =
          connection->tls
              ? exchange(*connection, *connection->tls, request, deadline, timeout_ms, reused, error)
              : exchange(*connection, *connection->plain, request, deadline, timeout_ms, reused, error);
      if (response.isOk()) {
        keep_alive = response->keep_alive();
        if (keep_alive) release(std::move(connection));
        return response;
      }
      if (!error.stale) return response;
    }
    return error.status;
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

RateBudget& Client::budget() {
  return impl_->budget;
}

const ClientOptions& Client::options() const {
  return impl_->options;
}

void Client::setObserver(AttemptObserver observer) {
  std::lock_guard lock(impl_->observer_mu);
  impl_->observer = std::move(observer);
}

Result<Response> Client::send(Request request) {
  auto url = parseUrl(request.url);
  if (!url.isOk()) return url.status();
  if (!isToken(request.method) || request.method.size() > 16) {
    return Status::invalidArgument("outbound request method is not a valid HTTP method");
  }
  if (request.endpoint.empty())
    request.endpoint = templatedPath(url->target.substr(0, url->target.find('?')));
  request.max_attempts = std::clamp(request.max_attempts, 1, 10);
  if (request.timeout_ms <= 0) request.timeout_ms = 30000;

  bool has_key_header = false;
  for (const auto& [k, v] : request.headers) {
    if (!isToken(k) || k.size() > 256 || !isFieldValue(v) || v.size() > 16384) {
      return Status::invalidArgument(
          "outbound header \"" + toValidUtf8(k.substr(0, 64)) +
          "\" has an invalid name or value (CR, LF or control bytes, or too long)");
    }
    if (equalsIgnoreCase(k, "Idempotency-Key")) {
      has_key_header = true;
      request.idempotency_key = v;
    }
  }
  if (request.method == "POST" && request.idempotency_key.empty()) request.idempotency_key = randomKey();
  if (!request.idempotency_key.empty() && !has_key_header) {
    if (!isFieldValue(request.idempotency_key) || request.idempotency_key.size() > 255) {
      return Status::invalidArgument("outbound idempotency key has control bytes or is over 255 bytes");
    }
    request.headers.emplace_back("Idempotency-Key", request.idempotency_key);
  }

  bhttp::request<bhttp::string_body> hreq;
  hreq.method_string(request.method);
  hreq.target(url->target);
  hreq.version(11);
  hreq.set(bhttp::field::host, url->host_header);
  bool has_content_type = false, has_user_agent = false;
  for (const auto& [k, v] : request.headers) {
    // The client owns framing and connection management: a plugin cannot smuggle a second request.
    if (equalsIgnoreCase(k, "Host") || equalsIgnoreCase(k, "Content-Length") ||
        equalsIgnoreCase(k, "Transfer-Encoding") || equalsIgnoreCase(k, "Connection") ||
        equalsIgnoreCase(k, "Keep-Alive") || equalsIgnoreCase(k, "Upgrade") || equalsIgnoreCase(k, "TE")) {
      continue;
    }
    hreq.insert(k, v);
    if (equalsIgnoreCase(k, "Content-Type")) has_content_type = true;
    if (equalsIgnoreCase(k, "User-Agent")) has_user_agent = true;
  }
  if (!has_user_agent) hreq.set(bhttp::field::user_agent, "ihost/1");
  if (!request.body.empty() && !has_content_type) {
    hreq.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
  }
  hreq.body() = std::move(request.body);
  hreq.keep_alive(true);
  hreq.prepare_payload();

  Clock::time_point overall = Clock::now() + impl_->options.deadline;
  // The plugin call's own deadline, when it comes first, bounds the whole send.
  const bool call_bound = request.call_deadline != Clock::time_point{} && request.call_deadline < overall;
  if (call_bound) overall = request.call_deadline;
  Status last_error = Status::unavailable("no attempt was made");
  int attempts_made = 0;
  Response response;
  const double budget_rate = request.budget_key.empty() ? 0 : budgetRate(request, impl_->budget);
  for (int attempt = 1; attempt <= request.max_attempts; ++attempt) {
    if (!request.budget_key.empty()) impl_->budget.acquire(request.budget_key, budget_rate);
    const auto started = Clock::now();
    if (started >= overall) {
      last_error = call_bound
                       ? Status(StatusCode::kDeadlineExceeded, "the plugin call's deadline was reached")
                       : Status::unavailable("outbound deadline of " +
                                             std::to_string(impl_->options.deadline.count()) + " ms reached");
      break;
    }
    const auto deadline = std::min(overall, started + std::chrono::milliseconds(request.timeout_ms));
    const int timeout_ms =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started).count());
    AttemptError error;
    bool keep_alive = false;
    attempts_made = attempt;
    auto result = impl_->attempt(*url, hreq, deadline, timeout_ms, error, keep_alive);
    const double secs = std::chrono::duration<double>(Clock::now() - started).count();

    auto delay = std::chrono::milliseconds(static_cast<int64_t>(
        std::min<double>(static_cast<double>(impl_->options.retry.max_delay.count()),
                         static_cast<double>(impl_->options.retry.initial_delay.count()) *
                             static_cast<double>(int64_t{1} << std::min(attempt - 1, 20))) *
        jitter()));
    bool retry = false;
    if (!result.isOk()) {
      last_error = result.status();
      // Cut by the plugin call's deadline (not by this attempt's own timeout): say so.
      if (call_bound && Clock::now() >= overall && deadline == overall)
        last_error = Status(StatusCode::kDeadlineExceeded,
                            "the plugin call's deadline was reached: " + result.status().message());
      impl_->notify({request.provider, request.endpoint, request.method, 0, secs, attempt});
      retry = error.retryable;
      response.status = 0;
    } else {
      response = Response{};
      response.status = static_cast<int>(result->result_int());
      for (const auto& field : *result)
        response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      response.body = std::move(result->body());
      response.attempts = attempt;
      response.idempotency_key = request.idempotency_key;
      impl_->notify({request.provider, request.endpoint, request.method, response.status, secs, attempt});
      if (response.status == 429 && !request.budget_key.empty())
        impl_->budget.onRateLimited(request.budget_key);
      retry = shouldRetry(response);
      if (retry) {
        if (auto asked = retryAfter(response.header("Retry-After"), impl_->options.retry.max_retry_after)) {
          delay = std::max(delay, *asked);
        }
      }
    }
    if (!retry || attempt == request.max_attempts) break;
    if (Clock::now() + delay >= overall) break;  // the answer we have is the answer
    log::debug("outbound retry", {{"provider", request.provider},
                                  {"endpoint", request.endpoint},
                                  {"attempt", attempt},
                                  {"status", response.status},
                                  {"delay_ms", static_cast<int64_t>(delay.count())}});
    std::this_thread::sleep_for(delay);
  }
  if (response.status == 0) {
    return Status(last_error.code(), "could not reach " + url->host + " after " +
                                         std::to_string(attempts_made) +
                                         " attempt(s): " + last_error.message());
  }
  return response;
}

}  // namespace ih::outbound

#include "outbound/client.h"

#include <httplib.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "log/log.h"
#include "metrics/metrics.h"

namespace ih::outbound {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

struct ParsedUrl {
  std::string origin;  // scheme://host:port
  std::string path;    // /path?query
  std::string host;
};

Result<ParsedUrl> parseUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Status::invalidArgument("outbound URL \"" + std::string(url) +
                                   "\" has no scheme (expected http:// or https://)");
  }
  std::string scheme(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return Status::invalidArgument("outbound URL scheme \"" + scheme +
                                   "\" is not supported (use http or https)");
  }
  size_t host_start = scheme_end + 3;
  size_t path_start = url.find_first_of("/?", host_start);
  std::string authority(
      url.substr(host_start, path_start == std::string_view::npos ? url.npos : path_start - host_start));
  if (authority.empty())
    return Status::invalidArgument("outbound URL \"" + std::string(url) + "\" has no host");
  ParsedUrl out;
  out.origin = scheme + "://" + authority;
  out.host = authority;
  out.path = path_start == std::string_view::npos ? "/" : std::string(url.substr(path_start));
  if (!out.path.empty() && out.path[0] == '?') out.path = "/" + out.path;
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

struct Client::Impl {
  explicit Impl(RateBudget::Options budget_options) : budget(budget_options) {}
  RetryPolicy policy;
  RateBudget budget;
  std::mutex observer_mu;
  AttemptObserver observer;  // GUARDED_BY(observer_mu)
  std::mutex pool_mu;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle;  // GUARDED_BY(pool_mu)

  std::unique_ptr<httplib::Client> acquire(const std::string& origin) {
    {
      std::lock_guard lock(pool_mu);
      auto& list = idle[origin];
      if (!list.empty()) {
        auto c = std::move(list.back());
        list.pop_back();
        return c;
      }
    }
    auto c = std::make_unique<httplib::Client>(origin);
    c->set_keep_alive(true);
    return c;
  }

  void release(const std::string& origin, std::unique_ptr<httplib::Client> c) {
    std::lock_guard lock(pool_mu);
    auto& list = idle[origin];
    if (list.size() < 16) list.push_back(std::move(c));
  }

  void notify(const AttemptInfo& info) {
    recordAttempt(info);
    std::lock_guard lock(observer_mu);
    if (observer) observer(info);
  }
};

Client::Client(RetryPolicy policy, RateBudget::Options budget) : impl_(std::make_unique<Impl>(budget)) {
  impl_->policy = policy;
}
Client::~Client() = default;

RateBudget& Client::budget() {
  return impl_->budget;
}

void Client::setObserver(AttemptObserver observer) {
  std::lock_guard lock(impl_->observer_mu);
  impl_->observer = std::move(observer);
}

Result<Response> Client::send(Request request) {
  auto url = parseUrl(request.url);
  if (!url.isOk()) return url.status();
  if (request.endpoint.empty()) request.endpoint = templatedPath(url->path.substr(0, url->path.find('?')));
  if (request.max_attempts < 1) request.max_attempts = 1;
  if (request.timeout_ms <= 0) request.timeout_ms = 30000;

  bool has_key_header = false;
  for (const auto& [k, v] : request.headers) {
    if (equalsIgnoreCase(k, "Idempotency-Key")) {
      has_key_header = true;
      request.idempotency_key = v;
    }
  }
  if (request.method == "POST" && request.idempotency_key.empty()) request.idempotency_key = randomKey();
  if (!request.idempotency_key.empty() && !has_key_header) {
    request.headers.emplace_back("Idempotency-Key", request.idempotency_key);
  }

  httplib::Request hreq;
  hreq.method = request.method;
  hreq.path = url->path;
  bool has_content_type = false;
  for (const auto& [k, v] : request.headers) {
    hreq.headers.emplace(k, v);
    if (equalsIgnoreCase(k, "Content-Type")) has_content_type = true;
  }
  if (!request.body.empty() && !has_content_type) {
    hreq.headers.emplace("Content-Type", "application/x-www-form-urlencoded");
  }
  hreq.body = request.body;

  std::string last_error;
  Response response;
  const double budget_rate = request.budget_key.empty() ? 0 : budgetRate(request, impl_->budget);
  for (int attempt = 1; attempt <= request.max_attempts; ++attempt) {
    if (!request.budget_key.empty()) impl_->budget.acquire(request.budget_key, budget_rate);
    auto client = impl_->acquire(url->origin);
    client->set_connection_timeout(std::chrono::milliseconds(std::min(request.timeout_ms, 10000)));
    client->set_read_timeout(std::chrono::milliseconds(request.timeout_ms));
    client->set_write_timeout(std::chrono::milliseconds(request.timeout_ms));
    auto started = std::chrono::steady_clock::now();
    httplib::Request attempt_req = hreq;
    auto result = client->send(attempt_req);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    std::chrono::milliseconds delay = std::chrono::milliseconds(static_cast<int64_t>(
        std::min<double>(static_cast<double>(impl_->policy.max_delay.count()),
                         static_cast<double>(impl_->policy.initial_delay.count()) * (1 << (attempt - 1))) *
        jitter()));
    bool retry = false;
    if (!result) {
      last_error = httplib::to_string(result.error());
      impl_->notify({request.provider, request.endpoint, request.method, 0, secs, attempt});
      retry = true;
    } else {
      response = Response{};
      response.status = result->status;
      for (const auto& [k, v] : result->headers)
        response.headers.emplace_back(k, v);
      response.body = std::move(result->body);
      response.attempts = attempt;
      response.idempotency_key = request.idempotency_key;
      impl_->notify({request.provider, request.endpoint, request.method, response.status, secs, attempt});
      impl_->release(url->origin, std::move(client));
      if (response.status == 429 && !request.budget_key.empty())
        impl_->budget.onRateLimited(request.budget_key);
      retry = shouldRetry(response);
      if (retry) {
        std::string retry_after = response.header("Retry-After");
        if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(), ::isdigit)) {
          auto requested = std::chrono::milliseconds(std::stoll(retry_after) * 1000);
          delay = std::min(std::max(delay, requested), impl_->policy.max_retry_after);
        }
      }
    }
    if (!retry || attempt == request.max_attempts) break;
    log::debug("outbound retry", {{"provider", request.provider},
                                  {"endpoint", request.endpoint},
                                  {"attempt", attempt},
                                  {"status", response.status},
                                  {"delay_ms", static_cast<int64_t>(delay.count())}});
    std::this_thread::sleep_for(delay);
  }
  if (response.status == 0) {
    return Status::unavailable("could not reach " + url->host + " after " +
                               std::to_string(request.max_attempts) + " attempt(s): " + last_error);
  }
  return response;
}

}  // namespace ih::outbound

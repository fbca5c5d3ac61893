// Tenant API for events: polling (GET /api/events) and Server-Sent Events (GET /api/events/stream). See
// events.h.
//
// SSE: the handler answers with a pushed stream (http::StreamChannel); one Pump thread serves every open
// stream, so idle streams hold no thread, and re-checks their credentials (see Pump).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/text.h"
#include "events/events.h"
#include "http/params.h"
#include "http/server.h"
#include "log/log.h"
#include "tenancy/http_auth.h"
#include "vault/secure_string.h"

namespace ih::events {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 500;
constexpr size_t kMaxTypeFilter = 100;

// An event id (a non-negative integer) from a header or query value.
bool parseCount(const std::string& text, int64_t& out) {
  const auto value = parseInt64InRange(text, 0, std::numeric_limits<int64_t>::max());
  if (value) out = *value;
  return value.has_value();
}

bool typeFilter(const http::Request& req, http::Response& res, std::string& out) {
  out = req.queryValue("type");
  if (out.size() > kMaxTypeFilter) {
    http::setError(res, 400, "invalid_request", "type filter is longer than 100 characters");
    return false;
  }
  return true;
}

void poll(Events& events, const tenancy::Principal& p, const http::Request& req, http::Response& res) {
  const auto after = http::queryInt(req, res, "after", 0, std::numeric_limits<int64_t>::max(), 0);
  if (!after) return;
  const auto limit = http::queryInt(req, res, "limit", 1, static_cast<int64_t>(kMaxLimit),
                                    static_cast<int64_t>(kDefaultLimit));
  if (!limit) return;
  std::string type;
  if (!typeFilter(req, res, type)) return;
  auto list = events.list(p.tenant_id, *after, type, static_cast<size_t>(*limit) + 1);
  if (!list.isOk()) return http::setError(res, list.status());
  const bool has_more = list->size() > static_cast<size_t>(*limit);
  if (has_more) list->pop_back();
  std::string body = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < list->size(); ++i) {
    if (i) body += ',';
    body += (*list)[i].envelope;
  }
  body += "],\"next_after\":\"";
  body += std::to_string(list->empty() ? *after : list->back().id);
  body += has_more ? "\",\"has_more\":true}" : "\",\"has_more\":false}";
  res.json(200, std::move(body));
}

std::string frame(const Event& e) {
  std::string out;
  out.reserve(e.envelope.size() + e.type.size() + 40);
  out += "id: ";
  out += std::to_string(e.id);
  out += "\nevent: ";
  out += e.type;
  out += "\ndata: ";
  out += e.envelope;  // compact JSON: never contains a raw newline
  out += "\n\n";
  return out;
}

// What an open stream was authorised with, kept for its re-checks (see Pump::reauthorize). The header is a
// secret: it lives in wiped memory and is never logged.
struct Credential {
  vault::SecureString authorization;  // the Authorization header as sent
  std::string on_behalf;              // X-Ihost-Tenant of an admin acting as the tenant; empty otherwise
  bool admin = false;                 // authorised with the admin token (then on_behalf names the tenant)
  std::string key_id;                 // the API key's id (not secret); empty for the admin
};

// "" when `credential` still grants "read" on `tenant_id`, else the reason the stream ends. Blocking (store
// reads); called on the Pump thread, without the Pump's lock.
using Reauthorize = std::function<std::string(const Credential& credential, const std::string& tenant_id)>;

// Drives every open SSE stream from ONE thread: a stream costs a socket and a queue, never a thread. The
// subscription's notify (on the store's writer thread) only queues the stream here; this thread takes the
// events, frames them and pushes them into the stream's http::StreamChannel (which never blocks). It also
// replays backlogs from the store, sends the keep-alive comments, re-checks every stream's credentials each
// Options::stream_reauth_interval (ending those that no longer grant "read"), and closes streams whose
// reader is too slow. Owned by a shared_ptr (the route's handler); callbacks from other threads hold it
// weakly.
class Pump : public std::enable_shared_from_this<Pump> {
 public:
  struct Stream {
    std::unique_ptr<Subscription> subscription;  // reset when the stream ends for lost credentials
    std::shared_ptr<http::StreamChannel> channel;
    std::string tenant_id;
    std::string type;
    Credential credential;
    int64_t cursor = 0;  // last event id sent (or the starting point)
    Clock::time_point next_keepalive;
    bool replaying = true;
    bool ended = false;   // closed by this Pump; nothing more is sent
    bool queued = false;  // GUARDED_BY(Pump::mu_): in ready_
  };

  Pump(Events& events, Reauthorize reauthorize)
      : events_(events), reauthorize_(std::move(reauthorize)), thread_([this] { run(); }) {}
  ~Pump() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  void add(std::shared_ptr<Stream> stream) {
    std::weak_ptr<Stream> weak = stream;
    std::weak_ptr<Pump> pump = weak_from_this();
    stream->subscription->setNotify([pump, weak] {
      if (auto p = pump.lock()) p->wake(weak);
    });
    stream->channel->onClose([pump, weak] {
      if (auto p = pump.lock()) p->wake(weak);
    });
    std::lock_guard lock(mu_);
    streams_.push_back(stream);
    stream->queued = true;
    ready_.push_back(std::move(stream));
    cv_.notify_one();
  }

 private:
  // Bytes a client may leave unread before its stream is closed (it reconnects with Last-Event-ID).
  static constexpr size_t kMaxUnread = 4 << 20;

  void wake(const std::weak_ptr<Stream>& weak) {
    auto stream = weak.lock();
    if (!stream) return;
    std::lock_guard lock(mu_);
    if (stream->queued) return;
    stream->queued = true;
    ready_.push_back(std::move(stream));
    cv_.notify_one();
  }

  void run() {
    const auto reauth_every =
        std::max<Clock::duration>(std::chrono::milliseconds(10), events_.options().stream_reauth_interval);
    std::unique_lock lock(mu_);
    auto next_sweep = Clock::now();
    auto next_reauth = Clock::now() + reauth_every;
    while (!stopping_) {
      cv_.wait_until(lock, std::min(next_sweep, next_reauth),
                     [this] { return stopping_ || !ready_.empty(); });
      if (stopping_) break;
      // A thread entry point: one failing step (an allocation, a store read) is logged, the pump goes on.
      try {
        if (Clock::now() >= next_reauth) {
          next_reauth = Clock::now() + reauth_every;  // first: a check that throws is not retried at once
          std::vector<std::shared_ptr<Stream>> open = streams_;
          lock.unlock();
          reauthorize(open);
          lock.lock();
        }
        std::deque<std::shared_ptr<Stream>> batch;
        batch.swap(ready_);
        for (auto& s : batch)
          s->queued = false;
        lock.unlock();
        std::vector<std::shared_ptr<Stream>> requeue;
        for (auto& s : batch)
          if (step(*s) == Step::kMore) requeue.push_back(s);
        const auto now = Clock::now();
        const bool sweep = now >= next_sweep;
        lock.lock();
        for (auto& s : requeue) {
          if (!s->queued) {
            s->queued = true;
            ready_.push_back(s);
          }
        }
        if (sweep) {
          next_sweep = now + std::chrono::seconds(1);
          sweepLocked(now);
        }
      } catch (const std::exception& e) {
        if (!lock.owns_lock()) lock.lock();
        log::error("event stream pump step failed", {{"error", e.what()}});
      }
    }
    // The server is going away: end every stream.
    for (auto& s : streams_)
      s->channel->close();
    streams_.clear();
  }

  // Ends the streams whose credentials no longer grant "read" on their tenant. Streams of one API key are
  // checked once (a revoked key ends all of them together). REQUIRES: mu_ NOT held (store reads).
  void reauthorize(const std::vector<std::shared_ptr<Stream>>& open) {
    std::map<std::string, std::string> verdicts;  // API key id + tenant -> "" or why not
    for (const auto& s : open) {
      if (s->ended || !s->channel->isOpen()) continue;
      std::string verdict;
      if (s->credential.admin) {
        verdict = reauthorize_(s->credential, s->tenant_id);  // rare: checked one by one
      } else {
        const std::string group = s->credential.key_id + '\n' + s->tenant_id;
        auto it = verdicts.find(group);
        if (it == verdicts.end())
          it = verdicts.emplace(group, reauthorize_(s->credential, s->tenant_id)).first;
        verdict = it->second;
      }
      if (verdict.empty()) continue;
      log::info("event stream closed: its credentials no longer grant read",
                {{"tenant", s->tenant_id}, {"key_id", s->credential.key_id}, {"reason", verdict}});
      end(*s, ": stream closed: " + verdict + "\n\n");
    }
  }

  // Ends a stream for good: no event is queued or sent after this. Pump thread only.
  void end(Stream& s, std::string last_words) {
    s.ended = true;
    s.subscription.reset();  // unsubscribes: nothing more is queued for it
    s.channel->write(std::move(last_words));
    s.channel->close();
  }

  // Keep-alive comments for quiet streams; forgets streams that ended. REQUIRES: mu_ held.
  void sweepLocked(Clock::time_point now) {
    auto end = std::remove_if(streams_.begin(), streams_.end(), [&](const std::shared_ptr<Stream>& s) {
      if (s->ended || !s->channel->isOpen()) return true;
      if (now >= s->next_keepalive) {
        s->next_keepalive = now + events_.options().keepalive_interval;
        s->channel->write(": keep-alive\n\n");
      }
      return false;
    });
    streams_.erase(end, streams_.end());
  }

  enum class Step { kIdle, kMore };

  Step step(Stream& s) {
    if (s.ended || !s.channel->isOpen()) {
      s.subscription.reset();  // frees the tenant's stream slot now; the sweep forgets the rest
      return Step::kIdle;
    }
    if (events_.stopped()) {
      s.channel->close();
      return Step::kIdle;
    }
    if (s.channel->pendingBytes() > kMaxUnread) {
      log::warn("event stream reader is too slow; closing the stream (it reconnects with Last-Event-ID)",
                {{"tenant", s.tenant_id}});
      s.channel->close();
      return Step::kIdle;
    }
    if (s.replaying) return replay(s);
    std::vector<std::shared_ptr<const Event>> ready;
    switch (s.subscription->take(ready)) {
      case Subscription::State::kClosed:
        s.channel->close();
        return Step::kIdle;
      case Subscription::State::kLagged:
        s.replaying = true;  // what was dropped is committed: read it from the store
        return Step::kMore;
      case Subscription::State::kOpen:
        break;
    }
    std::string batch;
    for (const auto& e : ready) {
      if (e->id <= s.cursor) continue;  // already sent from the backlog
      batch += frame(*e);
      s.cursor = e->id;
    }
    if (!batch.empty()) send(s, std::move(batch));
    return Step::kIdle;
  }

  Step replay(Stream& s) {
    const size_t page = events_.options().replay_page;
    auto list = events_.list(s.tenant_id, s.cursor, s.type, page);
    if (!list.isOk()) {
      log::warn("event stream backlog read failed; closing the stream",
                {{"tenant", s.tenant_id}, {"error", list.status().message()}});
      s.channel->close();
      return Step::kIdle;
    }
    if (list->size() < page) s.replaying = false;
    if (!list->empty()) {
      std::string batch;
      for (const auto& e : *list)
        batch += frame(e);
      s.cursor = list->back().id;
      send(s, std::move(batch));
    }
    // Caught up: what arrived live meanwhile is queued in the subscription (take() skips what was replayed).
    return Step::kMore;
  }

  void send(Stream& s, std::string data) {
    s.next_keepalive = Clock::now() + events_.options().keepalive_interval;
    s.channel->write(std::move(data));
  }

  Events& events_;
  const Reauthorize reauthorize_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Stream>> streams_;  // GUARDED_BY(mu_): every open stream
  std::deque<std::shared_ptr<Stream>> ready_;     // GUARDED_BY(mu_): streams with something to do
  bool stopping_ = false;                         // GUARDED_BY(mu_)
  std::thread thread_;                            // last: starts after the members above exist
};

// The check behind Pump::reauthorize: the same rules as requireTenant at the stream's start.
std::string recheck(tenancy::Tenancy& tenancy, const Credential& credential, const std::string& tenant_id) {
  if (credential.admin) {
    auto admin = tenancy.authenticateAdmin(credential.authorization.view());
    if (!admin.isOk()) return "the admin token is no longer accepted";
    auto tenant = tenancy.resolveTenant(credential.on_behalf);
    if (!tenant.isOk() || tenant->id != tenant_id) return "the tenant no longer exists";
    return "";
  }
  auto principal = tenancy.authenticate(credential.authorization.view());
  if (!principal.isOk()) {
    // Fail closed: a stream that cannot be re-checked ends; the client reconnects with Last-Event-ID and is
    // authenticated afresh.
    return principal.status().code() == StatusCode::kUnauthenticated
               ? "the API key was revoked"
               : "the API key could not be checked again (" + std::string(principal.status().codeName()) +
                     ")";
  }
  if (principal->tenant_id != tenant_id) return "the API key no longer belongs to this tenant";
  if (!principal->hasScope(tenancy::kScopeRead)) return "the API key lacks the \"read\" scope";
  return "";
}

void stream(Events& events, Pump& pump, const tenancy::Principal& p, const http::Request& req,
            http::Response& res) {
  std::string type;
  if (!typeFilter(req, res, type)) return;
  // Last-Event-ID wins: a reconnecting EventSource repeats the original URL (with its ?after=) plus the
  // header.
  int64_t cursor = -1;
  const std::string last_event_id = req.header("Last-Event-ID");
  if (!last_event_id.empty()) {
    if (!parseCount(last_event_id, cursor)) {
      return http::setError(res, 400, "invalid_request",
                            "Last-Event-ID must be an event id (a non-negative integer)");
    }
  } else if (req.hasQuery("after") && !parseCount(req.queryValue("after"), cursor)) {
    return http::setError(res, 400, "invalid_request", "after must be an event id (a non-negative integer)");
  }
  if (cursor < 0) {
    // No cursor: start at the newest event. Read before subscribing, so anything committed in between is
    // replayed from the store rather than lost.
    auto last = events.lastId(p.tenant_id);
    if (!last.isOk()) return http::setError(res, last.status());
    cursor = *last;
  }
  auto subscription = events.subscribe(p.tenant_id, type);
  if (!subscription.isOk()) {
    res.setHeader("Retry-After", "5");
    if (subscription.status().code() == StatusCode::kRateLimited) {
      return http::setError(res, 429, "too_many_streams", subscription.status().message());
    }
    if (!events.stopped())
      return http::setError(res, 503, "too_many_streams", subscription.status().message());
    return http::setError(res, 503, "unavailable", subscription.status().message());
  }
  auto state = std::make_shared<Pump::Stream>();
  state->subscription = std::move(subscription).value();
  state->tenant_id = p.tenant_id;
  state->type = type;
  state->cursor = cursor;
  state->next_keepalive = Clock::now() + events.options().keepalive_interval;
  state->credential.authorization = vault::SecureString(req.header("Authorization"));
  state->credential.on_behalf = req.header(tenancy::kOnBehalfHeader);
  state->credential.admin = p.admin;
  state->credential.key_id = p.key_id;
  res.status = 200;
  res.content_type = "text/event-stream";
  res.setHeader("Cache-Control", "no-cache");
  res.setHeader("X-Accel-Buffering", "no");  // reverse proxies: do not buffer the stream
  res.stream = [state, &pump](std::shared_ptr<http::StreamChannel> channel) {
    channel->write("retry: 2000\n: stream open\n\n");
    state->channel = std::move(channel);
    pump.add(state);
  };
}

}  // namespace

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Events& events) {
  server.route("GET", "/api/events",
               tenancy::requireTenant(tenancy, tenancy::kScopeRead,
                                      [&events](const tenancy::Principal& p, const http::Request& req,
                                                http::Response& res) { poll(events, p, req, res); }));
  // The pump lives as long as the route (the server), which is destroyed before `events` and `tenancy`.
  auto pump =
      std::make_shared<Pump>(events, [&tenancy](const Credential& credential, const std::string& tenant) {
        return recheck(tenancy, credential, tenant);
      });
  server.route(
      "GET", "/api/events/stream",
      tenancy::requireTenant(tenancy, tenancy::kScopeRead,
                             [&events, pump](const tenancy::Principal& p, const http::Request& req,
                                             http::Response& res) { stream(events, *pump, p, req, res); }));
}

}  // namespace ih::events

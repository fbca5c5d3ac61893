// Fan-out and delivery threads of the outbound webhooks. See endpoints.h.
//
// Threads: one fan-out thread (events after the cursor → delivery rows) and Options::workers delivery threads
// (claim one due row, one HTTP attempt, record it). They share one condition variable: wake() and new
// deliveries bump `generation_` so sleepers re-check the store at once; otherwise they poll.
#include "endpoints/endpoints.h"

#include "vault/secure_string.h"
#include "vault/vault.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/text.h"
#include "endpoints/signature.h"
#include "events/events.h"
#include "log/guard.h"
#include "log/log.h"
#include "outbound/client.h"
#include "store/endpoint_store.h"
#include "store/store.h"

namespace ih::endpoints {
namespace {

using Clock = std::chrono::steady_clock;

// What an attempt shows the tenant of the receiver's answer: at most `limit` bytes, valid UTF-8 (a cut
// sequence is dropped), control characters but tab/newline replaced, secrets redacted.
std::string attemptSnippet(std::string_view answer, size_t limit) {
  std::string text = toValidUtf8(answer.substr(0, limit));
  if (answer.size() > limit) {
    // The cut may have split a UTF-8 sequence: toValidUtf8 turned its lead bytes into U+FFFD; drop those.
    const std::string_view replacement = "\xEF\xBF\xBD";
    while (text.size() >= replacement.size() &&
           std::string_view(text).substr(text.size() - replacement.size()) == replacement &&
           answer.substr(0, limit).find(replacement) == std::string_view::npos) {
      text.resize(text.size() - replacement.size());
    }
  }
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) c = ' ';
  }
  return redact(text);
}

}  // namespace

namespace {
constexpr std::string_view kSealedPrefix = "sealed:v1:";
std::string secretPurpose(std::string_view endpoint_id) {
  return "endpoint_secret:" + std::string(endpoint_id);
}
Result<std::string> sealEndpointSecret(vault::Vault& vault, std::string_view tenant_id,
                                       std::string_view endpoint_id, std::string_view secret);
Result<std::string> openEndpointSecret(vault::Vault& vault, std::string_view tenant_id,
                                       std::string_view endpoint_id, std::string_view stored);
}  // namespace

struct Endpoints::Impl {
  Impl(store::Store& s, events::Events& e, outbound::Client& c, vault::Vault& v, Options o)
      : store(s), events(e), client(c), vault(v), options(std::move(o)), endpoint_store(s) {}

  void wake() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++generation;
    }
    cv.notify_all();
  }

  // Sleeps until wake(), stop() or the poll interval. Returns false when stopping.
  bool idle(uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait_for(lock, options.poll_interval, [&] { return stopping || generation != seen; });
    return !stopping;
  }

  uint64_t currentGeneration() {
    std::lock_guard<std::mutex> lock(mutex);
    return generation;
  }

  bool isStopping() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopping;
  }

  // Runs a thread's loop; an exception (a bug: the loops handle every expected failure as a value) is
  // logged and the loop starts again after a pause, so the thread never dies and never takes the process
  // with it.
  // A delivery thread's pause after its loop threw: true when the thread should end instead.
  bool pauseOrStop(std::chrono::milliseconds pause) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, pause, [&] { return stopping; });
  }

  void prune() {
    if (options.retention.count() <= 0) return;
    const int64_t before = nowMs() - options.retention.count();
    auto pruned = endpoint_store.purgeFinishedBefore(before);
    if (!pruned.isOk()) {
      log::warn("endpoint delivery pruning failed", {{"error", pruned.status().message()}});
    } else if (*pruned > 0) {
      log::info("pruned old endpoint deliveries and attempts", {{"rows", static_cast<uint64_t>(*pruned)}});
    }
  }

  void fanOutLoop() {
    auto next_prune = std::chrono::steady_clock::now();
    while (true) {
      const uint64_t seen = currentGeneration();
      if (isStopping()) return;
      if (std::chrono::steady_clock::now() >= next_prune) {
        next_prune = std::chrono::steady_clock::now() + options.prune_every;
        prune();
      }
      auto pending = endpoint_store.hasUnfannedEvents();
      if (pending.isOk() && *pending) {
        auto consumed = endpoint_store.fanOut(options.fanout_batch, nowMs());
        if (consumed.isOk()) {
          wake();  // new deliveries for the workers
          if (*consumed == options.fanout_batch) continue;
        } else {
          log::warn("endpoint fan-out failed", {{"error", consumed.status().message()}});
        }
      } else if (!pending.isOk()) {
        log::warn("endpoint fan-out read failed", {{"error", pending.status().message()}});
      }
      if (!idle(seen)) return;
    }
  }

  void workerLoop(unsigned seed) {
    std::mt19937_64 rng(seed);
    while (true) {
      const uint64_t seen = currentGeneration();
      if (isStopping()) return;
      auto claimed = endpoint_store.claimDue(nowMs());
      if (!claimed.isOk()) {
        log::warn("endpoint delivery claim failed", {{"error", claimed.status().message()}});
      } else if (claimed->has_value()) {
        deliver(**claimed, rng);
        continue;
      }
      if (!idle(seen)) return;
    }
  }

  int64_t retryDelay(int attempt, std::mt19937_64& rng) const {
    const auto base = static_cast<double>(options.retry_schedule[static_cast<size_t>(attempt - 1)].count());
    double factor = 1.0;
    if (options.jitter > 0) {
      std::uniform_real_distribution<double> dist(1.0 - options.jitter, 1.0 + options.jitter);
      factor = dist(rng);
    }
    return static_cast<int64_t>(base * factor);
  }

  void deliver(const store::ClaimedDelivery& c, std::mt19937_64& rng) {
    store::EventRow row;
    row.id = c.delivery.event_id;
    row.tenant_id = c.delivery.tenant_id;
    row.integration_id = c.event_integration_id;
    row.type = c.event_type;
    row.occurred_at = c.event_occurred_at;
    row.data_json = c.event_data_json;
    const std::string body = events::fromRow(std::move(row)).envelope;
    const std::string msg_id = "evt_" + std::to_string(c.delivery.event_id);

    store::DeliveryOutcome outcome;
    store::AttemptRow& a = outcome.attempt;
    a.tenant_id = c.delivery.tenant_id;
    a.endpoint_id = c.delivery.endpoint_id;
    a.delivery_id = c.delivery.id;
    a.event_id = c.delivery.event_id;
    a.attempt = c.delivery.attempts + 1;
    a.at = nowMs();
    const int64_t timestamp = a.at / 1000;

    std::string signature;
    auto current = openEndpointSecret(vault, c.endpoint.tenant_id, c.endpoint.id, c.endpoint.secret);
    if (current.isOk()) {
      auto key = secretKey(*current);
      if (key.isOk()) signature = sign(*key, msg_id, timestamp, body);
      vault::wipe(*current);
    }
    if (!c.endpoint.previous_secret.empty() && c.endpoint.previous_secret_expires_at > a.at) {
      auto previous =
          openEndpointSecret(vault, c.endpoint.tenant_id, c.endpoint.id, c.endpoint.previous_secret);
      if (previous.isOk()) {
        if (auto key = secretKey(*previous); key.isOk()) {
          if (!signature.empty()) signature += ' ';
          signature += sign(*key, msg_id, timestamp, body);
        }
        vault::wipe(*previous);
      }
    }

    const Clock::time_point started = Clock::now();
    if (signature.empty()) {
      a.response = "the endpoint's signing secret is malformed; rotate it";
    } else {
      outbound::Request request;
      request.method = "POST";
      request.url = c.endpoint.url;
      request.headers = {{"Content-Type", "application/json"},
                         {"User-Agent", "ihost-webhooks/1"},
                         {"webhook-id", msg_id},
                         {"webhook-timestamp", std::to_string(timestamp)},
                         {"webhook-signature", signature}};
      request.body = body;
      request.timeout_ms = static_cast<int>(options.request_timeout.count());
      request.max_attempts = 1;  // our own schedule retries
      request.idempotency_key = msg_id;
      request.provider = "endpoints";
      request.endpoint = "webhook";
      auto response = client.send(std::move(request));
      if (response.isOk()) {
        a.http_status = response->status;
        a.succeeded = response->status >= 200 && response->status < 300;
        a.response = attemptSnippet(response->body, options.response_snippet);
      } else {
        a.response = attemptSnippet(response.status().message(), options.response_snippet);
      }
    }
    a.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (!a.succeeded && static_cast<size_t>(a.attempt) <= options.retry_schedule.size()) {
      outcome.retry_at = nowMs() + retryDelay(a.attempt, rng);
    }

    store::DisablePolicy policy;
    policy.max_consecutive_failed_events = options.disable_after_failed_events;
    policy.max_failing_ms = options.disable_after_failing_for.count();
    auto disabled = endpoint_store.recordAttempt(outcome, policy);
    if (!disabled.isOk()) {
      // The row stays `sending`; start() of the next run puts it back to pending.
      log::error(
          "endpoint attempt not recorded",
          {{"endpoint", a.endpoint_id}, {"delivery", a.delivery_id}, {"error", disabled.status().message()}});
      return;
    }
    if (!a.succeeded) {
      log::info("endpoint delivery attempt failed", {{"tenant", a.tenant_id},
                                                     {"endpoint", a.endpoint_id},
                                                     {"event", a.event_id},
                                                     {"attempt", a.attempt},
                                                     {"status", a.http_status},
                                                     {"retry", outcome.retry_at.has_value()}});
    }
    if (!disabled->empty()) {
      log::warn("endpoint disabled",
                {{"tenant", a.tenant_id}, {"endpoint", a.endpoint_id}, {"reason", *disabled}});
      nlohmann::json data = {{"endpoint_id", a.endpoint_id}, {"url", c.endpoint.url}, {"reason", *disabled}};
      Status st = events.emit(a.tenant_id, "", "endpoint.disabled", data.dump());
      if (!st.isOk()) log::warn("endpoint.disabled event not stored", {{"error", st.message()}});
    }
  }

  store::Store& store;
  events::Events& events;
  outbound::Client& client;
  vault::Vault& vault;
  const Options options;
  store::EndpointStore endpoint_store;

  std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false;    // GUARDED_BY(mutex)
  uint64_t generation = 0;  // GUARDED_BY(mutex)
  bool started = false;     // GUARDED_BY(mutex)
  std::thread fanout_thread;
  std::vector<std::thread> workers;
};

Endpoints::Endpoints(store::Store& store, events::Events& events, outbound::Client& client,
                     vault::Vault& vault, Options options)
    : impl_(std::make_unique<Impl>(store, events, client, vault, std::move(options))) {}

Result<std::string> Endpoints::sealSecret(std::string_view tenant_id, std::string_view endpoint_id,
                                          std::string_view secret) {
  return sealEndpointSecret(impl_->vault, tenant_id, endpoint_id, secret);
}

Result<std::string> Endpoints::openSecret(std::string_view tenant_id, std::string_view endpoint_id,
                                          std::string_view stored) {
  return openEndpointSecret(impl_->vault, tenant_id, endpoint_id, stored);
}

namespace {

Result<std::string> sealEndpointSecret(vault::Vault& vault, std::string_view tenant_id,
                                       std::string_view endpoint_id, std::string_view secret) {
  const std::string purpose = secretPurpose(endpoint_id);
  auto sealed = vault.seal(secret, {tenant_id, "endpoints", purpose});
  if (!sealed.isOk()) return sealed.status();
  return std::string(kSealedPrefix) + sealed->key_id + ":" +
         std::string(vault::base64Encode(sealed->nonce + sealed->ciphertext).view());
}

Result<std::string> openEndpointSecret(vault::Vault& vault, std::string_view tenant_id,
                                       std::string_view endpoint_id, std::string_view stored) {
  if (stored.substr(0, kSealedPrefix.size()) != kSealedPrefix) {
    return Status::internal("endpoint " + std::string(endpoint_id) +
                            " has an unsealed signing secret; rotate it");
  }
  std::string_view rest = stored.substr(kSealedPrefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return Status::internal("malformed sealed endpoint secret; rotate it");
  auto bytes = vault::base64Decode(rest.substr(colon + 1));
  if (!bytes.isOk() || bytes->size() < 12 + 16)
    return Status::internal("malformed sealed endpoint secret; rotate it");
  std::string_view raw = bytes->view();
  vault::Sealed sealed{std::string(rest.substr(0, colon)), std::string(raw.substr(0, 12)),
                       std::string(raw.substr(12))};
  const std::string purpose = secretPurpose(endpoint_id);
  auto opened = vault.open(sealed, {tenant_id, "endpoints", purpose});
  if (!opened.isOk()) return opened.status();
  return std::string(opened->view());
}

}  // namespace

Endpoints::~Endpoints() {
  stop();
}

Result<ResealCount> resealSigningSecrets(store::Store& store, vault::Vault& vault) {
  store::EndpointStore endpoints(store);
  ResealCount count;
  std::set<std::string> failed;  // tenant \n endpoint \n column: skipped in later pages
  for (;;) {
    const std::string prefix = std::string(kSealedPrefix) + vault.newestKeyId() + ":";  // re-read per page
    auto rows = endpoints.listSecretsNotStartingWith(prefix, 500 + failed.size());
    if (!rows.isOk()) return rows.status();
    size_t progressed = 0;
    for (const auto& row : *rows) {
      const std::string key = row.tenant_id + '\n' + row.endpoint_id + '\n' + row.column;
      if (failed.count(key)) continue;
      ++progressed;
      auto plain = openEndpointSecret(vault, row.tenant_id, row.endpoint_id, row.value);
      auto sealed = plain.isOk() ? sealEndpointSecret(vault, row.tenant_id, row.endpoint_id, *plain)
                                 : Result<std::string>(plain.status());
      if (!sealed.isOk()) {
        failed.insert(key);
        ++count.failed;
        log::error("endpoint signing secret could not be re-encrypted",
                   {{"tenant", row.tenant_id},
                    {"endpoint", row.endpoint_id},
                    {"column", row.column},
                    {"error", sealed.status().message()}});
        continue;
      }
      auto swapped = endpoints.replaceSecretIfUnchanged(row, *sealed);
      if (!swapped.isOk()) return swapped.status();
      ++(*swapped ? count.resealed : count.changed);
    }
    if (progressed == 0) break;
  }
  return count;
}

Result<std::string> openSigningSecret(vault::Vault& vault, std::string_view tenant_id,
                                      std::string_view endpoint_id, std::string_view stored) {
  return openEndpointSecret(vault, tenant_id, endpoint_id, stored);
}

Result<size_t> countSigningSecretsByKey(store::Store& store, std::string_view key_id) {
  store::EndpointStore endpoints(store);
  return endpoints.countSecretsStartingWith(std::string(kSealedPrefix) + std::string(key_id) + ":");
}

Status Endpoints::start() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->started) return Status::failedPrecondition("endpoints already started");
    if (impl_->stopping) return Status::failedPrecondition("endpoints stopped");
    impl_->started = true;
  }
  auto released = impl_->endpoint_store.releaseClaims();
  if (!released.isOk()) return released.status();
  if (*released > 0) {
    log::info("endpoint deliveries resumed after restart", {{"deliveries", static_cast<int64_t>(*released)}});
  }
  impl_->fanout_thread = std::thread([this] {
    log::runGuarded(
        "endpoint fan-out", [this] { impl_->fanOutLoop(); },
        [this](std::chrono::milliseconds pause) { return impl_->pauseOrStop(pause); });
  });
  std::random_device seed;
  for (int i = 0; i < impl_->options.workers; ++i) {
    const unsigned s = seed();
    impl_->workers.emplace_back([this, s] {
      log::runGuarded(
          "endpoint delivery worker", [this, s] { impl_->workerLoop(s); },
          [this](std::chrono::milliseconds pause) { return impl_->pauseOrStop(pause); });
    });
  }
  return Status::ok();
}

void Endpoints::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->fanout_thread.joinable()) impl_->fanout_thread.join();
  for (auto& t : impl_->workers) {
    if (t.joinable()) t.join();
  }
  impl_->workers.clear();
}

void Endpoints::wake() {
  impl_->wake();
}

const Options& Endpoints::options() const {
  return impl_->options;
}

const outbound::NetworkPolicy& Endpoints::networkPolicy() const {
  return impl_->client.options().network;
}

store::EndpointStore& Endpoints::endpointStore() {
  return impl_->endpoint_store;
}

events::Events& Endpoints::events() {
  return impl_->events;
}

}  // namespace ih::endpoints

// Idempotency-Key handling for actions (POST /api/integrations/{id}/actions/{name}): the first request with a
// key runs and its answer is stored; a repeat with the same key and the same request gets the stored answer
// again; a repeat with another request is refused. Keys are scoped by tenant + integration.
//
// Use (in the action handler):
//   auto found = cache.lookup(tenant, integration, key, action, input);   // input: the normalized JSON body
//   if (!found.isOk())  → http::setError(res, found.status())               (400 for a malformed key)
//   kReplay     → answer found->status / found->body with header "Idempotent-Replayed: true"
//   kMismatch   → 400 idempotency_error "key was already used with another request"
//   kInProgress → 409 idempotency_error "a request with this key is still running; retry later"
//   kMiss       → run the action, then cache.save(std::move(found->ticket), status, body). Don't save
//                 retryable outcomes (5xx, 429): dropping the ticket releases the key for a retry.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/record_store.h"

namespace ih::records {

class IdempotencyCache;

// The right to store the result for a key, held while the action runs. Move-only; destroying it without
// save() releases the key (the next request with it runs the action).
class IdempotencyTicket {
 public:
  IdempotencyTicket() = default;
  IdempotencyTicket(IdempotencyTicket&& other) noexcept;
  IdempotencyTicket& operator=(IdempotencyTicket&& other) noexcept;
  IdempotencyTicket(const IdempotencyTicket&) = delete;
  IdempotencyTicket& operator=(const IdempotencyTicket&) = delete;
  ~IdempotencyTicket();

  bool valid() const { return cache_ != nullptr; }

 private:
  friend class IdempotencyCache;
  IdempotencyCache* cache_ = nullptr;
  std::string slot_;  // tenant \0 integration \0 key
  store::ActionResult pending_;
};

struct IdempotencyLookup {
  enum class Kind { kMiss, kReplay, kMismatch, kInProgress };
  Kind kind = Kind::kMiss;
  int status = 0;            // kReplay: the stored HTTP status
  std::string body;          // kReplay: the stored response body
  IdempotencyTicket ticket;  // kMiss: hold while the action runs, then pass to save()
};

// Thread-safe. In-progress keys are tracked in this process only (one host process per database).
class IdempotencyCache {
 public:
  // `store` is borrowed and must outlive this object and every ticket it hands out.
  explicit IdempotencyCache(store::Store& store) : results_(store) {}

  // kInvalidArgument when `key` is empty, longer than 255 bytes or not printable ASCII. The request identity
  // is SHA-256 over `action` and `request` (pass the normalized JSON input so formatting does not matter).
  Result<IdempotencyLookup> lookup(std::string_view tenant_id, std::string_view integration_id,
                                   std::string_view key, std::string_view action, std::string_view request);
  // Stores the answer and releases the key. kAlreadyExists if another process stored one meanwhile (the first
  // stays). kInvalidArgument for an invalid (moved-from or default) ticket.
  Status save(IdempotencyTicket&& ticket, int http_status, std::string_view response_body);

  static Status validateKey(std::string_view key);

 private:
  friend class IdempotencyTicket;
  void release(const std::string& slot);

  store::ActionResultStore results_;
  std::mutex mutex_;
  std::set<std::string, std::less<>> in_flight_;  // GUARDED_BY(mutex_)
};

}  // namespace ih::records

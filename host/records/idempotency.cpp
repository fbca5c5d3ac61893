#include "records/idempotency.h"

#include <chrono>
#include <utility>

#include "common/digest.h"

namespace ih::records {
namespace {

std::string requestHash(std::string_view action, std::string_view request) {
  std::string input;
  input.reserve(action.size() + 1 + request.size());
  input.append(action).push_back('\0');
  input.append(request);
  return sha256(input);
}

std::string slotFor(std::string_view tenant_id, std::string_view integration_id, std::string_view key) {
  std::string slot;
  slot.reserve(tenant_id.size() + integration_id.size() + key.size() + 2);
  slot.append(tenant_id).push_back('\0');
  slot.append(integration_id).push_back('\0');
  slot.append(key);
  return slot;
}

}  // namespace

IdempotencyTicket::IdempotencyTicket(IdempotencyTicket&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)),
      slot_(std::move(other.slot_)),
      pending_(std::move(other.pending_)) {}

IdempotencyTicket& IdempotencyTicket::operator=(IdempotencyTicket&& other) noexcept {
  if (this != &other) {
    if (cache_) cache_->release(slot_);
    cache_ = std::exchange(other.cache_, nullptr);
    slot_ = std::move(other.slot_);
    pending_ = std::move(other.pending_);
  }
  return *this;
}

IdempotencyTicket::~IdempotencyTicket() {
  if (cache_) cache_->release(slot_);
}

Status IdempotencyCache::validateKey(std::string_view key) {
  if (key.empty() || key.size() > 255) {
    return Status::invalidArgument("Idempotency-Key must be 1-255 characters");
  }
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return Status::invalidArgument("Idempotency-Key must be printable ASCII");
  }
  return Status::ok();
}

Result<IdempotencyLookup> IdempotencyCache::lookup(std::string_view tenant_id,
                                                   std::string_view integration_id, std::string_view key,
                                                   std::string_view action, std::string_view request) {
  if (Status st = validateKey(key); !st.isOk()) return st;
  std::string hash = requestHash(action, request);
  if (hash.empty()) return Status::internal("cannot hash the request (OpenSSL SHA-256 failed)");

  // Reserve first, then read: a result saved by the previous holder is visible once its ticket is released.
  IdempotencyLookup out;
  std::string slot = slotFor(tenant_id, integration_id, key);
  {
    std::lock_guard lock(mutex_);
    if (!in_flight_.insert(slot).second) {
      out.kind = IdempotencyLookup::Kind::kInProgress;
      return out;
    }
  }
  IdempotencyTicket ticket;
  ticket.cache_ = this;
  ticket.slot_ = std::move(slot);
  auto stored = results_.find(tenant_id, integration_id, key);
  if (!stored.isOk()) return stored.status();  // ticket released
  if (stored->has_value()) {
    const store::ActionResult& r = **stored;
    if (r.request_hash != hash) {
      out.kind = IdempotencyLookup::Kind::kMismatch;
      return out;
    }
    out.kind = IdempotencyLookup::Kind::kReplay;
    out.status = r.status;
    out.body = r.response_json;
    return out;
  }
  ticket.pending_.tenant_id = std::string(tenant_id);
  ticket.pending_.integration_id = std::string(integration_id);
  ticket.pending_.idempotency_key = std::string(key);
  ticket.pending_.request_hash = std::move(hash);
  out.kind = IdempotencyLookup::Kind::kMiss;
  out.ticket = std::move(ticket);
  return out;
}

Status IdempotencyCache::save(IdempotencyTicket&& ticket, int http_status, std::string_view response_body) {
  IdempotencyTicket held = std::move(ticket);  // released when this returns, after the row is durable
  if (held.cache_ != this) return Status::invalidArgument("idempotency ticket is not valid for this cache");
  store::ActionResult row = held.pending_;
  row.status = http_status;
  row.response_json = std::string(response_body);
  row.created_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return results_.save(row.tenant_id, row);
}

void IdempotencyCache::release(const std::string& slot) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(slot);
}

}  // namespace ih::records

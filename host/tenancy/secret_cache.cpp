// See secret_cache.h.
#include "tenancy/secret_cache.h"

#include <utility>

#include "metrics/metrics.h"
#include "store/store.h"
#include "vault/vault.h"

namespace ih::tenancy {
namespace {

struct CacheMetrics {
  metrics::Counter* hits;
  metrics::Counter* misses;
};

const CacheMetrics& cacheMetrics() {
  static const CacheMetrics m = [] {
    auto& r = metrics::registry();
    const char* help = "Lookups of opened secrets (webhook verification, provider credentials), by result.";
    return CacheMetrics{&r.counter("ihost_secret_cache_lookups_total", help, {{"result", "hit"}}),
                        &r.counter("ihost_secret_cache_lookups_total", help, {{"result", "miss"}})};
  }();
  return m;
}

std::string cacheKey(std::string_view tenant_id, std::string_view integration_id, std::string_view purpose) {
  std::string key;
  key.reserve(tenant_id.size() + integration_id.size() + purpose.size() + 2);
  key.append(tenant_id).append(1, '\0').append(integration_id).append(1, '\0').append(purpose);
  return key;
}

}  // namespace

SecretCache::SecretCache(store::Store& store, vault::Vault& vault, Options options)
    : store_(store), vault_(vault), options_(options) {
  (void)cacheMetrics();
}

SecretCache::~SecretCache() = default;

void SecretCache::eraseLocked(std::unordered_map<std::string, Entry>::iterator it) {
  lru_.erase(it->second.lru);
  entries_.erase(it);  // the SecureString wipes itself
}

std::optional<Result<vault::SecureString>> SecretCache::lookupLocked(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.generation != store_.secretsGeneration() ||
      std::chrono::steady_clock::now() >= it->second.expires) {
    eraseLocked(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  if (!it->second.secret) return Result<vault::SecureString>(Status::notFound("no such secret"));
  return Result<vault::SecureString>(it->second.secret->clone());
}

Result<vault::SecureString> SecretCache::open(std::string_view tenant_id, std::string_view integration_id,
                                              std::string_view purpose) {
  const CacheMetrics& m = cacheMetrics();
  std::string key = cacheKey(tenant_id, integration_id, purpose);
  if (options_.max_entries > 0) {
    std::lock_guard lock(mu_);
    if (auto found = lookupLocked(key)) {
      ++stats_.hits;
      m.hits->inc();
      return std::move(*found);
    }
    ++stats_.misses;
  }
  m.misses->inc();
  // Taken before the read: a write that lands meanwhile moves the generation on, so what is read now can
  // never outlive that write in the cache.
  const uint64_t generation = store_.secretsGeneration();
  std::optional<vault::SecureString> opened;
  auto row = store_.getSecret(tenant_id, integration_id, purpose);
  if (row.isOk()) {
    auto plain =
        vault_.open({row->key_id, row->nonce, row->ciphertext}, {tenant_id, integration_id, purpose});
    if (!plain.isOk()) return plain.status();
    opened = std::move(plain).value();
  } else if (row.status().code() != StatusCode::kNotFound) {
    return row.status();
  }
  Result<vault::SecureString> answer = opened
                                           ? Result<vault::SecureString>(opened->clone())
                                           : Result<vault::SecureString>(Status::notFound("no such secret"));
  if (options_.max_entries == 0) return answer;
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) eraseLocked(it);
  while (entries_.size() >= options_.max_entries && !lru_.empty()) {
    eraseLocked(entries_.find(lru_.back()));
    ++stats_.evictions;
  }
  lru_.push_front(key);
  Entry& e = entries_[std::move(key)];
  e.secret = std::move(opened);
  e.generation = generation;
  e.expires = std::chrono::steady_clock::now() + options_.ttl;
  e.lru = lru_.begin();
  return answer;
}

SecretCache::Stats SecretCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = entries_.size();
  return s;
}

}  // namespace ih::tenancy

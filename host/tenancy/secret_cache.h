// Opened secrets (connection credentials, plugin secrets) kept for the paths that read one per request:
// webhook verification and provider calls. Reading and opening a secret is a database read plus an AES-GCM
// open, ~5 % of the CPU of a Stripe webhook intake.
//
// Rules: keyed by (tenant, integration, purpose), so a lookup only returns what was stored under the same
// three; at most `max_entries`, the least recently used evicted; every entry is wiped when dropped
// (vault::SecureString). An entry is dropped as soon as anything in this process wrote a secret
// (Store::secretsGeneration: connect, disconnect, secret_put, rotation), and after `ttl` whatever happens, for
// writes made by another process (the CLI). "No such secret" is remembered under the same rules. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "vault/secure_string.h"

namespace ih::store {
class Store;
}
namespace ih::vault {
class Vault;
}

namespace ih::tenancy {

class SecretCache {
 public:
  struct Options {
    size_t max_entries = 4096;  // 0: nothing is kept
    std::chrono::milliseconds ttl{10000};
  };
  // Borrowed; both must outlive this object.
  SecretCache(store::Store& store, vault::Vault& vault, Options options);
  SecretCache(store::Store& store, vault::Vault& vault) : SecretCache(store, vault, Options{}) {}
  ~SecretCache();
  SecretCache(const SecretCache&) = delete;
  SecretCache& operator=(const SecretCache&) = delete;

  // The secret stored for (tenant, integration, purpose), opened. kNotFound when there is none; other errors
  // (the store, a key missing from the ring) are returned and not remembered.
  Result<vault::SecureString> open(std::string_view tenant_id, std::string_view integration_id,
                                   std::string_view purpose);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;  // dropped to stay within max_entries
    size_t entries = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    std::optional<vault::SecureString> secret;  // nullopt: there is no such secret
    uint64_t generation = 0;                    // Store::secretsGeneration() before it was read
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  // The entry's copy, or nullopt on a miss (absent, stale or expired: then erased). Under mu_.
  std::optional<Result<vault::SecureString>> lookupLocked(const std::string& key);
  void eraseLocked(std::unordered_map<std::string, Entry>::iterator it);

  store::Store& store_;
  vault::Vault& vault_;
  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
  std::list<std::string> lru_;                      // GUARDED_BY(mu_) most recently used first
  Stats stats_;                                     // GUARDED_BY(mu_)
};

}  // namespace ih::tenancy

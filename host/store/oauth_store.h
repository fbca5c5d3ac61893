// OAuth `state` values issued by the host (migrations/sqlite/0006_oauth.sql). Used by host/oauth.
//
// Contract (as for Store): thread-safe; failures are values. Lookups go by the nonce's hash because that is
// how a callback finds its tenant (like Store::findApiKeyByHash, not tenant-scoped by design). The state text
// itself is never stored, only SHA-256(nonce).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih::store {

class Store;
class Db;

struct OAuthStateRow {
  std::string nonce_hash;  // 32 raw bytes: SHA-256 of the state's nonce
  std::string tenant_id;
  std::string integration_id;
  int64_t created_at = 0;  // unix ms
  int64_t expires_at = 0;  // unix ms
  std::optional<int64_t> consumed_at;
};

class OAuthStore {
 public:
  // `store` is borrowed and must outlive this object.
  explicit OAuthStore(Store& store);

  // kAlreadyExists when the nonce hash exists (a CSPRNG collision: never in practice).
  Status insertState(const OAuthStateRow& row);
  Result<std::optional<OAuthStateRow>> findState(std::string_view nonce_hash);
  // Marks the state consumed iff it is unconsumed and not expired at `now_ms`, in ONE conditional UPDATE, so
  // of any number of concurrent callbacks exactly one gets true.
  Result<bool> consumeState(std::string_view nonce_hash, int64_t now_ms);
  // Deletes states that expired before `before_ms` (consumed or not). Returns how many.
  Result<size_t> pruneStates(int64_t before_ms);

 private:
  Db& db_;
};

}  // namespace ih::store

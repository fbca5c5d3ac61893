// Re-encrypts every stored credential with the vault's newest key. Safe while the server runs: each row is
// swapped with a compare-and-swap, so a credential rewritten meanwhile (a reconnect) is left as the writer made it.
#pragma once

#include <cstddef>

#include "common/status.h"

namespace ih::store {
class Store;
}
namespace ih::vault {
class Vault;
}

namespace ih::app {

struct RotationReport {
  size_t resealed = 0;  // rows now under the newest key
  size_t changed = 0;   // rows that changed during the pass (already rewritten by someone else)
  size_t failed = 0;    // rows that could not be decrypted (tampered, or their key is gone)
};

// Walks every row not under `vault.newestKeyId()` and reseals it. Fails only on a store error.
Result<RotationReport> resealAll(store::Store& store, vault::Vault& vault);

}  // namespace ih::app

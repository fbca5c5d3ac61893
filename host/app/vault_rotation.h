// Re-encrypts every stored credential with the vault's newest key. Safe while the server runs: each row is
// swapped with a compare-and-swap, so a credential rewritten meanwhile (a reconnect) is left as the writer
// made it.
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

// Walks every row not under `vault.newestKeyId()` and reseals it (the vault canary too). Fails only on a
// store error.
Result<RotationReport> resealAll(store::Store& store, vault::Vault& vault);

// Checks that the key ring belongs to this database, so a host never starts with a wrong key: a canary sealed
// when the database was first opened must decrypt, and the API-key pepper must be the one the database was
// set up with. Writes both on first use. kFailedPrecondition naming what does not match and how to fix it.
Status verifyVault(store::Store& store, vault::Vault& vault);

}  // namespace ih::app

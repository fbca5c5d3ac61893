// Vault key rotation over every piece of sealed data the host keeps. Safe while the server runs: each row is
// swapped with a compare-and-swap, so a value rewritten meanwhile (a reconnect, a rotate_secret) is left as
// the writer made it.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

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

// Every place the host keeps vault-sealed data: the secrets table (tenants' credentials and plugin secrets),
// the endpoints' signing secrets (current and previous) and the vault canary. `ihost vault rotate`, `status`
// and `remove-key` walk this list and nothing else, so sealed data kept anywhere new is added here or it is
// not rotated (tests/integration/vault_rotation_test.cpp goes through the documented rotation with each kind
// present).
struct SealedData {
  std::string_view what;  // for messages, e.g. "endpoint signing secrets"
  std::function<Result<size_t>(std::string_view key_id)> count;  // items sealed with that key
  std::function<Result<RotationReport>()> reseal;                // moves every item to the newest key
};
// The references must outlive the returned list.
std::vector<SealedData> sealedData(store::Store& store, vault::Vault& vault);

// Reseals every item of sealedData() not under `vault.newestKeyId()`. Fails only on a store error.
Result<RotationReport> resealAll(store::Store& store, vault::Vault& vault);
// How many items of sealedData() key `key_id` encrypts.
Result<size_t> countSealedByKey(store::Store& store, vault::Vault& vault, std::string_view key_id);

// Checks that the key ring belongs to this database, so a host never starts with a wrong key: a canary sealed
// when the database was first opened must decrypt, and the API-key pepper must be the one the database was
// set up with. Writes both on first use. kFailedPrecondition naming what does not match and how to fix it.
Status verifyVault(store::Store& store, vault::Vault& vault);

}  // namespace ih::app

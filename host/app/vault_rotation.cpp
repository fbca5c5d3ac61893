#include "app/vault_rotation.h"

#include <set>
#include <string>

#include "log/log.h"
#include "store/store.h"
#include "vault/vault.h"

namespace ih::app {

Result<RotationReport> resealAll(store::Store& store, vault::Vault& vault) {
  RotationReport report;
  std::set<std::string> failed;  // primary keys that cannot be opened: skip them in later pages
  for (;;) {
    // Re-read per page: a reload during the pass (another rotation) moves the target to an even newer key.
    const std::string newest = vault.newestKeyId();
    auto rows = store.listSecretsNotUsingKey(newest, 500 + failed.size());
    if (!rows.isOk()) return rows.status();
    size_t progressed = 0;
    for (const auto& row : *rows) {
      std::string pk = row.tenant_id + '\n' + row.integration_id + '\n' + row.purpose;
      if (failed.count(pk)) continue;
      ++progressed;
      vault::Sealed sealed{row.key_id, row.nonce, row.ciphertext};
      auto resealed = vault.reseal(sealed, {row.tenant_id, row.integration_id, row.purpose});
      if (!resealed.isOk()) {
        failed.insert(pk);
        ++report.failed;
        log::error("credential could not be re-encrypted",
                   {{"tenant", row.tenant_id}, {"integration", row.integration_id}, {"purpose", row.purpose},
                    {"error", resealed.status().message()}});
        continue;
      }
      store::SecretRow updated = row;
      updated.key_id = resealed->key_id;
      updated.nonce = resealed->nonce;
      updated.ciphertext = resealed->ciphertext;
      auto swapped = store.replaceSecretIfUnchanged(row, updated);
      if (!swapped.isOk()) return swapped.status();
      if (*swapped) {
        ++report.resealed;
      } else {
        ++report.changed;
      }
    }
    if (progressed == 0) break;
  }
  return report;
}

}  // namespace ih::app

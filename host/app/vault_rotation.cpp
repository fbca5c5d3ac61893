#include "app/vault_rotation.h"

#include <optional>
#include <set>
#include <string>

#include "endpoints/endpoints.h"
#include "log/log.h"
#include "store/store.h"
#include "vault/vault.h"

namespace ih::app {
namespace {

constexpr std::string_view kCanaryKey = "vault.canary";
constexpr std::string_view kPepperCheckKey = "vault.pepper_check";
constexpr std::string_view kCanaryPlaintext = "ihost vault canary v1";
const vault::Aad kCanaryAad{"", "", "vault-canary"};

std::string encodeSealed(const vault::Sealed& s) {
  return s.key_id + '\0' + s.nonce + s.ciphertext;
}

std::optional<vault::Sealed> decodeSealed(const std::string& bytes) {
  size_t zero = bytes.find('\0');
  if (zero == std::string::npos || bytes.size() < zero + 1 + 12 + 16) return std::nullopt;
  return vault::Sealed{bytes.substr(0, zero), bytes.substr(zero + 1, 12), bytes.substr(zero + 13)};
}

Status sealCanary(store::Store& store, vault::Vault& vault) {
  auto sealed = vault.seal(kCanaryPlaintext, kCanaryAad);
  if (!sealed.isOk()) return sealed.status();
  return store.putMeta(kCanaryKey, encodeSealed(*sealed));
}

}  // namespace

Status verifyVault(store::Store& store, vault::Vault& vault) {
  std::string pepper = vault.keyRing()->pepperHash("ihost pepper check v1");
  auto stored_pepper = store.getMeta(kPepperCheckKey);
  if (!stored_pepper.isOk()) return stored_pepper.status();
  if (!stored_pepper->has_value()) {
    if (Status s = store.putMeta(kPepperCheckKey, pepper); !s.isOk()) return s;
  } else if (**stored_pepper != pepper) {
    return Status::failedPrecondition(
        "the vault key ring does not belong to this database (its pepper differs from the one the database "
        "was "
        "set up with, so no API key would authenticate). Restore the key file this database was created "
        "with.");
  }
  auto canary = store.getMeta(kCanaryKey);
  if (!canary.isOk()) return canary.status();
  if (!canary->has_value()) return sealCanary(store, vault);
  auto sealed = decodeSealed(**canary);
  if (!sealed)
    return Status::failedPrecondition("the stored vault canary is corrupt; restore the database backup");
  auto opened = vault.open(*sealed, kCanaryAad);
  if (!opened.isOk() || opened->view() != kCanaryPlaintext) {
    return Status::failedPrecondition(
        "the vault key ring cannot decrypt this database (key " + sealed->key_id +
        " is missing or different). Restore the key file that holds it, or point [vault] key_file / "
        "IHOST_VAULT_KEYS at it. The host never starts without its keys.");
  }
  return Status::ok();
}

namespace {

Result<RotationReport> resealCredentials(store::Store& store, vault::Vault& vault) {
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
        log::error("credential could not be re-encrypted", {{"tenant", row.tenant_id},
                                                            {"integration", row.integration_id},
                                                            {"purpose", row.purpose},
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

Result<RotationReport> resealCanary(store::Store& store, vault::Vault& vault) {
  RotationReport report;
  auto canary = store.getMeta(kCanaryKey);
  if (!canary.isOk()) return canary.status();
  if (!canary->has_value()) return report;
  auto sealed = decodeSealed(**canary);
  if (!sealed) {
    ++report.failed;
    return report;
  }
  if (sealed->key_id == vault.newestKeyId()) return report;
  auto resealed = vault.reseal(*sealed, kCanaryAad);
  if (!resealed.isOk()) {
    ++report.failed;
    return report;
  }
  if (Status s = store.putMeta(kCanaryKey, encodeSealed(*resealed)); !s.isOk()) return s;
  ++report.resealed;
  return report;
}

Result<size_t> countCanary(store::Store& store, std::string_view key_id) {
  auto canary = store.getMeta(kCanaryKey);
  if (!canary.isOk()) return canary.status();
  if (!canary->has_value()) return size_t{0};
  auto sealed = decodeSealed(**canary);
  return size_t{sealed && sealed->key_id == key_id ? 1u : 0u};
}

}  // namespace

std::vector<SealedData> sealedData(store::Store& store, vault::Vault& vault) {
  return {
      {"credentials and plugin secrets",
       [&store](std::string_view key_id) { return store.countSecretsByKey(key_id); },
       [&store, &vault] { return resealCredentials(store, vault); }},
      {"endpoint signing secrets",
       [&store](std::string_view key_id) { return endpoints::countSigningSecretsByKey(store, key_id); },
       [&store, &vault]() -> Result<RotationReport> {
         auto count = endpoints::resealSigningSecrets(store, vault);
         if (!count.isOk()) return count.status();
         return RotationReport{count->resealed, count->changed, count->failed};
       }},
      {"vault canary", [&store](std::string_view key_id) { return countCanary(store, key_id); },
       [&store, &vault] { return resealCanary(store, vault); }},
  };
}

Result<RotationReport> resealAll(store::Store& store, vault::Vault& vault) {
  RotationReport total;
  for (const SealedData& data : sealedData(store, vault)) {
    auto report = data.reseal();
    if (!report.isOk())
      return Status(report.status().code(), std::string(data.what) + ": " + report.status().message());
    total.resealed += report->resealed;
    total.changed += report->changed;
    total.failed += report->failed;
  }
  return total;
}

Result<size_t> countSealedByKey(store::Store& store, vault::Vault& vault, std::string_view key_id) {
  size_t total = 0;
  for (const SealedData& data : sealedData(store, vault)) {
    auto n = data.count(key_id);
    if (!n.isOk()) return n.status();
    total += *n;
  }
  return total;
}

}  // namespace ih::app

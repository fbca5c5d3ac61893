// Vault: AES-256-GCM seal/open bound to (tenant, integration, purpose, key id), with reload on unknown key
// ids.
#include "vault/vault.h"

#include <openssl/evp.h>

#include <memory>

#include "log/log.h"
#include "metrics/metrics.h"

namespace ih::vault {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kMaxPlaintextBytes = 16u << 20;
// Versions the AAD layout so a future format cannot be confused with this one.
constexpr std::string_view kAadDomain = "ihost-vault-v1";

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

void appendLengthPrefixed(std::string& out, std::string_view field) {
  uint32_t n = static_cast<uint32_t>(field.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(field);
}

// Length prefixes keep ("ab","c") and ("a","bc") apart.
std::string buildAad(const Aad& aad, std::string_view key_id) {
  std::string out;
  out.reserve(kAadDomain.size() + 16 + aad.tenant_id.size() + aad.integration_id.size() + aad.purpose.size() +
              key_id.size());
  appendLengthPrefixed(out, kAadDomain);
  appendLengthPrefixed(out, aad.tenant_id);
  appendLengthPrefixed(out, aad.integration_id);
  appendLengthPrefixed(out, aad.purpose);
  appendLengthPrefixed(out, key_id);
  return out;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// ihost_vault_operations_total{op,result}: op = seal | open | reseal | reload, result = ok | error.
void countOperation(const char* op, bool ok) {
  metrics::registry()
      .counter("ihost_vault_operations_total", "Vault operations, by operation and result.",
               {{"op", op}, {"result", ok ? "ok" : "error"}})
      .inc();
}

Status cannotDecrypt(const Aad& aad, std::string_view key_id) {
  log::warn("vault: credential could not be decrypted", {{"tenant", aad.tenant_id},
                                                         {"integration", aad.integration_id},
                                                         {"purpose", aad.purpose},
                                                         {"key_id", key_id}});
  return Status::internal("credential for tenant \"" + std::string(aad.tenant_id) + "\" integration \"" +
                          std::string(aad.integration_id) + "\" (purpose \"" + std::string(aad.purpose) +
                          "\") could not be decrypted (wrong key or tampered data)");
}

Status unknownKey(std::string_view key_id, std::string_view extra = {}) {
  return Status::failedPrecondition(
      "unknown vault key id \"" + std::string(key_id) +
      "\": the key ring does not hold it. Restore the key file that contains it." + std::string(extra));
}

}  // namespace

Vault::Vault(KeyRing ring, ReloadFn reload)
    : reload_(std::move(reload)), ring_(std::make_shared<const KeyRing>(std::move(ring))) {}

std::shared_ptr<const KeyRing> Vault::snapshot() const {
  std::lock_guard<std::mutex> lock(ring_mutex_);
  return ring_;
}

std::shared_ptr<const KeyRing> Vault::keyRing() const {
  return snapshot();
}

std::string Vault::newestKeyId() const {
  return snapshot()->newestKeyId();
}

Vault::Stats Vault::stats() const {
  Stats s;
  s.seals = seals_.load(std::memory_order_relaxed);
  s.opens = opens_.load(std::memory_order_relaxed);
  s.reseals = reseals_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.reloads = reloads_.load(std::memory_order_relaxed);
  return s;
}

Status Vault::reload() {
  if (!reload_) return Status::failedPrecondition("the vault has no key ring source to reload from");
  std::lock_guard<std::mutex> reload_lock(reload_mutex_);
  return reloadLocked();
}

Status Vault::reloadLocked() {
  Result<KeyRing> fresh = reload_();
  if (!fresh.isOk()) {
    countOperation("reload", false);
    return fresh.status();
  }
  std::shared_ptr<const KeyRing> current = snapshot();
  if (!fresh->samePepper(*current)) {
    countOperation("reload", false);
    return Status::failedPrecondition(
        "the reloaded vault key ring has a different pepper than the running one; it was not applied (every "
        "API "
        "key would stop matching). Restore the key ring whose pepper the server started with.");
  }
  auto next = std::make_shared<const KeyRing>(std::move(fresh).value());
  std::string newest = next->newestKeyId();
  {
    std::lock_guard<std::mutex> lock(ring_mutex_);
    ring_ = std::move(next);
  }
  reloads_.fetch_add(1, std::memory_order_relaxed);
  countOperation("reload", true);
  log::info("vault: key ring reloaded", {{"newest_key_id", newest}});
  return Status::ok();
}

Result<std::shared_ptr<const KeyRing>> Vault::ringWithKey(std::string_view key_id) {
  std::shared_ptr<const KeyRing> ring = snapshot();
  if (ring->hasKey(key_id)) return ring;
  if (!reload_) return unknownKey(key_id);
  std::lock_guard<std::mutex> reload_lock(reload_mutex_);
  // Another caller may have reloaded while we waited; then one reload served both.
  ring = snapshot();
  if (ring->hasKey(key_id)) return ring;
  Status reloaded = reloadLocked();
  if (!reloaded.isOk())
    return unknownKey(key_id, " (reloading the key ring failed: " + reloaded.message() + ")");
  ring = snapshot();
  if (!ring->hasKey(key_id)) return unknownKey(key_id);
  return ring;
}

Result<Sealed> Vault::sealWith(const KeyRing& ring, std::string_view plaintext, const Aad& aad) {
  if (plaintext.size() > kMaxPlaintextBytes) {
    return Status::invalidArgument("credential too large to encrypt (" + std::to_string(plaintext.size()) +
                                   " bytes; the limit is 16 MiB)");
  }
  const KeyRing::Key* key = ring.find(ring.newestKeyId());
  if (key == nullptr) return Status::internal("the vault key ring holds no key");
  Result<SecureString> nonce = randomBytes(kNonceBytes);
  if (!nonce.isOk()) return nonce.status();

  Sealed sealed;
  sealed.key_id = key->id;
  sealed.nonce = std::string(nonce->view());
  sealed.ciphertext.resize(plaintext.size() + kTagBytes);
  std::string aad_bytes = buildAad(aad, key->id);
  auto* out = reinterpret_cast<unsigned char*>(sealed.ciphertext.data());

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  bool ok =
      ctx != nullptr && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key->material.view()), bytes(nonce->view())) ==
          1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad_bytes), static_cast<int>(aad_bytes.size())) ==
          1 &&
      EVP_EncryptUpdate(ctx.get(), out, &len, bytes(plaintext), static_cast<int>(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out + total, &len) == 1;
  total += len;
  ok = ok && static_cast<size_t>(total) == plaintext.size() &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, out + total) == 1;
  if (!ok) return Status::internal("vault: AES-256-GCM encryption failed in OpenSSL");
  return sealed;
}

Result<SecureString> Vault::openWith(const KeyRing& ring, const Sealed& sealed, const Aad& aad) {
  const KeyRing::Key* key = ring.find(sealed.key_id);
  if (key == nullptr) return unknownKey(sealed.key_id);
  if (sealed.nonce.size() != kNonceBytes || sealed.ciphertext.size() < kTagBytes ||
      sealed.ciphertext.size() > kMaxPlaintextBytes + kTagBytes) {
    return cannotDecrypt(aad, sealed.key_id);
  }
  size_t body = sealed.ciphertext.size() - kTagBytes;
  std::string aad_bytes = buildAad(aad, sealed.key_id);
  // One spare byte keeps the output pointer valid for an empty plaintext.
  SecureString plain = SecureString::zeroed(body + 1);
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  std::string tag = sealed.ciphertext.substr(body);  // EVP wants a mutable buffer

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  bool ok =
      ctx != nullptr && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key->material.view()), bytes(sealed.nonce)) ==
          1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad_bytes), static_cast<int>(aad_bytes.size())) ==
          1 &&
      EVP_DecryptUpdate(ctx.get(), out, &len, bytes(sealed.ciphertext), static_cast<int>(body)) == 1;
  total = len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), out + total, &len) > 0;
  total += len;
  if (!ok || static_cast<size_t>(total) != body) return cannotDecrypt(aad, sealed.key_id);
  return SecureString(plain.view().substr(0, body));
}

Result<Sealed> Vault::seal(std::string_view plaintext, const Aad& aad) {
  Result<Sealed> sealed = sealWith(*snapshot(), plaintext, aad);
  (sealed.isOk() ? seals_ : failures_).fetch_add(1, std::memory_order_relaxed);
  countOperation("seal", sealed.isOk());
  return sealed;
}

Result<SecureString> Vault::open(const Sealed& sealed, const Aad& aad) {
  Result<std::shared_ptr<const KeyRing>> ring = ringWithKey(sealed.key_id);
  if (!ring.isOk()) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    countOperation("open", false);
    return ring.status();
  }
  Result<SecureString> plain = openWith(**ring, sealed, aad);
  (plain.isOk() ? opens_ : failures_).fetch_add(1, std::memory_order_relaxed);
  countOperation("open", plain.isOk());
  return plain;
}

Result<Sealed> Vault::reseal(const Sealed& sealed, const Aad& aad) {
  Result<std::shared_ptr<const KeyRing>> ring = ringWithKey(sealed.key_id);
  if (!ring.isOk()) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    countOperation("reseal", false);
    return ring.status();
  }
  Result<SecureString> plain = openWith(**ring, sealed, aad);
  if (!plain.isOk()) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    countOperation("reseal", false);
    return plain.status();
  }
  // Seal with the newest key of the ring that opened it (a reload may have just brought a newer one).
  Result<Sealed> resealed = sealWith(*snapshot(), plain->view(), aad);
  (resealed.isOk() ? reseals_ : failures_).fetch_add(1, std::memory_order_relaxed);
  countOperation("reseal", resealed.isOk());
  return resealed;
}

}  // namespace ih::vault

// The credential vault: a key ring (master keys, the API-key pepper, the admin token) loaded from a key file
// or the IHOST_VAULT_KEYS environment variable, and AES-256-GCM envelope encryption bound to the row it
// protects. No database code here: callers store Sealed values and walk rows for rotation themselves.
//
// Key ring text (the file and IHOST_VAULT_KEYS hold the same TOML; the file must be mode 0600):
//   pepper = "<base64 32 bytes>"   # keyed hash for API keys; never rotates
//   admin_token = "iha_…"          # optional: the admin API token
//   [[keys]]                       # one or more; the LAST entry is the newest and encrypts new writes
//   id = "k1"                      # unique; [A-Za-z0-9_-]
//   created_at = 1763900000        # unix seconds
//   material = "<base64 32 bytes>"
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "vault/secure_string.h"

namespace ih::vault {

// Name of the environment variable whose value, when non-empty, replaces the key file.
inline constexpr std::string_view kKeysEnvVar = "IHOST_VAULT_KEYS";

// Master keys, pepper and admin token, immutable once built. Move-only (it holds secrets); const methods are
// thread-safe. Obtain one with loadKeyRing() or KeyRing::generate().
class KeyRing {
 public:
  // A fresh ring in memory: one key "k1", a random pepper and admin token. Fails only if the CSPRNG fails.
  static Result<KeyRing> generate();

  KeyRing(KeyRing&&) noexcept = default;
  KeyRing& operator=(KeyRing&&) noexcept = default;
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;
  KeyRing clone() const;

  // Id of the key new writes use (the last [[keys]] entry).
  const std::string& newestKeyId() const;
  bool hasKey(std::string_view key_id) const;
  // All ids, oldest (first in the file) to newest.
  std::vector<std::string> keyIds() const;

  // HMAC-SHA256(pepper, data) as 32 raw bytes: the stored form of API keys. Stable across key rotation.
  std::string pepperHash(std::string_view data) const;
  // Constant-time comparison with the admin token (HMACs are compared, so lengths do not leak either).
  // Always false when the ring has no admin token.
  bool adminTokenMatches(std::string_view candidate) const;
  bool hasAdminToken() const { return !admin_token_.empty(); }
  // The admin token itself, e.g. for `ihost vault init` to print once. Empty when there is none.
  const SecureString& adminToken() const { return admin_token_; }
  // True when both rings hold the same pepper (a reloaded ring must not change it).
  bool samePepper(const KeyRing& other) const;

 private:
  friend class Vault;
  friend class KeyRingCodec;
  struct Key {
    std::string id;
    int64_t created_at = 0;
    SecureString material;  // 32 bytes
  };
  KeyRing() = default;
  const Key* find(std::string_view key_id) const;

  std::vector<Key> keys_;  // file order; back() is the newest
  SecureString pepper_;    // 32 bytes
  SecureString admin_token_;
  std::string admin_token_mac_;  // HMAC(compare_key_, admin_token_), for adminTokenMatches
  SecureString compare_key_;     // random per ring, only for constant-time comparisons
};

// Loads the ring from `env_value` (the value of IHOST_VAULT_KEYS) when it is non-empty, else from `key_file`.
// Never falls back to anything else. Errors name the source, the entry and the fix, never a secret:
// kFailedPrecondition when neither exists, kPermissionDenied when the file is readable by group/others or
// cannot be read, kInvalidArgument when the text is malformed. Thread-safe (reads only).
Result<KeyRing> loadKeyRing(const std::string& key_file, std::string_view env_value);

// Creates a new key file at `path` (mode 0600, parent directories created) holding a generated ring, and
// returns its admin token so the CLI can print it once. Refuses to overwrite an existing file
// (kAlreadyExists); on a write failure the partial file is removed.
Result<SecureString> initKeyFile(const std::string& path);

// Appends a new key (id "k<max numeric id + 1>", created now) to the key file, which becomes the newest, and
// returns its id. The file is rewritten atomically (0600 temp file + fsync + rename); operator comments in it
// are replaced by the standard header. Not safe against two concurrent writers of the same file.
Result<std::string> addKeyToFile(const std::string& path);
// Removes key `key_id` from the key file (same atomic rewrite). kNotFound if absent; kFailedPrecondition for
// the newest key. Ciphertexts still sealed with the removed key can no longer be opened: reseal them first.
Status removeKeyFromFile(const std::string& path, std::string_view key_id);

// What a credential is bound to. Every field goes into the AAD, so a ciphertext copied to another tenant,
// integration or purpose fails to open.
struct Aad {
  std::string_view tenant_id;
  std::string_view integration_id;
  std::string_view purpose;  // e.g. "api_key", "oauth_tokens"
};

// A stored credential. Bytes are raw (binary); callers store them as BLOBs or base64.
struct Sealed {
  std::string key_id;      // which ring key encrypted it (also bound into the AAD)
  std::string nonce;       // 12 random bytes
  std::string ciphertext;  // ciphertext || 16-byte GCM tag
};

// AES-256-GCM with a random 96-bit nonce per seal; AAD = length-prefixed tenant | integration | purpose | key
// id. Thread-safe: the ring is swapped atomically on reload and every call works on a snapshot.
class Vault {
 public:
  // Returns a fresh ring (typically loadKeyRing with the configured file/env) or why it could not.
  using ReloadFn = std::function<Result<KeyRing>()>;

  // `reload` (optional) is called when a ciphertext names a key id the ring does not hold (the CLI may have
  // rotated while the server runs): once per such call, then the call fails. It may run on any calling
  // thread.
  explicit Vault(KeyRing ring, ReloadFn reload = {});
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  // Encrypts with the newest key. Fails only on an oversized plaintext (> 16 MiB) or an OpenSSL failure.
  Result<Sealed> seal(std::string_view plaintext, const Aad& aad);
  // Decrypts. Wrong key, tampered bytes or a different Aad → kInternal "credential for tenant … could not be
  // decrypted (wrong key or tampered data)"; an unknown key id (after one reload) → kFailedPrecondition
  // naming it. Messages never contain secret bytes.
  Result<SecureString> open(const Sealed& sealed, const Aad& aad);
  // open() with its own key, then seal() with the newest key (rotation). Same failures as open().
  Result<Sealed> reseal(const Sealed& sealed, const Aad& aad);

  // Replaces the ring with reload()'s result now (e.g. before a rotation pass). Keeps the current ring and
  // returns the error if there is no reload function, it fails, or the new ring has a different pepper.
  Status reload();
  // The current ring (snapshot; stays valid while held), e.g. for pepperHash and adminTokenMatches.
  std::shared_ptr<const KeyRing> keyRing() const;
  std::string newestKeyId() const;

  struct Stats {
    uint64_t seals = 0;     // successful seal() calls (reseal counted separately)
    uint64_t opens = 0;     // successful open() calls
    uint64_t reseals = 0;   // successful reseal() calls
    uint64_t failures = 0;  // failed seal/open/reseal calls
    uint64_t reloads = 0;   // successful ring reloads
  };
  Stats stats() const;

 private:
  std::shared_ptr<const KeyRing> snapshot() const;
  // REQUIRES: reload_mutex_ held and reload_ set.
  Status reloadLocked();
  // Snapshot of a ring that holds `key_id`, reloading once if needed; error when it still does not.
  Result<std::shared_ptr<const KeyRing>> ringWithKey(std::string_view key_id);
  Result<Sealed> sealWith(const KeyRing& ring, std::string_view plaintext, const Aad& aad);
  Result<SecureString> openWith(const KeyRing& ring, const Sealed& sealed, const Aad& aad);

  const ReloadFn reload_;
  mutable std::mutex ring_mutex_;
  std::shared_ptr<const KeyRing> ring_;  // GUARDED_BY(ring_mutex_)
  std::mutex reload_mutex_;              // serializes reloads so concurrent misses reload once
  std::atomic<uint64_t> seals_{0};
  std::atomic<uint64_t> opens_{0};
  std::atomic<uint64_t> reseals_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> reloads_{0};
};

}  // namespace ih::vault

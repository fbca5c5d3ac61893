// Key ring files, loading rules and AES-256-GCM sealing, against real files in a temp directory.
#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"
#include "vault/vault.h"

using ih::StatusCode;
using ih::test::TempDir;
using ih::vault::Aad;
using ih::vault::KeyRing;
using ih::vault::Sealed;
using ih::vault::Vault;

namespace {

const Aad kAad{"tenant_a", "stripe_byok", "api_key"};
constexpr std::string_view kSecret = "sk_live_51HxYzSecretValue0123456789";

unsigned fileMode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

KeyRing mustLoad(const std::string& path) {
  auto ring = ih::vault::loadKeyRing(path, {});
  INFO(ring.status().message());
  REQUIRE(ring.isOk());
  return std::move(ring).value();
}

// A key file in `dir` created by initKeyFile.
std::string newKeyFile(const TempDir& dir, const std::string& name = "vault/keys.toml") {
  std::string path = dir.file(name);
  auto token = ih::vault::initKeyFile(path);
  INFO(token.status().message());
  REQUIRE(token.isOk());
  return path;
}

// A key ring file with the given body, mode 0600.
std::string writeRing(const TempDir& dir, const std::string& text) {
  std::string path = dir.file("ring.toml");
  ih::test::writeFile(path, text);
  ::chmod(path.c_str(), 0600);
  return path;
}

const std::string k32 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // 32 bytes
const std::string k16 = "AAECAwQFBgcICQoLDA0ODw==";                      // 16 bytes

std::string ringText(const std::string& keys_part) {
  return "pepper = \"" + k32 + "\"\nadmin_token = \"iha_0123456789abcdefghijKLMN\"\n" + keys_part;
}

std::string keyEntry(const std::string& id, const std::string& material) {
  return "[[keys]]\nid = \"" + id + "\"\ncreated_at = 1763900000\nmaterial = \"" + material + "\"\n";
}

}  // namespace

TEST_CASE("seal then open round trips, including empty and binary plaintexts", "[vault]") {
  TempDir dir;
  Vault vault(mustLoad(newKeyFile(dir)));
  for (std::string_view plain : {kSecret, std::string_view(""), std::string_view("\0\x01\xff tail", 8)}) {
    auto sealed = vault.seal(plain, kAad);
    REQUIRE(sealed.isOk());
    CHECK(sealed->key_id == "k1");
    CHECK(sealed->nonce.size() == 12);
    CHECK(sealed->ciphertext.size() == plain.size() + 16);
    if (!plain.empty()) CHECK(sealed->ciphertext.find(plain) == std::string::npos);
    auto opened = vault.open(*sealed, kAad);
    REQUIRE(opened.isOk());
    CHECK(opened->view() == plain);
  }
  auto stats = vault.stats();
  CHECK(stats.seals == 3);
  CHECK(stats.opens == 3);
  CHECK(stats.failures == 0);
}

TEST_CASE("two seals of one plaintext differ (random nonce)", "[vault]") {
  TempDir dir;
  Vault vault(mustLoad(newKeyFile(dir)));
  auto a = vault.seal(kSecret, kAad);
  auto b = vault.seal(kSecret, kAad);
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  CHECK(a->nonce != b->nonce);
  CHECK(a->ciphertext != b->ciphertext);
}

TEST_CASE("every tamper fails to open, with a message free of secrets", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  REQUIRE(ih::vault::addKeyToFile(path).isOk());  // k1 and k2, so relabelling to a known key can be tried
  Vault vault(mustLoad(path));
  auto sealed = vault.seal(kSecret, kAad);
  REQUIRE(sealed.isOk());
  REQUIRE(sealed->key_id == "k2");

  auto expectDecryptFailure = [&](const Sealed& s, const Aad& aad) {
    auto opened = vault.open(s, aad);
    REQUIRE_FALSE(opened.isOk());
    CHECK(opened.status().code() == StatusCode::kInternal);
    const std::string& msg = opened.status().message();
    CHECK(msg.find("could not be decrypted (wrong key or tampered data)") != std::string::npos);
    CHECK(msg.find("credential for tenant \"" + std::string(aad.tenant_id) + "\"") != std::string::npos);
    CHECK(msg.find(std::string(kSecret)) == std::string::npos);
  };

  SECTION("ciphertext byte flipped") {
    Sealed s = *sealed;
    s.ciphertext[0] ^= 0x01;
    expectDecryptFailure(s, kAad);
  }
  SECTION("tag byte flipped") {
    Sealed s = *sealed;
    s.ciphertext.back() ^= 0x80;
    expectDecryptFailure(s, kAad);
  }
  SECTION("nonce changed") {
    Sealed s = *sealed;
    s.nonce[5] ^= 0x01;
    expectDecryptFailure(s, kAad);
  }
  SECTION("nonce or ciphertext truncated") {
    Sealed s = *sealed;
    s.nonce.pop_back();
    expectDecryptFailure(s, kAad);
    Sealed t = *sealed;
    t.ciphertext.resize(10);
    expectDecryptFailure(t, kAad);
  }
  SECTION("each AAD field changed") {
    expectDecryptFailure(*sealed, Aad{"tenant_b", kAad.integration_id, kAad.purpose});
    expectDecryptFailure(*sealed, Aad{kAad.tenant_id, "stripe_connect", kAad.purpose});
    expectDecryptFailure(*sealed, Aad{kAad.tenant_id, kAad.integration_id, "oauth_tokens"});
    // Shifting bytes between fields does not collide (length-prefixed).
    expectDecryptFailure(*sealed, Aad{"tenant_as", "tripe_byok", kAad.purpose});
  }
  SECTION("key id relabelled to another known key") {
    Sealed s = *sealed;
    s.key_id = "k1";
    expectDecryptFailure(s, kAad);
  }
  SECTION("key id relabelled to an unknown key") {
    Sealed s = *sealed;
    s.key_id = "k9";
    auto opened = vault.open(s, kAad);
    REQUIRE_FALSE(opened.isOk());
    CHECK(
        opened.status().message() ==
        "unknown vault key id \"k9\": the key ring does not hold it. Restore the key file that contains it.");
  }
  CHECK(vault.stats().failures >= 1);
  // The untouched original still opens.
  auto ok = vault.open(*sealed, kAad);
  REQUIRE(ok.isOk());
  CHECK(ok->view() == kSecret);
}

TEST_CASE("a credential row moved to another tenant does not open", "[vault]") {
  TempDir dir;
  Vault vault(mustLoad(newKeyFile(dir)));
  auto a = vault.seal("secret of tenant a", Aad{"tenant_a", "stripe_byok", "api_key"});
  auto b = vault.seal("secret of tenant b", Aad{"tenant_b", "stripe_byok", "api_key"});
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  // Attacker copies tenant a's row over tenant b's.
  auto stolen = vault.open(*a, Aad{"tenant_b", "stripe_byok", "api_key"});
  REQUIRE_FALSE(stolen.isOk());
  CHECK(stolen.status().message().find("tenant \"tenant_b\"") != std::string::npos);
  CHECK(stolen.status().message().find("secret of") == std::string::npos);
  auto own = vault.open(*b, Aad{"tenant_b", "stripe_byok", "api_key"});
  REQUIRE(own.isOk());
  CHECK(own->view() == "secret of tenant b");
}

TEST_CASE("initKeyFile writes a 0600 ring and refuses to overwrite it", "[vault]") {
  TempDir dir;
  std::string path = dir.file("nested/dir/keys.toml");
  auto token = ih::vault::initKeyFile(path);
  REQUIRE(token.isOk());
  CHECK(token->view().substr(0, 4) == "iha_");
  CHECK(fileMode(path) == 0600);

  std::string text = ih::test::readFile(path);
  CHECK(text.rfind("# ihost vault key ring. Keep secret (mode 0600) and backed up", 0) == 0);
  CHECK(text.find("pepper = \"") != std::string::npos);
  CHECK(text.find("[[keys]]\nid = \"k1\"") != std::string::npos);

  KeyRing ring = mustLoad(path);
  CHECK(ring.keyIds() == std::vector<std::string>{"k1"});
  CHECK(ring.newestKeyId() == "k1");
  CHECK(ring.hasAdminToken());
  CHECK(ring.adminTokenMatches(token->view()));

  auto again = ih::vault::initKeyFile(path);
  REQUIRE_FALSE(again.isOk());
  CHECK(again.status().code() == StatusCode::kAlreadyExists);
  CHECK(again.status().message() ==
        "vault key file " + path +
            " already exists; refusing to overwrite it (it holds the keys to every "
            "stored credential).");
  CHECK(ih::test::readFile(path) == text);  // untouched
}

TEST_CASE("loading with neither file nor env names both and the fix", "[vault]") {
  TempDir dir;
  std::string path = dir.file("missing/keys.toml");
  auto ring = ih::vault::loadKeyRing(path, "");
  REQUIRE_FALSE(ring.isOk());
  CHECK(ring.status().code() == StatusCode::kFailedPrecondition);
  CHECK(ring.status().message() == "no vault key ring: neither vault.key_file (\"" + path +
                                       "\") exists nor IHOST_VAULT_KEYS is set. Run \"ihost vault init "
                                       "--config <file>\" to create one, or set "
                                       "IHOST_VAULT_KEYS.");
  auto no_path = ih::vault::loadKeyRing("", "");
  REQUIRE_FALSE(no_path.isOk());
  CHECK(no_path.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("a key file readable by group or others is refused with the chmod fix", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  for (mode_t mode : {0644, 0640, 0604, 0660, 0700}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    auto ring = ih::vault::loadKeyRing(path, "");
    REQUIRE_FALSE(ring.isOk());
    CHECK(ring.status().code() == StatusCode::kPermissionDenied);
    INFO(ring.status().message());
    CHECK(ring.status().message().find("chmod 600 \"" + path + "\"") != std::string::npos);
    CHECK(ring.status().message().find("must be 0600") != std::string::npos);
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);  // narrower is fine
  CHECK(ih::vault::loadKeyRing(path, "").isOk());
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  CHECK(ih::vault::loadKeyRing(path, "").isOk());
}

TEST_CASE("malformed key rings are refused naming the source, the entry and the fix", "[vault]") {
  TempDir dir;
  struct Case {
    std::string text;
    std::string expected;  // substring of the message
  };
  std::vector<Case> cases = {
      {ringText(keyEntry("k1", "not*base64")), "keys[0] (id \"k1\").material is not valid base64"},
      {ringText(keyEntry("k1", k16)), "keys[0] (id \"k1\").material decodes to 16 bytes; it must be 32"},
      {ringText(keyEntry("k1", k32) + keyEntry("k1", k32)), "keys[1] (id \"k1\"): the id is used twice"},
      {ringText(""), "holds no [[keys]] entry"},
      {"admin_token = \"iha_0123456789abcdefghijKLMN\"\n" + keyEntry("k1", k32), "pepper is missing"},
      {"pepper = \"" + k16 + "\"\n" + keyEntry("k1", k32), "pepper decodes to 16 bytes; it must be 32"},
      {ringText(keyEntry("k1", k32)) + "peper = \"x\"\n", "unknown entry \"peper\""},
      {"pepper = \"" + k32 + "\"\nadmin_token = \"short\"\n" + keyEntry("k1", k32), "admin_token must be"},
      {ringText("[[keys]]\nid = \"k1\"\nmaterial = \"" + k32 + "\"\n"),
       "keys[0] (id \"k1\").created_at is missing"},
      {ringText("[[keys]]\nid = \"k 1\"\ncreated_at = 1\nmaterial = \"" + k32 + "\"\n"),
       "keys[0].id is missing"},
      {"pepper = \"unterminated\n", "is not valid TOML (line 1"},
  };
  for (const Case& c : cases) {
    std::string path = writeRing(dir, c.text);
    auto ring = ih::vault::loadKeyRing(path, "");
    INFO("text:\n" << c.text);
    REQUIRE_FALSE(ring.isOk());
    const std::string& msg = ring.status().message();
    INFO("message: " << msg);
    CHECK(ring.status().code() == StatusCode::kInvalidArgument);
    CHECK(msg.rfind("vault key ring file \"" + path + "\": ", 0) == 0);
    CHECK(msg.find(c.expected) != std::string::npos);
    CHECK(msg.find(k32) == std::string::npos);  // never echoes key material

    auto from_env = ih::vault::loadKeyRing(path, c.text);
    REQUIRE_FALSE(from_env.isOk());
    CHECK(from_env.status().message().rfind("vault key ring IHOST_VAULT_KEYS: ", 0) == 0);
  }
  // The well-formed variant of the same text loads.
  auto good = ih::vault::loadKeyRing(writeRing(dir, ringText(keyEntry("k1", k32) + keyEntry("k2", k32))), "");
  REQUIRE(good.isOk());
  CHECK(good->keyIds() == std::vector<std::string>{"k1", "k2"});
  CHECK(good->newestKeyId() == "k2");
}

TEST_CASE("the env var form loads and wins over the file", "[vault]") {
  TempDir dir;
  std::string file_path = newKeyFile(dir, "file/keys.toml");
  std::string env_path = newKeyFile(dir, "env/keys.toml");
  REQUIRE(ih::vault::addKeyToFile(env_path).isOk());
  std::string env_text = ih::test::readFile(env_path);

  auto from_env = ih::vault::loadKeyRing(file_path, env_text);
  REQUIRE(from_env.isOk());
  CHECK(from_env->keyIds() == std::vector<std::string>{"k1", "k2"});
  CHECK(from_env->pepperHash("x") == mustLoad(env_path).pepperHash("x"));
  CHECK(from_env->pepperHash("x") != mustLoad(file_path).pepperHash("x"));

  // No file at all: env alone is enough.
  auto env_only = ih::vault::loadKeyRing(dir.file("nowhere.toml"), env_text);
  REQUIRE(env_only.isOk());

  // A sealed value from the file-based ring opens with the env-based ring of the same text.
  Vault by_file(mustLoad(env_path));
  Vault by_env(std::move(from_env).value());
  auto sealed = by_file.seal(kSecret, kAad);
  REQUIRE(sealed.isOk());
  auto opened = by_env.open(*sealed, kAad);
  REQUIRE(opened.isOk());
  CHECK(opened->view() == kSecret);
}

TEST_CASE("rotation: add key, reseal, remove the old key", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  Vault before(mustLoad(path));
  auto old_a = before.seal("credential a", kAad);
  auto old_b = before.seal("credential b", Aad{"tenant_b", "stripe_byok", "api_key"});
  REQUIRE(old_a.isOk());
  REQUIRE(old_b.isOk());
  CHECK(old_a->key_id == "k1");

  auto added = ih::vault::addKeyToFile(path);
  REQUIRE(added.isOk());
  CHECK(*added == "k2");
  CHECK(fileMode(path) == 0600);

  Vault vault(mustLoad(path));
  CHECK(vault.newestKeyId() == "k2");
  auto fresh = vault.seal("credential c", kAad);
  REQUIRE(fresh.isOk());
  CHECK(fresh->key_id == "k2");
  auto old_opened = vault.open(*old_a, kAad);
  REQUIRE(old_opened.isOk());
  CHECK(old_opened->view() == "credential a");

  auto resealed = vault.reseal(*old_a, kAad);
  REQUIRE(resealed.isOk());
  CHECK(resealed->key_id == "k2");
  CHECK(vault.stats().reseals == 1);
  // Reseal keeps the binding: it only opens under the same Aad.
  CHECK_FALSE(vault.open(*resealed, Aad{"tenant_b", "stripe_byok", "api_key"}).isOk());

  // The newest key cannot be removed; an unknown one is reported.
  auto refuse = ih::vault::removeKeyFromFile(path, "k2");
  CHECK(refuse.code() == StatusCode::kFailedPrecondition);
  CHECK(refuse.message().find("newest") != std::string::npos);
  CHECK(ih::vault::removeKeyFromFile(path, "k7").code() == StatusCode::kNotFound);

  REQUIRE(ih::vault::removeKeyFromFile(path, "k1").isOk());
  CHECK(fileMode(path) == 0600);
  Vault after(mustLoad(path));
  CHECK(mustLoad(path).keyIds() == std::vector<std::string>{"k2"});
  auto re_opened = after.open(*resealed, kAad);
  REQUIRE(re_opened.isOk());
  CHECK(re_opened->view() == "credential a");
  auto fresh_opened = after.open(*fresh, kAad);
  REQUIRE(fresh_opened.isOk());

  auto stale = after.open(*old_b, Aad{"tenant_b", "stripe_byok", "api_key"});
  REQUIRE_FALSE(stale.isOk());
  CHECK(stale.status().message() ==
        "unknown vault key id \"k1\": the key ring does not hold it. Restore the key file that contains it.");

  // Ids keep growing from the highest: never reuse k1.
  auto k3 = ih::vault::addKeyToFile(path);
  REQUIRE(k3.isOk());
  CHECK(*k3 == "k3");
}

TEST_CASE("addKeyToFile refuses a file it would not load", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto added = ih::vault::addKeyToFile(path);
  REQUIRE_FALSE(added.isOk());
  CHECK(added.status().code() == StatusCode::kPermissionDenied);
  CHECK(ih::vault::addKeyToFile(dir.file("absent.toml")).status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("the reload hook picks up a key added to the file after construction", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  std::atomic<int> reload_calls{0};
  Vault server(mustLoad(path), [&]() {
    ++reload_calls;
    return ih::vault::loadKeyRing(path, "");
  });
  Vault server_without_reload(mustLoad(path));

  // The CLI rotates while the server runs and a new credential is written with k2.
  REQUIRE(ih::vault::addKeyToFile(path).isOk());
  Vault cli(mustLoad(path));
  auto sealed = cli.seal(kSecret, kAad);
  REQUIRE(sealed.isOk());
  REQUIRE(sealed->key_id == "k2");

  auto opened = server.open(*sealed, kAad);
  REQUIRE(opened.isOk());
  CHECK(opened->view() == kSecret);
  CHECK(reload_calls == 1);
  CHECK(server.stats().reloads == 1);
  CHECK(server.newestKeyId() == "k2");  // new writes now use the new key too
  auto next = server.seal("x", kAad);
  REQUIRE(next.isOk());
  CHECK(next->key_id == "k2");

  // Known ids do not reload again; an id missing even after one reload fails.
  REQUIRE(server.open(*sealed, kAad).isOk());
  CHECK(reload_calls == 1);
  Sealed ghost = *sealed;
  ghost.key_id = "k7";
  auto missing = server.open(ghost, kAad);
  REQUIRE_FALSE(missing.isOk());
  CHECK(reload_calls == 2);
  CHECK(missing.status().message() ==
        "unknown vault key id \"k7\": the key ring does not hold it. Restore the key file that contains it.");

  auto no_reload = server_without_reload.open(*sealed, kAad);
  REQUIRE_FALSE(no_reload.isOk());
  CHECK(no_reload.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("a reload that changes the pepper or fails keeps the running ring", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  std::string other = newKeyFile(dir, "other/keys.toml");
  REQUIRE(ih::vault::addKeyToFile(other).isOk());
  std::string source = other;
  Vault vault(mustLoad(path), [&]() { return ih::vault::loadKeyRing(source, ""); });

  ih::Status refused = vault.reload();
  CHECK(refused.code() == StatusCode::kFailedPrecondition);
  CHECK(refused.message().find("different pepper") != std::string::npos);
  CHECK(vault.newestKeyId() == "k1");

  source = dir.file("gone.toml");
  CHECK_FALSE(vault.reload().isOk());
  CHECK(vault.newestKeyId() == "k1");
  CHECK(vault.stats().reloads == 0);

  Vault no_source(mustLoad(path));
  CHECK_FALSE(no_source.reload().isOk());
}

TEST_CASE("pepperHash is a stable 32-byte keyed hash across key rotation", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  std::string before = mustLoad(path).pepperHash("ihk_live_abc");
  CHECK(before.size() == 32);
  CHECK(before == mustLoad(path).pepperHash("ihk_live_abc"));
  CHECK(before != mustLoad(path).pepperHash("ihk_live_abd"));

  REQUIRE(ih::vault::addKeyToFile(path).isOk());
  REQUIRE(ih::vault::removeKeyFromFile(path, "k1").isOk());
  CHECK(mustLoad(path).pepperHash("ihk_live_abc") == before);

  // A different ring (different pepper) hashes differently: the pepper is the key.
  CHECK(mustLoad(newKeyFile(dir, "other.toml")).pepperHash("ihk_live_abc") != before);
}

TEST_CASE("adminTokenMatches accepts only the exact token", "[vault]") {
  TempDir dir;
  std::string path = dir.file("keys.toml");
  auto token = ih::vault::initKeyFile(path);
  REQUIRE(token.isOk());
  KeyRing ring = mustLoad(path);
  std::string t(token->view());
  CHECK(ring.adminTokenMatches(t));
  CHECK_FALSE(ring.adminTokenMatches(""));
  CHECK_FALSE(ring.adminTokenMatches("iha_"));
  CHECK_FALSE(ring.adminTokenMatches(t.substr(0, t.size() - 1)));
  CHECK_FALSE(ring.adminTokenMatches(t + "x"));
  std::string flipped = t;
  flipped.back() = flipped.back() == 'a' ? 'b' : 'a';
  CHECK_FALSE(ring.adminTokenMatches(flipped));
  CHECK(ring.clone().adminTokenMatches(t));

  // A ring without admin_token matches nothing.
  auto no_admin = ih::vault::loadKeyRing("", "pepper = \"" + k32 + "\"\n" + keyEntry("k1", k32));
  REQUIRE(no_admin.isOk());
  CHECK_FALSE(no_admin->hasAdminToken());
  CHECK_FALSE(no_admin->adminTokenMatches(""));
  CHECK_FALSE(no_admin->adminTokenMatches(t));
}

TEST_CASE("KeyRing::generate gives a usable in-memory ring", "[vault]") {
  auto ring = KeyRing::generate();
  REQUIRE(ring.isOk());
  CHECK(ring->newestKeyId() == "k1");
  CHECK(ring->adminTokenMatches(ring->adminToken().view()));
  Vault vault(std::move(ring).value());
  auto sealed = vault.seal("x", kAad);
  REQUIRE(sealed.isOk());
  CHECK(vault.open(*sealed, kAad).isOk());
}

TEST_CASE("the vault is usable from many threads at once", "[vault]") {
  TempDir dir;
  std::string path = newKeyFile(dir);
  Vault vault(mustLoad(path), [&]() { return ih::vault::loadKeyRing(path, ""); });
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string tenant = "tenant_" + std::to_string(t);
      for (int i = 0; i < 200; ++i) {
        std::string plain = tenant + "/" + std::to_string(i);
        Aad aad{tenant, "stripe_byok", "api_key"};
        auto sealed = vault.seal(plain, aad);
        auto opened =
            sealed.isOk() ? vault.open(*sealed, aad) : ih::Result<ih::vault::SecureString>(sealed.status());
        if (!opened.isOk() || opened->view() != plain) ++wrong;
      }
    });
  }
  // Meanwhile the ring is rotated and reloaded.
  REQUIRE(ih::vault::addKeyToFile(path).isOk());
  REQUIRE(vault.reload().isOk());
  for (auto& thread : threads)
    thread.join();
  CHECK(wrong == 0);
  CHECK(vault.stats().seals == 800);
  CHECK(vault.stats().opens == 800);
  CHECK(vault.newestKeyId() == "k2");
}

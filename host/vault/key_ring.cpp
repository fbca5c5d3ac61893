// KeyRing: parsing, validation, rendering and the key file operations (init, add, remove).
#include "vault/vault.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include "common/digest.h"
#include "common/private_files.h"

namespace ih::vault {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kPepperBytes = 32;
constexpr std::string_view kAdminTokenPrefix = "iha_";
constexpr size_t kAdminTokenMinRandomChars = 20;

constexpr std::string_view kFileHeader =
    "# ihost vault key ring. Keep secret (mode 0600) and backed up: without it nothing stored can be "
    "decrypted.\n"
    "# The last [[keys]] entry is the newest: new credentials are encrypted with it. Add one with\n"
    "# \"ihost vault rotate\"; remove an old one only after every credential was re-encrypted.\n";

std::string errnoText(int err) {
  return std::strerror(err);
}

std::string modeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool isValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool isValidAdminToken(std::string_view token) {
  if (token.size() < kAdminTokenPrefix.size() + kAdminTokenMinRandomChars) return false;
  if (token.substr(0, kAdminTokenPrefix.size()) != kAdminTokenPrefix) return false;
  for (char c : token) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Numeric part of an id shaped "k<digits>", if any.
std::optional<uint64_t> numericKeyId(std::string_view id) {
  if (id.size() < 2 || id.size() > 19 || id[0] != 'k') return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), value);
  if (ec != std::errc() || end != id.data() + id.size()) return std::nullopt;
  return value;
}

// "k<n>". (Built with append: GCC 12 warns falsely on "k" + std::to_string(n).)
std::string keyIdFor(uint64_t n) {
  std::string id(1, 'k');
  id.append(std::to_string(n));
  return id;
}

// Overwrites every string value of a parsed document: toml++ keeps its own copies of the secrets.
void wipeStrings(toml::node& node) {
  if (auto* table = node.as_table()) {
    for (auto&& [key, child] : *table)
      wipeStrings(child);
  } else if (auto* array = node.as_array()) {
    for (auto& child : *array)
      wipeStrings(child);
  } else if (auto* text = node.as_string()) {
    wipe(text->get());
  }
}

// Closes a descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  // Closes now and reports whether close succeeded (it can surface delayed write errors).
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return fd < 0 || ::close(fd) == 0;
  }

 private:
  int fd_;
};

Status writeAll(int fd, std::string_view text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::internal("cannot write vault key file \"" + path + "\": " + errnoText(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return Status::internal("cannot flush vault key file \"" + path + "\" to disk: " + errnoText(errno));
  }
  return Status::ok();
}

void syncDirectoryOf(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself already happened
  ::fsync(fd);
  ::close(fd);
}

// Why reading the key file did not give text: it does not exist, or another error (already worded).
struct ReadOutcome {
  bool missing = false;
  Status status;
  std::string text;
};

ReadOutcome readKeyFile(const std::string& path) {
  ReadOutcome outcome;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      outcome.missing = true;
      return outcome;
    }
    outcome.status =
        Status(StatusCode::kPermissionDenied,
               "cannot read vault key file \"" + path + "\": " + errnoText(err) +
                   ". It must be owned and readable by the user running ihost: chown that user and run "
                   "\"chmod 600 " +
                   path + "\".");
    return outcome;
  }
  FdCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    outcome.status = Status(StatusCode::kPermissionDenied,
                            "cannot inspect vault key file \"" + path + "\": " + errnoText(errno) + ".");
    return outcome;
  }
  if (!S_ISREG(st.st_mode)) {
    outcome.status = Status::invalidArgument(
        "vault key file \"" + path + "\" is not a regular file. Point vault.key_file at the key ring file.");
    return outcome;
  }
  if ((st.st_mode & 0777 & ~static_cast<mode_t>(0600)) != 0) {
    outcome.status =
        Status(StatusCode::kPermissionDenied,
               "vault key file \"" + path + "\" has mode " + modeText(st.st_mode & 0777) +
                   "; it must be 0600 (owner read/write only) because it holds the keys to every "
                   "stored credential. Fix: chmod 600 \"" +
                   path + "\"");
    return outcome;
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      OPENSSL_cleanse(buf, sizeof(buf));
      wipe(text);
      outcome.status = Status(StatusCode::kPermissionDenied,
                              "cannot read vault key file \"" + path + "\": " + errnoText(err) + ".");
      return outcome;
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > (1u << 20)) {
      OPENSSL_cleanse(buf, sizeof(buf));
      wipe(text);
      outcome.status =
          Status::invalidArgument("vault key file \"" + path +
                                  "\" is larger than 1 MiB; it is not a key ring. Check vault.key_file.");
      return outcome;
    }
    // Grow in place where possible; a reallocation would leave an unwiped copy, so reserve generously.
    if (text.capacity() < text.size() + static_cast<size_t>(n)) {
      std::string bigger;
      bigger.reserve(2 * (text.size() + static_cast<size_t>(n)) + 4096);
      bigger.append(text);
      wipe(text);
      text.swap(bigger);
    }
    text.append(buf, static_cast<size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  outcome.text = std::move(text);
  return outcome;
}

}  // namespace

// Builds, parses and renders rings; a friend of KeyRing so the secrets stay private everywhere else.
class KeyRingCodec {
 public:
  static Status finalize(KeyRing& ring) {
    Result<SecureString> compare_key = randomBytes(32);
    if (!compare_key.isOk()) return compare_key.status();
    ring.compare_key_ = std::move(compare_key).value();
    ring.admin_token_mac_.clear();
    if (!ring.admin_token_.empty()) {
      ring.admin_token_mac_ = hmacSha256(ring.compare_key_.view(), ring.admin_token_.view());
    }
    return Status::ok();
  }

  static Result<KeyRing> generate() {
    KeyRing ring;
    Result<SecureString> pepper = randomBytes(kPepperBytes);
    if (!pepper.isOk()) return pepper.status();
    ring.pepper_ = std::move(pepper).value();
    Result<SecureString> token = randomToken(kAdminTokenPrefix, 32);
    if (!token.isOk()) return token.status();
    ring.admin_token_ = std::move(token).value();
    Status added = addNewKey(ring);
    if (!added.isOk()) return added;
    Status done = finalize(ring);
    if (!done.isOk()) return done;
    return ring;
  }

  static KeyRing clone(const KeyRing& from) {
    KeyRing ring;
    for (const KeyRing::Key& key : from.keys_)
      ring.keys_.push_back({key.id, key.created_at, key.material.clone()});
    ring.pepper_ = from.pepper_.clone();
    ring.admin_token_ = from.admin_token_.clone();
    ring.admin_token_mac_ = from.admin_token_mac_;
    ring.compare_key_ = from.compare_key_.clone();
    return ring;
  }

  // Appends a fresh newest key "k<max + 1>"; returns its id through ring.newestKeyId().
  static Status addNewKey(KeyRing& ring) {
    uint64_t max_id = 0;
    for (const KeyRing::Key& key : ring.keys_) {
      if (std::optional<uint64_t> n = numericKeyId(key.id)) max_id = std::max(max_id, *n);
    }
    std::string id = keyIdFor(max_id + 1);
    while (ring.hasKey(id))
      id = keyIdFor(++max_id + 1);
    Result<SecureString> material = randomBytes(kKeyBytes);
    if (!material.isOk()) return material.status();
    ring.keys_.push_back({id, static_cast<int64_t>(std::time(nullptr)), std::move(material).value()});
    return Status::ok();
  }

  static Status removeKey(KeyRing& ring, std::string_view key_id) {
    for (auto it = ring.keys_.begin(); it != ring.keys_.end(); ++it) {
      if (it->id == key_id) {
        ring.keys_.erase(it);
        return Status::ok();
      }
    }
    return Status::notFound("no key \"" + std::string(key_id) + "\"");
  }

  // The file text. As secret as the ring: callers wipe() it after use.
  static std::string render(const KeyRing& ring) {
    std::string out;
    out.reserve(4096 + ring.keys_.size() * 160);
    out.append(kFileHeader);
    out.append("pepper = \"")
        .append(base64Encode(ring.pepper_.view()).view())
        .append("\"  # keyed hash for API keys; never rotates\n");
    if (!ring.admin_token_.empty()) {
      out.append("admin_token = \"").append(ring.admin_token_.view()).append("\"  # admin API token\n");
    }
    for (const KeyRing::Key& key : ring.keys_) {
      out.append("\n[[keys]]\nid = \"").append(key.id).append("\"\ncreated_at = ");
      out.append(std::to_string(key.created_at)).append("\nmaterial = \"");
      out.append(base64Encode(key.material.view()).view()).append("\"\n");
    }
    return out;
  }

  static Result<KeyRing> parse(std::string_view text, const std::string& source) {
    auto fail = [&source](const std::string& problem, std::string_view fix) {
      return Status::invalidArgument("vault key ring " + source + ": " + problem + ". " + std::string(fix));
    };
    constexpr std::string_view kRestore = "Restore it from your backup of the key ring.";
    toml::table doc;
    try {
      doc = toml::parse(text);
    } catch (const toml::parse_error& e) {
      return fail("is not valid TOML (line " + std::to_string(e.source().begin.line) + ", column " +
                      std::to_string(e.source().begin.column) + ": " + std::string(e.description()) + ")",
                  "Fix the syntax or restore it from your backup of the key ring.");
    }
    Result<KeyRing> ring = parseDocument(doc, fail, kRestore);
    wipeStrings(doc);
    return ring;
  }

 private:
  template <class Fail>
  static Result<KeyRing> parseDocument(const toml::table& doc, const Fail& fail, std::string_view restore) {
    KeyRing ring;
    for (auto&& [key, node] : doc) {
      if (key != "pepper" && key != "admin_token" && key != "keys") {
        return fail("has an unknown entry \"" + std::string(key.str()) +
                        "\" (expected pepper, admin_token, [[keys]])",
                    "Remove or rename it.");
      }
    }

    const toml::node* pepper_node = doc.get("pepper");
    if (pepper_node == nullptr) {
      return fail(
          "pepper is missing",
          "Restore it from your backup of the key ring: API keys are hashed with it and a new one would "
          "invalidate all of them.");
    }
    const auto* pepper_text = pepper_node->as_string();
    if (pepper_text == nullptr) return fail("pepper must be a string (base64 of 32 bytes)", restore);
    Result<SecureString> pepper = base64Decode(pepper_text->get());
    if (!pepper.isOk())
      return fail("pepper is not valid base64 (" + pepper.status().message() + ")", restore);
    if (pepper->size() != kPepperBytes) {
      return fail("pepper decodes to " + std::to_string(pepper->size()) + " bytes; it must be 32", restore);
    }
    ring.pepper_ = std::move(pepper).value();

    if (const toml::node* token_node = doc.get("admin_token")) {
      const auto* token = token_node->as_string();
      if (token == nullptr || !isValidAdminToken(token->get())) {
        return fail("admin_token must be \"iha_\" followed by at least 20 letters, digits or '_'",
                    "Remove the line to disable the admin API, or restore it from your backup.");
      }
      ring.admin_token_ = SecureString(std::string_view(token->get()));
    }

    const toml::node* keys_node = doc.get("keys");
    const toml::array* keys = keys_node != nullptr ? keys_node->as_array() : nullptr;
    if (keys_node != nullptr && (keys == nullptr || !keys->is_array_of_tables())) {
      return fail("keys must be written as [[keys]] tables", restore);
    }
    if (keys == nullptr || keys->empty()) {
      return fail("holds no [[keys]] entry, so nothing stored can be decrypted",
                  "Restore the key ring from your backup; for a new installation create one with "
                  "\"ihost vault init --config <file>\".");
    }
    for (size_t i = 0; i < keys->size(); ++i) {
      const toml::table& entry = *keys->get(i)->as_table();
      std::string where = "keys[" + std::to_string(i) + "]";
      for (auto&& [key, node] : entry) {
        if (key != "id" && key != "created_at" && key != "material") {
          return fail(where + " has an unknown entry \"" + std::string(key.str()) +
                          "\" (expected id, created_at, material)",
                      "Remove or rename it.");
        }
      }
      KeyRing::Key parsed;
      const auto* id = entry.get_as<std::string>("id");
      if (id == nullptr || !isValidKeyId(id->get())) {
        return fail(where + ".id is missing or invalid (1-64 letters, digits, '_' or '-')", restore);
      }
      parsed.id = id->get();
      where += " (id \"" + parsed.id + "\")";
      if (ring.hasKey(parsed.id)) {
        return fail(where + ": the id is used twice; every key id must be unique",
                    "Restore the key ring from your backup (two keys under one id cannot both be used).");
      }
      const auto* created_at = entry.get_as<int64_t>("created_at");
      if (created_at == nullptr || created_at->get() < 0) {
        return fail(where + ".created_at is missing or not a non-negative integer (unix seconds)",
                    "Set it to the time the key was created, e.g. the output of `date +%s`.");
      }
      parsed.created_at = created_at->get();
      const auto* material_text = entry.get_as<std::string>("material");
      if (material_text == nullptr) return fail(where + ".material is missing (base64 of 32 bytes)", restore);
      Result<SecureString> material = base64Decode(material_text->get());
      if (!material.isOk()) {
        return fail(where + ".material is not valid base64 (" + material.status().message() + ")", restore);
      }
      if (material->size() != kKeyBytes) {
        return fail(
            where + ".material decodes to " + std::to_string(material->size()) + " bytes; it must be 32",
            restore);
      }
      parsed.material = std::move(material).value();
      ring.keys_.push_back(std::move(parsed));
    }
    Status done = finalize(ring);
    if (!done.isOk()) return done;
    return ring;
  }
};

Result<KeyRing> KeyRing::generate() {
  return KeyRingCodec::generate();
}

KeyRing KeyRing::clone() const {
  return KeyRingCodec::clone(*this);
}

const KeyRing::Key* KeyRing::find(std::string_view key_id) const {
  for (const Key& key : keys_) {
    if (key.id == key_id) return &key;
  }
  return nullptr;
}

const std::string& KeyRing::newestKeyId() const {
  static const std::string kNone;
  return keys_.empty() ? kNone : keys_.back().id;
}

bool KeyRing::hasKey(std::string_view key_id) const {
  return find(key_id) != nullptr;
}

std::vector<std::string> KeyRing::keyIds() const {
  std::vector<std::string> ids;
  ids.reserve(keys_.size());
  for (const Key& key : keys_)
    ids.push_back(key.id);
  return ids;
}

std::string KeyRing::pepperHash(std::string_view data) const {
  return hmacSha256(pepper_.view(), data);
}

bool KeyRing::adminTokenMatches(std::string_view candidate) const {
  if (admin_token_.empty() || admin_token_mac_.size() != 32) return false;
  std::string mac = hmacSha256(compare_key_.view(), candidate);
  return mac.size() == admin_token_mac_.size() &&
         CRYPTO_memcmp(mac.data(), admin_token_mac_.data(), admin_token_mac_.size()) == 0;
}

bool KeyRing::samePepper(const KeyRing& other) const {
  return pepper_.size() == other.pepper_.size() &&
         CRYPTO_memcmp(pepper_.data(), other.pepper_.data(), pepper_.size()) == 0;
}

Result<KeyRing> loadKeyRing(const std::string& key_file, std::string_view env_value) {
  if (!env_value.empty()) return KeyRingCodec::parse(env_value, std::string(kKeysEnvVar));
  ReadOutcome read;
  if (key_file.empty()) {
    read.missing = true;
  } else {
    read = readKeyFile(key_file);
  }
  if (read.missing) {
    return Status::failedPrecondition(
        "no vault key ring: neither vault.key_file (\"" + key_file +
        "\") exists nor IHOST_VAULT_KEYS is set. Run \"ihost vault init --config "
        "<file>\" to create one, or set IHOST_VAULT_KEYS.");
  }
  if (!read.status.isOk()) return read.status;
  Result<KeyRing> ring = KeyRingCodec::parse(read.text, "file \"" + key_file + "\"");
  wipe(read.text);
  return ring;
}

namespace {

// Writes `text` to a new file at `path` with mode 0600; never replaces an existing file.
Status writeNewFile(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return Status::alreadyExists(
          "vault key file " + path +
          " already exists; refusing to overwrite it (it holds the keys to every stored "
          "credential).");
    }
    return Status(StatusCode::kPermissionDenied,
                  "cannot create vault key file \"" + path + "\": " + errnoText(err) + ".");
  }
  FdCloser closer(fd);
  Status written =
      ::fchmod(fd, 0600) == 0
          ? writeAll(fd, text, path)
          : Status::internal("cannot set mode 0600 on vault key file \"" + path + "\": " + errnoText(errno));
  if (written.isOk() && !closer.close()) {
    written = Status::internal("cannot write vault key file \"" + path + "\": " + errnoText(errno));
  }
  if (!written.isOk()) {
    ::unlink(path.c_str());
    return written;
  }
  syncDirectoryOf(path);
  return Status::ok();
}

// Replaces `path` with `text` atomically: a 0600 temp file beside it, fsync, rename, fsync the directory.
Status rewriteFile(const std::string& path, std::string_view text) {
  std::string temp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(temp.data());  // creates the file with mode 0600
  if (fd < 0) {
    return Status(StatusCode::kPermissionDenied, "cannot create a temporary file beside vault key file \"" +
                                                     path + "\": " + errnoText(errno) +
                                                     ". The directory must be writable.");
  }
  FdCloser closer(fd);
  Status written = ::fchmod(fd, 0600) == 0
                       ? writeAll(fd, text, temp)
                       : Status::internal("cannot set mode 0600 on \"" + temp + "\": " + errnoText(errno));
  if (written.isOk() && !closer.close()) {
    written = Status::internal("cannot write \"" + temp + "\": " + errnoText(errno));
  }
  if (written.isOk() && ::rename(temp.c_str(), path.c_str()) != 0) {
    written = Status::internal("cannot replace vault key file \"" + path + "\": " + errnoText(errno) +
                               ". It is unchanged.");
  }
  if (!written.isOk()) {
    ::unlink(temp.c_str());
    return written;
  }
  syncDirectoryOf(path);
  return Status::ok();
}

Result<KeyRing> loadFileOnly(const std::string& path) {
  if (path.empty()) return Status::invalidArgument("no vault key file given (vault.key_file is empty)");
  return loadKeyRing(path, {});
}

}  // namespace

Result<SecureString> initKeyFile(const std::string& path) {
  if (path.empty()) return Status::invalidArgument("no vault key file given (vault.key_file is empty)");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (Status made = createPrivateDirectories(parent.string()); !made.isOk()) {  // 0700
    return Status(StatusCode::kPermissionDenied, made.message() + " (for the vault key file)");
  }
  Result<KeyRing> ring = KeyRing::generate();
  if (!ring.isOk()) return ring.status();
  std::string text = KeyRingCodec::render(*ring);
  Status written = writeNewFile(path, text);
  wipe(text);
  if (!written.isOk()) return written;
  return ring->adminToken().clone();
}

Result<std::string> addKeyToFile(const std::string& path) {
  Result<KeyRing> ring = loadFileOnly(path);
  if (!ring.isOk()) return ring.status();
  Status added = KeyRingCodec::addNewKey(*ring);
  if (!added.isOk()) return added;
  std::string text = KeyRingCodec::render(*ring);
  Status written = rewriteFile(path, text);
  wipe(text);
  if (!written.isOk()) return written;
  return ring->newestKeyId();
}

Status removeKeyFromFile(const std::string& path, std::string_view key_id) {
  Result<KeyRing> ring = loadFileOnly(path);
  if (!ring.isOk()) return ring.status();
  if (!ring->hasKey(key_id)) {
    return Status::notFound("vault key file \"" + path + "\" holds no key \"" + std::string(key_id) +
                            "\"; nothing was removed.");
  }
  if (ring->newestKeyId() == key_id) {
    return Status::failedPrecondition(
        "refusing to remove vault key \"" + std::string(key_id) +
        "\": it is the newest key and encrypts every new credential. Add a newer key "
        "first (\"ihost vault rotate\").");
  }
  Status removed = KeyRingCodec::removeKey(*ring, key_id);
  if (!removed.isOk()) return removed;
  std::string text = KeyRingCodec::render(*ring);
  Status written = rewriteFile(path, text);
  wipe(text);
  return written;
}

}  // namespace ih::vault

#include "tenancy/tenancy.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <chrono>

#include "common/clock.h"
#include "common/digest.h"
#include "common/text.h"
#include "log/log.h"
#include "vault/vault.h"

namespace ih::tenancy {
namespace {

constexpr std::string_view kKeyPrefix = "ihk_live_";
constexpr int64_t kTouchIntervalMs = 60'000;

bool isKnownScope(std::string_view s) {
  return s == kScopeAll || s == kScopeRead || s == kScopeWrite;
}

std::string joinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::vector<std::string> splitScopes(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i) out.emplace_back(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Extracts the token of "Bearer <token>", or explains what is wrong.
Result<std::string_view> bearerToken(std::string_view header) {
  if (header.empty()) {
    return Status(StatusCode::kUnauthenticated,
                  "missing Authorization header; send \"Authorization: Bearer <api key>\"");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), header.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      })) {
    return Status(StatusCode::kUnauthenticated, "Authorization header must be \"Bearer <api key>\"");
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\r'))
    token.remove_suffix(1);
  if (token.empty()) return Status(StatusCode::kUnauthenticated, "empty bearer token");
  return token;
}

bool constantTimeEqualsDigest(std::string_view a, std::string_view b) {
  const std::string da = sha256(a);
  const std::string db = sha256(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

Result<std::string> randomId(std::string_view prefix) {
  auto token = vault::randomToken(prefix, 12);
  if (!token.isOk()) return token.status();
  return std::string(token->view());
}

}  // namespace

bool Principal::hasScope(std::string_view scope) const {
  if (admin) return true;
  for (const auto& s : scopes) {
    if (s == kScopeAll || s == scope) return true;
    if (s == kScopeWrite && scope == kScopeRead) return true;  // write implies read
  }
  return false;
}

std::string Principal::actor() const {
  return admin ? "admin" : "api_key:" + key_id;
}

Tenancy::Tenancy(store::Store& store, vault::Vault& vault, std::string admin_token_env_value)
    : store_(store), vault_(vault), admin_token_env_(std::move(admin_token_env_value)) {}

std::string Tenancy::hashKey(std::string_view plaintext) const {
  return vault_.keyRing()->pepperHash(plaintext);
}

Result<CreatedTenant> Tenancy::createTenant(std::string_view name) {
  const auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  const bool valid = !name.empty() && name.size() <= 63 && lower_or_digit(name[0]) &&
                     std::all_of(name.begin(), name.end(),
                                 [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
  if (!valid) {
    return Status::invalidArgument(
        "tenant name \"" + toValidUtf8(name.substr(0, 100)) +
        "\" is invalid: use 1-63 characters of a-z, 0-9, '_' and '-', starting with a "
        "letter or digit");
  }
  auto id = randomId("ten_");
  if (!id.isOk()) return id.status();
  CreatedTenant out;
  out.tenant.id = *id;
  out.tenant.name = std::string(name);
  out.tenant.created_at = nowMs();
  if (Status s = store_.createTenant(out.tenant); !s.isOk()) return s;
  auto key = createKey(out.tenant.id);
  if (!key.isOk()) return key.status();
  out.first_key = std::move(*key);
  log::info("tenant created", {{"tenant", out.tenant.id}, {"name", out.tenant.name}});
  return out;
}

Result<CreatedKey> Tenancy::createKey(std::string_view tenant_id, std::vector<std::string> scopes) {
  if (scopes.empty()) scopes.emplace_back(kScopeAll);
  for (const auto& s : scopes) {
    if (!isKnownScope(s)) {
      return Status::invalidArgument("unknown scope \"" + s + "\"; use \"*\", \"read\" or \"write\"");
    }
  }
  if (auto t = store_.getTenant(tenant_id); !t.isOk()) return t.status();
  auto secret = vault::randomToken(kKeyPrefix, 32);
  if (!secret.isOk()) return secret.status();
  auto id = randomId("key_");
  if (!id.isOk()) return id.status();
  CreatedKey out;
  out.plaintext = std::string(secret->view());
  out.key.id = *id;
  out.key.tenant_id = std::string(tenant_id);
  out.key.display_prefix = out.plaintext.substr(0, kKeyPrefix.size() + 4) + "…";
  out.key.key_hash = hashKey(out.plaintext);
  out.key.scopes = joinScopes(scopes);
  out.key.created_at = nowMs();
  if (Status s = store_.insertApiKey(out.key); !s.isOk()) return s;
  return out;
}

Status Tenancy::revokeKey(std::string_view tenant_id, std::string_view key_id) {
  return store_.revokeApiKey(tenant_id, key_id, nowMs());
}

Result<store::Tenant> Tenancy::resolveTenant(std::string_view id_or_name) {
  auto byId = store_.getTenant(id_or_name);
  if (byId.isOk() || byId.status().code() != StatusCode::kNotFound) return byId;
  auto byName = store_.findTenantByName(id_or_name);
  if (byName.isOk()) return byName;
  if (byName.status().code() == StatusCode::kNotFound) {
    return Status::notFound("no tenant with id or name \"" + std::string(id_or_name) +
                            "\" (see: ihost tenants list)");
  }
  return byName.status();
}

Result<Principal> Tenancy::authenticate(std::string_view header) {
  auto token = bearerToken(header);
  if (!token.isOk()) return token.status();
  if (token->substr(0, 4) != "ihk_") {
    return Status(StatusCode::kUnauthenticated, "not an ihost API key (keys start with \"ihk_\")");
  }
  std::string hash = hashKey(*token);
  auto key = store_.findApiKeyByHash(hash);
  if (!key.isOk()) {
    if (key.status().code() == StatusCode::kNotFound) {
      return Status(StatusCode::kUnauthenticated, "unknown or revoked API key");
    }
    return key.status();
  }
  if (key->key_hash.size() != hash.size() ||
      CRYPTO_memcmp(key->key_hash.data(), hash.data(), hash.size()) != 0) {
    return Status(StatusCode::kUnauthenticated, "unknown or revoked API key");
  }
  Principal p;
  p.tenant_id = key->tenant_id;
  p.key_id = key->id;
  p.scopes = splitScopes(key->scopes);
  int64_t now = nowMs();
  bool touch = false;
  {
    std::lock_guard lock(touch_mu_);
    auto& last = last_touch_ms_[key->id];
    if (now - last >= kTouchIntervalMs) {
      last = now;
      touch = true;
    }
  }
  if (touch) store_.touchApiKey(key->id, now);
  return p;
}

bool Tenancy::adminConfigured() const {
  return !admin_token_env_.empty() || vault_.keyRing()->hasAdminToken();
}

Result<Principal> Tenancy::authenticateAdmin(std::string_view header) {
  auto token = bearerToken(header);
  if (!token.isOk()) return token.status();
  if (!adminConfigured()) {
    return Status(StatusCode::kUnauthenticated,
                  "no admin token is configured; set IHOST_ADMIN_TOKEN or run \"ihost vault init\"");
  }
  bool ok = vault_.keyRing()->adminTokenMatches(*token);
  if (!admin_token_env_.empty() && constantTimeEqualsDigest(*token, admin_token_env_)) ok = true;
  if (!ok) return Status(StatusCode::kUnauthenticated, "invalid admin token");
  Principal p;
  p.admin = true;
  p.scopes = {std::string(kScopeAll)};
  return p;
}

Status Tenancy::appendAudit(const store::AuditEntry& entry) {
  return store_.appendAudit(entry);
}

}  // namespace ih::tenancy

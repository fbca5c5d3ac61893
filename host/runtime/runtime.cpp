#include "runtime/runtime.h"

#include <openssl/crypto.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/json_parse.h"
#include "common/text.h"
#include "config/config.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "outbound/client.h"
#include "store/store.h"
#include "vault/vault.h"

// The host's definition of the opaque per-call context (declared, incomplete, in plugin_abi.h).
struct ih_call {
  ih::runtime::Dependencies* deps = nullptr;
  ih::runtime::Integration* integration = nullptr;
  std::string_view tenant_id;
  const char* handler = "create";  // the ABI handler being run (call_info)
  bool allow_credentials_put = false;
  const ih::runtime::PromptFn* prompt = nullptr;
  ih::runtime::CallResult* out = nullptr;
  std::string error_message;  // set_error
  // Distinguishes this invocation from earlier ones that reused the address (see LastError below).
  uint64_t serial = nextSerial();

  static uint64_t nextSerial() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
  }
};

// Host-owned buffer. Secret buffers are wiped when freed.
struct ih_buf {
  std::string data;
  bool secret = false;
};

namespace ih::runtime {
namespace {

using nlohmann::json;

constexpr std::string_view kCredentialsPurpose = "credentials";

std::string_view view(ih_str s) {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
ih_str toStr(std::string_view s) {
  return ih_str{s.data(), s.size()};
}

// The message of the last failed host service, per thread and per call (ih_host_api.last_error): a handler
// may use its ih_call from threads it starts (e.g. a commit overlapping the next fetch), so the message
// cannot live in ih_call, where two threads would overwrite it.
struct LastError {
  uint64_t call_serial = 0;
  std::string message;
};
thread_local LastError t_last_error;

void setLastError(const ih_call* call, std::string message) {
  if (!call) return;
  t_last_error.call_serial = call->serial;
  t_last_error.message = std::move(message);
}

ih_status fail(ih_call* call, ih_status code, std::string message) {
  setLastError(call, std::move(message));
  return code;
}

ih_status abiCode(const Status& s) {
  int code = static_cast<int>(s.code());
  return code <= static_cast<int>(StatusCode::kCancelled) ? code : IH_ERR_INTERNAL;
}

ih_buf* newBuf(std::string data, bool secret = false) {
  auto* b = new ih_buf;
  b->data = std::move(data);
  b->secret = secret;
  return b;
}

// ---- host services
// -------------------------------------------------------------------------------------------
// Everything a plugin hands the host is untrusted bytes: JSON goes through ih::parseJson (64 levels at most,
// no NUL, well-formed UTF-8), so what is accepted here can be parsed, dumped and forwarded later without
// surprises, and no service throws back into the plugin (tests/fuzz/plugin_result_fuzz.cpp).

bool isJson(std::string_view text) {
  return parseJson(text).isOk();
}

// RFC 9110 token characters: what a header name may hold.
bool isHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// A header value may not end the line or the header block early (response splitting).
bool isHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void hostLog(ih_call* call, int32_t level, ih_str message, ih_str fields_json) {
  log::Level l = level <= IH_LOG_DEBUG  ? log::Level::kDebug
                 : level == IH_LOG_INFO ? log::Level::kInfo
                 : level == IH_LOG_WARN ? log::Level::kWarn
                                        : log::Level::kError;
  std::string_view fields = view(fields_json);
  if (!fields.empty() && !isJson(fields)) fields = {};
  std::string integration = call && call->integration ? call->integration->id() : std::string();
  std::string plugin = call && call->integration ? call->integration->manifest().name : std::string();
  std::string tenant = call ? std::string(call->tenant_id) : std::string();
  log::write(l, view(message),
             {{"plugin", plugin},
              {"integration", integration},
              {"tenant", tenant},
              log::Field::json("fields", fields)});
}

ih_status hostHttpRequest(ih_call* call, ih_str request_json, ih_str body, ih_buf** response_json,
                          ih_buf** response_body) {
  if (!call || !response_json || !response_body) return IH_ERR_INVALID_ARGUMENT;
  *response_json = nullptr;
  *response_body = nullptr;
  auto parsed = parseJson(view(request_json));
  if (!parsed.isOk() || !parsed->is_object() || !parsed->contains("url") || !(*parsed)["url"].is_string()) {
    return fail(call, IH_ERR_INVALID_ARGUMENT,
                "http_request: request_json must be an object with a \"url\" string");
  }
  const json& spec = *parsed;
  // Typed reads: json::value() throws when a member has another type, which must not reach the plugin.
  std::string wrong;
  auto text = [&](const char* key, std::string fallback) {
    auto it = spec.find(key);
    if (it == spec.end() || it->is_null()) return fallback;
    if (!it->is_string()) {
      if (wrong.empty()) wrong = key;
      return fallback;
    }
    return it->get<std::string>();
  };
  auto integer = [&](const char* key, int fallback, int min, int max) {
    auto it = spec.find(key);
    if (it == spec.end() || it->is_null()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
      if (wrong.empty()) wrong = key;
      return fallback;
    }
    return static_cast<int>(it->get<int64_t>());
  };
  outbound::Request req;
  req.method = text("method", "GET");
  req.url = spec["url"].get<std::string>();
  req.timeout_ms = integer("timeout_ms", 30000, 1, 24 * 3600 * 1000);
  req.max_attempts = integer("max_attempts", 3, 1, 100);
  req.idempotency_key = text("idempotency_key", "");
  req.endpoint = text("endpoint", "");
  req.provider = call->integration->manifest().name;
  const std::string budget_key = text("budget_key", req.provider);
  if (!call->tenant_id.empty())  // rate budget per tenant and provider (a plugin may name a finer key + rate)
    req.budget_key = std::string(call->tenant_id) + "/" + budget_key;
  if (auto it = spec.find("rate_limit_per_s"); it != spec.end() && !it->is_null()) {
    if (it->is_number() && it->get<double>() >= 0) {
      req.rate_limit_per_s = it->get<double>();
    } else if (wrong.empty()) {
      wrong = "rate_limit_per_s";
    }
  }
  if (auto it = spec.find("headers"); it != spec.end() && it->is_object()) {
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) continue;
      if (!isHeaderName(k) || !isHeaderValue(v.get_ref<const std::string&>())) {
        if (wrong.empty()) wrong = "headers";
        continue;
      }
      req.headers.emplace_back(k, v.get<std::string>());
    }
  }
  if (!wrong.empty()) {
    return fail(call, IH_ERR_INVALID_ARGUMENT,
                "http_request: \"" + wrong + "\" has the wrong type or value (see plugin_abi.h)");
  }
  req.body = std::string(view(body));
  auto res = call->deps->outbound->send(std::move(req));
  if (!res.isOk()) return fail(call, abiCode(res.status()), res.status().message());
  json meta = {{"status", res->status}, {"attempts", res->attempts}, {"headers", json::object()}};
  for (const auto& [k, v] : res->headers)
    meta["headers"][k] = v;
  if (!res->idempotency_key.empty()) meta["idempotency_key"] = res->idempotency_key;
  *response_json = newBuf(dumpJson(meta));  // the provider's header bytes may be ill-formed UTF-8
  *response_body = newBuf(std::move(res->body));
  return IH_OK;
}

ih_status hostCredentialsGet(ih_call* call, ih_buf** out) {
  if (!call || !out) return IH_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "credentials_get: this call has no tenant");
  const std::string& integration = call->integration->id();
  auto row = call->deps->store->getSecret(call->tenant_id, integration, kCredentialsPurpose);
  if (!row.isOk()) {
    if (row.status().code() == StatusCode::kNotFound) return fail(call, IH_ERR_NOT_FOUND, "not connected");
    return fail(call, IH_ERR_INTERNAL, row.status().message());
  }
  vault::Sealed sealed{row->key_id, row->nonce, row->ciphertext};
  auto plain = call->deps->vault->open(sealed, {call->tenant_id, integration, kCredentialsPurpose});
  if (!plain.isOk()) return fail(call, IH_ERR_INTERNAL, plain.status().message());
  *out = newBuf(std::string(plain->view()), /*secret=*/true);
  return IH_OK;
}

ih_status hostCredentialsPut(ih_call* call, ih_str credentials_json) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->allow_credentials_put) {
    return fail(call, IH_ERR_PERMISSION_DENIED,
                "credentials_put is only allowed inside connect and oauth_complete");
  }
  if (!isJson(view(credentials_json))) {
    return fail(call, IH_ERR_INVALID_ARGUMENT, "credentials_put: credentials must be JSON");
  }
  call->out->credentials = vault::SecureString(view(credentials_json));
  return IH_OK;
}

ih_status hostStateGet(ih_call* call, ih_str key, ih_buf** out) {
  if (!call || !out) return IH_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  auto value = call->deps->store->getState(call->tenant_id, call->integration->id(), view(key));
  if (!value.isOk()) return fail(call, IH_ERR_INTERNAL, value.status().message());
  if (!value->has_value()) return fail(call, IH_ERR_NOT_FOUND, "no state under this key");
  *out = newBuf(std::move(**value));
  return IH_OK;
}

ih_status hostStatePut(ih_call* call, ih_str key, ih_str value) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (key.len == 0 || key.len > 200)
    return fail(call, IH_ERR_INVALID_ARGUMENT, "state key must be 1-200 bytes");
  Status s = call->deps->store->putState(call->tenant_id, call->integration->id(), view(key), view(value));
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostRecordsUpsert(ih_call* call, ih_str model, ih_str records_json) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->records) return fail(call, IH_ERR_UNSUPPORTED, "records store not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "records_upsert: this call has no tenant");
  Status s =
      call->deps->records->upsert(call->tenant_id, call->integration->id(), view(model), view(records_json));
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostRecordsDelete(ih_call* call, ih_str model, ih_str id, int64_t updated_at) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->records) return fail(call, IH_ERR_UNSUPPORTED, "records store not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "records_delete: this call has no tenant");
  Status s = call->deps->records->remove(call->tenant_id, call->integration->id(), view(model), view(id),
                                         updated_at);
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostEmitEvent(ih_call* call, ih_str type, ih_str data_json) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->events) return fail(call, IH_ERR_UNSUPPORTED, "event stream not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event: this call has no tenant");
  if (type.len == 0) return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event: empty type");
  auto data = parseJson(view(data_json));
  if (!data.isOk() || !data->is_object())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event: data must be a JSON object");
  Status s = call->deps->events->emit(call->tenant_id, call->integration->id(), view(type), view(data_json));
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostRespond(ih_call* call, int32_t http_status, ih_str headers_json, ih_str body) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (http_status < 100 || http_status > 599) {
    call->out->refused_response = "respond: HTTP status must be 100-599";
    return fail(call, IH_ERR_INVALID_ARGUMENT, call->out->refused_response);
  }
  std::string_view headers = view(headers_json);
  if (!headers.empty()) {
    auto h = parseJson(headers);
    if (!h.isOk() || !h->is_object()) {
      call->out->refused_response = "respond: headers must be a JSON object";
      return fail(call, IH_ERR_INVALID_ARGUMENT, call->out->refused_response);
    }
    // They become HTTP response headers: a name must be a token, a value must not hold CR, LF or NUL.
    for (const auto& [name, value] : h->items()) {
      if (!isHeaderName(name) || (value.is_string() && !isHeaderValue(value.get_ref<const std::string&>()))) {
        call->out->refused_response =
            "respond: header " + toValidUtf8(name.substr(0, 64)) + " is not a valid HTTP header";
        return fail(call, IH_ERR_INVALID_ARGUMENT, call->out->refused_response);
      }
    }
  }
  call->out->responded = true;
  call->out->http_status = http_status;
  call->out->headers_json = std::string(headers);
  call->out->body = std::string(view(body));
  return IH_OK;
}

ih_status hostSetResult(ih_call* call, ih_str result_json) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!isJson(view(result_json))) return fail(call, IH_ERR_INVALID_ARGUMENT, "set_result: not valid JSON");
  call->out->result_json = std::string(view(result_json));
  return IH_OK;
}

void hostSetError(ih_call* call, ih_str message) {
  if (call) call->error_message = std::string(view(message));
}

ih_str hostLastError(ih_call* call) {
  if (!call || t_last_error.call_serial != call->serial) return ih_str{nullptr, 0};
  return toStr(t_last_error.message);
}

ih_str hostBufView(const ih_buf* buf) {
  return buf ? toStr(buf->data) : ih_str{nullptr, 0};
}

void hostBufFree(ih_buf* buf) {
  if (!buf) return;
  if (buf->secret && !buf->data.empty()) OPENSSL_cleanse(buf->data.data(), buf->data.size());
  delete buf;
}

ih_status hostRecordsCommit(ih_call* call, ih_str model, ih_str records_json, ih_str state_key,
                            ih_str state_value) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->records) return fail(call, IH_ERR_UNSUPPORTED, "records store not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "records_commit: this call has no tenant");
  const std::string& integration = call->integration->id();
  Status s = state_key.len == 0
                 ? call->deps->records->upsert(call->tenant_id, integration, view(model), view(records_json))
                 : call->deps->records->commit(call->tenant_id, integration, view(model), view(records_json),
                                               view(state_key), view(state_value));
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostPrompt(ih_call* call, ih_str prompt_json, ih_buf** answer) {
  if (!call || !answer) return IH_ERR_INVALID_ARGUMENT;
  *answer = nullptr;
  auto parsed = parseJson(view(prompt_json));
  json prompt = parsed.isOk() ? std::move(*parsed) : json();
  if (!prompt.is_object() || !prompt.contains("key") || !prompt["key"].is_string()) {
    return fail(call, IH_ERR_INVALID_ARGUMENT, "prompt: prompt_json must be an object with a \"key\" string");
  }
  if (call->prompt == nullptr || !*call->prompt) {
    return fail(call, IH_ERR_UNSUPPORTED,
                "nobody can answer prompt \"" + prompt["key"].get<std::string>() +
                    "\" (non-interactive run); pass it with --set " + prompt["key"].get<std::string>() +
                    "=…");
  }
  auto result = (*call->prompt)(view(prompt_json));
  if (!result.isOk()) return fail(call, abiCode(result.status()), result.status().message());
  const auto kind = prompt.find("kind");
  *answer = newBuf(std::move(*result), kind != prompt.end() && *kind == "secret");
  return IH_OK;
}

ih_status hostBindAccount(ih_call* call, ih_str account, int32_t bind) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->inbox) return fail(call, IH_ERR_UNSUPPORTED, "webhook inbox not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "bind_account: this call has no tenant");
  if (account.len == 0 || account.len > 255)
    return fail(call, IH_ERR_INVALID_ARGUMENT, "bind_account: bad account");
  Status s =
      call->deps->inbox->bindAccount(call->integration->id(), view(account), call->tenant_id, bind != 0);
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostInboxIngest(ih_call* call, ih_str meta_json, ih_str body) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->inbox) return fail(call, IH_ERR_UNSUPPORTED, "webhook inbox not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "inbox_ingest: this call has no tenant");
  auto duplicate =
      call->deps->inbox->ingest(call->integration->id(), call->tenant_id, view(meta_json), view(body));
  if (!duplicate.isOk()) return fail(call, abiCode(duplicate.status()), duplicate.status().message());
  setLastError(call, *duplicate ? "duplicate" : "");
  return IH_OK;
}

std::string secretPurpose(ih_str name) {
  return "secret:" + std::string(view(name));
}

ih_status hostSecretPut(ih_call* call, ih_str name, ih_str value) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "secret_put: this call has no tenant");
  if (name.len == 0 || name.len > 64)
    return fail(call, IH_ERR_INVALID_ARGUMENT, "secret name must be 1-64 bytes");
  const std::string& integration = call->integration->id();
  std::string purpose = secretPurpose(name);
  auto sealed = call->deps->vault->seal(view(value), {call->tenant_id, integration, purpose});
  if (!sealed.isOk()) return fail(call, IH_ERR_INTERNAL, sealed.status().message());
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  Status s = call->deps->store->putSecret({std::string(call->tenant_id), integration, purpose, sealed->key_id,
                                           sealed->nonce, sealed->ciphertext, now});
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostSecretGet(ih_call* call, ih_str name, ih_buf** out) {
  if (!call || !out) return IH_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "secret_get: this call has no tenant");
  const std::string& integration = call->integration->id();
  std::string purpose = secretPurpose(name);
  auto row = call->deps->store->getSecret(call->tenant_id, integration, purpose);
  if (!row.isOk()) {
    if (row.status().code() == StatusCode::kNotFound) return fail(call, IH_ERR_NOT_FOUND, "no such secret");
    return fail(call, IH_ERR_INTERNAL, row.status().message());
  }
  auto plain = call->deps->vault->open({row->key_id, row->nonce, row->ciphertext},
                                       {call->tenant_id, integration, purpose});
  if (!plain.isOk()) return fail(call, IH_ERR_INTERNAL, plain.status().message());
  *out = newBuf(std::string(plain->view()), /*secret=*/true);
  return IH_OK;
}

// ABI 1.2: the provider revoked access (a deauthorization webhook). One transaction: secrets wiped,
// connection inactive, audit; then the integration.disconnected event.
ih_status hostCredentialsDelete(ih_call* call, ih_str reason) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "credentials_delete: this call has no tenant");
  const std::string& integration = call->integration->id();
  auto conn = call->deps->store->getConnection(call->tenant_id, integration);
  if (!conn.isOk()) return fail(call, abiCode(conn.status()), conn.status().message());
  if (!*conn || (*conn)->status == store::ConnectionStatus::kInactive)
    return fail(call, IH_ERR_NOT_FOUND, "not connected");
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  json detail = {{"provider_revoked", true}, {"reason", redact(view(reason))}};
  store::AuditEntry audit{0,          std::string(call->tenant_id), integration,
                          "provider", "integration.disconnected",   detail.dump(),
                          now};
  Status s = call->deps->store->removeConnection(call->tenant_id, integration, audit);
  if (!s.isOk()) {
    if (s.code() == StatusCode::kNotFound) return fail(call, IH_ERR_NOT_FOUND, "not connected");
    return fail(call, abiCode(s), s.message());
  }
  log::info("integration disconnected by the provider",
            {{"tenant", call->tenant_id}, {"integration", integration}, {"reason", redact(view(reason))}});
  if (call->deps->events) {
    json data = {{"integration", integration}, {"reason", redact(view(reason))}, {"by", "provider"}};
    Status e =
        call->deps->events->emit(call->tenant_id, integration, "integration.disconnected", data.dump());
    if (!e.isOk()) log::warn("could not emit integration.disconnected", {{"error", e.message()}});
  }
  return IH_OK;
}

// ABI 1.2: who this call serves, from the host's own context.
ih_status hostCallInfo(ih_call* call, ih_buf** out) {
  if (!call || !out) return IH_ERR_INVALID_ARGUMENT;
  json info = {{"tenant", std::string(call->tenant_id)},
               {"integration", call->integration ? call->integration->id() : std::string()},
               {"handler", call->handler},
               {"public_url", call->deps->public_url}};
  *out = newBuf(info.dump());
  return IH_OK;
}

const ih_host_api kHostApi = {
    sizeof(ih_host_api), IH_ABI_MAJOR,       IH_ABI_MINOR,  hostLog,           hostHttpRequest,
    hostCredentialsGet,  hostCredentialsPut, hostStateGet,  hostStatePut,      hostRecordsUpsert,
    hostRecordsDelete,   hostEmitEvent,      hostRespond,   hostSetResult,     hostSetError,
    hostLastError,       hostBufView,        hostBufFree,   hostRecordsCommit, hostPrompt,
    hostBindAccount,     hostInboxIngest,    hostSecretPut, hostSecretGet,     hostCredentialsDelete,
    hostCallInfo,
};

}  // namespace

// ---- runtime
// ---------------------------------------------------------------------------------------------------

namespace {
// The ABI entry point behind a CallSpec::what, as the `handler` label of ihost_plugin_call_duration_seconds.
const char* handlerLabel(std::string_view what) {
  if (what == "route") return "handle_route";
  if (what == "webhook verification") return "verify_webhook";
  if (what == "webhook handling") return "handle_webhook";
  if (what == "jobs") return "run_job";
  if (what == "actions") return "run_action";
  if (what == "connect") return "connect";
  if (what == "connection test") return "test_connection";
  if (what == "disconnect") return "disconnect";
  if (what == "OAuth authorization") return "oauth_authorize";
  if (what == "OAuth completion") return "oauth_complete";
  return "other";
}
}  // namespace

struct Runtime::CallSpec {
  const char* what;     // "route", "connect", ... for messages
  uint64_t capability;  // required IH_CAP_* bit
  bool allow_credentials_put = false;
  std::function<ih_status(const ih_plugin_descriptor&, ih_plugin*, ih_call*)> invoke;
  const PromptFn* prompt = nullptr;
};

Integration::~Integration() = default;

Runtime::Runtime(Dependencies deps) : deps_(deps) {}

Runtime::~Runtime() {
  shutdown();
}

const ih_host_api* Runtime::hostApi() {
  return &kHostApi;
}

Status Runtime::addIntegration(const config::Config& config, const config::IntegrationConfig& cfg,
                               std::shared_ptr<plugins::Plugin> plugin) {
  auto settings = config::validateIntegration(config, cfg, plugin->manifest().config_schema_json);
  if (!settings.isOk()) {
    addUnavailable({cfg.id, cfg.plugin, settings.status().message()});
    return settings.status();
  }
  auto integration = std::unique_ptr<Integration>(new Integration());
  integration->id_ = cfg.id;
  integration->plugin_ = std::move(plugin);
  integration->settings_json_ = std::move(*settings);
  integration->enabled_ = cfg.enabled;

  CallResult out;
  ih_call call;
  call.deps = &deps_;
  call.integration = integration.get();
  call.out = &out;
  const auto& d = integration->plugin_->descriptor();
  ih_plugin* instance = nullptr;
  integration->plugin_->enterCall();
  ih_status rc =
      d.create(&kHostApi, &call, toStr(integration->id_), toStr(integration->settings_json_), &instance);
  integration->plugin_->leaveCall();
  if (rc != IH_OK || instance == nullptr) {
    std::string why =
        call.error_message.empty() ? "create failed with status " + std::to_string(rc) : call.error_message;
    addUnavailable({cfg.id, cfg.plugin, "plugin refused its settings: " + why});
    return Status(statusCodeFromAbi(rc == IH_OK ? IH_ERR_INTERNAL : rc),
                  "integration " + cfg.id + ": " + why);
  }
  integration->instance_ = instance;
  std::lock_guard lock(mu_);
  integrations_.push_back(std::move(integration));
  return Status::ok();
}

void Runtime::addUnavailable(UnavailableIntegration entry) {
  log::warn("integration unavailable",
            {{"integration", entry.id}, {"plugin", entry.plugin}, {"reason", entry.reason}});
  std::lock_guard lock(mu_);
  unavailable_.push_back(std::move(entry));
}

Integration* Runtime::find(std::string_view id) const {
  std::lock_guard lock(mu_);
  for (const auto& in : integrations_)
    if (in->id_ == id) return in.get();
  return nullptr;
}

std::vector<Integration*> Runtime::integrations() const {
  std::lock_guard lock(mu_);
  std::vector<Integration*> out;
  for (const auto& in : integrations_)
    out.push_back(in.get());
  return out;
}

std::vector<UnavailableIntegration> Runtime::unavailable() const {
  std::lock_guard lock(mu_);
  return unavailable_;
}

Result<bool> Runtime::lacksConnection(const Integration& in, std::string_view tenant_id) const {
  if (!(in.plugin().capabilities() & (IH_CAP_CONNECT | IH_CAP_OAUTH))) return false;
  auto conn = deps_.store->getConnection(tenant_id, in.id());
  if (!conn.isOk()) return conn.status();
  return !*conn || (*conn)->status == store::ConnectionStatus::kInactive;
}

CallResult Runtime::invoke(Integration& in, std::string_view tenant_id, const CallSpec& spec) {
  CallResult out;
  const auto& d = in.plugin_->descriptor();
  if (!(d.capabilities & spec.capability)) {
    out.status = Status(StatusCode::kUnsupported,
                        "plugin " + in.manifest().name + " does not support " + std::string(spec.what));
    return out;
  }
  in_flight_.fetch_add(1);
  if (!accepting_.load()) {
    in_flight_.fetch_sub(1);
    out.status = Status::unavailable("the host is shutting down");
    return out;
  }
  ih_call call;
  call.deps = &deps_;
  call.integration = &in;
  call.tenant_id = tenant_id;
  call.handler = handlerLabel(spec.what);
  call.allow_credentials_put = spec.allow_credentials_put;
  call.prompt = spec.prompt;
  call.out = &out;

  auto started = std::chrono::steady_clock::now();
  in.plugin_->enterCall();
  ih_status rc;
  if (in.plugin_->serialized()) {
    std::lock_guard lock(in.serialize_mu_);
    rc = spec.invoke(d, in.instance_, &call);
  } else {
    rc = spec.invoke(d, in.instance_, &call);
  }
  in.plugin_->leaveCall();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  in_flight_.fetch_sub(1);
  metrics::registry()
      .histogram("ihost_plugin_call_duration_seconds",
                 "Time spent inside a plugin call, by integration and handler.",
                 {{"integration", in.id()}, {"handler", handlerLabel(spec.what)}})
      .observe(out.seconds);

  if (rc != IH_OK) {
    std::string message = call.error_message.empty() ? "plugin " + in.manifest().name + " failed in " +
                                                           spec.what + " (status " + std::to_string(rc) + ")"
                                                     : redact(call.error_message);
    out.status = Status(statusCodeFromAbi(rc), std::move(message));
    out.credentials.clear();  // never keep credentials from a failed connect
  }
  return out;
}

CallResult Runtime::route(Integration& in, std::string_view tenant_id, std::string_view request_json,
                          std::string_view body) {
  return invoke(in, tenant_id,
                {"route", IH_CAP_ROUTES, false, [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
                   return d.handle_route(p, c, toStr(request_json), toStr(body));
                 }});
}

CallResult Runtime::verifyWebhook(Integration& in, std::string_view tenant_id, std::string_view request_json,
                                  std::string_view body) {
  return invoke(in, tenant_id,
                {"webhook verification", IH_CAP_WEBHOOKS, false,
                 [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
                   return d.verify_webhook(p, c, toStr(request_json), toStr(body));
                 }});
}

CallResult Runtime::handleWebhook(Integration& in, std::string_view tenant_id, std::string_view event_json,
                                  std::string_view body) {
  return invoke(in, tenant_id,
                {"webhook handling", IH_CAP_WEBHOOKS, false,
                 [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
                   return d.handle_webhook(p, c, toStr(event_json), toStr(body));
                 }});
}

CallResult Runtime::runJob(Integration& in, std::string_view tenant_id, std::string_view job,
                           std::string_view params_json) {
  return invoke(in, tenant_id,
                {"jobs", IH_CAP_JOBS, false, [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
                   return d.run_job(p, c, toStr(job), toStr(params_json));
                 }});
}

CallResult Runtime::runAction(Integration& in, std::string_view tenant_id, std::string_view action,
                              std::string_view input_json, const PromptFn* prompt) {
  return invoke(in, tenant_id,
                {"actions", IH_CAP_ACTIONS, false,
                 [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
                   return d.run_action(p, c, toStr(action), toStr(input_json));
                 },
                 prompt});
}

Result<store::Connection> Runtime::saveConnection(Integration& in, std::string_view tenant_id,
                                                  const CallResult& result, std::string_view actor,
                                                  std::string_view via) {
  const std::string tenant(tenant_id);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  json info =
      result.result_json.empty() ? json::object() : ih::parseJsonOrDiscarded(redact(result.result_json));
  if (!info.is_object()) info = json::object();
  std::vector<store::SecretRow> secrets;
  if (!result.credentials.empty()) {
    auto sealed = deps_.vault->seal(result.credentials.view(), {tenant, in.id(), kCredentialsPurpose});
    if (!sealed.isOk()) return sealed.status();
    secrets.push_back({tenant, in.id(), std::string(kCredentialsPurpose), sealed->key_id, sealed->nonce,
                       sealed->ciphertext, now});
  }
  store::Connection conn;
  conn.tenant_id = tenant;
  conn.integration_id = in.id();
  conn.status = store::ConnectionStatus::kActive;
  conn.info_json = info.dump();
  conn.connected_at = now;
  conn.updated_at = now;
  conn.last_check_at = now;
  conn.last_check_ok = true;
  json detail = {{"info", info}};
  if (!via.empty()) detail["via"] = std::string(via);
  store::AuditEntry audit{0,  tenant, in.id(), std::string(actor), "integration.connected", detail.dump(),
                          now};
  if (Status s = deps_.store->saveConnection(tenant, secrets, conn, audit); !s.isOk()) return s;
  if (deps_.events) {
    Status e = deps_.events->emit(tenant, in.id(), "integration.connected",
                                  json({{"integration", in.id()}, {"info", info}}).dump());
    if (!e.isOk()) log::warn("could not emit integration.connected", {{"error", e.message()}});
  }
  return conn;
}

CallResult Runtime::connect(Integration& in, std::string_view tenant_id, std::string_view input_json) {
  return invoke(
      in, tenant_id,
      {"connect", IH_CAP_CONNECT, true, [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
         return d.connect(p, c, toStr(input_json));
       }});
}

CallResult Runtime::testConnection(Integration& in, std::string_view tenant_id) {
  return invoke(
      in, tenant_id,
      {"connection test", IH_CAP_CONNECT, false,
       [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) { return d.test_connection(p, c); }});
}

CallResult Runtime::disconnect(Integration& in, std::string_view tenant_id) {
  return invoke(
      in, tenant_id,
      {"disconnect", IH_CAP_CONNECT, false,
       [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) { return d.disconnect(p, c); }});
}

CallResult Runtime::oauthAuthorize(Integration& in, std::string_view tenant_id,
                                   std::string_view params_json) {
  // The capability bit is checked in invoke(); the loader refused IH_CAP_OAUTH on pre-1.2 descriptors.
  return invoke(in, tenant_id,
                {"OAuth authorization", IH_CAP_OAUTH, false,
                 [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
                   return d.oauth_authorize(p, c, toStr(params_json));
                 }});
}

CallResult Runtime::oauthComplete(Integration& in, std::string_view tenant_id, std::string_view params_json) {
  return invoke(
      in, tenant_id,
      {"OAuth completion", IH_CAP_OAUTH, true, [&](const ih_plugin_descriptor& d, ih_plugin* p, ih_call* c) {
         return d.oauth_complete(p, c, toStr(params_json));
       }});
}

void Runtime::shutdown(std::chrono::milliseconds drain) {
  if (!accepting_.exchange(false)) return;
  auto deadline = std::chrono::steady_clock::now() + drain;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(mu_);
  if (in_flight_.load() > 0) {
    // Destroying an instance under a running call would crash the process; leak it instead and say so.
    log::error("plugin calls still running after the drain timeout; instances are left alive",
               {{"in_flight", in_flight_.load()}});
    for (auto& in : integrations_)
      in.release();
    integrations_.clear();
    return;
  }
  for (auto& in : integrations_) {
    if (in->instance_) in->plugin_->descriptor().destroy(in->instance_);
    in->instance_ = nullptr;
  }
  integrations_.clear();  // drops plugin references; libraries unload when the registry lets go too
}

}  // namespace ih::runtime

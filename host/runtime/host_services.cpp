// The host services handed to plugins (ih_host_api): everything a plugin can do, each resolved from the call's
// own context (tenant, integration), never from what the plugin passes.
#include <openssl/crypto.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/json_parse.h"
#include "common/plugin_answer.h"
#include "common/text.h"
#include "log/log.h"
#include "outbound/client.h"
#include "runtime/call_context.h"
#include "store/store.h"
#include "tenancy/connections.h"
#include "vault/vault.h"

// Host-owned buffer. Secret buffers are wiped when freed.
struct ih_buf {
  std::string data;
  bool secret = false;
};

namespace ih::runtime {
namespace {

using nlohmann::json;

std::string_view view(ih_str s) {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
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
  return code <= static_cast<int>(StatusCode::kDeadlineExceeded) ? code : IH_ERR_INTERNAL;
}

ih_buf* newBuf(std::string data, bool secret = false) {
  auto* b = new ih_buf;
  b->data = std::move(data);
  b->secret = secret;
  return b;
}

// Everything a plugin hands the host is untrusted bytes: JSON goes through ih::parseJson or ih::JsonScanner
// (64 levels at most, no NUL, well-formed UTF-8), so what is accepted here can be parsed, dumped and forwarded later without
// surprises, and no service throws back into the plugin (tests/fuzz/plugin_result_fuzz.cpp).

bool isJson(std::string_view text) {
  return parseJson(text).isOk();
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
      if (!isHttpHeaderName(k) || !isHttpHeaderValue(v.get_ref<const std::string&>())) {
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
  if (call->deadline != std::chrono::steady_clock::time_point{}) {
    if (std::chrono::steady_clock::now() >= call->deadline)
      return fail(call, IH_ERR_DEADLINE, "http_request: the call's deadline has passed");
    req.call_deadline = call->deadline;
  }
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
  if (!call->deps->connections)
    return fail(call, IH_ERR_UNSUPPORTED, "connections not available in this host");
  auto plain = call->deps->connections->credentials(call->tenant_id, call->integration->id());
  if (!plain.isOk()) {
    if (plain.status().code() == StatusCode::kNotFound) return fail(call, IH_ERR_NOT_FOUND, "not connected");
    return fail(call, IH_ERR_INTERNAL, plain.status().message());
  }
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

// The number of elements of a JSON array the records sink has accepted (so well-formed): its top-level
// commas, outside strings, plus one. One pass, no recursion, no allocation.
int64_t countElements(std::string_view array) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  bool any = false;
  int64_t commas = 0;
  for (char c : array) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    // Inside the outer array, anything but blanks and its closing bracket starts or continues an element.
    if (depth == 1 && c != ']' && c != ' ' && c != '\n' && c != '\r' && c != '\t') any = true;
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 1) {
      ++commas;
    }
  }
  return any ? commas + 1 : 0;
}

void countWrite(ih_call* call, std::string_view records_json) {
  call->counts->pages.fetch_add(1, std::memory_order_relaxed);
  call->counts->rows.fetch_add(countElements(records_json), std::memory_order_relaxed);
}

ih_status hostRecordsUpsert(ih_call* call, ih_str model, ih_str records_json) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->records) return fail(call, IH_ERR_UNSUPPORTED, "records store not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "records_upsert: this call has no tenant");
  Status s = call->deps->records->upsert(call->tenant_id, call->integration->id(), view(model),
                                         view(records_json), call->deferred);
  if (!s.isOk()) return fail(call, abiCode(s), s.message());
  countWrite(call, view(records_json));
  return IH_OK;
}

ih_status hostRecordsDelete(ih_call* call, ih_str model, ih_str id, int64_t updated_at) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->records) return fail(call, IH_ERR_UNSUPPORTED, "records store not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "records_delete: this call has no tenant");
  Status s = call->deps->records->remove(call->tenant_id, call->integration->id(), view(model), view(id),
                                         updated_at, call->deferred);
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostEmitEvent(ih_call* call, ih_str type, ih_str data_json) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->events) return fail(call, IH_ERR_UNSUPPORTED, "event stream not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event: this call has no tenant");
  if (type.len == 0) return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event: empty type");
  if (!checkJsonObject(view(data_json), "data").isOk())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event: data must be a JSON object");
  std::string dedupe_key;
  if (!call->event_scope.empty() && type.len <= 100) {  // longer: refused by the event stream
    int n = 0;
    {
      std::lock_guard lock(call->emitted_mu);
      auto it = std::find_if(call->emitted.begin(), call->emitted.end(),
                             [&](const auto& entry) { return entry.first == view(type); });
      if (it == call->emitted.end())
        it = call->emitted.insert(call->emitted.end(), {std::string(view(type)), 0});
      n = ++it->second;
    }
    dedupe_key = std::string(call->event_scope) + ':' + std::string(view(type)) + ':' + std::to_string(n);
  }
  Status s = call->deps->events->emit(call->tenant_id, call->integration->id(), view(type), view(data_json),
                                      dedupe_key, call->deferred);
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostEmitEventOnce(ih_call* call, ih_str type, ih_str data_json, ih_str dedupe_key) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!call->deps->events) return fail(call, IH_ERR_UNSUPPORTED, "event stream not available in this host");
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event_once: this call has no tenant");
  if (type.len == 0) return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event_once: empty type");
  const std::string_view key = view(dedupe_key);
  const bool printable = std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (key.empty() || key.size() > 200 || !printable)
    return fail(call, IH_ERR_INVALID_ARGUMENT,
                "emit_event_once: dedupe_key must be 1-200 bytes of printable ASCII without spaces");
  if (!checkJsonObject(view(data_json), "data").isOk())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "emit_event_once: data must be a JSON object");
  // Scoped to the integration, and apart from the host's own keys ("inbox:…", entitlements).
  const std::string scoped = "plugin:" + call->integration->id() + ':' + std::string(key);
  Status s = call->deps->events->emit(call->tenant_id, call->integration->id(), view(type), view(data_json),
                                      scoped, call->deferred);
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

int64_t hostCallRemainingMs(ih_call* call) {
  if (!call || call->deadline == std::chrono::steady_clock::time_point{}) return INT64_MAX;
  return std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline -
                                                               std::chrono::steady_clock::now())
      .count();
}

ih_status hostRespond(ih_call* call, int32_t http_status, ih_str headers_json, ih_str body) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  std::string_view headers = view(headers_json);
  if (std::string refused = respondRefusal(http_status, headers); !refused.empty()) {
    call->out->refused_response = std::move(refused);
    return fail(call, IH_ERR_INVALID_ARGUMENT, call->out->refused_response);
  }
  call->out->responded = true;
  call->out->http_status = http_status;
  call->out->headers_json = std::string(headers);
  call->out->body = std::string(view(body));
  return IH_OK;
}

ih_status hostSetResult(ih_call* call, ih_str result_json) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (!isResultJson(view(result_json)))
    return fail(call, IH_ERR_INVALID_ARGUMENT, "set_result: not valid JSON");
  call->out->result_json = std::string(view(result_json));
  return IH_OK;
}

void hostSetError(ih_call* call, ih_str message) {
  // Shown in API answers and stored with attempts: well-formed text whatever bytes the plugin sent.
  if (call) call->error_message = toStorableText(view(message));
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
                 ? call->deps->records->upsert(call->tenant_id, integration, view(model), view(records_json),
                                               call->deferred)
                 : call->deps->records->commit(call->tenant_id, integration, view(model), view(records_json),
                                               view(state_key), view(state_value));
  if (!s.isOk()) return fail(call, abiCode(s), s.message());
  countWrite(call, view(records_json));
  return IH_OK;
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
  const int64_t now = nowMs();
  Status s = call->deps->store->putSecret({std::string(call->tenant_id), integration, purpose, sealed->key_id,
                                           sealed->nonce, sealed->ciphertext, now});
  return s.isOk() ? IH_OK : fail(call, abiCode(s), s.message());
}

ih_status hostSecretGet(ih_call* call, ih_str name, ih_buf** out) {
  if (!call || !out) return IH_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "secret_get: this call has no tenant");
  if (!call->deps->connections) return fail(call, IH_ERR_UNSUPPORTED, "secrets not available in this host");
  auto plain =
      call->deps->connections->openSecret(call->tenant_id, call->integration->id(), secretPurpose(name));
  if (!plain.isOk()) {
    if (plain.status().code() == StatusCode::kNotFound) return fail(call, IH_ERR_NOT_FOUND, "no such secret");
    return fail(call, IH_ERR_INTERNAL, plain.status().message());
  }
  *out = newBuf(std::string(plain->view()), /*secret=*/true);
  return IH_OK;
}

// ABI 1.2: the provider revoked access (a deauthorization webhook). One transaction: secrets wiped,
// connection inactive, audit; then the integration.disconnected event.
ih_status hostCredentialsDelete(ih_call* call, ih_str reason) {
  if (!call) return IH_ERR_INVALID_ARGUMENT;
  if (call->tenant_id.empty())
    return fail(call, IH_ERR_INVALID_ARGUMENT, "credentials_delete: this call has no tenant");
  if (!call->deps->connections)
    return fail(call, IH_ERR_UNSUPPORTED, "connections not available in this host");
  const std::string& integration = call->integration->id();
  auto conn = call->deps->store->getConnection(call->tenant_id, integration);
  if (!conn.isOk()) return fail(call, abiCode(conn.status()), conn.status().message());
  if (!*conn || (*conn)->status == store::ConnectionStatus::kInactive)
    return fail(call, IH_ERR_NOT_FOUND, "not connected");
  const std::string why = redact(view(reason));
  Status s = call->deps->connections->remove(
      call->tenant_id, integration, "provider", json({{"provider_revoked", true}, {"reason", why}}).dump(),
      json({{"integration", integration}, {"reason", why}, {"by", "provider"}}).dump());
  if (!s.isOk()) {
    if (s.code() == StatusCode::kNotFound) return fail(call, IH_ERR_NOT_FOUND, "not connected");
    return fail(call, abiCode(s), s.message());
  }
  log::info("integration disconnected by the provider",
            {{"tenant", call->tenant_id}, {"integration", integration}, {"reason", why}});
  return IH_OK;
}

// ABI 1.2: who this call serves, from the host's own context.
ih_status hostCallInfo(ih_call* call, ih_buf** out) {
  if (!call || !out) return IH_ERR_INVALID_ARGUMENT;
  json info = {{"tenant", std::string(call->tenant_id)},
               {"integration", call->integration ? call->integration->id() : std::string()},
               {"handler", std::string(call->handler)},
               {"public_url", call->deps->public_url}};
  *out = newBuf(info.dump());
  return IH_OK;
}

const ih_host_api kHostApi = {
    sizeof(ih_host_api), IH_ABI_MAJOR,       IH_ABI_MINOR,        hostLog,           hostHttpRequest,
    hostCredentialsGet,  hostCredentialsPut, hostStateGet,        hostStatePut,      hostRecordsUpsert,
    hostRecordsDelete,   hostEmitEvent,      hostRespond,         hostSetResult,     hostSetError,
    hostLastError,       hostBufView,        hostBufFree,         hostRecordsCommit, hostPrompt,
    hostBindAccount,     hostInboxIngest,    hostSecretPut,       hostSecretGet,     hostCredentialsDelete,
    hostCallInfo,        hostEmitEventOnce,  hostCallRemainingMs,
};

}  // namespace

const ih_host_api* hostServices() {
  return &kHostApi;
}

}  // namespace ih::runtime

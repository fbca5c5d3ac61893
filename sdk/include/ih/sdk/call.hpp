// Call: the host services of one handler invocation (log, HTTP, credentials, state, records, events, respond,
// ...), with std::string_view in and owning std::string out. Non-owning and valid only during that
// invocation (threads: see usableFromOtherThreads). Failures come back as Status / Result with the host's
// last_error message; a service the host's ABI minor lacks answers IH_ERR_UNSUPPORTED.
#ifndef IH_SDK_CALL_HPP
#define IH_SDK_CALL_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ih/plugin_abi.h"
#include "ih/sdk/buffer.hpp"
#include "ih/sdk/http.hpp"
#include "ih/sdk/json.hpp"
#include "ih/sdk/status.hpp"
#include "ih/sdk/strings.hpp"

namespace ih::sdk {

// Call: the host services for one handler invocation. A thin, non-owning wrapper of (host table, ih_call*);
// valid only during that invocation (on its thread, and when usableFromOtherThreads() on threads the handler
// starts and joins before returning; setResult/setError/respond/prompt stay on the handler's thread). Every
// method copies its arguments into the host (nothing is retained). Failures come back as Status with the
// host's last_error message.
class Call {
 public:
  Call(const ih_host_api* host, ih_call* call) noexcept : host_(host), call_(call) {}

  // True with a host of ABI 1.3 or newer: this call's services may be used from threads the handler starts
  // (joined before it returns), each thread seeing its own last_error. Older hosts: the handler's thread
  // only.
  bool usableFromOtherThreads() const noexcept {
    return host_ != nullptr && host_->abi_major == IH_ABI_MAJOR && host_->abi_minor >= 3;
  }

  const ih_host_api* host() const noexcept { return host_; }
  ih_call* raw() const noexcept { return call_; }

  // Structured log line; `fields_json` a JSON object or empty. Never log secrets.
  void log(int32_t level, std::string_view message, std::string_view fields_json = {}) const {
    host_->log(call_, level, toStr(message), toStr(fields_json));
  }
  void debug(std::string_view m, std::string_view f = {}) const { log(IH_LOG_DEBUG, m, f); }
  void info(std::string_view m, std::string_view f = {}) const { log(IH_LOG_INFO, m, f); }
  void warn(std::string_view m, std::string_view f = {}) const { log(IH_LOG_WARN, m, f); }
  void error(std::string_view m, std::string_view f = {}) const { log(IH_LOG_ERROR, m, f); }

  // Outbound HTTP. A non-2xx answer is a successful Result (check response.status); only transport failures
  // (timeouts, unreachable, budget exhausted) are errors.
  Result<HttpResponse> http(const HttpRequest& request) const {
    Buffer meta(host_);
    Buffer body(host_);
    const std::string request_json = request.toJson();
    const ih_status code =
        host_->http_request(call_, toStr(request_json), toStr(request.body), meta.out(), body.out());
    if (code != IH_OK) return hostFailure(code);
    HttpResponse response;
    const std::string_view meta_json = meta.view();
    response.status = static_cast<int32_t>(json::intField(meta_json, "status").value_or(0));
    response.attempts = static_cast<int32_t>(json::intField(meta_json, "attempts").value_or(1));
    if (auto headers = json::rawField(meta_json, "headers")) response.headers_json = std::string(*headers);
    response.body = body.str();
    return response;
  }

  // The calling tenant's stored credentials JSON; IH_ERR_NOT_FOUND when not connected.
  Result<std::string> credentials() const {
    Buffer out(host_);
    const ih_status code = host_->credentials_get(call_, out.out());
    if (code != IH_OK) return hostFailure(code);
    return out.str();
  }
  // Store (replace) credentials; only allowed inside connect.
  Status putCredentials(std::string_view credentials_json) const {
    return hostStatus(host_->credentials_put(call_, toStr(credentials_json)));
  }

  // A state value; nullopt (not an error) when the key is absent.
  Result<std::optional<std::string>> state(std::string_view key) const {
    Buffer out(host_);
    const ih_status code = host_->state_get(call_, toStr(key), out.out());
    if (code == IH_ERR_NOT_FOUND) return std::optional<std::string>();
    if (code != IH_OK) return hostFailure(code);
    return std::optional<std::string>(out.str());
  }
  Status putState(std::string_view key, std::string_view value) const {
    return hostStatus(host_->state_put(call_, toStr(key), toStr(value)));
  }

  // `records_json`: [{"id":"…","data":{…},"updated_at":unix_seconds}, …]
  Status upsertRecords(std::string_view model, std::string_view records_json) const {
    return hostStatus(host_->records_upsert(call_, toStr(model), toStr(records_json)));
  }
  Status deleteRecord(std::string_view model, std::string_view id, int64_t updated_at) const {
    return hostStatus(host_->records_delete(call_, toStr(model), toStr(id), updated_at));
  }

  Status emit(std::string_view type, std::string_view data_json) const {
    return hostStatus(host_->emit_event(call_, toStr(type), toStr(data_json)));
  }
  // ABI 1.5: milliseconds left before this call's deadline; INT64_MAX without one (or on an older host),
  // <= 0 once it passed: then stop and return Status(IH_ERR_DEADLINE, ...).
  int64_t remainingMs() const {
    if (!hasService(offsetof(ih_host_api, call_remaining_ms))) return INT64_MAX;
    return host_->call_remaining_ms(call_);
  }
  bool deadlinePassed() const { return remainingMs() <= 0; }
  // ABI 1.4: emit at most once per `dedupe_key` (1-200 printable ASCII, scoped to tenant and integration); a
  // repeat is OK and emits nothing. IH_ERR_UNSUPPORTED on an older host (emit() then, if a repeat is fine).
  Status emitOnce(std::string_view type, std::string_view data_json, std::string_view dedupe_key) const {
    if (!hasService(offsetof(ih_host_api, emit_event_once))) return unsupported("emit_event_once");
    return hostStatus(host_->emit_event_once(call_, toStr(type), toStr(data_json), toStr(dedupe_key)));
  }
  // HTTP answer of a route handler; `headers_json` a JSON object or empty. Last call wins.
  Status respond(int32_t http_status, std::string_view body, std::string_view headers_json = {}) const {
    return hostStatus(host_->respond(call_, http_status, toStr(headers_json), toStr(body)));
  }
  Status setResult(std::string_view result_json) const {
    return hostStatus(host_->set_result(call_, toStr(result_json)));
  }
  // Usually unnecessary: returning a non-OK Status from a handler sets the error message.
  void setError(std::string_view message) const { host_->set_error(call_, toStr(message)); }

  // ---- ABI 1.1 services. Each answers IH_ERR_UNSUPPORTED on a host whose table predates them. ----

  // Records and a state key (the sync cursor) in ONE transaction. Empty `state_key` = records only.
  Status commitPage(std::string_view model, std::string_view records_json, std::string_view state_key,
                    std::string_view state_value) const {
    if (!hasService(offsetof(ih_host_api, records_commit))) return unsupported("records_commit");
    return hostStatus(host_->records_commit(call_, toStr(model), toStr(records_json), toStr(state_key),
                                            toStr(state_value)));
  }
  // Asks the operator of an interactive workflow. `prompt_json`: {"key","message","kind":"text"|"secret"|
  // "confirm"|"choice","choices"?,"default"?}. IH_ERR_UNSUPPORTED when nobody can answer.
  Result<std::string> prompt(std::string_view prompt_json) const {
    if (!hasService(offsetof(ih_host_api, prompt))) return unsupported("prompt");
    Buffer out(host_);
    const ih_status code = host_->prompt(call_, toStr(prompt_json), out.out());
    if (code != IH_OK) return hostFailure(code);
    return out.str();
  }
  // Routes platform webhooks of provider account `account` to the calling tenant (or stops doing so).
  Status bindAccount(std::string_view account, bool bind = true) const {
    if (!hasService(offsetof(ih_host_api, bind_account))) return unsupported("bind_account");
    return hostStatus(host_->bind_account(call_, toStr(account), bind ? 1 : 0));
  }
  // Feeds a provider event into the inbox as if its webhook had arrived; true when it was already there.
  Result<bool> ingestEvent(std::string_view meta_json, std::string_view body) const {
    if (!hasService(offsetof(ih_host_api, inbox_ingest))) return unsupported("inbox_ingest");
    const ih_status code = host_->inbox_ingest(call_, toStr(meta_json), toStr(body));
    if (code != IH_OK) return hostFailure(code);
    return toView(host_->last_error(call_)) == "duplicate";
  }
  // Named secrets of the calling tenant (encrypted by the host). secret(): nullopt when absent.
  Status putSecret(std::string_view name, std::string_view value) const {
    if (!hasService(offsetof(ih_host_api, secret_put))) return unsupported("secret_put");
    return hostStatus(host_->secret_put(call_, toStr(name), toStr(value)));
  }
  Result<std::optional<std::string>> secret(std::string_view name) const {
    if (!hasService(offsetof(ih_host_api, secret_get))) return unsupported("secret_get");
    Buffer out(host_);
    const ih_status code = host_->secret_get(call_, toStr(name), out.out());
    if (code == IH_ERR_NOT_FOUND) return std::optional<std::string>();
    if (code != IH_OK) return hostFailure(code);
    return std::optional<std::string>(out.str());
  }

  // ---- ABI 1.2 services. ----

  // The provider revoked access on its side: the host wipes this tenant's credentials and secrets for the
  // integration, marks it disconnected, audits `reason` and emits integration.disconnected. NOT_FOUND when
  // the tenant was not connected (already wiped). Accounts stay bound (use bindAccount(account, false)).
  Status deleteCredentials(std::string_view reason) const {
    if (!hasService(offsetof(ih_host_api, credentials_delete))) return unsupported("credentials_delete");
    return hostStatus(host_->credentials_delete(call_, toStr(reason)));
  }

  // Who this call serves, from the host (never from the caller's input): JSON text {"tenant","integration",
  // "handler","public_url"} (see plugin_abi.h call_info).
  Result<std::string> callInfo() const {
    if (!hasService(offsetof(ih_host_api, call_info))) return unsupported("call_info");
    Buffer out(host_);
    const ih_status code = host_->call_info(call_, out.out());
    if (code != IH_OK) return hostFailure(code);
    return out.str();
  }

 private:
  // True when the host's table reaches the field at `offset` (and the pointer is set).
  bool hasService(size_t offset) const {
    if (host_->struct_size < offset + sizeof(void*)) return false;
    const void* const* slot =
        reinterpret_cast<const void* const*>(reinterpret_cast<const char*>(host_) + offset);
    return *slot != nullptr;
  }
  static Status unsupported(const char* service) {
    return Status(IH_ERR_UNSUPPORTED,
                  std::string("this host does not offer ") + service + " (added in a later ABI minor)");
  }

  Status hostStatus(ih_status code) const {
    if (code == IH_OK) return Status::ok();
    return hostFailure(code);
  }
  Status hostFailure(ih_status code) const {
    std::string message(toView(host_->last_error(call_)));
    if (message.empty()) message = "host service failed with status " + std::to_string(code);
    return Status(code, std::move(message));
  }

  const ih_host_api* host_;
  ih_call* call_;
};

}  // namespace ih::sdk

#endif  // IH_SDK_CALL_HPP

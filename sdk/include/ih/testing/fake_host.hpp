// ihost plugin SDK: an in-process fake host for plugin unit tests. Header-only C++17, no dependency besides
// the SDK (ih/sdk/json.hpp reads and writes its JSON; ih/plugin.hpp comes along for the test's own use), so a
// plugin author can test without ihost and without a JSON library.
//
//   ih::sdk::testing::FakeHost host(ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR));
//   host.setTenant("t1");
//   auto inst = host.create("example", R"({"webhook_secret":"whsec"})");
//   auto r = host.route(inst, R"({"method":"GET","path":"/hello","tenant":"t1"})", "");
//   CHECK(r.status == IH_OK); CHECK(r.http_status == 200); CHECK(r.body == ...);
//
// It implements the whole ih_host_api table with in-memory stores scoped like the real host's: credentials
// and state per (tenant, integration), records per (tenant, integration, model, id) keeping the newest by
// `updated_at` with tombstones on delete, events and log lines in order, and outbound HTTP answered by a
// test-provided function, each request recorded. credentials_put is refused outside `connect` and
// `oauth_complete`, as in ihost; credentials_delete (ABI 1.2) wipes credentials and secrets and records an
// "integration.disconnected" event.
// Every host buffer handed out is counted so a test can assert the plugin freed them (liveBuffers() == 0).
//
// Ownership: FakeHost owns the instances it creates and destroys the remaining ones in its destructor; the
// descriptor must outlive it. Threading: host services are thread-safe (one mutex); the test-facing accessors
// return copies. Failure: handler calls return a CallResult with the plugin's status and error text.
#ifndef IH_TESTING_FAKE_HOST_HPP
#define IH_TESTING_FAKE_HOST_HPP

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "ih/plugin.hpp"  // the whole SDK: a plugin's tests use it alongside the fake host
#include "ih/plugin_abi.h"
#include "ih/sdk/json.hpp"
#include "ih/sdk/strings.hpp"

namespace ih::sdk::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One outbound request a plugin made through host http.
struct HttpExchange {
  std::string tenant;
  std::string integration;
  std::string method;
  std::string url;
  Headers headers;
  std::string body;
  std::string request_json;  // exactly what the plugin passed

  std::optional<std::string> header(std::string_view name) const {
    const std::string wanted = toLowerAscii(name);
    for (const auto& [k, v] : headers) {
      if (toLowerAscii(k) == wanted) return v;
    }
    return std::nullopt;
  }
};

// The test's answer. `transport_error` != IH_OK simulates a failure below HTTP (timeout, refused).
struct FakeHttpResponse {
  int32_t status = 200;
  Headers headers;
  std::string body;
  ih_status transport_error = IH_OK;
  std::string transport_message = "simulated transport failure";
};

using HttpHandler = std::function<FakeHttpResponse(const HttpExchange&)>;

struct LogLine {
  std::string tenant;  // empty when logged without a call context
  int32_t level = IH_LOG_INFO;
  std::string message;
  std::string fields_json;
};

struct EmittedEvent {
  std::string tenant;
  std::string integration;
  std::string type;
  std::string data_json;
};

struct StoredRecord {
  std::string id;
  std::string data_json;  // the "data" member as given (raw JSON text); empty for a tombstone
  int64_t updated_at = 0;
  bool deleted = false;
};

// What one handler invocation produced.
struct CallResult {
  ih_status status = IH_OK;
  bool responded = false;  // respond() was called
  int32_t http_status = 0;
  std::string headers_json;
  std::string body;
  std::string result;  // set_result
  std::string error;   // set_error
  bool ok() const noexcept { return status == IH_OK; }
};

// A created instance (or the failure to create it).
struct Instance {
  ih_plugin* handle = nullptr;
  std::string integration_id;
  ih_status status = IH_OK;
  std::string error;
  bool ok() const noexcept { return status == IH_OK && handle != nullptr; }
};

// request_json as the host builds it for routes and webhooks.
inline std::string makeRequestJson(std::string_view method, std::string_view path, std::string_view tenant,
                                   const Headers& headers = {}, const Headers& query = {}) {
  return "{\"method\":" + json::quote(method) + ",\"path\":" + json::quote(path) +
         ",\"route\":" + json::quote(path) + ",\"params\":{},\"query\":" + json::stringObject(query) +
         ",\"headers\":" + json::stringObject(headers) + ",\"tenant\":" + json::quote(tenant) + "}";
}

class FakeHost {
 public:
  explicit FakeHost(const ih_plugin_descriptor* descriptor) : descriptor_(descriptor) {
    api_ = ih_host_api{};
    api_.struct_size = sizeof(ih_host_api);
    api_.abi_major = IH_ABI_MAJOR;
    api_.abi_minor = IH_ABI_MINOR;
    api_.log = &FakeHost::apiLog;
    api_.http_request = &FakeHost::apiHttp;
    api_.credentials_get = &FakeHost::apiCredentialsGet;
    api_.credentials_put = &FakeHost::apiCredentialsPut;
    api_.state_get = &FakeHost::apiStateGet;
    api_.state_put = &FakeHost::apiStatePut;
    api_.records_upsert = &FakeHost::apiRecordsUpsert;
    api_.records_delete = &FakeHost::apiRecordsDelete;
    api_.emit_event = &FakeHost::apiEmit;
    api_.respond = &FakeHost::apiRespond;
    api_.set_result = &FakeHost::apiSetResult;
    api_.set_error = &FakeHost::apiSetError;
    api_.last_error = &FakeHost::apiLastError;
    api_.buf_view = &FakeHost::apiBufView;
    api_.buf_free = &FakeHost::apiBufFree;
    api_.records_commit = &FakeHost::apiRecordsCommit;
    api_.prompt = &FakeHost::apiPrompt;
    api_.bind_account = &FakeHost::apiBindAccount;
    api_.inbox_ingest = &FakeHost::apiInboxIngest;
    api_.secret_put = &FakeHost::apiSecretPut;
    api_.secret_get = &FakeHost::apiSecretGet;
    api_.credentials_delete = &FakeHost::apiCredentialsDelete;
    api_.call_info = &FakeHost::apiCallInfo;
    api_.emit_event_once = &FakeHost::apiEmitOnce;
    api_.call_remaining_ms = &FakeHost::apiCallRemainingMs;
    latest() = this;
  }
  ~FakeHost() {
    for (ih_plugin* handle : instances_)
      descriptor_->destroy(handle);
    if (latest() == this) latest() = nullptr;
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  const ih_plugin_descriptor* descriptor() const noexcept { return descriptor_; }
  const ih_host_api* api() const noexcept { return &api_; }

  // The tenant every following call serves (as the host would resolve it from the API key or webhook path).
  void setTenant(std::string tenant) { tenant_ = std::move(tenant); }
  // What call_info reports as "public_url" (default: empty, as a host without [server] public_url).
  void setPublicUrl(std::string url) { public_url_ = std::move(url); }
  // What call_remaining_ms answers in every call (default: no deadline, INT64_MAX), to test that a handler
  // stops at its deadline.
  void setRemainingMs(int64_t ms) { remaining_ms_.store(ms); }
  const std::string& tenant() const noexcept { return tenant_; }
  void setHttpHandler(HttpHandler handler) {
    std::lock_guard<std::mutex> lock(mutex_);
    http_handler_ = std::move(handler);
  }

  // ---- plugin lifecycle and handlers -------------------------------------------------------------------
  Instance create(std::string integration_id, std::string_view config_json) {
    Instance instance;
    instance.integration_id = std::move(integration_id);
    CallContext ctx(this, tenant_, instance.integration_id, "create");
    ih_plugin* handle = nullptr;
    instance.status =
        descriptor_->create(&api_, ctx.raw(), toStr(instance.integration_id), toStr(config_json), &handle);
    instance.error = ctx.out.error;
    if (instance.status == IH_OK && handle != nullptr) {
      instance.handle = handle;
      instances_.push_back(handle);
    }
    return instance;
  }
  void destroy(Instance& instance) {
    auto it = std::find(instances_.begin(), instances_.end(), instance.handle);
    if (it != instances_.end()) {
      descriptor_->destroy(instance.handle);
      instances_.erase(it);
    }
    instance.handle = nullptr;
  }

  CallResult route(const Instance& i, std::string_view request_json, std::string_view body = {}) {
    return invoke(i, "route", [&](ih_call* c) {
      return descriptor_->handle_route(i.handle, c, toStr(request_json), toStr(body));
    });
  }
  CallResult verifyWebhook(const Instance& i, std::string_view request_json, std::string_view body) {
    return invoke(i, "verify_webhook", [&](ih_call* c) {
      return descriptor_->verify_webhook(i.handle, c, toStr(request_json), toStr(body));
    });
  }
  CallResult handleWebhook(const Instance& i, std::string_view event_json, std::string_view body) {
    return invoke(i, "handle_webhook", [&](ih_call* c) {
      return descriptor_->handle_webhook(i.handle, c, toStr(event_json), toStr(body));
    });
  }
  CallResult runJob(const Instance& i, std::string_view job,
                    std::string_view params_json = "{\"full\":false}") {
    return invoke(i, "run_job", [&](ih_call* c) {
      return descriptor_->run_job(i.handle, c, toStr(job), toStr(params_json));
    });
  }
  CallResult runAction(const Instance& i, std::string_view action, std::string_view input_json = "{}") {
    return invoke(i, "run_action", [&](ih_call* c) {
      return descriptor_->run_action(i.handle, c, toStr(action), toStr(input_json));
    });
  }
  CallResult connect(const Instance& i, std::string_view input_json) {
    return invoke(i, "connect",
                  [&](ih_call* c) { return descriptor_->connect(i.handle, c, toStr(input_json)); });
  }
  CallResult testConnection(const Instance& i) {
    return invoke(i, "test_connection",
                  [&](ih_call* c) { return descriptor_->test_connection(i.handle, c); });
  }
  // ABI 1.2 OAuth handlers; IH_ERR_UNSUPPORTED when the descriptor predates them or lacks IH_CAP_OAUTH.
  // Unlike ihost, the fake host does not issue or check `state`: the test passes whatever it wants.
  CallResult oauthAuthorize(const Instance& i, std::string_view params_json) {
    return invoke(i, "oauth_authorize", [&](ih_call* c) {
      if (!hasOAuth()) return IH_ERR_UNSUPPORTED;
      return descriptor_->oauth_authorize(i.handle, c, toStr(params_json));
    });
  }
  CallResult oauthComplete(const Instance& i, std::string_view params_json) {
    return invoke(i, "oauth_complete", [&](ih_call* c) {
      if (!hasOAuth()) return IH_ERR_UNSUPPORTED;
      return descriptor_->oauth_complete(i.handle, c, toStr(params_json));
    });
  }
  // Like ihost: on success the stored credentials are wiped.
  CallResult disconnect(const Instance& i) {
    CallResult r = invoke(i, "disconnect", [&](ih_call* c) { return descriptor_->disconnect(i.handle, c); });
    if (r.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      credentials_.erase({tenant_, i.integration_id});
    }
    return r;
  }

  // ---- what the plugin did (copies; thread-safe) ---------------------------------------------------------
  std::optional<std::string> credentials(const std::string& tenant, const std::string& integration) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = credentials_.find({tenant, integration});
    if (it == credentials_.end()) return std::nullopt;
    return it->second;
  }
  void setCredentials(const std::string& tenant, const std::string& integration, std::string json) {
    std::lock_guard<std::mutex> lock(mutex_);
    credentials_[{tenant, integration}] = std::move(json);
  }
  std::optional<std::string> state(const std::string& tenant, const std::string& integration,
                                   const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = state_.find({tenant, integration, key});
    if (it == state_.end()) return std::nullopt;
    return it->second;
  }
  void setState(const std::string& tenant, const std::string& integration, const std::string& key,
                std::string value) {
    std::lock_guard<std::mutex> lock(mutex_);
    state_[{tenant, integration, key}] = std::move(value);
  }
  // The stored record (including tombstones), or nullopt if never written.
  std::optional<StoredRecord> record(const std::string& tenant, const std::string& integration,
                                     const std::string& model, const std::string& id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = records_.find({tenant, integration, model, id});
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  // Live (non-deleted) records of one model, ordered by id.
  std::vector<StoredRecord> records(const std::string& tenant, const std::string& integration,
                                    const std::string& model) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<StoredRecord> out;
    for (const auto& [key, rec] : records_) {
      if (std::get<0>(key) == tenant && std::get<1>(key) == integration && std::get<2>(key) == model &&
          !rec.deleted) {
        out.push_back(rec);
      }
    }
    return out;
  }
  std::vector<EmittedEvent> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  // records_commit calls so far (failed ones included).
  size_t recordsCommits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_commits_;
  }
  // Simulates a storage failure: records_commit calls after the first `after` ones fail with `code` and
  // `message`, storing nothing. clearRecordsCommitFailure() ends it.
  void failRecordsCommitsAfter(size_t after, ih_status code = IH_ERR_UNAVAILABLE,
                               std::string message = "FakeHost: simulated storage failure") {
    std::lock_guard<std::mutex> lock(mutex_);
    commit_failure_ = CommitFailure{after, code, std::move(message)};
  }
  void clearRecordsCommitFailure() {
    std::lock_guard<std::mutex> lock(mutex_);
    commit_failure_.reset();
  }
  // Answers for prompt(): key -> answer. A prompt whose key has no answer fails with IH_ERR_UNSUPPORTED.
  void setPromptAnswer(const std::string& key, const std::string& answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    prompt_answers_[key] = answer;
  }
  // Prompt JSON texts the plugin asked, in order.
  std::vector<std::string> prompts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return prompts_;
  }
  // account -> tenant, as bound by bind_account.
  std::map<std::string, std::string> boundAccounts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bound_accounts_;
  }
  // Events fed through inbox_ingest: (tenant, meta_json, body); duplicates by event id are not repeated.
  std::vector<std::tuple<std::string, std::string, std::string>> ingested() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ingested_;
  }
  // A named secret stored by secret_put for (tenant, integration), or nullopt.
  std::optional<std::string> storedSecret(const std::string& tenant, const std::string& integration,
                                          const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = secrets_.find({tenant, integration, name});
    if (it == secrets_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<LogLine> logs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return logs_;
  }
  std::vector<HttpExchange> httpRequests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return http_requests_;
  }
  // True if `needle` appears in any log message or fields (use it to assert secrets are never logged).
  bool logsContain(std::string_view needle) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& line : logs_) {
      if (line.message.find(needle) != std::string::npos ||
          line.fields_json.find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  // Host buffers handed to the plugin and not yet freed.
  int64_t liveBuffers() const noexcept { return live_buffers_.load(); }

 private:
  struct Buf {
    FakeHost* owner;
    std::string bytes;
  };

  // The object behind an ih_call*: one per handler invocation (never a defined `struct ih_call`, so a test
  // binary may also contain the real host without an ODR clash).
  struct CallContext {
    CallContext(FakeHost* h, std::string t, std::string i, std::string hd)
        : host(h), tenant(std::move(t)), integration(std::move(i)), handler(std::move(hd)) {}
    ih_call* raw() { return reinterpret_cast<ih_call*>(this); }
    FakeHost* host;
    std::string tenant;
    std::string integration;
    std::string handler;
    // last_error per thread: a handler may use its call from threads it starts (ABI 1.3).
    std::mutex last_error_mutex;
    std::map<std::thread::id, std::string> last_error;
    CallResult out;
  };

  template <typename Fn>
  CallResult invoke(const Instance& instance, const char* handler, Fn&& fn) {
    CallResult r;
    if (!instance.ok()) {
      r.status = IH_ERR_INVALID_ARGUMENT;
      r.error = "FakeHost: instance was not created: " + instance.error;
      return r;
    }
    CallContext ctx(this, tenant_, instance.integration_id, handler);
    ctx.out.status = fn(ctx.raw());
    return ctx.out;
  }

  bool hasOAuth() const noexcept {
    return (descriptor_->capabilities & IH_CAP_OAUTH) != 0 &&
           descriptor_->struct_size >= offsetof(ih_plugin_descriptor, oauth_complete) + sizeof(void*) &&
           descriptor_->oauth_authorize != nullptr && descriptor_->oauth_complete != nullptr;
  }

  static CallContext* ctx(ih_call* call) noexcept { return reinterpret_cast<CallContext*>(call); }
  static FakeHost*& latest() noexcept {
    static FakeHost* host = nullptr;
    return host;
  }
  static ih_status fail(CallContext* c, ih_status code, std::string message) {
    if (c != nullptr) {
      std::lock_guard<std::mutex> lock(c->last_error_mutex);
      c->last_error[std::this_thread::get_id()] = std::move(message);
    }
    return code;
  }
  static ih_buf* newBuf(FakeHost* host, std::string bytes) {
    host->live_buffers_.fetch_add(1);
    return reinterpret_cast<ih_buf*>(new Buf{host, std::move(bytes)});
  }

  // ---- the ih_host_api functions (C linkage not required: only their addresses cross) -------------------
  static void apiLog(ih_call* call, int32_t level, ih_str message, ih_str fields_json) {
    CallContext* c = ctx(call);
    FakeHost* host = c != nullptr ? c->host : latest();
    if (host == nullptr) return;
    std::lock_guard<std::mutex> lock(host->mutex_);
    host->logs_.push_back(LogLine{c != nullptr ? c->tenant : std::string(), level,
                                  std::string(toView(message)), std::string(toView(fields_json))});
  }

  static ih_status apiHttp(ih_call* call, ih_str request_json, ih_str body, ih_buf** response_json,
                           ih_buf** response_body) {
    CallContext* c = ctx(call);
    if (c == nullptr || response_json == nullptr || response_body == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *response_json = nullptr;
    *response_body = nullptr;
    const std::string_view req = toView(request_json);
    if (!json::isValid(req)) return fail(c, IH_ERR_INVALID_ARGUMENT, "request_json is not valid JSON");
    if (c->host->remaining_ms_.load() <= 0)
      return fail(c, IH_ERR_DEADLINE, "http_request: the call's deadline has passed");
    HttpExchange exchange;
    exchange.tenant = c->tenant;
    exchange.integration = c->integration;
    exchange.method = json::stringField(req, "method").value_or("");
    exchange.url = json::stringField(req, "url").value_or("");
    exchange.body = std::string(toView(body));
    exchange.request_json = std::string(req);
    if (exchange.method.empty() || exchange.url.empty()) {
      return fail(c, IH_ERR_INVALID_ARGUMENT, "request_json needs \"method\" and \"url\"");
    }
    if (auto headers = json::rawField(req, "headers")) {
      const bool ok = json::forEachMember(*headers, [&](const std::string& k, std::string_view v) {
        exchange.headers.emplace_back(k, json::unquote(v).value_or(std::string(v)));
      });
      if (!ok) return fail(c, IH_ERR_INVALID_ARGUMENT, "\"headers\" must be an object");
    }
    HttpHandler handler;
    {
      std::lock_guard<std::mutex> lock(c->host->mutex_);
      c->host->http_requests_.push_back(exchange);
      handler = c->host->http_handler_;
    }
    if (!handler) return fail(c, IH_ERR_UNAVAILABLE, "FakeHost: no HTTP handler set (setHttpHandler)");
    const FakeHttpResponse answer = handler(exchange);
    if (answer.transport_error != IH_OK) return fail(c, answer.transport_error, answer.transport_message);
    std::string meta = "{\"status\":" + std::to_string(answer.status) +
                       ",\"headers\":" + json::stringObject(answer.headers) + ",\"attempts\":1}";
    *response_json = newBuf(c->host, std::move(meta));
    *response_body = newBuf(c->host, answer.body);
    return IH_OK;
  }

  static ih_status apiCredentialsGet(ih_call* call, ih_buf** out) {
    CallContext* c = ctx(call);
    if (c == nullptr || out == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    auto it = c->host->credentials_.find({c->tenant, c->integration});
    if (it == c->host->credentials_.end()) return fail(c, IH_ERR_NOT_FOUND, "not connected");
    *out = newBuf(c->host, it->second);
    return IH_OK;
  }
  static ih_status apiCredentialsPut(ih_call* call, ih_str credentials_json) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (c->handler != "connect" && c->handler != "oauth_complete") {
      return fail(c, IH_ERR_PERMISSION_DENIED, "credentials_put is only allowed inside connect");
    }
    if (!json::isValid(toView(credentials_json))) {
      return fail(c, IH_ERR_INVALID_ARGUMENT, "credentials must be a JSON object");
    }
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    c->host->credentials_[{c->tenant, c->integration}] = std::string(toView(credentials_json));
    return IH_OK;
  }

  static ih_status apiStateGet(ih_call* call, ih_str key, ih_buf** out) {
    CallContext* c = ctx(call);
    if (c == nullptr || out == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    auto it = c->host->state_.find({c->tenant, c->integration, std::string(toView(key))});
    if (it == c->host->state_.end()) return fail(c, IH_ERR_NOT_FOUND, "no such state key");
    *out = newBuf(c->host, it->second);
    return IH_OK;
  }
  static ih_status apiStatePut(ih_call* call, ih_str key, ih_str value) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (key.len == 0) return fail(c, IH_ERR_INVALID_ARGUMENT, "state key must not be empty");
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    c->host->state_[{c->tenant, c->integration, std::string(toView(key))}] = std::string(toView(value));
    return IH_OK;
  }

  static ih_status apiRecordsUpsert(ih_call* call, ih_str model, ih_str records_json) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (model.len == 0) return fail(c, IH_ERR_INVALID_ARGUMENT, "model must not be empty");
    // Validate everything first: the batch applies entirely or not at all.
    std::vector<StoredRecord> batch;
    std::string problem;
    const bool is_array = json::forEachElement(toView(records_json), [&](std::string_view element) {
      StoredRecord rec;
      auto id = json::stringField(element, "id");
      auto updated_at = json::intField(element, "updated_at");
      auto data = json::rawField(element, "data");
      if (!id || id->empty() || !updated_at || !data) {
        if (problem.empty())
          problem = "each record needs \"id\" (string), \"data\" and \"updated_at\" (integer)";
        return;
      }
      rec.id = *id;
      rec.updated_at = *updated_at;
      rec.data_json = std::string(*data);
      batch.push_back(std::move(rec));
    });
    if (!is_array) return fail(c, IH_ERR_INVALID_ARGUMENT, "records_json must be a JSON array");
    if (!problem.empty()) return fail(c, IH_ERR_INVALID_ARGUMENT, problem);
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    const std::string model_name(toView(model));
    for (auto& rec : batch) {
      auto& slot = c->host->records_[{c->tenant, c->integration, model_name, rec.id}];
      if (!slot.id.empty() && rec.updated_at < slot.updated_at) continue;  // out-of-order guard
      slot = std::move(rec);
    }
    return IH_OK;
  }
  static ih_status apiRecordsDelete(ih_call* call, ih_str model, ih_str id, int64_t updated_at) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (model.len == 0 || id.len == 0) return fail(c, IH_ERR_INVALID_ARGUMENT, "model and id are required");
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    auto& slot =
        c->host->records_[{c->tenant, c->integration, std::string(toView(model)), std::string(toView(id))}];
    if (!slot.id.empty() && updated_at < slot.updated_at) return IH_OK;  // older delete: ignored
    slot = StoredRecord{std::string(toView(id)), std::string(), updated_at, true};
    return IH_OK;
  }

  static ih_status apiEmit(ih_call* call, ih_str type, ih_str data_json) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (type.len == 0) return fail(c, IH_ERR_INVALID_ARGUMENT, "event type must not be empty");
    if (!json::isValid(toView(data_json))) return fail(c, IH_ERR_INVALID_ARGUMENT, "event data must be JSON");
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    c->host->events_.push_back(
        EmittedEvent{c->tenant, c->integration, std::string(toView(type)), std::string(toView(data_json))});
    return IH_OK;
  }

  // As the host: the first event per (tenant, integration, dedupe_key) is kept, repeats are dropped.
  static ih_status apiEmitOnce(ih_call* call, ih_str type, ih_str data_json, ih_str dedupe_key) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    const std::string_view key = toView(dedupe_key);
    bool printable = !key.empty() && key.size() <= 200;
    for (char ch : key)
      printable = printable && ch > 0x20 && ch < 0x7f;
    if (!printable)
      return fail(c, IH_ERR_INVALID_ARGUMENT, "dedupe_key must be 1-200 bytes of printable ASCII");
    if (type.len == 0) return fail(c, IH_ERR_INVALID_ARGUMENT, "event type must not be empty");
    if (!json::isValid(toView(data_json))) return fail(c, IH_ERR_INVALID_ARGUMENT, "event data must be JSON");
    {
      std::lock_guard<std::mutex> lock(c->host->mutex_);
      if (!c->host->event_keys_.insert(c->tenant + '\n' + c->integration + '\n' + std::string(key)).second)
        return IH_OK;
    }
    return apiEmit(call, type, data_json);
  }

  static ih_status apiRespond(ih_call* call, int32_t http_status, ih_str headers_json, ih_str body) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (http_status < 100 || http_status > 599) return fail(c, IH_ERR_INVALID_ARGUMENT, "bad HTTP status");
    if (headers_json.len != 0 && !json::isValid(toView(headers_json))) {
      return fail(c, IH_ERR_INVALID_ARGUMENT, "headers_json must be a JSON object");
    }
    c->out.responded = true;
    c->out.http_status = http_status;
    c->out.headers_json = std::string(toView(headers_json));
    c->out.body = std::string(toView(body));
    return IH_OK;
  }
  static ih_status apiSetResult(ih_call* call, ih_str result_json) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (!json::isValid(toView(result_json))) return fail(c, IH_ERR_INVALID_ARGUMENT, "result must be JSON");
    c->out.result = std::string(toView(result_json));
    return IH_OK;
  }
  static void apiSetError(ih_call* call, ih_str message) {
    CallContext* c = ctx(call);
    if (c != nullptr) c->out.error = std::string(toView(message));
  }
  static ih_str apiLastError(ih_call* call) {
    CallContext* c = ctx(call);
    if (c == nullptr) return ih_str{nullptr, 0};
    std::lock_guard<std::mutex> lock(c->last_error_mutex);
    auto it = c->last_error.find(std::this_thread::get_id());
    return it == c->last_error.end() ? ih_str{nullptr, 0} : toStr(it->second);
  }
  static ih_str apiBufView(const ih_buf* buf) {
    if (buf == nullptr) return ih_str{nullptr, 0};
    const Buf* b = reinterpret_cast<const Buf*>(buf);
    return toStr(b->bytes);
  }
  static ih_status apiRecordsCommit(ih_call* call, ih_str model, ih_str records_json, ih_str state_key,
                                    ih_str state_value) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    {
      std::lock_guard<std::mutex> lock(c->host->mutex_);
      const size_t n = c->host->records_commits_++;
      if (c->host->commit_failure_ && n >= c->host->commit_failure_->after)
        return fail(c, c->host->commit_failure_->code, c->host->commit_failure_->message);
    }
    ih_status rc = apiRecordsUpsert(call, model, records_json);
    if (rc != IH_OK || state_key.len == 0) return rc;
    return apiStatePut(call, state_key, state_value);
  }
  static ih_status apiPrompt(ih_call* call, ih_str prompt_json, ih_buf** answer) {
    CallContext* c = ctx(call);
    if (c == nullptr || answer == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *answer = nullptr;
    auto key = json::stringField(toView(prompt_json), "key");
    if (!key) return fail(c, IH_ERR_INVALID_ARGUMENT, "prompt_json needs a \"key\" string");
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    c->host->prompts_.emplace_back(toView(prompt_json));
    auto it = c->host->prompt_answers_.find(std::string(*key));
    if (it == c->host->prompt_answers_.end()) return fail(c, IH_ERR_UNSUPPORTED, "no answer for prompt");
    *answer = newBuf(c->host, it->second);
    return IH_OK;
  }
  static ih_status apiBindAccount(ih_call* call, ih_str account, int32_t bind) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    const std::string key(toView(account));
    auto it = c->host->bound_accounts_.find(key);
    if (it != c->host->bound_accounts_.end() && it->second != c->tenant) {
      return fail(c, IH_ERR_CONFLICT, "account is bound to another tenant");
    }
    if (bind) {
      c->host->bound_accounts_[key] = c->tenant;
    } else if (it != c->host->bound_accounts_.end()) {
      c->host->bound_accounts_.erase(it);
    }
    return IH_OK;
  }
  static ih_status apiInboxIngest(ih_call* call, ih_str meta_json, ih_str body) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    auto event_id = json::stringField(toView(meta_json), "event_id");
    if (!event_id || event_id->empty())
      return fail(c, IH_ERR_INVALID_ARGUMENT, "meta_json needs \"event_id\"");
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    for (const auto& [tenant, meta, b] : c->host->ingested_) {
      if (tenant == c->tenant && json::stringField(meta, "event_id") == event_id) {
        return fail(c, IH_OK, "duplicate");
      }
    }
    c->host->ingested_.emplace_back(c->tenant, std::string(toView(meta_json)), std::string(toView(body)));
    return fail(c, IH_OK, "");
  }
  static ih_status apiSecretPut(ih_call* call, ih_str name, ih_str value) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    if (name.len == 0) return fail(c, IH_ERR_INVALID_ARGUMENT, "secret name must not be empty");
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    c->host->secrets_[{c->tenant, c->integration, std::string(toView(name))}] = std::string(toView(value));
    return IH_OK;
  }
  static ih_status apiSecretGet(ih_call* call, ih_str name, ih_buf** out) {
    CallContext* c = ctx(call);
    if (c == nullptr || out == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    auto it = c->host->secrets_.find({c->tenant, c->integration, std::string(toView(name))});
    if (it == c->host->secrets_.end()) return fail(c, IH_ERR_NOT_FOUND, "no such secret");
    *out = newBuf(c->host, it->second);
    return IH_OK;
  }

  static ih_status apiCredentialsDelete(ih_call* call, ih_str reason) {
    CallContext* c = ctx(call);
    if (c == nullptr) return IH_ERR_INVALID_ARGUMENT;
    std::lock_guard<std::mutex> lock(c->host->mutex_);
    const bool had = c->host->credentials_.erase({c->tenant, c->integration}) > 0;
    for (auto it = c->host->secrets_.begin(); it != c->host->secrets_.end();) {
      if (std::get<0>(it->first) == c->tenant && std::get<1>(it->first) == c->integration) {
        it = c->host->secrets_.erase(it);
      } else {
        ++it;
      }
    }
    if (!had) return fail(c, IH_ERR_NOT_FOUND, "not connected");
    c->host->events_.push_back(EmittedEvent{c->tenant, c->integration, "integration.disconnected",
                                            "{\"integration\":" + json::quote(c->integration) +
                                                ",\"reason\":" + json::quote(toView(reason)) + "}"});
    return IH_OK;
  }

  static int64_t apiCallRemainingMs(ih_call* call) {
    CallContext* c = ctx(call);
    return c == nullptr ? INT64_MAX : c->host->remaining_ms_.load();
  }

  static ih_status apiCallInfo(ih_call* call, ih_buf** out) {
    CallContext* c = ctx(call);
    if (c == nullptr || out == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *out = newBuf(
        c->host, "{\"tenant\":" + json::quote(c->tenant) + ",\"integration\":" + json::quote(c->integration) +
                     ",\"handler\":" + json::quote(c->handler == "route" ? "handle_route" : c->handler) +
                     ",\"public_url\":" + json::quote(c->host->public_url_) + "}");
    return IH_OK;
  }

  static void apiBufFree(ih_buf* buf) {
    if (buf == nullptr) return;
    Buf* b = reinterpret_cast<Buf*>(buf);
    std::fill(b->bytes.begin(), b->bytes.end(), '\0');  // like ihost: zeroed on free
    b->owner->live_buffers_.fetch_sub(1);
    delete b;
  }

  const ih_plugin_descriptor* descriptor_;
  ih_host_api api_;
  std::string tenant_ = "tenant";
  std::string public_url_;
  std::atomic<int64_t> remaining_ms_{INT64_MAX};
  std::vector<ih_plugin*> instances_;
  std::atomic<int64_t> live_buffers_{0};

  mutable std::mutex mutex_;  // guards everything below
  HttpHandler http_handler_;
  std::map<std::pair<std::string, std::string>, std::string> credentials_;
  std::map<std::tuple<std::string, std::string, std::string>, std::string> state_;
  std::map<std::tuple<std::string, std::string, std::string, std::string>, StoredRecord> records_;
  std::vector<EmittedEvent> events_;
  std::set<std::string> event_keys_;  // tenant \n integration \n dedupe_key of emit_event_once
  struct CommitFailure {
    size_t after;
    ih_status code;
    std::string message;
  };
  std::optional<CommitFailure> commit_failure_;
  size_t records_commits_ = 0;
  std::vector<LogLine> logs_;
  std::vector<HttpExchange> http_requests_;
  std::map<std::string, std::string> prompt_answers_;
  std::vector<std::string> prompts_;
  std::map<std::string, std::string> bound_accounts_;
  std::vector<std::tuple<std::string, std::string, std::string>> ingested_;
  std::map<std::tuple<std::string, std::string, std::string>, std::string> secrets_;
};

}  // namespace ih::sdk::testing

#endif  // IH_TESTING_FAKE_HOST_HPP

/*
 * ihost plugin ABI, version 1.5 (IH_ABI_MAJOR.IH_ABI_MINOR below): the only contract between the ihost server
 * and a provider plugin.
 *
 * Conventions
 * -----------
 * - Pure C99. No C++ types, no exceptions and no allocator ever cross this boundary, so a plugin built with
 *   another compiler, standard library or JSON library loads as long as it speaks this header.
 * - Entry point: a plugin exports exactly one symbol, `ih_plugin_entry`. It returns a pointer to a static,
 *   read-only `ih_plugin_descriptor` that lives as long as the library is loaded (or NULL to refuse).
 * - Versioning: the host requires `abi_major == IH_ABI_MAJOR` and accepts `abi_minor <= ` its own minor.
 *   A minor version only appends fields at the end of structs; every struct that crosses the boundary starts
 *   with `uint32_t struct_size`, and a reader never touches a field that lies beyond the size it was given.
 * - Strings and byte buffers are `ih_str` views: `{ptr, len}`, not NUL-terminated, UTF-8 for text, raw bytes
 *   for bodies (webhook signatures are computed over exact bytes). A view passed as an argument is BORROWED:
 *   valid only until the function it was passed to returns. Copy what you keep.
 * - Metadata (HTTP method, path, headers, query, tenant, config) travels as JSON text in an `ih_str`.
 * - Ownership: nobody frees the other side's memory. Results flow back through host calls that COPY their
 *   arguments (`respond`, `set_result`, `set_error`, `credentials_put`, ...). When the host hands the plugin
 *   a buffer (`ih_buf*`), the plugin reads it with `buf_view` and releases it with `buf_free`.
 * - Handles: `ih_plugin` is the plugin's own opaque instance (one per configured integration, created by
 *   `create`, released by `destroy`). `ih_call` is the host's opaque per-call context: it names the tenant
 *   and integration the call serves, so every host service is scoped by the host, never by the plugin. An
 *   `ih_call*` is valid only during the handler invocation that received it. From ABI 1.3 a handler may also
 *   use it from threads it starts (e.g. to commit one sync page while fetching the next) provided they finish
 *   before the handler returns; `last_error` is then per thread. `set_result`, `set_error`, `respond` and
 *   `prompt` belong to the handler's own thread.
 * - Errors: every fallible function returns an `ih_status` (0 = IH_OK). A handler that fails returns a
 *   non-zero status and should call `set_error` with a human-readable message (no secrets). Host services
 *   return a status and, on failure, a message retrievable with `last_error`.
 * - Threading: host services are thread-safe. Handlers of one instance may run concurrently on different
 *   threads (each with its own `ih_call`) unless the descriptor sets IH_FLAG_SERIALIZE. A job never overlaps
 *   itself for the same tenant. `create` and `destroy` are never concurrent with any other call on the
 *   instance.
 */
#ifndef IH_PLUGIN_ABI_H
#define IH_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IH_ABI_MAJOR 1
#define IH_ABI_MINOR 5

#if defined(_WIN32)
#define IH_EXPORT __declspec(dllexport)
#else
#define IH_EXPORT __attribute__((visibility("default")))
#endif

/* A borrowed view of bytes. `ptr` may be NULL only when `len` is 0. */
typedef struct ih_str {
  const char* ptr;
  size_t len;
} ih_str;

typedef struct ih_call ih_call;     /* host-owned per-call context (opaque) */
typedef struct ih_plugin ih_plugin; /* plugin-owned instance (opaque to the host) */
typedef struct ih_buf ih_buf;       /* host-owned buffer: read with buf_view, release with buf_free */

/* Status codes. The host maps them to HTTP statuses for API callers (shown in brackets). */
typedef int32_t ih_status;
#define IH_OK 0
#define IH_ERR_INVALID_ARGUMENT 1  /* bad input from the caller [400] */
#define IH_ERR_NOT_FOUND 2         /* [404] */
#define IH_ERR_UNAUTHENTICATED 3   /* credentials missing or rejected by the provider [401] */
#define IH_ERR_PERMISSION_DENIED 4 /* [403] */
#define IH_ERR_CONFLICT 5          /* [409] */
#define IH_ERR_RATE_LIMITED 6      /* [429] */
#define IH_ERR_UNAVAILABLE 7       /* provider unreachable or timed out; retryable [503] */
#define IH_ERR_PROVIDER 8          /* the provider refused the request; message says why [502] */
#define IH_ERR_UNSUPPORTED 9       /* operation not implemented by this plugin [501] */
#define IH_ERR_TOO_LARGE 10        /* [413] */
#define IH_ERR_INTERNAL 11         /* a bug; also what a thrown exception becomes [500] */
#define IH_ERR_SIGNATURE 12        /* webhook signature or timestamp check failed [400] */
#define IH_ERR_CANCELLED 13        /* ABI 1.2: the operator cancelled an interactive workflow [409] */
#define IH_ERR_DEADLINE 14 /* ABI 1.5: the call's deadline passed; stop and return it; retryable [504] */

/* Log levels for host->log. */
#define IH_LOG_DEBUG 0
#define IH_LOG_INFO 1
#define IH_LOG_WARN 2
#define IH_LOG_ERROR 3

/* Capability flags (ih_plugin_descriptor.capabilities): which handler groups the plugin implements. */
#define IH_CAP_ROUTES ((uint64_t)1 << 0)   /* handle_route */
#define IH_CAP_WEBHOOKS ((uint64_t)1 << 1) /* verify_webhook + handle_webhook */
#define IH_CAP_JOBS ((uint64_t)1 << 2)     /* run_job */
#define IH_CAP_ACTIONS ((uint64_t)1 << 3)  /* run_action */
#define IH_CAP_CONNECT ((uint64_t)1 << 4)  /* connect + test_connection + disconnect */
#define IH_CAP_OAUTH ((uint64_t)1 << 5)    /* oauth_authorize + oauth_complete (ABI 1.2) */

/* Behaviour flags (ih_plugin_descriptor.flags). */
#define IH_FLAG_SERIALIZE ((uint32_t)1 << 0) /* host never runs two handlers of one instance at once */

/*
 * Services the host offers to a plugin. The table is owned by the host and outlives every instance created
 * with it. Unless said otherwise, `call` must be the context of the handler currently running.
 */
typedef struct ih_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Structured log line. `fields_json` is a JSON object (or empty). The host masks secrets it knows about and
   * anything shaped like a key, but plugins must still never log secrets. `call` may be NULL. */
  void (*log)(ih_call* call, int32_t level, ih_str message, ih_str fields_json);

  /* Outbound HTTP through the host (timeouts, retries with backoff, Retry-After, idempotency keys, rate
   * budget, metrics). `request_json`: {"method","url","headers":{..},"timeout_ms"?,"idempotency_key"?,
   * "endpoint"? (a metrics label such as "/v1/balance"),"max_attempts"?}. On IH_OK the host sets
   * `*response_json` to {"status":int,"headers":{..},"attempts":int} and `*response_body` to the raw body;
   * the plugin frees both. A non-2xx answer is still IH_OK: only transport failures are errors. */
  ih_status (*http_request)(ih_call* call, ih_str request_json, ih_str body, ih_buf** response_json,
                            ih_buf** response_body);

  /* The calling tenant's stored credentials for this integration, as the JSON object the plugin stored.
   * IH_ERR_NOT_FOUND when not connected. The plugin frees `*out` (the host zeroes it on free). */
  ih_status (*credentials_get)(ih_call* call, ih_buf** out);
  /* Store (replace) credentials, encrypted by the host. Only allowed inside `connect`. */
  ih_status (*credentials_put)(ih_call* call, ih_str credentials_json);

  /* Per tenant+integration key/value state (sync cursors, settings the plugin learned). */
  ih_status (*state_get)(ih_call* call, ih_str key, ih_buf** out); /* IH_ERR_NOT_FOUND if absent */
  ih_status (*state_put)(ih_call* call, ih_str key, ih_str value);

  /* Records store for the calling tenant and integration. `records_json` is an array of
   * {"id":"…","data":{…},"updated_at":unix_seconds}; a record older than the stored one is skipped. */
  ih_status (*records_upsert)(ih_call* call, ih_str model, ih_str records_json);
  ih_status (*records_delete)(ih_call* call, ih_str model, ih_str id, int64_t updated_at);

  /* Emit a normalized event to the calling tenant's stream (`type` like "invoice.updated", `data_json` an
   * object). In handle_webhook, the n-th event of a type is stored once per handling of that webhook: when
   * the host hands the same webhook over again (a retry, or after a crash), emitting it again is a no-op
   * that returns IH_OK. */
  ih_status (*emit_event)(ih_call* call, ih_str type, ih_str data_json);

  /* HTTP answer for handle_route: status, headers as a JSON object (or empty), raw body. Last call wins. */
  ih_status (*respond)(ih_call* call, int32_t http_status, ih_str headers_json, ih_str body);
  /* Structured result (JSON) for verify_webhook, run_action, connect, test_connection and run_job. */
  ih_status (*set_result)(ih_call* call, ih_str result_json);
  /* Human-readable error message for the status the handler is about to return. No secrets. */
  void (*set_error)(ih_call* call, ih_str message);
  /* Message of the last failed host service call on this `call` (empty view when none). Valid until the next
   * host call on the same context. */
  ih_str (*last_error)(ih_call* call);

  /* Host-owned buffers. `buf_view(NULL)` is an empty view; `buf_free(NULL)` does nothing. */
  ih_str (*buf_view)(const ih_buf* buf);
  void (*buf_free)(ih_buf* buf);

  /* ---- ABI 1.1
   * ---------------------------------------------------------------------------------------------- A plugin
   * built against 1.1 may be handed a 1.0 table by an older host only if it accepted host minor 0 in
   * ih_plugin_entry; check `struct_size > offsetof(ih_host_api, field)` before calling a 1.1 service. */

  /* records_upsert + state_put in ONE transaction: a sync page and its cursor commit together, so a crash
   * resumes at the last committed page with no gap and no duplicate. An empty `state_key` writes records
   * only. */
  ih_status (*records_commit)(ih_call* call, ih_str model, ih_str records_json, ih_str state_key,
                              ih_str state_value);
  /* Asks the operator running an interactive workflow (`ihost setup`, the admin console). `prompt_json`:
   * {"key","message","kind":"text"|"secret"|"confirm"|"choice","choices"?:[..],"default"?}. `*answer` is the
   * answer text (plugin frees; wiped on free for "secret"). IH_ERR_UNSUPPORTED when nobody can answer (a
   * non-interactive run without a preset for `key`: use the default); IH_ERR_CANCELLED (ABI 1.2) when the
   * operator cancelled the workflow (stop, return it). */
  ih_status (*prompt)(ih_call* call, ih_str prompt_json, ih_buf** answer);
  /* Platform webhooks: binds a provider account id (e.g. "acct_…") to the calling tenant (`bind` = 1) or
   * unbinds it (0), so events of that account are routed to this tenant. IH_ERR_CONFLICT when another tenant
   * holds it. */
  ih_status (*bind_account)(ih_call* call, ih_str account, int32_t bind);
  /* Feeds a provider event into the inbox as if its webhook had been received (reconciliation after an
   * outage), deduplicated by event id like real deliveries. `meta_json`:
   * {"event_id","type","occurred_at","object_id"?}. Returns IH_OK for a new event and for a duplicate alike;
   * `last_error` says "duplicate" then. */
  ih_status (*inbox_ingest)(ih_call* call, ih_str meta_json, ih_str body);
  /* Named secrets of the calling tenant for this integration besides the connect credentials (e.g. the
   * webhook signing secret a setup workflow created), encrypted by the host. Allowed in connect, actions and
   * jobs. get: IH_ERR_NOT_FOUND when absent; the plugin frees `*out` (wiped on free). */
  ih_status (*secret_put)(ih_call* call, ih_str name, ih_str value);
  ih_status (*secret_get)(ih_call* call, ih_str name, ih_buf** out);

  /* ---- ABI 1.2 ------------------------------------------------------------------------------------------
   * Check `struct_size > offsetof(ih_host_api, field)` before calling a 1.2 service on an unknown host. */

  /* The provider revoked the calling tenant's access on its side (e.g. Stripe's account.application.
   * deauthorized webhook): wipes the tenant's stored credentials and named secrets for this integration,
   * marks the connection inactive, writes an audit entry with `reason` (free text, no secrets) and emits
   * "integration.disconnected". Accounts stay bound: unbind them with bind_account(…, 0). Allowed in every
   * handler that has a tenant. IH_ERR_NOT_FOUND when the tenant is not connected (already wiped). */
  ih_status (*credentials_delete)(ih_call* call, ih_str reason);
  /* Who this call serves, as the host knows it (a plugin never takes a tenant id from its caller's input):
   * `*out` = {"tenant":"…" ("" for calls without one: create, platform webhook verification),
   * "integration":"…","handler":"run_action"|"run_job"|…,"public_url":"…" (the host's configured public
   * base URL, "" when not configured)}. The plugin frees `*out`. */
  ih_status (*call_info)(ih_call* call, ih_buf** out);

  /* ---- ABI 1.4 ------------------------------------------------------------------------------------------
   * Check `struct_size > offsetof(ih_host_api, field)` before calling a 1.4 service on an unknown host. */

  /* emit_event, at most once: of all the events the calling tenant's integration emits with the same
   * `dedupe_key` (1-200 bytes of printable ASCII, e.g. "transaction.created:txn_123"), only the first is
   * ever stored and delivered; a repeat returns IH_OK and emits nothing. Keys are scoped to the tenant and
   * the integration. Use it where one provider object may be seen many times (sync passes that overlap,
   * replays) but the tenant's app should hear of it once. */
  ih_status (*emit_event_once)(ih_call* call, ih_str type, ih_str data_json, ih_str dedupe_key);

  /* ---- ABI 1.5 ------------------------------------------------------------------------------------------
   * Check `struct_size > offsetof(ih_host_api, field)` before calling a 1.5 service on an unknown host. */

  /* Milliseconds left before this call's deadline (the host's [plugins] call_timeout_ms, job_timeout_ms or a
   * job's own timeout); INT64_MAX when the call has none, <= 0 once it passed. A long-running handler checks
   * it between steps and, once it is <= 0, stops and returns IH_ERR_DEADLINE (the host answers such a call as
   * a retryable failure anyway: 504 to an API caller, a retry for a webhook). http_request never waits past
   * the deadline and answers IH_ERR_DEADLINE after it. */
  int64_t (*call_remaining_ms)(ih_call* call);
} ih_host_api;

/* clang-format off */
/*
 * Handlers. Each returns IH_OK or an error status (after set_error). Inputs are borrowed for the call.
 *
 * create:          one instance per configured integration. `integration_id` is the TOML table name,
 *                  `config_json` the integration's settings, already validated against the manifest's
 *                  config schema. Store `host` if needed: it outlives the instance.
 * handle_route:    an HTTP request on a route the manifest declares. `request_json`: {"method","path",
 *                  "route","params":{..},"query":{..},"headers":{..},"tenant"}. Answer with host->respond.
 * verify_webhook:  check the signature over the exact `body` bytes. On success set_result with
 *                  {"event_id","type","occurred_at":unix_s,"object_id"?,"account"?} and return IH_OK; on a
 *                  bad signature or stale timestamp return IH_ERR_SIGNATURE. `request_json` as for routes.
 *                  For platform webhooks `tenant` is empty and "account" names the provider account.
 * handle_webhook:  process one stored event (a first delivery, a retry or a replay: be idempotent).
 *                  `event_json`: {"id","event_id","type","attempt","received_at","occurred_at","object_id",
 *                  "tenant","stale"}. "stale" is true when the host already applied a newer event for the
 *                  same object (out-of-order guard): skip state changes then.
 * run_job:         one run of a scheduled job. `params_json`: {"full":bool,...}. Cursors live in the host:
 *                  state_get, and records_commit to store a page with its new cursor atomically.
 * run_action:      a named action from the manifest; `input_json` is the caller's JSON; set_result the
 *                  output. Interactive workflows (setup) are actions that use `prompt`.
 * connect:         validate `input_json` (format checks, then a live provider call) and credentials_put.
 *                  Store nothing on failure.
 * test_connection: live health check with stored credentials; set_result {"ok":bool,"detail":…}.
 * disconnect:      revoke at the provider when that applies; the host wipes stored credentials afterwards.
 *
 * ABI 1.2 (IH_CAP_OAUTH; the host reads these two fields only when struct_size covers them). The host owns the
 * OAuth `state` (random, signed, bound to the tenant, single-use, expiring) and the routes
 * GET /api/integrations/<id>/oauth/start and GET /oauth/<id>/callback; the plugin only speaks the provider.
 * oauth_authorize: `params_json` {"state","redirect_uri"}; set_result {"url"}: the provider's consent page
 *                  URL carrying `state` unchanged. No provider call is needed. `redirect_uri` is the host's
 *                  callback URL (the plugin may use its own configured one instead).
 * oauth_complete:  runs after the host verified and consumed the state, under the tenant's context.
 *                  `params_json` {"query":{every callback query parameter},"redirect_uri"}. Exchanges the code,
 *                  credentials_put (staged: stored only if the handler succeeds), bind_account for
 *                  platform webhooks; set_result {"account","livemode",...} (non-secret facts, shown to the
 *                  tenant as the connection's info).
 */
/* clang-format on */
typedef struct ih_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  uint64_t capabilities; /* IH_CAP_* */
  uint32_t flags;        /* IH_FLAG_* */
  uint32_t reserved0;    /* zero */
  /* NUL-terminated UTF-8 JSON manifest, static storage. Format: docs/plugin-abi.md. */
  const char* manifest_json;

  ih_status (*create)(const ih_host_api* host, ih_call* call, ih_str integration_id, ih_str config_json,
                      ih_plugin** out_instance);
  void (*destroy)(ih_plugin* instance);

  ih_status (*handle_route)(ih_plugin* self, ih_call* call, ih_str request_json, ih_str body);
  ih_status (*verify_webhook)(ih_plugin* self, ih_call* call, ih_str request_json, ih_str body);
  ih_status (*handle_webhook)(ih_plugin* self, ih_call* call, ih_str event_json, ih_str body);
  ih_status (*run_job)(ih_plugin* self, ih_call* call, ih_str job_name, ih_str params_json);
  ih_status (*run_action)(ih_plugin* self, ih_call* call, ih_str action_name, ih_str input_json);
  ih_status (*connect)(ih_plugin* self, ih_call* call, ih_str input_json);
  ih_status (*test_connection)(ih_plugin* self, ih_call* call);
  ih_status (*disconnect)(ih_plugin* self, ih_call* call);

  /* ---- ABI 1.2 (IH_CAP_OAUTH) */
  ih_status (*oauth_authorize)(ih_plugin* self, ih_call* call, ih_str params_json);
  ih_status (*oauth_complete)(ih_plugin* self, ih_call* call, ih_str params_json);
} ih_plugin_descriptor;

/* The one exported symbol. The host passes its own ABI version; return NULL to refuse to load. */
typedef const ih_plugin_descriptor* (*ih_plugin_entry_fn)(uint16_t host_major, uint16_t host_minor);
#define IH_PLUGIN_ENTRY_SYMBOL "ih_plugin_entry"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* IH_PLUGIN_ABI_H */

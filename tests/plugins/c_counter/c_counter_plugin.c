/* c_counter: a complete ihost plugin in plain C99 (-std=c99 -pedantic, no C++ anywhere), proving the ABI needs
 * nothing but sdk/include/ih/plugin_abi.h. Per tenant it keeps a counter:
 *   - action "increment" {"by": 1..1000000} (default 1): state "count" += by, a record counter/total, and the
 *     event c_counter.incremented {"count": n}; answers {"count": n}
 *   - route GET /count (tenant auth): {"count": n}
 * The host's services do the rest (tenant isolation, persistence, events). Hand-written JSON on both sides:
 * the only input parsed is the action's small object, with bounded loops and no recursion. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ih/plugin_abi.h"

static const char kManifest[] =
    "{\"name\":\"c_counter\",\"version\":\"1.0.0\",\"display_name\":\"C counter\","
    "\"description\":\"A plugin in plain C99: a per-tenant counter (state, records, events, a route).\","
    "\"config_schema\":{\"type\":\"object\",\"properties\":{}},"
    "\"routes\":[{\"method\":\"GET\",\"path\":\"/count\",\"auth\":\"tenant\"}],"
    "\"actions\":[{\"name\":\"increment\",\"description\":\"Adds by (1-1000000, default 1) to the counter.\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"by\":{\"type\":\"integer\",\"minimum\":1,"
    "\"maximum\":1000000}}}}],"
    "\"events\":[\"c_counter.incremented\"]}";

#define MAX_BY 1000000

typedef struct counter_plugin {
  const ih_host_api* host;
} counter_plugin;

static counter_plugin g_instance; /* stateless: every tenant's data lives in the host */

static ih_str str_of(const char* s, size_t len) {
  ih_str out;
  out.ptr = s;
  out.len = len;
  return out;
}

static ih_str lit(const char* s) {
  return str_of(s, strlen(s));
}

static ih_status fail(const ih_host_api* host, ih_call* call, ih_status code, const char* message) {
  host->set_error(call, lit(message));
  return code;
}

/* A non-negative decimal of at most 15 digits at `text`, or -1. */
static int64_t parse_count(const char* text, size_t len) {
  int64_t value = 0;
  size_t i;
  if (len == 0 || len > 15) return -1;
  for (i = 0; i < len; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

/* The stored count (0 when unset), or -1 after set_error. */
static int64_t load_count(const ih_host_api* host, ih_call* call) {
  ih_buf* buf = NULL;
  ih_status s = host->state_get(call, lit("count"), &buf);
  int64_t value;
  ih_str view;
  if (s == IH_ERR_NOT_FOUND) return 0;
  if (s != IH_OK) return -1;
  view = host->buf_view(buf);
  value = parse_count(view.ptr, view.len);
  host->buf_free(buf);
  if (value < 0) fail(host, call, IH_ERR_INTERNAL, "stored count is not a number");
  return value;
}

/* "by" of {"by": n} (whitespace allowed around tokens): 1 when absent, -1 when present but not 1..MAX_BY.
 * Any other member is ignored (the host validated the input against input_schema first). */
static int64_t parse_by(ih_str input) {
  const char* p = input.ptr;
  const char* end = input.ptr + input.len;
  const char* key = NULL;
  size_t i;
  int64_t value = 0;
  size_t digits = 0;
  for (i = 0; i + 4 <= input.len; ++i) {
    if (memcmp(p + i, "\"by\"", 4) == 0) {
      key = p + i + 4;
      break;
    }
  }
  if (key == NULL) return 1;
  while (key < end && (*key == ' ' || *key == '\t' || *key == '\n' || *key == '\r')) ++key;
  if (key == end || *key != ':') return -1;
  ++key;
  while (key < end && (*key == ' ' || *key == '\t' || *key == '\n' || *key == '\r')) ++key;
  while (key < end && *key >= '0' && *key <= '9' && digits < 8) {
    value = value * 10 + (*key - '0');
    ++key;
    ++digits;
  }
  if (digits == 0 || (key < end && *key >= '0' && *key <= '9')) return -1;
  if (value < 1 || value > MAX_BY) return -1;
  return value;
}

static ih_status counter_create(const ih_host_api* host, ih_call* call, ih_str integration_id, ih_str config_json,
                                ih_plugin** out_instance) {
  (void)call;
  (void)integration_id;
  (void)config_json;
  g_instance.host = host;
  *out_instance = (ih_plugin*)&g_instance;
  return IH_OK;
}

static void counter_destroy(ih_plugin* self) {
  (void)self;
}

static ih_status counter_route(ih_plugin* self, ih_call* call, ih_str request_json, ih_str body) {
  const ih_host_api* host = ((counter_plugin*)self)->host;
  char answer[64];
  int64_t count;
  (void)body;
  /* The manifest declares one route, GET /count: the host routes nothing else here. */
  (void)request_json;
  count = load_count(host, call);
  if (count < 0) return IH_ERR_INTERNAL;
  snprintf(answer, sizeof answer, "{\"count\":%lld}", (long long)count);
  return host->respond(call, 200, lit("{\"Content-Type\":\"application/json\"}"), lit(answer));
}

static ih_status counter_action(ih_plugin* self, ih_call* call, ih_str action, ih_str input_json) {
  const ih_host_api* host = ((counter_plugin*)self)->host;
  char text[32], record[160], result[64];
  int64_t count, by;
  ih_status s;
  if (action.len != 9 || memcmp(action.ptr, "increment", 9) != 0)
    return fail(host, call, IH_ERR_NOT_FOUND, "no such action");
  by = parse_by(input_json);
  if (by < 0) return fail(host, call, IH_ERR_INVALID_ARGUMENT, "by must be an integer from 1 to 1000000");
  count = load_count(host, call);
  if (count < 0) return IH_ERR_INTERNAL;
  count += by;
  snprintf(text, sizeof text, "%lld", (long long)count);
  s = host->state_put(call, lit("count"), lit(text));
  if (s != IH_OK) return s;
  /* The count only grows, so it also orders the record's versions (updated_at): a newer one always wins. */
  snprintf(record, sizeof record, "[{\"id\":\"total\",\"data\":{\"count\":%lld},\"updated_at\":%lld}]",
           (long long)count, (long long)count);
  s = host->records_upsert(call, lit("counter"), lit(record));
  if (s != IH_OK) return s;
  snprintf(result, sizeof result, "{\"count\":%lld}", (long long)count);
  s = host->emit_event(call, lit("c_counter.incremented"), lit(result));
  if (s != IH_OK) return s;
  return host->set_result(call, lit(result));
}

static const ih_plugin_descriptor kDescriptor = {
    sizeof(ih_plugin_descriptor),
    IH_ABI_MAJOR,
    IH_ABI_MINOR,
    IH_CAP_ROUTES | IH_CAP_ACTIONS,
    IH_FLAG_SERIALIZE, /* read-modify-write of the counter: one handler at a time */
    0,
    kManifest,
    counter_create,
    counter_destroy,
    counter_route,
    NULL, /* verify_webhook */
    NULL, /* handle_webhook */
    NULL, /* run_job */
    counter_action,
    NULL, /* connect */
    NULL, /* test_connection */
    NULL, /* disconnect */
    NULL, /* oauth_authorize */
    NULL, /* oauth_complete */
};

IH_EXPORT const ih_plugin_descriptor* ih_plugin_entry(uint16_t host_major, uint16_t host_minor) {
  (void)host_minor;
  return host_major == IH_ABI_MAJOR ? &kDescriptor : NULL;
}

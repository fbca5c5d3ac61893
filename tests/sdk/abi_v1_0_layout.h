/* The pinned layout (v1.0, plus the fields v1.1 and v1.2 appended) of every struct in ih/plugin_abi.h on
 * x86_64 / LP64 (System V): offset and size of each field, size of each struct. Shared by the C99 and C++17
 * compile checks and the runtime test, so an accidental reorder, resize or insertion fails the build. Minors
 * may only APPEND fields: existing rows never change, new rows are added and the struct sizes grow. */
#ifndef IH_TESTS_SDK_ABI_V1_0_LAYOUT_H
#define IH_TESTS_SDK_ABI_V1_0_LAYOUT_H

/* X(struct, field, offset, size) */
#define IH_ABI_V1_0_FIELDS(X)                      \
  X(ih_str, ptr, 0, 8)                             \
  X(ih_str, len, 8, 8)                             \
  X(ih_host_api, struct_size, 0, 4)                \
  X(ih_host_api, abi_major, 4, 2)                  \
  X(ih_host_api, abi_minor, 6, 2)                  \
  X(ih_host_api, log, 8, 8)                        \
  X(ih_host_api, http_request, 16, 8)              \
  X(ih_host_api, credentials_get, 24, 8)           \
  X(ih_host_api, credentials_put, 32, 8)           \
  X(ih_host_api, state_get, 40, 8)                 \
  X(ih_host_api, state_put, 48, 8)                 \
  X(ih_host_api, records_upsert, 56, 8)            \
  X(ih_host_api, records_delete, 64, 8)            \
  X(ih_host_api, emit_event, 72, 8)                \
  X(ih_host_api, respond, 80, 8)                   \
  X(ih_host_api, set_result, 88, 8)                \
  X(ih_host_api, set_error, 96, 8)                 \
  X(ih_host_api, last_error, 104, 8)               \
  X(ih_host_api, buf_view, 112, 8)                 \
  X(ih_host_api, buf_free, 120, 8)                 \
  /* 1.1 appended */                               \
  X(ih_host_api, records_commit, 128, 8)           \
  X(ih_host_api, prompt, 136, 8)                   \
  X(ih_host_api, bind_account, 144, 8)             \
  X(ih_host_api, inbox_ingest, 152, 8)             \
  X(ih_host_api, secret_put, 160, 8)               \
  X(ih_host_api, secret_get, 168, 8)               \
  /* 1.2 appended */                               \
  X(ih_host_api, credentials_delete, 176, 8)       \
  X(ih_host_api, call_info, 184, 8)                \
  /* 1.4 appended */                               \
  X(ih_host_api, emit_event_once, 192, 8)          \
  /* 1.5 appended */                               \
  X(ih_host_api, call_remaining_ms, 200, 8)        \
  X(ih_plugin_descriptor, struct_size, 0, 4)       \
  X(ih_plugin_descriptor, abi_major, 4, 2)         \
  X(ih_plugin_descriptor, abi_minor, 6, 2)         \
  X(ih_plugin_descriptor, capabilities, 8, 8)      \
  X(ih_plugin_descriptor, flags, 16, 4)            \
  X(ih_plugin_descriptor, reserved0, 20, 4)        \
  X(ih_plugin_descriptor, manifest_json, 24, 8)    \
  X(ih_plugin_descriptor, create, 32, 8)           \
  X(ih_plugin_descriptor, destroy, 40, 8)          \
  X(ih_plugin_descriptor, handle_route, 48, 8)     \
  X(ih_plugin_descriptor, verify_webhook, 56, 8)   \
  X(ih_plugin_descriptor, handle_webhook, 64, 8)   \
  X(ih_plugin_descriptor, run_job, 72, 8)          \
  X(ih_plugin_descriptor, run_action, 80, 8)       \
  X(ih_plugin_descriptor, connect, 88, 8)          \
  X(ih_plugin_descriptor, test_connection, 96, 8)  \
  X(ih_plugin_descriptor, disconnect, 104, 8)      \
  /* 1.2 appended */                               \
  X(ih_plugin_descriptor, oauth_authorize, 112, 8) \
  X(ih_plugin_descriptor, oauth_complete, 120, 8)

/* X(struct, size) */
#define IH_ABI_V1_0_SIZES(X) \
  X(ih_str, 16)              \
  X(ih_host_api, 208)        \
  X(ih_plugin_descriptor, 128)

#endif /* IH_TESTS_SDK_ABI_V1_0_LAYOUT_H */

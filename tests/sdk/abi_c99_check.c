/* plugin_abi.h must compile as strict C99 (-std=c99 -pedantic -Wall -Wextra -Werror) and give the pinned
 * v1.0 layout to a C compiler too. C99 has no _Static_assert: a negative array size fails the build. */
#include <stddef.h>

#include "abi_v1_0_layout.h"
#include "ih/plugin_abi.h"

#if defined(__x86_64__) && defined(__LP64__)
#define IH_CHECK_FIELD(type, field, offset, size)                                              \
  typedef char ih_check_offset_##type##_##field[(offsetof(type, field) == (offset)) ? 1 : -1]; \
  typedef char ih_check_size_##type##_##field[(sizeof(((type*)0)->field) == (size)) ? 1 : -1];
#define IH_CHECK_SIZE(type, size) typedef char ih_check_sizeof_##type[(sizeof(type) == (size)) ? 1 : -1];
IH_ABI_V1_0_FIELDS(IH_CHECK_FIELD)
IH_ABI_V1_0_SIZES(IH_CHECK_SIZE)
#endif

/* Use every type and macro once so that a broken definition cannot hide behind dead code. */
int ih_c99_check_versions(void);
int ih_c99_check_versions(void) {
  ih_str s = {"x", 1};
  ih_plugin_entry_fn entry = NULL;
  uint64_t caps =
      IH_CAP_ROUTES | IH_CAP_WEBHOOKS | IH_CAP_JOBS | IH_CAP_ACTIONS | IH_CAP_CONNECT | IH_CAP_OAUTH;
  (void)entry;
  return (int)s.len + IH_ABI_MAJOR + IH_ABI_MINOR + (int)(caps & 1u) + (int)IH_FLAG_SERIALIZE +
         IH_ERR_SIGNATURE + IH_LOG_ERROR + (int)sizeof(IH_PLUGIN_ENTRY_SYMBOL);
}

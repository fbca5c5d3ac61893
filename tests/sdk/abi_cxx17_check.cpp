// plugin_abi.h must compile as C++17 with -Werror and give the pinned v1.0 layout to a C++ compiler too.
#include <cstddef>
#include <type_traits>

#include "abi_v1_0_layout.h"
#include "ih/plugin_abi.h"

#if defined(__x86_64__) && defined(__LP64__)
#define IH_CHECK_FIELD(type, field, offset, size)                              \
  static_assert(offsetof(type, field) == (offset), #type "." #field " moved"); \
  static_assert(sizeof(std::declval<type>().field) == (size), #type "." #field " resized");
#define IH_CHECK_SIZE(type, size) static_assert(sizeof(type) == (size), "sizeof(" #type ") changed");
IH_ABI_V1_0_FIELDS(IH_CHECK_FIELD)
IH_ABI_V1_0_SIZES(IH_CHECK_SIZE)
#endif

static_assert(std::is_standard_layout_v<ih_plugin_descriptor>, "descriptor must stay a C struct");
static_assert(std::is_trivially_copyable_v<ih_host_api>, "host table must stay a C struct");
static_assert(std::is_same_v<ih_plugin_entry_fn, const ih_plugin_descriptor* (*)(uint16_t, uint16_t)>);

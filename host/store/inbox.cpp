// Webhook inbox persistence (schema v2). Owned by the inbox work; see store.h.
#include <string_view>

namespace ih::store {

extern const std::string_view kV2InboxSchema;
const std::string_view kV2InboxSchema = R"sql(
CREATE TABLE webhook_events(
  id INTEGER PRIMARY KEY AUTOINCREMENT
);
)sql";

}  // namespace ih::store

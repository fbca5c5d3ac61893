// Records, normalized events and idempotent action results (schema v3). See store.h.
#include <string_view>

namespace ih::store {

extern const std::string_view kV3RecordsSchema;
const std::string_view kV3RecordsSchema = R"sql(
CREATE TABLE records(
  seq INTEGER PRIMARY KEY AUTOINCREMENT
);
)sql";

}  // namespace ih::store

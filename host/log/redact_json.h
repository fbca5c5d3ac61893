// redact() for JSON values: masks secret-shaped text in every string value and leaves keys alone (redacting a
// document's text as a whole would also mangle keys such as "webhook_secret_set", which contain "_secret_").
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace ih {

// In place; iterative, so any nesting is safe.
void redactStrings(nlohmann::json& value);

}  // namespace ih

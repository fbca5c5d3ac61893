#include "log/redact_json.h"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "log/log.h"

namespace ih {

void redactStrings(nlohmann::json& value) {
  std::vector<nlohmann::json*> pending{&value};
  while (!pending.empty()) {
    nlohmann::json* v = pending.back();
    pending.pop_back();
    if (v->is_string()) {
      *v = redact(v->get_ref<const std::string&>());
    } else if (v->is_object() || v->is_array()) {
      for (auto& item : *v)
        pending.push_back(&item);
    }
  }
}

}  // namespace ih

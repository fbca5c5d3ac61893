// Plugin manifest decoding (host/loader/registry.cpp, parseManifest): a plugin's manifest is plugin output
// the host must not trust. Never throws; an accepted manifest satisfies the documented contract the rest of
// the host relies on (name and version formats, routes with a known method and a '/'-path, schemas that
// are JSON objects, named jobs and actions, non-negative schedules).
#include <string>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "fuzz_check.h"
#include "loader/registry.h"

namespace {

bool validName(const std::string& name) {
  if (name.size() < 2 || name.size() > 40 || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ih::fuzz::asText(data, size);
  auto manifest = ih::loader::parseManifest(text);
  if (!manifest.isOk()) {
    IH_FUZZ_CHECK(!manifest.status().message().empty());
    IH_FUZZ_CHECK(ih::isValidUtf8(manifest.status().message()), "message is not valid UTF-8");
    return 0;
  }
  const ih::loader::Manifest& m = *manifest;
  IH_FUZZ_CHECK(m.raw_json == text);
  IH_FUZZ_CHECK(validName(m.name), "accepted name \"%s\"", m.name.c_str());
  IH_FUZZ_CHECK(!m.version.empty() && m.version[0] >= '0' && m.version[0] <= '9');
  IH_FUZZ_CHECK(!m.display_name.empty());
  IH_FUZZ_CHECK(nlohmann::json::parse(m.config_schema_json, nullptr, false).is_object());
  if (!m.connect_schema_json.empty())
    IH_FUZZ_CHECK(nlohmann::json::parse(m.connect_schema_json, nullptr, false).is_object());
  for (const auto& route : m.routes) {
    IH_FUZZ_CHECK(route.method == "GET" || route.method == "POST" || route.method == "PUT" ||
                  route.method == "PATCH" || route.method == "DELETE");
    IH_FUZZ_CHECK(route.path.size() >= 2 && route.path[0] == '/' && route.path.back() != '/');
    IH_FUZZ_CHECK(route.path.find("//") == std::string::npos);
  }
  for (const auto& job : m.jobs) {
    IH_FUZZ_CHECK(!job.name.empty());
    IH_FUZZ_CHECK(job.every_seconds >= 0);
    IH_FUZZ_CHECK(m.findJob(job.name) != nullptr);
  }
  for (const auto& action : m.actions) {
    IH_FUZZ_CHECK(!action.name.empty());
    if (!action.input_schema_json.empty())
      IH_FUZZ_CHECK(!nlohmann::json::parse(action.input_schema_json, nullptr, false).is_discarded());
    IH_FUZZ_CHECK(m.findAction(action.name) != nullptr);
  }
  return 0;
}

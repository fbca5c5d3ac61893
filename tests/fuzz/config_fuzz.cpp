// The TOML config loader (host/config): loadString never throws and never crashes on any text, with or
// without IHOST_* environment overrides; a refused config gives a message (valid UTF-8 when the text was); an
// accepted one is internally consistent: every integration's settings are a JSON object, and the masked
// summary and the validation of those settings against a real schema run without throwing.
//
// Input: the TOML text, optionally followed by "\n#ENV\n" and NAME=value lines used as the environment.
#include <string>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "config/config.h"
#include "fuzz_check.h"

namespace {

constexpr const char* kSchema = R"json({"type":"object","properties":{
  "api_base_url":{"type":"string","default":"https://api.example.com","pattern":"^https?://"},
  "greeting":{"type":"string","default":"Hello"},
  "webhook_secret":{"type":"string","secret":true},
  "timeout_ms":{"type":"integer","minimum":100,"maximum":120000,"default":10000},
  "catalog":{"type":"array","items":{"type":"object","properties":{"amount":{"type":"integer"}}}}},
  "required":["webhook_secret"]})json";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = ih::fuzz::asText(data, size);
  std::string_view toml = input;
  ih::config::Environment env;
  if (const size_t marker = input.find("\n#ENV\n"); marker != std::string_view::npos) {
    toml = input.substr(0, marker);
    std::string_view lines = input.substr(marker + 6);
    while (!lines.empty()) {
      const size_t eol = lines.find('\n');
      const std::string_view line = lines.substr(0, eol);
      if (const size_t eq = line.find('='); eq != std::string_view::npos)
        env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
      if (eol == std::string_view::npos) break;
      lines.remove_prefix(eol + 1);
    }
  }

  auto config = ih::config::loadString(toml, "/fuzz/ihost.toml", env);
  if (!config.isOk()) {
    IH_FUZZ_CHECK(!config.status().message().empty());
    if (ih::isValidUtf8(input))
      IH_FUZZ_CHECK(ih::isValidUtf8(config.status().message()), "message is not valid UTF-8");
    return 0;
  }
  std::map<std::string, std::string> schemas;
  for (const auto& integration : config->integrations) {
    const auto settings = nlohmann::json::parse(integration.settings_json, nullptr, false);
    IH_FUZZ_CHECK(settings.is_object(), "settings_json of %s is not a JSON object", integration.id.c_str());
    IH_FUZZ_CHECK(config->findIntegration(integration.id) != nullptr);
    schemas[integration.plugin] = kSchema;
    auto validated = ih::config::validateIntegration(*config, integration, kSchema);
    if (validated.isOk()) {
      IH_FUZZ_CHECK(nlohmann::json::parse(*validated, nullptr, false).is_object());
    }
  }
  const std::string summary = ih::config::maskedSummary(*config, schemas);
  IH_FUZZ_CHECK(!summary.empty());
  // A setting the schema marks secret never shows in the summary. Its text may still occur there by chance (in a
  // setting name the operator chose, in the summary's own words), so the property is causal: the summary with
  // the secret holds it no more often than the summary with the secret replaced by other bytes of its length.
  auto count = [](const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
      ++n;
    return n;
  };
  for (size_t i = 0; i < config->integrations.size(); ++i) {
    auto settings = nlohmann::json::parse(config->integrations[i].settings_json, nullptr, false);
    const auto secret = settings.find("webhook_secret");
    if (secret == settings.end() || !secret->is_string() || secret->get<std::string>().size() < 12) continue;
    const std::string value = secret->get<std::string>();
    ih::config::Config other = *config;
    std::string replacement(value.size(), '~');
    if (replacement == value) replacement.assign(value.size(), '^');
    settings["webhook_secret"] = replacement;
    other.integrations[i].settings_json =
        settings.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::string baseline = ih::config::maskedSummary(other, schemas);
    IH_FUZZ_CHECK(count(summary, value) <= count(baseline, value), "secret in the summary");
  }
  return 0;
}

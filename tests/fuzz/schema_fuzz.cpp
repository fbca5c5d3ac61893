// The JSON-Schema subset validator (host/config/schema.cpp): validateJson, applyDefaults and
// validateIntegration never throw, whatever the schema and document; a refused document yields a message
// that is valid UTF-8 (it goes into JSON error answers) and never shows a secret value; applyDefaults gives
// JSON that still validates when the document did.
//
// Input: byte 0 picks the mode.
//   mode 0: a fixed, realistic schema (the shipped Stripe BYOK config and connect schemas, the example
//           plugin's connect schema with its pattern) and a fuzzed document;
//   mode 1: fuzzed schema and document, separated by the first "\n--\n" (the schema alone otherwise).
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "config/config.h"
#include "fuzz_check.h"

namespace {

// Stripe BYOK's config_schema (plugins/stripe_byok, shared sync settings included) and connect schemas, and
// the example plugin's connect schema: the schemas real requests and configs are validated against.
constexpr const char* kSchemas[] = {
    R"json({"type":"object","properties":{
      "api_base_url":{"type":"string","default":"https://api.stripe.com","pattern":"^https?://"},
      "stripe_version":{"type":"string","default":"2024-06-20"},
      "timeout_ms":{"type":"integer","minimum":100,"maximum":120000,"default":20000},
      "webhook_tolerance_s":{"type":"integer","minimum":0,"maximum":86400,"default":300},
      "catalog":{"type":"array","items":{"type":"object",
        "properties":{"key":{"type":"string"},"name":{"type":"string"},"amount":{"type":"integer","minimum":0},
                      "currency":{"type":"string"},
                      "interval":{"type":"string","enum":["day","week","month","year"]},
                      "trial_days":{"type":"integer","minimum":0}},
        "required":["key","name","amount","currency"]},
        "default":[{"key":"starter","name":"Starter","amount":900,"currency":"usd","interval":"month","trial_days":7}]},
      "success_url":{"type":"string"},
      "rate_limit_per_s":{"type":"number","minimum":0,"default":0},
      "sync_expand_sources":{"type":"boolean","default":true},
      "sync_resolve_invoices":{"type":"boolean","default":true},
      "sync_commit_rows":{"type":"integer","minimum":100,"maximum":50000,"default":30000}}})json",
    R"json({"type":"object","properties":{
      "secret_key":{"type":"string","secret":true},
      "publishable_key":{"type":"string"},
      "webhook_secret":{"type":"string","secret":true}},
      "required":["secret_key","publishable_key"]})json",
    R"json({"type":"object","properties":{
      "api_key":{"type":"string","secret":true,"pattern":"^ex_[A-Za-z0-9]{8,}$"}},
      "required":["api_key"],"additionalProperties":false})json",
};

// A secret value must never appear in a message: find the strings under "secret": true properties.
void collectSecrets(const nlohmann::json& schema, const nlohmann::json& document,
                    std::vector<std::string>& out) {
  if (!schema.is_object() || !document.is_object()) return;
  auto properties = schema.find("properties");
  if (properties == schema.end() || !properties->is_object()) return;
  for (auto& [key, sub] : properties->items()) {
    // As the validator decides (config/schema.cpp isSecret): only a boolean true marks a secret.
    auto secret = sub.is_object() ? sub.find("secret") : sub.end();
    if (secret == sub.end() || !secret->is_boolean() || !secret->get<bool>() || !document.contains(key))
      continue;
    const auto& value = document[key];
    if (value.is_string() && value.get<std::string>().size() >= 8) out.push_back(value.get<std::string>());
  }
}

void check(std::string_view schema, std::string_view document) {
  const ih::Status status = ih::config::validateJson(schema, document, "fuzz body");
  IH_FUZZ_CHECK(ih::isValidUtf8(status.message()), "validation message is not valid UTF-8");
  const auto parsed_schema = nlohmann::json::parse(schema, nullptr, false);
  const auto parsed_document = nlohmann::json::parse(document, nullptr, false);
  if (parsed_document.is_discarded()) IH_FUZZ_CHECK(!status.isOk(), "an invalid document validated");
  if (!status.isOk() && !parsed_schema.is_discarded() && !parsed_document.is_discarded()) {
    std::vector<std::string> secrets;
    collectSecrets(parsed_schema, parsed_document, secrets);
    // Causal: the message holds the secret's text no more often than the message for the same document with
    // the secret replaced by other bytes of its length (its text may occur by chance, e.g. "publishab" in
    // "publishable_key").
    auto count = [](const std::string& haystack, const std::string& needle) {
      size_t n = 0;
      for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
        ++n;
      return n;
    };
    for (const std::string& secret : secrets) {
      nlohmann::json other = parsed_document;
      std::string replacement(secret.size(), '~');
      if (replacement == secret) replacement.assign(secret.size(), '^');
      for (auto& [key, value] : other.items())
        if (value.is_string() && value.get<std::string>() == secret) value = replacement;
      const ih::Status baseline = ih::config::validateJson(
          schema, other.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "fuzz body");
      IH_FUZZ_CHECK(count(status.message(), secret) <= count(baseline.message(), secret),
                    "a secret value is in the message");
    }
  }

  auto applied = ih::config::applyDefaults(schema, document);
  if (applied.isOk()) {
    const auto again = nlohmann::json::parse(*applied, nullptr, false);
    IH_FUZZ_CHECK(!again.is_discarded(), "applyDefaults produced invalid JSON");
  }
  // The fixed schemas' defaults are valid, so filling them in cannot break a valid document.
  if (status.isOk() && applied.isOk() && std::string_view(kSchemas[0]) == schema) {
    const ih::Status after = ih::config::validateJson(schema, *applied, "fuzz body");
    IH_FUZZ_CHECK(after.isOk(), "a valid document no longer validates after applyDefaults: %s",
                  after.message().c_str());
  }

  // The same through the integration path (TOML-flavoured messages, env values typed by the schema).
  ih::config::Config config;
  ih::config::IntegrationConfig integration;
  integration.id = "fuzz";
  integration.plugin = "fuzz";
  integration.settings_json = std::string(document);
  auto settings = ih::config::validateIntegration(config, integration, schema);
  if (settings.isOk()) {
    IH_FUZZ_CHECK(!nlohmann::json::parse(*settings, nullptr, false).is_discarded());
  } else {
    IH_FUZZ_CHECK(ih::isValidUtf8(settings.status().message()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest = ih::fuzz::asText(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    check(kSchemas[(data[0] / 2) % std::size(kSchemas)], rest);
    return 0;
  }
  const size_t separator = rest.find("\n--\n");
  if (separator == std::string_view::npos) {
    check(rest, "{}");
  } else {
    check(rest.substr(0, separator), rest.substr(separator + 4));
  }
  return 0;
}

// The JSON-Schema subset shared by plugin config schemas, connect bodies and action inputs: type (a name or a
// list of names), properties, required, additionalProperties, enum, pattern (RE2 syntax, the ECMAScript
// subset without backreferences or lookaround; searched, in time linear in the value),
// minLength, maxLength, minimum, maximum, items, minItems, maxItems, default, secret, description. Other
// keywords are ignored.
#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/json_parse.h"

#include "config/config.h"
#include "config/internal.h"
#include "log/log.h"

namespace ih::config {

using internal::closestMatch;
using internal::quoteForMessage;
using internal::sentence;
using internal::unknownKeyText;
using internal::upper;

namespace {

using Json = nlohmann::json;

struct Issue {
  std::string path;  // "plans[0].name"; "" for the document itself
  std::string problem;
  std::string fix;
};

// How messages talk about values: TOML words and fixes for integration settings, JSON for request bodies.
struct Style {
  bool toml = false;
  std::string table;       // "integrations.example"
  std::string env_prefix;  // "IHOST_INTEGRATIONS__EXAMPLE"
};

std::string childPath(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}

std::vector<std::string> schemaTypes(const Json& schema) {
  std::vector<std::string> types;
  if (!schema.is_object()) return types;
  auto it = schema.find("type");
  if (it == schema.end()) return types;
  if (it->is_string()) types.push_back(it->get<std::string>());
  if (it->is_array()) {
    for (const Json& type : *it) {
      if (type.is_string()) types.push_back(type.get<std::string>());
    }
  }
  return types;
}

bool matchesType(const std::string& type, const Json& value) {
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "array") return value.is_array();
  if (type == "object") return value.is_object();
  if (type == "null") return value.is_null();
  return true;  // unknown type names are not enforced
}

std::string typeText(const std::string& type, bool toml) {
  if (type == "string") return "a string";
  if (type == "integer") return "an integer";
  if (type == "number") return "a number";
  if (type == "boolean") return "a boolean";
  if (type == "array") return "an array";
  if (type == "object") return toml ? "a table" : "an object";
  if (type == "null") return "null";
  return "\"" + type + "\"";
}

bool isSecret(const Json& schema) {
  if (!schema.is_object()) return false;
  auto it = schema.find("secret");
  return it != schema.end() && it->is_boolean() && it->get<bool>();
}

std::string description(const Json& schema) {
  if (!schema.is_object()) return "";
  auto it = schema.find("description");
  return it != schema.end() && it->is_string() ? it->get<std::string>() : "";
}

// A value as shown in a message; secrets are masked, other strings redacted and truncated.
std::string showValue(const Json& value, bool secret) {
  if (value.is_string()) {
    return secret ? "\"" + mask(value.get_ref<const std::string&>()) + "\""
                  : quoteForMessage(value.get_ref<const std::string&>());
  }
  if (secret) return "****";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return dumpJson(value);
}

std::string describeValue(const Json& value, bool secret, bool toml) {
  switch (value.type()) {
    case Json::value_t::string:
      return "a string (" + showValue(value, secret) + ")";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer (" + showValue(value, secret) + ")";
    case Json::value_t::number_float:
      return "a number (" + showValue(value, secret) + ")";
    case Json::value_t::boolean:
      return "a boolean (" + showValue(value, secret) + ")";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return toml ? "a table" : "an object";
    default:
      return "null";
  }
}

bool isScalarOrFlatArray(const Json& value) {
  if (value.is_primitive()) return true;
  if (!value.is_array()) return false;
  return std::all_of(value.begin(), value.end(), [](const Json& e) { return e.is_primitive(); });
}

// An example value for fixes: the default, the first enum value, or a placeholder of the right type.
std::string exampleFor(const Json& schema) {
  if (schema.is_object()) {
    if (auto it = schema.find("default");
        it != schema.end() && isScalarOrFlatArray(*it) && !isSecret(schema)) {
      return dumpJson(*it);
    }
    if (auto it = schema.find("enum"); it != schema.end() && it->is_array() && !it->empty()) {
      return dumpJson(it->front());
    }
  }
  std::vector<std::string> types = schemaTypes(schema);
  std::string type = types.empty() ? "" : types.front();
  if (type == "integer") {
    auto it = schema.find("minimum");
    return it != schema.end() && it->is_number_integer() ? dumpJson(*it) : "1";
  }
  if (type == "number") return "1.5";
  if (type == "boolean") return "true";
  if (type == "array") return "[]";
  if (type == "object") return "{}";
  return "\"...\"";
}

// a < b for two JSON numbers, exact for integers.
bool numberLess(const Json& a, const Json& b) {
  if (a.is_number_integer() && b.is_number_integer() && !a.is_number_unsigned() && !b.is_number_unsigned()) {
    return a.get<int64_t>() < b.get<int64_t>();
  }
  return a.get<double>() < b.get<double>();
}

size_t utf8Length(const std::string& text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

class Validator {
 public:
  explicit Validator(Style style) : style_(std::move(style)) {}

  void validate(const Json& schema, const Json& value, const std::string& path, bool secret) {
    if (!schema.is_object()) return;
    secret = secret || isSecret(schema);
    if (!checkType(schema, value, path, secret)) return;
    if (!checkEnum(schema, value, path, secret)) return;
    if (value.is_string()) checkString(schema, value.get_ref<const std::string&>(), path, secret);
    if (value.is_number()) checkNumber(schema, value, path, secret);
    if (value.is_array()) checkArray(schema, value, path, secret);
    if (value.is_object()) checkObject(schema, value, path, secret);
  }

  std::vector<Issue> issues;

 private:
  void add(const std::string& path, std::string problem, std::string fix) {
    issues.push_back({path, std::move(problem), std::move(fix)});
  }

  bool checkType(const Json& schema, const Json& value, const std::string& path, bool secret) {
    std::vector<std::string> types = schemaTypes(schema);
    if (types.empty()) return true;
    for (const std::string& type : types) {
      if (matchesType(type, value)) return true;
    }
    std::string expected;
    for (const std::string& type : types) {
      if (!expected.empty()) expected += " or ";
      expected += typeText(type, style_.toml);
    }
    add(path, "expected " + expected + ", got " + describeValue(value, secret, style_.toml),
        "Use " + expected + ", e.g. " + exampleFor(schema) + ".");
    return false;
  }

  bool checkEnum(const Json& schema, const Json& value, const std::string& path, bool secret) {
    auto it = schema.find("enum");
    if (it == schema.end() || !it->is_array()) return true;
    if (std::find(it->begin(), it->end(), value) != it->end()) return true;
    std::string listed;
    std::vector<std::string> candidates;
    for (const Json& option : *it) {
      if (!listed.empty()) listed += ", ";
      listed += dumpJson(option);
      if (option.is_string()) candidates.push_back(option.get<std::string>());
    }
    std::string problem = "must be one of " + listed + ", got " + showValue(value, secret);
    if (value.is_string() && !secret) {
      if (auto match = closestMatch(value.get_ref<const std::string&>(), candidates)) {
        problem += "; did you mean \"" + *match + "\"?";
      }
    }
    add(path, problem, "Use one of the listed values.");
    return false;
  }

  void checkString(const Json& schema, const std::string& text, const std::string& path, bool secret) {
    const Json shown(text);
    if (auto it = schema.find("minLength");
        it != schema.end() && it->is_number_unsigned() && utf8Length(text) < it->get<size_t>()) {
      add(path,
          "must be at least " + dumpJson(*it) + " characters long, got " + std::to_string(utf8Length(text)),
          fixFromDescription(schema, "Use a longer value."));
    }
    if (auto it = schema.find("maxLength");
        it != schema.end() && it->is_number_unsigned() && utf8Length(text) > it->get<size_t>()) {
      add(path,
          "must be at most " + dumpJson(*it) + " characters long, got " + std::to_string(utf8Length(text)),
          fixFromDescription(schema, "Use a shorter value."));
    }
    auto it = schema.find("pattern");
    if (it == schema.end() || !it->is_string()) return;
    const std::string& pattern = it->get_ref<const std::string&>();
    std::shared_ptr<const re2::RE2> regex = compiledPattern(pattern);
    if (!regex->ok()) {
      add(path,
          "the schema's pattern " + dumpJson(Json(pattern)) + " is not a valid regular expression (" +
              regex->error() + ")",
          "Report this to the plugin author.");
    } else if (!re2::RE2::PartialMatch(text, *regex)) {
      add(path, "does not match the pattern " + dumpJson(Json(pattern)) + ", got " + showValue(shown, secret),
          fixFromDescription(schema, "Change the value to match the pattern."));
    }
  }

  // Patterns come from plugin schemas (a few dozen), values from tenants: compile each pattern once. RE2
  // matches in time linear in the value with bounded memory (std::regex recursed per character and
  // overflowed the stack on a 1 MB value).
  static std::shared_ptr<const re2::RE2> compiledPattern(const std::string& pattern) {
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const re2::RE2>, std::less<>> cache;
    std::lock_guard lock(mutex);
    if (auto found = cache.find(pattern); found != cache.end()) return found->second;
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(int64_t{1} << 20);
    auto compiled = std::make_shared<const re2::RE2>(pattern, options);
    if (cache.size() >= 1024) cache.clear();  // bounded: schemas are few, this only guards a pathological one
    cache.emplace(pattern, compiled);
    return compiled;
  }

  static std::string fixFromDescription(const Json& schema, const std::string& fallback) {
    std::string text = description(schema);
    if (text.empty()) return fallback;
    if (text.back() != '.') text += '.';
    return "Expected: " + text;
  }

  void checkNumber(const Json& schema, const Json& value, const std::string& path, bool secret) {
    auto min = schema.find("minimum");
    auto max = schema.find("maximum");
    bool has_min = min != schema.end() && min->is_number();
    bool has_max = max != schema.end() && max->is_number();
    std::string fix;
    if (has_min && has_max) {
      fix = "Use a value between " + dumpJson(*min) + " and " + dumpJson(*max) + ".";
    } else if (has_min) {
      fix = "Use a value of at least " + dumpJson(*min) + ".";
    } else if (has_max) {
      fix = "Use a value of at most " + dumpJson(*max) + ".";
    }
    if (has_min && numberLess(value, *min)) {
      add(path, "must be at least " + dumpJson(*min) + ", got " + showValue(value, secret), fix);
    } else if (has_max && numberLess(*max, value)) {
      add(path, "must be at most " + dumpJson(*max) + ", got " + showValue(value, secret), fix);
    }
  }

  void checkArray(const Json& schema, const Json& value, const std::string& path, bool secret) {
    if (auto it = schema.find("minItems");
        it != schema.end() && it->is_number_unsigned() && value.size() < it->get<size_t>()) {
      add(path, "must have at least " + dumpJson(*it) + " entries, got " + std::to_string(value.size()),
          "Add entries.");
    }
    if (auto it = schema.find("maxItems");
        it != schema.end() && it->is_number_unsigned() && value.size() > it->get<size_t>()) {
      add(path, "must have at most " + dumpJson(*it) + " entries, got " + std::to_string(value.size()),
          "Remove entries.");
    }
    auto items = schema.find("items");
    if (items == schema.end()) return;
    for (size_t i = 0; i < value.size(); ++i) {
      validate(*items, value[i], path + "[" + std::to_string(i) + "]", secret);
    }
  }

  void checkObject(const Json& schema, const Json& value, const std::string& path, bool secret) {
    static const Json kNoProperties = Json::object();
    auto properties_it = schema.find("properties");
    bool has_properties = properties_it != schema.end() && properties_it->is_object();
    const Json& properties = has_properties ? *properties_it : kNoProperties;
    auto additional = schema.find("additionalProperties");
    bool additional_schema = additional != schema.end() && additional->is_object();
    bool allow_unknown = !has_properties;
    if (additional_schema) {
      allow_unknown = true;
    } else if (additional != schema.end() && additional->is_boolean()) {
      allow_unknown = additional->get<bool>();
    }
    if (auto required = schema.find("required"); required != schema.end() && required->is_array()) {
      for (const Json& name : *required) {
        if (!name.is_string() || value.contains(name.get<std::string>())) continue;
        const std::string& key = name.get_ref<const std::string&>();
        const Json& property = properties.contains(key) ? properties[key] : kNoProperties;
        add(path, "missing required key \"" + key + "\"",
            requiredFix(path, key, property, secret || isSecret(property)));
      }
    }
    std::vector<std::string> names;
    for (const auto& [name, property] : properties.items())
      names.push_back(name);
    for (const auto& [key, member] : value.items()) {
      std::string child = childPath(path, key);
      if (properties.contains(key)) {
        validate(properties[key], member, child, secret);
      } else if (additional_schema) {
        validate(*additional, member, child, secret);
      } else if (!allow_unknown) {
        add(child, unknownKeyText(key, names), "");
      }
    }
  }

  std::string requiredFix(const std::string& path, const std::string& key, const Json& property,
                          bool secret) {
    std::string about = description(property);
    about = about.empty() ? "" : " (" + about + ")";
    if (!style_.toml) {
      std::vector<std::string> types = schemaTypes(property);
      std::string type = types.empty() ? "" : " (" + typeText(types.front(), false) + ")";
      return "Include \"" + key + "\"" + type + "." + (about.empty() ? "" : " It is" + about + ".");
    }
    std::string assignment = key + " = " + exampleFor(property);
    if (path.find('[') != std::string::npos) return "Add " + assignment + " to that entry" + about + ".";
    std::string table = style_.table + (path.empty() ? "" : "." + path);
    std::string env = style_.env_prefix;
    size_t start = 0;
    while (!path.empty()) {
      size_t dot = path.find('.', start);
      env += "__" + upper(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    env += "__" + upper(key);
    if (secret) {
      return "Set the environment variable " + env + " (recommended for secrets) or add " + assignment +
             " to [" + table + "]" + about + ".";
    }
    return "Add " + assignment + " to [" + table + "]" + about + ".";
  }

  Style style_;
};

void applyDefaultsTo(const Json& schema, Json& value) {
  if (!schema.is_object()) return;
  if (value.is_object()) {
    auto properties = schema.find("properties");
    if (properties == schema.end() || !properties->is_object()) return;
    for (const auto& [key, property] : properties->items()) {
      auto member = value.find(key);
      if (member == value.end()) {
        if (property.is_object() && property.contains("default")) value[key] = property["default"];
      } else {
        applyDefaultsTo(property, *member);
      }
    }
  } else if (value.is_array()) {
    auto items = schema.find("items");
    if (items == schema.end()) return;
    for (Json& element : value)
      applyDefaultsTo(*items, element);
  }
}

// Depth-bounded (the documents are dumped and walked recursively afterwards) and never throws.
Result<Json> parseJson(std::string_view text, const std::string& what_failed) {
  Result<Json> parsed = ih::parseJson(text);
  if (!parsed.isOk()) {
    return Status::invalidArgument(what_failed + " is not valid JSON (" + parsed.status().message() + ")");
  }
  return parsed;
}

// The subschema for a dotted setting path ("a.b"), or nullptr.
const Json* schemaAt(const Json& schema, const std::string& dotted) {
  const Json* node = &schema;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return nullptr;
    auto properties = node->find("properties");
    if (properties == node->end() || !properties->is_object() || !properties->contains(key)) return nullptr;
    node = &(*properties)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return node;
}

// An environment override's raw text as the first schema type it converts to; nullopt when none fits (the
// guessed value stays and the type check reports it).
std::optional<Json> typedEnvValue(const std::string& raw, const std::vector<std::string>& types) {
  for (const std::string& type : types) {
    if (type == "string") return Json(raw);
    if (type == "integer") {
      if (auto value = internal::parseInteger(raw)) return Json(*value);
    }
    if (type == "number") {
      if (auto value = internal::parseInteger(raw)) return Json(*value);
      if (auto value = internal::parseFloat(raw)) return Json(*value);
    }
    if (type == "boolean") {
      if (auto value = internal::parseBool(raw)) return Json(*value);
    }
  }
  return std::nullopt;
}

SourceLocation locateSetting(const IntegrationConfig& integration, std::string path) {
  while (!path.empty()) {
    if (auto it = integration.setting_locations.find(path); it != integration.setting_locations.end()) {
      return it->second;
    }
    size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return integration.where;
}

}  // namespace

Status validateJson(std::string_view schema_json, std::string_view document_json, std::string_view what) {
  const std::string prefix(what);
  Result<Json> schema = parseJson(schema_json, "the schema");
  if (!schema.isOk()) {
    return Status::invalidArgument(prefix + ": " +
                                   sentence(schema.status().message(), "This is a bug in the schema."));
  }
  Result<Json> document = parseJson(document_json, "the document");
  if (!document.isOk()) {
    return Status::invalidArgument(prefix + ": " + sentence(document.status().message(), "Send valid JSON."));
  }
  Validator validator(Style{});
  validator.validate(*schema, *document, "", false);
  if (validator.issues.empty()) return Status::ok();
  std::string message;
  for (const Issue& issue : validator.issues) {
    if (!message.empty()) message += '\n';
    message +=
        prefix + ": " + (issue.path.empty() ? "" : issue.path + ": ") + sentence(issue.problem, issue.fix);
  }
  return Status::invalidArgument(message);
}

Result<std::string> applyDefaults(std::string_view schema_json, std::string_view document_json) {
  Result<Json> schema = parseJson(schema_json, "the schema");
  if (!schema.isOk()) return schema.status();
  Result<Json> document = parseJson(document_json, "the document");
  if (!document.isOk()) return document.status();
  applyDefaultsTo(*schema, *document);
  return dumpJson(*document);
}

Result<std::string> validateIntegration(const Config& config, const IntegrationConfig& integration,
                                        std::string_view config_schema_json) {
  Result<Json> schema = parseJson(config_schema_json, "its config_schema");
  if (!schema.isOk()) {
    return Status::invalidArgument("plugin \"" + integration.plugin + "\": " +
                                   sentence(schema.status().message(), "Report this to the plugin author."));
  }
  Result<Json> parsed = parseJson(integration.settings_json, "settings_json");
  if (!parsed.isOk())
    return Status::internal("integration \"" + integration.id + "\": " + parsed.status().message());
  Json settings = std::move(parsed).value();
  for (const auto& [path, raw] : integration.env_values) {
    const Json* property = schemaAt(*schema, path);
    if (property == nullptr) continue;
    std::optional<Json> typed = typedEnvValue(raw, schemaTypes(*property));
    if (!typed) continue;
    std::string pointer;
    size_t start = 0;
    while (start <= path.size()) {
      size_t dot = path.find('.', start);
      pointer += '/';
      pointer.append(path, start, dot == std::string::npos ? std::string::npos : dot - start);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    settings[Json::json_pointer(pointer)] = std::move(*typed);
  }
  applyDefaultsTo(*schema, settings);

  Style style;
  style.toml = true;
  style.table = "integrations." + integration.id;
  style.env_prefix = "IHOST_INTEGRATIONS__" + upper(integration.id);
  Validator validator(std::move(style));
  validator.validate(*schema, settings, "", false);
  if (validator.issues.empty()) return dumpJson(settings);

  struct Line {
    SourceLocation where;
    std::string text;
  };
  std::vector<Line> lines;
  for (const Issue& issue : validator.issues) {
    SourceLocation where = locateSetting(integration, issue.path);
    if (where.file.empty() && where.env_var.empty()) where.file = config.path;
    std::string key_path = "integrations." + integration.id + (issue.path.empty() ? "" : "." + issue.path);
    lines.push_back({where, where.toString() + ": " + key_path + ": " + sentence(issue.problem, issue.fix)});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    bool a_env = !a.where.env_var.empty();
    bool b_env = !b.where.env_var.empty();
    if (a_env != b_env) return !a_env;
    if (a.where.line != b.where.line) return a.where.line < b.where.line;
    return a.where.column < b.where.column;
  });
  std::string message;
  for (const Line& line : lines) {
    if (!message.empty()) message += '\n';
    message += line.text;
  }
  return Status::invalidArgument(message);
}

}  // namespace ih::config

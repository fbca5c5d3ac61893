// Mappings: validation, storage and the records annotation. See mappings.h.
#include "mappings/mappings.h"

#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"

namespace ih::mappings {
namespace {

using nlohmann::json;

// Ids are printable text: no control characters (they are shown in the console and in CSV exports).
bool printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

std::string jsonText(std::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Mappings::Mappings(store::MappingStore& store, std::map<std::string, Spec> specs)
    : store_(store), specs_(specs.begin(), specs.end()) {}

const Spec& Mappings::spec(std::string_view integration_id) const {
  static const Spec kNone;
  auto it = specs_.find(integration_id);
  return it == specs_.end() ? kNone : it->second;
}

Result<store::MappingSet> Mappings::get(std::string_view tenant_id, std::string_view integration_id) {
  return store_.get(tenant_id, integration_id);
}

Status Mappings::replace(std::string_view tenant_id, std::string_view integration_id,
                         std::string_view body_json, int64_t now) {
  auto parsed = parseJson(body_json);
  if (!parsed.isOk()) return Status::invalidArgument("request body: " + parsed.status().message());
  const json& body = *parsed;
  if (!body.is_object() || !body.contains("mappings") || body.size() != 1)
    return Status::invalidArgument(
        "body must be {\"mappings\": {\"<kind>\": {\"<provider id>\": \"<your id>\"}}}");
  const json& all = body["mappings"];
  if (!all.is_object()) return Status::invalidArgument("\"mappings\" must be an object of kinds");
  const Spec& declared = spec(integration_id);
  std::vector<store::MappingEntry> entries;
  for (const auto& [kind, map] : all.items()) {
    bool known = false;
    for (const Spec::Kind& k : declared.kinds)
      known = known || k.name == kind;
    if (!known) {
      std::string names;
      for (const Spec::Kind& k : declared.kinds)
        names += (names.empty() ? "" : ", ") + k.name;
      return Status::invalidArgument(
          "mappings: unknown kind " + jsonText(kind.substr(0, 64)) +
          (names.empty() ? "; integration \"" + std::string(integration_id) + "\" declares no mapping kinds"
                         : " (known: " + names + ")"));
    }
    if (!map.is_object())
      return Status::invalidArgument("mappings." + kind + " must be an object of provider id -> your id");
    for (const auto& [external, internal] : map.items()) {
      const std::string at = "mappings." + kind + "[" + jsonText(external.substr(0, 64)) + "]";
      if (external.empty() || external.size() > kMaxExternalIdBytes || !printable(external))
        return Status::invalidArgument(at + ": a provider id is 1-255 bytes of printable text");
      if (!internal.is_string())
        return Status::invalidArgument(at + " must be a string (your id); leave the entry out to unmap it");
      const std::string& value = internal.get_ref<const std::string&>();
      if (value.empty() || value.size() > kMaxInternalIdBytes || !printable(value))
        return Status::invalidArgument(at + ": your id is 1-200 bytes of printable text");
      if (entries.size() == kMaxEntries)
        return Status::invalidArgument("at most " + std::to_string(kMaxEntries) +
                                       " mappings per integration, all kinds together");
      entries.push_back({kind, external, value});
    }
  }
  return store_.replace(tenant_id, integration_id, entries, now);
}

Result<std::vector<std::string>> Mappings::annotate(std::string_view tenant_id, std::string_view integration_id,
                                                    std::string_view model,
                                                    const std::vector<store::Record>& rows) {
  std::vector<std::string> out(rows.size());
  std::vector<const Spec::Apply*> rules;
  for (const Spec::Apply& a : spec(integration_id).apply)
    if (a.model == model) rules.push_back(&a);
  if (rules.empty() || rows.empty()) return out;
  auto set = store_.get(tenant_id, integration_id);
  if (!set.isOk()) return set.status();
  std::unordered_map<std::string, std::unordered_map<std::string, std::string>> by_kind;
  for (store::MappingEntry& e : set->entries)
    by_kind[e.kind].emplace(std::move(e.external_id), std::move(e.internal_id));
  for (size_t i = 0; i < rows.size(); ++i) {
    const json data = parseJsonOrDiscarded(rows[i].data_json);  // valid, depth-bounded JSON (checked on write)
    json mapped = json::object();
    for (const Spec::Apply* rule : rules) {
      json& slot = mapped[rule->kind];
      if (!slot.is_null()) continue;  // an earlier rule of the same kind already matched
      if (!data.is_object()) continue;
      auto field = data.find(rule->field);
      if (field == data.end() || !field->is_string()) continue;
      auto kind = by_kind.find(rule->kind);
      if (kind == by_kind.end()) continue;
      auto hit = kind->second.find(field->get_ref<const std::string&>());
      if (hit != kind->second.end()) slot = hit->second;
    }
    out[i] = "\"mapped\":" + dumpJson(mapped);
  }
  return out;
}

std::string Mappings::toJson(std::string_view integration_id, const store::MappingSet& set) const {
  const Spec& declared = spec(integration_id);
  json kinds = json::object();
  json values = json::object();
  for (const Spec::Kind& k : declared.kinds) {
    json applies = json::array();
    for (const Spec::Apply& a : declared.apply)
      if (a.kind == k.name) applies.push_back({{"model", a.model}, {"field", a.field}});
    kinds[k.name] = {{"description", k.description}, {"applies_to", applies}};
    values[k.name] = json::object();
  }
  for (const store::MappingEntry& e : set.entries)
    values[e.kind][e.external_id] = e.internal_id;
  return dumpJson(json{{"object", "mappings"},
                       {"integration", std::string(integration_id)},
                       {"kinds", kinds},
                       {"mappings", values},
                       {"updated_at", set.updated_at ? json(*set.updated_at) : json(nullptr)}});
}

}  // namespace ih::mappings

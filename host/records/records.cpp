#include "records/records.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/json_scan.h"
#include "common/text.h"

namespace ih::records {
namespace {

using nlohmann::json;

bool validModel(std::string_view model) {
  if (model.empty() || model.size() > 64) return false;
  for (char c : model) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Records' data may nest deeper than other plugin JSON (kept from before the scanner moved to common/).
constexpr int kMaxRecordDepth = 257;

Status checkId(std::string_view id, const std::string& where) {
  if (id.empty() || id.size() > 255)
    return Status::invalidArgument(where + ".id must be a string of 1-255 bytes");
  return Status::ok();
}

Status syntaxError(const JsonScanner& scanner) {
  return Status::invalidArgument("records_json is not valid JSON (error at byte " +
                                 std::to_string(scanner.offset()) + ")");
}

// The text of a JSON string (between its quotes), unescaped when it holds escapes.
std::string decodeString(std::string_view raw, bool escaped) {
  if (!escaped) return std::string(raw);
  std::string quoted;
  quoted.reserve(raw.size() + 2);
  quoted.push_back('"');
  quoted.append(raw);
  quoted.push_back('"');
  return json::parse(quoted).get<std::string>();  // already validated by the scanner
}

}  // namespace

Status checkModel(std::string_view model) {
  if (validModel(model)) return Status::ok();
  return Status::invalidArgument("record model \"" + toValidUtf8(model.substr(0, 64)) +
                                 "\" is invalid: use 1-64 characters of [A-Za-z0-9_.-], e.g. \"customer\"");
}

Result<std::vector<store::RecordInput>> parseRecords(std::string_view model, std::string_view records_json) {
  if (Status st = checkModel(model); !st.isOk()) return st;
  JsonScanner in(records_json, kMaxRecordDepth);
  if (in.peek() != '[') {
    JsonScanner probe(records_json, kMaxRecordDepth);
    if (!probe.value() || !probe.atEnd()) return syntaxError(probe);
    return Status::invalidArgument(R"(records_json must be an array of {"id","data","updated_at"})");
  }
  in.consume('[');
  std::vector<store::RecordInput> out;
  if (in.consume(']')) {
    if (!in.atEnd()) return syntaxError(in);
    return out;
  }
  do {
    const size_t i = out.size();
    if (i >= kMaxRecordsPerCall) {
      return Status(StatusCode::kTooLarge, "records_json holds more than " +
                                               std::to_string(kMaxRecordsPerCall) +
                                               " records; send at most that many per call");
    }
    const std::string where = "records_json[" + std::to_string(i) + "]";
    if (in.peek() != '{') {
      if (!in.value()) return syntaxError(in);
      return Status::invalidArgument(where + " must be an object");
    }
    in.consume('{');
    store::RecordInput r;
    bool has_id = false, has_data = false, has_updated = false;
    std::string type_error;  // the first wrongly typed field; reported once the element parsed
    if (!in.consume('}')) {
      do {
        std::string_view key;
        bool key_escaped = false;
        if (in.peek() != '"' || !in.string(&key, &key_escaped) || !in.consume(':')) return syntaxError(in);
        const char c = in.peek();
        if (key == "id") {
          std::string_view raw;
          bool escaped = false;
          if (c == '"') {
            if (!in.string(&raw, &escaped)) return syntaxError(in);
            r.id = decodeString(raw, escaped);
            has_id = true;
          } else {
            if (!in.value()) return syntaxError(in);
            if (type_error.empty()) type_error = where + ".id must be a string";
          }
        } else if (key == "data") {
          const char* start = in.position();
          if (!in.value()) return syntaxError(in);
          if (c == '{') {
            r.data_json.assign(start, static_cast<size_t>(in.position() - start));
            has_data = true;
          } else if (type_error.empty()) {
            type_error = where + ".data must be an object";
          }
        } else if (key == "updated_at") {
          JsonScanner::NumberKind kind = JsonScanner::NumberKind::kFraction;
          if (c == '-' || (c >= '0' && c <= '9')) {
            if (!in.number(&r.updated_at, &kind)) return syntaxError(in);
          } else if (!in.value()) {
            return syntaxError(in);
          }
          if (kind == JsonScanner::NumberKind::kInteger) {
            has_updated = true;
          } else if (type_error.empty()) {
            type_error = where + (kind == JsonScanner::NumberKind::kNegative ||
                                          kind == JsonScanner::NumberKind::kTooLarge
                                      ? ".updated_at must be a non-negative unix time in seconds"
                                      : ".updated_at must be an integer (unix seconds)");
          }
        } else if (!in.value()) {
          return syntaxError(in);
        }
      } while (in.consume(','));
      if (!in.consume('}')) return syntaxError(in);
    }
    if (!type_error.empty()) return Status::invalidArgument(type_error);
    if (!has_id) return Status::invalidArgument(where + ".id must be a string");
    if (!has_data) return Status::invalidArgument(where + ".data must be an object");
    if (!has_updated) return Status::invalidArgument(where + ".updated_at must be an integer (unix seconds)");
    if (Status st = checkId(r.id, where); !st.isOk()) return st;
    out.push_back(std::move(r));
  } while (in.consume(','));
  if (!in.consume(']') || !in.atEnd()) return syntaxError(in);
  return out;
}

Records::Records(store::Store& store) : store_(store) {}

Status Records::upsert(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                       std::string_view records_json, const sinks::Deferred& deferred) {
  auto rows = parseRecords(model, records_json);
  if (!rows.isOk()) return rows.status();
  if (deferred)
    return store_.upsertAsync(tenant_id, integration_id, model, std::move(rows).value(), deferred);
  return store_.upsert(tenant_id, integration_id, model, *rows);
}

Status Records::upsertWithState(std::string_view tenant_id, std::string_view integration_id,
                                std::string_view model, std::string_view records_json,
                                std::string_view state_key, std::string_view state_value,
                                store::UpsertStats* stats) {
  auto rows = parseRecords(model, records_json);
  if (!rows.isOk()) return rows.status();
  return store_.upsertWithState(tenant_id, integration_id, model, *rows, state_key, state_value, stats);
}

Status Records::remove(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                       std::string_view id, int64_t updated_at, const sinks::Deferred& deferred) {
  if (Status st = checkModel(model); !st.isOk()) return st;
  if (Status st = checkId(id, "record"); !st.isOk()) return st;
  if (updated_at < 0)
    return Status::invalidArgument("updated_at must be a non-negative unix time in seconds");
  if (deferred) return store_.removeAsync(tenant_id, integration_id, model, id, updated_at, deferred);
  return store_.remove(tenant_id, integration_id, model, id, updated_at);
}

}  // namespace ih::records

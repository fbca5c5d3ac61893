// Build-time tool: converts docs/openapi.yaml to compact JSON and writes a C++ source defining
// ih::api::kOpenApiJson (what GET /api/openapi.json serves) and its ETag. Not part of the server.
//   ih_openapi_embed <openapi.yaml> <project version> <out.cpp>
// Fails (exit 1, naming the file and the problem) on YAML errors, duplicate keys, values JSON cannot hold
// (.inf, .nan, binary), or an info.version that is not the project's version. Scalars resolve as in YAML 1.2's
// core schema: quoted ones are strings; plain ones are null, booleans, integers or floats when they read as
// such, strings otherwise.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;  // the document is ours, but a runaway nesting should be an error, not a crash

bool isOneOf(const std::string& s, std::initializer_list<const char*> words) {
  for (const char* w : words)
    if (s == w) return true;
  return false;
}

bool isInteger(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool isFloat(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

std::string where(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return "line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1);
}

json scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted or block scalar: always a string
  if (node.Tag() != "?")
    throw std::runtime_error(where(node) + ": tags are not supported (" + node.Tag() + ")");
  if (isOneOf(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (isOneOf(text, {"true", "True", "TRUE"})) return true;
  if (isOneOf(text, {"false", "False", "FALSE"})) return false;
  if (isInteger(text)) {
    int64_t v = 0;
    const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
    auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
      throw std::runtime_error(where(node) + ": integer out of range: " + text);
    return v;
  }
  if (isFloat(text)) {
    double v = 0;
    const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
    auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
      throw std::runtime_error(where(node) + ": number out of range: " + text);
    return v;
  }
  if (isOneOf(text, {".inf", ".Inf", ".INF", "+.inf", "-.inf", ".nan", ".NaN", ".NAN"}))
    throw std::runtime_error(where(node) + ": " + text + " has no JSON form");
  return text;
}

json convert(const YAML::Node& node, int depth) {
  if (depth > kMaxDepth) throw std::runtime_error(where(node) + ": nested deeper than 64 levels");
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const YAML::Node& item : node)
        out.push_back(convert(item, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar())
          throw std::runtime_error(where(entry.first) + ": only scalar keys have a JSON form");
        const std::string& key = entry.first.Scalar();
        if (out.contains(key))
          throw std::runtime_error(where(entry.first) + ": duplicate key \"" + key + "\"");
        out[key] = convert(entry.second, depth + 1);
      }
      return out;
    }
    case YAML::NodeType::Undefined:
      break;
  }
  throw std::runtime_error(where(node) + ": undefined node");
}

// FNV-1a, 64 bits: an ETag only has to change when the bytes do.
std::string etagOf(const std::string& bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char out[24];
  std::snprintf(out, sizeof out, "\"%016llx\"", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: ih_openapi_embed <openapi.yaml> <project version> <out.cpp>\n";
    return 2;
  }
  const std::string input = argv[1];
  const std::string version = argv[2];
  try {
    const json doc = convert(YAML::LoadFile(input), 0);
    if (!doc.is_object() || !doc.contains("openapi") || !doc.contains("paths"))
      throw std::runtime_error("not an OpenAPI document (no openapi or paths key)");
    const json* info_version =
        doc.contains("info") && doc["info"].is_object() && doc["info"].contains("version")
            ? &doc["info"]["version"]
            : nullptr;
    if (info_version == nullptr || !info_version->is_string() || info_version->get<std::string>() != version)
      throw std::runtime_error("info.version must be \"" + version +
                               "\", the project version in CMakeLists.txt: update one or the other");
    const std::string text = doc.dump();
    std::ostringstream out;
    out << "// Generated by host/api/openapi_embed.cpp from docs/openapi.yaml. Do not edit.\n"
        << "#include \"api/openapi.h\"\n\nnamespace ih::api {\nnamespace {\n"
        << "const char kText[] = {\n";
    for (size_t i = 0; i < text.size(); ++i) {
      out << static_cast<int>(static_cast<unsigned char>(text[i])) << ',';
      if (i % 32 == 31) out << '\n';
    }
    out << "0};\n}  // namespace\n\nconst std::string_view kOpenApiJson(kText, " << text.size() << ");\n"
        << "const std::string_view kOpenApiEtag = " << json(etagOf(text)).dump()
        << ";\n\n}  // namespace ih::api\n";
    std::ofstream file(argv[3], std::ios::binary | std::ios::trunc);
    file << out.str();
    if (!file.flush()) throw std::runtime_error(std::string("cannot write ") + argv[3]);
  } catch (const std::exception& e) {
    std::cerr << input << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}

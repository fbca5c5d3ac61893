#define BOOST_DLL_USE_STD_FS
#include "loader/registry.h"

#include <dlfcn.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/json_parse.h"
#include "common/text.h"
#include "log/log.h"

namespace ih::loader {
namespace {

using nlohmann::json;

// Size of the v1.0 descriptor: a plugin may never hand us less than this.
constexpr size_t kDescriptorSizeV1_0 = offsetof(ih_plugin_descriptor, disconnect) + sizeof(void*);
// Size of the v1.2 descriptor: the OAuth handlers are read only from descriptors at least this large.
constexpr size_t kDescriptorSizeV1_2 = offsetof(ih_plugin_descriptor, oauth_complete) + sizeof(void*);

std::string versionString(uint16_t major, uint16_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// The manifest is plugin output: checked by hand (no std::regex, whose recursive matcher overflowed the stack
// on a 100 KB route path; no std::stoll, which threw on a 20-digit job interval).
// tests/fuzz/manifest_fuzz.cpp.

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// ^[a-z][a-z0-9_]{1,39}$
bool isPluginName(std::string_view name) {
  if (name.size() < 2 || name.size() > 40 || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || isDigit(c) || c == '_')) return false;
  return true;
}

// ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$
bool isSemver(std::string_view text) {
  size_t i = 0;
  for (int part = 0; part < 3; ++part) {
    if (part > 0) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
    const size_t start = i;
    while (i < text.size() && isDigit(text[i]))
      ++i;
    if (i == start) return false;
  }
  if (i == text.size()) return true;
  if (text[i] != '-' && text[i] != '+') return false;
  if (++i == text.size()) return false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (!(isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-'))
      return false;
  }
  return true;
}

bool isRouteMethod(std::string_view method) {
  return method == "GET" || method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// ^(/[A-Za-z0-9_.~-]+)+$
bool isRoutePath(std::string_view path) {
  if (path.size() < 2 || path[0] != '/' || path.back() == '/') return false;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '/') {
      if (path[i + 1] == '/') return false;  // i + 1 < size: the path does not end with '/'
      continue;
    }
    if (!(isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
          c == '~' || c == '-'))
      return false;
  }
  return true;
}

Result<int64_t> parseEvery(const std::string& text) {
  // "30s", "15m", "1h", "1d", combinations like "1h30m". At most 10 years in all.
  constexpr int64_t kMaxSeconds = int64_t{10} * 366 * 86400;
  const auto invalid = [&] {
    std::string message(1, '"');
    message.append(text, 0, 64);
    message.append("\" is not a duration like \"30s\", \"15m\", \"1h\", \"1d\" (at most 10 years)");
    return Status::invalidArgument(toValidUtf8(message));
  };
  if (text.empty()) return Status::invalidArgument("empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    const size_t start = i;
    while (i < text.size() && isDigit(text[i])) {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxSeconds) return invalid();
      ++i;
    }
    if (i == start || i == text.size()) return invalid();
    const char unit = text[i++];
    const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (scale == 0 || n > kMaxSeconds / scale) return invalid();
    total += n * scale;
    if (total > kMaxSeconds) return invalid();
  }
  if (total <= 0) return invalid();
  return total;
}

std::string optString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

const ActionSpec* Manifest::findAction(std::string_view name) const {
  for (const auto& a : actions)
    if (a.name == name) return &a;
  return nullptr;
}

const JobSpec* Manifest::findJob(std::string_view name) const {
  for (const auto& j : jobs)
    if (j.name == name) return &j;
  return nullptr;
}

namespace {

// A record model name (records.h checkModel's rule) or a data member name ([A-Za-z0-9_], 1-64).
bool isName(const std::string& s, bool model) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    (model && (c == '.' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

Result<std::vector<EntitlementSpec>> parseEntitlements(const json& list) {
  constexpr size_t kMaxSpecs = 16, kMaxActive = 16;
  if (!list.is_array() || list.size() > kMaxSpecs)
    return Status::invalidArgument("manifest \"entitlements\" must be an array of at most 16 objects");
  std::vector<EntitlementSpec> out;
  for (const auto& e : list) {
    const std::string where = "manifest \"entitlements\"[" + std::to_string(out.size()) + "]";
    if (!e.is_object()) return Status::invalidArgument(where + " must be an object");
    EntitlementSpec spec;
    spec.model = optString(e, "model");
    if (!isName(spec.model, true))
      return Status::invalidArgument(where + ".model must be a record model name (1-64 of [A-Za-z0-9_.-])");
    for (auto* field : {&spec.customer, &spec.key, &spec.status}) {
      const char* name = field == &spec.customer ? "customer" : field == &spec.key ? "key" : "status";
      *field = optString(e, name);
      if (!isName(*field, false))
        return Status::invalidArgument(where + "." + name +
                                       " must name a data member (1-64 of [A-Za-z0-9_])");
    }
    spec.expires = optString(e, "expires");
    if (!spec.expires.empty() && !isName(spec.expires, false))
      return Status::invalidArgument(where + ".expires must name a data member (1-64 of [A-Za-z0-9_])");
    auto active = e.find("active");
    if (active == e.end() || !active->is_array() || active->empty() || active->size() > kMaxActive)
      return Status::invalidArgument(where + ".active must be an array of 1-16 status strings");
    for (const auto& v : *active) {
      if (!v.is_string() || v.get_ref<const std::string&>().empty() ||
          v.get_ref<const std::string&>().size() > 64)
        return Status::invalidArgument(where + ".active must hold non-empty strings of at most 64 bytes");
      spec.active.push_back(v.get<std::string>());
    }
    for (const auto& prior : out)
      if (prior.model == spec.model)
        return Status::invalidArgument(where + ": model \"" + spec.model + "\" is mapped twice");
    out.push_back(std::move(spec));
  }
  return out;
}

Result<MappingSpec> parseMappings(const json& m) {
  constexpr size_t kMaxKinds = 16, kMaxApply = 64;
  const std::string where = "manifest \"mappings\"";
  if (!m.is_object())
    return Status::invalidArgument(where + " must be an object with \"kinds\" and \"apply\"");
  MappingSpec spec;
  auto kinds = m.find("kinds");
  if (kinds == m.end() || !kinds->is_object() || kinds->empty() || kinds->size() > kMaxKinds)
    return Status::invalidArgument(where + ".kinds must be an object of 1-16 kinds");
  for (const auto& [name, value] : kinds->items()) {
    if (!isPluginName(name) && !(name.size() == 1 && name[0] >= 'a' && name[0] <= 'z'))
      return Status::invalidArgument(where + ".kinds: \"" + toValidUtf8(name.substr(0, 64)) +
                                     "\" must match ^[a-z][a-z0-9_]{0,39}$");
    if (!value.is_object()) return Status::invalidArgument(where + ".kinds." + name + " must be an object");
    spec.kinds.push_back({name, optString(value, "description")});
  }
  auto apply = m.find("apply");
  if (apply != m.end()) {
    if (!apply->is_array() || apply->size() > kMaxApply)
      return Status::invalidArgument(where + ".apply must be an array of at most 64 objects");
    for (const auto& a : *apply) {
      const std::string at = where + ".apply[" + std::to_string(spec.apply.size()) + "]";
      if (!a.is_object()) return Status::invalidArgument(at + " must be an object");
      MappingApply rule{optString(a, "model"), optString(a, "field"), optString(a, "kind")};
      if (!isName(rule.model, true))
        return Status::invalidArgument(at + ".model must be a record model name (1-64 of [A-Za-z0-9_.-])");
      if (!isName(rule.field, false))
        return Status::invalidArgument(at + ".field must name a data member (1-64 of [A-Za-z0-9_])");
      if (spec.findKind(rule.kind) == nullptr)
        return Status::invalidArgument(at + ".kind must be one of the declared kinds");
      for (const MappingApply& prior : spec.apply)
        if (prior.model == rule.model && prior.kind == rule.kind)
          return Status::invalidArgument(at + ": kind \"" + rule.kind + "\" is applied to model \"" +
                                         rule.model + "\" twice");
      spec.apply.push_back(std::move(rule));
    }
  }
  return spec;
}

}  // namespace

const MappingKind* MappingSpec::findKind(std::string_view name) const {
  for (const MappingKind& k : kinds)
    if (k.name == name) return &k;
  return nullptr;
}

Result<Manifest> parseManifest(std::string_view text) {
  // Depth-bounded: the schemas in it are dumped (recursively) right below and validated later.
  auto parsed = parseJson(text);
  if (!parsed.isOk()) {
    const std::string& why = parsed.status().message();
    return Status::invalidArgument(
        why.rfind("JSON nested", 0) == 0 ? "manifest: " + why : std::string("manifest is not valid JSON"));
  }
  json j = std::move(*parsed);
  if (!j.is_object()) return Status::invalidArgument("manifest must be a JSON object");
  Manifest m;
  m.raw_json = std::string(text);
  m.name = optString(j, "name");
  if (!isPluginName(m.name)) {
    return Status::invalidArgument("manifest \"name\" must match ^[a-z][a-z0-9_]{1,39}$ (got \"" +
                                   toValidUtf8(m.name.substr(0, 64)) + "\")");
  }
  m.version = optString(j, "version");
  if (!isSemver(m.version)) {
    return Status::invalidArgument("manifest \"version\" must be semver like 1.2.0 (got \"" +
                                   toValidUtf8(m.version.substr(0, 64)) + "\")");
  }
  m.display_name = optString(j, "display_name");
  if (m.display_name.empty()) m.display_name = m.name;
  m.description = optString(j, "description");
  if (auto it = j.find("config_schema"); it != j.end()) {
    if (!it->is_object()) return Status::invalidArgument("manifest \"config_schema\" must be an object");
    m.config_schema_json = it->dump();
  }
  if (auto it = j.find("connect_schema"); it != j.end()) {
    if (!it->is_object()) return Status::invalidArgument("manifest \"connect_schema\" must be an object");
    m.connect_schema_json = it->dump();
  }
  if (auto it = j.find("routes"); it != j.end()) {
    if (!it->is_array()) return Status::invalidArgument("manifest \"routes\" must be an array");
    for (const auto& r : *it) {
      RouteSpec spec;
      spec.method = r.is_object() ? optString(r, "method") : "";
      spec.path = r.is_object() ? optString(r, "path") : "";
      std::string auth = r.is_object() ? optString(r, "auth") : "";
      if (!isRouteMethod(spec.method) || !isRoutePath(spec.path)) {
        return Status::invalidArgument(
            "manifest route " + toValidUtf8(r.dump().substr(0, 200)) +
            " needs \"method\" (GET|POST|PUT|PATCH|DELETE) and a \"path\" like /hello");
      }
      if (auth != "tenant" && auth != "public" && !auth.empty()) {
        return Status::invalidArgument("manifest route " + spec.path +
                                       ": \"auth\" must be \"tenant\" or \"public\"");
      }
      spec.is_public = auth == "public";
      m.routes.push_back(std::move(spec));
    }
  }
  if (auto it = j.find("webhooks"); it != j.end()) {
    if (!it->is_object()) return Status::invalidArgument("manifest \"webhooks\" must be an object");
    for (const char* key : {"tenant", "platform"}) {
      auto flag = it->find(key);
      if (flag != it->end() && !flag->is_boolean())
        return Status::invalidArgument(std::string("manifest \"webhooks\".\"") + key +
                                       "\" must be true or false");
    }
    m.tenant_webhooks = it->contains("tenant") && (*it)["tenant"].get<bool>();
    m.platform_webhooks = it->contains("platform") && (*it)["platform"].get<bool>();
  }
  if (auto it = j.find("jobs"); it != j.end()) {
    if (!it->is_array()) return Status::invalidArgument("manifest \"jobs\" must be an array");
    for (const auto& jj : *it) {
      JobSpec spec;
      spec.name = jj.is_object() ? optString(jj, "name") : "";
      if (spec.name.empty()) return Status::invalidArgument("manifest job without a \"name\"");
      spec.description = optString(jj, "description");
      std::string every = optString(jj, "every");
      if (!every.empty()) {
        auto secs = parseEvery(every);
        if (!secs.isOk())
          return Status::invalidArgument("manifest job " + spec.name + ": " + secs.status().message());
        spec.every_seconds = *secs;
      }
      if (auto params = jj.find("params"); params != jj.end()) {
        if (!params->is_array() || params->size() > 8)
          return Status::invalidArgument("manifest job " + spec.name + ": \"params\" must be an array");
        for (const auto& p : *params) {
          if (p != "since")
            return Status::invalidArgument("manifest job " + spec.name +
                                           ": \"params\" may only name \"since\" (ABI 1.4)");
          spec.accepts_since = true;
        }
      }
      m.jobs.push_back(std::move(spec));
    }
  }
  if (auto it = j.find("actions"); it != j.end()) {
    if (!it->is_array()) return Status::invalidArgument("manifest \"actions\" must be an array");
    for (const auto& a : *it) {
      ActionSpec spec;
      spec.name = a.is_object() ? optString(a, "name") : "";
      if (spec.name.empty()) return Status::invalidArgument("manifest action without a \"name\"");
      spec.description = optString(a, "description");
      if (auto s = a.find("input_schema"); s != a.end()) spec.input_schema_json = s->dump();
      m.actions.push_back(std::move(spec));
    }
  }
  if (auto it = j.find("events"); it != j.end() && it->is_array()) {
    for (const auto& e : *it)
      if (e.is_string()) m.events.push_back(e.get<std::string>());
  }
  if (auto it = j.find("entitlements"); it != j.end()) {
    auto specs = parseEntitlements(*it);
    if (!specs.isOk()) return specs.status();
    m.entitlements = std::move(*specs);
  }
  if (auto it = j.find("mappings"); it != j.end()) {
    auto spec = parseMappings(*it);
    if (!spec.isOk()) return spec.status();
    m.mappings = std::move(*spec);
  }
  return m;
}

std::vector<std::string> capabilityNames(uint64_t caps) {
  std::vector<std::string> names;
  if (caps & IH_CAP_ROUTES) names.emplace_back("routes");
  if (caps & IH_CAP_WEBHOOKS) names.emplace_back("webhooks");
  if (caps & IH_CAP_JOBS) names.emplace_back("jobs");
  if (caps & IH_CAP_ACTIONS) names.emplace_back("actions");
  if (caps & IH_CAP_CONNECT) names.emplace_back("connect");
  if (caps & IH_CAP_OAUTH) names.emplace_back("oauth");
  return names;
}

struct Plugin::Library {
  boost::dll::shared_library handle;
};

Plugin::~Plugin() = default;

Result<std::string> sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::notFound("cannot read " + path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[64 * 1024];
  while (in) {
    in.read(buf, sizeof buf);
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf, static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  return hexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

namespace {

// The ABI checks every descriptor passes, wherever it was loaded (here, or in a runner: adopt()). Returns the
// parsed manifest.
Result<Manifest> validateDescriptor(const ih_plugin_descriptor* d) {
  if (d->struct_size < kDescriptorSizeV1_0) {
    return Status::invalidArgument("descriptor struct_size " + std::to_string(d->struct_size) +
                                   " is smaller than the ABI 1.0 descriptor (" +
                                   std::to_string(kDescriptorSizeV1_0) + " bytes); rebuild against the SDK");
  }
  if (d->abi_major != IH_ABI_MAJOR) {
    return Status::invalidArgument(
        "built for plugin ABI " + versionString(d->abi_major, d->abi_minor) + " but this host speaks ABI " +
        versionString(IH_ABI_MAJOR, IH_ABI_MINOR) +
        " (the major version must match); rebuild the plugin against this host's SDK");
  }
  if (d->abi_minor > IH_ABI_MINOR) {
    return Status::invalidArgument("built for plugin ABI " + versionString(d->abi_major, d->abi_minor) +
                                   ", newer than this host's ABI " +
                                   versionString(IH_ABI_MAJOR, IH_ABI_MINOR) +
                                   "; upgrade ihost or rebuild the plugin against an older SDK");
  }
  if (d->manifest_json == nullptr) return Status::invalidArgument("descriptor has no manifest_json");
  auto manifest = parseManifest(d->manifest_json);
  if (!manifest.isOk()) return manifest.status();
  if (d->create == nullptr || d->destroy == nullptr) {
    return Status::invalidArgument("descriptor lacks create/destroy");
  }
  struct CapCheck {
    uint64_t cap;
    bool present;
    const char* what;
  };
  const CapCheck checks[] = {
      {IH_CAP_ROUTES, d->handle_route != nullptr, "routes capability without handle_route"},
      {IH_CAP_WEBHOOKS, d->verify_webhook != nullptr && d->handle_webhook != nullptr,
       "webhooks capability without verify_webhook/handle_webhook"},
      {IH_CAP_JOBS, d->run_job != nullptr, "jobs capability without run_job"},
      {IH_CAP_ACTIONS, d->run_action != nullptr, "actions capability without run_action"},
      {IH_CAP_CONNECT, d->connect != nullptr && d->test_connection != nullptr && d->disconnect != nullptr,
       "connect capability without connect/test_connection/disconnect"},
  };
  for (const auto& c : checks) {
    if ((d->capabilities & c.cap) && !c.present)
      return Status::invalidArgument(std::string("descriptor: ") + c.what);
  }
  // ABI 1.2 fields exist only in descriptors that are large enough; never read past struct_size.
  if (d->capabilities & IH_CAP_OAUTH) {
    if (d->struct_size < kDescriptorSizeV1_2 || d->abi_minor < 2) {
      return Status::invalidArgument(
          "descriptor: oauth capability needs an ABI 1.2 descriptor (struct_size " +
          std::to_string(d->struct_size) + ", ABI " + versionString(d->abi_major, d->abi_minor) +
          "); rebuild the plugin against SDK 1.2 or later");
    }
    if (d->oauth_authorize == nullptr || d->oauth_complete == nullptr)
      return Status::invalidArgument("descriptor: oauth capability without oauth_authorize/oauth_complete");
  }
  if (!manifest->routes.empty() && !(d->capabilities & IH_CAP_ROUTES)) {
    return Status::invalidArgument("manifest declares routes but the routes capability is not set");
  }
  if ((manifest->tenant_webhooks || manifest->platform_webhooks) && !(d->capabilities & IH_CAP_WEBHOOKS)) {
    return Status::invalidArgument("manifest declares webhooks but the webhooks capability is not set");
  }
  if (!manifest->jobs.empty() && !(d->capabilities & IH_CAP_JOBS)) {
    return Status::invalidArgument("manifest declares jobs but the jobs capability is not set");
  }
  if (!manifest->actions.empty() && !(d->capabilities & IH_CAP_ACTIONS)) {
    return Status::invalidArgument("manifest declares actions but the actions capability is not set");
  }

  return manifest;
}

}  // namespace

Result<std::shared_ptr<Plugin>> Registry::loadFile(const std::string& path,
                                                   const std::string& expected_sha256) {
  auto digest = sha256File(path);
  if (!digest.isOk()) return digest.status();
  if (!expected_sha256.empty() && *digest != expected_sha256) {
    return Status::invalidArgument("sha256 " + *digest + " does not match the allow-list entry " +
                                   expected_sha256 + " in [plugins.sha256_allow]");
  }
  {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    if (in.gcount() != 4 || magic[0] != 0x7f || magic[1] != 'E' || magic[2] != 'L' || magic[3] != 'F') {
      return Status::invalidArgument(
          "not an ELF shared library (expected a plugin .so built with the ihost SDK)");
    }
  }
  auto library = std::make_unique<Plugin::Library>();
  std::error_code ec;  // BOOST_DLL_USE_STD_FS: std error codes
  dlerror();           // clear
  library->handle.load(std::filesystem::path(path),
                       boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    const char* why = dlerror();
    return Status::invalidArgument(std::string("dlopen failed: ") + (why ? why : ec.message()));
  }
  if (!library->handle.has(IH_PLUGIN_ENTRY_SYMBOL)) {
    return Status::invalidArgument(
        "does not export ih_plugin_entry (declare the plugin with IH_SDK_EXPORT_PLUGIN or export "
        "`const ih_plugin_descriptor* ih_plugin_entry(uint16_t, uint16_t)` with default visibility)");
  }
  auto& entry = library->handle.get<const ih_plugin_descriptor*(uint16_t, uint16_t)>(IH_PLUGIN_ENTRY_SYMBOL);
  const ih_plugin_descriptor* d = entry(IH_ABI_MAJOR, IH_ABI_MINOR);
  if (d == nullptr) {
    return Status::invalidArgument("ih_plugin_entry returned NULL: the plugin refused host ABI " +
                                   versionString(IH_ABI_MAJOR, IH_ABI_MINOR));
  }
  auto manifest = validateDescriptor(d);
  if (!manifest.isOk()) return manifest.status();

  std::shared_ptr<Plugin> plugin(new Plugin());
  plugin->file_ = path;
  plugin->sha256_ = std::move(*digest);
  plugin->manifest_ = std::move(*manifest);
  plugin->library_ = std::move(library);
  plugin->descriptor_ = d;
  return plugin;
}

Result<std::shared_ptr<Plugin>> Registry::adopt(const std::string& path, const std::string& sha256,
                                                const ih_plugin_descriptor* descriptor,
                                                std::shared_ptr<const void> owner) {
  auto manifest = validateDescriptor(descriptor);
  if (!manifest.isOk()) return manifest.status();
  std::shared_ptr<Plugin> plugin(new Plugin());
  plugin->file_ = path;
  plugin->sha256_ = sha256;
  plugin->manifest_ = std::move(*manifest);
  plugin->descriptor_ = descriptor;
  plugin->owner_ = std::move(owner);
  return plugin;
}

std::unique_ptr<Registry> Registry::scan(const ScanOptions& options) {
  auto registry = std::make_unique<Registry>();
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(options.dir, ec)) {
    log::warn("plugins directory does not exist; no plugins loaded",
              {{"dir", options.dir},
               {"fix", "set [plugins] dir in the config to the folder holding the .so files"}});
    return registry;
  }
  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".so") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    std::string expected;
    if (!options.sha256_allow.empty()) {
      auto it = options.sha256_allow.find(name);
      if (it == options.sha256_allow.end()) {
        registry->refused_.push_back(
            {file.string(), "", "", "not in [plugins.sha256_allow]; add its sha256 to load it"});
        log::warn("plugin refused", {{"file", file.string()}, {"reason", registry->refused_.back().reason}});
        continue;
      }
      expected = it->second;
    }
    auto loaded = options.load ? options.load(file.string(), expected) : loadFile(file.string(), expected);
    if (!loaded.isOk()) {
      registry->refused_.push_back({file.string(), "", "", loaded.status().message()});
      log::warn("plugin refused", {{"file", file.string()},
                                   {"host_abi", versionString(IH_ABI_MAJOR, IH_ABI_MINOR)},
                                   {"reason", loaded.status().message()}});
      continue;
    }
    auto& plugin = *loaded;
    if (auto existing = registry->find(plugin->manifest().name)) {
      std::string reason = "duplicate plugin name \"" + plugin->manifest().name + "\": already loaded from " +
                           existing->file() + "; remove one of the two files";
      registry->refused_.push_back({file.string(), plugin->manifest().name,
                                    versionString(plugin->abiMajor(), plugin->abiMinor()), reason});
      log::warn("plugin refused", {{"file", file.string()}, {"reason", reason}});
      continue;
    }
    log::info("plugin loaded", {{"file", file.string()},
                                {"name", plugin->manifest().name},
                                {"version", plugin->manifest().version},
                                {"abi", versionString(plugin->abiMajor(), plugin->abiMinor())}});
    registry->loaded_.push_back(std::move(plugin));
  }
  return registry;
}

std::shared_ptr<Plugin> Registry::find(std::string_view name) const {
  for (const auto& p : loaded_)
    if (p->manifest().name == name) return p;
  return nullptr;
}

void Registry::clear() {
  loaded_.clear();
  refused_.clear();
}

}  // namespace ih::loader

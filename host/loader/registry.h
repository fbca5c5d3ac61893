// Plugin loading and the registry of loaded plugins.
//
// The registry scans one directory for `*.so` files, loads each with Boost.DLL (RTLD_NOW | RTLD_LOCAL),
// checks the ABI (entry symbol, struct_size, major equality, minor <= host's, manifest), and keeps the
// library mapped for as long as any Plugin reference (an instance, an in-flight call) is alive. A refused
// file is logged with the exact reason and kept in `refused()`; the host runs on with the rest.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ih/plugin_abi.h"

namespace ih::loader {

struct RouteSpec {
  std::string method;  // "GET", "POST", ...
  std::string path;    // "/hello"
  bool is_public = false;
};

struct JobSpec {
  std::string name;
  int64_t every_seconds = 0;  // 0: no default schedule (run on demand)
  std::string description;
  bool accepts_since = false;  // manifest job "params": ["since"]: a run may be given a start time
};

struct ActionSpec {
  std::string name;
  std::string description;
  std::string input_schema_json;  // empty when the action takes any JSON
};

// How records of one model grant entitlements (docs/plugin-abi.md "Entitlements"): the host keeps the view.
// A record grants `data[key]` to the customer `data[customer]` while `data[status]` is one of `active`; both
// must be non-empty strings. `expires` (optional) names an integer member (unix seconds) shown as expires_at.
struct EntitlementSpec {
  std::string model;
  std::string customer;  // data member holding the tenant's own customer reference
  std::string key;       // data member holding what is granted (a plan or item key)
  std::string status;    // data member compared with `active`
  std::vector<std::string> active;
  std::string expires;  // may be empty
};

// How provider objects map to the tenant's own ids (docs/plugin-abi.md "Mappings"): the plugin names the kinds
// (e.g. "product", "price") and which record members hold a provider id of a kind; the host keeps the
// tenant's mapping (PUT /api/integrations/{id}/mappings) and adds "mapped": {kind: tenant id | null} to those
// records in the records API.
struct MappingKind {
  std::string name;  // [a-z][a-z0-9_]{0,39}
  std::string description;
};
struct MappingApply {
  std::string model;  // a record model
  std::string field;  // a data member holding a provider id of `kind` (string)
  std::string kind;
};
struct MappingSpec {
  std::vector<MappingKind> kinds;  // empty: the plugin declares no mappings
  std::vector<MappingApply> apply;
  const MappingKind* findKind(std::string_view name) const;
};

// The manifest a plugin declares (docs/plugin-abi.md), parsed and validated.
struct Manifest {
  std::string name;
  std::string version;
  std::string display_name;
  std::string description;
  std::string config_schema_json = "{}";
  std::string connect_schema_json;  // empty when the plugin does not take a connect body
  std::vector<RouteSpec> routes;
  bool tenant_webhooks = false;
  bool platform_webhooks = false;
  std::vector<JobSpec> jobs;
  std::vector<ActionSpec> actions;
  std::vector<std::string> events;
  std::vector<EntitlementSpec> entitlements;  // at most one per model
  MappingSpec mappings;
  std::string raw_json;

  const ActionSpec* findAction(std::string_view name) const;
  const JobSpec* findJob(std::string_view name) const;
};

// Parses and validates manifest JSON. Errors say which field is wrong and why.
Result<Manifest> parseManifest(std::string_view json);

// Names of the capability bits, e.g. {"routes","webhooks"}.
std::vector<std::string> capabilityNames(uint64_t capabilities);

// One loaded library. Shared by the registry, every instance created from it and every in-flight call; the
// library is unloaded when the last reference goes. Thread-safe.
class Plugin {
 public:
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const std::string& file() const { return file_; }
  const std::string& sha256() const { return sha256_; }
  const Manifest& manifest() const { return manifest_; }
  const ih_plugin_descriptor& descriptor() const { return *descriptor_; }
  uint16_t abiMajor() const { return descriptor_->abi_major; }
  uint16_t abiMinor() const { return descriptor_->abi_minor; }
  uint64_t capabilities() const { return descriptor_->capabilities; }
  bool serialized() const { return (descriptor_->flags & IH_FLAG_SERIALIZE) != 0; }
  // IH_CAP_OAUTH set; the loader guaranteed the descriptor then reaches (and sets) the 1.2 handlers.
  bool hasOAuth() const { return (descriptor_->capabilities & IH_CAP_OAUTH) != 0; }
  // Runs out of process: the library was loaded by a plugin runner (host/isolation), never mapped here, and
  // the descriptor forwards every call to a runner.
  bool remote() const { return library_ == nullptr; }

  // In-flight call accounting (the call gate increments around every call into the plugin).
  void enterCall() { in_flight_.fetch_add(1, std::memory_order_acq_rel); }
  void leaveCall() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }
  int inFlight() const { return in_flight_.load(std::memory_order_acquire); }

 private:
  friend class Registry;
  struct Library;  // the Boost.DLL handle, kept out of this header
  Plugin() = default;

  std::string file_;
  std::string sha256_;
  Manifest manifest_;
  std::unique_ptr<Library> library_;   // null for a remote plugin
  std::shared_ptr<const void> owner_;  // a remote plugin's descriptor and manifest storage
  const ih_plugin_descriptor* descriptor_ = nullptr;
  std::atomic<int> in_flight_{0};
};

struct RefusedPlugin {
  std::string file;
  std::string name;     // manifest name when it could be read, else empty
  std::string version;  // "1.0" ABI version when known, else empty
  std::string reason;
};

struct ScanOptions {
  std::string dir;
  // File name -> lowercase hex sha256. When non-empty, only listed files with a matching digest load.
  std::map<std::string, std::string> sha256_allow;
  // How one file is loaded (path, expected sha256 or ""); empty: Registry::loadFile. The host passes
  // isolation::probe when plugins run out of process, so it never maps their libraries.
  std::function<Result<std::shared_ptr<Plugin>>(const std::string&, const std::string&)> load;
};

class Registry {
 public:
  // Loads every `*.so` in `options.dir` (sorted by file name). Never fails as a whole: a missing directory or
  // a bad file is recorded in refused() and logged.
  static std::unique_ptr<Registry> scan(const ScanOptions& options);

  // Loads one file, or explains why not. Does not register it.
  static Result<std::shared_ptr<Plugin>> loadFile(const std::string& path,
                                                  const std::string& expected_sha256);

  const std::vector<std::shared_ptr<Plugin>>& loaded() const { return loaded_; }
  const std::vector<RefusedPlugin>& refused() const { return refused_; }
  std::shared_ptr<Plugin> find(std::string_view name) const;

  // A plugin loaded elsewhere (a runner): `descriptor` (kept alive by `owner`) is checked like a loaded
  // library's and answers every call. Does not register it.
  static Result<std::shared_ptr<Plugin>> adopt(const std::string& path, const std::string& sha256,
                                               const ih_plugin_descriptor* descriptor,
                                               std::shared_ptr<const void> owner);

  // Drops the registry's references; libraries unload once no instance or call holds them any more.
  void clear();

 private:
  std::vector<std::shared_ptr<Plugin>> loaded_;
  std::vector<RefusedPlugin> refused_;
};

// Lowercase hex SHA-256 of a file, or an error naming the file.
Result<std::string> sha256File(const std::string& path);

}  // namespace ih::loader

// The plugin descriptor of a Plugin subclass (descriptorFor<T>) and IH_SDK_EXPORT_PLUGIN, which exports it as
// the one symbol `ih_plugin_entry`. The descriptor's functions are noexcept thunks through detail::guard: a
// bad configuration (std::invalid_argument) is IH_ERR_INVALID_ARGUMENT, any other exception IH_ERR_INTERNAL.
// The instance each create returns is owned by the host until destroy; the descriptor is static, read-only.
#ifndef IH_SDK_DESCRIPTOR_HPP
#define IH_SDK_DESCRIPTOR_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "ih/plugin_abi.h"
#include "ih/sdk/call.hpp"
#include "ih/sdk/guard.hpp"
#include "ih/sdk/plugin_base.hpp"
#include "ih/sdk/status.hpp"
#include "ih/sdk/strings.hpp"

namespace ih::sdk {
namespace detail {

// What an ih_plugin* points to: the host table (it outlives the instance) and the user's object.
struct Instance {
  const ih_host_api* host;
  std::unique_ptr<Plugin> plugin;
};

template <typename T>
struct Thunks {
  static Instance* self(ih_plugin* p) noexcept { return reinterpret_cast<Instance*>(p); }

  static ih_status create(const ih_host_api* host, ih_call* call, ih_str integration_id, ih_str config_json,
                          ih_plugin** out_instance) noexcept {
    if (out_instance == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *out_instance = nullptr;
    // A table of an older minor is fine: Call checks each newer service's presence before using it.
    if (host == nullptr || host->struct_size < offsetof(ih_host_api, records_commit) ||
        host->abi_major != IH_ABI_MAJOR) {
      setErrorSafely(host, call, "host API table is missing, too small or of another major version");
      return IH_ERR_INVALID_ARGUMENT;
    }
    try {
      auto instance = std::make_unique<Instance>();
      instance->host = host;
      instance->plugin = std::make_unique<T>(host, toView(integration_id), toView(config_json));
      *out_instance = reinterpret_cast<ih_plugin*>(instance.release());
      return IH_OK;
    } catch (const std::invalid_argument& e) {
      setErrorSafely(host, call, std::string("invalid configuration: ") + e.what());
      return IH_ERR_INVALID_ARGUMENT;
    } catch (const std::exception& e) {
      setErrorSafely(host, call, std::string("unhandled exception: ") + e.what());
      return IH_ERR_INTERNAL;
    } catch (...) {
      setErrorSafely(host, call, "unhandled non-standard exception");
      return IH_ERR_INTERNAL;
    }
  }
  static void destroy(ih_plugin* p) noexcept {
    try {
      delete self(p);
    } catch (...) {  // a throwing destructor must not cross the boundary
    }
  }
  static ih_status handleRoute(ih_plugin* p, ih_call* call, ih_str request_json, ih_str body) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.onRoute(c, toView(request_json), toView(body));
    });
  }
  static ih_status verifyWebhook(ih_plugin* p, ih_call* call, ih_str request_json, ih_str body) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.verifyWebhook(c, toView(request_json), toView(body));
    });
  }
  static ih_status handleWebhook(ih_plugin* p, ih_call* call, ih_str event_json, ih_str body) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.handleWebhook(c, toView(event_json), toView(body));
    });
  }
  static ih_status runJob(ih_plugin* p, ih_call* call, ih_str job, ih_str params_json) noexcept {
    return dispatch(
        p, call, [&](Plugin& plugin, Call& c) { return plugin.runJob(c, toView(job), toView(params_json)); });
  }
  static ih_status runAction(ih_plugin* p, ih_call* call, ih_str action, ih_str input_json) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.runAction(c, toView(action), toView(input_json));
    });
  }
  static ih_status connect(ih_plugin* p, ih_call* call, ih_str input_json) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) { return plugin.connect(c, toView(input_json)); });
  }
  static ih_status testConnection(ih_plugin* p, ih_call* call) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) { return plugin.testConnection(c); });
  }
  static ih_status disconnect(ih_plugin* p, ih_call* call) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) { return plugin.disconnect(c); });
  }
  static ih_status oauthAuthorize(ih_plugin* p, ih_call* call, ih_str params_json) noexcept {
    return dispatch(p, call,
                    [&](Plugin& plugin, Call& c) { return plugin.oauthAuthorize(c, toView(params_json)); });
  }
  static ih_status oauthComplete(ih_plugin* p, ih_call* call, ih_str params_json) noexcept {
    return dispatch(p, call,
                    [&](Plugin& plugin, Call& c) { return plugin.oauthComplete(c, toView(params_json)); });
  }

 private:
  template <typename Fn>
  static ih_status dispatch(ih_plugin* p, ih_call* call, Fn&& fn) noexcept {
    Instance* instance = self(p);
    if (instance == nullptr || !instance->plugin) return IH_ERR_INVALID_ARGUMENT;
    return guard(instance->host, call, [&]() {
      Call c(instance->host, call);
      return fn(*instance->plugin, c);
    });
  }
};

}  // namespace detail

// The descriptor for plugin class T (what IH_SDK_EXPORT_PLUGIN returns). Usable directly in tests that hold
// several plugin classes in one binary. `manifest_json` must have static storage duration.
template <typename T>
constexpr ih_plugin_descriptor descriptorFor(const char* manifest_json, uint64_t capabilities,
                                             uint32_t flags) noexcept {
  return ih_plugin_descriptor{
      static_cast<uint32_t>(sizeof(ih_plugin_descriptor)),
      static_cast<uint16_t>(IH_ABI_MAJOR),
      static_cast<uint16_t>(IH_ABI_MINOR),
      capabilities,
      flags,
      0u,
      manifest_json,
      &detail::Thunks<T>::create,
      &detail::Thunks<T>::destroy,
      &detail::Thunks<T>::handleRoute,
      &detail::Thunks<T>::verifyWebhook,
      &detail::Thunks<T>::handleWebhook,
      &detail::Thunks<T>::runJob,
      &detail::Thunks<T>::runAction,
      &detail::Thunks<T>::connect,
      &detail::Thunks<T>::testConnection,
      &detail::Thunks<T>::disconnect,
      &detail::Thunks<T>::oauthAuthorize,
      &detail::Thunks<T>::oauthComplete,
  };
}

}  // namespace ih::sdk

// Defines the plugin's one exported symbol. Use once per shared library, at namespace scope:
//   IH_SDK_EXPORT_PLUGIN(MyPlugin, kManifestJson, IH_CAP_ROUTES | IH_CAP_CONNECT, 0)
// The descriptor is static and read-only; the entry point always returns it and lets the host decide whether
// the versions are compatible (so the host can log both versions in its refusal).
#define IH_SDK_EXPORT_PLUGIN(ClassName, kManifestJson, capabilities, flags)                                 \
  extern "C" IH_EXPORT const ih_plugin_descriptor* ih_plugin_entry(uint16_t host_major,                     \
                                                                   uint16_t host_minor) {                   \
    static const ih_plugin_descriptor ih_sdk_descriptor =                                                   \
        ::ih::sdk::descriptorFor<ClassName>((kManifestJson), (capabilities), static_cast<uint32_t>(flags)); \
    (void)host_major;                                                                                       \
    (void)host_minor;                                                                                       \
    return &ih_sdk_descriptor;                                                                              \
  }

#endif  // IH_SDK_DESCRIPTOR_HPP

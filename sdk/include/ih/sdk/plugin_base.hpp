// Plugin: the base class a plugin derives from, one virtual per handler of the C ABI (default: answers
// IH_ERR_UNSUPPORTED). Handlers return Status; the thunks of ih/sdk/descriptor.hpp turn what they return or
// throw into an ih_status, so a handler may throw but nothing crosses the boundary. Threading: see below.
#ifndef IH_SDK_PLUGIN_BASE_HPP
#define IH_SDK_PLUGIN_BASE_HPP

#include <string_view>

#include "ih/sdk/call.hpp"
#include "ih/sdk/status.hpp"

namespace ih::sdk {

// Plugin: derive, override the handlers the manifest declares, and export with IH_SDK_EXPORT_PLUGIN.
// Construction: the SDK calls `Derived(const ih_host_api* host, std::string_view integration_id,
// std::string_view config_json)`; the views are borrowed (copy what you keep). Throw std::invalid_argument
// for a bad configuration (-> IH_ERR_INVALID_ARGUMENT), anything else -> IH_ERR_INTERNAL. Threading: handlers
// may run concurrently on different threads unless the descriptor has IH_FLAG_SERIALIZE; make shared members
// immutable or guard them.
class Plugin {
 public:
  virtual ~Plugin() = default;

  virtual Status onRoute(Call&, std::string_view /*request_json*/, std::string_view /*body*/) {
    return Status::unsupported("routes are not supported by this plugin");
  }
  virtual Status verifyWebhook(Call&, std::string_view /*request_json*/, std::string_view /*body*/) {
    return Status::unsupported("webhooks are not supported by this plugin");
  }
  virtual Status handleWebhook(Call&, std::string_view /*event_json*/, std::string_view /*body*/) {
    return Status::unsupported("webhooks are not supported by this plugin");
  }
  virtual Status runJob(Call&, std::string_view /*job*/, std::string_view /*params_json*/) {
    return Status::unsupported("jobs are not supported by this plugin");
  }
  virtual Status runAction(Call&, std::string_view /*action*/, std::string_view /*input_json*/) {
    return Status::unsupported("actions are not supported by this plugin");
  }
  virtual Status connect(Call&, std::string_view /*input_json*/) {
    return Status::unsupported("connect is not supported by this plugin");
  }
  virtual Status testConnection(Call&) { return Status::unsupported("test_connection is not supported"); }
  virtual Status disconnect(Call&) { return Status::unsupported("disconnect is not supported"); }
  // ABI 1.2, IH_CAP_OAUTH. `params_json` {"state","redirect_uri"} → setResult({"url":…}).
  virtual Status oauthAuthorize(Call&, std::string_view /*params_json*/) {
    return Status::unsupported("OAuth is not supported by this plugin");
  }
  // ABI 1.2, IH_CAP_OAUTH. `params_json` {"query":{…},"redirect_uri"}: exchange the code, putCredentials,
  // bindAccount, setResult({"account",…}).
  virtual Status oauthComplete(Call&, std::string_view /*params_json*/) {
    return Status::unsupported("OAuth is not supported by this plugin");
  }
};

}  // namespace ih::sdk

#endif  // IH_SDK_PLUGIN_BASE_HPP

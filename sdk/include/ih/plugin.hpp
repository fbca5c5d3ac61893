// ihost plugin SDK: a header-only C++17 wrapper over the C ABI in ih/plugin_abi.h. This umbrella header only
// gathers the focused headers of ih/sdk/: include it (everything a plugin needs) or just the piece you use.
//
//   strings.hpp      toView / toStr between ih_str and std::string_view (borrowing), toLowerAscii.
//   status.hpp       Status / Result<T>: expected failures as values (codes are the IH_ERR_* values).
//   json.hpp         ih::sdk::json: a tiny JSON writer and reader for the text that crosses the ABI (no JSON
//                    library needed; plugins are free to use any JSON library privately).
//   form.hpp         urlEncode, formEncode, Form: application/x-www-form-urlencoded with nested keys.
//   buffer.hpp       Buffer: owns one host buffer (ih_buf*).
//   http.hpp         HttpRequest / HttpResponse: outbound HTTP through the host.
//   call.hpp         Call: the host services of one handler invocation, std::string_view in and owning
//                    std::string out. Valid only inside the handler that received it (like ih_call*); from
//                    host ABI 1.3 also on threads the handler starts and joins before returning.
//   plugin_base.hpp  Plugin: a base class with one virtual per handler (default: IH_ERR_UNSUPPORTED).
//   guard.hpp        the exception barrier of every entry point.
//   descriptor.hpp   descriptorFor<T> and IH_SDK_EXPORT_PLUGIN(Class, manifest, capabilities, flags), which
//                    defines the one exported symbol `ih_plugin_entry`. A handler that returns a non-OK
//                    Status gets its message passed to set_error; one that throws std::exception becomes
//                    IH_ERR_INTERNAL with "unhandled exception: <what()>"; anything else thrown becomes
//                    IH_ERR_INTERNAL with "unhandled non-standard exception". No exception crosses the ABI.
//
// Dependencies: the C++17 standard library only (ih/hmac.hpp, kept apart, needs OpenSSL). Everything lives
// in namespace ih::sdk so it can never clash with the host's own ih:: types (one binary may contain both,
// e.g. in tests).
#ifndef IH_PLUGIN_HPP
#define IH_PLUGIN_HPP

#include "ih/plugin_abi.h"
#include "ih/sdk/buffer.hpp"
#include "ih/sdk/call.hpp"
#include "ih/sdk/descriptor.hpp"
#include "ih/sdk/form.hpp"
#include "ih/sdk/guard.hpp"
#include "ih/sdk/http.hpp"
#include "ih/sdk/json.hpp"
#include "ih/sdk/plugin_base.hpp"
#include "ih/sdk/status.hpp"
#include "ih/sdk/strings.hpp"

#endif  // IH_PLUGIN_HPP

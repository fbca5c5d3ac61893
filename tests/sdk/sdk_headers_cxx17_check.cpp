// The C++ SDK headers must compile as C++17 with -Wall -Wextra -Wpedantic -Werror, templates instantiated.
#include "ih/hmac.hpp"
#include "ih/plugin.hpp"
#include "ih/testing/fake_host.hpp"

namespace {

class CompileCheckPlugin final : public ih::sdk::Plugin {
 public:
  CompileCheckPlugin(const ih_host_api*, std::string_view, std::string_view) {}
};

constexpr char kManifest[] = R"({"name":"compile_check","version":"1.0.0"})";
constexpr ih_plugin_descriptor kDescriptor = ih::sdk::descriptorFor<CompileCheckPlugin>(kManifest, 0, 0);
static_assert(kDescriptor.struct_size == sizeof(ih_plugin_descriptor));

}  // namespace

int ihSdkHeadersCompileCheck() {
  ih::sdk::testing::FakeHost host(&kDescriptor);
  auto instance = host.create("compile_check", "{}");
  (void)host.oauthAuthorize(instance, "{}");  // ABI 1.2 helpers instantiate too
  ih::sdk::Result<int> result(ih::sdk::Status::notFound("x"));
  return static_cast<int>(host.route(instance, "{}").status) + (result ? 1 : 0) +
         static_cast<int>(ih::sdk::hmacSha256Hex("k", "d").size());
}

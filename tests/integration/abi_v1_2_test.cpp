// ABI 1.2 through the real loader: plugins built for 1.0 (the frozen header), 1.1 and 1.2 all load; the 1.2
// OAuth fields are read only from descriptors that reach them.
#include <catch2/catch.hpp>

#include <string>

#include "loader/registry.h"

namespace {

std::string fixture(const std::string& name) {
  return std::string(IH_TEST_PLUGIN_DIR) + "/lib" + name + ".so";
}

}  // namespace

TEST_CASE("loader accepts ABI 1.0, 1.1 and current (1.2+) plugins", "[abi][plugins]") {
  auto v1_0 = ih::loader::Registry::loadFile(fixture("fixture_frozen"), "");
  REQUIRE(v1_0.isOk());
  CHECK((*v1_0)->abiMinor() == 0);
  CHECK_FALSE((*v1_0)->hasOAuth());

  auto v1_1 = ih::loader::Registry::loadFile(fixture("fixture_v1_1"), "");
  INFO((v1_1.isOk() ? std::string() : v1_1.status().message()));
  REQUIRE(v1_1.isOk());
  CHECK((*v1_1)->abiMinor() == 1);
  CHECK_FALSE((*v1_1)->hasOAuth());

  auto v1_2 = ih::loader::Registry::loadFile(std::string(IH_PLUGIN_DIR) + "/libstripe_connect.so", "");
  INFO((v1_2.isOk() ? std::string() : v1_2.status().message()));
  REQUIRE(v1_2.isOk());
  CHECK(
      (*v1_2)->abiMinor() ==
      IH_ABI_MINOR);  // built with this SDK (1.3 changed no struct; 1.4 appended emit_event_once, 1.5 call_remaining_ms)
  CHECK((*v1_2)->hasOAuth());
  CHECK((*v1_2)->descriptor().oauth_authorize != nullptr);
  CHECK(ih::loader::capabilityNames((*v1_2)->capabilities()) ==
        std::vector<std::string>{"webhooks", "jobs", "actions", "connect", "oauth"});
}

TEST_CASE("loader refuses the OAuth capability in a pre-1.2 descriptor", "[abi][plugins]") {
  auto refused = ih::loader::Registry::loadFile(fixture("fixture_oauth_v1_1"), "");
  REQUIRE_FALSE(refused.isOk());
  CHECK_THAT(refused.status().message(), Catch::Contains("oauth capability needs an ABI 1.2 descriptor"));
}

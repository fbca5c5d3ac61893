// The plugin loader against real .so files: every refusal reason, duplicates, allow-lists, a frozen v1.0
// plugin, a throwing handler contained, and the example plugin answering its route through the real server.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "loader/registry.h"
#include "runtime/runtime.h"
#include "support/temp_dir.h"
#include "support/test_host.h"

namespace fs = std::filesystem;
using ih::test::TempDir;

namespace {

// A plugins directory holding copies of the named fixtures from build/test_plugins.
void copyFixture(const TempDir& dir, const std::string& file) {
  fs::copy_file(fs::path(IH_TEST_PLUGIN_DIR) / file, dir.path() / file, fs::copy_options::overwrite_existing);
}

std::string refusalReason(const ih::loader::Registry& r, const std::string& file) {
  for (const auto& refused : r.refused())
    if (fs::path(refused.file).filename() == file) return refused.reason;
  return "";
}

}  // namespace

TEST_CASE("the loader refuses each broken plugin with the exact reason and keeps the rest", "[loader]") {
  TempDir dir;
  for (const char* f : {"libfixture_frozen.so", "libfixture_wrong_major.so", "libfixture_future_minor.so",
                        "libfixture_no_entry.so", "libfixture_null_entry.so", "libfixture_small_struct.so",
                        "libfixture_bad_manifest.so", "not_a_plugin.so"}) {
    copyFixture(dir, f);
  }
  auto registry = ih::loader::Registry::scan({dir.path().string(), {}});
  REQUIRE(registry->loaded().size() == 1);
  CHECK(registry->loaded()[0]->manifest().name == "frozen");
  CHECK(registry->refused().size() == 7);

  const std::string host_abi = "1." + std::to_string(IH_ABI_MINOR);
  const std::string future_abi = "1." + std::to_string(IH_ABI_MINOR + 1);
  CHECK_THAT(
      refusalReason(*registry, "libfixture_wrong_major.so"),
      Catch::StartsWith("built for plugin ABI 2.") &&
          Catch::EndsWith(" but this host speaks ABI " + host_abi +
                          " (the major version must match); rebuild the plugin against this host's SDK"));
  CHECK(refusalReason(*registry, "libfixture_future_minor.so") ==
        "built for plugin ABI " + future_abi + ", newer than this host's ABI " + host_abi +
            "; upgrade ihost or rebuild the plugin against an older SDK");
  CHECK_THAT(refusalReason(*registry, "libfixture_no_entry.so"),
             Catch::StartsWith("does not export ih_plugin_entry"));
  CHECK(refusalReason(*registry, "libfixture_null_entry.so") ==
        "ih_plugin_entry returned NULL: the plugin refused host ABI " + host_abi);
  CHECK_THAT(refusalReason(*registry, "libfixture_small_struct.so"),
             Catch::StartsWith("descriptor struct_size 8 is smaller than the ABI 1.0 descriptor ("));
  CHECK(refusalReason(*registry, "libfixture_bad_manifest.so") == "manifest is not valid JSON");
  CHECK(refusalReason(*registry, "not_a_plugin.so") ==
        "not an ELF shared library (expected a plugin .so built with the ihost SDK)");
}

TEST_CASE("a second plugin with the same name is refused, naming the first file", "[loader]") {
  TempDir dir;
  copyFixture(dir, "libfixture_dup_a.so");
  copyFixture(dir, "libfixture_dup_b.so");
  auto registry = ih::loader::Registry::scan({dir.path().string(), {}});
  REQUIRE(registry->loaded().size() == 1);
  CHECK(registry->loaded()[0]->manifest().version == "1.0.0");  // dup_a sorts first
  CHECK_THAT(refusalReason(*registry, "libfixture_dup_b.so"),
             Catch::StartsWith("duplicate plugin name \"dupname\": already loaded from ") &&
                 Catch::Contains("libfixture_dup_a.so"));
}

TEST_CASE("the sha256 allow-list admits only listed files with a matching digest", "[loader]") {
  TempDir dir;
  copyFixture(dir, "libfixture_frozen.so");
  copyFixture(dir, "libfixture_throwing.so");
  auto digest = ih::loader::sha256File(dir.file("libfixture_frozen.so"));
  REQUIRE(digest.isOk());
  REQUIRE(digest->size() == 64);

  auto registry = ih::loader::Registry::scan({dir.path().string(), {{"libfixture_frozen.so", *digest}}});
  REQUIRE(registry->loaded().size() == 1);
  CHECK(refusalReason(*registry, "libfixture_throwing.so") ==
        "not in [plugins.sha256_allow]; add its sha256 to load it");

  std::string wrong(64, '0');
  auto refused = ih::loader::Registry::scan({dir.path().string(), {{"libfixture_frozen.so", wrong}}});
  CHECK(refused->loaded().empty());
  CHECK_THAT(refusalReason(*refused, "libfixture_frozen.so"),
             Catch::Contains("does not match the allow-list entry"));
}

TEST_CASE("a missing plugins directory loads nothing and does not fail", "[loader]") {
  auto registry = ih::loader::Registry::scan({"/nonexistent/ihost/plugins", {}});
  CHECK(registry->loaded().empty());
  CHECK(registry->refused().empty());
}

TEST_CASE("a plugin built against the frozen v1.0 header serves its route through the real server",
          "[loader]") {
  TempDir plugins;
  copyFixture(plugins, "libfixture_frozen.so");
  copyFixture(plugins, "libfixture_throwing.so");
  ih::test::TestHostOptions options;
  options.plugins_dir = plugins.path().string();
  options.extra_toml =
      "[integrations.frozen]\nplugin = \"frozen\"\n\n[integrations.thrower]\nplugin = \"thrower\"\n";
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("acme");
  auto client = host.client();

  auto res = client->Get("/api/integrations/frozen/routes/frozen", ih::test::bearer(tenant.api_key));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(nlohmann::json::parse(res->body)["frozen"] == true);

  // A handler that throws is contained: 500 with the exception's message, and the host keeps serving.
  auto boom = client->Get("/api/integrations/thrower/routes/boom", ih::test::bearer(tenant.api_key));
  REQUIRE(boom);
  CHECK(boom->status == 500);
  CHECK_THAT(boom->body, Catch::Contains("unhandled exception: boom"));
  auto thrown_int = client->Post("/api/integrations/thrower/actions/throw_int",
                                 ih::test::bearer(tenant.api_key), "{}", "application/json");
  REQUIRE(thrown_int);
  CHECK(thrown_int->status == 500);
  CHECK_THAT(thrown_int->body, Catch::Contains("unhandled non-standard exception"));
  auto again = client->Get("/api/integrations/frozen/routes/frozen", ih::test::bearer(tenant.api_key));
  REQUIRE(again);
  CHECK(again->status == 200);
}

TEST_CASE("the example plugin answers its route through the real server on a real port",
          "[loader][example]") {
  ih::test::TestHostOptions options;
  options.extra_toml =
      "[integrations.example]\nplugin = \"example\"\ngreeting = \"Howdy\"\nwebhook_secret = "
      "\"whsec_example_test_0123456789\"\n";
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("acme");
  auto client = host.client();

  auto res = client->Get("/api/integrations/example/routes/hello", ih::test::bearer(tenant.api_key));
  REQUIRE(res);
  REQUIRE(res->status == 200);
  auto body = nlohmann::json::parse(res->body);
  CHECK(body["message"] == "Howdy, " + tenant.tenant_id + "!");
  CHECK(body["integration"] == "example");

  // Unknown plugin route and unauthenticated calls are refused with the JSON envelope.
  auto missing = client->Get("/api/integrations/example/routes/nope", ih::test::bearer(tenant.api_key));
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(nlohmann::json::parse(missing->body)["error"]["code"] == "not_found");
  auto anonymous = client->Get("/api/integrations/example/routes/hello");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
}

TEST_CASE("ihost plugins list shows ABI version, capabilities and refusals", "[loader][cli]") {
  TempDir dir;
  copyFixture(dir, "libfixture_frozen.so");
  copyFixture(dir, "libfixture_wrong_major.so");
  fs::copy_file(fs::path(IH_PLUGIN_DIR) / "libexample.so", dir.path() / "libexample.so");
  std::ostringstream out, err;
  int code = ih::cli::run({"plugins", "list", "--dir", dir.path().string()}, out, err);
  CHECK(code == 0);
  std::string text = out.str();
  CHECK_THAT(text, Catch::Contains("example") && Catch::Contains("1." + std::to_string(IH_ABI_MINOR)) &&
                       Catch::Contains("routes,webhooks,jobs,actions,connect"));
  CHECK_THAT(text, Catch::Contains("frozen"));
  CHECK_THAT(text, Catch::Contains("REFUSED") && Catch::Contains("libfixture_wrong_major.so") &&
                       Catch::Contains("built for plugin ABI 2."));

  std::ostringstream json_out;
  CHECK(ih::cli::run({"plugins", "list", "--dir", dir.path().string(), "--json"}, json_out, err) == 0);
  auto j = nlohmann::json::parse(json_out.str());
  CHECK(j["loaded"].size() == 2);
  CHECK(j["refused"].size() == 1);
}

// A plugin's dynamic symbol table is its ABI: exactly ih_plugin_entry. Anything else (template instances,
// the Stripe helpers) could bind to another plugin's or the host's copy of the same symbol.
TEST_CASE("every shipped plugin exports ih_plugin_entry and nothing else (nm -D)", "[loader]") {
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(IH_PLUGIN_DIR)) {
    if (entry.path().extension() != ".so") continue;
    const std::string command = "nm -D --defined-only '" + entry.path().string() + "' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
      output.append(buffer, n);
    REQUIRE(::pclose(pipe) == 0);
    std::vector<std::string> symbols;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
      const auto space = line.rfind(' ');
      if (space != std::string::npos) symbols.push_back(line.substr(space + 1));
    }
    INFO(entry.path().filename().string() << ":\n" << output);
    CHECK(symbols == std::vector<std::string>{"ih_plugin_entry"});
    ++checked;
  }
  CHECK(checked >= 3);  // example, stripe_byok, stripe_connect
}

// `ihost plugins check`, the conformance kit for plugin authors, run as a user runs it (the real binary): it
// passes for every shipped plugin (given the settings they require) and fails with clear reasons for broken
// fixtures.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "support/run_command.h"
#include "support/temp_dir.h"

namespace {

using Run = ih::test::CommandResult;

Run check(const std::string& args) {
  return ih::test::runCommand(std::string(IH_IHOST_BIN) + " plugins check " + args + " 2>&1");
}

}  // namespace

TEST_CASE("plugins check passes for the shipped plugins", "[cli][plugins_check]") {
  ih::test::TempDir dir;
  const std::string example_settings = dir.file("example.toml");
  std::ofstream(example_settings) << "webhook_secret = \"whsec_check_example_secret_0123456789\"\n"
                                     "api_base_url = \"http://127.0.0.1:9\"\n";
  for (const std::string& args : {std::string(IH_PLUGIN_DIR) + "/libexample.so --config " + example_settings,
                                  std::string(IH_PLUGIN_DIR) + "/libstripe_byok.so",
                                  std::string(IH_PLUGIN_DIR) + "/libstandard_webhooks.so",
                                  std::string(IH_TEST_PLUGIN_DIR) + "/c_counter/libc_counter.so"}) {
    Run r = check(args);
    INFO(args << "\n" << r.out);
    CHECK(r.rc == 0);
    CHECK(r.out.find("PASS  exports: only ih_plugin_entry") != std::string::npos);
    CHECK(r.out.find("PASS  manifest") != std::string::npos);
    CHECK(r.out.find("FAIL") == std::string::npos);
    CHECK(r.out.find(" 0 failed") != std::string::npos);
  }
  // The C plugin's action is checked for real (no connection needed).
  Run c = check(std::string(IH_TEST_PLUGIN_DIR) + "/c_counter/libc_counter.so");
  CHECK(c.out.find("PASS  actions:") != std::string::npos);
  CHECK(c.out.find("PASS  concurrency:") != std::string::npos);
  CHECK(c.out.find("PASS  cancel: every call ended within its 3000 ms deadline") != std::string::npos);
}

TEST_CASE("plugins check fails broken plugins with the reason", "[cli][plugins_check]") {
  Run thrower = check(std::string(IH_TEST_PLUGIN_DIR) + "/libfixture_throwing.so");
  INFO(thrower.out);
  CHECK(thrower.rc == 1);
  CHECK(thrower.out.find("FAIL  routes: GET /api/integrations/check/routes/boom") != std::string::npos);
  CHECK(thrower.out.find("unhandled exception: boom") != std::string::npos);
  CHECK(thrower.out.find("FAIL  actions: action throw_int") != std::string::npos);

  // Works, but keeps going long past its call deadline (ABI 1.5 call_remaining_ms): refused on "cancel".
  Run deaf = check(std::string(IH_TEST_PLUGIN_DIR) + "/libfixture_deaf.so");
  INFO(deaf.out);
  CHECK(deaf.rc == 1);
  CHECK(deaf.out.find("PASS  actions:") != std::string::npos);  // it does answer, late
  CHECK(deaf.out.find("FAIL  cancel: POST /api/integrations/check/actions/work took ") != std::string::npos);
  CHECK(deaf.out.find("past the check host's 3000 ms call deadline") != std::string::npos);

  Run bad = check(std::string(IH_TEST_PLUGIN_DIR) + "/libfixture_bad_manifest.so");
  INFO(bad.out);
  CHECK(bad.rc == 1);
  CHECK(bad.out.find("FAIL  manifest: the loader refused it: manifest is not valid JSON") !=
        std::string::npos);

  // Loads and works, but leaks symbols that could collide with another plugin's: refused by the kit.
  Run leaky = check(std::string(IH_TEST_PLUGIN_DIR) + "/libfixture_extra_exports.so");
  INFO(leaky.out);
  CHECK(leaky.rc == 1);
  CHECK(leaky.out.find("PASS  manifest") != std::string::npos);
  CHECK(leaky.out.find("FAIL  exports: 2 symbols besides ih_plugin_entry") != std::string::npos);
  CHECK(leaky.out.find("fixture_leaked_helper") != std::string::npos);
  CHECK(leaky.out.find("build with ihost_add_plugin") != std::string::npos);

  Run unset = check(std::string(IH_PLUGIN_DIR) + "/libexample.so");
  INFO(unset.out);
  CHECK(unset.rc == 1);
  CHECK(unset.out.find("missing required key \"webhook_secret\"") != std::string::npos);

  Run missing = check("/nonexistent/libnothing.so");
  CHECK(missing.rc == 2);
  CHECK(missing.out.find("is not a file") != std::string::npos);
}

TEST_CASE("plugins check --isolated survives a plugin that crashes and passes a good one",
          "[cli][plugins_check]") {
  // In process, fault_inject's abort action would end the command; in a runner the checks all run (a
  // restarting runner answers 503, a clean refusal), and the runner's deaths fail the "runner" check.
  Run crashing = check(std::string(IH_TEST_PLUGIN_DIR) + "/fault_inject/libfault_inject.so --isolated");
  INFO(crashing.out);
  CHECK(crashing.rc == 1);
  CHECK_THAT(crashing.out,
             Catch::Contains("FAIL  runner: the plugin's runner process died during the checks (") &&
                 Catch::Contains("PASS  concurrency") && Catch::Contains("  cancel: ") &&
                 Catch::Contains("passed,"));
  Run good = check(std::string(IH_PLUGIN_DIR) + "/libstripe_byok.so --isolated");
  INFO(good.out);
  CHECK(good.rc == 0);
  CHECK_THAT(good.out, Catch::Contains("PASS  runner: the runner process stayed up through every check"));
}

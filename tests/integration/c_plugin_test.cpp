// A plugin written in plain C99 (tests/plugins/c_counter) loaded by the real loader into a real host: the ABI
// needs no C++. The .so does not even link the C++ runtime.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "support/run_command.h"
#include "support/test_host.h"

namespace {

using nlohmann::json;

std::string run(const std::string& cmd) {
  return ih::test::runCommand(cmd).out;
}

}  // namespace

TEST_CASE("a C99 plugin loads and serves actions, routes, state, records and events", "[loader][c]") {
  const std::string so = std::string(IH_TEST_PLUGIN_DIR) + "/c_counter/libc_counter.so";
  const std::string needed = run("readelf -d '" + so + "' 2>&1 | grep NEEDED");
  INFO(needed);
  CHECK(needed.find("libc.so") != std::string::npos);
  CHECK(needed.find("libstdc++") == std::string::npos);
  CHECK(run("nm -D --defined-only '" + so + "' | awk '{print $3}' | sort | tr '\\n' ' '") ==
        "ih_plugin_entry ");

  ih::test::TestHostOptions options;
  options.plugins_dir = std::string(IH_TEST_PLUGIN_DIR) + "/c_counter";
  options.extra_toml = "[integrations.counter]\nplugin = \"c_counter\"\n";
  ih::test::TestHost host(options);
  auto a = host.createTenant("acme");
  auto b = host.createTenant("globex");
  auto client = host.client();
  auto post = [&](const std::string& key, const json& input) {
    auto res = client->Post("/api/integrations/counter/actions/increment", ih::test::bearer(key),
                            input.dump(), "application/json");
    REQUIRE(res);
    INFO(res->body);
    return std::make_pair(res->status, json::parse(res->body, nullptr, false));
  };
  auto count = [&](const std::string& key) {
    auto res = host.client()->Get("/api/integrations/counter/routes/count", ih::test::bearer(key));
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    return json::parse(res->body)["count"].get<int64_t>();
  };

  CHECK(count(a.api_key) == 0);
  CHECK(post(a.api_key, json::object()).second["count"] == 1);
  CHECK(post(a.api_key, {{"by", 41}}).second["count"] == 42);
  CHECK(count(a.api_key) == 42);
  CHECK(count(b.api_key) == 0);  // tenants are isolated by the host, not by the plugin
  // Refused by the manifest's input_schema (the host) and by the plugin's own check.
  CHECK(post(a.api_key, {{"by", 0}}).first == 400);
  CHECK(post(a.api_key, {{"by", "many"}}).first == 400);
  CHECK(count(a.api_key) == 42);

  auto record = client->Get("/api/records/counter/counter/total", ih::test::bearer(a.api_key));
  REQUIRE(record);
  REQUIRE(record->status == 200);
  CHECK(json::parse(record->body)["data"]["count"] == 42);
  auto events = client->Get("/api/events?type=c_counter.", ih::test::bearer(a.api_key));
  REQUIRE(events);
  const json list = json::parse(events->body);
  REQUIRE(list["data"].size() == 2);
  CHECK(list["data"][1]["data"]["count"] == 42);

  // State survives a restart (it lives in the host's store).
  host.restart();
  CHECK(count(a.api_key) == 42);
}

// The `ihost` command line: exit codes, help, config check, vault init, tenants and keys against a real
// SQLite file, and the real binary serving until SIGTERM.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "store/inbox_store.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

using ih::test::TempDir;

namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run ihost(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = ih::cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

std::string writeConfig(const TempDir& dir, const std::string& extra = "") {
  ih::test::writeFile(
      dir.path() / "ihost.toml",
      "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"db.sqlite\"\n[vault]\nkey_file = "
      "\"vault.keys\"\n[plugins]\ndir = \"" IH_PLUGIN_DIR "\"\n[log]\nlevel = \"error\"\n" +
          extra);
  return dir.file("ihost.toml");
}

}  // namespace

TEST_CASE("usage errors exit 2, help and version exit 0", "[cli]") {
  CHECK(ihost({}).code == ih::cli::kExitUsage);
  auto help = ihost({"--help"});
  CHECK(help.code == 0);
  CHECK_THAT(help.out,
             Catch::Contains("Exit codes: 0 success, 1 failure at run time, 2 usage error, 3 invalid"));
  CHECK(ihost({"serve", "--help"}).code == 0);
  auto unknown = ihost({"frobnicate"});
  CHECK(unknown.code == ih::cli::kExitUsage);
  CHECK_THAT(unknown.err, Catch::Contains("unknown command \"frobnicate\""));
  auto bad_flag = ihost({"version", "--nope"});
  CHECK(bad_flag.code == ih::cli::kExitUsage);
  CHECK_THAT(bad_flag.err, Catch::Contains("unknown flag --nope"));
  auto version = ihost({"version"});
  CHECK(version.code == 0);
  CHECK_THAT(version.out, Catch::StartsWith("ihost ") && Catch::Contains("plugin ABI 1."));
  auto dashed = ihost({"--version"});
  CHECK(dashed.code == 0);
  CHECK(dashed.out == version.out);

  // A known flag on a command it does not belong to, or a stray word, is a usage error naming it.
  struct Misuse {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Misuse> misuses = {
      {{"version", "--scope", "read"}, "flag --scope does not belong to \"ihost version\""},
      {{"serve", "--json"}, "flag --json does not belong to \"ihost serve\""},
      {{"keys", "revoke", "acme", "key_1", "--scope", "read"},
       "flag --scope does not belong to \"ihost keys revoke\""},
      {{"tenants", "create", "acme", "--json"}, "flag --json does not belong to \"ihost tenants create\""},
      {{"config", "check", "extra"}, "unexpected argument \"extra\" for \"ihost config\""},
      {{"vault", "remove-key", "k1", "k2"}, "unexpected argument \"k2\" for \"ihost vault remove-key\""},
      {{"webhooks", "replay", "--scope", "read"}, "flag --scope does not belong to \"ihost webhooks\""},
  };
  for (const auto& m : misuses) {
    INFO(m.args.front() << " " << m.message);
    auto r = ihost(m.args);
    CHECK(r.code == ih::cli::kExitUsage);
    CHECK_THAT(r.err, Catch::Contains(m.message));
    CHECK(r.out.empty());
  }

  // Every vault verb is in its help.
  auto vault_help = ihost({"vault", "--help"});
  for (const char* verb : {"init", "rotate", "status", "remove-key"}) {
    INFO(verb);
    CHECK_THAT(vault_help.out,
               Catch::Contains(std::string(verb) + ":") || Catch::Contains(std::string(verb) + " <id>:"));
  }
}

TEST_CASE("config check names the file, key and fix, and exits 3", "[cli][config]") {
  TempDir dir;
  std::string path = writeConfig(dir, "[integrations.example]\nplugin = \"example\"\ngreting = \"Hi\"\n");
  auto bad = ihost({"config", "check", "--config", path});
  CHECK(bad.code == ih::cli::kExitConfig);
  CHECK_THAT(bad.err, Catch::Contains("ihost.toml:") && Catch::Contains("greting") &&
                          Catch::Contains("did you mean \"greeting\""));

  std::string missing_plugin = writeConfig(dir, "[integrations.shop]\nplugin = \"nosuchplugin\"\n");
  auto absent = ihost({"config", "check", "--config", missing_plugin});
  CHECK(absent.code == ih::cli::kExitConfig);
  CHECK_THAT(absent.err, Catch::Contains("plugin \"nosuchplugin\" is not installed"));

  auto no_file = ihost({"config", "check", "--config", dir.file("nope.toml")});
  CHECK(no_file.code == ih::cli::kExitConfig);
  CHECK_THAT(no_file.err, Catch::Contains("cannot read config file"));

  std::string good = writeConfig(dir,
                                 "[integrations.example]\nplugin = \"example\"\nwebhook_secret = "
                                 "\"whsec_cli_test_secret_value\"\n");
  auto ok = ihost({"config", "check", "--config", good});
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::Contains("configuration OK"));
  CHECK(ok.out.find("cli_test_secret_value") == std::string::npos);  // masked in the summary
}

TEST_CASE("config check and plugins list read isolated plugins through a runner",
          "[cli][config][isolation]") {
  TempDir dir;
  ::setenv("IHOST_PLUGINS__RUNNER", IH_IHOST_BIN, 1);  // this test binary is not ihost
  const std::string good =
      writeConfig(dir,
                  "[integrations.example]\nplugin = \"example\"\nisolation = \"process\"\n"
                  "webhook_secret = \"whsec_cli_test_secret_value\"\n");
  auto ok = ihost({"config", "check", "--config", good});
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::Contains("configuration OK") && Catch::Contains("isolation = \"process\""));
  auto listed = ihost({"plugins", "list", "--config", good});
  CHECK(listed.code == 0);
  CHECK_THAT(listed.out, Catch::Contains("example"));
  // Settings are still checked against the schema the runner reported.
  const std::string bad =
      writeConfig(dir,
                  "[integrations.example]\nplugin = \"example\"\nisolation = \"process\"\n"
                  "greting = \"Hi\"\n");
  auto refused = ihost({"config", "check", "--config", bad});
  CHECK(refused.code == ih::cli::kExitConfig);
  CHECK_THAT(refused.err, Catch::Contains("did you mean \"greeting\""));
  ::unsetenv("IHOST_PLUGINS__RUNNER");
}

TEST_CASE("serve fails fast on settings the plugin's schema refuses, naming file, key and fix",
          "[cli][serve]") {
  TempDir dir;
  // A webhook secret shorter than the example plugin's minimum (the shipped placeholder was 23 characters).
  const std::string path = writeConfig(
      dir, "[integrations.example]\nplugin = \"example\"\nwebhook_secret = \"whsec_example_change\"\n");
  REQUIRE(ihost({"vault", "init", "--config", path}).code == 0);
  auto serve = ihost({"serve", "--config", path});
  CHECK(serve.code != 0);
  CHECK_THAT(serve.err, Catch::Contains("ihost.toml:") &&
                            Catch::Contains("integrations.example.webhook_secret") &&
                            Catch::Contains("at least 24 characters") && Catch::Contains("config check"));
  CHECK(serve.err.find("whsec_example_change") == std::string::npos);  // a secret is never echoed
}

TEST_CASE("integrations list and show: plugin version, jobs, webhook URL, a tenant's connection", "[cli]") {
  TempDir dir;
  const std::string config = writeConfig(
      dir,
      "[integrations.stripe]\nplugin = \"stripe_byok\"\n[integrations.stripe.jobs.transactions]\nevery = "
      "\"30m\"\n[integrations.connect]\nplugin = \"stripe_connect\"\nenabled = false\nclient_id = "
      "\"ca_x\"\n");
  REQUIRE(ihost({"vault", "init", "--config", config}).code == 0);
  auto created = ihost({"tenants", "create", "acme", "--config", config});
  REQUIRE(created.code == 0);
  const std::string tenant_id = created.out.substr(created.out.find("ten_"), 21);

  auto list = ihost({"integrations", "list", "--config", config});
  REQUIRE(list.code == 0);
  CHECK_THAT(list.out, Catch::Contains("stripe_byok 1.") && Catch::Contains("/webhooks/stripe/<tenant id>") &&
                           Catch::Contains("stripe_connect 1.") && Catch::Contains("/webhooks/connect"));

  // A connection as the API stores it, with a failed health check.
  {
    ih::store::Options options;
    options.path = dir.file("db.sqlite");
    auto store = ih::store::Store::open(options);
    REQUIRE(store.isOk());
    ih::store::Connection conn;
    conn.tenant_id = tenant_id;
    conn.integration_id = "stripe";
    conn.connected_at = 1764700000000;
    conn.updated_at = conn.connected_at;
    REQUIRE((*store)
                ->saveConnection(tenant_id, {}, conn,
                                 {0, tenant_id, "stripe", "test", "integration.connected", "{}", 1})
                .isOk());
    REQUIRE(
        (*store)->recordHealthCheck(tenant_id, "stripe", false, "401 invalid api key", 1764700060000).isOk());
  }
  auto show = ihost({"integrations", "show", "stripe", "--tenant", "acme", "--config", config});
  REQUIRE(show.code == 0);
  CHECK_THAT(show.out, Catch::Contains("plugin        stripe_byok 1.") &&
                           Catch::Contains("/webhooks/stripe/" + tenant_id) &&
                           Catch::Contains("status        error") &&
                           Catch::Contains("failed: 401 invalid api key") &&
                           Catch::Contains("transactions every 30m") && Catch::Contains("catalog every 1h"));

  auto as_json =
      ihost({"integrations", "show", "connect", "--tenant", tenant_id, "--json", "--config", config});
  REQUIRE(as_json.code == 0);
  auto j = nlohmann::json::parse(as_json.out);
  CHECK(j["enabled"] == false);
  CHECK(j["status"] == "not_connected");
  CHECK(j["webhook_url"].get<std::string>().find("/webhooks/connect") != std::string::npos);

  auto unknown = ihost({"integrations", "show", "nope", "--config", config});
  CHECK(unknown.code == ih::cli::kExitUsage);
  CHECK_THAT(unknown.err, Catch::Contains("no integration \"nope\""));
  auto stranger = ihost({"integrations", "list", "--tenant", "nobody", "--config", config});
  CHECK(stranger.code == ih::cli::kExitUsage);
  CHECK_THAT(stranger.err, Catch::Contains("no tenant \"nobody\""));
}

TEST_CASE("vault init, tenants and keys through the CLI", "[cli][tenancy]") {
  TempDir dir;
  std::string config = writeConfig(dir);
  auto init = ihost({"vault", "init", "--config", config});
  REQUIRE(init.code == 0);
  CHECK_THAT(init.out, Catch::Contains("iha_"));
  auto again = ihost({"vault", "init", "--config", config});
  CHECK(again.code == ih::cli::kExitFailure);
  CHECK_THAT(again.err, Catch::Contains("refusing to overwrite"));

  auto created = ihost({"tenants", "create", "acme", "--config", config});
  REQUIRE(created.code == 0);
  CHECK_THAT(created.out, Catch::Contains("ihk_live_") && Catch::Contains("shown once"));
  CHECK(ihost({"tenants", "create", "acme", "--config", config}).code != 0);
  CHECK(ihost({"tenants", "create", "Bad Name", "--config", config}).code == ih::cli::kExitUsage);
  auto listed = ihost({"tenants", "list", "--config", config});
  CHECK_THAT(listed.out, Catch::Contains("acme"));
  CHECK(listed.out.find("ihk_live_") == std::string::npos);

  auto key = ihost({"keys", "create", "acme", "--scope", "read", "--config", config});
  REQUIRE(key.code == 0);
  auto start = key.out.find("key key_");
  REQUIRE(start != std::string::npos);
  std::string key_id = key.out.substr(start + 4, key.out.find(' ', start + 4) - start - 4);
  auto keys = ihost({"keys", "list", "acme", "--config", config});
  CHECK_THAT(keys.out, Catch::Contains(key_id) && Catch::Contains("read"));
  auto plain_at = key.out.find("api key: ");
  REQUIRE(plain_at != std::string::npos);
  std::string plaintext = key.out.substr(plain_at + 9, key.out.find('\n', plain_at) - plain_at - 9);
  CHECK(plaintext.size() > 40);
  CHECK(keys.out.find(plaintext) == std::string::npos);  // only the short prefix is ever shown again
  CHECK(ihost({"keys", "revoke", "acme", key_id, "--config", config}).code == 0);
  CHECK_THAT(ihost({"keys", "list", "acme", "--config", config}).out, Catch::Contains("revoked"));
  CHECK(ihost({"keys", "create", "nobody", "--config", config}).code == ih::cli::kExitFailure);
  CHECK(ihost({"keys", "create", "acme", "--scope", "root", "--config", config}).code == ih::cli::kExitUsage);
}

TEST_CASE("the real binary serves until SIGTERM and shuts down cleanly", "[cli][serve]") {
  TempDir dir;
  std::string config = writeConfig(dir);
  REQUIRE(ihost({"vault", "init", "--config", config}).code == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl(IH_IHOST_BIN, IH_IHOST_BIN, "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  REQUIRE(kill(pid, SIGTERM) == 0);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (done == 0) kill(pid, SIGKILL);
  REQUIRE(done == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("storage copy reads the SQLite inbox file beside the main one and names both", "[cli][sqlite]") {
  TempDir from_dir, to_dir;
  const std::string from = writeConfig(from_dir), to = writeConfig(to_dir);
  {
    ih::store::Options options;
    options.path = from_dir.file("db.sqlite");
    auto store = ih::store::Store::open(options);
    REQUIRE(store.isOk());
    REQUIRE((*store)->createTenant({"t_a", "alpha", 1}).isOk());
    ih::store::InboxStore inbox(**store);
    REQUIRE(inbox.insert(ih::test::testInboxEvent("stripe", "t_a", "evt_copied", 1)).isOk());
  }
  auto copied = ihost({"storage", "copy", "--from", from, "--to", to});
  INFO(copied.err);
  REQUIRE(copied.code == ih::cli::kExitOk);
  CHECK_THAT(copied.out, Catch::Contains("sqlite " + from_dir.file("db.sqlite") + " (+ " +
                                         from_dir.file("db.sqlite-inbox") + ")"));
  CHECK_THAT(copied.out, Catch::Contains("webhook_events: 1 rows"));
  ih::store::Options options;
  options.path = to_dir.file("db.sqlite");
  auto target = ih::store::Store::open(options);
  REQUIRE(target.isOk());
  ih::store::InboxStore inbox(**target);
  auto listed = inbox.list("t_a", ih::store::InboxFilter{});
  REQUIRE(listed.isOk());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().event_id == "evt_copied");
}

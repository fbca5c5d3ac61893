#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "config/config.h"
#include "log/log.h"
#include "support/temp_dir.h"

namespace {

using ih::config::Config;
using ih::config::Environment;
using nlohmann::json;

// The example plugin's schema plus the other shapes the subset supports.
constexpr char kSchema[] = R"json({
  "type": "object",
  "properties": {
    "api_base_url": {"type": "string", "default": "https://api.example.com", "pattern": "^https?://",
                     "description": "Base URL of the provider API"},
    "greeting": {"type": "string", "default": "Hello"},
    "webhook_secret": {"type": "string", "secret": true, "description": "Secret that signs webhooks"},
    "mode": {"type": "string", "enum": ["test", "live"], "default": "test"},
    "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 120000, "default": 10000},
    "ratio": {"type": "number"},
    "enabled_flag": {"type": "boolean", "default": true},
    "plans": {"type": "array", "items": {"type": "object",
              "properties": {"name": {"type": "string"}, "amount": {"type": "integer", "minimum": 0},
                             "currency": {"type": "string", "default": "usd"}},
              "required": ["name"]}},
    "retry": {"type": "object", "properties": {"max": {"type": "integer", "default": 3},
                                               "backoff": {"type": "string"}}}
  },
  "required": ["webhook_secret"]
})json";

Config load(const std::string& text, const Environment& env = {}) {
  auto result = ih::config::loadString(text, "cfg.toml", env);
  INFO(result.status().message());
  REQUIRE(result.isOk());
  return std::move(result).value();
}

std::string loadError(const std::string& text, const Environment& env = {}) {
  auto result = ih::config::loadString(text, "cfg.toml", env);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().code() == ih::StatusCode::kInvalidArgument);
  return result.status().message();
}

std::string integrationError(const std::string& text, const Environment& env = {}) {
  Config config = load(text, env);
  REQUIRE(config.integrations.size() == 1);
  auto result = ih::config::validateIntegration(config, config.integrations[0], kSchema);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().code() == ih::StatusCode::kInvalidArgument);
  return result.status().message();
}

json validSettings(const std::string& text, const Environment& env = {}) {
  Config config = load(text, env);
  REQUIRE(config.integrations.size() == 1);
  auto result = ih::config::validateIntegration(config, config.integrations[0], kSchema);
  INFO(result.status().message());
  REQUIRE(result.isOk());
  return json::parse(*result);
}

}  // namespace

TEST_CASE("an empty file gives every default, paths resolved against the file's directory", "[config]") {
  auto result = ih::config::loadString("", "/srv/ihost/ihost.toml", {});
  REQUIRE(result.isOk());
  const Config& c = *result;
  CHECK(c.path == "/srv/ihost/ihost.toml");
  CHECK(c.server.listen == "127.0.0.1:8080");
  CHECK(c.server.public_url == "http://127.0.0.1:8080");
  CHECK(c.server.max_body_bytes == 1048576);
  CHECK(c.server.read_timeout_ms == 10000);
  CHECK(c.server.write_timeout_ms == 10000);
  CHECK(c.server.idle_timeout_ms == 60000);
  CHECK(c.server.worker_threads == 32);
  CHECK(c.server.keep_alive_max_requests == 10000);
  CHECK(c.storage.path == "/srv/ihost/ihost.db");
  CHECK(c.vault.key_file.empty());
  CHECK(c.vault.key_env == "IHOST_VAULT_KEYS");
  CHECK(c.plugins.dir == "/srv/ihost/plugins");
  CHECK(c.plugins.sha256_allow.empty());
  CHECK(c.admin.console);
  CHECK(c.admin.token_env == "IHOST_ADMIN_TOKEN");
  CHECK(c.log.level == "info");
  CHECK(c.log.access);
  CHECK(c.inbox.retry_schedule_s == std::vector<int>{10, 60, 300, 1800, 7200});
  CHECK(c.inbox.workers == 4);
  CHECK(c.inbox.claim_batch == 128);
  CHECK(c.inbox.retention_days == 30);
  CHECK(c.integrations.empty());
  CHECK(c.overrides.empty());
  CHECK(c.findIntegration("example") == nullptr);
}

TEST_CASE("the shipped example config/ihost.toml loads and validates against the example schema",
          "[config]") {
  const std::string path = std::string(IH_SOURCE_DIR) + "/config/ihost.toml";
  // The shipped file has no webhook secret (a published one could forge deliveries): without one from the
  // environment the example integration does not validate, so `serve` refuses to start.
  auto unset = ih::config::loadFile(path, {});
  REQUIRE(unset.isOk());
  auto refused = ih::config::validateIntegration(*unset, *unset->findIntegration("example"), kSchema);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.status().message().find("webhook_secret") != std::string::npos);
  auto result = ih::config::loadFile(
      path, {{"IHOST_INTEGRATIONS__EXAMPLE__WEBHOOK_SECRET", "whsec_0123456789abcdef0123456789"}});
  INFO(result.status().message());
  REQUIRE(result.isOk());
  const Config& c = *result;
  CHECK(c.plugins.dir == std::string(IH_SOURCE_DIR) + "/build/plugins");
  CHECK(c.storage.path == std::string(IH_SOURCE_DIR) + "/ihost-data/ihost.db");
  CHECK(c.vault.key_file == std::string(IH_SOURCE_DIR) + "/ihost-data/vault.keys");
  REQUIRE(c.integrations.size() == 1);
  const ih::config::IntegrationConfig* example = c.findIntegration("example");
  REQUIRE(example != nullptr);
  CHECK(example->plugin == "example");
  CHECK(example->enabled);
  REQUIRE(example->jobs.count("sync") == 1);
  CHECK(example->jobs.at("sync").every_seconds == 900);
  CHECK(example->jobs.at("sync").enabled == true);
  auto settings = ih::config::validateIntegration(c, *example, kSchema);
  INFO(settings.status().message());
  REQUIRE(settings.isOk());
  json s = json::parse(*settings);
  CHECK(s["greeting"] == "Hello");
  CHECK(s["mode"] == "test");
}

TEST_CASE("a missing config file names the path and the fix", "[config]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("nope.toml");
  auto result = ih::config::loadFile(path, {});
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().code() == ih::StatusCode::kInvalidArgument);
  CHECK(result.status().message() == "cannot read config file \"" + path +
                                         "\": No such file or directory. Pass --config <file> (example: "
                                         "config/ihost.toml).");
}

TEST_CASE("a TOML syntax error reports toml++'s line and column", "[config]") {
  CHECK(loadError("[server]\nlisten = \n") ==
        "cfg.toml:2:10: invalid TOML: error while parsing key-value pair: expected value, saw '\\n'. Fix the "
        "syntax at this line and column (config/ihost.toml is a complete example).");
}

TEST_CASE("an integration without plugin is rejected with the fix", "[config]") {
  CHECK(
      loadError("[integrations.shop]\ngreeting = \"hi\"\n") ==
      "cfg.toml:1:1: integrations.shop: missing required key \"plugin\". Add plugin = \"<plugin name>\" (see "
      "ihost plugins list).");
}

TEST_CASE("a wrong type names the key, the expected type, the value and an example", "[config]") {
  CHECK(loadError("[server]\nmax_body_bytes = \"1MB\"\n") ==
        "cfg.toml:2:1: server.max_body_bytes: expected an integer, got a string (\"1MB\"). Write a number of "
        "bytes, e.g. 1048576.");
  CHECK(loadError("[admin]\nconsole = \"yes\"\n") ==
        "cfg.toml:2:1: admin.console: expected a boolean, got a string (\"yes\"). Write console = true or "
        "console = false.");
  CHECK(loadError("[server]\nworker_threads = 0\n") ==
        "cfg.toml:2:1: server.worker_threads: must be between 1 and 1024, got 0. Write a number of threads, "
        "e.g. 32.");
  CHECK(loadError("[inbox]\nclaim_batch = 0\n") ==
        "cfg.toml:2:1: inbox.claim_batch: must be between 1 and 1024, got 0. Write a number of events, e.g. "
        "128.");
  CHECK(loadError("[inbox]\nretry_schedule_s = [10, \"1m\"]\n") ==
        "cfg.toml:2:25: inbox.retry_schedule_s[1]: expected an integer, got a string (\"1m\"). Write "
        "a list of delays in seconds, e.g. retry_schedule_s = [10, 60, 300, 1800, 7200].");
  CHECK(loadError("[log]\nlevel = \"verbose\"\n") ==
        "cfg.toml:2:1: log.level: must be one of \"debug\", \"info\", \"warn\", \"error\", got \"verbose\". "
        "Write level = \"info\" (or \"debug\", \"warn\", \"error\").");
  CHECK(loadError("[server]\nlisten = \"8080\"\n") ==
        "cfg.toml:2:1: server.listen: expected host:port, got \"8080\". Write a host:port, e.g. listen = "
        "\"127.0.0.1:8080\".");
  CHECK(loadError("[server]\nlisten = \"127.0.0.1:123456\"\n") ==
        "cfg.toml:2:1: server.listen: expected host:port, got \"127.0.0.1:123456\". Write a host:port, e.g. "
        "listen = \"127.0.0.1:8080\".");
  CHECK(load("[server]\nlisten = \"127.0.0.1:65535\"\n").server.listen == "127.0.0.1:65535");  // five digits
  CHECK(load("[server]\nlisten = \"127.0.0.1:18080\"\n").server.listen == "127.0.0.1:18080");
  CHECK(loadError("server = 1\n") ==
        "cfg.toml:1:1: server: expected a table, got an integer (1). Write it as a [server] table.");
}

TEST_CASE("unknown host keys and sections are rejected with a did-you-mean", "[config]") {
  CHECK(loadError("[server]\nlisten = \"127.0.0.1:1\"\nlistne = \"x\"\n") ==
        "cfg.toml:3:1: server.listne: unknown key; did you mean \"listen\"? Remove it or correct the "
        "spelling.");
  CHECK(loadError("[servr]\nlisten = \"x\"\n") ==
        "cfg.toml:1:2: servr: unknown key; did you mean \"server\"? Remove it or correct the spelling.");
  CHECK(loadError("[storage]\ncolour = \"red\"\n") ==
        "cfg.toml:2:1: storage.colour: unknown key. Remove it or correct the spelling (known keys: backend, "
        "url, "
        "pool_size, statement_timeout_ms, replica_id, claim_lease_ms, path, synchronous).");
  CHECK(loadError(
            "[integrations.shop]\nplugin = \"example\"\n[integrations.shop.jobs.sync]\nevry = \"1h\"\n") ==
        "cfg.toml:4:1: integrations.shop.jobs.sync.evry: unknown key; did you mean \"every\"? Remove it or "
        "correct the spelling.");
}

TEST_CASE("every problem is reported at once, in file order", "[config]") {
  std::string message = loadError(
      "[server]\nworker_threads = \"8\"\n[log]\nlevl = \"info\"\n[integrations.a]\nenabled = true\n");
  CHECK(message ==
        "cfg.toml:2:1: server.worker_threads: expected an integer, got a string (\"8\"). Write a number of "
        "threads, e.g. 32.\n"
        "cfg.toml:4:1: log.levl: unknown key; did you mean \"level\"? Remove it or correct the spelling.\n"
        "cfg.toml:5:1: integrations.a: missing required key \"plugin\". Add plugin = \"<plugin name>\" (see "
        "ihost plugins list).");
}

TEST_CASE("parseDuration accepts d/h/m/s components and explains bad input", "[config]") {
  CHECK(*ih::config::parseDuration("30s") == 30);
  CHECK(*ih::config::parseDuration("15m") == 900);
  CHECK(*ih::config::parseDuration("1h") == 3600);
  CHECK(*ih::config::parseDuration("1d") == 86400);
  CHECK(*ih::config::parseDuration("1h30m") == 5400);
  CHECK(*ih::config::parseDuration("1d2h3m4s") == 93784);
  const std::string fix =
      ". Write a number followed by a unit (s, m, h, d), e.g. \"30s\", \"15m\", \"1h\" or \"1h30m\".";
  CHECK(ih::config::parseDuration("15min").status().message() ==
        "invalid duration \"15min\": unknown unit \"min\"" + fix);
  CHECK(ih::config::parseDuration("30").status().message() ==
        "invalid duration \"30\": missing unit after \"30\"" + fix);
  CHECK(ih::config::parseDuration("").status().message() == "invalid duration \"\": it is empty" + fix);
  CHECK(ih::config::parseDuration("0s").status().message() ==
        "invalid duration \"0s\": it must be longer than zero" + fix);
  CHECK(ih::config::parseDuration("30m1h").status().message() ==
        "invalid duration \"30m1h\": units must appear at most once, largest first" + fix);
  CHECK(ih::config::parseDuration("1h 30m").status().message() ==
        "invalid duration \"1h 30m\": expected a number at \" 30m\"" + fix);
  CHECK_FALSE(ih::config::parseDuration("99999999999999999999s").isOk());
  CHECK_FALSE(ih::config::parseDuration("-5m").isOk());
}

TEST_CASE("a bad job duration names the job key", "[config]") {
  CHECK(
      loadError("[integrations.example]\nplugin = \"example\"\n[integrations.example.jobs.sync]\nevery = "
                "\"15 minutes\"\n") ==
      "cfg.toml:4:1: integrations.example.jobs.sync.every: invalid duration \"15 minutes\": unexpected \" \" "
      "after \"15\". Write a number followed by a unit (s, m, h, d), e.g. \"30s\", \"15m\", \"1h\" or "
      "\"1h30m\".");
  CHECK(loadError("[integrations.example]\nplugin = \"example\"\njobs.sync.every = 900\n") ==
        "cfg.toml:3:11: integrations.example.jobs.sync.every: expected a duration string, got an integer "
        "(900). "
        "Write e.g. every = \"15m\" (units s, m, h, d).");
}

TEST_CASE("plugin call and job deadlines: defaults, ranges, a job's own timeout", "[config]") {
  Config defaults = load("");
  CHECK(defaults.plugins.call_timeout_ms == 30000);
  CHECK(defaults.plugins.job_timeout_ms == 3600000);
  CHECK(defaults.server.shutdown_timeout_ms == 20000);
  CHECK_FALSE(defaults.plugins.watch);
  CHECK(load("[plugins]\nwatch = true\n").plugins.watch);
  CHECK_THAT(loadError("[plugins]\nwatch = \"yes\"\n"), Catch::Contains("watch = true"));
  Config c = load(
      "[plugins]\ncall_timeout_ms = 2500\njob_timeout_ms = 60000\n"
      "[integrations.example]\nplugin = \"example\"\n[integrations.example.jobs.sync]\ntimeout = \"2h\"\n");
  CHECK(c.plugins.call_timeout_ms == 2500);
  CHECK(c.plugins.job_timeout_ms == 60000);
  CHECK(c.integrations.at(0).jobs.at("sync").timeout_seconds == 7200);
  CHECK_FALSE(c.integrations.at(0).call_timeout_ms.has_value());
  Config own = load("[integrations.example]\nplugin = \"example\"\ncall_timeout_ms = 90000\n");
  CHECK(own.integrations.at(0).call_timeout_ms == 90000);
  CHECK(own.integrations.at(0).settings_json == "{}");  // a host key, never a plugin setting
  CHECK_THAT(
      loadError("[integrations.example]\nplugin = \"example\"\ncall_timeout_ms = 5\n"),
      Catch::Contains("integrations.example.call_timeout_ms") && Catch::Contains("between 100 and 3600000"));
  CHECK_THAT(loadError("[plugins]\ncall_timeout_ms = 50\n"), Catch::StartsWith("cfg.toml:2:") &&
                                                                 Catch::Contains("plugins.call_timeout_ms") &&
                                                                 Catch::Contains("call_timeout_ms = 30000"));
  CHECK_THAT(loadError("[plugins]\njob_timeout_ms = 86400001\n"), Catch::Contains("plugins.job_timeout_ms"));
  const std::string job = "[integrations.example]\nplugin = \"example\"\n[integrations.example.jobs.sync]\n";
  CHECK_THAT(loadError(job + "timeout = \"2d\"\n"),
             Catch::StartsWith("cfg.toml:4:") && Catch::Contains("integrations.example.jobs.sync.timeout") &&
                 Catch::Contains("between 1s and 1d"));
  CHECK_THAT(loadError(job + "timeout = 60\n"), Catch::Contains("expected a duration string"));
  CHECK_THAT(loadError(job + "timeot = \"1h\"\n"), Catch::Contains("timeout"));
}

TEST_CASE("integration ids must be lowercase identifiers", "[config]") {
  CHECK(loadError("[integrations.Stripe-Prod]\nplugin = \"stripe_byok\"\n") ==
        "cfg.toml:1:15: integrations.Stripe-Prod: invalid integration id \"Stripe-Prod\". Use 1 to 40 "
        "lowercase "
        "letters, digits or underscores, starting with a letter, e.g. \"stripe_prod\".");
  CHECK(
      loadError("[integrations.9lives]\nplugin = \"x\"\n") ==
      "cfg.toml:1:15: integrations.9lives: invalid integration id \"9lives\". Use 1 to 40 lowercase letters, "
      "digits or underscores, starting with a letter, e.g. \"lives\".");
}

TEST_CASE("integration tables split into plugin, enabled, jobs and JSON settings in file order", "[config]") {
  Config c = load(
      "[integrations.zeta]\nplugin = \"example\"\nenabled = false\ngreeting = \"Hi\"\nretry.max = 5\n"
      "plans = [{name = \"basic\", amount = 5}]\nstarts = 2024-01-02\n"
      "[integrations.zeta.jobs.sync]\nevery = \"1h30m\"\n"
      "[integrations.alpha]\nplugin = \"other\"\n");
  REQUIRE(c.integrations.size() == 2);
  CHECK(c.integrations[0].id == "zeta");
  CHECK(c.integrations[1].id == "alpha");
  const auto& zeta = c.integrations[0];
  CHECK_FALSE(zeta.enabled);
  CHECK(zeta.where.toString() == "cfg.toml:1:1");
  json settings = json::parse(zeta.settings_json);
  CHECK(settings == json::parse(R"({"greeting":"Hi","retry":{"max":5},"plans":[{"name":"basic","amount":5}],
                                   "starts":"2024-01-02"})"));
  CHECK(zeta.jobs.at("sync").every_seconds == 5400);
  CHECK_FALSE(zeta.jobs.at("sync").enabled.has_value());
  CHECK(zeta.setting_locations.at("greeting").toString() == "cfg.toml:4:1");
  CHECK(zeta.setting_locations.at("retry.max").line == 5);
  CHECK(zeta.setting_locations.at("plans[0].name").line == 6);
}

TEST_CASE("schema validation: required, type, enum, pattern, range, nested, unknown", "[config]") {
  const std::string head = "[integrations.shop]\nplugin = \"example\"\n";
  CHECK(
      integrationError(head + "greeting = \"hi\"\n") ==
      "cfg.toml:1:1: integrations.shop: missing required key \"webhook_secret\". Set the environment "
      "variable "
      "IHOST_INTEGRATIONS__SHOP__WEBHOOK_SECRET (recommended for secrets) or add webhook_secret = \"...\" to "
      "[integrations.shop] (Secret that signs webhooks).");
  const std::string base = head + "webhook_secret = \"whsec_abcdefghijklmnop1234\"\n";
  CHECK(integrationError(base + "timeout_ms = \"fast\"\n") ==
        "cfg.toml:4:1: integrations.shop.timeout_ms: expected an integer, got a string (\"fast\"). Use an "
        "integer, e.g. 10000.");
  CHECK(integrationError(base + "mode = \"lve\"\n") ==
        "cfg.toml:4:1: integrations.shop.mode: must be one of \"test\", \"live\", got \"lve\"; did you mean "
        "\"live\"? Use one of the listed values.");
  CHECK(integrationError(base + "api_base_url = \"ftp://x\"\n") ==
        "cfg.toml:4:1: integrations.shop.api_base_url: does not match the pattern \"^https?://\", got "
        "\"ftp://x\". Expected: Base URL of the provider API.");
  CHECK(
      integrationError(base + "timeout_ms = 5\n") ==
      "cfg.toml:4:1: integrations.shop.timeout_ms: must be at least 100, got 5. Use a value between 100 and "
      "120000.");
  CHECK(integrationError(base + "timeout_ms = 500000\n") ==
        "cfg.toml:4:1: integrations.shop.timeout_ms: must be at most 120000, got 500000. Use a value between "
        "100 and 120000.");
  CHECK(integrationError(base + "ratio = true\n") ==
        "cfg.toml:4:1: integrations.shop.ratio: expected a number, got a boolean (true). Use a number, e.g. "
        "1.5.");
  CHECK(
      integrationError(base + "greting = \"hi\"\n") ==
      "cfg.toml:4:1: integrations.shop.greting: unknown key; did you mean \"greeting\"? Remove it or correct "
      "the spelling.");
  CHECK(
      integrationError(base + "retry.max = \"3\"\n") ==
      "cfg.toml:4:7: integrations.shop.retry.max: expected an integer, got a string (\"3\"). Use an integer, "
      "e.g. 3.");
  CHECK(integrationError(base + "retry.maxx = 3\n") ==
        "cfg.toml:4:7: integrations.shop.retry.maxx: unknown key; did you mean \"max\"? Remove it or correct "
        "the "
        "spelling.");
  CHECK(integrationError(base + "plans = [\n  {name = \"a\", amount = 1},\n  {amount = -1},\n]\n") ==
        "cfg.toml:6:3: integrations.shop.plans[1]: missing required key \"name\". Add name = \"...\" to that "
        "entry.\n"
        "cfg.toml:6:4: integrations.shop.plans[1].amount: must be at least 0, got -1. Use a value of at "
        "least 0.");
  CHECK(
      integrationError(base + "plans = \"none\"\n") ==
      "cfg.toml:4:1: integrations.shop.plans: expected an array, got a string (\"none\"). Use an array, e.g. "
      "[].");
}

TEST_CASE("schema errors never show a secret value", "[config]") {
  const std::string secret = "whsec_abcdefghijklmnopWXYZ";
  Config c = load("[integrations.shop]\nplugin = \"example\"\nwebhook_secret = \"" + secret + "\"\n");
  const char* schema = R"({"type":"object","properties":{"webhook_secret":{"type":"string","secret":true,
                           "pattern":"^sk_"}}})";
  auto result = ih::config::validateIntegration(c, c.integrations[0], schema);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().message().find("abcdefghijklmnop") == std::string::npos);
  CHECK(result.status().message().find(ih::mask(secret)) != std::string::npos);
}

TEST_CASE("validateIntegration applies defaults, including nested ones", "[config]") {
  json s = validSettings(
      "[integrations.shop]\nplugin = \"example\"\nwebhook_secret = \"whsec_x\"\nretry.backoff = \"exp\"\n"
      "plans = [{name = \"basic\"}]\n");
  CHECK(s["api_base_url"] == "https://api.example.com");
  CHECK(s["greeting"] == "Hello");
  CHECK(s["mode"] == "test");
  CHECK(s["timeout_ms"] == 10000);
  CHECK(s["enabled_flag"] == true);
  CHECK(s["retry"] == json::parse(R"({"backoff":"exp","max":3})"));
  CHECK(s["plans"][0] == json::parse(R"({"name":"basic","currency":"usd"})"));
  CHECK(s["webhook_secret"] == "whsec_x");
  CHECK_FALSE(s.contains("ratio"));
}

TEST_CASE("validateJson and applyDefaults work on plain JSON documents", "[config]") {
  const char* schema = R"({"type":"object","properties":{
      "api_key":{"type":"string","secret":true,"pattern":"^ex_[A-Za-z0-9]{8,}$"},
      "count":{"type":["integer","null"],"default":1},
      "tags":{"type":"array","items":{"type":"string"}},
      "meta":{"type":"object"}},
    "required":["api_key"]})";
  CHECK(ih::config::validateJson(schema, R"({"api_key":"ex_abcdefgh","tags":["a"],"meta":{"x":1}})",
                                 "connect body")
            .isOk());
  CHECK(ih::config::validateJson(schema, R"({"api_key":"ex_abcdefgh","count":null})", "connect body").isOk());
  ih::Status missing = ih::config::validateJson(schema, R"({"tags":["a", 2]})", "connect body");
  CHECK(missing.code() == ih::StatusCode::kInvalidArgument);
  CHECK(missing.message() ==
        "connect body: missing required key \"api_key\". Include \"api_key\" (a string).\n"
        "connect body: tags[1]: expected a string, got an integer (2). Use a string, e.g. \"...\".");
  CHECK(
      ih::config::validateJson(schema, R"({"api_key":"ex_abcdefgh","extra":1})", "action input").message() ==
      "action input: extra: unknown key. Remove it or correct the spelling (known keys: api_key, count, "
      "meta, "
      "tags).");
  CHECK(
      ih::config::validateJson(schema, R"({"api_key":"ex_1"})", "connect body").message() ==
      "connect body: api_key: does not match the pattern \"^ex_[A-Za-z0-9]{8,}$\", got \"****\". Change the "
      "value to match the pattern.");
  CHECK_THAT(ih::config::validateJson(schema, "[1", "connect body").message(),
             Catch::StartsWith("connect body: the document is not valid JSON (invalid JSON at byte 3") &&
                 Catch::EndsWith("). Send valid JSON."));
  // Untrusted documents are bounded: too deep, or a number past a double's range, is a message, never a
  // throw.
  CHECK_THAT(
      ih::config::validateJson(schema, std::string(100000, '[') + std::string(100000, ']'), "body").message(),
      Catch::Contains("nested deeper than 64"));
  CHECK_THAT(ih::config::validateJson(schema, R"({"api_key":1e999})", "body").message(),
             Catch::Contains("not valid JSON"));
  CHECK_FALSE(ih::config::applyDefaults(schema, std::string(100000, '[') + std::string(100000, ']')).isOk());
  // Patterns run on RE2 (linear time): a megabyte value against a pattern that backtracks in std::regex.
  const std::string pattern_schema =
      R"({"type":"object","properties":{"v":{"type":"string","pattern":"^(a+)+$"}}})";
  CHECK(ih::config::validateJson(pattern_schema, R"({"v":")" + std::string(1 << 20, 'a') + R"("})", "b")
            .isOk());
  CHECK_THAT(ih::config::validateJson(pattern_schema, R"({"v":")" + std::string(1 << 20, 'a') + R"(b"})", "b")
                 .message(),
             Catch::Contains("does not match the pattern"));
  CHECK_THAT(ih::config::validateJson(R"({"properties":{"v":{"type":"string","pattern":"(?<=x)a"}}})",
                                      R"({"v":"a"})", "b")
                 .message(),
             Catch::Contains("is not a valid regular expression"));
  CHECK(ih::config::validateJson(schema, "[]", "connect body").message() ==
        "connect body: expected an object, got an array. Use an object, e.g. {}.");
  auto filled = ih::config::applyDefaults(schema, R"({"api_key":"ex_abcdefgh"})");
  REQUIRE(filled.isOk());
  CHECK(json::parse(*filled) == json::parse(R"({"api_key":"ex_abcdefgh","count":1})"));
  CHECK_FALSE(ih::config::applyDefaults("{", "{}").isOk());
}

TEST_CASE("environment overrides are applied and typed by their target", "[config]") {
  Environment env = {
      {"IHOST_SERVER__LISTEN", "0.0.0.0:9000"},
      {"IHOST_SERVER__WORKER_THREADS", "8"},
      {"ihost_log__level", "debug"},
      {"IHOST_ADMIN__CONSOLE", "false"},
      {"IHOST_INBOX__RETRY_SCHEDULE_S", "5, 10,20"},
      {"IHOST_STORAGE__PATH", ":memory:"},
      {"IHOST_INTEGRATIONS__SHOP__WEBHOOK_SECRET", "whsec_fromenvironment1234"},
      {"IHOST_INTEGRATIONS__SHOP__TIMEOUT_MS", "5000"},
      {"IHOST_INTEGRATIONS__SHOP__GREETING", "0042"},
      {"IHOST_INTEGRATIONS__SHOP__RETRY__MAX", "7"},
      {"IHOST_INTEGRATIONS__SHOP__ENABLED", "false"},
      {"IHOST_INTEGRATIONS__SHOP__JOBS__SYNC__EVERY", "2h"},
      // Not overrides: ignored.
      {"IHOST_VAULT_KEYS", "k1:abc"},
      {"IHOST_ADMIN_TOKEN", "iha_secret"},
      {"IHOST_CONFIG", "x.toml"},
      {"IHOST_LOG", "debug"},
      {"PATH", "/usr/bin"},
  };
  Config c = load("[server]\nworker_threads = 4\n[integrations.shop]\nplugin = \"example\"\n", env);
  CHECK(c.server.listen == "0.0.0.0:9000");
  CHECK(c.server.public_url == "http://0.0.0.0:9000");
  CHECK(c.server.worker_threads == 8);
  CHECK(c.log.level == "debug");
  CHECK_FALSE(c.admin.console);
  CHECK(c.inbox.retry_schedule_s == std::vector<int>{5, 10, 20});
  CHECK(c.storage.path == ":memory:");
  CHECK(c.overrides.at("server.listen") == "IHOST_SERVER__LISTEN");
  CHECK(c.overrides.at("log.level") == "ihost_log__level");
  const auto& shop = c.integrations.at(0);
  CHECK_FALSE(shop.enabled);
  CHECK(shop.jobs.at("sync").every_seconds == 7200);
  CHECK(shop.setting_locations.at("webhook_secret").toString() ==
        "environment variable IHOST_INTEGRATIONS__SHOP__WEBHOOK_SECRET");
  auto settings = ih::config::validateIntegration(c, shop, kSchema);
  INFO(settings.status().message());
  REQUIRE(settings.isOk());
  json s = json::parse(*settings);
  CHECK(s["webhook_secret"] == "whsec_fromenvironment1234");
  CHECK(s["timeout_ms"] == 5000);
  CHECK(s["greeting"] == "0042");  // typed as the schema's string, not the integer it looks like
  CHECK(s["retry"]["max"] == 7);
}

TEST_CASE("bad environment overrides are rejected naming the variable", "[config]") {
  CHECK(loadError("", {{"IHOST_SERVER__LISTN", "x"}}) ==
        "environment variable IHOST_SERVER__LISTN: server.listn: unknown key; did you mean \"listen\"? "
        "Remove it "
        "or correct the spelling.");
  CHECK(loadError("", {{"IHOST_SERVR__LISTEN", "x"}}) ==
        "environment variable IHOST_SERVR__LISTEN: servr.listen: unknown section \"servr\" in the variable "
        "name. "
        "Did you mean IHOST_SERVER__…? Rename or remove the variable.");
  CHECK(
      loadError("", {{"IHOST_SERVER__WORKER_THREADS", "many"}}) ==
      "environment variable IHOST_SERVER__WORKER_THREADS: server.worker_threads: expected an integer, got a "
      "string (\"many\"). Write a number of threads, e.g. 32.");
  CHECK(loadError("[integrations.shop]\nplugin = \"example\"\n",
                  {{"IHOST_INTEGRATIONS__SHPO__GREETING", "x"}}) ==
        "environment variable IHOST_INTEGRATIONS__SHPO__GREETING: integrations.shpo.greeting: no integration "
        "\"shpo\" is configured; did you mean \"shop\"? Add an [integrations.shpo] table to cfg.toml or "
        "correct "
        "the variable name.");
  // An override that parses but fails the plugin schema is reported at the variable.
  CHECK(
      integrationError("[integrations.shop]\nplugin = \"example\"\nwebhook_secret = \"whsec_x\"\n",
                       {{"IHOST_INTEGRATIONS__SHOP__TIMEOUT_MS", "soon"}}) ==
      "environment variable IHOST_INTEGRATIONS__SHOP__TIMEOUT_MS: integrations.shop.timeout_ms: expected an "
      "integer, got a string (\"soon\"). Use an integer, e.g. 10000.");
  // A name with bytes that are no key (not even UTF-8): refused with a message that is valid UTF-8 (it used
  // to become a setting whose name made the settings JSON throw).
  const std::string error = loadError("[integrations.shop]\nplugin = \"example\"\n",
                                      {{"IHOST_INTEGRATIONS__SHOP__GREE\xa9\xa9TING", "hi"}});
  CHECK(ih::isValidUtf8(error));
  CHECK(error.find("the variable name has characters other than A-Z, 0-9, _ and -. Rename or remove the "
                   "variable.") != std::string::npos);
}

TEST_CASE("relative paths resolve against the config file's directory", "[config]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("etc/ihost.toml");
  ih::test::writeFile(path,
                      "[storage]\npath = \"data/ihost.db\"\n[plugins]\ndir = \"../plugins\"\n"
                      "[vault]\nkey_file = \"/abs/vault.keys\"\n");
  auto result = ih::config::loadFile(path, {});
  INFO(result.status().message());
  REQUIRE(result.isOk());
  CHECK(result->storage.path == (dir.path() / "etc/data/ihost.db").string());
  CHECK(result->plugins.dir == (dir.path() / "plugins").string());
  CHECK(result->vault.key_file == "/abs/vault.keys");

  ih::test::writeFile(path, "[storage]\npath = \":memory:\"\n");
  auto memory = ih::config::loadFile(path, {});
  REQUIRE(memory.isOk());
  CHECK(memory->storage.path == ":memory:");
}

TEST_CASE("the masked summary shows masks, never secret values", "[config]") {
  const std::string file_secret = "whsec_fromthefile0123456789";
  const std::string env_secret = "sk_live_abcdefghijklmnop9876";
  const std::string token = "plain-token-value-12345678";
  Config c =
      load("[plugins.sha256_allow]\n\"libexample.so\" = \"" + std::string(64, 'A') +
               "\"\n[integrations.shop]\nplugin = \"example\"\nwebhook_secret = \"" + file_secret +
               "\"\naccess_token = \"" + token + "\"\nsecret_key_env = \"SHOP_KEY\"\ngreeting = \"Hi\"\n",
           {{"IHOST_INTEGRATIONS__SHOP__API_KEY", env_secret}});
  CHECK(c.plugins.sha256_allow.at("libexample.so") == std::string(64, 'a'));
  std::string summary = ih::config::maskedSummary(c, {{"example", kSchema}});
  INFO(summary);
  CHECK(summary.find("abcdefghijklmnop") == std::string::npos);
  CHECK(summary.find("fromthefile") == std::string::npos);
  CHECK(summary.find("plain-token") == std::string::npos);
  CHECK(summary.find("webhook_secret = \"" + ih::mask(file_secret) + "\"") != std::string::npos);
  CHECK(summary.find("api_key = \"" + ih::mask(env_secret) +
                     "\"  # from IHOST_INTEGRATIONS__SHOP__API_KEY") != std::string::npos);
  CHECK(summary.find("access_token = \"" + ih::mask(token) + "\"") != std::string::npos);
  CHECK(summary.find("secret_key_env = \"SHOP_KEY\"") != std::string::npos);
  CHECK(summary.find("greeting = \"Hi\"") != std::string::npos);
  CHECK(summary.find("mode = \"test\"  # default") != std::string::npos);
  CHECK(summary.find("[integrations.shop]") != std::string::npos);
  CHECK(summary.find("listen = \"127.0.0.1:8080\"") != std::string::npos);
}

TEST_CASE("the masked summary follows a schema's \"secret\": false over a secret-looking name", "[config]") {
  const std::string schema = R"({"type":"object","properties":{
      "plans":{"type":"array","items":{"type":"object","properties":{"key":{"type":"string","secret":false}}}},
      "signing_key":{"type":"string"},
      "api_key":{"type":"string","secret":false}}})";
  Config c = load(
      "[integrations.shop]\nplugin = \"example\"\nplans = [{key = \"starter\"}]\nsigning_key = "
      "\"sk_live_notshown0123456789\"\napi_key = \"public_value\"\n");
  std::string summary = ih::config::maskedSummary(c, {{"example", schema}});
  INFO(summary);
  CHECK(summary.find("plans[0].key = \"starter\"") != std::string::npos);
  CHECK(summary.find("api_key = \"public_value\"") != std::string::npos);  // the schema says so
  CHECK(summary.find("notshown") == std::string::npos);                    // no schema word: masked by name
}

TEST_CASE("the [endpoints] section sets the outbound webhook delivery options", "[config]") {
  auto cfg = ih::config::loadString(
      "[endpoints]\nretry_schedule_s = [1, 2]\nworkers = 0\nrequest_timeout_ms = 500\n"
      "disable_after_failed_events = 3\n",
      "/tmp/endpoints.toml", {});
  REQUIRE(cfg.isOk());
  CHECK(cfg->endpoints.retry_schedule_s == std::vector<int>{1, 2});
  CHECK(cfg->endpoints.workers == 0);
  CHECK(cfg->endpoints.request_timeout_ms == 500);
  CHECK(cfg->endpoints.disable_after_failed_events == 3);
  auto bad = ih::config::loadString("[endpoints]\nworkerz = 2\n", "/tmp/endpoints.toml", {});
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("endpoints.workerz") && Catch::Contains("did you mean"));
}

TEST_CASE("[coming_soon.<id>] placeholders are read in file order and checked", "[config]") {
  Config config = load(
      "[coming_soon.paypal]\nname = \"PayPal\"\ndescription = \"Payouts to PayPal accounts\"\n"
      "[coming_soon.adyen]\nname = \"Adyen\"\n");
  REQUIRE(config.coming_soon.size() == 2);
  CHECK(config.coming_soon[0].id == "paypal");
  CHECK(config.coming_soon[0].name == "PayPal");
  CHECK(config.coming_soon[0].description == "Payouts to PayPal accounts");
  CHECK(config.coming_soon[1].id == "adyen");
  CHECK(config.coming_soon[1].description.empty());

  CHECK(loadError("[coming_soon.paypal]\ndescription = \"x\"\n") ==
        "cfg.toml:1:1: coming_soon.paypal: missing required key \"name\". Add name = \"<provider name>\" "
        "(shown on the tile).");
  CHECK(loadError("[coming_soon.paypal]\nname = \"PayPal\"\nnmae = \"x\"\n") ==
        "cfg.toml:3:1: coming_soon.paypal.nmae: unknown key; did you mean \"name\"? Remove it or correct the "
        "spelling.");
  CHECK(loadError("[coming_soon.PayPal]\nname = \"PayPal\"\n").find("coming_soon.PayPal: invalid id") !=
        std::string::npos);
  CHECK(loadError("[coming_soon.paypal]\nname = \"" + std::string(81, 'x') + "\"\n") ==
        "cfg.toml:2:1: coming_soon.paypal.name: must be valid UTF-8 of at most 80 bytes. Shorten the text.");
  CHECK(
      loadError("[coming_soon.paypal]\nname = 3\n") ==
      "cfg.toml:2:1: coming_soon.paypal.name: expected a string, got an integer (3). Write name = \"...\".");
  CHECK(loadError("[integrations.paypal]\nplugin = \"example\"\n[coming_soon.paypal]\nname = \"PayPal\"\n") ==
        "cfg.toml:3:1: coming_soon.paypal: \"paypal\" is also a configured integration. Remove "
        "[coming_soon.paypal] now that the integration exists, or rename one.");
  CHECK(loadError("[comming_soon.x]\nname = \"X\"\n").find("did you mean \"coming_soon\"") !=
        std::string::npos);
}

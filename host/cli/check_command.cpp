// `ihost plugins check`: see check_command.h.
#include "cli/check_command.h"

#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <boost/dll/library_info.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/app.h"
#include "common/json_parse.h"
#include "config/config.h"
#include "ih/plugin_abi.h"
#include "isolation/runner.h"
#include "loader/registry.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace ih::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kIntegration[] = "check";

struct Report {
  std::ostream& out;
  int passed = 0, failed = 0, skipped = 0;
  void pass(const std::string& name, const std::string& detail) {
    ++passed;
    out << "PASS  " << name << ": " << detail << "\n";
  }
  void fail(const std::string& name, const std::string& detail) {
    ++failed;
    out << "FAIL  " << name << ": " << detail << "\n";
  }
  void skip(const std::string& name, const std::string& detail) {
    ++skipped;
    out << "SKIP  " << name << ": " << detail << "\n";
  }
};

// A temp directory removed on destruction.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ihost-check-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// The check host's plugin call and job deadlines: every call must end within its deadline plus kDeadlineGraceMs
// (the "cancel" check), which a plugin does by watching call_remaining_ms.
constexpr int64_t kCheckDeadlineMs = 3000;
constexpr int64_t kDeadlineGraceMs = 2000;

struct Answer {
  int status = 0;  // 0: no answer
  std::string body;
};

// The slowest plugin call seen (API answers and job runs), for the "cancel" check.
struct Slowest {
  std::mutex mu;
  int64_t ms = 0;
  std::string what;
  int at_deadline = 0;  // answers 504 deadline_exceeded / runs failed at the deadline
  void note(int64_t took_ms, const std::string& call, bool deadline_exceeded) {
    std::lock_guard lock(mu);
    if (deadline_exceeded) ++at_deadline;
    if (took_ms > ms) {
      ms = took_ms;
      what = call;
    }
  }
};

class Api {
 public:
  Api(int port, std::string key, Slowest* slowest)
      : client_("127.0.0.1", port), key_(std::move(key)), slowest_(slowest) {
    client_.set_connection_timeout(std::chrono::seconds(5));
    client_.set_read_timeout(std::chrono::seconds(60));
  }
  Answer send(const std::string& method, const std::string& path, const std::string& body = {},
              httplib::Headers headers = {}, bool auth = true) {
    if (auth) headers.emplace("Authorization", "Bearer " + key_);
    const auto start = std::chrono::steady_clock::now();
    auto res = method == "GET"      ? client_.Get(path.c_str(), headers)
               : method == "DELETE" ? client_.Delete(path.c_str(), headers, body, "application/json")
               : method == "PUT"    ? client_.Put(path.c_str(), headers, body, "application/json")
               : method == "PATCH"  ? client_.Patch(path.c_str(), headers, body, "application/json")
                                    : client_.Post(path.c_str(), headers, body, "application/json");
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    if (!res) return {};
    if (slowest_ != nullptr)
      slowest_->note(took.count(), method + " " + path,
                     res->status == 504 && res->body.find("deadline_exceeded") != std::string::npos);
    return {res->status, res->body};
  }
  bool healthy() { return send("GET", "/healthz", {}, {}, false).status == 200; }

 private:
  httplib::Client client_;
  std::string key_;
  Slowest* slowest_;
};

// "500 plugin_error: message" for a report line.
std::string describe(const Answer& a) {
  if (a.status == 0) return "no answer (the host stopped answering)";
  const json body = parseJsonOrDiscarded(a.body);
  std::string text = std::to_string(a.status);
  if (body.is_object() && body.contains("error") && body["error"].is_object())
    text += " " + body["error"].value("code", "") + ": " + body["error"].value("message", "");
  return text.substr(0, 300);
}

// A clean error: not a 500 (the plugin failed or threw), an answer at all, and the error envelope on errors.
bool clean(const Answer& a) {
  if (a.status == 0 || a.status == 500) return false;
  if (a.status < 400) return true;
  const json body = parseJsonOrDiscarded(a.body);
  return body.is_object() && body.contains("error");
}

// Bodies no handler should choke on.
std::vector<std::pair<std::string, std::string>> hostileBodies() {
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  return {{"an empty body", ""},
          {"malformed JSON", "{\"a\":"},
          {"a JSON array", "[1,2,3]"},
          {"a JSON string", "\"text\""},
          {"an empty object", "{}"},
          {"a 512 KB string", "{\"x\":\"" + std::string(512 * 1024, 'a') + "\"}"},
          {"5,000 nested arrays", "{\"x\":" + deep + "}"},
          {"invalid UTF-8", "{\"x\":\"\xff\xfe\"}"}};
}

// Bodies whose members have the wrong type for each property of `schema` (an object schema).
std::vector<std::pair<std::string, std::string>> wrongTypes(const json& schema) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!schema.is_object() || !schema.contains("properties") || !schema["properties"].is_object()) return out;
  for (const auto& [name, property] : schema["properties"].items()) {
    const std::string type = property.is_object() ? property.value("type", "") : "";
    json wrong = type == "string" ? json(12345) : json("not-" + type);
    out.push_back({name + " of the wrong type", json({{name, wrong}}).dump()});
  }
  return out;
}

void checkExports(Report& r, const std::string& file) {
  try {
    boost::dll::library_info info(boost::dll::fs::path(file), false);
    std::vector<std::string> symbols = info.symbols();
    std::vector<std::string> extra;
    bool entry = false;
    for (const std::string& s : symbols) {
      if (s == IH_PLUGIN_ENTRY_SYMBOL) {
        entry = true;
      } else if (!s.empty()) {
        extra.push_back(s);
      }
    }
    if (!entry) return r.fail("exports", "no ih_plugin_entry symbol");
    if (!extra.empty()) {
      std::string list;
      for (size_t i = 0; i < extra.size() && i < 5; ++i)
        list += (i ? ", " : "") + extra[i];
      return r.fail("exports", std::to_string(extra.size()) + " symbols besides ih_plugin_entry (" + list +
                                   (extra.size() > 5 ? ", …" : "") +
                                   "): build with ihost_add_plugin (hidden visibility and a version script)");
    }
    r.pass("exports", "only ih_plugin_entry");
  } catch (const std::exception& e) {
    r.fail("exports", std::string("not a readable shared library: ") + e.what());
  }
}

std::string readFile(const std::string& path, bool& ok) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  ok = static_cast<bool>(f) || f.eof();
  return s.str();
}

}  // namespace

int runPluginCheck(const PluginCheckOptions& options, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  if (!fs::is_regular_file(options.file, ec)) {
    err << "ihost plugins check: " << options.file << " is not a file\n";
    return 2;
  }
  std::string settings, connect_body;
  bool read_ok = true;
  if (!options.settings_file.empty()) settings = readFile(options.settings_file, read_ok);
  if (!read_ok) {
    err << "ihost plugins check: cannot read " << options.settings_file << "\n";
    return 2;
  }
  if (!options.connect_file.empty()) connect_body = readFile(options.connect_file, read_ok);
  if (!read_ok || (!options.connect_file.empty() && !parseJsonOrDiscarded(connect_body).is_object())) {
    err << "ihost plugins check: " << options.connect_file << " must hold a JSON object (the connect body)\n";
    return 2;
  }
  Report r{out};
  const std::string file = fs::absolute(options.file).string();
  out << "ihost plugins check " << file << "\n";
  checkExports(r, file);

  // The loader's verdict (ABI, manifest) on this file alone.
  isolation::Options runner;
  runner.runner_path = options.runner;
  auto loaded = options.isolated ? isolation::probe(file, "", runner) : loader::Registry::loadFile(file, "");
  if (!loaded.isOk()) {
    r.fail("manifest", "the loader refused it: " + loaded.status().message());
    out << r.passed << " passed, " << r.failed << " failed, " << r.skipped << " skipped\n";
    return 1;
  }
  const loader::Manifest manifest = (*loaded)->manifest();
  const uint64_t caps = (*loaded)->capabilities();
  const int abi_minor = (*loaded)->abiMinor();
  std::string cap_list;
  for (const std::string& c : loader::capabilityNames(caps))
    cap_list += (cap_list.empty() ? "" : ",") + c;
  loaded->reset();

  TempDir dir;
  if (dir.path.empty()) {
    err << "ihost plugins check: cannot create a temporary directory\n";
    return 1;
  }
  fs::create_directories(dir.path / "plugins", ec);
  fs::create_symlink(file, dir.path / "plugins" / fs::path(file).filename(), ec);
  if (ec) fs::copy_file(file, dir.path / "plugins" / fs::path(file).filename(), ec);
  auto token = vault::initKeyFile((dir.path / "vault.keys").string());
  if (!token.isOk()) {
    err << "ihost plugins check: " << token.status().message() << "\n";
    return 1;
  }
  const std::string toml =
      "[server]\nlisten = \"127.0.0.1:0\"\nworker_threads = 8\n\n[storage]\npath = \"ihost.db\"\n\n"
      "[vault]\nkey_file = \"vault.keys\"\n\n[plugins]\ndir = \"plugins\"\ncall_timeout_ms = " +
      std::to_string(kCheckDeadlineMs) + "\njob_timeout_ms = " + std::to_string(kCheckDeadlineMs) + "\n" +
      (options.isolated ? "isolation = \"process\"\n" : "") +
      (options.runner.empty() ? std::string()
                              : "runner = " + dumpJson(nlohmann::json(options.runner)) + "\n") +
      "\n"
      "[log]\nlevel = \"error\"\n\n[integrations.check]\nplugin = \"" +
      manifest.name + "\"\n" + settings + "\n";
  config::Environment env;
  auto cfg = config::loadString(toml, (dir.path / "ihost.toml").string(), env);
  if (!cfg.isOk()) {
    r.fail("manifest", "the settings do not load: " + cfg.status().message());
    out << r.passed << " passed, " << r.failed << " failed, " << r.skipped << " skipped\n";
    return 1;
  }
  log::setLevel(log::Level::kError);
  auto created = app::App::create(std::move(*cfg), env);
  if (!created.isOk()) {
    r.fail("manifest",
           "the integration does not start with these settings (give them with --config FILE: the keys "
           "of its [integrations.<id>] table): " +
               created.status().message());
    out << r.passed << " passed, " << r.failed << " failed, " << r.skipped << " skipped\n";
    return 1;
  }
  std::unique_ptr<app::App> host = std::move(*created);
  for (const auto& u : host->runtime().unavailable()) {
    r.fail("manifest",
           "integration does not start: " + u.reason +
               " (give its settings with --config FILE: the keys of its [integrations.<id>] table)");
  }
  if (r.failed > 0 && host->runtime().find(kIntegration) == nullptr) {
    out << r.passed << " passed, " << r.failed << " failed, " << r.skipped << " skipped\n";
    return 1;
  }
  if (Status s = host->start(); !s.isOk()) {
    err << "ihost plugins check: cannot start a host: " << s.message() << "\n";
    return 1;
  }
  r.pass("manifest", manifest.name + " " + manifest.version + " (ABI " + std::to_string(IH_ABI_MAJOR) + "." +
                         std::to_string(abi_minor) + "; " +
                         (cap_list.empty() ? "no capabilities" : cap_list) + ") loads and starts");
  auto tenant = host->tenancy().createTenant("check");
  if (!tenant.isOk()) {
    err << "ihost plugins check: " << tenant.status().message() << "\n";
    return 1;
  }
  const std::string tenant_id = tenant->tenant.id;
  Slowest slowest;
  Api api(host->port(), std::string(tenant->first_key.plaintext), &slowest);
  const std::string base = std::string("/api/integrations/") + kIntegration;

  // routes
  if (manifest.routes.empty()) {
    r.skip("routes", "none declared");
  } else {
    std::string problem;
    size_t calls = 0;
    for (const loader::RouteSpec& route : manifest.routes) {
      const std::string path =
          (route.is_public ? std::string("/plugins/") + kIntegration : base + "/routes") + route.path;
      std::vector<std::pair<std::string, std::string>> bodies = {{"a plain call", "{}"}};
      if (route.method != "GET")
        for (auto& b : hostileBodies())
          bodies.push_back(b);
      for (const auto& [what, body] : bodies) {
        Answer a = api.send(route.method, path + "?q=%F0%9F%98%80", body);
        ++calls;
        if (!clean(a) && problem.empty())
          problem = route.method + " " + path + " with " + what + ": " + describe(a);
      }
    }
    if (problem.empty()) {
      r.pass("routes", std::to_string(calls) + " calls to " + std::to_string(manifest.routes.size()) +
                           " routes answered cleanly");
    } else {
      r.fail("routes", problem);
    }
  }

  // connect
  bool connected = false;
  if (!(caps & IH_CAP_CONNECT)) {
    r.skip("connect", "not declared");
  } else {
    std::string problem;
    auto bodies = hostileBodies();
    if (!manifest.connect_schema_json.empty())
      for (auto& b : wrongTypes(parseJsonOrDiscarded(manifest.connect_schema_json)))
        bodies.push_back(b);
    for (const auto& [what, body] : bodies) {
      Answer a = api.send("POST", base + "/connect", body);
      if ((a.status < 400 || !clean(a)) && problem.empty())
        problem = "connect with " + what + ": " +
                  (a.status < 400 && a.status > 0 ? "accepted (" + describe(a) + ")" : describe(a));
    }
    if (problem.empty()) {
      r.pass("connect", std::to_string(bodies.size()) + " hostile bodies refused cleanly");
    } else {
      r.fail("connect", problem);
    }
    if (!connect_body.empty()) {
      Answer a = api.send("POST", base + "/connect", connect_body);
      connected = a.status == 200;
      if (!connected) r.fail("connect", "the --connect body was refused: " + describe(a));
    }
  }

  // webhooks
  if (!manifest.tenant_webhooks && !manifest.platform_webhooks) {
    r.skip("webhooks", "not declared");
  } else {
    std::string problem;
    size_t calls = 0;
    std::vector<std::string> targets;
    if (manifest.tenant_webhooks)
      targets.push_back(std::string("/webhooks/") + kIntegration + "/" + tenant_id);
    if (manifest.platform_webhooks) targets.push_back(std::string("/webhooks/") + kIntegration);
    for (const std::string& target : targets) {
      for (const auto& [what, body] : hostileBodies()) {
        Answer a = api.send("POST", target, body,
                            {{"Stripe-Signature", "t=1,v1=00"},
                             {"webhook-id", "msg_check"},
                             {"webhook-timestamp", "1"},
                             {"webhook-signature", "v1,AAAA"}},
                            false);
        ++calls;
        if ((a.status < 400 || !clean(a)) && problem.empty())
          problem = "POST " + target + " with " + what + " and forged signatures: " +
                    (a.status > 0 && a.status < 400 ? "ACCEPTED (" + describe(a) + ")" : describe(a));
      }
    }
    if (problem.empty()) {
      r.pass("webhooks", std::to_string(calls) + " unsigned or forged deliveries refused");
    } else {
      r.fail("webhooks", problem);
    }
  }

  // actions
  if (manifest.actions.empty()) {
    r.skip("actions", "none declared");
  } else if ((caps & (IH_CAP_CONNECT | IH_CAP_OAUTH)) && !connected) {
    r.skip("actions",
           "the plugin needs a connection first: give --connect FILE (a connect body that works, e.g. "
           "test credentials) to check its actions");
  } else {
    std::string problem;
    size_t calls = 0;
    for (const loader::ActionSpec& action : manifest.actions) {
      auto bodies = hostileBodies();
      for (auto& b : wrongTypes(parseJsonOrDiscarded(action.input_schema_json)))
        bodies.push_back(b);
      for (const auto& [what, body] : bodies) {
        if (action.name == "setup" && what == "an empty object")
          continue;  // interactive: would wait for answers
        Answer a = api.send("POST", base + "/actions/" + action.name, body);
        ++calls;
        if (!clean(a) && problem.empty())
          problem = "action " + action.name + " with " + what + ": " + describe(a);
      }
    }
    if (problem.empty()) {
      r.pass("actions", std::to_string(calls) + " hostile calls to " +
                            std::to_string(manifest.actions.size()) + " actions answered cleanly");
    } else {
      r.fail("actions", problem);
    }
  }

  // jobs
  if (manifest.jobs.empty()) {
    r.skip("jobs", "none declared");
  } else {
    std::string problem;
    // Untimed: the run API itself waits up to 5 s for a run; the run's own duration is what counts.
    Api runs(host->port(), std::string(tenant->first_key.plaintext), nullptr);
    for (const loader::JobSpec& job : manifest.jobs) {
      Answer started = runs.send("POST", base + "/jobs/" + job.name + "/run", "{}");
      if (!clean(started)) {
        if (problem.empty()) problem = "job " + job.name + ": " + describe(started);
        continue;
      }
      // 200: it ran to its end while the API waited; 202: poll the run; 4xx: refused cleanly (not connected…).
      bool finished = started.status != 202;
      const json run = parseJsonOrDiscarded(started.body);
      json row =
          run.is_object() && run.contains("run") && run["run"].is_object() ? run["run"] : json::object();
      const int64_t run_id = row.value("id", int64_t{0});
      for (int i = 0; i < 600 && !finished && run_id > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        row = parseJsonOrDiscarded(
            runs.send("GET", base + "/jobs/" + job.name + "/runs/" + std::to_string(run_id)).body);
        finished = row.is_object() && row.value("status", "running") != "running";
      }
      if (finished && row.is_object() && row.contains("duration_ms") &&
          row["duration_ms"].is_number_integer()) {
        const std::string error = row.contains("error") && row["error"].is_string()
                                      ? row["error"].get<std::string>()
                                      : std::string();
        slowest.note(row["duration_ms"].get<int64_t>(), "job " + job.name,
                     error.find("deadline") != std::string::npos);
      }
      if (!finished && problem.empty()) problem = "job " + job.name + " still running after 60 s";
    }
    if (problem.empty()) {
      r.pass("jobs",
             std::to_string(manifest.jobs.size()) + " jobs ran to an end (success or a clean failure)");
    } else {
      r.fail("jobs", problem);
    }
  }

  // concurrency: whatever the plugin serves without a connection, from 8 threads at once.
  {
    std::string path, method = "POST", body = "{}";
    if (!manifest.routes.empty()) {
      method = manifest.routes[0].method;
      path = (manifest.routes[0].is_public ? std::string("/plugins/") + kIntegration : base + "/routes") +
             manifest.routes[0].path;
    } else if (!manifest.actions.empty() && (connected || !(caps & (IH_CAP_CONNECT | IH_CAP_OAUTH)))) {
      path = base + "/actions/" + manifest.actions[0].name;
    } else if (caps & IH_CAP_CONNECT) {
      path = base + "/connect";
    }
    if (path.empty()) {
      r.skip("concurrency", "nothing to call without a connection");
    } else {
      std::atomic<int> bad{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
          // Untimed: 200 calls at once queue (behind IH_FLAG_SERIALIZE too); the calls one at a time are timed.
          Api own(host->port(), std::string(tenant->first_key.plaintext), nullptr);
          for (int i = 0; i < 25; ++i)
            if (!clean(own.send(method, path, body))) ++bad;
        });
      }
      for (auto& t : threads)
        t.join();
      if (bad.load() == 0 && api.healthy()) {
        r.pass("concurrency", "200 parallel calls of " + method + " " + path + " answered cleanly");
      } else {
        r.fail("concurrency", std::to_string(bad.load()) + " of 200 parallel calls of " + method + " " +
                                  path + " failed (500 or no answer)");
      }
    }
  }

  // runner (--isolated): a plugin call that crashed the runner process (abort, a fault, the memory cap, a call
  // killed past its deadline) is a defect even though the host survived it.
  if (options.isolated) {
    const runtime::Integration* integration = host->runtime().find(kIntegration);
    const auto runner = integration != nullptr ? integration->runner() : std::nullopt;
    if (runner && !runner->last_exit.empty()) {
      r.fail("runner", "the plugin's runner process died during the checks (" + runner->last_exit + "; " +
                           std::to_string(runner->restarts) +
                           " restarts): one of its calls crashed it. In process this would end the host.");
    } else {
      r.pass("runner", "the runner process stayed up through every check");
    }
  }

  // cancel: the host gave every call a deadline of kCheckDeadlineMs (call_remaining_ms); a plugin that keeps
  // going long past it would hold a worker in production.
  if (slowest.ms > kCheckDeadlineMs + kDeadlineGraceMs) {
    r.fail("cancel",
           slowest.what + " took " + std::to_string(slowest.ms) + " ms, past the check host's " +
               std::to_string(kCheckDeadlineMs) +
               " ms call deadline: stop when call_remaining_ms() reaches 0 and return IH_ERR_DEADLINE "
               "(docs/plugin-abi.md, Deadlines)");
  } else {
    r.pass("cancel",
           "every call ended within its " + std::to_string(kCheckDeadlineMs) + " ms deadline (slowest " +
               std::to_string(slowest.ms) + " ms" +
               (slowest.at_deadline > 0 ? ", " + std::to_string(slowest.at_deadline) + " stopped at it"
                                        : std::string()) +
               ")");
  }
  if (!api.healthy()) r.fail("host", "the host stopped answering /healthz");
  host->stop();
  out << r.passed << " passed, " << r.failed << " failed, " << r.skipped << " skipped\n";
  return r.failed == 0 ? 0 : 1;
}

}  // namespace ih::cli

// `ihost plugins reload` and `ihost plugins list --running`: see reload_command.h.
#include "cli/reload_command.h"

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "app/app.h"
#include "cli/cli.h"
#include "common/json_parse.h"
#include "common/time_text.h"
#include "vault/vault.h"

namespace ih::cli {

namespace {

// The server's base URL and the admin token, from the configuration the server runs with.
struct ServerAccess {
  std::string base;
  std::string token;
};

// Fills `access`, or prints why not and returns the exit code.
int resolveServer(const ReloadArgs& args, const config::Environment& env, const char* command,
                  ServerAccess& access, std::ostream& err) {
  auto cfg = config::loadFile(args.config_path, env);
  if (!cfg.isOk()) {
    err << "ihost: invalid configuration:\n" << cfg.status().message() << "\n";
    return kExitConfig;
  }
  // The admin token: the environment variable the server reads ([admin] token_env), else the key ring's.
  if (auto it = env.find(cfg->admin.token_env); it != env.end()) access.token = it->second;
  if (access.token.empty()) {
    auto vault = app::openVault(*cfg, env);
    if (vault.isOk() && (*vault)->keyRing()->hasAdminToken())
      access.token = std::string((*vault)->keyRing()->adminToken().view());
  }
  if (access.token.empty()) {
    err << "ihost " << command << ": no admin token: set " << cfg->admin.token_env
        << " as for the server, or give the server's key file in [vault] of " << args.config_path << "\n";
    return kExitFailure;
  }
  access.base = args.url;
  if (access.base.empty()) {
    std::string host;
    int port = 0;
    if (Status s = app::parseListen(cfg->server.listen, host, port); !s.isOk()) {
      err << "ihost " << command << ": " << args.config_path << ": server.listen: " << s.message() << "\n";
      return kExitConfig;
    }
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    access.base = "http://" + host + ":" + std::to_string(port);
  }
  return kExitOk;
}

// Sends the request; on no answer prints why and returns nullopt.
std::optional<std::pair<int, std::string>> ask(const ServerAccess& access, const char* command,
                                               const std::string& method, const std::string& path,
                                               std::ostream& err) {
  httplib::Client client(access.base);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(120));  // a reload loads and validates every changed file
  const httplib::Headers headers = {{"Authorization", "Bearer " + access.token}};
  auto res = method == "GET" ? client.Get(path.c_str(), headers)
                             : client.Post(path.c_str(), headers, "{}", "application/json");
  if (!res) {
    err << "ihost " << command << ": cannot reach the server at " << access.base << " ("
        << httplib::to_string(res.error()) << "); is `ihost serve` running? Give its address with --url\n";
    return std::nullopt;
  }
  return std::make_pair(res->status, res->body);
}

// Members of the server's answer, read without trusting their types (any server may answer at --url).
std::string text(const nlohmann::json& o, const char* key) {
  return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string("-");
}
int64_t integer(const nlohmann::json& o, const char* key, int64_t max) {
  if (!o.contains(key) || !o[key].is_number_integer()) return 0;
  const int64_t v = o[key].get<int64_t>();
  return v < 0 ? 0 : v > max ? max : v;
}
const nlohmann::json& array(const nlohmann::json& o, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  return o.contains(key) && o[key].is_array() ? o[key] : kEmpty;
}

}  // namespace

int runPluginsRunning(const ReloadArgs& args, const config::Environment& env, std::ostream& out,
                      std::ostream& err) {
  ServerAccess access;
  if (int rc = resolveServer(args, env, "plugins list --running", access, err); rc != kExitOk) return rc;
  auto answer = ask(access, "plugins list --running", "GET", "/api/admin/plugins", err);
  if (!answer) return kExitFailure;
  const nlohmann::json body = parseJsonOrDiscarded(answer->second);
  if (answer->first != 200 || !body.is_object() || !body.contains("integrations") ||
      !body["integrations"].is_array()) {
    err << "ihost plugins list --running: the server answered " << answer->first << ": "
        << answer->second.substr(0, 500) << "\n";
    return kExitFailure;
  }
  if (args.json) {
    out << answer->second << "\n";
    return kExitOk;
  }
  out << "running on " << access.base << ":\n";
  constexpr int64_t kLastSecond = 253402300799;  // 9999-12-31T23:59:59Z
  for (const auto& r : body["integrations"]) {
    if (!r.is_object()) continue;
    out << text(r, "integration") << "  " << text(r, "plugin") << " " << text(r, "version") << "  loaded "
        << isoTimeSeconds(integer(r, "loaded_at", kLastSecond) * 1000) << "  previous "
        << text(r, "previous_version") << "  reloads " << integer(r, "reloads", INT32_MAX);
    if (r.contains("runner") && r["runner"].is_object()) {
      const nlohmann::json& runner = r["runner"];
      const bool up = runner.value("up", false);
      out << "  isolated: "
          << (up ? "runner pid " + std::to_string(integer(runner, "pid", INT32_MAX)) : "runner down")
          << ", restarts " << integer(runner, "restarts", INT32_MAX);
      if (runner.contains("last_exit") && runner["last_exit"].is_string())
        out << ", last exit: " << text(runner, "last_exit");
    }
    out << "\n";
  }
  for (const auto& u : array(body, "unavailable_integrations")) {
    if (!u.is_object()) continue;
    out << text(u, "integration") << "  unavailable: " << text(u, "reason") << "\n";
  }
  return kExitOk;
}

int runPluginsReload(const ReloadArgs& args, const config::Environment& env, std::ostream& out,
                     std::ostream& err) {
  ServerAccess access;
  if (int rc = resolveServer(args, env, "plugins reload", access, err); rc != kExitOk) return rc;
  auto answer = ask(access, "plugins reload", "POST", "/api/admin/plugins/reload", err);
  if (!answer) return kExitFailure;
  const nlohmann::json body = parseJsonOrDiscarded(answer->second);
  if (answer->first != 200 || !body.is_object() || !body.contains("files") || !body["files"].is_array()) {
    err << "ihost plugins reload: the server answered " << answer->first << ": "
        << answer->second.substr(0, 500) << "\n";
    return kExitFailure;
  }
  if (args.json) {
    out << answer->second << "\n";
  } else {
    for (const auto& f : body["files"]) {
      if (!f.is_object()) continue;
      const std::string status = text(f, "status");
      out << status << "  " << text(f, "file");
      if (text(f, "plugin") != "-") out << "  " << text(f, "plugin");
      // " (a, b)": the integrations the line is about.
      auto integrations = [&] {
        std::string list;
        for (const auto& id : array(f, "integrations"))
          if (id.is_string()) list += (list.empty() ? "" : ", ") + id.get<std::string>();
        return " (" + list + ")";
      };
      if (status == "reloaded") {
        out << " " << text(f, "from_version") << " -> " << text(f, "to_version") << integrations();
      } else if (status == "started") {
        out << " " << text(f, "to_version") << integrations();
      } else if (status == "removed") {
        out << " " << text(f, "from_version") << ": its integrations are unavailable until the file is back";
      } else if (status == "unchanged") {
        out << " " << text(f, "to_version");
      } else if (status == "refused") {
        out << ": " << text(f, "reason");
      }
      out << "\n";
    }
  }
  const bool refused =
      body.contains("refused") && body["refused"].is_boolean() && body["refused"].get<bool>();
  return refused ? kExitFailure : kExitOk;
}

}  // namespace ih::cli

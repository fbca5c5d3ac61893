// `ihost plugins reload`: see reload_command.h.
#include "cli/reload_command.h"

#include <httplib.h>

#include <chrono>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/app.h"
#include "cli/cli.h"
#include "common/json_parse.h"
#include "vault/vault.h"

namespace ih::cli {

int runPluginsReload(const ReloadArgs& args, const config::Environment& env, std::ostream& out,
                     std::ostream& err) {
  auto cfg = config::loadFile(args.config_path, env);
  if (!cfg.isOk()) {
    err << "ihost: invalid configuration:\n" << cfg.status().message() << "\n";
    return kExitConfig;
  }
  // The admin token: the environment variable the server reads ([admin] token_env), else the key ring's.
  std::string token;
  if (auto it = env.find(cfg->admin.token_env); it != env.end()) token = it->second;
  if (token.empty()) {
    auto vault = app::openVault(*cfg, env);
    if (vault.isOk() && (*vault)->keyRing()->hasAdminToken())
      token = std::string((*vault)->keyRing()->adminToken().view());
  }
  if (token.empty()) {
    err << "ihost plugins reload: no admin token: set " << cfg->admin.token_env
        << " as for the server, or give the server's key file in [vault] of " << args.config_path << "\n";
    return kExitFailure;
  }
  std::string base = args.url;
  if (base.empty()) {
    std::string host;
    int port = 0;
    if (Status s = app::parseListen(cfg->server.listen, host, port); !s.isOk()) {
      err << "ihost plugins reload: " << args.config_path << ": server.listen: " << s.message() << "\n";
      return kExitConfig;
    }
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    base = "http://" + host + ":" + std::to_string(port);
  }
  httplib::Client client(base);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(120));  // loading and validating every changed file
  auto res = client.Post("/api/admin/plugins/reload", {{"Authorization", "Bearer " + token}}, "{}",
                         "application/json");
  if (!res) {
    err << "ihost plugins reload: cannot reach the server at " << base << " ("
        << httplib::to_string(res.error()) << "); is `ihost serve` running? Give its address with --url\n";
    return kExitFailure;
  }
  const nlohmann::json body = parseJsonOrDiscarded(res->body);
  if (res->status != 200 || !body.is_object() || !body.contains("files") || !body["files"].is_array()) {
    err << "ihost plugins reload: the server answered " << res->status << ": " << res->body.substr(0, 500)
        << "\n";
    return kExitFailure;
  }
  if (args.json) {
    out << res->body << "\n";
  } else {
    for (const auto& f : body["files"]) {
      if (!f.is_object()) continue;
      auto text = [&](const char* key) {
        return f.contains(key) && f[key].is_string() ? f[key].get<std::string>() : std::string("-");
      };
      out << text("status") << "  " << text("file");
      if (text("plugin") != "-") out << "  " << text("plugin");
      // " (a, b)": the integrations the line is about.
      auto integrations = [&] {
        std::string list;
        for (const auto& id : f.value("integrations", nlohmann::json::array()))
          if (id.is_string()) list += (list.empty() ? "" : ", ") + id.get<std::string>();
        return " (" + list + ")";
      };
      if (text("status") == "reloaded") {
        out << " " << text("from_version") << " -> " << text("to_version") << integrations();
      } else if (text("status") == "started") {
        out << " " << text("to_version") << integrations();
      } else if (text("status") == "removed") {
        out << " " << text("from_version") << ": its integrations are unavailable until the file is back";
      } else if (text("status") == "unchanged") {
        out << " " << text("to_version");
      }
      if (text("status") == "refused") out << ": " << text("reason");
      out << "\n";
    }
  }
  return body.value("refused", false) ? kExitFailure : kExitOk;
}

}  // namespace ih::cli

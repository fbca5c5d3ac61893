// See integrations_command.h.
#include "cli/integrations_command.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <optional>
#include <ostream>

#include "cli/cli.h"
#include "common/time_text.h"
#include "config/config.h"
#include "loader/registry.h"
#include "store/store.h"

namespace ih::cli {
namespace {

using nlohmann::json;

// "15m", "1h30m", "1d": the shortest form of a schedule in seconds.
std::string every(int64_t seconds) {
  if (seconds <= 0) return "on demand";
  std::string out;
  const std::pair<int64_t, char> units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [size, unit] : units) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  return out;
}

json describe(const config::IntegrationConfig& ic, const config::Config& config,
              const loader::Registry& plugins, const store::Tenant* tenant,
              const std::optional<store::Connection>& conn) {
  std::shared_ptr<loader::Plugin> plugin = plugins.find(ic.plugin);
  json j = {{"id", ic.id}, {"enabled", ic.enabled}};
  if (!plugin) {
    j["plugin"] = {{"name", ic.plugin}, {"version", nullptr}, {"loaded", false}};
    j["jobs"] = json::array();
    j["actions"] = json::array();
    j["webhook_url"] = nullptr;
  } else {
    const loader::Manifest& m = plugin->manifest();
    j["plugin"] = {{"name", m.name},
                   {"version", m.version},
                   {"abi", std::to_string(plugin->abiMajor()) + "." + std::to_string(plugin->abiMinor())},
                   {"loaded", true}};
    json jobs = json::array();
    for (const loader::JobSpec& spec : m.jobs) {
      int64_t seconds = spec.every_seconds;
      bool enabled = true;
      if (auto it = ic.jobs.find(spec.name); it != ic.jobs.end()) {
        if (it->second.every_seconds) seconds = *it->second.every_seconds;
        if (it->second.enabled) enabled = *it->second.enabled;
      }
      jobs.push_back({{"name", spec.name}, {"every_seconds", seconds}, {"enabled", enabled && seconds > 0}});
    }
    j["jobs"] = jobs;
    json actions = json::array();
    for (const auto& a : m.actions)
      actions.push_back(a.name);
    j["actions"] = actions;
    // Where the provider must send this integration's webhooks.
    if (m.tenant_webhooks) {
      j["webhook_url"] = config.server.public_url + "/webhooks/" + ic.id + "/" +
                         (tenant ? tenant->id : std::string("<tenant id>"));
    } else if (m.platform_webhooks) {
      j["webhook_url"] = config.server.public_url + "/webhooks/" + ic.id;
    } else {
      j["webhook_url"] = nullptr;
    }
  }
  if (tenant) {
    j["tenant"] = {{"id", tenant->id}, {"name", tenant->name}};
    if (conn) {
      j["status"] = std::string(store::connectionStatusName(conn->status));
      j["connected_at"] = isoTimeSeconds(conn->connected_at);
      j["last_check"] = conn->last_check_at
                            ? json{{"at", isoTimeSeconds(*conn->last_check_at)},
                                   {"ok", conn->last_check_ok ? json(*conn->last_check_ok) : json(nullptr)},
                                   {"error", conn->last_error ? json(*conn->last_error) : json(nullptr)}}
                            : json(nullptr);
    } else {
      j["status"] = "not_connected";
      j["connected_at"] = nullptr;
      j["last_check"] = nullptr;
    }
  }
  return j;
}

std::string text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.is_null() ? std::string("-") : v.dump();
}

}  // namespace

int runIntegrationsCommand(const IntegrationsQuery& query, const config::Config& config,
                           const loader::Registry& plugins, store::Store& store, const store::Tenant* tenant,
                           std::ostream& out, std::ostream& err) {
  std::vector<store::Connection> conns;
  if (tenant) {
    auto listed = store.listConnections(tenant->id);
    if (!listed.isOk()) {
      err << "ihost: " << listed.status().message() << "\n";
      return kExitFailure;
    }
    conns = std::move(listed).value();
  }
  auto connectionOf = [&](const std::string& id) -> std::optional<store::Connection> {
    for (const auto& c : conns)
      if (c.integration_id == id) return c;
    return std::nullopt;
  };

  if (query.verb == "list") {
    json data = json::array();
    for (const auto& ic : config.integrations)
      data.push_back(describe(ic, config, plugins, tenant, connectionOf(ic.id)));
    if (query.json) {
      out << json{{"object", "list"}, {"data", data}}.dump(2) << "\n";
      return kExitOk;
    }
    out << std::left << std::setw(20) << "INTEGRATION" << std::setw(26) << "PLUGIN" << std::setw(9)
        << "ENABLED";
    if (tenant) out << std::setw(15) << "STATUS";
    out << "WEBHOOK URL\n";
    for (const json& j : data) {
      const std::string plugin = j["plugin"]["name"].get<std::string>() +
                                 (j["plugin"]["loaded"] ? " " + j["plugin"]["version"].get<std::string>()
                                                        : std::string(" (not loaded)"));
      out << std::left << std::setw(20) << j["id"].get<std::string>() << std::setw(26) << plugin
          << std::setw(9) << (j["enabled"] ? "yes" : "no");
      if (tenant) out << std::setw(15) << text(j["status"]);
      out << text(j["webhook_url"]) << "\n";
    }
    if (data.empty()) out << "(no [integrations.<id>] table in " << config.path << ")\n";
    return kExitOk;
  }

  if (query.verb == "show") {
    const config::IntegrationConfig* found = nullptr;
    for (const auto& ic : config.integrations)
      if (ic.id == query.id) found = &ic;
    if (found == nullptr) {
      err << "ihost: no integration \"" << query.id << "\" in " << config.path
          << " (see: ihost integrations list)\n";
      return kExitUsage;
    }
    json j = describe(*found, config, plugins, tenant, connectionOf(found->id));
    if (query.json) {
      out << j.dump(2) << "\n";
      return kExitOk;
    }
    auto row = [&](const char* label, const std::string& value) {
      out << std::left << std::setw(14) << label << value << "\n";
    };
    row("integration", j["id"].get<std::string>());
    row("plugin", j["plugin"]["loaded"]
                      ? j["plugin"]["name"].get<std::string>() + " " +
                            j["plugin"]["version"].get<std::string>() + " (ABI " +
                            j["plugin"]["abi"].get<std::string>() + ")"
                      : j["plugin"]["name"].get<std::string>() + " (not loaded: see ihost plugins list)");
    row("enabled", j["enabled"] ? "yes" : "no");
    row("webhook URL", text(j["webhook_url"]));
    if (tenant) {
      row("tenant", tenant->id + " (" + tenant->name + ")");
      row("status", text(j["status"]));
      row("connected at", text(j["connected_at"]));
      if (j["last_check"].is_object()) {
        const json& c = j["last_check"];
        row("last check", text(c["at"]) + (c["ok"] == true ? " ok" : " failed: " + text(c["error"])));
      } else {
        row("last check", "-");
      }
    }
    std::string jobs;
    for (const json& job : j["jobs"]) {
      jobs +=
          (jobs.empty() ? "" : ", ") + job["name"].get<std::string>() + " " +
          (job["enabled"] ? "every " + every(job["every_seconds"].get<int64_t>()) : std::string("on demand"));
    }
    row("jobs", jobs.empty() ? "-" : jobs);
    std::string actions;
    for (const json& a : j["actions"])
      actions += (actions.empty() ? "" : ", ") + a.get<std::string>();
    row("actions", actions.empty() ? "-" : actions);
    return kExitOk;
  }
  err << "ihost: unknown command \"integrations " << query.verb << "\" (list or show)\n";
  return kExitUsage;
}

}  // namespace ih::cli

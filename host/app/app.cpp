#include "app/app.h"

#include <algorithm>
#include <map>

#include "admin/admin.h"
#include "api/api.h"
#include "app/metrics_routes.h"
#include "app/vault_rotation.h"
#include "common/text.h"
#include "endpoints/endpoints.h"
#include "entitlements/entitlements.h"
#include "events/events.h"
#include "http/access_log.h"
#include "http/server.h"
#include "ih/plugin_abi.h"
#include "inbox/inbox.h"
#include "loader/registry.h"
#include "log/log.h"
#include "mappings/mappings.h"
#include "oauth/oauth.h"
#include "outbound/client.h"
#include "records/idempotency.h"
#include "records/records.h"
#include "runtime/plugin_watch.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "store/entitlement_store.h"
#include "store/mapping_store.h"
#include "store/store.h"
#include "tenancy/connections.h"
#include "tenancy/http_auth.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace ih::app {

namespace {

std::string envValue(const config::Environment& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

log::Level parseLevel(const std::string& level) {
  if (level == "debug") return log::Level::kDebug;
  if (level == "warn") return log::Level::kWarn;
  if (level == "error") return log::Level::kError;
  return log::Level::kInfo;
}

}  // namespace

Status parseListen(const std::string& listen, std::string& host, int& port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::invalidArgument(
        "[server] listen = \"" + listen +
        "\" must be host:port, e.g. \"127.0.0.1:8080\" (port 0 picks a free port)");
  }
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto parsed = parseInt64InRange(std::string_view(listen).substr(colon + 1), 0, 65535);
  if (!parsed) {
    return Status::invalidArgument("[server] listen = \"" + listen + "\": the port must be a number 0-65535");
  }
  port = static_cast<int>(*parsed);
  return Status::ok();
}

store::Options storeOptions(const config::StorageConfig& storage) {
  store::Options options;
  options.backend =
      storage.backend == "postgres" ? store::StorageBackend::kPostgres : store::StorageBackend::kSqlite;
  options.path = storage.path;
  options.url = storage.url;
  options.read_connections = storage.pool_size;
  options.statement_timeout_ms = storage.statement_timeout_ms;
  options.replica_id = storage.replica_id;
  options.claim_lease_ms = storage.claim_lease_ms;
  options.durable = storage.synchronous == "full";
  return options;
}

Result<std::unique_ptr<vault::Vault>> openVault(const config::Config& config,
                                                const config::Environment& env) {
  std::string key_file = config.vault.key_file;
  std::string env_name = config.vault.key_env;
  auto ring = vault::loadKeyRing(key_file, envValue(env, env_name));
  if (!ring.isOk()) return ring.status();
  std::string env_value = envValue(env, env_name);
  auto reload = [key_file, env_value]() { return vault::loadKeyRing(key_file, env_value); };
  return std::make_unique<vault::Vault>(std::move(*ring), reload);
}

struct App::Impl {
  config::Config config;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<records::Records> records;
  std::unique_ptr<records::IdempotencyCache> idempotency;
  std::unique_ptr<events::Events> events;
  std::unique_ptr<vault::Vault> vault;
  std::unique_ptr<outbound::Client> outbound;
  std::unique_ptr<endpoints::Endpoints> endpoints;  // signed outbound webhooks to tenant apps
  std::unique_ptr<loader::Registry> registry;
  std::unique_ptr<tenancy::Connections> connections;  // outlives the runtime: host services use it
  std::unique_ptr<runtime::Runtime> runtime;
  std::unique_ptr<runtime::PluginWatch> plugin_watch;  // [plugins] watch; stopped before the runtime
  std::unique_ptr<tenancy::Tenancy> tenancy;
  std::unique_ptr<inbox::Inbox> inbox;  // stops before the runtime, goes before the store
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<oauth::OAuth> oauth;  // OAuth states + start/callback routes
  // Interactive action runs (the console's workflow API); stopped before the runtime.
  std::unique_ptr<admin::Workflows> workflows;
  // The entitlements view (rules from the plugins' manifests); stopped before the store and events go.
  std::unique_ptr<store::EntitlementStore> entitlement_view;
  std::unique_ptr<entitlements::Entitlements> entitlements;
  std::unique_ptr<store::MappingStore> mapping_store;
  std::unique_ptr<mappings::Mappings> mappings;
  api::Context api_context;
  std::unique_ptr<http::Server> server;
  std::shared_ptr<void> routes;
  bool stopped = false;
};

App::App() : impl_(std::make_unique<Impl>()) {}

App::~App() {
  stop();
}

Result<std::unique_ptr<App>> App::create(config::Config config, const config::Environment& env) {
  log::setLevel(parseLevel(config.log.level));
  std::unique_ptr<App> app(new App());
  Impl& m = *app->impl_;
  m.config = std::move(config);
  const config::Config& c = m.config;

  std::string host;
  int port = 0;
  if (Status s = parseListen(c.server.listen, host, port); !s.isOk()) return s;

  auto vault = openVault(c, env);
  if (!vault.isOk()) return vault.status();
  m.vault = std::move(*vault);

  auto store = store::Store::open(storeOptions(c.storage));
  if (!store.isOk()) return store.status();
  m.store = std::move(*store);
  if (Status s = verifyVault(*m.store, *m.vault); !s.isOk()) return s;
  m.records = std::make_unique<records::Records>(*m.store);
  m.idempotency = std::make_unique<records::IdempotencyCache>(*m.store);
  events::Options events_options;
  events_options.stream_reauth_interval = std::chrono::milliseconds(c.events.stream_reauth_ms);
  events_options.max_streams = static_cast<size_t>(c.events.max_streams);
  events_options.max_streams_per_tenant = static_cast<size_t>(c.events.max_streams_per_tenant);
  m.events = std::make_unique<events::Events>(*m.store, events_options);

  outbound::ClientOptions outbound_options;
  auto network_policy = outbound::NetworkPolicy::make(c.outbound.allow_networks);
  if (!network_policy.isOk()) {
    return Status::invalidArgument(c.path +
                                   ": outbound.allow_networks: " + network_policy.status().message());
  }
  outbound_options.network = std::move(*network_policy);
  outbound_options.max_response_bytes = c.outbound.max_response_bytes;
  outbound_options.deadline = std::chrono::milliseconds(c.outbound.deadline_ms);
  outbound_options.ca_file = c.outbound.ca_file;
  m.outbound = std::make_unique<outbound::Client>(std::move(outbound_options));
  if (m.store->isPostgres()) {
    // Replicas share each tenant's provider budget through the database: N replicas together stay within
    // one tenant's rate, not N times it. If the database cannot be reached, each falls back to its own.
    store::Store* shared = m.store.get();
    const double max_debt_s = std::chrono::duration<double>(m.outbound->budget().options().max_wait).count();
    m.outbound->budget().share(
        [shared, max_debt_s](std::string_view key, double rate) -> std::optional<double> {
          auto wait = shared->takeRateToken(key, rate, max_debt_s);
          if (!wait.isOk()) return std::nullopt;
          return *wait;
        });
  }
  endpoints::Options endpoint_options;
  endpoint_options.retry_schedule.clear();
  for (int secs : c.endpoints.retry_schedule_s)
    endpoint_options.retry_schedule.emplace_back(std::chrono::seconds(secs));
  endpoint_options.workers = c.endpoints.workers;
  endpoint_options.request_timeout = std::chrono::milliseconds(c.endpoints.request_timeout_ms);
  endpoint_options.disable_after_failed_events = c.endpoints.disable_after_failed_events;
  endpoint_options.retention = std::chrono::hours(24) * c.endpoints.retention_days;
  m.endpoints =
      std::make_unique<endpoints::Endpoints>(*m.store, *m.events, *m.outbound, *m.vault, endpoint_options);
  m.registry = loader::Registry::scan(runtime::scanOptions(c));
  m.connections = std::make_unique<tenancy::Connections>(*m.store, *m.vault, m.events.get());
  runtime::Dependencies deps;
  deps.store = m.store.get();
  deps.connections = m.connections.get();
  deps.vault = m.vault.get();
  deps.outbound = m.outbound.get();
  // The config defaults public_url to "http://" + listen (maybe port 0 or 0.0.0.0): only an explicit one is
  // worth telling plugins.
  if (c.server.public_url != "http://" + c.server.listen) deps.public_url = c.server.public_url;
  deps.call_timeout = std::chrono::milliseconds(c.plugins.call_timeout_ms);
  deps.job_timeout = std::chrono::milliseconds(c.plugins.job_timeout_ms);
  deps.isolation = runtime::isolationOptions(c);
  deps.records = m.records.get();
  deps.events = m.events.get();
  m.runtime = std::make_unique<runtime::Runtime>(deps);

  std::map<std::string, std::string> schemas;
  for (const auto& plugin : m.registry->loaded())
    schemas[plugin->manifest().name] = plugin->manifest().config_schema_json;
  for (const auto& integration : c.integrations) {
    auto plugin = m.registry->find(integration.plugin);
    if (!plugin) {
      std::string reason = "plugin \"" + integration.plugin +
                           "\" is not installed (no such plugin loaded from " + c.plugins.dir +
                           "; see `ihost plugins list`)";
      for (const auto& r : m.registry->refused()) {
        if (r.name == integration.plugin)
          reason = "plugin \"" + integration.plugin + "\" was refused: " + r.reason;
      }
      m.runtime->addUnavailable({integration.id, integration.plugin, reason});
      continue;
    }
    // Fail fast: settings the plugin's schema (or the plugin itself) refuses stop the start, as `ihost config
    // check` does, instead of a host that runs without the integration. (A plugin that is not installed
    // leaves the integration listed as unavailable: its data stays reachable.)
    if (Status added = m.runtime->addIntegration(c, integration, plugin); !added.isOk()) {
      return Status::invalidArgument(
          added.message() +
          "\nFix the settings (`ihost config check` lists every problem), or remove "
          "the [integrations." +
          integration.id + "] table.");
    }
  }

  auto sched = scheduler::Scheduler::create(c, *m.runtime, *m.store, m.events.get());
  if (!sched.isOk()) return sched.status();
  m.scheduler = std::move(*sched);

  m.tenancy = std::make_unique<tenancy::Tenancy>(*m.store, *m.vault, envValue(env, c.admin.token_env));

  http::ServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  server_options.max_body_bytes = c.server.max_body_bytes;
  server_options.header_timeout_ms = c.server.header_timeout_ms;
  server_options.read_timeout_ms = c.server.read_timeout_ms;
  server_options.write_timeout_ms = c.server.write_timeout_ms;
  server_options.idle_timeout_ms = c.server.idle_timeout_ms;
  server_options.worker_threads = c.server.worker_threads;
  server_options.keep_alive_max_requests = c.server.keep_alive_max_requests;
  server_options.max_connections = c.server.max_connections;
  server_options.max_connections_per_ip = c.server.max_connections_per_ip;
  m.server = std::make_unique<http::Server>(server_options);
  if (c.log.access) m.server->setObserver(http::accessLog());
  m.api_context.config = &m.config;
  m.api_context.registry = m.registry.get();
  m.api_context.runtime = m.runtime.get();
  m.api_context.store = m.store.get();
  m.api_context.vault = m.vault.get();
  m.api_context.tenancy = m.tenancy.get();
  m.api_context.connections = m.connections.get();
  m.api_context.idempotency = m.idempotency.get();
  m.routes = api::registerRoutes(*m.server, m.api_context);
  m.inbox = std::make_unique<inbox::Inbox>(*m.store, *m.runtime, inbox::optionsFrom(c.inbox));
  m.runtime->setInbox(m.inbox.get());
  m.inbox->registerRoutes(*m.server, *m.tenancy);
  oauth::Options oauth_options;
  // The config defaults public_url to "http://" + listen (maybe port 0 or 0.0.0.0): only an explicit one
  // counts; otherwise the OAuth callback URL comes from the start request's Host header.
  if (c.server.public_url != "http://" + c.server.listen) oauth_options.public_url = c.server.public_url;
  m.oauth = std::make_unique<oauth::OAuth>(*m.store, *m.vault, *m.runtime, *m.connections, m.inbox.get(),
                                           oauth_options);
  m.oauth->registerRoutes(*m.server, *m.tenancy);
  // Records of an integration that is configured (running, or unavailable with its data kept) and enabled.
  auto configured = [rt = m.runtime.get()](std::string_view id) {
    if (runtime::Integration* in = rt->find(id)) return in->enabled();
    for (const auto& u : rt->unavailable())
      if (u.id == id) return true;
    return false;
  };
  // Mappings declared by the plugins' manifests; the records API shows them on the records they apply to.
  std::map<std::string, mappings::Spec> mapping_specs;
  for (runtime::Integration* in : m.runtime->integrations()) {
    const loader::MappingSpec& declared = in->manifest().mappings;
    if (declared.kinds.empty()) continue;
    mappings::Spec& spec = mapping_specs[in->id()];
    for (const loader::MappingKind& k : declared.kinds)
      spec.kinds.push_back({k.name, k.description});
    for (const loader::MappingApply& a : declared.apply)
      spec.apply.push_back({a.model, a.field, a.kind});
  }
  m.mapping_store = std::make_unique<store::MappingStore>(*m.store);
  m.mappings = std::make_unique<mappings::Mappings>(*m.mapping_store, std::move(mapping_specs));
  mappings::registerRoutes(*m.server, *m.tenancy, *m.mappings, configured);
  records::registerRoutes(
      *m.server, *m.tenancy, *m.records, configured,
      [mp = m.mappings.get()](std::string_view tenant, std::string_view integration, std::string_view model,
                              const std::vector<store::Record>& rows) {
        return mp->annotate(tenant, integration, model, rows);
      });
  events::registerRoutes(*m.server, *m.tenancy, *m.events);
  endpoints::registerRoutes(*m.server, *m.tenancy, *m.endpoints);
  scheduler::registerRoutes(*m.server, *m.tenancy, *m.scheduler);
  std::vector<entitlements::Rule> rules;
  for (runtime::Integration* in : m.runtime->integrations()) {
    if (!in->enabled()) continue;
    for (const loader::EntitlementSpec& e : in->manifest().entitlements)
      rules.push_back({in->id(), e.model, e.customer, e.key, e.status, e.active, e.expires});
  }
  m.entitlement_view = std::make_unique<store::EntitlementStore>(*m.store);
  m.entitlements = std::make_unique<entitlements::Entitlements>(m.records->recordStore(), *m.entitlement_view,
                                                                m.events.get(), std::move(rules));
  entitlements::registerRoutes(*m.server, *m.tenancy, *m.entitlements);
  metrics::registerRoutes(*m.server, metrics::registry(), IH_VERSION,
                          std::to_string(IH_ABI_MAJOR) + "." + std::to_string(IH_ABI_MINOR));
  m.workflows = std::make_unique<admin::Workflows>(*m.runtime);
  m.workflows->registerRoutes(*m.server, *m.tenancy);
  if (c.admin.console) admin::registerConsole(*m.server);

  log::info("effective configuration", {{"summary", config::maskedSummary(c, schemas)}});
  return app;
}

Status App::start() {
  if (Status s = impl_->inbox->start(); !s.isOk()) return s;
  if (Status s = impl_->scheduler->start(); !s.isOk()) return s;
  if (Status s = impl_->endpoints->start(); !s.isOk()) return s;
  impl_->entitlements->start();
  if (impl_->config.plugins.watch) {
    impl_->plugin_watch = std::make_unique<runtime::PluginWatch>(impl_->config, *impl_->runtime);
    if (Status s = impl_->plugin_watch->start(); !s.isOk()) return s;
  }
  if (Status s = impl_->server->start(); !s.isOk()) return s;
  impl_->server->setReady(true);
  log::info("ihost listening", {{"url", baseUrl()},
                                {"integrations", static_cast<int64_t>(impl_->runtime->integrations().size())},
                                {"plugins", static_cast<int64_t>(impl_->registry->loaded().size())}});
  return Status::ok();
}

http::Server& App::server() {
  return *impl_->server;
}

int App::port() const {
  return impl_->server->port();
}

std::string App::baseUrl() const {
  std::string host;
  int port = 0;
  (void)parseListen(impl_->config.server.listen, host, port);
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  return "http://" + host + ":" + std::to_string(this->port());
}

void App::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->events) impl_->events->stop();  // end SSE streams so the server can stop promptly
  if (impl_->server) {
    impl_->server->setReady(false);
    impl_->server->stop();  // stop intake; in-flight requests finish
  }
  if (impl_->plugin_watch) impl_->plugin_watch->stop();  // no reload from here on
  if (impl_->workflows) impl_->workflows->stop();        // pending prompts are refused, run threads joined
  if (impl_->entitlements) impl_->entitlements->stop();  // the background pass ends
  if (impl_->endpoints) impl_->endpoints->stop();        // in-flight deliveries finish; the rest stay pending
  if (impl_->scheduler) impl_->scheduler->stop();        // no new job runs; running ones finish
  if (impl_->inbox) impl_->inbox->stop();                // finish in-flight dispatches
  if (impl_->runtime) impl_->runtime->shutdown();        // drain, destroy instances
  impl_->routes.reset();
  impl_->inbox.reset();
  impl_->oauth.reset();
  impl_->scheduler.reset();
  impl_->endpoints.reset();
  impl_->server.reset();
  impl_->runtime.reset();
  if (impl_->registry) impl_->registry->clear();  // unload libraries
  log::info("ihost stopped");
}

const config::Config& App::config() const {
  return impl_->config;
}
store::Store& App::store() {
  return *impl_->store;
}
vault::Vault& App::vault() {
  return *impl_->vault;
}
tenancy::Tenancy& App::tenancy() {
  return *impl_->tenancy;
}
loader::Registry& App::registry() {
  return *impl_->registry;
}
runtime::Runtime& App::runtime() {
  return *impl_->runtime;
}
inbox::Inbox& App::inbox() {
  return *impl_->inbox;
}
events::Events& App::events() {
  return *impl_->events;
}
scheduler::Scheduler& App::scheduler() {
  return *impl_->scheduler;
}
records::Records& App::records() {
  return *impl_->records;
}
entitlements::Entitlements& App::entitlements() {
  return *impl_->entitlements;
}
oauth::OAuth& App::oauth() {
  return *impl_->oauth;
}

}  // namespace ih::app

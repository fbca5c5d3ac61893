// A real ihost assembled in-process for integration tests: its own temp dir, a config file, a vault key file,
// a SQLite file, the plugins directory of choice, and an HTTP server on a free loopback port.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

#include "app/app.h"
#include "support/temp_dir.h"

namespace ih::test {

struct TestHostOptions {
  std::string plugins_dir = IH_PLUGIN_DIR;
  // Extra keys of the [plugins] table (lines such as "isolation = \"process\"\n").
  std::string plugins_toml;
  // Extra TOML appended to the generated config (e.g. [integrations.x] tables).
  std::string extra_toml;
  std::string log_level = "warn";
  // Writes [outbound] allow_networks = loopback, so plugins and endpoints reach the Stripe double and
  // receivers on 127.0.0.1. Turn off to test the default policy (or to write your own [outbound] table).
  bool allow_loopback_outbound = true;
  // Environment for config overrides (IHOST_…).
  config::Environment env;
};

class TestHost {
 public:
  // Builds and starts the host; REQUIREs success.
  explicit TestHost(TestHostOptions options = {});
  ~TestHost();

  app::App& app() { return *app_; }
  const TempDir& dir() const { return dir_; }
  std::string configPath() const { return dir_.file("ihost.toml"); }
  std::string dbPath() const { return dir_.file("ihost.db"); }
  int port() const { return app_->port(); }
  // The admin token from the generated vault key file.
  const std::string& adminToken() const { return admin_token_; }
  // A client for this host with sane timeouts.
  std::unique_ptr<httplib::Client> client() const;

  struct TenantKey {
    std::string tenant_id;
    std::string api_key;
  };
  // Creates a tenant through the real tenancy module and returns its first key.
  TenantKey createTenant(const std::string& name);

  // Stops the host (idempotent); restart() builds a new one on the same files.
  void stop();
  void restart();

 private:
  void start();
  TempDir dir_;
  TestHostOptions options_;
  std::unique_ptr<app::App> app_;
  std::string admin_token_;
};

// Headers with "Authorization: Bearer <key>".
httplib::Headers bearer(const std::string& key);

}  // namespace ih::test

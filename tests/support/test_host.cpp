#include "support/test_host.h"
#include "support/response_recorder.h"
#include "support/test_store.h"

#include <catch2/catch.hpp>

#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace ih::test {

TestHost::TestHost(TestHostOptions options) : options_(std::move(options)) {
  // The PostgreSQL lanes run the same host on a schema of its own (support/test_store.h).
  const std::string storage = testStoreIsPostgres() ? "[storage]\nbackend = \"postgres\"\nurl = \"" +
                                                          testStoreOptions(dbPath()).url + "\"\n\n"
                                                    : "[storage]\npath = \"ihost.db\"\n\n";
  std::string toml =
      "[server]\nlisten = \"127.0.0.1:0\"\nworker_threads = 8\n\n" + storage +
      "[vault]\nkey_file = \"vault.keys\"\n\n"
      "[plugins]\ndir = \"" +
      options_.plugins_dir + "\"\n" + options_.plugins_toml +
      "\n"
      "[log]\nlevel = \"" +
      options_.log_level + "\"\n\n" +
      (options_.allow_loopback_outbound ? "[outbound]\nallow_networks = [\"127.0.0.0/8\", \"::1/128\"]\n\n"
                                        : "") +
      options_.extra_toml;
  writeFile(dir_.path() / "ihost.toml", toml);
  auto token = vault::initKeyFile(dir_.file("vault.keys"));
  REQUIRE(token.isOk());
  admin_token_ = std::string(token->view());
  start();
}

TestHost::~TestHost() {
  stop();
}

void TestHost::start() {
  auto cfg = config::loadFile(configPath(), options_.env);
  if (!cfg.isOk()) FAIL("test config invalid: " << cfg.status().message());
  auto app = app::App::create(std::move(*cfg), options_.env);
  if (!app.isOk()) FAIL("host did not start: " << app.status().message());
  app_ = std::move(*app);
  Status s = app_->start();
  REQUIRE(s.isOk());
  addHostPort(app_->port());
}

void TestHost::stop() {
  if (app_) app_->stop();
  app_.reset();
}

void TestHost::restart() {
  stop();
  start();
}

std::unique_ptr<httplib::Client> TestHost::client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", app_->port());
  c->set_connection_timeout(5);
  c->set_read_timeout(30);
  c->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    recordResponse(req.method, req.path, res.status, res.get_header_value("Content-Type"), res.body);
  });
  return c;
}

TestHost::TenantKey TestHost::createTenant(const std::string& name) {
  auto created = app_->tenancy().createTenant(name);
  REQUIRE(created.isOk());
  return {created->tenant.id, created->first_key.plaintext};
}

httplib::Headers bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}};
}

}  // namespace ih::test

#include "bench_host.h"
#include "common/allocator.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "app/app.h"
#include "config/config.h"
#include "vault/vault.h"

namespace ih::bench {

std::unique_ptr<app::App> startHost(const std::filesystem::path& dir, const std::string& toml_text) {
  (void)tuneAllocator();  // as ihost's main does
  {
    std::ofstream toml(dir / "ihost.toml");
    toml << toml_text;
  }
  std::error_code ec;
  if (std::filesystem::exists(dir / "vault.keys", ec)) {
    // a replica's copy of the first host's key ring
  } else if (auto key = vault::initKeyFile((dir / "vault.keys").string()); !key.isOk()) {
    std::fprintf(stderr, "vault: %s\n", key.status().message().c_str());
    return nullptr;
  }
  auto cfg = config::loadFile((dir / "ihost.toml").string(), {});
  if (!cfg.isOk()) {
    std::fprintf(stderr, "config: %s\n", cfg.status().message().c_str());
    return nullptr;
  }
  auto created = app::App::create(std::move(*cfg), {});
  if (!created.isOk()) {
    std::fprintf(stderr, "host: %s\n", created.status().message().c_str());
    return nullptr;
  }
  std::unique_ptr<app::App> app = std::move(*created);
  if (Status s = app->start(); !s.isOk()) {
    std::fprintf(stderr, "host: %s\n", s.message().c_str());
    return nullptr;
  }
  return app;
}

}  // namespace ih::bench

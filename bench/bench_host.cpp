#include "bench_host.h"
#include "common/allocator.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "app/app.h"
#include "common/text.h"
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

int64_t intFlag(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  if (auto v = parseInt64InRange(text, min, max)) return *v;
  std::fprintf(stderr, "%s: expected a whole number from %lld to %lld, got \"%s\"\n", flag.c_str(),
               static_cast<long long>(min), static_cast<long long>(max), text.c_str());
  std::exit(2);
}

double numberFlag(const std::string& flag, const std::string& text, double min, double max) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (errno == 0 && end != text.c_str() && *end == '\0' && v >= min && v <= max) return v;
  std::fprintf(stderr, "%s: expected a number from %g to %g, got \"%s\"\n", flag.c_str(), min, max,
               text.c_str());
  std::exit(2);
}

}  // namespace ih::bench

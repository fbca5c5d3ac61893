// The real App for a benchmark, configured by a generated ihost.toml in a directory the caller owns.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace ih::app {
class App;
}

namespace ih::bench {

// Writes `toml_text` to dir/ihost.toml (paths in it are relative to `dir`), creates dir/vault.keys unless it
// exists (a replica is given the first one's key ring), then creates and starts the App. Prints the reason to stderr and returns nullptr on failure.
std::unique_ptr<app::App> startHost(const std::filesystem::path& dir, const std::string& toml_text);

// A flag's whole-number value in [min, max], or exit 2 naming the flag (no atoi: "12x" and overflow refused).
int64_t intFlag(const std::string& flag, const std::string& text, int64_t min, int64_t max);
// A flag's decimal value in [min, max], or exit 2 naming the flag.
double numberFlag(const std::string& flag, const std::string& text, double min, double max);

}  // namespace ih::bench

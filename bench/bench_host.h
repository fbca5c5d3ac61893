// The real App for a benchmark, configured by a generated ihost.toml in a directory the caller owns.
#pragma once

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

}  // namespace ih::bench

// `[plugins] watch = true`: watches the plugins directory (inotify) and hot-reloads (Runtime::reloadPlugins)
// once files stop changing for a moment, as `ihost plugins reload` would. One thread; stop() ends it.
#pragma once

#include <chrono>
#include <memory>

#include "common/status.h"

namespace ih::config {
struct Config;
}

namespace ih::runtime {

class Runtime;

class PluginWatch {
 public:
  // `config` and `runtime` must outlive the watch. `quiet`: how long the directory must stay unchanged before
  // a reload (a copy in progress is not loaded half-written).
  PluginWatch(const config::Config& config, Runtime& runtime,
              std::chrono::milliseconds quiet = std::chrono::milliseconds(500));
  ~PluginWatch();  // stop()
  PluginWatch(const PluginWatch&) = delete;
  PluginWatch& operator=(const PluginWatch&) = delete;

  // Starts watching; fails when the directory cannot be watched (the message names it).
  Status start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ih::runtime

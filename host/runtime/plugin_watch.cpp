// See plugin_watch.h.
#include "runtime/plugin_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "config/config.h"
#include "log/log.h"
#include "runtime/runtime.h"

namespace ih::runtime {

struct PluginWatch::Impl {
  const config::Config& config;
  Runtime& runtime;
  std::chrono::milliseconds quiet;
  int fd = -1;
  std::atomic<bool> stopping{false};
  std::thread thread;

  void run() {
    using Clock = std::chrono::steady_clock;
    bool pending = false;
    Clock::time_point last_change{};
    alignas(inotify_event) char buffer[4096];
    while (!stopping.load()) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);  // wakes to see `stopping` and the quiet period
      if (ready > 0 && (p.revents & POLLIN)) {
        // Any event under the directory counts (create, write, rename in or out, delete); the reload itself
        // compares digests, so a spurious one costs a directory scan.
        while (::read(fd, buffer, sizeof buffer) > 0) {
        }
        pending = true;
        last_change = Clock::now();
      }
      if (pending && Clock::now() - last_change >= quiet) {
        pending = false;
        try {
          for (const ReloadOutcome& o : runtime.reloadPlugins(config)) {
            if (o.status == "unchanged" || o.status == "not_configured") continue;
            log::info("plugins directory changed: reload", {{"file", o.file}, {"status", o.status}});
          }
        } catch (const std::exception& e) {
          log::error("plugin watch: reload failed", {{"error", std::string(e.what())}});
        } catch (...) {
          log::error("plugin watch: reload failed", {{"error", "unknown exception"}});
        }
      }
    }
  }
};

PluginWatch::PluginWatch(const config::Config& config, Runtime& runtime, std::chrono::milliseconds quiet)
    : impl_(new Impl{config, runtime, quiet}) {}

PluginWatch::~PluginWatch() {
  stop();
}

Status PluginWatch::start() {
  impl_->fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (impl_->fd < 0) return Status::unavailable(std::string("inotify_init1: ") + std::strerror(errno));
  const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB;
  if (::inotify_add_watch(impl_->fd, impl_->config.plugins.dir.c_str(), mask) < 0) {
    const std::string why = std::strerror(errno);
    ::close(impl_->fd);
    impl_->fd = -1;
    return Status::invalidArgument("[plugins] watch: cannot watch " + impl_->config.plugins.dir + ": " + why);
  }
  impl_->thread = std::thread([impl = impl_.get()] {
    try {
      impl->run();
    } catch (...) {
      log::error("plugin watch stopped on an exception", {});
    }
  });
  log::info("watching the plugins directory for changes", {{"dir", impl_->config.plugins.dir}});
  return Status::ok();
}

void PluginWatch::stop() {
  if (!impl_) return;
  impl_->stopping.store(true);
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->fd >= 0) ::close(impl_->fd);
  impl_->fd = -1;
}

}  // namespace ih::runtime

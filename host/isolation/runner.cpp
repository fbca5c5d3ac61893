// The host side of out-of-process plugins: starting runners, the proxy descriptor, serving the plugin's host
// service calls on the calling thread, and supervising (deadline kills, crash detection, restart with backoff).
#include "isolation/runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "isolation/protocol.h"
#include "log/log.h"
#include "metrics/metrics.h"

extern char** environ;

namespace ih::isolation {
namespace {

using Clock = std::chrono::steady_clock;

// Handler numbers on the wire (kCall op).
enum Entry : uint32_t {
  kRoute = 1,
  kVerifyWebhook,
  kHandleWebhook,
  kRunJob,
  kRunAction,
  kConnect,
  kTestConnection,
  kDisconnect,
  kOAuthAuthorize,
  kOAuthComplete,
};

const char* entryName(uint32_t entry) {
  static const char* const kNames[] = {"",           "handle_route",    "verify_webhook", "handle_webhook",
                                       "run_job",    "run_action",      "connect",        "test_connection",
                                       "disconnect", "oauth_authorize", "oauth_complete"};
  return entry < std::size(kNames) ? kNames[entry] : "call";
}

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

std::string describeWait(int wstatus) {
  if (WIFSIGNALED(wstatus)) return "killed by signal " + signalName(WTERMSIG(wstatus));
  if (WIFEXITED(wstatus)) return "exited with status " + std::to_string(WEXITSTATUS(wstatus));
  return "ended (wait status " + std::to_string(wstatus) + ")";
}

// The environment a runner gets: locale, time zone, PATH and sanitizer settings; never the host's secrets
// (IHOST_* overrides, tokens, database URLs).
std::vector<std::string> runnerEnvironment() {
  static const char* const kKeep[] = {"PATH=",         "LANG=",         "LC_",
                                      "TZ=",           "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
                                      "LSAN_OPTIONS=", "TSAN_OPTIONS=", "TMPDIR="};
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    for (const char* keep : kKeep)
      if (entry.rfind(keep, 0) == 0) env.emplace_back(entry);
  }
  return env;
}

std::string selfPath() {
  std::error_code ec;
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/proc/self/exe");
}

// One frame queue for one waiter (a call, or the start handshake).
struct Slot {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Frame> frames;  // GUARDED_BY(mu)
  size_t queued_bytes = 0;   // GUARDED_BY(mu): of the parts in `frames`
  bool dead = false;         // GUARDED_BY(mu): the runner is gone
};

// What one call may have waiting for its host thread: a plugin's own threads send a few requests at a time
// (each waits for its answer); a runner that floods a call is killed before the host's memory grows with it.
constexpr size_t kMaxQueuedFrames = 4096;
constexpr size_t kMaxQueuedBytes = size_t{128} << 20;

size_t partBytes(const Frame& frame) {
  size_t bytes = 0;
  for (const std::string& part : frame.parts)
    bytes += part.size();
  return bytes;
}

// One runner child process and the thread reading its frames.
class Process {
 public:
  Process(pid_t pid, int fd, std::string integration, const ih_host_api* host)
      : pid_(pid), channel_(fd), integration_(std::move(integration)), host_(host) {
    reader_ = std::thread([this] { readLoop(); });
  }
  ~Process() {
    kill("stopped");
    if (reader_.joinable()) reader_.join();
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  Channel& channel() { return channel_; }
  bool dead() const { return dead_.load(); }
  std::string exitReason() const {
    std::lock_guard lock(mu_);
    return exit_reason_;
  }
  // The exit reason once the reader has reaped the process, waiting up to `limit` for it (a runner just
  // killed is reaped within milliseconds).
  std::string awaitExitReason(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    exited_cv_.wait_for(lock, limit, [&] { return reaped_.load(); });
    return reaped_.load()         ? exit_reason_
           : kill_reason_.empty() ? std::string("is not answering")
                                  : kill_reason_;
  }
  Clock::time_point diedAt() const {
    std::lock_guard lock(mu_);
    return died_at_;
  }

  // A waiter for frames of call `id` (0: the start handshake); nullptr when the runner is already gone.
  std::shared_ptr<Slot> open(uint64_t id) {
    auto slot = std::make_shared<Slot>();
    std::lock_guard lock(mu_);
    if (dead_.load()) return nullptr;
    slots_[id] = slot;
    return slot;
  }
  void close(uint64_t id) {
    std::lock_guard lock(mu_);
    slots_.erase(id);
  }

  // Kills the runner (once); `reason` becomes its exit reason. The reader then reaps it.
  void kill(const std::string& reason) {
    {
      // Under mu_: the reader reaps (frees the pid for reuse) only while holding it, after setting reaped_.
      std::lock_guard lock(mu_);
      if (!reaped_.load()) {
        if (kill_reason_.empty()) kill_reason_ = reason;
        ::kill(pid_, SIGKILL);
      }
    }
    channel_.shutdown();
  }

  // Asks the runner to destroy its instance and exit; waits up to `grace`, then kills it.
  void stop(std::chrono::milliseconds grace) {
    Frame bye;
    bye.kind = Kind::kDestroy;
    if (!dead_.load() && channel_.send(bye)) {
      std::unique_lock lock(mu_);
      exited_cv_.wait_for(lock, grace, [&] { return reaped_.load(); });
    }
    kill("stopped");
  }

 private:
  void readLoop() {
    std::string why;
    try {
      for (;;) {
        auto frame = channel_.receive();
        if (!frame.isOk()) {
          if (frame.status().code() != StatusCode::kUnavailable)
            why = "protocol violation: " + frame.status().message();
          break;
        }
        if (!route(std::move(*frame), why)) break;
      }
    } catch (const std::exception& e) {
      why = std::string("reader failed: ") + e.what();
    }
    if (!why.empty()) {
      std::lock_guard lock(mu_);
      if (kill_reason_.empty()) kill_reason_ = why;
    }
    ::kill(pid_, SIGKILL);  // whatever ended the stream, the process goes too
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    std::map<uint64_t, std::shared_ptr<Slot>> slots;
    {
      std::lock_guard lock(mu_);
      int wstatus = 0;
      while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
      }
      exit_reason_ =
          kill_reason_.empty() ? describeWait(wstatus) : kill_reason_ + " (" + describeWait(wstatus) + ")";
      died_at_ = Clock::now();
      dead_.store(true);
      reaped_.store(true);
      slots.swap(slots_);
    }
    exited_cv_.notify_all();
    for (auto& [id, slot] : slots) {
      std::lock_guard lock(slot->mu);
      slot->dead = true;
      slot->cv.notify_all();
    }
  }

  // Hands a frame to its waiter. False (with `why`) on a frame the runner must not send.
  bool route(Frame frame, std::string& why) {
    if (frame.kind == Kind::kLog) {
      if (frame.parts.size() != 2) {
        why = "protocol violation: a log frame needs 2 parts";
        return false;
      }
      const std::string message = "[" + integration_ + "] " + frame.parts[0];
      if (host_ == nullptr) return true;  // a probe has no instance to log for
      host_->log(nullptr, static_cast<int32_t>(std::clamp<uint32_t>(frame.op, IH_LOG_DEBUG, IH_LOG_ERROR)),
                 ih_str{message.data(), message.size()},
                 ih_str{frame.parts[1].data(), frame.parts[1].size()});
      return true;
    }
    uint64_t id = frame.call;
    if (frame.kind == Kind::kHello || frame.kind == Kind::kRefused) {
      id = 0;
    } else if (frame.kind != Kind::kDone && frame.kind != Kind::kService) {
      why = "protocol violation: unexpected frame kind " + std::to_string(static_cast<int>(frame.kind));
      return false;
    }
    std::shared_ptr<Slot> slot;
    {
      std::lock_guard lock(mu_);
      auto it = slots_.find(id);
      if (it == slots_.end()) return true;  // a late frame of a call the host gave up on
      slot = it->second;
    }
    std::lock_guard lock(slot->mu);
    const size_t bytes = partBytes(frame);
    if (slot->frames.size() >= kMaxQueuedFrames || slot->queued_bytes + bytes > kMaxQueuedBytes) {
      why = "protocol violation: it flooded a call with requests";
      return false;
    }
    slot->queued_bytes += bytes;
    slot->frames.push_back(std::move(frame));
    slot->cv.notify_all();
    return true;
  }

  const pid_t pid_;
  Channel channel_;
  const std::string integration_;
  const ih_host_api* const host_;
  mutable std::mutex mu_;
  std::condition_variable exited_cv_;
  std::map<uint64_t, std::shared_ptr<Slot>> slots_;  // GUARDED_BY(mu_)
  std::string kill_reason_;                          // GUARDED_BY(mu_)
  std::string exit_reason_;                          // GUARDED_BY(mu_)
  Clock::time_point died_at_;                        // GUARDED_BY(mu_)
  std::atomic<bool> dead_{false};
  std::atomic<bool> reaped_{false};
  std::thread reader_;
};

enum class Wait { kFrame, kDead, kTimeout };

// Next frame on `slot`, waiting until `until` (the epoch: no limit).
Wait next(Slot& slot, Clock::time_point until, Frame& out) {
  std::unique_lock lock(slot.mu);
  auto ready = [&] { return !slot.frames.empty() || slot.dead; };
  if (until == Clock::time_point{}) {
    slot.cv.wait(lock, ready);
  } else if (!slot.cv.wait_until(lock, until, ready)) {
    return Wait::kTimeout;
  }
  if (slot.frames.empty()) return Wait::kDead;
  out = std::move(slot.frames.front());
  slot.frames.pop_front();
  slot.queued_bytes -= partBytes(out);
  return Wait::kFrame;
}

// Starts `ihost plugin-runner` on one end of a socket pair. The runner caps itself (rlimits, seccomp) before
// it loads the plugin.
Result<std::unique_ptr<Process>> spawn(const std::string& path, const std::string& sha256,
                                       const Options& options, bool probe_only,
                                       const std::string& integration, const ih_host_api* host) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Status::unavailable(std::string("socketpair failed: ") + std::strerror(errno));
  // A runner that stops reading (stopped, or wedged) must not block a host thread in send() once the socket
  // buffer is full: a send that waits this long fails, and the runner is killed.
  const auto grace_ms = std::max<int64_t>(options.kill_grace.count(), 100);
  const timeval send_timeout{static_cast<time_t>(grace_ms / 1000),
                             static_cast<suseconds_t>((grace_ms % 1000) * 1000)};
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  const std::string runner = options.runner_path.empty() ? selfPath() : options.runner_path;
  std::vector<std::string> args = {runner,        "plugin-runner",
                                   "--plugin",    path,
                                   "--memory-mb", std::to_string(options.memory_mb),
                                   "--max-files", std::to_string(options.max_files)};
  if (!sha256.empty()) args.insert(args.end(), {"--sha256", sha256});
  if (options.seccomp) args.emplace_back("--seccomp");
  if (probe_only) args.emplace_back("--probe");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = runnerEnvironment();
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 3);  // dup2 clears close-on-exec on fd 3
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // the host blocks SIGINT/SIGTERM in its threads
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own session: a terminal's Ctrl-C reaches the host, which stops its runners (they see the socket close).
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, runner.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    return Status::unavailable("cannot start the plugin runner " + runner + ": " + std::strerror(rc) +
                               " (set [plugins] runner to the ihost executable)");
  }
  return std::make_unique<Process>(pid, sv[0], integration, host);
}

// Waits for the runner's kHello (or kRefused) on slot 0.
Result<Frame> awaitHello(Process& process, Slot& slot, const Options& options) {
  Frame frame;
  switch (next(slot, Clock::now() + options.start_timeout, frame)) {
    case Wait::kTimeout:
      process.kill("did not start within " + std::to_string(options.start_timeout.count()) + " ms");
      return Status::unavailable("the plugin runner did not start within " +
                                 std::to_string(options.start_timeout.count()) + " ms");
    case Wait::kDead:
      return Status::unavailable("the plugin runner " + process.exitReason() + " before loading the plugin");
    case Wait::kFrame:
      break;
  }
  if (frame.kind == Kind::kRefused)
    return Status::invalidArgument(frame.parts.empty() ? std::string("refused") : frame.parts[0]);
  if (frame.kind != Kind::kHello || frame.parts.size() != 1) {
    process.kill("protocol violation at start");
    return Status::unavailable("the plugin runner broke the protocol at start");
  }
  return frame;
}

// ---- The proxy descriptor ----------------------------------------------------------------------------------

// What a remote Plugin owns: its descriptor (the plugin's capabilities and flags, the proxy handlers) and the
// manifest text the descriptor points to.
struct RemotePlugin {
  ih_plugin_descriptor descriptor{};
  std::string manifest_json;
};

class RemoteInstance;
ih_status forward(ih_plugin* self, uint32_t entry, ih_call* call, ih_str first, ih_str second);

ih_status proxyCreate(const ih_host_api*, ih_call*, ih_str, ih_str, ih_plugin**) {
  return IH_ERR_INTERNAL;  // remote instances are made by createRemote
}
void proxyDestroy(ih_plugin* self);
ih_status proxyRoute(ih_plugin* s, ih_call* c, ih_str a, ih_str b) {
  return forward(s, kRoute, c, a, b);
}
ih_status proxyVerify(ih_plugin* s, ih_call* c, ih_str a, ih_str b) {
  return forward(s, kVerifyWebhook, c, a, b);
}
ih_status proxyHandle(ih_plugin* s, ih_call* c, ih_str a, ih_str b) {
  return forward(s, kHandleWebhook, c, a, b);
}
ih_status proxyJob(ih_plugin* s, ih_call* c, ih_str a, ih_str b) {
  return forward(s, kRunJob, c, a, b);
}
ih_status proxyAction(ih_plugin* s, ih_call* c, ih_str a, ih_str b) {
  return forward(s, kRunAction, c, a, b);
}
ih_status proxyConnect(ih_plugin* s, ih_call* c, ih_str a) {
  return forward(s, kConnect, c, a, {});
}
ih_status proxyTest(ih_plugin* s, ih_call* c) {
  return forward(s, kTestConnection, c, {}, {});
}
ih_status proxyDisconnect(ih_plugin* s, ih_call* c) {
  return forward(s, kDisconnect, c, {}, {});
}
ih_status proxyAuthorize(ih_plugin* s, ih_call* c, ih_str a) {
  return forward(s, kOAuthAuthorize, c, a, {});
}
ih_status proxyComplete(ih_plugin* s, ih_call* c, ih_str a) {
  return forward(s, kOAuthComplete, c, a, {});
}

std::string_view view(ih_str s) {
  return s.len ? std::string_view(s.ptr, s.len) : std::string_view();
}
ih_str str(const std::string& s) {
  return ih_str{s.data(), s.size()};
}

// One isolated instance: its runner (restarted as needed) and the bookkeeping `plugins list` shows.
class RemoteInstance {
 public:
  RemoteInstance(const loader::Plugin& plugin, const Options& options, const ih_host_api* host,
                 std::string_view integration, std::string_view config)
      : path_(plugin.file()),
        sha256_(plugin.sha256()),
        options_(options),
        host_(host),
        integration_(integration),
        config_(config) {}

  ~RemoteInstance() {
    std::shared_ptr<Process> process;
    {
      std::lock_guard lock(mu_);
      process = std::move(process_);
    }
    if (process) process->stop(std::chrono::milliseconds(2000));
  }

  // Starts a runner and creates the instance in it. Callers hold start_mu_ (or own the object alone).
  Status start() {
    auto spawned = spawn(path_, sha256_, options_, false, integration_, host_);
    if (!spawned.isOk()) return spawned.status();
    std::shared_ptr<Process> process = std::move(*spawned);
    auto hello_slot = process->open(0);
    if (!hello_slot) return Status::unavailable("the plugin runner " + process->exitReason());
    auto hello = awaitHello(*process, *hello_slot, options_);
    process->close(0);
    if (!hello.isOk()) return hello.status();
    const uint64_t id = next_id_.fetch_add(1);
    auto slot = process->open(id);
    Frame create;
    create.kind = Kind::kCreate;
    create.call = id;
    create.parts = {integration_, config_};
    if (!slot || !process->channel().send(create))
      return Status::unavailable("the plugin runner " + process->exitReason() + " before create");
    Frame done;
    const Wait waited = next(*slot, Clock::now() + options_.start_timeout, done);
    process->close(id);
    if (waited == Wait::kTimeout) {
      process->kill("create ran past " + std::to_string(options_.start_timeout.count()) + " ms");
      return Status::unavailable("the plugin's create did not finish within " +
                                 std::to_string(options_.start_timeout.count()) + " ms");
    }
    if (waited == Wait::kDead)
      return Status::unavailable("the plugin runner " + process->exitReason() + " in create");
    if (done.kind != Kind::kDone) {
      process->kill("protocol violation in create");
      return Status::unavailable("the plugin runner broke the protocol in create");
    }
    if (done.num != IH_OK) {
      const std::string why = !done.parts.empty() && !done.parts[0].empty()
                                  ? done.parts[0]
                                  : "create failed with status " + std::to_string(done.num);
      process->stop(std::chrono::milliseconds(500));
      return Status(
          statusCodeFromAbi(static_cast<ih_status>(std::clamp<int64_t>(done.num, 1, IH_ERR_DEADLINE))), why);
    }
    std::lock_guard lock(mu_);
    if (started_at_ms_ != 0) {
      ++restarts_;
      metrics::registry()
          .counter("ihost_plugin_runner_restarts_total",
                   "Plugin runners started again after one exited, by integration.",
                   {{"integration", integration_}})
          .inc();
    }
    started_at_ms_ = nowMs();
    started_at_ = Clock::now();
    process_ = std::move(process);
    metrics::registry()
        .gauge("ihost_plugin_runner_up", "1 while an isolated integration's runner process is up.",
               {{"integration", integration_}})
        .set(1);
    return Status::ok();
  }

  ih_status call(uint32_t entry, ih_call* call, ih_str first, ih_str second) {
    auto process = acquire(call);
    if (!process) return kRunnerFailed;
    const uint64_t id = next_id_.fetch_add(1);
    auto slot = process->open(id);
    const int64_t remaining = host_->call_remaining_ms(call);
    Frame request;
    request.kind = Kind::kCall;
    request.op = entry;
    request.call = id;
    request.num = remaining == INT64_MAX ? -1 : std::max<int64_t>(remaining, 0);
    request.parts = {std::string(view(first)), std::string(view(second))};
    if (!slot || !process->channel().send(request)) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) process->kill("killed: it stopped reading its socket");
      process->close(id);
      return died(call, *process, entry);
    }
    const Clock::time_point until =
        remaining == INT64_MAX
            ? Clock::time_point{}
            : Clock::now() + std::chrono::milliseconds(std::max<int64_t>(remaining, 0)) + options_.kill_grace;
    for (;;) {
      Frame frame;
      const Wait waited = next(*slot, until, frame);
      if (waited == Wait::kTimeout) {
        process->close(id);
        process->kill(std::string("killed: ") + entryName(entry) + " ran " +
                      std::to_string(options_.kill_grace.count()) + " ms past its deadline");
        const std::string message = std::string("plugin runner killed: ") + entryName(entry) +
                                    " did not stop at its deadline (calls in flight on it fail; it restarts)";
        host_->set_error(call, str(message));
        return IH_ERR_DEADLINE;
      }
      if (waited == Wait::kDead) {
        process->close(id);
        return died(call, *process, entry);
      }
      if (frame.kind == Kind::kDone) {
        process->close(id);
        if (!frame.parts.empty() && !frame.parts[0].empty()) host_->set_error(call, str(frame.parts[0]));
        return frame.num >= IH_OK && frame.num <= IH_ERR_DEADLINE ? static_cast<ih_status>(frame.num)
                                                                  : IH_ERR_INTERNAL;
      }
      if (frame.kind == Kind::kService && !serve(call, *process, frame)) {
        process->close(id);
        process->kill("protocol violation: malformed service call " + std::to_string(frame.op));
        return died(call, *process, entry);
      }
    }
  }

  RunnerStatus status() const {
    std::lock_guard lock(mu_);
    RunnerStatus s;
    s.restarts = restarts_;
    s.started_at_ms = started_at_ms_;
    s.last_exit = last_exit_;
    s.last_exit_at_ms = last_exit_at_ms_;
    if (process_ && !process_->dead()) {
      s.up = true;
      s.pid = process_->pid();
    } else if (process_) {
      s.last_exit = process_->exitReason();
    }
    return s;
  }

 private:
  // The running process, or a new one when it died and the backoff allows. Null (after set_error) when none.
  std::shared_ptr<Process> acquire(ih_call* call) {
    {
      std::lock_guard lock(mu_);
      if (process_ && !process_->dead()) return process_;
    }
    std::lock_guard starting(start_mu_);
    {
      std::lock_guard lock(mu_);
      if (process_ && !process_->dead()) return process_;
      if (process_) noteExit();
      if (Clock::now() < next_start_) {
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(next_start_ - Clock::now()).count();
        const std::string message = "plugin runner of " + integration_ + " is restarting (in " +
                                    std::to_string(wait) + " ms; it " + last_exit_ + ")";
        host_->set_error(call, str(message));
        return nullptr;
      }
    }
    if (Status started = start(); !started.isOk()) {
      std::lock_guard lock(mu_);
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
      next_start_ = Clock::now() + backoff_;
      last_exit_ = "failed to start: " + started.message();
      last_exit_at_ms_ = nowMs();
      const std::string message =
          "plugin runner of " + integration_ + " could not start: " + started.message();
      host_->set_error(call, str(message));
      log::error("plugin runner could not start",
                 {{"integration", integration_}, {"reason", started.message()}});
      return nullptr;
    }
    std::lock_guard lock(mu_);
    return process_;
  }

  // Records the current process's exit and schedules the next start. REQUIRES: mu_ held, process_ dead.
  void noteExit() {
    last_exit_ = process_->exitReason();
    last_exit_at_ms_ = nowMs();
    const bool short_lived = process_->diedAt() - started_at_ < std::chrono::seconds(30);
    backoff_ = short_lived ? std::min(backoff_ * 2, kMaxBackoff) : kMinBackoff;
    next_start_ = process_->diedAt() + (short_lived ? backoff_ : std::chrono::milliseconds(0));
    log::warn("plugin runner exited; the next call starts a new one",
              {{"integration", integration_},
               {"reason", last_exit_},
               {"backoff_ms", static_cast<int64_t>(backoff_.count())}});
    metrics::registry()
        .counter("ihost_plugin_runner_exits_total",
                 "Plugin runner processes that exited or were killed, by integration.",
                 {{"integration", integration_}})
        .inc();
    metrics::registry()
        .gauge("ihost_plugin_runner_up", "1 while an isolated integration's runner process is up.",
               {{"integration", integration_}})
        .set(0);
    process_.reset();
  }

  ih_status died(ih_call* call, Process& process, uint32_t entry) {
    const std::string message = "plugin runner of " + integration_ + " " +
                                process.awaitExitReason(std::chrono::milliseconds(1000)) + " during " +
                                entryName(entry) + " (retryable; it restarts)";
    host_->set_error(call, str(message));
    return kRunnerFailed;
  }

  // Runs one proxied host service on the calling thread with the host's own context, and answers it. False
  // on a malformed request.
  bool serve(ih_call* call, Process& process, Frame& request) {
    auto need = [&](size_t parts) { return request.parts.size() == parts; };
    const auto& p = request.parts;
    Frame reply;
    reply.kind = Kind::kReply;
    reply.call = request.call;
    reply.req = request.req;
    ih_buf* out1 = nullptr;
    ih_buf* out2 = nullptr;
    ih_status rc = IH_OK;
    switch (static_cast<Service>(request.op)) {
      case Service::kSetError:
        if (!need(1)) return false;
        host_->set_error(call, str(p[0]));
        return true;  // one-way
      case Service::kHttpRequest:
        if (!need(2)) return false;
        rc = host_->http_request(call, str(p[0]), str(p[1]), &out1, &out2);
        break;
      case Service::kCredentialsGet:
        if (!need(0)) return false;
        rc = host_->credentials_get(call, &out1);
        break;
      case Service::kCredentialsPut:
        if (!need(1)) return false;
        rc = host_->credentials_put(call, str(p[0]));
        break;
      case Service::kStateGet:
        if (!need(1)) return false;
        rc = host_->state_get(call, str(p[0]), &out1);
        break;
      case Service::kStatePut:
        if (!need(2)) return false;
        rc = host_->state_put(call, str(p[0]), str(p[1]));
        break;
      case Service::kRecordsUpsert:
        if (!need(2)) return false;
        rc = host_->records_upsert(call, str(p[0]), str(p[1]));
        break;
      case Service::kRecordsDelete:
        if (!need(2)) return false;
        rc = host_->records_delete(call, str(p[0]), str(p[1]), request.num);
        break;
      case Service::kEmitEvent:
        if (!need(2)) return false;
        rc = host_->emit_event(call, str(p[0]), str(p[1]));
        break;
      case Service::kRespond:  // one-way (the runner checked it as the host does; checked again here)
        if (!need(2)) return false;
        host_->respond(call, static_cast<int32_t>(std::clamp<int64_t>(request.num, INT32_MIN, INT32_MAX)),
                       str(p[0]), str(p[1]));
        return true;
      case Service::kSetResult:  // one-way, likewise
        if (!need(1)) return false;
        host_->set_result(call, str(p[0]));
        return true;
      case Service::kRecordsCommit:
        if (!need(4)) return false;
        rc = host_->records_commit(call, str(p[0]), str(p[1]), str(p[2]), str(p[3]));
        break;
      case Service::kPrompt:
        if (!need(1)) return false;
        rc = host_->prompt(call, str(p[0]), &out1);
        break;
      case Service::kBindAccount:
        if (!need(1)) return false;
        rc = host_->bind_account(call, str(p[0]), request.num != 0 ? 1 : 0);
        break;
      case Service::kInboxIngest:
        if (!need(2)) return false;
        rc = host_->inbox_ingest(call, str(p[0]), str(p[1]));
        break;
      case Service::kSecretPut:
        if (!need(2)) return false;
        rc = host_->secret_put(call, str(p[0]), str(p[1]));
        break;
      case Service::kSecretGet:
        if (!need(1)) return false;
        rc = host_->secret_get(call, str(p[0]), &out1);
        break;
      case Service::kCredentialsDelete:
        if (!need(1)) return false;
        rc = host_->credentials_delete(call, str(p[0]));
        break;
      case Service::kCallInfo:
        if (!need(0)) return false;
        rc = host_->call_info(call, &out1);
        break;
      case Service::kEmitEventOnce:
        if (!need(3)) return false;
        rc = host_->emit_event_once(call, str(p[0]), str(p[1]), str(p[2]));
        break;
      default:
        return false;
    }
    reply.num = rc;
    const ih_str error = host_->last_error(call);
    reply.parts = {rc == IH_OK && request.op != static_cast<uint32_t>(Service::kInboxIngest)
                       ? std::string()
                       : std::string(view(error)),
                   std::string(view(host_->buf_view(out1))), std::string(view(host_->buf_view(out2)))};
    host_->buf_free(out1);
    host_->buf_free(out2);
    // A runner that does not take its answer is killed; the call then fails through its slot.
    if (!process.channel().send(reply) && (errno == EAGAIN || errno == EWOULDBLOCK))
      process.kill("killed: it stopped reading its socket");
    wipe(reply);
    wipe(request);
    return true;
  }

  static constexpr std::chrono::milliseconds kMinBackoff{100};
  static constexpr std::chrono::milliseconds kMaxBackoff{30000};

  const std::string path_;
  const std::string sha256_;
  const Options options_;
  const ih_host_api* const host_;
  const std::string integration_;
  const std::string config_;
  std::atomic<uint64_t> next_id_{1};
  std::mutex start_mu_;  // one start at a time
  mutable std::mutex mu_;
  std::shared_ptr<Process> process_;                     // GUARDED_BY(mu_)
  int64_t restarts_ = 0;                                 // GUARDED_BY(mu_)
  int64_t started_at_ms_ = 0;                            // GUARDED_BY(mu_)
  Clock::time_point started_at_;                         // GUARDED_BY(mu_)
  std::string last_exit_;                                // GUARDED_BY(mu_)
  int64_t last_exit_at_ms_ = 0;                          // GUARDED_BY(mu_)
  std::chrono::milliseconds backoff_ = kMinBackoff / 2;  // GUARDED_BY(mu_)
  Clock::time_point next_start_;                         // GUARDED_BY(mu_)
};

RemoteInstance* remote(ih_plugin* self) {
  return reinterpret_cast<RemoteInstance*>(self);
}

ih_status forward(ih_plugin* self, uint32_t entry, ih_call* call, ih_str first, ih_str second) {
  try {
    return remote(self)->call(entry, call, first, second);
  } catch (const std::exception& e) {
    log::error("isolated plugin call failed in the host", {{"error", e.what()}});
    return IH_ERR_INTERNAL;
  }
}

void proxyDestroy(ih_plugin* self) {
  delete remote(self);
}

}  // namespace

Result<std::shared_ptr<loader::Plugin>> probe(const std::string& path, const std::string& expected_sha256,
                                              const Options& options) {
  auto digest = loader::sha256File(path);
  if (!digest.isOk()) return digest.status();
  if (!expected_sha256.empty() && *digest != expected_sha256) {
    return Status::invalidArgument("sha256 " + *digest + " does not match the allow-list entry " +
                                   expected_sha256 + " in [plugins.sha256_allow]");
  }
  auto spawned = spawn(path, *digest, options, true, "probe", nullptr);
  if (!spawned.isOk()) return spawned.status();
  auto process = std::move(*spawned);
  auto slot = process->open(0);
  if (!slot) return Status::unavailable("the plugin runner " + process->exitReason());
  auto hello = awaitHello(*process, *slot, options);
  process->close(0);
  process->stop(std::chrono::milliseconds(1000));
  if (!hello.isOk()) return hello.status();
  auto owned = std::make_shared<RemotePlugin>();
  owned->manifest_json = std::move(hello->parts[0]);
  ih_plugin_descriptor& d = owned->descriptor;
  d.struct_size = sizeof(ih_plugin_descriptor);
  d.abi_major = static_cast<uint16_t>(hello->req >> 16);
  d.abi_minor = static_cast<uint16_t>(hello->req & 0xffff);
  d.capabilities = static_cast<uint64_t>(hello->num);
  d.flags = hello->op;
  d.manifest_json = owned->manifest_json.c_str();
  d.create = proxyCreate;
  d.destroy = proxyDestroy;
  d.handle_route = proxyRoute;
  d.verify_webhook = proxyVerify;
  d.handle_webhook = proxyHandle;
  d.run_job = proxyJob;
  d.run_action = proxyAction;
  d.connect = proxyConnect;
  d.test_connection = proxyTest;
  d.disconnect = proxyDisconnect;
  d.oauth_authorize = proxyAuthorize;
  d.oauth_complete = proxyComplete;
  const ih_plugin_descriptor* descriptor = &d;
  return loader::Registry::adopt(path, *digest, descriptor, std::move(owned));
}

Result<ih_plugin*> createRemote(const loader::Plugin& plugin, const Options& options, const ih_host_api* host,
                                std::string_view integration_id, std::string_view config_json) {
  auto instance = std::make_unique<RemoteInstance>(plugin, options, host, integration_id, config_json);
  if (Status started = instance->start(); !started.isOk()) return started;
  return reinterpret_cast<ih_plugin*>(instance.release());
}

RunnerStatus runnerStatus(const ih_plugin* instance) {
  return reinterpret_cast<const RemoteInstance*>(instance)->status();
}

}  // namespace ih::isolation

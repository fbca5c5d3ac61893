// `ihost plugin-runner`: the child process an isolated plugin runs in (runner.h). It caps itself (rlimits, then
// optionally seccomp), loads the .so with the host's own loader and ABI checks, says hello, then creates the
// instance and runs each call on its own thread. Every host service the plugin calls is forwarded to the host
// over fd 3 (protocol.h) and answered there; last_error, buffers and call_remaining_ms are answered here.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef IH_HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "common/plugin_answer.h"
#include "isolation/protocol.h"
#include "isolation/runner.h"
#include "loader/registry.h"

namespace ih::isolation {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kHostFd = 3;

// The runner's own definition of a call context (the host's ih_call lives in host/runtime; this is a different
// type, handed to the plugin through the same opaque pointer).
struct RunnerCall {
  uint64_t id = 0;
  Clock::time_point deadline{};  // the epoch: none
  bool creating = false;         // create: only log reaches the host
  std::string create_error;      // set_error during create (sent with create's kDone)
};

struct Buffer {
  std::string data;
};

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Frame reply;
};

Channel* g_channel = nullptr;
std::mutex g_waiters_mu;
std::map<uint64_t, Waiter*> g_waiters;  // GUARDED_BY(g_waiters_mu)
std::atomic<uint64_t> g_next_req{1};
std::atomic<int> g_active_calls{0};
thread_local std::string t_last_error;

RunnerCall* runnerCall(ih_call* call) {
  return reinterpret_cast<RunnerCall*>(call);
}
std::string text(ih_str s) {
  return s.len ? std::string(s.ptr, s.len) : std::string();
}
ih_buf* newBuffer(std::string data) {
  return reinterpret_cast<ih_buf*>(new Buffer{std::move(data)});
}

// Forwards one service call and waits for the host's answer (the host is trusted; if it goes away, the reader
// ends this process).
ih_status rpc(ih_call* call, Service service, std::vector<std::string> parts, int64_t num = 0,
              ih_buf** out1 = nullptr, ih_buf** out2 = nullptr) {
  if (out1) *out1 = nullptr;
  if (out2) *out2 = nullptr;
  if (call == nullptr) {
    t_last_error = "no call context";
    return IH_ERR_INVALID_ARGUMENT;
  }
  RunnerCall* rc = runnerCall(call);
  if (rc->creating) {
    t_last_error = "an isolated plugin's create can only log (host services start with the first call)";
    return IH_ERR_UNSUPPORTED;
  }
  Waiter waiter;
  const uint64_t req = g_next_req.fetch_add(1);
  {
    std::lock_guard lock(g_waiters_mu);
    g_waiters[req] = &waiter;
  }
  Frame frame;
  frame.kind = Kind::kService;
  frame.op = static_cast<uint32_t>(service);
  frame.call = rc->id;
  frame.req = req;
  frame.num = num;
  frame.parts = std::move(parts);
  const bool sent = g_channel->send(frame);
  wipe(frame);
  if (sent) {
    std::unique_lock lock(waiter.mu);
    waiter.cv.wait(lock, [&] { return waiter.done; });
  }
  {
    std::lock_guard lock(g_waiters_mu);
    g_waiters.erase(req);
  }
  if (!sent) {
    t_last_error = "the host is gone";
    return IH_ERR_UNAVAILABLE;
  }
  Frame& reply = waiter.reply;
  if (reply.parts.size() != 3) {
    t_last_error = "malformed reply from the host";
    return IH_ERR_INTERNAL;
  }
  t_last_error = reply.parts[0];
  if (out1) *out1 = newBuffer(std::move(reply.parts[1]));
  if (out2) *out2 = newBuffer(std::move(reply.parts[2]));
  return static_cast<ih_status>(reply.num);
}

// ---- The host services table the plugin gets ----------------------------------------------------------------

void apiLog(ih_call* call, int32_t level, ih_str message, ih_str fields) {
  Frame frame;
  frame.kind = Kind::kLog;
  frame.op = static_cast<uint32_t>(level);
  frame.call = call ? runnerCall(call)->id : 0;
  frame.parts = {text(message), text(fields)};
  g_channel->send(frame);
}
ih_status apiHttp(ih_call* c, ih_str request, ih_str body, ih_buf** json, ih_buf** out_body) {
  return rpc(c, Service::kHttpRequest, {text(request), text(body)}, 0, json, out_body);
}
ih_status apiCredentialsGet(ih_call* c, ih_buf** out) {
  return rpc(c, Service::kCredentialsGet, {}, 0, out);
}
ih_status apiCredentialsPut(ih_call* c, ih_str json) {
  return rpc(c, Service::kCredentialsPut, {text(json)});
}
ih_status apiStateGet(ih_call* c, ih_str key, ih_buf** out) {
  return rpc(c, Service::kStateGet, {text(key)}, 0, out);
}
ih_status apiStatePut(ih_call* c, ih_str key, ih_str value) {
  return rpc(c, Service::kStatePut, {text(key), text(value)});
}
ih_status apiRecordsUpsert(ih_call* c, ih_str model, ih_str records) {
  return rpc(c, Service::kRecordsUpsert, {text(model), text(records)});
}
ih_status apiRecordsDelete(ih_call* c, ih_str model, ih_str id, int64_t updated_at) {
  return rpc(c, Service::kRecordsDelete, {text(model), text(id)}, updated_at);
}
ih_status apiEmit(ih_call* c, ih_str type, ih_str data) {
  return rpc(c, Service::kEmitEvent, {text(type), text(data)});
}
// respond and set_result are checked here as the host checks them (common/plugin_answer.h), so the plugin gets the
// same answer, then sent one-way: a call that answers at its end costs no extra round trip. The host checks them
// again (a runner is not trusted).
ih_status sendOneWay(ih_call* c, Service service, std::vector<std::string> parts, int64_t num = 0) {
  if (c == nullptr) {
    t_last_error = "no call context";
    return IH_ERR_INVALID_ARGUMENT;
  }
  if (runnerCall(c)->creating) {
    t_last_error = "an isolated plugin's create can only log (host services start with the first call)";
    return IH_ERR_UNSUPPORTED;
  }
  Frame frame;
  frame.kind = Kind::kService;
  frame.op = static_cast<uint32_t>(service);
  frame.call = runnerCall(c)->id;
  frame.num = num;
  frame.parts = std::move(parts);
  if (!g_channel->send(frame)) {
    t_last_error = "the host is gone";
    return IH_ERR_UNAVAILABLE;
  }
  return IH_OK;
}
ih_status apiRespond(ih_call* c, int32_t status, ih_str headers, ih_str body) {
  if (std::string refused = respondRefusal(status, text(headers)); !refused.empty()) {
    t_last_error = std::move(refused);
    // The host records the refusal too (it answers the caller with it), exactly as in process.
    sendOneWay(c, Service::kRespond, {text(headers), text(body)}, status);
    return IH_ERR_INVALID_ARGUMENT;
  }
  return sendOneWay(c, Service::kRespond, {text(headers), text(body)}, status);
}
ih_status apiSetResult(ih_call* c, ih_str json) {
  if (!isResultJson(text(json))) {
    t_last_error = "set_result: not valid JSON";
    return IH_ERR_INVALID_ARGUMENT;
  }
  return sendOneWay(c, Service::kSetResult, {text(json)});
}
void apiSetError(ih_call* c, ih_str message) {
  if (c == nullptr) return;
  if (runnerCall(c)->creating) {  // create's error travels in its kDone
    runnerCall(c)->create_error = text(message);
    return;
  }
  Frame frame;
  frame.kind = Kind::kService;
  frame.op = static_cast<uint32_t>(Service::kSetError);
  frame.call = runnerCall(c)->id;
  frame.parts = {text(message)};
  g_channel->send(frame);
}
ih_str apiLastError(ih_call*) {
  return ih_str{t_last_error.data(), t_last_error.size()};
}
ih_str apiBufView(const ih_buf* b) {
  if (b == nullptr) return ih_str{nullptr, 0};
  const auto* buffer = reinterpret_cast<const Buffer*>(b);
  return ih_str{buffer->data.data(), buffer->data.size()};
}
void apiBufFree(ih_buf* b) {
  if (b == nullptr) return;
  auto* buffer = reinterpret_cast<Buffer*>(b);
  if (!buffer->data.empty()) explicit_bzero(buffer->data.data(), buffer->data.size());  // may hold secrets
  delete buffer;
}
ih_status apiRecordsCommit(ih_call* c, ih_str model, ih_str records, ih_str key, ih_str value) {
  return rpc(c, Service::kRecordsCommit, {text(model), text(records), text(key), text(value)});
}
ih_status apiPrompt(ih_call* c, ih_str prompt, ih_buf** answer) {
  return rpc(c, Service::kPrompt, {text(prompt)}, 0, answer);
}
ih_status apiBindAccount(ih_call* c, ih_str account, int32_t bind) {
  return rpc(c, Service::kBindAccount, {text(account)}, bind);
}
ih_status apiInboxIngest(ih_call* c, ih_str meta, ih_str body) {
  return rpc(c, Service::kInboxIngest, {text(meta), text(body)});
}
ih_status apiSecretPut(ih_call* c, ih_str name, ih_str value) {
  return rpc(c, Service::kSecretPut, {text(name), text(value)});
}
ih_status apiSecretGet(ih_call* c, ih_str name, ih_buf** out) {
  return rpc(c, Service::kSecretGet, {text(name)}, 0, out);
}
ih_status apiCredentialsDelete(ih_call* c, ih_str reason) {
  return rpc(c, Service::kCredentialsDelete, {text(reason)});
}
ih_status apiCallInfo(ih_call* c, ih_buf** out) {
  return rpc(c, Service::kCallInfo, {}, 0, out);
}
ih_status apiEmitOnce(ih_call* c, ih_str type, ih_str data, ih_str key) {
  return rpc(c, Service::kEmitEventOnce, {text(type), text(data), text(key)});
}
int64_t apiRemaining(ih_call* c) {
  if (c == nullptr) return INT64_MAX;
  const RunnerCall* rc = runnerCall(c);
  if (rc->deadline == Clock::time_point{}) return INT64_MAX;
  return std::chrono::duration_cast<std::chrono::milliseconds>(rc->deadline - Clock::now()).count();
}

const ih_host_api kApi = {
    sizeof(ih_host_api),  IH_ABI_MAJOR, IH_ABI_MINOR,   apiLog,           apiHttp,          apiCredentialsGet,
    apiCredentialsPut,    apiStateGet,  apiStatePut,    apiRecordsUpsert, apiRecordsDelete, apiEmit,
    apiRespond,           apiSetResult, apiSetError,    apiLastError,     apiBufView,       apiBufFree,
    apiRecordsCommit,     apiPrompt,    apiBindAccount, apiInboxIngest,   apiSecretPut,     apiSecretGet,
    apiCredentialsDelete, apiCallInfo,  apiEmitOnce,    apiRemaining,
};

// ---- Calls --------------------------------------------------------------------------------------------------

ih_status dispatch(const ih_plugin_descriptor& d, ih_plugin* self, uint32_t entry, RunnerCall& rc,
                   const std::string& first, const std::string& second) {
  ih_call* call = reinterpret_cast<ih_call*>(&rc);
  const ih_str a{first.data(), first.size()};
  const ih_str b{second.data(), second.size()};
  switch (entry) {
    case 1:
      return d.handle_route ? d.handle_route(self, call, a, b) : IH_ERR_UNSUPPORTED;
    case 2:
      return d.verify_webhook ? d.verify_webhook(self, call, a, b) : IH_ERR_UNSUPPORTED;
    case 3:
      return d.handle_webhook ? d.handle_webhook(self, call, a, b) : IH_ERR_UNSUPPORTED;
    case 4:
      return d.run_job ? d.run_job(self, call, a, b) : IH_ERR_UNSUPPORTED;
    case 5:
      return d.run_action ? d.run_action(self, call, a, b) : IH_ERR_UNSUPPORTED;
    case 6:
      return d.connect ? d.connect(self, call, a) : IH_ERR_UNSUPPORTED;
    case 7:
      return d.test_connection ? d.test_connection(self, call) : IH_ERR_UNSUPPORTED;
    case 8:
      return d.disconnect ? d.disconnect(self, call) : IH_ERR_UNSUPPORTED;
    case 9:
      return (d.capabilities & IH_CAP_OAUTH) && d.oauth_authorize ? d.oauth_authorize(self, call, a)
                                                                  : IH_ERR_UNSUPPORTED;
    case 10:
      return (d.capabilities & IH_CAP_OAUTH) && d.oauth_complete ? d.oauth_complete(self, call, a)
                                                                 : IH_ERR_UNSUPPORTED;
    default:
      return IH_ERR_UNSUPPORTED;
  }
}

void runCall(const ih_plugin_descriptor& d, ih_plugin* self, Frame request) {
  RunnerCall rc;
  rc.id = request.call;
  if (request.num >= 0) rc.deadline = Clock::now() + std::chrono::milliseconds(request.num);
  Frame done;
  done.kind = Kind::kDone;
  done.call = request.call;
  try {
    request.parts.resize(2);
    done.num = dispatch(d, self, request.op, rc, request.parts[0], request.parts[1]);
  } catch (const std::exception& e) {
    done.num = IH_ERR_INTERNAL;
    done.parts = {std::string("the plugin threw an exception across the ABI: ") + e.what()};
  } catch (...) {
    done.num = IH_ERR_INTERNAL;
    done.parts = {"the plugin threw an exception across the ABI"};
  }
  wipe(request);
  g_channel->send(done);
  g_active_calls.fetch_sub(1);
}

// Call threads, kept for the next call (a thread per call costs a clone and a stack on every call). Grows while
// every thread is busy (calls block on host services, so the host's concurrency bounds it); threads never exit.
class CallPool {
 public:
  void run(std::function<void()> task) {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
    if (idle_ == 0) {
      std::thread([this] { work(); }).detach();
    } else {
      cv_.notify_one();
    }
  }

 private:
  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return !tasks_.empty(); });
      --idle_;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  int idle_ = 0;                             // GUARDED_BY(mu_)
};

// ---- Start-up -----------------------------------------------------------------------------------------------

bool parseInt(const std::string& s, int64_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0;
}

// AddressSanitizer and ThreadSanitizer reserve terabytes of address space for their shadow memory.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kShadowSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kShadowSanitizer = true;
#else
constexpr bool kShadowSanitizer = false;
#endif
#else
constexpr bool kShadowSanitizer = false;
#endif

// Caps this process before any plugin code runs. Returns an error message, or "".
std::string capSelf(int64_t memory_mb, int64_t max_files) {
  ::prctl(PR_SET_DUMPABLE, 0);  // no core dumps, no ptrace by other processes of the user
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  if (max_files > 0) {
    rlimit files{static_cast<rlim_t>(max_files), static_cast<rlim_t>(max_files)};
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0) return std::string("RLIMIT_NOFILE: ") + std::strerror(errno);
  }
  // Under a sanitizer with shadow memory a cap would fail every allocation: none then.
  if (memory_mb > 0 && !kShadowSanitizer) {
    const rlim_t bytes = static_cast<rlim_t>(memory_mb) << 20;
    rlimit as{bytes, bytes};
    if (::setrlimit(RLIMIT_AS, &as) != 0) return std::string("RLIMIT_AS: ") + std::strerror(errno);
  }
  return "";
}

// Denies what untrusted code needs none of once it is loaded: opening files (the database and key files belong
// to the same user; the host serves everything through the socket), new sockets, running programs, reaching
// other processes (signals to anyone but itself, ptrace, process_vm_readv/writev, pidfd_getfd) and io_uring
// (whose operations bypass this filter). Everything else, threads included, is allowed. Returns an error
// message, or "".
std::string installSeccomp() {
#ifdef IH_HAVE_SECCOMP
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return "seccomp_init failed";
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  for (int sc : {SCMP_SYS(open),
                 SCMP_SYS(openat),
                 SCMP_SYS(openat2),
                 SCMP_SYS(creat),
                 SCMP_SYS(open_by_handle_at),
                 SCMP_SYS(name_to_handle_at),
                 SCMP_SYS(socket),
                 SCMP_SYS(socketpair),
                 SCMP_SYS(connect),
                 SCMP_SYS(bind),
                 SCMP_SYS(listen),
                 SCMP_SYS(accept),
                 SCMP_SYS(accept4),
                 SCMP_SYS(execve),
                 SCMP_SYS(execveat),
                 SCMP_SYS(unlink),
                 SCMP_SYS(unlinkat),
                 SCMP_SYS(rename),
                 SCMP_SYS(renameat),
                 SCMP_SYS(renameat2),
                 SCMP_SYS(mkdir),
                 SCMP_SYS(mkdirat),
                 SCMP_SYS(rmdir),
                 SCMP_SYS(truncate),
                 SCMP_SYS(link),
                 SCMP_SYS(linkat),
                 SCMP_SYS(symlink),
                 SCMP_SYS(symlinkat),
                 SCMP_SYS(chmod),
                 SCMP_SYS(fchmodat),
                 SCMP_SYS(chown),
                 SCMP_SYS(fchownat),
                 SCMP_SYS(ptrace),
                 SCMP_SYS(process_vm_readv),
                 SCMP_SYS(process_vm_writev),
                 SCMP_SYS(pidfd_open),
                 SCMP_SYS(pidfd_getfd),
                 SCMP_SYS(tkill),
                 SCMP_SYS(io_uring_setup),
                 SCMP_SYS(io_uring_enter),
                 SCMP_SYS(io_uring_register)}) {
    if (rc == 0) rc = seccomp_rule_add(ctx, deny, sc, 0);
  }
  // Signals only to itself (abort and raise use tgkill on their own pid; kill(0, ...) would reach the host).
  const scmp_arg_cmp not_self{0, SCMP_CMP_NE, static_cast<scmp_datum_t>(::getpid()), 0};  // argument 0
  if (rc == 0) rc = seccomp_rule_add(ctx, deny, SCMP_SYS(kill), 1, not_self);
  if (rc == 0) rc = seccomp_rule_add(ctx, deny, SCMP_SYS(tgkill), 1, not_self);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  return rc == 0 ? "" : std::string("seccomp filter: ") + std::strerror(-rc);
#else
  return "this ihost was built without libseccomp (set [plugins] seccomp = false, or install libseccomp-dev "
         "and rebuild)";
#endif
}

void refuse(Channel& channel, const std::string& reason) {
  Frame frame;
  frame.kind = Kind::kRefused;
  frame.parts = {reason};
  channel.send(frame);
}

}  // namespace

int runnerMain(int argc, char** argv) {
  std::string plugin_path;
  std::string sha256;
  int64_t memory_mb = 0;
  int64_t max_files = 0;
  bool seccomp = false;
  bool probe_only = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--plugin" && has_value) {
      plugin_path = argv[++i];
    } else if (arg == "--sha256" && has_value) {
      sha256 = argv[++i];
    } else if (arg == "--memory-mb" && has_value && parseInt(argv[i + 1], memory_mb)) {
      ++i;
    } else if (arg == "--max-files" && has_value && parseInt(argv[i + 1], max_files)) {
      ++i;
    } else if (arg == "--seccomp") {
      seccomp = true;
    } else if (arg == "--probe") {
      probe_only = true;
    } else {
      std::fprintf(
          stderr,
          "ihost plugin-runner: unexpected argument \"%s\"\n"
          "The host starts this itself for plugins with isolation = \"process\"; it is not run by hand.\n",
          arg.c_str());
      return 2;
    }
  }
  if (plugin_path.empty() || ::fcntl(kHostFd, F_GETFD) < 0) {
    std::fprintf(stderr,
                 "ihost plugin-runner: needs --plugin and the host's socket on fd 3 (started by ihost)\n");
    return 2;
  }
  ::close_range(kHostFd + 1, ~0U, 0);  // nothing of the host's but the socket
  // The host decides when a runner ends (it closes the socket or kills it): a service manager's SIGTERM to the
  // whole group, or a terminal's SIGINT, must not fail calls the host is still draining.
  for (int sig : {SIGTERM, SIGINT, SIGHUP})
    ::signal(sig, SIG_IGN);
  Channel channel(kHostFd);
  g_channel = &channel;

  if (std::string capped = capSelf(memory_mb, max_files); !capped.empty()) {
    refuse(channel, "cannot cap the runner: " + capped);
    return 3;
  }
  auto loaded = loader::Registry::loadFile(plugin_path, sha256);
  if (!loaded.isOk()) {
    refuse(channel, loaded.status().message());
    return 3;
  }
  std::shared_ptr<loader::Plugin> plugin = *loaded;
  if (seccomp) {
    if (std::string failed = installSeccomp(); !failed.empty()) {
      refuse(channel, failed);
      return 3;
    }
  }
  const ih_plugin_descriptor& d = plugin->descriptor();
  Frame hello;
  hello.kind = Kind::kHello;
  hello.num = static_cast<int64_t>(d.capabilities);
  hello.op = d.flags;
  hello.req = (static_cast<uint64_t>(d.abi_major) << 16) | d.abi_minor;
  hello.parts = {plugin->manifest().raw_json};
  // From here on the process ends with _exit: no exit-time work (sanitizer leak checks need files the filter
  // denies, and a plugin's static destructors have nothing to flush).
  if (!channel.send(hello) || probe_only) ::_exit(0);

  ih_plugin* instance = nullptr;
  CallPool pool;
  for (;;) {
    auto received = channel.receive();
    if (!received.isOk()) ::_exit(0);  // the host is gone (or broke the protocol): nothing left to serve
    Frame& frame = *received;
    switch (frame.kind) {
      case Kind::kCreate: {
        RunnerCall rc;
        rc.id = frame.call;
        rc.creating = true;
        frame.parts.resize(2);
        Frame done;
        done.kind = Kind::kDone;
        done.call = frame.call;
        try {
          done.num = instance != nullptr
                         ? IH_ERR_INTERNAL
                         : d.create(&kApi, reinterpret_cast<ih_call*>(&rc),
                                    ih_str{frame.parts[0].data(), frame.parts[0].size()},
                                    ih_str{frame.parts[1].data(), frame.parts[1].size()}, &instance);
          if (done.num == IH_OK && instance == nullptr) done.num = IH_ERR_INTERNAL;
          if (done.num != IH_OK)
            done.parts = {rc.create_error.empty() ? "create failed with status " + std::to_string(done.num)
                                                  : rc.create_error};
        } catch (const std::exception& e) {
          done.num = IH_ERR_INTERNAL;
          done.parts = {std::string("create threw an exception across the ABI: ") + e.what()};
        }
        channel.send(done);
        break;
      }
      case Kind::kCall: {
        if (instance == nullptr) ::_exit(4);
        g_active_calls.fetch_add(1);
        auto request = std::make_shared<Frame>(std::move(frame));
        pool.run([&d, instance, request] { runCall(d, instance, std::move(*request)); });
        break;
      }
      case Kind::kReply: {
        std::lock_guard lock(g_waiters_mu);
        auto it = g_waiters.find(frame.req);
        if (it != g_waiters.end()) {
          std::lock_guard waiter_lock(it->second->mu);
          it->second->reply = std::move(frame);
          it->second->done = true;
          it->second->cv.notify_all();
        }
        break;
      }
      case Kind::kDestroy: {
        for (int i = 0; i < 200 && g_active_calls.load() > 0; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (instance != nullptr && g_active_calls.load() == 0) d.destroy(instance);
        ::_exit(0);
      }
      default:
        ::_exit(5);
    }
  }
}

}  // namespace ih::isolation

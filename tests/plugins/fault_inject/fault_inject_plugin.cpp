// fault_inject: the plugin the process-isolation tests point at. The host runs it in a child "runner" process
// and must survive every fault below (a host that runs it in-process dies with it: that is what runners are
// for). Written against ih/plugin_abi.h directly, not the C++ wrapper (ih/plugin.hpp), which would catch the
// exception the "throw" action must let escape.
// Config: {"label"?: string}. Actions take a JSON object (empty input counts as {}; anything else is
// IH_ERR_INVALID_ARGUMENT):
//   - "ok": {"ok":true,"pid":<pid>,"label":<config label or "">}; the pid tells a runner from the host and
//     shows restarts.
//   - "abort": std::abort().
//   - "segfault": a store through a null pointer the compiler cannot see: SIGSEGV.
//   - "loop": spins forever on a volatile counter, never looking at the deadline.
//   - "sleep" {"ms": 0..3600000, required}: sleeps ms ignoring the deadline, then {"slept_ms":ms}.
//   - "leak" {"mb": 1..1048576, default 4096}: mallocs 16 MiB chunks and touches every page until mb MiB are
//     held; then {"allocated_mb":mb}, or IH_ERR_INTERNAL "allocation failed after X MiB" when malloc fails
//     (an address-space limit). Frees everything before returning either way. A limit that kills instead
//     (the OOM killer) kills the process.
//   - "throw": throws std::runtime_error("thrown across the ABI") out of run_action, input not looked at. The
//     only exception that leaves the plugin: every other handler turns exceptions into IH_ERR_INTERNAL.
//   - "garbage": set_result with bytes that are neither JSON nor UTF-8, then returns 9999 (not an ih_status).
//   - "exit": _exit(7).
//   - "socket": tries socket(AF_INET, SOCK_STREAM, 0) and open("/tmp/fault_inject_probe_<pid>",
//     O_WRONLY|O_CREAT, 0600); answers {"socket_errno","opened","open_errno","created"} (errno 0 on success;
//     what it opened is closed, the file unlinked), so a test sees what a seccomp filter lets through. With
//     {"read": "<path>"} it also opens that file read-only and reads a byte ({"read_errno","read"}), and it
//     checks whether it may signal its parent (kill(getppid(), 0): {"signal_parent_errno"}).
//   - "echo": state_put("last", <input as JSON>), state_get("last"), emit_event("fault.echo", {"n":1}) and
//     call_info; answers {"input","tenant","state","emit_status"}. A failed state_put, state_get or call_info
//     fails the action with the host's message; emit_event's status is only reported.
//   - "big" {"bytes": 0..268435456, default 1 MiB}: {"data":"xx…"} with that many 'x': a large result.
//   - anything else: IH_ERR_NOT_FOUND "no such action: <name>" (the host's API only routes declared actions).
// Route GET /whoami (tenant): 200 {"pid":<pid>}.
// Tenant webhooks, unsigned: verify_webhook accepts any body that is a JSON object with non-empty string "id"
// and "type" ({"event_id":id,"type":type,"occurred_at":<integer "created", else 0>}), else
// IH_ERR_INVALID_ARGUMENT. handle_webhook first applies the body's "fault": "segfault", "abort", or "sleep"
// ("ms" 0..3600000, default 1000; then it carries on), then upserts record events/<event_id> =
// {"type","pid"} with updated_at = occurred_at.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ih/plugin_abi.h"

// The ABI's opaque instance handle, completed here (the host never looks inside): one per create, freed by
// destroy.
struct ih_plugin {
  const ih_host_api* const host;  // outlives the instance (plugin_abi.h)
  const std::string label;        // the config's "label", "" when absent
};

namespace fault_inject {
namespace {

using nlohmann::json;

constexpr char kManifestJson[] = R"json({
  "name": "fault_inject",
  "version": "1.0.0",
  "display_name": "Fault injection",
  "description": "Test-only plugin: faults (crash, hang, leak, exception, garbage) for process isolation.",
  "config_schema": {"type": "object",
                    "properties": {"label": {"type": "string", "description": "Returned by the ok action."}}},
  "routes": [{"method": "GET", "path": "/whoami", "auth": "tenant"}],
  "webhooks": {"tenant": true},
  "actions": [{"name": "ok", "description": "Answers {ok, pid, label}."},
              {"name": "abort", "description": "Calls abort()."},
              {"name": "segfault", "description": "Writes through a null pointer."},
              {"name": "loop", "description": "Spins forever, ignoring the deadline."},
              {"name": "sleep", "description": "Sleeps {ms} ignoring the deadline."},
              {"name": "leak", "description": "Allocates and touches {mb} MiB (default 4096)."},
              {"name": "throw", "description": "Throws a C++ exception across the C ABI."},
              {"name": "garbage", "description": "Sets a non-JSON result, returns status 9999."},
              {"name": "exit", "description": "Calls _exit(7)."},
              {"name": "socket", "description": "Tries to open a TCP socket and create a file in /tmp."},
              {"name": "echo", "description": "Round-trips host services: state, events, call info."},
              {"name": "big", "description": "Answers {bytes} (default 1 MiB) of data."},
              {"name": "flood", "description": "Isolated only: floods the host with raw protocol frames."}],
  "events": ["fault.echo"]
})json";

constexpr int64_t kMaxSleepMs = 3600 * 1000;
constexpr int64_t kLeakChunkMb = 16;
constexpr int64_t kMaxLeakMb = int64_t{1} << 20;
constexpr int64_t kMaxBigBytes = int64_t{256}
                                 << 20;  // past the runner protocol's 64 MiB frame limit, on purpose

ih_str view(std::string_view s) {
  return ih_str{s.data(), s.size()};
}

std::string_view text(ih_str s) {
  return s.len == 0 ? std::string_view() : std::string_view(s.ptr, s.len);
}

// JSON text of `value`; invalid UTF-8 in strings (state the host handed back) becomes U+FFFD.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// `input` parsed; an empty input is {}; a discarded value (never an exception) when it is not JSON.
json parse(std::string_view input) {
  if (input.empty()) return json::object();
  return json::parse(input.begin(), input.end(), nullptr, false);
}

// `object[key]` when it is a string, else "".
std::string stringMember(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// `object[key]` as an integer in [min, max]; `fallback` when absent; nullopt when present but not such an
// integer (or absent without a fallback).
std::optional<int64_t> intMember(const json& object, const char* key, std::optional<int64_t> fallback,
                                 int64_t min, int64_t max) {
  const auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(max)) return std::nullopt;
  const int64_t value = it->get<int64_t>();
  if (value < min || value > max) return std::nullopt;
  return value;
}

// One handler invocation: the host's table, the call context and the instance.
struct Call {
  const ih_host_api& host;
  ih_call* const call;

  ih_status fail(ih_status code, const std::string& message) const {
    host.set_error(call, view(message));
    return code;
  }
  // A host service that failed: its status, with the host's message after the service's name.
  ih_status serviceFailed(ih_status code, std::string_view service) const {
    return fail(code, std::string(service) + ": " + std::string(text(host.last_error(call))));
  }
  ih_status result(const json& value) const {
    const std::string out = dump(value);
    return host.set_result(call, view(out));
  }
};

// An ih_buf the host hands over (through out()), released on destruction.
class HostBuffer {
 public:
  explicit HostBuffer(const ih_host_api& host) : host_(host) {}
  ~HostBuffer() { host_.buf_free(buf_); }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  ih_buf** out() { return &buf_; }
  std::string_view contents() const { return text(host_.buf_view(buf_)); }

 private:
  const ih_host_api& host_;
  ih_buf* buf_ = nullptr;
};

// Runs `body`, turning an exception into IH_ERR_INTERNAL (after set_error): nothing but the "throw" action
// lets one reach the host.
template <class Body>
ih_status guarded(const Call& c, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    c.host.set_error(c.call, view(e.what()));
  } catch (...) {
    c.host.set_error(c.call, view("fault_inject: unknown exception"));
  }
  return IH_ERR_INTERNAL;
}

// ---- faults

[[noreturn]] void segfault() {
  // The pointer is read from a volatile variable, so the compiler cannot know it is null: it can neither drop
  // the store nor turn it into a trap instruction (SIGILL instead of SIGSEGV).
  volatile int* volatile target = nullptr;
  *target = 1;
  std::abort();  // not reached
}

[[noreturn]] void spinForever() {
  volatile uint64_t spins =
      0;  // volatile: the loop has a side effect, so it stays (an empty one would be UB)
  for (;;)
    spins = spins + 1;
}

void sleepMs(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// ---- actions

using Action = ih_status (*)(const Call& c, const ih_plugin& self, const json& input);

ih_status actionOk(const Call& c, const ih_plugin& self, const json& /*input*/) {
  return c.result({{"ok", true}, {"pid", ::getpid()}, {"label", self.label}});
}

ih_status actionAbort(const Call& /*c*/, const ih_plugin& /*self*/, const json& /*input*/) {
  std::abort();
}

ih_status actionSegfault(const Call& /*c*/, const ih_plugin& /*self*/, const json& /*input*/) {
  segfault();
}

ih_status actionLoop(const Call& /*c*/, const ih_plugin& /*self*/, const json& /*input*/) {
  spinForever();
}

ih_status actionSleep(const Call& c, const ih_plugin& /*self*/, const json& input) {
  const auto ms = intMember(input, "ms", std::nullopt, 0, kMaxSleepMs);
  if (!ms)
    return c.fail(IH_ERR_INVALID_ARGUMENT, "ms must be an integer from 0 to " + std::to_string(kMaxSleepMs));
  sleepMs(*ms);
  return c.result({{"slept_ms", *ms}});
}

ih_status actionLeak(const Call& c, const ih_plugin& /*self*/, const json& input) {
  const auto mb = intMember(input, "mb", 4096, 1, kMaxLeakMb);
  if (!mb)
    return c.fail(IH_ERR_INVALID_ARGUMENT, "mb must be an integer from 1 to " + std::to_string(kMaxLeakMb));
  std::vector<void*> chunks;
  int64_t held_mb = 0;
  bool complete = true;
  try {
    chunks.reserve(
        static_cast<size_t>((*mb + kLeakChunkMb - 1) / kLeakChunkMb));  // push_back never allocates
  } catch (const std::bad_alloc&) {
    complete = false;
  }
  while (complete && held_mb < *mb) {
    const size_t bytes = static_cast<size_t>(std::min(kLeakChunkMb, *mb - held_mb)) << 20;
    void* chunk = std::malloc(bytes);
    if (chunk == nullptr) {
      complete = false;
      break;
    }
    std::memset(chunk, 0xA5, bytes);  // every page touched: memory really held, not just address space
    __asm__ __volatile__("" : : "r"(chunk) : "memory");  // so the compiler can drop neither memset nor malloc
    chunks.push_back(chunk);
    held_mb += static_cast<int64_t>(bytes >> 20);
  }
  for (void* chunk : chunks)
    std::free(chunk);
  if (!complete)
    return c.fail(IH_ERR_INTERNAL, "allocation failed after " + std::to_string(held_mb) + " MiB");
  return c.result({{"allocated_mb", held_mb}});
}

ih_status actionGarbage(const Call& c, const ih_plugin& /*self*/, const json& /*input*/) {
  static constexpr char kGarbage[] = "\xff\xfe{not json";
  c.host.set_result(c.call, ih_str{kGarbage, sizeof kGarbage - 1});
  return 9999;
}

ih_status actionExit(const Call& /*c*/, const ih_plugin& /*self*/, const json& /*input*/) {
  ::_exit(7);
}

ih_status actionSocket(const Call& c, const ih_plugin& /*self*/, const json& input) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int socket_errno = fd < 0 ? errno : 0;
  if (fd >= 0) ::close(fd);
  const std::string path = "/tmp/fault_inject_probe_" + std::to_string(::getpid());
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  const int open_errno = file < 0 ? errno : 0;
  if (file >= 0) {
    ::close(file);
    ::unlink(path.c_str());
  }
  // Reading a file the host can read (the test passes the host's database), and signalling the parent (signal 0:
  // only the permission check).
  int read_errno = 0;
  bool read_ok = false;
  const std::string read_path = stringMember(input, "read");
  if (!read_path.empty()) {
    const int rfd = ::open(read_path.c_str(), O_RDONLY);
    read_errno = rfd < 0 ? errno : 0;
    if (rfd >= 0) {
      char byte = 0;
      read_ok = ::read(rfd, &byte, 1) == 1;
      ::close(rfd);
    }
  }
  const int signalled = ::kill(::getppid(), 0);
  return c.result({{"socket_errno", socket_errno},
                   {"opened", fd >= 0},
                   {"open_errno", open_errno},
                   {"created", file >= 0},
                   {"read_errno", read_errno},
                   {"read", read_ok},
                   {"signal_parent_errno", signalled < 0 ? errno : 0}});
}

ih_status actionEcho(const Call& c, const ih_plugin& /*self*/, const json& input) {
  const std::string last = dump(input);
  if (ih_status s = c.host.state_put(c.call, view("last"), view(last)); s != IH_OK)
    return c.serviceFailed(s, "state_put");
  std::string state;
  {
    HostBuffer stored(c.host);
    if (ih_status s = c.host.state_get(c.call, view("last"), stored.out()); s != IH_OK)
      return c.serviceFailed(s, "state_get");
    state = std::string(stored.contents());
  }
  std::string tenant;
  if (c.host.struct_size >
      offsetof(ih_host_api, call_info)) {  // ABI 1.2; always there on a host that loads us
    HostBuffer info(c.host);
    if (ih_status s = c.host.call_info(c.call, info.out()); s != IH_OK)
      return c.serviceFailed(s, "call_info");
    const json parsed = parse(info.contents());
    if (!parsed.is_object()) return c.fail(IH_ERR_INTERNAL, "call_info is not a JSON object");
    tenant = stringMember(parsed, "tenant");
  }
  const ih_status emitted = c.host.emit_event(c.call, view("fault.echo"), view(R"({"n":1})"));
  return c.result({{"input", input}, {"tenant", tenant}, {"state", state}, {"emit_status", emitted}});
}

// A hostile runner: writes raw frames straight to the host's socket (fd 3 in an isolated runner), the one-way
// set_error service of the current call (its id is the first member of the runner's call context), 4,000 times
// with 64 KiB each, faster than the host drains them. The host must kill it, not buffer 256 MiB. In process there
// is no such socket: the action refuses. Input {"really": true}.
ih_status actionFlood(const Call& c, const ih_plugin& /*self*/, const json& input) {
  // Only when asked exactly so (conformance checks send every action odd inputs), and only on a socket.
  const auto really = input.find("really");
  if (really == input.end() || !really->is_boolean() || !really->get<bool>())
    return c.fail(IH_ERR_INVALID_ARGUMENT, "flood needs {\"really\": true}");
  struct stat st {};
  if (::fstat(3, &st) != 0 || !S_ISSOCK(st.st_mode)) return c.fail(IH_ERR_UNSUPPORTED, "not in a runner");
  uint64_t call_id = 0;
  std::memcpy(&call_id, c.call, sizeof call_id);
  const std::string part(64 * 1024, 'f');
  std::string frame;
  auto put = [&frame](uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i)
      frame.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  const uint64_t size = 1 + 4 + 8 + 8 + 8 + 4 + 4 + part.size();
  put(size, 4);
  put(6, 1);   // kService
  put(11, 4);  // set_error: one-way
  put(call_id, 8);
  put(0, 8);
  put(0, 8);
  put(1, 4);
  put(part.size(), 4);
  frame += part;
  for (int i = 0; i < 4000; ++i) {
    if (::write(3, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size())) break;
  }
  std::this_thread::sleep_for(std::chrono::seconds(5));
  return c.result({{"flooded", true}});
}

ih_status actionBig(const Call& c, const ih_plugin& /*self*/, const json& input) {
  const auto bytes = intMember(input, "bytes", int64_t{1} << 20, 0, kMaxBigBytes);
  if (!bytes)
    return c.fail(IH_ERR_INVALID_ARGUMENT,
                  "bytes must be an integer from 0 to " + std::to_string(kMaxBigBytes));
  return c.result({{"data", std::string(static_cast<size_t>(*bytes), 'x')}});
}

struct NamedAction {
  std::string_view name;
  Action run;
};

// Every action of the manifest but "throw", which runAction handles before anything else.
constexpr NamedAction kActions[] = {
    {"ok", actionOk},         {"abort", actionAbort}, {"segfault", actionSegfault}, {"loop", actionLoop},
    {"sleep", actionSleep},   {"leak", actionLeak},   {"garbage", actionGarbage},   {"exit", actionExit},
    {"socket", actionSocket}, {"echo", actionEcho},   {"big", actionBig},           {"flood", actionFlood},
};

ih_status dispatchAction(const Call& c, const ih_plugin& self, std::string_view name,
                         std::string_view input_json) {
  const auto found = std::find_if(std::begin(kActions), std::end(kActions),
                                  [&](const NamedAction& a) { return a.name == name; });
  if (found == std::end(kActions)) return c.fail(IH_ERR_NOT_FOUND, "no such action: " + std::string(name));
  const json input = parse(input_json);
  if (!input.is_object()) return c.fail(IH_ERR_INVALID_ARGUMENT, "input must be a JSON object");
  return found->run(c, self, input);
}

// ---- handlers

ih_status create(const ih_host_api* host, ih_call* call, ih_str /*integration_id*/, ih_str config_json,
                 ih_plugin** out_instance) {
  *out_instance = nullptr;
  const Call c{*host, call};
  return guarded(c, [&] {
    const json config = parse(text(config_json));
    if (!config.is_object()) return c.fail(IH_ERR_INVALID_ARGUMENT, "configuration must be a JSON object");
    *out_instance = new ih_plugin{host, stringMember(config, "label")};
    return IH_OK;
  });
}

void destroy(ih_plugin* self) {
  delete self;
}

ih_status handleRoute(ih_plugin* self, ih_call* call, ih_str /*request_json*/, ih_str /*body*/) {
  // The manifest declares one route, GET /whoami: the host routes nothing else here.
  const Call c{*self->host, call};
  return guarded(c, [&] {
    const std::string body = dump({{"pid", ::getpid()}});
    return c.host.respond(call, 200, view(R"({"content-type":"application/json"})"), view(body));
  });
}

ih_status verifyWebhook(ih_plugin* self, ih_call* call, ih_str /*request_json*/, ih_str body) {
  const Call c{*self->host, call};
  return guarded(c, [&] {
    const json event = parse(text(body));
    const std::string id = event.is_object() ? stringMember(event, "id") : std::string();
    const std::string type = event.is_object() ? stringMember(event, "type") : std::string();
    if (id.empty() || type.empty()) {
      return c.fail(IH_ERR_INVALID_ARGUMENT,
                    "webhook body must be a JSON object with non-empty string \"id\" and \"type\"");
    }
    const int64_t occurred_at = intMember(event, "created", 0, std::numeric_limits<int64_t>::min(),
                                          std::numeric_limits<int64_t>::max())
                                    .value_or(0);
    return c.result({{"event_id", id}, {"type", type}, {"occurred_at", occurred_at}});
  });
}

ih_status handleWebhook(ih_plugin* self, ih_call* call, ih_str event_json, ih_str body) {
  const Call c{*self->host, call};
  return guarded(c, [&] {
    const json event = parse(text(event_json));
    const json payload = parse(text(body));
    if (!event.is_object()) return c.fail(IH_ERR_INTERNAL, "the host's event_json is not a JSON object");
    if (!payload.is_object()) return c.fail(IH_ERR_INVALID_ARGUMENT, "the stored body is not a JSON object");
    const std::string fault = stringMember(payload, "fault");
    if (fault == "segfault") segfault();
    if (fault == "abort") std::abort();
    if (fault == "sleep") {
      const auto ms = intMember(payload, "ms", 1000, 0, kMaxSleepMs);
      if (!ms)
        return c.fail(IH_ERR_INVALID_ARGUMENT,
                      "ms must be an integer from 0 to " + std::to_string(kMaxSleepMs));
      sleepMs(*ms);
    }
    json record = json::object();
    record["id"] = stringMember(event, "event_id");
    record["data"] = {{"type", stringMember(event, "type")}, {"pid", ::getpid()}};
    record["updated_at"] = intMember(event, "occurred_at", 0, std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max())
                               .value_or(0);
    const std::string records = dump(json::array({record}));
    if (ih_status s = c.host.records_upsert(call, view("events"), view(records)); s != IH_OK)
      return c.serviceFailed(s, "records_upsert");
    return IH_OK;
  });
}

// Not noexcept, on purpose: the "throw" action's exception leaves through here into the host (or runner).
ih_status runAction(ih_plugin* self, ih_call* call, ih_str action_name, ih_str input_json) {
  const std::string_view name = text(action_name);
  if (name == "throw") throw std::runtime_error("thrown across the ABI");
  const Call c{*self->host, call};
  return guarded(c, [&] { return dispatchAction(c, *self, name, text(input_json)); });
}

const ih_plugin_descriptor kDescriptor = {
    sizeof(ih_plugin_descriptor),
    IH_ABI_MAJOR,
    IH_ABI_MINOR,
    IH_CAP_ACTIONS | IH_CAP_ROUTES | IH_CAP_WEBHOOKS,
    0,  // flags: handlers run concurrently (webhook load while a runner crashes)
    0,
    kManifestJson,
    create,
    destroy,
    handleRoute,
    verifyWebhook,
    handleWebhook,
    nullptr,  // run_job
    runAction,
    nullptr,  // connect
    nullptr,  // test_connection
    nullptr,  // disconnect
    nullptr,  // oauth_authorize
    nullptr,  // oauth_complete
};

}  // namespace
}  // namespace fault_inject

extern "C" IH_EXPORT const ih_plugin_descriptor* ih_plugin_entry(uint16_t host_major,
                                                                 uint16_t /*host_minor*/) {
  return host_major == IH_ABI_MAJOR ? &fault_inject::kDescriptor : nullptr;
}

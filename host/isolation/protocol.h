// The framed protocol between the host and a plugin runner (`ihost plugin-runner`, runner_main.cpp) over a
// Unix-domain socket pair. Private to host/isolation.
//
// A frame is: u32 length of the rest (little endian), u8 kind, u32 op, u64 call, u64 req, i64 num, u32 part
// count, then per part u32 length + bytes. Parts are raw bytes (bodies, JSON): nothing is re-encoded. Every
// length is checked against kMaxFrameBytes / kMaxParts before anything is allocated, so a runner (which runs
// untrusted code) cannot make the host allocate or read without bound.
//
// Conversation (host ⇄ runner):
//   runner → kHello {num = capabilities, op = flags, req = abi major << 16 | minor; parts: manifest_json}
//            or kRefused {parts: reason}, once, first.
//   host → kCreate {call; parts: integration_id, config_json}    runner → kDone {call, num = status; parts: error}
//   host → kCall {call, op = handler, num = remaining ms (-1: none); parts: first, second}
//          runner → zero or more kService {call, req, op = service; parts: args...} each answered by
//          host → kReply {req, num = status; parts: last_error, out1, out2}; kLog and the kService ops kSetError,
//          kRespond and kSetResult are one-way (no kReply; the runner checks respond/set_result as the host does).
//          runner → kDone {call, num = status}
//   host → kDestroy; the runner destroys the instance and exits 0.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace ih::isolation {

enum class Kind : uint8_t {
  kHello = 1,
  kRefused = 2,
  kCreate = 3,
  kCall = 4,
  kDone = 5,
  kService = 6,
  kReply = 7,
  kDestroy = 8,
  kLog = 9,  // one-way: op = level; parts: message, fields_json (call may be 0)
};

// The host services a runner forwards (kService op). last_error, buf_view, buf_free and call_remaining_ms are
// answered inside the runner; log, set_error, respond and set_result are one-way.
enum class Service : uint32_t {
  kHttpRequest = 1,
  kCredentialsGet,
  kCredentialsPut,
  kStateGet,
  kStatePut,
  kRecordsUpsert,
  kRecordsDelete,
  kEmitEvent,
  kRespond,
  kSetResult,
  kSetError,
  kRecordsCommit,
  kPrompt,
  kBindAccount,
  kInboxIngest,
  kSecretPut,
  kSecretGet,
  kCredentialsDelete,
  kCallInfo,
  kEmitEventOnce,
  kLast = kEmitEventOnce,
};

constexpr size_t kMaxFrameBytes = size_t{64} << 20;  // larger frames are a protocol violation
constexpr size_t kMaxParts = 8;

struct Frame {
  Kind kind = Kind::kDone;
  uint32_t op = 0;
  uint64_t call = 0;
  uint64_t req = 0;
  int64_t num = 0;
  std::vector<std::string> parts;
};

// One end of the socket pair. send() is thread-safe (frames never interleave); receive() has one reader.
// Owns the descriptor (closed by the destructor).
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // False when the peer is gone, the frame is over the limit, or the socket's send timeout passed (errno
  // EAGAIN: the peer stopped reading).
  bool send(const Frame& frame);
  // Blocks for the next frame. kUnavailable on end of stream, kInvalidArgument on a malformed or oversized
  // frame (the caller then stops talking to the peer).
  Result<Frame> receive();
  // Wakes a blocked receive() (it then fails) and makes every later send fail. Thread-safe.
  void shutdown();
  int fd() const { return fd_; }

 private:
  int fd_;
  std::mutex send_mu_;
};

// Overwrites the frame's parts (secrets: credentials, answers to secret prompts) before they are freed.
void wipe(Frame& frame);

}  // namespace ih::isolation

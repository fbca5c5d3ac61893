// A misbehaving "provider" for the hostile suite: a tiny HTTP server written on raw sockets, so it can answer
// what no HTTP library would send (garbage bytes, a 1 MB header line, a body that never ends, a byte every
// 200 ms, a 20-digit Retry-After). A plugin reaches it through its configurable API base URL.
//
// In Mode::kNormal it answers like a healthy provider: Stripe-shaped JSON for /v1/... paths (a balance, an
// account, empty lists) and the example plugin's /ping and /items. Every other mode applies to every request
// until the mode changes. Thread-safe; one thread per connection; the destructor closes every socket and
// joins.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ih::hostile {

class RawUpstream {
 public:
  enum class Mode {
    kNormal,            // well-formed answers (see above)
    kGarbage,           // bytes that are not HTTP, then close
    kHugeBody,          // 200, Content-Length 512 MiB, streams JSON whitespace until the client goes away
    kEndlessChunked,    // 200, chunked, a 64 KiB chunk after another, never the last chunk
    kSlowTrickle,       // 200, Content-Length 1 MiB, one byte every 200 ms
    kHugeHeader,        // 200 whose header block holds one 1 MiB header line
    kManyHeaders,       // 200 with 100,000 header lines
    kAbsurdRetryAfter,  // 429 with "Retry-After: 99999999999999999999"
    kTruncated,         // Content-Length 1000, 10 bytes sent, then close
    kDeepJson,          // 200 whose body is 1 MiB of '[' then as many ']'
    kInvalidUtf8,       // 200, a JSON object whose strings hold bytes that are not UTF-8
    kNoAnswer,          // reads the request, never answers (until the client closes)
    kCloseAtOnce,       // reads the request, closes without a byte
  };

  RawUpstream();
  ~RawUpstream();
  RawUpstream(const RawUpstream&) = delete;
  RawUpstream& operator=(const RawUpstream&) = delete;

  std::string url() const;  // "http://127.0.0.1:<port>"
  void setMode(Mode mode) { mode_.store(mode); }
  // Requests received (complete request heads) since the start or the last clearRequests().
  size_t requestCount() const;
  // "<METHOD> <target>" of each request received, oldest first.
  std::vector<std::string> requestLines() const;
  void clearRequests();

 private:
  void acceptLoop();
  void serve(int fd);
  bool answer(int fd, const std::string& method, const std::string& target);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<Mode> mode_{Mode::kNormal};
  mutable std::mutex mu_;
  std::vector<std::string> lines_;     // GUARDED_BY(mu_)
  std::vector<std::thread> sessions_;  // GUARDED_BY(mu_)
  std::vector<int> session_fds_;       // GUARDED_BY(mu_): shut down by the destructor
  std::thread acceptor_;
};

}  // namespace ih::hostile

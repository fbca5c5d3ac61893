#include "raw_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string_view>

#include "common/text.h"

namespace ih::hostile {
namespace {

constexpr size_t kMaxRequestHead = 64 * 1024;

// Waits until `fd` is ready for `events` or `stopping` is set; false on stop, error or hang-up.
bool waitFor(int fd, short events, const std::atomic<bool>& stopping) {
  while (!stopping.load()) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, 100);
    if (n < 0) return false;
    if (n == 0) continue;
    if (p.revents & (POLLERR | POLLNVAL)) return false;
    if (p.revents & events) return true;
    if (p.revents & POLLHUP) return false;
  }
  return false;
}

bool sendAll(int fd, std::string_view data, const std::atomic<bool>& stopping) {
  while (!data.empty()) {
    if (!waitFor(fd, POLLOUT, stopping)) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string answerJson(int status, const std::string& body, const std::string& extra_headers = {}) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

// What a healthy provider answers for `target` (path and query).
std::string normalBody(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/v1/balance")
    return R"({"object":"balance","livemode":false,"available":[{"amount":0,"currency":"usd"}],"pending":[]})";
  if (path == "/v1/account") return R"({"id":"acct_rawupstream0001","object":"account","email":null})";
  if (path == "/ping") return R"({"account":"acct_provider_1"})";
  if (path == "/items") return R"({"items":[],"has_more":false})";
  if (path.substr(0, 4) == "/v1/") return R"({"object":"list","data":[],"has_more":false})";
  return R"({"ok":true})";
}

}  // namespace

RawUpstream::RawUpstream() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

RawUpstream::~RawUpstream() {
  stopping_.store(true);
  acceptor_.join();
  std::vector<std::thread> sessions;
  {
    std::lock_guard lock(mu_);
    for (int fd : session_fds_)
      ::shutdown(fd, SHUT_RDWR);
    sessions.swap(sessions_);
  }
  for (auto& t : sessions)
    t.join();
  for (int fd : session_fds_)
    ::close(fd);
  ::close(listen_fd_);
}

std::string RawUpstream::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

size_t RawUpstream::requestCount() const {
  std::lock_guard lock(mu_);
  return lines_.size();
}

std::vector<std::string> RawUpstream::requestLines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

void RawUpstream::clearRequests() {
  std::lock_guard lock(mu_);
  lines_.clear();
}

void RawUpstream::acceptLoop() {
  while (waitFor(listen_fd_, POLLIN, stopping_)) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    session_fds_.push_back(fd);
    sessions_.emplace_back([this, fd] {
      serve(fd);
      ::shutdown(fd, SHUT_RDWR);  // the peer sees the end; the descriptor is closed by the destructor
    });
  }
}

void RawUpstream::serve(int fd) {
  std::string buffer;
  char chunk[16 * 1024];
  for (;;) {
    // One request head, then its Content-Length body.
    size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxRequestHead || !waitFor(fd, POLLIN, stopping_)) return;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    const std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end + 4);
    const size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const size_t space1 = request_line.find(' ');
    const size_t space2 = request_line.find(' ', space1 + 1);
    if (space1 == std::string::npos || space2 == std::string::npos) return;
    const std::string method = request_line.substr(0, space1);
    const std::string target = request_line.substr(space1 + 1, space2 - space1 - 1);
    int64_t body_length = 0;
    for (size_t at = line_end; at != std::string::npos && at < head.size();) {
      const size_t next = head.find("\r\n", at + 2);
      const std::string line =
          head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
      const size_t colon = line.find(':');
      if (colon != std::string::npos && ih::equalsIgnoreCase(line.substr(0, colon), "Content-Length"))
        body_length = ih::parseInt64InRange(ih::trimAscii(line.substr(colon + 1)), 0, 64 << 20).value_or(0);
      at = next;
    }
    while (static_cast<int64_t>(buffer.size()) < body_length) {
      if (!waitFor(fd, POLLIN, stopping_)) return;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    buffer.erase(0, static_cast<size_t>(body_length));
    {
      std::lock_guard lock(mu_);
      lines_.push_back(method + " " + target);
    }
    if (!answer(fd, method, target)) return;
  }
}

// Writes the answer of the current mode; true when the connection may serve another request.
bool RawUpstream::answer(int fd, const std::string& /*method*/, const std::string& target) {
  switch (mode_.load()) {
    case Mode::kNormal:
      return sendAll(fd, answerJson(200, normalBody(target)), stopping_);
    case Mode::kGarbage: {
      // A TLS record header, text, a NUL and a 0xFF: no HTTP parser may take it. (The length is the literal's:
      // a hand-counted 38 read past its end, which ASan caught.)
      static constexpr char kGarbage[] = "\x16\x03\x01 this is not HTTP at all \x00\xff\r\n\r\n";
      sendAll(fd, std::string(kGarbage, sizeof kGarbage - 1), stopping_);
      return false;
    }
    case Mode::kHugeBody: {
      if (!sendAll(fd,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 536870912\r\n\r\n",
                   stopping_))
        return false;
      const std::string spaces(64 * 1024, ' ');
      for (size_t sent = 0; sent < (size_t{512} << 20); sent += spaces.size())
        if (!sendAll(fd, spaces, stopping_)) return false;
      return false;
    }
    case Mode::kEndlessChunked: {
      if (!sendAll(fd,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                   stopping_))
        return false;
      const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
      while (sendAll(fd, chunk, stopping_)) {
      }
      return false;
    }
    case Mode::kSlowTrickle: {
      if (!sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n",
                   stopping_))
        return false;
      for (int i = 0; i < 1048576 && !stopping_.load(); ++i) {
        if (!sendAll(fd, " ", stopping_)) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      return false;
    }
    case Mode::kHugeHeader: {
      const std::string body = normalBody(target);
      sendAll(fd, answerJson(200, body, "X-Absurd: " + std::string(1 << 20, 'a') + "\r\n"), stopping_);
      return false;
    }
    case Mode::kManyHeaders: {
      std::string headers;
      for (int i = 0; i < 100000; ++i)
        headers += "X-Many-" + std::to_string(i) + ": v\r\n";
      sendAll(fd, answerJson(200, normalBody(target), headers), stopping_);
      return false;
    }
    case Mode::kAbsurdRetryAfter:
      return sendAll(fd,
                     answerJson(429, R"({"error":{"type":"rate_limit_error","message":"slow down"}})",
                                "Retry-After: 99999999999999999999\r\n"),
                     stopping_);
    case Mode::kTruncated:
      sendAll(fd,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"object\":",
              stopping_);
      return false;
    case Mode::kDeepJson: {
      std::string body(1 << 20, '[');
      body.append(1 << 20, ']');
      sendAll(fd, answerJson(200, body), stopping_);
      return false;
    }
    case Mode::kInvalidUtf8:
      return sendAll(fd,
                     answerJson(200,
                                "{\"object\":\"balance\",\"livemode\":false,\"id\":\"acct_\xff\xfe\xc0\","
                                "\"available\":[{\"amount\":1,\"currency\":\"u\xed\xa0\x80sd\"}]}"),
                     stopping_);
    case Mode::kNoAnswer: {
      char c;
      while (waitFor(fd, POLLIN, stopping_)) {
        if (::recv(fd, &c, 1, 0) <= 0) break;
      }
      return false;
    }
    case Mode::kCloseAtOnce:
      return false;
  }
  return false;
}

}  // namespace ih::hostile

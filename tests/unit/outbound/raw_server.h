// A loopback TCP server whose every byte is written by the test: the misbehaving upstreams (endless bodies,
// trickled headers, garbage) that a real HTTP library would refuse to produce. One thread accepts and runs
// the handler for each connection in turn; the destructor closes the listener and joins.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace ih::test {

class RawServer {
 public:
  // `handler(fd, request_head)` answers one connection; it may keep reading from `fd` (keep-alive).
  using Handler = std::function<void(int fd, const std::string& request_head)>;

  explicit RawServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 16);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~RawServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() const { return connections_.load(); }

  // Reads one request head (through the blank line) and, when it has a Content-Length, its body. Empty at
  // EOF.
  static std::string readRequest(int fd) {
    std::string data;
    char c;
    while (data.size() < 65536 && ::recv(fd, &c, 1, 0) == 1) {
      data += c;
      if (data.size() >= 4 && data.compare(data.size() - 4, 4, "\r\n\r\n") == 0) break;
    }
    const auto at = data.find("Content-Length: ");
    if (at != std::string::npos) {
      size_t length = 0;
      for (size_t i = at + 16; i < data.size() && data[i] >= '0' && data[i] <= '9'; ++i) {
        length = length * 10 + static_cast<size_t>(data[i] - '0');
      }
      std::string body(length, '\0');
      size_t got = 0;
      while (got < length) {
        const ssize_t n = ::recv(fd, body.data() + got, length - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      data += body.substr(0, got);
    }
    return data;
  }
  // Writes all of `text`; false once the peer is gone.
  static bool writeAll(int fd, const std::string& text) {
    size_t sent = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

 private:
  void run() {
    while (!stopping_) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) break;
      ++connections_;
      timeval timeout{5, 0};  // a handler never outlives a stuck test by much
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      const std::string head = readRequest(fd);
      if (!head.empty()) handler_(fd, head);
      ::close(fd);
    }
  }

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace ih::test

#include "support/response_recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

namespace ih::test {
namespace {

constexpr size_t kMaxLines = 20000;         // per process: a sample, not a transcript
constexpr size_t kMaxBodyBytes = 64 << 10;  // a longer body is recorded cut, and marked so

struct Recorder {
  std::mutex mu;
  std::set<int> host_ports;  // GUARDED_BY(mu)
  int fd = -1;
  size_t lines = 0;
  Recorder() {
    const char* path = std::getenv("IH_RECORD_RESPONSES");
    if (path != nullptr && *path != '\0') fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  ~Recorder() {
    if (fd >= 0) ::close(fd);
  }
};

Recorder& recorder() {
  static Recorder r;
  return r;
}

}  // namespace

void recordResponse(std::string_view method, std::string_view target, int status,
                    std::string_view content_type, std::string_view body) {
  Recorder& r = recorder();
  if (r.fd < 0 || status == 0) return;
  const bool cut = body.size() > kMaxBodyBytes;
  nlohmann::json line = {{"method", method},
                         {"path", target.substr(0, target.find('?'))},
                         {"status", status},
                         {"content_type", content_type},
                         {"body", cut ? body.substr(0, kMaxBodyBytes) : body},
                         {"truncated", cut}};
  // Hostile cases send and receive bytes that are not UTF-8: keep the line valid JSON whatever they are.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.lines >= kMaxLines) return;
  ++r.lines;
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(r.fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace ih::test

namespace ih::test {

void addHostPort(int port) {
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  r.host_ports.insert(port);
}

bool isHostPort(int port) {
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.host_ports.count(port) > 0;
}

}  // namespace ih::test

#include "support/host_process.h"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace ih::test {

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

pid_t spawnHost(const std::string& config, const std::string& log_file,
                const std::map<std::string, std::string>& env) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* f = std::freopen(log_file.c_str(), "a", stderr);
    (void)f;
    for (const auto& [name, value] : env)
      ::setenv(name.c_str(), value.c_str(), 1);
    ::execl(IH_IHOST_BIN, IH_IHOST_BIN, "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  return pid;
}

bool waitHealthy(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(0, 200000);
    auto r = c.Get("/healthz");
    if (r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void stopHost(pid_t pid, int sig) {
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

std::map<std::string, std::string> webhookStatuses(int port, const std::string& admin_token) {
  httplib::Client admin("127.0.0.1", port);
  admin.set_read_timeout(10);
  const httplib::Headers auth = {{"Authorization", "Bearer " + admin_token}};
  std::map<std::string, std::string> status_by_id;
  std::string cursor;
  for (;;) {
    auto r = admin.Get(
        ("/api/admin/webhooks?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor)).c_str(), auth);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    const nlohmann::json page = nlohmann::json::parse(r->body);
    for (const auto& e : page["data"])
      status_by_id[e["event_id"].get<std::string>()] = e["status"].get<std::string>();
    if (!page["next_cursor"].is_string()) break;
    cursor = page["next_cursor"].get<std::string>();
  }
  return status_by_id;
}

}  // namespace ih::test

// bench_startup: how long `ihost serve` takes from exec to answering /healthz with N plugin instances (the
// real binary, the shipped Stripe BYOK plugin configured N times, a fresh SQLite file and key file).
//   bench_startup [--instances 50] [--runs 5]
// Prints the time of each run (the first creates and migrates the database; later ones open it) and the
// median of the later runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "vault/vault.h"

namespace {

using Clock = std::chrono::steady_clock;

int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// One GET /healthz; true on "200".
bool healthy(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char request[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) > 0) {
      char buf[64] = {};
      ok = recv(fd, buf, sizeof buf - 1, 0) > 12 && std::strncmp(buf + 9, "200", 3) == 0;
    }
  }
  close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int instances = 50, runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--instances") instances = std::max(1, static_cast<int>(std::strtol(argv[i + 1], nullptr, 10)));
    if (k == "--runs") runs = std::max(2, static_cast<int>(std::strtol(argv[i + 1], nullptr, 10)));
  }
  std::string tmpl = "/tmp/ih_startup_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return 1;
  const std::filesystem::path dir = tmpl;
  const int port = freePort();
  {
    std::ofstream toml(dir / "ihost.toml");
    toml << "[server]\nlisten = \"127.0.0.1:" << port << "\"\n\n[storage]\npath = \"ihost.db\"\n\n"
         << "[vault]\nkey_file = \"vault.keys\"\n\n[plugins]\ndir = \"" << IH_BENCH_PLUGIN_DIR << "\"\n\n"
         << "[log]\nlevel = \"warn\"\n\n";
    for (int i = 0; i < instances; ++i)
      toml << "[integrations.stripe" << i << "]\nplugin = \"stripe_byok\"\n\n";
  }
  if (!ih::vault::initKeyFile((dir / "vault.keys").string()).isOk()) return 1;
  const std::string config = (dir / "ihost.toml").string();
  const std::string log = (dir / "ihost.log").string();
  std::vector<double> ms;
  int rc = 0;
  for (int run = 0; run < runs && rc == 0; ++run) {
    std::fflush(stdout);  // or the child's copy of the buffer is written again
    const auto t0 = Clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
      if (std::freopen(log.c_str(), "a", stderr) == nullptr ||
          std::freopen("/dev/null", "w", stdout) == nullptr)
        _exit(126);
      execl(IH_BENCH_IHOST, IH_BENCH_IHOST, "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    bool up = false;
    while (!up && Clock::now() - t0 < std::chrono::seconds(20)) {
      up = healthy(port);
      if (!up) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    const double took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!up) {
      std::fprintf(stderr, "ihost did not answer /healthz within 20 s (log: %s)\n", log.c_str());
      rc = 1;
      break;
    }
    ms.push_back(took);
    std::printf("run %d: %.1f ms to /healthz with %d instances%s\n", run + 1, took, instances,
                run == 0 ? " (creates and migrates the database)" : "");
  }
  if (rc == 0) {
    std::vector<double> later(ms.begin() + 1, ms.end());
    std::sort(later.begin(), later.end());
    std::printf("median of runs 2-%d: %.1f ms\n", runs, later[later.size() / 2]);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return rc;
}

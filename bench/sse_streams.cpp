// bench_sse_streams: how many Server-Sent Event streams one host holds, what they cost, and how fast an event
// reaches all of them.
//
//   bench_sse_streams [--streams 1000] [--per-tenant 100] [--rounds 5] [--idle 5]
//
// Starts the real App (its HTTP server, events module and SSE route) with a temp database, creates
// ceil(streams / per-tenant) tenants, opens `streams` GET /api/events/stream connections from one epoll
// client thread, then measures: host threads and RSS with every stream open, CPU used while they sit idle for
// `--idle` seconds, and per round one event emitted per tenant → the time until each stream received it
// (p50 / p99 / max over all streams, and streams that missed it). Prints figures; not a test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/app.h"
#include "bench_host.h"
#include "events/events.h"
#include "tenancy/tenancy.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int streams = 1000;
  int per_tenant = 100;
  int rounds = 5;
  int idle_s = 5;
};

Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = static_cast<int>(ih::bench::intFlag(k, argv[i + 1], 0, 1000000));
    if (k == "--streams")
      a.streams = v;
    else if (k == "--per-tenant")
      a.per_tenant = v;
    else if (k == "--rounds")
      a.rounds = v;
    else if (k == "--idle")
      a.idle_s = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  a.per_tenant = std::clamp(a.per_tenant, 1, 100);
  return a;
}

long statusField(const char* name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) == 0) return std::atol(line.c_str() + std::strlen(name));
  }
  return -1;
}

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

struct Stream {
  int fd = -1;
  size_t tenant = 0;
  std::string buffer;  // bytes received and not yet matched
};

int openStream(int port, const std::string& key) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::string request = "GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                              key + "\r\nAccept: text/event-stream\r\n\r\n";
  if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return -1;
  }
  // Wait for the stream's opening comment: the subscription exists from then on.
  std::string got;
  char buf[4096];
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (got.find("stream open") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      std::fprintf(stderr, "stream refused: %s\n", got.substr(0, 300).c_str());
      ::close(fd);
      return -1;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  char tmpl[] = "/tmp/ih_bench_sse_XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  std::filesystem::create_directories(dir / "plugins");
  std::unique_ptr<ih::app::App> app = ih::bench::startHost(
      dir,
      "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\npath = \"ihost.db\"\n\n[vault]\nkey_file = "
      "\"vault.keys\"\n\n[plugins]\ndir = \"plugins\"\n\n[log]\nlevel = \"warn\"\n");
  if (!app) return 1;
  const long threads_before = statusField("Threads:");
  const long rss_before_kb = statusField("VmRSS:");

  const size_t tenant_count = static_cast<size_t>((a.streams + a.per_tenant - 1) / a.per_tenant);
  std::vector<std::pair<std::string, std::string>> tenants;  // id, key
  for (size_t i = 0; i < tenant_count; ++i) {
    auto t = app->tenancy().createTenant("sse-bench-" + std::to_string(i));
    if (!t.isOk()) return 1;
    tenants.emplace_back(t->tenant.id, t->first_key.plaintext);
  }

  const auto open_started = Clock::now();
  std::vector<Stream> streams;
  streams.reserve(static_cast<size_t>(a.streams));
  for (int i = 0; i < a.streams; ++i) {
    const size_t t = static_cast<size_t>(i / a.per_tenant);
    const int fd = openStream(app->port(), tenants[t].second);
    if (fd < 0) {
      std::fprintf(stderr, "could only open %d streams\n", i);
      break;
    }
    streams.push_back(Stream{fd, t, {}});
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - open_started).count();
  const long threads_open = statusField("Threads:");
  const long rss_open_kb = statusField("VmRSS:");

  // Idle cost: the host's CPU while every stream sits open (keep-alive comments included).
  const double cpu_idle_0 = cpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(a.idle_s));
  const double idle_cpu = cpuSeconds() - cpu_idle_0;

  int ep = epoll_create1(0);
  for (size_t i = 0; i < streams.size(); ++i) {
    timeval tv{0, 0};
    setsockopt(streams[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, streams[i].fd, &ev);
  }

  std::vector<double> all_ms;
  size_t missed = 0;
  std::printf("SSE streams: %zu open (%zu tenants), opened in %.2f s\n", streams.size(), tenants.size(),
              open_s);
  std::printf("  host threads  %ld before, %ld with the streams open\n", threads_before, threads_open);
  std::printf("  RSS           %.1f MB before, %.1f MB with the streams open (%.1f KB per stream)\n",
              rss_before_kb / 1024.0, rss_open_kb / 1024.0,
              streams.empty() ? 0.0 : static_cast<double>(rss_open_kb - rss_before_kb) / streams.size());
  std::printf("  idle CPU      %.3f s over %d s (%.2f %% of one core)\n", idle_cpu, a.idle_s,
              100.0 * idle_cpu / a.idle_s);
  for (int round = 0; round < a.rounds; ++round) {
    const std::string marker = "bench.tick" + std::to_string(round);
    std::vector<Clock::time_point> emitted(tenants.size());
    for (size_t t = 0; t < tenants.size(); ++t) {
      emitted[t] = Clock::now();
      if (!app->events().emit(tenants[t].first, "", marker, "{}").isOk()) return 1;
    }
    std::vector<double> ms;
    std::vector<bool> got(streams.size(), false);
    size_t remaining = streams.size();
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    epoll_event events[256];
    while (remaining > 0 && Clock::now() < deadline) {
      int n = epoll_wait(ep, events, 256, 100);
      for (int k = 0; k < n; ++k) {
        Stream& s = streams[events[k].data.u64];
        char buf[8192];
        ssize_t r;
        while ((r = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
          s.buffer.append(buf, static_cast<size_t>(r));
        const size_t idx = events[k].data.u64;
        if (!got[idx] && s.buffer.find("event: " + marker + "\n") != std::string::npos) {
          got[idx] = true;
          --remaining;
          ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - emitted[s.tenant]).count());
          s.buffer.clear();
        }
      }
    }
    missed += remaining;
    std::printf("  round %d       event to all streams: p50 %.1f ms  p99 %.1f ms  max %.1f ms  missed %zu\n",
                round + 1, percentile(ms, 0.5), percentile(ms, 0.99), ms.empty() ? 0.0 : percentile(ms, 1.0),
                remaining);
    all_ms.insert(all_ms.end(), ms.begin(), ms.end());
  }
  std::printf(
      "  all rounds    p50 %.1f ms  p99 %.1f ms  max %.1f ms  missed %zu (target: all within 100 ms)\n",
      percentile(all_ms, 0.5), percentile(all_ms, 0.99), all_ms.empty() ? 0.0 : percentile(all_ms, 1.0),
      missed);
  for (auto& s : streams)
    ::close(s.fd);
  ::close(ep);
  app->stop();
  app.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return missed == 0 ? 0 : 1;
}

// bench_webhook_intake: webhook intake throughput and latency.
//
// By default starts a host in-process (temp dir, SQLite file, the webhook_test plugin, a tenant) and fires
// correctly signed ~2 KB Stripe-shaped events from N keep-alive connections for a fixed duration: unique evt_
// ids, 5 % duplicates (an earlier event again) and 1 % bad signatures. Prints req/s, p50/p99/max latency,
// status counts, and checks that every event acked as new (200, duplicate:false) is stored.
//   bench_webhook_intake [--duration S] [--connections N] [--server-threads N] [--workers N] [--batch N]
//   bench_webhook_intake --url http://127.0.0.1:8080 --tenant T --secret S [--integration ID]   (remote host;
//                        no stored-row check)
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "app/app.h"
#include "config/config.h"
#include "http/server.h"
#include "ih/hmac.hpp"
#include "inbox/inbox.h"
#include "log/log.h"
#include "metrics/routes.h"
#include "store/inbox_store.h"
#include "store/store.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  double duration_s = 10;
  int connections = 64;
  int server_threads = 0;  // 0: connections + 8
  int workers = 2;
  std::string url;
  std::string tenant;
  std::string secret = "whsec_bench_secret_0123456789";
  std::string integration = "hooks";
};

Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--duration")
      a.duration_s = std::stod(next());
    else if (k == "--connections")
      a.connections = std::stoi(next());
    else if (k == "--server-threads")
      a.server_threads = std::stoi(next());
    else if (k == "--workers")
      a.workers = std::stoi(next());
    else if (k == "--url")
      a.url = next();
    else if (k == "--tenant")
      a.tenant = next();
    else if (k == "--secret")
      a.secret = next();
    else if (k == "--integration")
      a.integration = next();
    else {
      std::fprintf(
          stderr,
          "usage: bench_webhook_intake [--duration S] [--connections N] [--server-threads N] [--workers N]\n"
          "       [--url URL --tenant T --secret S [--integration ID]]\n");
      std::exit(2);
    }
  }
  return a;
}

int64_t unixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ~2 KB, shaped like a Stripe invoice.paid event.
std::string stripeEvent(const std::string& id) {
  static const std::string kLines = [] {
    std::string s;
    for (int i = 0; i < 12; ++i) {
      if (i) s += ",";
      s +=
          R"({"id":"il_1NqL)" + std::to_string(1000 + i) +
          R"j(","object":"line_item","amount":1999,"currency":"eur","description":"1 x Pro plan (at €19.99 / month)","period":{"start":1700000000,"end":1702592000}})j";
    }
    return s;
  }();
  return R"({"id":")" + id + R"(","object":"event","api_version":"2023-10-16","created":)" +
         std::to_string(unixSeconds()) + R"(,"data":{"object":{"id":"in_)" + id.substr(4) +
         R"(","object":"invoice","amount_paid":23988,"currency":"eur","customer":"cus_PpT3kq8mNx","status":"paid","lines":{"object":"list","data":[)" +
         kLines +
         R"(]}}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"invoice.paid"})";
}

std::string sign(const std::string& secret, const std::string& body) {
  const std::string t = std::to_string(unixSeconds());
  return "t=" + t + ",v1=" + ih::sdk::hmacSha256Hex(secret, t + "." + body);
}

struct ThreadStats {
  std::vector<double> latencies_ms;
  uint64_t ok = 0, non2xx = 0, errors = 0, duplicates_acked = 0, bad_sig_rejected = 0;
  std::vector<std::string> acked_new;
};

// In-process host: App (store, runtime, tenancy) + the inbox on its own server.
struct LocalHost {
  std::filesystem::path dir;
  std::unique_ptr<ih::app::App> app;
  std::unique_ptr<ih::inbox::Inbox> inbox;
  std::unique_ptr<ih::http::Server> server;
  std::string tenant;

  ~LocalHost() {
    if (server) server->stop();
    if (inbox) inbox->stop();
    inbox.reset();
    if (app) app->stop();
    app.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::unique_ptr<LocalHost> startLocal(const Args& a) {
  auto h = std::make_unique<LocalHost>();
  char tmpl[] = "/tmp/ih_bench_XXXXXX";
  h->dir = mkdtemp(tmpl);
  std::ofstream(h->dir / "ihost.toml")
      << "[server]\nlisten = \"127.0.0.1:0\"\nworker_threads = 4\n\n"
      << "[storage]\npath = \"ihost.db\"\n\n[vault]\nkey_file = \"vault.keys\"\n\n"
      << "[plugins]\ndir = \"" << IH_BENCH_PLUGIN_DIR << "\"\n\n"
      << "[log]\nlevel = \"warn\"\n\n"
      << "[integrations." << a.integration << "]\nplugin = \"webhook_test\"\n"
      << "webhook_secret = \"" << a.secret << "\"\nrecord_state = false\n";
  if (!ih::vault::initKeyFile((h->dir / "vault.keys").string()).isOk()) return nullptr;
  auto cfg = ih::config::loadFile((h->dir / "ihost.toml").string(), {});
  if (!cfg.isOk()) {
    std::fprintf(stderr, "config: %s\n", cfg.status().message().c_str());
    return nullptr;
  }
  auto app = ih::app::App::create(std::move(*cfg), {});
  if (!app.isOk()) {
    std::fprintf(stderr, "host: %s\n", app.status().message().c_str());
    return nullptr;
  }
  h->app = std::move(*app);
  if (!h->app->start().isOk()) return nullptr;
  auto tenant = h->app->tenancy().createTenant("bench");
  if (!tenant.isOk()) return nullptr;
  h->tenant = tenant->tenant.id;

  ih::inbox::Options options;
  options.workers = a.workers;
  h->inbox = std::make_unique<ih::inbox::Inbox>(h->app->store(), h->app->runtime(), options);
  ih::http::ServerOptions so;
  so.port = 0;
  // cpp-httplib keeps a pool thread per keep-alive connection: size the pool above the connection count.
  so.worker_threads = a.server_threads > 0 ? a.server_threads : a.connections + 8;
  h->server = std::make_unique<ih::http::Server>(so);
  h->inbox->registerRoutes(*h->server, h->app->tenancy());
  ih::metrics::registerRoutes(*h->server);
  if (!h->inbox->start().isOk() || !h->server->start().isOk()) return nullptr;
  return h;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parseArgs(argc, argv);
  ih::log::setLevel(ih::log::Level::kError);
  std::unique_ptr<LocalHost> local;
  std::string host = "127.0.0.1";
  int port = 0;
  if (a.url.empty()) {
    local = startLocal(a);
    if (!local) {
      std::fprintf(stderr, "could not start the in-process host (is %s built?)\n", IH_BENCH_PLUGIN_DIR);
      return 1;
    }
    port = local->server->port();
    a.tenant = local->tenant;
  } else {
    if (a.tenant.empty()) {
      std::fprintf(stderr, "--url needs --tenant and --secret\n");
      return 2;
    }
    std::string rest = a.url.substr(a.url.find("://") == std::string::npos ? 0 : a.url.find("://") + 3);
    host = rest.substr(0, rest.find(':'));
    port = std::stoi(rest.substr(rest.find(':') + 1));
  }
  const std::string path = "/webhooks/" + a.integration + "/" + a.tenant;

  std::vector<ThreadStats> stats(static_cast<size_t>(a.connections));
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  const auto duration = std::chrono::duration<double>(a.duration_s);
  Clock::time_point started;
  for (int t = 0; t < a.connections; ++t) {
    threads.emplace_back([&, t] {
      ThreadStats& s = stats[static_cast<size_t>(t)];
      s.latencies_ms.reserve(static_cast<size_t>(a.duration_s * 2000));
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_connection_timeout(5);
      client.set_read_timeout(30);
      std::mt19937 rng(static_cast<unsigned>(t * 7919 + 1));
      std::uniform_int_distribution<int> pct(0, 99);
      std::vector<std::string> recent;
      uint64_t n = 0;
      while (!go.load())
        std::this_thread::yield();
      const auto deadline = started + duration;
      while (Clock::now() < deadline) {
        int roll = pct(rng);
        std::string body, id;
        bool bad = false, dup = false;
        if (roll < 5 && !recent.empty()) {
          body = recent[static_cast<size_t>(rng()) % recent.size()];
          dup = true;
        } else {
          id = "evt_b" + std::to_string(t) + "x" + std::to_string(n++);
          body = stripeEvent(id);
          bad = roll == 5;
        }
        httplib::Headers headers = {{"X-Test-Signature", sign(bad ? "whsec_wrong" : a.secret, body)},
                                    {"User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}};
        auto t0 = Clock::now();
        auto res = client.Post(path.c_str(), headers, body, "application/json; charset=utf-8");
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        s.latencies_ms.push_back(ms);
        if (!res) {
          ++s.errors;
          continue;
        }
        if (res->status >= 200 && res->status < 300) {
          ++s.ok;
          if (res->body.find("\"duplicate\":true") != std::string::npos) {
            ++s.duplicates_acked;
          } else if (!dup) {
            s.acked_new.push_back(id);
            if (recent.size() < 64)
              recent.push_back(body);
            else
              recent[static_cast<size_t>(rng()) % recent.size()] = body;
          }
        } else {
          ++s.non2xx;
          if (bad && res->status == 400) ++s.bad_sig_rejected;
        }
      }
    });
  }
  started = Clock::now();
  go.store(true);
  for (auto& th : threads)
    th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

  ThreadStats total;
  for (auto& s : stats) {
    total.latencies_ms.insert(total.latencies_ms.end(), s.latencies_ms.begin(), s.latencies_ms.end());
    total.ok += s.ok;
    total.non2xx += s.non2xx;
    total.errors += s.errors;
    total.duplicates_acked += s.duplicates_acked;
    total.bad_sig_rejected += s.bad_sig_rejected;
    total.acked_new.insert(total.acked_new.end(), s.acked_new.begin(), s.acked_new.end());
  }
  const double requests = static_cast<double>(total.latencies_ms.size());
  std::vector<double> lat = total.latencies_ms;
  const double p50 = percentile(lat, 0.50), p99 = percentile(lat, 0.99);
  const double max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  std::printf("webhook intake: %d connections, %.1f s, %s\n", a.connections, elapsed,
              a.url.empty() ? "in-process host" : a.url.c_str());
  std::printf("  requests      %.0f  (%.0f req/s)\n", requests, requests / elapsed);
  std::printf("  latency ms    p50 %.2f  p99 %.2f  max %.2f\n", p50, p99, max);
  std::printf(
      "  2xx %llu (new %zu, duplicate %llu)  non-2xx %llu (bad signature 400: %llu)  transport errors %llu\n",
      static_cast<unsigned long long>(total.ok), total.acked_new.size(),
      static_cast<unsigned long long>(total.duplicates_acked), static_cast<unsigned long long>(total.non2xx),
      static_cast<unsigned long long>(total.bad_sig_rejected), static_cast<unsigned long long>(total.errors));

  int rc = 0;
  if (local) {
    // Every event acked as new must be stored.
    ih::store::InboxStore events(local->app->store());
    std::unordered_set<std::string> stored;
    ih::store::InboxFilter filter;
    filter.limit = 500;
    for (;;) {
      auto page = events.adminList(filter);
      if (!page.isOk() || page->empty()) break;
      for (auto& e : *page)
        stored.insert(e.event_id);
      filter.before_id = page->back().id;
    }
    size_t missing = 0;
    for (const auto& id : total.acked_new)
      missing += stored.count(id) ? 0 : 1;
    auto backlog = events.backlog();
    std::printf("  stored rows   %zu; acked new events missing: %zu; dispatch backlog at end: %lld\n",
                stored.size(), missing, static_cast<long long>(backlog.isOk() ? *backlog : -1));
    if (missing > 0) rc = 1;
  }
  return rc;
}

// The outbound rate budget: token bucket timing, 429 back-off and recovery, and its use by Client::send.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "outbound/client.h"
#include "outbound/rate_budget.h"

using ih::outbound::RateBudget;
using namespace std::chrono_literals;

TEST_CASE("rate budget: N requests at 5/s take at least (N-5)/5 s", "[scheduler][rate_budget]") {
  RateBudget budget;
  constexpr int kRequests = 15;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kRequests; ++i)
    budget.acquire("tenant_a/stripe", 5);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "rate budget: " << kRequests << " requests at 5/s took " << seconds << " s ("
            << kRequests / seconds << " req/s; 1 s burst, then 5/s)\n";
  CHECK(seconds >= (kRequests - 5) / 5.0 * 0.9);  // loose lower bound only

  // Another key has its own bucket: no wait.
  auto other = std::chrono::steady_clock::now();
  budget.acquire("tenant_b/stripe", 5);
  CHECK(std::chrono::steady_clock::now() - other < 50ms);
}

TEST_CASE("rate budget: a 429 halves the rate, which recovers gradually", "[scheduler][rate_budget]") {
  RateBudget::Options options;
  options.recovery = 400ms;
  RateBudget budget(options);
  budget.acquire("t/stripe", 20);
  CHECK(budget.currentRate("t/stripe") == Approx(20));
  budget.onRateLimited("t/stripe");
  CHECK(budget.currentRate("t/stripe") == Approx(10).margin(0.5));
  budget.onRateLimited("t/stripe");
  CHECK(budget.currentRate("t/stripe") < 6);
  std::this_thread::sleep_for(200ms);
  double halfway = budget.currentRate("t/stripe");
  CHECK(halfway > 6);
  CHECK(halfway < 20);
  std::this_thread::sleep_for(300ms);
  CHECK(budget.currentRate("t/stripe") == Approx(20));
}

TEST_CASE("rate budget: the wait is bounded", "[scheduler][rate_budget]") {
  RateBudget::Options options;
  options.max_wait = 100ms;
  RateBudget budget(options);
  budget.acquire("k", 1);  // the burst token
  auto started = std::chrono::steady_clock::now();
  auto waited = budget.acquire("k", 0.01);  // next token due in 100 s
  CHECK(waited <= 100ms);
  CHECK(std::chrono::steady_clock::now() - started < 500ms);
}

TEST_CASE("rate budget: shared between replicas, each take asks the shared bucket with the effective rate",
          "[scheduler][rate_budget]") {
  RateBudget::Options options;
  options.max_wait = 150ms;
  RateBudget budget(options);
  std::vector<std::pair<std::string, double>> asked;
  double answer = 0;
  bool reachable = true;
  budget.share([&](std::string_view key, double rate) -> std::optional<double> {
    asked.emplace_back(std::string(key), rate);
    if (!reachable) return std::nullopt;
    return answer;
  });
  CHECK(budget.acquire("t/stripe", 20) == 0ms);
  budget.onRateLimited("t/stripe");  // a 429 seen here: this replica asks for half the rate
  answer = 5.0;                      // the shared bucket says: wait 5 s; bounded by max_wait
  const auto started = std::chrono::steady_clock::now();
  CHECK(budget.acquire("t/stripe", 20) == 150ms);
  CHECK(std::chrono::steady_clock::now() - started >= 150ms);
  REQUIRE(asked.size() == 2);
  CHECK(asked[0] == std::pair<std::string, double>("t/stripe", 20));
  CHECK(asked[1].second == Approx(10).margin(0.5));
  // Unreachable: this replica's own bucket (a fresh burst) serves instead of failing the request.
  reachable = false;
  CHECK(budget.acquire("t/other", 5) == 0ms);
  CHECK(asked.size() == 3);
}

TEST_CASE("rate budget: Client::send takes tokens per budget key and backs off on 429",
          "[scheduler][rate_budget]") {
  httplib::Server server;
  std::atomic<int> hits{0};
  server.Get("/limited", [&](const httplib::Request&, httplib::Response& res) {
    hits++;
    res.status = 429;
    res.set_content("{}", "application/json");
  });
  server.Get("/ok", [&](const httplib::Request&, httplib::Response& res) {
    hits++;
    res.set_content("{}", "application/json");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(5));

  ih::outbound::ClientOptions options;  // the test server listens on loopback
  options.network = ih::outbound::NetworkPolicy::allowAll();
  ih::outbound::Client client(options);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  ih::outbound::Request limited;
  limited.url = base + "/limited";
  limited.max_attempts = 1;
  limited.budget_key = "tenant_a/example";
  limited.rate_limit_per_s = 40;
  auto res = client.send(limited);
  REQUIRE(res.isOk());
  CHECK(res->status == 429);
  CHECK(client.budget().currentRate("tenant_a/example") == Approx(20).margin(1));

  // 10 calls at 10/s without 429s: the first ten are the burst; the 11th waits ~0.1 s.
  ih::outbound::Request ok;
  ok.url = base + "/ok";
  ok.budget_key = "tenant_b/example";
  ok.rate_limit_per_s = 10;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 15; ++i)
    REQUIRE(client.send(ok).isOk());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "rate budget via Client: 15 GETs at 10/s took " << seconds << " s\n";
  CHECK(seconds >= 0.4);

  // Live Stripe keys default to 100/s, test keys to 25/s.
  ih::outbound::Request live = ok;
  live.budget_key = "tenant_c/stripe";
  live.rate_limit_per_s = 0;
  live.headers = {{"Authorization", "Bearer sk_live_abc"}};
  REQUIRE(client.send(live).isOk());
  CHECK(client.budget().currentRate("tenant_c/stripe") == Approx(100));

  server.stop();
  thread.join();
}

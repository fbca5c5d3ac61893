// stripe-double: the Stripe test double as a standalone process. Prints {"url":"http://127.0.0.1:N"} on
// stdout once listening; SIGINT/SIGTERM stop it cleanly.
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "stripe_double/stripe_double.h"

namespace {

// A whole decimal int (std::from_chars: no leading spaces, '+' or trailing characters).
bool parseInt(const std::string& text, int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

void usage() {
  std::cerr
      << "usage: stripe-double [--port N] [--host H] [--seed-key sk_test_...]... [--webhook-delay-ms N]\n"
         "                     [--webhook-retry-ms a,b,c] [--client-id ca_...] [--redirect-uri URL]\n"
         "                     [--api-version V] [--threads N] [--seed-transactions N]\n"
         "  --seed-transactions N  N synthetic charges (balance transactions) on the first seeded key's "
         "account,\n"
         "                         spread over the last 30 days with amounts varying by day (0..100000)\n";
}

}  // namespace

int main(int argc, char** argv) {
  ih::stripe_double::Options options;
  int seed_transactions = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    auto intValue = [&](int& out) {
      const std::string text = value();
      if (parseInt(text, out)) return true;
      std::cerr << "invalid value for " << arg << "\n";
      return false;
    };
    if (arg == "--port") {
      if (!intValue(options.port)) return 2;
    } else if (arg == "--host") {
      options.host = value();
    } else if (arg == "--seed-key") {
      options.api_keys.push_back(value());
    } else if (arg == "--webhook-delay-ms") {
      if (!intValue(options.webhook_delay_ms)) return 2;
    } else if (arg == "--webhook-retry-ms") {
      options.webhook_retry_delays_ms.clear();
      std::string list = value();
      size_t p = 0;
      while (p < list.size()) {
        size_t n = list.find(',', p);
        if (n == std::string::npos) n = list.size();
        int delay = 0;
        if (!parseInt(list.substr(p, n - p), delay)) {
          std::cerr << "invalid value for " << arg << "\n";
          return 2;
        }
        options.webhook_retry_delays_ms.push_back(delay);
        p = n + 1;
      }
    } else if (arg == "--client-id") {
      options.platform_client_id = value();
    } else if (arg == "--redirect-uri") {
      options.oauth_redirect_uri = value();
    } else if (arg == "--api-version") {
      options.api_version = value();
    } else if (arg == "--threads") {
      if (!intValue(options.threads)) return 2;
    } else if (arg == "--seed-transactions") {
      if (!intValue(seed_transactions)) return 2;
      if (seed_transactions < 0 || seed_transactions > 100000) {
        std::cerr << "--seed-transactions must be 0..100000\n";
        return 2;
      }
    } else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else {
      std::cerr << "unknown argument: " << arg << "\n";
      usage();
      return 2;
    }
  }

  // Block the stop signals before any thread starts so only sigwait() sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto started = ih::stripe_double::StripeDouble::start(options);
  if (!started.isOk()) {
    std::cerr << "stripe-double: " << started.status().toString() << "\n";
    return 1;
  }
  auto server = std::move(started).value();
  // History for dashboards: one block per day of the last 30, each day's amount different.
  constexpr int64_t kDays = 30, kDay = 86400;
  for (int64_t day = 0; day < kDays && seed_transactions > 0; ++day) {
    ih::stripe_double::SeedOptions seed;
    seed.count = seed_transactions / kDays + (day < seed_transactions % kDays ? 1 : 0);
    if (seed.count == 0) continue;
    seed.start = server->now() - (kDays - day) * kDay + 3600;
    seed.spacing_s = (kDay - 7200) / seed.count;
    seed.amount = 1500 + ((day * 37) % 17) * 350;
    if (auto seeded = server->seedBalanceTransactions(seed); !seeded.isOk()) {
      std::cerr << "stripe-double: " << seeded.status().toString() << "\n";
      return 1;
    }
  }
  std::cout << "{\"url\":\"" << server->url() << "\"}" << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  server->stop();
  return 0;
}

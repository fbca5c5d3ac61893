// bench_webhook_intake: webhook intake throughput and latency.
//
// By default starts a host in-process (temp dir, SQLite file, the webhook_test plugin, a tenant) and fires
// correctly signed ~2 KB Stripe-shaped events from N keep-alive connections for a fixed duration: unique evt_
// ids, 5 % duplicates (an earlier event again) and 1 % bad signatures. Prints req/s, p50/p99/max latency,
// status counts, the CPU the client used, and checks that every event acked as new (200, duplicate:false) is
// stored.
//
// The client is lean on purpose (it shares the machine with the host): one epoll thread drives all
// connections with raw HTTP/1.1 keep-alive requests (one in flight per connection), the signature timestamp
// changes once per second and the HMAC key is set up once.
//   bench_webhook_intake [--duration S] [--connections N] [--client-threads N] [--server-threads N]
//                        [--workers N] [--client-process [--client-cpus LIST]]
//     --floor            post to /healthz instead (answered 405 by the router): HTTP and client cost alone
//     --synchronous M    [storage] synchronous of the host: full (default: durable on power loss) or normal
//     --postgres URL     the host on PostgreSQL ([storage] backend = "postgres", url = URL: an empty database or
//                        schema, e.g. one of scripts/pg-cluster.sh start DIR --durable)
//     --replicas N       (with --postgres and stripe_byok) N hosts in this process on the one database, as N
//                        `ihost serve` replicas (each its own replica_id, the first one's key ring); the
//                        client's connections are spread over them; the checks read the shared database
//     --dir DIR          parent of the host's temporary data directory (default /tmp; /dev/shm takes the disk
//                        out, for comparing CPU per event between builds)
//     --client-process   run the client as a second process (this binary with --url), optionally pinned
//                        with `taskset -c LIST`; the host stays in this process and checks the stored rows.
//     --plugin stripe_byok  the path users run: the real Stripe BYOK plugin, --tenants N (default 8) tenants
//                        each connected through POST /api/integrations/stripe/connect (against a Stripe double
//                        started in this process) with its own webhook signing secret, sealed in the vault;
//                        ~2.7 KB pretty-printed invoice.paid / payment_intent.succeeded events signed with
//                        Stripe-Signature. After the run it waits for dispatch to drain and checks that every
//                        event acked as new was stored AND processed (one invoice or payment record each).
//     --setting LINE     (stripe_byok, repeatable) a TOML line added to [integrations.stripe], e.g.
//                        --setting 'emit_webhook_received = false' (one event per webhook instead of two)
//     --isolated         the plugin runs out of process ([plugins] isolation = "process": an ihost
//                        plugin-runner per integration, every call and host service over its socket)
//     --write-requests FILE --serve S [--requests N]   (stripe_byok) instead of the built-in client: writes N
//                        (default 300000) pre-signed requests, same mix, for wrk and bench/wrk_webhooks.lua,
//                        serves for S seconds, then checks that every stored event was processed:
//          IH_WRK_REQUESTS=FILE IH_WRK_THREADS=2 wrk -t2 -c64 -d30s -s bench/wrk_webhooks.lua http://127.0.0.1:PORT
//   bench_webhook_intake --url http://127.0.0.1:8080 --tenant T --secret S [--integration ID]
//                        [--acked-out FILE]   (remote host; no stored-row check, FILE gets the acked ids)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "app/app.h"
#include "bench_host.h"
#include "common/text.h"
#include "log/log.h"
#include "store/db.h"
#include "store/inbox_store.h"
#include "store/store.h"
#include "stripe_double/stripe_double.h"
#include "tenancy/tenancy.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  double duration_s = 10;
  int connections = 64;
  int client_threads = 1;
  int server_threads = 0;  // 0: [server] worker_threads default
  int workers = 4;         // [inbox] workers
  bool client_process = false;
  bool floor = false;  // post to /healthz instead (405 from the router): the HTTP + client cost alone
  std::string client_cpus;
  std::string url;
  std::string tenant;
  std::string secret = "whsec_bench_secret_0123456789";
  std::string integration = "hooks";
  std::string acked_out;
  std::string dir = "/tmp";             // parent of the host's data directory (/dev/shm takes the disk out)
  std::string synchronous = "full";     // [storage] synchronous
  std::string postgres;                 // --postgres URL: [storage] backend = "postgres" (an empty database)
  int replicas = 1;                     // --replicas N: N hosts on the --postgres database
  std::string plugin = "webhook_test";  // or "stripe_byok"
  bool isolated = false;                // --isolated
  int tenants = 8;                      // stripe_byok: tenants, each with its own signing secret
  std::string write_requests;           // stripe_byok: pre-signed requests for wrk (bench/wrk_webhooks.lua)
  int64_t requests = 300000;            // how many to write
  double serve_s = 0;                   // serve this long instead of running the built-in client
  // [log] level: "info", as users run it, writes the access log (to stderr: redirect it to a file).
  std::string log_level = "info";
  std::vector<std::string> settings;  // --setting: lines of [integrations.stripe]
};

bool stripeMode(const Args& a) {
  return a.plugin == "stripe_byok";
}

// Where a connection posts, and the secret its events are signed with.
struct Target {
  std::string path;
  std::string secret;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: bench_webhook_intake [--duration S] [--connections N] [--client-threads N]\n"
               "       [--server-threads N] [--workers N] [--floor] [--dir DIR] [--synchronous full|normal]\n"
               "       [--postgres URL [--replicas N]]\n"
               "       [--client-process [--client-cpus LIST]] [--plugin webhook_test|stripe_byok]\n"
               "       [--isolated]\n"
               "       [--tenants N] [--setting LINE] [--write-requests FILE [--requests N] --serve S] "
               "[--log-level L]\n"
               "       [--url URL --tenant T --secret S [--integration ID] [--acked-out FILE]]\n");
  std::exit(2);
}

using ih::bench::intFlag;

// A flag's number of seconds (> 0, at most a day), or exit 2 naming the flag.
double secondsFlag(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (errno == 0 && end != text.c_str() && *end == '\0' && v > 0 && v <= 86400) return v;
  std::fprintf(stderr, "%s: expected seconds (0 < s <= 86400), got \"%s\"\n", flag.c_str(), text.c_str());
  std::exit(2);
}

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
      a.duration_s = secondsFlag(k, next());
    else if (k == "--connections")
      a.connections = static_cast<int>(intFlag(k, next(), 1, 100000));
    else if (k == "--client-threads")
      a.client_threads = static_cast<int>(intFlag(k, next(), 1, 1024));
    else if (k == "--server-threads")
      a.server_threads = static_cast<int>(intFlag(k, next(), 1, 1024));
    else if (k == "--workers")
      a.workers = static_cast<int>(intFlag(k, next(), 0, 1024));
    else if (k == "--dir")
      a.dir = next();
    else if (k == "--synchronous")
      a.synchronous = next();
    else if (k == "--postgres")
      a.postgres = next();
    else if (k == "--replicas")
      a.replicas = static_cast<int>(intFlag(k, next(), 1, 16));
    else if (k == "--setting")
      a.settings.push_back(next());
    else if (k == "--log-level")
      a.log_level = next();
    else if (k == "--client-process")
      a.client_process = true;
    else if (k == "--floor")
      a.floor = true;
    else if (k == "--client-cpus")
      a.client_cpus = next();
    else if (k == "--url")
      a.url = next();
    else if (k == "--tenant")
      a.tenant = next();
    else if (k == "--secret")
      a.secret = next();
    else if (k == "--integration")
      a.integration = next();
    else if (k == "--acked-out")
      a.acked_out = next();
    else if (k == "--plugin")
      a.plugin = next();
    else if (k == "--isolated")
      a.isolated = true;
    else if (k == "--tenants")
      a.tenants = static_cast<int>(intFlag(k, next(), 1, 100000));
    else if (k == "--write-requests")
      a.write_requests = next();
    else if (k == "--requests")
      a.requests = intFlag(k, next(), 1, int64_t{1} << 40);
    else if (k == "--serve")
      a.serve_s = secondsFlag(k, next());
    else
      usage();
  }
  a.client_threads = std::clamp(a.client_threads, 1, std::max(1, a.connections));
  return a;
}

int64_t unixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double cpuSeconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ~2 KB, shaped like a Stripe invoice.paid event; written into `out` (its capacity is reused). The line items
// carry random ids like real ones, so the payload compresses about as well as Stripe's own example objects
// (~2.3x with zstd -1; see stripe-openapi fixtures), not better.
void stripeEvent(std::string& out, std::string_view id, int64_t created) {
  static const std::string kLines = [] {
    std::mt19937_64 rng(42);
    auto rid = [&](const char* prefix) {
      static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
      std::string s = prefix;
      for (int i = 0; i < 24; ++i)
        s += kAlphabet[rng() % 62];
      return s;
    };
    std::string s;
    for (int i = 0; i < 5; ++i) {
      if (i) s += ",";
      const int amount = 500 + static_cast<int>(rng() % 9000);
      s += R"({"id":")" + rid("il_") + R"(","object":"line_item","amount":)" + std::to_string(amount) +
           R"(,"currency":"eur","description":"1 x Plan )" + std::to_string(i) + R"(","invoice_item":")" +
           rid("ii_") + R"(","price":{"id":")" + rid("price_") + R"(","product":")" + rid("prod_") +
           R"(","unit_amount":)" + std::to_string(amount) + R"(},"period":{"start":)" +
           std::to_string(1700000000 + rng() % 86400) + R"(,"end":)" +
           std::to_string(1702592000 + rng() % 86400) + R"(},"quantity":1})";
    }
    return s;
  }();
  out.clear();
  out += R"({"id":")";
  out += id;
  out += R"(","object":"event","api_version":"2023-10-16","created":)";
  out += std::to_string(created);
  out += R"(,"data":{"object":{"id":"in_)";
  out += id.substr(4);
  out +=
      R"(","object":"invoice","amount_paid":23988,"currency":"eur","customer":"cus_PpT3kq8mNx","status":"paid","lines":{"object":"list","data":[)";
  out += kLines;
  out +=
      R"(]}}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"invoice.paid"})";
}

// Stripe's own shape for the stripe_byok mode: events as Stripe sends them (pretty-printed with two spaces,
// Stripe's key order), an invoice.paid (~2.9 KB) or a payment_intent.succeeded (~2.4 KB). Rendered once into
// pieces around three placeholders; a request only concatenates.
class StripeEvents {
 public:
  StripeEvents() {
    invoice_ = split(render(true), markers_[0]);
    intent_ = split(render(false), markers_[1]);
  }
  // `id` is "evt_…": the object id reuses its suffix, so every new event is about a new object.
  void build(std::string& out, bool invoice, std::string_view id, int64_t created) const {
    const std::vector<std::string>& pieces = invoice ? invoice_ : intent_;
    const std::string created_text = std::to_string(created);
    out.clear();
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i > 0) {
        const char kind = markers_[invoice ? 0 : 1][i - 1];
        if (kind == 'E') out += id;
        if (kind == 'O') out += id.substr(4);
        if (kind == 'C') out += created_text;
      }
      out += pieces[i];
    }
  }

 private:
  static std::string render(bool invoice) {
    using J = nlohmann::ordered_json;
    J object;
    if (invoice) {
      J lines = J::array();
      for (int i = 0; i < 2; ++i) {
        lines.push_back(J{{"id", "il_1Ox@@O@@" + std::to_string(i)},
                          {"object", "line_item"},
                          {"amount", 11994},
                          {"amount_excluding_tax", 11994},
                          {"currency", "eur"},
                          {"description", "1 × Pro (at €119.94 / year)"},
                          {"discount_amounts", J::array()},
                          {"discountable", true},
                          {"discounts", J::array()},
                          {"invoice", "in_@@O@@"},
                          {"livemode", false},
                          {"metadata", J::object()},
                          {"period", {{"end", 1735603200}, {"start", 1704067200}}},
                          {"plan",
                           {{"id", "price_1OxPro"},
                            {"object", "plan"},
                            {"active", true},
                            {"amount", 11994},
                            {"currency", "eur"},
                            {"interval", "year"},
                            {"product", "prod_PmPro"}}},
                          {"proration", false},
                          {"quantity", 1},
                          {"type", "subscription"}});
      }
      object = J{{"id", "in_@@O@@"},
                 {"object", "invoice"},
                 {"account_country", "DE"},
                 {"account_name", "Acme Shows GmbH"},
                 {"amount_due", 23988},
                 {"amount_paid", 23988},
                 {"amount_remaining", 0},
                 {"attempt_count", 1},
                 {"attempted", true},
                 {"billing_reason", "subscription_cycle"},
                 {"collection_method", "charge_automatically"},
                 {"created", "@@C@@"},
                 {"currency", "eur"},
                 {"customer", "cus_PpT3kq8mNx"},
                 {"customer_email", "jenny.rosen@example.com"},
                 {"customer_name", "Jenny Rosen"},
                 {"hosted_invoice_url", "https://invoice.stripe.com/i/acct_1Ox/test_@@O@@"},
                 {"invoice_pdf", "https://pay.stripe.com/invoice/acct_1Ox/test_@@O@@/pdf"},
                 {"lines",
                  {{"object", "list"},
                   {"data", lines},
                   {"has_more", false},
                   {"total_count", 2},
                   {"url", "/v1/invoices/in_@@O@@/lines"}}},
                 {"livemode", false},
                 {"metadata", {{"ihost_ref", "show-2024-spring"}, {"ihost_buyer", "buyer-42"}}},
                 {"number", "ACME-0042"},
                 {"paid", true},
                 {"period_end", "@@C@@"},
                 {"period_start", 1704067200},
                 {"status", "paid"},
                 {"status_transitions", {{"finalized_at", "@@C@@"}, {"paid_at", "@@C@@"}}},
                 {"subscription", "sub_1OxPro"},
                 {"subtotal", 23988},
                 {"total", 23988}};
    } else {
      object = J{{"id", "pi_@@O@@"},
                 {"object", "payment_intent"},
                 {"amount", 99900},
                 {"amount_capturable", 0},
                 {"amount_received", 99900},
                 {"capture_method", "automatic"},
                 {"client_secret", "pi_@@O@@_secret_f3RtYu8Kx"},
                 {"confirmation_method", "automatic"},
                 {"created", "@@C@@"},
                 {"currency", "usd"},
                 {"customer", "cus_PpT3kq8mNx"},
                 {"description", "Compliance Pack"},
                 {"last_payment_error", nullptr},
                 {"latest_charge", "ch_@@O@@"},
                 {"livemode", false},
                 {"metadata", {{"ihost_ref", "order-7731"}}},
                 {"payment_method", "pm_1OxCardVisa"},
                 {"payment_method_options",
                  {{"card", {{"installments", nullptr}, {"request_three_d_secure", "automatic"}}}}},
                 {"payment_method_types", J::array({"card"})},
                 {"receipt_email", "jenny.rosen@example.com"},
                 {"status", "succeeded"}};
    }
    J event = {{"id", "@@E@@"},
               {"object", "event"},
               {"api_version", "2024-06-20"},
               {"created", "@@C@@"},
               {"data", {{"object", object}}},
               {"livemode", false},
               {"pending_webhooks", 1},
               {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
               {"type", invoice ? "invoice.paid" : "payment_intent.succeeded"}};
    std::string text = event.dump(2);
    // "created" and its kin are numbers: drop the quotes the placeholder needed.
    for (size_t at; (at = text.find("\"@@C@@\"")) != std::string::npos;)
      text.replace(at, 7, "@@C@@");
    return text;
  }
  // The text around each "@@X@@"; `kinds` gets each X in order.
  static std::vector<std::string> split(const std::string& text, std::string& kinds) {
    std::vector<std::string> pieces;
    size_t start = 0;
    for (;;) {
      size_t at = text.find("@@", start);
      if (at == std::string::npos) break;
      pieces.push_back(text.substr(start, at - start));
      kinds.push_back(text[at + 2]);
      start = at + 5;  // "@@X@@"
    }
    pieces.push_back(text.substr(start));
    return pieces;
  }

  std::string
      markers_[2];  // per kind (invoice, intent): the placeholder letter before each piece but the first
  std::vector<std::string> invoice_, intent_;
};

// HMAC-SHA256 with the key set up once (EVP_MAC_init with a null key reuses it). One per client thread.
class Signer {
 public:
  Signer(const std::string& good, const std::string& bad) : good_(make(good)), bad_(make(bad)) {}
  ~Signer() {
    EVP_MAC_CTX_free(good_);
    EVP_MAC_CTX_free(bad_);
    EVP_MAC_free(mac_);
  }
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Appends "t=<t>,v1=<hex>" for "<t>.<body>".
  void sign(std::string& out, bool bad, std::string_view t, std::string_view body) {
    EVP_MAC_CTX* ctx = bad ? bad_ : good_;
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t len = 0;
    EVP_MAC_init(ctx, nullptr, 0, nullptr);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(t.data()), t.size());
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>("."), 1);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    EVP_MAC_final(ctx, digest, &len, sizeof digest);
    static const char* const kHex = "0123456789abcdef";
    out += "t=";
    out += t;
    out += ",v1=";
    for (size_t i = 0; i < len; ++i) {
      out.push_back(kHex[digest[i] >> 4]);
      out.push_back(kHex[digest[i] & 0xF]);
    }
  }

 private:
  EVP_MAC_CTX* make(const std::string& key) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);
    return ctx;
  }
  EVP_MAC* mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* good_;
  EVP_MAC_CTX* bad_;
};

struct ThreadStats {
  std::vector<double> latencies_ms;
  uint64_t ok = 0, non2xx = 0, errors = 0, duplicates_acked = 0, bad_sig_rejected = 0;
  std::vector<std::string> acked_new;
  double cpu_s = 0;
};

// One keep-alive connection with at most one request in flight.
struct Conn {
  int fd = -1;
  std::string out;  // the request being sent
  size_t sent = 0;
  std::string in;  // the response being read
  Clock::time_point t0;
  std::string id, body;
  bool dup = false, bad = false, close_after = false;
  std::vector<std::string> recent;  // bodies acked as new, resent as duplicates
  uint64_t n = 0;
};

int connectTo(const sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Parses a complete response in `in`: false while incomplete.
bool responseComplete(const std::string& in, int& status, std::string_view& body, bool& close_after) {
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  if (in.size() < 12) return false;
  status = static_cast<int>(ih::parseInt64InRange(std::string_view(in).substr(9, 3), 100, 599).value_or(0));
  size_t length = 0;
  close_after = false;
  size_t line = in.find("\r\n") + 2;
  while (line < end) {
    size_t eol = in.find("\r\n", line);
    std::string_view h(in.data() + line, eol - line);
    auto starts = [&h](std::string_view name) {
      if (h.size() <= name.size() || h[name.size()] != ':') return false;
      for (size_t i = 0; i < name.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(h[i])) != name[i]) return false;
      return true;
    };
    if (starts("content-length")) length = std::strtoul(h.data() + 15, nullptr, 10);
    if (starts("connection") && h.find("close") != std::string_view::npos) close_after = true;
    line = eol + 2;
  }
  if (in.size() < end + 4 + length) return false;
  body = std::string_view(in).substr(end + 4, length);
  return true;
}

// Connection i of all posts to targets[i % targets.size()].
// Connection i of all connects to addrs[i % addrs.size()] (replicas).
void runClientThread(const Args& a, const std::vector<sockaddr_in>& addrs, const std::vector<Target>& targets,
                     int first, int count, Clock::time_point deadline, ThreadStats& s) {
  s.latencies_ms.reserve(static_cast<size_t>(a.duration_s * 40000 / a.client_threads));
  const bool stripe = stripeMode(a);
  static const StripeEvents kStripeEvents;
  std::vector<std::unique_ptr<Signer>> signers;
  std::vector<std::string> head_prefixes;
  for (const Target& target : targets) {
    signers.push_back(std::make_unique<Signer>(target.secret, "whsec_wrong"));
    head_prefixes.push_back("POST " + target.path +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
                            "Content-Type: application/json; charset=utf-8\r\n" +
                            (stripe ? "Stripe-Signature: " : "X-Test-Signature: "));
  }
  std::mt19937 rng(static_cast<unsigned>(first * 7919 + 1));
  std::uniform_int_distribution<int> pct(0, 99);
  int64_t t_now = unixSeconds();
  std::string t_text = std::to_string(t_now);

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> conns(static_cast<size_t>(count));
  int live = 0;

  auto arm = [&](Conn& c, size_t index, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = index;
    epoll_ctl(ep, op, c.fd, &ev);
  };
  auto finish = [&](Conn& c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    --live;
  };
  // Builds and starts the next request of `c`; false when the run is over (the connection is closed).
  auto next = [&](Conn& c, size_t index) -> bool {
    const auto now = Clock::now();
    if (now >= deadline) {
      finish(c);
      return false;
    }
    if (const int64_t secs = unixSeconds(); secs != t_now) {
      t_now = secs;
      t_text = std::to_string(t_now);
    }
    const int roll = pct(rng);
    c.dup = false;
    c.bad = false;
    if (roll < 5 && !c.recent.empty()) {
      c.body = c.recent[static_cast<size_t>(rng()) % c.recent.size()];
      c.dup = true;
    } else {
      c.id = "evt_b" + std::to_string(first + static_cast<int>(index)) + "x" + std::to_string(c.n++);
      if (stripe) {
        kStripeEvents.build(c.body, c.n % 2 == 0, c.id, t_now);
      } else {
        stripeEvent(c.body, c.id, t_now);
      }
      c.bad = roll == 5;
    }
    const size_t target = static_cast<size_t>(first + static_cast<int>(index)) % targets.size();
    c.out.assign(head_prefixes[target]);
    signers[target]->sign(c.out, c.bad, t_text, c.body);
    c.out += "\r\nContent-Length: ";
    c.out += std::to_string(c.body.size());
    c.out += "\r\n\r\n";
    c.out += c.body;
    c.sent = 0;
    c.in.clear();
    c.t0 = now;
    ssize_t w = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (w > 0) c.sent = static_cast<size_t>(w);
    if (c.sent < c.out.size()) arm(c, index, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
    return true;
  };

  for (int i = 0; i < count; ++i) {
    Conn& c = conns[static_cast<size_t>(i)];
    c.fd = connectTo(addrs[static_cast<size_t>(first + i) % addrs.size()]);
    if (c.fd < 0) {
      ++s.errors;
      continue;
    }
    ++live;
    arm(c, static_cast<size_t>(i), EPOLLIN, EPOLL_CTL_ADD);
    next(c, static_cast<size_t>(i));
  }

  std::vector<epoll_event> events(static_cast<size_t>(std::max(count, 1)));
  char buf[16384];
  while (live > 0) {
    const int ready = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0 && Clock::now() > deadline + std::chrono::seconds(30)) break;  // a stuck host
    for (int e = 0; e < ready; ++e) {
      const size_t index = events[static_cast<size_t>(e)].data.u64;
      Conn& c = conns[index];
      if (c.fd < 0) continue;
      const uint32_t what = events[static_cast<size_t>(e)].events;
      if ((what & EPOLLOUT) && c.sent < c.out.size()) {
        ssize_t w = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (w > 0) c.sent += static_cast<size_t>(w);
        if (c.sent == c.out.size()) arm(c, index, EPOLLIN, EPOLL_CTL_MOD);
      }
      if (!(what & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = recv(c.fd, buf, sizeof buf, 0);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        ++s.errors;  // the host closed the connection mid-request
        s.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c.t0).count());
        finish(c);
        continue;
      }
      c.in.append(buf, static_cast<size_t>(r));
      int status = 0;
      std::string_view body;
      if (!responseComplete(c.in, status, body, c.close_after)) continue;
      s.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c.t0).count());
      if (status >= 200 && status < 300) {
        ++s.ok;
        if (body.find("\"duplicate\":true") != std::string_view::npos) {
          ++s.duplicates_acked;
        } else if (!c.dup) {
          s.acked_new.push_back(c.id);
          if (c.recent.size() < 64)
            c.recent.push_back(c.body);
          else
            c.recent[static_cast<size_t>(rng()) % c.recent.size()] = c.body;
        }
      } else {
        ++s.non2xx;
        if (c.bad && status == 400) ++s.bad_sig_rejected;
      }
      if (c.close_after) {  // the host ended keep-alive: reconnect
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.fd = connectTo(addrs[(static_cast<size_t>(first) + index) % addrs.size()]);
        if (c.fd < 0) {
          ++s.errors;
          --live;
          continue;
        }
        arm(c, index, EPOLLIN, EPOLL_CTL_ADD);
      }
      next(c, index);
    }
  }
  for (Conn& c : conns)
    if (c.fd >= 0) close(c.fd);
  close(ep);
  s.cpu_s = cpuSeconds(RUSAGE_THREAD);
}

// In-process host: the App as `ihost serve` runs it (its server, routes, inbox and dispatch workers),
// configured by a generated ihost.toml.
struct LocalHost {
  std::filesystem::path dir;
  std::unique_ptr<ih::stripe_double::StripeDouble> stripe;  // stripe_byok: answers connect's key check
  std::unique_ptr<ih::app::App> app;
  std::vector<std::unique_ptr<ih::app::App>> replicas;  // --replicas: the hosts after the first
  std::string tenant;
  std::vector<Target> targets;  // stripe_byok: one per tenant

  ~LocalHost() {
    for (auto& r : replicas)
      r->stop();
    replicas.clear();
    if (app) app->stop();
    app.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// wrk's input: per request "<path>\n<Stripe-Signature>\n<body length>\n<body>\n", the built-in client's mix
// (a new event, or 5 % an earlier body of the same tenant again, 1 % signed with the wrong secret).
bool writeRequests(const Args& a, const std::vector<Target>& targets) {
  std::ofstream out(a.write_requests, std::ios::binary | std::ios::trunc);
  if (!out) return false;
  static const StripeEvents kStripeEvents;
  std::vector<std::unique_ptr<Signer>> signers;
  for (const Target& target : targets)
    signers.push_back(std::make_unique<Signer>(target.secret, "whsec_wrong"));
  std::vector<std::vector<std::string>> recent(targets.size());
  std::mt19937 rng(7);
  const std::string t = std::to_string(unixSeconds());
  std::string body, signature;
  for (int64_t i = 0; i < a.requests; ++i) {
    const size_t target = static_cast<size_t>(i) % targets.size();
    const int roll = static_cast<int>(rng() % 100);
    std::vector<std::string>& earlier = recent[target];
    if (roll < 5 && !earlier.empty()) {
      body = earlier[rng() % earlier.size()];
    } else {
      const std::string id = "evt_w" + std::to_string(i);
      kStripeEvents.build(body, i % 2 == 0, id, unixSeconds());
      if (roll != 5) {
        if (earlier.size() < 64) {
          earlier.push_back(body);
        } else {
          earlier[rng() % earlier.size()] = body;
        }
      }
    }
    signature.clear();
    signers[target]->sign(signature, roll == 5, t, body);
    out << targets[target].path << '\n' << signature << '\n' << body.size() << '\n' << body << '\n';
  }
  return static_cast<bool>(out.flush());
}

// The host sections of the generated ihost.toml (server, storage, vault, plugins, log, inbox), from the flags.
std::string hostToml(const Args& a, const char* plugin_dir, int replica = 0) {
  std::ostringstream toml;
  toml << "[server]\nlisten = \"127.0.0.1:0\"\n";
  if (a.server_threads > 0) toml << "worker_threads = " << a.server_threads << "\n";
  // One loopback address stands in for a provider's many senders: the per-address cap (256 by default) must
  // not refuse the bench's own connections.
  toml << "max_connections_per_ip = " << std::max(256, a.connections + 8) << "\n";
  toml << "\n[storage]\n"
       << (a.postgres.empty() ? std::string("path = \"ihost.db\"\n")
                              : "backend = \"postgres\"\nurl = \"" + a.postgres +
                                    "\"\nreplica_id = \"bench-" + std::to_string(replica) + "\"\n")
       << "synchronous = \"" << a.synchronous
       << "\"\n\n[vault]\nkey_file = \"vault.keys\"\n\n[plugins]\ndir = \"" << plugin_dir << "\"\n"
       << (a.isolated ? std::string("isolation = \"process\"\nrunner = \"") + IH_BENCH_IHOST + "\"\n"
                      : std::string())
       << "\n"
       << "[log]\nlevel = \"" << a.log_level << "\"\n\n[inbox]\nworkers = " << a.workers << "\n\n";
  return toml.str();
}

constexpr char kStripeKey[] = "sk_test_ihostbenchwebhooks00000001";
constexpr char kStripePublishable[] = "pk_test_ihostbenchwebhooks00000001";

// stripe_byok: the double, the host with the real plugin, then --tenants tenants, each connected through the
// API with its own signing secret (sealed in the vault by the host, as for any tenant).
std::unique_ptr<LocalHost> startStripe(const Args& a, std::unique_ptr<LocalHost> h) {
  ih::stripe_double::Options options;
  options.api_keys = {kStripeKey};
  options.threads = 2;
  auto stripe = ih::stripe_double::StripeDouble::start(options);
  if (!stripe.isOk()) {
    std::fprintf(stderr, "cannot start the Stripe double: %s\n", stripe.status().message().c_str());
    return nullptr;
  }
  h->stripe = std::move(*stripe);
  const auto toml = [&](int replica) {
    std::ostringstream t;
    t << hostToml(a, IH_BENCH_STRIPE_PLUGIN_DIR, replica)
      << "[outbound]\nallow_networks = [\"127.0.0.0/8\"]  # the double\n\n"
      << "[integrations.stripe]\nplugin = \"stripe_byok\"\napi_base_url = \"" << h->stripe->url() << "\"\n";
    for (const std::string& line : a.settings)
      t << line << "\n";
    return t.str();
  };
  h->app = ih::bench::startHost(h->dir, toml(0));
  if (!h->app) return nullptr;
  for (int k = 1; k < a.replicas; ++k) {
    const std::filesystem::path dir = h->dir / ("replica-" + std::to_string(k));
    std::error_code ec;
    std::filesystem::create_directory(dir, ec);
    std::filesystem::copy_file(h->dir / "vault.keys", dir / "vault.keys", ec);
    if (ec) return nullptr;
    h->replicas.push_back(ih::bench::startHost(dir, toml(k)));
    if (!h->replicas.back()) return nullptr;
  }
  httplib::Client api("127.0.0.1", h->app->port());
  api.set_read_timeout(30);
  for (int i = 0; i < a.tenants; ++i) {
    auto tenant = h->app->tenancy().createTenant("bench-" + std::to_string(i));
    if (!tenant.isOk()) return nullptr;
    const std::string secret = "whsec_bench" + std::to_string(i) + "Q7vXk2Lp9Rt4Wz8Nc3Hm6Jd1Fs5Gb0Ya";
    const nlohmann::json body = {
        {"secret_key", kStripeKey}, {"publishable_key", kStripePublishable}, {"webhook_secret", secret}};
    auto r = api.Post("/api/integrations/stripe/connect",
                      {{"Authorization", "Bearer " + tenant->first_key.plaintext}}, body.dump(),
                      "application/json");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "connecting tenant %d failed: %s\n", i, r ? r->body.c_str() : "no answer");
      return nullptr;
    }
    h->targets.push_back({"/webhooks/stripe/" + tenant->tenant.id, secret});
  }
  h->tenant = h->targets.empty() ? std::string() : h->targets.front().path;
  return h;
}

std::unique_ptr<LocalHost> startLocal(const Args& a) {
  auto h = std::make_unique<LocalHost>();
  std::string tmpl = a.dir + "/ih_bench_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory in %s: %s\n", a.dir.c_str(), std::strerror(errno));
    std::exit(1);
  }
  h->dir = tmpl;
  if (stripeMode(a)) return startStripe(a, std::move(h));
  std::ostringstream toml;
  toml << hostToml(a, IH_BENCH_PLUGIN_DIR) << "[integrations." << a.integration
       << "]\nplugin = \"webhook_test\"\n"
       << "webhook_secret = \"" << a.secret << "\"\nrecord_state = false\n";
  h->app = ih::bench::startHost(h->dir, toml.str());
  if (!h->app) return nullptr;
  auto tenant = h->app->tenancy().createTenant("bench");
  if (!tenant.isOk()) return nullptr;
  h->tenant = tenant->tenant.id;
  return h;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Runs this binary again as the client (--url …), optionally under `taskset -c cpus`; returns its exit code.
int runClientProcess(const Args& a, int port, const std::string& tenant, const std::string& acked_file) {
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();  // not taskset's
  std::vector<std::string> argv;
  if (!a.client_cpus.empty()) argv = {"taskset", "-c", a.client_cpus};
  argv.insert(argv.end(), {self, "--url", "http://127.0.0.1:" + std::to_string(port), "--tenant", tenant,
                           "--secret", a.secret, "--integration", a.integration, "--duration",
                           std::to_string(a.duration_s), "--connections", std::to_string(a.connections),
                           "--client-threads", std::to_string(a.client_threads), "--acked-out", acked_file});
  std::vector<char*> cargv;
  for (auto& s : argv)
    cargv.push_back(s.data());
  cargv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    if (a.client_cpus.empty()) {
      execv(self.c_str(), cargv.data());
    } else {
      execvp("taskset", cargv.data());
    }
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parseArgs(argc, argv);
  if (a.plugin != "webhook_test" && a.plugin != "stripe_byok") {
    std::fprintf(stderr, "--plugin takes webhook_test or stripe_byok\n");
    return 2;
  }
  if (stripeMode(a) && (!a.url.empty() || a.client_process)) {
    std::fprintf(stderr, "--plugin stripe_byok runs in-process only (no --url, no --client-process)\n");
    return 2;
  }
  if (a.replicas > 1 && (a.postgres.empty() || !stripeMode(a) || !a.write_requests.empty())) {
    std::fprintf(stderr, "--replicas needs --postgres and --plugin stripe_byok (and the built-in client)\n");
    return 2;
  }
  if (stripeMode(a)) a.integration = "stripe";
  ih::log::setLevel(ih::log::Level::kError);
  std::unique_ptr<LocalHost> local;
  std::string host = "127.0.0.1";
  int port = 0;
  if (a.url.empty()) {
    local = startLocal(a);
    if (!local) {
      std::fprintf(stderr, "could not start the in-process host (is %s built?)\n",
                   stripeMode(a) ? IH_BENCH_STRIPE_PLUGIN_DIR : IH_BENCH_PLUGIN_DIR);
      return 1;
    }
    port = local->app->port();
    a.tenant = local->tenant;
  } else {
    if (a.tenant.empty()) {
      std::fprintf(stderr, "--url needs --tenant and --secret\n");
      return 2;
    }
    std::string rest = a.url.substr(a.url.find("://") == std::string::npos ? 0 : a.url.find("://") + 3);
    host = rest.substr(0, rest.find(':'));
    port = static_cast<int>(intFlag("--url port", rest.substr(rest.find(':') + 1), 1, 65535));
  }
  const std::string path = a.floor ? "/healthz" : "/webhooks/" + a.integration + "/" + a.tenant;
  std::vector<Target> targets = {{path, a.secret}};
  if (local && stripeMode(a) && !a.floor) targets = local->targets;
  // The writers of every host (replicas: each has its own; SQLite: the main file's and the inbox's).
  const auto writerStats = [&] {
    ih::store::Db::Stats sum{};
    if (!local) return sum;
    auto add = [&](ih::app::App& app) {
      ih::store::Store& store = app.store();
      for (ih::store::Db* db : {&store.database(), &store.inboxDatabase()}) {
        if (db == &store.inboxDatabase() && db == &store.database()) continue;  // one database
        const auto st = db->stats();
        sum.batches += st.batches;
        sum.tasks += st.tasks;
      }
    };
    add(*local->app);
    for (auto& r : local->replicas)
      add(*r);
    return sum;
  };
  const auto db_before = writerStats();

  ThreadStats total;
  double elapsed = 0, client_cpu = 0, process_cpu = 0;
  const bool serving = local && stripeMode(a) && !a.write_requests.empty();
  if (serving) {
    // wrk is the client: write its requests, serve, then check what got stored.
    if (!writeRequests(a, targets)) {
      std::fprintf(stderr, "cannot write %s\n", a.write_requests.c_str());
      return 1;
    }
    std::printf(
        "wrote %lld requests to %s (signed now: start wrk within %d s)\n"
        "  IH_WRK_REQUESTS=%s IH_WRK_THREADS=2 wrk -t2 -c64 -d30s --latency -s bench/wrk_webhooks.lua "
        "http://127.0.0.1:%d\nserving for %.0f s ...\n",
        static_cast<long long>(a.requests), a.write_requests.c_str(), 300 - static_cast<int>(a.serve_s),
        a.write_requests.c_str(), port, a.serve_s);
    std::fflush(stdout);
    const double cpu0 = cpuSeconds(RUSAGE_SELF);
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(a.serve_s));
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    process_cpu = cpuSeconds(RUSAGE_SELF) - cpu0;
    std::printf("  host process CPU %.2f s over the %.0f s served\n", process_cpu, elapsed);
  } else if (local && a.client_process) {
    // The host stays here; the client is a second process that writes the ids it saw acked as new.
    const std::string acked_file = (local->dir / "acked.txt").string();
    const double cpu0 = cpuSeconds(RUSAGE_SELF);
    const auto t0 = Clock::now();
    std::printf("host in this process (pid %d); client process%s%s:\n", static_cast<int>(getpid()),
                a.client_cpus.empty() ? "" : " pinned to CPUs ", a.client_cpus.c_str());
    if (runClientProcess(a, port, a.tenant, acked_file) != 0) return 1;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    process_cpu = cpuSeconds(RUSAGE_SELF) - cpu0;
    std::ifstream in(acked_file);
    for (std::string id; std::getline(in, id);)
      total.acked_new.push_back(id);
    std::printf("  host process CPU %.2f s (%.0f %% of one core)\n", process_cpu,
                100 * process_cpu / elapsed);
  } else {
    std::vector<int> ports = {port};
    if (local) {
      for (auto& r : local->replicas)
        ports.push_back(r->port());
    }
    std::vector<sockaddr_in> addrs;
    for (int p : ports) {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(p));
      if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        std::fprintf(stderr, "--url needs a numeric IPv4 host\n");
        return 2;
      }
      addrs.push_back(addr);
    }
    std::vector<ThreadStats> stats(static_cast<size_t>(a.client_threads));
    std::vector<std::thread> threads;
    const double cpu0 = cpuSeconds(RUSAGE_SELF);
    const Clock::time_point started = Clock::now();
    const auto deadline =
        started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.duration_s));
    int first = 0;
    for (int t = 0; t < a.client_threads; ++t) {
      const int count = a.connections / a.client_threads + (t < a.connections % a.client_threads ? 1 : 0);
      threads.emplace_back(runClientThread, std::cref(a), std::cref(addrs), std::cref(targets), first, count,
                           deadline, std::ref(stats[static_cast<size_t>(t)]));
      first += count;
    }
    for (auto& th : threads)
      th.join();
    elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    process_cpu = cpuSeconds(RUSAGE_SELF) - cpu0;
    for (auto& s : stats) {
      total.latencies_ms.insert(total.latencies_ms.end(), s.latencies_ms.begin(), s.latencies_ms.end());
      total.ok += s.ok;
      total.non2xx += s.non2xx;
      total.errors += s.errors;
      total.duplicates_acked += s.duplicates_acked;
      total.bad_sig_rejected += s.bad_sig_rejected;
      total.acked_new.insert(total.acked_new.end(), s.acked_new.begin(), s.acked_new.end());
      client_cpu += s.cpu_s;
    }
    const double requests = static_cast<double>(total.latencies_ms.size());
    std::vector<double> lat = total.latencies_ms;
    const double p50 = percentile(lat, 0.50), p99 = percentile(lat, 0.99);
    const double max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
    std::printf(
        "webhook intake: %d connections, %d client thread(s), %.1f s, %s%s\n", a.connections,
        a.client_threads, elapsed, a.url.empty() ? "host and client in one process" : a.url.c_str(),
        a.replicas > 1 ? (", " + std::to_string(a.replicas) + " replicas on one PostgreSQL").c_str() : "");
    std::printf("  requests      %.0f  (%.0f req/s)\n", requests, requests / elapsed);
    std::printf("  latency ms    p50 %.2f  p99 %.2f  max %.2f\n", p50, p99, max);
    std::printf(
        "  2xx %llu (new %zu, duplicate %llu)  non-2xx %llu (bad signature 400: %llu)  transport errors "
        "%llu\n",
        static_cast<unsigned long long>(total.ok), total.acked_new.size(),
        static_cast<unsigned long long>(total.duplicates_acked),
        static_cast<unsigned long long>(total.non2xx),
        static_cast<unsigned long long>(total.bad_sig_rejected),
        static_cast<unsigned long long>(total.errors));
    std::printf("  CPU           client %.2f s (%.0f %% of one core, %.0f %% of this process's %.2f s)\n",
                client_cpu, 100 * client_cpu / elapsed, process_cpu > 0 ? 100 * client_cpu / process_cpu : 0,
                process_cpu);
    if (local && requests > 0) {
      // The host's share: this process minus the client threads (the idle double adds next to nothing).
      std::printf("  host CPU      %.2f s (%.0f %% of one core), %.0f us per request\n",
                  process_cpu - client_cpu, 100 * (process_cpu - client_cpu) / elapsed,
                  1e6 * (process_cpu - client_cpu) / requests);
    }
    if (!a.acked_out.empty()) {
      std::ofstream out(a.acked_out);
      for (const auto& id : total.acked_new)
        out << id << '\n';
    }
  }

  int rc = 0;
  if (local) {
    const auto db_after = writerStats();
    const uint64_t batches = db_after.batches - db_before.batches, tasks = db_after.tasks - db_before.tasks;
    std::printf("  store writer  %llu tasks in %llu commits (%.1f per commit)\n",
                static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(batches),
                batches ? static_cast<double>(tasks) / static_cast<double>(batches) : 0.0);
    // Every event acked as new must be stored.
    std::unordered_set<std::string> stored;
    int64_t stored_bytes = 0, compressed = 0;
    (void)local->app->store().inboxDatabase().read([&](ih::store::sql::Connection& db) -> ih::Status {
      ih::store::sql::Statement q(
          db, "SELECT event_id, length(payload), payload_codec != '' FROM webhook_events");
      while (q.executeStep()) {
        stored.insert(q.getColumn(0).getString());
        stored_bytes += q.getColumn(1).getInt64();
        compressed += q.getColumn(2).getInt64();
      }
      return ih::Status::ok();
    });
    if (!stored.empty()) {
      std::string sample;
      if (stripeMode(a)) {
        static const StripeEvents kStripeEvents;
        std::string intent;
        kStripeEvents.build(sample, true, "evt_0000000000000000000000", 1700000000);
        kStripeEvents.build(intent, false, "evt_0000000000000000000000", 1700000000);
        sample.resize((sample.size() + intent.size()) / 2);  // the mix is half and half: the mean size
      } else {
        stripeEvent(sample, "evt_0000000000000000000000", 1700000000);
      }
      std::printf(
          "  payloads      %zu bytes received, %.0f stored per event on average (%lld of %zu compressed)\n",
          sample.size(), static_cast<double>(stored_bytes) / static_cast<double>(stored.size()),
          static_cast<long long>(compressed), stored.size());
    }
    size_t missing = 0;
    for (const auto& id : total.acked_new)
      missing += stored.count(id) ? 0 : 1;
    ih::store::InboxStore events(local->app->store());
    auto backlog = events.backlog();
    const double intake_per_s =
        static_cast<double>(serving ? stored.size() : total.acked_new.size()) / std::max(elapsed, 1e-9);
    std::printf(
        "  stored rows   %zu; acked new events missing: %zu; dispatch backlog at end: %lld (%.2f s of "
        "intake)\n",
        stored.size(), missing, static_cast<long long>(backlog.isOk() ? *backlog : -1),
        backlog.isOk() && intake_per_s > 0 ? static_cast<double>(*backlog) / intake_per_s : 0.0);
    if (missing > 0) rc = 1;
    if (stripeMode(a) && !a.floor && a.workers > 0) {
      // Processed: dispatch drains, and every acked new event became its record (one object per event).
      // Until the backlog is empty, or it has not shrunk for 30 s (a stuck dispatch), at most 10 minutes.
      const auto drain0 = Clock::now();
      auto progress_at = drain0;
      int64_t left_before = -1, left_now = -1;
      while (Clock::now() - drain0 < std::chrono::minutes(10) &&
             Clock::now() - progress_at < std::chrono::seconds(30)) {
        auto left = events.backlog();
        left_now = left.isOk() ? *left : -1;
        if (left_now == 0) break;
        if (left_before < 0 || left_now < left_before) progress_at = Clock::now();
        left_before = left_now;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      const double drain_s = std::chrono::duration<double>(Clock::now() - drain0).count();
      if (left_now != 0) {
        std::printf("  dispatch      NOT drained after %.0f s: %lld events still pending\n", drain_s,
                    static_cast<long long>(left_now));
        rc = 1;
      }
      std::unordered_set<std::string> records;
      int64_t processed = 0, normalized = 0;
      (void)local->app->store().database().read([&](ih::store::sql::Connection& db) -> ih::Status {
        ih::store::sql::Statement q(db, "SELECT external_id FROM records WHERE integration_id = 'stripe'");
        while (q.executeStep())
          records.insert(q.getColumn(0).getString());
        ih::store::sql::Statement e(db, "SELECT count(*) FROM events WHERE integration_id = 'stripe'");
        if (e.executeStep()) normalized = e.getColumn(0).getInt64();
        return ih::Status::ok();
      });
      (void)local->app->store().inboxDatabase().read([&](ih::store::sql::Connection& db) -> ih::Status {
        ih::store::sql::Statement p(db, "SELECT count(*) FROM webhook_events WHERE status = 'processed'");
        if (p.executeStep()) processed = p.getColumn(0).getInt64();
        return ih::Status::ok();
      });
      size_t unprocessed = 0;
      // Served to wrk: the acked ids are unknown; every stored event must have been processed instead.
      const std::vector<std::string> expected =
          serving ? std::vector<std::string>(stored.begin(), stored.end()) : total.acked_new;
      for (const auto& id : expected) {
        const std::string suffix = id.substr(4);
        unprocessed += records.count("in_" + suffix) || records.count("pi_" + suffix) ? 0 : 1;
      }
      std::printf(
          "  dispatch      drained in %.2f s after the run; %lld processed, %zu records, %lld events; "
          "%s events without their record: %zu\n",
          drain_s, static_cast<long long>(processed), records.size(), static_cast<long long>(normalized),
          serving ? "stored" : "acked new", unprocessed);
      if (unprocessed > 0) rc = 1;
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("  peak RSS      %.1f MB (host, client and double in one process)\n",
                static_cast<double>(ru.ru_maxrss) / 1024.0);
  }
  return rc;
}

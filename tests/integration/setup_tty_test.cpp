// `ihost setup` on a real pseudo-terminal: the real binary under forkpty answers stripe_byok's setup prompts
// as an operator would (Enter for a default, y for a confirm, a typed URL) against the in-process Stripe
// double; a secret prompt is read without echo; Ctrl-C at a prompt stops with exit 130 and stores nothing
// half-way. Reads use poll with deadlines so a hung prompt fails the test instead of blocking it.
#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/setup_command.h"
#include "store/store.h"
#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/stripe_fixture.h"
#include "support/temp_dir.h"
#include "support/test_host.h"
#include "vault/vault.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr char kKey[] = "sk_test_ihostsetuptty0000000001";
constexpr char kPk[] = "pk_test_ihostsetuptty0000000001";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A child process on the slave side of a new pty; the test holds the master. Output is accumulated in
// `output()` (what the operator's terminal shows, echo included).
class PtyChild {
 public:
  // Runs `child` in the forked process (it must exec or _exit).
  explicit PtyChild(const std::function<void()>& child) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 200;  // wide: no wrapping of long prompts
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      child();
      _exit(127);
    }
  }
  ~PtyChild() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  PtyChild(const PtyChild&) = delete;
  PtyChild& operator=(const PtyChild&) = delete;

  bool started() const { return pid_ > 0 && master_ >= 0; }
  int master() const { return master_; }
  const std::string& output() const { return out_; }

  // Reads until `needle` (case-insensitive) appears after `from` or the deadline passes.
  bool waitFor(const std::string& needle, milliseconds limit = seconds(10)) {
    const auto deadline = Clock::now() + limit;
    while (lower(out_).find(lower(needle), from_) == std::string::npos) {
      if (!readSome(deadline)) return false;
    }
    from_ = lower(out_).find(lower(needle), from_) + needle.size();
    return true;
  }
  void send(const std::string& text) {
    ssize_t n = write(master_, text.data(), text.size());
    REQUIRE(n == static_cast<ssize_t>(text.size()));
  }
  // Drains output until the child exits (EOF/EIO on the master), then reaps it. Returns the wait status or
  // -1 on timeout.
  int waitExit(milliseconds limit = seconds(30)) {  // generous: sanitizer builds and busy machines are slow
    const auto deadline = Clock::now() + limit;
    while (readSome(deadline)) {
    }
    while (Clock::now() < deadline) {
      int status = 0;
      pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        reaped_ = true;
        return status;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
  }

 private:
  // One poll+read; false on EOF/EIO (child gone) or deadline.
  bool readSome(Clock::time_point deadline) {
    if (eof_) return false;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{master_, POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 200)));
    if (ready < 0) return errno == EINTR;
    if (ready == 0) return Clock::now() < deadline;
    char buf[4096];
    ssize_t n = read(master_, buf, sizeof buf);
    if (n <= 0) {  // EIO once the slave side is closed (Linux)
      eof_ = true;
      return false;
    }
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool eof_ = false;
  std::string out_;
  size_t from_ = 0;
};

std::unique_ptr<ih::stripe_double::StripeDouble> startDouble() {
  return ih::test::startStripeDouble(kKey);
}

ih::test::TestHostOptions hostOptions(const std::string& api_base_url) {
  ih::test::TestHostOptions o;
  o.extra_toml = ih::test::stripeByokToml(api_base_url);
  return o;
}

struct Env {
  std::unique_ptr<ih::stripe_double::StripeDouble> stripe = startDouble();
  ih::test::TestHost host{hostOptions(stripe->url())};
  ih::test::TestHost::TenantKey tenant = host.createTenant("acme");

  // Host API call as the tenant.
  std::pair<int, json> api(const std::string& method, const std::string& path, const json& body = {}) {
    auto client = host.client();
    client->set_read_timeout(seconds(30));
    httplib::Result res = method == "GET" ? client->Get(path.c_str(), ih::test::bearer(tenant.api_key))
                                          : client->Post(path.c_str(), ih::test::bearer(tenant.api_key),
                                                         body.dump(), "application/json");
    REQUIRE(res);
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  // Stripe API call at the double with the tenant's key (what Stripe itself would show).
  json stripeGet(const std::string& path) {
    httplib::Client c(stripe->url());
    auto res = c.Get(path.c_str(), {{"Authorization", std::string("Bearer ") + kKey}});
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return json::parse(res->body);
  }
  size_t count(const std::string& method, const std::string& path) {
    size_t n = 0;
    for (const auto& r : stripe->requests())
      if (r.method == method && r.path == path) ++n;
    return n;
  }
  // The webhook signing secret setup stored in the vault, or "" if none.
  std::string storedWebhookSecret() {
    auto row = host.app().store().getSecret(tenant.tenant_id, "stripe", "secret:webhook_secret");
    if (!row.isOk()) return "";
    auto plain = host.app().vault().open({row->key_id, row->nonce, row->ciphertext},
                                         {tenant.tenant_id, "stripe", "secret:webhook_secret"});
    REQUIRE(plain.isOk());
    return std::string(plain->view());
  }
  void connectWithoutWebhookSecret() {
    auto r =
        api("POST", "/api/integrations/stripe/connect", {{"secret_key", kKey}, {"publishable_key", kPk}});
    INFO(r.second.dump());
    REQUIRE(r.first == 200);
  }
  // `stdout_file`: when set, the child's stdout goes to that file (stdin and stderr stay on the terminal).
  std::unique_ptr<PtyChild> spawnSetup(const std::string& stdout_file = {}) {
    const std::string tenant_id = tenant.tenant_id;
    const std::string config = host.configPath();
    auto child = std::make_unique<PtyChild>([&] {
      if (!stdout_file.empty()) {
        const int fd = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) _exit(126);
        close(fd);
      }
      execl(IH_IHOST_BIN, IH_IHOST_BIN, "setup", "stripe", "--tenant", tenant_id.c_str(), "--config",
            config.c_str(), static_cast<char*>(nullptr));
    });
    REQUIRE(child->started());
    return child;
  }
};

// Waits for `text` on the terminal; on failure the report shows the terminal so far.
#define EXPECT_PROMPT(child, text)                                                  \
  do {                                                                              \
    const bool seen_ = (child)->waitFor(text);                                      \
    INFO("waiting for: " << (text) << "\nterminal so far:\n" << (child)->output()); \
    REQUIRE(seen_);                                                                 \
  } while (0)

using ih::test::eventually;

}  // namespace

TEST_CASE("ihost setup on a terminal: prompts, defaults, confirm, webhook endpoint, secret kept quiet",
          "[cli][setup]") {
  Env env;
  env.connectWithoutWebhookSecret();
  const std::string public_url = env.host.app().baseUrl();
  auto pty = env.spawnSetup();

  // 1. confirm (default yes, shown as [Y/n]): answered "y".
  EXPECT_PROMPT(pty, "Continue?");
  EXPECT_PROMPT(pty, "[Y/n]: ");
  CHECK(pty->output().find(kKey) == std::string::npos);  // the key is shown masked only
  pty->send("y\r");
  // 2. catalog choice: the choices and the default are shown; Enter accepts "all".
  EXPECT_PROMPT(pty, "catalog plans");
  EXPECT_PROMPT(pty, "(all/none/starter/pro) [all]: ");
  pty->send("\r");
  // 3. public URL (text, no default): typed.
  EXPECT_PROMPT(pty, "Public base URL");
  EXPECT_PROMPT(pty, ": ");
  pty->send(public_url + "\r");

  const int status = pty->waitExit();
  const std::string out = pty->output();
  INFO(out);
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(out, Catch::Contains("finished") && Catch::Contains("webhook endpoint created") &&
                      Catch::Contains("next: Make sure " + public_url + "/webhooks/stripe/" +
                                      env.tenant.tenant_id + " is reachable"));

  // Products and prices at the double: the whole catalog (starter, pro).
  CHECK(env.count("POST", "/v1/products") == 2);
  CHECK(env.count("POST", "/v1/prices") == 2);
  CHECK(env.stripeGet("/v1/products")["data"].size() == 2);
  // The webhook endpoint points at the host's public URL.
  const json endpoints = env.stripeGet("/v1/webhook_endpoints")["data"];
  REQUIRE(endpoints.size() == 1);
  CHECK(endpoints[0]["url"] == public_url + "/webhooks/stripe/" + env.tenant.tenant_id);
  // Its signing secret is in the vault and never reached the terminal.
  const std::string secret = env.storedWebhookSecret();
  CHECK_THAT(secret, Catch::StartsWith("whsec_"));
  CHECK(out.find(secret) == std::string::npos);
  CHECK(out.find("whsec_") == std::string::npos);
  CHECK(out.find(kKey) == std::string::npos);

  // The stored secret is the endpoint's: the double's signed delivery is accepted by the running server.
  auto intent =
      env.api("POST", "/api/integrations/stripe/actions/create_payment_intent", {{"price", "starter"}});
  REQUIRE(intent.first == 200);
  const std::string pi = intent.second["payment_intent_id"];
  REQUIRE(
      env.api("POST", "/api/integrations/stripe/actions/simulate_payment", {{"payment_intent", pi}}).first ==
      200);
  CHECK(eventually([&] { return env.api("GET", "/api/records/stripe/payment/" + pi).first == 200; }));
}

TEST_CASE("ihost setup with stdout redirected: the prompts still reach the terminal, the report the file",
          "[cli][setup]") {
  Env env;
  env.connectWithoutWebhookSecret();
  ih::test::TempDir dir;
  const std::string log = dir.file("setup.log");
  auto pty = env.spawnSetup(log);
  EXPECT_PROMPT(pty, "[Y/n]: ");
  pty->send("y\r");
  EXPECT_PROMPT(pty, "(all/none/starter/pro) [all]: ");
  pty->send("none\r");
  EXPECT_PROMPT(pty, "Public base URL");
  pty->send(env.host.app().baseUrl() + "\r");
  const int status = pty->waitExit();
  INFO(pty->output());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::ifstream in(log);
  const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(report, Catch::Contains("finished") && Catch::Contains("webhook endpoint created"));
  CHECK(report.find("[Y/n]") == std::string::npos);  // prompts are not mixed into the redirected output
  CHECK(pty->output().find("finished") == std::string::npos);
}

TEST_CASE("ihost setup on a terminal: a confirm answered n cancels before anything is created",
          "[cli][setup]") {
  Env env;
  env.connectWithoutWebhookSecret();
  auto pty = env.spawnSetup();
  EXPECT_PROMPT(pty, "[Y/n]: ");
  pty->send("maybe\r");  // not an answer: asked again
  EXPECT_PROMPT(pty, "please answer y or n");
  EXPECT_PROMPT(pty, "[Y/n]: ");
  pty->send("n\r");
  const int status = pty->waitExit();
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(pty->output(), Catch::Contains("cancelled by the operator"));
  CHECK(env.count("POST", "/v1/products") == 0);
  CHECK(env.count("POST", "/v1/webhook_endpoints") == 0);
}

TEST_CASE("ihost setup on a terminal: Ctrl-C at a prompt stops with exit 130 and a re-run finishes",
          "[cli][setup]") {
  Env env;
  env.connectWithoutWebhookSecret();
  auto pty = env.spawnSetup();
  EXPECT_PROMPT(pty, "[Y/n]: ");
  pty->send("\r");
  EXPECT_PROMPT(pty, "[all]: ");
  pty->send("\r");
  EXPECT_PROMPT(pty, "Public base URL");
  EXPECT_PROMPT(pty, ": ");
  pty->send("\x03");  // Ctrl-C: the terminal turns it into SIGINT for the foreground process
  const int status = pty->waitExit();
  const std::string out = pty->output();
  INFO(out);
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));  // handled: an exit with a message, not death by signal
  CHECK(WEXITSTATUS(status) == ih::cli::kExitInterrupted);
  CHECK_THAT(out, Catch::Contains("interrupted (Ctrl-C)") && Catch::Contains("safe to repeat"));
  CHECK(out.find("finished") == std::string::npos);
  // The terminal is left echoing (on Linux the master reports the slave's modes).
  termios mode{};
  REQUIRE(tcgetattr(pty->master(), &mode) == 0);
  CHECK((mode.c_lflag & ECHO) != 0);

  // What it leaves: the catalog created before the interrupt (at the double), no webhook endpoint, no stored
  // signing secret, the connection untouched.
  CHECK(env.count("POST", "/v1/products") == 2);
  CHECK(env.count("POST", "/v1/webhook_endpoints") == 0);
  CHECK(env.storedWebhookSecret().empty());
  CHECK(env.api("GET", "/api/integrations/stripe").second.value("connected", false));

  // Running setup again finishes and reuses the products (no duplicates at Stripe).
  auto again = env.spawnSetup();
  EXPECT_PROMPT(again, "[Y/n]: ");
  again->send("yes\r");
  EXPECT_PROMPT(again, "[all]: ");
  again->send("\r");
  EXPECT_PROMPT(again, "Public base URL");
  EXPECT_PROMPT(again, ": ");
  again->send(env.host.app().baseUrl() + "\r");
  const int again_status = again->waitExit();
  REQUIRE(again_status != -1);
  REQUIRE(WIFEXITED(again_status));
  CHECK(WEXITSTATUS(again_status) == 0);
  CHECK(env.count("POST", "/v1/products") == 2);
  CHECK(env.stripeGet("/v1/products")["data"].size() == 2);
  CHECK(env.count("POST", "/v1/webhook_endpoints") == 1);
  CHECK_THAT(env.storedWebhookSecret(), Catch::StartsWith("whsec_"));
}

TEST_CASE("setup prompts on a terminal: a secret is read without echo, Ctrl-D stops", "[cli][setup]") {
  // stripe_byok's setup asks no secret, so the host's terminal prompt is driven directly: a child on a real
  // pty runs askOnTerminal (the code `ihost setup` answers every prompt with) and hands the answer back on a
  // pipe.
  constexpr char kTyped[] = "s3cr3t-typed-at-the-terminal";
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const int write_end = fds[1];
  PtyChild pty([&] {
    close(fds[0]);
    auto answer = ih::cli::askOnTerminal(
        R"({"key":"api_secret","kind":"secret","message":"Paste the API secret"})", std::cin, std::cout);
    const std::string text = answer.isOk() ? "ok:" + *answer : "error:" + answer.status().message();
    ssize_t n = write(write_end, text.data(), text.size());
    _exit(n == static_cast<ssize_t>(text.size()) ? 0 : 1);
  });
  close(fds[1]);
  REQUIRE(pty.started());
  EXPECT_PROMPT(&pty, "Paste the API secret (input hidden): ");
  termios mode{};
  REQUIRE(tcgetattr(pty.master(), &mode) == 0);
  CHECK((mode.c_lflag & ECHO) == 0);  // echo is off while the secret is typed
  pty.send(std::string(kTyped) + "\r");
  const int status = pty.waitExit();
  INFO(pty.output());
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  std::string answer;
  char buf[256];
  while (ssize_t n = read(fds[0], buf, sizeof buf)) {
    if (n < 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  CHECK(answer == std::string("ok:") + kTyped);
  CHECK(pty.output().find(kTyped) == std::string::npos);  // never echoed
  CHECK(pty.output().find("s3cr3t") == std::string::npos);

  // Ctrl-D (end of input) at a prompt with a default stops instead of silently taking the default: the
  // answer is "cancelled" (the plugin stops), not "nobody can answer" (the plugin would take the default).
  PtyChild eof([] {
    auto answer = ih::cli::askOnTerminal(
        R"({"key":"catalog","kind":"choice","message":"Catalog","default":"all"})", std::cin, std::cout);
    if (answer.isOk()) _exit(0);
    std::cout << answer.status().message() << std::endl;
    _exit(answer.status().code() == ih::StatusCode::kCancelled ? 5 : 6);
  });
  REQUIRE(eof.started());
  EXPECT_PROMPT(&eof, "Catalog [all]: ");
  eof.send("\x04");
  const int eof_status = eof.waitExit();
  INFO(eof.output());
  REQUIRE(eof_status != -1);
  REQUIRE(WIFEXITED(eof_status));
  CHECK(WEXITSTATUS(eof_status) == 5);
  CHECK_THAT(eof.output(), Catch::Contains("input ended at prompt \"catalog\""));
}

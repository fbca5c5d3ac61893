#include "cli/demo_command.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <thread>

#include "app/app.h"
#include "cli/cli.h"
#include "common/digest.h"
#include "common/json_parse.h"
#include "common/private_files.h"
#include "common/text.h"
#include "config/config.h"
#include "log/log.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace ih::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Test-mode keys the demo's double (a child process) accepts. They open nothing outside the demo.
constexpr char kDemoSecretKey[] = "sk_test_ihostdemo0000000000000001";
constexpr char kDemoPublishableKey[] = "pk_test_ihostdemo0000000000000001";
constexpr char kTenantName[] = "demo";
constexpr char kIntegration[] = "stripe";
constexpr char kInvoiceReference[] = "demo-order-1";
constexpr char kSealedKeyFile[] = "demo-key.sealed";
constexpr char kSealedKeyPurpose[] = "demo_api_key";
constexpr auto kPaidTimeout = std::chrono::seconds(8);

constexpr char kDemoHelp[] =
    "ihost demo [--data-dir DIR] [--port N] [--double-port N]\n"
    "  Runs everything on this machine without a Stripe account: the built-in Stripe test double, the host\n"
    "  (SQLite and a vault key file under DIR, default ./demo-data), tenant \"demo\" connected to Stripe "
    "BYOK\n"
    "  with test keys, products and a webhook endpoint, one invoice paid in the double (signed webhook ->\n"
    "  record -> event). Prints the console URL, admin token, tenant API key and curl lines, then serves\n"
    "  until Ctrl-C. Running it again reuses DIR. --port: the host (default 8080), --double-port: the\n"
    "  double (default 12111); 0 picks a free port. IHOST_* environment variables are ignored here.\n";

struct DemoArgs {
  std::string data_dir = "demo-data";
  int port = 8080;
  int double_port = 12111;
  bool help = false;
};

Result<DemoArgs> parseDemoArgs(const std::vector<std::string>& raw) {
  DemoArgs out;
  for (size_t i = 1; i < raw.size(); ++i) {
    std::string flag = raw[i];
    std::string value;
    bool has_value = false;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    if (flag == "--help" || flag == "-h") {
      out.help = true;
      continue;
    }
    if (flag != "--data-dir" && flag != "--port" && flag != "--double-port") {
      return Status::invalidArgument(flag.rfind("--", 0) == 0 ? "unknown flag " + flag
                                                              : "unexpected argument \"" + flag + "\"");
    }
    if (!has_value) {
      if (i + 1 >= raw.size()) return Status::invalidArgument("flag " + flag + " needs a value");
      value = raw[++i];
    }
    if (flag == "--data-dir") {
      if (value.empty()) return Status::invalidArgument("--data-dir needs a directory");
      out.data_dir = value;
      continue;
    }
    const auto port = parseInt64InRange(value, 0, 65535);
    if (!port) return Status::invalidArgument(flag + " must be a port number 0-65535");
    (flag == "--port" ? out.port : out.double_port) = static_cast<int>(*port);
  }
  return out;
}

// <directory of the running ihost binary>/plugins, where the build puts every plugin.
std::string pluginsDirNextToBinary() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "plugins";
  return (exe.parent_path() / "plugins").string();
}

// The Stripe test double as a child process: the `stripe-double` executable next to this binary (the host links
// no test code). It prints {"url":"http://127.0.0.1:N"} once listening; stop() sends SIGTERM and reaps it.
class DoubleProcess {
 public:
  static Result<std::unique_ptr<DoubleProcess>> start(int port) {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    const fs::path binary = (ec ? fs::path(".") : exe.parent_path()) / "stripe-double";
    if (!fs::exists(binary)) {
      return Status::failedPrecondition("the Stripe test double is not at " + binary.string() +
                                        " (expected next to the ihost binary); build the ihost_bundle target "
                                        "(scripts/run.sh does)");
    }
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
      return Status::internal("cannot create a pipe for the Stripe test double");
    const std::string port_text = std::to_string(port);
    const std::string binary_text = binary.string();
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(out[0]);
      ::close(out[1]);
      return Status::internal("cannot start the Stripe test double (fork failed)");
    }
    if (pid == 0) {  // child: only async-signal-safe calls until exec
      // A clean signal mask (exec keeps the demo's, which blocks SIGINT/SIGTERM for its sigwait), and its own
      // process group: a terminal's Ctrl-C reaches the demo only, which stops the double after the host.
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::setpgid(0, 0);
      ::dup2(out[1], STDOUT_FILENO);
      ::execl(binary_text.c_str(), binary_text.c_str(), "--port", port_text.c_str(), "--seed-key",
              kDemoSecretKey, "--webhook-retry-ms", "500,2000,10000", "--seed-transactions", "300",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    // The read end stays open while the double runs: a later line on its stdout must not kill it (SIGPIPE).
    auto process = std::unique_ptr<DoubleProcess>(new DoubleProcess(pid, out[0]));
    // Its first line, within 10 s: {"url":"…"}. Anything else (it exited, or printed garbage) is a failure.
    std::string line;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && line.size() < 4096 && Clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[512];
      const ssize_t n = ::read(out[0], buffer, sizeof buffer);
      if (n <= 0) break;
      line.append(buffer, static_cast<size_t>(n));
    }
    auto parsed = parseJson(line.substr(0, line.find('\n')));
    if (!parsed.isOk() || !parsed->is_object() || !(*parsed)["url"].is_string()) {
      return Status::unavailable("the Stripe test double did not start on 127.0.0.1:" + port_text +
                                 " (is the port free? pass --double-port N, or 0 for any free port)");
    }
    process->url_ = (*parsed)["url"].get<std::string>();
    return process;
  }

  ~DoubleProcess() { stop(); }
  DoubleProcess(const DoubleProcess&) = delete;
  DoubleProcess& operator=(const DoubleProcess&) = delete;

  const std::string& url() const { return url_; }

  // SIGTERM, then up to 5 s for a clean exit, then SIGKILL. Idempotent.
  void stop() {
    if (stdout_fd_ >= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
    }
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  DoubleProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  std::string url_;
};

std::optional<std::string> unhex(const std::string& text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// The demo tenant's API key, sealed by the vault (bound to the tenant) in a 0600 file: "key_id nonce ct".
Status saveSealedKey(vault::Vault& vault, const fs::path& file, const std::string& tenant_id,
                     const std::string& api_key) {
  auto sealed = vault.seal(api_key, {tenant_id, kIntegration, kSealedKeyPurpose});
  if (!sealed.isOk()) return sealed.status();
  const std::string text =
      sealed->key_id + " " + hexEncode(sealed->nonce) + " " + hexEncode(sealed->ciphertext) + "\n";
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return Status::unavailable("cannot write " + tmp.string());
    f << text;
    if (!f.flush()) return Status::unavailable("cannot write " + tmp.string());
  }
  ::chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return Status::unavailable("cannot write " + file.string() + ": " + ec.message());
  return Status::ok();
}

Result<std::string> loadSealedKey(vault::Vault& vault, const fs::path& file, const std::string& tenant_id) {
  std::ifstream f(file);
  if (!f) return Status::notFound(file.string() + " is missing");
  std::string key_id, nonce_hex, ct_hex;
  f >> key_id >> nonce_hex >> ct_hex;
  auto nonce = unhex(nonce_hex);
  auto ct = unhex(ct_hex);
  if (key_id.empty() || !nonce || !ct) return Status::invalidArgument(file.string() + " is malformed");
  auto plain = vault.open({key_id, *nonce, *ct}, {tenant_id, kIntegration, kSealedKeyPurpose});
  if (!plain.isOk()) return plain.status();
  return std::string(plain->view());
}

// Whether something already accepts connections on 127.0.0.1:port. The host's and the double's listeners set
// SO_REUSEPORT, so a second demo would bind the same port and share (mix up) the traffic instead of failing.
bool portInUse(int port) {
  if (port == 0) return false;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool in_use = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return in_use;
}

// True once SIGINT or SIGTERM is pending (they are blocked; sigwait takes them at the end).
bool stopRequested() {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1;
}

// The host's own HTTP API, as the tenant. Each call fails with a Status naming the route and the answer.
class TenantApi {
 public:
  TenantApi(int port, std::string key) : client_("127.0.0.1", port), key_(std::move(key)) {
    client_.set_connection_timeout(std::chrono::seconds(5));
    client_.set_read_timeout(std::chrono::seconds(30));
  }

  struct Answer {
    int status = 0;
    json body;
  };

  Result<Answer> call(const std::string& method, const std::string& path, const json& body = nullptr) {
    httplib::Headers headers = {{"Authorization", "Bearer " + key_}};
    httplib::Result res =
        method == "GET"
            ? client_.Get(path.c_str(), headers)
            : client_.Post(path.c_str(), headers, body.is_null() ? "{}" : body.dump(), "application/json");
    if (!res) {
      return Status::unavailable(method + " " + path + ": no answer from the host (" +
                                 httplib::to_string(res.error()) + ")");
    }
    return Answer{res->status, ih::parseJsonOrDiscarded(res->body)};
  }

  // call() that also requires a 2xx answer.
  Result<json> ok(const std::string& method, const std::string& path, const json& body = nullptr) {
    auto answer = call(method, path, body);
    if (!answer.isOk()) return answer.status();
    if (answer->status / 100 != 2) {
      std::string message = answer->body.is_object() && answer->body.contains("error")
                                ? answer->body["error"].value("message", answer->body.dump())
                                : answer->body.dump();
      return Status(StatusCode::kInternal,
                    method + " " + path + " answered " + std::to_string(answer->status) + ": " + message);
    }
    return std::move(answer->body);
  }

 private:
  httplib::Client client_;
  std::string key_;
};

// Every item of a paged list route ({"data":[…],"next_after":…,"has_more":…}).
Result<std::vector<json>> listAll(TenantApi& api, const std::string& path_with_query) {
  std::vector<json> out;
  std::string after = "0";
  const char sep = path_with_query.find('?') == std::string::npos ? '?' : '&';
  for (int page = 0; page < 1000; ++page) {
    auto body = api.ok("GET", path_with_query + sep + "after=" + after);
    if (!body.isOk()) return body.status();
    for (const json& item : body->value("data", json::array()))
      out.push_back(item);
    if (!body->value("has_more", false)) break;
    const json& next = (*body)["next_after"];
    after = next.is_string() ? next.get<std::string>() : next.dump();
  }
  return out;
}

std::string money(int64_t minor, const std::string& currency) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%02lld %s", static_cast<long long>(minor / 100),
                static_cast<long long>(minor % 100), currency.c_str());
  std::string out = buf;
  for (auto& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

struct DemoState {
  std::string tenant_id;
  std::string api_key;
  bool tenant_created = false;
  std::string key_note;  // how the key was obtained
  bool connected_now = false;
  json plans;
  std::string webhook_url;
  std::string invoice_id;
  bool invoice_reused = false;
  int64_t amount = 0;
  std::string currency = "usd";
  int64_t event_id = 0;
  std::string synced;  // "catalog 12 rows, transactions 301 rows"
};

// The demo flow against the running host. Returns the first failing step.
Status provision(app::App& host, const fs::path& data_dir, DemoState& st) {
  // 1. Tenant "demo" and its API key (kept sealed so later runs can show it again).
  auto& tenancy = host.tenancy();
  const fs::path sealed_file = data_dir / kSealedKeyFile;
  auto existing = tenancy.resolveTenant(kTenantName);
  if (existing.isOk()) {
    st.tenant_id = existing->id;
    auto key = loadSealedKey(host.vault(), sealed_file, st.tenant_id);
    if (key.isOk()) {
      st.api_key = *key;
      st.key_note = "reused (kept sealed in " + sealed_file.string() + ")";
    } else {
      auto made = tenancy.createKey(st.tenant_id);
      if (!made.isOk()) return made.status();
      st.api_key = made->plaintext;
      st.key_note = "new key (the stored one was unreadable: " + key.status().message() + ")";
      if (Status s = saveSealedKey(host.vault(), sealed_file, st.tenant_id, st.api_key); !s.isOk()) return s;
    }
  } else if (existing.status().code() == StatusCode::kNotFound) {
    auto created = tenancy.createTenant(kTenantName);
    if (!created.isOk()) return created.status();
    st.tenant_id = created->tenant.id;
    st.api_key = created->first_key.plaintext;
    st.tenant_created = true;
    st.key_note = "created (kept sealed in " + sealed_file.string() + ")";
    if (Status s = saveSealedKey(host.vault(), sealed_file, st.tenant_id, st.api_key); !s.isOk()) return s;
  } else {
    return existing.status();
  }

  TenantApi api(host.port(), st.api_key);
  const std::string base = std::string("/api/integrations/") + kIntegration;

  // 2. Connect Stripe BYOK with the double's test keys (once; the credentials stay in the vault).
  auto integration = api.ok("GET", base);
  if (!integration.isOk()) return integration.status();
  if (!integration->value("connected", false)) {
    auto connected = api.ok("POST", base + "/connect",
                            {{"secret_key", kDemoSecretKey}, {"publishable_key", kDemoPublishableKey}});
    if (!connected.isOk()) return connected.status();
    st.connected_now = true;
  }

  // 3. Setup: catalog + webhook endpoint pointing at this host (idempotent against the Stripe account).
  auto setup =
      api.ok("POST", base + "/actions/setup",
             {{"tenant", st.tenant_id},
              {"answers", {{"confirm_key", "yes"}, {"catalog", "all"}, {"public_url", host.baseUrl()}}}});
  if (!setup.isOk()) return setup.status();
  st.plans = setup->value("plans", json::object());
  st.webhook_url = setup->value("webhook_endpoint", json::object()).value("url", "");

  // 4. The demo invoice: reuse a paid one from an earlier run, else create it and pay it in the double.
  auto records = listAll(api, "/api/records/stripe/invoice?limit=1000");
  if (!records.isOk()) return records.status();
  for (const json& r : *records) {
    const json data = r.value("data", json::object());
    if (data.value("reference", json()) == kInvoiceReference && data.value("status", json()) == "paid") {
      st.invoice_id = r.value("id", "");
      st.invoice_reused = true;
      st.amount = data.value("amount_paid", int64_t{0});
      st.currency = data.value("currency", "usd");
    }
  }
  if (!st.invoice_reused) {
    const json buyer = {
        {"reference", "demo-buyer"},
        {"email", "buyer@example.com"},
        {"name", "Demo Buyer"},
        {"items", json::array({{{"title", "Pro plan, first month"}, {"quantity", 1}, {"price", 2900}},
                               {{"title", "Setup fee"}, {"quantity", 1}, {"price", 500}}})}};
    auto made = api.ok("POST", base + "/actions/create_invoices",
                       {{"reference", kInvoiceReference}, {"buyers", json::array({buyer})}});
    if (!made.isOk()) return made.status();
    const json result =
        made->value("results", json::array()).empty() ? json::object() : (*made)["results"][0];
    if (!result.value("ok", false))
      return Status(StatusCode::kInternal, "create_invoices failed: " + made->dump());
    st.invoice_id = result.value("invoice_id", "");
    st.amount = result.value("amount_due", int64_t{0});
    st.currency = result.value("currency", "usd");
    auto paid = api.ok("POST", base + "/actions/simulate_payment", {{"invoice", st.invoice_id}});
    if (!paid.isOk()) return paid.status();
  }

  // 5. Wait for the signed webhook to reach the record, and for the normalized event.
  const auto deadline = Clock::now() + kPaidTimeout;
  bool record_paid = false;
  while (true) {
    if (stopRequested()) return Status(StatusCode::kUnavailable, "interrupted");
    if (!record_paid) {
      auto record = api.call("GET", "/api/records/stripe/invoice/" + st.invoice_id);
      if (!record.isOk()) return record.status();
      record_paid =
          record->status == 200 && record->body.value("data", json::object()).value("status", "") == "paid";
    }
    if (record_paid) {
      auto events = listAll(api, "/api/events?type=invoice.updated&limit=500");
      if (!events.isOk()) return events.status();
      for (const json& e : *events) {
        const json data = e.value("data", json::object());
        if (data.value("id", "") == st.invoice_id && data.value("status", "") == "paid") {
          const json id = e.value("id", json());
          if (id.is_number_integer()) st.event_id = id.get<int64_t>();
          if (id.is_string()) st.event_id = parseInt64(id.get<std::string>()).value_or(0);
        }
      }
      if (st.event_id != 0) break;
    }
    if (Clock::now() >= deadline) {
      return Status(StatusCode::kUnavailable,
                    std::string("invoice ") + st.invoice_id + " was paid in the double but " +
                        (record_paid ? "no invoice.updated event with status paid appeared"
                                     : "its record did not turn to paid") +
                        " within " + std::to_string(kPaidTimeout.count()) +
                        " s (check the webhook inbox: GET /api/webhooks)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // 6. The sync jobs, so the console's Catalog, Transactions and Analytics pages have data on first start
  //    (the double seeds 30 days of charges). Later runs continue from the stored cursors.
  for (const char* job : {"catalog", "transactions"}) {
    auto run = api.ok("POST", base + "/jobs/" + job + "/run", json::object());
    if (!run.isOk()) return run.status();
    const json r = run->value("run", json::object());
    if (!st.synced.empty()) st.synced += ", ";
    st.synced += std::string(job) + " " +
                 (r.value("status", "") == "running" ? std::string("still running")
                                                     : std::to_string(r.value("rows", int64_t{0})) +
                                                           " rows " + r.value("status", std::string("?")));
  }
  return Status::ok();
}

void printReady(std::ostream& out, const app::App& host, const DoubleProcess& dbl, const fs::path& data_dir,
                const DemoState& st, const std::string& admin_token, double seconds) {
  const std::string url = host.baseUrl();
  char ready[32];
  std::snprintf(ready, sizeof ready, "%.2f", seconds);
  out << "\nihost demo ready in " << ready << " s (" << (st.tenant_created ? "first run" : "reusing")
      << " data in " << data_dir.string() << ")\n\n"
      << "  host            " << url << "\n"
      << "  console         " << url << "/admin\n"
      << "  admin token     " << admin_token << "\n"
      << "  tenant          demo (" << st.tenant_id << ")\n"
      << "  tenant API key  " << st.api_key << "   [" << st.key_note << "]\n"
      << "  Stripe double   " << dbl.url() << "   (stripe-double test process; test key " << kDemoSecretKey
      << ")\n\n"
      << "What happened:\n"
      << "  Stripe BYOK " << (st.connected_now ? "connected" : "already connected") << " with test keys; "
      << "catalog " << st.plans.dump() << "\n"
      << "  webhook endpoint at the double -> " << st.webhook_url << "\n"
      << "  invoice " << st.invoice_id << " (" << money(st.amount, st.currency) << ") "
      << (st.invoice_reused ? "was paid on an earlier run" : "created and paid in the double")
      << " -> signed webhook -> record status paid -> event invoice.updated #" << st.event_id << "\n"
      << "  sync jobs run: " << st.synced << " (console: Catalog, Transactions, Analytics)\n\n"
      << "Try (copy-paste):\n"
      << "  export IHOST=" << url << " KEY=" << st.api_key << " STRIPE=" << dbl.url() << "\n"
      << "  curl -s -H \"Authorization: Bearer $KEY\" $IHOST/api/integrations\n"
      << "  curl -s -H \"Authorization: Bearer $KEY\" $IHOST/api/records/stripe/invoice\n"
      << "  curl -s -H \"Authorization: Bearer $KEY\" \"$IHOST/api/events?after=0\"\n"
      << "  curl -sN -H \"Authorization: Bearer $KEY\" $IHOST/api/events/stream        # SSE; Ctrl-C to "
         "leave\n"
      << "  curl -s -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' "
         "$IHOST/api/integrations/stripe/actions/create_invoices \\\n"
         "    -d "
         "'{\"reference\":\"demo-order-2\",\"buyers\":[{\"reference\":\"ann\",\"email\":\"ann@example.com\","
         "\"items\":[{\"title\":\"Lot 7\",\"quantity\":1,\"price\":1500}]}]}'\n"
      << "  curl -s -u " << kDemoSecretKey
      << ": -X POST $STRIPE/v1/invoices/<in_… from the line above>/pay -d paid_out_of_band=true"
         "   # pay it the way Stripe would\n\n"
      << "Ctrl-C stops the demo; the data stays in " << data_dir.string()
      << " (run again to reuse it, delete it to start over).\n"
      << std::flush;
}

}  // namespace

int runDemoCommand(const std::vector<std::string>& raw, std::ostream& out, std::ostream& err) {
  const auto started = Clock::now();
  auto parsed = parseDemoArgs(raw);
  if (!parsed.isOk()) {
    err << "ihost demo: " << parsed.status().message() << "\n" << kDemoHelp;
    return kExitUsage;
  }
  const DemoArgs& args = *parsed;
  if (args.help) {
    out << kDemoHelp;
    return kExitOk;
  }
  // Block the stop signals before any thread starts: every thread inherits the mask, sigwait() takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code ec;
  (void)createPrivateDirectories(args.data_dir);  // 0700; a failure is reported just below
  const fs::path data_dir = fs::absolute(args.data_dir, ec).lexically_normal();
  if (!fs::is_directory(data_dir)) {
    err << "ihost demo: cannot create the data directory " << args.data_dir << " (--data-dir)\n";
    return kExitFailure;
  }
  const std::string plugins_dir = pluginsDirNextToBinary();
  if (!fs::exists(fs::path(plugins_dir) / "libstripe_byok.so")) {
    err << "ihost demo: the Stripe BYOK plugin is not in " << plugins_dir
        << " (expected next to the ihost binary); build the ihost_bundle target (scripts/run.sh does)\n";
    return kExitFailure;
  }

  for (const auto& [port, flag] :
       {std::pair{args.port, "--port"}, std::pair{args.double_port, "--double-port"}}) {
    if (portInUse(port)) {
      err << "ihost demo: 127.0.0.1:" << port << " is already in use (another ihost demo?); stop it or pass "
          << flag << " N (0 picks a free port)\n";
      return kExitFailure;
    }
  }
  auto dbl = DoubleProcess::start(args.double_port);
  if (!dbl.isOk()) {
    err << "ihost demo: " << dbl.status().message() << "\n";
    return kExitFailure;
  }

  const fs::path key_file = data_dir / "vault.keys";
  if (!fs::exists(key_file)) {
    auto token = vault::initKeyFile(key_file.string());
    if (!token.isOk()) {
      err << "ihost demo: " << token.status().message() << "\n";
      return kExitFailure;
    }
  }
  // The config is written next to the data so that other commands can use it while the demo runs, e.g.
  // `ihost keys create demo --config demo-data/ihost.toml`.
  const std::string toml =
      "# Written by `ihost demo` on every start; edits are overwritten.\n"
      "[server]\nlisten = \"127.0.0.1:" +
      std::to_string(args.port) +
      "\"\nworker_threads = 16\n\n"
      "[storage]\npath = \"ihost.db\"\n\n"
      "[vault]\nkey_file = \"vault.keys\"\n\n"
      "[plugins]\ndir = " +
      json(plugins_dir).dump() +
      "\n\n"
      "[log]\nlevel = \"warn\"\n\n"
      "[inbox]\nretry_schedule_s = [2, 10, 60, 300]\n\n"
      "# The Stripe double listens on loopback, which outbound calls may not reach by default.\n"
      "[outbound]\nallow_networks = [\"127.0.0.1/32\"]\n\n"
      "[integrations.stripe]\nplugin = \"stripe_byok\"\napi_base_url = " +
      json((*dbl)->url()).dump() + "\nstripe_version = \"2024-06-20\"\n";
  const fs::path config_file = data_dir / "ihost.toml";
  {
    std::ofstream f(config_file, std::ios::trunc);
    f << toml;
    if (!f.flush()) {
      err << "ihost demo: cannot write " << config_file.string() << "\n";
      return kExitFailure;
    }
  }
  // Self-contained: IHOST_* overrides (listen address, vault keys, …) from the shell do not apply here.
  config::Environment env;
  for (auto& [k, v] : config::processEnvironment())
    if (k.rfind("IHOST_", 0) != 0) env.emplace(k, v);
  auto cfg = config::loadFile(config_file.string(), env);
  if (!cfg.isOk()) {
    err << "ihost demo: generated configuration is invalid:\n" << cfg.status().message() << "\n";
    return kExitFailure;
  }
  auto created = app::App::create(std::move(*cfg), env);
  if (!created.isOk()) {
    err << "ihost demo: cannot start the host: " << created.status().message() << "\n";
    return kExitFailure;
  }
  std::unique_ptr<app::App> host = std::move(*created);
  log::setLevel(log::Level::kWarn);
  if (Status s = host->start(); !s.isOk()) {
    err << "ihost demo: cannot start the host: " << s.message()
        << " (pass --port N, or 0 for any free port)\n";
    return kExitFailure;
  }
  out << "ihost demo: host on " << host->baseUrl() << ", Stripe test double on " << (*dbl)->url()
      << "; provisioning…" << std::endl;

  DemoState state;
  Status provisioned = provision(*host, data_dir, state);
  if (!provisioned.isOk()) {
    const bool interrupted = stopRequested();
    if (!interrupted) err << "ihost demo: " << provisioned.message() << "\n";
    host.reset();
    (*dbl)->stop();
    return interrupted ? kExitOk : kExitFailure;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const std::string admin_token(host->vault().keyRing()->adminToken().view());
  printReady(out, *host, **dbl, data_dir, state, admin_token, seconds);

  int sig = 0;
  sigwait(&signals, &sig);
  out << "\nihost demo: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping…" << std::endl;
  host->stop();  // intake, scheduler, inbox, plugin calls, instances, libraries, store
  // Destroying the host also closes its pooled keep-alive connections to the double, which would otherwise
  // hold the double's server threads until their idle timeout (5 s).
  host.reset();
  (*dbl)->stop();
  out << "ihost demo: stopped" << std::endl;
  return kExitOk;
}

}  // namespace ih::cli

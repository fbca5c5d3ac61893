// `ihost demo`: the real binary as a child process on free ports with a temp data dir. It must print the
// ready line with a working tenant key, leave a paid invoice record and its event, stop on SIGINT with exit
// 0, and a second run on the same data dir must reuse everything (same key, no new tenant, invoice or
// product).
#include <httplib.h>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "store/store.h"
#include "support/temp_dir.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One `ihost demo` child: stdout through a pipe, stderr to a file in the temp dir.
class DemoProcess {
 public:
  DemoProcess(const std::string& data_dir, const std::string& stderr_file) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      int err = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err >= 0) dup2(err, STDERR_FILENO);
      close(fds[0]);
      execl(IH_IHOST_BIN, IH_IHOST_BIN, "demo", "--data-dir", data_dir.c_str(), "--port", "0",
            "--double-port", "0", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    out_fd_ = fds[0];
  }
  ~DemoProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }

  // Reads stdout until `marker` appears (true) or the deadline/EOF (false).
  bool readUntil(const std::string& marker, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (output_.find(marker) == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) return output_.find(marker) != std::string::npos;
      output_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  // SIGINT, then the exit code (-1 if it did not exit within `limit`).
  int interrupt(std::chrono::milliseconds limit) {
    REQUIRE(kill(pid_, SIGINT) == 0);
    const auto deadline = Clock::now() + limit;
    int status = 0;
    while (Clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        readUntil("ihost demo: stopped", std::chrono::milliseconds(200));
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  const std::string& output() const { return output_; }

  // The value after `name=` on the printed export line.
  std::string exported(const std::string& name) const {
    std::smatch m;
    const std::regex re(name + "=(\\S+)");
    if (!std::regex_search(output_, m, re)) return {};
    return m[1];
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;
  std::string output_;
};

struct Observed {
  std::string key;
  double ready_seconds = 0;
  size_t invoices = 0;       // invoice records
  size_t demo_invoices = 0;  // records of the demo invoice reference
  size_t products = 0;       // products in the run's double
  size_t transactions = 0;   // transaction records after the run
};

json getJson(const std::string& base, const std::string& path, const httplib::Headers& headers) {
  httplib::Client c(base);
  c.set_read_timeout(std::chrono::seconds(10));
  auto r = c.Get(path.c_str(), headers);
  REQUIRE(r);
  INFO(path << " -> " << r->status << " " << r->body);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

// One full run: start, wait for ready, check through the API, SIGINT.
Observed runDemo(const ih::test::TempDir& dir, const std::string& label) {
  const std::string err_file = dir.file(label + ".stderr");
  DemoProcess demo(dir.file("demo-data"), err_file);
  const bool ready = demo.readUntil("Ctrl-C stops the demo", std::chrono::seconds(20));
  std::ifstream err(err_file);
  std::string err_text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  INFO("stdout:\n" << demo.output() << "\nstderr:\n" << err_text);
  REQUIRE(ready);

  Observed seen;
  std::smatch m;
  REQUIRE(std::regex_search(demo.output(), m, std::regex("ready in ([0-9.]+) s")));
  seen.ready_seconds = std::stod(m[1]);
  seen.key = demo.exported("KEY");
  const std::string ihost = demo.exported("IHOST");
  const std::string stripe = demo.exported("STRIPE");
  REQUIRE(seen.key.rfind("ihk_live_", 0) == 0);
  REQUIRE(ihost.rfind("http://127.0.0.1:", 0) == 0);
  REQUIRE(stripe.rfind("http://127.0.0.1:", 0) == 0);
  CHECK(demo.output().find(ihost + "/admin") != std::string::npos);
  CHECK(demo.output().find("admin token     iha_") != std::string::npos);

  // The printed key works; Stripe is connected.
  const httplib::Headers auth = {{"Authorization", "Bearer " + seen.key}};
  json integrations = getJson(ihost, "/api/integrations", auth);
  bool connected = false;
  for (const auto& i : integrations["data"])
    if (i.value("id", "") == "stripe") connected = i.value("connected", false);
  CHECK(connected);

  // The demo invoice record is paid and its event exists.
  json records = getJson(ihost, "/api/records/stripe/invoice?limit=1000", auth);
  std::string invoice_id;
  for (const auto& r : records["data"]) {
    ++seen.invoices;
    if (r["data"].value("reference", "") == "demo-order-1") {
      ++seen.demo_invoices;
      invoice_id = r["id"];
      CHECK(r["data"]["status"] == "paid");
    }
  }
  REQUIRE(!invoice_id.empty());
  json events = getJson(ihost, "/api/events?type=invoice.updated&limit=500", auth);
  bool paid_event = false;
  for (const auto& e : events["data"])
    if (e["data"].value("id", "") == invoice_id && e["data"].value("status", "") == "paid") paid_event = true;
  CHECK(paid_event);

  // The sync jobs ran: the Analytics page has the double's 30 days of charges on first start.
  CHECK(demo.output().find("sync jobs run: catalog ") != std::string::npos);
  json txns = getJson(ihost, "/api/records/stripe/transaction?limit=1000", auth);
  seen.transactions = txns["data"].size();
  json products_synced = getJson(ihost, "/api/records/stripe/product?limit=1000", auth);
  CHECK(products_synced["data"].size() >= 2);

  // The run's double holds the catalog once (setup is idempotent within the run).
  json products = getJson(stripe, "/v1/products?limit=100",
                          {{"Authorization", "Bearer sk_test_ihostdemo0000000000000001"}});
  seen.products = products["data"].size();

  CHECK(demo.interrupt(std::chrono::seconds(10)) == 0);
  CHECK(demo.output().find("ihost demo: stopped") != std::string::npos);
  return seen;
}

}  // namespace

TEST_CASE("ihost demo: ready with a paid invoice, Ctrl-C exits 0, a second run reuses the data", "[demo]") {
  ih::test::TempDir dir;
  const Observed first = runDemo(dir, "first");
  CHECK(first.ready_seconds < 10);
  CHECK(first.demo_invoices == 1);
  CHECK(first.products == 2);        // the default catalog: starter, pro
  CHECK(first.transactions >= 300);  // 300 seeded charges and the demo invoice's payment

  // The files the demo keeps: key ring (0600), sealed demo key (0600), SQLite.
  struct stat st {};
  REQUIRE(stat(dir.file("demo-data/vault.keys").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(dir.file("demo-data/demo-key.sealed").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream sealed(dir.file("demo-data/demo-key.sealed"));
  std::string sealed_text((std::istreambuf_iterator<char>(sealed)), std::istreambuf_iterator<char>());
  CHECK(sealed_text.find(first.key) == std::string::npos);

  const Observed second = runDemo(dir, "second");
  CHECK(second.ready_seconds < 10);
  CHECK(second.key == first.key);  // shown again from the sealed copy
  CHECK(second.invoices == first.invoices);
  CHECK(second.demo_invoices == 1);
  CHECK(second.products == 2);

  ih::store::Options options;
  options.path = dir.file("demo-data/ihost.db");
  auto store = ih::store::Store::open(options);
  REQUIRE(store.isOk());
  auto tenants = (*store)->listTenants();
  REQUIRE(tenants.isOk());
  REQUIRE(tenants->size() == 1);
  CHECK((*tenants)[0].name == "demo");
}

// GET /metrics after real traffic through a real host (TestHost: real plugins, SQLite, HTTP on loopback): API
// calls, a 404, a signed Stripe webhook delivered by the in-process Stripe double, outbound calls to it, a
// sync run of the example plugin against a local provider, vault seal/open (one failing). The exposition is
// parsed strictly (Prometheus text format 0.0.4) and the families, labels and counts are checked.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ih/plugin_abi.h"
#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/test_host.h"
#include "vault/vault.h"

namespace {

using nlohmann::json;
using Labels = std::map<std::string, std::string>;

// ---- a strict parser for the Prometheus text format ------------------------------------------------------
// Violations throw ParseError naming the rule and the line, so that the parser itself can be tested to fail.

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
std::string g_line;  // the line being checked, for messages
#define PARSE_CHECK(cond) \
  if (!(cond)) throw ParseError(std::string("violated ") + #cond + " at: " + g_line)

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string type;
  std::string help;
  std::vector<Sample> samples;
};

struct Exposition {
  std::map<std::string, Family> families;

  // Value of the sample `name` whose labels include `match`; 0 when absent (counters start at 0).
  double value(const std::string& name, const Labels& match) const {
    double total = 0;
    bool seen = false;
    for (const auto& [family_name, family] : families) {
      for (const auto& s : family.samples) {
        if (s.name != name) continue;
        bool ok = true;
        for (const auto& [k, v] : match) {
          auto it = s.labels.find(k);
          if (it == s.labels.end() || it->second != v) ok = false;
        }
        if (ok) {
          if (seen) throw ParseError("more than one series of " + name + " matches");
          seen = true;
          total = s.value;
        }
      }
    }
    return total;
  }
  bool has(const std::string& family) const { return families.count(family) > 0; }
};

const std::regex kMetricName("[a-zA-Z_:][a-zA-Z0-9_:]*");
const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");

double parseValue(const std::string& text) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  static const std::regex kNumber(R"(-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
  PARSE_CHECK(std::regex_match(text, kNumber));
  return std::stod(text);
}

// One sample line: name{label="value",...} value  (no timestamp: the host never writes one).
Sample parseSample(const std::string& line) {
  Sample s;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ')
    ++i;
  s.name = line.substr(0, i);
  PARSE_CHECK(std::regex_match(s.name, kMetricName));
  PARSE_CHECK(i < line.size());
  if (line[i] == '{') {
    ++i;
    while (true) {
      PARSE_CHECK(i < line.size());
      if (line[i] == '}') {
        ++i;
        break;
      }
      size_t eq = line.find('=', i);
      PARSE_CHECK(eq != std::string::npos);
      std::string label = line.substr(i, eq - i);
      PARSE_CHECK(std::regex_match(label, kLabelName));
      PARSE_CHECK(label.rfind("__", 0) != 0);  // reserved
      PARSE_CHECK(eq + 1 < line.size());
      PARSE_CHECK(line[eq + 1] == '"');
      std::string value;
      size_t j = eq + 2;
      for (;; ++j) {
        PARSE_CHECK(j < line.size());
        char c = line[j];
        if (c == '"') break;
        if (c == '\\') {
          PARSE_CHECK(j + 1 < line.size());
          char e = line[++j];
          PARSE_CHECK((e == '\\' || e == '"' || e == 'n'));  // the only escapes the format defines
          value += e == 'n' ? '\n' : e;
        } else {
          value += c;
        }
      }
      PARSE_CHECK(s.labels.emplace(label, value).second);  // no label twice
      i = j + 1;
      PARSE_CHECK(i < line.size());
      if (line[i] == ',') {
        ++i;
        PARSE_CHECK(line[i] != '}');  // we never write a trailing comma
      } else {
        PARSE_CHECK(line[i] == '}');
      }
    }
  }
  PARSE_CHECK(i < line.size());
  PARSE_CHECK(line[i] == ' ');
  std::string value = line.substr(i + 1);
  PARSE_CHECK(value.find(' ') == std::string::npos);  // no timestamp, single space
  s.value = parseValue(value);
  return s;
}

// Parses the whole body; throws ParseError on the first rule of the format that is broken.
Exposition parseStrict(const std::string& text) {
  PARSE_CHECK(!text.empty());
  PARSE_CHECK(text.back() == '\n');
  Exposition out;
  std::set<std::string> finished;  // families whose block ended (a family must be one contiguous block)
  std::string current;
  std::istringstream in(text);
  std::string line;
  auto enter = [&](const std::string& family) {
    if (family == current) return;
    PARSE_CHECK(finished.count(family) == 0);
    if (!current.empty()) finished.insert(current);
    current = family;
  };
  while (std::getline(in, line)) {
    g_line = line;
    PARSE_CHECK(!line.empty());
    if (line[0] == '#') {
      static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*))");
      static const std::regex kType(
          R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
      std::smatch m;
      if (std::regex_match(line, m, kHelp)) {
        enter(m[1]);
        Family& f = out.families[m[1]];
        PARSE_CHECK(f.help.empty());  // HELP once per family
        PARSE_CHECK(f.samples.empty());
        f.help = m[2];
        PARSE_CHECK(!f.help.empty());
        // Only \\ and \n are escapes in HELP text.
        for (size_t k = 0; k < f.help.size(); ++k) {
          if (f.help[k] == '\\') {
            PARSE_CHECK(k + 1 < f.help.size());
            PARSE_CHECK((f.help[k + 1] == '\\' || f.help[k + 1] == 'n'));
            ++k;
          }
        }
      } else if (std::regex_match(line, m, kType)) {
        enter(m[1]);
        Family& f = out.families[m[1]];
        PARSE_CHECK(f.type.empty());     // TYPE once per family
        PARSE_CHECK(f.samples.empty());  // TYPE precedes the samples
        f.type = m[2];
      } else {
        throw ParseError("a comment that is neither # HELP nor # TYPE: " + line);
      }
      continue;
    }
    Sample s = parseSample(line);
    std::string family = s.name;
    if (!out.families.count(family)) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sfx = suffix;
        if (s.name.size() > sfx.size() && s.name.compare(s.name.size() - sfx.size(), sfx.size(), sfx) == 0 &&
            out.families.count(s.name.substr(0, s.name.size() - sfx.size()))) {
          family = s.name.substr(0, s.name.size() - sfx.size());
          PARSE_CHECK(out.families[family].type == "histogram");
        }
      }
    }
    PARSE_CHECK(out.families.count(family));  // a sample only after its family's TYPE
    PARSE_CHECK(family == current);
    Family& f = out.families[family];
    PARSE_CHECK(!f.type.empty());
    if (f.type == "counter") {
      PARSE_CHECK(s.value >= 0);
      // ihost's own counters count events; process_cpu_seconds_total counts seconds (a float).
      if (family.rfind("ihost_", 0) == 0) PARSE_CHECK(s.value == std::floor(s.value));
    }
    if (f.type == "histogram") PARSE_CHECK((s.name != family));  // only _bucket/_sum/_count
    f.samples.push_back(std::move(s));
  }
  // Histogram invariants, per series (labels without le).
  for (const auto& [name, f] : out.families) {
    PARSE_CHECK(!f.type.empty());
    if (f.type != "histogram") continue;
    struct Series {
      std::vector<std::pair<double, double>> buckets;  // (le, cumulative count) in written order
      std::optional<double> sum, count;
    };
    std::map<Labels, Series> series;
    for (const auto& s : f.samples) {
      Labels key = s.labels;
      if (s.name == name + "_bucket") {
        PARSE_CHECK(key.count("le"));
        double le = parseValue(key["le"]);
        key.erase("le");
        series[key].buckets.emplace_back(le, s.value);
      } else if (s.name == name + "_sum") {
        PARSE_CHECK(!key.count("le"));
        PARSE_CHECK(!series[key].sum);
        series[key].sum = s.value;
      } else {
        PARSE_CHECK(!key.count("le"));
        PARSE_CHECK(!series[key].count);
        series[key].count = s.value;
      }
    }
    for (const auto& [labels, ser] : series) {
      g_line = "histogram " + name + " series " + json(labels).dump();
      PARSE_CHECK(ser.sum);
      PARSE_CHECK(ser.count);
      PARSE_CHECK(!ser.buckets.empty());
      PARSE_CHECK(std::isinf(ser.buckets.back().first));  // the +Inf bucket, last
      for (size_t k = 1; k < ser.buckets.size(); ++k) {
        PARSE_CHECK(ser.buckets[k].first > ser.buckets[k - 1].first);     // le ascending
        PARSE_CHECK(ser.buckets[k].second >= ser.buckets[k - 1].second);  // cumulative
      }
      PARSE_CHECK(ser.buckets.back().second == *ser.count);
      PARSE_CHECK(*ser.sum >= 0);  // every histogram here observes durations
    }
  }
  return out;
}

// ---- traffic --------------------------------------------------------------------------------------------

constexpr char kKey[] = "sk_test_ihostmetricstest00000001";
constexpr char kPk[] = "pk_test_ihostmetricstest00000001";

// The provider the example plugin syncs from: three items on one page.
struct ItemsProvider {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  ItemsProvider() {
    server.Get("/ping", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"account":"acct_items"})", "application/json");
    });
    server.Get("/items", [](const httplib::Request&, httplib::Response& res) {
      json items = json::array();
      for (const char* id : {"it_1", "it_2", "it_3"})
        items.push_back({{"id", id}, {"updated_at", 100}, {"name", id}});
      res.set_content(json({{"items", items}, {"has_more", false}}).dump(), "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~ItemsProvider() {
    server.stop();
    thread.join();
  }
};

using ih::test::eventually;

}  // namespace

TEST_CASE("metrics: /metrics is strict Prometheus text and counts real traffic", "[metrics]") {
  ih::stripe_double::Options double_options;
  double_options.api_keys = {kKey};
  auto started = ih::stripe_double::StripeDouble::start(double_options);
  REQUIRE(started.isOk());
  std::unique_ptr<ih::stripe_double::StripeDouble> stripe = std::move(started).value();
  ItemsProvider items;
  ih::test::TestHostOptions options;
  options.extra_toml =
      "[integrations.stripe]\nplugin = \"stripe_byok\"\napi_base_url = \"" + stripe->url() +
      "\"\n\n[integrations.example]\nplugin = \"example\"\napi_base_url = \"http://127.0.0.1:" +
      std::to_string(items.port) + "\"\nwebhook_secret = \"whsec_metrics_test_0123456789\"\n";
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("metrics");
  auto client = host.client();
  auto auth = ih::test::bearer(tenant.api_key);

  auto scrape = [&] {
    auto res = client->Get("/metrics");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
    try {
      return parseStrict(res->body);
    } catch (const ParseError& e) {
      FAIL("/metrics is not valid Prometheus text: " << e.what());
    }
    return Exposition{};
  };
  const Exposition before = scrape();

  // API traffic: three listings, one unknown path, one unauthenticated call.
  for (int i = 0; i < 3; ++i) {
    auto r = client->Get("/api/integrations", auth);
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }
  auto missing = client->Get("/no/such/path/ten_secret_raw_path");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto anonymous = client->Get("/api/integrations");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);

  // Outbound to the double + vault seal (connect), then setup (webhook endpoint at this host), then a payment
  // whose signed webhook comes back through the inbox.
  auto post = [&](const std::string& path, const json& body) {
    auto r = client->Post(path.c_str(), auth, body.dump(), "application/json");
    REQUIRE(r);
    INFO(path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  };
  post("/api/integrations/stripe/connect", {{"secret_key", kKey}, {"publishable_key", kPk}});
  post("/api/integrations/stripe/actions/setup",
       {{"tenant", tenant.tenant_id},
        {"answers", {{"public_url", host.app().baseUrl()}, {"catalog", "none"}}}});
  json intent = post("/api/integrations/stripe/actions/create_payment_intent",
                     {{"amount", 1200}, {"currency", "usd"}, {"reference", "metrics-1"}});
  const std::string pi = intent["payment_intent_id"];
  post("/api/integrations/stripe/actions/simulate_payment", {{"payment_intent", pi}});
  REQUIRE(eventually([&] {
    auto r = client->Get(("/api/records/stripe/payment/" + pi).c_str(), auth);
    return r && r->status == 200;
  }));

  // A sync run of the example plugin (three rows).
  post("/api/integrations/example/connect", {{"api_key", "ex_metricskey1"}});
  auto run =
      client->Post("/api/integrations/example/jobs/sync/run", auth, R"({"full":true})", "application/json");
  REQUIRE(run);
  INFO(run->body);
  REQUIRE((run->status == 200 || run->status == 202));

  // A vault failure: a sealed value opened under another tenant's binding.
  auto sealed = host.app().vault().seal("value", {tenant.tenant_id, "metrics", "test"});
  REQUIRE(sealed.isOk());
  CHECK_FALSE(host.app().vault().open(*sealed, {"ten_other", "metrics", "test"}).isOk());

  Exposition after;
  REQUIRE(eventually([&] {
    after = scrape();
    return after.value("ihost_sync_runs_total",
                       {{"integration", "example"}, {"job", "sync"}, {"status", "succeeded"}}) >
               before.value("ihost_sync_runs_total",
                            {{"integration", "example"}, {"job", "sync"}, {"status", "succeeded"}}) &&
           after.value("ihost_webhook_dispatch_duration_seconds_count", {{"integration", "stripe"}}) >
               before.value("ihost_webhook_dispatch_duration_seconds_count", {{"integration", "stripe"}});
  }));
  auto delta = [&](const std::string& name, const Labels& labels) {
    return after.value(name, labels) - before.value(name, labels);
  };

  // HTTP: by route pattern, never the raw path.
  CHECK(delta("ihost_http_requests_total",
              {{"route", "/api/integrations"}, {"method", "GET"}, {"status", "200"}}) == 3);
  CHECK(delta("ihost_http_requests_total",
              {{"route", "/api/integrations"}, {"method", "GET"}, {"status", "401"}}) == 1);
  CHECK(delta("ihost_http_requests_total", {{"route", "unmatched"}, {"method", "GET"}, {"status", "404"}}) ==
        1);
  CHECK(delta("ihost_http_requests_total", {{"route", "/api/integrations/{id}/actions/{action}"},
                                            {"method", "POST"},
                                            {"status", "200"}}) == 3);
  CHECK(delta("ihost_http_request_duration_seconds_count",
              {{"route", "/api/integrations"}, {"method", "GET"}}) == 4);
  CHECK(delta("ihost_http_requests_total",
              {{"route", "/webhooks/{integration}/{tenant}"}, {"method", "POST"}, {"status", "200"}}) >= 1);
  for (const auto& [name, family] : after.families) {
    for (const auto& s : family.samples) {
      for (const auto& [k, v] : s.labels) {
        INFO(s.name << " " << k << "=" << v);
        CHECK(v.find(tenant.tenant_id) == std::string::npos);  // no raw paths, no tenant ids in labels
        CHECK(v.find("ten_secret_raw_path") == std::string::npos);
        CHECK(v.find(kKey) == std::string::npos);
      }
    }
  }

  // Webhook intake and dispatch (the inbox's families).
  CHECK(delta("ihost_webhooks_received_total", {{"integration", "stripe"}, {"result", "accepted"}}) >= 1);
  CHECK(after.families.at("ihost_webhooks_backlog").type == "gauge");

  // Outbound: the double's endpoints, templated.
  CHECK(delta("ihost_outbound_requests_total",
              {{"provider", "stripe_byok"}, {"endpoint", "/v1/balance"}, {"status", "200"}}) >=
        2);  // connect + setup
  CHECK(delta("ihost_outbound_requests_total", {{"provider", "stripe_byok"},
                                                {"endpoint", "/v1/payment_intents/{id}/confirm"},
                                                {"status", "200"}}) == 1);
  CHECK(delta("ihost_outbound_request_duration_seconds_count",
              {{"provider", "stripe_byok"}, {"endpoint", "/v1/balance"}}) >= 2);
  CHECK(after.families.at("ihost_outbound_request_duration_seconds").type == "histogram");

  // Sync runs.
  CHECK(delta("ihost_sync_runs_total",
              {{"integration", "example"}, {"job", "sync"}, {"status", "succeeded"}}) == 1);
  CHECK(delta("ihost_sync_rows_total", {{"integration", "example"}, {"job", "sync"}}) == 3);
  CHECK(delta("ihost_sync_run_duration_seconds_count", {{"integration", "example"}, {"job", "sync"}}) == 1);

  // Plugin calls.
  CHECK(delta("ihost_plugin_call_duration_seconds_count",
              {{"integration", "stripe"}, {"handler", "connect"}}) == 1);
  CHECK(delta("ihost_plugin_call_duration_seconds_count",
              {{"integration", "stripe"}, {"handler", "run_action"}}) == 3);
  CHECK(delta("ihost_plugin_call_duration_seconds_count",
              {{"integration", "stripe"}, {"handler", "verify_webhook"}}) >= 1);
  CHECK(delta("ihost_plugin_call_duration_seconds_count",
              {{"integration", "stripe"}, {"handler", "handle_webhook"}}) >= 1);
  CHECK(delta("ihost_plugin_call_duration_seconds_count",
              {{"integration", "example"}, {"handler", "run_job"}}) == 1);

  CHECK(delta("ihost_plugin_calls_total",
              {{"integration", "stripe"}, {"handler", "connect"}, {"outcome", "ok"}}) == 1);
  auto allOutcomes = [](const Exposition& e, const Labels& match) {
    double total = 0;
    for (const auto& [family_name, family] : e.families) {
      for (const auto& sample : family.samples) {
        bool ok = sample.name == "ihost_plugin_calls_total";
        for (const auto& [k, v] : match) {
          auto it = sample.labels.find(k);
          if (it == sample.labels.end() || it->second != v) ok = false;
        }
        if (ok) total += sample.value;
      }
    }
    return total;
  };
  const Labels actions = {{"integration", "stripe"}, {"handler", "run_action"}};
  CHECK(allOutcomes(after, actions) - allOutcomes(before, actions) == 3);
  CHECK(after.value("ihost_event_streams_open", {}) == 0);

  // Vault.
  CHECK(delta("ihost_vault_operations_total", {{"op", "seal"}, {"result", "ok"}}) >= 2);
  CHECK(delta("ihost_vault_operations_total", {{"op", "open"}, {"result", "ok"}}) >= 1);
  CHECK(delta("ihost_vault_operations_total", {{"op", "open"}, {"result", "error"}}) == 1);

  for (const char* family : {"ihost_http_requests_total",
                             "ihost_http_request_duration_seconds",
                             "ihost_outbound_requests_total",
                             "ihost_outbound_request_duration_seconds",
                             "ihost_sync_rows_total",
                             "ihost_sync_runs_total",
                             "ihost_sync_run_duration_seconds",
                             "ihost_plugin_call_duration_seconds",
                             "ihost_vault_operations_total",
                             "ihost_webhooks_received_total",
                             "ihost_webhook_dispatch_duration_seconds",
                             "ihost_webhooks_dead_total",
                             "ihost_webhooks_backlog",
                             "ihost_build_info",
                             "process_cpu_seconds_total",
                             "process_resident_memory_bytes",
                             "process_virtual_memory_bytes",
                             "process_open_fds",
                             "process_max_fds",
                             "process_start_time_seconds"}) {
    INFO(family);
    CHECK(after.has(family));
  }

  // Every metric the shipped dashboard and alert rules query is one the host exposes (after this traffic).
  for (const char* file : {"/docs/monitoring/grafana-dashboard.json", "/docs/monitoring/alerts.yml"}) {
    std::ifstream in(std::string(IH_SOURCE_DIR) + file);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    const std::string body = text.str();
    std::set<std::string> names;
    static const std::regex kName(R"((ihost|process)_[a-z_]+)");
    for (auto it = std::sregex_iterator(body.begin(), body.end(), kName); it != std::sregex_iterator(); ++it)
      names.insert(it->str());
    CHECK(names.size() >= 8);
    for (std::string name : names) {
      for (const char* suffix : {"_bucket", "_count", "_sum"}) {
        const std::string sfx(suffix);
        if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0 &&
            !after.has(name))
          name.resize(name.size() - sfx.size());
      }
      INFO(file << " queries " << name);
      CHECK(after.has(name));
    }
  }

  // Process metrics are this process's own numbers (the host runs in the test process).
  CHECK(after.value("ihost_build_info",
                    {{"abi", std::to_string(IH_ABI_MAJOR) + "." + std::to_string(IH_ABI_MINOR)}}) == 1);
  CHECK(after.value("process_cpu_seconds_total", {}) > 0);
  CHECK(after.value("process_cpu_seconds_total", {}) >= before.value("process_cpu_seconds_total", {}));
  CHECK(after.value("process_resident_memory_bytes", {}) > 4 * 1024 * 1024);
  CHECK(after.value("process_virtual_memory_bytes", {}) >= after.value("process_resident_memory_bytes", {}));
  CHECK(after.value("process_open_fds", {}) >= 3);
  CHECK(after.value("process_max_fds", {}) >= after.value("process_open_fds", {}));
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double started_s = after.value("process_start_time_seconds", {});
  CHECK(started_s <= now_s + 1);
  CHECK(started_s > now_s - 24 * 3600);  // this test process started within the day
}

TEST_CASE("metrics: the strict parser rejects malformed expositions", "[metrics]") {
  // The parser must be able to fail, or the test above proves nothing. Each text breaks one rule.
  const std::vector<std::string> bad = {
      "# TYPE a counter\na{x=\"1\"} 1\n# TYPE a counter\n",  // TYPE twice
      "a 1\n",                                               // sample before TYPE
      "# TYPE a counter\na{x=\"bad\\q\"} 1\n",               // unknown escape
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",  // not
      // cumulative
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
      "# TYPE a counter\n# TYPE b counter\na 1\n",                       // family not contiguous
  };
  for (const auto& text : bad) {
    INFO(text);
    CHECK_THROWS_AS(parseStrict(text), ParseError);
  }
}

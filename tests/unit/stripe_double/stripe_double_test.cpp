// Stripe double over real HTTP: an in-process double on port 0, driven with httplib::Client.
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "stripe_double/internal.h"
#include "stripe_double/stripe_double.h"

using ih::stripe_double::StripeDouble;
using nlohmann::json;

namespace {

const std::string kKey = "sk_test_doubleunittestkey0001abcd";

std::unique_ptr<StripeDouble> startDouble(ih::stripe_double::Options options = {}) {
  if (options.api_keys.empty()) options.api_keys = {kKey};
  auto started = StripeDouble::start(std::move(options));
  REQUIRE(started.isOk());
  return std::move(started).value();
}

struct Api {
  explicit Api(const std::string& url, std::string key = kKey) : cli(url), key(std::move(key)) {
    cli.set_read_timeout(10, 0);
  }
  httplib::Headers headers(const httplib::Headers& extra = {}) const {
    httplib::Headers h = {{"Authorization", "Bearer " + key}};
    for (const auto& e : extra)
      h.insert(e);
    return h;
  }
  httplib::Result get(const std::string& path, const httplib::Headers& extra = {}) {
    return cli.Get(path.c_str(), headers(extra));
  }
  httplib::Result post(const std::string& path, const std::string& body, const httplib::Headers& extra = {}) {
    return cli.Post(path.c_str(), headers(extra), body, "application/x-www-form-urlencoded");
  }
  json getJson(const std::string& path, const httplib::Headers& extra = {}) {
    auto r = get(path, extra);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  json postJson(const std::string& path, const std::string& body, const httplib::Headers& extra = {}) {
    auto r = post(path, body, extra);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  httplib::Client cli;
  std::string key;
};

std::string hmacHex(const std::string& key, const std::string& msg) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    out += buf;
  }
  return out;
}

// A webhook receiver on a free loopback port; answers `fail_first` requests with 500, then 200.
struct Receiver {
  explicit Receiver(int fail_first = 0) : fail_first(fail_first) {
    server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      received.push_back(req);
      res.status = static_cast<int>(received.size()) <= this->fail_first ? 500 : 200;
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Receiver() {
    server.stop();
    thread.join();
  }
  std::vector<httplib::Request> waitFor(size_t n, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (received.size() >= n) return received;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard<std::mutex> lock(mu);
    return received;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int fail_first = 0;
  std::mutex mu;
  std::vector<httplib::Request> received;
};

}  // namespace

TEST_CASE("auth: bearer, basic, masked bad key, publishable key", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  auto r = api.get("/v1/balance");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Request-Id").rfind("req_", 0) == 0);
  CHECK(json::parse(r->body)["object"] == "balance");

  httplib::Client basic(d->url());
  basic.set_basic_auth(kKey.c_str(), "");
  auto b = basic.Get("/v1/account", {{"Stripe-Version", "2025-03-31.basil"}});
  REQUIRE(b);
  CHECK(b->status == 200);
  CHECK(b->get_header_value("Stripe-Version") == "2025-03-31.basil");
  CHECK(json::parse(b->body)["id"] == d->primaryAccountId());

  Api bad(d->url(), "sk_test_nope1234abcd");
  auto e = bad.get("/v1/customers");
  REQUIRE(e);
  CHECK(e->status == 401);
  auto err = json::parse(e->body)["error"];
  CHECK(err["type"] == "invalid_request_error");
  CHECK(err["message"] == "Invalid API Key provided: sk_test_********abcd");

  Api pk(d->url(), "pk_test_whatever");
  CHECK(pk.get("/v1/customers")->status == 401);
  httplib::Client none(d->url());
  CHECK(none.Get("/v1/customers")->status == 401);

  auto missing = api.get("/v1/customers/cus_missing");
  CHECK(missing->status == 404);
  auto me = json::parse(missing->body)["error"];
  CHECK(me["code"] == "resource_missing");
  CHECK(me["param"] == "id");
  auto noname = api.post("/v1/products", "description=x");
  CHECK(noname->status == 400);
  CHECK(json::parse(noname->body)["error"]["code"] == "parameter_missing");
}

TEST_CASE("form parsing: nested brackets, arrays, decoding, metadata unset", "[stripe_double]") {
  using ih::stripe_double::detail::parseForm;
  json p = parseForm(
      "line_items[0][price]=price_1&line_items[0][quantity]=2&line_items[1][price]=price_2&expand[]=a&expand["
      "]=b&"
      "recurring[interval]=month&metadata[0]=zero&created[gte]=10&name=Hello+World%21&flag=true");
  CHECK(p["line_items"][0]["price"] == "price_1");
  CHECK(p["line_items"][0]["quantity"] == "2");
  CHECK(p["line_items"][1]["price"] == "price_2");
  CHECK(p["expand"] == json::array({"a", "b"}));
  CHECK(p["recurring"]["interval"] == "month");
  CHECK(p["metadata"]["0"] == "zero");
  CHECK(p["created"]["gte"] == "10");
  CHECK(p["name"] == "Hello World!");
  CHECK(parseForm("expand[0]=x&expand[1]=y")["expand"] == json::array({"x", "y"}));

  auto d = startDouble();
  Api api(d->url());
  json c = api.postJson("/v1/customers", "email=a%40b.com&name=Ann+Lee&metadata[crm]=77&metadata[tier]=gold");
  CHECK(c["email"] == "a@b.com");
  CHECK(c["name"] == "Ann Lee");
  CHECK(c["metadata"] == json({{"crm", "77"}, {"tier", "gold"}}));
  json u = api.postJson("/v1/customers/" + c["id"].get<std::string>(), "metadata[tier]=");
  CHECK(u["metadata"] == json({{"crm", "77"}}));
  json s = api.getJson("/v1/customers/search?query=" +
                       ih::stripe_double::detail::urlEncode("email:'a@b.com' AND metadata['crm']:'77'"));
  CHECK(s["object"] == "search_result");
  REQUIRE(s["data"].size() == 1);
  CHECK(s["data"][0]["id"] == c["id"]);
  json price = api.postJson(
      "/v1/prices",
      "currency=usd&unit_amount=2000&recurring[interval]=month&product_data[name]=Pro&lookup_key=pro");
  CHECK(price["type"] == "recurring");
  CHECK(price["recurring"]["interval"] == "month");
  json byKey = api.getJson("/v1/prices?lookup_keys[]=pro&expand[]=data.product");
  REQUIRE(byKey["data"].size() == 1);
  CHECK(byKey["data"][0]["product"]["name"] == "Pro");
}

TEST_CASE("idempotency: replay header, parameter mismatch", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  auto first = api.post("/v1/customers", "email=x@y.z", {{"Idempotency-Key", "k-1"}});
  auto second = api.post("/v1/customers", "email=x@y.z", {{"Idempotency-Key", "k-1"}});
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->status == 200);
  CHECK(first->get_header_value("Idempotent-Replayed").empty());
  CHECK(second->get_header_value("Idempotent-Replayed") == "true");
  CHECK(json::parse(first->body)["id"] == json::parse(second->body)["id"]);
  auto other = api.post("/v1/customers", "email=other@y.z", {{"Idempotency-Key", "k-1"}});
  CHECK(other->status == 400);
  CHECK(json::parse(other->body)["error"]["type"] == "idempotency_error");
  CHECK(api.getJson("/v1/customers")["data"].size() == 1);
  int seen = 0;
  for (const auto& rec : d->requests())
    if (rec.path == "/v1/customers" && rec.method == "POST") seen += rec.header("Idempotency-Key") == "k-1";
  CHECK(seen == 3);
}

TEST_CASE("lists: 250 products paginate newest first with cursors and created filters", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) {
    d->setClockOffset(-1000 + i / 2);  // two products per second: ties ordered by insertion
    ids.push_back(api.postJson("/v1/products", "name=P" + std::to_string(i))["id"]);
  }
  d->setClockOffset(0);
  std::vector<std::string> seen;
  std::vector<int64_t> created;
  std::string after;
  bool more = true;
  int pages = 0;
  while (more) {
    json page = api.getJson("/v1/products?limit=100" + (after.empty() ? "" : "&starting_after=" + after));
    CHECK(page["object"] == "list");
    CHECK(page["url"] == "/v1/products");
    for (auto& p : page["data"]) {
      seen.push_back(p["id"]);
      created.push_back(p["created"]);
    }
    more = page["has_more"];
    after = seen.back();
    ++pages;
  }
  CHECK(pages == 3);
  REQUIRE(seen.size() == 250);
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  CHECK(seen == expected);
  json before = api.getJson("/v1/products?limit=10&ending_before=" + seen[20]);
  REQUIRE(before["data"].size() == 10);
  CHECK(before["data"][0]["id"] == seen[10]);
  CHECK(before["data"][9]["id"] == seen[19]);
  CHECK(before["has_more"] == true);
  json dflt = api.getJson("/v1/products");
  CHECK(dflt["data"].size() == 10);
  const int64_t pivot = created[125];
  auto count = [&](auto pred) {
    return static_cast<size_t>(std::count_if(created.begin(), created.end(), pred));
  };
  json lte = api.getJson("/v1/products?limit=100&created[lte]=" + std::to_string(pivot));
  CHECK(lte["data"].size() == std::min<size_t>(100, count([&](int64_t c) { return c <= pivot; })));
  json gt = api.getJson("/v1/products?limit=100&created[gt]=" + std::to_string(pivot));
  CHECK(gt["data"].size() == std::min<size_t>(100, count([&](int64_t c) { return c > pivot; })));
  CHECK(gt["data"].back()["created"].get<int64_t>() > pivot);
  json exact = api.getJson("/v1/products?created=" + std::to_string(pivot));
  CHECK(exact["data"].size() == count([&](int64_t c) { return c == pivot; }));
  CHECK(api.get("/v1/products?limit=101")->status == 400);
  CHECK(api.get("/v1/products?limit=0")->status == 400);
  auto unknown = api.get("/v1/products?starting_after=prod_nope");
  CHECK(unknown->status == 400);
  CHECK(json::parse(unknown->body)["error"]["code"] == "resource_missing");
  json del = api.postJson("/v1/products/" + ids[0], "active=false");
  CHECK(del["active"] == false);
  CHECK(api.getJson("/v1/products?active=false")["data"].size() == 1);
}

TEST_CASE("invoice lifecycle: draft, finalize, hosted page, pay, events, fees", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  json cus = api.postJson("/v1/customers", "email=bill@example.com");
  std::string cid = cus["id"];
  json inv =
      api.postJson("/v1/invoices", "customer=" + cid +
                                       "&collection_method=send_invoice&days_until_due=30&auto_advance=false&"
                                       "metadata[order]=42");
  std::string iid = inv["id"];
  CHECK(inv["status"] == "draft");
  CHECK(inv["number"].is_null());
  CHECK(inv["hosted_invoice_url"].is_null());
  json ii = api.postJson("/v1/invoiceitems", "customer=" + cid + "&invoice=" + iid +
                                                 "&amount=1500&currency=usd&description=Consulting");
  CHECK(ii["invoice"] == iid);
  json fin = api.postJson("/v1/invoices/" + iid + "/finalize", "");
  CHECK(fin["status"] == "open");
  CHECK(fin["amount_due"] == 1500);
  CHECK(fin["total"] == 1500);
  CHECK(fin["lines"]["data"].size() == 1);
  CHECK(fin["number"].is_string());
  CHECK(fin["hosted_invoice_url"] == d->url() + "/hosted/invoices/" + iid);
  httplib::Client browser(d->url());
  auto page = browser.Get(("/hosted/invoices/" + iid).c_str());
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("Pay") != std::string::npos);
  json paid = api.postJson("/v1/invoices/" + iid + "/pay", "");
  CHECK(paid["status"] == "paid");
  CHECK(paid["amount_paid"] == 1500);
  CHECK(paid["amount_remaining"] == 0);
  CHECK(paid["status_transitions"]["paid_at"].is_number());
  auto again = api.post("/v1/invoices/" + iid + "/pay", "");
  CHECK(again->status == 400);

  json events = api.getJson("/v1/events?limit=100");
  std::set<std::string> types;
  for (auto& e : events["data"])
    types.insert(e["type"].get<std::string>());
  for (const char* t : {"invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded",
                        "charge.succeeded", "customer.created", "invoiceitem.created"})
    CHECK(types.count(t) == 1);
  json paidEvents = api.getJson("/v1/events?type=invoice.paid");
  REQUIRE(paidEvents["data"].size() == 1);
  CHECK(paidEvents["data"][0]["data"]["object"]["id"] == iid);
  CHECK(paidEvents["data"][0]["request"]["id"].get<std::string>().rfind("req_", 0) == 0);
  json upd = api.getJson("/v1/events?type=invoice.updated&limit=1");
  CHECK(upd["data"][0]["data"]["previous_attributes"]["status"] == "open");

  json txns = api.getJson("/v1/balance_transactions?expand[]=data.source");
  REQUIRE(txns["data"].size() == 1);
  const json& t = txns["data"][0];
  CHECK(t["amount"] == 1500);
  CHECK(t["fee"] == 74);  // 2.9 % of 1500 = 43.5 -> 44, + 30
  CHECK(t["net"] == 1426);
  CHECK(t["fee_details"][0]["type"] == "stripe_fee");
  CHECK(t["type"] == "charge");
  CHECK(t["reporting_category"] == "charge");
  CHECK(t["source"]["object"] == "charge");
  CHECK(t["source"]["invoice"] == iid);
  CHECK(t["status"] == "pending");

  json inv2 =
      api.postJson("/v1/invoices", "customer=" + cid + "&collection_method=send_invoice&days_until_due=7");
  api.postJson("/v1/invoiceitems",
               "customer=" + cid + "&invoice=" + inv2["id"].get<std::string>() + "&amount=500&currency=usd");
  api.postJson("/v1/invoices/" + inv2["id"].get<std::string>() + "/finalize", "");
  CHECK(api.postJson("/v1/invoices/" + inv2["id"].get<std::string>() + "/void", "")["status"] == "void");
  CHECK(api.getJson("/v1/invoices?status=void&customer=" + cid)["data"].size() == 1);
}

TEST_CASE("payment intents: success with fee math, decline with card_error", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  json pi = api.postJson("/v1/payment_intents", "amount=2000&currency=usd&metadata[o]=1");
  CHECK(pi["status"] == "requires_payment_method");
  CHECK(pi["client_secret"].get<std::string>().rfind(pi["id"].get<std::string>() + "_secret_", 0) == 0);
  json ok = api.postJson("/v1/payment_intents/" + pi["id"].get<std::string>() + "/confirm",
                         "payment_method=pm_card_visa");
  CHECK(ok["status"] == "succeeded");
  CHECK(ok["amount_received"] == 2000);
  json ch =
      api.getJson("/v1/charges/" + ok["latest_charge"].get<std::string>() + "?expand[]=balance_transaction");
  CHECK(ch["payment_intent"] == pi["id"]);
  CHECK(ch["balance_transaction"]["fee"] == 88);  // 58 + 30
  CHECK(ch["balance_transaction"]["net"] == 1912);

  auto declined = api.post("/v1/payment_intents",
                           "amount=1000&currency=usd&confirm=true&payment_method=pm_card_chargeDeclined");
  REQUIRE(declined);
  CHECK(declined->status == 402);
  json err = json::parse(declined->body)["error"];
  CHECK(err["type"] == "card_error");
  CHECK(err["code"] == "card_declined");
  std::string dpi = err["payment_intent"]["id"];
  json after = api.getJson("/v1/payment_intents/" + dpi);
  CHECK(after["status"] == "requires_payment_method");
  CHECK(after["last_payment_error"]["code"] == "card_declined");

  json refund = api.postJson("/v1/refunds", "charge=" + ch["id"].get<std::string>() + "&amount=500");
  json rt = api.getJson("/v1/balance_transactions/" + refund["balance_transaction"].get<std::string>());
  CHECK(rt["type"] == "refund");
  CHECK(rt["amount"] == -500);
  CHECK(api.getJson("/v1/balance_transactions?type=refund")["data"].size() == 1);
}

TEST_CASE("payment intents: search never shows the double's private test token", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  json pi = api.postJson("/v1/payment_intents", "amount=700&currency=usd&payment_method=pm_card_visa");
  CHECK_FALSE(pi.contains("_test_token"));
  json found = api.getJson("/v1/payment_intents/search?query=status:'requires_confirmation'");
  REQUIRE(found["data"].size() == 1);
  CHECK(found["data"][0]["id"] == pi["id"]);
  CHECK_FALSE(found["data"][0].contains("_test_token"));
  CHECK(found.dump().find("pm_card_visa") == std::string::npos);
}

TEST_CASE("prices: unit_amount_decimal must be a plain non-negative decimal", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  json product = api.postJson("/v1/products", "name=Pack");
  const std::string base =
      "currency=usd&product=" + product["id"].get<std::string>() + "&unit_amount_decimal=";
  CHECK(api.postJson("/v1/prices", base + "1250.5")["unit_amount"] == 1250);
  for (const char* bad : {"12abc", "-5", "1e300", "nan", "99999999999999999999"}) {
    INFO(bad);
    auto r = api.post("/v1/prices", base + bad);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["error"]["param"] == "unit_amount_decimal");
  }
}

TEST_CASE("webhooks: signature vector, signed delivery, retries", "[stripe_double]") {
  const std::string body =
      R"({"id":"evt_test_vector_0001","object":"event","api_version":"2024-06-20","created":1700000000,"livemode":false,"type":"invoice.paid","data":{"object":{"id":"in_test_0001","object":"invoice","status":"paid","amount_paid":1500,"currency":"usd"}},"request":{"id":null,"idempotency_key":null},"pending_webhooks":1})";
  const std::string secret = "whsec_test_secret_for_adapter_vectors_0123456789";
  const std::string expected =
      "t=1700000000,v1=450b7faa21b0574797d2875b2eb15ab23d51a27a44e2c25d07d77143743c089f";
  CHECK(StripeDouble::signatureHeader(secret, 1700000000, body) == expected);
  CHECK("t=1700000000,v1=" + hmacHex(secret, "1700000000." + body) == expected);

  ih::stripe_double::Options o;
  o.webhook_retry_delays_ms = {50, 50, 50};
  auto d = startDouble(o);
  Api api(d->url());
  Receiver rx(2);  // two 500s, then 200
  json we = api.postJson("/v1/webhook_endpoints", "url=" + ih::stripe_double::detail::urlEncode(rx.url()) +
                                                      "&enabled_events[]=customer.created");
  std::string wsecret = we["secret"];
  CHECK(wsecret.rfind("whsec_", 0) == 0);
  CHECK_FALSE(api.getJson("/v1/webhook_endpoints/" + we["id"].get<std::string>()).contains("secret"));
  api.postJson("/v1/products", "name=ignored");  // not subscribed
  json cus = api.postJson("/v1/customers", "email=hook@example.com");
  auto got = rx.waitFor(3);
  REQUIRE(got.size() == 3);
  std::set<std::string> stamps;
  for (const auto& req : got) {
    std::string sig = req.get_header_value("Stripe-Signature");
    auto comma = sig.find(",v1=");
    REQUIRE(comma != std::string::npos);
    std::string t = sig.substr(2, comma - 2);
    CHECK(sig.substr(comma + 4) == hmacHex(wsecret, t + "." + req.body));
    CHECK(req.get_header_value("User-Agent") == "Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    CHECK(req.get_header_value("Content-Type") == "application/json; charset=utf-8");
    json ev = json::parse(req.body);
    CHECK(ev["type"] == "customer.created");
    CHECK(ev["data"]["object"]["id"] == cus["id"]);
    stamps.insert(sig);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto log = d->deliveries();
  REQUIRE(log.size() == 3);
  CHECK(log[0].status == 500);
  CHECK(log[1].status == 500);
  CHECK(log[2].ok);
  CHECK(log[2].attempt == 3);
  json ev = api.getJson("/v1/events?type=customer.created");
  CHECK(ev["data"][0]["pending_webhooks"] == 0);
  CHECK(api.getJson("/v1/events?delivery_success=true")["data"].size() >= 1);
}

TEST_CASE("seeding 100k balance transactions pages through all exactly once", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  ih::stripe_double::SeedOptions seed;
  seed.count = 100000;
  seed.start = 1600000000;
  seed.spacing_s = 1;
  REQUIRE(d->seedBalanceTransactions(seed).isOk());
  std::set<std::string> seen;
  std::string after;
  int64_t last_created = INT64_MAX;
  bool more = true;
  while (more) {
    json page =
        api.getJson("/v1/balance_transactions?limit=100" + (after.empty() ? "" : "&starting_after=" + after));
    for (auto& t : page["data"]) {
      CHECK(t["created"].get<int64_t>() <= last_created);
      last_created = t["created"];
      seen.insert(t["id"].get<std::string>());
    }
    more = page["has_more"];
    after = page["data"].back()["id"];
  }
  CHECK(seen.size() == 100000);
  json window =
      api.getJson("/v1/balance_transactions?limit=100&created[gte]=1600000010&created[lt]=1600000020");
  CHECK(window["data"].size() == 10);
  json src = api.getJson("/v1/balance_transactions?limit=1&expand[]=data.source");
  CHECK(src["data"][0]["source"]["object"] == "charge");
  CHECK(src["data"][0]["fee"] == 59);  // 1000 cents: 29 + 30
  // Admin endpoint seeds too.
  httplib::Client admin(d->url());
  auto r = admin.Post("/_double/seed/balance_transactions", R"({"count":10,"start":1500000000})",
                      "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body)["total"] == 100010);
}

TEST_CASE("fault injection: lock_timeout with Stripe-Should-Retry, dropped connection", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  httplib::Client admin(d->url());
  auto f = admin.Post("/_double/faults",
                      R"({"path":"/v1/balance","method":"GET","count":1,"kind":"lock_timeout"})",
                      "application/json");
  REQUIRE(f);
  REQUIRE(f->status == 200);
  auto r = api.get("/v1/balance");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->get_header_value("Stripe-Should-Retry") == "true");
  CHECK(json::parse(r->body)["error"]["code"] == "lock_timeout");
  CHECK(api.get("/v1/balance")->status == 200);

  d->addFault({"/v1/balance", "", 1, ih::stripe_double::FaultKind::kDrop, 0});
  auto dropped = api.get("/v1/balance");
  CHECK_FALSE(dropped);
  CHECK(api.get("/v1/balance")->status == 200);

  d->addFault({"/v1/customers", "POST", 1, ih::stripe_double::FaultKind::kServerError, 0});
  auto e = api.post("/v1/customers", "email=a@b.c", {{"Idempotency-Key", "retry-1"}});
  CHECK(e->status == 500);
  CHECK(e->get_header_value("Stripe-Should-Retry") == "true");
  auto retried = api.post("/v1/customers", "email=a@b.c", {{"Idempotency-Key", "retry-1"}});
  CHECK(retried->status == 200);
}

TEST_CASE("Stripe-Account scopes requests to connected accounts", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  auto connected = d->createConnectedAccount();
  REQUIRE(connected.isOk());
  httplib::Headers as = {{"Stripe-Account", connected.value()}};
  json theirs = api.postJson("/v1/products", "name=Theirs", as);
  json mine = api.postJson("/v1/products", "name=Mine");
  json platformList = api.getJson("/v1/products");
  json connectedList = api.getJson("/v1/products", as);
  REQUIRE(platformList["data"].size() == 1);
  REQUIRE(connectedList["data"].size() == 1);
  CHECK(platformList["data"][0]["id"] == mine["id"]);
  CHECK(connectedList["data"][0]["id"] == theirs["id"]);
  CHECK(api.get("/v1/products/" + theirs["id"].get<std::string>())->status == 404);
  CHECK(api.getJson("/v1/account", as)["id"] == connected.value());
  auto other = api.get("/v1/products", {{"Stripe-Account", "acct_notmine"}});
  CHECK(other->status == 403);
  CHECK(json::parse(other->body)["error"]["code"] == "account_invalid");
  json ev = api.getJson("/v1/events?type=product.created", as);
  CHECK(ev["data"][0]["account"] == connected.value());
}

TEST_CASE("Connect OAuth: authorize, token, single-use code, deauthorize", "[stripe_double]") {
  ih::stripe_double::Options o;
  o.platform_client_id = "ca_testplatform";
  o.oauth_redirect_uri = "http://localhost/cb";
  auto d = startDouble(o);
  Api api(d->url());
  Receiver rx;
  api.postJson("/v1/webhook_endpoints",
               "url=" + ih::stripe_double::detail::urlEncode(rx.url()) +
                   "&enabled_events[]=account.application.deauthorized&connect=true");
  httplib::Client browser(d->url());
  auto page =
      browser.Get("/oauth/authorize?response_type=code&client_id=ca_testplatform&scope=read_write&state=s1");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("Connect") != std::string::npos);
  auto r = browser.Get(
      "/oauth/authorize?response_type=code&client_id=ca_testplatform&scope=read_write&state=s1&auto=approve");
  REQUIRE(r);
  REQUIRE(r->status == 302);
  std::string loc = r->get_header_value("Location");
  CHECK(loc.rfind("http://localhost/cb?code=ac_", 0) == 0);
  CHECK(loc.find("state=s1") != std::string::npos);
  std::string code = loc.substr(loc.find("code=") + 5);
  code = code.substr(0, code.find('&'));
  auto tok = api.post("/oauth/token", "grant_type=authorization_code&code=" + code);
  REQUIRE(tok);
  REQUIRE(tok->status == 200);
  json t = json::parse(tok->body);
  CHECK(t["token_type"] == "bearer");
  CHECK(t["scope"] == "read_write");
  CHECK(t["refresh_token"].get<std::string>().rfind("rt_", 0) == 0);
  std::string acct = t["stripe_user_id"];
  Api asConnected(d->url(), t["access_token"]);
  CHECK(asConnected.getJson("/v1/account")["id"] == acct);
  auto reuse = api.post("/oauth/token", "grant_type=authorization_code&code=" + code);
  CHECK(reuse->status == 400);
  CHECK(json::parse(reuse->body)["error"] == "invalid_grant");
  auto denied =
      browser.Get("/oauth/authorize?response_type=code&client_id=ca_testplatform&state=s2&auto=deny");
  CHECK(denied->get_header_value("Location").find("error=access_denied") != std::string::npos);

  auto deauth = api.post("/oauth/deauthorize", "client_id=ca_testplatform&stripe_user_id=" + acct);
  REQUIRE(deauth);
  CHECK(json::parse(deauth->body)["stripe_user_id"] == acct);
  auto got = rx.waitFor(1);
  REQUIRE(got.size() == 1);
  json ev = json::parse(got[0].body);
  CHECK(ev["type"] == "account.application.deauthorized");
  CHECK(ev["account"] == acct);
  CHECK(asConnected.get("/v1/account")->status == 401);
}

TEST_CASE("checkout sessions: Stripe's validation, expiry, hosted completion, portal sessions",
          "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  const json product = api.postJson("/v1/products", "name=Plan");
  const std::string prod = product["id"];
  const std::string monthly = api.postJson(
      "/v1/prices", "product=" + prod + "&unit_amount=900&currency=usd&recurring[interval]=month")["id"];
  const std::string once =
      api.postJson("/v1/prices", "product=" + prod + "&unit_amount=99900&currency=usd")["id"];
  auto error = [&](const std::string& body) {
    auto r = api.post("/v1/checkout/sessions", body);
    REQUIRE(r);
    CHECK(r->status == 400);
    return json::parse(r->body)["error"];
  };
  CHECK(error("success_url=https://x.test/ok&line_items[0][price]=" + monthly)["param"] == "mode");
  CHECK(error("mode=subscription&line_items[0][price]=" + monthly)["param"] == "success_url");
  CHECK(error("mode=payment&success_url=https://x.test/ok&line_items[0][price]=" + monthly)["message"]
            .get<std::string>()
            .find("passed a recurring price") != std::string::npos);
  CHECK(error("mode=subscription&success_url=https://x.test/ok&line_items[0][price]=" + once)["message"]
            .get<std::string>()
            .find("at least one recurring price") != std::string::npos);
  CHECK(error("mode=subscription&success_url=https://x.test/ok&line_items[0][price]=" + monthly +
              "&subscription_data[trial_period_days]=0")["param"] == "subscription_data[trial_period_days]");

  const json expiring = api.postJson(
      "/v1/checkout/sessions", "mode=payment&success_url=https://x.test/ok&line_items[0][price]=" + once +
                                   "&line_items[0][quantity]=2");
  CHECK(expiring["amount_total"] == 199800);
  CHECK(expiring["status"] == "open");
  CHECK(expiring["payment_status"] == "unpaid");
  const json expired =
      api.postJson("/v1/checkout/sessions/" + expiring["id"].get<std::string>() + "/expire", "");
  CHECK(expired["status"] == "expired");
  CHECK(expired["url"].is_null());
  auto again = api.post("/v1/checkout/sessions/" + expiring["id"].get<std::string>() + "/expire", "");
  REQUIRE(again);
  CHECK(again->status == 400);

  const json session =
      api.postJson("/v1/checkout/sessions",
                   "mode=subscription&success_url=https://x.test/ok&customer_email=a%40x.test"
                   "&client_reference_id=user_9&line_items[0][price]=" +
                       monthly + "&subscription_data[metadata][plan]=monthly");
  const std::string cs = session["id"];
  CHECK(cs.rfind("cs_test_", 0) == 0);
  httplib::Client browser(d->url());
  auto page = browser.Get(("/hosted/checkout/" + cs).c_str());
  REQUIRE(page);
  CHECK(page->body.find("/hosted/checkout/" + cs + "/pay") != std::string::npos);
  auto paid = browser.Post(("/hosted/checkout/" + cs + "/pay").c_str());
  REQUIRE(paid);
  CHECK(paid->status == 303);
  CHECK(paid->get_header_value("Location") == "https://x.test/ok");
  const json done = api.getJson("/v1/checkout/sessions/" + cs);
  CHECK(done["status"] == "complete");
  CHECK(done["payment_status"] == "paid");  // no trial
  const json sub = api.getJson("/v1/subscriptions/" + done["subscription"].get<std::string>());
  CHECK(sub["status"] == "active");
  CHECK(sub["customer"] == done["customer"]);
  CHECK(sub["metadata"]["plan"] == "monthly");
  CHECK(api.getJson("/v1/customers/" + done["customer"].get<std::string>())["email"] == "a@x.test");
  auto twice = browser.Post(("/hosted/checkout/" + cs + "/pay").c_str());
  REQUIRE(twice);
  CHECK(twice->status == 400);
  CHECK(api.getJson("/v1/checkout/sessions?status=complete")["data"].size() == 1);

  const json portal =
      api.postJson("/v1/billing_portal/sessions",
                   "customer=" + done["customer"].get<std::string>() + "&return_url=https://x.test/b");
  CHECK(portal["object"] == "billing_portal.session");
  CHECK(portal["return_url"] == "https://x.test/b");
  auto no_customer = api.post("/v1/billing_portal/sessions", "return_url=https://x.test/b");
  REQUIRE(no_customer);
  CHECK(no_customer->status == 400);
}

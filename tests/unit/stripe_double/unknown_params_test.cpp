// Stripe double refuses undocumented request parameters like Stripe does (400 parameter_unknown), over real
// HTTP to an in-process double on port 0.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "stripe_double/stripe_double.h"

using ih::stripe_double::StripeDouble;
using nlohmann::json;

namespace {

const std::string kKey = "sk_test_unknownparamsunittest0001";

std::unique_ptr<StripeDouble> startDouble() {
  ih::stripe_double::Options options;
  options.api_keys = {kKey};
  auto started = StripeDouble::start(std::move(options));
  REQUIRE(started.isOk());
  return std::move(started).value();
}

struct Api {
  explicit Api(const std::string& url) : cli(url) { cli.set_read_timeout(10, 0); }
  httplib::Headers headers(const httplib::Headers& extra = {}) const {
    httplib::Headers h = {{"Authorization", "Bearer " + kKey}};
    for (const auto& e : extra)
      h.insert(e);
    return h;
  }
  httplib::Result get(const std::string& path) { return cli.Get(path.c_str(), headers()); }
  httplib::Result post(const std::string& path, const std::string& body, const httplib::Headers& extra = {}) {
    return cli.Post(path.c_str(), headers(extra), body, "application/x-www-form-urlencoded");
  }
  httplib::Result del(const std::string& path) { return cli.Delete(path.c_str(), headers()); }
  httplib::Client cli;
};

// Asserts a 400 parameter_unknown naming `param`, in Stripe's exact error shape.
void requireUnknown(const httplib::Result& r, const std::string& param) {
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 400);
  const json err = json::parse(r->body).at("error");
  CHECK(err["type"] == "invalid_request_error");
  CHECK(err["code"] == "parameter_unknown");
  CHECK(err["param"] == param);
  CHECK(err["message"] == "Received unknown parameter: " + param);
  CHECK(err["doc_url"] == "https://stripe.com/docs/error-codes/parameter-unknown");
}

json requireOk(const httplib::Result& r) {
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

size_t listSize(Api& api, const std::string& path) {
  return requireOk(api.get(path))["data"].size();
}

}  // namespace

TEST_CASE("unknown top-level parameter on a POST: 400 parameter_unknown, nothing created",
          "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  requireUnknown(api.post("/v1/products", "name=Gold&colour=red"), "colour");
  CHECK(listSize(api, "/v1/products") == 0);
  CHECK(listSize(api, "/v1/events") == 0);  // no product.created event either

  // Query-string parameters count on POST too.
  requireUnknown(api.post("/v1/products?bogus=1", "name=Gold"), "bogus");

  // A parameter documented for another endpoint is still unknown here (update-only param on create).
  requireUnknown(api.post("/v1/products", "name=Gold&default_price=price_123"), "default_price");

  // Action endpoints: void takes only expand.
  json cus = requireOk(api.post("/v1/customers", "email=a@example.com"));
  json inv = requireOk(api.post("/v1/invoices", "customer=" + cus["id"].get<std::string>() +
                                                    "&collection_method=send_invoice&days_until_due=30"));
  const std::string inv_id = inv["id"];
  requireUnknown(api.post("/v1/invoices/" + inv_id + "/finalize", "auto_advance=false&force=true"), "force");
  CHECK(requireOk(api.get("/v1/invoices/" + inv_id))["status"] == "draft");  // not finalized

  // DELETE with a parameter it does not document.
  requireUnknown(api.del("/v1/customers/" + cus["id"].get<std::string>() + "?hard=true"), "hard");
  CHECK(requireOk(api.get("/v1/customers/" + cus["id"].get<std::string>())).value("deleted", false) == false);
}

TEST_CASE("unknown parameter on a GET list and retrieve: 400 parameter_unknown", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  requireUnknown(api.get("/v1/customers?limit=3&sort=desc"), "sort");
  requireUnknown(api.get("/v1/balance_transactions?status=available"), "status");
  requireUnknown(api.get("/v1/events?object=invoice"), "object");
  requireUnknown(api.get("/v1/balance?currency=usd"), "currency");
  json p = requireOk(api.post("/v1/products", "name=Gold"));
  requireUnknown(api.get("/v1/products/" + p["id"].get<std::string>() + "?include=prices"), "include");
  // Search takes query/limit/page/expand only.
  requireUnknown(api.get("/v1/customers/search?query=email%3A%27a%40b.c%27&order=asc"), "order");
  // The documented filters of the same list pass.
  requireOk(api.get("/v1/customers?limit=3&email=a%40example.com&created%5Bgte%5D=0&test_clock=clock_1"));
  requireOk(api.get("/v1/balance_transactions?limit=2&type=charge&currency=usd&payout=po_1&source=ch_1"));
}

TEST_CASE("unknown sub-key of an inspected hash is reported with its bracketed path", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  json p = requireOk(api.post("/v1/products", "name=Gold"));
  const std::string prod = p["id"];
  requireUnknown(api.post("/v1/prices", "product=" + prod +
                                            "&currency=usd&unit_amount=500&recurring[interval]=month"
                                            "&recurring[foo]=1"),
                 "recurring[foo]");
  CHECK(listSize(api, "/v1/prices") == 0);
  requireUnknown(
      api.post("/v1/prices", "currency=usd&unit_amount=500&product_data[name]=X&product_data[colour]=red"),
      "product_data[colour]");
  CHECK(listSize(api, "/v1/products") == 1);  // product_data product not created

  json price = requireOk(
      api.post("/v1/prices", "product=" + prod + "&currency=usd&unit_amount=500&recurring[interval]=month"));
  json cus = requireOk(api.post("/v1/customers", "email=s@example.com"));
  requireUnknown(api.post("/v1/subscriptions", "customer=" + cus["id"].get<std::string>() +
                                                   "&items[0][price]=" + price["id"].get<std::string>() +
                                                   "&items[0][qty]=2"),
                 "items[0][qty]");
  CHECK(listSize(api, "/v1/subscriptions") == 0);
  requireUnknown(api.post("/v1/customers", "address[line1]=1 Main&address[planet]=Mars"), "address[planet]");
}

TEST_CASE("documented parameters pass: unimplemented ones, expand[], metadata keys", "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  // Documented but not implemented by the double (images, shippable, package_dimensions, tax_code): accepted.
  json p =
      requireOk(api.post("/v1/products",
                         "name=Gold&images[]=https%3A%2F%2Fex.com%2Fa.png&shippable=false"
                         "&package_dimensions[height]=1&package_dimensions[length]=1"
                         "&package_dimensions[weight]=1&package_dimensions[width]=1&tax_code=txcd_10000000"));
  CHECK(p["name"] == "Gold");
  // metadata accepts arbitrary keys, including ones that look like parameters.
  json c = requireOk(api.post("/v1/customers",
                              "email=m@example.com&metadata[anything]=1&metadata[colour]=red"
                              "&metadata[0]=zero&expand[]=invoice_settings.default_payment_method"));
  CHECK(c["metadata"]["anything"] == "1");
  CHECK(c["metadata"]["0"] == "zero");
  // expand on lists and retrieves, both bracket styles.
  requireOk(api.get("/v1/customers?expand[]=data.default_source&limit=1"));
  requireOk(api.get("/v1/customers/" + c["id"].get<std::string>() + "?expand[0]=default_source"));
  // Price with the nested recurring keys the docs list.
  json price =
      requireOk(api.post("/v1/prices", "product=" + p["id"].get<std::string>() +
                                           "&currency=usd&unit_amount=900&recurring[interval]=month"
                                           "&recurring[interval_count]=1&recurring[usage_type]=licensed"
                                           "&nickname=Monthly&lookup_key=gold_m&metadata[plan]=gold"));
  CHECK(price["type"] == "recurring");
  // Subscription item metadata accepts any key too.
  json sub =
      requireOk(api.post("/v1/subscriptions", "customer=" + c["id"].get<std::string>() +
                                                  "&items[0][price]=" + price["id"].get<std::string>() +
                                                  "&items[0][metadata][whatever]=x&proration_behavior=none"));
  CHECK(sub["status"] == "active");
  // Routes the double does not serve stay 404, not parameter_unknown.
  auto r = api.get("/v1/coupons?foo=1");
  REQUIRE(r);
  CHECK(r->status == 404);
}

TEST_CASE("idempotent retry after a parameter_unknown 400 executes with corrected params",
          "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());
  const httplib::Headers key = {{"Idempotency-Key", "retry-after-unknown-0001"}};
  requireUnknown(api.post("/v1/customers", "email=i@example.com&emial=typo", key), "emial");
  auto first = api.post("/v1/customers", "email=i@example.com", key);
  json created = requireOk(first);
  CHECK(created["email"] == "i@example.com");
  CHECK(first->get_header_value("Idempotent-Replayed").empty());  // executed, not replayed
  CHECK(listSize(api, "/v1/customers") == 1);

  // The same key and params now replay the saved result.
  auto again = api.post("/v1/customers", "email=i@example.com", key);
  CHECK(requireOk(again)["id"] == created["id"]);
  CHECK(again->get_header_value("Idempotent-Replayed") == "true");
  CHECK(listSize(api, "/v1/customers") == 1);
}

TEST_CASE("Connect OAuth token and deauthorize refuse unknown parameters", "[stripe_double]") {
  auto d = startDouble();
  httplib::Client cli(d->url());
  const httplib::Headers auth = {{"Authorization", "Bearer " + kKey}};
  auto r = cli.Post("/oauth/token", auth, "grant_type=authorization_code&code=ac_x&redirect=1",
                    "application/x-www-form-urlencoded");
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == 400);
  json body = json::parse(r->body);
  CHECK(body["error"] == "invalid_request");
  CHECK(body["error_description"] == "Received unknown parameter: redirect");

  auto dz = cli.Post("/oauth/deauthorize", auth, "client_id=ca_x&stripe_user_id=acct_x&reason=bye",
                     "application/x-www-form-urlencoded");
  REQUIRE(dz);
  CHECK(dz->status == 400);
  CHECK(json::parse(dz->body)["error_description"] == "Received unknown parameter: reason");

  // Documented parameters reach the handler (which then rejects the fake code as invalid_grant).
  auto ok = cli.Post("/oauth/token", auth, "grant_type=authorization_code&code=ac_x",
                     "application/x-www-form-urlencoded");
  REQUIRE(ok);
  CHECK(json::parse(ok->body)["error"] == "invalid_grant");
}

TEST_CASE("invoice item price fields follow the request's API version", "[stripe_double]") {
  auto d = startDouble();  // account default version 2024-06-20
  Api api(d->url());
  json prod = requireOk(api.post("/v1/products", "name=Seat"));
  json price = requireOk(
      api.post("/v1/prices", "product=" + prod["id"].get<std::string>() + "&currency=usd&unit_amount=700"));
  json cus = requireOk(api.post("/v1/customers", "email=v@example.com"));
  const std::string base = "customer=" + cus["id"].get<std::string>();
  const std::string price_id = price["id"];

  // 2024-06-20 (default and explicit): top-level price / unit_amount, no pricing hash.
  requireUnknown(api.post("/v1/invoiceitems", base + "&pricing[price]=" + price_id), "pricing");
  json old_style = requireOk(
      api.post("/v1/invoiceitems", base + "&price=" + price_id, {{"Stripe-Version", "2024-06-20"}}));
  CHECK(old_style["amount"] == 700);
  requireOk(api.post("/v1/invoiceitems", base + "&unit_amount=300&quantity=2&currency=usd"));

  // 2025-03-31.basil and later: pricing[price] replaces price; unit_amount is gone.
  const httplib::Headers basil = {{"Stripe-Version", "2025-03-31.basil"}};
  requireUnknown(api.post("/v1/invoiceitems", base + "&price=" + price_id, basil), "price");
  requireUnknown(api.post("/v1/invoiceitems", base + "&unit_amount=300&currency=usd", basil), "unit_amount");
  json new_style = requireOk(api.post("/v1/invoiceitems", base + "&pricing[price]=" + price_id, basil));
  CHECK(new_style["amount"] == 700);
  requireUnknown(
      api.post("/v1/invoiceitems", base + "&pricing[price]=" + price_id + "&pricing[tier]=1", basil),
      "pricing[tier]");
  CHECK(listSize(api, "/v1/invoiceitems") == 3);

  // 2025-03-31.basil also removed the legacy coupon / promotion_code of customers and subscriptions.
  requireUnknown(api.post("/v1/customers", "email=c@example.com&coupon=SAVE10", basil), "coupon");
  requireUnknown(api.post("/v1/customers/" + cus["id"].get<std::string>(), "promotion_code=promo_1", basil),
                 "promotion_code");
  requireOk(api.post("/v1/customers", "email=c@example.com", basil));
  CHECK(listSize(api, "/v1/customers") == 2);
}

// Parameters the table no longer lists after checking it against Stripe's reference (2024-06-20 and current):
// each is refused without side effects, while the documented neighbour of each passes.
TEST_CASE("parameters absent from Stripe's reference are refused, documented neighbours pass",
          "[stripe_double]") {
  auto d = startDouble();
  Api api(d->url());

  // PaymentIntent confirm: client_secret is a Stripe.js (publishable key) field, not a documented parameter.
  json pi = requireOk(api.post("/v1/payment_intents", "amount=1500&currency=usd"));
  const std::string pi_path = "/v1/payment_intents/" + pi["id"].get<std::string>();
  requireUnknown(api.post(pi_path + "/confirm", "payment_method=pm_card_visa&client_secret=" +
                                                    pi["client_secret"].get<std::string>()),
                 "client_secret");
  CHECK(requireOk(api.get(pi_path))["status"] == "requires_payment_method");  // not confirmed
  json confirmed = requireOk(api.post(pi_path + "/confirm",
                                      "payment_method=pm_card_visa&return_url=https%3A%2F%2Fex.com%2Fr"
                                      "&use_stripe_sdk=false&receipt_email=r%40example.com"));
  CHECK(confirmed["status"] == "succeeded");

  // Invoice update: rendering_options (removed in 2024-04-10) and amounts_due (preview only) are unknown;
  // `rendering` is the documented replacement.
  json cus = requireOk(api.post("/v1/customers", "email=p@example.com"));
  const std::string cus_path = "/v1/customers/" + cus["id"].get<std::string>();
  json inv = requireOk(api.post("/v1/invoices", "customer=" + cus["id"].get<std::string>() +
                                                    "&collection_method=send_invoice&days_until_due=30"));
  const std::string inv_path = "/v1/invoices/" + inv["id"].get<std::string>();
  requireUnknown(api.post(inv_path, "description=memo&rendering_options[amount_tax_display]=exclude_tax"),
                 "rendering_options");
  requireUnknown(api.post(inv_path, "amounts_due[0][amount]=100&amounts_due[0][description]=x"),
                 "amounts_due");
  CHECK(requireOk(api.get(inv_path))["description"].is_null());  // the refused update changed nothing
  requireOk(api.post(inv_path, "rendering[amount_tax_display]=exclude_tax&days_until_due=15"));

  // Customer update: coupon / promotion_code are documented for the 2024-06-20 default (removed in basil).
  requireOk(api.post(cus_path, "coupon=SUMMER&promotion_code=promo_1&name=Pat"));

  // Account create: bank_account is not documented (external_account is).
  requireUnknown(api.post("/v1/accounts", "type=express&bank_account=btok_us"), "bank_account");
  CHECK(listSize(api, "/v1/accounts") == 0);
  requireOk(api.post("/v1/accounts",
                     "type=express&country=US&external_account=btok_us&groups[payments_pricing]=g"));
  CHECK(listSize(api, "/v1/accounts") == 1);

  // Webhook endpoint delete documents no parameters at all, not even expand.
  json we = requireOk(
      api.post("/v1/webhook_endpoints", "url=https%3A%2F%2Fex.com%2Fhook&enabled_events[]=invoice.paid"));
  const std::string we_path = "/v1/webhook_endpoints/" + we["id"].get<std::string>();
  requireUnknown(api.del(we_path + "?expand[]=url"), "expand");
  CHECK(listSize(api, "/v1/webhook_endpoints") == 1);
  CHECK(requireOk(api.del(we_path))["deleted"] == true);
  CHECK(listSize(api, "/v1/webhook_endpoints") == 0);
}

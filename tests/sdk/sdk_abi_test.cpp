// SDK and ABI tests: pinned v1.0 layout, the frozen header, the C++ wrapper's error containment and host-call
// helpers (through the fake host), and real fixture/example .so files loaded with dlopen.
#include <dlfcn.h>

#include <cstddef>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <openssl/evp.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "abi_v1_0_layout.h"
#include "common/text.h"
#include "ih/hmac.hpp"
#include "ih/plugin.hpp"
#include "ih/plugin_abi.h"
#include "ih/testing/fake_host.hpp"

namespace {

using ih::sdk::Call;
using ih::sdk::Status;
using ih::sdk::testing::FakeHost;
using ih::sdk::testing::FakeHttpResponse;
using ih::sdk::testing::HttpExchange;

std::string sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A plugin whose behaviour the test picks through its config.
class ProbePlugin final : public ih::sdk::Plugin {
 public:
  ProbePlugin(const ih_host_api*, std::string_view, std::string_view config) : mode_(config) {
    if (mode_ == "bad-config") throw std::invalid_argument("greeting must be a string");
    if (mode_ == "ctor-bug") throw std::runtime_error("ctor exploded");
    if (mode_ == "ctor-int") throw 7;
  }
  Status onRoute(Call& call, std::string_view, std::string_view body) override {
    if (mode_ == "throw-std") throw std::runtime_error("boom");
    if (mode_ == "throw-int") throw 42;
    if (mode_ == "status") return Status::conflict("already exists");
    if (mode_ == "bad-value") {
      ih::sdk::Result<int> r(Status::notFound("nothing"));
      return Status::internal(std::to_string(r.value()));  // programmer error: throws std::logic_error
    }
    return call.respond(201, body, R"({"X-Probe":"1"})");
  }
  Status runAction(Call& call, std::string_view action, std::string_view input) override {
    if (action == "http") {
      ih::sdk::HttpRequest request;
      request.method = "POST";
      request.url = "https://api.test/v1/things";
      request.headers = {{"X-Quote", "say \"hi\"\n\ttab"}, {"X-Utf8", "caf\xC3\xA9"}};
      request.body = std::string(input);
      request.idempotency_key = "idem-1";
      request.endpoint = "/v1/things";
      request.timeout_ms = 1500;
      auto response = call.http(request);
      if (!response) return response.status();
      return call.setResult(nlohmann::json{{"status", response->status},
                                           {"body", response->body},
                                           {"retry_after", response->header("retry-after").value_or("")}}
                                .dump());
    }
    if (action == "state") {
      auto before = call.state("cursor");
      if (!before) return before.status();
      if (before->has_value()) return Status::internal("expected no cursor yet");
      Status put = call.putState("cursor", "c1");
      if (!put.isOk()) return put;
      auto after = call.state("cursor");
      return call.setResult(nlohmann::json{{"after", after->value_or("")}}.dump());
    }
    if (action == "deadline") {
      // A long handler's loop: stop with IH_ERR_DEADLINE once the call's time is up.
      if (call.deadlinePassed()) return Status::deadline("stopped at the deadline");
      return call.setResult(nlohmann::json{{"remaining_ms", call.remainingMs()}}.dump());
    }
    if (action == "creds-outside-connect") return call.putCredentials(R"({"k":"v"})");
    if (action == "bad-records") return call.upsertRecords("item", R"([{"id":"a"}])");
    if (action == "records") {
      Status s = call.upsertRecords("item", R"([{"id":"a","data":{"v":2},"updated_at":20}])");
      if (s.isOk()) s = call.upsertRecords("item", R"([{"id":"a","data":{"v":1},"updated_at":10}])");
      if (s.isOk()) s = call.deleteRecord("item", "a", 5);  // older delete: ignored
      if (s.isOk()) s = call.upsertRecords("item", R"([{"id":"b","data":{},"updated_at":1}])");
      if (s.isOk()) s = call.deleteRecord("item", "b", 2);
      return s;
    }
    return Status::notFound("no such action");
  }

 private:
  std::string mode_;
};

constexpr char kProbeManifest[] = R"({"name":"probe","version":"1.0.0"})";
constexpr ih_plugin_descriptor kProbe =
    ih::sdk::descriptorFor<ProbePlugin>(kProbeManifest, IH_CAP_ROUTES | IH_CAP_ACTIONS, IH_FLAG_SERIALIZE);

const ih_plugin_descriptor* loadFixture(const std::string& file, void** handle_out = nullptr) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  INFO("dlopen " << file << ": " << (handle ? "ok" : dlerror()));
  REQUIRE(handle != nullptr);
  if (handle_out) *handle_out = handle;
  auto entry = reinterpret_cast<ih_plugin_entry_fn>(dlsym(handle, IH_PLUGIN_ENTRY_SYMBOL));
  REQUIRE(entry != nullptr);
  return entry(IH_ABI_MAJOR, IH_ABI_MINOR);
}

std::string fixturePath(const std::string& name) {
  return std::string(IH_TEST_PLUGIN_DIR) + "/lib" + name + ".so";
}

}  // namespace

TEST_CASE("v1.0 struct layout is pinned", "[sdk][abi]") {
#if defined(__x86_64__) && defined(__LP64__)
#define IH_RUNTIME_FIELD(type, field, offset, size)            \
  CHECK(offsetof(type, field) == static_cast<size_t>(offset)); \
  CHECK(sizeof(std::declval<type>().field) == static_cast<size_t>(size));
#define IH_RUNTIME_SIZE(type, size) CHECK(sizeof(type) == static_cast<size_t>(size));
  IH_ABI_V1_0_FIELDS(IH_RUNTIME_FIELD)
  IH_ABI_V1_0_SIZES(IH_RUNTIME_SIZE)
#else
  WARN("layout pinned for x86_64/LP64 only");
#endif
  CHECK(IH_ABI_MAJOR == 1);
  CHECK(IH_OK == 0);
  CHECK(IH_ERR_SIGNATURE == 12);
}

TEST_CASE("the frozen v1.0 header never changes", "[sdk][abi]") {
  const std::string frozen =
      readFile(std::string(IH_SOURCE_DIR) + "/tests/fixtures/abi_v1_0/ih/plugin_abi.h");
  REQUIRE_FALSE(frozen.empty());
  CHECK(sha256Hex(frozen) == "83bd34c9c0f075e5f6006feb023bde4c6448a547fe7eeff6b4ba5289ffe85798");
}

TEST_CASE("wrapper descriptor carries the header's version and the given flags", "[sdk][wrapper]") {
  CHECK(kProbe.struct_size == sizeof(ih_plugin_descriptor));
  CHECK(kProbe.abi_major == IH_ABI_MAJOR);
  CHECK(kProbe.abi_minor == IH_ABI_MINOR);
  CHECK(kProbe.capabilities == (IH_CAP_ROUTES | IH_CAP_ACTIONS));
  CHECK(kProbe.flags == IH_FLAG_SERIALIZE);
  CHECK(kProbe.reserved0 == 0);
  CHECK(kProbe.disconnect != nullptr);
}

TEST_CASE("wrapper turns exceptions and statuses into ih_status + set_error", "[sdk][wrapper]") {
  FakeHost host(&kProbe);
  SECTION("std::exception -> IH_ERR_INTERNAL with its message") {
    auto r = host.route(host.create("p", "throw-std"), "{}");
    CHECK(r.status == IH_ERR_INTERNAL);
    CHECK(r.error == "unhandled exception: boom");
  }
  SECTION("non-standard exception -> IH_ERR_INTERNAL") {
    auto r = host.route(host.create("p", "throw-int"), "{}");
    CHECK(r.status == IH_ERR_INTERNAL);
    CHECK(r.error == "unhandled non-standard exception");
  }
  SECTION("returned Status -> its code and message") {
    auto r = host.route(host.create("p", "status"), "{}");
    CHECK(r.status == IH_ERR_CONFLICT);
    CHECK(r.error == "already exists");
  }
  SECTION("Result::value() on an error is contained") {
    auto r = host.route(host.create("p", "bad-value"), "{}");
    CHECK(r.status == IH_ERR_INTERNAL);
    CHECK(r.error.find("nothing") != std::string::npos);
  }
  SECTION("unimplemented handler -> IH_ERR_UNSUPPORTED") {
    auto inst = host.create("p", "ok");
    CHECK(host.connect(inst, "{}").status == IH_ERR_UNSUPPORTED);
    CHECK(host.runJob(inst, "sync").status == IH_ERR_UNSUPPORTED);
    CHECK(host.verifyWebhook(inst, "{}", "").status == IH_ERR_UNSUPPORTED);
  }
  SECTION("constructor exceptions") {
    auto bad = host.create("p", "bad-config");
    CHECK(bad.status == IH_ERR_INVALID_ARGUMENT);
    CHECK(bad.error == "invalid configuration: greeting must be a string");
    auto bug = host.create("p", "ctor-bug");
    CHECK(bug.status == IH_ERR_INTERNAL);
    CHECK(bug.error == "unhandled exception: ctor exploded");
    CHECK(host.create("p", "ctor-int").status == IH_ERR_INTERNAL);
  }
  SECTION("respond passes status, headers and raw body") {
    const std::string body("raw\0bytes", 9);
    auto r = host.route(host.create("p", "ok"), "{}", body);
    CHECK(r.status == IH_OK);
    CHECK(r.http_status == 201);
    CHECK(r.body == body);
    CHECK(nlohmann::json::parse(r.headers_json)["X-Probe"] == "1");
  }
}

TEST_CASE("create refuses a host table of another major", "[sdk][wrapper]") {
  FakeHost host(&kProbe);
  ih_host_api old = *host.api();
  old.abi_major = 2;
  ih_plugin* instance = nullptr;
  CHECK(kProbe.create(&old, nullptr, ih::sdk::toStr("p"), ih::sdk::toStr("ok"), &instance) ==
        IH_ERR_INVALID_ARGUMENT);
  CHECK(instance == nullptr);
}

TEST_CASE("Call::http builds escaped request JSON and reads the response", "[sdk][wrapper]") {
  FakeHost host(&kProbe);
  host.setHttpHandler([](const HttpExchange& request) {
    return FakeHttpResponse{429, {{"Retry-After", "3"}}, "slow down " + request.body};
  });
  auto inst = host.create("p", "ok");
  auto r = host.runAction(inst, "http", R"({"n":1})");
  REQUIRE(r.status == IH_OK);
  const auto result = nlohmann::json::parse(r.result);
  CHECK(result["status"] == 429);  // non-2xx is still a successful call
  CHECK(result["body"] == R"(slow down {"n":1})");
  CHECK(result["retry_after"] == "3");

  const auto sent = host.httpRequests().at(0);
  const auto request = nlohmann::json::parse(sent.request_json);  // valid JSON despite quotes/newlines
  CHECK(request["method"] == "POST");
  CHECK(request["headers"]["X-Quote"] == "say \"hi\"\n\ttab");
  CHECK(request["headers"]["X-Utf8"] == "caf\xC3\xA9");
  CHECK(request["idempotency_key"] == "idem-1");
  CHECK(request["endpoint"] == "/v1/things");
  CHECK(request["timeout_ms"] == 1500);
  CHECK(sent.header("x-quote") == std::string("say \"hi\"\n\ttab"));
  CHECK(host.liveBuffers() == 0);

  SECTION("transport failure is an error with the host's message") {
    host.setHttpHandler([](const HttpExchange&) {
      FakeHttpResponse failure;
      failure.transport_error = IH_ERR_UNAVAILABLE;
      failure.transport_message = "connect timeout";
      return failure;
    });
    auto failed = host.runAction(inst, "http", "{}");
    CHECK(failed.status == IH_ERR_UNAVAILABLE);
    CHECK(failed.error == "connect timeout");
  }
}

TEST_CASE("fake host scopes state, guards credentials and orders records", "[sdk][fake_host]") {
  FakeHost host(&kProbe);
  host.setTenant("t1");
  auto inst = host.create("p", "ok");
  REQUIRE(host.runAction(inst, "state").ok());
  CHECK(host.state("t1", "p", "cursor") == std::string("c1"));
  host.setTenant("t2");
  REQUIRE(host.runAction(inst, "state").ok());  // t2 starts without a cursor

  auto creds = host.runAction(inst, "creds-outside-connect");
  CHECK(creds.status == IH_ERR_PERMISSION_DENIED);
  CHECK(creds.error == "credentials_put is only allowed inside connect");
  CHECK_FALSE(host.credentials("t2", "p"));

  CHECK(host.runAction(inst, "bad-records").status == IH_ERR_INVALID_ARGUMENT);
  REQUIRE(host.runAction(inst, "records").ok());
  auto a = host.record("t2", "p", "item", "a");
  REQUIRE(a);
  CHECK(a->updated_at == 20);
  CHECK(a->data_json == R"({"v":2})");
  CHECK_FALSE(a->deleted);
  auto b = host.record("t2", "p", "item", "b");
  REQUIRE(b);
  CHECK(b->deleted);
  CHECK(host.records("t2", "p", "item").size() == 1);
  CHECK(host.records("t1", "p", "item").empty());
  CHECK(host.liveBuffers() == 0);
}

TEST_CASE("json helpers escape, validate and read fields", "[sdk][json]") {
  namespace json = ih::sdk::json;
  const std::string tricky = std::string("a\"b\\c\n\x01 caf\xC3\xA9");
  CHECK(json::unquote(json::quote(tricky)) == tricky);
  CHECK(nlohmann::json::parse(json::quote(tricky)).get<std::string>() == tricky);
  CHECK(json::unquote(R"("\u00e9\ud83d\ude00")") == std::string("\xC3\xA9\xF0\x9F\x98\x80"));
  CHECK(json::isValid(R"( {"a":[1,2.5e3,-3,true,null,{"b":"c"}]} )"));
  CHECK_FALSE(json::isValid(R"({"a":})"));
  CHECK_FALSE(json::isValid(R"({"a":1} x)"));
  CHECK_FALSE(json::isValid("[1,]"));
  CHECK_FALSE(json::isValid(""));
  const std::string obj = R"({"tenant":"t1","n":-42,"nested":{"tenant":"no"},"f":1.5,"Hdr":"v"})";
  CHECK(json::stringField(obj, "tenant") == std::string("t1"));
  CHECK(json::intField(obj, "n") == -42);
  CHECK_FALSE(json::intField(obj, "f"));
  CHECK(json::rawField(obj, "nested") == std::string_view(R"({"tenant":"no"})"));
  CHECK_FALSE(json::stringField(obj, "missing"));
  // The first of repeated keys; escaped keys are compared decoded; not an object or not valid: nothing.
  CHECK(json::stringField(R"({"id":"a","id":"b"})", "id") == std::string("a"));
  CHECK(json::stringField(R"({"t\u0065nant":"x","n":1})", "tenant") == std::string("x"));
  CHECK(json::intField(R"({"t\u0065nant":"x","n":1})", "n") == 1);
  CHECK_FALSE(json::rawField(R"({"id":"a",})", "id"));
  CHECK_FALSE(json::rawField(R"(["id","a"])", "id"));
  CHECK_FALSE(json::rawField(R"({"id":"a"} trailing)", "id"));
  CHECK(json::headerField(obj, "hdr") == std::string("v"));
  // rawPaths: dotted paths in one pass; first occurrence wins; a path through a non-object is absent; the text
  // is validated whole (even past the values found).
  const std::string event = R"({"id":"evt_1","data":{"object":{"id":"in_1","lines":{"id":"no"}},"object":{"id":"x"}},)"
                            R"("type":"invoice.paid","id":"evt_2","n":{"a":1},"s":"str"})";
  const auto paths = json::rawPaths(event, {"id", "type", "data.object.id", "data.object", "n.a.b", "s.x", "missing",
                                            "data.object.lines.id"});
  REQUIRE(paths);
  CHECK((*paths)[0] == std::string_view(R"("evt_1")"));
  CHECK((*paths)[1] == std::string_view(R"("invoice.paid")"));
  CHECK((*paths)[2] == std::string_view(R"("in_1")"));
  CHECK((*paths)[3] == std::string_view(R"({"id":"in_1","lines":{"id":"no"}})"));
  CHECK_FALSE((*paths)[4]);
  CHECK_FALSE((*paths)[5]);
  CHECK_FALSE((*paths)[6]);
  CHECK((*paths)[7] == std::string_view(R"("no")"));
  CHECK(json::rawPaths(R"({"d\u0061ta":{"id":1}})", {"data.id"}).value()[0] == std::string_view("1"));
  CHECK_FALSE(json::rawPaths(R"({"data":{"id":1}} x)", {"data.id"}));
  CHECK_FALSE(json::rawPaths(R"({"data":{"id":1,}})", {"data.id"}));
  CHECK_FALSE(json::rawPaths(R"({"id":1,"rest":[})", {"id"}));
  CHECK_FALSE(json::rawPaths("[1]", {"id"}));
  CHECK(json::rawPaths(" {} ", {"id"}).value()[0] == std::nullopt);
  CHECK_FALSE(json::rawPaths(R"({"a":)" + std::string(200, '[') + std::string(200, ']') + "}", {"a.b"}));
  // Members and elements come in order, and nothing is called back for text that turns out invalid late.
  std::string seen;
  CHECK(json::forEachMember(R"( {"b":1, "a":[2], "b":"3"} )", [&](const std::string& k, std::string_view v) {
    seen += k + "=" + std::string(v) + ";";
  }));
  CHECK(seen == R"(b=1;a=[2];b="3";)");
  seen.clear();
  CHECK_FALSE(
      json::forEachMember(R"({"a":1,"b":2,})", [&](const std::string& k, std::string_view) { seen += k; }));
  CHECK_FALSE(
      json::forEachMember(R"({"a":1} x)", [&](const std::string& k, std::string_view) { seen += k; }));
  CHECK_FALSE(json::forEachElement("[1,2,", [&](std::string_view e) { seen += std::string(e); }));
  CHECK(seen.empty());
  CHECK(json::forEachElement(" [ ] ", [&](std::string_view e) { seen += std::string(e); }));
  CHECK(json::forEachElement(R"([1, {"a":[]} ,"x"])",
                             [&](std::string_view e) { seen += std::string(e) + ";"; }));
  CHECK(seen == R"(1;{"a":[]};"x";)");
  CHECK(json::stringObject({{"a", "1"}, {"q\"", "x\ny"}, {"a", "2"}}) == R"({"a":"1","q\"":"x\ny","a":"2"})");
  CHECK(json::stringObject({}) == "{}");
  CHECK(ih::sdk::toLowerAscii("Stripe-Signature \xC3\x89") == "stripe-signature \xC3\x89");
  // The reader's nesting limit bounds its recursion: 129 levels are read, deeper text is refused.
  CHECK(json::isValid(std::string(129, '[') + std::string(129, ']')));
  CHECK_FALSE(json::isValid(std::string(130, '[') + std::string(130, ']')));
  CHECK_FALSE(json::isValid(std::string(1000000, '[')));
}

TEST_CASE("form encoding: unreserved bytes stay, the rest is %XX, fields keep their order", "[sdk][form]") {
  // Byte for byte what the host sends for its own URLs (common/text.h), for every byte value.
  std::string all_bytes;
  for (int c = 0; c < 256; ++c)
    all_bytes.push_back(static_cast<char>(c));
  CHECK(ih::sdk::urlEncode(all_bytes) == ih::urlEncode(all_bytes));
  CHECK(ih::sdk::urlEncode("aZ09-_.~ /&=?%+[]\xC3\xA9") == "aZ09-_.~%20%2F%26%3D%3F%25%2B%5B%5D%C3%A9");
  CHECK(ih::sdk::urlEncode("") == "");

  CHECK(ih::sdk::formEncode({}) == "");
  CHECK(ih::sdk::formEncode({{"a", "1"}, {"a", "2&b=3"}, {"", ""}}) == "a=1&a=2%26b%3D3&=");
  ih::sdk::Form form;
  CHECK(form.empty());
  form.add("name", "Pro")
      .add("count", 3)
      .add("big", int64_t{-9007199254740993})
      .add("active", true)
      .addMember("metadata", "plan id", "pro")
      .addElement("expand", "customer");
  CHECK_FALSE(form.empty());
  CHECK(form.fields().size() == 6);
  CHECK(
      form.encode() ==
      "name=Pro&count=3&big=-9007199254740993&active=true&metadata%5Bplan%20id%5D=pro&expand%5B%5D=customer");
  CHECK(form.encode() == ih::sdk::formEncode(form.fields()));
}

TEST_CASE("hmacSha256Hex matches RFC 4231 and compares in constant time", "[sdk][hmac]") {
  CHECK(ih::sdk::hmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(ih::sdk::constantTimeEquals("abc", "abc"));
  CHECK_FALSE(ih::sdk::constantTimeEquals("abc", "abd"));
  CHECK_FALSE(ih::sdk::constantTimeEquals("abc", "abcd"));
}

TEST_CASE("fixture .so built against the frozen v1.0 header answers its route", "[sdk][fixtures]") {
  const ih_plugin_descriptor* d = loadFixture(fixturePath("fixture_frozen"));
  REQUIRE(d != nullptr);
  CHECK(d->abi_major == 1);
  CHECK(d->abi_minor == 0);
  CHECK(nlohmann::json::parse(d->manifest_json)["name"] == "frozen");
  FakeHost host(d);
  auto r = host.route(host.create("frozen", "{}"), "{}");
  REQUIRE(r.status == IH_OK);
  CHECK(r.http_status == 200);
  CHECK(r.body == R"({"frozen":true})");
}

TEST_CASE("exceptions thrown inside a real .so stay inside it", "[sdk][fixtures]") {
  const ih_plugin_descriptor* d = loadFixture(fixturePath("fixture_throwing"));
  REQUIRE(d != nullptr);
  CHECK(nlohmann::json::parse(d->manifest_json)["name"] == "thrower");
  FakeHost host(d);
  auto inst = host.create("thrower", "{}");
  auto route = host.route(inst, "{}");
  CHECK(route.status == IH_ERR_INTERNAL);
  CHECK(route.error == "unhandled exception: boom");
  auto action = host.runAction(inst, "throw_int");
  CHECK(action.status == IH_ERR_INTERNAL);
  CHECK(action.error == "unhandled non-standard exception");
}

TEST_CASE("refusal fixtures describe what they claim", "[sdk][fixtures]") {
  CHECK(loadFixture(fixturePath("fixture_wrong_major"))->abi_major == 2);
  CHECK(loadFixture(fixturePath("fixture_future_minor"))->abi_minor == IH_ABI_MINOR + 1);
  CHECK(loadFixture(fixturePath("fixture_small_struct"))->struct_size == 8);
  CHECK(loadFixture(fixturePath("fixture_null_entry")) == nullptr);
  CHECK_FALSE(nlohmann::json::accept(loadFixture(fixturePath("fixture_bad_manifest"))->manifest_json));
  CHECK(nlohmann::json::parse(loadFixture(fixturePath("fixture_dup_a"))->manifest_json)["name"] == "dupname");
  CHECK(nlohmann::json::parse(loadFixture(fixturePath("fixture_dup_b"))->manifest_json)["name"] == "dupname");

  void* no_entry = dlopen(fixturePath("fixture_no_entry").c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(no_entry != nullptr);
  CHECK(dlsym(no_entry, IH_PLUGIN_ENTRY_SYMBOL) == nullptr);

  CHECK(dlopen((std::string(IH_TEST_PLUGIN_DIR) + "/not_a_plugin.so").c_str(), RTLD_NOW | RTLD_LOCAL) ==
        nullptr);
}

TEST_CASE("the built example .so exports its entry and greets", "[sdk][example]") {
  const ih_plugin_descriptor* d = loadFixture(std::string(IH_PLUGIN_DIR) + "/libexample.so");
  REQUIRE(d != nullptr);
  CHECK(nlohmann::json::parse(d->manifest_json)["name"] == "example");
  FakeHost host(d);
  host.setTenant("acme");
  auto inst = host.create("example", R"({"webhook_secret":"s3cret_value"})");
  REQUIRE(inst.ok());
  auto r = host.route(inst, ih::sdk::testing::makeRequestJson("GET", "/hello", "acme"));
  REQUIRE(r.status == IH_OK);
  CHECK(nlohmann::json::parse(r.body)["message"] == "Hello, acme!");
}

namespace {

// An ABI 1.2 plugin: OAuth handlers and credentials_delete through the fake host.
class OAuthProbe final : public ih::sdk::Plugin {
 public:
  OAuthProbe(const ih_host_api*, std::string_view, std::string_view) {}
  Status oauthAuthorize(Call& call, std::string_view params) override {
    auto state = ih::sdk::json::stringField(params, "state");
    return call.setResult(
        "{\"url\":" + ih::sdk::json::quote("https://provider.test/authorize?state=" + *state) + "}");
  }
  Status oauthComplete(Call& call, std::string_view params) override {
    auto query = ih::sdk::json::rawField(params, "query");
    auto code = ih::sdk::json::stringField(query.value_or("{}"), "code");
    if (!code) return Status::invalidArgument("no code");
    if (Status s = call.putCredentials("{\"token\":" + ih::sdk::json::quote("tok_" + *code) + "}"); !s.isOk())
      return s;
    if (Status s = call.bindAccount("acct_" + *code); !s.isOk()) return s;
    return call.setResult("{\"account\":" + ih::sdk::json::quote("acct_" + *code) + "}");
  }
  Status runAction(Call& call, std::string_view action, std::string_view) override {
    if (action == "revoked") return call.deleteCredentials("provider said so");
    if (action == "whoami") {
      auto info = call.callInfo();
      if (!info) return info.status();
      return call.setResult(*info);
    }
    return Status::notFound("no such action");
  }
};

constexpr char kOAuthManifest[] = R"({"name":"oauth_probe","version":"1.0.0"})";
constexpr ih_plugin_descriptor kOAuthProbe =
    ih::sdk::descriptorFor<OAuthProbe>(kOAuthManifest, IH_CAP_OAUTH | IH_CAP_ACTIONS, 0);

}  // namespace

TEST_CASE("ABI 1.2: OAuth handlers and credentials_delete through the fake host", "[sdk][abi][oauth]") {
  CHECK(IH_ABI_MINOR >= 2);
  CHECK(kOAuthProbe.oauth_authorize != nullptr);
  FakeHost host(&kOAuthProbe);
  host.setTenant("t1");
  auto inst = host.create("o", "{}");
  auto url = host.oauthAuthorize(inst, R"({"state":"s1","redirect_uri":"https://h/cb"})");
  REQUIRE(url.ok());
  CHECK(nlohmann::json::parse(url.result)["url"] == "https://provider.test/authorize?state=s1");
  auto done =
      host.oauthComplete(inst, R"({"query":{"code":"abc","state":"s1"},"redirect_uri":"https://h/cb"})");
  REQUIRE(done.ok());
  CHECK(host.credentials("t1", "o") == std::string(R"({"token":"tok_abc"})"));
  CHECK(host.boundAccounts().at("acct_abc") == "t1");
  auto wiped = host.runAction(inst, "revoked");
  REQUIRE(wiped.ok());
  CHECK_FALSE(host.credentials("t1", "o"));
  CHECK(host.events().back().type == "integration.disconnected");
  CHECK(host.runAction(inst, "revoked").status == IH_ERR_NOT_FOUND);  // already wiped
  host.setPublicUrl("https://ihost.example.com");
  auto who = host.runAction(inst, "whoami");
  REQUIRE(who.ok());
  CHECK(nlohmann::json::parse(who.result) == nlohmann::json({{"tenant", "t1"},
                                                             {"integration", "o"},
                                                             {"handler", "run_action"},
                                                             {"public_url", "https://ihost.example.com"}}));

  // A pre-1.2 descriptor (the frozen fixture) answers IH_ERR_UNSUPPORTED without reading past its size.
  FakeHost old(loadFixture(fixturePath("fixture_frozen")));
  auto frozen = old.create("frozen", "{}");
  CHECK(old.oauthAuthorize(frozen, "{}").status == IH_ERR_UNSUPPORTED);
}

TEST_CASE("ABI 1.5: remainingMs through the fake host, and on an older host table", "[sdk][abi][deadline]") {
  FakeHost host(&kProbe);
  host.setHttpHandler([](const HttpExchange&) { return FakeHttpResponse{200, {}, "{}"}; });
  auto inst = host.create("p", "ok");
  auto open = host.runAction(inst, "deadline");
  REQUIRE(open.status == IH_OK);
  CHECK(nlohmann::json::parse(open.result)["remaining_ms"] == INT64_MAX);  // no deadline by default
  host.setRemainingMs(1500);
  CHECK(nlohmann::json::parse(host.runAction(inst, "deadline").result)["remaining_ms"] == 1500);
  host.setRemainingMs(0);
  auto late = host.runAction(inst, "deadline");
  CHECK(late.status == IH_ERR_DEADLINE);
  CHECK(late.error == "stopped at the deadline");
  // As the host does, http_request refuses once the deadline has passed.
  auto fetch = host.runAction(inst, "http", "{}");
  CHECK(fetch.status == IH_ERR_DEADLINE);
  CHECK(host.httpRequests().empty());

  ih_host_api older = *host.api();
  older.struct_size = static_cast<uint32_t>(offsetof(ih_host_api, call_remaining_ms));  // a 1.4 host
  Call call(&older, nullptr);
  CHECK(call.remainingMs() == INT64_MAX);
  CHECK_FALSE(call.deadlinePassed());
}

TEST_CASE("ABI 1.2: Call reports missing 1.2 services of an older host table", "[sdk][abi][oauth]") {
  FakeHost host(&kOAuthProbe);
  ih_host_api older = *host.api();
  older.struct_size = static_cast<uint32_t>(offsetof(ih_host_api, credentials_delete));  // a 1.1 host
  ih_plugin* instance = nullptr;
  REQUIRE(kOAuthProbe.create(&older, nullptr, ih::sdk::toStr("o"), ih::sdk::toStr("{}"), &instance) == IH_OK);
  Call call(&older, nullptr);
  Status s = call.deleteCredentials("x");
  CHECK(s.code() == IH_ERR_UNSUPPORTED);
  CHECK(s.message().find("credentials_delete") != std::string::npos);
  CHECK(call.callInfo().status().code() == IH_ERR_UNSUPPORTED);
  kOAuthProbe.destroy(instance);
}

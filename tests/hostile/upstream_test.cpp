// A hostile upstream: the "rogue" Stripe BYOK integration and the example plugin point at RawUpstream, which
// answers garbage, never-ending or slow bodies, absurd headers, JSON too deep to print, or nothing at all.
// The caller gets a 5xx naming the provider (never a 500 from the host), nothing is stored, and the host
// still answers.
#include "hostile_env.h"

namespace ih::hostile {
namespace {

using Mode = RawUpstream::Mode;

const std::string kConnect = json{{"secret_key", kStripeKey}, {"publishable_key", kStripePk}}.dump();

// Connects tenant A to "rogue" while the upstream misbehaves in `mode`; CHECKs the answer and that nothing
// was stored and the host answers /healthz.
void checkConnectRefused(Env& env, Mode mode, int status, const std::string& code,
                         std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto before = env.rowCounts();
  env.upstream().setMode(mode);
  env.upstream().clearRequests();
  const auto started = std::chrono::steady_clock::now();
  Answer r = rawRequest(env.port(), "POST", "/api/integrations/rogue/connect",
                        {{"Authorization", "Bearer " + env.a.key}, {"Content-Type", "application/json"}},
                        kConnect, limit + std::chrono::seconds(10));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK_ERROR(r, status, code);
  CHECK(took < limit);
  CHECK(env.upstream().requestCount() >= 1);  // the provider was asked: the refusal is about its answer
  CHECK(env.rowCounts() == before);
  CHECK_FALSE(env.get("/api/integrations/rogue", env.a.auth()).body_json.value("connected", true));
  CHECK(env.healthy());
  env.upstream().setMode(Mode::kNormal);
}

}  // namespace

TEST_CASE("upstream: bytes that are not HTTP are 502 provider_unavailable - nothing stored",
          "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kGarbage, 502, "provider_unavailable");
}

TEST_CASE("upstream: a connection closed without an answer is 502 provider_unavailable",
          "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kCloseAtOnce, 502, "provider_unavailable");
}

TEST_CASE("upstream: a body cut short of its Content-Length is 502 provider_unavailable",
          "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kTruncated, 502, "provider_unavailable");
}

TEST_CASE("upstream: no answer at all is 502 provider_unavailable after the plugin's timeout",
          "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kNoAnswer, 502, "provider_unavailable");
}

TEST_CASE("upstream: a 1 MB header line is 502 provider_unavailable", "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kHugeHeader, 502, "provider_unavailable");
}

TEST_CASE("upstream: 100000 header lines are cut off and are 502 (issue 14 item 5)", "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kManyHeaders, 502, "provider_unavailable");
}

TEST_CASE("upstream: 1 MB of nested arrays as the answer is 502 provider_error (the plugin never prints it)",
          "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kDeepJson, 502, "provider_error");
}

TEST_CASE("upstream: an answer whose strings are not UTF-8 is 502 provider_error", "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kInvalidUtf8, 502, "provider_error");
}

TEST_CASE("upstream: a 512 MB answer is cut off and is 502 (issue 14 item 5)", "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kHugeBody, 502, "provider_unavailable");
}

TEST_CASE("upstream: a chunked answer that never ends is cut off and is 502 (issue 14 item 5)",
          "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kEndlessChunked, 502, "provider_unavailable");
}

TEST_CASE(
    "upstream: a body trickled a byte every 200 ms is cut at the call deadline and is 502 (issue 14 item 5)",
    "[hostile][upstream]") {
  Env env;
  // The outbound client's per-attempt deadline bounds the whole answer, trickled or not ("did not answer
  // within the … ms deadline"); the caller gets the provider error, not a hung request.
  checkConnectRefused(env, Mode::kSlowTrickle, 502, "provider_unavailable");
}

TEST_CASE("upstream: a 20-digit Retry-After (issue 14 item 1) is 429 rate_limited without waiting for it",
          "[hostile][upstream]") {
  Env env;
  checkConnectRefused(env, Mode::kAbsurdRetryAfter, 429, "rate_limited");
}

TEST_CASE("upstream: a failing provider during an action stores no idempotent result - a retry runs again",
          "[hostile][upstream][actions]") {
  Env env;
  env.connectRogue(env.a);
  Headers h = env.a.auth();
  h.emplace_back("Idempotency-Key", "rogue-1");
  const auto before = env.rowCounts();
  env.upstream().setMode(Mode::kGarbage);
  CHECK_ERROR(env.post("/api/integrations/rogue/actions/ensure_products", h, "{}"), 502,
              "provider_unavailable");
  env.upstream().setMode(Mode::kDeepJson);
  CHECK_ERROR(env.post("/api/integrations/rogue/actions/ensure_products", h, "{}"), 502, "provider_error");
  CHECK(env.rowCounts() == before);
  // A healthy provider again: the same key runs the action (nothing was stored for it).
  env.upstream().setMode(Mode::kNormal);
  env.upstream().clearRequests();
  Answer ok = env.post("/api/integrations/rogue/actions/ensure_products", h, R"({"plans":[]})");
  CHECK(ok.status == 200);
  CHECK(ok.header("Idempotent-Replayed").empty());
  CHECK(env.healthy());
}

TEST_CASE("upstream: the example plugin's sync against a garbage provider fails the run stores no record",
          "[hostile][upstream][jobs]") {
  Env env;
  env.connectExample(env.a);
  env.upstream().setMode(Mode::kDeepJson);
  const auto records = env.count("SELECT count(*) FROM records");
  Answer run = env.post("/api/integrations/example/jobs/sync/run", env.a.auth(), "");
  INFO(run.text());
  REQUIRE((run.status == 200 || run.status == 202));
  const std::string id = std::to_string(run.body_json["run"]["id"].get<int64_t>());
  json last;
  REQUIRE(eventually(
      [&] {
        last = env.get("/api/integrations/example/jobs/sync/runs/" + id, env.a.auth()).body_json;
        return last.value("status", "") != "running";
      },
      std::chrono::seconds(60)));
  CHECK(last["status"] == "failed");
  CHECK(env.count("SELECT count(*) FROM records") == records);
  CHECK(env.healthy());
}

}  // namespace ih::hostile

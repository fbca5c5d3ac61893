// webhook_test: the plugin the inbox tests and the intake benchmark run against.
//   - tenant AND platform webhooks, signed like Stripe: header "X-Test-Signature: t=<unix>,v1=<hex>" with
//     hex = HMAC-SHA256(webhook_secret, "<t>." + body); timestamps older/newer than tolerance_s are refused.
//   - the body is JSON {"id","type","created"?,"account"?,"data":{"object":{"id"}}?,"fail"?:N,"leak"?:true}:
//     event_id = id, occurred_at = created (else t), object_id = data.object.id, account = account.
//   - with "threads":N (1..16) handle_webhook first shares its call with N threads (ABI 1.3), each failing
//     host calls whose last_error names the thread, and records what each thread read back in the state
//     ("thread_calls", "thread_mismatches").
//   - handle_webhook fails (IH_ERR_UNAVAILABLE) while attempt <= fail and plugin state "fixed" is unset; with
//     "leak" the failure message carries a Stripe-shaped secret (to test that the host redacts it).
//   - with emit_events = true it emits "test.received" {"event_id"} (twice with "twice":true): after the
//     planned failure, or before it with "emit_first":true; then sleeps "hold_ms" (0..5000) when given, so a
//     test can kill the host between the emit and the end of the call. On success it writes plugin state
//     "seen/<event_id>" = {"attempt":k,"stale":bool,"order":n,"started_ms","finished_ms"} unless
//     record_state = false.
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ih/hmac.hpp"
#include "ih/plugin.hpp"

namespace webhook_test {
namespace {

using ih::sdk::Call;
using ih::sdk::Status;
using nlohmann::json;

constexpr char kManifestJson[] = R"json({
  "name": "webhook_test",
  "version": "1.0.0",
  "display_name": "Webhook test",
  "description": "Test-only plugin: signed tenant and platform webhooks with planned failures.",
  "config_schema": {
    "type": "object",
    "properties": {
      "webhook_secret": {"type": "string", "secret": true, "description": "Secret that signs webhooks."},
      "tolerance_s": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 300,
                      "description": "Accepted clock skew of the signature timestamp."},
      "record_state": {"type": "boolean", "default": true,
                       "description": "Write seen/<event_id> plugin state for every processed event."},
      "handle_delay_ms": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0,
                          "description": "Sleep in handle_webhook (to test shutdown and slow handlers)."},
      "emit_events": {"type": "boolean", "default": false,
                      "description": "Emit a normalized event test.received {event_id} per processed event."}
    },
    "required": ["webhook_secret"]
  },
  "webhooks": {"tenant": true, "platform": true},
  "events": ["test.received"]
})json";

json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, false);
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// verify_webhook runs on every delivery, so it reads the request and the body in one pass without a DOM (a
// nlohmann DOM of the ~2 KB body cost more than the HMAC): structure is checked as strictly as the SDK's
// json::isValid, and only members along wanted paths (keys without escapes, up to 3 levels) are reported.
void skipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    ++i;
}

bool skipString(std::string_view s, size_t& i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      ++i;
      return true;
    } else if (static_cast<unsigned char>(s[i]) < 0x20) {
      return false;
    }
  }
  return false;
}

constexpr int kMaxDepth = 128;
constexpr size_t kTracked = 3;
using Path = std::array<std::string_view, kTracked>;

// Advances `i` past one value; calls visit(depth, path, raw) for each value whose key path is tracked.
template <class Visit>
bool walk(std::string_view s, size_t& i, size_t depth, Path& path, bool tracked, Visit& visit) {
  if (depth > kMaxDepth) return false;
  skipSpace(s, i);
  if (i >= s.size()) return false;
  const size_t start = i;
  const char c = s[i];
  if (c == '{' || c == '[') {
    const char close = c == '{' ? '}' : ']';
    ++i;
    skipSpace(s, i);
    if (i < s.size() && s[i] == close) {
      ++i;
    } else {
      for (;;) {
        bool child_tracked = false;
        if (c == '{') {
          skipSpace(s, i);
          if (i >= s.size() || s[i] != '"') return false;
          const size_t key_start = i;
          if (!skipString(s, i)) return false;
          const size_t key_end = i;
          skipSpace(s, i);
          if (i >= s.size() || s[i] != ':') return false;
          ++i;
          if (tracked && depth < kTracked) {
            child_tracked = true;
            path[depth] = s.substr(key_start + 1, key_end - key_start - 2);  // raw: escapes never match
          }
        }
        if (!walk(s, i, depth + 1, path, child_tracked, visit)) return false;
        skipSpace(s, i);
        if (i >= s.size()) return false;
        if (s[i] == ',') {
          ++i;
          continue;
        }
        if (s[i] != close) return false;
        ++i;
        break;
      }
    }
  } else if (c == '"') {
    if (!skipString(s, i)) return false;
  } else if (s.substr(i, 4) == "true" || s.substr(i, 4) == "null") {
    i += 4;
  } else if (s.substr(i, 5) == "false") {
    i += 5;
  } else {
    if (s[i] == '-') ++i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                            s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (i == start || s[i - 1] < '0' || s[i - 1] > '9') return false;
  }
  if (tracked) visit(depth, path, s.substr(start, i - start));
  return true;
}

// Walks `text`, which must be exactly one JSON object; false when it is not.
template <class Visit>
bool walkObject(std::string_view text, Visit visit) {
  size_t i = 0;
  skipSpace(text, i);
  if (i >= text.size() || text[i] != '{') return false;
  Path path;
  if (!walk(text, i, 0, path, true, visit)) return false;
  skipSpace(text, i);
  return i == text.size();
}

bool isInteger(std::string_view raw) {
  if (!raw.empty() && raw[0] == '-') raw.remove_prefix(1);
  if (raw.empty() || raw.size() > 18) return false;  // larger ones nlohmann may turn into doubles
  for (char c : raw)
    if (c < '0' || c > '9') return false;
  return true;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// HMAC-SHA256 hex with the key schedule kept per thread (HMAC() fetches the algorithm and sets up the key on
// every call).
std::string hmacSha256Hex(const std::string& key, std::string_view t, std::string_view body) {
  struct Cached {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx = nullptr;
    std::string key;
    ~Cached() {
      EVP_MAC_CTX_free(ctx);
      EVP_MAC_free(mac);
    }
  };
  thread_local Cached cached;
  if (cached.ctx == nullptr || cached.key != key) {
    if (cached.mac == nullptr) cached.mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX_free(cached.ctx);
    cached.ctx = EVP_MAC_CTX_new(cached.mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (cached.ctx == nullptr ||
        !EVP_MAC_init(cached.ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params)) {
      EVP_MAC_CTX_free(cached.ctx);
      cached.ctx = nullptr;
      std::string signed_payload = std::string(t) + ".";
      signed_payload.append(body.data(), body.size());
      return ih::sdk::hmacSha256Hex(key, signed_payload);
    }
    cached.key = key;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (!EVP_MAC_init(cached.ctx, nullptr, 0, nullptr) ||
      !EVP_MAC_update(cached.ctx, reinterpret_cast<const unsigned char*>(t.data()), t.size()) ||
      !EVP_MAC_update(cached.ctx, reinterpret_cast<const unsigned char*>("."), 1) ||
      !EVP_MAC_update(cached.ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) ||
      !EVP_MAC_final(cached.ctx, out, &len, sizeof out)) {
    return std::string();
  }
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (size_t k = 0; k < len; ++k) {
    hex.push_back(kHex[out[k] >> 4]);
    hex.push_back(kHex[out[k] & 0xF]);
  }
  return hex;
}

class WebhookTestPlugin final : public ih::sdk::Plugin {
 public:
  WebhookTestPlugin(const ih_host_api* /*host*/, std::string_view /*integration_id*/,
                    std::string_view config_json) {
    const json config = parse(config_json);
    if (!config.is_object()) throw std::invalid_argument("configuration must be a JSON object");
    secret_ = config.value("webhook_secret", std::string());
    if (secret_.empty()) throw std::invalid_argument("webhook_secret is required");
    tolerance_s_ = config.value("tolerance_s", int64_t{300});
    record_state_ = config.value("record_state", true);
    handle_delay_ms_ = config.value("handle_delay_ms", int64_t{0});
    emit_events_ = config.value("emit_events", false);
  }

  Status verifyWebhook(Call& call, std::string_view request_json, std::string_view body) override {
    // request_json: {"headers":{...}, ...}; the first X-Test-Signature header (any case) that is a string.
    bool has_headers = false;
    std::optional<std::string> header;
    const bool request_ok =
        walkObject(request_json, [&](size_t depth, const Path& path, std::string_view raw) {
          if (depth == 1 && path[0] == "headers") has_headers = true;
          if (depth == 2 && path[0] == "headers" && !header &&
              equalsIgnoreCase(path[1], "X-Test-Signature") && raw.front() == '"') {
            header = ih::sdk::json::unquote(raw);
          }
        });
    if (!request_ok || !has_headers) return Status::signature("no headers");
    if (!header) return Status::signature("missing X-Test-Signature");
    // t=<unix>,v1=<hex>
    std::string t, v1;
    std::string_view rest = *header;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view part = rest.substr(0, comma);
      if (part.substr(0, 2) == "t=") t = std::string(part.substr(2));
      if (part.substr(0, 3) == "v1=") v1 = std::string(part.substr(3));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (t.empty() || v1.empty()) return Status::signature("malformed X-Test-Signature");
    int64_t sent_at = 0;
    try {
      size_t used = 0;
      sent_at = std::stoll(t, &used);
      if (used != t.size()) return Status::signature("malformed timestamp");
    } catch (const std::exception&) {
      return Status::signature("malformed timestamp");
    }
    const int64_t skew = nowSeconds() - sent_at;
    if (skew > tolerance_s_ || skew < -tolerance_s_)
      return Status::signature("timestamp outside the tolerance");
    if (!ih::sdk::constantTimeEquals(hmacSha256Hex(secret_, t, body), v1)) {
      return Status::signature("signature mismatch");
    }
    // The body: id, type, created, account, data.object.id (the last of repeated keys wins).
    std::string_view id, type, created, account, object_id;
    const bool body_ok = walkObject(body, [&](size_t depth, const Path& path, std::string_view raw) {
      const bool text = raw.front() == '"';
      if (depth == 1) {
        if (path[0] == "id") id = text ? raw : std::string_view();
        if (path[0] == "type") type = text ? raw : std::string_view();
        if (path[0] == "created") created = isInteger(raw) ? raw : std::string_view();
        if (path[0] == "account") account = text ? raw : std::string_view();
      } else if (depth == 3 && path[0] == "data" && path[1] == "object" && path[2] == "id") {
        object_id = text ? raw : std::string_view();
      }
    });
    if (!body_ok || id.empty() || type.empty()) {
      return Status::invalidArgument("webhook body must be a JSON object with string \"id\" and \"type\"");
    }
    // Decoded and quoted again: a malformed escape is refused here, as nlohmann would have.
    const auto decoded_id = ih::sdk::json::unquote(id), decoded_type = ih::sdk::json::unquote(type);
    if (!decoded_id || !decoded_type) {
      return Status::invalidArgument("webhook body must be a JSON object with string \"id\" and \"type\"");
    }
    std::string result = "{\"event_id\":" + ih::sdk::json::quote(*decoded_id) +
                         ",\"type\":" + ih::sdk::json::quote(*decoded_type) + ",\"occurred_at\":" +
                         (created.empty() ? std::to_string(sent_at) : std::string(created));
    if (auto decoded = account.empty() ? std::nullopt : ih::sdk::json::unquote(account))
      result += ",\"account\":" + ih::sdk::json::quote(*decoded);
    if (auto decoded = object_id.empty() ? std::nullopt : ih::sdk::json::unquote(object_id))
      result += ",\"object_id\":" + ih::sdk::json::quote(*decoded);
    result += '}';
    return call.setResult(result);
  }

  Status handleWebhook(Call& call, std::string_view event_json, std::string_view body) override {
    const int64_t started_ms = wallMs();
    if (handle_delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(handle_delay_ms_));
    const json info = parse(event_json);
    // Only "fail" and "leak" of the body matter: no DOM for the ~2 KB payload.
    int64_t fail = 0, threads = 0, hold_ms = 0;
    bool leak = false, emit_first = false, twice = false;
    const bool body_ok = walkObject(body, [&](size_t depth, const Path& path, std::string_view raw) {
      if (depth != 1) return;
      if (path[0] == "fail") fail = isInteger(raw) ? std::stoll(std::string(raw)) : 0;
      if (path[0] == "leak") leak = raw == "true";
      if (path[0] == "threads") threads = isInteger(raw) ? std::stoll(std::string(raw)) : 0;
      if (path[0] == "hold_ms") hold_ms = isInteger(raw) ? std::stoll(std::string(raw)) : 0;
      if (path[0] == "emit_first") emit_first = raw == "true";
      if (path[0] == "twice") twice = raw == "true";
    });
    if (!info.is_object() || !body_ok) return Status::invalidArgument("event or body is not JSON");
    const int64_t attempt = info.value("attempt", int64_t{0});
    bool fixed = false;  // the test's stand-in for "the plugin's code was fixed": plugin state "fixed" is set
    if (fail > 0) {
      auto flag = call.state("fixed");
      fixed = flag && flag->has_value();
    }
    auto emit = [&]() -> Status {
      if (!emit_events_) return Status::ok();
      for (int i = 0; i < (twice ? 2 : 1); ++i) {
        Status emitted = call.emit(
            "test.received", json{{"event_id", info.value("event_id", std::string())}, {"n", i + 1}}.dump());
        if (!emitted.isOk()) return emitted;
      }
      if (hold_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(hold_ms, 5000)));
      return Status::ok();
    };
    if (emit_first) {
      if (Status emitted = emit(); !emitted.isOk()) return emitted;
    }
    if (attempt <= fail && !fixed) {
      std::string message = "planned failure " + std::to_string(attempt) + " of " + std::to_string(fail);
      if (leak) message += " (provider said: key sk_live_51HqLyjWDarjtT1zdp7dc4eC3 rejected)";
      return Status::unavailable(message);
    }
    if (!emit_first) {
      if (Status emitted = emit(); !emitted.isOk()) return emitted;
    }
    if (!record_state_) return Status::ok();
    json seen = {{"attempt", attempt},
                 {"stale", info.value("stale", false)},
                 {"order", order_.fetch_add(1) + 1},
                 {"id", info.value("id", int64_t{0})},
                 {"started_ms", started_ms},
                 {"finished_ms", wallMs()}};
    if (threads > 0) {
      if (!call.usableFromOtherThreads()) return Status::unsupported("host ABI < 1.3 cannot share a call");
      auto [calls, mismatches] = shareCall(call, std::min<int64_t>(threads, 16));
      seen["thread_calls"] = calls;
      seen["thread_mismatches"] = mismatches;
    }
    return call.putState("seen/" + info.value("event_id", std::string()), seen.dump());
  }

 private:
  static int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // In each of 50 rounds, N threads each make a records_commit call that fails with a message naming their
  // own model ("record model \"t<i> r<k>\" is invalid"), wait until every thread has failed, then read
  // last_error through the C ABI: each must see its own message (a message kept per call instead of per
  // thread would show every thread the last writer's). Returns {calls, mismatches}.
  static std::pair<int64_t, int64_t> shareCall(Call& call, int64_t threads) {
    std::atomic<int64_t> calls{0}, mismatches{0};
    std::mutex mu;
    std::condition_variable cv;
    int64_t arrived = 0, generation = 0;
    auto barrier = [&] {
      std::unique_lock<std::mutex> lock(mu);
      const int64_t gen = generation;
      if (++arrived == threads) {
        arrived = 0;
        ++generation;
        cv.notify_all();
      } else {
        cv.wait(lock, [&] { return generation != gen; });
      }
    };
    const ih_host_api* api = call.host();
    std::vector<std::thread> pool;
    for (int64_t i = 0; i < threads; ++i) {
      pool.emplace_back([&, i] {
        for (int k = 0; k < 50; ++k) {
          const std::string model = "t" + std::to_string(i) + " r" + std::to_string(k);  // a space: invalid
          const ih_status rc = api->records_commit(call.raw(), ih_str{model.data(), model.size()},
                                                   ih_str{"[]", 2}, ih_str{nullptr, 0}, ih_str{nullptr, 0});
          ++calls;
          barrier();  // every thread has failed its call before anyone reads
          const ih_str error = api->last_error(call.raw());
          const std::string_view text(error.ptr == nullptr ? "" : error.ptr, error.len);
          if (rc == IH_OK || text.find("\"" + model + "\"") == std::string_view::npos) ++mismatches;
          barrier();  // nobody fails the next call before everyone has read
        }
      });
    }
    for (auto& t : pool)
      t.join();
    return {calls.load(), mismatches.load()};
  }

  std::string secret_;
  int64_t tolerance_s_ = 300;
  bool record_state_ = true;
  bool emit_events_ = false;
  int64_t handle_delay_ms_ = 0;
  std::atomic<int64_t> order_{0};
};

}  // namespace
}  // namespace webhook_test

IH_SDK_EXPORT_PLUGIN(webhook_test::WebhookTestPlugin, webhook_test::kManifestJson, IH_CAP_WEBHOOKS, 0)

#include "stripe_common/client.h"

#include <openssl/evp.h>

#include "stripe_common/json_util.h"
#include "stripe_common/keys.h"

namespace ih::stripe {
namespace {

using ih::sdk::Result;
using ih::sdk::Status;

std::string sha256Hex(std::string_view data) {
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

std::string stringOf(const Json& object, const char* key) {
  if (object.is_object()) {
    auto it = object.find(key);
    if (it != object.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

// Call::http with "rate_limit_per_s" in the request JSON (the SDK's HttpRequest has no field for it).
Result<ih::sdk::HttpResponse> httpWithRate(const ih::sdk::Call& call, const ih::sdk::HttpRequest& request,
                                           double rate_per_s) {
  std::string request_json = request.toJson();
  request_json.pop_back();  // the closing '}'
  request_json += ",\"rate_limit_per_s\":" + std::to_string(rate_per_s) + "}";
  const ih_host_api* host = call.host();
  ih::sdk::Buffer meta(host);
  ih::sdk::Buffer body(host);
  const ih_status code = host->http_request(call.raw(), ih::sdk::toStr(request_json),
                                            ih::sdk::toStr(request.body), meta.out(), body.out());
  if (code != IH_OK) {
    std::string message(ih::sdk::toView(host->last_error(call.raw())));
    return Status(code,
                  message.empty() ? "http_request failed with status " + std::to_string(code) : message);
  }
  ih::sdk::HttpResponse response;
  const std::string_view meta_json = meta.view();
  response.status = static_cast<int32_t>(ih::sdk::json::intField(meta_json, "status").value_or(0));
  response.attempts = static_cast<int32_t>(ih::sdk::json::intField(meta_json, "attempts").value_or(1));
  if (auto headers = ih::sdk::json::rawField(meta_json, "headers"))
    response.headers_json = std::string(*headers);
  response.body = body.str();
  return response;
}

}  // namespace

Status toStatus(int32_t http_status, std::string_view body) {
  const Json parsed = parseJson(body);
  const Json error = parsed.is_object() && parsed.contains("error") ? parsed["error"] : Json::object();
  std::string message = maskSecrets(stringOf(error, "message"));
  const std::string type = stringOf(error, "type");
  const std::string code = stringOf(error, "code");
  const std::string param = stringOf(error, "param");
  if (message.empty()) message = "HTTP " + std::to_string(http_status);
  std::string detail = message;
  if (!code.empty()) detail += " (code: " + code;
  if (!param.empty()) detail += (code.empty() ? " (param: " : ", param: ") + param;
  if (!code.empty() || !param.empty()) detail += ")";

  if (http_status == 401) return Status::unauthenticated("Stripe rejected the API key (" + message + ")");
  if (http_status == 403) return Status::permissionDenied("Stripe denied the request: " + detail);
  if (http_status == 402) {
    const std::string decline = stringOf(error, "decline_code");
    return Status::provider("Stripe declined the payment: " + detail +
                            (decline.empty() ? std::string() : " [decline_code: " + decline + "]"));
  }
  if (http_status == 404) return Status::notFound("Stripe: " + detail);
  if (http_status == 409 || type == "idempotency_error")
    return Status::conflict("Stripe conflict: " + detail);
  if (http_status == 429) return Status::rateLimited("Stripe rate limit: " + detail);
  if (http_status >= 500 || http_status == 0) {
    return Status::unavailable("Stripe is unreachable: Stripe answered HTTP " + std::to_string(http_status) +
                               " (" + message + ")");
  }
  return Status::provider("Stripe refused the request: " + detail);
}

std::string stableIdempotencyKey(std::initializer_list<std::string_view> parts) {
  std::string joined;
  for (std::string_view part : parts) {
    joined.append(part.data(), part.size());
    joined.push_back('\x1f');
  }
  return "ihost-" + sha256Hex(joined);
}

Client::Client(const ih::sdk::Call& call, ClientOptions options, std::string secret_key, std::string account)
    : call_(call),
      options_(std::move(options)),
      secret_key_(std::move(secret_key)),
      account_(std::move(account)) {}

Result<Json> Client::get(std::string_view path, const Form& query, std::string_view endpoint) const {
  return send("GET", path, query, {}, endpoint);
}

Result<Json> Client::post(std::string_view path, const Form& body, std::string_view idempotency_key,
                          std::string_view endpoint) const {
  return send("POST", path, body, idempotency_key, endpoint);
}

Result<Json> Client::del(std::string_view path, std::string_view endpoint) const {
  return send("DELETE", path, Form(), {}, endpoint);
}

Result<Json> Client::send(std::string method, std::string_view path, const Form& form,
                          std::string_view idempotency_key, std::string_view endpoint) const {
  std::string base = options_.api_base_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  ih::sdk::HttpRequest request;
  request.method = std::move(method);
  request.url = base + std::string(path);
  const std::string encoded = form.encode();
  if (request.method == "POST") {
    request.body = encoded;
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  } else if (!encoded.empty()) {
    request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + encoded;
  }
  request.headers.emplace_back("Authorization", "Bearer " + secret_key_);
  if (!options_.stripe_version.empty())
    request.headers.emplace_back("Stripe-Version", options_.stripe_version);
  if (!account_.empty()) request.headers.emplace_back("Stripe-Account", account_);
  request.timeout_ms = options_.timeout_ms;
  request.idempotency_key = std::string(idempotency_key);
  request.endpoint = endpoint.empty() ? std::string(path.substr(0, path.find('?'))) : std::string(endpoint);

  auto response = options_.rate_limit_per_s > 0 ? httpWithRate(call_, request, options_.rate_limit_per_s)
                                                : call_.http(request);
  if (!response) {
    return Status::unavailable("Stripe is unreachable: " + maskSecrets(response.status().message()));
  }
  if (!response->isSuccess()) return toStatus(response->status, response->body);
  // Every Stripe answer is one JSON object; anything else (not JSON, not UTF-8, nested deeper than any Stripe
  // object, an array) is a provider fault, never something the plugin goes on to read or print.
  Json parsed = parseJson(response->body);
  if (parsed.is_discarded()) {
    return Status::provider("Stripe answered HTTP " + std::to_string(response->status) +
                            " with a body that is not JSON (or nested deeper than " +
                            std::to_string(kMaxJsonDepth) + " levels)");
  }
  if (!parsed.is_object()) {
    return Status::provider("Stripe answered HTTP " + std::to_string(response->status) +
                            " with JSON that is not an object");
  }
  return parsed;
}

Result<std::vector<Json>> Client::listAll(std::string_view path, Form query, size_t max_items,
                                          std::string_view endpoint) const {
  bool has_limit = false;
  for (const auto& field : query.fields())
    has_limit = has_limit || field.first == "limit";
  if (!has_limit) query.add("limit", 100);
  std::vector<Json> items;
  std::string starting_after;
  for (;;) {
    Form page = query;
    if (!starting_after.empty()) page.add("starting_after", starting_after);
    auto answer = get(path, page, endpoint);
    if (!answer) return answer.status();
    const Json& data = (*answer)["data"];
    if (!data.is_array()) return Status::provider("Stripe answered a list without data");
    for (const Json& item : data) {
      if (items.size() >= max_items) return items;
      items.push_back(item);
    }
    if (!answer->value("has_more", false) || data.empty()) return items;
    starting_after = stringOf(data.back(), "id");
    if (starting_after.empty()) return items;
  }
}

}  // namespace ih::stripe

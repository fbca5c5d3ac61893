// hostile_echo: the plugin the hostile suite (tests/hostile) points its plugin-route and workflow cases at.
//   - GET|POST /echo (tenant) and GET /echo (public): answer 200 with the request JSON the host built for the
//     route, byte for byte, so a test can see which caller headers and query values reached the plugin.
//   - POST /reply (tenant): the body {"status":N,"headers":{...},"body":"..."} is answered as given, so a
//   test
//     can see what the host puts on the wire when a plugin asks for odd headers.
//   - action "ask": prompts once ({"key":"color"}) and returns {"answer": <the answer>}; a workflow run of it
//     waits for an answer, which lets tests hold a run in the "waiting" state without any provider.
//   - action "spin" and job "spin": a cooperative long call: waits (at most 20 s) until call_remaining_ms says
//     the deadline passed, then returns IH_ERR_DEADLINE; {"ignore_deadline":true} waits its "ms" regardless
//     and then fails, as a plugin that never looks would.
//   - action "fetch" {"url"}: one GET through the host's http_request (bounded by the call's deadline).
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "ih/plugin.hpp"

namespace hostile_echo {
namespace {

using ih::sdk::Call;
using ih::sdk::Status;
using nlohmann::json;

constexpr char kManifestJson[] = R"json({
  "name": "hostile_echo",
  "version": "1.0.0",
  "display_name": "Hostile echo",
  "description": "Test-only plugin: routes echo the request the host built; an action that prompts once.",
  "config_schema": {"type": "object", "properties": {}},
  "routes": [{"method": "GET", "path": "/echo", "auth": "tenant"},
             {"method": "POST", "path": "/echo", "auth": "tenant"},
             {"method": "POST", "path": "/reply", "auth": "tenant"},
             {"method": "GET", "path": "/echo", "auth": "public"}],
  "actions": [{"name": "ask", "description": "Prompts for \"color\" and returns the answer."},
              {"name": "spin", "description": "Runs until its deadline, then stops."},
              {"name": "fetch", "description": "GETs a URL through the host."}],
  "jobs": [{"name": "spin", "description": "Runs until its deadline, then stops."}]
})json";

class HostileEchoPlugin final : public ih::sdk::Plugin {
 public:
  HostileEchoPlugin(const ih_host_api* /*host*/, std::string_view /*integration_id*/,
                    std::string_view /*config_json*/) {}

  Status onRoute(Call& call, std::string_view request_json, std::string_view body) override {
    const json request = json::parse(request_json.begin(), request_json.end(), nullptr, false);
    if (!request.is_object()) return Status::internal("the host sent a request that is not a JSON object");
    const std::string route = request.value("route", std::string());
    if (route == "/reply") {
      const json wanted = json::parse(body.begin(), body.end(), nullptr, false);
      if (!wanted.is_object()) return Status::invalidArgument("body must be a JSON object");
      const int status = wanted.value("status", 200);
      const json headers = wanted.contains("headers") ? wanted["headers"] : json::object();
      return call.respond(status, wanted.value("body", std::string("{}")),
                          headers.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return call.respond(200, request_json, R"({"Content-Type":"application/json"})");
  }

  Status runJob(Call& call, std::string_view job, std::string_view /*params_json*/) override {
    if (job != "spin") return Status::notFound("no such job: " + std::string(job));
    return spin(call, json::object());
  }

  Status runAction(Call& call, std::string_view action, std::string_view input_json) override {
    const json input = json::parse(input_json.begin(), input_json.end(), nullptr, false);
    if (action == "spin") return spin(call, input);
    if (action == "fetch") {
      ih::sdk::HttpRequest request;
      request.url = input.is_object() ? input.value("url", std::string()) : std::string();
      request.timeout_ms = 60000;
      request.max_attempts = 1;
      auto answer = call.http(request);
      if (!answer) return answer.status();
      return call.setResult(json{{"status", answer->status}}.dump());
    }
    if (action != "ask") return Status::notFound("no such action: " + std::string(action));
    auto answer = call.prompt(R"({"key":"color","kind":"text","message":"Favourite color?"})");
    if (!answer) return answer.status();
    return call.setResult(json{{"answer", *answer}}.dump(-1, ' ', false, json::error_handler_t::replace));
  }

 private:
  static Status spin(Call& call, const json& input) {
    const bool ignore = input.is_object() && input.value("ignore_deadline", false);
    const int64_t ms = input.is_object() ? input.value("ms", int64_t{20000}) : int64_t{20000};
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min<int64_t>(ms, 20000));
    while (std::chrono::steady_clock::now() < until) {
      if (!ignore && call.deadlinePassed()) return Status::deadline("spin: stopped at the deadline");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return ignore ? Status::internal("spin: finished without looking at the deadline")
                  : call.setResult(R"({"spun":true})");
  }
};

}  // namespace
}  // namespace hostile_echo

IH_SDK_EXPORT_PLUGIN(hostile_echo::HostileEchoPlugin, hostile_echo::kManifestJson,
                     IH_CAP_ROUTES | IH_CAP_ACTIONS | IH_CAP_JOBS, 0)

// Plugin-result decoding: what host/runtime does with a plugin's output. A real plugin .so (fuzz_plugin.cpp)
// is loaded by the real registry and run by the real runtime; its route handler replays the fuzz input as
// calls to the host services (respond, set_result, emit_event, log, records_upsert/commit, set_error,
// http_request, prompt, call_info). The CallResult is then read the way host/api does. Properties:
//  - nothing throws across the plugin boundary, nothing crashes;
//  - what the runtime accepted is safe to hand on: result_json and headers_json are JSON the host's own
//    parser accepts (ih::parseJson: depth-bounded, no NUL tricks), headers an object of strings without
//    CR/LF/NUL (they become HTTP response headers), the status in 100..599;
//  - what reaches the event sink is a JSON object by ih::parseJson, what reaches the records sink passed
//    parseRecords.
#include <memory>
#include <string>

#include "common/json_parse.h"
#include "common/text.h"
#include "config/config.h"
#include "fuzz_check.h"
#include "loader/registry.h"
#include "outbound/client.h"
#include "records/records.h"
#include "runtime/runtime.h"

namespace {

class CheckingRecords final : public ih::sinks::RecordSink {
 public:
  ih::Status upsert(std::string_view, std::string_view, std::string_view model, std::string_view records_json,
                    const ih::sinks::Deferred&) override {
    auto rows = ih::records::parseRecords(model, records_json);
    return rows.isOk() ? ih::Status::ok() : rows.status();
  }
  ih::Status remove(std::string_view, std::string_view, std::string_view, std::string_view, int64_t,
                    const ih::sinks::Deferred&) override {
    return ih::Status::ok();
  }
  ih::Status commit(std::string_view t, std::string_view i, std::string_view model,
                    std::string_view records_json, std::string_view, std::string_view) override {
    return upsert(t, i, model, records_json, nullptr);
  }
};

class CheckingEvents final : public ih::sinks::EventSink {
 public:
  ih::Status emit(std::string_view, std::string_view, std::string_view type, std::string_view data_json,
                  std::string_view, const ih::sinks::Deferred&) override {
    IH_FUZZ_CHECK(!type.empty());
    auto data = ih::parseJson(data_json);
    IH_FUZZ_CHECK(data.isOk() && data->is_object(),
                  "the runtime passed event data the host's parser refuses: %s",
                  data.isOk() ? "not an object" : data.status().message().c_str());
    return ih::Status::ok();
  }
};

struct Host {
  std::unique_ptr<ih::outbound::Client> outbound;
  CheckingRecords records;
  CheckingEvents events;
  std::unique_ptr<ih::runtime::Runtime> runtime;
  ih::runtime::Integration* integration = nullptr;
};

Host& host() {
  static Host* h = [] {
    auto* out = new Host;
    out->outbound = std::make_unique<ih::outbound::Client>();
    ih::runtime::Dependencies deps;
    deps.outbound = out->outbound.get();
    deps.records = &out->records;
    deps.events = &out->events;
    out->runtime = std::make_unique<ih::runtime::Runtime>(deps);
    auto plugin = ih::loader::Registry::loadFile(IH_FUZZ_PLUGIN_PATH, "");
    if (!plugin.isOk()) {
      std::fprintf(stderr, "cannot load %s: %s\n", IH_FUZZ_PLUGIN_PATH, plugin.status().message().c_str());
      std::abort();
    }
    ih::config::Config config;
    ih::config::IntegrationConfig integration;
    integration.id = "fuzz";
    integration.plugin = "fuzz_plugin";
    const ih::Status added = out->runtime->addIntegration(config, integration, *plugin);
    if (!added.isOk()) {
      std::fprintf(stderr, "addIntegration: %s\n", added.message().c_str());
      std::abort();
    }
    out->integration = out->runtime->find("fuzz");
    return out;
  }();
  return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Host& h = host();
  const std::string_view script = ih::fuzz::asText(data, size);
  const std::string request_json = R"({"method":"POST","path":"/script","query":{},"headers":{}})";
  ih::runtime::CallResult result = h.runtime->route(*h.integration, "ten_fuzz", request_json, script);

  if (!result.result_json.empty()) {
    auto parsed = ih::parseJson(result.result_json);
    IH_FUZZ_CHECK(parsed.isOk(), "set_result accepted JSON the host's parser refuses: %s",
                  parsed.status().message().c_str());
  }
  if (result.responded) {
    IH_FUZZ_CHECK(result.http_status >= 100 && result.http_status <= 599);
    if (!result.headers_json.empty()) {
      auto headers = ih::parseJson(result.headers_json);
      IH_FUZZ_CHECK(headers.isOk() && headers->is_object(),
                    "respond accepted headers the host's parser refuses: %s",
                    headers.isOk() ? "not an object" : headers.status().message().c_str());
      for (const auto& [name, value] : headers->items()) {
        IH_FUZZ_CHECK(
            !name.empty() && name.find_first_of(std::string_view(":\r\n\0 ", 5)) == std::string::npos,
            "respond accepted a header name that breaks HTTP: [%s]", name.c_str());
        if (value.is_string()) {
          const std::string& text = value.get_ref<const std::string&>();
          IH_FUZZ_CHECK(text.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
                        "respond accepted a header value with CR, LF or NUL (response splitting): [%s]",
                        text.c_str());
        }
      }
    }
  }
  return 0;
}

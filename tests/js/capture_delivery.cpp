// Captures one real outbound webhook for tests/js/verify-standard-webhook.js: an endpoint whose secret was
// rotated (so the delivery carries two signatures), one event, the receiver's view of it written to
// $IH_CAPTURE_DIR as `body`, `headers.json` and `secrets` (new and previous secret). Run by
// run_verify.cmake, not by itself (the tag is hidden).
#include <catch2/catch.hpp>

#include <cstdlib>

#include "support/temp_dir.h"
#include "unit/endpoints/endpoints_harness.h"

namespace {

using nlohmann::json;

TEST_CASE("capture a delivery for the standardwebhooks verifier", "[.][endpoints_capture]") {
  const char* out = std::getenv("IH_CAPTURE_DIR");
  REQUIRE(out != nullptr);
  ih::test::EndpointsHost host;
  ih::test::Receiver receiver;
  auto tenant = host.tenant("acme");
  json endpoint = host.createEndpoint(tenant, receiver.url(), {"invoice."});
  json rotated =
      host.call("POST", tenant, "/api/endpoints/" + endpoint["id"].get<std::string>() + "/rotate_secret");
  host.emit(tenant, "invoice.paid",
            {{"amount", 4200}, {"currency", "eur"}, {"note", "caf\u00e9 \"quoted\""}});
  auto hits = receiver.waitFor(1);
  REQUIRE(hits.size() == 1);
  const std::filesystem::path dir(out);
  ih::test::writeFile(dir / "body", hits[0].body);
  ih::test::writeFile(dir / "headers.json", json({{"webhook-id", hits[0].id},
                                                  {"webhook-timestamp", hits[0].timestamp},
                                                  {"webhook-signature", hits[0].signature}})
                                                .dump());
  ih::test::writeFile(dir / "secrets", rotated["secret"].get<std::string>() + "\n" +
                                           endpoint["secret"].get<std::string>() + "\n");
}

}  // namespace

// The [server] connection limits and the [events] stream keys: defaults, the shipped example, environment
// overrides, and out-of-range values refused with file, key and fix.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"

namespace {

ih::config::Config loadLimits(const std::string& text, const ih::config::Environment& env = {}) {
  auto result = ih::config::loadString(text, "cfg.toml", env);
  INFO(result.status().message());
  REQUIRE(result.isOk());
  return std::move(result).value();
}

std::string limitsError(const std::string& text) {
  auto result = ih::config::loadString(text, "cfg.toml", {});
  REQUIRE_FALSE(result.isOk());
  return result.status().message();
}

}  // namespace

TEST_CASE("server limits and event stream keys have safe defaults", "[config]") {
  const auto c = loadLimits("");
  CHECK(c.server.header_timeout_ms == 10000);
  CHECK(c.server.idle_timeout_ms == 60000);
  CHECK(c.server.max_connections == 10000);
  CHECK(c.server.max_connections_per_ip == 256);
  CHECK(c.events.stream_reauth_ms == 5000);
  CHECK(c.events.max_streams == 10000);
  CHECK(c.events.max_streams_per_tenant == 100);

  auto shipped = ih::config::loadFile(std::string(IH_SOURCE_DIR) + "/config/ihost.toml", {});
  REQUIRE(shipped.isOk());
  CHECK(shipped->server.header_timeout_ms == 10000);
  CHECK(shipped->server.max_connections == 10000);
  CHECK(shipped->server.max_connections_per_ip == 256);
  CHECK(shipped->events.stream_reauth_ms == 5000);
  CHECK(shipped->events.max_streams_per_tenant == 100);
}

TEST_CASE("server limits and event stream keys are set from the file or the environment", "[config]") {
  const auto c = loadLimits(
      "[server]\nheader_timeout_ms = 2500\nmax_connections = 64\nmax_connections_per_ip = 0\n"
      "[events]\nstream_reauth_ms = 1000\nmax_streams = 50\nmax_streams_per_tenant = 3\n");
  CHECK(c.server.header_timeout_ms == 2500);
  CHECK(c.server.max_connections == 64);
  CHECK(c.server.max_connections_per_ip == 0);
  CHECK(c.events.stream_reauth_ms == 1000);
  CHECK(c.events.max_streams == 50);
  CHECK(c.events.max_streams_per_tenant == 3);

  const auto env = loadLimits(
      "", {{"IHOST_SERVER__MAX_CONNECTIONS_PER_IP", "32"}, {"IHOST_EVENTS__STREAM_REAUTH_MS", "250"}});
  CHECK(env.server.max_connections_per_ip == 32);
  CHECK(env.events.stream_reauth_ms == 250);
}

TEST_CASE("out-of-range limits are refused with file, key and fix", "[config]") {
  CHECK(limitsError("[server]\nheader_timeout_ms = 0\n") ==
        "cfg.toml:2:1: server.header_timeout_ms: must be between 100 and 600000, got 0. Write a number of "
        "milliseconds, e.g. 10000 (the whole request head must arrive within it).");
  CHECK(
      limitsError("[server]\nmax_connections = 0\n").find("server.max_connections: must be between 1 and") !=
      std::string::npos);
  CHECK(
      limitsError("[server]\nmax_connections_per_ip = -1\n")
          .find("cfg.toml:2:1: server.max_connections_per_ip: must be between 0 and 1000000, got -1. Write a "
                "number of connections per client address") == 0);
  CHECK(limitsError("[events]\nstream_reauth_ms = 60000\n") ==
        "cfg.toml:2:1: events.stream_reauth_ms: must be between 100 and 30000, got 60000. Write a number of "
        "milliseconds, e.g. 5000 (a revoked key's open event streams end within it).");
  CHECK(limitsError("[events]\nmax_streams_per_tenant = \"many\"\n")
            .find("events.max_streams_per_tenant: expected an integer") != std::string::npos);
  CHECK(limitsError("[events]\nstream_reauth = 5000\n").find("events.stream_reauth") != std::string::npos);
}

#include <catch2/catch.hpp>

#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "metrics/metrics.h"

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    out.push_back(line);
  return out;
}

// Strict: every line is "# HELP name text", "# TYPE name type" or "name{labels} value".
void requireStrict(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  static const std::regex kType(R"(^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)$)");
  static const std::regex kSample(
      R"re(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")*\})? (-?[0-9.]+([eE][+-]?[0-9]+)?|\+Inf|-Inf|NaN)$)re");
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  for (const auto& line : lines(text)) {
    INFO(line);
    REQUIRE(
        (std::regex_match(line, kHelp) || std::regex_match(line, kType) || std::regex_match(line, kSample)));
  }
}

}  // namespace

TEST_CASE("metrics: counters, gauges and label escaping in the exposition", "[metrics]") {
  ih::metrics::Registry r;
  auto& c = r.counter("test_requests_total", "Requests.\nSecond line", {{"route", "/a"}, {"code", "200"}});
  c.inc();
  c.inc(2);
  CHECK(&r.counter("test_requests_total", "", {{"route", "/a"}, {"code", "200"}}) == &c);
  r.counter("test_requests_total", "", {{"route", "we\"ird\\path\nx"}, {"code", "500"}}).inc();
  auto& g = r.gauge("test_backlog", "Backlog.");
  g.set(5);
  g.add(-1.5);
  std::string text = r.exposition();
  requireStrict(text);
  CHECK(text.find("# HELP test_requests_total Requests.\\nSecond line\n") != std::string::npos);
  CHECK(text.find("# TYPE test_requests_total counter\n") != std::string::npos);
  CHECK(text.find("test_requests_total{route=\"/a\",code=\"200\"} 3\n") != std::string::npos);
  CHECK(text.find("test_requests_total{route=\"we\\\"ird\\\\path\\nx\",code=\"500\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("test_backlog 3.5\n") != std::string::npos);
}

TEST_CASE("metrics: histogram buckets are cumulative with +Inf, _sum and _count", "[metrics]") {
  ih::metrics::Registry r;
  auto& h = r.histogram("test_seconds", "Latency.", {{"op", "x"}}, {0.1, 1, 0.5});
  h.observe(0.05);
  h.observe(0.3);
  h.observe(0.3);
  h.observe(5);
  std::string text = r.exposition();
  requireStrict(text);
  CHECK(text.find("# TYPE test_seconds histogram\n") != std::string::npos);
  CHECK(text.find("test_seconds_bucket{op=\"x\",le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("test_seconds_bucket{op=\"x\",le=\"0.5\"} 3\n") != std::string::npos);
  CHECK(text.find("test_seconds_bucket{op=\"x\",le=\"1\"} 3\n") != std::string::npos);
  CHECK(text.find("test_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("test_seconds_sum{op=\"x\"} 5.65\n") != std::string::npos);
  CHECK(text.find("test_seconds_count{op=\"x\"} 4\n") != std::string::npos);
}

TEST_CASE("metrics: concurrent updates through kept handles are not lost", "[metrics]") {
  ih::metrics::Registry r;
  auto& c = r.counter("test_concurrent_total", "c");
  auto& h = r.histogram("test_concurrent_seconds", "h");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.002);
        if (i % 1000 == 0) (void)r.exposition();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(c.value() == 40000);
  CHECK(h.count() == 40000);
  CHECK(h.sum() == Approx(80.0));
  requireStrict(r.exposition());
}

TEST_CASE("metrics: the global registry is one object", "[metrics]") {
  CHECK(&ih::metrics::registry() == &ih::metrics::registry());
  ih::metrics::registry().counter("test_global_total", "g").inc();
  requireStrict(ih::metrics::registry().exposition());
}

// Raw bytes on a connection, as host/http/server.cpp reads them: Boost.Beast's request_parser<string_body>
// with the server's limits (64 KiB of header, [server] max_body_bytes of body), fed in the pieces the network
// happens to deliver, then what onRequest() does before a handler: decodeTarget, the UTF-8 check of header
// values, route matching against the host's route table (HEAD falling back to GET), 400/404/405.
// Properties: never crashes or throws; parsing the bytes in one piece or in arbitrary pieces gives the same
// request or the same refusal; an accepted request respects the limits, and no header name or value carries
// CR, LF or NUL (no header injection / request smuggling through the parser); every string a handler or an
// error answer gets (path, query, parameters, headers, the message) is valid UTF-8.
//
// Input: byte 0 seeds the piece sizes, the rest is the connection's bytes.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/text.h"
#include "fuzz_check.h"
#include "http/router.h"
#include "http/server.h"
#include "route_table.h"

// BOOST_ENABLE_ASSERT_HANDLER is defined for this target (tests/fuzz/CMakeLists.txt): every Boost assertion
// lands here and aborts, except one false positive of Boost 1.74. parse_chunk_header asserts n >= 5 when it
// is re-entered after the final chunk's "0\r\n", where 3 or 4 bytes are legal and the code that follows
// returns need_more correctly (fixed upstream: boostorg/beast#2861). Release builds, the server's, have no
// assertion.
namespace boost {
void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (std::string_view(expr) == "n >= 5" &&
      std::string_view(function).find("parse_chunk_header") != std::string_view::npos)
    return;
  std::fprintf(stderr, "\nBoost assertion failed: %s in %s at %s:%ld\n", expr, function, file, line);
  std::abort();
}
void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "\nBoost assertion failed: %s (%s) in %s at %s:%ld\n", expr, msg, function, file,
               line);
  std::abort();
}
}  // namespace boost

namespace {

namespace bhttp = boost::beast::http;

struct Parsed {
  bool done = false;
  bool failed = false;
  std::string error;
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  unsigned version = 0;
  size_t consumed = 0;

  bool operator==(const Parsed& o) const {
    return done == o.done && failed == o.failed && error == o.error && method == o.method &&
           target == o.target && body == o.body && headers == o.headers && keep_alive == o.keep_alive &&
           version == o.version && consumed == o.consumed;
  }
};

// Feeds `bytes` to a fresh parser `piece` bytes at a time (0: all at once), as the server's reads do: the
// header first, then the body.
Parsed parse(std::string_view bytes, size_t max_body, const std::vector<size_t>& pieces) {
  Parsed out;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(max_body);
  parser.eager(true);
  std::string pending;  // bytes received but not consumed yet (Beast's flat_buffer in the server)
  size_t offset = 0, piece_index = 0;
  while (!parser.is_done()) {
    size_t take = bytes.size() - offset;
    if (!pieces.empty()) take = std::min(take, pieces[piece_index++ % pieces.size()]);
    pending.append(bytes.substr(offset, take));
    offset += take;
    boost::beast::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
    out.consumed += used;
    pending.erase(0, used);
    if (ec == bhttp::error::need_more) {
      if (offset == bytes.size()) {
        // End of stream: what the server sees when the client closes.
        boost::beast::error_code eof;
        parser.put_eof(eof);
        if (eof) {
          out.failed = true;
          out.error = eof.message();
        }
        break;
      }
      continue;
    }
    if (ec) {
      out.failed = true;
      out.error = ec.message();
      break;
    }
    if (used == 0 && offset == bytes.size()) break;
  }
  out.done = parser.is_done();
  if (parser.is_header_done()) {
    const auto& msg = parser.get();
    out.method = std::string(msg.method_string());
    out.target = std::string(msg.target());
    out.version = msg.version();
    for (const auto& field : msg)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    if (out.done) {
      out.body = msg.body();
      out.keep_alive = msg.keep_alive();
    }
  }
  return out;
}

const ih::http::Router& hostRouter() {
  static const ih::http::Router router = [] {
    ih::http::Router r;
    for (size_t i = 0; i < std::size(ih::fuzz::kHostRoutes); ++i)
      if (!r.add(ih::fuzz::kHostRoutes[i].first, ih::fuzz::kHostRoutes[i].second, static_cast<int>(i)).isOk())
        std::abort();
    return r;
  }();
  return router;
}

// onRequest() up to the handler: the status it answers (0 when a handler would run) and the error message.
int dispatch(const Parsed& request, std::string& message) {
  auto decoded = ih::http::decodeTarget(request.target);
  if (!decoded.isOk()) {
    message = decoded.status().message();
    return 400;
  }
  for (const auto& [name, value] : request.headers) {
    if (!ih::isValidUtf8(value)) {
      message = "header " + name + " is not valid UTF-8";
      return 400;
    }
  }
  const ih::http::Router& router = hostRouter();
  auto match = router.match(request.method, decoded->path);
  if (!match && request.method == "HEAD") match = router.match("GET", decoded->path);
  if (!match) {
    message = (router.matchesAnyMethod(decoded->path) ? "method " + request.method + " is not allowed on "
                                                      : "no route for " + request.method + " ") +
              decoded->path.text;
    return router.matchesAnyMethod(decoded->path) ? 405 : 404;
  }
  for (const auto& [name, value] : match->params)
    IH_FUZZ_CHECK(ih::isValidUtf8(value), "route parameter %s is not valid UTF-8", name.c_str());
  for (const auto& [name, value] : decoded->query)
    IH_FUZZ_CHECK(ih::isValidUtf8(name) && ih::isValidUtf8(value));
  IH_FUZZ_CHECK(ih::isValidUtf8(decoded->path.text));
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_body = ih::http::ServerOptions{}.max_body_bytes;
  std::vector<size_t> pieces;
  for (uint8_t seed = data[0]; pieces.size() < 4; seed = static_cast<uint8_t>(seed * 37 + 11))
    pieces.push_back(1 + seed % 23);
  const std::string_view bytes = ih::fuzz::asText(data + 1, size - 1);

  const Parsed whole = parse(bytes, max_body, {});
  const Parsed split = parse(bytes, max_body, pieces);
  IH_FUZZ_CHECK(whole.done == split.done && whole.failed == split.failed,
                "one piece and several pieces disagree on the outcome (%s / %s)", whole.error.c_str(),
                split.error.c_str());
  if (whole.done) {
    IH_FUZZ_CHECK(whole == split, "one piece and several pieces give different requests");
    IH_FUZZ_CHECK(!whole.method.empty() && !whole.target.empty());
    IH_FUZZ_CHECK(whole.body.size() <= max_body);
    IH_FUZZ_CHECK(whole.version == 10 || whole.version == 11);
    for (const auto& [name, value] : whole.headers) {
      IH_FUZZ_CHECK(!name.empty());
      IH_FUZZ_CHECK(name.find_first_of("\r\n:\0 \t", 0, 6) == std::string::npos, "bad header name");
      IH_FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
                    "CR, LF or NUL in a header value");
    }
    IH_FUZZ_CHECK(whole.target.find_first_of(std::string_view(" \r\n\0", 4)) == std::string::npos);
    std::string message;
    const int status = dispatch(whole, message);
    IH_FUZZ_CHECK(status == 0 || status == 400 || status == 404 || status == 405);
    IH_FUZZ_CHECK(ih::isValidUtf8(message), "the %d answer's message is not valid UTF-8", status);
  }
  return 0;
}

#include <catch2/catch.hpp>

#include "common/json_text.h"
#include "common/text.h"

using ih::parseInt64;
using ih::parseInt64InRange;

TEST_CASE("parseInt64 takes whole base-10 integers only", "[common]") {
  CHECK(parseInt64("0") == 0);
  CHECK(parseInt64("-42") == -42);
  CHECK(parseInt64("9223372036854775807") == INT64_MAX);
  CHECK(parseInt64("-9223372036854775808") == INT64_MIN);
  // What std::stoll would throw on or silently accept.
  CHECK_FALSE(parseInt64("99999999999999999999"));
  CHECK_FALSE(parseInt64("9223372036854775808"));
  CHECK_FALSE(parseInt64(""));
  CHECK_FALSE(parseInt64(" 1"));
  CHECK_FALSE(parseInt64("1 "));
  CHECK_FALSE(parseInt64("+1"));
  CHECK_FALSE(parseInt64("1.5"));
  CHECK_FALSE(parseInt64("0x10"));
  CHECK_FALSE(parseInt64("12abc"));
  CHECK(parseInt64InRange("500", 1, 500) == 500);
  CHECK_FALSE(parseInt64InRange("501", 1, 500));
  CHECK_FALSE(parseInt64InRange("0", 1, 500));
}

TEST_CASE("UTF-8 validation follows the Unicode table of well-formed sequences", "[common]") {
  CHECK(ih::isValidUtf8(""));
  CHECK(ih::isValidUtf8("plain ascii"));
  CHECK(ih::isValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(ih::isValidUtf8("\xFF"));
  CHECK_FALSE(ih::isValidUtf8("\xC3"));              // truncated
  CHECK_FALSE(ih::isValidUtf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(ih::isValidUtf8("\xE0\x80\xAF"));      // overlong
  CHECK_FALSE(ih::isValidUtf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(ih::isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(ih::isValidUtf8("\xE2\x82"));          // truncated at the end
  CHECK(ih::toValidUtf8("a\xFF"
                        "b") ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(ih::toValidUtf8("\xE2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(ih::jsonQuote("x\xFFy") == "\"x\xEF\xBF\xBDy\"");
}

TEST_CASE("storable text is well-formed UTF-8 without NUL", "[common]") {
  using namespace std::string_literals;
  CHECK(ih::toStorableText("plain é") == "plain é");
  CHECK(ih::toStorableText("a\0b"s) ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(ih::toStorableText("\xFF\0"s) == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(ih::isValidUtf8(ih::toStorableText("\xC0\x80\0\xED\xA0\x80"s)));
}

TEST_CASE("ASCII case folding and trimming", "[common]") {
  CHECK(ih::equalsIgnoreCase("Content-Type", "content-TYPE"));
  CHECK_FALSE(ih::equalsIgnoreCase("Content-Type", "Content-Typ"));
  CHECK(ih::startsWithIgnoreCase("Bearer abc", "bearer "));
  CHECK(ih::toLowerAscii("AbC-\xC3\x89") == "abc-\xC3\x89");  // non-ASCII bytes untouched
  CHECK(ih::trimAscii(" \t x y \r\n") == "x y");
  CHECK(ih::trimAscii("   ").empty());
}

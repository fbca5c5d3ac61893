// The host's one SHA-256 / HMAC / hex / base64: published test vectors and the strictness of base64.
#include <catch2/catch.hpp>

#include "common/digest.h"

using ih::base64Decode;
using ih::base64Encode;

TEST_CASE("sha256, hmacSha256 and hexEncode match the published vectors", "[common][digest]") {
  // FIPS 180-2 "abc" and RFC 4231 test case 2.
  CHECK(ih::hexEncode(ih::sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ih::hexEncode(ih::hmacSha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(ih::hexEncode(std::string("\x00\xff\x10", 3)) == "00ff10");
}

TEST_CASE("base64 is RFC 4648 and decoding is strict and canonical", "[common][digest]") {
  // RFC 4648 section 10.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, text] : vectors) {
    INFO(plain);
    CHECK(base64Encode(plain) == text);
    auto decoded = base64Decode(text);
    REQUIRE(decoded.isOk());
    CHECK(*decoded == plain);
  }
  // One value, one text: no whitespace, '=' only as trailing padding, zero bits under the padding.
  for (const char* bad :
       {"Zg", "Zg=", "Z===", "Zh==", "Zm9=", "Zm 9v", "Zm9v\n", "Zm=v", "====", "Zm9v!A=="}) {
    INFO(bad);
    CHECK_FALSE(base64Decode(bad).isOk());
  }
}

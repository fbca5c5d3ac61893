// SecureString and the crypto helpers. This file replaces the global operator new/delete (every form, for the
// whole test_unit_vault binary) with malloc/free wrappers that can inspect one watched buffer just before it is
// freed, which is how the "zeroed before free" promise is checked without reading freed memory.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "log/log.h"
#include "vault/secure_string.h"

namespace {

std::atomic<const void*> g_watched{nullptr};
std::atomic<size_t> g_watched_size{0};
std::atomic<int> g_watched_state{0};  // 0 = not freed yet, 1 = freed zeroed, 2 = freed with bytes left

void inspectBeforeFree(void* p) {
  if (p == nullptr || p != g_watched.load()) return;
  const auto* b = static_cast<const unsigned char*>(p);
  bool all_zero = true;
  for (size_t i = 0; i < g_watched_size.load(); ++i)
    all_zero = all_zero && b[i] == 0;
  g_watched_state = all_zero ? 1 : 2;
  g_watched = nullptr;
}

void watch(const void* p, size_t n) {
  g_watched_state = 0;
  g_watched_size = n;
  g_watched = p;
}

}  // namespace

// Every replaceable form is replaced (plain, array, nothrow, sized, aligned), all on malloc/aligned_alloc and
// free: replacing only some would pair one allocator's new with the other's delete wherever the standard library
// or Catch uses a form left out (std::stable_sort's nothrow buffer), which AddressSanitizer rightly reports as
// alloc-dealloc-mismatch.
namespace {

void* allocate(std::size_t n) noexcept {
  return std::malloc(n == 0 ? 1 : n);
}

void* allocateAligned(std::size_t n, std::align_val_t alignment) noexcept {
  const auto align = static_cast<std::size_t>(alignment);
  const std::size_t rounded = (n == 0 ? align : (n + align - 1) / align * align);  // aligned_alloc needs a multiple
  return std::aligned_alloc(align, rounded);
}

void release(void* p) noexcept {
  inspectBeforeFree(p);
  std::free(p);
}

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = allocateAligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = allocateAligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocateAligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocateAligned(n, a);
}

void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}

using ih::vault::SecureString;

TEST_CASE("SecureString owns, clones and moves its bytes", "[vault]") {
  SecureString s(std::string_view("sk_live_abcdefghijklmnop"));
  CHECK(s.view() == "sk_live_abcdefghijklmnop");
  CHECK(s.size() == 24);

  SecureString copy = s.clone();
  CHECK(copy.view() == s.view());
  CHECK(copy.data() != s.data());

  SecureString moved(std::move(s));
  CHECK(moved.view() == "sk_live_abcdefghijklmnop");
  CHECK(s.empty());  // NOLINT(bugprone-use-after-move): moved-from state is part of the contract
  CHECK(s.view().empty());

  SecureString assigned;
  assigned = std::move(moved);
  CHECK(assigned.view() == "sk_live_abcdefghijklmnop");
  CHECK(moved.empty());  // NOLINT(bugprone-use-after-move)

  assigned.clear();
  CHECK(assigned.empty());
}

TEST_CASE("SecureString zeroes its buffer before freeing it", "[vault]") {
  const std::string secret(64, 'S');  // long enough to be heap allocated anywhere
  {
    SecureString s{std::string_view(secret)};
    watch(s.data(), s.size());
  }
  CHECK(g_watched_state.load() == 1);

  SecureString reassigned{std::string_view(secret)};
  watch(reassigned.data(), reassigned.size());
  reassigned = SecureString(std::string_view("other"));  // the old buffer is freed by the assignment
  CHECK(g_watched_state.load() == 1);

  SecureString cleared{std::string_view(secret)};
  watch(cleared.data(), cleared.size());
  cleared.clear();
  CHECK(g_watched_state.load() == 1);
}

TEST_CASE("SecureString from std::string&& wipes the source", "[vault]") {
  std::string source(100, 'x');
  const char* buffer = source.data();
  size_t capacity = source.capacity();
  SecureString s(std::move(source));
  CHECK(s.view() == std::string(100, 'x'));
  CHECK(source.empty());  // NOLINT(bugprone-use-after-move)
  // The source kept its allocation, and all of it was zeroed, not just cleared.
  REQUIRE(source.data() == buffer);
  REQUIRE(source.capacity() == capacity);
  CHECK(std::string_view(buffer, 100) == std::string(100, '\0'));
}

TEST_CASE("randomBytes gives fresh bytes of the asked length", "[vault]") {
  auto a = ih::vault::randomBytes(32);
  auto b = ih::vault::randomBytes(32);
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  CHECK(a->size() == 32);
  CHECK(a->view() != b->view());
  auto none = ih::vault::randomBytes(0);
  REQUIRE(none.isOk());
  CHECK(none->empty());
}

TEST_CASE("base64 round trips and decoding is strict", "[vault]") {
  for (std::string_view input : {std::string_view(""), std::string_view("a"), std::string_view("ab"),
                                 std::string_view("abc"), std::string_view("\0\xff\x10 binary", 10)}) {
    SecureString encoded = ih::vault::base64Encode(input);
    auto decoded = ih::vault::base64Decode(encoded.view());
    REQUIRE(decoded.isOk());
    CHECK(decoded->view() == input);
  }
  CHECK(ih::vault::base64Encode("a").view() == "YQ==");
  CHECK(ih::vault::base64Encode("abc").view() == "YWJj");

  for (std::string_view bad :
       {"YQ", "YQ=", "Y===", "=YQ=", "YW=j", "YR==", "Y Q=", " YQ==", "YQ==\n", "YQ-_", "!!!!"}) {
    auto decoded = ih::vault::base64Decode(bad);
    INFO("input: " << bad);
    CHECK_FALSE(decoded.isOk());
    CHECK(decoded.status().code() == ih::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("randomToken is prefix + fixed-width base62 and masks as a secret", "[vault]") {
  auto a = ih::vault::randomToken("ihk_live_", 32);
  auto b = ih::vault::randomToken("ihk_live_", 32);
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  std::string_view token = a->view();
  REQUIRE(token.size() == 9 + 43);
  CHECK(token.substr(0, 9) == "ihk_live_");
  for (char c : token.substr(9)) {
    CHECK(((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')));
  }
  CHECK(a->view() != b->view());
  std::string line = "key=" + std::string(token) + " end";
  CHECK(ih::redact(line).find(std::string(token)) == std::string::npos);

  // Distinct digits appear across many tokens (no stuck positions).
  std::set<char> seen;
  for (int i = 0; i < 20; ++i) {
    auto t = ih::vault::randomToken("", 16);
    REQUIRE(t.isOk());
    CHECK(t->size() == 22);
    for (char c : t->view())
      seen.insert(c);
  }
  CHECK(seen.size() > 50);
}

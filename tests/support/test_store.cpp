#include "support/test_store.h"

#include <catch2/catch.hpp>

namespace ih::test {

std::unique_ptr<ih::store::Store> openTestStore(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& tenants,
    ih::store::Options options) {
  options.path = path;
  auto store = ih::store::Store::open(options);
  INFO(store.status().toString());
  REQUIRE(store.isOk());
  for (const auto& [id, name] : tenants)
    REQUIRE((*store)->createTenant({id, name, 1}).isOk());
  return std::move(store).value();
}

}  // namespace ih::test

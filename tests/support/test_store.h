// A Store on a real SQLite file for unit tests, with tenants already created (id -> name pairs). REQUIREs that
// it opens: a failure stops the test case with the store's message.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace ih::test {

std::unique_ptr<ih::store::Store> openTestStore(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& tenants = {},
    ih::store::Options options = {});

}  // namespace ih::test

// Copies everything a store holds into another, empty one: how a deployment moves from its SQLite file to
// PostgreSQL (`ihost storage copy`). Rows are copied as they are: vault ciphertexts stay sealed (the key ring is
// the operator's and moves with the config), ids and cursors keep their values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ih::store {

struct CopiedTable {
  std::string name;
  int64_t rows = 0;  // copied, and counted again in the target afterwards
};

// Opens both (applying pending migrations, so both are at this binary's schema), refuses a target that holds
// any data (kFailedPrecondition naming the table), then copies every table in foreign-key order, `batch_rows`
// rows per target transaction, and verifies the row counts. `progress` (may be empty) hears of each table when
// it is done. The source must be SQLite (the target may be either); both must be closed by every server.
Result<std::vector<CopiedTable>> copyStore(const Options& from, const Options& to,
                                           const std::function<void(const CopiedTable&)>& progress = {},
                                           size_t batch_rows = 1000);

}  // namespace ih::store

// `ihost storage copy --from FROM.toml --to TO.toml`: copies everything the store of FROM's [storage] holds
// (a SQLite file) into the empty store of TO's [storage] (PostgreSQL, usually): tenants, keys, sealed
// credentials, inbox, records, events, endpoints, jobs, mappings. Both servers must be stopped. Verifies the
// row counts table by table and prints them.
#pragma once

#include <iosfwd>
#include <string>

#include "config/config.h"

namespace ih::cli {

struct StorageCopyRequest {
  std::string from_config;
  std::string to_config;
};

// Exit codes as cli.h: 0 copied and verified, 1 refused or failed (the message says why), 3 a config invalid.
int runStorageCopy(const StorageCopyRequest& request, const config::Environment& env, std::ostream& out,
                   std::ostream& err);

}  // namespace ih::cli

// Files and directories that hold tenants' data (the database, its WAL, key rings, the demo's data) are
// private to the ihost user whatever the process umask: directories the host creates are 0700, files 0600.
#pragma once

#include <string>

#include "common/status.h"

namespace ih {

// Creates `directory` and any missing parents, each new one with mode 0700 (existing ones are left as they
// are: /var/lib or a home directory is the operator's). kInternal naming the path on failure.
Status createPrivateDirectories(const std::string& directory);

// Makes sure `path` is a regular file with mode 0600: creates it empty when missing (unless `create` is
// false: then a missing file is fine), and removes group/other permissions from an existing one (a database
// created by an older version as 0644).
Status makePrivateFile(const std::string& path, bool create = true);

}  // namespace ih

// The console's files, embedded at build time (embed_assets.cmake generates console_assets.cpp). Private to
// the admin module.
#pragma once

#include <cstddef>

namespace ih::admin {

struct ConsoleAsset {
  const char* name;            // path under host/admin/assets/, e.g. "app.js", "vendor/uPlot.min.css"; nullptr ends
                               // the table
  const unsigned char* bytes;  // static storage
  size_t size;                 // bytes, without the trailing 0 the generator appends
  const char* sha256;          // hex digest of the bytes (the strong ETag)
};

// Terminated by an entry whose name is nullptr.
extern const ConsoleAsset kConsoleAssets[];

}  // namespace ih::admin

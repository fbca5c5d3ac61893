// The access log: one JSON line per answered request, through the host's log (info level, secrets masked):
//   {"ts","level":"info","msg":"http request","method","route","status","duration_ms","bytes_in","bytes_out",
//    "request_id","remote","tenant"}
// `route` is the matched pattern ("/api/records/{integration}/{model}"), never the raw path, and no query string
// is written, so ids and tokens in URLs stay out of the log. `tenant` is the tenant id once the request
// authenticated as a tenant (or a webhook was accepted for one), null otherwise.
#pragma once

#include "http/server.h"

namespace ih::http {

// The observer to pass to Server::setObserver.
Observer accessLog();

}  // namespace ih::http

// See access_log.h.
#include "http/access_log.h"

#include <cmath>

#include "log/log.h"

namespace ih::http {

Observer accessLog() {
  return [](const Request& req, const Answered& a) {
    const double ms = std::round(a.seconds * 1e6) / 1e3;  // microsecond resolution
    const auto bytes_in = static_cast<uint64_t>(req.body.size());
    const auto bytes_out = static_cast<uint64_t>(a.bytes_out);
    log::info("http request",
              {{"method", req.method},
               {"route", req.route},
               {"status", a.status},
               {"duration_ms", ms},
               {"bytes_in", bytes_in},
               {"bytes_out", bytes_out},
               {"request_id", req.request_id},
               {"remote", req.remote_addr},
               a.tenant_id.empty() ? log::Field::json("tenant", "null") : log::Field("tenant", a.tenant_id)});
  };
}

}  // namespace ih::http

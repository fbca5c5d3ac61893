// Process and build metrics under the names Prometheus client libraries use, read at scrape time:
//   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
//   process_max_fds, process_start_time_seconds, and ihost_build_info{version,abi} = 1.
// Linux only (/proc/self); a value that cannot be read is left out, never guessed.
#pragma once

#include <string>
#include <string_view>

namespace ih::metrics {

// Prometheus text (0.0.4) for the families above, to append to Registry::exposition().
std::string processExposition(std::string_view version, std::string_view abi);

}  // namespace ih::metrics

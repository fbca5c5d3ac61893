// See process.h.
#include "metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace ih::metrics {
namespace {

std::optional<uint64_t> toNumber(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::string readSmallFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  char buf[4096];
  while (in && text.size() < 64 * 1024) {
    in.read(buf, sizeof buf);
    text.append(buf, static_cast<size_t>(in.gcount()));
  }
  return text;
}

// Fields of /proc/self/stat after the command name (which may hold spaces and parentheses): index 0 is field 3
// ("state") of proc(5).
std::vector<std::string_view> statFields(const std::string& stat) {
  std::vector<std::string_view> fields;
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::string_view rest(stat);
  rest.remove_prefix(close + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n'))
      rest.remove_prefix(1);
    const size_t end = rest.find_first_of(" \n");
    const std::string_view field = rest.substr(0, end);
    if (!field.empty()) fields.push_back(field);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return fields;
}

// Seconds since the epoch at boot (btime of /proc/stat).
std::optional<uint64_t> bootTime() {
  std::istringstream in(readSmallFile("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) return toNumber(std::string_view(line).substr(6));
  }
  return std::nullopt;
}

std::optional<uint64_t> openFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  uint64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // the directory stream's own descriptor
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  char number[64];
  std::snprintf(number, sizeof number, "%.17g", value);
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(number).append("\n");
}

// Label values here are our own version strings; escaped anyway (backslash, quote, newline).
std::string labelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string processExposition(std::string_view version, std::string_view abi) {
  std::string out;
  out += "# HELP ihost_build_info The running ihost's version and plugin ABI; always 1.\n";
  out += "# TYPE ihost_build_info gauge\n";
  out += "ihost_build_info{version=\"" + labelValue(version) + "\",abi=\"" + labelValue(abi) + "\"} 1\n";

  const std::string stat = readSmallFile("/proc/self/stat");
  const std::vector<std::string_view> f = statFields(stat);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  // proc(5): utime is field 14, stime 15, starttime 22, vsize 23, rss 24 (index = field - 3).
  if (f.size() > 21 && ticks > 0 && page > 0) {
    const auto utime = toNumber(f[11]), stime = toNumber(f[12]), start = toNumber(f[19]);
    const auto vsize = toNumber(f[20]), rss = toNumber(f[21]);
    if (utime && stime) {
      family(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
             static_cast<double>(*utime + *stime) / static_cast<double>(ticks));
    }
    if (rss) {
      family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
             static_cast<double>(*rss) * static_cast<double>(page));
    }
    if (vsize) {
      family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
             static_cast<double>(*vsize));
    }
    const auto boot = bootTime();
    if (start && boot) {
      family(out, "process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.",
             static_cast<double>(*boot) + static_cast<double>(*start) / static_cast<double>(ticks));
    }
  }
  if (const auto fds = openFds()) {
    family(out, "process_open_fds", "gauge", "Number of open file descriptors.", static_cast<double>(*fds));
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    family(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
           static_cast<double>(limit.rlim_cur));
  }
  return out;
}

}  // namespace ih::metrics

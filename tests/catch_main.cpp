// The one Catch2 main every test binary links.
//
// In sanitizer builds (IH_SANITIZE, scripts/sanitize.sh) the processes a test starts (`ihost serve`, `ihost demo`,
// the CLI) are instrumented too, but their stderr goes to a log file or a pipe and their exit status after a
// SIGTERM or SIGKILL is rarely checked, so a report of theirs would go unseen. Before the tests run, main points
// the children's reports (the sanitizers' log_path, inherited through the environment) at a private directory;
// after the run it prints every report found there and fails the run. The test process's own reports still go to
// its stderr (its sanitizer runtime read its options before main).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#ifdef IH_SANITIZER_BUILD
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>

namespace {

class ChildSanitizerReports {
 public:
  // Creates the directory and sets log_path in the environment; on failure, says so and leaves reports alone.
  ChildSanitizerReports() {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ihost-sanitizer-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
      std::perror("catch_main: mkdtemp for child sanitizer reports");
      return;
    }
    dir_ = dir;
    // The last log_path in an options string wins; the runtime appends ".<pid>" to the prefix.
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"}) {
      const char* old = std::getenv(name);
      std::string value = old != nullptr && *old != '\0' ? std::string(old) + ":" : std::string();
      value += "log_path=" + dir_ + "/report";
      ::setenv(name, value.c_str(), 1);
    }
  }
  ChildSanitizerReports(const ChildSanitizerReports&) = delete;
  ChildSanitizerReports& operator=(const ChildSanitizerReports&) = delete;

  // Prints each report to stderr, removes the directory and returns how many reports there were.
  int collect() {
    if (dir_.empty()) return 0;
    int reports = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::cerr << "==== sanitizer report of a child process (" << entry.path().filename().string() << ") ====\n"
                << text << "==== end of report ====\n";
      ++reports;
    }
    std::filesystem::remove_all(dir_, ec);
    return reports;
  }

 private:
  std::string dir_;  // empty when the directory could not be made
};

}  // namespace
#endif  // IH_SANITIZER_BUILD

int main(int argc, char* argv[]) {
#ifdef IH_SANITIZER_BUILD
  ChildSanitizerReports child_reports;
#endif
  int result = Catch::Session().run(argc, argv);
#ifdef IH_SANITIZER_BUILD
  if (child_reports.collect() > 0 && result == 0) result = 1;
#endif
  return result;
}

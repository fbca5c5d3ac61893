#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"
#include "common/allocator.h"
#include "isolation/runner.h"

int main(int argc, char** argv) {
  // A runner child of an isolated plugin (host/isolation): before anything else of the CLI runs.
  if (argc > 1 && std::string_view(argv[1]) == "plugin-runner")
    return ih::isolation::runnerMain(argc - 2, argv + 2);
  (void)ih::tuneAllocator();
  std::vector<std::string> args(argv + 1, argv + argc);
  return ih::cli::run(args, std::cout, std::cerr);
}

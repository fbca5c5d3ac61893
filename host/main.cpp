#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "common/allocator.h"

int main(int argc, char** argv) {
  (void)ih::tuneAllocator();
  std::vector<std::string> args(argv + 1, argv + argc);
  return ih::cli::run(args, std::cout, std::cerr);
}

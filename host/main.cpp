#include <cstdio>

int main() {
  std::puts("ihost");
  return 0;
}

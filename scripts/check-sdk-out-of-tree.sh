#!/usr/bin/env bash
# Builds the example plugin the way a third party would: against an installed SDK and nothing else.
#   1. configure sdk/ on its own and install it into a temp prefix (headers + CMake package config);
#   2. configure plugins/example out of tree with CMAKE_PREFIX_PATH=<prefix> (find_package(ihost_sdk));
#   3. build it, check that the .so exports exactly ih_plugin_entry, run its unit tests with ctest.
# Usage: scripts/check-sdk-out-of-tree.sh [<ihost build dir, unused except for logs>]
# Exits non-zero on the first failure; always removes its temp dir.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ihost-sdk-oot.XXXXXX")"
trap 'rm -rf "$work"' EXIT
jobs="${IH_JOBS:-2}"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

step() { printf '\n== %s\n' "$*"; }

step "install the SDK alone: cmake -S $repo/sdk -> $work/prefix"
cmake -S "$repo/sdk" -B "$work/sdk-build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --install "$work/sdk-build" --prefix "$work/prefix"
test -f "$work/prefix/include/ih/plugin_abi.h"
test -f "$work/prefix/include/ih/plugin.hpp"
# plugin.hpp is an umbrella over ih/sdk/*.hpp: every header it includes must be installed too.
for part in $(sed -n 's|^#include "\(ih/sdk/[a-z_]*\.hpp\)"$|\1|p' "$repo/sdk/include/ih/plugin.hpp"); do
  test -f "$work/prefix/include/$part" || { echo "FAIL: $part is not installed" >&2; exit 1; }
done
test -f "$work/prefix/include/ih/testing/fake_host.hpp"

step "copy plugins/example to a directory outside the repository (as a third party would)"
cp -r "$repo/plugins/example" "$work/example"

step "configure + build the example against the installed SDK only"
cmake -S "$work/example" -B "$work/example-build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix"
cmake --build "$work/example-build" -j "$jobs"

so="$work/example-build/libexample.so"
test -f "$so"
step "check the exported symbols of $(basename "$so")"
exported="$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u)"
echo "$exported"
if [ "$exported" != "ih_plugin_entry" ]; then
  echo "FAIL: expected exactly ih_plugin_entry to be exported" >&2
  exit 1
fi

step "build the example with pkg-config alone (no CMake): pkg-config --cflags ihost_sdk"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
test "$(pkg-config --modversion ihost_sdk)" = "$(sed -n 's/^#define IH_ABI_MAJOR \([0-9]*\).*/\1/p' "$repo/sdk/include/ih/plugin_abi.h").$(sed -n 's/^#define IH_ABI_MINOR \([0-9]*\).*/\1/p' "$repo/sdk/include/ih/plugin_abi.h").0"
# shellcheck disable=SC2046  # word splitting of pkg-config output is intended
c++ -std=c++17 -O1 -shared -fPIC -fvisibility=hidden -fvisibility-inlines-hidden \
  $(pkg-config --cflags ihost_sdk) $(pkg-config --cflags nlohmann_json) \
  "$work/example/example_plugin.cpp" $(pkg-config --libs ihost_sdk libcrypto) -o "$work/libexample_pc.so"
test "$(nm -D --defined-only "$work/libexample_pc.so" | awk '{print $3}' | sort -u)" = "ih_plugin_entry"

step "run the example's unit tests"
ctest --test-dir "$work/example-build" --output-on-failure

step "OK: example plugin built and tested out of tree against the installed SDK"

#!/usr/bin/env bash
# Installs what ihost needs to build and test on Debian 12 — only what is missing (idempotent) — then
# configures and builds into ./build. Uses sudo when not root.
#   scripts/setup.sh                  install + build everything (tests included)
#   scripts/setup.sh --deps           install only
#   scripts/setup.sh --target NAME    install + build one target (e.g. ihost_bundle: the server and plugins)
#   scripts/setup.sh --fuzz-deps      install only what the fuzz build needs (scripts/fuzz.sh): the build
#                                     libraries plus clang-14 and libclang-rt-14-dev (libFuzzer, sanitizers)
#   scripts/setup.sh --monitoring-deps install only promtool (Debian's prometheus package, which also starts a
#                                     Prometheus server: CI only) for the alert rules' test (monitoring_alerts)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libcpp-httplib-dev nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev libssl-dev libre2-dev
  libtomlplusplus-dev catch2 libzstd-dev
  libseccomp-dev  # the seccomp filter of isolated plugin runners ([plugins] seccomp)
  libpq-dev  # the PostgreSQL storage backend ([storage] backend = "postgres")
  libyaml-cpp-dev  # build time only: docs/openapi.yaml is converted to the JSON that GET /api/openapi.json serves
  libgoogle-perftools-dev  # tcmalloc for the server process (optional at build time; see CMakeLists.txt)
)
if [ "${1:-}" = "--monitoring-deps" ]; then
  PACKAGES=(prometheus)
elif [ "${1:-}" = "--fuzz-deps" ]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev)
else
  PACKAGES+=(chromium sqlite3)  # the admin console's browser test (tests/browser): Debian's chromium, the sqlite3 CLI
  PACKAGES+=(wrk)  # an independent load generator to cross-check the benchmarks (bench/wrk_webhooks.lua)
  PACKAGES+=(curl)  # scripts/check-install.sh talks to the installed server
  # Node.js runs independent verifiers in the tests; a machine may already have it from another source.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
  fi
fi

# The store's PostgreSQL test lanes run on a throwaway cluster (scripts/pg-cluster.sh): the server is installed
# for a full build with tests (and --deps) only, not for `--target` (scripts/run.sh: the host alone, on SQLite),
# since Debian's package also starts a system cluster of its own.
if [ -z "${1:-}" ] || [ "${1:-}" = --deps ]; then
  PACKAGES+=(postgresql-15)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

[ "${1:-}" = "--fuzz-deps" ] && exit 0
[ "${1:-}" = "--monitoring-deps" ] && exit 0

# Node packages used by tests as independent verifiers (standardwebhooks; swagger-parser and ajv for the OpenAPI
# document), pinned by tests/js/package-lock.json.
if [ ! -d tests/js/node_modules/standardwebhooks ] || [ ! -d tests/js/node_modules/@apidevtools/swagger-parser ] ||
  [ ! -d tests/js/node_modules/ajv-formats ]; then
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
fi

# playwright-core drives Debian's chromium in the console's browser test; pinned by tests/browser/package-lock.json
# to 1.61.1, the last release whose engines include Debian 12's node 18 (1.62 and later need node 20).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

[ "${1:-}" = "--deps" ] && exit 0

BUILD_DIR=${IH_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
if [ "${1:-}" = "--target" ]; then
  cmake --build "$BUILD_DIR" -j"${IH_JOBS:-2}" --target "$2"
else
  cmake --build "$BUILD_DIR" -j"${IH_JOBS:-2}"
fi

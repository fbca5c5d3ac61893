#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${IH_BUILD_DIR:-build}"
ctest -j"${IH_JOBS:-2}" --output-on-failure --timeout 600 "$@"

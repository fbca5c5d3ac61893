#!/usr/bin/env bash
# README command 1: installs what is missing, builds the server + plugins, and runs `ihost demo`: the built-in
# Stripe test double, a "demo" tenant with a paid test invoice, curl lines to try; Ctrl-C stops it. Data lives in
# ./demo-data (reused by the next run). Extra arguments go to the demo, e.g. scripts/run.sh --port 9090.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --target ihost_bundle
exec build/ihost demo "$@"

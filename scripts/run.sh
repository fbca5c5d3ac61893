#!/usr/bin/env bash
# Installs what is missing, builds, and runs the host with the example configuration (config/ihost.toml):
# creates the vault key ring and a "demo" tenant on first run, then serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --target ihost_bundle
IHOST=build/ihost
CONFIG=config/ihost.toml
if [ ! -f ihost-data/vault.keys ] && [ -z "${IHOST_VAULT_KEYS:-}" ]; then
  "$IHOST" vault init --config "$CONFIG"
fi
if ! "$IHOST" tenants list --config "$CONFIG" | grep -q ' demo '; then
  "$IHOST" tenants create demo --config "$CONFIG"
fi
"$IHOST" plugins list --config "$CONFIG"
exec "$IHOST" serve --config "$CONFIG"

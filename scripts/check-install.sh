#!/usr/bin/env bash
# Installs and packages ihost the ways an operator gets it, then runs what was installed:
#   1. `cmake --install build --prefix P`: the layout (bin, plugins, etc/ihost/ihost.toml, the systemd unit,
#      docs, SDK with ihost_sdk.pc), `systemd-analyze verify` of the unit, then the installed `ihost` with the
#      installed sample config: vault init, config check, serve, /healthz, /metrics, SIGTERM → exit 0.
#   2. `cpack -G DEB`: the control file (dependencies from dpkg-shlibdeps, maintainer scripts, conffiles), then
#      the package extracted with `dpkg-deb -x` into a temp root and run the same way.
# Usage: scripts/check-install.sh [build dir, default build] (built already: scripts/test.sh builds it).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$repo/build}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ihost-install.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
need() { for f in "$@"; do test -e "$f" || fail "missing $f"; done; }

# run_installed <ihost binary> <config> <plugins dir>: the installed binary on the installed config, with its
# data (database, key ring) in a private temp directory and a free port.
run_installed() {
  local bin=$1 config=$2 plugins=$3 data
  data="$(mktemp -d "$work/data.XXXXXX")"
  chmod 0700 "$data"
  export IHOST_STORAGE__PATH="$data/ihost.db" IHOST_VAULT__KEY_FILE="$data/vault.keys"
  export IHOST_PLUGINS__DIR="$plugins" IHOST_SERVER__LISTEN="127.0.0.1:0"
  "$bin" --version
  "$bin" vault init --config "$config" >/dev/null
  "$bin" config check --config "$config" >"$data/check.txt" || { cat "$data/check.txt"; fail "config check"; }
  grep -q "configuration OK" "$data/check.txt" || fail "config check did not say OK"
  local listed
  listed="$("$bin" plugins list --config "$config")"
  grep -q stripe_byok <<<"$listed" || fail "stripe_byok is not among the installed plugins"
  "$bin" serve --config "$config" >"$data/serve.log" 2>&1 &
  server_pid=$!
  local port="" i
  for i in $(seq 1 100); do
    port="$(sed -n 's/.*"msg":"ihost listening","url":"http:\/\/127.0.0.1:\([0-9]*\)".*/\1/p' "$data/serve.log" | head -1)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$data/serve.log"; fail "the installed ihost did not start"; }
  local health metrics
  health="$(curl -fsS --max-time 10 "http://127.0.0.1:$port/healthz")" || fail "/healthz did not answer"
  grep -q '"ok"' <<<"$health" || fail "/healthz: $health"
  metrics="$(curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics")" || fail "/metrics did not answer"
  grep -q '^ihost_build_info{version=' <<<"$metrics" || fail "/metrics lacks ihost_build_info"
  local openapi
  openapi="$(curl -fsS --max-time 10 "http://127.0.0.1:$port/api/openapi.json")" || fail "/api/openapi.json did not answer"
  grep -q '"openapi":"3.1' <<<"$openapi" || fail "/api/openapi.json is not the OpenAPI 3.1 document"
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  [ "$rc" = 0 ] || { cat "$data/serve.log"; fail "ihost serve exited $rc on SIGTERM"; }
  grep -q '"msg":"ihost stopped"' "$data/serve.log" || fail "no clean stop in the log"

  # Isolated: the installed binary starts its own `ihost plugin-runner` children, and they end with it.
  IHOST_PLUGINS__ISOLATION=process "$bin" serve --config "$config" >"$data/serve-isolated.log" 2>&1 &
  server_pid=$!
  port=""
  for i in $(seq 1 100); do
    port="$(sed -n 's/.*"msg":"ihost listening","url":"http:\/\/127.0.0.1:\([0-9]*\)".*/\1/p' "$data/serve-isolated.log" | head -1)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$data/serve-isolated.log"; fail "the installed ihost did not start with isolation = process"; }
  pgrep -P "$server_pid" -f "plugin-runner" >/dev/null || fail "no plugin-runner child of the isolated server"
  curl -fsS --max-time 10 "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz (isolated) did not answer"
  kill -TERM "$server_pid"
  rc=0
  wait "$server_pid" || rc=$?
  [ "$rc" = 0 ] || { cat "$data/serve-isolated.log"; fail "isolated ihost serve exited $rc on SIGTERM"; }
  for i in $(seq 1 50); do
    pgrep -f "plugin-runner --plugin $plugins" >/dev/null || break
    sleep 0.1
  done
  ! pgrep -f "plugin-runner --plugin $plugins" >/dev/null || fail "a plugin runner outlived its server"
  server_pid=""
  unset IHOST_STORAGE__PATH IHOST_VAULT__KEY_FILE IHOST_PLUGINS__DIR IHOST_SERVER__LISTEN
}

step "cmake --install $build --prefix $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
p="$work/prefix"
need "$p/bin/ihost" "$p/bin/stripe-double" "$p/lib/ihost/plugins/libstripe_byok.so" \
  "$p/lib/ihost/plugins/libstripe_connect.so" "$p/etc/ihost/ihost.toml" "$p/lib/systemd/system/ihost.service" \
  "$p/share/doc/ihost/operations.md" "$p/share/doc/ihost/openapi.yaml" "$p/share/doc/ihost/examples/ihost.toml" "$p/include/ih/plugin_abi.h" \
  "$p/lib/cmake/ihost_sdk/ihost_sdkConfig.cmake" "$p/lib/pkgconfig/ihost_sdk.pc"
grep -q "^dir = \"$p/lib/ihost/plugins\"" "$p/etc/ihost/ihost.toml" || fail "sample config: plugins dir"
grep -q '^path = "/var/lib/ihost/ihost.db"' "$p/etc/ihost/ihost.toml" || fail "sample config: database"
grep -q "^ExecReload=$p/bin/ihost plugins reload --config $p/etc/ihost/ihost.toml" "$p/lib/systemd/system/ihost.service" ||
  { echo "check-install: the unit's ExecReload does not run ihost plugins reload" >&2; exit 1; }
grep -q "^ExecStart=$p/bin/ihost serve --config $p/etc/ihost/ihost.toml" "$p/lib/systemd/system/ihost.service" ||
  fail "unit: ExecStart"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$p/lib/systemd/system/ihost.service"
fi
run_installed "$p/bin/ihost" "$p/etc/ihost/ihost.toml" "$p/lib/ihost/plugins"

step "cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/deb" >"$work/cpack.log") || { cat "$work/cpack.log"; fail "cpack"; }
deb="$(ls "$work"/deb/ihost_*.deb)"
dpkg-deb -I "$deb" >"$work/control.txt"
cat "$work/control.txt"
grep -q "Depends:.*libssl3" "$work/control.txt" || fail "Depends lacks the libraries (dpkg-shlibdeps)"
grep -q "Depends:.*adduser" "$work/control.txt" || fail "Depends lacks adduser (postinst)"
for script in postinst prerm postrm conffiles; do
  dpkg-deb -I "$deb" "$script" >/dev/null || fail "no $script in the package"
done
dpkg-deb -I "$deb" conffiles | grep -qx "/etc/ihost/ihost.toml" || fail "/etc/ihost/ihost.toml is not a conffile"
root="$work/root"
dpkg-deb -x "$deb" "$root"
need "$root/usr/bin/ihost" "$root/usr/lib/ihost/plugins/libstripe_byok.so" "$root/etc/ihost/ihost.toml" \
  "$root/usr/lib/systemd/system/ihost.service" "$root/usr/share/doc/ihost/operations.md"
grep -q '^dir = "/usr/lib/ihost/plugins"' "$root/etc/ihost/ihost.toml" || fail "packaged config: plugins dir"
grep -q '^ExecStart=/usr/bin/ihost serve --config /etc/ihost/ihost.toml' "$root/usr/lib/systemd/system/ihost.service" ||
  fail "packaged unit: ExecStart"
# The package's paths are absolute (/usr/lib/ihost/plugins): point the extracted binary at the extracted ones.
run_installed "$root/usr/bin/ihost" "$root/etc/ihost/ihost.toml" "$root/usr/lib/ihost/plugins"

step "OK: installed tree and .deb both serve"

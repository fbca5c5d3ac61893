#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests and CI of the PostgreSQL storage backend: initdb in DIR, a
# server on 127.0.0.1 at a free port (random, 20000-60000), trust authentication, database `ihost`.
#   scripts/pg-cluster.sh start DIR             creates DIR (it must not exist, or be empty), starts the server
#                                               and prints its URL, postgresql://postgres@127.0.0.1:PORT/ihost
#   scripts/pg-cluster.sh start DIR --durable   the same with PostgreSQL's durability defaults; without it
#                                               fsync, synchronous_commit and full_page_writes are off (speed)
#   scripts/pg-cluster.sh restart DIR [--durable]  stop (as below), then start: replaces a cluster an
#                                               interrupted run left behind
#   scripts/pg-cluster.sh url DIR               prints the URL again (also in DIR/url)
#   scripts/pg-cluster.sh stop DIR              stops the server (fast shutdown) and removes DIR; no error when
#                                               it is stopped already or DIR is gone
# Only the URL goes to stdout (url=$(scripts/pg-cluster.sh start /tmp/pg)); messages go to stderr. DIR is the
# data directory and also holds the unix socket, server.log and url. max_connections is 200. Every wait is
# bounded (60 s). As root (CI), initdb and the server run as the `postgres` system user (created when missing)
# and DIR is given to it: DIR's parents must be searchable by that user (/tmp is). Several clusters can run at
# once, each in its own DIR. Environment: IH_PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

PG_BIN=${IH_PG_BIN:-/usr/lib/postgresql/15/bin}
TIMEOUT=60

usage() {
  echo "usage: scripts/pg-cluster.sh start|restart DIR [--durable] | stop DIR | url DIR" >&2
  exit 2
}

say() { echo "pg-cluster: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# Runs a PostgreSQL program as the cluster's owner: `postgres` when we are root (initdb and postgres refuse to
# run as root), else the current user. From / so that a working directory the owner cannot read is no issue.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

ensure_postgres_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id -u postgres > /dev/null 2>&1; then
    say "creating the system user postgres"
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /usr/sbin/nologin \
      postgres
  fi
}

# Whether something on this machine listens on 127.0.0.1:PORT (a connection is accepted).
port_in_use() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2> /dev/null
}

random_free_port() {
  local port tries
  for ((tries = 0; tries < 100; tries++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  die "no free TCP port found in 20000-60000"
}

# A cluster of this script: a data directory (PG_VERSION), a url file, or nothing at all (a failed start).
looks_like_cluster() {
  [ -f "$1/PG_VERSION" ] || [ -f "$1/url" ] || [ -z "$(ls -A "$1")" ]
}

# Whether DIR's postmaster runs. A postmaster.pid left by a killed server names a dead process, a zombie not
# reaped yet (pg_ctl would wait for it in vain) or, later, some other process: none of them counts.
server_running() {
  local pid state
  pid=$(head -n 1 "$1/postmaster.pid" 2> /dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  if [ -d /proc/self ]; then
    [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = postgres ] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2> /dev/null | cut -d ' ' -f 1)
    [ -n "$state" ] && [ "$state" != Z ] || return 1
  fi
  as_owner "$PG_BIN/pg_ctl" status -D "$1" > /dev/null 2>&1
}

stop_server() {
  local dir=$1
  server_running "$dir" || return 0
  if ! as_owner "$PG_BIN/pg_ctl" stop -D "$dir" -m fast -w -t "$TIMEOUT" >&2; then
    say "fast shutdown of $dir did not finish in $TIMEOUT s: immediate shutdown"
    as_owner "$PG_BIN/pg_ctl" stop -D "$dir" -m immediate -w -t "$TIMEOUT" >&2 ||
      die "cannot stop the server of $dir (pid $(head -n 1 "$dir/postmaster.pid" 2> /dev/null || echo '?'))"
  fi
}

cmd_start() {
  local dir=$1 durable=$2
  [ -e "$dir" ] && [ ! -d "$dir" ] && die "$dir exists and is not a directory"
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    die "$dir is not empty (stop the cluster there first: scripts/pg-cluster.sh stop $dir)"
  fi
  # The socket path (DIR/.s.PGSQL.PORT) must fit in sockaddr_un's 107 bytes.
  if ((${#dir} + 16 > 107)); then
    die "$dir is too long for a unix socket directory (at most 91 characters)"
  fi
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL 15 in $PG_BIN (Debian: apt-get install postgresql-15)"
  ensure_postgres_user

  mkdir -p "$dir"
  # From here on a failure stops what was started and removes DIR (it was empty or missing).
  trap 'stop_server "$dir" || true; rm -rf "$dir"' EXIT
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    runuser -u postgres -- test -w "$dir" -a -x "$dir" ||
      die "the postgres user cannot reach $dir: make its parent directories searchable (chmod o+x)"
  fi

  local locale=(--no-locale)
  if locale -a 2> /dev/null | grep -qix 'c\.utf-\?8'; then locale=(--locale=C.UTF-8); fi
  local sync=(--no-sync)
  [ "$durable" = 1 ] && sync=()
  local out
  if ! out=$(as_owner "$PG_BIN/initdb" -D "$dir" -A trust -U postgres -E UTF8 "${locale[@]}" "${sync[@]}" \
    2>&1); then
    echo "$out" >&2
    die "initdb failed in $dir"
  fi

  # Settings in postgresql.conf (not on the command line), so a DIR with spaces or quotes works; the port is
  # given at start, to try another one when it was taken in between.
  local quoted=${dir//\'/\'\'}
  {
    echo
    echo "# scripts/pg-cluster.sh"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$quoted'"
    echo "max_connections = 200"
    if [ "$durable" != 1 ]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } >> "$dir/postgresql.conf"

  local port attempt started=0
  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(random_free_port)
    rm -f "$dir/server.log"
    as_owner touch "$dir/server.log"
    if as_owner "$PG_BIN/pg_ctl" start -D "$dir" -l "$dir/server.log" -o "-p $port" -w -t "$TIMEOUT" \
      > /dev/null 2>&1; then
      started=1
      break
    fi
    # Another process may have taken the port since it was checked: try another one.
    if grep -q 'could not bind\|Address already in use' "$dir/server.log"; then
      say "port $port was taken, trying another"
      stop_server "$dir"
      continue
    fi
    tail -n 20 "$dir/server.log" >&2 || true
    die "the server in $dir did not start (waited up to $TIMEOUT s; the end of its log is above; DIR is removed)"
  done
  [ "$started" = 1 ] || die "the server in $dir could not bind a port in 5 attempts"

  timeout "$TIMEOUT" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c 'CREATE DATABASE ihost' >&2 || die "cannot create the database ihost on port $port"

  local url="postgresql://postgres@127.0.0.1:$port/ihost"
  echo "$url" > "$dir/url.tmp"
  mv "$dir/url.tmp" "$dir/url"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/url"
  trap - EXIT
  say "PostgreSQL 15 on 127.0.0.1:$port, data in $dir$([ "$durable" = 1 ] || echo ' (fsync off)')"
  echo "$url"
}

cmd_stop() {
  local dir=$1
  if [ ! -e "$dir" ]; then
    return 0
  fi
  [ -d "$dir" ] || die "$dir is not a directory"
  looks_like_cluster "$dir" || die "$dir is not a cluster of scripts/pg-cluster.sh (no PG_VERSION): not removed"
  stop_server "$dir"
  rm -rf "$dir"
}

cmd_url() {
  local dir=$1
  [ -f "$dir/url" ] || die "no cluster in $dir (scripts/pg-cluster.sh start $dir)"
  cat "$dir/url"
}

(($# >= 2)) || usage
command=$1
[ -n "$2" ] || usage
dir=$(realpath -m -- "$2")
shift 2
case "$command" in
  start | restart)
    [ "$command" = restart ] && cmd_stop "$dir"
    durable=0
    if (($#)); then
      if [ "$1" != --durable ] || (($# != 1)); then usage; fi
      durable=1
    fi
    cmd_start "$dir" "$durable"
    ;;
  stop)
    (($# == 0)) || usage
    cmd_stop "$dir"
    ;;
  url)
    (($# == 0)) || usage
    cmd_url "$dir"
    ;;
  *) usage ;;
esac

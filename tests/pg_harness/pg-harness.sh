#!/bin/sh
# pg-harness.sh: a throwaway PostgreSQL server for tests (unit and e2e).
#
#   pg-harness.sh start DIR PORT   create DIR/data on first use (initdb, trust auth, superuser
#                                  "postgres"), then start it on 127.0.0.1:PORT with its Unix socket
#                                  in DIR and pg_stat_statements loaded; waits until it accepts
#                                  connections and prints postgresql://postgres@127.0.0.1:PORT/postgres
#   pg-harness.sh stop DIR         fast shutdown of the server started from DIR (if it runs)
#   pg-harness.sh destroy DIR      stop, then remove DIR
#
# Only ever touches the server whose data directory is DIR/data. postgres refuses to run as root,
# so as root the server runs as the "postgres" user (DIR is handed to it). Durability is turned
# off: the data is thrown away anyway. PG_BIN overrides where initdb and pg_ctl are found.
set -eu

usage() {
  echo "usage: $0 start DIR PORT | stop DIR | destroy DIR" >&2
  exit 2
}

[ $# -ge 2 ] || usage
command=$1
dir=$2

if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
  echo "pg-harness: PostgreSQL server binaries not found (install postgresql or set PG_BIN)" >&2
  exit 3
fi

as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$dir/data/postmaster.pid" ] && as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

stop() {
  if running; then
    as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
  fi
}

case "$command" in
  start)
    [ $# -eq 3 ] || usage
    port=$3
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres: "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_server_user "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
        -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
      }
    fi
    if ! running; then
      as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
        start >/dev/null || {
        tail -n 20 "$dir/postgres.log" >&2
        exit 1
      }
    fi
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    stop
    ;;
  destroy)
    stop
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac

#!/usr/bin/env bash
# policy-cpu.sh: what each eviction policy costs per request, in instructions, in a cache that is
# full and evicting. Runs strata (allkeys-lru, allkeys-tinylfu) and Debian's redis-server
# (allkeys-lru, allkeys-lfu) one after the other under `valgrind --tool=callgrind` on the same
# cache-aside load, and prints instructions per request and per GET for each.
#
# Why instructions: this VM has no hardware counters and its CPU time is noisy; callgrind counts
# every instruction the server runs, so a 2% difference between two policies is real. Why a
# warm-up: a cache spends its life full, so the counters are zeroed (callgrind_control --zero)
# after WARMUP requests have filled maxmemory, and only the MEASURED requests after count.
# The fill phase is reported too (from start-up to the end of the warm-up), because it costs
# differently: every read of a new key is counted by the tinylfu sketch.
#
# Load (strata-bench --cache-aside): GET a key drawn Zipf(0.99) over KEYS keys; on a miss SET it
# (32-byte value). One I/O thread (strata) so callgrind's serialisation of threads does not
# change the figure; maxmemory MAXMEMORY holds about a fifth of the keys.
#
# Usage: bench/policy-cpu.sh        (BUILD=dir for another build; SCAN_SHARE=10 mixes 10% of
#                                    requests of a sequential scan of one-time keys)
# Env:   KEYS (200000) WARMUP (600000) MEASURED (300000) MAXMEMORY (4000000) SCAN_SHARE (0)
#        SERVER_CPU (0) CLIENT_CPU (1)
#
# Only 127.0.0.1 and free ports; stops only the servers it started, by PID; every step has a
# time limit. Takes about 2 minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
STRATA_SERVER="$BUILD/strata-server"
STRATA_BENCH="$BUILD/strata-bench"
REDIS_SERVER=/usr/bin/redis-server
KEYS="${KEYS:-200000}"
WARMUP="${WARMUP:-600000}"
MEASURED="${MEASURED:-300000}"
MAXMEMORY="${MAXMEMORY:-4000000}"
SCAN_SHARE="${SCAN_SHARE:-0}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
RUN_TIMEOUT=600  # seconds per load-generator run (the server runs under valgrind)

die() { echo "policy-cpu: $*" >&2; exit 1; }

[[ -x "$STRATA_SERVER" && -x "$STRATA_BENCH" ]] || die "$STRATA_SERVER not found: build it first (make build, or BUILD=dir)"
[[ -x "$REDIS_SERVER" ]] || die "needs Debian's redis-server"
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || die "needs valgrind"
command -v taskset >/dev/null || die "needs taskset (util-linux)"

workdir=$(mktemp -d "${TMPDIR:-/tmp}/policy-cpu.XXXXXX")
server_pid=""

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  [[ -n "$server_pid" ]] && wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() { stop_server; rm -rf "$workdir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

load() {  # load PORT REQUESTS OUTPUT
  timeout "$RUN_TIMEOUT" taskset -c "$CLIENT_CPU" "$STRATA_BENCH" --port "$1" --cache-aside --ratio 0:1 \
    --key-pattern zipf:0.99 --key-max $((KEYS - 1)) --data-size 32 --clients 10 --pipeline 4 \
    --requests "$2" --scan-share "$SCAN_SHARE" >"$3" 2>&1 || die "strata-bench failed: $(tail -3 "$3")"
}

sets_of() { grep -o '[0-9]* sets' "$1" | head -1 | cut -d' ' -f1; }
hit_ratio_of() { grep -o 'Hit ratio: [0-9.]*%' "$1" | cut -d' ' -f3; }
instructions_of() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

# measure NAME POLICY COMMAND...: prints one row of the table.
measure() {
  local name=$1 policy=$2
  shift 2
  local port out="$workdir/$name.$policy.callgrind"
  port=$(free_port)
  taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" "$@" --port "$port" \
    --maxmemory "$MAXMEMORY" --maxmemory-policy "$policy" >"$workdir/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || die "$name did not start: $(tail -3 "$workdir/$name.log")"
    sleep 0.2
  done
  load "$port" "$WARMUP" "$workdir/warm"
  # The fill phase's figure: dump (and zero) the counters so far.
  callgrind_control --dump=fill "$server_pid" >/dev/null 2>&1
  load "$port" "$MEASURED" "$workdir/measured"
  stop_server
  local fill_file steady_file
  fill_file=$(ls "$out".* 2>/dev/null | head -1)
  steady_file="$out"
  local fill_ir steady_ir warm_sets sets
  fill_ir=$(instructions_of "$fill_file")
  steady_ir=$(instructions_of "$steady_file")
  warm_sets=$(sets_of "$workdir/warm")
  sets=$(sets_of "$workdir/measured")
  printf "%-7s %-17s %9s %11s %11s %14s\n" "$name" "$policy" "$(hit_ratio_of "$workdir/measured")" \
    $((steady_ir / (MEASURED + sets))) $((steady_ir / MEASURED)) $((fill_ir / (WARMUP + warm_sets)))
}

echo "Instructions per request (callgrind), cache-aside Zipf(0.99) over $KEYS keys, maxmemory $MAXMEMORY,"
echo "scan share ${SCAN_SHARE}%: $WARMUP requests to fill, then $MEASURED measured. A request is a GET or a"
echo "cache-aside SET; 'per GET' charges each miss's SET to its GET (the cost of serving the application)."
echo
printf "%-7s %-17s %9s %11s %11s %14s\n" server policy "hit ratio" "Ir/request" "Ir/GET" "fill Ir/req"
measure strata allkeys-lru "$STRATA_SERVER" --io-threads 1 --bind 127.0.0.1
measure strata allkeys-tinylfu "$STRATA_SERVER" --io-threads 1 --bind 127.0.0.1
measure redis allkeys-lru "$REDIS_SERVER" --bind 127.0.0.1 --save "" --appendonly no --dir "$workdir"
measure redis allkeys-lfu "$REDIS_SERVER" --bind 127.0.0.1 --save "" --appendonly no --dir "$workdir"
echo
echo "target: strata allkeys-tinylfu Ir/request <= strata allkeys-lru Ir/request (full cache)"

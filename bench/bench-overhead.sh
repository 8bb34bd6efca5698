#!/usr/bin/env bash
# bench-overhead.sh: is strata-bench a fair load generator? Drives one Debian redis-server with
# redis-benchmark and with strata-bench under the same load and prints both throughputs side
# by side. If strata-bench reaches at least redis-benchmark's ops/s, it is not the bottleneck.
#
# Setup: redis-server pinned (taskset) to one CPU, both load generators pinned to another, so
# the server gets a core of its own and the generators compete on equal terms. Same load for
# both: SET then GET, 50 clients on one thread, pipeline 1 and 16, REQUESTS requests, 32-byte
# values, keys drawn uniformly from 100000. Each figure is the median of REPEATS runs.
#
# Usage: bench/bench-overhead.sh            (uses build/strata-bench; BUILD=dir to change)
# Env:   REQUESTS (200000)  REPEATS (3)  SERVER_CPU (0)  CLIENT_CPU (1)  BUILD (build)
#
# Only 127.0.0.1 and a free port; stops the server it started, by PID; every step has a
# time limit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
STRATA_BENCH="$BUILD/strata-bench"
REDIS_SERVER=/usr/bin/redis-server
REDIS_BENCHMARK=/usr/bin/redis-benchmark
REQUESTS="${REQUESTS:-200000}"
REPEATS="${REPEATS:-3}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS=50
DATA_SIZE=32
KEYS=100000
RUN_TIMEOUT=120  # seconds per load-generator run

die() { echo "bench-overhead: $*" >&2; exit 1; }

[[ -x "$STRATA_BENCH" ]] || die "$STRATA_BENCH not found: build it first (make build, or BUILD=dir)"
[[ -x "$REDIS_SERVER" && -x "$REDIS_BENCHMARK" ]] || die "needs Debian's redis-server and redis-tools"
command -v taskset >/dev/null || die "needs taskset (util-linux)"
cpus=$(nproc --all)
(( SERVER_CPU < cpus && CLIENT_CPU < cpus && SERVER_CPU != CLIENT_CPU )) ||
  die "needs two distinct CPUs (SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU, $cpus CPUs)"

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
workdir=$(mktemp -d "${TMPDIR:-/tmp}/bench-overhead.XXXXXX")
server_pid=""

cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taskset -c "$SERVER_CPU" "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$workdir" --logfile "$workdir/redis.log" &
server_pid=$!
for _ in $(seq 100); do
  if timeout 1 /usr/bin/redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then break; fi
  kill -0 "$server_pid" 2>/dev/null || die "redis-server exited at start (see above)"
  sleep 0.1
done
timeout 1 /usr/bin/redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG || die "redis-server did not answer"

# One redis-benchmark run: prints the requests per second of test $1 (set|get) at pipeline $2.
redis_benchmark_rps() {
  timeout "$RUN_TIMEOUT" taskset -c "$CLIENT_CPU" "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" \
    -t "$1" -n "$REQUESTS" -c "$CLIENTS" -P "$2" -d "$DATA_SIZE" -r "$KEYS" --csv |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

# One strata-bench run: the same load, SET only (ratio 1:0) or GET only (0:1).
strata_bench_rps() {
  local ratio json="$workdir/strata-bench.json"
  if [[ "$1" == set ]]; then ratio=1:0; else ratio=0:1; fi
  timeout "$RUN_TIMEOUT" taskset -c "$CLIENT_CPU" "$STRATA_BENCH" --host 127.0.0.1 --port "$port" \
    --threads 1 --clients "$CLIENTS" --pipeline "$2" --requests "$REQUESTS" --ratio "$ratio" \
    --data-size "$DATA_SIZE" --key-min 0 --key-max $((KEYS - 1)) --json "$json" >/dev/null
  sed -n 's/^  "ops_per_sec": \([0-9.]*\),$/\1/p' "$json"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "bench-overhead: $("$REDIS_SERVER" --version | awk '{print $1, $2, $3}') on CPU $SERVER_CPU," \
  "load generators on CPU $CLIENT_CPU; $CLIENTS clients, $REQUESTS requests, $DATA_SIZE-byte values," \
  "$KEYS keys; median of $REPEATS runs"
echo
printf '%-8s %9s %22s %20s %14s\n' command pipeline "redis-benchmark ops/s" "strata-bench ops/s" "strata/redis"
for pipeline in 1 16; do
  for command in set get; do
    rb=() sb=()
    # Alternate the tools so drift on a shared machine hits both alike.
    for _ in $(seq "$REPEATS"); do
      rb+=("$(redis_benchmark_rps "$command" "$pipeline")")
      sb+=("$(strata_bench_rps "$command" "$pipeline")")
    done
    r=$(median "${rb[@]}")
    s=$(median "${sb[@]}")
    [[ -n "$r" && -n "$s" ]] || die "a run produced no figure ($command, pipeline $pipeline)"
    printf '%-8s %9d %22.0f %20.0f %14.2f\n' "${command^^}" "$pipeline" "$r" "$s" \
      "$(awk -v s="$s" -v r="$r" 'BEGIN { print (r > 0 ? s / r : 0) }')"
  done
done

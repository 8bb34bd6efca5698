#!/usr/bin/python3
"""Eviction under maxmemory: strata vs Debian's redis-server, side by side, in one run.

Each server runs pinned to its own core (strata with one I/O thread, redis without persistence),
the load (build/strata-bench, and the PING client of section c) on the other core. Every
measurement starts a fresh server. Nothing about time is asserted; three sections are printed:

  a. Hit ratio. Cache-aside (GET; on nil, SET) with Zipf(0.99) popularity over --keys keys
     (default 1,000,000), 32-byte values, with maxmemory sized so redis holds about
     --cache-share of them (default 10%): first redis-server's bytes per key are measured
     (used_memory delta after SETting cache-share x keys into an unlimited redis, over that
     count); then BOTH servers get the same maxmemory = redis's empty used_memory + that many
     keys x redis bytes per key, so strata, being more compact, holds more keys in the same
     memory. Policies: allkeys-lru and allkeys-lfu on both, allkeys-tinylfu on strata only.
     Workloads: plain Zipf, and Zipf with --scan-share 10 (a tenth of the GETs scan one-time
     keys: they always miss and pollute the cache). Each run warms up (--warmup GETs, default
     2,000,000), then measures (--requests GETs, default 5,000,000; its scan keys start past the
     warm-up's). Printed per (server, policy, workload): the warm hit ratio, lookups/s (GETs of the
     application per second) and requests/s (GETs and their cache-aside SETs), the server's CPU
     seconds per million requests (utime+stime from /proc/PID/stat around the measured run), the
     keys it holds at the end and its used_memory over maxmemory; then, per workload, each strata
     policy's hit ratio minus redis's best, in points.
  b. Keys held at the same maxmemory (--keys-maxmemory, default 64mb), 32-byte values: SETs of
     distinct keys, 4x as many as redis would hold, then DBSIZE; allkeys-lru on both and
     allkeys-tinylfu on strata; printed: keys held and strata/redis (the target is >= 1.8x).
  c. PING latency during a write flood: maxmemory --flood-maxmemory (default 100mb),
     allkeys-lru; 10 clients SET distinct keys with 512-byte values, 10x maxmemory in all, while
     one more client sends PING one at a time (one every --ping-interval-ms) and times each round
     trip; printed: pings, p50, p99 and worst (ms), and the flood's SETs/s. The PING client
     shares the load core with the flood, so its figures include that core's scheduling, alike
     for both servers.

A server that refuses a policy (strata before it knows allkeys-tinylfu) is reported as such and
the run goes on. --quick shrinks every section to a smoke test of a minute or two (section a then
runs 200,000 keys, 10 clients at pipeline 4, 150,000 GETs of warm-up and as many measured). Only
127.0.0.1 is used; every process started here is stopped by its PID.
"""
import argparse
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

from benchlib import PinnedServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REDIS_SERVER = "/usr/bin/redis-server"
# Any single run is far shorter; this only keeps a hung process from hanging the script.
RUN_TIMEOUT = 900
KEY_PREFIX = "key:"
VALUE_SIZE = 32
FLOOD_VALUE_SIZE = 512
FLOOD_CLIENTS = 10
# Section b floods this many times the keys redis holds: well past the limit for both servers
# (strata at the 1.8x target holds 45% of the flood).
KEYS_FLOOD_FACTOR = 4
# Section c writes this many times maxmemory of values.
FLOOD_BYTES_FACTOR = 10
SCAN_SHARE = 10
# (server, policy) pairs of sections a and b, strata and redis alternating so drift on this shared
# machine hits both alike; allkeys-tinylfu is strata's own.
HIT_RATIO_RUNS = [("strata", "allkeys-lru"), ("redis", "allkeys-lru"), ("strata", "allkeys-lfu"),
                  ("redis", "allkeys-lfu"), ("strata", "allkeys-tinylfu")]
KEYS_HELD_RUNS = [("strata", "allkeys-lru"), ("redis", "allkeys-lru"), ("strata", "allkeys-tinylfu")]
# Section b's key names, by the index the flood starts at: "key:0".."key:N" (5-10 bytes), and
# 16-byte "key:100000000000".. (the length of redis-benchmark's "key:000000000042"). Both are
# shown because the ratio depends on it: Redis's key is its own block (16 bytes up to 12
# characters, 32 up to 28), strata's is part of the entry.
KEYS_HELD_KEY_KINDS = [("key:N (5-10 bytes)", 0), ("key:1000... (16 bytes)", 10**11)]


class CacheServer(PinnedServer):
    """strata (--io-threads 1) or Debian's redis-server (no persistence) with a maxmemory and a
    policy, pinned to one core."""

    def __init__(self, kind, args, workdir, maxmemory=0, policy="noeviction"):
        self.kind = kind
        self.client = None
        if kind == "strata":
            argv = [str(args.strata), "--io-threads", "1"]
        else:
            argv = [REDIS_SERVER, "--save", "", "--appendonly", "no", "--dir", workdir]
        argv += ["--maxmemory", str(maxmemory), "--maxmemory-policy", policy]
        super().__init__(argv, args.server_core, workdir, kind)
        self.client = redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self):
        if self.client is not None:
            self.client.close()
        super().stop()

    def cpu_seconds(self):
        """User + system CPU seconds the server has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def used_memory(self):
        return int(self.client.info("memory")["used_memory"])

    def dbsize(self):
        return int(self.client.dbsize())


def start_server(kind, args, workdir, maxmemory, policy):
    """A started server, or None when it refused to start (printed: an unknown policy)."""
    try:
        return CacheServer(kind, args, workdir, maxmemory, policy)
    except RuntimeError as e:
        lines = [line for line in str(e).splitlines() if line.strip()]
        reason = next((line for line in lines if "must be one of" in line or "rror" in line), lines[-1])
        print(f"  {kind} {policy}: not run, the server did not start: {reason.strip()[:160]}", file=sys.stderr)
        return None


def strata_bench(args, server, *load):
    """Runs strata-bench on the load core against `server`; returns its JSON report. Error
    replies (e.g. OOM) are counted in the report and said on stderr, not fatal."""
    with tempfile.NamedTemporaryFile(suffix=".json", dir=args.workdir) as f:
        argv = ["taskset", "-c", str(args.client_core), str(args.strata_bench), "--host", "127.0.0.1",
                "--port", str(server.port), "--reply-timeout", "30", "--json", f.name, *map(str, load)]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        text = pathlib.Path(f.name).read_text()
    if not text:
        raise RuntimeError(f"strata-bench failed ({out.returncode}) against {server.kind}:\n{out.stderr}")
    report = json.loads(text)
    if report["errors"]:
        print(f"  {server.kind}: {report['errors']} error replies, first: {report['first_error']}", file=sys.stderr)
    return report


def set_flood(keys, value_size, clients, pipeline, key_min=0):
    """The strata-bench arguments of SETs of the distinct keys PREFIX<key_min> .. PREFIX<key_min+keys-1>."""
    return ["--ratio", "1:0", "--key-pattern", "sequential", "--key-prefix", KEY_PREFIX, "--key-min", key_min,
            "--key-max", key_min + keys - 1, "--requests", keys, "--data-size", value_size, "--clients", clients,
            "--pipeline", pipeline]


def redis_bytes_per_key(args, keys):
    """used_memory per key of `keys` 32-byte strings in an unlimited redis, and its empty used_memory."""
    server = CacheServer("redis", args, args.workdir)
    try:
        time.sleep(0.3)
        empty = server.used_memory()
        strata_bench(args, server, *set_flood(keys, VALUE_SIZE, 50, 16))
        time.sleep(1)  # lets redis finish rehashing its key table in the background
        return (server.used_memory() - empty) / keys, empty
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# a. Hit ratio


def hit_ratio_run(args, kind, policy, maxmemory, scan_share):
    server = start_server(kind, args, args.workdir, maxmemory, policy)
    if server is None:
        return None
    try:
        load = ["--cache-aside", "--ratio", "0:1", "--key-prefix", KEY_PREFIX, "--key-min", 0,
                "--key-max", args.keys - 1, "--key-pattern", "zipf:0.99", "--data-size", VALUE_SIZE,
                "--clients", args.clients, "--pipeline", args.pipeline]
        scan = ["--scan-share", scan_share] if scan_share else []
        strata_bench(args, server, *load, *scan, "--requests", args.warmup, "--seed", 1)
        # The measured run's scan keys start past every key the warm-up can have scanned.
        if scan_share:
            scan += ["--scan-start", args.keys + args.warmup]
        cpu_before = server.cpu_seconds()
        report = strata_bench(args, server, *load, *scan, "--requests", args.requests, "--seed", 2)
        cpu = server.cpu_seconds() - cpu_before
        return {"hit_ratio": report["hit_ratio"], "lookups_per_sec": report["lookups"]["ops_per_sec"],
                "ops": report["ops_per_sec"], "cpu_per_m": cpu / report["requests"] * 1e6,
                "keys": server.dbsize(), "memory_share": server.used_memory() / maxmemory}
    finally:
        server.stop()


def selected(args, kind, policy):
    """--runs: only these server:policy pairs of sections a and b (default: all)."""
    return not args.runs or f"{kind}:{policy}" in args.runs.split(",")


def section_hit_ratio(args, bytes_per_key, empty_used):
    cache_keys = int(args.keys * args.cache_share)
    maxmemory = int(empty_used + cache_keys * bytes_per_key)
    workloads = [("zipf", 0), (f"zipf+scan{SCAN_SHARE}", SCAN_SHARE)]
    results = {}
    runs = [run for run in HIT_RATIO_RUNS if selected(args, *run)]
    for name, scan_share in workloads:
        for kind, policy in runs:
            results[(name, kind, policy)] = hit_ratio_run(args, kind, policy, maxmemory, scan_share)
            print(f"a. {name} {kind} {policy} done", file=sys.stderr)

    print(f"\na. Hit ratio, cache-aside: strata-bench --cache-aside --ratio 0:1 --key-pattern zipf:0.99 "
          f"--key-max {args.keys - 1} --data-size {VALUE_SIZE} --clients {args.clients} --pipeline {args.pipeline} "
          f"[--scan-share {SCAN_SHARE}]; warm-up {args.warmup:,} GETs, measured {args.requests:,} GETs")
    print(f"   maxmemory {maxmemory:,} bytes for both = redis empty used_memory {empty_used:,} + "
          f"{cache_keys:,} keys x {bytes_per_key:.1f} redis bytes/key\n")
    header = (f"{'workload':<14}{'server':<8}{'policy':<17}{'hit %':>8}{'lookups/s':>11}{'req/s':>10}"
              f"{'cpu s/M req':>12}{'keys held':>11}{'mem/limit':>10}")
    print(header)
    print("-" * len(header))
    for name, _ in workloads:
        for kind, policy in runs:
            r = results[(name, kind, policy)]
            if r is None:
                print(f"{name:<14}{kind:<8}{policy:<17}{'not run: the server did not start (see stderr)':>72}")
                continue
            print(f"{name:<14}{kind:<8}{policy:<17}{100 * r['hit_ratio']:>8.2f}{r['lookups_per_sec']:>11.0f}"
                  f"{r['ops']:>10.0f}{r['cpu_per_m']:>12.2f}{r['keys']:>11,}{100 * r['memory_share']:>9.0f}%")
    print()
    for name, _ in workloads:
        redis_runs = [(results[(name, k, p)]["hit_ratio"], p) for k, p in runs
                      if k == "redis" and results[(name, k, p)] is not None]
        if not redis_runs:
            continue
        best, best_policy = max(redis_runs)
        deltas = [f"{p} {round(100 * (results[(name, k, p)]['hit_ratio'] - best), 2) + 0.0:+.2f}"
                  for k, p in runs
                  if k == "strata" and results[(name, k, p)] is not None]
        print(f"{name}: strata minus redis-best ({best_policy}, {100 * best:.2f}%), in points: "
              f"{', '.join(deltas) or 'no strata run'}")


# ---------------------------------------------------------------------------------------------
# b. Keys held at the same maxmemory


def section_keys_held(args, bytes_per_key):
    maxmemory = args.keys_maxmemory
    flood = int(KEYS_FLOOD_FACTOR * maxmemory / bytes_per_key)
    runs = [run for run in KEYS_HELD_RUNS if selected(args, *run)]
    results = {}
    for key_kind, key_min in KEYS_HELD_KEY_KINDS:
        for kind, policy in runs:
            server = start_server(kind, args, args.workdir, maxmemory, policy)
            if server is None:
                results[(key_kind, kind, policy)] = None
                continue
            try:
                report = strata_bench(args, server, *set_flood(flood, VALUE_SIZE, 50, 16, key_min))
                results[(key_kind, kind, policy)] = {"keys": server.dbsize(), "used": server.used_memory(),
                                                     "errors": report["errors"]}
            finally:
                server.stop()
            print(f"b. {key_kind} {kind} {policy} done", file=sys.stderr)

    print(f"\nb. Keys held at maxmemory {maxmemory:,} bytes: strata-bench --ratio 1:0 --key-pattern sequential "
          f"--requests {flood:,} (distinct keys) --data-size {VALUE_SIZE} --clients 50 --pipeline 16, then DBSIZE\n")
    header = (f"{'keys':<24}{'server':<8}{'policy':<17}{'keys held':>11}{'used_memory':>14}{'mem/limit':>10}"
              f"{'SET errors':>11}{'vs redis':>10}")
    print(header)
    print("-" * len(header))
    for key_kind, _ in KEYS_HELD_KEY_KINDS:
        redis_keys = (results.get((key_kind, "redis", "allkeys-lru")) or {}).get("keys")
        for kind, policy in runs:
            r = results[(key_kind, kind, policy)]
            if r is None:
                print(f"{key_kind:<24}{kind:<8}{policy:<17}{'not run: the server did not start (see stderr)':>55}")
                continue
            ratio = f"{r['keys'] / redis_keys:.2f}x" if redis_keys else "-"
            note = "  (every key kept: no eviction)" if r["keys"] == flood else ""
            print(f"{key_kind:<24}{kind:<8}{policy:<17}{r['keys']:>11,}{r['used']:>14,}"
                  f"{100 * r['used'] / maxmemory:>9.0f}%{r['errors']:>11,}{ratio:>10}{note}")
    print("target: strata allkeys-lru / redis allkeys-lru >= 1.8x")


# ---------------------------------------------------------------------------------------------
# c. PING latency during a write flood


def ping_during(server, flood, interval_sec, client_core):
    """PINGs `server` one at a time until `flood` (a Popen) exits; the round trips in seconds."""
    os.sched_setaffinity(0, {client_core})
    rtts = []
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while flood.poll() is None:
                started = time.perf_counter()
                s.sendall(b"PING\r\n")
                reply = b""
                while not reply.endswith(b"\r\n"):
                    chunk = s.recv(64)
                    if not chunk:
                        raise RuntimeError(f"{server.kind} closed the PING connection")
                    reply += chunk
                rtts.append(time.perf_counter() - started)
                if reply != b"+PONG\r\n":
                    raise RuntimeError(f"{server.kind} answered PING with {reply!r}")
                time.sleep(interval_sec)
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count())))
    return rtts


def flood_run(args, kind):
    maxmemory = args.flood_maxmemory
    sets = FLOOD_BYTES_FACTOR * maxmemory // FLOOD_VALUE_SIZE
    server = start_server(kind, args, args.workdir, maxmemory, "allkeys-lru")
    if server is None:
        return None
    json_path = pathlib.Path(args.workdir) / f"flood-{kind}.json"
    argv = ["taskset", "-c", str(args.client_core), str(args.strata_bench), "--host", "127.0.0.1",
            "--port", str(server.port), "--reply-timeout", "30", "--json", str(json_path),
            *map(str, set_flood(sets, FLOOD_VALUE_SIZE, FLOOD_CLIENTS, 1))]
    flood = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        rtts = ping_during(server, flood, args.ping_interval_ms / 1000, args.client_core)
        _, stderr = flood.communicate(timeout=RUN_TIMEOUT)
        if not json_path.exists():
            raise RuntimeError(f"strata-bench flood failed ({flood.returncode}) against {kind}:\n{stderr}")
        report = json.loads(json_path.read_text())
        rtts.sort()
        return {"pings": len(rtts), "p50": rtts[len(rtts) // 2] * 1e3, "p99": rtts[int(0.99 * (len(rtts) - 1))] * 1e3,
                "worst": rtts[-1] * 1e3, "sets_per_sec": report["ops_per_sec"], "errors": report["errors"],
                "keys": server.dbsize(), "used": server.used_memory(), "sets": sets}
    finally:
        if flood.poll() is None:
            os.kill(flood.pid, signal.SIGTERM)
            flood.wait()
        server.stop()


def section_ping_latency(args):
    results = {}
    for kind in ("strata", "redis"):
        results[kind] = flood_run(args, kind)
        print(f"c. {kind} done", file=sys.stderr)
    sets = FLOOD_BYTES_FACTOR * args.flood_maxmemory // FLOOD_VALUE_SIZE
    print(f"\nc. PING latency during a write flood: maxmemory {args.flood_maxmemory:,} bytes, allkeys-lru; strata-bench "
          f"--ratio 1:0 --key-pattern sequential --requests {sets:,} --data-size {FLOOD_VALUE_SIZE} "
          f"--clients {FLOOD_CLIENTS} --pipeline 1 ({FLOOD_BYTES_FACTOR}x maxmemory of values); one more client "
          f"PINGs one at a time, every {args.ping_interval_ms:g} ms\n")
    header = (f"{'server':<8}{'pings':>8}{'p50 ms':>9}{'p99 ms':>9}{'worst ms':>10}{'SETs/s':>10}{'SET errors':>11}"
              f"{'keys held':>11}{'mem/limit':>10}")
    print(header)
    print("-" * len(header))
    for kind in ("strata", "redis"):
        r = results[kind]
        if r is None:
            print(f"{kind:<8}{'not run: the server did not start':>60}")
            continue
        print(f"{kind:<8}{r['pings']:>8,}{r['p50']:>9.3f}{r['p99']:>9.3f}{r['worst']:>10.3f}{r['sets_per_sec']:>10.0f}"
              f"{r['errors']:>11,}{r['keys']:>11,}{100 * r['used'] / args.flood_maxmemory:>9.0f}%")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--strata-bench", default=str(ROOT / "build" / "strata-bench"))
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: fewer requests and smaller memory limits in every section")
    parser.add_argument("--sections", default="a,b,c", help="which sections to run (default a,b,c)")
    parser.add_argument("--runs", default="",
                        help="a, b: only these server:policy pairs, e.g. strata:allkeys-tinylfu,redis:allkeys-lfu")
    parser.add_argument("--keys", type=int, default=1000000, help="a: the Zipf key space")
    parser.add_argument("--cache-share", type=float, default=0.10,
                        help="a: the share of the keys redis holds at the maxmemory both servers get")
    parser.add_argument("--warmup", type=int, default=2000000, help="a: GETs before measuring")
    parser.add_argument("--requests", type=int, default=5000000, help="a: GETs measured")
    parser.add_argument("--clients", type=int, default=50, help="a: strata-bench connections")
    parser.add_argument("--pipeline", type=int, default=1, help="a: strata-bench pipeline depth")
    parser.add_argument("--keys-maxmemory", type=int, default=64 << 20, help="b: maxmemory in bytes")
    parser.add_argument("--flood-maxmemory", type=int, default=100 << 20, help="c: maxmemory in bytes")
    parser.add_argument("--ping-interval-ms", type=float, default=1.0, help="c: pause between PINGs")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        # a: a fifth of the key space and cache, so that a short run evicts; 10 clients, since redis
        # counts its clients' buffers in used_memory and a small maxmemory would be mostly those.
        args.keys, args.clients, args.pipeline = 200000, 10, 4
        args.warmup, args.requests = 150000, 150000
        args.keys_maxmemory, args.flood_maxmemory = 16 << 20, 10 << 20
    args.strata = pathlib.Path(args.strata).resolve()  # the servers run in a scratch directory
    args.strata_bench = pathlib.Path(args.strata_bench).resolve()
    sections = set(args.sections.split(","))

    version = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout.split()[2]
    version = version.removeprefix("v=")
    print(f"strata vs redis-server {version}, eviction under maxmemory{' (--quick)' if args.quick else ''}: "
          f"servers on core {args.server_core}, load on core {args.client_core}")
    with tempfile.TemporaryDirectory() as workdir:
        args.workdir = workdir
        bytes_per_key, empty_used = redis_bytes_per_key(args, int(args.keys * args.cache_share))
        print(f"redis-server: {bytes_per_key:.1f} bytes of used_memory per key of {VALUE_SIZE} bytes "
              f"({int(args.keys * args.cache_share):,} keys into an unlimited server)")
        if "a" in sections:
            section_hit_ratio(args, bytes_per_key, empty_used)
        if "b" in sections:
            section_keys_held(args, bytes_per_key)
        if "c" in sections:
            section_ping_latency(args)


if __name__ == "__main__":
    main()

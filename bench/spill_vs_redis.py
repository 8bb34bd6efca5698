#!/usr/bin/python3
"""The spill tier (DESIGN section 8) against forgetting: a working set several times maxmemory,
read back, on strata with spill-dir, strata without it (eviction drops keys: misses), and Debian's
redis-server at the same maxmemory (its miss ratio), side by side; and strata with no maxmemory at
all (everything in memory), the yardstick for the throughput target.

Issue 12's targets: with spill, 0 misses (every key ever written is answered), at >= 50% of the
all-in-memory throughput under Zipf, and p99 under 2 ms on this machine.

Load (build/strata-bench, one thread, 50 clients, pipeline 1): every key is written once
(sequential SETs, --working-set x maxmemory of values), then GETs drawn Zipf(0.99) or uniformly
over those keys. Printed per value size and distribution: GET ops/s, p50 and p99 latency (us),
misses (GETs answered nil), and for strata with spill the keys read back from disk (promotions).

Servers pinned to --server-core (strata with --io-threads 1), strata-bench to --client-core; all
on 127.0.0.1, stopped by PID; each run has a time limit.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import redis

from benchlib import PinnedServer

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 900
# Bytes a key costs besides its value, roughly, in either server: sizes the key count.
KEY_OVERHEAD = 70


def start(kind, args, workdir, maxmemory, spill):
    if kind == "redis":
        argv = ["/usr/bin/redis-server", "--save", "", "--appendonly", "no", "--dir", workdir]
    else:
        argv = [str(args.strata), "--io-threads", "1"]
        if spill:
            argv += ["--spill-dir", tempfile.mkdtemp(dir=workdir, prefix="spill-")]
    if maxmemory:
        argv += ["--maxmemory", str(maxmemory), "--maxmemory-policy", "allkeys-lru"]
    name = kind + ("-spill" if spill else "") + ("" if maxmemory else "-all-in-memory")
    return PinnedServer(argv, args.server_core, workdir, name)


def bench(args, server, workdir, *load):
    path = os.path.join(workdir, "run.json")
    argv = ["taskset", "-c", str(args.client_core), str(args.bench), "--host", "127.0.0.1", "--port",
            str(server.port), "--threads", "1", "--clients", "50", "--reply-timeout", "30", "--json", path,
            *map(str, load)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"strata-bench failed against {server.name}: {proc.stderr.strip()[-400:]}")
    with open(path) as f:
        return json.load(f)


def run(args, workdir, kind, spill, maxmemory, value_size, keys, pattern):
    server = start(kind, args, workdir, maxmemory, spill)
    try:
        common = ["--data-size", value_size, "--key-min", 0, "--key-max", keys - 1]
        bench(args, server, workdir, "--ratio", "1:0", "--key-pattern", "sequential", "--pipeline", 16,
              "--requests", keys, *common)
        report = bench(args, server, workdir, "--ratio", "0:1", "--key-pattern", pattern, "--pipeline", 1,
                       "--requests", args.reads, *common)
        info = redis.Redis(port=server.port).info()
    finally:
        server.stop()
    get = report["commands"]["GET"]
    return {"ops": get["ops_per_sec"], "p50": get["latency_us"]["p50"], "p99": get["latency_us"]["p99"],
            "misses": get["misses"], "requests": get["requests"], "promotions": info.get("spill_promotions", 0),
            "dbsize": sum(v["keys"] for k, v in info.items() if k.startswith("db") and isinstance(v, dict))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--bench", default=str(ROOT / "build" / "strata-bench"))
    parser.add_argument("--maxmemory-mb", type=int, default=32)
    parser.add_argument("--working-set", type=float, default=4.0, help="bytes of values written / maxmemory")
    parser.add_argument("--value-sizes", default="32,4096")
    parser.add_argument("--patterns", default="zipf:0.99,uniform")
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    maxmemory = args.maxmemory_mb << 20
    print(f"Spill tier: maxmemory {args.maxmemory_mb} MB, values written = {args.working_set}x maxmemory, "
          f"then {args.reads} GETs (50 clients, pipeline 1); allkeys-lru\n")
    print(f"{'value':>6} {'reads':<11} {'server':<22} {'GET/s':>9} {'p50 us':>7} {'p99 us':>7} {'misses':>8} "
          f"{'miss %':>7} {'from disk':>9}")
    with tempfile.TemporaryDirectory() as workdir:
        for value_size in map(int, args.value_sizes.split(",")):
            keys = int(args.working_set * maxmemory / (value_size + KEY_OVERHEAD))
            for pattern in args.patterns.split(","):
                rows = [("strata", True, maxmemory), ("strata", False, maxmemory), ("redis", False, maxmemory),
                        ("strata", False, 0)]
                for kind, spill, limit in rows:
                    r = run(args, workdir, kind, spill, limit, value_size, keys, pattern)
                    name = kind + (" spill" if spill else "") + ("" if limit else " (all in memory)")
                    print(f"{value_size:>6} {pattern:<11} {name:<22} {r['ops']:>9.0f} {r['p50']:>7} {r['p99']:>7} "
                          f"{r['misses']:>8} {100 * r['misses'] / r['requests']:>6.2f}% {r['promotions']:>9}",
                          flush=True)
            print(f"       ({keys} keys of {value_size} bytes)")
    print("\nTargets (strata spill): 0 misses; GET/s >= 50% of strata all in memory under Zipf; p99 < 2000 us")


if __name__ == "__main__":
    sys.exit(main())

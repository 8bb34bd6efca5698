#!/usr/bin/python3
"""What client-side caching costs the server: GET-heavy load with 50 tracking clients, strata vs
Debian's redis-server, side by side. Target: with CLIENT TRACKING on, strata spends at most 10%
more CPU per request than without (tracking/no-tracking cpu s/M <= 1.10). The machine is shared
and noisy, so the figure that counts is a ratio, and Redis on the same load is the yardstick.

The load (build/strata-bench, one thread): --clients (default 50) connections, keys
"key:0".."key:99999" drawn uniformly, 32-byte values, at pipeline 1 and pipeline 16, a fixed
number of requests per run (a few seconds each), with two mixes (--ratios):
  1:10  1 SET in every 11 requests: the target's load. Every SET of a key that some clients read
        since its last change sends each of them an invalidation, so the "on" runs also carry
        the invalidation traffic (column inv/SET: pushes per SET).
  0:1   GETs only: nothing changes, no invalidation is sent, and "on" costs only what the server
        does to remember who read what; the difference between the two mixes is the delivery.
Every run gets a fresh server, loaded first with all 100,000 keys (strata-bench --ratio 1:0
--key-pattern sequential, checked with DBSIZE), so that no GET misses and no tracking table is
left over from an earlier run (a server keeps the keys of clients that went away until they
change). Each load
runs twice: "off" (HELLO 3 only) and "on" (HELLO 3, then CLIENT TRACKING on: the server remembers
every key a client GETs and pushes it an invalidation when a SET changes it). Both use RESP3 and
the same seed, hence the same keys in the same order per client, so tracking is the only
difference. strata-bench skips and counts the pushes and checks every reply's type; a run with
an error reply, or a tracking run without a single invalidation, is listed after the table and
left out of the figures.

Placement: each server is pinned to --server-core (default 0) with taskset (strata with
--io-threads 1, its background threads on the same core; redis without persistence), strata-bench
and the loader to --client-core (default 1). The binaries are copied first, so a rebuild of build/
meanwhile changes nothing.

Printed per load (mix and pipeline) and server, each the median over --rounds (default 3) rounds:
  ops/s         requests answered per second (first send to last reply)
  cpu s/M       the server's CPU seconds (utime+stime of the whole process, from /proc/PID/stat
                around the run) per million requests
  user s/M      the same, user time only (at pipeline 1 most of cpu is the kernel's loopback
                TCP work, the same for both servers)
  srv %, bench %  the server's and strata-bench's CPU over the run's wall time: a side near 100%
                was the bottleneck; when strata-bench is (pipeline 16), ops/s says little and
                cpu s/M is the comparison
  inval         invalidation pushes the clients received during the run
  inv/SET       the same per SET of the run
Then the rows "on/off": the tracking cost, each the median of the per-round ratios (a round's
"on" and "off" runs of one server follow each other, so drift hits them alike); the cpu ratio is
the target's figure. And strata/redis for off, on and the tracking cost.
Rounds alternate the servers (strata first, then redis first, ...) and the order of off and on,
so that drift on this shared machine hits all alike. The header gives the load average before
and after. Nothing is asserted; the target's verdict is printed as a figure.

Only 127.0.0.1 is used; every process started here is stopped by its PID; each run has a time
limit. Takes about --rounds x 3 minutes.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

from benchlib import measured_run
from vs_redis import ROOT, Server

# A run takes a few seconds; this only keeps a hung strata-bench from hanging the script.
RUN_TIMEOUT = 300
KEYS = 100_000
DATA_SIZE = 32
PIPELINES = (1, 16)
# Requests per run at each pipeline: a few seconds each on this VM for either server.
REQUESTS = {1: 300_000, 16: 2_000_000}
# Below this many SETs a tracking run may legitimately see no invalidation (keys are many).
MIN_SETS_FOR_AN_INVALIDATION = 1000
TARGET = 1.10  # strata's tracking/no-tracking CPU per request
# (key, column header, format) of one run's figures.
COLUMNS = (("ops", "ops/s", "{:.0f}"), ("cpu_per_m", "cpu s/M", "{:.3f}"), ("user_per_m", "user s/M", "{:.3f}"),
           ("server_busy", "srv %", "{:.0f}"), ("bench_busy", "bench %", "{:.0f}"),
           ("invalidations", "inval", "{:.0f}"), ("per_set", "inv/SET", "{:.2f}"))
RATIO_COLUMNS = ("ops", "cpu_per_m", "user_per_m")  # the columns whose on/off and strata/redis count


def dbsize(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"DBSIZE\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(64)
            if not chunk:
                break
            reply += chunk
    if not reply.startswith(b":"):
        raise RuntimeError(f"DBSIZE answered {reply!r}")
    return int(reply[1:])


def bench_argv(args, server, *load):
    return ["taskset", "-c", str(args.client_core), args.bench, "--host", "127.0.0.1", "--port", str(server.port),
            "--threads", "1", "--clients", str(args.clients), "--data-size", str(DATA_SIZE), "--key-min", "0",
            "--key-max", str(KEYS - 1), "--reply-timeout", "30", *load]


def preload(server, args):
    proc = subprocess.run(bench_argv(args, server, "--ratio", "1:0", "--key-pattern", "sequential", "--requests",
                                     str(KEYS), "--pipeline", "16"),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"preloading {server.kind} failed: {proc.stderr.strip()}")
    if (keys := dbsize(server.port)) != KEYS:
        raise RuntimeError(f"{server.kind} holds {keys} keys after the preload, not {KEYS}")


def run_load(server, args, ratio, pipeline, requests, tracking, workdir):
    """One measured strata-bench run against `server`: its figures, or {"problem": why}."""
    json_path = os.path.join(workdir, "run.json")
    if os.path.exists(json_path):
        os.unlink(json_path)
    argv = bench_argv(args, server, "--ratio", ratio, "--key-pattern", "uniform", "--pipeline", str(pipeline),
                      "--requests", str(requests), "--resp", "3", "--json", json_path,
                      *(["--tracking"] if tracking else []))
    proc, wall, user, system, bench_cpu = measured_run(server, argv, RUN_TIMEOUT)
    cpu = user + system
    if server.proc.poll() is not None:
        return {"problem": f"the server exited with {server.proc.returncode} during the run"}
    if proc.returncode != 0 or not os.path.exists(json_path):
        return {"problem": f"exit {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()[-500:]}"}
    with open(json_path) as f:
        report = json.load(f)
    if report["requests"] != requests or report["errors"] != 0 or report["misses"] != 0:
        return {"problem": f"{report['requests']} replies of {requests}, {report['errors']} errors "
                           f"({report['first_error']}), {report['misses']} misses"}
    if tracking and report["sets"] >= MIN_SETS_FOR_AN_INVALIDATION and report["invalidations"] == 0:
        return {"problem": f"no invalidation push in a tracking run with {report['sets']} SETs"}
    if not tracking and report["invalidations"] + report["other_pushes"] > 0:
        return {"problem": f"{report['invalidations']} invalidations without tracking"}
    return {"ops": report["ops_per_sec"], "cpu_per_m": cpu / requests * 1e6, "user_per_m": user / requests * 1e6,
            "server_busy": 100 * cpu / wall, "bench_busy": 100 * bench_cpu / wall,
            "invalidations": report["invalidations"],
            "per_set": report["invalidations"] / report["sets"] if report["sets"] else 0.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--bench", default=str(ROOT / "build" / "strata-bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--ratios", default="1:10,0:1", help="SET:GET mixes, comma-separated (default 1:10,0:1)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every request count (e.g. 0.1 to try it out)")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    loads = [(ratio, p, max(10_000, int(REQUESTS[p] * args.scale))) for ratio in args.ratios.split(",")
             for p in PIPELINES]

    load_before = os.getloadavg()[0]
    runs = {}      # (kind, ratio, pipeline, tracking) -> {round: figures}
    problems = []  # (round, kind, ratio, pipeline, tracking, why)
    with tempfile.TemporaryDirectory() as workdir:
        # Copies: a rebuild of build/ during the run must not change what is measured.
        for name in ("strata", "bench"):
            copy = os.path.join(workdir, os.path.basename(getattr(args, name)))
            shutil.copy2(getattr(args, name), copy)
            setattr(args, name, copy)
        for round_index in range(args.rounds):
            kinds = ("strata", "redis") if round_index % 2 == 0 else ("redis", "strata")
            settings = (False, True) if round_index % 2 == 0 else (True, False)
            for kind in kinds:
                for ratio, pipeline, requests in loads:
                    for tracking in settings:
                        server = Server(kind, args.strata, args.server_core, workdir)
                        try:
                            preload(server, args)
                            r = run_load(server, args, ratio, pipeline, requests, tracking, workdir)
                        finally:
                            server.stop()
                        if "problem" in r:
                            problems.append((round_index + 1, kind, ratio, pipeline, tracking, r["problem"]))
                        else:
                            runs.setdefault((kind, ratio, pipeline, tracking), {})[round_index] = r
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    def median(kind, load, tracking, key):
        got = runs.get((kind, *load, tracking), {})
        return statistics.median(r[key] for r in got.values()) if got else float("nan")

    def cost(kind, load, key):
        """Median over the rounds of on/off, from the rounds where both runs succeeded."""
        on, off = runs.get((kind, *load, True), {}), runs.get((kind, *load, False), {})
        ratios = [on[i][key] / off[i][key] for i in on if i in off and off[i][key]]
        return statistics.median(ratios) if ratios else float("nan")

    def ratio_cells(figure):
        return "".join(f"{figure(key):>10.3f}x" if key in RATIO_COLUMNS else f"{'':>11}" for key, _, _ in COLUMNS)

    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    print(f"\nCLIENT TRACKING cost, strata (--io-threads 1) vs redis-server {version}: {args.clients} clients, "
          f"{KEYS} preloaded keys drawn uniformly, {DATA_SIZE}-byte values, RESP3, median of {args.rounds} rounds; "
          f"servers on core {args.server_core}, strata-bench on core {args.client_core}; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} cores)\n")
    header = (f"{'SET:GET':<8}{'pipeline':>8}  {'server':<13}{'tracking':<9}"
              + "".join(f"{label:>11}" for _, label, _ in COLUMNS))
    print(header)
    print("-" * len(header))
    for ratio, pipeline, requests in loads:
        load = (ratio, pipeline)
        lead = f"{ratio:<8}{pipeline:>8}  "
        for kind in ("strata", "redis"):
            for tracking in (False, True):
                print(f"{lead}{kind:<13}{'on' if tracking else 'off':<9}"
                      + "".join(f"{fmt.format(median(kind, load, tracking, key)):>11}" for key, _, fmt in COLUMNS))
            print(f"{lead}{kind:<13}{'on/off':<9}" + ratio_cells(lambda key, kind=kind: cost(kind, load, key)))
        for label, tracking in (("off", False), ("on", True)):
            print(f"{lead}{'strata/redis':<13}{label:<9}" + ratio_cells(
                lambda key, tracking=tracking: median("strata", load, tracking, key) / median("redis", load, tracking, key)))
        print(f"{lead}{'strata/redis':<13}{'on/off':<9}"
              + ratio_cells(lambda key: cost("strata", load, key) / cost("redis", load, key)))
        print(f"{'':<18}({requests} requests per run)")
    print(f"\nTarget: strata's tracking/no-tracking cpu s/M <= {TARGET:.2f}:")
    for ratio, pipeline, _ in loads:
        figure = cost("strata", (ratio, pipeline), "cpu_per_m")
        print(f"  SET:GET {ratio}, pipeline {pipeline}: {figure:.3f} ({'met' if figure <= TARGET else 'NOT met'}); "
              f"redis {cost('redis', (ratio, pipeline), 'cpu_per_m'):.3f}")
    if problems:
        print("\nRuns that failed or were wrong (left out of the figures):")
        for round_number, kind, ratio, pipeline, tracking, why in problems:
            print(f"  round {round_number}, {kind}, SET:GET {ratio}, pipeline {pipeline}, "
                  f"tracking {'on' if tracking else 'off'}: {why}")


if __name__ == "__main__":
    main()

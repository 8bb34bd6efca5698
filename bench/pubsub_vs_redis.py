#!/usr/bin/python3
"""Pub/sub: strata vs Debian's redis-server, side by side, on the same load.

Each server runs pinned to one core (strata with --io-threads 1, redis without persistence),
build/strata-bench (one thread) to the other. For 1, 10 and 100 subscribers, with the publishers
at pipeline 16 and at pipeline 1, strata-bench --pubsub-subscribers opens the subscribers (SUBSCRIBE
to one channel; the load starts once every subscription is confirmed), then --clients publishers
(default 10) send a fixed number of PUBLISHes of --data-size bytes (default 64), each stamped with
its send time (CLOCK_MONOTONIC) and its publisher's sequence; every subscriber parses every
message. Both servers get the same counts. Rounds alternate the two servers so drift on this
shared machine hits both alike; each figure is the median over the rounds.

Printed per (subscribers, pipeline): a row for strata, one for redis, and their ratio
strata/redis (throughput: higher is better; latency and CPU: lower is better):
  publish/s     PUBLISHes answered per second (first send to last reply)
  deliver/s     messages received by all the subscribers per second (first send to last delivery)
  p50 p99 max   delivery latency in ms: from the write of the PUBLISH's batch to the read that
                brought the message to its subscriber (max: the median of the rounds' maxima)
  cpu s/M       the server's CPU seconds (utime+stime from /proc/PID/stat around the run) per
                million messages published
  srv %, bench %  the server's and strata-bench's CPU over the run's wall time: a side near 100%
                was the bottleneck. With 100 subscribers strata-bench reads 100 messages per
                PUBLISH on its one core, so it may be the limit for both servers, and then the
                throughput ratio says little and cpu s/M is the comparison. On a machine busy
                with other work both stay well under 100% (the rest is waiting for the core),
                so the header gives the load average before and after the run.

strata-bench checks that every message reached every subscriber, in each publisher's order, and
that nothing else came; a run where it did not (or that failed) is listed after the table with
strata-bench's own words, and its figures are left out.

Only 127.0.0.1 is used; every process started here is stopped by its PID; each run has a time
limit. Takes about --rounds x 1 minute.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from benchlib import measured_run
from vs_redis import ROOT, Server

# A run takes a few seconds; this only keeps a hung strata-bench from hanging the script.
RUN_TIMEOUT = 300
CHANNEL = "bench:pubsub"
SUBSCRIBER_COUNTS = (1, 10, 100)
PIPELINES = (16, 1)
# PUBLISHes per run at pipeline 16 and at pipeline 1, per subscriber count: a few seconds each on
# this VM for either server (the fan-out to 100 subscribers costs the most, pipeline 1 a round
# trip per message).
MESSAGES = {(1, 16): 1_000_000, (10, 16): 400_000, (100, 16): 60_000,
            (1, 1): 150_000, (10, 1): 60_000, (100, 1): 15_000}
# (key, column header, format); the figures of one run, and how their ratio reads.
COLUMNS = (("publish", "publish/s", "{:.0f}"), ("deliver", "deliver/s", "{:.0f}"), ("p50", "p50 ms", "{:.3f}"),
           ("p99", "p99 ms", "{:.3f}"), ("max", "max ms", "{:.2f}"), ("cpu_per_m", "cpu s/M", "{:.2f}"),
           ("server_busy", "srv %", "{:.0f}"), ("bench_busy", "bench %", "{:.0f}"))


def run_load(server, args, subscribers, pipeline, messages, workdir):
    """One strata-bench pub/sub run against `server`: its figures, or {"problem": why}."""
    json_path = os.path.join(workdir, f"{server.kind}-{subscribers}-{pipeline}.json")
    if os.path.exists(json_path):
        os.unlink(json_path)
    argv = ["taskset", "-c", str(args.client_core), args.bench, "--host", "127.0.0.1", "--port", str(server.port),
            "--threads", "1", "--clients", str(args.clients), "--pipeline", str(pipeline), "--requests", str(messages),
            "--data-size", str(args.data_size), "--pubsub-subscribers", str(subscribers), "--pubsub-channel", CHANNEL,
            "--json", json_path]
    proc, wall, user, system, bench_cpu = measured_run(server, argv, RUN_TIMEOUT)
    cpu = user + system
    if proc.returncode != 0 or not os.path.exists(json_path):
        return {"problem": f"exit {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()[-500:]}"}
    with open(json_path) as f:
        report = json.load(f)
    pubsub = report["pubsub"]
    latency = pubsub["latency_us"]
    return {"publish": report["ops_per_sec"], "deliver": pubsub["delivered_per_sec"], "p50": latency["p50"] / 1000,
            "p99": latency["p99"] / 1000, "max": latency["max"] / 1000,
            "cpu_per_m": cpu / pubsub["published"] * 1e6, "server_busy": 100 * cpu / wall,
            "bench_busy": 100 * bench_cpu / wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--bench", default=str(ROOT / "build" / "strata-bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=10, help="publisher connections")
    parser.add_argument("--data-size", type=int, default=64, help="bytes per message")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every message count (e.g. 0.1 to try it out)")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    args.strata = os.path.abspath(args.strata)  # the servers run in a scratch directory
    args.bench = os.path.abspath(args.bench)
    loads = [(s, p, max(1000, int(MESSAGES[(s, p)] * args.scale))) for s in SUBSCRIBER_COUNTS for p in PIPELINES]

    load_before = os.getloadavg()[0]
    results = {}   # (kind, subscribers, pipeline) -> [figures of each round]
    problems = []  # (round, kind, subscribers, pipeline, why)
    with tempfile.TemporaryDirectory() as workdir:
        for round_index in range(args.rounds):
            order = ("strata", "redis") if round_index % 2 == 0 else ("redis", "strata")
            for kind in order:
                server = Server(kind, args.strata, args.server_core, workdir)
                try:
                    for subscribers, pipeline, messages in loads:
                        r = run_load(server, args, subscribers, pipeline, messages, workdir)
                        if "problem" in r:
                            problems.append((round_index + 1, kind, subscribers, pipeline, r["problem"]))
                        else:
                            results.setdefault((kind, subscribers, pipeline), []).append(r)
                finally:
                    server.stop()
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    def median(kind, subscribers, pipeline, key):
        runs = results.get((kind, subscribers, pipeline), [])
        return statistics.median(r[key] for r in runs) if runs else float("nan")

    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    print(f"\nstrata vs redis-server {version} — pub/sub, {args.clients} publishers, {args.data_size}-byte messages, "
          f"median of {args.rounds} rounds, servers on core {args.server_core}, strata-bench on core "
          f"{args.client_core}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          f"({os.cpu_count()} cores)\n")
    header = f"{'subs':>4} {'pipeline':>8}  {'server':<13}" + "".join(f"{label:>11}" for _, label, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    for subscribers, pipeline, messages in loads:
        figures = {kind: {key: median(kind, subscribers, pipeline, key) for key, _, _ in COLUMNS}
                   for kind in ("strata", "redis")}
        for kind in ("strata", "redis"):
            print(f"{subscribers:>4} {pipeline:>8}  {kind:<13}"
                  + "".join(f"{fmt.format(figures[kind][key]):>11}" for key, _, fmt in COLUMNS))
        ratios = []
        for key, _, _ in COLUMNS:
            s, r = figures["strata"][key], figures["redis"][key]
            ratios.append(f"{s / r:>10.2f}x" if r else f"{'-':>11}")
        print(f"{subscribers:>4} {pipeline:>8}  {'strata/redis':<13}" + "".join(ratios))
        print(f"{'':>4} {'':>8}  ({messages} messages per run)")
    if problems:
        print("\nRuns that did not deliver every message in order, or failed (left out of the figures):")
        for round_number, kind, subscribers, pipeline, why in problems:
            print(f"  round {round_number}, {kind}, {subscribers} subscribers, pipeline {pipeline}: {why}")


if __name__ == "__main__":
    main()

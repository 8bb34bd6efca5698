#!/usr/bin/python3
"""Instructions per request on strata's command path, under callgrind: the figure behind "GET and
SET stay as cheap as they are" and behind the cost of CLIENT TRACKING per GET. Each given build
runs each load once; builds side by side make a before/after comparison (--builds build,OTHER).

Why instructions: this VM has no hardware counters and its CPU time is noisy; callgrind counts
every instruction the server runs, so a 1% change is real. (Cache misses are not in the count:
CPU time, bench/vs-redis.sh and bench/tracking-cost.sh, is still the figure that counts.)

Loads (build/strata-bench, one thread; strata with --io-threads 1 under valgrind):
  getset        SET:GET 1:1 at pipeline 16, 10 clients, redis-benchmark-like random keys
  get           GET only at pipeline 16, 50 RESP3 clients, over 100,000 preloaded keys
  get-tracking  the same with CLIENT TRACKING on for every client
The counters are zeroed (callgrind_control --zero) after a warm-up of the same load, so only the
measured requests count: per request = the I/O thread's instructions over the measured run /
requests. (Threads are counted apart: the main thread's cron runs per second, not per request,
and valgrind's slowdown would charge a run that took longer with more of it.)

Only 127.0.0.1 is used; the servers started here are stopped by their PID; every run has a time
limit. Takes about a minute per build and load.
"""
import argparse
import pathlib
import shlex
import subprocess
import sys
import tempfile

from benchlib import PinnedServer

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH_ARGS = []  # --bench-args, for every strata-bench run
RUN_TIMEOUT = 600  # seconds per load-generator run (the server runs under valgrind)
KEYS = 100_000
LOADS = {
    "getset": dict(preload=False, warmup=50_000, measured=300_000,
                   argv=["--ratio", "1:1", "--pipeline", "16", "--clients", "10"]),
    "get": dict(preload=True, warmup=100_000, measured=400_000,
                argv=["--ratio", "0:1", "--key-pattern", "uniform", "--pipeline", "16", "--clients", "50",
                      "--resp", "3", "--key-min", "0", "--key-max", str(KEYS - 1), "--data-size", "32"]),
}
LOADS["get-tracking"] = dict(LOADS["get"], argv=[*LOADS["get"]["argv"], "--tracking"])


def run_bench(bench, port, core, argv, requests):
    proc = subprocess.run(["taskset", "-c", str(core), bench, "--host", "127.0.0.1", "--port", str(port),
                           "--threads", "1", "--requests", str(requests), *argv, *BENCH_ARGS],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"strata-bench failed: {proc.stderr.strip()[-500:]}")


def instructions_per_request(build, load, args, workdir):
    spec = LOADS[load]
    out = pathlib.Path(tempfile.mkdtemp(dir=workdir)) / f"callgrind.{load}"
    server = PinnedServer(["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}",
                           str(pathlib.Path(build) / "strata-server"), "--io-threads", "1",
                           *shlex.split(args.server_args)],
                          args.server_core, workdir, f"strata-{load}")
    bench = args.bench
    try:
        if spec["preload"]:
            run_bench(bench, server.port, args.client_core,
                      ["--ratio", "1:0", "--key-pattern", "sequential", "--key-min", "0", "--key-max", str(KEYS - 1),
                       "--data-size", "32", "--pipeline", "16", "--clients", "50"], KEYS)
        # The warm-up runs without tracking: its clients leave, and a table of theirs would be
        # drained by the cron while the measured run goes on.
        warmup_argv = [a for a in spec["argv"] if a != "--tracking"]
        run_bench(bench, server.port, args.client_core, warmup_argv, spec["warmup"])
        subprocess.run(["callgrind_control", "--zero", str(server.proc.pid)], capture_output=True, check=True,
                       timeout=60)
        run_bench(bench, server.port, args.client_core, spec["argv"], spec["measured"])
    finally:
        server.stop()
    # One file per thread (out-01, out-02, ...): the I/O thread is the one that did the work.
    per_thread = []
    for path in out.parent.glob(out.name + "-*"):
        for line in path.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                per_thread.append(int(line.split()[1]))
                break
    if not per_thread:
        raise RuntimeError(f"no callgrind totals for {out}")
    return max(per_thread) / spec["measured"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", default="build", help="build directories, comma-separated (default build)")
    parser.add_argument("--bench", default=str(ROOT / "build" / "strata-bench"),
                        help="the load generator, the same for every build")
    parser.add_argument("--loads", default=",".join(LOADS), help=f"comma-separated, of {', '.join(LOADS)}")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--server-args", default="",
                        help="more strata-server directives for every run, e.g. '--latency-tracking no'")
    parser.add_argument("--bench-args", default="",
                        help="more strata-bench options for every run, e.g. '--auth app:secret' (an ACL user)")
    args = parser.parse_args()
    BENCH_ARGS.extend(shlex.split(args.bench_args))
    builds = [str(pathlib.Path(b) if pathlib.Path(b).is_absolute() else ROOT / b) for b in args.builds.split(",")]
    loads = args.loads.split(",")
    for load in loads:
        if load not in LOADS:
            sys.exit(f"unknown load {load!r}")
    print("Instructions per request (callgrind, strata --io-threads 1, all threads, after a warm-up)")
    print(f"server directives: {args.server_args or '(defaults)'}\n")
    print(f"{'build':<40}" + "".join(f"{load:>14}" for load in loads))
    with tempfile.TemporaryDirectory() as workdir:
        for build in builds:
            cells = []
            for load in loads:
                try:
                    cells.append(f"{instructions_per_request(build, load, args, workdir):>14.0f}")
                except RuntimeError as e:  # an older build may lack a feature (CLIENT TRACKING)
                    print(f"{build}, {load}: {e}", file=sys.stderr)
                    cells.append(f"{'n/a':>14}")
            print(f"{build:<40}" + "".join(cells), flush=True)
    if "get" in loads and "get-tracking" in loads:
        print("\nget-tracking - get: what remembering a tracked read costs, in instructions per GET")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""What observability costs on the command path (issue: operations), strata and redis-server side by
side on bench/vs_redis.py's load (redis-benchmark SET and GET, 50 clients, 32-byte values).

Configurations, all started fresh per round and run at once, each load run on each of them in
turn (the order alternating):
  strata-off      latency-tracking no, no key families (the path with everything off)
  strata          strata's defaults (latency-tracking yes, no key families)
  strata-on       latency-tracking yes (the default) and 10 key families, one of which
                  ("key:*", the benchmark's keys) every request's key belongs to; three others
                  start with the same byte, so classifying a key tries four families before it
                  matches (a key found is classified once: its entry remembers its family)
  strata-monitor  strata's defaults with one MONITOR client attached (redis-cli, reading everything)
  strata-acl      strata's defaults, the load run by an ACL user of 20 rules (ACL_USER: 7 key
                  patterns, the benchmark's last; channels; categories and commands taken away)
  redis           Debian's redis-server, defaults (latency tracking on)
  redis-monitor   the same with one MONITOR client
Printed: ops/s at pipeline 16 and the server's CPU seconds per million requests at pipeline 1 and
16 (utime+stime from /proc/PID/stat), per configuration, then the ratios the issue asks for:
strata-on / strata-off (target: within 3%), strata-acl / strata (target: within 3%), and
MONITOR's extra CPU per request in strata against Redis's (target: no more).

Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from benchlib import PinnedServer
from vs_redis import CLOCK_TICKS, run_load

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAMILIES = ["users", "user:*", "sessions", "session:*", "products", "product:*", "carts", "cart:*",
            "orders", "order:*", "feeds", "feed:*:items", "kv", "kv:*", "kafka", "kafka:*",
            "keys-old", "keyold:*", "bench", "key:*"]


# An application's user: 20 rules, its keys allowed by the last of 7 key patterns.
ACL_USER = ["app", "on", ">secret", "~user:*", "~session:*", "~product:*", "~cart:*", "%R~catalog:*", "%W~audit:*",
            "~key:*", "&events:*", "&news:*", "+@all", "-@dangerous", "-@admin", "-@scripting", "-@blocking",
            "+config|get", "+client|setname", "+info", "-keys"]


class Server(PinnedServer):
    def __init__(self, config, strata, core, workdir):
        if config.startswith("strata"):
            argv = [strata, "--io-threads", "1"]
            if config == "strata-off":
                argv += ["--latency-tracking", "no"]
            elif config == "strata-acl":
                argv += ["--user", *ACL_USER]
            elif config == "strata-on":
                argv += ["--latency-tracking", "yes"]
                for name, glob in zip(FAMILIES[::2], FAMILIES[1::2]):
                    argv += ["--stats-key-family", name, glob]
        else:
            argv = ["/usr/bin/redis-server", "--save", "", "--appendonly", "no", "--dir", workdir]
        super().__init__(argv, core, workdir, config)
        self.bench_args = ["--user", ACL_USER[0], "-a", ACL_USER[2][1:]] if config == "strata-acl" else []
        self.monitor = None
        if config.endswith("-monitor"):
            # The watcher reads on the load generator's core, as a developer's terminal would.
            self.monitor = subprocess.Popen(["taskset", "-c", "1", "redis-cli", "-p", str(self.port), "monitor"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS

    def stop(self):
        if self.monitor is not None:
            self.monitor.terminate()
            self.monitor.wait()
        super().stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests-p1", type=int, default=200000)
    parser.add_argument("--requests-p16", type=int, default=1000000)
    parser.add_argument("--configs", default="strata-off,strata,strata-on,strata-acl,strata-monitor,redis,redis-monitor")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    strata = os.path.abspath(args.strata)
    configs = args.configs.split(",")
    results = {c: {} for c in configs}
    with tempfile.TemporaryDirectory() as workdir:
        for round_index in range(args.rounds):
            # Every configuration's server runs at once (idle but one), and each load runs on
            # them one after the other: the runs compared are seconds apart, so a shared
            # machine's drift over minutes falls on both sides of a ratio.
            servers = {}
            try:
                for config in configs:
                    servers[config] = Server(config, strata, args.server_core, workdir)
                step = 0
                for pipeline, requests in ((1, args.requests_p1), (16, args.requests_p16)):
                    for test in ("set", "get"):
                        order = configs if (round_index + step) % 2 == 0 else list(reversed(configs))
                        step += 1
                        for config in order:
                            r = run_load(servers[config], test, pipeline, requests, 50, args.client_core,
                                         servers[config].bench_args)
                            results[config].setdefault((test, pipeline), []).append(r)
            finally:
                for server in servers.values():
                    server.stop()
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    def median(config, key, metric):
        return statistics.median(r[metric] for r in results[config][key])

    def median_ratio(config, base, key, metric):
        """The median over rounds of each round's ratio (runs of one round are seconds apart)."""
        return statistics.median(a[metric] / b[metric] for a, b in zip(results[config][key], results[base][key]))

    print(f"\nmedian of {args.rounds} rounds (ratios: median of the rounds' ratios); servers on core {args.server_core}, redis-benchmark on core "
          f"{args.client_core}; cpu = server CPU seconds per million requests\n")
    header = f"{'configuration':<16}{'test':<6}{'P16 ops/s':>12}{'P16 cpu':>10}{'P1 cpu':>10}{'P1 user':>10}"
    print(header)
    print("-" * len(header))
    for config in configs:
        for test in ("set", "get"):
            print(f"{config:<16}{test.upper():<6}{median(config, (test, 16), 'ops'):>12.0f}"
                  f"{median(config, (test, 16), 'cpu_per_m'):>10.2f}{median(config, (test, 1), 'cpu_per_m'):>10.2f}"
                  f"{median(config, (test, 1), 'user_per_m'):>10.2f}")
    print()
    def print_ratios(config, base, label):
        for test in ("set", "get"):
            ops = median_ratio(config, base, (test, 16), "ops")
            cpu16 = median_ratio(config, base, (test, 16), "cpu_per_m")
            cpu1 = median_ratio(config, base, (test, 1), "cpu_per_m")
            print(f"{label}, {test.upper()}: P16 ops/s {ops:.3f}, P16 cpu {cpu16:.3f}, P1 cpu {cpu1:.3f}  "
                  f"(target: within 3%)")

    if "strata-on" in configs and "strata-off" in configs:
        print_ratios("strata-on", "strata-off", "tracking+10 families / off")
    if "strata-acl" in configs and "strata" in configs:
        print_ratios("strata-acl", "strata", "ACL user of 20 rules / default user")
    if all(c in configs for c in ("strata-monitor", "redis-monitor", "redis")):
        base = "strata" if "strata" in configs else "strata-off"
        for test in ("set", "get"):
            for pipeline in (1, 16):
                key = (test, pipeline)
                strata_extra = median("strata-monitor", key, "cpu_per_m") - median(base, key, "cpu_per_m")
                redis_extra = median("redis-monitor", key, "cpu_per_m") - median("redis", key, "cpu_per_m")
                print(f"MONITOR's extra CPU s/M req, {test.upper()} P{pipeline}: strata {strata_extra:.2f}, "
                      f"redis {redis_extra:.2f}; with a monitor: strata {median('strata-monitor', key, 'cpu_per_m'):.2f}"
                      f", redis {median('redis-monitor', key, 'cpu_per_m'):.2f}")


if __name__ == "__main__":
    main()

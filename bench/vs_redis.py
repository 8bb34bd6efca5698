#!/usr/bin/python3
"""strata vs Debian's redis-server, side by side, on the same load (issue: foundation benchmark).

Each server runs pinned to one core, redis-benchmark to the other. Rounds alternate the two
servers so drift on this shared machine hits both alike. Printed per metric: strata, redis and
the ratio strata/redis (throughput: higher is better; latency, CPU and bytes: lower is better).

  - SET and GET with 50 clients at pipeline 1 and 16: ops/s, p50 and p99 (ms), and the server's
    CPU seconds per million requests (utime+stime from /proc/PID/stat around the run).
  - Memory: bytes per key after loading a data set through redis-cli --pipe (used_memory and RSS,
    each minus the empty server's). Data sets (--memory): strings (1,000,000 keys with 32-byte
    values), lists10 (100,000 lists of 10 elements of 8-12 bytes), list1m (one list of 1,000,000
    such elements; bytes per element), hashes10 (100,000 hashes of 10 short fields), sets10int and
    sets10str (100,000 sets of 10 small integers, of 10 short strings), zsets10 (100,000 sorted
    sets of 10 short members) and zset1m (one sorted set of 1,000,000 members; bytes per member).
  --tests picks the redis-benchmark tests (default set,get; e.g. lpush,rpush,lpop,rpop,lrange_100).
  --tls runs the loads over TLS instead (issue 14): both servers get a tls-port with a certificate
    made here by openssl (RSA 2048, no client certificates), redis-benchmark connects with --tls,
    and the memory figures are skipped unless --memory names data sets.

Two CPU figures per run: "cpu" (user + system) and "user" alone, per million requests. At
pipeline 1 the kernel's loopback TCP work (one read and one write per request, the same syscalls
for both servers) is most of "cpu", so "user" is where the servers' own code shows. "core busy %"
is the server's CPU over the run's wall time: a server well under 100% at pipeline 16 was not
the bottleneck (redis-benchmark's one core was), and then its ops/s says little and its CPU per
request is the comparison.

Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""
import argparse
import csv
import io
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import PinnedServer, free_port

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Server(PinnedServer):
    """strata (--io-threads 1) or Debian's redis-server (no persistence), pinned to one core."""

    def __init__(self, kind, strata_binary, server_core, workdir, tls_files=None):
        self.kind = kind
        if kind == "strata":
            argv = [strata_binary, "--io-threads", "1"]
        else:
            argv = ["/usr/bin/redis-server", "--save", "", "--appendonly", "no", "--dir", workdir]
        # The loads go to the TLS port when there is one; readiness and INFO use the plain port.
        self.load_port = None
        if tls_files is not None:
            self.load_port = free_port()
            argv += ["--tls-port", str(self.load_port), "--tls-cert-file", tls_files["cert"],
                     "--tls-key-file", tls_files["key"], "--tls-ca-cert-file", tls_files["ca"],
                     "--tls-auth-clients", "no"]
        super().__init__(argv, server_core, workdir, kind)
        if self.load_port is None:
            self.load_port = self.port

    def cpu_seconds(self):
        """(user, system) CPU seconds the server has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def info(self, field):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "info", "memory"], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":", 1)[1])
        raise KeyError(field)


def make_tls_files(workdir):
    """A CA and a server certificate for 127.0.0.1 signed by it, made with openssl in `workdir`."""
    files = {name: os.path.join(workdir, f"{name}.pem") for name in ("ca", "ca-key", "cert", "key")}
    def openssl(*argv):
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    openssl("req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-days", "2", "-subj", "/CN=bench CA",
            "-keyout", files["ca-key"], "-out", files["ca"])
    csr = os.path.join(workdir, "server.csr")
    openssl("req", "-new", "-nodes", "-newkey", "rsa:2048", "-subj", "/CN=127.0.0.1", "-keyout", files["key"],
            "-out", csr)
    extensions = os.path.join(workdir, "san.ext")
    with open(extensions, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", csr, "-CA", files["ca"], "-CAkey", files["ca-key"], "-CAcreateserial",
            "-days", "2", "-extfile", extensions, "-out", files["cert"])
    return files


def run_load(server, test, pipeline, requests, clients, client_core, extra_args=()):
    user_before, system_before = server.cpu_seconds()
    started = time.monotonic()
    out = subprocess.run(
        ["taskset", "-c", str(client_core), "redis-benchmark", "-h", "127.0.0.1", "-p", str(server.load_port),
         "-t", test, "-n", str(requests), "-c", str(clients), "-P", str(pipeline), "-d", "32",
         "-r", "100000", "--csv", "-q", *extra_args],
        capture_output=True, text=True, check=True, timeout=300).stdout
    wall = time.monotonic() - started
    user_after, system_after = server.cpu_seconds()
    user, cpu = user_after - user_before, (user_after - user_before) + (system_after - system_before)
    rows = list(csv.DictReader(io.StringIO(out)))
    # lrange_N first runs an LPUSH fill ("LPUSH (needed to benchmark LRANGE)"): take the test's own row.
    row = next(r for r in rows if r["test"].split()[0] == test.upper())
    return {"ops": float(row["rps"]), "p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"]),
            "cpu_per_m": cpu / requests * 1e6, "user_per_m": user / requests * 1e6, "busy": 100 * cpu / wall}


def resp_command(*args):
    out = b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


# Each data set: (how many "keys" its figure is per, a writer of its mass-insert file).
def write_strings(f):
    value = b"v" * 32
    for i in range(1000000):
        f.write(resp_command(b"SET", b"key:%012d" % i, value))


def write_lists10(f):
    for i in range(100000):
        f.write(resp_command(b"RPUSH", b"list:%09d" % i, *[b"item:%d" % (i * 10 + j) for j in range(10)]))


def write_list1m(f):
    for i in range(0, 1000000, 100):
        f.write(resp_command(b"RPUSH", b"biglist", *[b"item:%d" % j for j in range(i, i + 100)]))


def write_hashes10(f):
    for i in range(100000):
        f.write(resp_command(b"HSET", b"hash:%09d" % i, *[x for j in range(10) for x in (b"field%d" % j, b"v%d" % (i + j))]))


def write_sets10int(f):
    for i in range(100000):
        f.write(resp_command(b"SADD", b"iset:%09d" % i, *[b"%d" % ((i + j) % 1000) for j in range(10)]))


def write_sets10str(f):
    for i in range(100000):
        f.write(resp_command(b"SADD", b"sset:%09d" % i, *[b"tag:%d" % ((i + j) % 1000) for j in range(10)]))


def write_zsets10(f):
    for i in range(100000):
        f.write(resp_command(b"ZADD", b"zset:%09d" % i,
                             *[x for j in range(10) for x in (b"%d" % (i + j), b"member:%d" % ((i + j) % 1000))]))


def write_zset1m(f):
    for i in range(0, 1000000, 100):
        f.write(resp_command(b"ZADD", b"bigzset", *[x for j in range(i, i + 100) for x in (b"%d" % j, b"member:%d" % j)]))


DATA_SETS = {"strings": (1000000, write_strings), "lists10": (100000, write_lists10),
             "list1m": (1000000, write_list1m), "hashes10": (100000, write_hashes10),
             "sets10int": (100000, write_sets10int), "sets10str": (100000, write_sets10str),
             "zsets10": (100000, write_zsets10), "zset1m": (1000000, write_zset1m)}


def write_mass_insert(path, data_set):
    with open(path, "wb") as f:
        DATA_SETS[data_set][1](f)


def memory_per_key(server, keys, insert_file):
    time.sleep(0.3)
    used0, rss0 = server.info("used_memory"), server.rss_bytes()
    with open(insert_file, "rb") as f:
        out = subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=f, capture_output=True,
                             text=True, timeout=600)
    if "errors: 0" not in out.stdout:
        sys.exit(f"mass insert into {server.kind} failed: {out.stdout} {out.stderr}")
    time.sleep(0.5)
    return {"used_per_key": (server.info("used_memory") - used0) / keys,
            "rss_per_key": (server.rss_bytes() - rss0) / keys}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests-p1", type=int, default=200000)
    parser.add_argument("--requests-p16", type=int, default=1000000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--tests", default="set,get", help="redis-benchmark -t tests, comma-separated")
    parser.add_argument("--tls", action="store_true", help="run the loads over TLS (see above)")
    parser.add_argument("--memory", default=None, help="data sets for the memory figures: "
                        + ",".join(DATA_SETS) + " (comma-separated, or none)")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    args.strata = os.path.abspath(args.strata)  # the servers run in a scratch directory
    if args.memory is None:
        args.memory = "none" if args.tls else "strings"

    results = {kind: {} for kind in ("strata", "redis")}
    with tempfile.TemporaryDirectory() as workdir:
        tls_files = make_tls_files(workdir) if args.tls else None
        load_args = ["--tls", "--cacert", tls_files["ca"]] if args.tls else []
        for round_index in range(args.rounds):
            order = ("strata", "redis") if round_index % 2 == 0 else ("redis", "strata")
            for kind in order:
                server = Server(kind, args.strata, args.server_core, workdir, tls_files)
                try:
                    for pipeline, requests in ((1, args.requests_p1), (16, args.requests_p16)):
                        for test in args.tests.split(","):
                            r = run_load(server, test, pipeline, requests, args.clients, args.client_core, load_args)
                            results[kind].setdefault((test, pipeline), []).append(r)
                finally:
                    server.stop()
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

        memory = {}
        for data_set in [d for d in args.memory.split(",") if d and d != "none"]:
            insert_file = os.path.join(workdir, f"{data_set}.resp")
            write_mass_insert(insert_file, data_set)
            for kind in ("strata", "redis"):
                server = Server(kind, args.strata, args.server_core, workdir)
                try:
                    memory[(data_set, kind)] = memory_per_key(server, DATA_SETS[data_set][0], insert_file)
                finally:
                    server.stop()
    def median(kind, key, metric):
        return statistics.median(r[metric] for r in results[kind][key])

    print(f"\nstrata vs redis-server {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}"
          f" — {args.clients} clients{' over TLS' if args.tls else ''}, 32-byte values, median of {args.rounds} rounds, servers on core "
          f"{args.server_core}, redis-benchmark on core {args.client_core}\n")
    header = f"{'test':<10}{'pipeline':>9}  {'metric':<14}{'strata':>14}{'redis':>14}{'ratio':>9}"
    print(header)
    print("-" * len(header))
    for (test, pipeline) in results["strata"]:
        for metric, label, fmt in (("ops", "ops/s", "{:.0f}"), ("p50", "p50 ms", "{:.3f}"), ("p99", "p99 ms", "{:.3f}"),
                                   ("cpu_per_m", "cpu s/M req", "{:.2f}"), ("user_per_m", "user s/M req", "{:.2f}"),
                                   ("busy", "core busy %", "{:.0f}")):
            s = median("strata", (test, pipeline), metric)
            r = median("redis", (test, pipeline), metric)
            ratio = s / r if r else float("nan")
            print(f"{test.upper():<10}{pipeline:>9}  {label:<14}{fmt.format(s):>14}{fmt.format(r):>14}{ratio:>9.2f}")
    print()
    for data_set in [d for d in args.memory.split(",") if d and d != "none"]:
        for metric, label in (("used_per_key", "used_memory bytes/key"), ("rss_per_key", "RSS bytes/key")):
            s, r = memory[(data_set, "strata")][metric], memory[(data_set, "redis")][metric]
            print(f"{data_set + ' ' + label:<35}{s:>14.1f}{r:>14.1f}{s / r:>9.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Cold-miss storm: strata's read-through loaders vs the classic cache-aside loop in the client.

N distinct cold keys (product:1..N, default 10,000) are read by C clients (default 50) with Zipf
popularity (default zipf:0.99, product:1 hottest), a fixed number of GETs (default 200,000), on an
EMPTY cache, against the same database, once for SQLite and once for PostgreSQL:

  (a) strata + loader: build/strata-server --io-threads 1 with
          source db <url>
          loader product:{id} db "SELECT name FROM products WHERE id = :id"
      and strata-bench GET-only (--ratio 0:1). Source queries: the loader's own count
      (LOADER STATS product:{id} source_queries).
  (b) redis cache-aside: Debian's redis-server (no persistence) and strata-bench --cache-aside
      --source <url> --source-query <same query>: on nil the client queries the database itself
      (through the same source code, loaders/, and the same pool size as the server), then SETs.
      Source queries: counted by strata-bench (source_queries).

For PostgreSQL, pg_stat_statements' execution count of the query is printed too, as the
database's own view of how many queries it ran.

Pinning (taskset CPU lists): the cache server on --server-core (0), strata-bench on --bench-core
(1); the PostgreSQL server shares the cache server's core unless --db-core says otherwise. Where
the database client work runs follows the architecture: strata runs its source threads (SQLite
readers, the libpq loop) on its own core, the cache-aside application on the client's core.
Besides the table, each run's line gives the query latency as each side measured it (strata's
loader latency from LOADER STATS; strata-bench's from handing a query to the source until the
answer is back in its loop), to tell queueing for the database from the rest.

Printed, per source: source queries, distinct keys (DBSIZE after the run: every id exists, so every
key read ends up cached), queries per distinct key, lookups/s (application requests per second:
GETs for strata; for cache-aside one lookup is a GET, plus on a miss the query and the SET), and
the lookup latency p50/p99 (for strata, the GET; for cache-aside, from the GET's send to the SET's
reply), with the ratios strata/redis. Each run starts fresh servers. Nothing about time is
asserted. Everything is on 127.0.0.1, every run is bounded in time, every process started is
stopped by its PID, and the PostgreSQL harness is destroyed.
"""
import argparse
import json
import os
import pathlib
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile

from benchlib import PinnedServer, free_port

ROOT = pathlib.Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "pg_harness" / "pg-harness.sh"
PSQL = "/usr/bin/psql"
REDIS_SERVER = "/usr/bin/redis-server"
QUERY = "SELECT name FROM products WHERE id = :id"
# Any single run is far shorter; this only keeps a hung process from hanging the script.
RUN_TIMEOUT = 300


def product_name(i):
    """The value of product i: deterministic, about 32 bytes, the same in both databases."""
    return f"product {i:05d} " + "abcdefghijklmnopqrstuvwxyz"[: 32 - 14]


class Resp:
    """A minimal RESP client for INFO/LOADER/DBSIZE/GET (no dependency on redis-py)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest.decode() if kind == b"+" else int(rest)
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk
            value, self.buf = self.buf[:n], self.buf[n + 2:]
            return value.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()


class Postgres:
    """A throwaway PostgreSQL (tests/pg_harness/pg-harness.sh) on loopback, pinned with taskset."""

    def __init__(self, core):
        # Its own directory directly under the temporary root: as root, the harness hands it to
        # the postgres user, who must be able to reach it.
        self.dir = tempfile.mkdtemp(prefix="strata-cold-storm-pg-")
        self.port = free_port()
        out = subprocess.run(["taskset", "-c", str(core), str(HARNESS), "start", self.dir, str(self.port)],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            self.destroy()
            raise RuntimeError(f"pg-harness start failed ({out.returncode}): {out.stderr.strip()}")
        self.url = out.stdout.strip().splitlines()[-1]

    def sql(self, statement, stdin=None):
        out = subprocess.run([PSQL, self.url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement],
                             input=stdin, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"psql: {out.stderr.strip()}")
        return out.stdout.strip()

    def query_calls(self):
        return int(self.sql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                            "WHERE query LIKE '%FROM products WHERE id%' AND query NOT LIKE '%pg_stat_statements%'"))

    def destroy(self):
        subprocess.run([str(HARNESS), "destroy", self.dir], capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


def make_sqlite(path, keys):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    db.executemany("INSERT INTO products VALUES (?, ?)", ((i, product_name(i)) for i in range(1, keys + 1)))
    db.commit()
    db.close()


def fill_postgres(pg, keys):
    pg.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.sql("CREATE TABLE products (id integer PRIMARY KEY, name text NOT NULL)")
    rows = "".join(f"{i}\t{product_name(i)}\n" for i in range(1, keys + 1))
    pg.sql("COPY products (id, name) FROM STDIN", stdin=rows)
    pg.sql("VACUUM ANALYZE products")
    # Both runs find the table in shared buffers: neither pays for the first read from disk.
    pg.sql("SELECT sum(length(name)) FROM products")


def run_bench(args, port, extra, json_path):
    argv = ["taskset", "-c", str(args.bench_core), str(args.build / "strata-bench"), "--host", "127.0.0.1",
            "--port", str(port), "--threads", "1", "--clients", str(args.clients), "--pipeline", "1",
            "--requests", str(args.requests), "--ratio", "0:1", "--key-prefix", "product:", "--key-min", "1",
            "--key-max", str(args.keys), "--key-pattern", f"zipf:{args.zipf}", "--seed", str(args.seed),
            "--reply-timeout", "10", "--json", str(json_path), *extra]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if out.returncode != 0 or not json_path.exists():
        raise RuntimeError(f"strata-bench failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return json.loads(json_path.read_text())


def sample_values(client, keys):
    """How many of a sample of cached keys hold the database's value (a sanity check, printed)."""
    sample = sorted({1, 2, 3, 10, 100, keys // 2, keys} & set(range(1, keys + 1)))
    cached = [(i, client.call("GET", f"product:{i}")) for i in sample]
    cached = [(i, v) for i, v in cached if v is not None]
    return sum(v == product_name(i) for i, v in cached), len(cached)


def run_strata(args, source_url, workdir, pg, tag):
    conf = pathlib.Path(workdir) / f"strata-{tag}.conf"
    pool = f" pool {args.source_pool}" if args.source_pool else ""
    conf.write_text(f"source db {source_url}{pool}\nloader product:{{id}} db \"{QUERY}\"\n")
    server = PinnedServer([str(args.build / "strata-server"), str(conf), "--io-threads", "1"], args.server_core, workdir,
                    f"strata-{tag}")
    try:
        if pg is not None:
            pg.sql("SELECT pg_stat_statements_reset()")
        report = run_bench(args, server.port, [], pathlib.Path(workdir) / f"strata-{tag}.json")
        client = Resp(server.port)
        raw = client.call("LOADER", "STATS", "product:{id}")
        stats = dict(zip(raw[::2], raw[1::2]))
        distinct = client.call("DBSIZE")
        good, sampled = sample_values(client, args.keys)
        client.close()
    finally:
        server.stop()
    get = report["commands"]["GET"]
    return {
        "queries": int(stats["source_queries"]),
        "distinct": distinct,
        "lookups_per_sec": get["ops_per_sec"],
        "p50": get["latency_us"]["p50"],
        "p99": get["latency_us"]["p99"],
        "commands_per_sec": report["ops_per_sec"],
        "db_calls": pg.query_calls() if pg is not None else None,
        "extra": f"loads {stats['loads']}, coalesced waits {stats['coalesced']}, errors {stats['errors']}, "
                 f"nil replies {report['misses']}, loader query latency p50/p99 {stats['latency_p50_us']}/"
                 f"{stats['latency_p99_us']} us",
        "values": (good, sampled),
    }


def run_redis(args, source_url, workdir, pg, tag):
    server = PinnedServer([REDIS_SERVER, "--save", "", "--appendonly", "no", "--dir", str(workdir)], args.server_core,
                    workdir, f"redis-{tag}")
    try:
        if pg is not None:
            pg.sql("SELECT pg_stat_statements_reset()")
        extra = ["--cache-aside", "--source", source_url, "--source-query", QUERY]
        if args.source_pool:
            extra += ["--source-pool", str(args.source_pool)]
        report = run_bench(args, server.port, extra, pathlib.Path(workdir) / f"redis-{tag}.json")
        client = Resp(server.port)
        distinct = client.call("DBSIZE")
        good, sampled = sample_values(client, args.keys)
        client.close()
    finally:
        server.stop()
    lookups = report["lookups"]
    return {
        "queries": report["source_queries"],
        "distinct": distinct,
        "lookups_per_sec": lookups["ops_per_sec"],
        "p50": lookups["latency_us"]["p50"],
        "p99": lookups["latency_us"]["p99"],
        "commands_per_sec": report["ops_per_sec"],
        "db_calls": pg.query_calls() if pg is not None else None,
        "extra": f"GET p99 {report['commands']['GET']['latency_us']['p99']} us, query latency p50/p99 "
                 f"{report['source']['latency_us']['p50']}/{report['source']['latency_us']['p99']} us, "
                 f"cache-aside SETs {report['cache_aside_sets']}, source errors {report['source']['errors']}",
        "values": (good, sampled),
    }


def median(runs, field):
    values = [r[field] for r in runs if r[field] is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def print_table(title, strata_runs, redis_runs):
    print(f"\n{title}")
    if len(strata_runs) > 1:
        print(f"  (median of {len(strata_runs)} rounds)")
    print(f"  {'':34} {'strata+loader':>14} {'redis aside':>14} {'strata/redis':>13}")
    rows = [
        ("source queries", "queries", "{:.0f}"),
        ("  as PostgreSQL counted them", "db_calls", "{:.0f}"),
        ("distinct keys read (DBSIZE)", "distinct", "{:.0f}"),
        ("lookups/s (app requests/s)", "lookups_per_sec", "{:.0f}"),
        ("lookup p50 (us)", "p50", "{:.0f}"),
        ("lookup p99 (us)", "p99", "{:.0f}"),
        ("server commands/s", "commands_per_sec", "{:.0f}"),
    ]
    for label, field, fmt in rows:
        s, r = median(strata_runs, field), median(redis_runs, field)
        if s is None and r is None:
            continue
        print(f"  {label:34} {fmt.format(s) if s is not None else '-':>14} {fmt.format(r) if r is not None else '-':>14}"
              f" {ratio(s, r):>13}")
    s_q, r_q = median(strata_runs, "queries"), median(redis_runs, "queries")
    s_d, r_d = median(strata_runs, "distinct"), median(redis_runs, "distinct")
    print(f"  {'queries per distinct key':34} {s_q / s_d if s_d else 0:>14.4f} {r_q / r_d if r_d else 0:>14.4f}")
    for name, runs in (("strata", strata_runs), ("redis", redis_runs)):
        for i, run in enumerate(runs):
            good, sampled = run["values"]
            print(f"  {name} round {i + 1}: {run['lookups_per_sec']:.0f} lookups/s, p50 {run['p50']} us, "
                  f"p99 {run['p99']} us, {run['queries']} queries; {run['extra']}; "
                  f"sampled values matching the database {good}/{sampled}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=pathlib.Path,
                        default=pathlib.Path(os.environ.get("STRATA_BUILD", ROOT / "build")),
                        help="build directory with strata-server and strata-bench (default $STRATA_BUILD or build/)")
    parser.add_argument("--keys", type=int, default=10000, help="distinct products (default 10000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--requests", type=int, default=200000, help="GETs per run (default 200000)")
    parser.add_argument("--zipf", type=float, default=0.99, help="Zipf exponent (default 0.99)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source-pool", type=int, default=0,
                        help="database connections of the source, both sides (default: the source's default, 4)")
    parser.add_argument("--sources", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each side per source (medians printed)")
    parser.add_argument("--server-core", default="0", help="taskset CPU list of the cache server (default 0)")
    parser.add_argument("--bench-core", default="1", help="taskset CPU list of strata-bench (default 1)")
    parser.add_argument("--db-core", default=None,
                        help="core of the PostgreSQL server (default: --server-core, shared with the cache server)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (reports, logs)")
    args = parser.parse_args()
    args.build = args.build.resolve()
    if args.db_core is None:
        args.db_core = args.server_core
    for binary in ("strata-server", "strata-bench"):
        if not (args.build / binary).exists():
            sys.exit(f"cold-storm: {args.build / binary} not found (build it, or pass --build DIR)")
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    for s in sources:
        if s not in ("sqlite", "postgresql"):
            sys.exit(f"cold-storm: unknown source {s!r} (sqlite, postgresql)")

    workdir = tempfile.mkdtemp(prefix="strata-cold-storm-")
    pg = None
    try:
        print(f"Cold-miss storm: {args.requests} GETs by {args.clients} clients (1 thread, pipeline 1) over "
              f"product:1..{args.keys}, zipf:{args.zipf} (product:1 hottest), seed {args.seed}, empty caches")
        where = (f"shares core {args.db_core} with the cache server" if args.db_core == args.server_core
                 else f"is on core {args.db_core}")
        print(f"Cache server on core {args.server_core} (strata --io-threads 1 / redis-server), strata-bench on "
              f"core {args.bench_core}; PostgreSQL, when used, {where}.")
        print(f"Query: {QUERY}; source pool: {args.source_pool or 'default (4)'} on both sides. "
              "Cache-aside: the client queries through strata's own source code (loaders/), answers come back "
              "into its epoll loop via an eventfd; each client waits for its query and SET before its next GET.")
        print(f"Binaries: {args.build}")
        for source in sources:
            if source == "sqlite":
                path = pathlib.Path(workdir) / "products.db"
                make_sqlite(path, args.keys)
                url, title, db = f"sqlite:{path}", f"SQLite ({path.name}, {args.keys} rows)", None
            else:
                pg = Postgres(args.db_core)
                fill_postgres(pg, args.keys)
                url, title, db = pg.url, f"PostgreSQL 15 ({pg.url}, {args.keys} rows)", pg
            strata_runs, redis_runs = [], []
            for round_index in range(args.rounds):
                # Alternate who goes first, so drift on a shared machine hits both alike.
                order = [run_strata, run_redis] if round_index % 2 == 0 else [run_redis, run_strata]
                for run in order:
                    result = run(args, url, workdir, db, f"{source}-{round_index}")
                    (strata_runs if run is run_strata else redis_runs).append(result)
            print_table(title, strata_runs, redis_runs)
            if pg is not None:
                pg.destroy()
                pg = None
    finally:
        if pg is not None:
            pg.destroy()
        if args.keep:
            print(f"\nWork directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Transactions and scripts: strata vs Debian's redis-server, side by side, on the same load.

Each server runs pinned to one core (strata with one I/O thread), the load to the other. Rounds
alternate the servers so drift on this shared machine hits both alike. Loads:
  evalsha   redis-benchmark running EVALSHA of a rate limiter (INCR, EXPIRE on the first hit)
            over 100,000 keys, 50 clients, pipeline 1 and 16.
  multi     MULTI / SET / GET / EXEC transactions from 50 connections, each keeping `depth`
            transactions in flight (1 and 16), sent by a raw-socket driver that reads the
            replies by their known length (the driver, not the server, is the cost of parsing).
  lock      redis-py's Lock (SET NX PX to acquire, an EVALSHA to release), 4 threads each
            acquiring and releasing its own lock in a loop.
Printed per load: operations/s (transactions, scripts or lock cycles), the server's CPU seconds
(user+system, and user alone) per million operations from /proc/PID/stat, and its core busy %.
A load generator that saturates its core first (redis-py, the Python driver at depth 1) makes
ops/s a statement about the client: then the CPU per operation is the comparison.

Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""
import argparse
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

from benchlib import PinnedServer
from vs_redis import ROOT, Server

RATE_LIMITER = ("local hits = redis.call('INCR', KEYS[1]) "
                "if hits == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return hits")


def measure(server, run):
    """Runs `run()` -> operations done; returns ops/s and the server's CPU per million ops."""
    user_before, system_before = server.cpu_seconds()
    started = time.monotonic()
    operations = run()
    wall = time.monotonic() - started
    user_after, system_after = server.cpu_seconds()
    user = user_after - user_before
    cpu = user + system_after - system_before
    return {"ops": operations / wall, "cpu_per_m": cpu / operations * 1e6, "user_per_m": user / operations * 1e6,
            "busy": 100 * cpu / wall}


def evalsha_load(server, pipeline, requests, client_core):
    sha = redis.Redis(port=server.port).script_load(RATE_LIMITER)

    def run():
        subprocess.run(["taskset", "-c", str(client_core), "redis-benchmark", "-h", "127.0.0.1", "-p",
                        str(server.port), "-n", str(requests), "-c", "50", "-P", str(pipeline), "-r", "100000", "-q",
                        "EVALSHA", sha, "1", "rate:__rand_int__", "60"],
                       capture_output=True, check=True, timeout=600)
        return requests
    return measure(server, run)


def multi_load(server, depth, transactions, client_core):
    """MULTI/SET/GET/EXEC from 50 sockets, `depth` transactions in flight on each."""
    value = b"v" * 32
    one = (b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$6\r\ntx:key\r\n$32\r\n" + value +
           b"\r\n*2\r\n$3\r\nGET\r\n$6\r\ntx:key\r\n*1\r\n$4\r\nEXEC\r\n")
    reply = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$32\r\n" + value + b"\r\n"
    connections = 50
    per_connection = transactions // connections // depth * depth
    batch = one * depth
    expected = len(reply) * depth

    def run():
        os.sched_setaffinity(0, {client_core})
        selector = selectors.DefaultSelector()
        state = {}
        for _ in range(connections):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            state[s] = [per_connection // depth, 0]  # batches left, reply bytes still due
            selector.register(s, selectors.EVENT_READ)
        for s, st in state.items():
            s.sendall(batch)
            st[0] -= 1
            st[1] = expected
        active = len(state)
        while active:
            for key, _ in selector.select():
                s = key.fileobj
                st = state[s]
                data = s.recv(1 << 20)
                if data[:1] == b"-":
                    raise RuntimeError(data[:200])
                st[1] -= len(data)
                if st[1] == 0:
                    if st[0] == 0:
                        selector.unregister(s)
                        s.close()
                        active -= 1
                    else:
                        s.setblocking(True)
                        s.sendall(batch)
                        s.setblocking(False)
                        st[0] -= 1
                        st[1] = expected
        os.sched_setaffinity(0, set(range(os.cpu_count())))
        return per_connection * connections
    return measure(server, run)


def lock_load(server, cycles, client_core):
    threads = 4

    def worker(index):
        client = redis.Redis(port=server.port)
        lock = client.lock(f"lock:{index}", timeout=10)
        for _ in range(cycles // threads):
            if not lock.acquire(blocking=False):
                raise RuntimeError("an uncontended lock was not acquired")
            lock.release()

    def run():
        os.sched_setaffinity(0, {client_core})
        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        os.sched_setaffinity(0, set(range(os.cpu_count())))
        return cycles // threads * threads
    return measure(server, run)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500000, help="EVALSHA calls per run (pipeline 16: x2)")
    parser.add_argument("--transactions", type=int, default=200000, help="MULTI blocks per run (depth 16: x2)")
    parser.add_argument("--lock-cycles", type=int, default=40000)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    args.strata = os.path.abspath(args.strata)

    results = {"strata": {}, "redis": {}}
    loads = [("evalsha", 1, lambda s: evalsha_load(s, 1, args.requests, args.client_core)),
             ("evalsha", 16, lambda s: evalsha_load(s, 16, args.requests * 2, args.client_core)),
             ("multi", 1, lambda s: multi_load(s, 1, args.transactions, args.client_core)),
             ("multi", 16, lambda s: multi_load(s, 16, args.transactions * 2, args.client_core)),
             ("lock", 1, lambda s: lock_load(s, args.lock_cycles, args.client_core))]
    with tempfile.TemporaryDirectory() as workdir:
        for round_index in range(args.rounds):
            order = ("strata", "redis") if round_index % 2 == 0 else ("redis", "strata")
            for kind in order:
                server = Server(kind, args.strata, args.server_core, workdir)
                try:
                    for name, depth, load in loads:
                        results[kind].setdefault((name, depth), []).append(load(server))
                finally:
                    server.stop()
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    print(f"\nstrata vs redis-server — transactions and scripts, median of {args.rounds} rounds, servers on core "
          f"{args.server_core}, load on core {args.client_core}\n")
    header = f"{'load':<10}{'depth':>6}  {'metric':<14}{'strata':>14}{'redis':>14}{'ratio':>9}"
    print(header)
    print("-" * len(header))
    for key in results["strata"]:
        for metric, label, fmt in (("ops", "ops/s", "{:.0f}"), ("cpu_per_m", "cpu s/M ops", "{:.2f}"),
                                   ("user_per_m", "user s/M ops", "{:.2f}"), ("busy", "core busy %", "{:.0f}")):
            s = statistics.median(r[metric] for r in results["strata"][key])
            r = statistics.median(r[metric] for r in results["redis"][key])
            print(f"{key[0]:<10}{key[1]:>6}  {label:<14}{fmt.format(s):>14}{fmt.format(r):>14}{s / r if r else float('nan'):>9.2f}")


if __name__ == "__main__":
    main()

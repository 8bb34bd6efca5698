#!/usr/bin/python3
"""Pattern invalidation of a million keys: strata vs what a Redis user has to do instead.

What is measured, and why. An application that caches rows under "user:<id>" sometimes has to
drop them all at once (a schema change, a bad deploy, a bulk update at the source). strata does it
itself (DESIGN.md section 7): `PUBLISH __strata__:invalidate '{"pattern": "user:*", "ts": ..}'`
and a background sweep drops the keys one shard at a time, each shard under its own lock, so no
client should wait for more than one shard's scan. With Redis, a subscriber process has to find
and delete the keys itself, and Redis runs every command on one thread: whatever that
subscriber sends, every other client waits behind it. The question is what the OTHER clients of
the cache see while the keys go, so the figure is the PING round trip of an unrelated client,
and the time until the keys are gone.

Variants, each on a fresh server holding the same keyspace: --keys (default 1,000,000) matching
keys "user:0".. and as many non-matching "order:0".., 32-byte values, loaded with
build/strata-bench (--ratio 1:0 --key-pattern sequential, 50 clients, pipeline 16) and checked
with DBSIZE before the clock starts:
  strata io1    strata-server --io-threads 1; the PUBLISH above.
  strata io2    strata-server --io-threads 2 (the default on a 2-core machine: one per core).
  redis KEYS    Debian's redis-server (no persistence) and a subscriber that, on the message
                (a SUBSCRIBE to "cache:invalidate", as the application would have), runs
                KEYS user:* and then DEL in batches of 1000: the naive code of the background
                reading (which even DELs one key at a time; batches are kinder to it).
  redis SCAN    the same, careful version: SCAN 0 MATCH user:* COUNT 1000, UNLINK each page's
                keys, until the cursor is back to 0 (one full pass finds every key that was
                there for the whole pass, i.e. all of them: nothing else writes).
The PING client is a separate process that sends PING one at a time (one every
--ping-interval-ms, default 1; 0: back to back) on its own connection and records each round
trip with CLOCK_MONOTONIC. It starts before the invalidation (its first --idle-ms, default 500,
are the idle reference), and the measured window runs from just before the PUBLISH until DBSIZE
is back to the non-matching count (polled every --poll-ms, default 5, from another connection);
a PING in flight at either edge counts as in the window.
Printed per variant: the time from PUBLISH to the keys gone, the keys dropped (strata's INFO
invalidation_keys_dropped, or the subscriber's own count), the pings in the window and their
p50 / p99 / worst (ms), the idle p50 / worst for reference, and for strata INFO's
invalidation_lag_p50_ms / _p99_ms (from the message's "ts", a wall-clock Unix ms).

Placement: each server is pinned to --server-core (default 0) with taskset (strata's I/O threads
and its sweeper thread all share that core); everything else (the loader, the PING process, the
Redis subscriber, the DBSIZE poller) is pinned to --client-core (default 1). On a 2-core machine
the PING client therefore shares its core with the Redis subscriber (and the poller), which
wakes it a little later than an idle core would: the idle columns show that floor, and it is
the same for every variant. Nothing about time is asserted. A variant whose keys are not all gone
within --timeout seconds is reported as a stall, with the keys left. --rounds N (default 3)
repeats the four variants, alternating servers so drift on a shared machine hits both alike; every
run is printed, then each column's median per variant. --quick runs 100,000 + 100,000 keys, one
round, in about 15 s. The binaries are copied first, so a rebuild of build/ meanwhile changes
nothing. Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""
import argparse
import array
import json
import multiprocessing
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

from benchlib import PinnedServer
from eviction_vs_redis import REDIS_SERVER, strata_bench

ROOT = pathlib.Path(__file__).resolve().parents[1]
MATCH_PREFIX = "user:"
OTHER_PREFIX = "order:"
PATTERN = MATCH_PREFIX + "*"
VALUE_SIZE = 32
STRATA_CHANNEL = "__strata__:invalidate"
# The channel the Redis application's subscriber listens on (the background reading's name).
REDIS_CHANNEL = "cache:invalidate"
BATCH = 1000
# (label, server kind, strata I/O threads or Redis method), alternating strata and redis.
VARIANTS = [("strata io1", "strata", 1), ("redis KEYS+DEL", "redis", "keys"),
            ("strata io2", "strata", 2), ("redis SCAN+UNLINK", "redis", "scan")]


class Server(PinnedServer):
    """strata-server with `io_threads` I/O threads, or Debian's redis-server without persistence,
    pinned to args.server_core."""

    def __init__(self, kind, args, io_threads=1):
        self.kind = kind
        self.client = None
        if kind == "strata":
            argv = [str(args.strata), "--io-threads", str(io_threads)]
        else:
            argv = [REDIS_SERVER, "--save", "", "--appendonly", "no", "--dir", args.workdir]
        super().__init__(argv, args.server_core, args.workdir, kind)
        self.client = redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self):
        if self.client is not None:
            self.client.close()
        super().stop()


def load_keyspace(args, server):
    """SETs PREFIX0..PREFIX<keys-1> under both prefixes; fails unless DBSIZE is 2 x keys."""
    for prefix in (MATCH_PREFIX, OTHER_PREFIX):
        strata_bench(args, server, "--ratio", "1:0", "--key-pattern", "sequential", "--key-prefix", prefix,
                     "--key-min", 0, "--key-max", args.keys - 1, "--requests", args.keys, "--data-size",
                     VALUE_SIZE, "--clients", 50, "--pipeline", 16)
    size = server.client.dbsize()
    if size != 2 * args.keys:
        raise RuntimeError(f"{server.kind}: DBSIZE {size} after loading, expected {2 * args.keys}")


# ---------------------------------------------------------------------------------------------
# The PING client and the Redis subscriber: processes of their own, pinned to the client core.


def ping_loop(port, interval_sec, core, stop, ready, out):
    """PINGs one at a time until `stop` is set; sends back (send times, round trips) in ns."""
    os.sched_setaffinity(0, {core})
    sent, rtts = array.array("q"), array.array("q")
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ready.set()
        while not stop.is_set():
            started = time.monotonic_ns()
            s.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    raise RuntimeError("the server closed the PING connection")
                reply += chunk
            rtts.append(time.monotonic_ns() - started)
            sent.append(started)
            if reply != b"+PONG\r\n":
                raise RuntimeError(f"PING answered with {reply!r}")
            if interval_sec:
                time.sleep(interval_sec)
    out.send((sent.tobytes(), rtts.tobytes()))
    out.close()


def redis_subscriber(port, method, core, ready, out):
    """The application's invalidation subscriber against Redis: waits for one message on
    REDIS_CHANNEL and drops its pattern's keys with `method`; sends back how many it dropped."""
    os.sched_setaffinity(0, {core})
    r = redis.Redis(host="127.0.0.1", port=port)
    pubsub = r.pubsub()
    pubsub.subscribe(REDIS_CHANNEL)
    while pubsub.get_message(timeout=5) is None:  # the subscribe confirmation
        pass
    ready.set()
    message = None
    while message is None or message["type"] != "message":
        message = pubsub.get_message(timeout=600)
    pattern = json.loads(message["data"])["pattern"]
    dropped = 0
    if method == "keys":
        keys = r.keys(pattern)
        for i in range(0, len(keys), BATCH):
            dropped += r.delete(*keys[i:i + BATCH])
    else:
        cursor = 0
        while True:
            cursor, keys = r.scan(cursor, match=pattern, count=BATCH)
            if keys:
                dropped += r.unlink(*keys)
            if cursor == 0:
                break
    out.send(dropped)
    out.close()
    pubsub.close()
    r.close()


def percentile(sorted_values, share):
    return sorted_values[int(share * (len(sorted_values) - 1))] if sorted_values else float("nan")


def summarize(values_ns):
    values = sorted(v / 1e6 for v in values_ns)
    return {"n": len(values), "p50": percentile(values, 0.5), "p99": percentile(values, 0.99),
            "worst": values[-1] if values else float("nan")}


# ---------------------------------------------------------------------------------------------
# One variant


def run_variant(args, label, kind, how):
    ctx = multiprocessing.get_context("fork")
    server = Server(kind, args, how if kind == "strata" else 1)
    pinger = subscriber = None
    try:
        load_keyspace(args, server)
        time.sleep(1)  # lets redis finish rehashing its key table in the background
        if kind == "redis":
            sub_ready, (sub_out, sub_in) = ctx.Event(), ctx.Pipe(duplex=False)
            subscriber = ctx.Process(target=redis_subscriber, args=(server.port, how, args.client_core, sub_ready,
                                                                    sub_in))
            subscriber.start()
            if not sub_ready.wait(30):
                raise RuntimeError("the Redis subscriber did not subscribe")
        stop, ping_ready, (ping_out, ping_in) = ctx.Event(), ctx.Event(), ctx.Pipe(duplex=False)
        pinger = ctx.Process(target=ping_loop, args=(server.port, args.ping_interval_ms / 1000, args.client_core,
                                                     stop, ping_ready, ping_in))
        pinger.start()
        if not ping_ready.wait(30):
            raise RuntimeError("the PING client did not connect")
        time.sleep(args.idle_ms / 1000)

        poller = server.client
        started = time.monotonic_ns()
        ts_ms = int(time.time() * 1000)
        if kind == "strata":
            receivers = poller.publish(STRATA_CHANNEL, json.dumps({"pattern": PATTERN, "ts": ts_ms}))
        else:
            receivers = poller.publish(REDIS_CHANNEL, json.dumps({"pattern": PATTERN, "ts": ts_ms}))
            if receivers != 1:
                raise RuntimeError(f"PUBLISH reached {receivers} subscribers, expected 1")
        publish_ms = (time.monotonic_ns() - started) / 1e6
        deadline = time.monotonic() + args.timeout
        left = poller.dbsize() - args.keys
        while left > 0 and time.monotonic() < deadline:
            time.sleep(args.poll_ms / 1000)
            left = poller.dbsize() - args.keys
        ended = time.monotonic_ns()
        stop.set()
        sent, rtts = ping_out.recv()
        pinger.join(30)
        sent, rtts = array.array("q", sent), array.array("q", rtts)

        result = {"label": label, "kind": kind, "total_s": (ended - started) / 1e9, "publish_ms": publish_ms,
                  "left": left, "stalled": left > 0,
                  # A PING in flight when the PUBLISH went out counts as during, not idle.
                  "during": summarize([r for s, r in zip(sent, rtts) if s + r >= started and s <= ended]),
                  "idle": summarize([r for s, r in zip(sent, rtts) if s + r < started])}
        if kind == "strata":
            info = poller.info("invalidation")
            result["dropped"] = int(info["invalidation_keys_dropped"])
            result["lag"] = (info["invalidation_lag_p50_ms"], info["invalidation_lag_p99_ms"])
        else:
            result["dropped"] = sub_out.recv() if sub_out.poll(args.timeout if not left else 1) else None
            result["lag"] = None
        # The non-matching keys are all there (the drop took nothing else), the matching are gone.
        result["others_ok"] = (poller.exists(f"{OTHER_PREFIX}0", f"{OTHER_PREFIX}{args.keys - 1}") == 2
                               and poller.dbsize() == args.keys + max(left, 0))
        return result
    finally:
        for proc in (pinger, subscriber):
            if proc is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)
                proc.join(10)
        server.stop()


def fmt(value, width, digits=3):
    return f"{value:>{width}.{digits}f}" if value == value else f"{'-':>{width}}"


def median(values):
    values = sorted(v for v in values if v == v)
    return values[len(values) // 2] if values else float("nan")


def median_row(label, rows):
    """One row of the medians of `rows` (the rounds of one variant); the notes are all of theirs."""
    first = rows[0]
    row = {"label": label, "kind": first["kind"], "total_s": median([r["total_s"] for r in rows]),
           "publish_ms": median([r["publish_ms"] for r in rows]), "stalled": any(r["stalled"] for r in rows),
           "left": max(r["left"] for r in rows), "others_ok": all(r["others_ok"] for r in rows),
           "dropped": first["dropped"] if all(r["dropped"] == first["dropped"] for r in rows) else None,
           "lag": None}
    for part in ("during", "idle"):
        row[part] = {key: median([r[part][key] for r in rows]) for key in ("p50", "p99", "worst")}
        row[part]["n"] = int(median([r[part]["n"] for r in rows]))
    if first["lag"]:
        row["lag"] = tuple(int(median([int(r["lag"][i]) for r in rows])) for i in (0, 1))
    return row


def print_table(args, results, title=""):
    interval = f"every {args.ping_interval_ms:g} ms" if args.ping_interval_ms else "back to back"
    print(f"\nPattern invalidation of {args.keys:,} keys ({PATTERN}) among {2 * args.keys:,} ({VALUE_SIZE}-byte values); "
          f"one more client PINGs one at a time, {interval}; window: PUBLISH until DBSIZE = {args.keys:,}{title}\n")
    header = (f"{'variant':<19}{'drop s':>8}{'dropped':>10}{'pings':>7}{'p50 ms':>8}{'p99 ms':>8}{'worst ms':>10}"
              f"{'idle p50':>9}{'idle max':>9}{'lag p50/p99 ms':>16}  note")
    print(header)
    print("-" * len(header))
    for r in results:
        if "error" in r:
            print(f"{r['label']:<19}  not run: {r['error']}")
            continue
        d, i = r["during"], r["idle"]
        dropped = f"{r['dropped']:,}" if r["dropped"] is not None else "-"
        lag = f"{r['lag'][0]}/{r['lag'][1]}" if r["lag"] else "-"
        notes = []
        if r["stalled"]:
            notes.append(f"STALL: {r['left']:,} matching keys left after {args.timeout} s")
        if r["dropped"] is not None and r["dropped"] != args.keys:
            notes.append(f"dropped {r['dropped']:,}, expected {args.keys:,}")
        if not r["others_ok"]:
            notes.append("non-matching keys missing")
        if r["kind"] == "strata" and r["publish_ms"] > 5:
            notes.append(f"PUBLISH took {r['publish_ms']:.1f} ms")
        print(f"{r['label']:<19}{r['total_s']:>8.3f}{dropped:>10}{d['n']:>7,}{fmt(d['p50'], 8)}{fmt(d['p99'], 8)}"
              f"{fmt(d['worst'], 10)}{fmt(i['p50'], 9)}{fmt(i['worst'], 9)}{lag:>16}  {'; '.join(notes)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", default=str(ROOT / "build" / "strata-server"))
    parser.add_argument("--strata-bench", default=str(ROOT / "build" / "strata-bench"))
    parser.add_argument("--quick", action="store_true", help="100,000 matching keys instead of 1,000,000")
    parser.add_argument("--keys", type=int, default=1000000, help="matching keys (and as many non-matching)")
    parser.add_argument("--variants", default="",
                        help="only these, comma-separated: strata-io1,strata-io2,redis-keys,redis-scan")
    parser.add_argument("--rounds", type=int, help="times to run every variant (default 3, --quick 1)")
    parser.add_argument("--ping-interval-ms", type=float, default=1.0, help="pause between PINGs (0: none)")
    parser.add_argument("--idle-ms", type=float, default=500, help="PINGs before the PUBLISH, for reference")
    parser.add_argument("--poll-ms", type=float, default=5, help="pause between DBSIZE polls")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before a variant counts as stalled")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.keys = 100000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    args.strata = pathlib.Path(args.strata).resolve()  # the servers run in a scratch directory
    args.strata_bench = pathlib.Path(args.strata_bench).resolve()
    names = {"strata io1": "strata-io1", "strata io2": "strata-io2", "redis KEYS+DEL": "redis-keys",
             "redis SCAN+UNLINK": "redis-scan"}
    wanted = set(args.variants.split(",")) if args.variants else set(names.values())
    variants = [v for v in VARIANTS if names[v[0]] in wanted]

    version = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout.split()[2]
    print(f"strata vs redis-server {version.removeprefix('v=')}, pattern invalidation"
          f"{' (--quick)' if args.quick else ''}: servers on core {args.server_core}, everything else on core "
          f"{args.client_core}")
    load_start = os.getloadavg()
    os.sched_setaffinity(0, {args.client_core})  # this process polls DBSIZE: off the server's core
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        args.workdir = workdir
        # Copies, so that every variant runs the same binaries even if build/ is rebuilt meanwhile.
        for name in ("strata", "strata_bench"):
            copy = pathlib.Path(workdir) / getattr(args, name).name
            shutil.copy2(getattr(args, name), copy)
            setattr(args, name, copy)
        for round_index in range(args.rounds):
            for label, kind, how in variants:
                try:
                    results.append(run_variant(args, label, kind, how))
                    print(f"round {round_index + 1}: {label} done", file=sys.stderr)
                except (RuntimeError, OSError, EOFError, redis.RedisError) as e:
                    results.append({"label": label, "error": str(e).strip().splitlines()[-1][:120]})
                    print(f"round {round_index + 1}: {label} failed: {e}", file=sys.stderr)
    print_table(args, results, f" (each run, in order)" if args.rounds > 1 else "")
    if args.rounds > 1:
        print_table(args, [median_row(label, runs) for label, _, _ in variants
                                  if (runs := [r for r in results if r["label"] == label and "error" not in r])],
                    f"\nmedians over the {args.rounds} rounds (of each column; worst ms: the median of the runs' worst)")
    print(f"\nload average (1, 5, 15 min) at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
          f"at end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}: other work on this "
          f"machine's cores adds to every figure")


if __name__ == "__main__":
    main()

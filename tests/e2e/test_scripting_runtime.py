"""Transactions and scripts at run time: atomicity under concurrent load, long-running scripts
(busy-reply-threshold, -BUSY, SCRIPT KILL, UNKILLABLE, SHUTDOWN NOSAVE), the declared-keys rule
and whole-keyspace commands inside EXEC.

strata runs EXEC and scripts on an I/O thread while holding the shards of their keys, and other
I/O threads keep serving other keys. The load tests therefore start strata with several I/O
threads, so that writers and readers land on different threads and reach the same shards
concurrently: a reader that ever sees half a transaction fails the test.

Everything runs against strata and against Debian's redis-server 7.0.15 (`server_factory`),
except the declared-keys rule, which is strata's (Redis outside cluster mode lets a script touch
any key). Every loop is bounded by a deadline and every socket has a timeout.
"""
import random
import threading
import time

import pytest

from helpers import ConnectionClosed, RespConnection, error, server_factory, wait_until  # noqa: F401  (fixtures)

LOAD_SECONDS = 2.0
THRESHOLD_MS = 200
BUSY_PREFIX = b"BUSY Redis is busy running a script."
KILLED = "Script killed by user with SCRIPT KILL"

MOVE = ("local v = tonumber(ARGV[1]); redis.call('DECRBY', KEYS[1], v); "
        "redis.call('INCRBY', KEYS[2], v); return v")
LOOP = "while true do end"
WRITE_THEN_LOOP = "redis.call('SET', KEYS[1], 'written'); while true do end"


def start(factory, *args):
    """A server for the load tests: strata with four I/O threads (later options win)."""
    if factory.kind == "strata":
        return factory("--io-threads", "4", *args)
    return factory(*args)


def ok(reply):
    assert not reply.is_error, reply
    return reply


class Workers:
    """Threads that each run `body(conn, index)` in a loop until a shared deadline.

    The first failure stops everyone and is re-raised by join(); a thread that does not end
    within the grace period fails the test instead of hanging it.
    """

    def __init__(self, port, seconds):
        self.port = port
        self.counts = {}
        self._counts_lock = threading.Lock()
        self.deadline = time.monotonic() + seconds
        self.failures = []
        self.threads = []
        self.stop = threading.Event()

    def add(self, body, count=1):
        for index in range(count):
            self.threads.append(threading.Thread(target=self._run, args=(body, index), daemon=True))

    def count(self, name):
        with self._counts_lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def _run(self, body, index):
        try:
            with RespConnection(self.port, timeout=10) as conn:
                while not self.stop.is_set() and time.monotonic() < self.deadline:
                    body(conn, index)
        except BaseException as e:  # noqa: B902  (reported on the main thread)
            self.failures.append(e)
            self.stop.set()

    def run(self, grace=20):
        for t in self.threads:
            t.start()
        end = self.deadline + grace
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "workers still running after their deadline"
        if self.failures:
            raise self.failures[0]


def as_int(value):
    return 0 if value is None else int(value)


# ---------------------------------------------------------------------------------------------
# Atomicity under load

def test_no_reader_ever_sees_half_a_transaction_or_half_a_script(server_factory):
    server = start(server_factory)
    with RespConnection(server.port) as setup:
        ok(setup.call("MSET", "x", 0, "y", 0, "acc:a", 1000, "acc:b", 1000, "pair:1", "-", "pair:2", "-"))

    workers = Workers(server.port, LOAD_SECONDS)

    def transfer(conn, index):
        # MULTI/EXEC over two keys: x + y == 0 between transactions. Half the writers name the
        # keys in the other order, so a server that took shard locks in command order would
        # deadlock (and the workers would not finish).
        writes = [("INCRBY", "x", 1), ("DECRBY", "y", 1)]
        if index % 2:
            writes.reverse()
        replies = conn.pipeline([("MULTI",), *writes, ("EXEC",)])
        assert [r.text() for r in replies[:3]] == ["OK", "QUEUED", "QUEUED"], replies
        assert replies[3].kind == "*" and len(replies[3].value) == 2, replies[3]
        workers.count("tx")

    def move(conn, index):
        # A script moving 3 units between accounts, in either direction: the sum stays 2000.
        forward = random.random() < 0.5
        keys = ("acc:a", "acc:b") if forward else ("acc:b", "acc:a")
        assert conn.call("EVAL", MOVE, 2, *keys, 3).value == 3
        workers.count("moves_ab" if forward else "moves_ba")

    def write_pair(conn, index):
        # Two SETs of the same fresh value: both keys always hold the same one.
        value = f"{index}:{random.getrandbits(48)}"
        replies = conn.pipeline([("MULTI",), ("SET", "pair:1", value), ("SET", "pair:2", value), ("EXEC",)])
        assert replies[3].py() == [b"OK", b"OK"], replies
        workers.count("pairs")

    def read(conn, index):
        replies = conn.pipeline([("MGET", "x", "y"), ("MGET", "acc:a", "acc:b"), ("MGET", "pair:1", "pair:2"),
                                 ("MULTI",), ("GET", "x"), ("GET", "acc:a"), ("GET", "y"), ("GET", "acc:b"),
                                 ("EXEC",),
                                 ("EVAL_RO", "return redis.call('MGET', KEYS[1], KEYS[2])", 2, "acc:a", "acc:b")])
        x, y = (as_int(v) for v in replies[0].py())
        assert x + y == 0, f"MGET x y saw a partial transaction: x={x} y={y}"
        a, b = (as_int(v) for v in replies[1].py())
        assert a + b == 2000, f"MGET acc:a acc:b saw a partial script: {a} + {b}"
        p1, p2 = replies[2].py()
        assert p1 == p2, f"MGET pair:1 pair:2 saw a partial transaction: {p1!r} {p2!r}"
        ex, ea, ey, eb = (as_int(v) for v in replies[8].py())
        assert ex + ey == 0 and ea + eb == 2000, f"GETs inside EXEC disagree: x={ex} y={ey} a={ea} b={eb}"
        sa, sb = (as_int(v) for v in replies[9].py())
        assert sa + sb == 2000, f"MGET inside a script saw a partial script: {sa} + {sb}"
        workers.count("reads")

    workers.add(transfer, 3)
    workers.add(move, 3)
    workers.add(write_pair, 2)
    workers.add(read, 4)
    workers.run()

    counts = {name: workers.counts.get(name, 0) for name in ("tx", "moves_ab", "moves_ba", "pairs", "reads")}
    assert counts["tx"] > 20 and counts["moves_ab"] + counts["moves_ba"] > 20 and counts["reads"] > 20, counts
    with RespConnection(server.port) as check:
        x, y, a, b, p1, p2 = check.call("MGET", "x", "y", "acc:a", "acc:b", "pair:1", "pair:2").py()
        assert (int(x), int(y)) == (counts["tx"], -counts["tx"])
        assert int(a) == 1000 - 3 * counts["moves_ab"] + 3 * counts["moves_ba"]
        assert int(a) + int(b) == 2000
        assert p1 == p2


def test_whole_keyspace_commands_inside_exec(server_factory):
    server = start(server_factory)
    with RespConnection(server.port) as c:
        ok(c.call("MSET", "k1", 1, "k2", 2, "k3", 3))
        replies = c.pipeline([("MULTI",), ("SET", "k4", 4), ("DBSIZE",), ("KEYS", "*"), ("FLUSHALL",),
                              ("DBSIZE",), ("SET", "after", 1), ("KEYS", "*"), ("EXEC",)])
        assert [r.text() for r in replies[:8]] == ["OK"] + ["QUEUED"] * 7
        result = replies[8].py()
        assert result[0] == b"OK" and result[1] == 4
        assert sorted(result[2]) == [b"k1", b"k2", b"k3", b"k4"]
        assert result[3:] == [b"OK", 0, b"OK", [b"after"]]
        assert c.call("KEYS", "*").py() == [b"after"]
        assert c.call("DBSIZE").value == 1


def test_whole_keyspace_commands_inside_exec_are_atomic_under_load(server_factory):
    # Writers keep x + y == 0 and pair:1 == pair:2 with MULTI/EXEC; one thread flushes and
    # re-creates the keys inside one EXEC; another counts and lists keys inside one EXEC. Nobody
    # may see the keyspace between the flush and the re-creation, or a count that disagrees with
    # the listing.
    server = start(server_factory)
    keys = {b"x", b"y", b"pair:1", b"pair:2"}
    recreate = [("SET", "x", 0), ("SET", "y", 0), ("SET", "pair:1", "-"), ("SET", "pair:2", "-")]
    with RespConnection(server.port) as setup:
        ok(setup.pipeline([("FLUSHALL",), ("MSET", "x", 0, "y", 0, "pair:1", "-", "pair:2", "-")])[1])
    workers = Workers(server.port, LOAD_SECONDS / 2)

    def transfer(conn, index):
        value = f"{index}:{random.getrandbits(48)}"
        replies = conn.pipeline([("MULTI",), ("INCRBY", "x", 5), ("DECRBY", "y", 5), ("SET", "pair:1", value),
                                 ("SET", "pair:2", value), ("EXEC",)])
        assert replies[-1].kind == "*" and len(replies[-1].value) == 4, replies[-1]

    def flush(conn, index):
        replies = conn.pipeline([("MULTI",), ("FLUSHALL",), *recreate, ("EXEC",)])
        assert replies[-1].py() == [b"OK"] * 5, replies[-1]
        workers.count("flushes")

    def scan(conn, index):
        replies = conn.pipeline([("MULTI",), ("DBSIZE",), ("KEYS", "*"), ("MGET", "x", "y", "pair:1", "pair:2"),
                                 ("EXEC",), ("MGET", "x", "y", "pair:1", "pair:2")])
        size, listed, (x, y, p1, p2) = replies[4].py()
        assert size == len(listed) == 4 and set(listed) == keys, (size, listed)
        assert as_int(x) + as_int(y) == 0 and p1 == p2, (x, y, p1, p2)
        x, y, p1, p2 = replies[5].py()
        assert None not in (x, y, p1, p2), f"MGET saw the keyspace between FLUSHALL and SET: {(x, y, p1, p2)}"
        assert int(x) + int(y) == 0 and p1 == p2, (x, y, p1, p2)
        workers.count("scans")

    workers.add(transfer, 3)
    workers.add(flush, 1)
    workers.add(scan, 3)
    workers.run()
    assert workers.counts.get("flushes", 0) > 5 and workers.counts.get("scans", 0) > 5, workers.counts


# ---------------------------------------------------------------------------------------------
# Long-running scripts: busy-reply-threshold, -BUSY, SCRIPT KILL

class LongScript:
    """A script started on its own connection, plus control connections opened before it.

    The control connections exist before the script runs, so each was already accepted by an
    I/O thread; end() sends SCRIPT KILL from them, which a server must serve while busy.
    """

    def __init__(self, port, body, key, controls=4):
        self.port = port
        self.key = key
        self.controls = [RespConnection(port, timeout=5) for _ in range(controls)]
        for c in self.controls:
            assert c.call("PING").text() == "PONG"
        self.runner = RespConnection(port, timeout=10)
        self.runner.send("EVAL", body, 1, key)

    def wait_until_busy(self):
        """Poll GET key until it answers -BUSY (the script is past the threshold)."""
        probe = self.controls[0]

        def busy():
            reply = probe.call("GET", self.key)
            return reply.is_error and reply.value.startswith(BUSY_PREFIX)

        assert wait_until(busy, timeout=5, interval=0.02), f"GET {self.key} never answered -BUSY"

    def kill(self):
        return self.controls[-1].call("SCRIPT", "KILL")

    def end(self):
        """Best effort for a finally block: SCRIPT KILL from every control connection (the
        script may be killed already, or a connection may be broken), then close them all."""
        for c in self.controls:
            try:
                c.call("SCRIPT", "KILL")
            except (OSError, ConnectionClosed):
                pass
        self.close()

    def close(self):
        for c in [*self.controls, self.runner]:
            c.close()


def test_script_past_the_threshold_gets_busy_replies_and_script_kill_stops_it(server_factory):
    server = server_factory("--busy-reply-threshold", THRESHOLD_MS)
    script = LongScript(server.port, LOOP, "busy:key")
    try:
        script.wait_until_busy()
        for c in script.controls:
            reply = c.call("GET", "busy:key")
            assert reply.is_error and reply.value.startswith(BUSY_PREFIX), reply
            assert b"SCRIPT KILL" in reply.value and b"SHUTDOWN NOSAVE" in reply.value, reply
            # Redis answers -BUSY to everything; strata to its shards and to the script's own
            # I/O thread: either way PING gets an answer.
            reply = c.call("PING")
            assert reply.text() == "PONG" or reply.value.startswith(BUSY_PREFIX), reply
        assert script.kill().text() == "OK"
        killed = script.runner.read_reply()
        assert killed.is_error and KILLED in killed.text(), killed
        # Everything works again, on every connection.
        for i, c in enumerate([*script.controls, script.runner]):
            assert c.call("PING").text() == "PONG"
            assert c.call("GET", "busy:key").value == (None if i == 0 else b"free")
            assert c.call("SET", "busy:key", "free").text() == "OK"
        assert script.controls[0].call("SCRIPT", "KILL").text().startswith("NOTBUSY")
    finally:
        script.end()


def test_connections_opened_while_a_script_is_busy_get_busy_replies(server_factory):
    # A client that connects while a script is busy is still answered: -BUSY for the script's
    # key, and SCRIPT KILL works from it (Redis serves new clients between script hooks).
    server = server_factory("--busy-reply-threshold", THRESHOLD_MS)
    script = LongScript(server.port, LOOP, "busy:key")
    newcomers = []
    try:
        script.wait_until_busy()
        newcomers = [RespConnection(server.port, timeout=2) for _ in range(6)]
        replies = []
        for i, c in enumerate(newcomers):
            try:
                replies.append(c.call("GET", "busy:key"))
            except OSError as e:  # a timeout: this connection was never served
                replies.append(f"connection {i}: no reply within 2s ({e!r})")
        unanswered = [r for r in replies if isinstance(r, str)]
        assert not unanswered, f"{len(unanswered)} of {len(newcomers)} new connections got no reply: {unanswered}"
        for reply in replies:
            assert reply.is_error and reply.value.startswith(BUSY_PREFIX), reply
        # SCRIPT KILL from a connection that arrived while the script was busy.
        assert newcomers[-1].call("SCRIPT", "KILL").text() == "OK"
        killed = script.runner.read_reply()
        assert killed.is_error and KILLED in killed.text(), killed
    finally:
        script.end()
        for c in newcomers:
            c.close()


def test_a_client_arriving_while_a_script_is_busy_can_authenticate_and_kill_it(server_factory):
    # As Redis: AUTH and HELLO are served while a script is busy (allow_busy), so with a password
    # set an operator can still connect and SCRIPT KILL.
    server = server_factory("--busy-reply-threshold", THRESHOLD_MS, "--requirepass", "secret")
    probe, runner = RespConnection(server.port, timeout=5), RespConnection(server.port, timeout=10)
    newcomers = []
    try:
        for c in (probe, runner):
            assert c.call("AUTH", "secret").text() == "OK"
        runner.send("EVAL", LOOP, 1, "busy:key")

        def busy():
            reply = probe.call("GET", "busy:key")
            return reply.is_error and reply.value.startswith(BUSY_PREFIX)

        assert wait_until(busy, timeout=5, interval=0.02), "the script never got busy"
        newcomers = [RespConnection(server.port, timeout=2) for _ in range(4)]
        for c in newcomers[:-1]:
            assert c.call("AUTH", "secret").text() == "OK"
            assert c.call("GET", "busy:key").value.startswith(BUSY_PREFIX)
        hello = newcomers[-1].call("HELLO", "2", "AUTH", "default", "secret")
        assert not hello.is_error, hello
        assert newcomers[-1].call("SCRIPT", "KILL").text() == "OK"
        killed = runner.read_reply()
        assert killed.is_error and KILLED in killed.text(), killed
    finally:
        for c in [probe, runner, *newcomers]:
            try:
                c.call("SCRIPT", "KILL")
            except (OSError, ConnectionClosed):
                pass
            c.close()


def test_busy_threshold_set_with_config_set_and_its_lua_time_limit_alias(server_factory):
    server = server_factory()
    with RespConnection(server.port) as c:
        assert c.call("CONFIG", "SET", "lua-time-limit", 300).text() == "OK"
        assert c.call("CONFIG", "GET", "busy-reply-threshold").py() == [b"busy-reply-threshold", b"300"]
        assert c.call("CONFIG", "SET", "busy-reply-threshold", THRESHOLD_MS).text() == "OK"
        assert c.call("CONFIG", "GET", "lua-time-limit").py() == [b"lua-time-limit", str(THRESHOLD_MS).encode()]
    script = LongScript(server.port, LOOP, "cfg:key")
    try:
        script.wait_until_busy()
        assert script.kill().text() == "OK"
        assert KILLED in script.runner.read_reply().text()
        assert script.runner.call("GET", "cfg:key").value is None
    finally:
        script.end()


def test_script_kill_with_no_script_running_is_notbusy(server_factory):
    server = server_factory()
    with RespConnection(server.port) as c:
        assert c.call("SCRIPT", "KILL") == error("NOTBUSY No scripts in execution right now.")
        # A script that finished is not running either.
        assert c.call("EVAL", "return 1", 0).value == 1
        assert c.call("SCRIPT", "KILL").text().startswith("NOTBUSY")


def test_a_read_only_script_that_loops_can_be_killed(server_factory):
    server = server_factory("--busy-reply-threshold", THRESHOLD_MS)
    with RespConnection(server.port) as setup:
        ok(setup.call("SET", "ro:key", "v"))
    script = LongScript(server.port, "redis.call('GET', KEYS[1]); " + LOOP, "ro:key")
    try:
        script.wait_until_busy()
        assert script.kill().text() == "OK"
        assert KILLED in script.runner.read_reply().text()
        assert script.runner.call("GET", "ro:key").value == b"v"
    finally:
        script.end()


def abandon(factory, server, sig):
    """End a server that cannot stop by itself (a script loops forever) with `sig`, and take it
    out of the factory's list: its exit status then says nothing about strata's shutdown."""
    import signal

    server.stop(sig=getattr(signal, sig), timeout=5)
    factory.started.remove(server)


def test_a_script_that_wrote_cannot_be_killed(server_factory):
    # Killing it would leave half its writes in the dataset: UNKILLABLE. Nothing can end it, so
    # the test ends the server with SIGKILL.
    server = server_factory("--busy-reply-threshold", THRESHOLD_MS)
    script = LongScript(server.port, WRITE_THEN_LOOP, "unkillable:key")
    try:
        script.wait_until_busy()
        for c in script.controls[:2]:
            reply = c.call("SCRIPT", "KILL")
            assert reply.is_error and reply.text().startswith("UNKILLABLE Sorry the script already executed write "
                                                              "commands against the dataset."), reply
        # Still running, still busy.
        reply = script.controls[0].call("GET", "unkillable:key")
        assert reply.is_error and reply.value.startswith(BUSY_PREFIX), reply
    finally:
        script.close()
        abandon(server_factory, server, "SIGKILL")


@pytest.mark.parametrize("body", [LOOP, WRITE_THEN_LOOP], ids=["killable", "unkillable"])
def test_shutdown_nosave_stops_a_server_running_a_busy_script(server_factory, body):
    # The -BUSY and -UNKILLABLE texts name SHUTDOWN NOSAVE as the way out, written or not.
    server = server_factory("--busy-reply-threshold", THRESHOLD_MS)
    script = LongScript(server.port, body, "busy:key")
    try:
        script.wait_until_busy()
        if body == WRITE_THEN_LOOP:
            assert script.kill().text().startswith("UNKILLABLE")
        script.controls[0].send("SHUTDOWN", "NOSAVE")
        exited = wait_until(lambda: server.proc.poll() is not None, timeout=3)
        assert exited, f"the server still runs 3s after SHUTDOWN NOSAVE:\n{server.output()[-2000:]}"
        assert server.proc.returncode == 0, server.output()[-2000:]
    finally:
        script.close()
        abandon(server_factory, server, "SIGKILL")


# ---------------------------------------------------------------------------------------------
# Declared keys (strata): a script holds the shards of its KEYS, so it may touch only those

@pytest.fixture
def strata_server(server_factory):
    if server_factory.kind != "strata":
        pytest.skip("lua-allow-undeclared-keys is strata's: Redis lets a script touch any key")
    return server_factory()


def test_script_touching_an_undeclared_key_is_an_error_unless_allowed(strata_server):
    with RespConnection(strata_server.port) as c:
        assert c.call("CONFIG", "GET", "lua-allow-undeclared-keys").py() == [b"lua-allow-undeclared-keys", b"no"]
        ok(c.call("SET", "other", "value"))
        for body, numkeys, keys in (("return redis.call('GET', 'other')", 0, ()),
                                    ("return redis.call('GET', 'other')", 1, ("declared",)),
                                    ("redis.call('SET', KEYS[1], 1); return redis.call('SET', 'other', 2)", 1,
                                     ("declared",)),
                                    ("return redis.call('MGET', KEYS[1], 'other')", 1, ("declared",))):
            reply = c.call("EVAL", body, numkeys, *keys)
            assert reply.is_error and b"lua-allow-undeclared-keys" in reply.value, (body, reply)
            assert b"other" in reply.value, reply
        assert c.call("GET", "other").value == b"value"
        # As in Redis, an error does not undo what the script wrote before it.
        assert c.call("GET", "declared").value == b"1"
        # pcall turns it into a value the script can inspect.
        reply = c.call("EVAL", "local r = redis.pcall('GET', 'other'); return r.err", 0)
        assert b"lua-allow-undeclared-keys" in reply.value, reply
        # Whole-keyspace commands need every shard.
        for command in ("DBSIZE", "KEYS"):
            args = "'*'" if command == "KEYS" else ""
            body = f"return redis.call('{command}'{', ' + args if args else ''})"
            reply = c.call("EVAL", body, 0)
            assert reply.is_error and b"lua-allow-undeclared-keys" in reply.value, (body, reply)

        assert c.call("CONFIG", "SET", "lua-allow-undeclared-keys", "yes").text() == "OK"
        assert c.call("EVAL", "return redis.call('GET', 'other')", 0).value == b"value"
        assert c.call("EVAL", "redis.call('SET', 'other', 'changed'); return redis.call('GET', 'other')",
                      1, "declared").value == b"changed"
        assert c.call("EVAL", "return redis.call('DBSIZE')", 0).value == 2
        assert sorted(c.call("EVAL", "return redis.call('KEYS', '*')", 0).py()) == [b"declared", b"other"]

        assert c.call("CONFIG", "SET", "lua-allow-undeclared-keys", "no").text() == "OK"
        reply = c.call("EVAL", "return redis.call('GET', 'other')", 0)
        assert reply.is_error and b"lua-allow-undeclared-keys" in reply.value, reply


def test_scripts_with_undeclared_keys_allowed_stay_atomic_under_load(server_factory):
    # With every shard held, a script that names its keys only in ARGV is still atomic.
    if server_factory.kind != "strata":
        pytest.skip("lua-allow-undeclared-keys is strata's")
    server = start(server_factory, "--lua-allow-undeclared-keys", "yes")
    with RespConnection(server.port) as setup:
        ok(setup.call("MSET", "acc:a", 1000, "acc:b", 1000))
    undeclared_move = ("local v = tonumber(ARGV[3]); redis.call('DECRBY', ARGV[1], v); "
                       "redis.call('INCRBY', ARGV[2], v); return v")

    def move(conn, index):
        assert conn.call("EVAL", undeclared_move, 0, "acc:a", "acc:b", 7).value == 7

    def read(conn, index):
        a, b = (as_int(v) for v in conn.call("MGET", "acc:a", "acc:b").py())
        assert a + b == 2000, f"MGET saw a partial script: {a} + {b}"

    workers = Workers(server.port, LOAD_SECONDS / 2)
    workers.add(move, 3)
    workers.add(read, 3)
    workers.run()


# ---------------------------------------------------------------------------------------------
# What operators and tools see of transactions and scripts (both servers answer alike)

def info_field(conn, section, field):
    for line in conn.call("INFO", section).text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    raise AssertionError(f"INFO {section} has no {field}")


def test_info_counts_cached_scripts(server_factory):
    server = server_factory()
    with RespConnection(server.port) as c:
        ok(c.call("SCRIPT", "FLUSH"))
        assert info_field(c, "memory", "number_of_cached_scripts") == "0"
        c.call("SCRIPT", "LOAD", "return 1")
        c.call("EVAL", "return 2", "0")
        assert info_field(c, "memory", "number_of_cached_scripts") == "2"
        ok(c.call("SCRIPT", "FLUSH"))
        assert info_field(c, "memory", "number_of_cached_scripts") == "0"


def test_client_list_shows_a_transaction_being_queued(server_factory):
    server = server_factory()
    with RespConnection(server.port) as queuing, RespConnection(server.port) as observer:
        ok(queuing.call("CLIENT", "SETNAME", "queuing"))
        ok(queuing.call("MULTI"))
        assert queuing.call("SET", "k", "v").text() == "QUEUED"
        assert queuing.call("GET", "k").text() == "QUEUED"
        line = next(l for l in observer.call("CLIENT", "LIST").text().splitlines() if " name=queuing " in l)
        fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
        assert fields["multi"] == "2" and "x" in fields["flags"], line
        assert queuing.call("EXEC").py() == [b"OK", b"v"]
        line = next(l for l in observer.call("CLIENT", "LIST").text().splitlines() if " name=queuing " in l)
        assert " multi=-1 " in line and "flags=N" in line, line


def test_command_docs_groups_the_new_commands(server_factory):
    server = server_factory()
    with RespConnection(server.port) as c:
        for name, group in (("multi", b"transactions"), ("watch", b"transactions"), ("eval", b"scripting"),
                            ("fcall", b"scripting"), ("function", b"scripting")):
            docs = c.call("COMMAND", "DOCS", name).py()
            fields = docs[1]
            assert fields[fields.index(b"group") + 1] == group, (name, fields)

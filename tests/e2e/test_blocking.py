"""Blocking commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP and
CLIENT UNBLOCK, as Redis 7.0 has them.

A blocked client parks like a read-through client (its pipeline waits, its I/O thread serves
others), is served in arrival order by a write from any thread before that writer's next command
runs, honours fractional timeouts, and survives keys deleted, renamed or retyped while it waits.
The differential part runs seeded two-connection sequences (one client blocks, the other writes)
against Debian's redis-server and compares every reply.
"""
import random
import socket
import threading
import time

import pytest

from helpers import RespConnection, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Op, fmt

# ---------------------------------------------------------------------------------------------
# Helpers


def nothing_to_read(conn, wait=0.05):
    """True when the server has sent nothing more on conn within `wait` seconds."""
    if len(conn.buf) > conn.pos:
        return False
    conn.sock.settimeout(wait)
    try:
        return conn.sock.recv(1, socket.MSG_PEEK) == b""  # b"" would be a close: not a pending reply
    except (socket.timeout, BlockingIOError):
        return True
    finally:
        conn.sock.settimeout(10)


def blocked_clients(conn):
    info = conn.call(b"INFO", b"clients").value.decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def wait_until_blocked(conn, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while blocked_clients(conn) != count:
        assert time.monotonic() < deadline, f"expected {count} blocked clients, have {blocked_clients(conn)}"
        time.sleep(0.005)


# ---------------------------------------------------------------------------------------------
# Behaviour (strata alone)


def test_fractional_timeout_answers_null_array_after_the_wait(strata):
    with RespConnection(strata.port) as c:
        for command in ([b"BLPOP", b"none", b"0.15"], [b"BRPOPLPUSH", b"none", b"d", b"0.15"],
                        [b"BZMPOP", b"0.15", b"1", b"none", b"MIN"]):
            start = time.monotonic()
            reply = c.call(*command)
            elapsed = time.monotonic() - start
            assert reply.kind == "*" and reply.value is None, fmt(reply)
            assert 0.14 <= elapsed < 1.0, (command, elapsed)
        assert c.call(b"HELLO", b"3").kind == "%"
        assert c.call(b"BLPOP", b"none", b"0.01").kind == "_"


def test_waiters_on_every_thread_are_served_first_come_first_served(strata_factory):
    server = strata_factory("--io-threads", "4")
    waiters = [RespConnection(server.port) for _ in range(8)]
    try:
        with RespConnection(server.port) as writer:
            for i, w in enumerate(waiters):
                w.send(b"BRPOP", b"queue", b"other", b"0")
                wait_until_blocked(writer, i + 1)
            # One push of 8: served in arrival order, each from the right end.
            assert writer.call(b"LPUSH", b"queue", *[b"e%d" % i for i in range(8)]).value == 8
            # The writer's next command runs after every waiter was served.
            assert writer.call(b"LLEN", b"queue").value == 0
            assert blocked_clients(writer) == 0
            for i, w in enumerate(waiters):
                assert w.read_reply().py() == [b"queue", b"e%d" % i]
    finally:
        for w in waiters:
            w.close()


def test_one_element_wakes_only_the_first_waiter(strata):
    with RespConnection(strata.port) as a, RespConnection(strata.port) as b, RespConnection(strata.port) as w:
        a.send(b"BLPOP", b"k", b"0")
        wait_until_blocked(w, 1)
        b.send(b"BLPOP", b"k", b"0")
        wait_until_blocked(w, 2)
        assert w.call(b"RPUSH", b"k", b"one").value == 1
        assert a.read_reply().py() == [b"k", b"one"]
        assert nothing_to_read(b)
        assert blocked_clients(w) == 1
        assert w.call(b"RPUSH", b"k", b"two").value == 1
        assert b.read_reply().py() == [b"k", b"two"]


def test_pipeline_behind_a_blocked_command_waits_and_keeps_its_order(strata):
    with RespConnection(strata.port) as c, RespConnection(strata.port) as w:
        c.send_raw(b"".join([
            b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n",
            b"*2\r\n$4\r\nLPOP\r\n$1\r\nk\r\n",
        ]))
        wait_until_blocked(w, 1)
        assert nothing_to_read(c, 0.1)
        assert w.call(b"EXISTS", b"x").value == 0  # the SET behind the BLPOP has not run
        assert w.call(b"RPUSH", b"k", b"a", b"b").value == 2
        assert c.read_reply().py() == [b"k", b"a"]
        assert c.read_reply().py() == b"PONG"
        assert c.read_reply().py() == b"OK"
        assert c.read_reply().py() == b"b"


def test_client_killed_while_blocked_loses_nothing(strata):
    with RespConnection(strata.port) as w:
        victim = RespConnection(strata.port)
        victim_id = victim.call(b"CLIENT", b"ID").value
        victim.send(b"BLPOP", b"k", b"0")
        wait_until_blocked(w, 1)
        assert w.call(b"CLIENT", b"KILL", b"ID", b"%d" % victim_id).value == 1
        wait_until_blocked(w, 0)
        assert w.call(b"RPUSH", b"k", b"kept").value == 1
        assert w.call(b"LRANGE", b"k", b"0", b"-1").py() == [b"kept"]
        victim.close()

        # The same when the client just goes away.
        gone = RespConnection(strata.port)
        gone.send(b"BLPOP", b"k2", b"0")
        wait_until_blocked(w, 1)
        gone.close()
        wait_until_blocked(w, 0)
        assert w.call(b"RPUSH", b"k2", b"kept").value == 1
        assert w.call(b"LLEN", b"k2").value == 1


def test_key_deleted_or_retyped_while_waiting_keeps_the_client_waiting(strata):
    with RespConnection(strata.port) as c, RespConnection(strata.port) as w:
        c.send(b"BLPOP", b"k", b"0")
        wait_until_blocked(w, 1)
        assert w.call(b"RPUSH", b"other", b"x").value == 1
        assert w.call(b"DEL", b"k").value == 0
        assert w.call(b"SET", b"k", b"a string").py() == b"OK"   # retyped: Redis 7.0 keeps waiting
        assert w.call(b"ZADD", b"z", b"1", b"m").value == 1
        assert nothing_to_read(c)
        assert blocked_clients(w) == 1
        assert w.call(b"DEL", b"k").value == 1
        assert w.call(b"RENAME", b"other", b"k").py() == b"OK"  # a list renamed onto the key serves it
        assert c.read_reply().py() == [b"k", b"x"]
        assert w.call(b"EXISTS", b"k", b"other").value == 0


def test_list_waiter_behind_a_sorted_set_waiter_on_the_same_key(strata):
    with RespConnection(strata.port) as z, RespConnection(strata.port) as l, RespConnection(strata.port) as w:
        z.send(b"BZPOPMIN", b"k", b"0")
        wait_until_blocked(w, 1)
        l.send(b"BLPOP", b"k", b"0")
        wait_until_blocked(w, 2)
        assert w.call(b"RPUSH", b"k", b"e").value == 1
        assert l.read_reply().py() == [b"k", b"e"]
        assert nothing_to_read(z)
        assert w.call(b"ZADD", b"k", b"2.5", b"m").value == 1
        assert z.read_reply().py() == [b"k", b"m", b"2.5"]


def test_blmove_serves_the_next_waiter_through_its_destination(strata):
    with RespConnection(strata.port) as mover, RespConnection(strata.port) as popper, \
            RespConnection(strata.port) as w:
        mover.send(b"BLMOVE", b"src", b"dst", b"LEFT", b"RIGHT", b"0")
        wait_until_blocked(w, 1)
        popper.send(b"BLPOP", b"dst", b"0")
        wait_until_blocked(w, 2)
        assert w.call(b"RPUSH", b"src", b"v").value == 1
        assert mover.read_reply().py() == b"v"
        assert popper.read_reply().py() == [b"dst", b"v"]
        assert w.call(b"EXISTS", b"src", b"dst").value == 0

        # A destination of the wrong type ends the wait with WRONGTYPE; the element stays.
        assert w.call(b"SET", b"dst", b"string").py() == b"OK"
        mover.send(b"BRPOPLPUSH", b"src", b"dst", b"0")
        wait_until_blocked(w, 1)
        assert w.call(b"RPUSH", b"src", b"v").value == 1
        assert mover.read_reply().value.startswith(b"WRONGTYPE")
        assert w.call(b"LRANGE", b"src", b"0", b"-1").py() == [b"v"]


def test_client_unblock_as_timeout_or_error(strata):
    with RespConnection(strata.port) as c, RespConnection(strata.port) as w:
        cid = c.call(b"CLIENT", b"ID").value
        assert w.call(b"CLIENT", b"UNBLOCK", b"%d" % cid).value == 0  # not blocked
        c.send(b"BLMPOP", b"0", b"2", b"a", b"b", b"LEFT", b"COUNT", b"2")
        wait_until_blocked(w, 1)
        line = [x for x in w.call(b"CLIENT", b"LIST").value.decode().splitlines() if f"id={cid} " in x][0]
        assert " flags=b " in line
        assert w.call(b"CLIENT", b"UNBLOCK", b"%d" % cid, b"TIMEOUT").value == 1
        reply = c.read_reply()
        assert reply.kind == "*" and reply.value is None
        c.send(b"BZPOPMAX", b"z", b"0")
        wait_until_blocked(w, 1)
        assert w.call(b"CLIENT", b"UNBLOCK", b"%d" % cid, b"ERROR").value == 1
        reply = c.read_reply()
        assert (reply.kind, reply.value) == ("-", b"UNBLOCKED client unblocked via CLIENT UNBLOCK")
        assert w.call(b"CLIENT", b"UNBLOCK", b"%d" % cid, b"ERROR").value == 0
        assert w.call(b"CLIENT", b"UNBLOCK", b"%d" % cid, b"LATER").value == \
            b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
        assert c.call(b"PING").py() == b"PONG"


def test_blocked_client_outlives_the_idle_timeout(strata_factory):
    server = strata_factory(config="timeout 1\n")
    with RespConnection(server.port) as c:
        c.send(b"BLPOP", b"k", b"3")
        with RespConnection(server.port) as w:
            wait_until_blocked(w, 1)
        time.sleep(2.2)  # past the idle timeout, which is checked once a second
        with RespConnection(server.port) as w:
            assert blocked_clients(w) == 1
            assert w.call(b"RPUSH", b"k", b"late").value == 1
            assert c.read_reply().py() == [b"k", b"late"]


def test_swapdb_and_move_serve_clients_waiting_in_the_other_database(strata):
    with RespConnection(strata.port) as c, RespConnection(strata.port) as w:
        assert c.call(b"SELECT", b"1").py() == b"OK"
        c.send(b"BLPOP", b"k", b"0")
        wait_until_blocked(w, 1)
        assert w.call(b"RPUSH", b"k", b"from-db0").value == 1
        assert nothing_to_read(c)
        assert w.call(b"SWAPDB", b"0", b"1").py() == b"OK"
        assert c.read_reply().py() == [b"k", b"from-db0"]
        c.send(b"BZPOPMIN", b"z", b"0")
        wait_until_blocked(w, 1)
        assert w.call(b"ZADD", b"z", b"1", b"m").value == 1  # db 0 (which was db 1)
        assert w.call(b"MOVE", b"z", b"1").value == 1
        assert c.read_reply().py() == [b"z", b"m", b"1"]


def test_a_new_blocking_command_queues_behind_clients_already_waiting(strata):
    with RespConnection(strata.port) as first, RespConnection(strata.port) as w:
        first.send(b"BLPOP", b"k", b"k", b"0")  # the same key twice waits once
        wait_until_blocked(w, 1)
        # A two-element push serves the waiter one and leaves one for the next command.
        assert w.call(b"RPUSH", b"k", b"a", b"b").value == 2
        assert first.read_reply().py() == [b"k", b"a"]
        assert w.call(b"BLPOP", b"k", b"0").py() == [b"k", b"b"]
        # BLMOVE of a list onto itself rotates it.
        assert w.call(b"RPUSH", b"r", b"1", b"2", b"3").value == 3
        assert w.call(b"BLMOVE", b"r", b"r", b"LEFT", b"RIGHT", b"0").py() == b"1"
        assert w.call(b"LRANGE", b"r", b"0", b"-1").py() == [b"2", b"3", b"1"]


def test_blocking_commands_describe_themselves_as_redis_does(strata):
    with RespConnection(strata.port) as c:
        info = c.call(b"COMMAND", b"INFO", b"blpop", b"bzpopmin").py()
        assert set(info[0][2]) == {b"write", b"noscript", b"blocking"}
        assert set(info[1][2]) == {b"write", b"noscript", b"fast", b"blocking"}
        assert c.call(b"CLIENT", b"UNBLOCK", b"abc", b"LATER").py() == \
            b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"


def test_many_waiters_and_writers_deliver_every_element_once(strata_factory):
    """Eight waiters on two keys and four writers on different I/O threads: every pushed
    element reaches exactly one client, and nobody is left blocked."""
    server = strata_factory("--io-threads", "4")
    per_writer = 300
    received = []
    lock = threading.Lock()

    def waiter(key):
        with RespConnection(server.port) as c:
            while True:
                reply = c.call(b"BLPOP", key, b"5")
                if reply.value is None:
                    return
                with lock:
                    received.append(reply.value[1].value)

    def writer(n):
        with RespConnection(server.port) as c:
            for i in range(per_writer):
                c.call(b"RPUSH", b"q%d" % (i % 2), b"w%d-%d" % (n, i))

    waiters = [threading.Thread(target=waiter, args=(b"q%d" % (i % 2),)) for i in range(8)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in waiters + writers:
        t.start()
    for t in writers + waiters:
        t.join(timeout=60)
        assert not t.is_alive()
    with RespConnection(server.port) as c:
        left = c.call(b"LLEN", b"q0").value + c.call(b"LLEN", b"q1").value
        assert blocked_clients(c) == 0
    assert left == 0
    assert sorted(received) == sorted(b"w%d-%d" % (n, i) for n in range(4) for i in range(per_writer))


def test_redis_py_blocking_api(strata):
    r = strata.client()
    other = strata.client()
    results = {}
    thread = threading.Thread(target=lambda: results.update(z=other.bzpopmax(["z1", "z2"], timeout=5)))
    thread.start()
    deadline = time.monotonic() + 5
    while r.info("clients")["blocked_clients"] != 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    r.zadd("z2", {"a": 1, "b": 2})
    thread.join()
    assert results["z"] == ("z2", "b", 2.0)
    assert r.blpop(["none"], timeout=0.05) is None
    r.rpush("l", "x", "y")
    assert r.brpoplpush("l", "m", timeout=1) == "y"
    assert r.blmove("l", "m", 1, "LEFT", "LEFT") == "x"
    assert r.lrange("m", 0, -1) == ["x", "y"]
    assert r.blmpop(1, 1, "m", direction="RIGHT", count=5) == ["m", ["y", "x"]]
    r.zadd("z", {"p": 1, "q": 2})
    assert r.bzmpop(1, 1, ["z"], min=True, count=1) == ["z", [["p", "1"]]]


# ---------------------------------------------------------------------------------------------
# Differential: one client blocks, another writes, on strata and on redis-server

BLOCK_SEEDS = scaled_seeds(6)
STEPS_PER_SEED = 150
LIST_KEYS = [b"a", b"b", b"c"]
ZSET_KEYS = [b"za", b"zb"]
KEYS = LIST_KEYS + ZSET_KEYS


class BlockingScenario:
    """Steps of: one blocking command, then 0-3 writes from another client. Mostly the writes
    feed the keys the command waits on; now and then they delete, retype or rename them."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def keys(self, family):
        return self.rng.sample(family, self.rng.randint(1, len(family)))

    def timeout(self):
        # A wait never ends by itself within a step (so no timing decides a reply): it ends by a
        # write or by CLIENT UNBLOCK.
        if self.rng.random() < 0.9:
            return self.rng.choice([b"0", b"0", b"10", b"0.5e2"])
        return self.rng.choice([b"-1", b"x", b"1e400", b"inf"])

    def blocking_command(self):
        r = self.rng
        t = self.timeout()
        choice = r.randrange(9)
        if choice in (0, 1):
            return [r.choice([b"BLPOP", b"BRPOP"]), *self.keys(LIST_KEYS), t]
        if choice == 2:
            to = r.choice([b"LEFT", b"RIGHT"]) if r.random() < 0.95 else b"UP"
            return [b"BLMOVE", r.choice(LIST_KEYS), r.choice(LIST_KEYS), r.choice([b"LEFT", b"RIGHT"]), to, t]
        if choice == 3:
            return [b"BRPOPLPUSH", r.choice(LIST_KEYS), r.choice(LIST_KEYS), t]
        if choice == 4:
            keys = self.keys(LIST_KEYS)
            args = [b"BLMPOP", t, b"%d" % len(keys), *keys, r.choice([b"LEFT", b"RIGHT"])]
            if r.random() < 0.5:
                args += [b"COUNT", r.choice([b"1", b"2", b"5", b"0"])]
            return args
        if choice in (5, 6):
            return [r.choice([b"BZPOPMIN", b"BZPOPMAX"]), *self.keys(ZSET_KEYS), t]
        if choice == 7 and r.random() < 0.3:
            return [b"BLPOP", *self.keys(KEYS), t]  # lists and sorted sets mixed: WRONGTYPE or a wait
        keys = self.keys(ZSET_KEYS)
        args = [b"BZMPOP", t, b"%d" % len(keys), *keys, r.choice([b"MIN", b"MAX"])]
        if r.random() < 0.5:
            args += [b"COUNT", r.choice([b"1", b"3"])]
        return args

    def write(self):
        r = self.rng
        choice = r.randrange(20)
        if choice < 8:
            return [r.choice([b"LPUSH", b"RPUSH"]), r.choice(LIST_KEYS),
                    *[r.choice([b"x", b"y", b"z"]) for _ in range(r.randint(1, 3))]]
        if choice < 14:
            return [b"ZADD", r.choice(ZSET_KEYS), b"%d" % r.randrange(5), r.choice([b"m1", b"m2", b"m3"]),
                    b"%d" % r.randrange(5), r.choice([b"m4", b"m5"])]
        if choice == 14 or (choice == 15 and r.random() < 0.7):
            return [b"DEL", r.choice(KEYS)]
        if choice == 15:
            return [b"SET", r.choice(KEYS), b"str"]  # until a DEL, commands on it answer WRONGTYPE
        if choice == 16:
            family = r.choice([LIST_KEYS, ZSET_KEYS])
            return [b"RENAME", r.choice(family), r.choice(family)]
        if choice == 17:
            return [b"LMOVE", r.choice(LIST_KEYS), r.choice(LIST_KEYS), b"LEFT", b"RIGHT"]
        if choice == 18:
            return [b"ZPOPMIN", r.choice(ZSET_KEYS)]
        return [b"LPOP", r.choice(LIST_KEYS)]


def run_step(blocker, writer, blocker_id, command, writes, unblock_as):
    """Sends `command` on blocker; once it has answered or blocked, the writes on writer, then
    CLIENT UNBLOCK (0 when it was not blocked any more). Returns every reply in order."""
    blocker.send(*command)
    deadline = time.monotonic() + 10
    while nothing_to_read(blocker, 0.002) and blocked_clients(writer) == 0:
        assert time.monotonic() < deadline, "the blocking command neither answered nor blocked"
    replies = [writer.call(*w) for w in writes]
    replies.append(writer.call(b"CLIENT", b"UNBLOCK", b"%d" % blocker_id, unblock_as))
    replies.insert(0, blocker.read_reply())
    return replies


@pytest.mark.parametrize("seed", BLOCK_SEEDS, ids=[f"seed_{s}" for s in BLOCK_SEEDS])
def test_blocking_sequences_match_redis(server_pair, seed):
    strata_server, redis_server = server_pair
    with RespConnection(strata_server.port) as sb, RespConnection(strata_server.port) as sw, \
            RespConnection(redis_server.port) as rb, RespConnection(redis_server.port) as rw:
        for conn in (sw, rw):
            assert conn.call(b"FLUSHALL").kind == "+"
            assert blocked_clients(conn) == 0
        if seed % 2:
            for conn in (sb, rb):
                assert conn.call(b"HELLO", b"3").kind == "%"
        ids = (sb.call(b"CLIENT", b"ID").value, rb.call(b"CLIENT", b"ID").value)
        scenario = BlockingScenario(seed)
        # Replies are compared after each step; Differ gives the report its history.
        differ = Differ(sw, rw, f"blocking seed {seed}", f"test_blocking_sequences_match_redis[seed_{seed}]")
        for step in range(STEPS_PER_SEED):
            command = scenario.blocking_command()
            writes = [scenario.write() for _ in range(scenario.rng.randint(0, 3))]
            unblock_as = scenario.rng.choice([b"TIMEOUT", b"ERROR"])
            s_replies = run_step(sb, sw, ids[0], command, writes, unblock_as)
            r_replies = run_step(rb, rw, ids[1], command, writes, unblock_as)
            op = Op([command[0], b"(step %d)" % step, *command[1:]] + [b"|"] + [b" ".join(w) for w in writes])
            assert len(s_replies) == len(r_replies) and all(
                fmt(a) == fmt(b) for a, b in zip(s_replies, r_replies)), differ.describe(op, s_replies, r_replies, "replies differ")
            state = [(k, sw.call(b"TYPE", k).text()) for k in KEYS]
            assert state == [(k, rw.call(b"TYPE", k).text()) for k in KEYS]
            for k, kind in state:
                if kind == "list":
                    assert sw.call(b"LRANGE", k, b"0", b"-1").py() == rw.call(b"LRANGE", k, b"0", b"-1").py()
                elif kind == "zset":
                    assert sw.call(b"ZRANGE", k, b"0", b"-1", b"WITHSCORES").py() == \
                        rw.call(b"ZRANGE", k, b"0", b"-1", b"WITHSCORES").py()

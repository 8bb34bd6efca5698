"""What an operator runs against a live server: MONITOR, CONFIG SET of several pairs, WAIT,
LASTSAVE, SAVE/BGSAVE, DEBUG SLEEP / SET-ACTIVE-EXPIRE / HELP, the cross-protocol protection, and
redis-cli's operator modes (--latency, --latency-history, --stat, --bigkeys, --memkeys, --hotkeys),
specified against Redis 7.0 (DESIGN.md 9: Redis's own replies and error texts).

Most tests run one scenario on strata and on Debian's redis-server 7.0.15 and hold both to the
same literal expectation (the redis run checks the test itself). Debian's redis-server refuses
DEBUG unless started with --enable-debug-command yes, so the oracle gets that option where DEBUG
is compared.

MONITOR: strata formats lines on each I/O thread and hands them to the monitors once per loop
iteration, so lines of different connections may interleave differently from Redis; each
connection's own lines keep their order. The MONITOR tests therefore compare each connection's
sequence of lines (with the timestamp and the client port taken out), never the interleaving of
connections. A script's `[db lua]` lines belong to the connection whose line precedes them (both
servers emit a script's lines right after its EVAL's line, in one piece).

Documented deviations, asserted as strata's own behaviour: WAIT answers 0 at once (no replicas;
Redis waits out the timeout to say the same), SAVE/BGSAVE are refused (strata keeps no snapshot).
No test asserts that anything is fast; DEBUG SLEEP is checked by a lower bound only.
"""
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import STRATA_SERVER
from helpers import (PtyProcess, Reply, RespConnection, ServerFactory, bulk, client_for, error, integer,  # noqa: F401
                     pair, server_factory, status, strata_available, wait_until)

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

REDIS_CLI = "/usr/bin/redis-cli"
SECURITY_WARNING = "Possible SECURITY ATTACK detected"
HTTP_POST = b"POST / HTTP/1.1\r\nHost: example\r\n\r\n"
HTTP_HOST_ONLY = b"Host: example\r\n\r\n"


# ---------------------------------------------------------------------------------------------
# Helpers

def ok(conn, *args):
    reply = conn.call(*args)
    assert reply == status("OK"), f"{' '.join(map(str, args))} -> {reply}"


def own_address(conn):
    host, port = conn.sock.getsockname()
    return f"{host}:{port}"


def start_debuggable(factory, *args):
    """A server of the factory's kind that answers DEBUG: both refuse it unless started with
    --enable-debug-command yes (or local), as Redis 7.0 does."""
    return factory("--enable-debug-command", "yes", *args)


@pytest.fixture
def debug_pair(tmp_path):
    """A fresh strata and a fresh redis-server that answers DEBUG."""
    strata = ServerFactory("strata", tmp_path / "strata")
    oracle = ServerFactory("redis", tmp_path / "redis")
    try:
        yield start_debuggable(strata), start_debuggable(oracle)
    finally:
        oracle.stop_all()
        strata.stop_all()


@pytest.fixture
def lfu_pair(tmp_path):
    """A fresh strata and redis-server, both with maxmemory-policy allkeys-lfu from the start."""
    strata = ServerFactory("strata", tmp_path / "strata")
    oracle = ServerFactory("redis", tmp_path / "redis")
    try:
        yield strata("--maxmemory-policy", "allkeys-lfu"), oracle("--maxmemory-policy", "allkeys-lfu")
    finally:
        oracle.stop_all()
        strata.stop_all()


def on_both(servers, scenario):
    """scenario(server) on strata and on redis-server; returns {"strata": result, "redis": result}."""
    results = {}
    for server, name in zip(servers, ("strata", "redis")):
        try:
            results[name] = scenario(server)
        except AssertionError as e:
            raise AssertionError(f"on {name}: {e}") from e
    return results


def assert_both_equal(results, expected):
    """Each server's result equals the literal expectation (the redis one checks the test)."""
    for name in ("redis", "strata"):
        assert results[name] == expected, (f"{name} differs from the expectation:\n  {name}: {results[name]}\n"
                                           f"  expected: {expected}\n  (redis gave: {results['redis']})")


def assert_silent(conn, seconds):
    """Nothing more arrives on conn within `seconds` (beyond what was already read)."""
    leftover = bytes(conn.buf[conn.pos:])
    assert leftover == b"", f"unexpected bytes: {leftover[:300]!r}"
    conn.sock.settimeout(seconds)
    try:
        data = conn.sock.recv(65536)
    except socket.timeout:
        return
    finally:
        conn.sock.settimeout(10)
    raise AssertionError(f"expected silence, got {data[:300]!r}")


def http_attempt(port, payload):
    """Sends `payload` on a fresh connection; returns every byte received until the server closed it."""
    with RespConnection(port) as conn:
        conn.send_raw(payload)
        return conn.read_until_closed(timeout=5.0)


def client_list(conn):
    """CLIENT LIST as one dict per client."""
    text = conn.call("CLIENT", "LIST").value.decode()
    return [dict(item.split("=", 1) for item in line.split(" ") if "=" in item) for line in text.splitlines() if line]


def clients_in_list(conn, command):
    """The CLIENT LIST rows whose last command (cmd=) is `command`."""
    return [row for row in client_list(conn) if row.get("cmd") == command]


def info_field(conn, section, name):
    text = conn.call("INFO", section).value.decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError(f"INFO {section} has no {name}:\n{text}")


# ---------------------------------------------------------------------------------------------
# MONITOR lines

# `+<secs>.<6 digits> [<db> <origin>] "arg" "arg"...`, origin being ip:port, unix:path or lua.
MONITOR_LINE = re.compile(rb'^(\d+)\.(\d{6}) \[(\d+) (\S+)\] ("(?:[^"\\]|\\.)*"(?: "(?:[^"\\]|\\.)*")*)$')
QUOTED_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')
SIMPLE_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b", b'"': b'"', b"\\": b"\\"}


def unquote(body):
    """One argument as Redis's sdscatrepr wrote it, back to its bytes."""
    out, i = bytearray(), 0
    while i < len(body):
        if body[i:i + 1] == b"\\":
            code = body[i + 1:i + 2]
            if code == b"x":
                out.append(int(body[i + 2:i + 4], 16))
                i += 4
            else:
                out += SIMPLE_ESCAPES[code]
                i += 2
        else:
            out += body[i:i + 1]
            i += 1
    return bytes(out)


class MonitorLine:
    def __init__(self, raw):
        match = MONITOR_LINE.match(raw)
        assert match, f"not a MONITOR line: {raw!r}"
        secs, micros, db, origin, self.args_text = match.groups()
        self.time = int(secs) + int(micros) / 1e6
        self.db = int(db)
        self.origin = origin.decode()
        self.args = [unquote(m.group(1)) for m in QUOTED_ARG.finditer(self.args_text)]

    def shown(self, lua):
        """The line without timestamp and port: `[db] "args"` or `[db lua] "args"`."""
        return f"[{self.db}{' lua' if lua else ''}] {self.args_text.decode('ascii')}"


class MonitorFeed:
    """A connection that has sent MONITOR (its first reply must be exactly +OK)."""

    def __init__(self, port):
        self.conn = RespConnection(port)
        self.conn.send("MONITOR")
        first = self.conn.read_exactly(5)
        assert first == b"+OK\r\n", f"MONITOR's reply must be +OK, got {first!r}"

    def next_line(self):
        reply = self.conn.read_reply()
        assert reply.kind == "+", f"a monitor receives only +lines, got {reply}"
        return MonitorLine(reply.value)

    def read_until_echoes(self, sentinels):
        """Lines until an ECHO of every sentinel has been seen (each client ends with one)."""
        waiting, lines = set(sentinels), []
        while waiting:
            line = self.next_line()
            lines.append(line)
            if len(line.args) == 2 and line.args[0].upper() == b"ECHO":
                waiting.discard(line.args[1].decode())
        return lines

    def close(self):
        self.conn.close()


def per_connection(lines, names):
    """{client name: [shown line, ...]}; `names` maps "ip:port" to a name. A lua line belongs to
    the connection of the line before it."""
    sequences = {name: [] for name in names.values()}
    owner = None
    for line in lines:
        if line.origin == "lua":
            assert owner is not None, "a lua line came first"
            sequences[owner].append(line.shown(lua=True))
        else:
            owner = names.get(line.origin, f"other {line.origin}")
            sequences.setdefault(owner, []).append(line.shown(lua=False))
    return sequences


# ---------------------------------------------------------------------------------------------
# MONITOR, differential

WEIRD_VALUE = b'a"b\\c\r\n\t\x00\x01\x7f\xff \xc3\xa9'
SET_AND_GET_SCRIPT = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])"
SELECT_IN_SCRIPT = "redis.call('select', '2') return redis.call('set', KEYS[1], 'v')"

MONITOR_SCENARIO = {
    "a": [
        ("SET", "k1", WEIRD_VALUE),
        ("GET", b"\x07\x08"),
        ("CONFIG", "GET", "maxmemory"),      # admin: not shown
        ("SLOWLOG", "GET"),                  # admin: not shown
        ("CLIENT", "LIST"),                  # admin: not shown
        ("SELECT", "3"),
        ("SET", "x", "1"),
        ("AUTH", "default", "secret"),
        ("HELLO", "2", "AUTH", "default", "secret"),
        ("SELECT", "0"),
        ("EVAL", SET_AND_GET_SCRIPT, "1", "lk", "lv"),
        ("MULTI",), ("SET", "m", "1"), ("INCR", "m"), ("EXEC",),
        ("GET",),                            # arity error: not shown
        ("NOSUCHCOMMAND", "x"),              # unknown: not shown
        ("ECHO", "end-a"),
    ],
    "b": [
        ("SET", "b:1", "1"),
        ("SELECT", "1"),
        ("INCR", "b:2"),
        ("EVAL", SELECT_IN_SCRIPT, "1", "b:k"),
        ("SLOWLOG", "LEN"),                  # admin: not shown
        ("PING",),
        ("ECHO", "end-b"),
    ],
    "c": [("SET", f"c:{i}", i) for i in range(20)] + [("DEL", "c:0"), ("ECHO", "end-c")],
}

MONITOR_EXPECTED = {
    "a": [
        r'[0] "SET" "k1" "a\"b\\c\r\n\t\x00\x01\x7f\xff \xc3\xa9"',
        r'[0] "GET" "\a\b"',
        r'[3] "SELECT" "3"',
        r'[3] "SET" "x" "1"',
        r'[3] "AUTH" "(redacted)" "(redacted)"',
        r'[3] "HELLO" "2" "AUTH" "(redacted)" "(redacted)"',
        r'[0] "SELECT" "0"',
        f'[0] "EVAL" "{SET_AND_GET_SCRIPT}" "1" "lk" "lv"',
        r'[0 lua] "set" "lk" "lv"',
        r'[0 lua] "get" "lk"',
        r'[0] "MULTI"', r'[0] "SET" "m" "1"', r'[0] "INCR" "m"', r'[0] "EXEC"',
        r'[0] "ECHO" "end-a"',
    ],
    "b": [
        r'[0] "SET" "b:1" "1"',
        r'[1] "SELECT" "1"',
        r'[1] "INCR" "b:2"',
        f'[1] "EVAL" "{SELECT_IN_SCRIPT}" "1" "b:k"',
        r'[2 lua] "select" "2"',
        r'[2 lua] "set" "b:k" "v"',
        r'[1] "PING"',
        r'[1] "ECHO" "end-b"',
    ],
    "c": [f'[0] "SET" "c:{i}" "{i}"' for i in range(20)] + [r'[0] "DEL" "c:0"', r'[0] "ECHO" "end-c"'],
}


def run_monitor_scenario(server):
    """Three clients interleave MONITOR_SCENARIO's commands one at a time while a fourth
    connection monitors; returns each client's lines as the monitor showed them."""
    feed = MonitorFeed(server.port)
    clients = {name: RespConnection(server.port) for name in MONITOR_SCENARIO}
    try:
        names = {own_address(conn): name for name, conn in clients.items()}
        before = time.time()
        for step in range(max(len(cmds) for cmds in MONITOR_SCENARIO.values())):
            for name, cmds in MONITOR_SCENARIO.items():
                if step < len(cmds):
                    clients[name].call(*cmds[step])
        after = time.time()
        lines = feed.read_until_echoes(["end-a", "end-b", "end-c"])
        for line in lines:
            assert before - 1 <= line.time <= after + 1, f"timestamp {line.time} is not the time of the command"
        first = next(line for line in lines if line.args[:2] == [b"SET", b"k1"])
        assert first.args[2] == WEIRD_VALUE, f"the escaped argument does not decode to what was sent: {first.args}"
        return per_connection(lines, names)
    finally:
        feed.close()
        for conn in clients.values():
            conn.close()


def test_monitor_shows_each_connections_commands_in_order_as_redis_formats_them(pair):
    results = on_both(pair, run_monitor_scenario)
    assert_both_equal(results, MONITOR_EXPECTED)


def test_monitor_first_reply_is_ok_then_lines_with_seconds_micros_db_and_client_address(pair):
    def scenario(server):
        feed = MonitorFeed(server.port)  # asserts the exact +OK\r\n
        with RespConnection(server.port) as client:
            ok(client, "SET", "greeting", "hello")
            line = feed.next_line()
            assert line.origin == own_address(client), f"origin {line.origin} is not the client's ip:port"
        feed.close()
        return line.db, line.args

    assert_both_equal(on_both(pair, scenario), (0, [b"SET", b"greeting", b"hello"]))


def test_monitor_inside_multi_is_refused_with_redis_error(pair):
    def scenario(server):
        with RespConnection(server.port) as conn:
            return [conn.call("MULTI"), conn.call("MONITOR"), conn.call("EXEC"), conn.call("PING")]

    assert_both_equal(on_both(pair, scenario), [
        status("OK"), status("QUEUED"),
        Reply("*", [error("ERR MONITOR isn't allowed for DENY BLOCKING client")]),
        status("PONG"),
    ])


def test_a_monitor_is_a_feed_its_second_monitor_is_silent_and_keyspace_commands_are_refused(pair):
    def scenario(server):
        feed = MonitorFeed(server.port)
        with RespConnection(server.port) as other:
            feed.conn.send_raw(b"MONITOR\r\nPING\r\n")
            replies = []  # what precedes the monitor's line of its own PING (Redis: no reply to MONITOR)
            while True:
                reply = feed.conn.read_reply()
                if reply.kind == "+" and MONITOR_LINE.match(reply.value):
                    assert MonitorLine(reply.value).args == [b"PING"], reply
                    break
                replies.append(reply)
            feed.conn.send("GET", "k")
            refused = feed.conn.read_reply()
            flags = [row["flags"] for row in client_list(other) if row["addr"] == own_address(feed.conn)]
        feed.close()
        return replies, refused, flags

    assert_both_equal(on_both(pair, scenario), (
        [status("PONG")], error("ERR Replica can't interact with the keyspace"), ["O"]))


def test_reset_leaves_monitor_mode_and_no_more_lines_arrive(pair):
    def scenario(server):
        leaving, witness = MonitorFeed(server.port), MonitorFeed(server.port)
        with RespConnection(server.port) as client:
            leaving.conn.send("RESET")
            while True:  # lines of commands before the RESET may precede its reply
                reply = leaving.conn.read_reply()
                if reply == status("RESET"):
                    break
                assert reply.kind == "+" and MONITOR_LINE.match(reply.value), reply
            ok(client, "SET", "after-reset", "1")
            assert client.call("ECHO", "done") == bulk("done")
            seen = [line.args for line in witness.read_until_echoes(["done"])]
            assert [b"SET", b"after-reset", b"1"] in seen, seen
            time.sleep(0.2)  # the witness got the line; the one that left must get nothing
            pong = leaving.conn.call("PING")
            assert_silent(leaving.conn, 0.3)
            in_list = len(clients_in_list(client, "monitor"))
        leaving.close()
        witness.close()
        return pong, in_list

    assert_both_equal(on_both(pair, scenario), (status("PONG"), 1))


def test_monitor_is_limited_as_a_normal_client_not_as_a_replica(pair):
    """Redis (getClientType): a monitor counts as a normal client for client-output-buffer-limit."""
    def monitors_left(port, limits, wait_for_close):
        with RespConnection(port) as admin:
            ok(admin, "CONFIG", "SET", "client-output-buffer-limit", limits)
            mon = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            mon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel absorbs little
            mon.settimeout(10)
            mon.connect(("127.0.0.1", port))
            try:
                mon.sendall(b"MONITOR\r\n")
                assert mon.recv(5) == b"+OK\r\n"
                value = b"x" * 100_000
                for i in range(80):  # 8 MB of lines the monitor does not read
                    ok(admin, "SET", f"big:{i}", value)
                if wait_for_close:  # Redis closes it asynchronously
                    wait_until(lambda: not clients_in_list(admin, "monitor"), 5.0)
                else:  # time enough for a close to be seen, had there been one
                    time.sleep(0.5)
                return len(clients_in_list(admin, "monitor"))
            finally:
                mon.close()

    def scenario(server):
        replica_limited = monitors_left(server.port, "replica 256kb 0 0 normal 0 0 0", wait_for_close=False)
        normal_limited = monitors_left(server.port, "normal 256kb 0 0 replica 0 0 0", wait_for_close=True)
        return replica_limited, normal_limited

    assert_both_equal(on_both(pair, scenario), (1, 0))


# ---------------------------------------------------------------------------------------------
# MONITOR under load

LOAD_CLIENTS = 4
LOAD_PER_CLIENT = 5000
LOAD_CHUNK = 500


def load_worker(port, index, addresses, errors, go_on=None):
    """LOAD_PER_CLIENT pipelined SETs (in chunks), then ECHO load-done-<index>. If `go_on` is
    given, waits for it after the first chunk."""
    try:
        with RespConnection(port) as conn:
            addresses[index] = own_address(conn)
            for start in range(0, LOAD_PER_CLIENT, LOAD_CHUNK):
                replies = conn.pipeline([("SET", f"ld:{index}:{i}", i) for i in range(start, start + LOAD_CHUNK)])
                bad = [r for r in replies if r != status("OK")]
                assert not bad, f"client {index}: {bad[:3]}"
                if go_on is not None and start == 0:
                    assert go_on.wait(20), "the monitor never left"
            assert conn.call("ECHO", f"load-done-{index}") == bulk(f"load-done-{index}")
    except Exception as e:  # reported by the test thread
        errors.append(f"client {index}: {e!r}")


def expected_load_lines(index):
    return [f'[0] "SET" "ld:{index}:{i}" "{i}"' for i in range(LOAD_PER_CLIENT)] + \
           [f'[0] "ECHO" "load-done-{index}"']


def test_monitor_under_pipelined_load_gets_exactly_one_line_per_command_in_order(server_factory):
    server = server_factory()
    feed = MonitorFeed(server.port)
    addresses, errors = {}, []
    workers = [threading.Thread(target=load_worker, args=(server.port, i, addresses, errors))
               for i in range(LOAD_CLIENTS)]
    for w in workers:
        w.start()
    try:
        lines = feed.read_until_echoes([f"load-done-{i}" for i in range(LOAD_CLIENTS)])
    finally:
        for w in workers:
            w.join(30)
    assert not errors, errors
    assert len(lines) == LOAD_CLIENTS * (LOAD_PER_CLIENT + 1), f"{len(lines)} lines"
    sequences = per_connection(lines, {addr: i for i, addr in addresses.items()})
    assert set(sequences) == set(range(LOAD_CLIENTS)), f"lines from unknown origins: {set(sequences)}"
    for i in range(LOAD_CLIENTS):
        assert sequences[i] == expected_load_lines(i), f"client {i}'s lines are not its commands in order"
    with RespConnection(server.port) as conn:
        assert conn.call("DBSIZE") == integer(LOAD_CLIENTS * LOAD_PER_CLIENT)
    feed.close()


def test_monitor_that_disconnects_mid_stream_does_not_disturb_the_server(strata):
    stayer, quitter = MonitorFeed(strata.port), MonitorFeed(strata.port)
    addresses, errors, quitter_gone = {}, [], threading.Event()
    workers = [threading.Thread(target=load_worker, args=(strata.port, i, addresses, errors, quitter_gone))
               for i in range(LOAD_CLIENTS)]
    for w in workers:
        w.start()
    try:
        for _ in range(LOAD_CHUNK):  # the quitter reads part of the first chunks' lines, then resets
            quitter.next_line()
        quitter.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        quitter.close()
        quitter_gone.set()
        lines = stayer.read_until_echoes([f"load-done-{i}" for i in range(LOAD_CLIENTS)])
    finally:
        quitter_gone.set()
        for w in workers:
            w.join(30)
    assert not errors, errors
    sequences = per_connection(lines, {addr: i for i, addr in addresses.items()})
    for i in range(LOAD_CLIENTS):
        assert sequences[i] == expected_load_lines(i), f"client {i}'s lines are not its commands in order"
    r = client_for(strata)
    assert r.dbsize() == LOAD_CLIENTS * LOAD_PER_CLIENT
    assert r.get(f"ld:3:{LOAD_PER_CLIENT - 1}") == str(LOAD_PER_CLIENT - 1)
    # The stayer and this client are what is left.
    assert wait_until(lambda: r.info("clients")["connected_clients"] == 2, 5.0), r.info("clients")
    # A new monitor still works, and sees one line for one command.
    fresh = MonitorFeed(strata.port)
    assert r.set("after", "1") is True
    assert fresh.next_line().args == [b"SET", b"after", b"1"]
    fresh.close()
    stayer.close()
    r.close()


# ---------------------------------------------------------------------------------------------
# CONFIG SET with several pairs, differential

def config_get(conn, name):
    reply = conn.call("CONFIG", "GET", name)
    assert reply.kind == "*" and len(reply.value) == 2, reply
    return reply.value[1].value.decode()


def test_config_set_of_several_pairs_applies_them_all(pair):
    def scenario(server):
        with RespConnection(server.port) as conn:
            reply = conn.call("CONFIG", "SET", "maxmemory-samples", "7", "hz", "15", "maxmemory", "10mb",
                              "slowlog-log-slower-than", "5000")
            return reply, [config_get(conn, name) for name in
                           ("maxmemory-samples", "hz", "maxmemory", "slowlog-log-slower-than")]

    assert_both_equal(on_both(pair, scenario), (status("OK"), ["7", "15", "10485760", "5000"]))


CONFIG_REFUSALS = {
    "bad-value": (("hz", "20", "maxmemory", "10mb", "slowlog-log-slower-than", "-5"),
                  "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - "
                  "argument must be between -1 and 9223372036854775807 inclusive"),
    "bad-integer": (("hz", "20", "maxmemory-samples", "abc"),
                    "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - "
                    "argument couldn't be parsed into an integer"),
    "duplicate": (("hz", "20", "maxmemory", "10mb", "HZ", "21"),
                  "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"),
    "unknown": (("hz", "20", "no-such-parameter", "1", "maxmemory", "10mb"),
                "ERR Unknown option or number of arguments for CONFIG SET - 'no-such-parameter'"),
    "immutable": (("hz", "20", "maxmemory", "10mb", "databases", "4"),
                  "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
    "odd-arguments": (("hz", "20", "maxmemory"), "ERR syntax error"),
}


@pytest.mark.parametrize("case", list(CONFIG_REFUSALS))
def test_config_set_refused_anywhere_changes_nothing_and_says_why_as_redis(pair, case):
    pairs, expected_error = CONFIG_REFUSALS[case]

    def scenario(server):
        with RespConnection(server.port) as conn:
            reply = conn.call("CONFIG", "SET", *pairs)
            return reply, [config_get(conn, name) for name in ("hz", "maxmemory", "maxmemory-samples", "databases")]

    assert_both_equal(on_both(pair, scenario), (error(expected_error), ["10", "0", "5", "16"]))


# ---------------------------------------------------------------------------------------------
# WAIT, LASTSAVE, SAVE / BGSAVE

def test_wait_answers_zero_replicas_and_refuses_bad_numbers_as_redis(pair):
    def scenario(server):
        with RespConnection(server.port) as conn:
            ok(conn, "SET", "k", "v")
            return [conn.call(*args) for args in [
                ("WAIT", "0", "0"), ("WAIT", "1", "100"), ("WAIT", "-1", "0"),
                ("WAIT", "x", "0"), ("WAIT", "1.5", "0"), ("WAIT", "99999999999999999999", "0"),
                ("WAIT", "0", "x"), ("WAIT", "0", "1.5"), ("WAIT", "0", "-1"),
                ("WAIT", "0"), ("WAIT", "0", "0", "0")]]

    not_integer = error("ERR value is not an integer or out of range")
    bad_timeout = error("ERR timeout is not an integer or out of range")
    assert_both_equal(on_both(pair, scenario), [
        integer(0), integer(0), integer(0),
        not_integer, not_integer, not_integer,
        bad_timeout, bad_timeout, error("ERR timeout is negative"),
        error("ERR wrong number of arguments for 'wait' command"),
        error("ERR wrong number of arguments for 'wait' command"),
    ])


def test_wait_for_a_replica_answers_zero_at_once_in_strata(strata):
    # Documented deviation: no replica will ever acknowledge, so strata does not wait the timeout.
    with RespConnection(strata.port) as conn:
        ok(conn, "SET", "k", "v")
        assert conn.call("WAIT", "1", "0") == integer(0)  # Redis would block forever here


def test_lastsave_is_the_start_time_as_info_says(server_factory):
    before = time.time()
    server = server_factory()
    after = time.time()
    with RespConnection(server.port) as conn:
        reply = conn.call("LASTSAVE")
        assert reply.kind == ":", reply
        assert int(before) <= reply.value <= after, f"LASTSAVE {reply.value} is not in [{before}, {after}]"
        assert reply.value == int(info_field(conn, "persistence", "rdb_last_save_time"))
        assert conn.call("LASTSAVE", "x") == error("ERR wrong number of arguments for 'lastsave' command")


def test_save_and_bgsave_say_strata_keeps_no_snapshot(strata):
    text = ("ERR strata keeps no snapshot: its data is rebuilt from its sources (spill-dir and "
            "spill-on-shutdown keep values across restarts)")
    with RespConnection(strata.port) as conn:
        ok(conn, "SET", "k", "v")
        assert conn.call("SAVE") == error(text)
        assert conn.call("BGSAVE") == error(text)
        assert conn.call("BGSAVE", "SCHEDULE") == error(text)
        assert conn.call("SAVE", "x") == error("ERR wrong number of arguments for 'save' command")
        assert conn.call("LASTSAVE").value == int(info_field(conn, "persistence", "rdb_last_save_time"))
    assert not list(strata.workdir.glob("*.rdb")), "no snapshot file may appear"


# ---------------------------------------------------------------------------------------------
# enable-debug-command and enable-monitor-command: the gates of DEBUG and MONITOR

DEBUG_REFUSED = ('ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run '
                 'it from a local connection, otherwise you need to set this option in the configuration file, and '
                 'then restart the server.')


def test_debug_is_refused_by_default_with_redis_words_even_inside_multi_and_the_gate_is_startup_only(pair):
    def scenario(server):
        with RespConnection(server.port) as conn:
            return [conn.call("DEBUG", "SLEEP", "0"), conn.call("DEBUG"), conn.call("CONFIG", "GET", "enable-debug-command"),
                    conn.call("CONFIG", "SET", "enable-debug-command", "yes"),
                    conn.call("MULTI"), conn.call("DEBUG", "HELP"), conn.call("EXEC")]

    assert_both_equal(on_both(pair, scenario), [
        error(DEBUG_REFUSED),
        error("ERR wrong number of arguments for 'debug' command"),  # arity is checked first
        Reply("*", [bulk(b"enable-debug-command"), bulk(b"no")]),
        error("ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable "
              "config"),
        status("OK"), error(DEBUG_REFUSED),
        error("EXECABORT Transaction discarded because of previous errors."),
    ])


def test_debug_local_serves_a_client_on_this_host(tmp_path):
    strata, oracle = ServerFactory("strata", tmp_path / "s"), ServerFactory("redis", tmp_path / "r")
    try:
        def scenario(server):
            with RespConnection(server.port) as conn:  # 127.0.0.1: local
                return [conn.call("DEBUG", "SLEEP", "0"), conn.call("CONFIG", "GET", "enable-debug-command")]

        assert_both_equal(on_both((strata("--enable-debug-command", "local"), oracle("--enable-debug-command", "local")),
                                  scenario),
                          [status("OK"), Reply("*", [bulk(b"enable-debug-command"), bulk(b"local")])])
    finally:
        oracle.stop_all()
        strata.stop_all()


def test_enable_monitor_command_no_refuses_monitor_and_local_allows_this_host(tmp_path):
    """strata's own gate, worded as Redis words DEBUG's: MONITOR shows every client's values."""
    strata = ServerFactory("strata", tmp_path)
    try:
        closed = strata("--enable-monitor-command", "no")
        with RespConnection(closed.port) as conn:
            assert conn.call("MONITOR") == error(
                'ERR MONITOR command not allowed. If the enable-monitor-command option is set to "local", you can '
                'run it from a local connection, otherwise you need to set this option in the configuration file, '
                'and then restart the server.')
            assert conn.call("PING") == status("PONG"), "a refused MONITOR leaves the client a normal client"
            assert conn.call("CONFIG", "GET", "enable-monitor-command") == Reply(
                "*", [bulk(b"enable-monitor-command"), bulk(b"no")])
        local = strata("--enable-monitor-command", "local")
        with RespConnection(local.port) as conn, RespConnection(local.port) as other:
            assert conn.call("MONITOR") == status("OK")
            other.call("SET", "k", "v")
            assert '"SET" "k" "v"' in conn.read_reply().text()
    finally:
        strata.stop_all()


# ---------------------------------------------------------------------------------------------
# DEBUG SLEEP / SET-ACTIVE-EXPIRE / HELP

def test_debug_sleep_blocks_the_calling_client_for_the_time_and_replies_ok(server_factory):
    server = start_debuggable(server_factory)
    with RespConnection(server.port) as conn:
        start = time.monotonic()
        reply = conn.call("DEBUG", "SLEEP", "0.2")
        elapsed = time.monotonic() - start
        assert reply == status("OK")
        assert elapsed >= 0.2, f"DEBUG SLEEP 0.2 replied after {elapsed:.3f}s"
        assert conn.call("DEBUG", "SLEEP", "0") == status("OK")
        assert conn.call("PING") == status("PONG")


def test_debug_set_active_expire_0_keeps_expired_keys_until_accessed_and_1_reclaims_them(server_factory):
    server = start_debuggable(server_factory)
    with RespConnection(server.port) as conn:
        ok(conn, "CONFIG", "SET", "hz", "100")  # many expiry cycles in the wait below
        ok(conn, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
        ok(conn, "SET", "short", "v", "PX", "50")
        ok(conn, "SET", "plain", "v")
        time.sleep(0.6)
        assert conn.call("DBSIZE") == integer(2), "with active expiry off the expired key must stay"
        assert conn.call("GET", "short") == bulk(None)
        assert conn.call("DBSIZE") == integer(1), "an access reclaims the expired key"
        ok(conn, "DEBUG", "SET-ACTIVE-EXPIRE", "1")
        ok(conn, "SET", "short2", "v", "PX", "50")
        assert wait_until(lambda: conn.call("DBSIZE") == integer(1), 5.0), "active expiry did not reclaim short2"
        assert conn.call("EXISTS", "plain") == integer(1)
        assert info_field(conn, "stats", "expired_keys") == "2"


def test_debug_help_lists_sleep_and_set_active_expire(server_factory):
    server = start_debuggable(server_factory)
    with RespConnection(server.port) as conn:
        reply = conn.call("DEBUG", "HELP")
    assert reply.kind == "*" and all(item.kind == "+" for item in reply.value), reply
    lines = [item.value.decode() for item in reply.value]
    assert lines[0] == "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert "SLEEP <seconds>" in lines and "SET-ACTIVE-EXPIRE <0|1>" in lines, lines
    assert lines[lines.index("HELP") + 1] == "    Prints this help."
    assert lines[lines.index("SLEEP <seconds>") + 1].startswith("    Stop the server")


def test_debug_wrong_arguments_and_unknown_subcommands_are_redis_errors(debug_pair):
    def scenario(server):
        with RespConnection(server.port) as conn:
            return [conn.call(*args) for args in [("DEBUG", "SLEEP"), ("DEBUG", "NOSUCH"), ("DEBUG", "help", "x"),
                                                  ("DEBUG",)]]

    assert_both_equal(on_both(debug_pair, scenario), [
        error("ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP."),
        error("ERR unknown subcommand or wrong number of arguments for 'NOSUCH'. Try DEBUG HELP."),
        error("ERR unknown subcommand or wrong number of arguments for 'help'. Try DEBUG HELP."),
        error("ERR wrong number of arguments for 'debug' command"),
    ])


DEBUG_OBJECT_LINE = re.compile(r"^Value at:0x[0-9a-f]+ refcount:1 encoding:(\S+) serializedlength:(\d+) "
                               r"lru:(\d+) lru_seconds_idle:(\d+)")


def test_debug_object_describes_a_key_in_redis_format(debug_pair):
    def scenario(server):
        with RespConnection(server.port) as conn:
            conn.call("SET", "s", "bar")
            conn.call("SET", "n", "12345")
            conn.call("HSET", "h", "f", "v")
            conn.call("SADD", "set", "1", "2")
            lines = [conn.call("DEBUG", "OBJECT", key) for key in ("s", "n", "h", "set")]
            missing = conn.call("DEBUG", "OBJECT", "nosuch")
        assert all(line.kind == "+" for line in lines), lines
        matches = [DEBUG_OBJECT_LINE.match(line.value.decode()) for line in lines]
        assert all(matches), lines
        assert all(int(m.group(2)) > 0 and int(m.group(4)) < 60 for m in matches), lines
        return [m.group(1) for m in matches], missing

    assert_both_equal(on_both(debug_pair, scenario), (["embstr", "int", "listpack", "intset"], error("ERR no such key")))


def raw_replies(port, commands, protocol):
    """The bytes the server sends for `commands` after HELLO `protocol` (HELLO's reply dropped)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"HELLO {protocol}\r\n".encode())
        reader = _Reader(sock)
        reader.raw_one()
        sock.sendall(b"".join(commands))
        replies = []
        for _ in commands:
            reply = piece = reader.raw_one()
            while piece[:1] in (b">", b"|"):  # a push or an attribute comes before the reply itself
                piece = reader.raw_one()
                reply += piece
            replies.append(reply)
        return replies


class _Reader:
    """Reads whole RESP replies off a socket, as raw bytes."""

    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def _exactly(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def raw_one(self):
        line = self._line()
        kind, rest = line[:1], line[1:-2]
        if kind in b"$=" and rest != b"-1":
            return line + self._exactly(int(rest) + 2)
        if kind in b"*~>" and rest != b"-1":
            return line + b"".join(self.raw_one() for _ in range(int(rest)))
        if kind in b"%|":
            return line + b"".join(self.raw_one() for _ in range(2 * int(rest)))
        return line


@pytest.mark.parametrize("protocol", [2, 3])
def test_debug_protocol_sends_each_resp_type_byte_for_byte_as_redis(debug_pair, protocol):
    types = ["string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
             "verbatim", "true", "false", "nosuch"]
    commands = [f"DEBUG PROTOCOL {t}\r\n".encode() for t in types]
    strata, oracle = debug_pair
    got = raw_replies(strata.port, commands, protocol)
    expected = raw_replies(oracle.port, commands, protocol)
    assert got == expected


# ---------------------------------------------------------------------------------------------
# Cross-protocol protection

def test_http_post_is_cut_off_without_a_byte_and_logged_at_most_once_a_minute(server_factory):
    server = server_factory()
    with RespConnection(server.port) as before:
        ok(before, "SET", "bystander", "1")
        assert http_attempt(server.port, HTTP_POST) == b"", "the server must send nothing to an HTTP request"
        assert wait_until(lambda: SECURITY_WARNING in server.output(), 5.0), server.output()[-2000:]
        with RespConnection(server.port) as meanwhile:
            assert http_attempt(server.port, HTTP_HOST_ONLY) == b""
            assert http_attempt(server.port, HTTP_POST) == b""
            assert http_attempt(server.port, b"*1\r\n$4\r\npost\r\n") == b""
            assert server.output().count(SECURITY_WARNING) == 1, "logged again within the minute"
            assert meanwhile.call("GET", "bystander") == bulk("1")
            assert before.call("INCR", "bystander") == integer(2)
            assert before.call("PING") == status("PONG")


def test_host_header_as_the_first_line_is_cut_off_without_a_byte_and_logged(server_factory):
    server = server_factory()
    with RespConnection(server.port) as bystander:
        assert http_attempt(server.port, HTTP_HOST_ONLY) == b""
        assert wait_until(lambda: SECURITY_WARNING in server.output(), 5.0), server.output()[-2000:]
        assert bystander.call("PING") == status("PONG")


# ---------------------------------------------------------------------------------------------
# redis-cli's operator modes

KEYSPACE_SUMMARY = [
    "Biggest   list found '\"l:big\"' has 300 items",
    "Biggest   hash found '\"h:big\"' has 200 fields",
    "Biggest string found '\"s:big\"' has 5000 bytes",
    "Biggest    set found '\"set:big\"' has 150 members",
    "Biggest   zset found '\"z:big\"' has 120 members",
]
BIGGEST_BY_TYPE = {"list": "l:big", "hash": "h:big", "string": "s:big", "set": "set:big", "zset": "z:big"}


def populate(server):
    """11 keys of five types and known sizes: in each type one big key and one or two small."""
    r = client_for(server)
    r.set("s:small", "x" * 10)
    r.set("s:big", "y" * 5000)
    r.set("s:mid", "z" * 100)
    r.rpush("l:big", *range(300))
    r.rpush("l:small", *range(3))
    r.hset("h:big", mapping={f"f{i}": i for i in range(200)})
    r.hset("h:small", mapping={"a": 1})
    r.sadd("set:big", *range(150))
    r.sadd("set:small", 1, 2)
    r.zadd("z:big", {f"m{i}": i for i in range(120)})
    r.zadd("z:small", {"a": 1})
    assert r.dbsize() == 11
    return r


def redis_cli(port, *args, timeout=20):
    result = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *map(str, args)],
                            capture_output=True, timeout=timeout, text=True)
    assert result.returncode == 0, f"redis-cli {' '.join(map(str, args))}: {result.stdout}{result.stderr}"
    return result.stdout


def summary(output):
    """The part after '-------- summary -------' (the scan's progress lines depend on SCAN order)."""
    assert "-------- summary -------" in output, output
    return [line for line in output.split("-------- summary -------", 1)[1].splitlines() if line]


def test_redis_cli_latency_prints_min_max_avg_of_the_pings_the_server_answered(strata):
    with RespConnection(strata.port) as conn:
        ok(conn, "CONFIG", "RESETSTAT")
        out = redis_cli(strata.port, "--latency", "-i", "0.3")  # not a tty: one line, then exit
        fields = out.split()
        assert len(fields) == 4, out
        low, high, avg, samples = int(fields[0]), int(fields[1]), float(fields[2]), int(fields[3])
        assert 0 <= low <= avg <= high and samples >= 1, out
        pings = conn.call("INFO", "commandstats").value.decode()
        match = re.search(r"cmdstat_ping:calls=(\d+),", pings)
        assert match and int(match.group(1)) == samples, f"{samples} samples but INFO says:\n{pings}"


def test_redis_cli_latency_history_prints_a_min_max_avg_line_per_interval(strata):
    cli = PtyProcess([REDIS_CLI, "-h", "127.0.0.1", "-p", str(strata.port), "--latency-history", "-i", "0.3"])
    try:
        pos = cli.expect(" seconds range\r\n", timeout=10)
        cli.expect(" seconds range\r\n", timeout=10, start=pos)
    finally:
        cli.close()
    text = bytes(cli.output).decode(errors="replace")
    ranges = re.findall(r"min: (\d+), max: (\d+), avg: ([\d.]+) \((\d+) samples\) -- ([\d.]+) seconds range", text)
    assert len(ranges) >= 2, text[-2000:]
    for low, high, avg, samples, _ in ranges:
        assert int(low) <= float(avg) <= int(high) and int(samples) >= 1, ranges


STAT_HEADER = ["------- data ------ --------------------- load -------------------- - child -",
               "keys       mem      clients blocked requests            connections"]
STAT_ROW = re.compile(r"^(\d+)\s+([\d.]+)([BKMGT])\s+(\d+)\s+(\d+)\s+(\d+) \(\+(\d+)\)\s+(\d+)\s*$")
UNITS = {"B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def test_redis_cli_stat_shows_keys_memory_clients_blocked_and_requests(server_factory):
    server = server_factory()
    r = populate(server)
    blocked = RespConnection(server.port)
    blocked.send("BLPOP", "nothing-here", "0")
    assert wait_until(lambda: r.info("clients")["blocked_clients"] == 1, 5.0)
    cli = PtyProcess([REDIS_CLI, "-h", "127.0.0.1", "-p", str(server.port), "--stat", "-i", "0.3"])
    try:
        pos = 0
        for _ in range(len(STAT_HEADER) + 4):
            pos = cli.expect("\r\n", timeout=10, start=pos)
    finally:
        cli.close()
        blocked.close()
    lines = bytes(cli.output).decode().split("\r\n")
    assert [line.rstrip() for line in lines[:2]] == STAT_HEADER, lines[:2]
    rows = [STAT_ROW.match(line) for line in lines[2:6]]
    assert all(rows), lines[2:6]
    info = r.info()
    requests = []
    for row in rows:
        keys, mem, unit, clients, blocked_clients, total, delta, connections = row.groups()
        # redis-cli, the populating client and the blocked one
        assert (int(keys), int(clients), int(blocked_clients)) == (11, 3, 1), row.group(0)
        assert 0.5 * info["used_memory"] <= float(mem) * UNITS[unit] <= 2 * info["used_memory"], (row.group(0), info)
        requests.append((int(total), int(delta)))
    for (previous, _), (total, delta) in zip(requests, requests[1:]):
        assert total - previous == delta == 1, f"one request (redis-cli's INFO) per interval: {requests}"
    assert int(rows[-1].group(8)) == info["total_connections_received"]
    r.close()


def test_redis_cli_bigkeys_finds_the_biggest_key_of_each_type_as_on_redis(pair):
    def scenario(server):
        populate(server).close()
        return summary(redis_cli(server.port, "--bigkeys"))

    results = on_both(pair, scenario)
    for line in KEYSPACE_SUMMARY + ["Sampled 11 keys in the keyspace!",
                                    "3 strings with 5110 bytes (27.27% of keys, avg size 1703.33)",
                                    "2 lists with 303 items (18.18% of keys, avg size 151.50)"]:
        assert line in results["strata"], f"{line!r} missing from strata's summary: {results['strata']}"
    assert results["strata"] == results["redis"]


def test_redis_cli_memkeys_finds_the_biggest_key_of_each_type_by_memory_usage(pair):
    def scenario(server):
        r = populate(server)
        lines = summary(redis_cli(server.port, "--memkeys"))
        biggest = {}
        for line in lines:
            match = re.match(r"^Biggest\s+(\w+) found '\"([^\"]+)\"' has (\d+) bytes$", line)
            if match:
                kind, key, size = match.groups()
                assert int(size) == r.memory_usage(key), f"{line} but MEMORY USAGE {key} = {r.memory_usage(key)}"
                biggest[kind] = key
        assert "Sampled 11 keys in the keyspace!" in lines, lines
        r.close()
        return biggest

    assert_both_equal(on_both(pair, scenario), BIGGEST_BY_TYPE)


def test_redis_cli_hotkeys_reports_the_most_accessed_key_first(lfu_pair):
    def scenario(server):
        r = populate(server)
        pipe = r.pipeline(transaction=False)
        for _ in range(1000):
            pipe.get("s:mid")
        for _ in range(20):
            pipe.llen("l:small")
        pipe.execute()
        lines = summary(redis_cli(server.port, "--hotkeys"))
        hot = [re.match(r'^hot key found with counter: (\d+)\tkeyname: "([^"]+)"$', line) for line in lines[1:]]
        assert lines[0] == "Sampled 11 keys in the keyspace!" and hot and all(hot), lines
        counter, key = int(hot[0].group(1)), hot[0].group(2)
        assert counter == r.object("freq", key), f"{key}: counter {counter}, OBJECT FREQ {r.object('freq', key)}"
        assert all(int(m.group(1)) < counter for m in hot[1:]), lines
        r.close()
        return key

    assert_both_equal(on_both(lfu_pair, scenario), "s:mid")


def test_redis_cli_hotkeys_without_an_lfu_policy_is_refused_as_by_redis(pair):
    def scenario(server):
        populate(server).close()
        result = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(server.port), "--hotkeys"],
                                capture_output=True, timeout=20, text=True)
        return result.returncode, (result.stdout + result.stderr).strip().splitlines()[-1]

    assert_both_equal(on_both(pair, scenario), (1, (
        "Error: ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust.")))

"""SLOWLOG, LATENCY and what INFO says about commands (commandstats, errorstats, latencystats),
specified against Redis 7.0 (DESIGN.md 4a: statistics and the slow log are the last step of
every command; section 9: Redis's own replies and error texts).

The differential tests run one scenario on a fresh strata and a fresh redis-server 7.0.15 (the
`pair` fixture) over raw RESP sockets and compare everything that does not depend on timing:
reply types and shapes, arguments as logged, counts, error texts, field names. Durations,
timestamps and latencies are checked by bounds instead: a logged duration must cover the work
the command did (a busy loop of known length), a timestamp must fall between the clock read
before and after the command. No test asserts that anything is fast.

The tests after the differential ones run on strata alone.

SLOW_SCRIPT is the slow command: a Lua loop that spins on TIME until ARGV[1] milliseconds have
passed, so it takes at least that long on either server (TIME inside a script is not frozen).
"""
import re
import subprocess
import time

import pytest

from conftest import STRATA_SERVER
from helpers import (RespConnection, Reply, bulk, client_for, error, integer, pair,  # noqa: F401  (pair is a fixture)
                     status, strata_available)

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

REDIS_CLI = "/usr/bin/redis-cli"

SLOW_SCRIPT = ("local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] "
               "while true do local n = redis.call('TIME') "
               "if n[1] * 1000000 + n[2] - start >= tonumber(ARGV[1]) * 1000 then return 1 end end")


# ---------------------------------------------------------------------------------------------
# Helpers

def run_slow_script(conn, millis):
    assert conn.call("EVAL", SLOW_SCRIPT, "0", millis) == integer(1)


def ok(conn, *args):
    reply = conn.call(*args)
    assert reply == status("OK"), f"{' '.join(map(str, args))} -> {reply}"


def start_logging_everything(conn):
    """slowlog-log-slower-than 0 and an empty log (the SLOWLOG RESET is then its first entry)."""
    ok(conn, "CONFIG", "SET", "slowlog-log-slower-than", "0")
    ok(conn, "SLOWLOG", "RESET")


def stop_logging(conn):
    """slowlog-log-slower-than -1: this CONFIG SET is not logged (the new threshold applies to it)."""
    ok(conn, "CONFIG", "SET", "slowlog-log-slower-than", "-1")


class SlowlogEntry:
    def __init__(self, reply):
        assert reply.kind == "*" and len(reply.value) == 6, f"a slow log entry has 6 fields: {reply}"
        kinds = "".join(item.kind for item in reply.value)
        assert kinds == ":::*$$", f"entry fields must be id, time, micros (integers), args (array), peer, name: {reply}"
        self.id, self.unix_time, self.micros = (item.value for item in reply.value[:3])
        self.args = [arg.value for arg in reply.value[3].value]
        assert all(arg.kind == "$" for arg in reply.value[3].value), reply
        self.peer = reply.value[4].value
        self.client_name = reply.value[5].value


def slowlog(conn, *count):
    reply = conn.call("SLOWLOG", "GET", *count)
    assert reply.kind == "*", f"SLOWLOG GET {' '.join(map(str, count))} -> {reply}"
    return [SlowlogEntry(item) for item in reply.value]


def own_address(conn):
    host, port = conn.sock.getsockname()
    return f"{host}:{port}".encode()


def logged(conn, entries):
    """What the oracle comparison looks at: each entry's arguments, whose connection logged it
    ("self" for this one, else the peer as logged) and the client name."""
    me = own_address(conn)
    return [(e.args, "self" if e.peer == me else e.peer, e.client_name) for e in entries]


def on_both(pair, scenario):
    """Runs scenario(conn) on a connection to strata and one to redis; asserts equal results.
    An assertion inside the scenario names the server it failed on."""
    results = []
    for server, name in zip(pair, ("strata", "redis-server")):
        with RespConnection(server.port) as conn:
            try:
                results.append(scenario(conn))
            except AssertionError as e:
                raise AssertionError(f"on {name}: {e}") from e
    got, expected = results
    assert got == expected, f"strata differs from redis-server 7.0:\n  strata: {got}\n  redis:  {expected}"
    return got


def info_fields(conn, *sections):
    """INFO as an ordered list of (field, value); section headers are left out."""
    reply = conn.call("INFO", *sections)
    assert reply.kind in ("$", "="), reply
    text = reply.value.decode()
    if reply.kind == "=":
        text = text[4:]
    fields = []
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields.append((name, value))
    return fields


def info_headers(conn, *sections):
    reply = conn.call("INFO", *sections)
    return [line[2:] for line in reply.value.decode().split("\r\n") if line.startswith("# ")]


CMDSTAT_VALUE = re.compile(
    r"^calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),rejected_calls=(\d+),failed_calls=(\d+)$")


def commandstats(conn):
    """{command: (calls, usec, usec_per_call text, rejected_calls, failed_calls)} from INFO commandstats."""
    stats = {}
    for name, value in info_fields(conn, "commandstats"):
        assert name.startswith("cmdstat_"), name
        match = CMDSTAT_VALUE.match(value)
        assert match, f"{name}:{value} is not calls=,usec=,usec_per_call=,rejected_calls=,failed_calls="
        calls, usec, per_call, rejected, failed = match.groups()
        stats[name[len("cmdstat_"):]] = (int(calls), int(usec), per_call, int(rejected), int(failed))
    return stats


def call_counts(conn):
    """{command: (calls, rejected_calls, failed_calls)}: the part of commandstats that is not timing."""
    return {name: (calls, rejected, failed) for name, (calls, _, _, rejected, failed) in commandstats(conn).items()}


def parse_latency_histogram(reply):
    """LATENCY HISTOGRAM in RESP2 (flat arrays) or RESP3 (maps) as
    ({command: (calls, [(usec, cumulative count), ...])}, kinds), where kinds is the reply type
    of the whole reply, of the commands' entries and of their histogram_usec (e.g. "*", "*", "*")."""
    def pairs(r):
        if r.kind == "%":
            return r.value
        assert r.kind == "*" and len(r.value) % 2 == 0, r
        return list(zip(r.value[0::2], r.value[1::2]))

    result, entry_kinds, histogram_kinds = {}, set(), set()
    for name, entry in pairs(reply):
        assert name.kind == "$", reply
        entry_kinds.add(entry.kind)
        fields = {key.value: value for key, value in pairs(entry)}
        assert set(fields) == {b"calls", b"histogram_usec"}, entry
        assert fields[b"calls"].kind == ":", entry
        histogram_kinds.add(fields[b"histogram_usec"].kind)
        buckets = []
        for usec, count in pairs(fields[b"histogram_usec"]):
            assert usec.kind == ":" and count.kind == ":", entry
            buckets.append((usec.value, count.value))
        result[name.value.decode()] = (fields[b"calls"].value, buckets)
    return result, (reply.kind, "".join(sorted(entry_kinds)), "".join(sorted(histogram_kinds)))


def assert_cumulative(name, calls, buckets):
    """Redis's histogram_usec: increasing bucket bounds, cumulative counts that end at `calls`."""
    bounds = [usec for usec, _ in buckets]
    counts = [count for _, count in buckets]
    assert bounds == sorted(set(bounds)), f"{name}: bucket bounds must increase: {buckets}"
    assert counts == sorted(counts) and all(c > 0 for c in counts), f"{name}: counts must be cumulative: {buckets}"
    assert counts and counts[-1] == calls, f"{name}: the last bucket must hold all {calls} calls: {buckets}"


def redis_histogram_bounds():
    """The bucket labels Redis 7.0 reports: its hdr_histogram (2 significant figures, 1 ns units)
    iterated in powers of two from 1024 ns, each labelled by the highest value equivalent to
    1024 << j ns, in whole microseconds: 1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, ..."""
    bounds = []
    for j in range(21):
        value = 1024 << j
        bucket = value.bit_length() - 8  # hdr's bucket index for 256 sub-buckets
        bounds.append((value + (1 << bucket) - 1) // 1000)
    return bounds


# ---------------------------------------------------------------------------------------------
# SLOWLOG, differential

def test_slowlog_entry_is_id_time_micros_args_peer_and_client_name(pair):
    def scenario(conn):
        ok(conn, "CLIENT", "SETNAME", "diag-client")
        start_logging_everything(conn)
        before = time.time()
        ok(conn, "SET", "k", "v")
        after = time.time()
        stop_logging(conn)
        entries = slowlog(conn, "-1")
        newest = entries[0]
        assert newest.args == [b"SET", b"k", b"v"]
        assert newest.peer == own_address(conn), f"peer {newest.peer!r} is not this client's ip:port"
        assert newest.client_name == b"diag-client"
        assert int(before) - 1 <= newest.unix_time <= int(after) + 1
        assert 0 <= newest.micros <= (after - before) * 1e6 + 1000
        ids = [e.id for e in entries]
        assert ids == list(range(ids[0], ids[0] - len(ids), -1)), f"ids must count down by one: {ids}"
        return logged(conn, entries)

    assert on_both(pair, scenario) == [
        ([b"SET", b"k", b"v"], "self", b"diag-client"),
        ([b"SLOWLOG", b"RESET"], "self", b"diag-client"),
    ]


def test_slowlog_keeps_31_arguments_of_a_longer_command_and_counts_the_rest(pair):
    def scenario(conn):
        start_logging_everything(conn)
        for values in (30, 31, 38):  # 32, 33 and 40 arguments with RPUSH and the key
            assert conn.call("RPUSH", "list", *range(values)).kind == ":"
        stop_logging(conn)
        return [e.args for e in slowlog(conn, "3")]

    numbers = [str(i).encode() for i in range(40)]
    assert on_both(pair, scenario) == [
        [b"RPUSH", b"list", *numbers[:29], b"... (9 more arguments)"],
        [b"RPUSH", b"list", *numbers[:29], b"... (2 more arguments)"],
        [b"RPUSH", b"list", *numbers[:30]],
    ]


def test_slowlog_keeps_128_bytes_of_a_longer_argument_and_counts_the_rest(pair):
    def scenario(conn):
        start_logging_everything(conn)
        ok(conn, "SET", "k", b"a" * 128)
        ok(conn, "SET", "k", b"b" * 129)
        ok(conn, "SET", "k", "é" * 100)  # 200 bytes: cut by bytes, not characters
        assert conn.call("RPUSH", "list", *[b"c" * 200] * 40).kind == ":"
        stop_logging(conn)
        return [e.args for e in slowlog(conn, "4")]

    assert on_both(pair, scenario) == [
        [b"RPUSH", b"list", *[b"c" * 128 + b"... (72 more bytes)"] * 29, b"... (11 more arguments)"],
        [b"SET", b"k", "é".encode() * 64 + b"... (72 more bytes)"],
        [b"SET", b"k", b"b" * 128 + b"... (1 more bytes)"],
        [b"SET", b"k", b"a" * 128],
    ]


def test_slowlog_len_and_reset_count_the_reset_itself_as_redis_does(pair):
    def scenario(conn):
        start_logging_everything(conn)
        replies = [conn.call("SLOWLOG", "LEN")]
        conn.call("PING")
        conn.call("PING")
        replies += [conn.call("SLOWLOG", "LEN"), conn.call("SLOWLOG", "RESET"), conn.call("SLOWLOG", "LEN")]
        stop_logging(conn)
        replies += [conn.call("SLOWLOG", "RESET"), conn.call("SLOWLOG", "LEN"), conn.call("SLOWLOG", "GET")]
        return replies

    assert on_both(pair, scenario) == [integer(1), integer(4), status("OK"), integer(1), status("OK"), integer(0),
                                       Reply("*", [])]


def test_slowlog_get_returns_10_by_default_all_with_minus_1_and_at_most_count(pair):
    def scenario(conn):
        start_logging_everything(conn)
        for i in range(15):
            conn.call("ECHO", i)
        stop_logging(conn)
        return {count: [e.args for e in slowlog(conn, *count)] for count in [(), ("3",), ("0",), ("-1",), ("100",)]}

    got = on_both(pair, scenario)
    echoes = [[b"ECHO", str(i).encode()] for i in reversed(range(15))]
    assert got[()] == echoes[:10]
    assert got[("3",)] == echoes[:3]
    assert got[("0",)] == []
    assert got[("-1",)] == got[("100",)] == echoes + [[b"SLOWLOG", b"RESET"]]


@pytest.mark.parametrize("count", ["-2", "-100", "abc", "1.5", ""])
def test_slowlog_get_count_below_minus_1_or_not_an_integer_is_redis_error(pair, count):
    got = on_both(pair, lambda conn: conn.call("SLOWLOG", "GET", count))
    assert got == error("ERR count should be greater than or equal to -1")


def test_slowlog_get_with_two_counts_is_redis_syntax_error(pair):
    def scenario(conn):
        return [conn.call("SLOWLOG", "GET", "1", "2"), conn.call("slowlog", "get", "1", "2")]

    assert on_both(pair, scenario) == [
        error("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."),
        error("ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP."),
    ]


def test_slowlog_and_latency_arity_and_unknown_subcommand_errors_are_redis_texts(pair):
    def scenario(conn):
        return [conn.call(*args) for args in [
            ("SLOWLOG",), ("SLOWLOG", "LEN", "x"), ("SLOWLOG", "RESET", "x"), ("SLOWLOG", "NOPE"),
            ("LATENCY",), ("LATENCY", "LATEST", "x"), ("LATENCY", "HISTORY"), ("LATENCY", "GRAPH"),
            ("LATENCY", "DOCTOR", "x"), ("LATENCY", "NOPE")]]

    assert on_both(pair, scenario)[-1] == error("ERR unknown subcommand 'NOPE'. Try LATENCY HELP.")


def test_slowlog_help_and_latency_help_are_redis_texts(pair):
    def scenario(conn):
        return {command: conn.call(command, "HELP").py() for command in ("SLOWLOG", "LATENCY")}

    help_texts = on_both(pair, scenario)
    assert help_texts["SLOWLOG"][-1] == b"    Prints this help."


def test_slowlog_redacts_auth_and_hello_auth_arguments(pair):
    def scenario(conn):
        start_logging_everything(conn)
        assert conn.call("AUTH", "password").is_error  # no requirepass: refused, and logged anyway
        assert conn.call("AUTH", "default", "password") == status("OK")
        assert conn.call("HELLO", "2", "AUTH", "default", "password", "SETNAME", "named").kind == "*"
        stop_logging(conn)
        return logged(conn, slowlog(conn, "3"))

    assert on_both(pair, scenario) == [
        ([b"HELLO", b"2", b"AUTH", b"(redacted)", b"(redacted)", b"SETNAME", b"named"], "self", b"named"),
        ([b"AUTH", b"(redacted)", b"(redacted)"], "self", b""),
        ([b"AUTH", b"(redacted)"], "self", b""),
    ]


def test_slowlog_redacts_the_password_in_config_set_requirepass(pair):
    def scenario(conn):
        start_logging_everything(conn)
        ok(conn, "CONFIG", "SET", "requirepass", "s3cret")
        ok(conn, "CONFIG", "SET", "requirepass", "")
        stop_logging(conn)
        return [e.args for e in slowlog(conn, "2")]

    assert on_both(pair, scenario) == [[b"CONFIG", b"SET", b"requirepass", b"(redacted)"]] * 2


def test_exec_is_not_logged_but_the_commands_it_ran_are(pair):
    def scenario(conn):
        start_logging_everything(conn)
        ok(conn, "MULTI")
        assert conn.call("SET", "a", "1") == status("QUEUED")
        assert conn.call("GET", "a") == status("QUEUED")
        assert conn.call("EXEC") == Reply("*", [status("OK"), bulk("1")])
        stop_logging(conn)
        return logged(conn, slowlog(conn, "-1"))

    assert on_both(pair, scenario) == [
        ([b"GET", b"a"], "self", b""),
        ([b"SET", b"a", b"1"], "self", b""),
        ([b"MULTI"], "self", b""),
        ([b"SLOWLOG", b"RESET"], "self", b""),
    ]


def test_commands_a_script_runs_are_logged_as_entries_of_their_own(pair):
    script = "redis.call('set', KEYS[1], '1') return redis.call('get', KEYS[1])"

    def scenario(conn):
        start_logging_everything(conn)
        assert conn.call("EVAL", script, "1", "e") == bulk("1")
        stop_logging(conn)
        return logged(conn, slowlog(conn, "-1"))

    # Redis logs them from its script client, whose peer is "?:0".
    assert on_both(pair, scenario) == [
        ([b"EVAL", script.encode(), b"1", b"e"], "self", b""),
        ([b"get", b"e"], b"?:0", b""),
        ([b"set", b"e", b"1"], b"?:0", b""),
        ([b"SLOWLOG", b"RESET"], "self", b""),
    ]


def test_rejected_and_unknown_commands_are_not_logged(pair):
    def scenario(conn):
        start_logging_everything(conn)
        assert conn.call("GET").is_error
        assert conn.call("NOSUCHCOMMAND", "x").is_error
        assert conn.call("CONFIG", "NOPE").is_error
        stop_logging(conn)
        return logged(conn, slowlog(conn, "-1"))

    assert on_both(pair, scenario) == [([b"SLOWLOG", b"RESET"], "self", b"")]


def test_blocking_command_served_later_is_logged_but_one_that_times_out_is_only_counted(pair):
    def scenario(conn):
        start_logging_everything(conn)
        ok(conn, "CONFIG", "RESETSTAT")
        assert conn.call("BLPOP", "nothing", "0.1") == Reply("*", None)
        conn.send("BLPOP", "queue", "5")
        time.sleep(0.1)  # blocked by now (the RPUSH below wakes it either way)
        with RespConnection(conn.port) as other:
            assert other.call("RPUSH", "queue", "x") == integer(1)
        assert conn.read_reply() == Reply("*", [bulk("queue"), bulk("x")])
        stop_logging(conn)
        # Sorted: strata's RPUSH and the BLPOP it wakes finish on two I/O threads, in either order.
        return sorted(e.args for e in slowlog(conn, "-1")), call_counts(conn)["blpop"]

    assert on_both(pair, scenario) == (
        [[b"BLPOP", b"queue", b"5"], [b"CONFIG", b"RESETSTAT"], [b"RPUSH", b"queue", b"x"], [b"SLOWLOG", b"RESET"]],
        (2, 0, 0),
    )


def test_shrinking_slowlog_max_len_trims_at_the_next_logged_command_as_redis_does(pair):
    def scenario(conn):
        start_logging_everything(conn)
        for i in range(3):
            conn.call("ECHO", i)
        stop_logging(conn)
        ok(conn, "CONFIG", "SET", "slowlog-max-len", "2")
        replies = [conn.call("SLOWLOG", "LEN")]  # Redis: still 4 until something is logged
        ok(conn, "CONFIG", "SET", "slowlog-log-slower-than", "0")  # logged: trims to 2
        replies.append(conn.call("SLOWLOG", "LEN"))
        return replies

    assert on_both(pair, scenario) == [integer(4), integer(2)]


# ---------------------------------------------------------------------------------------------
# Configuration directives, differential

DIAGNOSTIC_DIRECTIVES = ["slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold", "latency-tracking",
                         "latency-tracking-info-percentiles"]


def test_diagnostic_directives_have_redis_defaults(pair):
    def scenario(conn):
        return [conn.call("CONFIG", "GET", name) for name in DIAGNOSTIC_DIRECTIVES]

    assert [reply.py()[1] for reply in on_both(pair, scenario)] == [b"10000", b"128", b"0", b"yes", b"50 99 99.9"]


@pytest.mark.parametrize("directive, value", [
    ("slowlog-log-slower-than", "-2"), ("slowlog-log-slower-than", "abc"), ("slowlog-log-slower-than", "1.5"),
    ("slowlog-max-len", "-1"), ("latency-monitor-threshold", "-1"), ("latency-tracking", "maybe"),
    ("latency-tracking-info-percentiles", "101"), ("latency-tracking-info-percentiles", "-1"),
    ("latency-tracking-info-percentiles", "abc"), ("latency-tracking-info-percentiles", "50,99"),
    ("latency-tracking-info-percentiles", " 50  99 "),
])
def test_bad_value_of_a_diagnostic_directive_gets_redis_error(pair, directive, value):
    def scenario(conn):
        return [conn.call("CONFIG", "SET", directive, value), conn.call("CONFIG", "GET", directive)]

    assert on_both(pair, scenario)[0].is_error


@pytest.mark.parametrize("value", ["50 99.5 100 0", "99.90 1.0 0.5", "1e1", "100.0", "0.000001", ""])
def test_latency_tracking_info_percentiles_reads_back_as_redis_writes_it(pair, value):
    def scenario(conn):
        return [conn.call("CONFIG", "SET", "latency-tracking-info-percentiles", value),
                conn.call("CONFIG", "GET", "latency-tracking-info-percentiles")]

    assert on_both(pair, scenario)[0] == status("OK")


# ---------------------------------------------------------------------------------------------
# LATENCY, differential

def test_latency_replies_without_any_event_are_redis_replies(pair):
    def scenario(conn):
        return [conn.call(*args) for args in [
            ("LATENCY", "LATEST"), ("LATENCY", "HISTORY", "command"), ("LATENCY", "HISTORY", "nosuch"),
            ("LATENCY", "RESET"), ("LATENCY", "RESET", "command", "nosuch"),
            ("LATENCY", "GRAPH", "command"), ("LATENCY", "GRAPH", "nosuch")]]

    assert on_both(pair, scenario) == [
        Reply("*", []), Reply("*", []), Reply("*", []), integer(0), integer(0),
        error("ERR No samples available for event 'command'"), error("ERR No samples available for event 'nosuch'"),
    ]


def test_latency_latest_history_and_reset_after_a_slow_command_have_redis_shapes(pair):
    def scenario(conn):
        ok(conn, "CONFIG", "SET", "latency-monitor-threshold", "20")
        before = time.time()
        run_slow_script(conn, 60)
        after = time.time()
        latest = conn.call("LATENCY", "LATEST")
        history = conn.call("LATENCY", "HISTORY", "command")
        assert latest.kind == "*" and history.kind == "*", (latest, history)
        shapes = []
        for entry in latest.value:
            event, stamp, last, worst = entry.value
            assert (event.kind, stamp.kind, last.kind, worst.kind) == ("$", ":", ":", ":"), entry
            assert int(before) - 1 <= stamp.value <= int(after) + 1, entry
            assert 60 <= last.value <= worst.value, entry
            shapes.append(event.value)
        samples = []
        for sample in history.value:
            assert sample.kind == "*" and len(sample.value) == 2, sample
            stamp, millis = sample.value
            assert stamp.kind == ":" and millis.kind == ":" and millis.value >= 60, sample
            samples.append("[time, ms]")
        return [shapes, samples, conn.call("LATENCY", "RESET", "command"), conn.call("LATENCY", "RESET", "command"),
                conn.call("LATENCY", "LATEST")]

    assert on_both(pair, scenario) == [[b"command"], ["[time, ms]"], integer(1), integer(0), Reply("*", [])]


def test_latency_graph_of_one_spike_draws_the_chart_redis_draws(pair):
    header = re.compile(r"^command - high (\d+) ms, low (\d+) ms \(all time high (\d+) ms\)$")

    def scenario(conn):
        ok(conn, "CONFIG", "SET", "latency-monitor-threshold", "20")
        run_slow_script(conn, 60)
        reply = conn.call("LATENCY", "GRAPH", "command")
        assert reply.kind == "$", reply
        lines = reply.value.decode().split("\n")
        match = header.match(lines[0])
        assert match and int(match[1]) == int(match[2]) == int(match[3]) >= 60, lines[0]
        return [re.sub(r"\d", "N", line) for line in lines[1:]]  # N: the digits of the sample's age

    # 80 dashes, four rows one column wide (the lowest sample is a "_" in the bottom row), a
    # spacing row, then the sample's age ("0s") written downwards.
    assert on_both(pair, scenario) == ["-" * 80, " ", " ", " ", "_", " ", "N", "s", ""]


@pytest.mark.parametrize("protocol", [2, 3])
def test_latency_histogram_is_a_map_of_command_to_calls_and_cumulative_usec_buckets(pair, protocol):
    def scenario(conn):
        assert conn.call("HELLO", protocol).kind in ("*", "%")
        ok(conn, "CONFIG", "RESETSTAT")
        for _ in range(3):
            ok(conn, "SET", "a", "1")
        assert conn.call("GET", "a") == bulk("1")
        assert conn.call("CONFIG", "GET", "maxmemory").kind in ("*", "%")
        histogram, kinds = parse_latency_histogram(conn.call("LATENCY", "HISTOGRAM", "set", "get", "config", "nosuch"))
        for name, (calls, buckets) in histogram.items():
            assert_cumulative(name, calls, buckets)
        everything, _ = parse_latency_histogram(conn.call("LATENCY", "HISTOGRAM"))
        return ({name: calls for name, (calls, _) in histogram.items()}, kinds,
                {name: calls for name, (calls, _) in everything.items()})

    calls, kinds, everything = on_both(pair, scenario)
    assert calls == {"set": 3, "get": 1, "config|get": 1, "config|resetstat": 1}
    assert everything == {**calls, "latency|histogram": 1}  # no command names: every command timed
    map_kind = "%" if protocol == 3 else "*"
    assert kinds == (map_kind, map_kind, map_kind)


def test_latency_histogram_buckets_are_labelled_with_redis_bounds(pair):
    bounds = set(redis_histogram_bounds())

    def scenario(conn):
        for millis in (1, 3, 6, 12):
            run_slow_script(conn, millis)
        for i in range(20):
            ok(conn, "SET", i, "x" * 1000 * i)
        histogram, _ = parse_latency_histogram(conn.call("LATENCY", "HISTOGRAM"))
        strangers = {name: [usec for usec, _ in buckets if usec not in bounds]
                     for name, (_, buckets) in histogram.items()}
        return {name: labels for name, labels in strangers.items() if labels}

    assert on_both(pair, scenario) == {}


# ---------------------------------------------------------------------------------------------
# INFO commandstats / errorstats / latencystats, differential

# A sequence with calls, rejected calls (arity: refused before running) and failed calls (ran and
# answered an error), subcommands, scripts and transactions.
STATS_SEQUENCE = [
    ("SET", "s", "v"),
    ("GET", "s"),
    ("GET",),                                    # get: rejected
    ("PING", "a", "b"),                          # ping: failed (its own check of the arguments)
    ("ECHO",),                                   # echo: rejected
    ("LPUSH", "s", "x"),                         # lpush: failed (WRONGTYPE)
    ("HGETALL", "s"),                            # hgetall: failed (WRONGTYPE)
    ("INCR", "s"),                               # incr: failed (not an integer)
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "GET"),                           # config|get: rejected
    ("CONFIG", "NOPE"),                          # unknown subcommand: an error, no command's stat
    ("NOSUCHCMD", "a"),                          # unknown command: likewise
    ("OBJECT", "FREQ", "s"),                     # object|freq: failed
    ("CLIENT", "SETNAME", "bad name"),           # client|setname: failed
    ("SLOWLOG", "GET", "-5"),                    # slowlog|get: failed
    ("LATENCY", "HISTORY"),                      # latency|history: rejected
    ("EVAL", "return redis.call('set', KEYS[1], '1')", "1", "e"),
    ("EVAL", "return redis.pcall('incr', KEYS[1])", "1", "s"),
    ("EVAL", "return redis.error_reply('MYERR boom')", "0"),
    ("EVALSHA", "0" * 40, "0"),                  # evalsha: failed (NOSCRIPT)
    ("MULTI",), ("SET", "m", "1"), ("INCR", "s"), ("EXEC",),   # one queued command fails
    ("MULTI",), ("GET",), ("EXEC",),             # get rejected while queueing: EXECABORT
]


def run_stats_sequence(conn):
    ok(conn, "CONFIG", "RESETSTAT")
    for command in STATS_SEQUENCE:
        conn.call(*command)


def test_info_commandstats_counts_calls_rejected_and_failed_calls_as_redis(pair):
    def scenario(conn):
        run_stats_sequence(conn)
        return call_counts(conn)

    counts = on_both(pair, scenario)
    assert counts["get"] == (1, 2, 0)
    assert counts["config|get"] == (1, 1, 0)
    assert counts["ping"] == (1, 0, 1)
    assert counts["echo"] == (0, 1, 0)
    assert counts["lpush"] == (1, 0, 1)
    assert counts["exec"] == (2, 0, 1)


def test_info_commandstats_lines_have_redis_format_and_usec_per_call_is_usec_over_calls(pair):
    def scenario(conn):
        run_stats_sequence(conn)
        for i in range(7):
            conn.call("SET", "k", i)
        wrong = {name: (usec, calls, per_call) for name, (calls, usec, per_call, _, _) in commandstats(conn).items()
                 if per_call != (f"{usec / calls:.2f}" if calls else "0.00")}
        return wrong

    assert on_both(pair, scenario) == {}


def test_info_errorstats_counts_error_replies_by_kind_as_redis(pair):
    def scenario(conn):
        run_stats_sequence(conn)
        errors = dict(info_fields(conn, "errorstats"))
        stats = dict(info_fields(conn, "stats"))
        return errors, stats["total_error_replies"]

    errors, total = on_both(pair, scenario)
    assert errors["errorstat_WRONGTYPE"] == "count=2"
    assert errors["errorstat_MYERR"] == "count=1"
    assert errors["errorstat_NOSCRIPT"] == "count=1"
    assert errors["errorstat_EXECABORT"] == "count=1"
    assert int(total) == sum(int(v[len("count="):]) for v in errors.values())


def test_info_latencystats_reports_the_configured_percentiles_of_each_command(pair):
    def scenario(conn):
        ok(conn, "CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.5 100")
        run_stats_sequence(conn)
        fields = dict(info_fields(conn, "latencystats"))
        for name, value in fields.items():
            assert re.fullmatch(r"p50=\d+\.\d{3},p99\.5=\d+\.\d{3},p100=\d+\.\d{3}", value), f"{name}:{value}"
        ok(conn, "CONFIG", "SET", "latency-tracking-info-percentiles", "")
        empty = info_fields(conn, "latencystats")
        assert all(value == "" for _, value in empty), empty
        return sorted(fields), sorted(name for name, _ in empty)

    with_percentiles, without = on_both(pair, scenario)
    assert {"latency_percentiles_usec_set", "latency_percentiles_usec_config|get",
            "latency_percentiles_usec_eval"} <= set(with_percentiles)
    assert "latency_percentiles_usec_echo" not in with_percentiles  # rejected calls are not timed
    assert set(with_percentiles) < set(without)


def test_config_resetstat_clears_commandstats_errorstats_and_latencystats(pair):
    def scenario(conn):
        run_stats_sequence(conn)
        ok(conn, "CONFIG", "RESETSTAT")
        counts = call_counts(conn)
        errors = info_fields(conn, "errorstats")
        total = dict(info_fields(conn, "stats"))["total_error_replies"]
        latency = sorted(name for name, _ in info_fields(conn, "latencystats"))
        histogram, _ = parse_latency_histogram(conn.call("LATENCY", "HISTOGRAM"))
        return counts, errors, total, latency, {name: calls for name, (calls, _) in histogram.items()}

    assert on_both(pair, scenario) == (
        {"config|resetstat": (1, 0, 0)}, [], "0",
        ["latency_percentiles_usec_config|resetstat", "latency_percentiles_usec_info"],
        {"config|resetstat": 1, "info": 4},
    )


def test_info_default_has_errorstats_and_all_adds_commandstats_and_latencystats(pair):
    def scenario(conn):
        wanted = {"Commandstats", "Errorstats", "Latencystats"}
        return {args: sorted(wanted & set(info_headers(conn, *args)))
                for args in [(), ("default",), ("all",), ("everything",), ("commandstats", "latencystats")]}

    got = on_both(pair, scenario)
    assert got[()] == ["Errorstats"]
    assert got[("all",)] == ["Commandstats", "Errorstats", "Latencystats"]


# Fields of these INFO sections that Redis 7.0 has and strata leaves out on purpose, each with
# its reason. Empty: every field strata cannot give a meaningful value (forks, replication,
# defragmentation) is to report Redis's "never happened" value, as the persistence section does.
JUSTIFIED_OMISSIONS = {
    "persistence": {},
    "replication": {},
    "cpu": {},
    "stats": {},
}


@pytest.mark.parametrize("section", sorted(JUSTIFIED_OMISSIONS))
def test_info_section_has_the_fields_of_redis_7_0(pair, section):
    strata_server, redis_server = pair
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        strata_fields = [name for name, _ in info_fields(s, section)]
        redis_fields = [name for name, _ in info_fields(r, section)]
    missing = [name for name in redis_fields if name not in strata_fields and name not in JUSTIFIED_OMISSIONS[section]]
    extra = [name for name in strata_fields if name not in redis_fields]
    assert not missing, f"INFO {section}: strata lacks Redis 7.0's fields {missing}"
    assert not extra, f"INFO {section}: strata has fields Redis 7.0 does not: {extra}"


# ---------------------------------------------------------------------------------------------
# Behaviour on strata alone

@pytest.fixture
def conn(strata):
    with RespConnection(strata.port) as connection:
        yield connection


def test_slowlog_log_slower_than_0_logs_every_command(conn):
    start_logging_everything(conn)
    commands = [("SET", "a", "1"), ("GET", "a"), ("DEL", "a"), ("PING",), ("DBSIZE",)]
    for command in commands:
        assert not conn.call(*command).is_error
    stop_logging(conn)
    assert [e.args for e in slowlog(conn, "-1")] == (
        [[part.encode() for part in command] for command in reversed(commands)] + [[b"SLOWLOG", b"RESET"]])


def test_slowlog_log_slower_than_minus_1_logs_nothing_not_even_a_slow_command(conn):
    stop_logging(conn)
    ok(conn, "SLOWLOG", "RESET")
    ok(conn, "SET", "a", "1")
    run_slow_script(conn, 20)
    assert conn.call("SLOWLOG", "LEN") == integer(0)
    assert slowlog(conn, "-1") == []


def test_slowlog_max_len_keeps_only_the_newest_entries(conn):
    ok(conn, "CONFIG", "SET", "slowlog-max-len", "5")
    start_logging_everything(conn)
    for i in range(20):
        conn.call("ECHO", i)
    stop_logging(conn)
    entries = slowlog(conn, "-1")
    assert [e.args for e in entries] == [[b"ECHO", str(i).encode()] for i in range(19, 14, -1)]
    assert [e.id for e in entries] == list(range(entries[0].id, entries[0].id - 5, -1))
    assert conn.call("SLOWLOG", "LEN") == integer(5)


def test_slowlog_max_len_0_keeps_nothing(conn):
    ok(conn, "CONFIG", "SET", "slowlog-max-len", "0")
    start_logging_everything(conn)
    conn.call("PING")
    assert conn.call("SLOWLOG", "LEN") == integer(0)


def test_slow_eval_is_logged_with_at_least_the_time_it_spun(conn):
    ok(conn, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
    ok(conn, "SLOWLOG", "RESET")
    before = time.monotonic()
    run_slow_script(conn, 50)
    elapsed_us = (time.monotonic() - before) * 1e6
    entries = slowlog(conn, "-1")
    script = SLOW_SCRIPT.encode()
    truncated = script[:128] + b"... (%d more bytes)" % (len(script) - 128)
    assert [e.args for e in entries] == [[b"EVAL", truncated, b"0", b"50"]]
    assert 50_000 <= entries[0].micros <= elapsed_us, (entries[0].micros, elapsed_us)


def test_slow_eval_is_a_command_event_in_latency_latest_at_threshold_1(conn):
    ok(conn, "CONFIG", "SET", "latency-monitor-threshold", "1")
    before = time.time()
    run_slow_script(conn, 50)
    after = time.time()
    latest = {entry[0]: entry[1:] for entry in conn.call("LATENCY", "LATEST").py()}
    assert b"command" in latest, latest
    stamp, last, worst = latest[b"command"]
    assert int(before) - 1 <= stamp <= int(after) + 1
    assert 50 <= last <= worst <= (after - before) * 1000 + 1
    history = conn.call("LATENCY", "HISTORY", "command").py()
    assert history[-1] == [stamp, last]


def test_latency_doctor_reports_the_command_event_and_its_worst_spike(strata, conn):
    ok(conn, "CONFIG", "SET", "latency-monitor-threshold", "1")
    run_slow_script(conn, 50)
    worst = conn.call("LATENCY", "LATEST").py()
    worst = next(entry[3] for entry in worst if entry[0] == b"command")
    result = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(strata.port), "LATENCY", "DOCTOR"],
                            capture_output=True, timeout=10)
    text = result.stdout.decode()
    assert result.returncode == 0, result
    assert re.search(r"\d+\. command: \d+ latency spikes \(average \d+ms, mean deviation \d+ms, "
                     rf"period [\d.]+ sec\)\. Worst all time event {worst}ms\.", text), text
    assert "SLOWLOG" in text.upper(), text  # the advice for slow commands


def test_latency_doctor_says_when_monitoring_is_off(conn):
    text = conn.call("LATENCY", "DOCTOR").value.decode()
    assert "latency-monitor-threshold" in text and "disabled" in text, text


def test_latency_graph_header_gives_high_low_and_all_time_high(conn):
    ok(conn, "CONFIG", "SET", "latency-monitor-threshold", "20")
    assert conn.call("LATENCY", "RESET").kind == ":"
    run_slow_script(conn, 30)
    first_second = conn.call("LATENCY", "HISTORY", "command").py()[-1][0]
    while time.time() < first_second + 1.05:  # the next sample must fall in a later second
        time.sleep(0.05)
    run_slow_script(conn, 150)
    history = conn.call("LATENCY", "HISTORY", "command").py()
    assert len(history) == 2, history
    (_, low), (_, high) = history
    assert 30 <= low < 150 <= high
    graph = conn.call("LATENCY", "GRAPH", "command").value.decode()
    header = graph.split("\n")[0]
    assert header == f"command - high {high} ms, low {low} ms (all time high {high} ms)", graph


def test_latency_reset_of_one_event_keeps_the_others(conn):
    ok(conn, "CONFIG", "SET", "latency-monitor-threshold", "1")
    run_slow_script(conn, 20)
    assert conn.call("LATENCY", "RESET", "nosuch") == integer(0)
    assert b"command" in [entry[0] for entry in conn.call("LATENCY", "LATEST").py()]
    assert conn.call("LATENCY", "RESET", "command", "nosuch") == integer(1)
    assert b"command" not in [entry[0] for entry in conn.call("LATENCY", "LATEST").py()]


def test_latency_tracking_no_stops_histograms_growing_but_not_commandstats(conn):
    ok(conn, "CONFIG", "RESETSTAT")

    def set_histogram_calls():
        histogram, _ = parse_latency_histogram(conn.call("LATENCY", "HISTOGRAM", "set"))
        return histogram["set"][0]

    def latencystats_commands():
        return {name for name, _ in info_fields(conn, "latencystats")}

    for i in range(5):
        ok(conn, "SET", "k", i)
    assert set_histogram_calls() == 5
    assert "latency_percentiles_usec_set" in latencystats_commands()
    ok(conn, "CONFIG", "SET", "latency-tracking", "no")
    for i in range(5):
        ok(conn, "SET", "k", i)
    assert set_histogram_calls() == 5  # kept, not grown
    assert latencystats_commands() == set()  # as Redis: INFO latencystats is empty while tracking is off
    assert call_counts(conn)["set"] == (10, 0, 0)
    ok(conn, "CONFIG", "SET", "latency-tracking", "yes")
    ok(conn, "SET", "k", "again")
    assert set_histogram_calls() == 6
    assert "latency_percentiles_usec_set" in latencystats_commands()


def test_every_pipelined_command_is_counted_logged_and_timed(strata):
    client = client_for(strata)
    try:
        client.config_set("slowlog-max-len", 5000)
        client.config_set("slowlog-log-slower-than", 0)
        client.config_resetstat()
        client.slowlog_reset()
        pipe = client.pipeline(transaction=False)
        for i in range(1000):
            pipe.set(f"key:{i}", i)
        assert pipe.execute() == [True] * 1000
        client.config_set("slowlog-log-slower-than", -1)
        assert client.info("commandstats")["cmdstat_set"]["calls"] == 1000
        entries = client.execute_command("SLOWLOG", "GET", "-1")
        assert sum(1 for entry in entries if entry[3][0] == "SET") == 1000
    finally:
        client.close()
    with RespConnection(strata.port) as conn:
        histogram, _ = parse_latency_histogram(conn.call("LATENCY", "HISTOGRAM", "set"))
        assert histogram["set"][0] == 1000


def test_commands_on_connections_of_every_io_thread_are_all_counted(conn, strata):
    ok(conn, "CONFIG", "RESETSTAT")
    connections = [RespConnection(strata.port) for _ in range(6)]
    try:
        for c in connections:
            for _ in range(50):
                assert c.call("INCR", "counter").kind == ":"
    finally:
        for c in connections:
            c.close()
    assert conn.call("GET", "counter") == bulk("300")
    assert call_counts(conn)["incr"] == (300, 0, 0)
    histogram, _ = parse_latency_histogram(conn.call("LATENCY", "HISTOGRAM", "incr"))
    assert histogram["incr"][0] == 300

"""Differential tests: strata must answer every string/keyspace command exactly as Redis 7.0 does.

Seeded random command sequences over a tiny keyspace (six keys, three databases) go to strata
and to Debian's redis-server 7.0.15 over raw RESP2 sockets, and every reply is compared byte for
byte, error texts included. Where Redis itself is not deterministic the comparison is relaxed,
and only there:
  TTL/PTTL/EXPIRETIME/PEXPIRETIME   within 2 s / 2000 ms (the two servers run a moment apart)
  KEYS                              as sets (the order is a hash-table detail)
  SCAN                              iterated to completion on each server, compared as sets
  RANDOMKEY                         nil on both, or a key that exists on each server
  "shape" (a few edge cases)        the same reply type, or the same error
  "unordered" (the data-type tests) members or map pairs compared as multisets
  "sample" (random picks)           the same reply type and size, or both nil
Expiry times are chosen so that no comparison depends on timing: relative TTLs are >= 1000 s
and pairwise at least 100 s apart (so EXPIRE ... GT/LT never compares two nearly equal times),
absolute times are far in the future or clearly in the past.

A mismatch reports the seed, the command's index, the command, both replies and the commands
before it; `-k seed_N` reruns one sequence on fresh servers.
"""
import contextlib
import os
import random
import time

import pytest

from helpers import RespConnection, format_reply, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)

SEEDS = scaled_seeds(20)
PIPELINED_SEEDS = scaled_seeds(5, start=100)
RESP3_SEEDS = scaled_seeds(5, start=200)
COMMANDS_PER_SEED = 300
DATABASES = 3  # SELECT 0..2 in the random sequences
HISTORY = 8

KEYS = [b"a", b"b", b"num", b"float", b"", b"bin\x00\xff"]

VALUES = [
    b"0", b"1", b"-1", b"42", b"10", b"9999", b"10000", b"007", b"-0", b"+5", b" 5", b"5 ",
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"12345678901234567890",
    b"1.5", b"-0.25", b"10.5", b"3.0e3", b"1e3", b".5", b"5.", b"inf", b"nan",
    b"", b"abc", b"hello world", b"\x00\xff\r\n$*-+:", b"x" * 44, b"x" * 45, b"y" * 100,
    b"z" * 3000,
]
INCREMENTS = [b"1", b"-1", b"0", b"5", b"-100", b"1000000", b"9223372036854775807", b"-9223372036854775808",
              b"abc", b"", b"1.5", b"99999999999999999999", b" 1", b"+1"]
FLOAT_INCREMENTS = [b"0.1", b"1", b"-1.5", b"3.0e3", b"2.5", b"-0.25", b"1e3", b"10", b"-10.5",
                    b"abc", b"", b"inf", b"-inf", b"1.5.5"]
RANGE_INDEXES = [b"0", b"1", b"2", b"5", b"100", b"-1", b"-2", b"-5", b"-100", b"abc", b"9223372036854775807",
                 b"-9223372036854775808"]
KEY_PATTERNS = [b"*", b"a*", b"?", b"n*m", b"[ab]*", b"[^a]*", b"*\\*", b"bin*", b"", b"[a-f]*", b"*a*"]
DB_INDEXES_VALID = [b"0", b"1", b"2"]
DB_INDEXES_BAD = [b"16", b"-1", b"x", b"1.5", b"99999999999"]
BAD_TIMES = [b"0", b"-1", b"-100", b"abc", b"", b"1.5", b"9223372036854775807", b"99999999999999999999"]


class Op:
    """One step: a command and how its replies are compared ('exact' unless Redis is nondeterministic)."""

    def __init__(self, args, compare="exact"):
        self.args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.compare = compare

    def __str__(self):
        return render_command(self.args)


def render_command(args):
    out = []
    for a in args:
        if a and all(33 <= c < 127 and c not in b'"\\' for c in a):
            out.append(a.decode())
        else:
            out.append('"' + "".join(chr(c) if 32 <= c < 127 and c not in b'"\\' else f"\\x{c:02x}" for c in a) + '"')
    return " ".join(out)


class CommandGenerator:
    """Random commands from the strings/keyspace family, reproducible from a seed."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.base_s = int(time.time())
        self.used_slots = set()

    # -- arguments ------------------------------------------------------------------------

    def key(self):
        return self.rng.choice(KEYS)

    def value(self):
        rng = self.rng
        if rng.random() < 0.1:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 20)))
        return rng.choice(VALUES)

    def name(self, command):
        """Commands are case-insensitive: vary the case now and then."""
        r = self.rng.random()
        if r < 0.1:
            return command.lower().encode()
        if r < 0.15:
            return "".join(c.lower() if self.rng.random() < 0.5 else c for c in command).encode()
        return command.encode()

    def _slot(self):
        # A fresh slot per expiry time: any two times differ by >= 100 s, see the module doc.
        while True:
            slot = self.rng.randrange(20000)
            if slot not in self.used_slots:
                self.used_slots.add(slot)
                return slot

    def rel_seconds(self):
        return 1000 + 100 * self._slot()

    def rel_millis(self):
        return (1000 + 100 * self._slot()) * 1000 + self.rng.randrange(1000)

    def abs_seconds(self):
        return self.base_s + 1050 + 100 * self._slot()

    def abs_millis(self):
        return (self.base_s + 1050 + 100 * self._slot()) * 1000 + self.rng.randrange(1000)

    def past_seconds(self):
        return self.rng.choice([1, self.base_s - 100, self.base_s - 100000])

    def past_millis(self):
        return self.rng.choice([1, (self.base_s - 100) * 1000, (self.base_s - 100000) * 1000])

    def maybe_bad(self, good, p=0.08):
        return self.rng.choice(BAD_TIMES) if self.rng.random() < p else good

    # -- commands -------------------------------------------------------------------------

    def set_command(self):
        rng = self.rng
        args = [self.name("SET"), self.key(), self.value()]
        opts = []
        cond = rng.random()
        if cond < 0.15:
            opts.append(b"NX")
        elif cond < 0.3:
            opts.append(b"XX")
        if rng.random() < 0.2:
            opts.append(b"GET")
        exp = rng.random()
        if exp < 0.12:
            opts += [b"EX", self.maybe_bad(self.rel_seconds())]
        elif exp < 0.22:
            opts += [b"PX", self.maybe_bad(self.rel_millis())]
        elif exp < 0.28:
            opts += [b"EXAT", self.maybe_bad(self.abs_seconds())]
        elif exp < 0.34:
            opts += [b"PXAT", self.maybe_bad(self.abs_millis())]
        elif exp < 0.42:
            opts.append(b"KEEPTTL")
        if rng.random() < 0.06:  # an invalid combination or a stray token
            opts.append(rng.choice([b"NX", b"XX", b"KEEPTTL", b"GET", b"EX", b"PX 100", b"FOO", b"ex"]))
            if opts[-1] == b"PX 100":  # beyond every slot time, so no GT/LT comparison is close
                opts[-1:] = [b"PX", b"3000000000"]
        if rng.random() < 0.1:  # options may come in any order
            rng.shuffle(opts)
        return Op(args + [o if isinstance(o, bytes) else str(o).encode() for o in opts])

    def getex_command(self):
        rng = self.rng
        args = [self.name("GETEX"), self.key()]
        r = rng.random()
        if r < 0.15:
            args += [b"EX", self.maybe_bad(self.rel_seconds())]
        elif r < 0.3:
            args += [b"PX", self.maybe_bad(self.rel_millis())]
        elif r < 0.4:
            args += [b"EXAT", self.maybe_bad(self.abs_seconds())]
        elif r < 0.5:
            args += [b"PXAT", self.maybe_bad(self.abs_millis())]
        elif r < 0.55:
            args += [b"EXAT", self.past_seconds()]
        elif r < 0.7:
            args.append(b"PERSIST")
        elif r < 0.75:
            args += rng.choice([[b"PERSIST", b"EX", b"2000"], [b"EX", b"2000", b"PX", b"2000000"], [b"FOO"], [b"EX"]])
        return Op(args)

    def expire_command(self):
        rng = self.rng
        which = rng.choice(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
        r = rng.random()
        if r < 0.12:
            when = self.past_seconds() if which == "EXPIREAT" else self.past_millis() if which == "PEXPIREAT" \
                else rng.choice([0, -1, -100])
        elif r < 0.18:
            when = rng.choice(BAD_TIMES)
        else:
            when = {"EXPIRE": self.rel_seconds, "PEXPIRE": self.rel_millis,
                    "EXPIREAT": self.abs_seconds, "PEXPIREAT": self.abs_millis}[which]()
        args = [self.name(which), self.key(), when]
        r = rng.random()
        if r < 0.5:
            args.append(rng.choice([b"NX", b"XX", b"GT", b"LT", b"nx", b"gt"]))
            if rng.random() < 0.1:
                args.append(rng.choice([b"NX", b"XX", b"GT", b"LT", b"FOO"]))
        return Op(args)

    def db_index(self):
        return self.rng.choice(DB_INDEXES_BAD) if self.rng.random() < 0.1 else self.rng.choice(DB_INDEXES_VALID)

    def next(self):
        rng = self.rng
        k = self.key
        choices = [
            (14, self.set_command),
            (8, lambda: Op([self.name("GET"), k()])),
            (3, self.getex_command),
            (2, lambda: Op([self.name("GETDEL"), k()])),
            (2, lambda: Op([self.name("GETSET"), k(), self.value()])),
            (2, lambda: Op([self.name("MGET")] + [k() for _ in range(rng.randrange(1, 5))])),
            (2, lambda: Op([self.name("MSET")] + [x for _ in range(rng.randrange(1, 4)) for x in (k(), self.value())]
                           + ([k()] if rng.random() < 0.1 else []))),
            (2, lambda: Op([self.name("MSETNX")] + [x for _ in range(rng.randrange(1, 3)) for x in (k(), self.value())])),
            (2, lambda: Op([self.name("SETNX"), k(), self.value()])),
            (2, lambda: Op([self.name("SETEX"), k(), self.maybe_bad(self.rel_seconds(), 0.2), self.value()])),
            (2, lambda: Op([self.name("PSETEX"), k(), self.maybe_bad(self.rel_millis(), 0.2), self.value()])),
            (4, lambda: Op([self.name("APPEND"), k(), self.value()])),
            (2, lambda: Op([self.name("STRLEN"), k()])),
            (3, lambda: Op([self.name("GETRANGE"), k(), rng.choice(RANGE_INDEXES), rng.choice(RANGE_INDEXES)])),
            (3, lambda: Op([self.name("SETRANGE"), k(), rng.choice([0, 0, 1, 3, 5, 10, 20, -1, "x"]), self.value()])),
            (4, lambda: Op([self.name(rng.choice(["INCR", "DECR"])), k()])),
            (4, lambda: Op([self.name(rng.choice(["INCRBY", "DECRBY"])), k(), rng.choice(INCREMENTS)])),
            (4, lambda: Op([self.name("INCRBYFLOAT"), k(), rng.choice(FLOAT_INCREMENTS)])),
            (3, lambda: Op([self.name(rng.choice(["DEL", "UNLINK"]))] + [k() for _ in range(rng.randrange(1, 4))])),
            (3, lambda: Op([self.name("EXISTS")] + [k() for _ in range(rng.randrange(1, 4))])),
            (2, lambda: Op([self.name("TYPE"), k()])),
            (3, lambda: Op([self.name(rng.choice(["RENAME", "RENAMENX"])), k(), k()])),
            (3, lambda: Op([self.name("COPY"), k(), k()]
                           + ([b"DB", self.db_index()] if rng.random() < 0.4 else [])
                           + ([b"REPLACE"] if rng.random() < 0.4 else []))),
            (2, lambda: Op([self.name("MOVE"), k(), self.db_index()])),
            (8, self.expire_command),
            (2, lambda: Op([self.name("EXPIRETIME"), k()], "ttl_s")),
            (2, lambda: Op([self.name("PEXPIRETIME"), k()], "ttl_ms")),
            (3, lambda: Op([self.name("TTL"), k()], "ttl_s")),
            (3, lambda: Op([self.name("PTTL"), k()], "ttl_ms")),
            (2, lambda: Op([self.name("PERSIST"), k()])),
            (2, lambda: Op([self.name("TOUCH")] + [k() for _ in range(rng.randrange(1, 4))])),
            (2, lambda: Op([self.name("KEYS"), rng.choice(KEY_PATTERNS)], "keys")),
            (2, self.scan_command),
            (1, lambda: Op([self.name("RANDOMKEY")], "randomkey")),
            (2, lambda: Op([self.name("DBSIZE")])),
            (2, lambda: Op([self.name("SELECT"), self.db_index()])),
            (1, lambda: Op([self.name("SWAPDB"), self.db_index(), self.db_index()])),
            (0.3, lambda: Op([self.name("FLUSHDB")] + ([rng.choice([b"ASYNC", b"SYNC"])] if rng.random() < 0.5 else []))),
            (2, lambda: Op([self.name("OBJECT"), b"ENCODING", k()])),
            (1, lambda: Op([self.name("ECHO"), self.value()])),
            (1, lambda: Op([self.name("PING")] + ([self.value()] if rng.random() < 0.5 else []))),
            (2, self.bad_command),
        ]
        weights = [w for w, _ in choices]
        return rng.choices([f for _, f in choices], weights)[0]()

    def scan_command(self):
        rng = self.rng
        args = [self.name("SCAN"), b"0"]
        if rng.random() < 0.5:
            args += [b"MATCH", rng.choice(KEY_PATTERNS)]
        if rng.random() < 0.5:
            args += [b"COUNT", rng.choice([b"1", b"2", b"10", b"1000"])]
        if rng.random() < 0.2:
            args += [b"TYPE", rng.choice([b"string", b"hash"])]
        if rng.random() < 0.05:
            args += [rng.choice([b"COUNT", b"MATCH", b"FOO"])]
            return Op(args)  # a syntax error: compared exactly
        if rng.random() < 0.03:
            args[1] = rng.choice([b"abc", b" 1", b"1.5", b"18446744073709551616"])
            return Op(args)
        return Op(args, "scan")

    def bad_command(self):
        """Wrong arity, unknown commands and subcommands, non-integer arguments."""
        k = self.key()
        return Op(self.rng.choice([
            [b"GET"], [b"GET", k, k], [b"SET", k], [b"INCR"], [b"INCR", k, k], [b"EXPIRE", k], [b"TTL"],
            [b"MGET"], [b"DEL"], [b"EXISTS"], [b"KEYS"], [b"KEYS", b"*", b"*"], [b"SCAN"], [b"RENAME", k],
            [b"COPY", k], [b"ECHO"], [b"ECHO", k, k], [b"SELECT"], [b"SWAPDB", b"0"], [b"OBJECT"],
            [b"OBJECT", b"ENCODING"], [b"OBJECT", b"FOO", k], [b"PING", k, k], [b"DBSIZE", k], [b"RANDOMKEY", k],
            [b"TYPE"], [b"GETEX"], [b"GETDEL"], [b"SETNX", k], [b"SETEX", k, b"100"], [b"PSETEX", k, b"100"],
            [b"APPEND", k], [b"STRLEN"], [b"GETRANGE", k, b"0"], [b"SETRANGE", k, b"0"], [b"INCRBY", k],
            [b"INCRBYFLOAT", k], [b"PERSIST"], [b"TOUCH"], [b"FLUSHDB", b"FOO"], [b"MOVE", k],
            [b"EXPIRETIME"], [b"PEXPIRETIME", k, k], [b"GETSET", k], [b"MSETNX", k], [b"MSET"], [b"UNLINK"],
            [b"FOO"], [b"FOO", k], [b"foo", b"a", b"b"], [b"GETX", k, b"v"], [b"SETT", b"\r\n", b"x"],
            [b"SET", k, b"v", b"EX"], [b"SET", k, b"v", b"PX", b"abc"], [b"SET", k, b"v", b"EX", b"1.5"],
            [b"EXPIRE", k, b"abc"], [b"PEXPIRE", k, b"1.5"], [b"EXPIRE", k, b"100000", b"GT", b"LT"],
            [b"EXPIRE", k, b"100000", b"NX", b"XX"], [b"EXPIRE", k, b"100000", b"NX", b"GT"],
            [b"GETRANGE", k, b"a", b"b"], [b"SETRANGE", k, b"abc", b"v"], [b"SETEX", k, b"abc", b"v"],
            [b"SELECT", b"abc"], [b"SWAPDB", b"a", b"0"], [b"SWAPDB", b"0", b"b"], [b"MOVE", k, b"abc"],
            [b"COPY", k, k, b"DB"], [b"COPY", k, k, b"FOO"], [b"COPY", k, k, b"DB", b"x"],
        ]))


# ---------------------------------------------------------------------------------------------
# Comparison

class Mismatch(AssertionError):
    pass


class Differ:
    """Sends each Op to both servers and compares the replies; keeps a short history."""

    def __init__(self, strata_conn, redis_conn, label, rerun):
        self.s = strata_conn
        self.r = redis_conn
        self.label = label
        self.rerun = rerun
        self.index = 0
        self.history = []

    def run(self, op):
        if op.compare == "scan":
            s_reply, r_reply, problem = self._scan(op)
        elif op.compare == "randomkey":
            s_reply, r_reply, problem = self._randomkey(op)
        else:
            s_reply, r_reply = self.s.call(*op.args), self.r.call(*op.args)
            problem = compare(op, s_reply, r_reply)
        if problem:
            raise Mismatch(self.describe(op, s_reply, r_reply, problem))
        self.history.append((self.index, op, s_reply, r_reply))
        del self.history[:-HISTORY]
        self.index += 1

    def run_pipelined(self, ops):
        """Send every op in one write to each server, then compare the replies in order."""
        s_replies = self.s.pipeline([op.args for op in ops])
        r_replies = self.r.pipeline([op.args for op in ops])
        for op, s_reply, r_reply in zip(ops, s_replies, r_replies):
            problem = compare(op, s_reply, r_reply)
            if problem:
                raise Mismatch(self.describe(op, s_reply, r_reply, problem))
            self.history.append((self.index, op, s_reply, r_reply))
            del self.history[:-HISTORY]
            self.index += 1

    def describe(self, op, s_reply, r_reply, problem):
        lines = [f"strata differs from redis-server at {self.label}, command #{self.index} ({problem}):",
                 f"  command: {op}",
                 f"  strata : {fmt(s_reply)}",
                 f"  redis  : {fmt(r_reply)}"]
        if self.history:
            lines.append("  preceding commands (oldest first):")
            for i, prev, ps, pr in self.history:
                same = fmt(ps) == fmt(pr)
                lines.append(f"    #{i} {prev}  ->  {fmt(pr)}" if same else
                             f"    #{i} {prev}  ->  strata {fmt(ps)} | redis {fmt(pr)}")
        # The file of the test running now (every differential file shares this class).
        test_file = os.environ.get("PYTEST_CURRENT_TEST", "tests/e2e/test_differential.py").split("::")[0]
        lines.append(f"  rerun: /usr/bin/python3 -m pytest -q '{test_file}::{self.rerun}'")
        return "\n".join(lines)

    def _scan(self, op):
        s_keys = scan_all(self.s, op.args)
        r_keys = scan_all(self.r, op.args)
        if isinstance(s_keys, str) or isinstance(r_keys, str):
            return s_keys, r_keys, None if s_keys == r_keys else "SCAN errors differ"
        return sorted(s_keys), sorted(r_keys), None if s_keys == r_keys else "SCAN found different key sets"

    def _randomkey(self, op):
        s_reply, r_reply = self.s.call(*op.args), self.r.call(*op.args)
        if s_reply.kind != "$" or r_reply.kind != "$":
            return s_reply, r_reply, None if s_reply == r_reply else "replies differ"
        if (s_reply.value is None) != (r_reply.value is None):
            return s_reply, r_reply, "one server has keys, the other has none"
        if s_reply.value is not None:
            for conn, reply, who in ((self.s, s_reply, "strata"), (self.r, r_reply, "redis")):
                if conn.call(b"EXISTS", reply.value).value != 1:
                    return s_reply, r_reply, f"{who}'s RANDOMKEY returned a key that does not exist"
        return s_reply, r_reply, None


def fmt(x):
    if isinstance(x, list):
        return "{" + ", ".join(repr(k) for k in x) + "}"
    if isinstance(x, str):
        return x
    return format_reply(x)


def compare(op, s_reply, r_reply):
    """None when the replies agree, else a short description of the difference."""
    if op.compare in ("ttl_s", "ttl_ms") and s_reply.kind == ":" and r_reply.kind == ":":
        tolerance = 2 if op.compare == "ttl_s" else 2000
        if s_reply.value < 0 or r_reply.value < 0:
            return None if s_reply.value == r_reply.value else "TTL state differs"
        return None if abs(s_reply.value - r_reply.value) <= tolerance else f"TTLs differ by more than {tolerance}"
    if op.compare == "shape" and s_reply.kind == r_reply.kind and s_reply.kind != "-":
        return None
    if op.compare in ("unordered", "sample") and s_reply.kind != r_reply.kind:
        return "reply types differ"
    aggregate = s_reply.kind in ("*", "~", "%") and s_reply.value is not None and r_reply.value is not None
    if op.compare == "unordered" and aggregate:
        # Members (or map pairs) whose order is a hash-table detail: compared as multisets.
        def items(reply):
            if reply.kind == "%":
                return sorted((k.value, v.value) for k, v in reply.value)
            return sorted((x.value for x in reply.value), key=lambda v: (v is None, v or b""))
        return None if items(s_reply) == items(r_reply) else "members differ"
    if op.compare == "sample":
        # Random picks (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER): the same kind and size, or both nil.
        if aggregate:
            return None if len(s_reply.value) == len(r_reply.value) else "sample sizes differ"
        if s_reply.kind == "$":
            return None if (s_reply.value is None) == (r_reply.value is None) else "one reply is nil"
    if op.compare == "keys" and s_reply.kind == "*" and r_reply.kind == "*" and s_reply.value and r_reply.value:
        same = sorted(x.value for x in s_reply.value) == sorted(x.value for x in r_reply.value)
        return None if same else "KEYS found different key sets"
    return None if s_reply == r_reply else "replies differ"


def scan_all(conn, args):
    """Iterate SCAN from cursor 0 to the end: the set of keys, or the error text."""
    args = list(args)
    keys = set()
    for _ in range(10000):
        reply = conn.call(*args)
        if reply.kind == "-":
            return "-" + reply.text()
        assert reply.kind == "*" and len(reply.value) == 2, f"malformed SCAN reply {reply}"
        cursor, batch = reply.value
        keys.update(item.value for item in batch.value)
        if cursor.value == b"0":
            return keys
        args[1] = cursor.value
    raise AssertionError("SCAN did not finish in 10000 calls")


def element_scan_all(conn, command, key, pairs):
    """Iterate HSCAN/SSCAN/ZSCAN of key from cursor 0 to the end: the set of members (or of
    (name, value) pairs), or the error text."""
    elements, cursor = set(), b"0"
    for _ in range(100000):
        reply = conn.call(command, key, cursor, b"COUNT", b"7")
        if reply.kind == "-":
            return "-" + reply.text()
        cursor, batch = reply.value
        values = [x.value for x in batch.value]
        elements.update(zip(values[::2], values[1::2]) if pairs else values)
        cursor = cursor.value
        if cursor == b"0":
            return elements
    raise AssertionError(f"{command} did not finish")


def dump_keyspace(conn):
    """Every key of databases 0..DATABASES-1 with its value and whether it has a TTL."""
    state = {}
    for db in range(DATABASES):
        assert conn.call(b"SELECT", db).kind == "+"
        for item in conn.call(b"KEYS", b"*").value:
            key = item.value
            state[(db, key)] = (conn.call(b"GET", key).value, conn.call(b"TTL", key).value >= 0,
                                conn.call(b"OBJECT", b"ENCODING", key).value)
    return state


@contextlib.contextmanager
def differential_session(server_pair, label, rerun, resp3=False, config=None):
    """Connections to strata and redis-server, both flushed, in RESP3 if asked, with `config`
    ({directive: value}) set on both and put back afterwards; yields (strata, redis, Differ)."""
    strata_server, redis_server = server_pair
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        saved = []
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
            for name, value in (config or {}).items():
                saved.append((conn, name, conn.call(b"CONFIG", b"GET", name).value[1].value))
                assert conn.call(b"CONFIG", b"SET", name, value).kind == "+"
            if resp3:
                assert conn.call(b"HELLO", b"3").kind == "%"
        yield s, r, Differ(s, r, label, rerun)
        for conn, name, value in saved:
            assert conn.call(b"CONFIG", b"SET", name, value).kind == "+"


@pytest.fixture
def differ_conns(server_pair):
    strata_server, redis_server = server_pair
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
        yield s, r


# ---------------------------------------------------------------------------------------------
# Random sequences

@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_command_sequence_matches_redis(differ_conns, seed):
    s, r = differ_conns
    differ = Differ(s, r, f"seed {seed}", f"test_random_command_sequence_matches_redis[seed_{seed}]")
    generator = CommandGenerator(seed)
    for _ in range(COMMANDS_PER_SEED):
        differ.run(generator.next())
    assert_same_keyspace(s, r, seed)


@pytest.mark.parametrize("seed", PIPELINED_SEEDS, ids=[f"seed_{s}" for s in PIPELINED_SEEDS])
def test_random_pipelined_sequence_matches_redis(differ_conns, seed):
    """The same kind of sequence sent as one pipeline (SCAN and RANDOMKEY left out: they need
    follow-up commands)."""
    s, r = differ_conns
    differ = Differ(s, r, f"pipelined seed {seed}", f"test_random_pipelined_sequence_matches_redis[seed_{seed}]")
    generator = CommandGenerator(seed)
    ops = [op for op in (generator.next() for _ in range(COMMANDS_PER_SEED)) if op.compare not in ("scan", "randomkey")]
    differ.run_pipelined(ops)
    assert_same_keyspace(s, r, seed)


@pytest.mark.parametrize("seed", RESP3_SEEDS, ids=[f"seed_{s}" for s in RESP3_SEEDS])
def test_random_command_sequence_in_resp3_matches_redis(differ_conns, seed):
    s, r = differ_conns
    for conn in (s, r):
        assert conn.call(b"HELLO", b"3").kind == "%"
    differ = Differ(s, r, f"RESP3 seed {seed}", f"test_random_command_sequence_in_resp3_matches_redis[seed_{seed}]")
    generator = CommandGenerator(seed)
    for _ in range(COMMANDS_PER_SEED):
        differ.run(generator.next())
    assert_same_keyspace(s, r, seed)


def assert_same_keyspace(s, r, seed):
    s_state, r_state = dump_keyspace(s), dump_keyspace(r)
    assert s_state == r_state, (
        f"seed {seed}: the final keyspaces differ (db, key) -> (value, has TTL, encoding)\n"
        f"  only in strata or different: {sorted(set(s_state.items()) - set(r_state.items()))[:20]}\n"
        f"  only in redis or different : {sorted(set(r_state.items()) - set(s_state.items()))[:20]}")


# ---------------------------------------------------------------------------------------------
# Hand-picked edge cases: each is a short script compared reply by reply.

def past_s():
    return str(int(time.time()) - 100)


def future_s(offset=5000):
    return str(int(time.time()) + offset)


EDGE_CASES = {
    "wrong_arity_error_names_the_command": [
        ["GET"], ["get", "a", "b"], ["SET", "a"], ["Mget"], ["OBJECT", "ENCODING"], ["OBJECT"],
        ["EXPIRE", "a"], ["COPY", "a"], ["SWAPDB", "0"], ["PING", "a", "b"], ["ECHO"], ["MSET", "a"],
        ["MSET", "a", "1", "b"], ["MSETNX", "a", "1", "b"], ["GETEX"], ["SCAN"], ["DBSIZE", "x"],
    ],
    "unknown_command_error_lists_the_first_arguments": [
        ["FOO", "a"], ["FOO"], ["foo", "a", "b", "c"], ["GETX", "x" * 200], ["F" * 200, "a"],
        ["FOO", "a\r\nb", "c\nd"], ["FOO"] + ["arg%d" % i for i in range(40)], ["", "a"],
        ["OBJECT", "FOO", "a"], ["OBJECT", "encodingx", "a"],
    ],
    "non_integer_arguments": [
        ["SET", "n", "10"], ["INCRBY", "n", "abc"], ["INCRBY", "n", "1.5"], ["INCRBY", "n", ""],
        ["INCRBY", "n", " 1"], ["INCRBY", "n", "99999999999999999999"], ["DECRBY", "n", "x"],
        ["EXPIRE", "n", "abc"], ["EXPIRE", "n", "1.0"], ["GETRANGE", "n", "a", "1"], ["SETRANGE", "n", "x", "v"],
        ["SELECT", "abc"], ["SELECT", "1.0"], ["MOVE", "n", "x"], ["SETEX", "n", "ten", "v"],
        ["SCAN", "0", "COUNT", "abc"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "x"], ["SCAN", "1x"], ["SCAN", "18446744073709551616"],
        # Redis parses the cursor with strtoul, so "-1" is a valid (huge) cursor; which keys it
        # returns depends on the hash table, so only the reply's shape is compared.
        ("shape", ["SCAN", "-1"]), ("shape", ["SCAN", "18446744073709551615"]),
        ["SET", "n", "v", "EX", "ten"], ["GET", "n"],
    ],
    "incr_of_non_integer_values": [
        ["SET", "a", "abc"], ["INCR", "a"], ["SET", "a", ""], ["INCR", "a"], ["SET", "a", " 1"], ["INCR", "a"],
        ["SET", "a", "1 "], ["INCR", "a"], ["SET", "a", "+1"], ["INCR", "a"], ["SET", "a", "007"], ["INCR", "a"],
        ["SET", "a", "-0"], ["INCR", "a"], ["SET", "a", "1.0"], ["INCR", "a"], ["SET", "a", "9223372036854775808"],
        ["INCR", "a"], ["SET", "a", "0"], ["INCR", "a"], ["GET", "a"], ["DECR", "missing"], ["GET", "missing"],
    ],
    "increment_overflow_is_an_error_and_leaves_the_value": [
        ["SET", "a", "9223372036854775807"], ["INCR", "a"], ["GET", "a"], ["INCRBY", "a", "1"], ["DECR", "a"],
        ["SET", "a", "-9223372036854775808"], ["DECR", "a"], ["INCRBY", "a", "-1"], ["GET", "a"],
        ["DECRBY", "a", "-9223372036854775808"], ["SET", "b", "0"], ["DECRBY", "b", "-9223372036854775808"],
        ["DECRBY", "b", "9223372036854775807"], ["DECRBY", "b", "1"], ["DECRBY", "b", "1"], ["GET", "b"],
        ["INCRBY", "c", "-9223372036854775808"], ["INCRBY", "c", "-1"], ["GET", "c"],
    ],
    "incrbyfloat_formatting": [
        ["SET", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"], ["GET", "f"], ["INCRBYFLOAT", "f", "-5.6"],
        ["INCRBYFLOAT", "g", "3.0e3"], ["GET", "g"], ["INCRBYFLOAT", "h", "0.1"], ["INCRBYFLOAT", "h", "0.2"],
        ["INCRBYFLOAT", "i", "5.0e3"], ["INCRBYFLOAT", "i", "2.0e2"], ["INCRBYFLOAT", "j", "-0"],
        ["SET", "k", "1"], ["INCRBYFLOAT", "k", "-1"], ["GET", "k"], ["INCRBYFLOAT", "l", "1e20"],
        ["INCRBYFLOAT", "m", "1.23456789012345678"], ["INCRBYFLOAT", "n", ".5"], ["INCRBYFLOAT", "n", "5."],
        ["INCRBYFLOAT", "o", "-1.5e-3"], ["SET", "p", "3"], ["INCRBYFLOAT", "p", "1.5"], ["OBJECT", "ENCODING", "p"],
        ["INCRBYFLOAT", "q", "1e300"], ["OBJECT", "ENCODING", "q"], ["STRLEN", "q"],
    ],
    "incrbyfloat_errors": [
        ["SET", "f", "abc"], ["INCRBYFLOAT", "f", "1"], ["INCRBYFLOAT", "g", "abc"], ["INCRBYFLOAT", "g", ""],
        ["INCRBYFLOAT", "g", "1.5.5"], ["INCRBYFLOAT", "g", " 1"], ["INCRBYFLOAT", "g", "inf"],
        ["INCRBYFLOAT", "g", "-inf"], ["INCRBYFLOAT", "g", "nan"], ["SET", "h", "inf"], ["INCRBYFLOAT", "h", "1"],
        ["SET", "h", "1e4000"], ["INCRBYFLOAT", "h", "1"], ["EXISTS", "g"], ["SET", "h", "5"],
        ["INCRBYFLOAT", "h", "1 "], ["GET", "h"],
    ],
    "set_expiry_options": [
        ["SET", "a", "1", "EX", "1000"], ["TTL", "a"], ["SET", "a", "2", "KEEPTTL"], ["TTL", "a"], ["GET", "a"],
        ["SET", "a", "3"], ["TTL", "a"], ["SET", "a", "4", "PX", "2000000"], ["PTTL", "a"],
        ["SET", "a", "5", "EXAT", future_s()], ["EXPIRETIME", "a"], ["SET", "a", "6", "PXAT", future_s() + "123"],
        ["PEXPIRETIME", "a"], ["SET", "b", "1", "EXAT", past_s()], ["GET", "b"], ["EXISTS", "b"],
        ["SET", "c", "1", "PXAT", "1"], ["GET", "c"], ["TTL", "c"], ["SET", "a", "7", "ex", "3000"], ["TTL", "a"],
    ],
    "set_invalid_expire_time": [
        ["SET", "a", "v", "EX", "0"], ["SET", "a", "v", "EX", "-1"], ["SET", "a", "v", "PX", "0"],
        ["SET", "a", "v", "PX", "-5"], ["SET", "a", "v", "EXAT", "0"], ["SET", "a", "v", "PXAT", "-1"],
        ["SET", "a", "v", "EX", "9223372036854775807"], ["SET", "a", "v", "PX", "9223372036854775807"],
        ["SET", "a", "v", "EXAT", "9223372036854775807"], ["SET", "a", "v", "EX", "9223372036854775"],
        ["SETEX", "a", "0", "v"], ["SETEX", "a", "-10", "v"], ["PSETEX", "a", "0", "v"],
        ["SETEX", "a", "9223372036854775807", "v"], ["GETEX", "a", "EX", "0"], ["GETEX", "a", "PX", "-1"],
        ["SET", "a", "v"], ["GETEX", "a", "EX", "0"], ["GETEX", "a", "EXAT", "-1"], ["EXISTS", "a"],
        ["EXPIRE", "a", "9223372036854775807"], ["PEXPIRE", "a", "9223372036854775807"],
        ["EXPIREAT", "a", "9223372036854775807"], ["EXPIRE", "a", "-9223372036854775808"], ["EXISTS", "a"],
    ],
    "set_option_combinations": [
        ["SET", "a", "v", "NX", "XX"], ["SET", "a", "v", "EX", "10", "PX", "100"], ["SET", "a", "v", "KEEPTTL", "EX", "10"],
        ["SET", "a", "v", "EX"], ["SET", "a", "v", "FOO"], ["SET", "a", "v", "EX", "100", "EX", "100"],
        ["SET", "a", "v", "NX", "NX"], ["SET", "a", "v", "GET", "GET"], ["SET", "a", "v", "PXAT", "100", "EXAT", "100"],
        ["SET", "a", "v", "XX"], ["GET", "a"], ["SET", "a", "v", "NX"], ["SET", "a", "w", "NX"], ["GET", "a"],
        ["SET", "a", "x", "XX", "GET"], ["SET", "a", "y", "NX", "GET"], ["SET", "b", "y", "NX", "GET"],
        ["SET", "c", "1", "GET"], ["SET", "c", "2", "get", "ex", "1000"], ["TTL", "c"], ["GET", "c"],
        ["SET", "a", "v", "KEEPTTL", "PX", "100"], ["SET", "a", "v", "keepttl", "keepttl"], ["GET", "a"],
    ],
    "getex_options": [
        ["SET", "a", "v"], ["GETEX", "a", "EX", "1000"], ["TTL", "a"], ["GETEX", "a", "PERSIST"], ["TTL", "a"],
        ["GETEX", "a", "PX", "5000000"], ["PTTL", "a"], ["GETEX", "a"], ["PTTL", "a"],
        ["GETEX", "a", "EXAT", future_s()], ["TTL", "a"], ["GETEX", "a", "EX", "10", "PX", "10"],
        ["GETEX", "a", "PERSIST", "EX", "10"], ["GETEX", "a", "FOO"], ["GETEX", "a", "EX"], ["GETEX", "missing", "EX", "100"],
        ["GETEX", "a", "EXAT", past_s()], ["EXISTS", "a"], ["SET", "a", "v"], ["GETEX", "a", "PXAT", "1"], ["GET", "a"],
    ],
    "getrange_negative_and_out_of_range": [
        ["SET", "s", "Hello, World"], ["GETRANGE", "s", "0", "4"], ["GETRANGE", "s", "-5", "-1"],
        ["GETRANGE", "s", "-1", "-5"], ["GETRANGE", "s", "-100", "3"], ["GETRANGE", "s", "5", "100"],
        ["GETRANGE", "s", "100", "200"], ["GETRANGE", "s", "-100", "-50"], ["GETRANGE", "s", "0", "-1"],
        ["GETRANGE", "s", "3", "2"], ["GETRANGE", "s", "0", "0"], ["GETRANGE", "s", "-1", "-1"],
        ["GETRANGE", "missing", "0", "-1"], ["SET", "e", ""], ["GETRANGE", "e", "0", "-1"], ["GETRANGE", "e", "0", "0"],
        ["GETRANGE", "s", "9223372036854775807", "-9223372036854775808"], ["GETRANGE", "s", "-9223372036854775808", "2"],
        ["SET", "i", "12345"], ["GETRANGE", "i", "1", "2"], ["GETRANGE", "i", "-2", "-1"],
    ],
    "setrange_semantics": [
        ["SETRANGE", "m", "0", ""], ["EXISTS", "m"], ["SETRANGE", "m", "5", ""], ["EXISTS", "m"],
        ["SETRANGE", "m", "3", "abc"], ["GET", "m"], ["STRLEN", "m"], ["SETRANGE", "m", "1", "Z"], ["GET", "m"],
        ["SETRANGE", "m", "-1", "x"], ["SETRANGE", "m", "536870912", "x"], ["SETRANGE", "m", "536870911", ""],
        ["SETRANGE", "m", "10", ""], ["GET", "m"], ["SET", "n", "100"], ["SETRANGE", "n", "1", "9"], ["GET", "n"],
        ["OBJECT", "ENCODING", "n"], ["INCR", "n"], ["OBJECT", "ENCODING", "n"], ["SETRANGE", "n", "0", ""],
    ],
    "append_and_strlen": [
        ["APPEND", "a", "Hello"], ["APPEND", "a", " World"], ["GET", "a"], ["STRLEN", "a"], ["STRLEN", "missing"],
        ["APPEND", "b", ""], ["EXISTS", "b"], ["GET", "b"], ["SET", "c", "10"], ["APPEND", "c", "5"], ["INCR", "c"],
        ["GET", "c"], ["APPEND", "d", "\x00\xff"], ["STRLEN", "d"], ["SET", "e", "12"], ["STRLEN", "e"],
    ],
    "object_encoding_follows_redis_rules": [
        ["SET", "a", "12345"], ["OBJECT", "ENCODING", "a"], ["SET", "a", "-9223372036854775808"], ["OBJECT", "ENCODING", "a"],
        ["SET", "a", "9223372036854775808"], ["OBJECT", "ENCODING", "a"], ["SET", "a", "007"], ["OBJECT", "ENCODING", "a"],
        ["SET", "a", "x" * 44], ["OBJECT", "ENCODING", "a"], ["SET", "a", "x" * 45], ["OBJECT", "ENCODING", "a"],
        ["SET", "a", ""], ["OBJECT", "ENCODING", "a"], ["APPEND", "a", "x"], ["OBJECT", "ENCODING", "a"],
        ["APPEND", "b", "12"], ["OBJECT", "ENCODING", "b"], ["APPEND", "c", "abc"], ["OBJECT", "ENCODING", "c"],
        ["SETRANGE", "d", "0", "1"], ["OBJECT", "ENCODING", "d"], ["INCR", "e"], ["OBJECT", "ENCODING", "e"],
        ["SET", "f", "abc"], ["COPY", "f", "g"], ["OBJECT", "ENCODING", "g"], ["APPEND", "f", "d"], ["COPY", "f", "h"],
        ["OBJECT", "ENCODING", "h"], ["OBJECT", "ENCODING", "missing"], ["OBJECT", "encoding", "a"],
        ["MSET", "i", "1", "j", "abc"], ["OBJECT", "ENCODING", "i"], ["GETSET", "j", "77"], ["OBJECT", "ENCODING", "j"],
        ["SET", "k", "1.5"], ["OBJECT", "ENCODING", "k"], ["SET", "l", " 1"], ["OBJECT", "ENCODING", "l"],
    ],
    "getset_getdel_setnx": [
        ["GETSET", "a", "1"], ["GETSET", "a", "2"], ["GET", "a"], ["GETDEL", "a"], ["GETDEL", "a"], ["EXISTS", "a"],
        ["SETNX", "a", "x"], ["SETNX", "a", "y"], ["GET", "a"], ["SET", "a", "v", "EX", "1000"], ["GETSET", "a", "w"],
        ["TTL", "a"], ["MSETNX", "a", "1", "b", "2"], ["EXISTS", "b"], ["MSETNX", "b", "1", "c", "2"], ["MGET", "a", "b", "c", "d"],
        ["MSET", "a", "1", "a", "2"], ["GET", "a"], ["MSETNX", "x", "1", "x", "2"], ["GET", "x"],
    ],
    "keys_patterns": [
        ["MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5", "h*llo", "6", "h[a]llo", "7"],
        ["KEYS", "h?llo"], ["KEYS", "h*llo"], ["KEYS", "h[ae]llo"], ["KEYS", "h[^e]llo"], ["KEYS", "h[a-b]llo"],
        ["KEYS", "h\\*llo"], ["KEYS", "h\\[a\\]llo"], ["KEYS", "*"], ["KEYS", ""], ["KEYS", "h[a"], ["KEYS", "h[]llo"],
        ["KEYS", "nomatch*"], ["KEYS", "H*"], ["KEYS", "h[z-a]llo"], ["KEYS", "**llo"], ["KEYS", "h\\"],
    ],
    "rename_copy_move": [
        ["RENAME", "missing", "x"], ["RENAMENX", "missing", "x"], ["SET", "a", "1", "EX", "1000"], ["RENAME", "a", "b"],
        ["TTL", "b"], ["EXISTS", "a"], ["RENAME", "b", "b"], ["RENAMENX", "b", "b"], ["SET", "c", "2"], ["RENAMENX", "b", "c"],
        ["RENAME", "b", "c"], ["GET", "c"], ["TTL", "c"], ["COPY", "c", "c"], ["COPY", "c", "d"], ["TTL", "d"],
        ["COPY", "c", "d"], ["COPY", "c", "d", "REPLACE"], ["COPY", "c", "d", "DB", "1"], ["COPY", "c", "d", "DB", "0"],
        ["COPY", "c", "d", "DB", "16"], ["COPY", "c", "d", "DB", "-1"], ["COPY", "c", "d", "DB", "x"],
        ["COPY", "c", "d", "db", "1", "replace"], ["COPY", "c", "d", "REPLACE", "REPLACE"], ["COPY", "c", "d", "DB"],
        ["COPY", "missing", "d"], ["MOVE", "c", "0"], ["MOVE", "c", "16"], ["MOVE", "c", "-1"], ["MOVE", "c", "1"],
        ["MOVE", "d", "1"], ["MOVE", "missing", "1"], ["SELECT", "1"], ["KEYS", "*"], ["TTL", "c"], ["DBSIZE"],
        ["SELECT", "0"], ["DBSIZE"],
    ],
    "expire_flags": [
        ["SET", "a", "v"], ["EXPIRE", "a", "1000", "XX"], ["EXPIRE", "a", "1000", "GT"], ["EXPIRE", "a", "1000", "LT"],
        ["TTL", "a"], ["EXPIRE", "a", "5000", "NX"], ["EXPIRE", "a", "5000", "GT"], ["TTL", "a"],
        ["EXPIRE", "a", "2000", "GT"], ["EXPIRE", "a", "2000", "LT"], ["TTL", "a"], ["EXPIRE", "a", "3000", "XX"],
        ["TTL", "a"], ["EXPIRE", "a", "1000", "NX", "XX"], ["EXPIRE", "a", "1000", "GT", "LT"],
        ["EXPIRE", "a", "1000", "NX", "GT"], ["EXPIRE", "a", "1000", "XX", "GT"], ["EXPIRE", "a", "1000", "FOO"],
        ["EXPIRE", "missing", "1000"], ["PERSIST", "a"], ["PERSIST", "a"], ["PERSIST", "missing"], ["TTL", "a"],
        ["PEXPIRE", "a", "3000000", "LT"], ["PTTL", "a"], ["EXPIREAT", "a", future_s(9000), "GT"], ["EXPIRETIME", "a"],
        ["PEXPIREAT", "a", future_s(8000) + "000", "GT"], ["PEXPIRETIME", "a"], ["EXPIRETIME", "missing"],
        ["SET", "b", "v"], ["EXPIRETIME", "b"], ["PEXPIRETIME", "b"], ["TTL", "b"], ["PTTL", "b"], ["TTL", "missing"],
    ],
    "expire_in_the_past_deletes": [
        ["SET", "a", "v"], ["EXPIRE", "a", "0"], ["EXISTS", "a"], ["SET", "a", "v"], ["EXPIRE", "a", "-10"], ["GET", "a"],
        ["SET", "a", "v"], ["PEXPIRE", "a", "-1"], ["DBSIZE"], ["SET", "a", "v"], ["EXPIREAT", "a", "1"], ["DBSIZE"],
        ["SET", "a", "v"], ["PEXPIREAT", "a", past_s() + "000"], ["KEYS", "*"], ["SET", "a", "v"],
        ["EXPIRE", "a", "0", "NX"], ["EXISTS", "a"], ["EXPIRE", "a", "-1", "LT"], ["EXISTS", "a"],
        ["EXPIRE", "a", "-1", "GT"], ["EXISTS", "a"], ["EXPIRE", "missing", "-1"],
    ],
    "touch_exists_del_unlink_count_every_argument": [
        ["MSET", "a", "1", "b", "2"], ["EXISTS", "a", "a", "b", "c"], ["TOUCH", "a", "a", "c"], ["DEL", "a", "a", "c"],
        ["UNLINK", "b", "b"], ["DEL", "b"], ["DBSIZE"], ["TYPE", "a"], ["SET", "a", "x"], ["TYPE", "a"],
    ],
    "select_swapdb_flushdb": [
        ["SET", "a", "0"], ["SELECT", "1"], ["SET", "a", "1"], ["SET", "b", "1"], ["SELECT", "16"], ["SELECT", "-1"],
        ["SELECT", "15"], ["DBSIZE"], ["SELECT", "1"], ["SWAPDB", "0", "1"], ["DBSIZE"], ["GET", "a"], ["SELECT", "0"],
        ["GET", "a"], ["DBSIZE"], ["SWAPDB", "0", "0"], ["SWAPDB", "0", "16"], ["SWAPDB", "-1", "0"],
        ["SWAPDB", "x", "0"], ["SWAPDB", "0", "y"], ["FLUSHDB"], ["DBSIZE"], ["SELECT", "1"], ["DBSIZE"],
        ["FLUSHDB", "ASYNC"], ["DBSIZE"], ["FLUSHDB", "SYNC"], ["FLUSHDB", "FOO"], ["FLUSHDB", "ASYNC", "SYNC"],
    ],
    "echo_and_ping": [
        ["PING"], ["PING", "hello"], ["PING", ""], ["ECHO", ""], ["ECHO", "\x00\r\n"], ["ping"], ["PiNg", "x"],
    ],
    "empty_and_binary_keys_and_values": [
        ["SET", "", ""], ["GET", ""], ["EXISTS", ""], ["STRLEN", ""], ["SET", "\x00\r\n", "\xff\x00"],
        ["GET", "\x00\r\n"], ["KEYS", "*"], ["APPEND", "", "x"], ["GET", ""], ["RENAME", "", "\x00"], ["GET", "\x00"],
        ["MGET", "", "\x00", "\x00\r\n"], ["DEL", "\x00", "\x00\r\n"], ["DBSIZE"],
    ],
    "long_values": [
        ["SET", "l", "x" * 100000], ["STRLEN", "l"], ["APPEND", "l", "y" * 50000], ["GETRANGE", "l", "99998", "100001"],
        ["SETRANGE", "l", "149999", "zz"], ["STRLEN", "l"], ["GETRANGE", "l", "-3", "-1"], ["OBJECT", "ENCODING", "l"],
    ],
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_case_matches_redis(differ_conns, name):
    s, r = differ_conns
    differ = Differ(s, r, f"edge case {name!r}", f"test_edge_case_matches_redis[{name}]")
    for args in EDGE_CASES[name]:
        compare = None
        if isinstance(args, tuple):  # (comparison, args): a relaxed comparison, see Shape
            compare, args = args
        args = [a.encode("latin-1") if isinstance(a, str) else a for a in args]
        compare = compare or {b"TTL": "ttl_s", b"EXPIRETIME": "ttl_s", b"PTTL": "ttl_ms", b"PEXPIRETIME": "ttl_ms",
                              b"KEYS": "keys"}.get(args[0].upper(), "exact")
        differ.run(Op(args, compare))


def test_state_is_per_connection_database(server_pair):
    """SELECT belongs to the connection: two connections in different databases see different keys."""
    for server in server_pair:
        with RespConnection(server.port) as one, RespConnection(server.port) as two:
            assert one.call(b"FLUSHALL").kind == "+"
            assert two.call(b"SELECT", b"2").text() == "OK"
            assert two.call(b"SET", b"k", b"in-db-2").text() == "OK"
            assert one.call(b"GET", b"k").value is None, server.name
            assert two.call(b"GET", b"k").value == b"in-db-2", server.name

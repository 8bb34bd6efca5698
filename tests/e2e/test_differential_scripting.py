"""Differential tests for transactions and Lua scripting: strata must answer MULTI/EXEC/DISCARD/
WATCH/UNWATCH, EVAL and its relatives, and SCRIPT exactly as Redis 7.0 does.

Four parts, every reply compared byte for byte with Debian's redis-server 7.0.15 (error texts,
the script sha and line inside them, null kinds and RESP3 types included):
  transactions   seeded random sequences of MULTI, queued commands of every type on four keys
                 (WRONGTYPE inside EXEC), queue-time errors (EXECABORT), nested MULTI, WATCH
                 inside MULTI, EXEC/DISCARD without MULTI, WATCH dirtied by the connection's own
                 writes, UNWATCH, blocking commands and SELECT/FLUSHDB inside MULTI, EVAL inside
                 MULTI; some seeds in RESP3. At the end both keyspaces must be the same.
  watch          hand-written sequences over two connections per server (client A watches,
                 client B writes), and watched keys that expire before EXEC.
  corpus         a list of scripts, each run with EVAL (or EVALSHA, EVAL_RO) over RESP2 and over
                 RESP3: every conversion rule between Lua values and replies, both ways, with and
                 without redis.setresp(3); every kind of error; the script cache; the libraries
                 (cjson, bit, struct, cmsgpack) and the sandbox.
  random scripts seeded straight-line scripts of redis.call/redis.pcall on declared keys, with
                 random commands, arguments and return shapes.

What is left out, and why (the only adjustments; everything else states Redis's behaviour):
  - Keys a script does not declare: every key a script touches is passed in KEYS, and scripts
    call no command that reaches the whole keyspace (SCAN, KEYS): strata refuses both unless
    lua-allow-undeclared-keys is yes, a documented difference.
  - Orders that are a hash-table detail: cjson.encode of tables with several keys,
    HGETALL/SMEMBERS of more than one element, {map=...}/{set=...} with several entries.
  - math.random (its sequence is per server), and HELLO's client id (compared by shape).
  - error() with a table that has no err field: it crashes redis-server 7.0.15.
A failing corpus case lists every step that differs, not only the first.
"""
import hashlib
import random
import time

import pytest

from helpers import RespConnection, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Mismatch, Op, differential_session


TRANSACTION_SEEDS = scaled_seeds(16)
COMMANDS_PER_TRANSACTION_SEED = 400
SCRIPT_SEEDS = scaled_seeds(20)
SCRIPTS_PER_SEED = 60


def differences(differ, ops):
    """Runs every op; the mismatches, so that one failure does not hide the next ones."""
    problems = []
    for op in ops:
        try:
            differ.run(op)
        except Mismatch as e:
            problems.append(str(e))
            differ.index += 1
    return problems


def run_all(differ, ops):
    problems = differences(differ, ops)
    assert not problems, f"{len(problems)} step(s) differ:\n\n" + "\n\n".join(problems)


def sha1(text):
    return hashlib.sha1(text.encode() if isinstance(text, str) else text).hexdigest()


def dump_keyspace(conn, databases=(0, 1)):
    """(db, key) -> (type, contents, has TTL) for every key, in an order-free form. Leaves the
    connection in database 0."""
    state = {}
    for db in databases:
        assert conn.call(b"SELECT", db).kind == "+"
        for item in conn.call(b"KEYS", b"*").py():
            kind = conn.call(b"TYPE", item).text()
            if kind == "string":
                value = conn.call(b"GET", item).py()
            elif kind == "list":
                value = conn.call(b"LRANGE", item, 0, -1).py()
            elif kind == "hash":
                reply = conn.call(b"HGETALL", item).py()
                pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
                value = sorted(pairs)
            elif kind == "set":
                value = sorted(conn.call(b"SMEMBERS", item).py())
            elif kind == "zset":
                value = conn.call(b"ZRANGE", item, 0, -1, b"WITHSCORES").py()
                value = [tuple(x) if isinstance(x, list) else x for x in value]
            else:
                value = None
            if isinstance(value, list):
                value = tuple(value)
            state[(db, item)] = (kind, value, conn.call(b"TTL", item).value >= 0)
    assert conn.call(b"SELECT", 0).kind == "+"
    return state


def assert_same_keyspace(s, r, label):
    s_state, r_state = dump_keyspace(s), dump_keyspace(r)
    assert s_state == r_state, (
        f"{label}: the final keyspaces differ (db, key) -> (type, contents, has TTL)\n"
        f"  strata only or different: {sorted(set(s_state.items()) - set(r_state.items()), key=repr)[:20]}\n"
        f"  redis only or different : {sorted(set(r_state.items()) - set(s_state.items()), key=repr)[:20]}")


# ---------------------------------------------------------------------------------------------
# Part 1: random transactions

TX_KEYS = [b"k1", b"k2", b"k3", b"k4"]
TX_VALUES = [b"1", b"2", b"10", b"-3", b"abc", b"", b"x" * 50, b"1.5"]
TX_MEMBERS = [b"a", b"b", b"c", b"1", b"2"]
TX_SCRIPTS = [
    (b"return redis.call('GET', KEYS[1])", 1),
    (b"return redis.call('INCR', KEYS[1])", 1),
    (b"return redis.call('RPUSH', KEYS[1], ARGV[1])", 1),
    (b"return redis.pcall('HSET', KEYS[1], 'f', ARGV[1])", 1),
    (b"redis.call('SET', KEYS[1], ARGV[1]); return redis.call('EXISTS', KEYS[1], KEYS[2])", 2),
    (b"return redis.call('LPOP', KEYS[1])", 1),
    (b"return +", 0),                  # a compile error: inside MULTI it is an EXEC-time error
    (b"error('from the script')", 0),
]


class TransactionCommands:
    """Random commands around transactions, reproducible from a seed. The generator follows
    the MULTI state the way Redis does (the servers' replies are what is compared), so that
    blocking commands are sent only inside MULTI, where they never block."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.in_multi = False

    def key(self):
        return self.rng.choice(TX_KEYS)

    def value(self):
        return self.rng.choice(TX_VALUES)

    def member(self):
        return self.rng.choice(TX_MEMBERS)

    def data_command(self):
        """A command on one of the keys, of any type: WRONGTYPE happens often."""
        rng, k, v, m = self.rng, self.key, self.value, self.member
        return rng.choice([
            lambda: [b"SET", k(), v()], lambda: [b"GET", k()], lambda: [b"INCR", k()], lambda: [b"APPEND", k(), v()],
            lambda: [b"SETNX", k(), v()], lambda: [b"MSET", k(), v(), k(), v()], lambda: [b"MGET", k(), k()],
            lambda: [b"STRLEN", k()], lambda: [b"GETDEL", k()], lambda: [b"SETRANGE", k(), b"1", rng.choice([b"", b"z"])],
            lambda: [b"INCRBY", k(), rng.choice([b"0", b"5"])],
            lambda: [b"LPUSH", k(), m(), m()], lambda: [b"RPUSH", k(), m()], lambda: [b"LPOP", k()], lambda: [b"RPOP", k()],
            lambda: [b"LRANGE", k(), b"0", b"-1"], lambda: [b"LLEN", k()], lambda: [b"LMOVE", k(), k(), b"LEFT", b"RIGHT"],
            lambda: [b"LREM", k(), b"0", m()],
            lambda: [b"HSET", k(), m(), v()], lambda: [b"HGET", k(), m()], lambda: [b"HDEL", k(), m()],
            lambda: [b"HLEN", k()], lambda: [b"HINCRBY", k(), m(), b"2"], lambda: [b"HMGET", k(), m(), m()],
            lambda: [b"SADD", k(), m(), m()], lambda: [b"SREM", k(), m()], lambda: [b"SCARD", k()],
            lambda: [b"SISMEMBER", k(), m()], lambda: [b"SMOVE", k(), k(), m()],
            lambda: [b"ZADD", k(), rng.choice([b"1", b"2.5", b"-1"]), m()], lambda: [b"ZINCRBY", k(), b"1", m()],
            lambda: [b"ZSCORE", k(), m()], lambda: [b"ZRANGE", k(), b"0", b"-1", b"WITHSCORES"],
            lambda: [b"ZREM", k(), m()], lambda: [b"ZCARD", k()],
            lambda: [b"DEL", k()], lambda: [b"EXISTS", k(), k()], lambda: [b"TYPE", k()],
            lambda: [b"EXPIRE", k(), rng.choice([b"10000", b"20000"])], lambda: [b"PERSIST", k()],
            lambda: [b"RENAME", k(), k()], lambda: [b"COPY", k(), k()], lambda: [b"PING"], lambda: [b"ECHO", v()],
            self.eval_command,
        ])()

    def eval_command(self):
        body, numkeys = self.rng.choice(TX_SCRIPTS)
        return [b"EVAL", body, b"%d" % numkeys] + [self.key() for _ in range(numkeys)] + [self.value()]

    def queue_error(self):
        """Rejected when queued (unknown command, wrong arity): EXEC then answers EXECABORT.
        EXEC with an argument is the exception: Redis aborts the transaction at once."""
        k = self.key()
        return self.rng.choice([[b"NOSUCHCOMMAND", k], [b"GET"], [b"SET", k], [b"LPUSH", k], [b"HSET", k, b"f"],
                                [b"EXEC", b"x"], [b"WATCH"], [b"EVAL", b"return 1"], [b"ZADD", k]])

    def blocking_command(self):
        """Inside MULTI a blocking command never blocks: an empty list answers nil at once."""
        k, t = self.key(), self.rng.choice([b"0", b"1"])
        return self.rng.choice([[b"BLPOP", k, t], [b"BRPOP", k, self.key(), t],
                                [b"BLMOVE", k, self.key(), b"LEFT", b"RIGHT", t], [b"BZPOPMIN", k, t],
                                [b"BRPOPLPUSH", k, self.key(), t]])

    def next(self):
        rng = self.rng
        r = rng.random()
        if self.in_multi:
            if r < 0.62:
                args = self.data_command()
            elif r < 0.72:
                args, self.in_multi = [b"EXEC"], False
            elif r < 0.75:
                args, self.in_multi = [b"DISCARD"], False
            elif r < 0.77:
                args = [b"MULTI"]
            elif r < 0.79:
                args = [b"WATCH", self.key()]
            elif r < 0.82:
                args = self.queue_error()
                self.in_multi = args != [b"EXEC", b"x"]
            elif r < 0.88:
                args = self.blocking_command()
            elif r < 0.92:
                args = [b"SELECT", rng.choice([b"0", b"1", b"0", b"99"])]
            elif r < 0.93:
                args = [b"FLUSHDB"]
            elif r < 0.95:
                args = [b"UNWATCH"]
            elif r < 0.96:
                args = [b"SWAPDB", b"0", b"1"]
            else:
                args = [b"MULTI", b"x"] if rng.random() < 0.5 else [b"DISCARD", b"x"]
        else:
            if r < 0.45:
                args = self.data_command()
            elif r < 0.58:
                args = [b"WATCH"] + [self.key() for _ in range(rng.randint(1, 3))]
            elif r < 0.85:
                args, self.in_multi = [b"MULTI"], True
            elif r < 0.88:
                args = [b"UNWATCH"]
            elif r < 0.92:
                args = [rng.choice([b"EXEC", b"DISCARD"])]
            elif r < 0.96:
                args = [b"SELECT", rng.choice([b"0", b"1"])]
            elif r < 0.97:
                args = [b"FLUSHDB"]
            elif r < 0.98:
                args = [b"SWAPDB", b"0", b"1"]
            else:
                args = self.queue_error()
        return Op(args)


@pytest.mark.parametrize("seed", TRANSACTION_SEEDS, ids=[f"seed_{s}" for s in TRANSACTION_SEEDS])
def test_random_transaction_sequence_matches_redis(server_pair, seed):
    rerun = f"test_random_transaction_sequence_matches_redis[seed_{seed}]"
    with differential_session(server_pair, f"transaction seed {seed}", rerun, resp3=seed % 4 == 3) as (s, r, _):
        differ = Differ(s, r, f"transaction seed {seed}", rerun)
        generator = TransactionCommands(seed)
        for _ in range(COMMANDS_PER_TRANSACTION_SEED):
            differ.run(generator.next())
        differ.run(Op([b"DISCARD"]))  # leave MULTI (or answer the same error) before the dump
        assert_same_keyspace(s, r, f"transaction seed {seed}")


# Each step runs on one connection of each server, in the same order on both.
TRANSACTION_EDGE_CASES = {
    "exec_returns_every_reply_including_runtime_errors": [
        ["SET", "s", "v"], ["MULTI"], ["INCR", "s"], ["LPUSH", "s", "x"], ["SET", "n", "1"], ["INCR", "n"],
        ["HSET", "n", "f", "v"], ["GET", "s"], ["EXEC"], ["GET", "n"],
    ],
    "queue_time_errors_abort_the_whole_transaction": [
        ["MULTI"], ["SET", "a", "1"], ["NOSUCH", "a"], ["SET", "b", "2"], ["EXEC"], ["EXISTS", "a", "b"],
        ["MULTI"], ["SET", "a", "1"], ["GET"], ["EXEC"], ["EXISTS", "a"],
        ["MULTI"], ["WATCH"], ["EXEC"], ["MULTI"], ["MULTI", "x"], ["EXEC"],
    ],
    "exec_with_an_argument_aborts_at_once_and_unwatches": [
        # Redis rejects EXEC's wrong arity by aborting the transaction (and so forgetting the
        # watched keys) whether or not MULTI was called.
        ["MULTI"], ["SET", "a", "1"], ["EXEC", "x"], ["EXEC"], ["EXISTS", "a"],
        ["WATCH", "k"], ["SET", "k", "1"], ["EXEC", "x"], ["MULTI"], ["PING"], ["EXEC"],
        ["MULTI"], ["DISCARD", "x"], ["EXEC"],
    ],
    "nested_multi_and_watch_inside_multi_do_not_abort": [
        ["MULTI"], ["SET", "a", "1"], ["MULTI"], ["WATCH", "a"], ["INCR", "a"], ["EXEC"], ["GET", "a"],
    ],
    "exec_and_discard_without_multi": [
        ["EXEC"], ["DISCARD"], ["MULTI"], ["DISCARD"], ["EXEC"], ["DISCARD"], ["MULTI"], ["EXEC"], ["EXEC"],
        ["MULTI"], ["PING"], ["DISCARD"], ["EXEC"],
    ],
    "empty_transaction_and_unwatch_inside": [
        ["MULTI"], ["EXEC"], ["WATCH", "a"], ["MULTI"], ["UNWATCH"], ["EXEC"], ["WATCH", "a"], ["SET", "a", "1"],
        ["MULTI"], ["UNWATCH"], ["EXEC"],
    ],
    "blocking_commands_inside_multi_answer_at_once": [
        ["MULTI"], ["BLPOP", "l", "0"], ["BRPOP", "l", "m", "0"], ["BLMOVE", "l", "m", "LEFT", "LEFT", "0"],
        ["BZPOPMIN", "z", "0"], ["BZPOPMAX", "z", "5"], ["BRPOPLPUSH", "l", "m", "0"], ["BLMPOP", "0", "1", "l", "LEFT"],
        ["BZMPOP", "0", "1", "z", "MIN"], ["EXEC"],
        ["RPUSH", "l", "a", "b"], ["ZADD", "z", "1", "x"], ["MULTI"], ["BLPOP", "l", "0"], ["BZPOPMIN", "z", "0"],
        ["BLMOVE", "l", "m", "LEFT", "RIGHT", "0"], ["BLPOP", "l", "0"], ["EXEC"], ["LRANGE", "m", "0", "-1"],
    ],
    "select_and_flushdb_inside_multi": [
        ["SET", "a", "db0"], ["MULTI"], ["SELECT", "1"], ["SET", "a", "db1"], ["SELECT", "99"], ["GET", "a"],
        ["EXEC"], ["GET", "a"], ["SELECT", "0"], ["GET", "a"], ["MULTI"], ["FLUSHDB"], ["SET", "b", "1"], ["DBSIZE"],
        ["EXEC"], ["SELECT", "1"], ["DBSIZE"], ["MULTI"], ["SWAPDB", "0", "1"], ["DBSIZE"], ["EXEC"],
    ],
    "watch_dirtied_by_the_same_connection": [
        # Each WATCH/MULTI/EXEC block asks: did this write (or non-write) dirty the watched key?
        ["SET", "k", "v"], ["WATCH", "k"], ["SET", "k", "v"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["GET", "k"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["APPEND", "k", ""], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["SETRANGE", "k", "0", ""], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["INCRBY", "n", "0"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "n"], ["INCRBY", "n", "0"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "missing"], ["DEL", "missing"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "missing"], ["SET", "missing", "1"], ["DEL", "missing"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["EXPIRE", "missing", "100"], ["PERSIST", "k"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["EXPIRE", "k", "10000"], ["MULTI"], ["PING"], ["EXEC"],
        ["SADD", "s", "a"], ["WATCH", "s"], ["SADD", "s", "a"], ["SREM", "s", "zz"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "s"], ["SADD", "s", "b"], ["MULTI"], ["PING"], ["EXEC"],
        ["HSET", "h", "f", "v"], ["WATCH", "h"], ["HSET", "h", "f", "v"], ["MULTI"], ["PING"], ["EXEC"],
        ["ZADD", "z", "1", "m"], ["WATCH", "z"], ["ZADD", "z", "1", "m"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "z"], ["ZADD", "z", "2", "m"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "h"], ["HDEL", "h", "nope"], ["HSETNX", "h", "f", "w"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "z"], ["ZREM", "z", "nope"], ["ZINCRBY", "z", "0", "m"], ["ZREMRANGEBYSCORE", "z", "5", "6"],
        ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "s"], ["SMOVE", "s", "s2", "nope"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "l"], ["LPOP", "l"], ["RPUSH", "l", "x"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "l"], ["LREM", "l", "0", "nope"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["RENAME", "k", "k"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["RENAME", "k", "k2"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["RENAME", "k2", "k"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["SELECT", "1"], ["SET", "k", "other-db"], ["SELECT", "0"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["FLUSHDB"], ["MULTI"], ["PING"], ["EXEC"],
    ],
    "watch_survives_exec_without_multi_and_ends_with_discard": [
        ["WATCH", "k"], ["SET", "k", "1"], ["EXEC"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["SET", "k", "2"], ["MULTI"], ["DISCARD"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k"], ["SET", "k", "3"], ["UNWATCH"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "k", "k", "other"], ["SET", "other", "1"], ["MULTI"], ["PING"], ["EXEC"],
    ],
    "eval_inside_multi": [
        ["MULTI"], ["EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "k", "v"],
        ["EVAL", "return +", "0"], ["EVAL", "error('boom')", "0"], ["EVALSHA", "0" * 40, "0"],
        ["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"], ["EVAL", "return 1", "-1"], ["EXEC"],
        ["MULTI"], ["EVAL", "return 1"], ["EXEC"],
    ],
    "transaction_in_resp3_null_exec": [
        ["HELLO", "3"], ["WATCH", "k"], ["SET", "k", "1"], ["MULTI"], ["GET", "k"], ["EXEC"],
        ["MULTI"], ["HSET", "h", "f", "v"], ["HGETALL", "h"], ["ZADD", "z", "1.5", "m"], ["ZSCORE", "z", "m"],
        ["BLPOP", "nolist", "0"], ["GET", "nokey"], ["EXEC"],
    ],
}


def step(args):
    """An Op for a hand-written step: HELLO's reply holds the client id, which differs between
    the servers, so only its shape is compared."""
    return Op(args, "shape" if args[0] == "HELLO" else "exact")


@pytest.mark.parametrize("name", list(TRANSACTION_EDGE_CASES))
def test_transaction_edge_case_matches_redis(server_pair, name):
    rerun = f"test_transaction_edge_case_matches_redis[{name}]"
    with differential_session(server_pair, f"transaction case {name!r}", rerun) as (s, r, _):
        differ = Differ(s, r, f"transaction case {name!r}", rerun)
        run_all(differ, [step(args) for args in TRANSACTION_EDGE_CASES[name]])


# ---------------------------------------------------------------------------------------------
# Part 1b: WATCH against another client's writes, and expiry

SLEEP = "sleep"

# Steps: ("a" | "b", command...) or (SLEEP, seconds). Client A watches, client B writes.
WATCH_SCENARIOS = {
    "another_clients_write_dirties_the_watch": [
        ("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "SET", "k", "3"),
        ("a", "EXEC"), ("a", "GET", "k"),
    ],
    "another_clients_write_of_an_unwatched_key_does_not": [
        ("a", "WATCH", "k"), ("b", "SET", "other", "2"), ("a", "MULTI"), ("a", "INCR", "k"), ("a", "EXEC"),
    ],
    "a_write_in_another_database_does_not": [
        ("a", "WATCH", "k"), ("b", "SELECT", "1"), ("b", "SET", "k", "1"), ("a", "MULTI"), ("a", "INCR", "k"),
        ("a", "EXEC"),
    ],
    "flushall_of_a_missing_watched_key_does_not_dirty": [
        ("a", "WATCH", "missing"), ("b", "SET", "other", "1"), ("b", "FLUSHALL"), ("a", "MULTI"), ("a", "PING"),
        ("a", "EXEC"),
    ],
    "flushall_of_an_existing_watched_key_dirties": [
        ("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "FLUSHALL"), ("a", "MULTI"), ("a", "PING"), ("a", "EXEC"),
    ],
    "flushdb_of_another_database_does_not_dirty": [
        ("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SELECT", "1"), ("b", "FLUSHDB"), ("a", "MULTI"),
        ("a", "PING"), ("a", "EXEC"),
    ],
    "swapdb_that_brings_the_key_in_dirties": [
        ("a", "WATCH", "k"), ("b", "SELECT", "1"), ("b", "SET", "k", "from-db1"), ("b", "SWAPDB", "0", "1"),
        ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC"),
    ],
    "no_op_writes_of_another_client_do_not_dirty": [
        ("a", "SADD", "s", "m"), ("a", "WATCH", "s", "missing"), ("b", "SADD", "s", "m"), ("b", "SREM", "s", "x"),
        ("b", "DEL", "missing"), ("b", "PERSIST", "s"), ("b", "EXPIRE", "missing", "100"), ("a", "MULTI"),
        ("a", "SCARD", "s"), ("a", "EXEC"),
    ],
    "expire_by_another_client_dirties": [
        ("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "EXPIRE", "k", "10000"), ("a", "MULTI"), ("a", "PING"),
        ("a", "EXEC"),
    ],
    "another_clients_script_and_transaction_dirty": [
        ("a", "WATCH", "k"), ("b", "EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k"), ("a", "MULTI"),
        ("a", "PING"), ("a", "EXEC"),
        ("a", "WATCH", "k"), ("b", "MULTI"), ("b", "APPEND", "k", "y"), ("b", "EXEC"), ("a", "MULTI"), ("a", "PING"),
        ("a", "EXEC"),
        ("a", "WATCH", "k"), ("b", "MULTI"), ("b", "APPEND", "k", "y"), ("b", "DISCARD"), ("a", "MULTI"),
        ("a", "PING"), ("a", "EXEC"),
    ],
    "rename_onto_or_away_from_the_watched_key_dirties": [
        ("a", "SET", "src", "1"), ("a", "WATCH", "k"), ("b", "RENAME", "src", "k"), ("a", "MULTI"), ("a", "GET", "k"),
        ("a", "EXEC"), ("a", "WATCH", "k"), ("b", "RENAME", "k", "dst"), ("a", "MULTI"), ("a", "EXISTS", "k"),
        ("a", "EXEC"),
    ],
    "unwatch_and_discard_forget_the_dirty_key": [
        ("a", "WATCH", "k"), ("b", "SET", "k", "1"), ("a", "UNWATCH"), ("a", "MULTI"), ("a", "GET", "k"),
        ("a", "EXEC"), ("a", "WATCH", "k"), ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "DISCARD"),
        ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC"),
    ],
    "exec_without_multi_keeps_the_dirty_watch": [
        ("a", "WATCH", "k"), ("b", "SET", "k", "1"), ("a", "EXEC"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC"),
        ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC"),
    ],
    "write_while_queued_dirties": [
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "SET", "k", "mine"), ("b", "SET", "k", "theirs"), ("a", "EXEC"),
        ("a", "GET", "k"), ("a", "MULTI"), ("a", "SET", "k", "mine"), ("b", "SET", "k", "theirs"), ("a", "EXEC"),
        ("a", "GET", "k"),
    ],
    "watched_key_that_expires_before_exec_dirties": [
        ("a", "SET", "k", "v"), ("a", "PEXPIRE", "k", "50"), ("a", "WATCH", "k"), (SLEEP, 0.15), ("a", "MULTI"),
        ("a", "PING"), ("a", "EXEC"), ("a", "EXISTS", "k"),
    ],
    "watched_key_that_had_expired_before_watch_does_not": [
        ("a", "SET", "k", "v"), ("a", "PEXPIRE", "k", "50"), (SLEEP, 0.15), ("a", "WATCH", "k"), ("a", "MULTI"),
        ("a", "GET", "k"), ("a", "EXEC"),
    ],
    "watched_expired_key_recreated_by_another_client_dirties": [
        ("a", "SET", "k", "v"), ("a", "PEXPIRE", "k", "50"), (SLEEP, 0.15), ("a", "WATCH", "k"),
        ("b", "SET", "k", "new"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC"),
    ],
    "watch_in_resp3_answers_null": [
        ("a", "HELLO", "3"), ("a", "WATCH", "k"), ("b", "SET", "k", "1"), ("a", "MULTI"), ("a", "GET", "k"),
        ("a", "EXEC"),
    ],
}


@pytest.mark.parametrize("name", list(WATCH_SCENARIOS))
def test_watch_scenario_matches_redis(server_pair, name):
    run_two_clients(server_pair, f"watch scenario {name!r}", WATCH_SCENARIOS[name],
                    f"test_watch_scenario_matches_redis[{name}]")


def test_script_cache_is_shared_by_connections(server_pair):
    """Strata compiles scripts per I/O thread; the cache (LOAD, EXISTS, FLUSH) is the server's."""
    body = "return {'cached', ARGV[1]}"
    digest = sha1(body)
    run_two_clients(server_pair, "shared script cache", [
        ("a", "SCRIPT", "FLUSH"), ("a", "SCRIPT", "LOAD", body), ("b", "SCRIPT", "EXISTS", digest),
        ("b", "EVALSHA", digest, "0", "from b"), ("a", "EVALSHA", digest, "0", "from a"),
        ("b", "SCRIPT", "FLUSH"), ("a", "EVALSHA", digest, "0", "x"), ("a", "SCRIPT", "EXISTS", digest),
        ("b", "EVAL", body, "0", "by eval"), ("a", "EVALSHA", digest, "0", "again"),
        ("a", "SCRIPT", "FLUSH", "ASYNC"), ("b", "EVALSHA", digest, "0", "x"),
    ], "test_script_cache_is_shared_by_connections")


def test_script_kill_stops_a_read_only_script(server_pair):
    """SCRIPT KILL from another client ends a looping script past busy-reply-threshold; the
    script's caller gets Redis's error. What other clients get meanwhile is not compared: Redis
    answers BUSY to everyone, strata only on the script's I/O thread or for its keys."""
    strata_server, redis_server = server_pair
    rerun = "test_script_kill_stops_a_read_only_script"
    config = {b"busy-reply-threshold": b"100"}
    with differential_session(server_pair, "SCRIPT KILL", rerun, config=config) as (s, r, _), \
            RespConnection(strata_server.port) as sb, RespConnection(redis_server.port) as rb:
        other = Differ(sb, rb, "SCRIPT KILL, the other client", rerun)
        other.run(Op([b"SCRIPT", b"KILL"]))
        for conn in (s, r):
            conn.send(b"EVAL", b"local i = 0\nwhile true do i = i + 1 end", b"0")
        time.sleep(0.4)  # past the threshold on both servers
        other.run(Op([b"SCRIPT", b"KILL"]))
        s_reply, r_reply = s.read_reply(), r.read_reply()
        assert s_reply == r_reply, f"the killed script's reply: strata {s_reply}, redis {r_reply}"
        other.run(Op([b"SCRIPT", b"KILL"]))
        Differ(s, r, "SCRIPT KILL, the script's client", rerun).run(Op([b"PING"]))


def run_two_clients(server_pair, label, steps, rerun):
    """Runs steps ("a" | "b", command...) or (SLEEP, seconds) over two connections per server."""
    strata_server, redis_server = server_pair
    with RespConnection(strata_server.port) as sa, RespConnection(strata_server.port) as sb, \
            RespConnection(redis_server.port) as ra, RespConnection(redis_server.port) as rb:
        for conn in (sa, ra):
            assert conn.call(b"FLUSHALL").kind == "+"
        clients = {"a": Differ(sa, ra, f"{label}, client A", rerun),
                   "b": Differ(sb, rb, f"{label}, client B", rerun)}
        for who, *args in steps:
            if who == SLEEP:
                time.sleep(args[0])
            else:
                clients[who].run(step(args))


# ---------------------------------------------------------------------------------------------
# Part 2: the script corpus

def E(script, keys=(), args=(), command="EVAL", compare="exact"):
    """EVAL (or EVAL_RO) of script with KEYS and ARGV."""
    return Op([command, script, len(keys), *keys, *args], compare)


def SHA(script, keys=(), args=(), command="EVALSHA", upper=False):
    digest = sha1(script)
    return Op([command, digest.upper() if upper else digest, len(keys), *keys, *args])


def C(*args, compare="exact"):
    """A plain command between the scripts."""
    return Op(args, compare)


K1 = ["k1"]
K2 = ["k1", "k2"]
K3 = ["k1", "k2", "k3"]

SCRIPT_CASES = {
    # -- Lua values to replies -----------------------------------------------------------------
    "lua_numbers_become_integers_truncated_toward_zero": [
        E("return 1"), E("return -1"), E("return 0"), E("return 3.99"), E("return -3.99"), E("return 0.5"),
        E("return -0.5"), E("return 2^53"), E("return -2^31"), E("return 1e15"), E("return 7/2"),
        E("return tonumber(ARGV[1])", args=["42.9"]), E("return {1.5, -2.5, 100.999}"),
    ],
    "lua_strings_become_bulk_strings": [
        E("return 'x'"), E("return ''"), E("return string.char(0, 13, 10, 255)"), E("return ARGV[1]", args=[b"\x00\xff\r\n"]),
        E("return string.rep('ab', 5000)"), E("return '123'"), E("return 'OK'"), E("return '-ERR not an error'"),
    ],
    "lua_booleans_and_nil": [
        E("return true"), E("return false"), E("return nil"), E("return"), E("local x = 1"), E(""),
        E("return {true, false, true}"), E("return {false}"), E("return {nil, 1}"),
    ],
    "lua_tables_become_arrays_up_to_the_first_nil": [
        E("return {1, 2, {3, {'x', {}}}, {}}"), E("return {}"), E("return {{}, {{}}}"), E("return {1, 2, nil, 4}"),
        E("return {1, nil}"), E("return {nil}"), E("return {[1]=1, [2]=2, [4]=4}"), E("return {1, 2, x=3}"),
        E("return {x=1}"), E("return {[2]=2}"), E("return {'a', 1, 2.7, true, false, 'b'}"),
        E("local t = {} for i = 1, 1000 do t[i] = i end return t"),
    ],
    "lua_ok_and_err_tables": [
        E("return {ok='fine'}"), E("return {err='bad thing'}"), E("return {err='ERR with a code'}"),
        E(r"return {err='line1\nline2\r\nline3'}"), E(r"return {ok='a\r\nb'}"), E("return {err='x', ok='y'}"),
        E("return {ok=1}"), E("return {err=1}"), E("return {err=''}"), E("return {ok=''}"), E("return {err='-'}"),
        E("return {1, {ok='inner'}, {err='inner error'}, 2}"), E("return {ok='OK', 1, 2}"),
        E("return {err={'nested'}}"), E("return {err='WRONGTYPE custom'}"),
    ],
    "redis_error_reply_and_status_reply": [
        E("return redis.error_reply('My err')"), E("return redis.error_reply('-X y')"),
        E("return redis.error_reply('ERR z')"), E("return redis.error_reply('')"), E("return redis.status_reply('fine')"),
        E("return redis.status_reply('')"), E("return redis.error_reply()"), E("return redis.status_reply()"),
        E("return redis.error_reply(12)"), E("return redis.error_reply({})"), E("return redis.status_reply('a', 'b')"),
        E("return type(redis.error_reply('x'))"), E("return redis.error_reply('x').err"),
        E("return redis.status_reply('x').ok"), E(r"return redis.error_reply('a\nb')"),
        E("return {redis.error_reply('in array'), redis.status_reply('also')}"),
        E("error(redis.error_reply('MYCODE raised'))"), E("return redis.error_reply('MYCODE plain')"),
    ],
    "double_map_set_and_big_number_tables": [
        E("return {double=3.14}"), E("return {double=-0.5}"), E("return {double=1e300}"), E("return {double=0}"),
        E("return {double=1/0}"), E("return {double=-1/0}"), E("return {double=100}"), E("return {double='1.5'}"),
        E("return {double=1.5, 7}"), E("return {1, {double=2.5}}"), E("return {double=0.1}"),
        E("return {map={a=1}}"), E("return {map={}}"), E("return {map={a={1, {double=2}}}}"),
        E("return {map={[1]='one'}}"), E("return {map={a=false}}"), E("return {map={a=true}}"),
        E("return {set={x=true}}"), E("return {set={}}"), E("return {set={[5]=true}}"), E("return {set={x=false}}"),
        E("return {big_number='12345678901234567890'}"), E("return {big_number=5}"),
        E("return {verbatim_string={format='txt', string='hello'}}"),
        E("return {verbatim_string={format='mkd', string='# title\\nline'}}"),
        E("return {verbatim_string={string='no format'}}"), E("return {verbatim_string='not a table'}"),
        E("return {1, {big_number='1'}, {map={k='v'}}, {set={m=true}}}"),
        E("return {map={a='1', b='2'}}", compare="unordered"),
    ],
    "setresp_3_changes_how_booleans_and_nil_are_returned": [
        E("redis.setresp(3); return true"), E("redis.setresp(3); return false"), E("redis.setresp(3); return nil"),
        E("redis.setresp(3); return {true, false, 1}"), E("redis.setresp(3); redis.setresp(2); return false"),
        E("redis.setresp(3); return {double=2.5}"), E("redis.setresp(3); return {map={a='b'}}"),
        E("redis.setresp(2); return true"), E("return redis.setresp(3)"), E("return redis.setresp(4)"),
        E("return redis.setresp(1)"), E("return redis.setresp('x')"), E("return redis.setresp()"),
        E("return redis.setresp(2, 3)"), E("return redis.setresp('3')"),
    ],
    # -- replies to Lua values ------------------------------------------------------------------
    "redis_status_reply_becomes_an_ok_table": [
        E("local r = redis.call('SET', KEYS[1], 'v') return {type(r), r.ok}", K1),
        E("return redis.call('SET', KEYS[1], 'v')", K1), E("return redis.call('PING')"),
        E("return redis.call('PING').ok"), E("return redis.call('TYPE', KEYS[1])", K1),
        E("return redis.call('TYPE', KEYS[1]).ok", K1), E("return redis.call('PING', 'hello')"),
    ],
    "redis_integer_reply_becomes_a_number": [
        E("return redis.call('INCR', KEYS[1])", K1), E("return type(redis.call('INCR', KEYS[1]))", K1),
        E("return redis.call('INCRBY', KEYS[1], '5') * 2", K1), E("return redis.call('EXISTS', KEYS[1], KEYS[2])", K2),
        E("return redis.call('INCRBY', KEYS[1], '-9223372036854775807')", K1),
        E("return tostring(redis.call('DECRBY', KEYS[1], '9223372036854775807'))", K1),
    ],
    "redis_bulk_reply_becomes_a_string": [
        C("SET", "k1", b"bin\x00\xffary"), E("return redis.call('GET', KEYS[1])", K1),
        E("return type(redis.call('GET', KEYS[1]))", K1), E("return #redis.call('GET', KEYS[1])", K1),
        C("SET", "k2", "10"), E("return redis.call('GET', KEYS[1]) + 1", ["k2"]),
        E("return type(redis.call('GET', KEYS[1]))", ["k2"]), E("return redis.call('ECHO', '')"),
    ],
    "redis_nil_bulk_becomes_false": [
        E("return redis.call('GET', KEYS[1]) == false", K1), E("return type(redis.call('GET', KEYS[1]))", K1),
        E("return redis.call('GET', KEYS[1])", K1), E("return {redis.call('GET', KEYS[1])}", K1),
        E("return {1, redis.call('GET', KEYS[1]), 3}", K1), C("SET", "k2", "v"),
        E("return redis.call('MGET', KEYS[1], KEYS[2])", K2), E("return type(redis.call('MGET', KEYS[1], KEYS[2])[1])", K2),
        E("return redis.call('HGET', KEYS[1], 'f')", K1),
    ],
    "redis_arrays_become_tables": [
        C("RPUSH", "k1", "a", "b", "c"), E("return redis.call('LRANGE', KEYS[1], 0, -1)", K1),
        E("return #redis.call('LRANGE', KEYS[1], 0, -1)", K1), E("return redis.call('LRANGE', KEYS[1], 0, -1)[2]", K1),
        E("return redis.call('LRANGE', KEYS[1], 0, -1)", ["missing"]),
        E("return type(redis.call('LRANGE', KEYS[1], 0, -1))", ["missing"]),
        E("return #redis.call('LRANGE', KEYS[1], 0, -1)", ["missing"]),
        C("ZADD", "k2", "1.5", "x", "2", "y"), E("return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')", ["k2"]),
        E("return redis.call('ZSCORE', KEYS[1], 'x')", ["k2"]), E("return type(redis.call('ZSCORE', KEYS[1], 'x'))", ["k2"]),
        E("return redis.call('ZPOPMIN', KEYS[1])", ["k2"]),
        # A null array (LPOP with a count, LMPOP of a missing key) becomes false as well.
        E("return redis.call('LPOP', KEYS[1], 2)", ["missing"]), E("return type(redis.call('LPOP', KEYS[1], 2))", ["missing"]),
        E("return redis.call('LMPOP', 1, KEYS[1], 'LEFT')", ["missing"]), E("return redis.call('LPOP', KEYS[1], 2)", K1),
        # Blocking commands are refused from scripts in Redis 7.0 (flag noscript).
        E("return redis.call('BLPOP', KEYS[1], 0)", ["missing"]),
        # (No SCAN or KEYS: strata refuses commands that reach the whole keyspace from a script
        # unless lua-allow-undeclared-keys is yes, the documented difference.)
    ],
    "redis_errors_raise_or_come_back_from_pcall": [
        C("SET", "k1", "str"), E("return redis.call('INCR', KEYS[1])", K1),
        E("return redis.call('LPUSH', KEYS[1], 'x')", K1),
        E("local ok, e = pcall(redis.call, 'INCR', KEYS[1]) return {ok and 1 or 0, type(e)}", K1),
        E("local ok, e = pcall(redis.call, 'INCR', KEYS[1]) return e", K1),
        E("local ok, e = pcall(redis.call, 'INCR', KEYS[1]) return e.err", K1),
        E("local r = redis.pcall('INCR', KEYS[1]) return {type(r), r.err}", K1),
        E("return redis.pcall('INCR', KEYS[1])", K1), E("return redis.pcall('LPUSH', KEYS[1], 'x')", K1),
        E("redis.pcall('INCR', KEYS[1]) return 'went on'", K1),
        E("local r = redis.pcall('NOSUCHCMD') return r.err"), E("return redis.pcall('GET')"),
        E("local a = 1\nlocal b = 2\n\nreturn redis.call('INCR', KEYS[1])", K1),
        E("local function f()\n  return redis.call('INCR', KEYS[1])\nend\nreturn f()", K1),
        E("return redis.call('SET', KEYS[1], 'v', 'EX', 'ten')", K1), E("return redis.call('INCRBY', KEYS[1], 'x')", ["n"]),
    ],
    "resp3_replies_inside_scripts_after_setresp": [
        C("HSET", "k1", "f", "v"), C("SADD", "k2", "m"), C("ZADD", "k3", "1.5", "m"),
        E("redis.setresp(3) return redis.call('HGETALL', KEYS[1])", K1),
        E("redis.setresp(3) return redis.call('HGETALL', KEYS[1]).map.f", K1),
        E("redis.setresp(3) return type(redis.call('HGETALL', KEYS[1]).map)", K1),
        E("return redis.call('HGETALL', KEYS[1])", K1),
        E("redis.setresp(3) return redis.call('SMEMBERS', KEYS[1])", ["k2"]),
        E("redis.setresp(3) return redis.call('SMEMBERS', KEYS[1]).set.m", ["k2"]),
        E("redis.setresp(3) return redis.call('ZSCORE', KEYS[1], 'm')", ["k3"]),
        E("redis.setresp(3) return redis.call('ZSCORE', KEYS[1], 'm').double", ["k3"]),
        E("redis.setresp(3) return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')", ["k3"]),
        E("redis.setresp(3) return redis.call('ZINCRBY', KEYS[1], 1, 'm')", ["k3"]),
        E("redis.setresp(3) return redis.call('GET', KEYS[1])", ["missing"]),
        E("redis.setresp(3) return type(redis.call('GET', KEYS[1]))", ["missing"]),
        E("redis.setresp(3) return {1, redis.call('GET', KEYS[1]), 3}", ["missing"]),
        E("redis.setresp(3) return redis.call('LPOP', KEYS[1], 2)", ["missing"]),
        E("redis.setresp(3) return type(redis.call('LMPOP', 1, KEYS[1], 'LEFT'))", ["missing"]),
        E("redis.setresp(3) return redis.call('HGETALL', KEYS[1])", ["missing"]),
        E("redis.setresp(3) return redis.call('HRANDFIELD', KEYS[1], 1, 'WITHVALUES')", K1),
        E("redis.setresp(3) return redis.call('ZPOPMIN', KEYS[1])", ["missing"]),
        E("redis.setresp(3) return redis.call('SMISMEMBER', KEYS[1], 'm', 'x')", ["k2"]),
        E("redis.setresp(3) return redis.call('SET', KEYS[1], 'v')", ["k4"]),
        E("redis.setresp(3) return redis.pcall('INCR', KEYS[1])", ["k4"]),
        E("redis.setresp(3) local r = redis.call('HGETALL', KEYS[1]) redis.setresp(2) return r", K1),
        E("redis.setresp(3) return redis.call('ZSCORE', KEYS[1], 'missing')", ["k3"]),
        # A RESP3 null inside an array becomes a hole; # of the table then depends on how the
        # table was built, and Redis builds it element by element.
        E("redis.setresp(3) local r = redis.call('HMGET', KEYS[1], 'missing', 'f') return #r", K1),
        E("local r = redis.call('HMGET', KEYS[1], 'missing', 'f') return #r", K1),
    ],
    "redis_call_argument_conversion": [
        E("redis.call('SET', KEYS[1], 3.5) return redis.call('GET', KEYS[1])", K1),
        E("redis.call('SET', KEYS[1], 10) return redis.call('GET', KEYS[1])", K1),
        E("redis.call('SET', KEYS[1], 1e20) return redis.call('GET', KEYS[1])", K1),
        E("redis.call('SET', KEYS[1], 2^53) return redis.call('GET', KEYS[1])", K1),
        E("redis.call('SET', KEYS[1], 1/3) return redis.call('GET', KEYS[1])", K1),
        E("redis.call('SET', KEYS[1], -0.0) return redis.call('GET', KEYS[1])", K1),
        E("redis.call('SET', KEYS[1], 0.1) return redis.call('GET', KEYS[1])", K1),
        E("return redis.call('SET', KEYS[1], true)", K1), E("return redis.call('SET', KEYS[1], {})", K1),
        E("return redis.call('SET', KEYS[1], nil)", K1), E("return redis.call('SET', KEYS[1])", K1),
        E("return redis.call()"), E("return redis.pcall()"), E("return redis.call(1)"), E("return redis.call({})"),
        E("return redis.pcall('SET', KEYS[1], false)", K1), C("SET", "k1", "v"),
        E("return redis.call('get', KEYS[1])", K1),
        E("return redis.call('GeT', KEYS[1])", K1),
    ],
    # -- errors ----------------------------------------------------------------------------------
    # error() with a table that has no err field (error({}), error({ok='x'})) is left out: it
    # crashes redis-server 7.0.15, so there is no oracle.
    "runtime_errors": [
        E("error('boom')"), E("error('boom', 0)"), E("error({err='MY custom'})"), E("error()"),
        E("error(123)"), E("error({err='ERR with prefix'})"), E("local x = nil return x.y"), E("return 1 + {}"),
        E("return #nil"), E("return ('x')()"), E("\n\nerror('on line three')"),
        E("local function f() error('deep') end\nlocal function g() f() end\ng()"),
        E(r"error('multi\nline')"), E("return string.rep()"),
    ],
    "compile_errors": [
        E("return 1 +"), E("retrun 1"), E(")"), E("return 'unterminated"), E("x ="), E("\n\nreturn +"),
        E("local t = {"), E("return 1 end"), C("SCRIPT", "LOAD", "return +"),
    ],
    "numkeys_errors": [
        C("EVAL", "return 1", "-1"), C("EVAL", "return 1", "2", "a"), C("EVAL", "return 1", "x"),
        C("EVAL", "return 1", "1.5"), C("EVAL", "return 1", ""), C("EVAL", "return 1", "99999999999999999999"),
        C("EVAL", "return 1", "-9223372036854775808"), C("EVAL", "return 1"), C("EVAL"),
        C("EVAL", "return {#KEYS, #ARGV}", "0", "a", "b"), C("EVAL", "return {#KEYS, #ARGV}", "2", "a", "b"),
        C("EVALSHA", sha1("return 1"), "-1"), C("EVALSHA", sha1("return 1")), C("EVAL_RO", "return 1", "x"),
        C("EVAL", "return +", "-1"), C("EVAL", "return 1", " 1", "k"),
    ],
    "unknown_commands_and_wrong_arity_from_scripts": [
        E("return redis.call('nosuchcmd')"), E("return redis.call('nosuchcmd', 'a', 'b')"),
        E("return redis.call('GET')"), E("return redis.call('GET', KEYS[1], KEYS[1])", K1), E("return redis.call('')"),
        E("return redis.pcall('nosuchcmd')"), E("return redis.pcall('GET')"),
        E("local ok, e = pcall(redis.call, 'nosuchcmd') return e.err"),
        E("return redis.call('SCRIPT', 'NOSUCH')"), E("return redis.call('OBJECT', 'NOSUCH', KEYS[1])", K1),
    ],
    "commands_not_allowed_from_scripts": [
        E("return redis.call('MULTI')"), E("return redis.call('EXEC')"), E("return redis.call('WATCH', KEYS[1])", K1),
        E("return redis.call('UNWATCH')"), E("return redis.call('DISCARD')"),
        E("return redis.call('EVAL', 'return 1', 0)"), E("return redis.call('EVALSHA', ARGV[1], 0)", args=[sha1("x")]),
        E("return redis.call('SCRIPT', 'LOAD', 'return 1')"), E("return redis.call('SCRIPT', 'FLUSH')"),
        # SUBSCRIBE (refused in scripts too) comes back here with pub/sub (issue 11).
        E("return redis.pcall('MULTI')"),
        E("local ok, e = pcall(redis.call, 'MULTI') return e.err"),
    ],
    "eval_ro_refuses_writes": [
        C("SET", "k1", "v"), E("return redis.call('GET', KEYS[1])", K1, command="EVAL_RO"),
        E("return redis.call('SET', KEYS[1], 'x')", K1, command="EVAL_RO"),
        E("return redis.pcall('SET', KEYS[1], 'x')", K1, command="EVAL_RO"),
        E("return redis.call('DEL', KEYS[1])", K1, command="EVAL_RO"),
        E("local r = redis.pcall('INCR', KEYS[1]) return r.err", K1, command="EVAL_RO"),
        C("GET", "k1"), C("SCRIPT", "LOAD", "return redis.call('SET', KEYS[1], 'y')"),
        SHA("return redis.call('SET', KEYS[1], 'y')", K1, command="EVALSHA_RO"),
        SHA("return redis.call('SET', KEYS[1], 'y')", K1), C("GET", "k1"),
        E("return 'plain'", command="EVAL_RO"), E("return redis.call('PING')", command="EVAL_RO"),
        E("return redis.call('EXPIRE', KEYS[1], 100)", K1, command="EVAL_RO"),
    ],
    "shebang_flags": [
        E("#!lua\nreturn 1"), E("#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'x')", K1),
        E("#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", K1), E("#!lua name=foo\nreturn 1"),
        E("#!nolua\nreturn 1"), E("#!lua flags=allow-oom,no-cluster\nreturn 2"), E("#!lua flags=bad\nreturn 1"),
        E("#!lua flags=no-writes,allow-stale\nreturn 3"), E("#!lua\nerror('line 2')"),
        E("#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'x')", K1, command="EVAL_RO"),
        E("#!lua\nreturn redis.call('SET', KEYS[1], 'x')", K1, command="EVAL_RO"), E("#!lua"), E("#!"),
        E("#!lua flags=\nreturn 4"), E("#!lua  flags=no-writes \nreturn 5"),
    ],
    "the_sandbox_protects_globals": [
        E("x = 1"), E("return undefined_global"), E("local t = {} return t.x"), E("redis = nil"),
        E("function f() end"), E("redis.call = nil"), E("string.rep = nil"), E("cjson.encode = nil"),
        E("local s = string return s.len('abc')"), E("_G.x = 1"), E("return _G.undefined"),
        E("rawset(_G, 'x', 1) return x"), E("setmetatable(_G, nil)"), E("return type(loadstring)"),
        E("return type(dofile)"), E("return type(loadfile)"), E("return type(os)"), E("return type(io)"),
        E("return type(print)"), E("return _VERSION"), E("return type(require)"), E("return type(module)"),
        E("return {type(bit), type(struct), type(cjson), type(cmsgpack), type(math), type(table), type(debug)}"),
        E("return type(newproxy)"), E("return type(gcinfo)"), E("return type(coroutine)"), E("return type(package)"),
        E("KEYS[1] = 'changed' return KEYS[1]", K1), E("table.insert(ARGV, 'more') return #ARGV", args=["a"]),
        E("local t = setmetatable({}, {__index = function() return 7 end}) return t.anything"),
        E("return type(redis.breakpoint)"), E("return redis.breakpoint()"), E("return redis.debug('x')"),
    ],
    "script_cache_commands": [
        C("SCRIPT", "FLUSH"), C("SCRIPT", "LOAD", "return 'loaded'"), C("SCRIPT", "LOAD", "return 'loaded'"),
        C("SCRIPT", "EXISTS", sha1("return 'loaded'"), sha1("never"), sha1("return 'loaded'").upper(), "x"),
        SHA("return 'loaded'"), SHA("return 'loaded'", upper=True), SHA("never"), C("EVALSHA", "abc", "0"),
        C("EVALSHA", "", "0"), C("EVALSHA", sha1("return 'loaded'") + "0", "0"),
        E("return 'by eval'"), SHA("return 'by eval'"), C("SCRIPT", "EXISTS", sha1("return 'by eval'")),
        C("SCRIPT", "FLUSH"), SHA("return 'loaded'"), C("SCRIPT", "EXISTS", sha1("return 'loaded'")),
        C("SCRIPT", "LOAD", "return 1"), C("SCRIPT", "FLUSH", "ASYNC"), C("SCRIPT", "EXISTS", sha1("return 1")),
        C("SCRIPT", "FLUSH", "SYNC"), C("SCRIPT", "FLUSH", "sync"), C("SCRIPT", "FLUSH", "BAD"),
        C("SCRIPT", "FLUSH", "SYNC", "ASYNC"), C("SCRIPT", "LOAD"), C("SCRIPT", "LOAD", "a", "b"), C("SCRIPT", "KILL"),
        C("SCRIPT", "KILL", "x"), C("SCRIPT", "NOSUCH"), C("SCRIPT"), C("SCRIPT", "EXISTS"),
        C("SCRIPT", "LOAD", ""), SHA(""), C("SCRIPT", "load", "return 2"), SHA("return 2", command="EVALSHA_RO"),
        C("EVALSHA"), C("EVALSHA", sha1("return 2")), C("SCRIPT", "LOAD", b"return '\xff\x00'"),
        Op([b"EVALSHA", sha1(b"return '\xff\x00'"), b"0"]),
    ],
    "keys_and_argv": [
        E("return KEYS", K3), E("return ARGV", args=["a", "b"]), E("return {#KEYS, #ARGV}", K2, ["x"]),
        E("return KEYS[3]", K2), E("return ARGV[1]", args=[b"\x00\r\n\xff"]), E("return type(ARGV[1])", args=["12"]),
        E("return ARGV[1] + ARGV[2]", args=["12", "30"]), E("return KEYS[1] .. ARGV[1]", K1, ["!"]),
        E("return #ARGV[1]", args=[b"x" * 1000]), E("return {KEYS[1], ARGV[1]}", [""], [""]),
    ],
    "pcall_and_error_inside_scripts": [
        E("return {pcall(error, 'x')}"), E("local ok, e = pcall(function() error('inner') end) return e"),
        E("local ok, e = pcall(function() error('inner', 0) end) return e"),
        E("local ok, e = pcall(function() error({code=1}) end) return type(e)"),
        E("local ok, e = pcall(function() error({err='table err'}) end) return e"),
        E("local ok, e = pcall(function() local x = nil return x.y end) return e"),
        E("local ok = pcall(function() return 1 end) return ok"),
        E("return select('#', pcall(function() return 1, 2, 3 end))"),
        E("return {xpcall(function() error('x') end, function(m) return 'handled: ' .. m end)}"),
        E("local ok, e = pcall(redis.call, 'SET') if not ok then return redis.status_reply('caught') end"),
        E("local ok, e = pcall(error) return {ok and 1 or 0, type(e)}"),
    ],
    "scripts_write_every_type": [
        E("redis.call('HSET', KEYS[1], 'f', ARGV[1]) redis.call('RPUSH', KEYS[2], ARGV[1], ARGV[2]) "
          "redis.call('SADD', KEYS[3], ARGV[2]) return {redis.call('HGET', KEYS[1], 'f'), "
          "redis.call('LLEN', KEYS[2]), redis.call('SCARD', KEYS[3])}", K3, ["x", "y"]),
        C("HGETALL", "k1"), C("LRANGE", "k2", "0", "-1"), C("SMEMBERS", "k3"), C("TYPE", "k1"),
        E("redis.call('ZADD', KEYS[1], 1, 'a', 2, 'b') return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')", ["z"]),
        E("redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) return redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3])", K3),
        E("redis.call('SET', KEYS[1], 'v', 'EX', 1000) return redis.call('TTL', KEYS[1])", K1, compare="ttl_s"),
        E("return redis.call('PERSIST', KEYS[1])", K1), C("TTL", "k1"), C("DBSIZE"),
    ],
    "scripts_use_the_callers_database_and_keep_their_own_select": [
        C("SELECT", "1"), E("return redis.call('SET', KEYS[1], 'in-db-1')", K1), C("SELECT", "0"), C("GET", "k1"),
        E("redis.call('SELECT', 2) return redis.call('SET', KEYS[1], 'in-db-2')", K1), C("GET", "k1"),
        C("SELECT", "2"), C("GET", "k1"), C("SELECT", "0"), E("return redis.call('SELECT', 99)"),
        E("return redis.call('SELECT', 'x')"),
    ],
    "returning_several_values_keeps_the_first": [
        E("return 1, 2"), E("return unpack({3, 4, 5})"), E("return nil, 1"), E("return {1}, 2"),
        E("return select(2, 'a', 'b', 'c')"),
    ],
    # -- libraries -------------------------------------------------------------------------------
    "cjson_encode": [
        E("return cjson.encode({1, 2, 3})"), E("return cjson.encode({a=1})"), E("return cjson.encode({a={b={1, 2}}})"),
        E("return cjson.encode('str')"), E("return cjson.encode(1.5)"), E("return cjson.encode(0.1)"),
        E("return cjson.encode(1e20)"), E("return cjson.encode(123456789012)"), E("return cjson.encode(-0)"),
        E("return cjson.encode(true)"), E("return cjson.encode(cjson.null)"), E("return cjson.encode({})"),
        E("return cjson.encode('a\"b/c\\\\d\\n\\0\\1')"), E("return cjson.encode({1, nil, 3})"),
        E("return cjson.encode({[1]=1, [3]=3})"), E("return cjson.encode({[20]=1})"),
        E("return cjson.encode(function() end)"), E("return cjson.encode({{}, {{}}})"),
        E("return cjson.encode(1/0)"), E("return cjson.encode(2^53)"), E("return cjson.encode(3.14159265358979)"),
        E("return cjson.encode({['1']=1})"), E("return cjson.encode()"), E("return cjson.encode(ARGV[1])", args=[b"\xff\x7f"]),
        E("local t = {} t[1] = t return cjson.encode(t)"),
    ],
    "cjson_decode": [
        E("return cjson.decode('[1,2,3]')"), E("return cjson.decode('[1,2,3]')[2]"), E("return cjson.decode('42')"),
        E("return cjson.decode('1.5')"), E("return cjson.decode('\"x\"')"),
        E("return cjson.decode('{\"a\":{\"b\":[1,2,3]}}').a.b[3]"),
        E("return cjson.decode('null') == cjson.null"), E("return type(cjson.decode('null'))"),
        E("return cjson.decode('[1,2')"), E("return cjson.decode('')"), E("return cjson.decode('{a:1}')"),
        E("return cjson.decode('[true,false,null,1]')"), E("return tostring(cjson.decode('12345678901234567890'))"),
        E("return tostring(cjson.decode('1e400'))"), E("return cjson.decode('\"\\\\u00e9\\\\n\"')"),
        E("return cjson.decode('{\"a\":1}').a"), E("return cjson.decode('[]')"), E("return cjson.decode('{}')"),
        E("return cjson.encode(cjson.decode(ARGV[1]))", args=['{"k":[1,2.5,"s",true,null,{"n":{}}]}']),
        E("return cjson.decode(ARGV[1])", args=["[" * 1100 + "]" * 1100]), E("return cjson.decode()"),
        E("return cjson.decode('[1,2,3] x')"), E("return cjson.decode('0x10')"), E("return cjson.decode(' 7 ')"),
    ],
    "bit_library": [
        E("return bit.band(0xff, 0x0f)"), E("return bit.bor(1, 2, 4)"), E("return bit.bxor(5, 3)"),
        E("return bit.bnot(0)"), E("return bit.lshift(1, 31)"), E("return bit.lshift(1, 32)"), E("return bit.rshift(-1, 28)"),
        E("return bit.arshift(-256, 4)"), E("return bit.rol(0x12345678, 8)"), E("return bit.ror(0x12345678, 8)"),
        E("return bit.bswap(0x12345678)"), E("return bit.tohex(255)"), E("return bit.tohex(-1)"),
        E("return bit.tohex(255, -4)"), E("return bit.tohex(0x1234, 2)"), E("return bit.tobit(0xffffffff)"),
        E("return bit.tobit(2^40 + 5)"), E("return bit.band(0xff, 0xf0, 0x3c)"), E("return bit.band()"),
        E("return bit.band('x')"), E("return bit.tobit(1.5)"), E("return bit.tohex('12')"),
    ],
    "struct_library": [
        E("return struct.pack('>I2', 258)"), E("return struct.pack('<i4', -2)"), E("return struct.pack('b', -1)"),
        E("return struct.pack('>d', 1.5)"), E("return struct.pack('s', 'abc')"), E("return struct.pack('>c3', 'abcdef')"),
        E("return {struct.unpack('>I2', ARGV[1])}", args=[b"\x01\x02"]),
        E("return {struct.unpack('<i4', struct.pack('<i4', -123456))}"),
        E("return struct.size('>iH')"), E("return struct.size('>!4 i b i')"), E("return struct.size('s')"),
        E("return {struct.unpack('>I2', ARGV[1], 2)}", args=[b"\x00\x01\x02"]),
        E("return {struct.unpack('>I4', 'ab')}"), E("return struct.pack('y', 1)"),
        E("return {struct.unpack('>d', struct.pack('>d', 0.1))}"),
        E("return {struct.unpack('s', struct.pack('s', 'zero-terminated'))}"),
        E("return {struct.unpack('>h B', ARGV[1])}", args=[b"\xff\xfe\x07"]), E("return struct.pack('>I3', 2^24 + 1)"),
        E("return struct.pack('i17', 1)"), E("return struct.pack()"), E("return {struct.unpack('c0', '')}"),
    ],
    "cmsgpack_library": [
        E("return cmsgpack.pack(1)"), E("return cmsgpack.pack(-1)"), E("return cmsgpack.pack(127)"),
        E("return cmsgpack.pack(128)"), E("return cmsgpack.pack(-33)"), E("return cmsgpack.pack(65536)"),
        E("return cmsgpack.pack(2^32)"), E("return cmsgpack.pack(2^40)"), E("return cmsgpack.pack(-2^40)"),
        E("return cmsgpack.pack(1.5)"), E("return cmsgpack.pack(2.0)"), E("return cmsgpack.pack('abc')"),
        E("return cmsgpack.pack(string.rep('x', 40))"), E("return cmsgpack.pack(string.rep('y', 300))"),
        E("return cmsgpack.pack(true)"), E("return cmsgpack.pack(false)"), E("return cmsgpack.pack(nil)"),
        E("return cmsgpack.pack({1, 2, 3})"), E("return cmsgpack.pack({a=1})"), E("return cmsgpack.pack({})"),
        E("return cmsgpack.pack(1, 'two', {3})"), E("return cmsgpack.pack({1, nil, 3})"),
        E("return {cmsgpack.unpack(cmsgpack.pack({1, {2, 'x'}, 'y'}))}"),
        E("return cmsgpack.unpack(cmsgpack.pack({k='v'})).k"),
        E("return {cmsgpack.unpack(ARGV[1])}", args=[b"\x93\x01\x02\x03\xa1z"]),
        E("return {cmsgpack.unpack(ARGV[1])}", args=[b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"]),
        E("return {cmsgpack.unpack(ARGV[1])}", args=[b"\xc0\xc3\xc2"]),
        E("return {cmsgpack.unpack_one(cmsgpack.pack(7, 8, 9))}"),
        E("return {cmsgpack.unpack_one(cmsgpack.pack(7, 8, 9), 1)}"),
        E("return {cmsgpack.unpack_limit(cmsgpack.pack(7, 8, 9), 2)}"),
        E("return {cmsgpack.unpack(ARGV[1])}", args=[b"\x92\x01"]), E("return cmsgpack.unpack('')"),
        E("return cmsgpack.pack()"), E("return {cmsgpack.unpack(ARGV[1])}", args=[b"\xc1"]),
        E("return cmsgpack.pack(1/0)"), E("return cmsgpack.pack(0.1)"),
    ],
    "sha1hex_log_and_replication_helpers": [
        E("return redis.sha1hex('')"), E("return redis.sha1hex('abc')"), E("return redis.sha1hex(123)"),
        E("return redis.sha1hex()"), E("return redis.sha1hex(ARGV[1])", args=[b"\x00\xff"]),
        E("return redis.sha1hex('a', 'b')"), E("return redis.sha1hex({})"),
        E("return redis.log(redis.LOG_WARNING, 'a test log line')"), E("return redis.log(redis.LOG_DEBUG, 'a', 'b', 3)"),
        E("return redis.log(99, 'x')"), E("return redis.log()"), E("return redis.log(redis.LOG_NOTICE)"),
        E("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}"),
        E("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}"),
        E("return redis.set_repl(redis.REPL_ALL)"), E("return redis.set_repl(redis.REPL_NONE)"),
        E("return redis.set_repl(99)"), E("return redis.set_repl()"), E("return redis.replicate_commands()"),
        E("return redis.REDIS_VERSION"), E("return redis.REDIS_VERSION_NUM"),
    ],
    "standard_library": [
        E("return tostring(12)"), E("return tostring(1.5)"), E("return tostring(1e100)"), E("return tostring(nil)"),
        E("return tostring(2^63)"), E("return tostring(-0.0)"), E("return tostring(1/3)"), E("return tonumber('0x10')"),
        E("return tonumber('  12  ')"), E("return tonumber('1e2')"), E("return tonumber('abc')"),
        E("return tonumber('10', 2)"), E("return tonumber('z', 36)"),
        E("return string.format('%5.2f|%d|%s|%q', 3.14159, 42, 'x', 'a\\nb')"), E("return string.format('%g', 0.1)"),
        E("return string.format('%x %X %o %e', 255, 255, 8, 12345.678)"), E("return string.format('%5s|%-5s|', 'a', 'b')"),
        E("return string.format('%d', 'x')"), E("return table.concat({1, 2, 3}, ',')"), E("return table.concat({})"),
        E("return select('#', 1, 2, 3)"), E("return string.sub('hello', 2, -2)"), E("return string.upper('abc')"),
        E("return string.byte('A')"), E("return string.char(72, 105)"), E("return {string.find('hello', 'l+')}"),
        E("return {string.gsub('hello world', 'o', '0')}"), E("return string.match('key:123', '%d+')"),
        E("return string.len('abc')"), E("return string.reverse('abc')"), E("return math.floor(3.7)"),
        E("return math.max(3, 9, 1)"), E("return math.fmod(7, 3)"), E("return tostring(math.pi)"),
        E("return math.abs(-4)"), E("return tostring(math.sqrt(2))"), E("return tostring(math.huge)"),
        E("local t = {3, 1, 2} table.sort(t) return t"), E("local t = {1, 2} table.insert(t, 3) table.remove(t, 1) return t"),
        E("local s = 0 for i, v in ipairs({5, 6, 7}) do s = s + i * v end return s"),
        E("local n = 0 for k, v in pairs({a=1, b=2, c=3}) do n = n + v end return n"),
        E("return ('x'):rep(3)"), E("return #'abc'"), E("return 10 % 3"), E("return -7 % 3"), E("return 2^10"),
        E("return 'a' .. 1 .. 2.5"), E("return 'abc' < 'abd'"), E("return {string.byte('abc', 1, -1)}"),
        E("return string.format('%s', 1e15)"), E("return tostring(123456789012345678)"),
        E("return type(debug.traceback)"), E("return next({})"),
    ],
    "large_and_binary_values_round_trip": [
        E("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('STRLEN', KEYS[1])", K1, [b"z" * 200000]),
        E("return redis.call('GETRANGE', KEYS[1], 199995, -1)", K1),
        E("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1]) == ARGV[1]", K1, [bytes(range(256))]),
        E("return redis.call('GET', KEYS[1])", K1),
        E("local t = {} for i = 1, 500 do t[i] = tostring(i) end redis.call('RPUSH', KEYS[1], unpack(t)) "
          "return redis.call('LLEN', KEYS[1])", ["list"]),
    ],
}


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(SCRIPT_CASES))
def test_script_case_matches_redis(server_pair, name, protocol):
    rerun = f"test_script_case_matches_redis[{name}-resp{protocol}]"
    label = f"script case {name!r} over RESP{protocol}"
    with differential_session(server_pair, label, rerun, resp3=protocol == 3) as (s, r, _):
        run_all(Differ(s, r, label, rerun), SCRIPT_CASES[name])


# ---------------------------------------------------------------------------------------------
# Part 3: random scripts

RS_VALUES = ["'a'", "'b'", "'1'", "'10'", "''", "5", "-2", "1.5", "ARGV[1]", "ARGV[2]"]
RS_FIELDS = ["'f'", "'g'", "ARGV[1]"]


class ScriptGenerator:
    """Random straight-line scripts over KEYS[1..3]: redis.call/redis.pcall of commands of every
    type (WRONGTYPE and argument errors included), results fed into later calls, and a random
    return shape. Nothing returned depends on hash order: no HGETALL, SMEMBERS, SPOP...
    """

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def key(self):
        return f"KEYS[{self.rng.randint(1, 3)}]"

    def value(self, results):
        if results and self.rng.random() < 0.15:
            return self.rng.choice(results)  # a reply fed back as an argument: maybe a table or false
        return self.rng.choice(RS_VALUES)

    def command(self, results):
        rng, k = self.rng, self.key
        v = lambda: self.value(results)  # noqa: E731
        f = lambda: rng.choice(RS_FIELDS)  # noqa: E731
        return rng.choice([
            lambda: ["'SET'", k(), v()], lambda: ["'GET'", k()], lambda: ["'INCR'", k()], lambda: ["'INCRBY'", k(), v()],
            lambda: ["'APPEND'", k(), v()], lambda: ["'DEL'", k()], lambda: ["'EXISTS'", k(), k()],
            lambda: ["'TYPE'", k()], lambda: ["'MGET'", k(), k()], lambda: ["'GETSET'", k(), v()],
            lambda: ["'INCRBYFLOAT'", k(), rng.choice(["'1.5'", "0.1", "'x'"])],
            lambda: ["'RPUSH'", k(), v(), v()], lambda: ["'LPOP'", k()], lambda: ["'LRANGE'", k(), "0", "-1"],
            lambda: ["'LLEN'", k()], lambda: ["'LINDEX'", k(), rng.choice(["0", "-1", "'x'"])],
            lambda: ["'HSET'", k(), f(), v()], lambda: ["'HGET'", k(), f()], lambda: ["'HINCRBY'", k(), f(), v()],
            lambda: ["'HLEN'", k()], lambda: ["'HMGET'", k(), f(), f()],
            lambda: ["'SADD'", k(), v()], lambda: ["'SISMEMBER'", k(), v()], lambda: ["'SCARD'", k()],
            lambda: ["'ZADD'", k(), rng.choice(["1", "2.5", "'x'", "-1"]), v()], lambda: ["'ZSCORE'", k(), v()],
            lambda: ["'ZRANGE'", k(), "0", "-1", "'WITHSCORES'"], lambda: ["'ZINCRBY'", k(), "2", v()],
            lambda: ["'EXPIRE'", k(), "100000"], lambda: ["'TTL'", k()], lambda: ["'PERSIST'", k()],
            lambda: ["'PING'"], lambda: ["'ECHO'", v()], lambda: ["'GET'"], lambda: ["'NOSUCH'", k()],
            lambda: ["'SET'", k(), rng.choice(["true", "{}", "nil"])],
        ])()

    def script(self):
        rng = self.rng
        lines, results = [], []
        if rng.random() < 0.3:
            lines.append("redis.setresp(3)")
        for i in range(rng.randint(1, 6)):
            call = "redis.call" if rng.random() < 0.2 else "redis.pcall"
            lines.append(f"local r{i} = {call}({', '.join(self.command(results))})")
            results.append(f"r{i}")
            if rng.random() < 0.15:
                lines.append(f"if type(r{i}) == 'table' and r{i}.err then return {{err = 'stopped: ' .. r{i}.err}} end")
        last = results[-1]
        lines.append(rng.choice([
            f"return {last}",
            "return {" + ", ".join(results) + "}",
            "return {" + ", ".join(f"type({x})" for x in results) + "}",
            f"return type({last}) == 'table' and #{last} or {last}",
            f"return {{ok = type({last})}}",
            f"return {{map = {{result = {last}}}}}",
            f"return {{double = tonumber(type({last}) == 'string' and {last} or 0) or 0}}",
            f"return redis.status_reply(type({last}))",
            f"if {last} then return 1 else return {{err = 'falsy'}} end",
        ]))
        return "\n".join(lines)

    def next(self):
        rng = self.rng
        keys = ["k1", "k2", "k3"]
        args = [rng.choice(["a", "1", "2.5", "", "x"]), rng.choice(["b", "7", "-1"])]
        body = self.script()
        which = rng.random()
        if which < 0.75:
            return [E(body, keys, args)]
        if which < 0.9:
            return [C("SCRIPT", "LOAD", body), SHA(body, keys, args)]
        return [E(body, keys, args, command="EVAL_RO")]


@pytest.mark.parametrize("seed", SCRIPT_SEEDS, ids=[f"seed_{s}" for s in SCRIPT_SEEDS])
def test_random_scripts_match_redis(server_pair, seed):
    rerun = f"test_random_scripts_match_redis[seed_{seed}]"
    label = f"script seed {seed}"
    with differential_session(server_pair, label, rerun, resp3=seed % 3 == 2) as (s, r, _):
        differ = Differ(s, r, label, rerun)
        generator = ScriptGenerator(seed)
        for _ in range(SCRIPTS_PER_SEED):
            for op in generator.next():
                differ.run(op)
        assert_same_keyspace(s, r, label)

"""Differential tests for lists: strata must answer every list command exactly as Redis 7.0 does.

Seeded random sequences of list commands (with bad arguments mixed in, and other types on the
same keys so WRONGTYPE and the generic key commands are exercised) go to strata and to Debian's
redis-server; every reply is compared byte for byte, and at the end every list's contents.
Strata runs with list-max-listpack-size 4 (and Redis with its default) in half the seeds, so
the chunk splits and merges happen constantly while the replies must not change, and with
list-compress-depth 0, 1 or 2 (Redis with its default, 0), so interior chunks are compressed and
decompressed under every command.
`-k seed_N` reruns one sequence.
"""
import random

import pytest

from helpers import RespConnection, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Op

SEEDS = scaled_seeds(24)
COMMANDS_PER_SEED = 1500
KEYS = [b"l1", b"l2", b"l3", b"str", b"h"]
ELEMENTS = [b"a", b"b", b"c", b"", b"a" * 70, b"x" * 300, b"1", b"-5", b"\x00\xff"]
INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"-3", b"5", b"100", b"-100", b"abc", b"9223372036854775807",
           b"-9223372036854775808", b"1.5"]
COUNTS = [b"0", b"1", b"2", b"3", b"10", b"-1", b"-2", b"x"]


class ListCommands:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def key(self):
        return self.rng.choice(KEYS[:3]) if self.rng.random() < 0.85 else self.rng.choice(KEYS)

    def elements(self, low=1, high=4):
        return [self.rng.choice(ELEMENTS) for _ in range(self.rng.randint(low, high))]

    def pick(self, *options):
        return self.rng.choice(options)

    def end(self):
        return self.pick(b"LEFT", b"RIGHT", b"left", b"right") if self.rng.random() < 0.95 else b"MIDDLE"

    def next(self):
        r = self.rng
        k = self.key()
        choice = r.randrange(32)
        if choice < 6:
            return Op([self.pick(b"LPUSH", b"RPUSH", b"RPUSH"), k, *self.elements()])
        if choice == 6:
            return Op([self.pick(b"LPUSHX", b"RPUSHX"), k, *self.elements()])
        if choice in (7, 8):
            args = [self.pick(b"LPOP", b"RPOP"), k]
            if r.random() < 0.5:
                args.append(r.choice(COUNTS))
            if r.random() < 0.03:
                args.append(b"1")
            return Op(args)
        if choice in (9, 10):
            return Op([b"LRANGE", k, r.choice(INDEXES), r.choice(INDEXES)])
        if choice == 11:
            return Op([b"LLEN", k])
        if choice == 12:
            return Op([b"LINDEX", k, r.choice(INDEXES)])
        if choice == 13:
            return Op([b"LSET", k, r.choice(INDEXES), r.choice(ELEMENTS)])
        if choice == 14:
            return Op([b"LTRIM", k, r.choice(INDEXES), r.choice(INDEXES)])
        if choice == 15:
            return Op([b"LREM", k, r.choice(COUNTS + [b"-3", b"5", b"-9223372036854775808"]), r.choice(ELEMENTS)])
        if choice == 16:
            where = self.pick(b"BEFORE", b"AFTER", b"after") if r.random() < 0.95 else b"AROUND"
            return Op([b"LINSERT", k, where, r.choice(ELEMENTS), r.choice(ELEMENTS)])
        if choice in (17, 18):
            args = [b"LPOS", k, r.choice(ELEMENTS)]
            for _ in range(r.randrange(3)):
                option = r.choice([b"RANK", b"COUNT", b"MAXLEN", b"rank", b"BOGUS"])
                value = r.choice([b"1", b"2", b"-1", b"-2", b"0", b"3", b"x"]) if option != b"MAXLEN" else r.choice(
                    [b"0", b"1", b"3", b"-1"])
                args += [option, value] if r.random() < 0.97 else [option]
            return Op(args)
        if choice == 19:
            return Op([b"LMOVE", k, self.key(), self.end(), self.end()])
        if choice == 20:
            return Op([b"RPOPLPUSH", k, self.key()])
        if choice == 21:
            keys = [self.key() for _ in range(r.randint(1, 3))]
            numkeys = str(len(keys)).encode() if r.random() < 0.9 else r.choice([b"0", b"-1", b"x", b"5"])
            args = [b"LMPOP", numkeys, *keys, self.end()]
            if r.random() < 0.5:
                args += [b"COUNT", r.choice([b"1", b"2", b"5", b"0", b"-1"])]
            return Op(args)
        if choice == 22:
            return Op([b"TYPE", k])
        if choice == 23:
            return Op([b"OBJECT", b"ENCODING", k])
        if choice == 24:
            return Op([b"DEL", k])
        if choice == 25:
            return Op([b"SET", b"str", r.choice(ELEMENTS)])
        if choice == 26:
            return Op([b"HSET", b"h", b"f", b"v"])
        if choice == 27:
            return Op([self.pick(b"RENAME", b"COPY"), k, self.key()])
        if choice == 28:
            return Op([b"EXISTS", k, self.key()])
        if choice == 29:
            return Op([b"GET", k])
        if choice == 30:
            return Op([b"EXPIRE", k, b"1000"])
        return Op([b"LRANGE", k, b"0", b"-1"])


def dump_lists(conn):
    state = {}
    for item in conn.call(b"KEYS", b"*").value:
        key = item.value
        kind = conn.call(b"TYPE", key).text()
        state[key] = (kind, conn.call(b"LRANGE", key, b"0", b"-1").value if kind == "list" else None)
    return state


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_list_sequence_matches_redis(server_pair, seed):
    strata_server, redis_server = server_pair
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
        fill = b"4" if seed % 2 else b"-2"
        assert s.call(b"CONFIG", b"SET", b"list-max-listpack-size", fill).kind == "+"
        depth = [b"0", b"1", b"2"][(seed // 2) % 3]
        assert s.call(b"CONFIG", b"SET", b"list-compress-depth", depth).kind == "+"
        if seed % 3 == 0:
            for conn in (s, r):
                assert conn.call(b"HELLO", b"3").kind == "%"
        differ = Differ(s, r, f"list seed {seed}", f"test_random_list_sequence_matches_redis[seed_{seed}]")
        generator = ListCommands(seed)
        for _ in range(COMMANDS_PER_SEED):
            differ.run(generator.next())
        assert dump_lists(s) == dump_lists(r)
        assert s.call(b"CONFIG", b"SET", b"list-max-listpack-size", b"-2").kind == "+"
        assert s.call(b"CONFIG", b"SET", b"list-compress-depth", b"1").kind == "+"


def test_long_lists_match_redis_across_many_chunks(server_pair):
    """10,000-element lists: ranges, indexes and trims that cross many chunks."""
    strata_server, redis_server = server_pair
    rng = random.Random(7)
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        differ = Differ(s, r, "long lists", "test_long_lists_match_redis_across_many_chunks")
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
        for i in range(0, 10000, 500):
            differ.run(Op([b"RPUSH", b"big", *[b"e%d" % j for j in range(i, i + 500)]]))
        for _ in range(400):
            a, b = rng.randrange(-12000, 12000), rng.randrange(-12000, 12000)
            op = rng.choice([
                [b"LRANGE", b"big", b"%d" % a, b"%d" % (a + rng.randrange(50))],
                [b"LINDEX", b"big", b"%d" % a],
                [b"LINSERT", b"big", b"BEFORE", b"e%d" % abs(a % 10000), b"new"],
                [b"LSET", b"big", b"%d" % b, b"set%d" % b],
                [b"LREM", b"big", b"%d" % rng.randrange(-2, 3), b"new"],
                [b"LPOS", b"big", b"new", b"RANK", b"%d" % rng.choice([1, 2, -1, -3]), b"COUNT", b"3"],
                [b"LPOP", b"big", b"%d" % rng.randrange(5)],
                [b"RPOP", b"big"],
                [b"LLEN", b"big"],
            ])
            differ.run(Op(op))
        differ.run(Op([b"LTRIM", b"big", b"100", b"-100"]))
        differ.run(Op([b"LRANGE", b"big", b"0", b"-1"]))

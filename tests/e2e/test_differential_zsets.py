"""Differential tests for sorted sets: every ZSET command as Redis 7.0 answers it, across the
listpack -> skiplist conversion (small zset-max-listpack-entries in some seeds), in RESP2 and
RESP3, with bad arguments mixed in and other types on the same keys.

Replies are compared byte for byte (a sorted set's order is fixed by score and member, so even
ranges compare exactly), except ZRANDMEMBER (the same kind and length) and ZSCAN (iterated to
completion, compared as a set). Lex ranges run on the key "lex", whose members all score 0:
Redis leaves lex ranges over mixed scores unspecified (its answer depends on its skip list's
random levels). At the end every key's type, encoding and contents must agree.
`-k seed_N` reruns one sequence.
"""
import random

import pytest

from helpers import RespConnection, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Op, differential_session, element_scan_all

SEEDS = scaled_seeds(24)
COMMANDS_PER_SEED = 1500
KEYS = [b"z1", b"z2", b"z3", b"str", b"set"]
MEMBERS = [b"a", b"b", b"c", b"d", b"e", b"", b"aa", b"ab", b"m" * 70, b"\x00\xff", b"1", b"2"]
SCORES = [b"0", b"1", b"2", b"-1", b"1.5", b"3", b"10", b"-inf", b"+inf", b"inf", b"1e3", b"0.1", b"x", b"nan", b"",
          b"1e400", b"0x10", b" 1", b"1\x00x"]
SCORE_BOUNDS = [b"0", b"1", b"(1", b"2", b"(2.5", b"-inf", b"+inf", b"(-inf", b"10", b"x", b"(", b"-1"]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(c", b"[aa", b"[", b"a", b"(d", b"[\x00"]
INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"5", b"100", b"-100", b"x"]


class ZSetCommands:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def key(self):
        return self.rng.choice(KEYS[:3]) if self.rng.random() < 0.9 else self.rng.choice(KEYS)

    def lex_key(self):
        return b"lex" if self.rng.random() < 0.9 else self.rng.choice([b"str", b"nokey"])

    def member(self):
        if self.rng.random() < 0.12:
            return b"many%d" % self.rng.randrange(200)
        return self.rng.choice(MEMBERS)

    def score(self):
        return self.rng.choice(SCORES) if self.rng.random() < 0.15 else b"%d" % self.rng.randrange(-3, 8)

    def numkeys_and_keys(self):
        keys = [self.key() for _ in range(self.rng.randint(1, 3))]
        numkeys = b"%d" % len(keys) if self.rng.random() < 0.92 else self.rng.choice([b"0", b"-1", b"x", b"9"])
        return [numkeys, *keys]

    def range_options(self, allow_rev=True):
        r = self.rng
        options = []
        if r.random() < 0.3:
            options.append(b"WITHSCORES")
        if r.random() < 0.25:
            options += [b"LIMIT", r.choice([b"0", b"1", b"-1", b"2"]), r.choice([b"1", b"2", b"-1", b"0", b"10"])]
        r.shuffle(options) if b"LIMIT" not in options else None
        return options

    def next(self):
        r = self.rng
        k = self.key()
        choice = r.randrange(34)
        if choice < 6:
            flags = [f for f in (b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR") if r.random() < 0.1]
            pairs = [x for _ in range(r.randint(1, 3)) for x in (self.score(), self.member())]
            return Op([b"ZADD", k, *flags, *pairs])
        if choice == 6:
            return Op([b"ZINCRBY", k, self.score(), self.member()])
        if choice == 7:
            return Op([b"ZSCORE", k, self.member()])
        if choice == 8:
            return Op([b"ZMSCORE", k, *[self.member() for _ in range(r.randint(1, 3))]])
        if choice == 9:
            return Op([b"ZCARD", k])
        if choice == 10:
            return Op([b"ZCOUNT", k, r.choice(SCORE_BOUNDS), r.choice(SCORE_BOUNDS)])
        if choice == 11:
            if r.random() < 0.5:
                return Op([b"ZADD", b"lex", *[x for _ in range(r.randint(1, 3)) for x in (b"0", self.member())]])
            return Op([b"ZLEXCOUNT", self.lex_key(), r.choice(LEX_BOUNDS), r.choice(LEX_BOUNDS)])
        if choice == 12:
            return Op([r.choice([b"ZRANK", b"ZREVRANK"]), k, self.member()])
        if choice == 13:
            return Op([b"ZREM", k, *[self.member() for _ in range(r.randint(1, 3))]])
        if choice in (14, 15):
            by = r.choice([None, b"BYSCORE", b"BYLEX"])
            bounds = {None: INDEXES, b"BYSCORE": SCORE_BOUNDS, b"BYLEX": LEX_BOUNDS}[by]
            args = [b"ZRANGE", self.lex_key() if by == b"BYLEX" else k, r.choice(bounds), r.choice(bounds)]
            if by:
                args.append(by)
            if r.random() < 0.4:
                args.append(b"REV")
            return Op(args + self.range_options())
        if choice == 16:
            return Op([b"ZREVRANGE", k, r.choice(INDEXES), r.choice(INDEXES)] + ([b"WITHSCORES"] if r.random() < 0.4 else []))
        if choice == 17:
            return Op([r.choice([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"]), k, r.choice(SCORE_BOUNDS), r.choice(SCORE_BOUNDS)]
                      + self.range_options())
        if choice == 18:
            return Op([r.choice([b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"]), self.lex_key(), r.choice(LEX_BOUNDS), r.choice(LEX_BOUNDS)]
                      + ([b"LIMIT", b"0", b"2"] if r.random() < 0.3 else []))
        if choice == 19:
            by = r.choice([None, b"BYSCORE"])
            bounds = SCORE_BOUNDS if by else INDEXES
            return Op([b"ZRANGESTORE", self.key(), k, r.choice(bounds), r.choice(bounds)] + ([by] if by else []))
        if choice == 20:
            return Op([b"ZREMRANGEBYRANK", k, r.choice(INDEXES), r.choice(INDEXES)])
        if choice == 21:
            return Op([b"ZREMRANGEBYSCORE", k, r.choice(SCORE_BOUNDS), r.choice(SCORE_BOUNDS)])
        if choice == 22:
            return Op([b"ZREMRANGEBYLEX", self.lex_key(), r.choice(LEX_BOUNDS), r.choice(LEX_BOUNDS)])
        if choice == 23:
            args = [r.choice([b"ZPOPMIN", b"ZPOPMAX"]), k]
            if r.random() < 0.6:
                args.append(r.choice([b"0", b"1", b"2", b"10", b"-1", b"x"]))
            return Op(args)
        if choice == 24:
            args = [b"ZMPOP", *self.numkeys_and_keys(), r.choice([b"MIN", b"MAX", b"max", b"MID"])]
            if r.random() < 0.5:
                args += [b"COUNT", r.choice([b"1", b"2", b"10", b"0", b"-1"])]
            return Op(args)
        if choice == 25:
            if r.random() < 0.3:
                return Op([b"ZRANDMEMBER", k], "sample")
            count = r.choice([b"1", b"2", b"-3", b"0", b"100", b"x", b"-9223372036854775808", b"4611686018427387904"])
            option = [r.choice([b"WITHSCORES", b"withscores", b"bogus"])] if r.random() < 0.4 else []
            return Op([b"ZRANDMEMBER", k, count] + option, "sample")
        if choice in (26, 27):
            name = r.choice([b"ZUNION", b"ZINTER", b"ZDIFF", b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE"])
            args = [name]
            if name.endswith(b"STORE"):
                args.append(self.key())
            numkeys_and_keys = self.numkeys_and_keys()
            args += numkeys_and_keys
            if name not in (b"ZDIFF", b"ZDIFFSTORE") and r.random() < 0.4:
                count = len(numkeys_and_keys) - 1
                args += [b"WEIGHTS", *[r.choice([b"1", b"2", b"-1", b"0.5", b"inf", b"x"]) for _ in range(count)]]
            if name not in (b"ZDIFF", b"ZDIFFSTORE") and r.random() < 0.4:
                args += [b"AGGREGATE", r.choice([b"SUM", b"MIN", b"MAX", b"avg"])]
            if not name.endswith(b"STORE") and r.random() < 0.4:
                args.append(b"WITHSCORES")
            return Op(args)
        if choice == 28:
            args = [b"ZINTERCARD", *self.numkeys_and_keys()]
            if r.random() < 0.4:
                args += [b"LIMIT", r.choice([b"0", b"1", b"-1", b"x"])]
            return Op(args)
        if choice == 29:
            return Op([b"TYPE", k])
        if choice == 30:
            return Op([b"OBJECT", b"ENCODING", k])
        if choice == 31:
            return Op([r.choice([b"DEL", b"EXISTS"]), k])
        if choice == 32:
            return Op([r.choice([b"SET", b"SADD"]), r.choice([b"str", b"set"]), b"1"])
        return Op([r.choice([b"RENAME", b"COPY"]), k, self.key()])


def zscan_all(conn, key):
    return element_scan_all(conn, b"ZSCAN", key, pairs=True)


def dump_zsets(conn):
    state = {}
    for item in conn.call(b"KEYS", b"*").value:
        key = item.value
        kind = conn.call(b"TYPE", key).text()
        if kind != "zset":
            state[key] = kind
            continue
        state[key] = (conn.call(b"OBJECT", b"ENCODING", key).value,
                      conn.call(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES").value, zscan_all(conn, key))
    return state


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_zset_sequence_matches_redis(server_pair, seed):
    entries = b"4" if seed % 3 == 1 else b"128"
    with differential_session(server_pair, f"zset seed {seed}", f"test_random_zset_sequence_matches_redis[seed_{seed}]",
                              resp3=seed % 4 == 0, config={b"zset-max-listpack-entries": entries}) as (s, r, differ):
        generator = ZSetCommands(seed)
        for _ in range(COMMANDS_PER_SEED):
            differ.run(generator.next())
        assert dump_zsets(s) == dump_zsets(r)


def test_large_sorted_sets_match_redis(server_pair):
    """A leaderboard of 20,000 members: ranks, ranges and removals deep in a skip list."""
    strata_server, redis_server = server_pair
    rng = random.Random(11)
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        differ = Differ(s, r, "large zsets", "test_large_sorted_sets_match_redis")
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
        for i in range(0, 20000, 500):
            pairs = [x for j in range(i, i + 500) for x in (b"%d" % rng.randrange(1000), b"player:%d" % j)]
            differ.run(Op([b"ZADD", b"board", *pairs]))
        for _ in range(500):
            a, b = rng.randrange(-21000, 21000), rng.randrange(-21000, 21000)
            member = b"player:%d" % rng.randrange(21000)
            differ.run(Op(rng.choice([
                [b"ZRANK", b"board", member], [b"ZREVRANK", b"board", member], [b"ZSCORE", b"board", member],
                [b"ZRANGE", b"board", b"%d" % a, b"%d" % (a + rng.randrange(20)), b"WITHSCORES"],
                [b"ZRANGE", b"board", b"%d" % rng.randrange(1000), b"%d" % rng.randrange(1000), b"BYSCORE", b"LIMIT", b"5", b"5"],
                [b"ZRANGE", b"board", b"%d" % rng.randrange(1000), b"(%d" % rng.randrange(1000), b"BYSCORE", b"REV", b"LIMIT", b"0", b"3"],
                [b"ZCOUNT", b"board", b"%d" % rng.randrange(1000), b"+inf"],
                [b"ZINCRBY", b"board", b"%d" % rng.randrange(-50, 50), member],
                [b"ZREM", b"board", member],
                [b"ZREMRANGEBYRANK", b"board", b"%d" % b, b"%d" % b],
                [b"ZPOPMAX", b"board"],
            ])))
        differ.run(Op([b"ZREMRANGEBYSCORE", b"board", b"100", b"200"]))
        differ.run(Op([b"ZCARD", b"board"]))
        assert dump_zsets(s) == dump_zsets(r)

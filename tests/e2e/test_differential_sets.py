"""Differential tests for sets: strata must answer every set command as Redis 7.0 does.

Seeded random sequences of set commands (bad arguments mixed in; strings, lists and hashes on
the same keys for WRONGTYPE; members that are integers, so intsets form and convert) go to strata
and to Debian's redis-server. Replies are compared byte for byte, except where Redis itself
leaves the order to its hash table, and only there:
  unordered   SMEMBERS, SINTER, SUNION, SDIFF, whole-set SRANDMEMBER and SPOP: the same kind
              of reply and the same members
  sample      SRANDMEMBER of one member or of fewer than the set has: the same kind of reply
              and the same length (or both nil)
SSCAN is iterated to completion and compared as a set. Random pops are left to
test_spop_removes_what_it_returns, since they would make the two keyspaces differ. At the end
every key's type, members and encoding must agree. `-k seed_N` reruns one sequence.
"""
import random

import pytest

from helpers import RespConnection, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Op, differential_session, element_scan_all

SEEDS = scaled_seeds(24)
COMMANDS_PER_SEED = 1500
KEYS = [b"s1", b"s2", b"s3", b"str", b"list"]
MEMBERS = [b"a", b"b", b"c", b"", b"1", b"2", b"3", b"-5", b"70000", b"9223372036854775807", b"01", b"x" * 70,
           b"\x00\xff", b"d", b"4000000000"]
INT_MEMBERS = [b"1", b"2", b"3", b"-5", b"70000", b"10", b"11", b"12", b"13", b"-32768", b"32768"]


class SetCommands:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.ints_only = seed % 4 == 1  # these seeds keep sets as intsets for long

    def key(self):
        return self.rng.choice(KEYS[:3]) if self.rng.random() < 0.88 else self.rng.choice(KEYS)

    def members(self, low=1, high=5):
        pool = INT_MEMBERS if self.ints_only and self.rng.random() < 0.97 else MEMBERS
        return [self.rng.choice(pool) for _ in range(self.rng.randint(low, high))]

    def keys(self, low=1, high=3):
        return [self.key() for _ in range(self.rng.randint(low, high))]

    def next(self):
        r = self.rng
        k = self.key()
        choice = r.randrange(30)
        if choice < 7:
            return Op([b"SADD", k, *self.members()])
        if choice in (7, 8):
            return Op([b"SREM", k, *self.members()])
        if choice == 9:
            return Op([b"SMEMBERS", k], "unordered")
        if choice == 10:
            return Op([b"SISMEMBER", k, *self.members(1, 1)])
        if choice == 11:
            return Op([b"SMISMEMBER", k, *self.members()])
        if choice == 12:
            return Op([b"SCARD", k])
        if choice == 13:
            # Deterministic pops only: the whole set (count above any set's size), none, or errors.
            return Op([b"SPOP", k, r.choice([b"100", b"0", b"-1", b"x"])], "unordered")
        if choice == 14:
            count = r.choice([b"100", b"-3", b"0", b"1", b"2", b"x", b"-9223372036854775808"])
            compare = "unordered" if count in (b"100", b"0") else "sample"
            return Op([b"SRANDMEMBER", k, count], compare)
        if choice == 15:
            return Op([b"SRANDMEMBER", k], "sample")
        if choice == 16:
            return Op([b"SMOVE", k, self.key(), *self.members(1, 1)])
        if choice in (17, 18):
            return Op([r.choice([b"SINTER", b"SUNION", b"SDIFF"]), *self.keys()], "unordered")
        if choice in (19, 20):
            return Op([r.choice([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), self.key(), *self.keys()])
        if choice == 21:
            keys = self.keys()
            numkeys = str(len(keys)).encode() if r.random() < 0.9 else r.choice([b"0", b"-1", b"x", b"9"])
            args = [b"SINTERCARD", numkeys, *keys]
            if r.random() < 0.5:
                args += [b"LIMIT", r.choice([b"0", b"1", b"2", b"-1", b"x"])]
            return Op(args)
        if choice == 22:
            return Op([b"TYPE", k])
        if choice == 23:
            return Op([b"OBJECT", b"ENCODING", k])
        if choice == 24:
            return Op([b"DEL", k])
        if choice == 25:
            return Op([b"SET", b"str", b"v"])
        if choice == 26:
            return Op([b"RPUSH", b"list", b"a"])
        if choice == 27:
            return Op([r.choice([b"RENAME", b"COPY"]), k, self.key()])
        if choice == 28:
            return Op([b"SSCAN", k, r.choice([b"x", b"-"]), b"COUNT", b"5"])  # bad cursors only
        return Op([b"EXISTS", k])


def sscan_all(conn, key):
    return element_scan_all(conn, b"SSCAN", key, pairs=False)


def dump_sets(conn):
    state = {}
    for item in conn.call(b"KEYS", b"*").value:
        key = item.value
        kind = conn.call(b"TYPE", key).text()
        if kind == "set":
            members = sorted(x.value for x in conn.call(b"SMEMBERS", key).value)
            state[key] = (kind, members, conn.call(b"OBJECT", b"ENCODING", key).value, sorted(sscan_all(conn, key)))
        else:
            state[key] = (kind,)
    return state


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_set_sequence_matches_redis(server_pair, seed):
    # Small thresholds in some seeds, so intset -> hashtable conversions happen often.
    entries = b"4" if seed % 3 == 2 else b"512"
    with differential_session(server_pair, f"set seed {seed}", f"test_random_set_sequence_matches_redis[seed_{seed}]",
                              resp3=seed % 5 == 0, config={b"set-max-intset-entries": entries}) as (s, r, differ):
        generator = SetCommands(seed)
        for _ in range(COMMANDS_PER_SEED):
            differ.run(generator.next())
        assert dump_sets(s) == dump_sets(r)


def test_large_sets_match_redis(server_pair):
    """Thousands of members: tables, SSCAN cursors across resizes, big intersections."""
    strata_server, redis_server = server_pair
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        differ = Differ(s, r, "large sets", "test_large_sets_match_redis")
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
        for i in range(0, 5000, 250):
            differ.run(Op([b"SADD", b"big", *[b"m%d" % j for j in range(i, i + 250)]]))
            differ.run(Op([b"SADD", b"ints", *[b"%d" % (j * 3) for j in range(i, i + 250)]]))
        differ.run(Op([b"SINTERSTORE", b"both", b"big", b"ints"]))
        differ.run(Op([b"SUNIONSTORE", b"all", b"big", b"ints"]))
        differ.run(Op([b"SDIFFSTORE", b"diff", b"ints", b"big"]))
        for key in (b"big", b"ints", b"all", b"diff"):
            differ.run(Op([b"SCARD", key]))
            differ.run(Op([b"OBJECT", b"ENCODING", key]))
            differ.run(Op([b"SINTERCARD", b"2", key, b"big", b"LIMIT", b"100"]))
            assert sscan_all(s, key) == sscan_all(r, key)
        for i in range(0, 5000, 7):
            differ.run(Op([b"SREM", b"big", b"m%d" % i]))
        assert sscan_all(s, b"big") == sscan_all(r, b"big")


def test_spop_removes_what_it_returns(server_pair):
    """SPOP's randomness: each popped member was in the set and is gone, and pops spread."""
    strata_server, _ = server_pair
    with RespConnection(strata_server.port) as s:
        assert s.call(b"FLUSHALL").kind == "+"
        for key, members in ((b"ints", [b"%d" % i for i in range(100)]),
                             (b"small", [b"m%d" % i for i in range(100)]),
                             (b"table", [b"member-%d" % i for i in range(1000)])):
            s.call(b"SADD", key, *members)
            left = set(members)
            for _ in range(20):
                member = s.call(b"SPOP", key).value
                assert member in left
                left.remove(member)
            popped = s.call(b"SPOP", key, b"30").value
            assert len(popped) == 30 and {x.value for x in popped} <= left
            left -= {x.value for x in popped}
            assert {x.value for x in s.call(b"SMEMBERS", key).value} == left
            picks = s.call(b"SRANDMEMBER", key, b"-2000").value
            assert {x.value for x in picks} <= left and len({x.value for x in picks}) > len(left) // 2
            distinct = s.call(b"SRANDMEMBER", key, b"25").value
            assert len({x.value for x in distinct}) == 25 and {x.value for x in distinct} <= left
            assert s.call(b"SPOP", key, b"100000").kind == "*"
            assert s.call(b"EXISTS", key).value == 0

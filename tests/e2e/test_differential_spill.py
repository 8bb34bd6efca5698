"""Differential test of the spill tier: strata with a small maxmemory and spill-dir against Debian's
redis-server with no maxmemory at all must answer every command the same, because the spill makes
eviction invisible (DESIGN section 8): a key pushed to disk is still there, with its type, value
and TTL, whatever reads or writes it next.

Seeded random sequences over a few thousand keys of every type, several times maxmemory in all,
so that most keys move to disk and back again during the run; replies compared as in
test_differential.py (exactly, TTLs within 2 s, unordered members as multisets, SCAN and KEYS as
sets). At the end every key is compared whole on both servers.
"""
import random

import pytest

from helpers import RespConnection, ServerFactory, scaled_seeds, strata_available
from test_differential import Differ, Op

SEEDS = scaled_seeds(3)
KEYS = 2500
OPS_PER_SEED = 2500
MAXMEMORY = "2mb"  # the keys' values take about 5 MB
TYPES = ("string", "hash", "list", "set", "zset")


@pytest.fixture
def spill_pair(tmp_path):
    if not strata_available():
        pytest.skip("strata-server is not built")
    strata = ServerFactory("strata", tmp_path / "strata")
    oracle = ServerFactory("redis", tmp_path / "redis")
    try:
        yield (strata("--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-lru",
                      "--spill-dir", str(tmp_path / "spill")),
               oracle())
    finally:
        oracle.stop_all()
        strata.stop_all()


class SpillCommands:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def key(self):
        i = self.rng.randrange(KEYS)
        return f"{TYPES[i % 5]}:{i}".encode(), TYPES[i % 5]

    def pad(self):
        return b"%d-" % self.rng.randrange(1000) + b"x" * self.rng.randrange(600, 1000)

    def fill(self, i):
        key, kind = f"{TYPES[i % 5]}:{i}".encode(), TYPES[i % 5]
        return self.write(key, kind)

    def write(self, key, kind):
        rng, pad = self.rng, self.pad
        if kind == "string":
            return Op([b"SET", key, pad() * 3])
        if kind == "hash":
            return Op([b"HSET", key, b"f%d" % rng.randrange(4), pad(), b"g", pad()])
        if kind == "list":
            return Op([b"RPUSH", key, pad(), pad()])
        if kind == "set":
            return Op([b"SADD", key, pad(), pad()])
        return Op([b"ZADD", key, b"%d" % rng.randrange(100), pad(), b"%d" % rng.randrange(100), pad()])

    def read(self, key, kind):
        rng = self.rng
        if kind == "string":
            return rng.choice([Op([b"GET", key]), Op([b"STRLEN", key]), Op([b"GETRANGE", key, b"0", b"20"])])
        if kind == "hash":
            return rng.choice([Op([b"HGETALL", key], "unordered"), Op([b"HGET", key, b"g"]), Op([b"HLEN", key])])
        if kind == "list":
            return rng.choice([Op([b"LRANGE", key, b"0", b"-1"]), Op([b"LLEN", key]), Op([b"LINDEX", key, b"-1"])])
        if kind == "set":
            return rng.choice([Op([b"SMEMBERS", key], "unordered"), Op([b"SCARD", key])])
        return rng.choice([Op([b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]), Op([b"ZCARD", key])])

    def next(self):
        rng = self.rng
        key, kind = self.key()
        roll = rng.random()
        if roll < 0.45:
            return self.read(key, kind)
        if roll < 0.70:
            return self.write(key, kind)
        other, _ = self.key()
        return rng.choice([
            Op([b"EXISTS", key, other]),
            Op([b"TYPE", key]),
            Op([b"TTL", key], "ttl_s"),
            Op([b"EXPIRE", key, b"%d" % rng.randrange(1000, 100000)]),
            Op([b"PERSIST", key]),
            Op([b"DEL", key]),
            Op([b"UNLINK", key, other]),
            Op([b"RENAME", key, other]),
            Op([b"COPY", key, other, b"REPLACE"]),
            Op([b"APPEND", key, b"tail"]),
            Op([b"INCR", key]),
            Op([b"DBSIZE"]),
            Op([b"OBJECT", b"ENCODING", b"no-such-key"]),
        ])


def dump(conn):
    state = {}
    for item in conn.call(b"KEYS", b"*").value:
        key = item.value
        kind = conn.call(b"TYPE", key).text()
        read = {"string": [b"GET", key], "hash": [b"HGETALL", key], "list": [b"LRANGE", key, b"0", b"-1"],
                "set": [b"SMEMBERS", key], "zset": [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]}[kind]
        reply = conn.call(*read)
        value = reply.value
        if kind == "hash" and reply.kind == "*":
            pairs = [x.value for x in value]
            value = sorted(zip(pairs[::2], pairs[1::2]))
        elif kind in ("set",):
            value = sorted(x.value for x in value)
        elif kind in ("list", "zset"):
            value = [x.value for x in value]
        state[key] = (kind, value)
    return state


def assert_same_keyspace(s, r):
    strata_state, redis_state = dump(s), dump(r)
    assert strata_state.keys() == redis_state.keys()
    for key, (kind, value) in strata_state.items():
        assert (kind, value) == redis_state[key], key
        # Each key's TTL is read from both servers back to back (a whole dump can take seconds
        # under ASan), so they differ by at most the second in which each server applied it.
        ttl, r_ttl = s.call(b"TTL", key).value, r.call(b"TTL", key).value
        assert ttl == r_ttl if min(ttl, r_ttl) < 0 else abs(ttl - r_ttl) <= 2, (key, ttl, r_ttl)


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_sequence_with_spill_matches_redis_without_maxmemory(spill_pair, seed):
    strata_server, redis_server = spill_pair
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        differ = Differ(s, r, f"spill seed {seed}", f"test_random_sequence_with_spill_matches_redis_without_maxmemory[seed_{seed}]")
        generator = SpillCommands(seed)
        for i in range(KEYS):
            differ.run(generator.fill(i))
        for _ in range(OPS_PER_SEED):
            differ.run(generator.next())
        differ.run(Op([b"KEYS", b"*"], "keys"))
        differ.run(Op([b"SCAN", b"0", b"COUNT", b"100"], "scan"))
        spill = dict(line.split(":", 1) for line in s.call(b"INFO", b"spill").text().split("\r\n") if ":" in line)
        assert int(spill["spill_writes"]) > KEYS // 2, spill  # most keys went to disk at least once
        assert int(spill["spill_promotions"]) > 100, spill   # and many came back
        assert_same_keyspace(s, r)

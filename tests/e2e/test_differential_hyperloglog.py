"""Differential tests for HyperLogLog: PFADD, PFCOUNT and PFMERGE must give Redis 7.0's replies
and Redis's exact bytes.

Random element sets from a handful up to 100,000 elements (crossing the sparse-to-dense switch
at hll-sparse-max-bytes) go to strata and Debian's redis-server in the same PFADD batches; every
reply is compared, and so are the values themselves (GET), after PFADD, PFCOUNT (which rewrites
the cached count) and PFMERGE. Values copied from Redis into strata with SET count the same, and
damaged values get Redis's errors. `-k seed_N` reruns one sequence.
"""
import random

import pytest

from helpers import RespConnection, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Op

SEEDS = scaled_seeds(6)


def elements(rng, count):
    prefix = rng.choice([b"e", b"user:", b"", b"\xff"])
    return [prefix + b"%d" % rng.randrange(count * 3 + 1) for _ in range(count)]


def batches(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_hyperloglogs_match_redis(server_pair, seed):
    strata_server, redis_server = server_pair
    rng = random.Random(seed)
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        differ = Differ(s, r, f"hll seed {seed}", f"test_random_hyperloglogs_match_redis[seed_{seed}]")
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
        sparse_max = b"%d" % rng.choice([0, 500, 8000]) if seed % 2 else b"3000"
        for conn in (s, r):
            assert conn.call(b"CONFIG", b"SET", b"hll-sparse-max-bytes", sparse_max).kind == "+"
        keys = [b"h%d" % i for i in range(4)]
        sizes = [rng.choice([0, 1, 10, 300, 2000, 5000]) for _ in keys]
        sizes[rng.randrange(len(keys))] = 100_000 if seed < 2 else 20_000
        for key, size in zip(keys, sizes):
            items = elements(rng, size)
            differ.run(Op([b"PFADD", key]))
            for batch in batches(items, rng.choice([1, 7, 500, 1000]) if size <= 2000 else 1000):
                differ.run(Op([b"PFADD", key, *batch]))
                if rng.random() < 0.1:
                    differ.run(Op([b"GET", key]))
            differ.run(Op([b"GET", key]))
            differ.run(Op([b"PFCOUNT", key]))
            differ.run(Op([b"GET", key]))  # the cached count is now in the header
        differ.run(Op([b"PFCOUNT", *keys]))
        differ.run(Op([b"PFCOUNT", keys[0], b"missing", keys[1]]))
        differ.run(Op([b"PFMERGE", b"all", *keys]))
        differ.run(Op([b"GET", b"all"]))
        differ.run(Op([b"PFCOUNT", b"all"]))
        differ.run(Op([b"PFMERGE", keys[0], keys[1]]))
        differ.run(Op([b"GET", keys[0]]))
        differ.run(Op([b"PFMERGE", b"fresh"]))
        differ.run(Op([b"GET", b"fresh"]))
        differ.run(Op([b"PFADD", b"all", b"x", b"y"]))
        differ.run(Op([b"PFCOUNT", b"all"]))

        # Values copied from Redis count the same in strata; damaged ones fail the same way.
        for key in keys + [b"all"]:
            value = r.call(b"GET", key).value
            assert s.call(b"SET", b"copy", value).kind == "+"
            assert r.call(b"SET", b"copy", value).kind == "+"
            differ.run(Op([b"PFCOUNT", b"copy"]))
            if len(value) > 20:
                damaged = bytearray(value)
                for _ in range(rng.randint(1, 3)):
                    damaged[rng.randrange(16, len(damaged))] = rng.randrange(256)
                damaged[15] |= 0x80  # stale cache: PFCOUNT must read the registers
                for conn in (s, r):
                    assert conn.call(b"SET", b"bad", bytes(damaged)).kind == "+"
                differ.run(Op([b"PFCOUNT", b"bad"]))
                differ.run(Op([b"PFADD", b"bad", b"a", b"b", b"c"]))
                differ.run(Op([b"PFMERGE", b"bad2", b"bad"]))
        for bad in (b"HYLL", b"not an hll at all", b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + b"\x00" * 10):
            for conn in (s, r):
                assert conn.call(b"SET", b"bad", bad).kind == "+"
            differ.run(Op([b"PFADD", b"bad", b"a"]))
            differ.run(Op([b"PFCOUNT", b"bad"]))
            differ.run(Op([b"PFCOUNT", b"bad", keys[0]]))
            differ.run(Op([b"PFMERGE", b"dst", b"bad"]))
        differ.run(Op([b"LPUSH", b"list", b"x"]))
        differ.run(Op([b"PFADD", b"list", b"a"]))
        differ.run(Op([b"PFCOUNT", b"list"]))
        differ.run(Op([b"PFMERGE", b"list", keys[0]]))
        differ.run(Op([b"OBJECT", b"ENCODING", keys[0]]))
        differ.run(Op([b"PFADD"]))

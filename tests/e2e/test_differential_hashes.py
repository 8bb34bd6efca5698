"""Differential tests for hashes: every hash command as Redis 7.0 answers it, across the
listpack -> hashtable conversion (fields or values past hash-max-listpack-value, more fields
than hash-max-listpack-entries; small thresholds in some seeds so it happens constantly).

Replies are compared byte for byte, except HGETALL/HKEYS/HVALS, compared as multisets (a
hashtable's order is Redis's hash-table detail); at the end every hash must have the same
encoding, the same fields, and, while it is a listpack, the same order (insertion order, with a
replaced value keeping its place). HSCAN is iterated to completion. `-k seed_N` reruns one.
"""
import random

import pytest

from helpers import server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Op, differential_session, element_scan_all

SEEDS = scaled_seeds(20)
COMMANDS_PER_SEED = 1500
KEYS = [b"h1", b"h2", b"h3", b"str"]
FIELDS = [b"a", b"b", b"c", b"", b"n", b"f" * 64, b"g" * 65, b"\x00\xff", b"d", b"e"]
VALUES = [b"v", b"", b"1", b"-7", b"3.5", b"x" * 64, b"y" * 65, b"9223372036854775807", b"abc"]


class HashCommands:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def key(self):
        return self.rng.choice(KEYS[:3]) if self.rng.random() < 0.92 else self.rng.choice(KEYS)

    def field(self):
        # Mostly a few fields, sometimes one of many (so hashes grow past the entry limit).
        if self.rng.random() < 0.15:
            return b"many%d" % self.rng.randrange(300)
        return self.rng.choice(FIELDS)

    def next(self):
        r = self.rng
        k = self.key()
        choice = r.randrange(22)
        if choice < 6:
            pairs = [x for _ in range(r.randint(1, 4)) for x in (self.field(), r.choice(VALUES))]
            return Op([r.choice([b"HSET", b"HSET", b"HMSET"]), k, *pairs])
        if choice == 6:
            return Op([b"HSETNX", k, self.field(), r.choice(VALUES)])
        if choice in (7, 8):
            return Op([b"HGET", k, self.field()])
        if choice == 9:
            return Op([b"HMGET", k, *[self.field() for _ in range(r.randint(1, 4))]])
        if choice == 10:
            return Op([b"HDEL", k, *[self.field() for _ in range(r.randint(1, 3))]])
        if choice == 11:
            return Op([b"HLEN", k])
        if choice == 12:
            return Op([b"HSTRLEN", k, self.field()])
        if choice == 13:
            return Op([b"HEXISTS", k, self.field()])
        if choice == 14:
            return Op([b"HINCRBY", k, self.field(), r.choice([b"1", b"-5", b"x", b"9223372036854775807"])])
        if choice == 15:
            return Op([b"HINCRBYFLOAT", k, self.field(), r.choice([b"1.5", b"-2", b"x", b"1e308"])])
        if choice == 16:
            return Op([r.choice([b"HGETALL", b"HKEYS", b"HVALS"]), k], "unordered")
        if choice == 17:
            return Op([b"OBJECT", b"ENCODING", k])
        if choice == 18:
            return Op([b"DEL", k])
        if choice == 19:
            return Op([r.choice([b"RENAME", b"COPY"]), k, self.key()])
        if choice == 20:
            if r.random() < 0.6:
                args = [b"HRANDFIELD", k]
                if r.random() < 0.8:
                    args.append(r.choice([b"1", b"3", b"-4", b"0", b"500", b"x", b"-9223372036854775808",
                                          b"4611686018427387904"]))
                    if r.random() < 0.5:
                        args.append(r.choice([b"WITHVALUES", b"withvalues", b"bogus"]))
                return Op(args, "sample")
            return Op([b"HSCAN", k, r.choice([b"x", b"1.5"])])  # bad cursors only
        return Op([b"SET", b"str", b"v"])


def hscan_all(conn, key):
    return sorted(element_scan_all(conn, b"HSCAN", key, pairs=True))


def dump_hashes(conn):
    state = {}
    for item in conn.call(b"KEYS", b"*").value:
        key = item.value
        if conn.call(b"TYPE", key).text() != "hash":
            state[key] = None
            continue
        encoding = conn.call(b"OBJECT", b"ENCODING", key).value
        fields = [x.value for x in conn.call(b"HKEYS", key).value]
        state[key] = (encoding, fields if encoding == b"listpack" else sorted(fields), hscan_all(conn, key))
    return state


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_hash_sequence_matches_redis(server_pair, seed):
    entries = b"4" if seed % 3 == 1 else b"128"
    with differential_session(server_pair, f"hash seed {seed}", f"test_random_hash_sequence_matches_redis[seed_{seed}]",
                              resp3=seed % 4 == 0, config={b"hash-max-listpack-entries": entries}) as (s, r, differ):
        generator = HashCommands(seed)
        for _ in range(COMMANDS_PER_SEED):
            differ.run(generator.next())
        assert dump_hashes(s) == dump_hashes(r)

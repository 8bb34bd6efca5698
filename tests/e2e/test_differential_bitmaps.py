"""Differential tests for bitmaps and LCS: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
BITFIELD_RO and LCS must answer exactly as Redis 7.0 does.

Seeded random sequences (bad arguments mixed in, lists on some keys for WRONGTYPE, plain string
commands on the same keys) go to strata and to Debian's redis-server; every reply is compared
byte for byte, and at the end every key's bytes. BITFIELD runs every type width with all three
OVERFLOW modes at offsets that straddle bytes and the string's end. `-k seed_N` reruns one.
"""
import random

import pytest

from helpers import RespConnection, server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Op, differential_session

SEEDS = scaled_seeds(16)
COMMANDS_PER_SEED = 2000
KEYS = [b"b1", b"b2", b"b3", b"list"]
RANGE_VALUES = [b"0", b"1", b"2", b"-1", b"-2", b"-5", b"3", b"7", b"8", b"15", b"17", b"100", b"-100",
                b"9223372036854775807", b"-9223372036854775808", b"x"]


class BitmapCommands:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def key(self):
        return self.rng.choice(KEYS[:3]) if self.rng.random() < 0.93 else self.rng.choice(KEYS)

    def offset(self):
        r = self.rng
        roll = r.random()
        if roll < 0.8:
            return b"%d" % r.randrange(0, 200)
        if roll < 0.9:
            return b"%d" % r.randrange(0, 5000)
        # Past the 512 MB limit, or not an offset (a valid offset near it would build 512 MB strings).
        return r.choice([b"-1", b"x", b"4294967296", b"1.5", b"9223372036854775807"])

    def field_type(self):
        r = self.rng
        if r.random() < 0.95:
            return (b"i%d" if r.random() < 0.5 else b"u%d") % r.choice([1, 2, 3, 7, 8, 9, 13, 16, 31, 32, 33, 63]) \
                if r.random() < 0.9 else r.choice([b"i64", b"I8", b"U5"])
        return r.choice([b"u64", b"i65", b"i0", b"x8", b"u", b"i-1"])

    def field_offset(self):
        r = self.rng
        if r.random() < 0.25:
            return b"#%d" % r.randrange(0, 20)
        return self.offset()

    def field_value(self):
        r = self.rng
        return r.choice([b"0", b"1", b"-1", b"100", b"-100", b"127", b"128", b"255", b"256", b"-128", b"-129",
                         b"9223372036854775807", b"-9223372036854775808", b"4611686018427387904",
                         b"%d" % r.randrange(-300, 300), b"x"])

    def bitfield(self, read_only=False):
        r = self.rng
        args = [b"BITFIELD_RO" if read_only else b"BITFIELD", self.key()]
        for _ in range(r.randint(0, 4)):
            roll = r.random()
            if roll < 0.35 or read_only and roll < 0.95:
                args += [b"GET", self.field_type(), self.field_offset()]
            elif roll < 0.6:
                args += [b"SET", self.field_type(), self.field_offset(), self.field_value()]
            elif roll < 0.85:
                args += [b"INCRBY", self.field_type(), self.field_offset(), self.field_value()]
            elif roll < 0.98:
                args += [b"OVERFLOW", r.choice([b"WRAP", b"SAT", b"FAIL", b"fail", b"sat"])]
            else:
                args += [r.choice([b"OVERFLOW", b"GET", b"NOPE"])]
        return Op(args)

    def next(self):
        r = self.rng
        k = self.key()
        choice = r.randrange(30)
        if choice < 6:
            bit = b"1" if r.random() < 0.6 else r.choice([b"0", b"0", b"2", b"-1", b"x"])
            return Op([b"SETBIT", k, self.offset(), bit])
        if choice < 8:
            return Op([b"GETBIT", k, self.offset()])
        if choice < 11:
            args = [b"BITCOUNT", k]
            if r.random() < 0.75:
                args += [r.choice(RANGE_VALUES), r.choice(RANGE_VALUES)]
                if r.random() < 0.5:
                    args.append(r.choice([b"BIT", b"BYTE", b"bit", b"nope"]))
            elif r.random() < 0.2:
                args.append(r.choice(RANGE_VALUES))
            return Op(args)
        if choice < 14:
            args = [b"BITPOS", k, r.choice([b"0", b"1", b"1", b"0", b"2", b"x"])]
            n = r.randint(0, 3)
            if n >= 1:
                args.append(r.choice(RANGE_VALUES))
            if n >= 2:
                args.append(r.choice(RANGE_VALUES))
            if n >= 3:
                args.append(r.choice([b"BIT", b"BYTE", b"bit", b"nope"]))
            if r.random() < 0.02:
                args += [b"BIT", b"extra"]
            return Op(args)
        if choice < 16:
            op = r.choice([b"AND", b"OR", b"XOR", b"NOT", b"and", b"nand"])
            sources = [self.key() for _ in range(1 if op == b"NOT" and r.random() < 0.8 else r.randint(1, 3))]
            return Op([b"BITOP", op, self.key(), *sources])
        if choice < 21:
            return self.bitfield()
        if choice == 21:
            return self.bitfield(read_only=True)
        if choice < 24:
            args = [b"LCS", k, self.key()]
            for option in r.sample([b"LEN", b"IDX", b"WITHMATCHLEN", b"MINMATCHLEN"], r.randint(0, 3)):
                args.append(option)
                if option == b"MINMATCHLEN":
                    args.append(r.choice([b"0", b"1", b"2", b"3", b"-1", b"x"]))
            return Op(args)
        if choice == 24:
            value = b"".join(r.choice([b"a", b"b", b"c", b"ab", b"\x00", b"\xff"]) for _ in range(r.randint(0, 12)))
            return Op([b"SET", k, value])
        if choice == 25:
            return Op([b"APPEND", k, r.choice([b"x", b"\xff\x00", b"abc"])])
        if choice == 26:
            return Op([b"OBJECT", b"ENCODING", k])
        if choice == 27:
            return Op([b"DEL", k] if r.random() < 0.7 else [b"LPUSH", b"list", b"x"])
        if choice == 28:
            return Op([b"STRLEN", k])
        return Op([b"GET", k])


def dump_strings(conn):
    state = {}
    for item in conn.call(b"KEYS", b"*").value:
        key = item.value
        kind = conn.call(b"TYPE", key).text()
        state[key] = (kind, conn.call(b"GET", key).value if kind == "string" else None)
    return state


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_bitmap_sequence_matches_redis(server_pair, seed):
    with differential_session(server_pair, f"bitmap seed {seed}", f"test_random_bitmap_sequence_matches_redis[seed_{seed}]",
                              resp3=seed % 3 == 0) as (s, r, differ):
        generator = BitmapCommands(seed)
        for _ in range(COMMANDS_PER_SEED):
            differ.run(generator.next())
        assert dump_strings(s) == dump_strings(r)


def test_long_bitmaps_match_redis(server_pair):
    """Bitmaps of 100 KB: counts and searches over ranges that cross many words."""
    strata_server, redis_server = server_pair
    rng = random.Random(11)
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        differ = Differ(s, r, "long bitmaps", "test_long_bitmaps_match_redis")
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
        big = bytes(rng.choice([0, 0, 0xff, rng.randrange(256)]) for _ in range(100_000))
        differ.run(Op([b"SET", b"big", big]))
        differ.run(Op([b"SET", b"ones", b"\xff" * 50_000]))
        differ.run(Op([b"SETBIT", b"zeros", b"%d" % (8 * 60_000), b"1"]))
        for _ in range(500):
            key = rng.choice([b"big", b"ones", b"zeros"])
            a, b = rng.randrange(-900_000, 900_000), rng.randrange(-900_000, 900_000)
            unit = rng.choice([b"BIT", b"BYTE"])
            differ.run(rng.choice([
                Op([b"BITCOUNT", key, b"%d" % a, b"%d" % b, unit]),
                Op([b"BITPOS", key, rng.choice([b"0", b"1"]), b"%d" % a, b"%d" % b, unit]),
                Op([b"BITPOS", key, rng.choice([b"0", b"1"]), b"%d" % a]),
                Op([b"BITCOUNT", key]),
                Op([b"BITFIELD", key, b"GET", b"i64", b"%d" % abs(a), b"INCRBY", b"u63", b"%d" % abs(b), b"%d" % a]),
            ]))
        differ.run(Op([b"BITOP", b"XOR", b"x", b"big", b"ones", b"zeros"]))
        differ.run(Op([b"GET", b"x"]))
        differ.run(Op([b"LCS", b"big", b"ones", b"LEN"]))

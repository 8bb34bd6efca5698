"""Differential tests for SORT and SORT_RO: strata must answer as Redis 7.0 does.

Seeded random lists, sets and sorted sets (numbers in many spellings, words, empty strings) are
sorted with random option sets: numeric and ALPHA, ASC/DESC, LIMIT (negative and past the end),
BY weight keys and hash fields (some missing, some not numbers), BY a constant (no sorting),
GET # / keys / hash fields, STORE (then read back), SORT_RO. Orders Redis leaves to its hash
table (a set not sorted, ties among ALPHA weights) are compared as multisets.
`-k seed_N` reruns one sequence.
"""
import random

import pytest

from helpers import server_pair, scaled_seeds  # noqa: F401  (server_pair is a fixture)
from test_differential import Op, differential_session

SEEDS = scaled_seeds(12)
COMMANDS_PER_SEED = 400
NUMBERS = [b"1", b"2", b"10", b"-3", b"3.5", b"1e3", b" 7", b"0x10", b"inf", b"-inf", b"007", b"2.0", b"", b"-0"]
WORDS = [b"apple", b"Banana", b"cherry", b"a", b"b10", b"b9", b"zz", b"\xc3\xa9"]


class SortCommands:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.kinds = {}

    def elements(self):
        r = self.rng
        pool = NUMBERS if r.random() < 0.6 else (WORDS + NUMBERS if r.random() < 0.3 else WORDS)
        return [r.choice(pool) for _ in range(r.randint(0, 12))]

    def setup(self):
        """Fresh source collections and weight keys."""
        r = self.rng
        ops = [Op([b"DEL", b"src", b"dst"])]
        kind = r.choice(["list", "set", "zset", "missing", "string"])
        self.kinds["src"] = kind
        elements = self.elements()
        if kind == "list" and elements:
            ops.append(Op([b"RPUSH", b"src", *elements]))
        elif kind == "set" and elements:
            ops.append(Op([b"SADD", b"src", *elements]))
        elif kind == "zset" and elements:
            args = [b"ZADD", b"src"]
            for e in elements:
                args += [b"%d" % r.randrange(-5, 5), e]
            ops.append(Op(args))
        elif kind == "string":
            ops.append(Op([b"SET", b"src", b"x"]))
        # Weights: numbers for most elements, words for some; distinct ALPHA weights so a set's
        # hash order cannot decide ties between them.
        everything = set(NUMBERS + WORDS)
        for i, e in enumerate(sorted(everything)):
            roll = r.random()
            if roll < 0.6:
                ops.append(Op([b"SET", b"w_" + e, b"%d" % r.randrange(-20, 20)]))
            elif roll < 0.75:
                ops.append(Op([b"SET", b"w_" + e, b"word%02d" % i]))
            elif roll < 0.85:
                ops.append(Op([b"DEL", b"w_" + e]))
            else:
                ops.append(Op([b"HSET", b"w_" + e, b"f", b"%d" % i]))
            if r.random() < 0.7:
                ops.append(Op([b"HSET", b"h_" + e, b"f", b"%d" % r.randrange(100), b"name", b"n%02d" % i]))
        return ops

    def sort(self):
        r = self.rng
        read_only = r.random() < 0.2
        args = [b"SORT_RO" if read_only else b"SORT", b"src"]
        by = None
        options = []
        if r.random() < 0.4:
            by = r.choice([b"w_*", b"h_*->f", b"h_*->name", b"nosort", b"w_*->", b"*", b"#"])
            options.append([b"BY", by])
        if r.random() < 0.4:
            options.append([b"LIMIT", r.choice([b"0", b"1", b"3", b"-1", b"20", b"x"]),
                            r.choice([b"0", b"2", b"5", b"-1", b"100"])])
        for _ in range(r.choice([0, 0, 1, 2])):
            options.append([b"GET", r.choice([b"#", b"w_*", b"h_*->f", b"h_*->name", b"nosuch_*", b"const"])])
        if r.random() < 0.3:
            options.append([r.choice([b"ASC", b"DESC", b"desc"])])
        alpha = r.random() < 0.4
        if alpha:
            options.append([b"ALPHA"])
        store = not read_only and r.random() < 0.3
        if store or (read_only and r.random() < 0.05):
            options.append([b"STORE", b"dst"])
        if r.random() < 0.02:
            options.append([b"NOPE"])
        if alpha and by is not None and b"*" in by:
            # Redis sorts BY with LIMIT by a partial quicksort, which orders ties (missing or equal
            # ALPHA weights) its own way; strata keeps them in order. Documented in COMMANDS.md.
            options = [o for o in options if o[0] != b"LIMIT"]
        r.shuffle(options)
        for option in options:
            args += option
        kind = self.kinds["src"]
        no_sort = by is not None and b"*" not in by
        # Redis reads a set, and a sorted set it sorts, in hash-table order: what it leaves
        # in that order (a set not sorted, ties between ALPHA weights) has no order to compare.
        ties_in_hash_order = kind in ("set", "zset") and alpha and by is not None and not no_sort
        unordered = not store and ((kind == "set" and no_sort) or ties_in_hash_order)
        stored_unordered = store and kind in ("set", "zset") and alpha and by is not None and not no_sort
        if unordered and any(o[0] == b"LIMIT" for o in options):
            return Op(args, compare="sample"), store  # a LIMIT of a hash-ordered set: only its size
        return Op(args, compare="unordered" if unordered or stored_unordered else "exact"), store

    def next(self):
        op, store = self.sort()
        # A SORT that fails leaves dst as it was: start from none, so the LRANGE reads this one's.
        ops = [Op([b"DEL", b"dst"]), op] if store else [op]
        if store:
            ops += [Op([b"LRANGE", b"dst", b"0", b"-1"], compare="unordered" if op.compare == "unordered" else "exact"),
                    Op([b"TYPE", b"dst"])]
        return ops


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_random_sort_sequence_matches_redis(server_pair, seed):
    with differential_session(server_pair, f"sort seed {seed}", f"test_random_sort_sequence_matches_redis[seed_{seed}]",
                              resp3=seed % 3 == 0) as (s, r, differ):
        generator = SortCommands(seed)
        for i in range(COMMANDS_PER_SEED):
            if i % 10 == 0:
                for op in generator.setup():
                    differ.run(op)
            for op in generator.next():
                differ.run(op)

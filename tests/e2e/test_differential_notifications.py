"""Differential tests for keyspace notifications: the exact messages each command produces.

The random command sequences of the other differential tests (strings and keys, hashes, lists,
sets, sorted sets, bitmaps, SORT) run against strata and Debian's redis-server with
notify-keyspace-events set; a second connection on each server is PSUBSCRIBEd to every
notification channel. After each command the command connection PUBLISHes a marker, so the
messages between two markers are exactly what that command raised: they must be the same
messages, in the same order, on both servers (replies are compared too, as the other
differential tests do). "expired" messages are left out of the comparison, since when a key's
TTL runs out depends on the clock; expiry is checked by its own test in test_notifications.py.

Each family runs with every class on ("KEAnm": keyspace and keyevent channels, all of Redis's
classes, new-key and key-miss events); one more test runs mixed families with a random subset of
classes, so that each class letter is seen to filter. `-k seed_N` reruns one sequence.
"""
import random

import pytest

from helpers import RespConnection, scaled_seeds, server_pair  # noqa: F401  (server_pair is a fixture)
from notifications import MARKER_CHANNEL, NotificationStream
from test_differential import CommandGenerator, Differ
from test_differential_bitmaps import BitmapCommands
from test_differential_hashes import HashCommands
from test_differential_lists import ListCommands
from test_differential_sets import SetCommands
from test_differential_sort import SortCommands
from test_differential_zsets import ZSetCommands

SEEDS = scaled_seeds(3)
COMMANDS_PER_SEED = 600


class SortSequence:
    """SortCommands one Op at a time: fresh collections and weight keys before every tenth sort
    (as test_differential_sort runs them), then each sort with the ops that read its STORE back.

    Redis 7.0 reads a set, and a sorted set it sorts, in hash-table order (its hash seed is random
    per process): a SORT of one with BY weight keys looks them up in that order, and one whose
    result is compared unordered looks its GET keys up in it. Their events are compared as a
    multiset (`events = "unordered"`); those of a LIMIT over such an order (a result compared as a
    sample) look other keys up, so their "keymiss" events are left out (`events = "no_keymiss"`)."""

    def __init__(self, seed):
        self.generator = SortCommands(seed)
        self.pending = []
        self.sorts = 0

    def next(self):
        if not self.pending:
            if self.sorts % 10 == 0:
                self.pending += self.generator.setup()
            ops = self.generator.next()
            sort = next(op for op in ops if op.args[0] in (b"SORT", b"SORT_RO"))
            by_keys = any(a.upper() == b"BY" and b"*" in p for a, p in zip(sort.args, sort.args[1:]))
            hash_ordered = self.generator.kinds["src"] in ("set", "zset")
            if sort.compare == "sample":
                sort.events = "no_keymiss"
            elif (hash_ordered and by_keys) or sort.compare != "exact":
                sort.events = "unordered"
            self.pending += ops
            self.sorts += 1
        return self.pending.pop(0)


FAMILIES = {
    "keys": CommandGenerator,
    "hashes": HashCommands,
    "lists": ListCommands,
    "sets": SetCommands,
    "zsets": ZSetCommands,
    "bitmaps": BitmapCommands,
    "sort": SortSequence,
}
CLASS_LETTERS = "g$lshzxeKEmn"


def run_with_notifications(server_pair, classes, generators, commands, rerun):
    strata_server, redis_server = server_pair
    with RespConnection(strata_server.port) as s, RespConnection(redis_server.port) as r:
        for conn in (s, r):
            assert conn.call(b"FLUSHALL").kind == "+"
            assert conn.call(b"CONFIG", b"SET", b"notify-keyspace-events", classes).kind == "+"
        streams = NotificationStream(strata_server.port), NotificationStream(redis_server.port)
        try:
            differ = Differ(s, r, f"notify-keyspace-events {classes}", rerun)
            for i in range(commands):
                op = generators[i % len(generators)].next()
                differ.run(op)
                for conn in (s, r):
                    conn.call(b"PUBLISH", MARKER_CHANNEL, str(i + 1).encode())
                got, expected = streams[0].until_marker(), streams[1].until_marker()
                events = getattr(op, "events", "exact")
                if events == "no_keymiss":
                    got, expected = ([m for m in messages if b"keymiss" not in (m[1], m[0].rsplit(b":", 1)[-1])]
                                     for messages in (got, expected))
                if events != "exact":
                    got, expected = sorted(got), sorted(expected)
                assert got == expected, (
                    f"{rerun}: after command {i} {op} with notify-keyspace-events {classes!r}:\n"
                    f"  strata: {got}\n  redis:  {expected}")
        finally:
            for stream in streams:
                stream.close()
            for conn in (s, r):
                conn.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"")


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_every_command_raises_redis_notifications(server_pair, family, seed):
    run_with_notifications(server_pair, b"KEAnm", [FAMILIES[family](seed)], COMMANDS_PER_SEED,
                           f"-k 'test_every_command_raises_redis_notifications and {family} and seed_{seed}'")


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_each_class_letter_filters_as_in_redis(server_pair, seed):
    rng = random.Random(seed)
    letters = "".join(sorted(rng.sample(CLASS_LETTERS, rng.randrange(2, 7)), key=CLASS_LETTERS.index))
    generators = [make(seed) for _, make in sorted(FAMILIES.items())]
    run_with_notifications(server_pair, letters.encode(), generators, COMMANDS_PER_SEED,
                           f"-k 'test_each_class_letter_filters_as_in_redis and seed_{seed}'")

"""Keyspace notifications of the hash and set commands, as Redis 7.0 raises them.

Each scenario runs on strata and on Debian's redis-server (the `server_factory` fixture runs a
test once per server), so every expectation written here is what Redis does. A scenario's keys
are built with notifications off; then, for each command, the test reads what it raised up to a
marker the command connection publishes after it. Events are shown as (event, key) pairs from
the keyevent channels ("E"), in the order they arrived; the random sequences of
test_differential_notifications.py cover the rest.
"""
import time

from helpers import RespConnection, server_factory  # noqa: F401  (server_factory is a fixture)
from notifications import raised


# -- hashes ---------------------------------------------------------------------------------------


def test_hset_raises_new_before_hset_and_hset_even_when_nothing_changes(server_factory):
    server = server_factory()
    assert raised(server, "Ehn", [], [("HSET", "h", "f", "v"), ("HSET", "h", "f", "v"), ("HMSET", "h", "g", "w")]) == [
        [("new", "h"), ("hset", "h")],
        [("hset", "h")],
        [("hset", "h")],
    ]


def test_hsetnx_raises_hset_only_when_it_sets(server_factory):
    server = server_factory()
    assert raised(server, "Eh", [("HSET", "h", "f", "v")], [("HSETNX", "h", "f", "x"), ("HSETNX", "h", "g", "x")]) == [
        [],
        [("hset", "h")],
    ]


def test_hdel_of_the_last_field_raises_hdel_then_del(server_factory):
    server = server_factory()
    setup = [("HSET", "h", "a", "1", "b", "2")]
    commands = [("HDEL", "h", "missing"), ("HDEL", "h", "a"), ("HDEL", "h", "b", "c"), ("HDEL", "h", "b")]
    assert raised(server, "Ehg", setup, commands) == [
        [],
        [("hdel", "h")],
        [("hdel", "h"), ("del", "h")],
        [],
    ]


def test_hincrby_and_hincrbyfloat_raise_their_own_events_but_not_on_error(server_factory):
    server = server_factory()
    setup = [("HSET", "h", "word", "abc")]
    commands = [("HINCRBY", "h", "n", "5"), ("HINCRBYFLOAT", "h", "n", "1.5"), ("HINCRBY", "h", "word", "1"),
                ("HINCRBYFLOAT", "new", "x", "2")]
    assert raised(server, "Ehn", setup, commands) == [
        [("hincrby", "h")],
        [("hincrbyfloat", "h")],
        [],
        [("new", "new"), ("hincrbyfloat", "new")],
    ]


def test_hash_events_need_the_h_class_and_del_the_g_class(server_factory):
    server = server_factory()
    setup = [("HSET", "h", "a", "1")]
    commands = [("HSET", "h", "b", "2"), ("HDEL", "h", "a", "b")]
    assert raised(server, "Eg", setup, commands) == [[], [("del", "h")]]


# -- sets -----------------------------------------------------------------------------------------


def test_sadd_raises_sadd_only_when_it_adds(server_factory):
    server = server_factory()
    assert raised(server, "Esn", [], [("SADD", "s", "a", "b"), ("SADD", "s", "a"), ("SADD", "s", "a", "c")]) == [
        [("new", "s"), ("sadd", "s")],
        [],
        [("sadd", "s")],
    ]


def test_srem_of_the_last_member_raises_srem_then_del(server_factory):
    server = server_factory()
    setup = [("SADD", "s", "a", "b")]
    commands = [("SREM", "s", "x"), ("SREM", "s", "a"), ("SREM", "s", "b", "x"), ("SREM", "s", "b")]
    assert raised(server, "Esg", setup, commands) == [
        [],
        [("srem", "s")],
        [("srem", "s"), ("del", "s")],
        [],
    ]


def test_spop_of_the_whole_set_raises_spop_then_del(server_factory):
    server = server_factory()
    setup = [("SADD", "s", "a", "b", "c"), ("SADD", "one", "x")]
    commands = [("SPOP", "s", "0"), ("SPOP", "s", "1"), ("SPOP", "s", "10"), ("SPOP", "s"), ("SPOP", "one")]
    assert raised(server, "Esg", setup, commands) == [
        [],
        [("spop", "s")],
        [("spop", "s"), ("del", "s")],
        [],
        [("spop", "one"), ("del", "one")],
    ]


def test_smove_raises_srem_on_the_source_and_sadd_on_the_destination(server_factory):
    server = server_factory()
    setup = [("SADD", "src", "a", "b"), ("SADD", "has", "b")]
    commands = [
        ("SMOVE", "src", "dst", "a"),   # the destination is created
        ("SMOVE", "src", "has", "b"),   # the source empties; the destination has the member already
        ("SMOVE", "src", "dst", "a"),   # no source: nothing
        ("SMOVE", "dst", "dst", "a"),   # the same key: nothing
    ]
    assert raised(server, "Esgn", setup, commands) == [
        [("srem", "src"), ("new", "dst"), ("sadd", "dst")],
        [("srem", "src"), ("del", "src")],
        [],
        [],
    ]


def test_set_stores_raise_their_event_or_del_for_an_empty_result(server_factory):
    server = server_factory()
    setup = [("SADD", "a", "1", "2"), ("SADD", "b", "2", "3")]
    commands = [
        ("SINTERSTORE", "i", "a", "b"),
        ("SUNIONSTORE", "i", "a", "b"),
        ("SDIFFSTORE", "i", "a", "a"),  # empty: the destination goes
        ("SDIFFSTORE", "i", "a", "a"),  # empty, no destination: nothing
        ("SINTERSTORE", "i", "a", "missing"),
    ]
    assert raised(server, "Esgnm", setup, commands) == [
        [("new", "i"), ("sinterstore", "i")],
        [("sunionstore", "i")],
        [("del", "i")],
        [],
        [("keymiss", "missing")],  # a STORE reads its operands as SINTER does
    ]


def test_a_store_over_a_destination_whose_ttl_ran_out_creates_it(server_factory):
    server = server_factory()
    with RespConnection(server.port) as conn:
        conn.call("SADD", "i", "old")
        conn.call("PEXPIRE", "i", "1")
    time.sleep(0.05)  # past the TTL (the key may or may not have been reclaimed yet)
    assert raised(server, "Esn", [("SADD", "a", "1")], [("SUNIONSTORE", "i", "a")]) == [
        [("new", "i"), ("sunionstore", "i")],
    ]


def test_set_reads_raise_keymiss_for_a_missing_key(server_factory):
    server = server_factory()
    assert raised(server, "Em", [("SADD", "a", "1")], [("SINTER", "a", "missing"), ("SMEMBERS", "a")]) == [
        [("keymiss", "missing")],
        [],
    ]


def test_keyspace_channels_carry_the_same_events_per_key(server_factory):
    server = server_factory()
    assert raised(server, "Ksg", [("SADD", "s", "a")], [("SREM", "s", "a")]) == [[("srem", "s"), ("del", "s")]]

"""Keyspace notifications of the string, generic key, bitmap, HyperLogLog and SORT commands, as
Redis 7.0 raises them.

Each scenario runs on strata and on Debian's redis-server (the `server_factory` fixture runs a
test once per server), so every expectation written here is what Redis does. Events are (event,
key) pairs in arrival order, read with `raised` (test_notifications_hashes_sets.py): a scenario's
keys are built with notifications off, then each command's events are read up to a marker. A
command's own event comes after the "new" of a key it creates. The random command sequences of
test_differential_notifications.py cover the rest of these families.
"""
from helpers import RespConnection, server_factory  # noqa: F401  (server_factory is a fixture)
from notifications import MARKER_CHANNEL, NotificationStream, raised

# -- strings --------------------------------------------------------------------------------------


def test_set_with_an_expire_raises_set_then_expire_after_new(server_factory):
    server = server_factory()
    commands = [("SET", "k", "v", "EX", "100"), ("SET", "k", "w"), ("SET", "k", "x", "NX"),
                ("SET", "k", "y", "XX", "KEEPTTL"), ("SETEX", "k", "100", "z"), ("PSETEX", "p", "100000", "z")]
    assert raised(server, "E$gn", [], commands) == [
        [("new", "k"), ("set", "k"), ("expire", "k")],
        [("set", "k")],
        [],  # NX refused
        [("set", "k")],
        [("set", "k"), ("expire", "k")],
        [("new", "p"), ("set", "p"), ("expire", "p")],
    ]


def test_getset_and_set_get_raise_set_and_a_miss_before_it(server_factory):
    server = server_factory()
    commands = [("GETSET", "k", "v"), ("SET", "k", "w", "GET"), ("SETNX", "k", "x"), ("SETNX", "n", "x")]
    assert raised(server, "E$nm", [], commands) == [
        [("keymiss", "k"), ("new", "k"), ("set", "k")],
        [("set", "k")],
        [],
        [("new", "n"), ("set", "n")],
    ]


def test_getex_raises_expire_persist_or_del_by_its_option(server_factory):
    server = server_factory()
    commands = [("GETEX", "k", "EX", "100"), ("GETEX", "k", "PERSIST"), ("GETEX", "k", "PERSIST"), ("GETEX", "k"),
                ("GETEX", "k", "PXAT", "1"), ("GETEX", "k")]
    assert raised(server, "Egm", [("SET", "k", "v")], commands) == [
        [("expire", "k")],
        [("persist", "k")],
        [],  # no TTL to remove
        [],
        [("del", "k")],  # a time already past deletes the key
        [("keymiss", "k")],
    ]


def test_getdel_raises_del_only_for_a_key_it_deletes(server_factory):
    server = server_factory()
    assert raised(server, "Eg", [("SET", "k", "v")], [("GETDEL", "k"), ("GETDEL", "k")]) == [[("del", "k")], []]


def test_mset_raises_new_and_set_per_key_in_argument_order_and_a_refused_msetnx_nothing(server_factory):
    server = server_factory()
    commands = [("MSET", "a", "1", "b", "2", "a", "3"), ("MSETNX", "b", "1", "c", "2"), ("MSETNX", "c", "1", "d", "2")]
    assert raised(server, "E$n", [], commands) == [
        [("new", "a"), ("set", "a"), ("new", "b"), ("set", "b"), ("set", "a")],
        [],
        [("new", "c"), ("set", "c"), ("new", "d"), ("set", "d")],
    ]


def test_incr_family_raises_incrby_or_incrbyfloat_but_nothing_on_error(server_factory):
    server = server_factory()
    setup = [("SET", "word", "abc"), ("SET", "max", "9223372036854775807")]
    commands = [("INCR", "n"), ("DECR", "n"), ("INCRBY", "n", "5"), ("DECRBY", "n", "2"), ("INCRBYFLOAT", "n", "0.5"),
                ("INCR", "word"), ("INCR", "max"), ("INCRBYFLOAT", "f", "1")]
    assert raised(server, "E$n", setup, commands) == [
        [("new", "n"), ("incrby", "n")],
        [("incrby", "n")],
        [("incrby", "n")],
        [("incrby", "n")],
        [("incrbyfloat", "n")],
        [],
        [],
        [("new", "f"), ("incrbyfloat", "f")],
    ]


def test_append_always_raises_append_and_an_empty_setrange_nothing(server_factory):
    server = server_factory()
    commands = [("APPEND", "k", "ab"), ("APPEND", "k", ""), ("SETRANGE", "k", "1", "x"), ("SETRANGE", "k", "5", ""),
                ("SETRANGE", "none", "3", ""), ("SETRANGE", "r", "2", "x")]
    assert raised(server, "E$n", [], commands) == [
        [("new", "k"), ("append", "k")],
        [("append", "k")],
        [("setrange", "k")],
        [],
        [],  # creates nothing
        [("new", "r"), ("setrange", "r")],
    ]


# -- generic key commands -------------------------------------------------------------------------


def test_del_raises_one_del_per_key_it_deletes(server_factory):
    server = server_factory()
    setup = [("SET", "a", "1"), ("SET", "b", "2")]
    assert raised(server, "Eg", setup, [("DEL", "a", "missing", "b", "a"), ("UNLINK", "a")]) == [
        [("del", "a"), ("del", "b")],
        [],
    ]


def test_expire_raises_expire_and_a_time_in_the_past_del(server_factory):
    server = server_factory()
    commands = [("EXPIRE", "k", "100"), ("EXPIRE", "k", "200", "NX"), ("PEXPIRE", "k", "200000", "GT"),
                ("EXPIREAT", "missing", "1"), ("PEXPIREAT", "k", "1"), ("EXPIRE", "j", "-1")]
    assert raised(server, "Eg", [("SET", "k", "v"), ("SET", "j", "v")], commands) == [
        [("expire", "k")],
        [],  # NX: it has a TTL
        [("expire", "k")],
        [],
        [("del", "k")],
        [("del", "j")],
    ]


def test_persist_raises_persist_only_when_it_removes_a_ttl(server_factory):
    server = server_factory()
    setup = [("SET", "k", "v", "EX", "100"), ("SET", "plain", "v")]
    assert raised(server, "Eg", setup, [("PERSIST", "k"), ("PERSIST", "k"), ("PERSIST", "plain")]) == [
        [("persist", "k")], [], []]


def test_rename_raises_new_then_rename_from_then_rename_to_even_over_an_existing_key(server_factory):
    server = server_factory()
    setup = [("SET", "a", "1"), ("SET", "b", "2"), ("SET", "c", "3")]
    commands = [("RENAME", "a", "b"), ("RENAME", "b", "fresh"), ("RENAMENX", "fresh", "c"), ("RENAME", "c", "c"),
                ("RENAME", "missing", "x")]
    assert raised(server, "Egn", setup, commands) == [
        [("new", "b"), ("rename_from", "a"), ("rename_to", "b")],  # the old b is deleted, the key added
        [("new", "fresh"), ("rename_from", "b"), ("rename_to", "fresh")],
        [],  # c exists
        [],  # onto itself
        [],  # ERR no such key
    ]


def test_move_raises_new_in_the_target_db_then_move_from_and_move_to(server_factory):
    server = server_factory()
    with RespConnection(server.port) as conn:
        conn.call("SET", "k", "v")
        conn.call("CONFIG", "SET", "notify-keyspace-events", "Egn")
        stream = NotificationStream(server.port)
        try:
            assert conn.call("MOVE", "k", "3").py() == 1
            conn.call("PUBLISH", MARKER_CHANNEL, "1")
            assert stream.until_marker() == [(b"__keyevent@3__:new", b"k"), (b"__keyevent@0__:move_from", b"k"),
                                              (b"__keyevent@3__:move_to", b"k")]
        finally:
            stream.close()


def test_copy_raises_copy_to_after_new_even_when_it_replaces_and_a_missing_source_keymiss(server_factory):
    server = server_factory()
    setup = [("SET", "a", "1"), ("SET", "b", "2")]
    commands = [("COPY", "a", "b"), ("COPY", "a", "b", "REPLACE"), ("COPY", "a", "c"), ("COPY", "missing", "d")]
    assert raised(server, "Egnm", setup, commands) == [
        [],  # b exists
        [("new", "b"), ("copy_to", "b")],
        [("new", "c"), ("copy_to", "c")],
        [("keymiss", "missing")],
    ]


def test_reads_of_a_missing_key_raise_keymiss_but_object_and_writes_do_not(server_factory):
    server = server_factory()
    commands = [("TOUCH", "k", "missing"), ("EXISTS", "missing"), ("TYPE", "missing"), ("TTL", "missing"),
                ("OBJECT", "ENCODING", "missing"), ("EXPIRE", "missing", "10"), ("GET", "k")]
    assert raised(server, "Em", [("SET", "k", "v")], commands) == [
        [("keymiss", "missing")],
        [("keymiss", "missing")],
        [("keymiss", "missing")],
        [("keymiss", "missing")],
        [],
        [],
        [],
    ]


# -- bitmaps, HyperLogLog, SORT -------------------------------------------------------------------


def test_setbit_raises_setbit_only_when_a_bit_changes_or_the_string_grows(server_factory):
    server = server_factory()
    commands = [("SETBIT", "b", "7", "1"), ("SETBIT", "b", "7", "1"), ("SETBIT", "b", "3", "0"),
                ("SETBIT", "b", "20", "0"), ("SETBIT", "b", "7", "0")]
    assert raised(server, "E$n", [], commands) == [
        [("new", "b"), ("setbit", "b")],
        [],
        [],
        [("setbit", "b")],  # grown, though the bit stays 0
        [("setbit", "b")],
    ]


def test_bitfield_raises_one_setbit_unless_no_write_changed_anything(server_factory):
    server = server_factory()
    commands = [("BITFIELD", "f", "SET", "u8", "0", "5", "INCRBY", "u8", "0", "1"), ("BITFIELD", "f", "SET", "u8", "0", "6"),
                ("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "#3", "300"), ("BITFIELD", "f", "GET", "u8", "0")]
    assert raised(server, "E$n", [], commands) == [
        [("new", "f"), ("setbit", "f")],
        [],  # 6 already
        [],  # refused, though the string grew for it
        [],
    ]


def test_bitop_raises_set_or_for_an_empty_result_del(server_factory):
    server = server_factory()
    setup = [("SET", "x", "ab"), ("SET", "dest", "old")]
    commands = [("BITOP", "OR", "out", "x"), ("BITOP", "AND", "out", "x", "missing"), ("BITOP", "NOT", "dest", "missing"),
                ("BITOP", "NOT", "dest", "missing")]
    assert raised(server, "E$gn", setup, commands) == [
        [("new", "out"), ("set", "out")],
        [("set", "out")],
        [("del", "dest")],
        [],
    ]


def test_pfadd_raises_pfadd_when_a_register_changes_and_pfmerge_always(server_factory):
    server = server_factory()
    commands = [("PFADD", "h", "a", "b"), ("PFADD", "h", "a"), ("PFADD", "e"), ("PFMERGE", "m", "h"), ("PFMERGE", "m")]
    assert raised(server, "E$n", [], commands) == [
        [("new", "h"), ("pfadd", "h")],
        [],
        [("new", "e"), ("pfadd", "e")],
        [("new", "m"), ("pfadd", "m")],
        [("pfadd", "m")],
    ]


def test_sort_store_raises_sortstore_after_new_and_an_empty_result_del(server_factory):
    server = server_factory()
    setup = [("RPUSH", "src", "3", "1", "2"), ("SET", "taken", "x")]
    commands = [("SORT", "src", "STORE", "dst"), ("SORT", "src", "STORE", "taken"), ("SORT", "missing", "STORE", "dst"),
                ("SORT", "missing", "STORE", "dst")]
    assert raised(server, "Elgn", setup, commands) == [
        [("new", "dst"), ("sortstore", "dst")],
        [("sortstore", "taken")],  # a string replaced by the list: no "new"
        [("del", "dst")],
        [],
    ]


# -- classes --------------------------------------------------------------------------------------


def test_each_event_needs_its_class_and_nothing_is_raised_with_none(server_factory):
    server = server_factory()
    commands = [("SET", "k", "v", "EX", "100"), ("APPEND", "k", "x"), ("DEL", "k"), ("SET", "k", "v")]
    assert raised(server, "E$", [], commands) == [[("set", "k")], [("append", "k")], [], [("set", "k")]]
    assert raised(server, "Kg", [], commands) == [[("expire", "k")], [], [("del", "k")], []]
    assert raised(server, "g$", [], commands) == [[], [], [], []]  # neither K nor E: no channel
    assert raised(server, "", [], commands) == [[], [], [], []]

"""Read-through inside transactions and scripts, against a real SQLite source (DESIGN.md section 6).

A command queued in MULTI, or called by a script or a function, reads through a loader as it
would on its own: EXEC (or EVAL, FCALL) parks the client until the cold keys it needs are loaded,
then runs as one step and answers the loaded values. Other clients, on the same I/O thread too,
are served meanwhile; the source is queried once per key however many readers wait for it.

WATCH and loaders. A loader storing a key it has loaded is a change of that key, as any store is:
  - a client that WATCHes a cold loader key and then reads it in MULTI/EXEC gets nil from the
    first EXEC (its own read-through stored the key), and the retry succeeds from memory, so an
    optimistic-lock loop over a cold key pays one retry and one source query;
  - a read-through by another client, LOADER REFRESH and LOADER INVALIDATE of a key in memory
    dirty the watch too; invalidating a key that is not in memory changes nothing.
A write wins over a load in flight: neither the load that EXEC waits for, nor one another client
started, stores its (older) row over a value written by a transaction or a script.
A load that fails stops the whole step before anything runs: EXEC answers the LOADERR and ends
the transaction (as it does after EXECABORT), and a script whose declared key cannot be loaded
never starts.

Each test starts its own strata on loopback with a fresh SQLite file (test_loaders_sqlite's
fixture), so LOADER STATS counts only what the test did.
"""
import select

import pytest

from helpers import Reply, RespConnection, wait_until
from test_loaders_sqlite import config_for, shop_db  # noqa: F401  (shop_db is a fixture)

# A query that keeps SQLite busy for a while (most of a second here), so that clients can act
# while a load is in flight. Tests wait for states, never for times.
SLOW = "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT max(x) FROM c)"

LOADERS = [
    'loader product:{id} shop "SELECT name FROM products WHERE id = :id"',
    'loader item:{id} shop "SELECT name, price, note FROM products WHERE id = :id" type hash',
    f'loader slow:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 20000',
    f'loader failing:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 50',
]

GET_SCRIPT = "return redis.call('GET', KEYS[1])"
LIBRARY = "\n".join([
    "#!lua name=reads",
    "redis.register_function{function_name='get', callback=function(keys) return redis.call('GET', keys[1]) end,"
    " flags={'no-writes'}}",
    "redis.register_function{function_name='hgetall', callback=function(keys) return redis.call('HGETALL', keys[1]) end,"
    " flags={'no-writes'}}",
    "redis.register_function('get_then_set', function(keys, args)",
    "  local before = redis.call('GET', keys[1])",
    "  redis.call('SET', keys[1], args[1])",
    "  return {before, redis.call('GET', keys[1])}",
    "end)",
])


@pytest.fixture
def server(strata_factory, shop_db):  # noqa: F811  (shop_db is the imported fixture)
    return strata_factory(config=config_for(shop_db, *LOADERS))


@pytest.fixture
def connect(server):
    """Opens RESP connections to the server (closed after the test)."""
    opened = []

    def make():
        conn = RespConnection(server.port, timeout=30)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        conn.close()


def stats(conn, template):
    raw = conn.call("LOADER", "STATS", template).py()
    return {k.decode(): v.decode() for k, v in zip(raw[::2], raw[1::2])}


def wait_for_a_load_in_flight(conn, template, misses=1):
    """Until `misses` loads of the template have started (a miss is counted when a load starts)."""
    assert wait_until(lambda: int(stats(conn, template)["misses"]) >= misses, timeout=10), "no load started"


def wait_for_the_first_load_to_finish(conn, template):
    """Until the template's first load has ended. A load that a write superseded is not counted in
    `loads`, but its latency is recorded either way."""
    assert wait_until(lambda: stats(conn, template)["latency_p99_us"] != "0", timeout=20), "the load never ended"


def nothing_to_read(conn, seconds=0.05):
    """True if no reply byte is waiting on conn (buffered or on the socket)."""
    if len(conn.buf) > conn.pos:
        return False
    readable, _, _ = select.select([conn.sock], [], [], seconds)
    return not readable


def value(*items):
    """The py() form of an array reply of bulk strings (None for nil)."""
    return [None if x is None else x.encode() if isinstance(x, str) else x for x in items]


# ---------------------------------------------------------------------------------------------
# MULTI/EXEC

def test_exec_parks_until_a_cold_key_is_loaded_and_returns_the_loaded_value(server, connect):
    a, b, c = connect(), connect(), connect()  # dealt round-robin over 2 I/O threads: c shares a's
    a.send("MULTI")
    a.send("GET", "slow:7")
    a.send("EXEC")
    assert a.read_reply().text() == "OK"
    assert a.read_reply().text() == "QUEUED"
    wait_for_a_load_in_flight(b, "slow:{id}")
    # EXEC waits for the load without holding its I/O thread: both other clients are served.
    assert nothing_to_read(a)
    assert b.call("PING").text() == "PONG" and c.call("PING").text() == "PONG"
    assert a.read_reply().py() == value("product 7")
    st = stats(b, "slow:{id}")
    assert st["source_queries"] == "1" and st["loads"] == "1"
    assert a.call("GET", "slow:7").value == b"product 7"  # from memory now
    assert stats(b, "slow:{id}")["source_queries"] == "1"


def test_exec_reads_several_cold_keys_among_other_commands_in_order(server, connect):
    a = connect()
    replies = a.pipeline([["MULTI"], ["SET", "plain", "1"], ["GET", "product:1"], ["INCR", "plain"],
                          ["MGET", "product:2", "plain", "product:3"], ["STRLEN", "product:4"],
                          ["EXISTS", "product:5", "product:99999"], ["EXEC"]])
    assert [r.text() for r in replies[:7]] == ["OK"] + ["QUEUED"] * 6
    assert replies[7].py() == [b"OK", b"product 1", 2, value("product 2", "2", "product 3"), 9, 1]
    assert stats(a, "product:{id}")["loads"] == "5"


def test_exec_loads_a_cold_hash_key_once_for_several_hash_reads(server, connect):
    a = connect()
    replies = a.pipeline([["MULTI"], ["HGETALL", "item:4"], ["HGET", "item:4", "price"], ["HLEN", "item:4"],
                          ["HMGET", "item:4", "name", "nope"], ["EXEC"]])
    assert replies[-1].py() == [value("name", "product 4", "price", "40", "note", "note 4"), b"40", 3,
                                value("product 4", None)]
    st = stats(a, "item:{id}")
    assert st["source_queries"] == "1" and st["loads"] == "1"


def test_several_clients_execing_one_cold_key_share_one_source_query(server, connect):
    clients = [connect() for _ in range(6)]
    for conn in clients:
        conn.send_raw(b"MULTI\r\nGET slow:60\r\nEXEC\r\n")
    for conn in clients:
        assert conn.read_reply().text() == "OK" and conn.read_reply().text() == "QUEUED"
        assert conn.read_reply().py() == value("product 60")
    st = stats(clients[0], "slow:{id}")
    assert st["source_queries"] == "1" and st["loads"] == "1"


def test_a_missing_row_reads_as_nil_inside_exec(server, connect):
    a = connect()
    replies = a.pipeline([["MULTI"], ["GET", "product:99999"], ["HGETALL", "item:99999"], ["HGET", "item:99998", "name"],
                          ["EXISTS", "product:99997"], ["STRLEN", "product:99999"], ["EXEC"]])
    assert replies[-1].py() == [None, [], None, 0, 0]
    assert a.call("DBSIZE").value == 0  # nothing stored for a missing row


def test_a_failed_load_makes_exec_answer_loaderr_run_nothing_and_end_the_transaction(server, connect):
    """The keys a transaction reads are loaded before any queued command runs. If a load fails
    the transaction does not run, as after EXECABORT: EXEC answers the LOADERR, and, as every
    EXEC does, ends the transaction and forgets the watched keys."""
    a, b = connect(), connect()
    assert a.call("SET", "plain", "0").text() == "OK"
    assert a.call("WATCH", "plain").text() == "OK"
    replies = a.pipeline([["MULTI"], ["SET", "plain", "1"], ["GET", "failing:1"], ["INCR", "plain"], ["EXEC"]])
    assert replies[-1].is_error and replies[-1].text().startswith("LOADERR failing:{id}: timed out"), replies[-1]
    # Out of MULTI: commands run again instead of being queued.
    assert a.call("PING").text() == "PONG"
    assert a.call("GET", "plain").value == b"0"  # nothing ran
    # Nothing cached on error (KEYS, not EXISTS: EXISTS would read through and load again).
    assert a.call("KEYS", "failing:*").py() == []
    # The watch is gone: another client's write no longer aborts the next transaction.
    assert b.call("SET", "plain", "changed").text() == "OK"
    assert a.pipeline([["MULTI"], ["GET", "plain"], ["EXEC"]])[2].py() == [b"changed"]


# ---------------------------------------------------------------------------------------------
# Scripts and functions

def test_eval_reads_through_a_cold_key(server, connect):
    a = connect()
    assert a.call("EVAL", GET_SCRIPT, "1", "product:3").value == b"product 3"
    assert a.call("EVAL_RO", GET_SCRIPT, "1", "product:4").value == b"product 4"
    assert a.call("EVAL", "return redis.call('HGETALL', KEYS[1])", "1", "item:6").py() == \
        value("name", "product 6", "price", "60", "note", "note 6")
    assert a.call("EVAL", "return redis.call('MGET', KEYS[1], KEYS[2])", "2", "product:8", "product:9").py() == \
        value("product 8", "product 9")
    st = stats(a, "product:{id}")
    assert st["loads"] == "4" and st["misses"] == "4"
    assert a.call("EVAL", GET_SCRIPT, "1", "product:3").value == b"product 3"  # from memory
    assert stats(a, "product:{id}")["hits"] == "1"


def test_eval_parks_like_exec_and_the_source_is_queried_once(server, connect):
    a, b = connect(), connect()
    a.send("EVAL", GET_SCRIPT, "1", "slow:11")
    b.send("EVAL", GET_SCRIPT, "1", "slow:11")
    assert a.read_reply().value == b"product 11"
    assert b.read_reply().value == b"product 11"
    assert stats(a, "slow:{id}")["source_queries"] == "1"


def test_fcall_reads_through_a_cold_key(server, connect):
    a = connect()
    assert a.call("FUNCTION", "LOAD", LIBRARY).value == b"reads"
    assert a.call("FCALL", "get", "1", "product:4").value == b"product 4"
    assert a.call("FCALL_RO", "get", "1", "product:5").value == b"product 5"
    assert a.call("FCALL", "hgetall", "1", "item:6").py() == value("name", "product 6", "price", "60", "note", "note 6")
    # A function that reads a cold key and then writes it: the load comes first, the write wins.
    assert a.call("FCALL", "get_then_set", "1", "product:7", "written").py() == value("product 7", "written")
    assert a.call("GET", "product:7").value == b"written"
    assert stats(a, "product:{id}")["source_queries"] == "3"


def test_a_missing_row_reads_as_nil_inside_scripts(server, connect):
    a = connect()
    assert a.call("FUNCTION", "LOAD", LIBRARY).value == b"reads"
    assert a.call("EVAL", GET_SCRIPT, "1", "product:99999").value is None
    assert a.call("EVAL", "return redis.call('GET', KEYS[1]) == false", "1", "product:99998").value == 1
    assert a.call("EVAL", "return redis.call('HGETALL', KEYS[1])", "1", "item:99999").py() == []
    assert a.call("FCALL", "get", "1", "product:99997").value is None
    assert a.call("FCALL", "hgetall", "1", "item:99996").py() == []
    assert a.call("DBSIZE").value == 0


def test_a_failed_load_of_a_declared_key_means_the_script_does_not_run(server, connect):
    """A script's declared keys are loaded before it runs: if a load fails, the caller gets the
    LOADERR (as GET would answer it) and the script never starts, so redis.pcall cannot catch it
    and none of its writes happen."""
    a = connect()
    reply = a.call("EVAL", GET_SCRIPT, "1", "failing:2")
    assert reply.is_error and reply.text().startswith("LOADERR failing:{id}: timed out"), reply
    writes_then_reads = "redis.call('SET', KEYS[2], 'ran') return redis.pcall('GET', KEYS[1])"
    reply = a.call("EVAL", writes_then_reads, "2", "failing:3", "plain")
    assert reply.is_error and reply.text().startswith("LOADERR failing:{id}: timed out"), reply
    assert a.call("EXISTS", "plain").value == 0


# ---------------------------------------------------------------------------------------------
# WATCH

def test_watch_of_a_cold_loader_key_the_first_exec_fails_and_the_retry_succeeds(server, connect):
    a = connect()
    assert a.call("WATCH", "product:10").text() == "OK"  # WATCH itself loads nothing
    assert stats(a, "product:{id}")["misses"] == "0"
    replies = a.pipeline([["MULTI"], ["GET", "product:10"], ["EXEC"]])
    assert replies[2] == Reply("*", None)  # the load stored the key: a change
    st = stats(a, "product:{id}")
    assert st["loads"] == "1" and st["source_queries"] == "1"
    assert a.call("WATCH", "product:10").text() == "OK"
    replies = a.pipeline([["MULTI"], ["GET", "product:10"], ["EXEC"]])
    assert replies[2].py() == value("product 10")
    st = stats(a, "product:{id}")
    assert st["source_queries"] == "1" and st["hits"] == "1"  # the retry ran from memory


def test_watch_of_a_missing_row_is_not_dirtied_by_its_read(server, connect):
    a = connect()
    assert a.call("WATCH", "product:99999").text() == "OK"
    replies = a.pipeline([["MULTI"], ["GET", "product:99999"], ["EXEC"]])
    assert replies[2].py() == [None]  # nothing was stored


def test_a_read_through_by_another_client_dirties_the_watch_and_a_hit_does_not(server, connect):
    a, b = connect(), connect()
    assert a.call("WATCH", "product:20").text() == "OK"
    assert b.call("GET", "product:20").value == b"product 20"  # loads and stores the key
    assert a.pipeline([["MULTI"], ["GET", "product:20"], ["EXEC"]])[2].value is None
    assert a.call("WATCH", "product:20").text() == "OK"
    assert b.call("GET", "product:20").value == b"product 20"  # a hit: no change
    assert a.pipeline([["MULTI"], ["GET", "product:20"], ["EXEC"]])[2].py() == value("product 20")


def test_loader_invalidate_of_a_watched_key_dirties_the_watch(server, connect):
    a, b = connect(), connect()
    assert a.call("GET", "product:21").value == b"product 21"
    assert a.call("WATCH", "product:21").text() == "OK"
    assert b.call("LOADER", "INVALIDATE", "product:2[01]").value == 1
    assert a.pipeline([["MULTI"], ["PING"], ["EXEC"]])[2].value is None

    # A pattern that does not match the watched key leaves the watch clean.
    assert a.call("GET", "product:22").value == b"product 22"
    assert a.call("WATCH", "product:22").text() == "OK"
    assert b.call("LOADER", "INVALIDATE", "product:3*").value == 0
    assert a.pipeline([["MULTI"], ["GET", "product:22"], ["EXEC"]])[2].py() == value("product 22")


def test_loader_invalidate_that_drops_nothing_leaves_the_watch_clean(server, connect):
    """As in Redis, where a DEL or FLUSHALL that removes nothing does not dirty a WATCH."""
    a, b = connect(), connect()
    assert a.call("WATCH", "product:23").text() == "OK"  # never read: not in memory
    assert b.call("LOADER", "INVALIDATE", "product:23").value == 0
    assert a.pipeline([["MULTI"], ["PING"], ["EXEC"]])[2].py() == [b"PONG"]
    assert a.call("GET", "product:99999").value is None  # not found: not in memory either
    assert a.call("WATCH", "product:99999").text() == "OK"
    assert b.call("LOADER", "INVALIDATE", "product:9*").value == 0
    assert a.pipeline([["MULTI"], ["PING"], ["EXEC"]])[2].py() == [b"PONG"]


def test_loader_refresh_of_a_watched_key_dirties_the_watch(server, connect):
    a, b = connect(), connect()
    assert a.call("GET", "product:24").value == b"product 24"
    assert a.call("WATCH", "product:24").text() == "OK"
    assert b.call("LOADER", "REFRESH", "product:24").text() == "OK"
    assert a.pipeline([["MULTI"], ["PING"], ["EXEC"]])[2].value is None


def test_a_watched_write_while_exec_waits_for_a_load_aborts_the_transaction(server, connect):
    """EXEC checks the watched keys when it runs, after its loads: a write that lands while it is
    parked is seen, and none of the queued commands runs."""
    a, b = connect(), connect()
    assert a.call("SET", "w", "0").text() == "OK"
    assert a.call("WATCH", "w").text() == "OK"
    for args in (["MULTI"], ["GET", "slow:50"], ["INCR", "w"], ["EXEC"]):
        a.send(*args)
    assert [a.read_reply().text() for _ in range(3)] == ["OK", "QUEUED", "QUEUED"]
    wait_for_a_load_in_flight(b, "slow:{id}")
    assert b.call("SET", "w", "10").text() == "OK"
    assert a.read_reply().value is None
    assert a.call("GET", "w").value == b"10"


# ---------------------------------------------------------------------------------------------
# Writes against loads in flight

def test_a_write_inside_multi_is_not_overwritten_by_a_load_in_flight(server, connect):
    reader, a = connect(), connect()
    reader.send("GET", "slow:31")
    wait_for_a_load_in_flight(a, "slow:{id}")
    # Only a write is queued: EXEC has nothing to load and runs while the load is in flight.
    assert a.pipeline([["MULTI"], ["SET", "slow:31", "mine"], ["EXEC"]])[2].py() == [b"OK"]
    assert stats(a, "slow:{id}")["latency_p99_us"] == "0", "the load ended before the write: no race tested"
    # The waiting reader's GET is concurrent with the transaction: either answer is a valid order.
    assert reader.read_reply().value in (b"mine", b"product 31")
    wait_for_the_first_load_to_finish(a, "slow:{id}")
    assert a.pipeline([["MULTI"], ["GET", "slow:31"], ["EXEC"]])[2].py() == [b"mine"]
    assert a.call("GET", "slow:31").value == b"mine"
    assert stats(a, "slow:{id}")["source_queries"] == "1"


def test_a_write_inside_a_script_is_not_overwritten_by_a_load_in_flight(server, connect):
    reader, a = connect(), connect()
    reader.send("GET", "slow:35")
    wait_for_a_load_in_flight(a, "slow:{id}")
    assert a.call("EVAL", "return redis.call('SET', KEYS[1], 'mine')", "1", "slow:35").text() == "OK"
    assert reader.read_reply().value in (b"mine", b"product 35")
    wait_for_the_first_load_to_finish(a, "slow:{id}")
    assert a.call("EVAL", GET_SCRIPT, "1", "slow:35").value == b"mine"
    assert stats(a, "slow:{id}")["source_queries"] == "1"


def test_a_write_queued_after_a_read_through_in_the_same_transaction_wins(server, connect):
    a = connect()
    replies = a.pipeline([["MULTI"], ["GET", "slow:32"], ["SET", "slow:32", "after"], ["GET", "slow:32"], ["EXEC"]])
    assert replies[4].py() == [b"product 32", b"OK", b"after"]
    assert a.call("GET", "slow:32").value == b"after"


def test_a_write_by_another_client_while_exec_waits_is_what_exec_reads(server, connect):
    """The queued commands run after the load, as one step: a write that lands while EXEC waits
    comes before them, so the transaction reads the written value."""
    a, b = connect(), connect()
    for args in (["MULTI"], ["GET", "slow:33"], ["APPEND", "slow:33", "+tx"], ["EXEC"]):
        a.send(*args)
    assert [a.read_reply().text() for _ in range(3)] == ["OK", "QUEUED", "QUEUED"]
    wait_for_a_load_in_flight(b, "slow:{id}")
    assert b.call("SET", "slow:33", "other").text() == "OK"
    assert a.read_reply().py() == [b"other", 8]
    wait_for_the_first_load_to_finish(b, "slow:{id}")
    assert b.call("GET", "slow:33").value == b"other+tx"

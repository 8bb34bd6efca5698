"""Read-through loaders against SQLite, the embedded source (DESIGN.md section 6).

Each test builds its own database with Python's sqlite3 module, starts strata with a config that
points loaders at it, and checks behaviour from the outside: replies, TTLs, INFO/LOADER STATS
counters (the loader's own count of source queries is how SQLite loads are counted).
"""
import socket
import sqlite3
import threading
import time

import pytest

from helpers import concurrent_gets

# A query that takes a noticeable time in SQLite (a recursive count), so concurrent readers of a
# cold key arrive while its load is still running.
SLOW = "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT max(x) FROM c)"


@pytest.fixture
def shop_db(tmp_path):
    path = tmp_path / "shop.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price INTEGER, note TEXT)")
    db.executemany("INSERT INTO products VALUES (?, ?, ?, ?)",
                   [(i, f"product {i}", i * 10, None if i % 2 else f"note {i}") for i in range(1, 2001)])
    db.execute("CREATE TABLE secrets (v TEXT)")
    db.execute("INSERT INTO secrets VALUES ('do not leak')")
    db.commit()
    db.close()
    return path


def config_for(db_path, *loader_lines):
    return "\n".join([f"source shop sqlite:{db_path}", *loader_lines]) + "\n"


def stats(client, template):
    raw = client.execute_command("LOADER", "STATS", template)
    return {raw[i]: raw[i + 1] for i in range(0, len(raw), 2)} if isinstance(raw, list) else raw


def update_name(db_path, product_id, name):
    db = sqlite3.connect(db_path)
    db.execute("UPDATE products SET name = ? WHERE id = ?", (name, product_id))
    db.commit()
    db.close()


def test_a_cold_key_is_loaded_once_and_then_served_from_memory(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" ttl 60'))
    r = server.client()
    assert r.get("product:7") == "product 7"
    assert r.get("product:7") == "product 7"
    s = stats(r, "product:{id}")
    assert s["source_queries"] == "1" and s["loads"] == "1"
    assert s["misses"] == "1" and s["hits"] == "1"
    assert r.dbsize() == 1


def test_500_concurrent_readers_of_one_cold_key_cause_exactly_one_source_query(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, f'loader product:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 20000'))
    concurrent_gets(server.port, "product:42", b"product 42")
    st = stats(server.client(), "product:{id}")
    assert st["source_queries"] == "1"
    assert st["loads"] == "1"
    # Most readers arrived while the load ran and joined it instead of starting their own.
    assert int(st["coalesced"]) > 0
    assert int(st["coalesced"]) + int(st["hits"]) == 499


def test_mget_of_100_cold_keys_costs_one_source_query(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    keys = [f"product:{i}" for i in range(1, 101)]
    assert r.mget(keys) == [f"product {i}" for i in range(1, 101)]
    assert stats(r, "product:{id}")["source_queries"] == "1"
    assert r.dbsize() == 100


def test_hash_loader_makes_non_null_columns_fields_and_hash_commands_read_through(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader item:{id} shop "SELECT name, price, note FROM products WHERE id = :id" type hash'))
    r = server.client()
    assert r.hgetall("item:4") == {"name": "product 4", "price": "40", "note": "note 4"}
    assert r.hgetall("item:5") == {"name": "product 5", "price": "50"}  # NULL note: no field
    assert r.hget("item:6", "price") == "60"
    assert r.hlen("item:8") == 3
    assert r.hexists("item:9", "note") == 0
    assert r.hmget("item:10", "name", "nope") == ["product 10", None]
    assert sorted(r.hkeys("item:12")) == ["name", "note", "price"]
    assert r.hgetall("item:99999") == {}
    assert r.type("item:4") == "hash"


def test_ttl_jitter_spreads_the_expiry_of_keys_loaded_together(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" ttl 100 jitter 50'))
    r = server.client()
    keys = [f"product:{i}" for i in range(1, 1001)]
    assert len(r.mget(keys)) == 1000
    ttls = [r.pttl(k) for k in keys]
    assert all(99_000 <= t <= 150_000 for t in ttls), (min(ttls), max(ttls))
    # Spread over the range, not bunched: every fifth of [100 s, 150 s] holds some keys.
    buckets = {min(4, (t - 100_000) // 10_000) for t in ttls if t >= 100_000}
    assert buckets == {0, 1, 2, 3, 4}


def test_stale_while_revalidate_serves_the_old_value_and_refreshes_once(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" ttl 1 stale 30'))
    r = server.client()
    assert r.get("product:3") == "product 3"
    update_name(shop_db, 3, "renamed 3")
    time.sleep(1.3)  # past the TTL, inside the stale window
    replies = [r.get("product:3") for _ in range(20)]
    assert replies[0] == "product 3"  # the old value, at once
    deadline = time.monotonic() + 5
    while r.get("product:3") != "renamed 3":
        assert time.monotonic() < deadline, "the refresh never stored the new value"
        time.sleep(0.05)
    s = stats(r, "product:{id}")
    assert s["refreshes"] == "1", s
    assert s["source_queries"] == "2"
    assert int(s["stale_served"]) >= 1


def test_after_the_stale_window_a_read_waits_for_a_fresh_load(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" ttl 1'))
    r = server.client()
    assert r.get("product:3") == "product 3"
    update_name(shop_db, 3, "renamed 3")
    time.sleep(1.2)
    assert r.get("product:3") == "renamed 3"


def test_negative_cache_answers_nil_without_a_query_and_is_invisible(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" negative-ttl 60'))
    r = server.client()
    assert r.get("product:999999") is None
    assert r.get("product:999999") is None
    s = stats(r, "product:{id}")
    assert s["source_queries"] == "1" and s["negative_hits"] == "1"
    assert r.exists("product:999999") == 0
    assert r.keys("*") == []
    assert list(r.scan_iter()) == []
    assert r.dbsize() == 0
    assert stats(r, "product:{id}")["source_queries"] == "1"


def test_invalidation_drops_negative_entries_so_a_new_row_is_seen(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" negative-ttl 60'))
    r = server.client()
    assert r.get("product:5000") is None
    db = sqlite3.connect(shop_db)
    db.execute("INSERT INTO products VALUES (5000, 'new product', 1, NULL)")
    db.commit()
    db.close()
    assert r.get("product:5000") is None  # still remembered as missing
    assert r.execute_command("LOADER", "INVALIDATE", "product:5*") == 0
    assert r.get("product:5000") == "new product"


def test_loader_invalidate_drops_cached_values_and_the_next_read_loads_again(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    assert r.mget(["product:1", "product:2", "product:3"]) == ["product 1", "product 2", "product 3"]
    update_name(shop_db, 2, "renamed 2")
    assert r.get("product:2") == "product 2"  # cached
    assert r.execute_command("LOADER", "INVALIDATE", "product:[12]") == 2
    assert r.dbsize() == 1
    assert r.get("product:2") == "renamed 2"


def test_loader_refresh_reloads_a_key_now(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    assert r.get("product:9") == "product 9"
    update_name(shop_db, 9, "renamed 9")
    assert r.execute_command("LOADER", "REFRESH", "product:9") == "OK"
    assert r.get("product:9") == "renamed 9"
    with pytest.raises(Exception, match="no loader matches key"):
        r.execute_command("LOADER", "REFRESH", "other:1")


def test_sql_injection_through_a_key_reaches_sqlite_only_as_a_bound_value(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    assert r.get("product:1' OR '1'='1") is None
    assert r.get("product:1 UNION SELECT v FROM secrets") is None
    assert r.get("product:1; DROP TABLE products") is None
    db = sqlite3.connect(shop_db)
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] == 2000
    db.close()


def test_writes_are_cache_aside_and_do_not_touch_the_source(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    assert r.set("product:1", "local value")
    assert r.get("product:1") == "local value"
    assert r.delete("product:1") == 1
    assert r.get("product:1") == "product 1"  # read through again after DEL
    db = sqlite3.connect(shop_db)
    assert db.execute("SELECT name FROM products WHERE id = 1").fetchone()[0] == "product 1"
    db.close()


def test_a_missing_database_fails_loads_clearly_and_recovers_when_it_appears(strata_factory, tmp_path, shop_db):
    missing = tmp_path / "later.db"
    server = strata_factory(config=config_for(
        missing, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    with pytest.raises(Exception, match=r"LOADERR product:\{id\}: "):
        r.get("product:1")
    assert r.dbsize() == 0  # nothing cached on error
    missing.write_bytes(shop_db.read_bytes())
    assert r.get("product:1") == "product 1"


def test_a_timeout_is_reported_as_loaderr_and_counted(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, f'loader product:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 50'))
    r = server.client()
    started = time.monotonic()
    with pytest.raises(Exception, match=r"LOADERR product:\{id\}: timed out"):
        r.get("product:1")
    assert time.monotonic() - started < 2
    s = stats(r, "product:{id}")
    assert s["timeouts"] == "1" and s["errors"] == "1"


def test_a_client_that_disconnects_while_waiting_leaves_no_trace(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, f'loader product:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 20000'))
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"GET product:11\r\n")
    s.close()
    r = server.client()
    deadline = time.monotonic() + 15
    while stats(r, "product:{id}")["loads"] != "1":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert r.get("product:11") == "product 11"
    assert len(r.client_list()) == 1


def test_the_pipeline_behind_a_waiting_command_keeps_its_order(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    pipe = r.pipeline(transaction=False)
    pipe.set("before", "1")
    pipe.get("product:21")
    pipe.get("before")
    pipe.mget("product:22", "before", "product:23")
    pipe.incr("before")
    assert pipe.execute() == [True, "product 21", "1", ["product 22", "1", "product 23"], 2]


def test_info_has_a_loaders_section(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id"'))
    r = server.client()
    r.get("product:1")
    info = r.info("loaders")  # redis-py parses "loader0:k=v,k=v" lines into dicts
    assert info["loaders"] == 1 and info["sources"] == 1
    fields = info["loader0"]
    for name in ("loads", "hits", "misses", "coalesced", "stale_served", "negative_hits", "errors", "timeouts",
                 "breaker", "latency_p50_us", "latency_p99_us"):
        assert name in fields
    assert fields["loads"] == 1 and fields["breaker"] == "closed"


def test_a_bad_loader_line_stops_start_up_naming_file_and_line(tmp_path, shop_db):
    import subprocess
    from conftest import STRATA_SERVER
    conf = tmp_path / "bad.conf"
    conf.write_text(f"source shop sqlite:{shop_db}\nloader product:{{id}} shop \"SELECT name FROM products WHERE id = :nope\"\n")
    result = subprocess.run([str(STRATA_SERVER), str(conf), "--port", "0"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "bad.conf:2" in result.stdout + result.stderr
    assert ":nope" in result.stdout + result.stderr


def test_refresh_ahead_reloads_a_key_read_near_the_end_of_its_ttl(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" ttl 4 refresh-ahead 50'))
    r = server.client()
    assert r.get("product:3") == "product 3"
    update_name(shop_db, 3, "renamed 3")
    assert r.get("product:3") == "product 3"  # early in its TTL: fresh, no refresh
    assert stats(r, "product:{id}")["refreshes"] == "0"
    time.sleep(2.3)  # under half of the TTL left
    assert r.get("product:3") == "product 3"  # answered at once from memory...
    deadline = time.monotonic() + 1.5
    while r.get("product:3") != "renamed 3":  # ...while the refresh runs, before the key expires
        assert time.monotonic() < deadline, "refresh-ahead did not reload the key in time"
        time.sleep(0.02)
    assert r.pttl("product:3") > 3000  # a new full TTL
    s = stats(r, "product:{id}")
    assert s["refreshes"] == "1" and s["misses"] == "1"


def wait_for_a_load_in_flight(r, template="product:{id}"):
    deadline = time.monotonic() + 10
    while stats(r, template)["misses"] != "1":
        assert time.monotonic() < deadline, "no load started"
        time.sleep(0.01)


def test_a_write_during_a_load_wins_over_the_loaded_value(strata_factory, shop_db):
    """Cache-aside writes: a SET that lands while a load of the key is in flight is what readers
    see afterwards; the load's (older) answer is not stored over it."""
    server = strata_factory(config=config_for(
        shop_db, f'loader product:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 20000'))
    reader = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    reader.sendall(b"GET product:31\r\n")
    r = server.client()
    wait_for_a_load_in_flight(r)
    assert r.set("product:31", "written while loading")
    data = b""
    while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2:
        data += reader.recv(256)
    reader.close()
    assert data == b"$21\r\nwritten while loading\r\n"
    assert r.get("product:31") == "written while loading"


def test_a_del_during_a_load_makes_the_waiting_reader_load_afresh(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, f'loader product:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 20000'))
    reader = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    reader.sendall(b"GET product:32\r\n")
    r = server.client()
    wait_for_a_load_in_flight(r)
    # The key is not in memory (it is loading), so DEL changes nothing and is not a write: the
    # reader gets the loaded row. (A DEL that does delete supersedes the load; see the SET test.)
    assert r.delete("product:32") == 0
    data = b""
    while data.count(b"\r\n") < 2:
        data += reader.recv(256)
    reader.close()
    assert data == b"$10\r\nproduct 32\r\n"  # not nil: the row exists
    assert stats(r, "product:{id}")["source_queries"] == "1"


def test_getex_of_a_stale_key_serves_it_and_refreshes_it(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, 'loader product:{id} shop "SELECT name FROM products WHERE id = :id" ttl 1 stale 30'))
    r = server.client()
    assert r.get("product:41") == "product 41"
    update_name(shop_db, 41, "renamed 41")
    time.sleep(1.2)
    assert r.getex("product:41") == "product 41"  # stale, at once
    deadline = time.monotonic() + 5
    while r.get("product:41") != "renamed 41":
        assert time.monotonic() < deadline, "GETEX's refresh was never stored"
        time.sleep(0.05)


def test_a_del_of_a_missing_key_does_not_restart_a_load_in_flight(strata_factory, shop_db):
    server = strata_factory(config=config_for(
        shop_db, f'loader product:{{id}} shop "SELECT name FROM products WHERE id = :id AND {SLOW} > 0" timeout 20000'))
    reader = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    reader.sendall(b"GET product:33\r\n")
    r = server.client()
    wait_for_a_load_in_flight(r)
    assert r.delete("product:33") == 0  # nothing there to delete: not a write
    data = b""
    while data.count(b"\r\n") < 2:
        data += reader.recv(256)
    reader.close()
    assert data == b"$10\r\nproduct 33\r\n"
    assert stats(r, "product:{id}")["source_queries"] == "1"

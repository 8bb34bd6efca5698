"""Read-through loaders against a real PostgreSQL 15 that the test starts itself
(tests/pg_harness/pg-harness.sh: initdb in a temporary directory, loopback only, stopped by the
test). Source queries are counted with pg_stat_statements.
"""
import time

import pytest

from helpers import concurrent_gets
from sources import Postgres


class CountingPostgres(Postgres):
    """The module's PostgreSQL, which counts the executions of source queries."""

    def calls(self, fragment):
        """Executions of statements whose text contains `fragment` (pg_stat_statements)."""
        fragment = fragment.replace("'", "''")
        value = self.sql(f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%{fragment}%' "
                         "AND query NOT LIKE '%pg_stat_statements%'")
        return int(value)


@pytest.fixture(scope="module")
def postgres():
    pg = CountingPostgres()
    pg.start()
    pg.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.sql("CREATE TABLE products (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2), note text)")
    pg.sql("INSERT INTO products SELECT i, 'product ' || i, i * 1.5, CASE WHEN i % 2 = 0 THEN 'note ' || i END "
           "FROM generate_series(1, 2000) AS i")
    yield pg
    pg.destroy()


@pytest.fixture
def pg(postgres):
    postgres.start()  # a test may have stopped it
    postgres.sql("SELECT pg_stat_statements_reset()")
    yield postgres


def config(pg, *loaders, source_options=""):
    return "\n".join([f"source pg {pg.url} {source_options}".rstrip(), *loaders]) + "\n"


def test_500_concurrent_readers_of_one_cold_key_cause_one_postgres_query(strata_factory, pg):
    server = strata_factory(config=config(
        pg, 'loader slow:{id} pg "SELECT name FROM products, pg_sleep(0.3) WHERE id = :id /* coalesce-test */" timeout 10000'))
    concurrent_gets(server.port, "slow:42", b"product 42")
    assert pg.calls("coalesce-test") == 1


def test_mget_of_100_cold_keys_is_one_batched_query(strata_factory, pg):
    server = strata_factory(config=config(pg, 'loader p:{id} pg "SELECT name FROM products WHERE id = :id /* mget-test */"'))
    r = server.client()
    keys = [f"p:{i}" for i in range(1, 101)]
    assert r.mget(keys) == [f"product {i}" for i in range(1, 101)]
    assert pg.calls("mget-test") == 1


def test_hash_loader_from_postgres(strata_factory, pg):
    server = strata_factory(config=config(
        pg, 'loader item:{id} pg "SELECT name, price, note FROM products WHERE id = :id" type hash'))
    r = server.client()
    assert r.hgetall("item:4") == {"name": "product 4", "price": "6.00", "note": "note 4"}
    assert r.hgetall("item:5") == {"name": "product 5", "price": "7.50"}
    assert r.hget("item:99999", "name") is None


def test_invalid_input_reads_as_not_found_and_is_not_a_failure(strata_factory, pg):
    server = strata_factory(config=config(pg, 'loader p:{id} pg "SELECT name FROM products WHERE id = :id" negative-ttl 30'))
    r = server.client()
    assert r.get("p:abc") is None
    assert r.mget(["p:1", "p:abc", "p:2"]) == ["product 1", None, "product 2"]
    stats = r.execute_command("LOADER", "STATS", "p:{id}")
    stats = dict(zip(stats[::2], stats[1::2]))
    assert stats["errors"] == "0" and stats["breaker"] == "closed"


def test_sql_injection_through_a_key_is_only_ever_a_bound_value(strata_factory, pg):
    server = strata_factory(config=config(pg, 'loader p:{id} pg "SELECT name FROM products WHERE id = :id"',
                                          'loader n:{name} pg "SELECT id::text FROM products WHERE name = :name"'))
    r = server.client()
    assert r.get("p:1' OR '1'='1") is None
    assert r.get("n:x'; DROP TABLE products; --") is None
    assert r.get("n:product 7") == "7"
    assert pg.sql("SELECT count(*) FROM products") == "2000"


def test_notify_drops_the_key_and_the_next_read_loads_the_new_row(strata_factory, pg):
    server = strata_factory(config=config(
        pg, 'loader p:{id} pg "SELECT name FROM products WHERE id = :id"', source_options="notify-channel strata_inval"))
    r = server.client()
    assert r.get("p:10") == "product 10"
    pg.sql("UPDATE products SET name = 'renamed 10' WHERE id = 10")
    assert r.get("p:10") == "product 10"  # cached
    pg.sql("NOTIFY strata_inval, 'p:10'")
    deadline = time.monotonic() + 10
    while r.keys("p:10"):  # KEYS never reads through (EXISTS would load the key again)
        assert time.monotonic() < deadline, "NOTIFY did not drop the key"
        time.sleep(0.05)
    assert r.get("p:10") == "renamed 10"
    pg.sql("UPDATE products SET name = 'product 10' WHERE id = 10")
    # JSON payloads: a pattern.
    assert r.mget(["p:11", "p:12"]) == ["product 11", "product 12"]
    pg.sql("""NOTIFY strata_inval, '{"pattern": "p:1[12]"}'""")
    deadline = time.monotonic() + 10
    while r.keys("p:1[12]"):
        assert time.monotonic() < deadline, "NOTIFY with a pattern did not drop the keys"
        time.sleep(0.05)


def test_postgres_stopped_serves_stale_values_and_fails_cold_keys_clearly(strata_factory, pg):
    server = strata_factory(config=config(
        pg, 'loader p:{id} pg "SELECT name FROM products WHERE id = :id" ttl 1 stale 60 timeout 1000'))
    r = server.client()
    assert r.get("p:20") == "product 20"
    pg.stop()
    try:
        time.sleep(1.2)  # p:20 is stale now; its refresh will fail
        assert r.get("p:20") == "product 20"  # stale-if-error: still served
        time.sleep(0.3)
        assert r.get("p:20") == "product 20"
        started = time.monotonic()
        with pytest.raises(Exception, match=r"LOADERR p:\{id\}: "):
            r.get("p:21")  # nothing stale to fall back on
        assert time.monotonic() - started < 1.5
        assert r.keys("p:21") == []  # nothing cached on error (KEYS does not read through)
        err = None
        try:
            r.get("p:22")
        except Exception as e:
            err = str(e)
        assert err is not None and "postgres@" not in err and "password" not in err.lower()
    finally:
        pg.start()


def test_postgres_down_at_start_then_up_recovers_without_a_restart(strata_factory, pg):
    pg.stop()
    server = strata_factory(config=config(pg, 'loader p:{id} pg "SELECT name FROM products WHERE id = :id" timeout 1000'))
    r = server.client()
    with pytest.raises(Exception, match=r"LOADERR"):
        r.get("p:30")
    pg.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            assert r.get("p:30") == "product 30"
            break
        except Exception:
            assert time.monotonic() < deadline, "loads did not recover after PostgreSQL came up"
            time.sleep(0.2)

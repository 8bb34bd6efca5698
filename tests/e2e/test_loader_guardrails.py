"""Guardrails for sensitive data in loaders (issue 14), against SQLite:

- `redact COLUMN[,COLUMN]` on a loader: those columns of a hash loader's row, or top-level members
  of a string loader's JSON object, are dropped before the value is stored: they never enter the
  cache (nor the spill, nor a reply).
- `max-ttl SECONDS` on a loader, and `key-family-max-ttl NAME SECONDS` on a key family: no loader
  ttl, jitter, stale window, negative-cache time, client SET/EXPIRE/PERSIST or new key of the
  family lives longer than the cap.

PostgreSQL and HTTP sources are covered in test_loader_guardrails_sources.py.
"""
import sqlite3

import pytest
import redis


@pytest.fixture
def people_db(tmp_path):
    path = tmp_path / "people.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, password_hash TEXT, card TEXT)")
    db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)",
                   [(i, f"user {i}", f"u{i}@example.com", f"$2b$12$secret-hash-{i}", f"4111-1111-1111-{i:04d}")
                    for i in range(1, 51)])
    db.commit()
    db.close()
    return path


def config(db_path, *lines):
    return "\n".join([f"source people sqlite:{db_path}", *lines]) + "\n"


def pttl_seconds(client, key):
    return client.pttl(key) / 1000


# ---------------------------------------------------------------------------------------------
# redact

def test_redacted_columns_of_a_hash_loader_never_enter_the_cache(strata_factory, people_db):
    server = strata_factory(config=config(
        people_db, 'loader user:{id} people "SELECT name, email, Password_Hash, card FROM users WHERE id = :id" '
                   'type hash redact password_hash,CARD'))
    r = server.client()
    assert r.hgetall("user:7") == {"name": "user 7", "email": "u7@example.com"}
    assert r.hexists("user:7", "Password_Hash") == 0, "columns match redact without regard to case"
    assert r.hget("user:7", "card") is None
    # Nowhere else either: a DUMP-like view of the whole value and a scan of the keyspace.
    assert "secret-hash" not in repr(r.execute_command("HRANDFIELD", "user:7", "-10", "WITHVALUES"))


def test_a_row_whose_every_column_is_redacted_is_no_key(strata_factory, people_db):
    server = strata_factory(config=config(
        people_db, 'loader secret:{id} people "SELECT password_hash FROM users WHERE id = :id" type hash '
                   'redact password_hash'))
    r = server.client()
    assert r.hgetall("secret:3") == {}
    assert r.exists("secret:3") == 0


def test_redacted_members_of_a_string_loaders_json_object_are_dropped(strata_factory, people_db):
    query = ("SELECT json_object('id', id, 'name', name, 'password_hash', password_hash, 'card', card, "
             "'tags', json_array('a', 'b'), 'n', NULL) FROM users WHERE id = :id")
    server = strata_factory(config=config(people_db, f'loader profile:{{id}} people "{query}" redact password_hash,card'))
    r = server.client()
    assert r.get("profile:9") == '{"id":9,"name":"user 9","tags":["a","b"],"n":null}'


def test_a_string_value_that_is_not_a_json_object_is_refused_rather_than_stored_whole(strata_factory, people_db):
    """What cannot be redacted is not stored: a plain value, a JSON array, broken JSON."""
    server = strata_factory(config=config(
        people_db, 'loader email:{id} people "SELECT email FROM users WHERE id = :id" redact password_hash',
        "loader list:{id} people \"SELECT json_array(card) FROM users WHERE id = :id\" redact card"))
    r = server.client()
    for key in ("email:4", "list:4"):
        with pytest.raises(redis.ResponseError) as refused:
            r.get(key)
        assert "redact: the value is not a JSON object, so its columns cannot be removed" in str(refused.value)
    assert r.dbsize() == 0


def test_redact_with_no_columns_is_refused_at_startup(tmp_path, people_db):
    from conftest import start_strata
    with pytest.raises(RuntimeError) as failed:
        start_strata(tmp_path, config=config(
            people_db, 'loader user:{id} people "SELECT name FROM users WHERE id = :id" type hash redact ","'))
    assert "redact" in str(failed.value)


# ---------------------------------------------------------------------------------------------
# max-ttl on a loader

def test_max_ttl_caps_the_loaders_ttl_jitter_and_stale_window(strata_factory, people_db):
    server = strata_factory(config=config(
        people_db, 'loader user:{id} people "SELECT name FROM users WHERE id = :id" ttl 3600 jitter 50 stale 600 '
                   'max-ttl 30'))
    r = server.client()
    for i in range(1, 21):
        assert r.get(f"user:{i}") == f"user {i}"
        assert 25 < pttl_seconds(r, f"user:{i}") <= 30, "the cap holds over ttl, jitter and the stale window"


def test_max_ttl_gives_a_loader_without_ttl_one(strata_factory, people_db):
    server = strata_factory(config=config(
        people_db, 'loader user:{id} people "SELECT name FROM users WHERE id = :id" max-ttl 0.5'))
    r = server.client()
    assert r.get("user:1") == "user 1"
    assert 0 < r.pttl("user:1") <= 500
    # Gone after the cap, and loaded again on the next read.
    import time
    time.sleep(0.7)
    assert r.get("user:1") == "user 1"
    stats = r.execute_command("LOADER", "STATS", "user:{id}")
    stats = dict(zip(stats[::2], stats[1::2]))
    assert stats["loads"] == "2"


def test_max_ttl_caps_the_negative_cache(strata_factory, people_db):
    server = strata_factory(config=config(
        people_db, 'loader user:{id} people "SELECT name FROM users WHERE id = :id" negative-ttl 3600 max-ttl 0.3'))
    r = server.client()
    assert r.get("user:999") is None
    assert r.get("user:999") is None
    import time
    time.sleep(0.5)
    assert r.get("user:999") is None
    stats = r.execute_command("LOADER", "STATS", "user:{id}")
    stats = dict(zip(stats[::2], stats[1::2]))
    assert stats["negative_hits"] == "1", "the second read is a negative hit, the third comes after the cap"
    assert stats["source_queries"] == "2"


def test_client_writes_to_a_loaders_keys_cannot_outlive_its_max_ttl(strata_factory, people_db):
    server = strata_factory(config=config(
        people_db, 'loader user:{id} people "SELECT name FROM users WHERE id = :id" max-ttl 60'))
    r = server.client()
    r.set("user:100", "written")  # no TTL given
    assert 55 < pttl_seconds(r, "user:100") <= 60
    r.set("user:101", "written", ex=86400)
    assert pttl_seconds(r, "user:101") <= 60
    r.set("user:102", "written", ex=5)  # a shorter TTL stays
    assert pttl_seconds(r, "user:102") <= 5
    assert r.expire("user:101", 86400) is True
    assert pttl_seconds(r, "user:101") <= 60
    assert r.persist("user:101") in (True, False)
    assert 0 < pttl_seconds(r, "user:101") <= 60, "PERSIST cannot lift the cap"
    r.hset("user:103", "f", "v")  # any type, any command that makes the key
    assert 0 < pttl_seconds(r, "user:103") <= 60
    r.set("other:1", "v")
    assert r.ttl("other:1") == -1, "keys outside the family are untouched"
    r.rename("other:1", "user:104")
    assert 0 < pttl_seconds(r, "user:104") <= 60
    with r.pipeline(transaction=True) as p:
        p.set("user:105", "in multi")
        p.persist("user:105")
        p.execute()
    assert 0 < pttl_seconds(r, "user:105") <= 60
    r.eval("redis.call('SET', KEYS[1], 'from lua')", 1, "user:106")
    assert 0 < pttl_seconds(r, "user:106") <= 60


# ---------------------------------------------------------------------------------------------
# key-family-max-ttl

def test_key_family_max_ttl_caps_a_stats_key_family(strata_factory):
    server = strata_factory("--stats-key-family", "session", "session:*",
                            "--key-family-max-ttl", "session", "120")
    r = server.client()
    r.set("session:abc", "token")
    assert 115 < pttl_seconds(r, "session:abc") <= 120
    r.setex("session:def", 99999, "token")
    assert pttl_seconds(r, "session:def") <= 120
    r.lpush("session:list", "a")
    assert 0 < pttl_seconds(r, "session:list") <= 120
    r.set("cart:1", "x")
    assert r.ttl("cart:1") == -1
    assert r.config_get("key-family-max-ttl") == {"key-family-max-ttl": "session 120"}


def test_the_tighter_of_a_loader_cap_and_a_family_cap_wins(strata_factory, people_db):
    server = strata_factory(config=config(
        people_db, "stats-key-family people user:*", "key-family-max-ttl people 10",
        'loader user:{id} people "SELECT name FROM users WHERE id = :id" ttl 3600 max-ttl 100'))
    r = server.client()
    assert r.get("user:5") == "user 5"
    assert pttl_seconds(r, "user:5") <= 10


def test_a_cap_holds_even_when_an_earlier_broader_family_matches_the_key_first(strata_factory, people_db):
    """A key counts under its first family, but every capped family that matches it caps it."""
    server = strata_factory(config=config(
        people_db, "stats-key-family everyone user:*",
        'loader user:session:{id} people "SELECT name FROM users WHERE id = :id" max-ttl 60'))
    r = server.client()
    r.set("user:session:1", "token")
    assert 0 < pttl_seconds(r, "user:session:1") <= 60
    r.set("user:2", "profile")
    assert r.ttl("user:2") == -1


def test_copy_and_move_to_another_database_are_capped_there(strata_factory):
    server = strata_factory("--stats-key-family", "session", "session:*", "--key-family-max-ttl", "session", "60")
    r = server.client()
    r.set("plain", "v")
    assert r.copy("plain", "session:copied", destination_db=1) is True
    r1 = server.client(db=1)
    assert 0 < pttl_seconds(r1, "session:copied") <= 60
    r.set("session:moved", "v")
    r.execute_command("PERSIST", "session:moved")
    assert r.move("session:moved", 2) is True
    assert 0 < pttl_seconds(server.client(db=2), "session:moved") <= 60


@pytest.mark.parametrize("args,message", [
    (("--key-family-max-ttl", "nosuch", "10"), "key-family-max-ttl nosuch: no such key family"),
    (("--stats-key-family", "s", "s:*", "--key-family-max-ttl", "s", "0"), "from 0.001 to 100 years"),
    (("--stats-key-family", "s", "s:*", "--key-family-max-ttl", "s"), "takes NAME SECONDS"),
])
def test_bad_key_family_max_ttl_lines_stop_startup_with_a_clear_message(tmp_path, args, message):
    from conftest import start_strata
    with pytest.raises(RuntimeError) as failed:
        start_strata(tmp_path, *args)
    assert message in str(failed.value)


def test_max_ttl_below_a_millisecond_is_refused(tmp_path, people_db):
    from conftest import start_strata
    with pytest.raises(RuntimeError) as failed:
        start_strata(tmp_path, config=config(
            people_db, 'loader user:{id} people "SELECT name FROM users WHERE id = :id" max-ttl 0'))
    assert "max-ttl" in str(failed.value)


def test_a_blocked_blmove_served_later_is_capped_at_its_destination(strata_factory):
    import threading
    server = strata_factory("--stats-key-family", "session", "session:*", "--key-family-max-ttl", "session", "60")
    r = server.client()
    result = []
    waiter = threading.Thread(target=lambda: result.append(
        server.client().blmove("jobs", "session:inbox", 5, "LEFT", "RIGHT")))
    waiter.start()
    import time
    deadline = time.monotonic() + 5
    while r.info("clients")["blocked_clients"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    r.rpush("jobs", "job-1")
    waiter.join(10)
    assert result == ["job-1"]
    assert 0 < pttl_seconds(r, "session:inbox") <= 60

"""Invalidation channels (DESIGN.md section 7): a message PUBLISHed to an invalidation channel is
applied by strata itself (the keys are dropped) and then delivered to subscribers as usual.

Forms: a plain key; JSON {"key": K}, {"keys": [..]}, {"pattern": GLOB}, any combination of them,
with "db" (default 0) and "ts" (for the lag figure). Malformed messages are delivered, not applied,
and counted. Named keys are gone when PUBLISH replies; a pattern is swept in the background.
"""
import json
import threading
import time

import pytest
import redis

from helpers import RespConnection, wait_until
from test_loaders_http import Origin, config

DEFAULT_CHANNEL = "__strata__:invalidate"


@pytest.fixture
def r(strata):
    return redis.Redis(port=strata.port)


def invalidation_info(client):
    info = client.info("invalidation")
    return {k: int(v) for k, v in info.items()}


def test_a_plain_key_is_dropped_before_publish_replies_and_subscribers_still_get_the_message(r, strata):
    r.set("user:7", "cached")
    r.set("user:8", "cached")
    with RespConnection(strata.port) as sub:
        sub.call("SUBSCRIBE", DEFAULT_CHANNEL)
        assert r.publish(DEFAULT_CHANNEL, "user:7") == 1
        assert r.get("user:7") is None
        assert r.get("user:8") == b"cached"
        assert sub.read_reply().py() == [b"message", DEFAULT_CHANNEL.encode(), b"user:7"]
    assert invalidation_info(r)["invalidations_applied"] == 1
    assert invalidation_info(r)["invalidation_keys_dropped"] == 1


def test_json_key_and_keys_forms(r):
    r.mset({"a": 1, "b": 2, "c": 3, "d": 4})
    r.publish(DEFAULT_CHANNEL, json.dumps({"key": "a"}))
    r.publish(DEFAULT_CHANNEL, json.dumps({"keys": ["b", "c", "absent"]}))
    assert r.exists("a", "b", "c") == 0
    assert r.get("d") == b"4"
    assert invalidation_info(r)["invalidation_keys_dropped"] == 3


def test_a_pattern_drops_every_matching_key_and_nothing_else(r):
    with r.pipeline(transaction=False) as p:
        for i in range(5000):
            p.set(f"product:{i}", i)
            p.set(f"order:{i}", i)
        p.execute()
    r.publish(DEFAULT_CHANNEL, json.dumps({"pattern": "product:*"}))
    assert wait_until(lambda: r.dbsize() == 5000, 10)
    assert r.exists("product:1", "product:4999") == 0
    assert r.get("order:4999") == b"4999"


def test_a_combined_message_applies_every_form(r):
    r.mset({"user:7": "row", "user:7:orders": "list", "user:7:cart": "c", "user:70": "other"})
    r.publish(DEFAULT_CHANNEL, json.dumps({"key": "user:7", "pattern": "user:7:*"}))
    assert r.get("user:7") is None
    assert wait_until(lambda: r.exists("user:7:orders", "user:7:cart") == 0, 10)
    assert r.get("user:70") == b"other"


def test_db_selects_the_database_and_defaults_to_zero(strata):
    db0, db3 = redis.Redis(port=strata.port, db=0), redis.Redis(port=strata.port, db=3)
    db0.set("k", "zero")
    db3.set("k", "three")
    db0.publish(DEFAULT_CHANNEL, json.dumps({"key": "k", "db": 3}))
    assert db3.get("k") is None and db0.get("k") == b"zero"
    db3.publish(DEFAULT_CHANNEL, "k")  # a plain key means db 0, whatever the publisher selected
    assert db0.get("k") is None


@pytest.mark.parametrize("payload", [
    "", "   ", "{", '{"key": 7}', '{"keys": "a"}', '{"keys": ["a", 1]}', '{"pattern": null}',
    '{"db": 1}', '{"key": "a", "db": 99}', '{"key": "a", "db": "1"}', '{"key": "a", "ts": "now"}',
])
def test_malformed_messages_are_delivered_not_applied_and_counted(r, strata, payload):
    r.set("a", "kept")
    with RespConnection(strata.port) as sub:
        sub.call("SUBSCRIBE", DEFAULT_CHANNEL)
        assert r.publish(DEFAULT_CHANNEL, payload) == 1
        assert sub.read_reply().py() == [b"message", DEFAULT_CHANNEL.encode(), payload.encode()]
    assert r.get("a") == b"kept"
    info = invalidation_info(r)
    assert info["invalidation_messages_malformed"] == 1 and info["invalidations_applied"] == 0


def test_ts_gives_the_invalidation_lag(r):
    r.set("k", "v")
    r.publish(DEFAULT_CHANNEL, json.dumps({"key": "k", "ts": int(time.time() * 1000) - 250}))
    info = invalidation_info(r)
    assert 250 <= info["invalidation_lag_p50_ms"] < 5000
    assert info["invalidation_lag_p99_ms"] >= info["invalidation_lag_p50_ms"]
    r.config_resetstat()
    assert invalidation_info(r)["invalidation_lag_p50_ms"] == 0


def test_invalidation_channel_directives_replace_the_default_and_repeat(strata_factory):
    server = strata_factory("--invalidation-channel", "cache:inval", "--invalidation-channel", "other:inval")
    c = redis.Redis(port=server.port)
    c.mset({"a": 1, "b": 2, "c": 3})
    c.publish(DEFAULT_CHANNEL, "a")
    c.publish("cache:inval", "b")
    c.publish("other:inval", "c")
    assert c.get("a") == b"1" and c.exists("b", "c") == 0
    assert c.config_get("invalidation-channel") == {"invalidation-channel": "cache:inval other:inval"}


def test_dropped_keys_raise_the_invalidated_event_and_dirty_watch(r, strata):
    r.config_set("notify-keyspace-events", "KEL")
    r.mset({"x": 1, "y": 2})
    with RespConnection(strata.port) as sub:
        sub.call("PSUBSCRIBE", "__keyevent@0__:*")
        watcher = r.pipeline(transaction=True)
        watcher.watch("x")
        r.publish(DEFAULT_CHANNEL, json.dumps({"keys": ["x", "y"]}))
        got = [sub.read_reply().py()[2:] for _ in range(2)]
        assert got == [[b"__keyevent@0__:invalidated", b"x"], [b"__keyevent@0__:invalidated", b"y"]]
        watcher.multi()
        watcher.set("x", "mine")
        with pytest.raises(redis.WatchError):
            watcher.execute()


def test_a_load_in_flight_is_not_stored_after_an_invalidation_of_its_key(strata_factory):
    origin = Origin()
    try:
        origin.delay = 0.5
        server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}" timeout 5000'))
        reader, publisher = redis.Redis(port=server.port), redis.Redis(port=server.port)
        result = {}

        def read():
            result["value"] = reader.get("name:5")

        t = threading.Thread(target=read)
        t.start()
        assert wait_until(lambda: origin.requests("/api/names/5") == 1, 5)
        with origin.lock:
            origin.items["5"]["name"] = "renamed"
        publisher.publish(DEFAULT_CHANNEL, "name:5")
        t.join(10)
        # The first answer ("item 5") was superseded: the reader got a fresh load.
        assert result["value"] == b"renamed"
        assert publisher.get("name:5") == b"renamed"
    finally:
        origin.close()


def test_a_pattern_over_many_keys_leaves_other_clients_answered(r, strata):
    with r.pipeline(transaction=False) as p:
        for i in range(200000):
            p.set(f"bulk:{i}", "v")
            if i % 10000 == 9999:
                p.execute()
        p.execute()
    r.publish(DEFAULT_CHANNEL, json.dumps({"pattern": "bulk:*"}))
    with RespConnection(strata.port) as c:
        while r.dbsize() > 0:
            assert c.call("PING").py() == b"PONG"
    assert invalidation_info(r)["invalidation_keys_dropped"] == 200000


def test_loader_activity_raises_loaded_refreshed_and_invalidated_under_class_l(strata_factory):
    origin = Origin()
    try:
        server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}" ttl 1 stale 30'))
        r = redis.Redis(port=server.port)
        r.config_set("notify-keyspace-events", "EL")
        with RespConnection(server.port) as sub:
            sub.call("PSUBSCRIBE", "__keyevent@0__:*")
            assert r.get("name:3") == b"item 3"  # loaded
            time.sleep(1.2)  # now stale: the next read answers at once and refreshes behind it
            assert r.get("name:3") == b"item 3"
            events = [sub.read_reply().py()[2:] for _ in range(2)]  # the refresh has landed
            r.publish(DEFAULT_CHANNEL, "name:3")
            events.append(sub.read_reply().py()[2:])
        assert events == [[b"__keyevent@0__:loaded", b"name:3"], [b"__keyevent@0__:refreshed", b"name:3"],
                          [b"__keyevent@0__:invalidated", b"name:3"]]
    finally:
        origin.close()


def test_an_invalidation_published_inside_exec_or_a_script_drops_its_keys_after_them(r):
    r.mset({"in:multi": 1, "in:script": 2})
    with r.pipeline(transaction=True) as p:
        p.set("other", "x")
        p.publish(DEFAULT_CHANNEL, "in:multi")
        assert p.execute() == [True, 0]
    r.eval("return redis.call('publish', KEYS[1], ARGV[1])", 1, DEFAULT_CHANNEL, "in:script")
    # Their shards were not the transaction's or the script's: the sweeper drops them after.
    assert wait_until(lambda: r.exists("in:multi", "in:script") == 0, 5)
    assert r.get("other") == b"x"

"""Client-side caching (CLIENT TRACKING), as Redis 6+ has it, on strata and on redis-server.

Each scenario runs on both servers and the invalidations each client receives are compared: the
default mode (keys read are remembered, one invalidation per change, then forgotten), REDIRECT to
a RESP2 subscriber of __redis__:invalidate, BCAST with prefixes, OPTIN, OPTOUT, NOLOOP, FLUSHALL's
null invalidation, expiry, and the option errors. Invalidations on eviction, on an invalidation
message and on a loader refresh, which only strata has or which Redis times differently, are
checked on strata alone. A push may arrive before or after the reply of the command that follows
it (Redis writes it at once; strata hands it to the client's I/O thread), so tests read until the
reply they wait for and collect the pushes met on the way.
"""
import json
import time

import pytest
import redis

from helpers import RespConnection, pair, same_on_both, server_factory, wait_until  # noqa: F401  (fixtures)


def call_collecting_pushes(conn, *args):
    """Sends a command; returns (its reply, the pushes read before it)."""
    conn.send(*args)
    pushes = []
    while True:
        reply = conn.read_reply()
        if reply.kind == ">":
            pushes.append(reply.py())
        else:
            return reply, pushes


def pushes_until_ping(conn, at_least=0, timeout=5.0):
    """The pushes that reach conn before a PING round trip, waiting up to timeout for at_least."""
    deadline = time.monotonic() + timeout
    pushes = []
    while True:
        _, more = call_collecting_pushes(conn, "PING")
        pushes += more
        if len(pushes) >= at_least or time.monotonic() > deadline:
            return pushes
        time.sleep(0.02)


def resp3(port):
    conn = RespConnection(port)
    conn.call("HELLO", "3")
    return conn


def test_default_mode_invalidates_a_read_key_once(pair):
    def scenario(port):
        with resp3(port) as tracker, RespConnection(port) as writer:
            writer.call("SET", "k", "1")
            out = [tracker.call("CLIENT", "TRACKING", "on").py(), tracker.call("GET", "k").py()]
            writer.call("SET", "k", "2")
            out.append(pushes_until_ping(tracker, 1))
            writer.call("SET", "k", "3")  # not read again since: no second invalidation
            writer.call("SET", "other", "x")  # never read
            out.append(pushes_until_ping(tracker, 0, timeout=0.2))
            tracker.call("MGET", "a", "b")
            writer.call("DEL", "a", "b")
            out.append(sorted(map(tuple, (p[1] for p in pushes_until_ping(tracker, 2)))))
            return out

    got = same_on_both(pair, scenario)
    assert got[2] == [[b"invalidate", [b"k"]]] and got[3] == []


def test_redirect_to_a_resp2_subscriber_of_redis_invalidate(pair):
    def scenario(port):
        with RespConnection(port) as listener, RespConnection(port) as tracker, RespConnection(port) as writer:
            listener_id = listener.call("CLIENT", "ID").py()
            listener.call("SUBSCRIBE", "__redis__:invalidate")
            out = [tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", str(listener_id)).py(),
                   tracker.call("CLIENT", "GETREDIR").py() == listener_id]
            tracker.call("GET", "user:1")
            writer.call("SET", "user:1", "new")
            out.append(listener.read_reply().py())
            writer.call("FLUSHALL")
            out.append(listener.read_reply().py())
            return out

    got = same_on_both(pair, scenario)
    assert got[2] == [b"message", b"__redis__:invalidate", [b"user:1"]]


def test_bcast_prefixes_tell_every_change_under_them(pair):
    def scenario(port):
        with resp3(port) as tracker, RespConnection(port) as writer:
            out = [tracker.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "cart:").py()]
            for key in ("user:1", "order:1", "cart:9", "user:2"):
                writer.call("SET", key, "v")
            out.append(sorted(p[1][0] for p in pushes_until_ping(tracker, 3)))
            out.append(tracker.call("CLIENT", "TRACKINGINFO").py())
            return out

    got = same_on_both(pair, scenario)
    assert got[1] == [b"cart:9", b"user:1", b"user:2"]


def test_optin_tracks_only_after_caching_yes_and_optout_not_after_caching_no(pair):
    def scenario(port):
        with resp3(port) as optin, resp3(port) as optout, RespConnection(port) as writer:
            optin.call("CLIENT", "TRACKING", "on", "OPTIN")
            optin.call("GET", "a")
            optin.call("CLIENT", "CACHING", "yes")
            optin.call("GET", "b")
            optout.call("CLIENT", "TRACKING", "on", "OPTOUT")
            optout.call("CLIENT", "CACHING", "no")
            optout.call("GET", "c")
            optout.call("GET", "d")
            for key in "abcd":
                writer.call("SET", key, "v")
            return [pushes_until_ping(optin, 1), pushes_until_ping(optout, 1),
                    optin.call("CLIENT", "TRACKINGINFO").py()]

    got = same_on_both(pair, scenario)
    assert got[0] == [[b"invalidate", [b"b"]]] and got[1] == [[b"invalidate", [b"d"]]]


def test_noloop_is_not_told_of_its_own_writes(pair):
    def scenario(port):
        with resp3(port) as tracker, RespConnection(port) as writer:
            tracker.call("CLIENT", "TRACKING", "on", "NOLOOP")
            tracker.call("GET", "mine")
            tracker.call("GET", "theirs")
            _, own = call_collecting_pushes(tracker, "SET", "mine", "1")
            writer.call("SET", "theirs", "1")
            return [own, pushes_until_ping(tracker, 1)]

    got = same_on_both(pair, scenario)
    assert got == [[], [[b"invalidate", [b"theirs"]]]]


def test_flushall_sends_a_null_invalidation_to_every_tracking_client(pair):
    def scenario(port):
        with resp3(port) as tracker, resp3(port) as bcast, RespConnection(port) as writer:
            tracker.call("CLIENT", "TRACKING", "on")
            bcast.call("CLIENT", "TRACKING", "on", "BCAST")
            writer.call("FLUSHALL")
            return [pushes_until_ping(tracker, 1), pushes_until_ping(bcast, 1)]

    got = same_on_both(pair, scenario)
    assert got == [[[b"invalidate", None]], [[b"invalidate", None]]]


def test_a_flush_inside_a_transaction_sends_the_null_invalidation(pair):
    def scenario(port):
        with resp3(port) as tracker, RespConnection(port) as writer:
            tracker.call("CLIENT", "TRACKING", "on")
            tracker.call("GET", "k")
            for command in ("MULTI", "SET k 1", "FLUSHALL", "EXEC"):
                writer.call(*command.split())
            return pushes_until_ping(tracker, 2)

    assert same_on_both(pair, scenario) == [[b"invalidate", [b"k"]], [b"invalidate", None]]


def test_a_flush_inside_a_script_that_holds_every_shard_sends_the_null_invalidation(strata_factory):
    # A script reaches the whole keyspace only with lua-allow-undeclared-keys (strata locks the
    # shards of declared keys otherwise); its FLUSHALL then runs with every shard held.
    server = strata_factory("--lua-allow-undeclared-keys", "yes")
    with resp3(server.port) as tracker, RespConnection(server.port) as writer:
        tracker.call("CLIENT", "TRACKING", "on")
        tracker.call("GET", "k")
        writer.call("EVAL", "redis.call('SET', KEYS[1], '2') redis.call('FLUSHALL')", "1", "k")
        assert pushes_until_ping(tracker, 2) == [[b"invalidate", [b"k"]], [b"invalidate", None]]


def test_more_than_64_tracking_clients_are_each_told(pair):
    # strata keeps a key's first 64 readers in a bit mask and the rest in a list beside it.
    def scenario(port):
        trackers = [resp3(port) for _ in range(70)]
        try:
            for tracker in trackers:
                tracker.call("CLIENT", "TRACKING", "on")
                tracker.call("GET", "shared")
            with RespConnection(port) as writer:
                writer.call("SET", "shared", "v")
            return [pushes_until_ping(tracker, 1) for tracker in trackers]
        finally:
            for tracker in trackers:
                tracker.close()

    assert same_on_both(pair, scenario) == [[[b"invalidate", [b"shared"]]]] * 70


def test_a_client_in_a_slot_given_up_is_not_told_of_keys_its_predecessor_read(strata_factory):
    # strata numbers tracking clients; a number given up is cleared from the table by the cron
    # before another client gets it. Redis keeps a gone client's keys until they change, so
    # this is strata's alone.
    server = strata_factory()
    with RespConnection(server.port) as q:
        for i in range(80):
            with resp3(server.port) as early:
                early.call("CLIENT", "TRACKING", "on")
                early.call("GET", f"old:{i}")
        assert wait_until(lambda: "tracking_total_keys:0\r" in q.call("INFO", "stats").value.decode(), 10)
        late = [resp3(server.port) for _ in range(3)]
        try:
            for client in late:
                client.call("CLIENT", "TRACKING", "on")
            late[0].call("GET", "new")
            for i in range(80):
                q.call("SET", f"old:{i}", "x")
            q.call("SET", "new", "x")
            assert pushes_until_ping(late[0], 1) == [[b"invalidate", [b"new"]]]
            assert pushes_until_ping(late[0], 2, timeout=0.3) == []
            assert all(pushes_until_ping(client, 1, timeout=0.3) == [] for client in late[1:])
        finally:
            for client in late:
                client.close()


def test_an_expired_key_is_invalidated(pair):
    def scenario(port):
        with resp3(port) as tracker, RespConnection(port) as writer:
            writer.call("SET", "short", "v", "PX", "50")
            tracker.call("CLIENT", "TRACKING", "on")
            tracker.call("GET", "short")
            time.sleep(0.2)
            writer.call("GET", "short")  # expires it now if the expiry cycle has not
            return pushes_until_ping(tracker, 1)

    assert same_on_both(pair, scenario) == [[b"invalidate", [b"short"]]]


@pytest.mark.parametrize("args", [
    ["maybe"], ["on", "bogus"], ["on", "PREFIX", "a"], ["on", "OPTIN", "OPTOUT"], ["on", "BCAST", "OPTIN"],
    ["on", "BCAST", "PREFIX", "a", "PREFIX", "ab"], ["on", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
    ["on", "REDIRECT", "999999"], ["on", "REDIRECT", "x"], ["on", "REDIRECT"], ["off", "bogus"], ["off", "BCAST"],
])
def test_tracking_option_errors_are_redis_errors(pair, args):
    def scenario(port):
        with RespConnection(port) as c:
            return [c.call("CLIENT", "TRACKING", *args), c.call("CLIENT", "TRACKINGINFO"), c.call("CLIENT", "GETREDIR")]

    same_on_both(pair, scenario)


def test_mode_switches_and_caching_errors_are_redis_errors(pair):
    def scenario(port):
        with RespConnection(port) as c:
            return [c.call("CLIENT", "CACHING", "yes"), c.call("CLIENT", "TRACKING", "on", "OPTIN"),
                    c.call("CLIENT", "CACHING", "no"), c.call("CLIENT", "CACHING", "maybe"),
                    c.call("CLIENT", "TRACKING", "on", "OPTOUT"), c.call("CLIENT", "TRACKING", "on", "BCAST"),
                    c.call("CLIENT", "CACHING", "yes"), c.call("CLIENT", "TRACKINGINFO"),
                    c.call("CLIENT", "TRACKING", "off"), c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"),
                    c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"),
                    c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b"), c.call("CLIENT", "TRACKINGINFO"),
                    c.call("CLIENT", "TRACKING", "on"), c.call("CLIENT", "GETREDIR")]

    same_on_both(pair, scenario)


def test_info_counts_tracking_clients_keys_items_and_prefixes(pair):
    def scenario(port):
        with resp3(port) as a, resp3(port) as b, resp3(port) as c, RespConnection(port) as q:
            a.call("CLIENT", "TRACKING", "on")
            b.call("CLIENT", "TRACKING", "on")
            c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX", "y")
            a.call("MGET", "k1", "k2")
            b.call("GET", "k1")
            info = q.call("INFO").value.decode()
            return sorted(line for line in info.split("\r\n") if line.startswith("tracking_"))

    got = same_on_both(pair, scenario)
    assert "tracking_total_items:3" in got and "tracking_total_keys:2" in got


def test_a_broken_redirect_is_reported_to_a_resp3_client(pair):
    def scenario(port):
        with resp3(port) as tracker, RespConnection(port) as writer:
            target = RespConnection(port)
            target_id = target.call("CLIENT", "ID").py()
            tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", str(target_id))
            tracker.call("GET", "k")
            target.close()
            assert wait_until(lambda: f"id={target_id} " not in writer.call("CLIENT", "LIST").value.decode(), 5)
            writer.call("SET", "k", "v")
            pushes = pushes_until_ping(tracker, 1)
            info = tracker.call("CLIENT", "TRACKINGINFO").py()
            assert info[b"redirect"] == target_id
            return [[p[0] for p in pushes], info[b"flags"]]

    got = same_on_both(pair, scenario)
    assert got[0] == [b"tracking-redir-broken"]


# -- strata's own sources of change ---------------------------------------------------------------


def test_eviction_and_invalidation_messages_invalidate_tracked_keys(strata_factory):
    server = strata_factory("--maxmemory-policy", "allkeys-lru")
    writer = redis.Redis(port=server.port)
    with resp3(server.port) as tracker:
        tracker.call("CLIENT", "TRACKING", "on")
        writer.set("dropped", "v")
        tracker.call("GET", "dropped")
        writer.publish("__strata__:invalidate", json.dumps({"key": "dropped"}))
        assert pushes_until_ping(tracker, 1) == [[b"invalidate", [b"dropped"]]]
        writer.set("evicted", "v")
        tracker.call("GET", "evicted")
        writer.config_set("maxmemory", 1)  # everything goes
        assert [b"invalidate", [b"evicted"]] in pushes_until_ping(tracker, 1)
        writer.config_set("maxmemory", 0)


def test_the_tracking_table_stays_within_tracking_table_max_keys(strata_factory):
    server = strata_factory("--tracking-table-max-keys", "10")
    with resp3(server.port) as tracker, RespConnection(server.port) as q:
        tracker.call("CLIENT", "TRACKING", "on")
        for i in range(50):
            tracker.call("GET", f"key:{i}")
        assert wait_until(lambda: "tracking_total_keys:10\r" in q.call("INFO", "stats").value.decode(), 5)
        # The keys dropped from the table were invalidated by name, as if they had changed.
        told = [key for push in pushes_until_ping(tracker, 40) for key in push[1]]
        assert len(told) == 40 and set(told) < {f"key:{i}".encode() for i in range(50)}


def test_an_invalidation_of_its_own_write_comes_after_the_reply_and_never_inside_one(pair):
    def scenario(port):
        with resp3(port) as tracker:
            tracker.call("CLIENT", "TRACKING", "on")
            tracker.call("MGET", "k", "other")
            tracker.send("SET", "k", "v")
            first, second = tracker.read_reply(), tracker.read_reply()
            # An MGET of a key that just expired: the invalidation must not split the array.
            tracker.call("SET", "short", "v", "PX", "20")
            tracker.call("GET", "short")
            time.sleep(0.1)
            reply, pushes = call_collecting_pushes(tracker, "MGET", "k", "short")
            return [first.py(), second.py(), reply.py(), pushes + pushes_until_ping(tracker, 1 - len(pushes), 1.0)]

    got = same_on_both(pair, scenario)
    assert got[0] == b"OK" and got[1] == [b"invalidate", [b"k"]]
    assert got[2] == [b"v", None]


def test_noloop_a_list_it_pushed_and_a_waiter_popped_was_invalidated_by_its_own_push(pair):
    # The push takes the key out of the table (told to nobody: NOLOOP); the waiter's pop then
    # finds it gone, so the pusher hears nothing, as with Redis.
    def scenario(port):
        with resp3(port) as pusher, RespConnection(port) as waiter, RespConnection(port) as q:
            pusher.call("CLIENT", "TRACKING", "on", "NOLOOP")
            pusher.call("LRANGE", "jobs", "0", "-1")
            waiter.send("BLPOP", "jobs", "5")
            assert wait_until(lambda: "blocked_clients:1" in q.call("INFO", "clients").value.decode(), 5)
            _, own = call_collecting_pushes(pusher, "LPUSH", "jobs", "j1")
            popped = waiter.read_reply().py()
            silent = own + pushes_until_ping(pusher, 0, 0.3)
            # The control: read again, another client's write is told.
            pusher.call("LRANGE", "jobs", "0", "-1")
            waiter.call("LPUSH", "jobs", "j2")
            return [popped, silent, pushes_until_ping(pusher, 1)]

    got = same_on_both(pair, scenario)
    assert got[0] == [b"jobs", b"j1"] and got[1] == [] and got[2] == [[b"invalidate", [b"jobs"]]]


def test_optin_caching_yes_holds_for_a_read_that_waits_for_a_load(strata_factory):
    from test_loaders_http import Origin, config
    origin = Origin()
    try:
        origin.delay = 0.2
        server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}" timeout 5000'))
        writer = redis.Redis(port=server.port)
        with resp3(server.port) as tracker:
            tracker.call("CLIENT", "TRACKING", "on", "OPTIN")
            tracker.call("CLIENT", "CACHING", "yes")
            assert tracker.call("GET", "name:8").py() == b"item 8"  # parked on the load, then replayed
            writer.set("name:8", "changed")
            assert pushes_until_ping(tracker, 1) == [[b"invalidate", [b"name:8"]]]
    finally:
        origin.close()

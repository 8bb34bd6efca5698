"""Pub/sub: SUBSCRIBE and friends, PUBLISH, PUBSUB, subscribed mode, client-output-buffer-limit.

Each scenario runs on strata and on Debian's redis-server (server_factory), and the byte-exact
ones compare the two servers' replies directly: confirmations, message and pmessage shapes in
RESP2 and RESP3, the subscribed-mode errors, PUBSUB introspection. redis-py's PubSub (threads
and asyncio) and delivery order across I/O threads are checked on strata.
"""
import asyncio
import socket
import threading
import time

import redis
import redis.asyncio

from helpers import RespConnection, pair, same_on_both, server_factory, wait_until  # noqa: F401  (fixtures)


def replies(conn, n):
    return [conn.read_reply() for _ in range(n)]


# -- the wire: confirmations and messages ---------------------------------------------------------


def test_resp2_confirmations_message_and_pmessage_are_exactly_redis(pair):
    def scenario(port):
        with RespConnection(port) as sub, RespConnection(port) as pub:
            out = [sub.call("SUBSCRIBE", "news", "sport")]
            out += replies(sub, 1)
            out += [sub.call("PSUBSCRIBE", "n*")]
            out += [sub.call("SUBSCRIBE", "news")]  # already subscribed: confirmed again, count unchanged
            out += [pub.call("PUBLISH", "news", "hello"), pub.call("PUBLISH", "weather", "rain")]
            out += replies(sub, 2)  # message, then pmessage
            out += [pub.call("PUBLISH", "sport", b"\x00binary\r\n")]
            out += replies(sub, 1)
            return out

    got = same_on_both(pair, scenario)
    assert got[0].py() == [b"subscribe", b"news", 1]
    assert got[4].py() == 2 and got[5].py() == 0  # news: its subscriber and the pattern; weather: nobody


def test_resp3_confirmations_and_messages_are_pushes_and_a_self_publish_arrives_before_its_reply(pair):
    def scenario(port):
        with RespConnection(port) as sub:
            sub.call("HELLO", "3")
            out = [sub.call("SUBSCRIBE", "ch"), sub.call("PSUBSCRIBE", "c?")]
            # RESP3 has no subscribed mode: the subscriber may publish, and gets its own message
            # (twice: channel and pattern) before PUBLISH's reply.
            out += [sub.call("PUBLISH", "ch", "m")]
            out += replies(sub, 2)
            out += [sub.call("GET", "k"), sub.call("UNSUBSCRIBE"), sub.call("PUNSUBSCRIBE")]
            return out

    got = same_on_both(pair, scenario)
    assert got[0].kind == ">" and got[2].kind == ">"
    assert got[2].py() == [b"message", b"ch", b"m"] and got[4].py() == 2


def test_unsubscribing_with_no_subscription_confirms_a_null_channel(pair):
    def scenario(port):
        with RespConnection(port) as c:
            out = [c.call("UNSUBSCRIBE"), c.call("PUNSUBSCRIBE"), c.call("SUNSUBSCRIBE"),
                   c.call("UNSUBSCRIBE", "never")]
            c.call("HELLO", "3")
            out += [c.call("UNSUBSCRIBE")]
            return out

    got = same_on_both(pair, scenario)
    assert got[0].py() == [b"unsubscribe", None, 0]


def test_unsubscribe_without_arguments_drops_every_channel_and_counts_down(pair):
    def scenario(port):
        with RespConnection(port) as c:
            c.call("SUBSCRIBE", "a", "b", "c")
            replies(c, 2)
            c.call("PSUBSCRIBE", "p*")
            c.send("UNSUBSCRIBE")
            # Redis walks its dict in no promised order: compare the set of names and the counts.
            drops = replies(c, 3)
            names = sorted(r.py()[1] for r in drops)
            counts = [r.py()[2] for r in drops]
            return names, counts, c.call("PUNSUBSCRIBE").py(), c.call("GET", "x")

    names, counts, last, after = same_on_both(pair, scenario)
    assert names == [b"a", b"b", b"c"] and counts == [3, 2, 1] and last == [b"punsubscribe", b"p*", 0]
    assert after.kind == "$"  # out of subscribed mode


def test_resp2_subscribed_mode_allows_only_its_commands_with_redis_errors(pair):
    def scenario(port):
        with RespConnection(port) as c:
            c.call("SUBSCRIBE", "ch")
            return [c.call("GET", "k"), c.call("SET", "k", "v"), c.call("CLIENT", "LIST"), c.call("MULTI"),
                    c.call("HELLO", "3"), c.call("PING"), c.call("PING", "hi"), c.call("NOSUCH"),
                    c.call("SSUBSCRIBE", "s"), c.call("PSUBSCRIBE", "x*"), c.call("RESET"), c.call("GET", "k"),
                    c.call("PING")]

    got = same_on_both(pair, scenario)
    assert got[0].kind == "-" and b"only (P|S)SUBSCRIBE" in got[0].value
    assert got[5].py() == [b"pong", b""] and got[6].py() == [b"pong", b"hi"]
    assert got[10].py() == b"RESET" and got[12].py() == b"PONG"


def test_shard_channels_are_their_own_namespace(pair):
    def scenario(port):
        with RespConnection(port) as sub, RespConnection(port) as pub:
            out = [sub.call("SSUBSCRIBE", "s1", "s2"), *replies(sub, 1), sub.call("SUBSCRIBE", "s1")]
            out += [pub.call("SPUBLISH", "s1", "x"), *replies(sub, 1)]
            out += [pub.call("PUBLISH", "s1", "y"), *replies(sub, 1)]
            out += [pub.call("PUBSUB", "SHARDCHANNELS"), pub.call("PUBSUB", "SHARDNUMSUB", "s1", "zz")]
            out += [sub.call("SUNSUBSCRIBE", "s1"), sub.call("SUNSUBSCRIBE", "s1")]
            return [r if r.kind != "*" or not all(x.kind == "$" for x in r.value) else sorted(r.py()) for r in out]

    same_on_both(pair, scenario)


def test_pubsub_introspection_is_exactly_redis(pair):
    def scenario(port):
        with RespConnection(port) as a, RespConnection(port) as b, RespConnection(port) as q:
            a.call("SUBSCRIBE", "news.art")
            b.call("SUBSCRIBE", "news.art", "news.music")
            replies(b, 1)
            a.call("PSUBSCRIBE", "news.*")
            b.call("PSUBSCRIBE", "news.*")
            b.call("PSUBSCRIBE", "other.*")
            out = [sorted(q.call("PUBSUB", "CHANNELS").py()), sorted(q.call("PUBSUB", "CHANNELS", "*music").py()),
                   q.call("PUBSUB", "NUMSUB", "news.art", "news.music", "none"), q.call("PUBSUB", "NUMSUB"),
                   q.call("PUBSUB", "NUMPAT"), q.call("PUBSUB", "SHARDCHANNELS"), q.call("PUBSUB", "HELP"),
                   q.call("PUBSUB", "NOPE"), q.call("PUBSUB"), q.call("PUBSUB", "NUMPAT", "x"),
                   q.call("PUBLISH", "news.art", "x"), q.call("PUBLISH", "only-one"), q.call("SUBSCRIBE")]
            q.call("HELLO", "3")
            out += [q.call("PUBSUB", "NUMSUB", "news.art")]
            info = q.call("INFO", "stats").value.decode()
            out += [line for line in info.split("\r\n") if line.startswith("pubsub")]
            return out

    got = same_on_both(pair, scenario)
    assert got[0] == [b"news.art", b"news.music"]
    assert got[4].py() == 2 and got[10].py() == 4


def test_client_list_shows_subscription_counts(server_factory):
    server = server_factory()
    with RespConnection(server.port) as sub, RespConnection(server.port) as q:
        sub.call("CLIENT", "SETNAME", "listener")
        sub.call("SUBSCRIBE", "a", "b")
        replies(sub, 1)
        sub.call("PSUBSCRIBE", "x*")
        sub.call("SSUBSCRIBE", "s")
        line = next(l for l in q.call("CLIENT", "LIST").value.decode().splitlines() if "name=listener" in l)
        fields = dict(f.split("=", 1) for f in line.split(" "))
        assert (fields["sub"], fields["psub"], fields["ssub"], fields["flags"]) == ("2", "1", "1", "P")


def test_a_closed_subscriber_is_forgotten(server_factory):
    server = server_factory()
    with RespConnection(server.port) as q:
        with RespConnection(server.port) as sub:
            sub.call("SUBSCRIBE", "gone")
            sub.call("PSUBSCRIBE", "gone*")
            assert q.call("PUBLISH", "gone", "x").py() == 2
        assert wait_until(lambda: q.call("PUBSUB", "NUMSUB", "gone").py() == [b"gone", 0], 5)
        assert q.call("PUBSUB", "NUMPAT").py() == 0
        assert q.call("PUBLISH", "gone", "x").py() == 0


# -- client-output-buffer-limit -----------------------------------------------------------------


def test_client_output_buffer_limit_config_merges_classes_and_refuses_bad_values(pair):
    def scenario(port):
        with RespConnection(port) as c:
            out = [c.call("CONFIG", "GET", "client-output-buffer-limit"),
                   c.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 5"),
                   c.call("CONFIG", "GET", "client-output-buffer-limit"),
                   c.call("CONFIG", "SET", "client-output-buffer-limit", "normal 10mb 0 0 replica 1gb 2gb 10"),
                   c.call("CONFIG", "GET", "client-output-buffer-limit")]
            for bad in ["pubsub 1mb 1mb", "bogus 1 1 1", "pubsub x 1 1", "pubsub 1 1 -1", "normal 1 1 1 pubsub 1 1"]:
                out.append(c.call("CONFIG", "SET", "client-output-buffer-limit", bad))
            out.append(c.call("CONFIG", "GET", "client-output-buffer-limit"))
            return out

    got = same_on_both(pair, scenario)
    assert got[2].py()[1] == b"normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5"


def subscriber_that_never_reads(server, channel):
    """A subscriber with a tiny receive buffer that reads nothing after its confirmation."""
    slow = RespConnection(server.port)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.call("SUBSCRIBE", channel)
    return slow


def test_a_subscriber_that_never_reads_is_disconnected_at_its_hard_limit_and_memory_is_bounded(server_factory):
    server = server_factory("--client-output-buffer-limit", "pubsub 2mb 1mb 60")
    r = redis.Redis(port=server.port)
    slow = subscriber_that_never_reads(server, "firehose")
    baseline = r.info("memory")["used_memory"]
    payload = b"x" * 4096
    # 40 MB at a subscriber that reads nothing: it must be dropped long before.
    for _ in range(100):
        with r.pipeline(transaction=False) as p:
            for _ in range(100):
                p.publish("firehose", payload)
            p.execute()
        if r.pubsub_numsub("firehose")[0][1] == 0:
            break
    assert wait_until(lambda: r.pubsub_numsub("firehose")[0][1] == 0, 10), "the slow subscriber was not dropped"
    # Its buffers are freed once its socket has closed, a loop iteration after it was dropped.
    assert wait_until(lambda: r.info("memory")["used_memory"] < baseline + 8 * 1024 * 1024, 5)
    slow.close()


def test_the_soft_limit_drops_a_subscriber_that_stays_over_it_past_its_seconds(server_factory):
    server = server_factory("--client-output-buffer-limit", "pubsub 0 256kb 1")
    r = redis.Redis(port=server.port)
    slow = subscriber_that_never_reads(server, "drip")
    payload = b"y" * 8192
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and r.pubsub_numsub("drip")[0][1] == 1:
        r.publish("drip", payload)
        time.sleep(0.01)
    assert r.pubsub_numsub("drip")[0][1] == 0
    slow.close()


# -- real clients and threads -------------------------------------------------------------------


def test_redis_py_pubsub_in_a_thread_receives_every_message_in_order(strata_factory):
    server = strata_factory("--io-threads", "2")
    r = redis.Redis(port=server.port)
    p = r.pubsub()
    received = []
    done = threading.Event()

    def on_message(message):
        received.append(message["data"])
        if len(received) == 500:
            done.set()

    p.subscribe(**{"orders": on_message})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        assert wait_until(lambda: r.pubsub_numsub("orders")[0][1] == 1, 5)
        for i in range(500):
            r.publish("orders", str(i))
        assert done.wait(10)
        assert received == [str(i).encode() for i in range(500)]
    finally:
        worker.stop()
        worker.join(5)
        p.close()


def test_redis_py_asyncio_pubsub_with_patterns(strata):
    async def scenario():
        client = redis.asyncio.Redis(port=strata.port)
        pubsub = client.pubsub()
        await pubsub.psubscribe("user:*")
        assert (await pubsub.get_message(timeout=2))["type"] == "psubscribe"
        assert await client.publish("user:7", "changed") == 1
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        await pubsub.aclose() if hasattr(pubsub, "aclose") else await pubsub.close()
        await client.close()
        return message

    message = asyncio.run(scenario())
    assert message["type"] == "pmessage" and message["pattern"] == b"user:*" and message["data"] == b"changed"


def test_subscribers_on_every_io_thread_receive_every_message_in_publish_order(strata_factory):
    server = strata_factory("--io-threads", "2")
    subscribers = [RespConnection(server.port) for _ in range(8)]  # dealt round-robin to both threads
    try:
        for s in subscribers:
            s.call("SUBSCRIBE", "seq")
        with RespConnection(server.port) as pub:
            counts = pub.pipeline([("PUBLISH", "seq", str(i)) for i in range(2000)])
        assert all(c.py() == 8 for c in counts)
        for s in subscribers:
            got = [s.read_reply().py()[2] for _ in range(2000)]
            assert got == [str(i).encode() for i in range(2000)]
    finally:
        for s in subscribers:
            s.close()


def test_two_publishers_each_keep_their_order_at_every_subscriber(strata_factory):
    server = strata_factory("--io-threads", "2")
    subscribers = [RespConnection(server.port) for _ in range(4)]
    try:
        for s in subscribers:
            s.call("SUBSCRIBE", "mixed")

        def publish(name):
            with RespConnection(server.port) as pub:
                pub.pipeline([("PUBLISH", "mixed", f"{name}:{i}") for i in range(1000)])

        threads = [threading.Thread(target=publish, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for s in subscribers:
            got = [s.read_reply().py()[2].decode() for _ in range(2000)]
            for name in ("a", "b"):
                assert [int(m.split(":")[1]) for m in got if m.startswith(name)] == list(range(1000))
    finally:
        for s in subscribers:
            s.close()


def test_notifications_to_a_resp3_client_never_land_inside_its_own_reply(strata):
    # Strata only: Redis 7.0 writes these pushes between the array's elements.
    with RespConnection(strata.port) as c:
        c.call("HELLO", "3")
        c.call("CONFIG", "SET", "notify-keyspace-events", "Em")
        c.call("SUBSCRIBE", "__keyevent@0__:keymiss")
        c.send("MGET", "a", "b")
        got = [c.read_reply() for _ in range(3)]
    assert [r.kind for r in got] == [">", ">", "*"]
    assert [r.py() for r in got[:2]] == [[b"message", b"__keyevent@0__:keymiss", b"a"],
                                         [b"message", b"__keyevent@0__:keymiss", b"b"]]
    assert got[2].py() == [None, None]

"""Keyspace notifications of the list and sorted-set commands, as Redis 7.0 raises them.

Each scenario runs on strata and on Debian's redis-server (server_factory) and states the exact
messages a subscriber to every notification channel receives: a command's own event comes after
the "new" of a key it creates and before the "del" of a key it empties; a blocked client served
later by another client's write raises its events right after the writer's. The random command
sequences of test_differential_notifications.py cover the rest of both families.
"""
import pytest

from helpers import RespConnection, server_factory  # noqa: F401  (server_factory is a fixture)
from test_blocking import wait_until_blocked

MARKER = b"__marker__"


class Subscriber:
    """A connection subscribed to every keyspace and keyevent channel of db 0."""

    def __init__(self, port):
        self.conn = RespConnection(port)
        self.conn.call(b"PSUBSCRIBE", b"__key*@0__:*")
        self.conn.call(b"SUBSCRIBE", MARKER)

    def events_until_marker(self):
        """(event, key) of every keyspace message before the next marker, in arrival order.

        Each event comes twice, on __keyspace@0__:<key> and then __keyevent@0__:<event>; the two
        must agree, and the pair counts once.
        """
        events = []
        while True:
            kind, *rest = self.conn.read_reply().py()
            if kind == b"message":
                return events
            channel, payload = rest[1], rest[2]
            if channel.startswith(b"__keyspace@0__:"):
                events.append((payload, channel[len(b"__keyspace@0__:"):]))
            else:
                assert events[-1] == (channel[len(b"__keyevent@0__:"):], payload), (events, channel, payload)


def events_of(port, *commands, classes=b"KEA"):
    """Runs `commands` on one connection and returns, for each, the (event, key)s it raised."""
    with RespConnection(port) as c:
        assert c.call(b"CONFIG", b"SET", b"notify-keyspace-events", classes).kind == "+"
        sub = Subscriber(port)
        try:
            out = []
            for command in commands:
                c.call(*command)
                c.call(b"PUBLISH", MARKER, b"")
                out.append(sub.events_until_marker())
            return out
        finally:
            sub.conn.close()


@pytest.fixture
def port(server_factory):
    return server_factory().port


# -- lists -------------------------------------------------------------------------------------


def test_a_push_that_creates_the_list_raises_new_then_lpush(port):
    assert events_of(port, [b"RPUSH", b"l", b"a"], [b"LPUSH", b"l", b"b", b"c"], classes=b"KEAn") == [
        [(b"new", b"l"), (b"rpush", b"l")],
        [(b"lpush", b"l")],  # one event for several elements
    ]


def test_pushx_raises_lpush_or_rpush_only_when_the_list_exists(port):
    assert events_of(port, [b"LPUSHX", b"l", b"a"], [b"RPUSH", b"l", b"a"], [b"LPUSHX", b"l", b"b"],
                     [b"RPUSHX", b"l", b"c"]) == [[], [(b"rpush", b"l")], [(b"lpush", b"l")], [(b"rpush", b"l")]]


def test_popping_the_last_element_raises_lpop_then_del(port):
    assert events_of(port, [b"RPUSH", b"l", b"a", b"b", b"c"], [b"LPOP", b"l"], [b"RPOP", b"l", b"5"],
                     [b"LPOP", b"l"]) == [
        [(b"rpush", b"l")],
        [(b"lpop", b"l")],
        [(b"rpop", b"l"), (b"del", b"l")],
        [],
    ]


def test_lpop_with_count_zero_raises_nothing(port):
    assert events_of(port, [b"RPUSH", b"l", b"a"], [b"LPOP", b"l", b"0"]) == [[(b"rpush", b"l")], []]


def test_linsert_and_lset_raise_their_events_only_when_they_change_the_list(port):
    assert events_of(port, [b"RPUSH", b"l", b"a"], [b"LINSERT", b"l", b"BEFORE", b"a", b"z"],
                     [b"LINSERT", b"l", b"AFTER", b"nope", b"z"], [b"LSET", b"l", b"0", b"y"],
                     [b"LSET", b"l", b"9", b"y"]) == [
        [(b"rpush", b"l")], [(b"linsert", b"l")], [], [(b"lset", b"l")], [],
    ]


def test_ltrim_raises_ltrim_even_when_nothing_goes_and_del_when_all_goes(port):
    assert events_of(port, [b"RPUSH", b"l", b"a", b"b"], [b"LTRIM", b"l", b"0", b"-1"],
                     [b"LTRIM", b"l", b"5", b"9"], [b"LTRIM", b"l", b"0", b"-1"]) == [
        [(b"rpush", b"l")], [(b"ltrim", b"l")], [(b"ltrim", b"l"), (b"del", b"l")], [],
    ]


def test_lrem_raises_lrem_when_it_removed_something_then_del_when_it_emptied_the_list(port):
    assert events_of(port, [b"RPUSH", b"l", b"a", b"b", b"a"], [b"LREM", b"l", b"0", b"zz"],
                     [b"LREM", b"l", b"1", b"a"], [b"LREM", b"l", b"0", b"a"], [b"LREM", b"l", b"0", b"b"]) == [
        [(b"rpush", b"l")], [], [(b"lrem", b"l")], [(b"lrem", b"l")], [(b"lrem", b"l"), (b"del", b"l")],
    ]


def test_lmove_raises_the_push_on_the_destination_before_the_pop_and_del_of_the_source(port):
    assert events_of(port, [b"RPUSH", b"src", b"a"], [b"LMOVE", b"src", b"dst", b"LEFT", b"RIGHT"],
                     [b"RPOPLPUSH", b"dst", b"dst"], classes=b"KEAn") == [
        [(b"new", b"src"), (b"rpush", b"src")],
        [(b"new", b"dst"), (b"rpush", b"dst"), (b"lpop", b"src"), (b"del", b"src")],
        # A rotation of a one-element list: the list is never deleted nor created again.
        [(b"lpush", b"dst"), (b"rpop", b"dst")],
    ]


def test_lmpop_and_blpop_served_at_once_raise_the_pop_then_del(port):
    assert events_of(port, [b"RPUSH", b"l", b"a", b"b", b"c"], [b"LMPOP", b"2", b"none", b"l", b"RIGHT", b"COUNT", b"2"],
                     [b"BLPOP", b"none", b"l", b"0"]) == [
        [(b"rpush", b"l")], [(b"rpop", b"l")], [(b"lpop", b"l"), (b"del", b"l")],
    ]


def test_nothing_is_raised_when_the_list_class_is_off(port):
    # "g" alone: "del" is generic, so emptying the list still raises it.
    assert events_of(port, [b"RPUSH", b"l", b"a"], [b"LPOP", b"l"], classes=b"Kg") == [[], [(b"del", b"l")]]


# -- blocked clients served by another client's write ----------------------------------------


def served_later(port, blocking_commands, *writes):
    """Blocks one client in each of blocking_commands (in that order), then runs writes from
    another client. Returns the events of each write, those of the waiters it served included,
    and each waiter's reply."""
    waiters = [RespConnection(port) for _ in blocking_commands]
    try:
        with RespConnection(port) as writer:
            assert writer.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"KEAn").kind == "+"
            sub = Subscriber(port)
            try:
                for i, (waiter, command) in enumerate(zip(waiters, blocking_commands)):
                    waiter.send(*command)
                    wait_until_blocked(writer, i + 1)
                out = []
                for write in writes:
                    writer.call(*write)
                    writer.call(b"PUBLISH", MARKER, b"")
                    out.append(sub.events_until_marker())
                return out, [waiter.read_reply().py() for waiter in waiters]
            finally:
                sub.conn.close()
    finally:
        for waiter in waiters:
            waiter.close()


def test_a_blpop_served_by_a_push_raises_new_lpush_then_lpop_then_del(port):
    assert served_later(port, [[b"BLPOP", b"l", b"0"]], [b"LPUSH", b"l", b"a"]) == (
        [[(b"new", b"l"), (b"lpush", b"l"), (b"lpop", b"l"), (b"del", b"l")]], [[b"l", b"a"]])


def test_a_brpop_that_leaves_elements_raises_no_del(port):
    assert served_later(port, [[b"BRPOP", b"l", b"0"]], [b"RPUSH", b"l", b"a", b"b"]) == (
        [[(b"new", b"l"), (b"rpush", b"l"), (b"rpop", b"l")]], [[b"l", b"b"]])


def test_waiters_served_by_one_push_raise_a_pop_each_in_arrival_order_then_one_del(port):
    assert served_later(port, [[b"BLPOP", b"l", b"0"], [b"BRPOP", b"l", b"0"]], [b"RPUSH", b"l", b"a", b"b"]) == (
        [[(b"new", b"l"), (b"rpush", b"l"), (b"lpop", b"l"), (b"rpop", b"l"), (b"del", b"l")]],
        [[b"l", b"a"], [b"l", b"b"]])


def test_a_waiter_left_waiting_by_a_write_raises_nothing(port):
    # The BZPOPMIN waits on a list's key: the push serves nobody.
    assert served_later(port, [[b"BZPOPMIN", b"l", b"0"]], [b"RPUSH", b"l", b"a"], [b"DEL", b"l"],
                        [b"ZADD", b"l", b"1", b"m"]) == (
        [[(b"new", b"l"), (b"rpush", b"l")], [(b"del", b"l")],
         [(b"new", b"l"), (b"zadd", b"l"), (b"zpopmin", b"l"), (b"del", b"l")]],
        [[b"l", b"m", b"1"]])


def test_a_blmove_served_later_pushes_onto_the_destination_before_it_pops_the_source(port):
    assert served_later(port, [[b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0"]], [b"RPUSH", b"src", b"a"]) == (
        [[(b"new", b"src"), (b"rpush", b"src"), (b"new", b"dst"), (b"lpush", b"dst"), (b"rpop", b"src"),
          (b"del", b"src")]], [b"a"])


def test_a_brpoplpush_served_later_onto_its_own_source_keeps_the_list(port):
    assert served_later(port, [[b"BRPOPLPUSH", b"l", b"l", b"0"]], [b"RPUSH", b"l", b"a"]) == (
        [[(b"new", b"l"), (b"rpush", b"l"), (b"lpush", b"l"), (b"rpop", b"l")]], [b"a"])


def test_a_blmpop_served_later_pops_up_to_its_count_then_del(port):
    assert served_later(port, [[b"BLMPOP", b"0", b"1", b"l", b"LEFT", b"COUNT", b"5"]], [b"RPUSH", b"l", b"a", b"b"]) == (
        [[(b"new", b"l"), (b"rpush", b"l"), (b"lpop", b"l"), (b"del", b"l")]], [[b"l", [b"a", b"b"]]])


# -- sorted sets -------------------------------------------------------------------------------


def test_zadd_raises_zadd_only_when_it_added_or_rescored_and_zadd_incr_raises_zincr(port):
    assert events_of(port, [b"ZADD", b"z", b"1", b"a"], [b"ZADD", b"z", b"1", b"a"], [b"ZADD", b"z", b"2", b"a"],
                     [b"ZADD", b"z", b"INCR", b"1", b"a"], [b"ZINCRBY", b"z", b"1", b"a"],
                     [b"ZADD", b"z", b"XX", b"1", b"new"], [b"ZADD", b"z", b"GT", b"INCR", b"-1", b"a"],
                     classes=b"KEAn") == [
        [(b"new", b"z"), (b"zadd", b"z")], [], [(b"zadd", b"z")], [(b"zincr", b"z")], [(b"zincr", b"z")], [], [],
    ]


def test_zrem_and_zremrangeby_raise_their_event_then_del_when_they_empty_the_set(port):
    assert events_of(port, [b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d"],
                     [b"ZREM", b"z", b"nope"], [b"ZREM", b"z", b"a"], [b"ZREMRANGEBYSCORE", b"z", b"2", b"2"],
                     [b"ZREMRANGEBYLEX", b"z", b"[a", b"[a"], [b"ZREMRANGEBYRANK", b"z", b"0", b"-1"]) == [
        [(b"zadd", b"z")], [], [(b"zrem", b"z")], [(b"zremrangebyscore", b"z")], [],
        [(b"zremrangebyrank", b"z"), (b"del", b"z")],
    ]


def test_zpopmin_zpopmax_and_zmpop_raise_one_event_then_del(port):
    assert events_of(port, [b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c"], [b"ZPOPMIN", b"z", b"2"],
                     [b"ZPOPMAX", b"z", b"0"], [b"ZMPOP", b"1", b"z", b"MAX"], [b"ZPOPMIN", b"z"]) == [
        [(b"zadd", b"z")], [(b"zpopmin", b"z")], [], [(b"zpopmax", b"z"), (b"del", b"z")], [],
    ]


def test_a_bzpopmin_served_by_a_zadd_raises_new_zadd_then_zpopmin_then_del(port):
    assert served_later(port, [[b"BZPOPMIN", b"z", b"0"]], [b"ZADD", b"z", b"1", b"a"]) == (
        [[(b"new", b"z"), (b"zadd", b"z"), (b"zpopmin", b"z"), (b"del", b"z")]], [[b"z", b"a", b"1"]])


def test_a_bzmpop_served_later_raises_zpopmax(port):
    assert served_later(port, [[b"BZMPOP", b"0", b"1", b"z", b"MAX"]], [b"ZADD", b"z", b"1", b"a", b"2", b"b"]) == (
        [[(b"new", b"z"), (b"zadd", b"z"), (b"zpopmax", b"z")]], [[b"z", [[b"b", b"2"]]]])


def test_the_store_forms_raise_new_and_their_event_or_del_for_an_empty_result(port):
    assert events_of(port, [b"ZADD", b"a", b"1", b"x"], [b"ZUNIONSTORE", b"d", b"1", b"a"],
                     [b"ZINTERSTORE", b"d", b"2", b"a", b"none"], [b"ZINTERSTORE", b"d", b"2", b"a", b"none"],
                     [b"ZDIFFSTORE", b"d", b"1", b"a"], [b"ZRANGESTORE", b"d", b"a", b"0", b"-1"],
                     [b"ZRANGESTORE", b"d", b"a", b"5", b"9"], classes=b"KEAn") == [
        [(b"new", b"a"), (b"zadd", b"a")],
        [(b"new", b"d"), (b"zunionstore", b"d")],
        [(b"del", b"d")],
        [],  # nothing to delete
        [(b"new", b"d"), (b"zdiffstore", b"d")],
        [(b"zrangestore", b"d")],  # replaces the key: no "new"
        [(b"del", b"d")],
    ]


def test_nothing_is_raised_when_the_zset_class_is_off(port):
    assert events_of(port, [b"ZADD", b"z", b"1", b"a"], [b"ZPOPMIN", b"z"], classes=b"Kgl") == [[], [(b"del", b"z")]]

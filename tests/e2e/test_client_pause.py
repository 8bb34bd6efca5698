"""CLIENT PAUSE / UNPAUSE, CLIENT NO-TOUCH and CLIENT KILL MAXAGE, with real clients.

A paused command is parked like any other waiting command (DESIGN section 4): it runs, in arrival
order, when the pause ends or CLIENT UNPAUSE comes, while commands the pause does not cover go on.
"""
import threading
import time

import pytest
import redis

from helpers import pair  # noqa: F401  (a fixture: a fresh strata and redis-server)


def timed(fn):
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started


def in_background(fn):
    result = {}

    def run():
        result["value"], result["seconds"] = timed(fn)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_pause_write_holds_writes_until_the_timeout_and_lets_reads_through(strata):
    admin, client = strata.client(), strata.client()
    client.set("k", "1")
    assert admin.execute_command("CLIENT", "PAUSE", "400", "WRITE") == "OK"
    value, seconds = timed(lambda: client.get("k"))
    assert value == "1" and seconds < 0.2
    _, seconds = timed(lambda: client.set("k", "2"))
    assert 0.3 <= seconds < 3
    assert client.get("k") == "2"


def test_pause_write_holds_scripts_publish_and_an_exec_that_writes(strata):
    admin, client = strata.client(), strata.client()
    admin.execute_command("CLIENT", "PAUSE", "300", "WRITE")
    _, seconds = timed(lambda: client.eval("return 1", 0))
    assert seconds >= 0.2
    admin.execute_command("CLIENT", "PAUSE", "300", "WRITE")
    _, seconds = timed(lambda: client.publish("ch", "m"))
    assert seconds >= 0.2
    admin.execute_command("CLIENT", "PAUSE", "300", "WRITE")
    pipe = client.pipeline(transaction=True)
    pipe.get("x")
    _, seconds = timed(pipe.execute)
    assert seconds < 0.2, "an EXEC of reads only is not held"
    pipe = client.pipeline(transaction=True)
    pipe.set("x", "1")
    _, seconds = timed(pipe.execute)
    assert seconds >= 0.2


def test_pause_all_holds_every_command_until_unpause(strata):
    admin, client, other = strata.client(), strata.client(), strata.client()
    client.set("k", "v")
    admin.execute_command("CLIENT", "PAUSE", "10000", "ALL")
    thread, result = in_background(lambda: client.get("k"))
    time.sleep(0.3)
    assert thread.is_alive(), "a read is held under ALL"
    assert other.execute_command("CLIENT", "UNPAUSE") == "OK"
    thread.join(5)
    assert result["value"] == "v" and 0.25 <= result["seconds"] < 5


def test_held_commands_of_one_client_run_in_order_after_the_pause(strata):
    admin = strata.client()
    raw = redis.Redis(host="127.0.0.1", port=strata.port, decode_responses=True)
    admin.execute_command("CLIENT", "PAUSE", "300", "WRITE")
    pipe = raw.pipeline(transaction=False)
    for i in range(100):
        pipe.rpush("order", i)
    replies, seconds = timed(pipe.execute)
    assert replies == list(range(1, 101))
    assert raw.lrange("order", 0, -1) == [str(i) for i in range(100)]
    assert seconds >= 0.2


def test_a_longer_pause_given_while_a_command_waits_keeps_it_waiting(strata):
    admin, client = strata.client(), strata.client()
    admin.execute_command("CLIENT", "PAUSE", "200", "WRITE")
    thread, result = in_background(lambda: client.set("k", "1"))
    time.sleep(0.1)
    admin.execute_command("CLIENT", "PAUSE", "600", "WRITE")  # ends later: the later end wins
    thread.join(5)
    assert result["seconds"] >= 0.5


def test_no_key_expires_in_the_background_while_paused(strata):
    admin, client = strata.client(), strata.client()
    client.set("short", "v", px=100)
    admin.execute_command("CLIENT", "PAUSE", "700", "WRITE")
    time.sleep(0.4)
    assert admin.dbsize() == 1, "not reclaimed during the pause"
    time.sleep(0.8)
    deadline = time.monotonic() + 3
    while admin.dbsize() != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert admin.dbsize() == 0


def test_pause_errors_use_redis_wording(r):
    with pytest.raises(redis.ResponseError, match="timeout is not an integer or out of range"):
        r.execute_command("CLIENT", "PAUSE", "abc")
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.execute_command("CLIENT", "PAUSE", "-1")
    with pytest.raises(redis.ResponseError, match="CLIENT PAUSE mode must be WRITE or ALL"):
        r.execute_command("CLIENT", "PAUSE", "10", "READ")


def test_a_paused_client_that_disconnects_is_forgotten(strata):
    admin = strata.client()
    admin.execute_command("CLIENT", "PAUSE", "300", "ALL")
    doomed = redis.Redis(host="127.0.0.1", port=strata.port, socket_timeout=0.1)
    with pytest.raises(redis.TimeoutError):
        doomed.set("k", "v")
    doomed.close()
    time.sleep(0.4)
    assert admin.ping()


def test_no_touch_leaves_the_idle_time_of_keys_alone(strata_factory):
    server = strata_factory("--maxmemory-policy", "allkeys-lru")
    client = server.client()
    client.set("k", "v")
    time.sleep(2.1)
    client.execute_command("CLIENT", "NO-TOUCH", "on")
    client.get("k")
    assert client.object("idletime", "k") >= 2, "a read with NO-TOUCH does not touch"
    assert "T" in client.client_info()["flags"]
    client.touch("k")
    assert client.object("idletime", "k") == 0, "TOUCH still touches"
    client.execute_command("CLIENT", "NO-TOUCH", "off")
    assert "T" not in client.client_info()["flags"]


def test_kill_maxage_closes_only_connections_older_than_the_age(strata):
    old = strata.client()
    old_id = old.client_id()
    time.sleep(2.2)
    young, admin = strata.client(), strata.client()
    young.ping()
    assert admin.execute_command("CLIENT", "KILL", "MAXAGE", "1") == 1
    # The kill is carried out on the old client's own I/O thread, a moment later.
    deadline = time.monotonic() + 5
    while any(c["id"] == str(old_id) for c in admin.client_list()) and time.monotonic() < deadline:
        time.sleep(0.05)
    ids = {c["id"] for c in admin.client_list()}
    assert str(old_id) not in ids
    assert str(young.client_id()) in ids and str(admin.client_id()) in ids


def test_a_pause_in_force_keeps_the_stricter_mode(strata):
    admin, client, other = strata.client(), strata.client(), strata.client()
    pipe = admin.pipeline(transaction=True)  # both pauses in one EXEC: the second finds ALL in force
    pipe.execute_command("CLIENT", "PAUSE", "10000", "ALL")
    pipe.execute_command("CLIENT", "PAUSE", "10", "WRITE")
    assert pipe.execute() == ["OK", "OK"]
    thread, result = in_background(lambda: client.get("k"))
    time.sleep(0.3)
    assert thread.is_alive(), "still ALL, until the later end: a read is held"
    other.execute_command("CLIENT", "UNPAUSE")
    thread.join(5)
    assert result["seconds"] >= 0.25


def test_paused_clients_count_as_blocked_and_quit_is_answered(strata):
    admin, client, observer = strata.client(), strata.client(), strata.client()
    admin.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
    thread, _ = in_background(lambda: client.set("k", "v"))
    deadline = time.monotonic() + 5
    while observer.info("clients")["blocked_clients"] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert observer.info("clients")["blocked_clients"] == 1
    quitter = redis.Redis(host="127.0.0.1", port=strata.port)
    _, seconds = timed(lambda: quitter.execute_command("QUIT"))
    assert seconds < 0.5
    observer.execute_command("CLIENT", "UNPAUSE")
    thread.join(5)
    assert observer.info("clients")["blocked_clients"] == 0
    assert observer.get("k") == "v"


# ---------------------------------------------------------------------------------------------
# Against Redis 7.0: which commands each pause mode holds.

PAUSE_MS = 300
HELD_AFTER = 0.2    # a held command answers after most of the pause
PROMPT_UNDER = 0.1  # one that is not held answers well before it


def pause_outcomes(server, mode, commands):
    """For each command: pause the server in `mode`, run the command from another client, and
    say whether it was held (and what it answered). Fresh pauses keep the commands independent."""
    admin, client = server.client(), server.client()
    client.set("k", "1")
    client.rpush("list", "a")
    client.execute_command("FUNCTION", "LOAD", "REPLACE",
                           "#!lua name=lib\n"
                           "redis.register_function{function_name='reader', callback=function() return 1 end, "
                           "flags={'no-writes'}}\n"
                           "redis.register_function('writer', function() return 2 end)")
    outcomes = []
    for command in commands:
        assert admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, mode) == "OK"
        try:
            reply, seconds = timed(lambda: client.execute_command(*command))
        except redis.RedisError as e:
            reply, seconds = f"error: {e}", 0.0
        held = "held" if seconds >= HELD_AFTER else "prompt" if seconds < PROMPT_UNDER else f"unclear ({seconds:.2f}s)"
        outcomes.append((command[0], held, reply))
        admin.execute_command("CLIENT", "UNPAUSE")
    admin.close()
    client.close()
    return outcomes


def test_pause_write_holds_the_same_commands_as_redis(pair):
    commands = [("GET", "k"), ("SET", "k", "2"), ("INCR", "n"), ("LRANGE", "list", 0, -1), ("LPOP", "list"),
                ("DEL", "nosuch"), ("EXPIRE", "k", 100), ("PUBLISH", "ch", "m"), ("EVAL", "return 1", 0),
                ("EVAL_RO", "return 1", 0), ("EVAL", "#!lua flags=no-writes\nreturn 1", 0),
                ("FCALL", "reader", 0), ("FCALL", "writer", 0), ("PFCOUNT", "hll"),
                ("PING",), ("ECHO", "x"), ("DBSIZE",), ("FLUSHALL",),
                ("CLIENT", "ID")]
    strata, oracle = pair
    got, expected = pause_outcomes(strata, "WRITE", commands), pause_outcomes(oracle, "WRITE", commands)
    assert [(name, held) for name, held, _ in got] == [(name, held) for name, held, _ in expected]
    assert [reply for *_, reply in got][:-1] == [reply for *_, reply in expected][:-1], "CLIENT ID differs by nature"


def test_pause_all_holds_the_same_commands_as_redis(pair):
    commands = [("GET", "k"), ("SET", "k", "2"), ("PING",), ("INFO", "server"), ("CLIENT", "ID")]
    strata, oracle = pair
    got, expected = pause_outcomes(strata, "ALL", commands), pause_outcomes(oracle, "ALL", commands)
    assert [(name, held) for name, held, _ in got] == [(name, held) for name, held, _ in expected]


def test_pause_write_holds_an_exec_that_queued_a_publish_as_redis_does(pair):
    def scenario(server):
        admin, client = server.client(), server.client()
        pipe = client.pipeline(transaction=True)
        pipe.publish("ch", "m")
        pipe.get("k")
        admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        reply, seconds = timed(pipe.execute)
        admin.execute_command("CLIENT", "UNPAUSE")
        return reply, seconds >= HELD_AFTER

    strata, oracle = pair
    assert scenario(strata) == scenario(oracle) == ([0, None], True)

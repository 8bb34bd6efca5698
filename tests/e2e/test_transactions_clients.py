"""Transactions and scripts through a real client: redis-py (Debian's python3-redis 4.3), whose
reply parser is hiredis when python3-hiredis is installed, as it is here.

What a client library builds on MULTI/EXEC/WATCH and EVAL/EVALSHA is what applications use:
pipelines (MULTI/EXEC by default), the optimistic-locking helper `transaction()`, the `Lock`
(SET NX PX to take it, Lua scripts to release, extend and reacquire it) and `register_script`
(EVALSHA, reloading the body after a SCRIPT FLUSH). The contention tests run several threads,
each with its own connection pool, and check totals that are exact only if the server is.

Every test runs against strata and against Debian's redis-server 7.0.15 (`server_factory`): what
a test asserts is what Redis does.
"""
import hashlib
import threading
import time

import pytest
import redis
import redis.connection
import redis.utils
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError, ResponseError, WatchError

from helpers import client_for, server, server_factory  # noqa: F401  (fixtures)

# Both reply parsers: the C one (hiredis, redis-py's default when installed) and the pure-Python
# one. They differ in how they surface errors nested inside an EXEC reply.
PARSERS = {"hiredis": None, "python": redis.connection.PythonParser}


@pytest.fixture(params=sorted(PARSERS))
def r(request, server):
    """A redis-py client (decoded strings) on a fresh server, with the parametrized parser."""
    parser = PARSERS[request.param]
    if parser is None:
        if not redis.utils.HIREDIS_AVAILABLE:
            pytest.skip("python3-hiredis is not installed")
        client = client_for(server)
    else:
        pool = redis.ConnectionPool(host="127.0.0.1", port=server.port, decode_responses=True, socket_timeout=10,
                                    socket_connect_timeout=10, parser_class=parser)
        client = redis.Redis(connection_pool=pool)
    yield client
    client.close()


def run_threads(target, count, timeout=30):
    """Run target(i) on `count` threads; re-raise the first exception any of them raised.

    Threads are daemons and joined with a deadline, so a hung server fails the test instead of
    hanging it.
    """
    failures = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as e:  # noqa: B902  (reported on the main thread)
            failures.append(e)

    threads = [threading.Thread(target=wrapped, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout}s"
    if failures:
        raise failures[0]


# ---------------------------------------------------------------------------------------------
# Pipelines: redis-py wraps them in MULTI/EXEC unless transaction=False

def test_hiredis_is_the_default_parser(server):
    client = client_for(server)
    assert redis.utils.HIREDIS_AVAILABLE
    connection = client.connection_pool.get_connection("PING")
    try:
        assert type(connection._parser).__name__ == "HiredisParser"
    finally:
        client.connection_pool.release(connection)


def test_default_pipeline_runs_its_commands_in_one_transaction(r):
    with r.pipeline() as p:
        p.set("p:s", "v").incr("p:n").incrby("p:n", 41).get("p:s")
        p.rpush("p:l", "a", "b").lrange("p:l", 0, -1).hset("p:h", mapping={"f": "1", "g": "2"})
        p.hgetall("p:h").exists("p:s", "p:n", "missing").delete("p:s")
        assert p.execute() == [True, 1, 42, "v", 2, ["a", "b"], 2, {"f": "1", "g": "2"}, 2, 1]
    assert r.get("p:n") == "42"
    assert r.get("p:s") is None


def test_pipeline_without_transaction_sends_the_same_commands_without_multi(r):
    with r.pipeline(transaction=False) as p:
        p.set("nt", 1).incr("nt").get("nt")
        assert p.execute() == [True, 2, "2"]


def test_empty_pipeline_returns_no_replies(r):
    with r.pipeline() as p:
        assert p.execute() == []


def test_pipeline_keeps_going_after_a_runtime_error_and_returns_it_in_place(r):
    # A command that fails at EXEC time (wrong type) does not roll back or stop the others.
    with r.pipeline() as p:
        p.set("k", "1").lpush("k", "x").incr("k").get("k")
        replies = p.execute(raise_on_error=False)
    assert replies[0] is True
    assert isinstance(replies[1], ResponseError)
    assert str(replies[1]).startswith("WRONGTYPE")
    assert replies[2:] == [2, "2"]


def test_pipeline_raises_the_runtime_error_after_every_command_ran(r):
    with r.pipeline() as p:
        p.set("k", "1").lpush("k", "x").incr("k").set("after", "yes")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            p.execute()
    assert r.get("k") == "2"
    assert r.get("after") == "yes"


def test_pipeline_with_a_queueing_error_applies_none_of_its_commands(r):
    # Wrong arity is refused when queued: EXEC then answers EXECABORT and runs nothing; redis-py
    # raises the queueing error itself.
    with r.pipeline() as p:
        p.set("first", "1").execute_command("SET", "only-a-key").set("last", "1")
        with pytest.raises(ResponseError, match="wrong number of arguments"):
            p.execute()
    assert r.exists("first", "last") == 0


def test_pipeline_with_an_unknown_command_applies_none_of_its_commands(r):
    with r.pipeline() as p:
        p.set("first", "1").execute_command("NOSUCHCOMMAND", "x")
        with pytest.raises(ResponseError, match="unknown command"):
            p.execute()
    assert r.exists("first") == 0


def test_pipeline_is_reusable_after_an_error(r):
    with r.pipeline() as p:
        p.set("k", "1").lpush("k", "x")
        with pytest.raises(ResponseError):
            p.execute()
        p.get("k").incr("k")
        assert p.execute() == ["1", 2]


def test_watched_pipeline_fails_with_watch_error_when_another_client_writes_the_key(r, server):
    other = client_for(server)
    r.set("w", "1")
    with r.pipeline() as p:
        p.watch("w")
        current = int(p.get("w"))  # immediate mode while watching
        other.set("w", "100")
        p.multi()
        p.set("w", current + 1)
        with pytest.raises(WatchError):
            p.execute()
    assert r.get("w") == "100"
    # Watching again, undisturbed, the same transaction goes through.
    with r.pipeline() as p:
        p.watch("w")
        current = int(p.get("w"))
        p.multi()
        p.set("w", current + 1)
        assert p.execute() == [True]
    assert r.get("w") == "101"
    other.close()


def test_unwatch_forgets_the_watched_keys(r, server):
    other = client_for(server)
    with r.pipeline() as p:
        p.watch("w")
        other.set("w", "changed")
        p.unwatch()
        p.multi()
        p.set("w", "mine")
        assert p.execute() == [True]
    assert r.get("w") == "mine"
    other.close()


def test_watch_sees_expiry_deletion_and_a_write_of_the_same_value(r, server):
    other = client_for(server)
    for disturb in (lambda: other.set("w", "same"), lambda: other.delete("w")):
        r.set("w", "same")
        with r.pipeline() as p:
            p.watch("w")
            disturb()
            p.multi()
            p.set("w", "mine")
            with pytest.raises(WatchError):
                p.execute()
    other.close()


def test_a_script_or_transaction_writing_a_watched_key_aborts_the_watchers_exec(r, server):
    other = client_for(server)
    writers = (lambda: other.eval("return redis.call('SET', KEYS[1], 'by script')", 1, "w"),
               lambda: other.pipeline().set("w", "by transaction").execute())
    for write in writers:
        with r.pipeline() as p:
            p.watch("w")
            write()
            p.multi()
            p.set("w", "mine")
            with pytest.raises(WatchError):
                p.execute()
    assert r.get("w") == "by transaction"
    other.close()


def test_transaction_helper_makes_concurrent_increments_exact(server):
    # Each thread reads the counter, then writes it + 1 under WATCH: lost updates would show as
    # a short total. Retries (WatchError inside transaction()) are expected and invisible.
    threads, per_thread = 6, 40
    setup = client_for(server)
    setup.set("counter", 0)

    def worker(i):
        client = client_for(server)

        def increment(pipe):
            value = int(pipe.get("counter"))
            pipe.multi()
            pipe.set("counter", value + 1)
            pipe.rpush("log", f"{i}:{value + 1}")

        for _ in range(per_thread):
            client.transaction(increment, "counter")
        client.close()

    run_threads(worker, threads)
    assert int(setup.get("counter")) == threads * per_thread
    # Every value from 1 to the total was written exactly once.
    written = sorted(int(entry.split(":")[1]) for entry in setup.lrange("log", 0, -1))
    assert written == list(range(1, threads * per_thread + 1))
    setup.close()


def test_transaction_helper_returns_the_callables_value_when_asked(r):
    r.set("a", 5)

    def double(pipe):
        value = int(pipe.get("a"))
        pipe.multi()
        pipe.set("a", value * 2)
        return value

    assert r.transaction(double, "a", value_from_callable=True) == 5
    assert r.transaction(double, "a") == [True]
    assert r.get("a") == "20"


# ---------------------------------------------------------------------------------------------
# Lock: SET NX PX to acquire, Lua (EVALSHA) to release, extend and reacquire

def test_lock_gives_mutual_exclusion_under_contention(server):
    # Read, pause, write: without mutual exclusion two holders would overwrite each other's
    # increments. `holders` checks the same thing from the clients' side.
    threads, per_thread = 6, 12
    setup = client_for(server)
    setup.set("guarded", 0)
    holders = []
    state = threading.Lock()

    def worker(i):
        client = client_for(server)
        for _ in range(per_thread):
            with client.lock("lock:guarded", timeout=10, sleep=0.002, blocking_timeout=20):
                with state:
                    holders.append(i)
                    assert len(holders) == 1, f"two holders at once: {holders}"
                value = int(client.get("guarded"))
                time.sleep(0.001)
                client.set("guarded", value + 1)
                with state:
                    holders.remove(i)
        client.close()

    run_threads(worker, threads)
    assert int(setup.get("guarded")) == threads * per_thread
    assert setup.exists("lock:guarded") == 0
    setup.close()


def test_lock_acquire_extend_reacquire_release(r):
    lock = r.lock("lock:l", timeout=2)
    assert lock.acquire(blocking=False) is True
    assert lock.locked() and lock.owned()
    assert 0 < r.pttl("lock:l") <= 2000
    assert r.get("lock:l") == lock.local.token.decode()

    assert lock.extend(3) is True  # adds to the remaining time
    assert 2000 < r.pttl("lock:l") <= 5000
    assert lock.extend(10, replace_ttl=True) is True
    assert 5000 < r.pttl("lock:l") <= 10000
    assert lock.reacquire() is True  # back to the lock's own timeout
    assert 0 < r.pttl("lock:l") <= 2000

    # Held: another non-blocking acquire fails, a blocking one gives up at its timeout.
    other = r.lock("lock:l", timeout=2)
    assert other.acquire(blocking=False) is False
    assert other.acquire(blocking=True, blocking_timeout=0.2) is False

    lock.release()
    assert not lock.locked()
    assert r.exists("lock:l") == 0
    with pytest.raises(LockError):
        lock.release()  # no token any more: redis-py refuses without asking the server
    assert other.acquire(blocking=False) is True
    other.release()


def test_lock_that_expired_and_was_taken_by_another_cannot_be_released_extended_or_reacquired(r):
    first = r.lock("lock:e", timeout=0.2)
    assert first.acquire(blocking=False)
    second = r.lock("lock:e", timeout=10)
    assert second.acquire(blocking=True, blocking_timeout=5) is True  # after the expiry
    assert first.owned() is False and second.owned() is True

    with pytest.raises(LockNotOwnedError):
        first.extend(5)
    with pytest.raises(LockNotOwnedError):
        first.reacquire()
    with pytest.raises(LockNotOwnedError):
        first.release()  # last: redis-py forgets its token before it asks the server
    # The scripts compared tokens and touched nothing.
    assert r.get("lock:e") == second.local.token.decode()
    assert 0 < r.pttl("lock:e") <= 10000
    second.release()
    assert r.exists("lock:e") == 0


def test_lock_scripts_are_reloaded_after_script_flush(r):
    lock = r.lock("lock:f", timeout=5)
    assert lock.acquire(blocking=False)
    assert lock.extend(1)  # loads the extend script
    r.script_flush()
    assert lock.extend(1)  # NOSCRIPT, SCRIPT LOAD, EVALSHA
    lock.release()
    assert r.exists("lock:f") == 0


# ---------------------------------------------------------------------------------------------
# Scripts: EVAL, EVALSHA, SCRIPT LOAD/EXISTS/FLUSH, register_script

def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def test_eval_converts_lua_values_to_replies(r):
    assert r.eval("return 1", 0) == 1
    assert r.eval("return 3.99", 0) == 3  # numbers are truncated to integers
    assert r.eval("return 'text'", 0) == "text"
    assert r.eval("return {1, 'two', {3}}", 0) == [1, "two", [3]]
    assert r.eval("return {1, 2, nil, 4}", 0) == [1, 2]  # a table stops at its first nil
    assert r.eval("return nil", 0) is None
    assert r.eval("return false", 0) is None
    assert r.eval("return true", 0) == 1
    assert r.eval("return {ok='fine'}", 0) == "fine"
    assert r.eval("return redis.status_reply('STATUS')", 0) == "STATUS"
    with pytest.raises(ResponseError, match="my error"):
        r.eval("return {err='my error'}", 0)
    with pytest.raises(ResponseError, match="custom"):
        r.eval("return redis.error_reply('custom')", 0)


def test_eval_passes_keys_and_args_and_runs_commands(r):
    body = "redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], ARGV[2], redis.call('GET', KEYS[1])}"
    assert r.eval(body, 1, "ek", "value", "extra") == ["ek", "extra", "value"]
    assert r.get("ek") == "value"
    # A command error inside redis.call ends the script with that error; pcall returns it.
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        r.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, "ek")
    assert r.eval("local e = redis.pcall('LPUSH', KEYS[1], 'x'); return type(e) == 'table' and e.err ~= nil",
                  1, "ek") == 1
    with pytest.raises(ResponseError):
        r.eval("this is not lua", 0)


def test_script_load_exists_and_evalsha(r):
    body = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
    sha = r.script_load(body)
    assert sha == sha1(body)
    assert r.script_exists(sha, "0" * 40) == [True, False]
    assert r.evalsha(sha, 1, "counter", 5) == 5
    assert r.evalsha(sha.upper(), 1, "counter", 5) == 10  # the digest is case-insensitive
    assert r.evalsha_ro(r.script_load("return redis.call('GET', KEYS[1])"), 1, "counter") == "10"
    with pytest.raises(NoScriptError):
        r.evalsha("0" * 40, 0)
    # EVAL stores its body too: the same digest then runs with EVALSHA.
    r.eval("return 'from eval'", 0)
    assert r.evalsha(sha1("return 'from eval'"), 0) == "from eval"


def test_eval_ro_refuses_writes(r):
    r.set("ro", "1")
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, "ro") == "1"
    with pytest.raises(ResponseError, match="(?i)write commands are not allowed"):
        r.eval_ro("return redis.call('SET', KEYS[1], 'x')", 1, "ro")
    assert r.get("ro") == "1"


def test_script_flush_forgets_every_script(r):
    sha = r.script_load("return 1")
    assert r.script_exists(sha) == [True]
    assert r.script_flush() is True
    assert r.script_exists(sha) == [False]
    with pytest.raises(NoScriptError):
        r.evalsha(sha, 0)
    assert r.script_flush("SYNC") is True
    assert r.script_flush("ASYNC") is True


def test_registered_script_runs_by_digest_and_reloads_after_script_flush(r):
    script = r.register_script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
    assert script.sha == sha1(script.script)
    assert script(keys=["rs"], args=["a"]) == ["rs", "a", 1]
    assert r.script_exists(script.sha) == [True]

    r.script_flush()
    assert r.script_exists(script.sha) == [False]
    # EVALSHA answers NOSCRIPT; the Script object loads its body and runs it again.
    assert script(keys=["rs"], args=["b"]) == ["rs", "b", 2]
    assert r.script_exists(script.sha) == [True]


def test_registered_script_inside_a_pipeline_is_loaded_before_exec(r):
    script = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    r.script_flush()
    with r.pipeline() as p:
        p.set("ps", 10)
        script(keys=["ps"], args=[5], client=p)
        script(keys=["ps"], args=[1], client=p)
        p.get("ps")
        assert p.execute() == [True, 15, 16, "16"]
    assert r.script_exists(script.sha) == [True]


def test_script_inside_multi_exec_sees_the_transactions_earlier_writes(r):
    with r.pipeline() as p:
        p.set("t", "before")
        p.eval("local v = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], 'after'); return v", 1, "t")
        p.get("t")
        assert p.execute() == [True, "before", "after"]


def test_registered_scripts_from_several_threads_are_exact(server):
    # A script's read-modify-write is atomic: 6 threads moving 1 unit at a time between two
    # keys keep the sum, and the counts of moves add up.
    threads, per_thread = 6, 60
    setup = client_for(server)
    setup.mset({"bal:a": 1000, "bal:b": 1000})
    move = ("local v = tonumber(ARGV[1]); local a = tonumber(redis.call('GET', KEYS[1]));"
            "redis.call('SET', KEYS[1], a - v); redis.call('INCRBY', KEYS[2], v); return a - v")

    def worker(i):
        client = client_for(server)
        script = client.register_script(move)
        for n in range(per_thread):
            keys = ["bal:a", "bal:b"] if (i + n) % 2 == 0 else ["bal:b", "bal:a"]
            script(keys=keys, args=[1 + i])
        client.close()

    run_threads(worker, threads)
    a, b = (int(v) for v in setup.mget("bal:a", "bal:b"))
    assert a + b == 2000
    # Thread i moved (1+i) units a->b on half its turns and b->a on the other half.
    assert a == 1000 and b == 1000
    setup.close()

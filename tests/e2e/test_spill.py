"""The spill tier (DESIGN section 8; `spill-dir`), on a real strata with a RocksDB directory: with
maxmemory far below what is written, every key of every type is still answered, with its value,
its type and its TTL, because eviction moved it to disk instead of dropping it; writes to a
spilled key act on its value; a deleted or flushed key never comes back, not even after a
restart; and a restart with the same spill-dir serves what was spilled. Without spill-dir the same
load evicts (the control)."""
import time

import pytest
import redis

MAXMEMORY = "8mb"
KEYS_PER_TYPE = 1500  # x 5 types x about 2 KB: about twice MAXMEMORY
FILL = 1000  # keys per type that push what was written before them out to disk


def spill_info(client):
    return client.info("spill")


def settled_spilled_keys(client):
    """spilled_keys once the background eviction pass (which may still run after the last write)
    has stopped moving keys to disk."""
    last = spill_info(client)["spilled_keys"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = spill_info(client)["spilled_keys"]
        if now == last:
            return now
        last = now
    return last


def write_every_type(r, n=KEYS_PER_TYPE):
    """n keys of each type, each about 2 KB, every tenth with a TTL an hour away."""
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pad = f"{i:06d}" * 40  # 240 bytes
        pipe.set(f"str:{i}", pad * 8)
        pipe.hset(f"hash:{i}", mapping={f"f{j}": pad for j in range(8)})
        pipe.rpush(f"list:{i}", *[f"{j}:{pad}" for j in range(8)])
        pipe.sadd(f"set:{i}", *[f"{j}:{pad}" for j in range(8)])
        pipe.zadd(f"zset:{i}", {f"{j}:{pad}": j * 1.5 for j in range(8)})
        if i % 10 == 0:
            for prefix in ("str", "hash", "list", "set", "zset"):
                pipe.expire(f"{prefix}:{i}", 3600)
        if i % 50 == 49:
            pipe.execute()
    pipe.execute()


def check_every_type(r, n=KEYS_PER_TYPE):
    for i in range(n):
        pad = f"{i:06d}" * 40
        assert r.get(f"str:{i}") == (pad * 8).encode(), i
        assert r.hgetall(f"hash:{i}") == {f"f{j}".encode(): pad.encode() for j in range(8)}, i
        assert r.lrange(f"list:{i}", 0, -1) == [f"{j}:{pad}".encode() for j in range(8)], i
        assert r.smembers(f"set:{i}") == {f"{j}:{pad}".encode() for j in range(8)}, i
        assert r.zrange(f"zset:{i}", 0, -1, withscores=True) == [(f"{j}:{pad}".encode(), j * 1.5) for j in range(8)], i
        for prefix in ("str", "hash", "list", "set", "zset"):
            ttl = r.ttl(f"{prefix}:{i}")
            assert (3500 < ttl <= 3600) if i % 10 == 0 else ttl == -1, (prefix, i, ttl)


@pytest.fixture
def spilling(strata_factory, tmp_path):
    spill_dir = tmp_path / "spill"

    def start(*extra):
        return strata_factory("--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-lru",
                              "--spill-dir", str(spill_dir), *extra)
    return start


def test_every_key_of_every_type_is_answered_past_maxmemory(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    write_every_type(r)
    info = spill_info(r)
    assert info["spill_enabled"] == 1
    assert info["spill_writes"] > KEYS_PER_TYPE, info  # most keys went to disk
    assert r.dbsize() == 5 * KEYS_PER_TYPE
    check_every_type(r)
    info = spill_info(r)
    assert info["spill_promotions"] > KEYS_PER_TYPE and info["spill_hits"] > KEYS_PER_TYPE, info
    assert r.dbsize() == 5 * KEYS_PER_TYPE  # promotions and the evictions they cause lose nothing
    assert r.type("hash:1") == b"hash" and r.type("zset:2") == b"zset"


def check_every_type_pipelined(r, n, batch=200):
    """check_every_type's assertions, read in pipelines (ten times the keys in reasonable time)."""
    for start in range(0, n, batch):
        indexes = range(start, min(n, start + batch))
        pipe = r.pipeline(transaction=False)
        for i in indexes:
            pipe.get(f"str:{i}")
            pipe.hgetall(f"hash:{i}")
            pipe.lrange(f"list:{i}", 0, -1)
            pipe.smembers(f"set:{i}")
            pipe.zrange(f"zset:{i}", 0, -1, withscores=True)
            for prefix in ("str", "hash", "list", "set", "zset"):
                pipe.ttl(f"{prefix}:{i}")
        replies = iter(pipe.execute())
        for i in indexes:
            pad = f"{i:06d}" * 40
            assert next(replies) == (pad * 8).encode(), i
            assert next(replies) == {f"f{j}".encode(): pad.encode() for j in range(8)}, i
            assert next(replies) == [f"{j}:{pad}".encode() for j in range(8)], i
            assert next(replies) == {f"{j}:{pad}".encode() for j in range(8)}, i
            assert next(replies) == [(f"{j}:{pad}".encode(), j * 1.5) for j in range(8)], i
            for prefix in ("str", "hash", "list", "set", "zset"):
                ttl = next(replies)
                assert (3500 < ttl <= 3600) if i % 10 == 0 else ttl == -1, (prefix, i, ttl)


def test_ten_times_maxmemory_of_every_type_is_all_answered(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    n = 8000  # x 5 types x about 2 KB: ten times MAXMEMORY
    write_every_type(r, n)
    assert r.dbsize() == 5 * n
    info = spill_info(r)
    assert info["spilled_keys"] > 4 * n and info["spill_writes_dropped"] == 0, info
    check_every_type_pipelined(r, n)
    assert r.dbsize() == 5 * n
    assert r.info("stats")["evicted_keys"] == 0


def test_without_spill_the_same_load_evicts(strata_factory):
    server = strata_factory("--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-lru")
    r = server.client(decode_responses=False)
    write_every_type(r)
    assert r.dbsize() < 5 * KEYS_PER_TYPE
    assert spill_info(r)["spill_enabled"] == 0


def test_writes_to_spilled_keys_act_on_their_values(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    r.set("counter", 41)
    r.set("text", "abc")
    r.rpush("queue", "a", "b")
    r.hset("h", "f", "1")
    r.sadd("s", "m")
    r.zadd("z", {"m": 1})
    write_every_type(r, FILL)  # pushes the keys above out to disk
    assert spill_info(r)["spilled_keys"] > 0
    promotions = spill_info(r)["spill_promotions"]
    assert r.incr("counter") == 42
    assert r.append("text", "def") == 6
    assert r.rpush("queue", "c") == 3 and r.lrange("queue", 0, -1) == [b"a", b"b", b"c"]
    assert r.hincrby("h", "f", 1) == 2
    assert r.sadd("s", "m") == 0 and r.scard("s") == 1
    assert r.zincrby("z", 2, "m") == 3.0
    # Written first, evicted first (LRU is sampled, so most of them, not surely all): the writes
    # acted on values read back from disk.
    assert spill_info(r)["spill_promotions"] > promotions


def test_a_deleted_or_flushed_key_never_comes_back(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    assert r.delete("str:0", "hash:1", "missing") == 2
    assert r.exists("str:0", "hash:1") == 0
    assert r.get("str:0") is None
    server.stop()
    server = spilling()
    r = server.client(decode_responses=False)
    assert r.exists("str:0", "hash:1") == 0
    write_every_type(r, FILL)
    r.flushall()
    assert r.dbsize() == 0 and r.exists("str:2") == 0
    server.stop()
    server = spilling()
    r = server.client(decode_responses=False)
    assert r.dbsize() == 0 and r.get("str:2") is None


def test_a_restart_serves_what_was_spilled(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    spilled = settled_spilled_keys(r)
    assert spilled > 0
    server.stop()
    server = spilling()
    r = server.client(decode_responses=False)
    # The memory tier is not written to the spill at shutdown (spill-on-shutdown is off by
    # default): what was on disk is what comes back, all of it, intact.
    assert r.dbsize() == spilled
    found = 0
    for i in range(FILL):
        pad = f"{i:06d}" * 40
        if r.exists(f"hash:{i}"):
            assert r.hgetall(f"hash:{i}") == {f"f{j}".encode(): pad.encode() for j in range(8)}
            found += 1
    assert found > 0


def all_keys(n=KEYS_PER_TYPE):
    return {f"{prefix}:{i}".encode() for prefix in ("str", "hash", "list", "set", "zset") for i in range(n)}


def test_scan_keys_randomkey_and_dbsize_see_the_keys_on_disk(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    spilled = spill_info(r)["spilled_keys"]
    assert 0 < spilled < 5 * FILL  # some keys in memory, some on disk
    promotions = spill_info(r)["spill_promotions"]
    expected = all_keys(FILL)
    assert r.dbsize() == len(expected)
    assert set(r.keys("*")) == expected
    assert set(r.keys("zset:1*")) == {k for k in expected if k.startswith(b"zset:1")}
    assert set(r.scan_iter(count=100)) == expected
    assert set(r.scan_iter(_type="hash", count=100)) == {k for k in expected if k.startswith(b"hash:")}
    assert set(r.scan_iter(match="list:2*", count=100)) == {k for k in expected if k.startswith(b"list:2")}
    for _ in range(50):
        assert r.randomkey() in expected
    # Listing reads no value: nothing came back from disk for it. (The count of spilled keys may
    # still grow: the background eviction pass can be finishing.)
    assert spill_info(r)["spill_promotions"] == promotions
    assert r.exists(*[f"str:{i}" for i in range(FILL)]) == FILL
    assert r.type("set:7") == b"set" and r.ttl("zset:10") > 3500 and r.ttl("zset:11") == -1


def test_a_full_scan_returns_every_key_while_reads_move_keys_between_tiers(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    mover = server.client(decode_responses=False)
    expected = all_keys(FILL)
    seen = set()
    cursor = 0
    step = 0
    promotions = spill_info(r)["spill_promotions"]
    while True:
        cursor, keys = r.scan(cursor, count=50)
        seen.update(keys)
        # Between SCAN calls, another client reads keys back from disk, which pushes others out.
        for i in range(step * 7 % FILL, step * 7 % FILL + 7):
            mover.hgetall(f"hash:{i}")
            mover.get(f"str:{i}")
        step += 1
        if cursor == 0:
            break
    assert expected <= seen
    assert spill_info(r)["spill_promotions"] > promotions  # keys did move under the SCAN


def test_spill_on_shutdown_restarts_warm_with_every_key_and_its_ttl(spilling):
    server = spilling("--spill-on-shutdown", "yes")
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    assert 0 < spill_info(r)["spilled_keys"] < 5 * FILL
    server.stop()  # SIGTERM: a graceful stop
    assert "Memory tier written to the spill" in server.output()
    server = spilling()
    r = server.client(decode_responses=False)
    assert r.dbsize() == 5 * FILL
    assert r.info("memory")["used_memory_keys_bytes"] < 100_000  # promoted lazily, on read
    check_every_type(r, FILL)


def test_shutdown_save_and_nosave_decide_whether_memory_is_spilled(spilling):
    server = spilling("--spill-on-shutdown", "yes")
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    spilled = settled_spilled_keys(r)
    r.shutdown(nosave=True)  # redis-py takes the closed connection as success
    server.proc.wait(timeout=30)
    server = spilling()
    r = server.client(decode_responses=False)
    assert r.dbsize() == spilled  # the memory tier was dropped
    r.set("written", "after")
    r.shutdown(save=True)  # spill-on-shutdown is off in this run: SAVE forces it
    server.proc.wait(timeout=30)
    r = spilling().client(decode_responses=False)
    assert r.dbsize() == spilled + 1 and r.get("written") == b"after"


def test_spill_max_size_caps_the_disk_and_the_oldest_keys_leave_first(spilling):
    server = spilling("--spill-max-size", "4mb")
    r = server.client(decode_responses=False)
    write_every_type(r, KEYS_PER_TYPE)
    deadline = time.monotonic() + 10
    while spill_info(r)["spill_record_bytes"] > 4 << 20 and time.monotonic() < deadline:
        time.sleep(0.1)  # the cron trims, ten times a second
    info = spill_info(r)
    assert info["spill_record_bytes"] <= 4 << 20, info
    assert info["spill_evicted_keys"] > 0, info
    assert r.info("stats")["evicted_keys"] == 0  # what memory evicted went to disk, not away
    assert r.dbsize() == 5 * KEYS_PER_TYPE - info["spill_evicted_keys"]
    # Written first, spilled first, gone first: few of the first keys are left, most of the last.
    first = sum(r.exists(f"str:{i}") for i in range(100))
    last = sum(r.exists(f"str:{i}") for i in range(KEYS_PER_TYPE - 100, KEYS_PER_TYPE))
    # (Sampled: removing at random would leave about as many of each.)
    assert first < 40 and last > 80, (first, last)
    r.config_set("spill-max-size", "0")
    assert r.config_get("spill-max-size") == {"spill-max-size": "0"}


def test_after_kill_9_every_key_that_reads_back_is_intact(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    # More writes in flight when the process is killed: some spills are still queued.
    pipe = r.pipeline(transaction=False)
    for i in range(FILL, FILL + 300):
        pad = f"{i:06d}" * 40
        pipe.set(f"str:{i}", pad * 8)
        pipe.hset(f"hash:{i}", mapping={f"f{j}": pad for j in range(8)})
    pipe.execute()
    server.kill()
    server = spilling()
    r = server.client(decode_responses=False)
    assert r.dbsize() > 0
    found = 0
    for i in range(FILL + 300):
        pad = f"{i:06d}" * 40
        value = r.get(f"str:{i}")
        if value is not None:
            assert value == (pad * 8).encode(), i
            found += 1
        fields = r.hgetall(f"hash:{i}")
        if fields:
            assert fields == {f"f{j}".encode(): pad.encode() for j in range(8)}, i
            found += 1
    assert found > 0
    assert r.dbsize() <= 5 * FILL + 600


def test_a_key_read_back_keeps_its_disk_copy_until_it_changes(spilling):
    """A key read back from disk leaves its record there as a clean copy: evicted again unchanged
    it costs no write, and after a restart it is served; changed or deleted, the copy goes, and
    a restart never serves the old value."""
    server = spilling()
    r = server.client(decode_responses=False)
    for name in ("unchanged", "changed", "deleted", "expire-changed"):
        r.set(name, "v1")
    write_every_type(r, FILL)  # pushes them to disk
    promotions = spill_info(r)["spill_promotions"]
    assert [r.get(n) for n in ("unchanged", "changed", "deleted", "expire-changed")] == [b"v1"] * 4
    assert spill_info(r)["spill_promotions"] > promotions  # (LRU is sampled: most, not surely all)
    r.set("changed", "v2")
    r.delete("deleted")
    r.expire("expire-changed", 1000)
    # Read back keys are now the youngest: make everything else older, then push them out too.
    write_every_type(r, FILL)
    write_every_type(r, FILL)
    assert spill_info(r)["spill_clean_evictions"] > 0
    server.stop()  # the memory tier is not written: only what is on disk comes back
    r = spilling().client(decode_responses=False)
    assert r.get("unchanged") in (b"v1", None)
    assert r.get("changed") in (b"v2", None)  # never the old value of its copy
    assert r.get("deleted") is None
    ttl = r.ttl("expire-changed")
    assert ttl == -2 or 900 < ttl <= 1000, ttl
    # Most of these were pushed out to disk and are back.
    assert sum(r.exists(n) for n in ("unchanged", "changed", "expire-changed")) >= 2


def test_loader_invalidate_drops_matching_keys_on_disk_too(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    assert spill_info(r)["spilled_keys"] > 0
    assert r.execute_command("LOADER", "INVALIDATE", "str:*") == FILL
    assert r.dbsize() == 4 * FILL
    assert r.keys("str:*") == [] and r.get("str:0") is None
    server.stop()
    r = spilling().client(decode_responses=False)
    assert r.keys("str:*") == [] and r.dbsize() <= 4 * FILL


def test_an_expired_spilled_key_is_gone(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    r.set("short", "v", px=300)
    write_every_type(r, FILL)
    time.sleep(0.5)
    assert r.get("short") is None
    assert r.ttl("short") == -2


def test_transactions_and_scripts_read_spilled_keys(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    r.set("a", "1")
    r.set("b", "2")
    write_every_type(r, FILL)
    promotions = spill_info(r)["spill_promotions"]
    pipe = r.pipeline(transaction=True)
    pipe.get("a")
    pipe.incr("b")
    assert pipe.execute() == [b"1", 3]
    assert r.eval("return redis.call('GET', KEYS[1])", 1, "str:0") == (f"{0:06d}" * 40 * 8).encode()
    assert spill_info(r)["spill_promotions"] > promotions  # a, b or str:0 came from disk


def test_paths_that_meet_a_spilled_key_without_parking_read_it_at_once(spilling):
    """A blocked command served later, a database chosen inside MULTI, MOVE's other database and a
    script's undeclared key meet a spilled key while shards are held; they read it at once, and
    never take it for absent (which would overwrite it)."""
    server = spilling("--lua-allow-undeclared-keys", "yes")
    r = server.client(decode_responses=False)
    r.rpush("dst", "old1", "old2")
    other = server.client(db=1, decode_responses=False)
    other.set("taken", "in-db-1")
    other.set("in1", "value-1")
    r.set("taken", "in-db-0")
    r.set("undeclared", "u")
    write_every_type(r, FILL)
    write_every_type(r, FILL)
    sync_reads = spill_info(r)["spill_sync_reads"]
    # MOVE onto a key that exists (spilled) in the other database fails, as in memory.
    assert r.move("taken", 1) is False
    assert other.get("taken") == b"in-db-1"
    # A database SELECTed inside MULTI.
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("SELECT", 1)
    pipe.get("in1")
    pipe.execute_command("SELECT", 0)
    assert pipe.execute()[1] == b"value-1"
    # A script's undeclared key.
    assert r.eval("return redis.call('GET', 'undeclared')", 0) == b"u"
    # A blocked BLMOVE served when its source gets an element, its destination spilled by then.
    blocked = server.client(decode_responses=False)
    import threading
    result = {}
    waiter = threading.Thread(target=lambda: result.update(moved=blocked.blmove("src", "dst", 10, "LEFT", "RIGHT")))
    waiter.start()
    time.sleep(0.2)
    write_every_type(r, FILL)  # pushes dst out while the client waits
    r.rpush("src", "new")
    waiter.join(timeout=15)
    assert result.get("moved") == b"new"
    assert r.lrange("dst", 0, -1) == [b"old1", b"old2", b"new"]
    info = spill_info(r)
    assert info["spill_sync_reads"] > sync_reads, info


def test_swapdb_trades_spilled_keys_too_and_a_restart_keeps_the_swap(spilling):
    server = spilling()
    r = server.client(decode_responses=False)
    other = server.client(db=1, decode_responses=False)
    other.set("in-1", "one")
    other.hset("h1", mapping={"f": "v"})
    write_every_type(r, FILL)  # database 0: most of it, and db 1's two keys, go to disk
    spilled_before = spill_info(r)["spilled_keys"]
    assert spilled_before > 0
    assert r.swapdb(0, 1)
    assert r.get("in-1") == b"one" and r.hgetall("h1") == {b"f": b"v"}
    assert other.dbsize() == 5 * FILL and r.dbsize() == 2
    assert other.get("str:3") == (f"{3:06d}" * 40 * 8).encode()
    assert r.get("str:3") is None
    server.stop()
    server = spilling()
    r = server.client(decode_responses=False)
    other = server.client(db=1, decode_responses=False)
    # The spilled part comes back in the database it was swapped into.
    assert r.exists("str:0", "hash:0", "list:0") == 0
    back = other.dbsize()
    assert back > 0 and r.dbsize() <= 2
    check_every_type_present = [i for i in range(FILL) if other.exists(f"zset:{i}")]
    assert check_every_type_present
    i = check_every_type_present[0]
    pad = f"{i:06d}" * 40
    assert other.zrange(f"zset:{i}", 0, -1, withscores=True) == [(f"{j}:{pad}".encode(), j * 1.5) for j in range(8)]


def test_concurrent_clients_see_their_own_writes_while_keys_move_between_tiers(spilling):
    """Four writers, each with keys of its own and a model of them (SET, GET, INCR, RPUSH, DEL,
    EXPIRE, RENAME between its keys), a filler that keeps pushing keys to disk, and readers of
    everyone's keys: every reply a writer gets matches its model, and at the end the server holds
    exactly the models."""
    import random
    import threading
    server = spilling()
    stop = threading.Event()
    failures = []

    def writer(t):
        rng = random.Random(t)
        r = server.client(decode_responses=True)
        model = {}
        try:
            for step in range(1500):
                key = f"w{t}:{rng.randrange(40)}"
                roll = rng.random()
                if roll < 0.25:
                    value = f"{step}-" + "v" * rng.randrange(100, 2000)
                    r.set(key, value)
                    model[key] = value
                elif roll < 0.5:
                    expected = model.get(key)
                    got = r.get(key) if not isinstance(expected, list) else r.lrange(key, 0, -1)
                    assert got == expected, (key, got, expected)
                elif roll < 0.6:
                    if isinstance(model.get(key), list):
                        continue
                    if key in model and not str(model[key]).lstrip("-").isdigit():
                        continue
                    model[key] = str(int(model.get(key, 0)) + 1)
                    assert r.incr(key) == int(model[key])
                elif roll < 0.7:
                    if key in model and not isinstance(model[key], list):
                        continue
                    model.setdefault(key, []).append(f"e{step}")
                    assert r.rpush(key, f"e{step}") == len(model[key])
                elif roll < 0.8:
                    assert r.delete(key) == (1 if key in model else 0)
                    model.pop(key, None)
                elif roll < 0.9:
                    assert r.expire(key, 100000) == (key in model)
                else:
                    other = f"w{t}:{rng.randrange(40)}"
                    if key not in model or other == key:
                        continue
                    r.rename(key, other)
                    model[other] = model.pop(key)
            for key in [f"w{t}:{i}" for i in range(40)]:
                expected = model.get(key)
                got = r.get(key) if not isinstance(expected, list) else r.lrange(key, 0, -1)
                assert got == expected, (key, got, expected)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(f"writer {t}: {e!r}")

    def filler():
        r = server.client(decode_responses=False)
        i = 0
        while not stop.is_set():
            pipe = r.pipeline(transaction=False)
            for _ in range(100):
                pipe.set(f"fill:{i % 20000}", b"f" * 1500)
                i += 1
            pipe.execute()

    def reader():
        rng = random.Random(99)
        r = server.client(decode_responses=False)
        while not stop.is_set():
            key = f"w{rng.randrange(4)}:{rng.randrange(40)}"
            if r.type(key) == b"string":
                try:
                    r.get(key)
                except redis.ResponseError:
                    pass

    writers = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    others = [threading.Thread(target=filler), threading.Thread(target=reader)]
    for thread in writers + others:
        thread.start()
    for thread in writers:
        thread.join(timeout=300)
    stop.set()
    for thread in others:
        thread.join(timeout=60)
    assert not failures, failures
    info = spill_info(server.client())
    assert info["spill_promotions"] > 100 and info["spill_writes"] > 1000, info


def test_a_cap_added_at_restart_holds_for_keys_read_back_from_disk(spilling):
    """Keys spilled without a TTL come back held to a key-family-max-ttl the restart added."""
    server = spilling("--spill-on-shutdown", "yes")
    r = server.client(decode_responses=False)
    write_every_type(r, FILL)
    server.stop()
    server = spilling("--stats-key-family", "strings", "str:*", "--key-family-max-ttl", "strings", "120")
    r = server.client(decode_responses=False)
    for i in range(1, FILL, 7):  # keys without a TTL before
        assert r.get(f"str:{i}") is not None
        assert 0 < r.pttl(f"str:{i}") <= 120_000, i
    assert r.ttl("hash:1") == -1, "other families are untouched"

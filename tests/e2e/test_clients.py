"""Real clients against the server: redis-py (with and without hiredis), redis-cli (one-shot,
--pipe mass insertion, interactive through a pty), plus the connection-level features clients rely
on: AUTH, SELECT, CLIENT, maxclients, timeout, INFO, CONFIG, COMMAND, SHUTDOWN, active expiry.

Every test runs against strata and against Debian's redis-server 7.0.15 (the `server_factory`
fixture is parametrized over both): what a test asserts is what Redis does.
"""
import os
import re
import socket
import subprocess
import time

import pytest
import redis
import redis.utils

from helpers import (PtyProcess, RespConnection, bulk, client_for, error, integer, server,  # noqa: F401
                     server_factory, status, wait_until)

REDIS_CLI = "/usr/bin/redis-cli"


def cli_env(tmp_path):
    env = dict(os.environ)
    env["HOME"] = str(tmp_path)
    env["REDISCLI_HISTFILE"] = "/dev/null"
    env["TERM"] = "xterm"
    return env


def redis_cli(port, *args, stdin=None, timeout=60, env=None):
    return subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *map(str, args)], input=stdin,
                          capture_output=True, timeout=timeout, env=env)


# ---------------------------------------------------------------------------------------------
# redis-py

def test_redis_py_string_commands(server):
    r = client_for(server)
    assert r.set("s", "hello") is True
    assert r.get("s") == "hello"
    assert r.set("s", "x", nx=True) is None
    assert r.set("s", "world", xx=True, get=True) == "hello"
    assert r.append("s", "!") == 6
    assert r.strlen("s") == 6
    assert r.getrange("s", 0, 2) == "wor"
    assert r.setrange("s", 1, "OO") == 6
    assert r.get("s") == "wOOld!"
    assert r.mset({"m1": "1", "m2": "2"}) is True
    assert r.mget("m1", "missing", "m2") == ["1", None, "2"]
    assert r.msetnx({"m2": "x", "m3": "3"}) is False
    assert r.incr("m1") == 2
    assert r.incrby("m1", 10) == 12
    assert r.decr("m1") == 11
    assert r.decrby("m1", 5) == 6
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == "10.6"
    assert r.getset("m2", "new") == "2"
    assert r.getdel("m2") == "new"
    assert r.get("m2") is None
    assert r.setnx("n", "1") is True
    assert r.setnx("n", "2") is False
    assert r.getex("n", ex=1000) == "1"
    assert 995 <= r.ttl("n") <= 1000
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.incr("s")


def test_redis_py_binary_values_round_trip(server):
    r = client_for(server, decode_responses=False)
    value = bytes(range(256)) * 4
    assert r.set(b"bin\x00key", value)
    assert r.get(b"bin\x00key") == value
    assert r.keys(b"bin*") == [b"bin\x00key"]


def test_redis_py_keyspace_commands(server):
    r = client_for(server)
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert r.exists("a", "b", "missing") == 2
    assert r.type("a") == "string"
    assert r.type("missing") == "none"
    assert r.rename("a", "a2") is True
    assert r.renamenx("a2", "b") is False
    assert r.copy("b", "b2") is True
    assert r.copy("b", "b2") is False
    assert r.copy("b", "b2", replace=True) is True
    assert r.move("c", 1) is True
    assert r.touch("a2", "b", "missing") == 2
    assert sorted(r.keys("*")) == ["a2", "b", "b2"]
    assert sorted(r.scan_iter(match="b*", count=1)) == ["b", "b2"]
    assert r.randomkey() in {"a2", "b", "b2"}
    assert r.dbsize() == 3
    assert r.delete("a2", "missing") == 1
    assert r.unlink("b", "b2") == 2
    assert r.dbsize() == 0
    assert r.randomkey() is None
    r1 = client_for(server, db=1)
    assert r1.get("c") == "3"
    assert r.swapdb(0, 1) is True
    assert r.get("c") == "3"
    assert r1.dbsize() == 0


def test_redis_py_list_commands(server):
    """A queue and a capped recent-items list, as applications write them with redis-py."""
    r = client_for(server)
    assert r.rpush("jobs", "j1", "j2", "j3") == 3
    assert r.lpush("jobs", "j0") == 4
    assert r.lrange("jobs", 0, -1) == ["j0", "j1", "j2", "j3"]
    assert r.lpop("jobs") == "j0"
    assert r.rpop("jobs", 2) == ["j3", "j2"]
    assert r.llen("jobs") == 1
    assert r.lpushx("nothing", "x") == 0 and r.exists("nothing") == 0
    for i in range(150):
        r.lpush("recent", f"item:{i}")
        r.ltrim("recent", 0, 99)
    assert r.llen("recent") == 100
    assert r.lindex("recent", 0) == "item:149" and r.lindex("recent", -1) == "item:50"
    assert r.lset("recent", 1, "changed") is True
    assert r.linsert("recent", "BEFORE", "changed", "inserted") == 101
    assert r.lpos("recent", "item:140") == 10
    assert r.lpos("recent", "item:140", count=0) == [10]
    assert r.lrem("recent", 0, "inserted") == 1
    assert r.lmove("jobs", "done", "LEFT", "RIGHT") == "j1"
    assert r.rpoplpush("done", "jobs") == "j1"
    assert r.lmpop(2, "missing", "jobs", direction="RIGHT") == ["jobs", ["j1"]]
    assert r.exists("jobs", "done") == 0  # emptied lists are gone
    assert r.type("recent") == "list"
    assert r.object("encoding", "recent") == "quicklist"
    assert r.copy("recent", "recent2") is True and r.lrange("recent2", 0, 2) == r.lrange("recent", 0, 2)
    assert r.rename("recent2", "recent3") is True and r.llen("recent3") == 100
    assert r.move("recent3", 1) is True and client_for(server, db=1).llen("recent3") == 100
    assert sorted(r.scan_iter(_type="list")) == ["recent"]
    r.set("text", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("text", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("recent")


def test_redis_py_set_commands(server):
    """Tags and membership, as applications write them with redis-py."""
    r = client_for(server)
    assert r.sadd("tags:1", "red", "green", "blue") == 3
    assert r.sadd("tags:2", "green", "yellow") == 2
    assert r.smembers("tags:1") == {"red", "green", "blue"}
    assert r.sismember("tags:1", "red") and not r.sismember("tags:1", "pink")
    assert [bool(x) for x in r.smismember("tags:1", ["red", "pink"])] == [True, False]
    assert r.scard("tags:1") == 3
    assert r.sinter("tags:1", "tags:2") == {"green"}
    assert r.sunion("tags:1", "tags:2") == {"red", "green", "blue", "yellow"}
    assert r.sdiff("tags:1", "tags:2") == {"red", "blue"}
    assert r.sinterstore("common", ["tags:1", "tags:2"]) == 1
    assert r.sintercard(2, ["tags:1", "tags:2"]) == 1
    assert r.smove("tags:1", "tags:2", "red") is True
    assert r.srem("tags:2", "red", "nothing") == 1
    assert r.srandmember("tags:1") in {"green", "blue"}
    assert set(r.srandmember("tags:1", 5)) == {"green", "blue"}
    assert r.spop("tags:1") in {"green", "blue"}
    assert r.scard("tags:1") == 1
    r.sadd("ids", *range(1000))
    assert r.object("encoding", "ids") == "hashtable" and r.scard("ids") == 1000
    r.sadd("small", 1, 2, 3)
    assert r.object("encoding", "small") == "intset"
    assert sorted(int(m) for m in r.sscan_iter("ids", count=50)) == list(range(1000))
    assert sorted(r.sscan_iter("tags:2", match="g*")) == ["green"]
    r.set("text", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sadd("text", "x")


def test_redis_py_sorted_set_commands(server):
    """A leaderboard and a sliding-window rate limiter, as applications write them with redis-py."""
    r = client_for(server)
    assert r.zadd("board", {"ann": 30, "bob": 10, "cid": 20}) == 3
    assert r.zincrby("board", 15, "bob") == 25.0
    assert r.zrevrange("board", 0, 1, withscores=True) == [("ann", 30.0), ("bob", 25.0)]
    assert r.zrange("board", 0, -1) == ["cid", "bob", "ann"]
    assert r.zrank("board", "ann") == 2 and r.zrevrank("board", "ann") == 0
    assert r.zscore("board", "cid") == 20.0 and r.zscore("board", "nobody") is None
    assert r.zmscore("board", ["ann", "nobody"]) == [30.0, None]
    assert r.zcount("board", 20, "+inf") == 3 and r.zcard("board") == 3
    assert r.zrangebyscore("board", "(20", 30) == ["bob", "ann"]
    assert r.zrange("board", 30, 20, byscore=True, desc=True, withscores=True) == [("ann", 30.0), ("bob", 25.0), ("cid", 20.0)]
    assert r.zadd("board", {"bob": 5}, gt=True, ch=True) == 0
    assert r.zpopmin("board") == [("cid", 20.0)]
    assert r.zunionstore("both", ["board", "board"]) == 2 and r.zscore("both", "ann") == 60.0
    assert r.zinter(["board", "both"], withscores=True, aggregate="MAX") == [("bob", 50.0), ("ann", 60.0)]
    # Sliding-window rate limiter: at most 5 hits in a window, old hits trimmed by score.
    now = 1000000
    for i in range(8):
        with r.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore("rate:u1", 0, now + i - 60)
            pipe.zadd("rate:u1", {f"hit{i}": now + i})
            pipe.zcard("rate:u1")
            _, _, count = pipe.execute()
    assert count == 8 and r.zremrangebyscore("rate:u1", "-inf", now + 2) == 3 and r.zcard("rate:u1") == 5
    r.zadd("lex", {m: 0 for m in "abcdef"})
    assert r.zrangebylex("lex", "[b", "(e") == ["b", "c", "d"] and r.zlexcount("lex", "-", "+") == 6
    for i in range(200):
        r.zadd("big", {f"m{i}": i})
    assert r.object("encoding", "big") == "skiplist" and r.object("encoding", "lex") == "listpack"
    assert sorted(m for m, _ in r.zscan_iter("big", count=20)) == sorted(f"m{i}" for i in range(200))
    assert r.zrandmember("big") is not None and len(r.zrandmember("big", 5)) == 5


def test_redis_py_hash_scan_walks_a_large_hash(server):
    r = client_for(server)
    r.hset("wide", mapping={f"field{i}": i for i in range(1000)})
    assert r.object("encoding", "wide") == "hashtable"
    assert dict(r.hscan_iter("wide", count=25)) == {f"field{i}": str(i) for i in range(1000)}
    r.hset("narrow", mapping={"a": 1, "b": 2})
    assert r.object("encoding", "narrow") == "listpack" and r.hgetall("narrow") == {"a": "1", "b": "2"}


def test_memory_usage_counts_what_a_key_holds(server):
    r = client_for(server)
    r.set("small", "x")
    r.rpush("list", *[os.urandom(12) for i in range(10000)])  # random bytes: LZ4 cannot shrink them
    small, big = r.memory_usage("small"), r.memory_usage("list")
    assert 0 < small < 200 and big > 10000 * 12
    # The same count of short, alike elements, with interior chunks compressed: far less.
    depth = r.config_get("list-compress-depth")["list-compress-depth"]
    r.config_set("list-compress-depth", 1)
    r.rpush("alike", *[f"element-{i}" for i in range(10000)])
    assert 0 < r.memory_usage("alike") < 10000 * 10
    r.config_set("list-compress-depth", depth)
    assert r.memory_usage("nothing") is None
    assert r.memory_usage("list", samples=5) == big
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("MEMORY", "USAGE", "list", "BOGUS", "1")


def test_redis_py_expiry_commands(server):
    r = client_for(server)
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.ttl("missing") == -2
    assert r.expire("k", 1000) is True
    assert 995 <= r.ttl("k") <= 1000
    assert r.expire("k", 500, gt=True) is False
    assert r.expire("k", 500, lt=True) is True
    assert r.expire("k", 100, nx=True) is False
    assert r.pexpire("k", 2_000_000, xx=True) is True
    assert 1_990_000 <= r.pttl("k") <= 2_000_000
    at = int(time.time()) + 5000
    assert r.expireat("k", at) is True
    assert abs(r.execute_command("EXPIRETIME", "k") - at) <= 1
    assert abs(r.execute_command("PEXPIRETIME", "k") - at * 1000) <= 1000
    assert r.persist("k") is True
    assert r.persist("k") is False
    assert r.execute_command("EXPIRETIME", "k") == -1
    assert r.setex("e", 1000, "v") is True
    assert r.psetex("p", 1_000_000, "v") is True
    assert 990 <= r.ttl("p") <= 1000
    assert r.set("x", "v", exat=at) is True
    assert r.set("x", "w", keepttl=True) is True
    assert abs(r.execute_command("EXPIRETIME", "x") - at) <= 1
    assert r.expire("x", -1) is True
    assert r.exists("x") == 0
    assert r.pexpireat("e", 1000) is True
    assert r.get("e") is None


def test_redis_py_pipeline_answers_every_command_in_order(server):
    r = client_for(server)
    with r.pipeline(transaction=False) as pipe:
        for i in range(100):
            pipe.set(f"p{i}", i)
            pipe.incr(f"p{i}")
        results = pipe.execute()
    assert results == [x for i in range(100) for x in (True, i + 1)]
    assert r.mget([f"p{i}" for i in range(3)]) == ["1", "2", "3"]


def test_hiredis_parser_is_used_and_handles_a_1000_command_pipeline(server):
    import hiredis  # noqa: F401  (Debian's python3-hiredis; redis-py uses it when it is there)
    assert redis.utils.HIREDIS_AVAILABLE
    r = client_for(server, decode_responses=False)
    connection = r.connection_pool.get_connection("PING")
    try:
        assert type(connection._parser).__name__ == "HiredisParser"
    finally:
        r.connection_pool.release(connection)
    with r.pipeline(transaction=False) as pipe:
        for i in range(500):
            pipe.set(b"h%d" % i, b"v" * i)
            pipe.get(b"h%d" % i)
        results = pipe.execute()
    assert results == [x for i in range(500) for x in (True, b"v" * i)]
    with r.pipeline(transaction=False) as pipe:
        pipe.get(b"missing")
        pipe.incr(b"h10")
        pipe.dbsize()
        missing, incr_error, size = pipe.execute(raise_on_error=False)
    assert missing is None
    assert isinstance(incr_error, redis.ResponseError)
    assert size == 500


def test_pure_python_parser_reads_every_reply_type(server):
    pool = redis.ConnectionPool(host="127.0.0.1", port=server.port, decode_responses=True, socket_timeout=10,
                                socket_connect_timeout=10, parser_class=redis.connection.PythonParser)
    r = redis.Redis(connection_pool=pool)
    connection = r.connection_pool.get_connection("PING")
    try:
        assert isinstance(connection._parser, redis.connection.PythonParser)
    finally:
        r.connection_pool.release(connection)
    assert r.ping() is True
    assert r.set("k", "v" * 70000) is True
    assert r.get("k") == "v" * 70000
    assert r.get("missing") is None
    assert r.incr("n") == 1
    assert r.mget("k", "missing")[1] is None
    with pytest.raises(redis.ResponseError, match="^unknown command 'NOPE', with args beginning with: 'x' $"):
        r.execute_command("NOPE", "x")
    with r.pipeline(transaction=False) as pipe:
        for i in range(1000):
            pipe.incr("n")
        assert pipe.execute() == list(range(2, 1002))


def test_hiredis_reports_errors_inside_a_pipeline(server):
    r = client_for(server)
    with r.pipeline(transaction=False) as pipe:
        pipe.set("s", "abc")
        pipe.incr("s")
        pipe.get("s")
        results = pipe.execute(raise_on_error=False)
    assert results[0] is True and results[2] == "abc"
    assert isinstance(results[1], redis.ResponseError)
    assert str(results[1]) == "value is not an integer or out of range"


# ---------------------------------------------------------------------------------------------
# redis-cli

def test_redis_cli_runs_one_shot_commands(server, tmp_path):
    env = cli_env(tmp_path)
    assert redis_cli(server.port, "SET", "k", "v", env=env).stdout == b"OK\n"
    assert redis_cli(server.port, "GET", "k", env=env).stdout == b"v\n"
    assert redis_cli(server.port, "GET", "missing", env=env).stdout == b"\n"
    assert redis_cli(server.port, "INCR", "n", env=env).stdout == b"1\n"
    assert redis_cli(server.port, "MGET", "k", "missing", env=env).stdout == b"v\n\n"
    assert redis_cli(server.port, "SET", "sp", "a b", env=env).stdout == b"OK\n"
    assert redis_cli(server.port, "GET", "sp", env=env).stdout == b"a b\n"
    assert redis_cli(server.port, "PING", env=env).stdout == b"PONG\n"
    out = redis_cli(server.port, "GET", env=env).stdout
    assert out.startswith(b"ERR wrong number of arguments for 'get' command")


def test_redis_cli_pipe_inserts_100000_keys(server, tmp_path):
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
                    for k, v in ((b"key:%d" % i, b"value:%d" % i) for i in range(100_000)))
    proto = tmp_path / "mass-insert.resp"
    proto.write_bytes(data)
    with open(proto, "rb") as f:
        result = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(server.port), "--pipe"], stdin=f,
                                capture_output=True, timeout=60, env=cli_env(tmp_path))
    summary = result.stdout.decode()
    assert result.returncode == 0, summary + result.stderr.decode()
    assert "errors: 0, replies: 100000" in summary, summary
    r = client_for(server)
    assert r.dbsize() == 100_000
    assert r.get("key:99999") == "value:99999"


def test_redis_cli_interactive_session_through_a_pty(server, tmp_path):
    cli = PtyProcess([REDIS_CLI, "-h", "127.0.0.1", "-p", str(server.port)], env=cli_env(tmp_path))
    prompt = f"127.0.0.1:{server.port}> "
    pos = 0

    def run(line, expected_output):
        # Type only at a prompt: linenoise discards typed-ahead input when it enters raw mode.
        nonlocal pos
        pos = cli.expect(prompt, start=pos)
        cli.write(line + "\r")
        pos = cli.expect(expected_output, start=pos)

    try:
        run("SET greeting hello", "OK")
        run("GET greeting", '"hello"')
        run("GET nothing", "(nil)")
        run("INCR counter", "(integer) 1")
        run("GET", "(error) ERR wrong number of arguments for 'get' command")
        cli.expect(prompt, start=pos)
        cli.write("quit\r")
        assert cli.wait(timeout=10) == 0
    finally:
        cli.close()
    assert client_for(server).get("greeting") == "hello"


# ---------------------------------------------------------------------------------------------
# Authentication and databases

def test_requirepass_demands_auth_before_any_command(server_factory):
    server = server_factory("--requirepass", "secret")
    with RespConnection(server.port) as conn:
        assert conn.call("PING") == error("NOAUTH Authentication required.")
        assert conn.call("GET", "k") == error("NOAUTH Authentication required.")
        assert conn.call("AUTH", "wrong") == error("WRONGPASS invalid username-password pair or user is disabled.")
        assert conn.call("AUTH", "default", "wrong") == \
            error("WRONGPASS invalid username-password pair or user is disabled.")
        assert conn.call("AUTH", "secret") == status("OK")
        assert conn.call("PING") == status("PONG")
    with RespConnection(server.port) as conn:
        assert conn.call("AUTH", "default", "secret") == status("OK")
        assert conn.call("SET", "k", "v") == status("OK")
    with RespConnection(server.port) as conn:
        reply = conn.call("HELLO", "2", "AUTH", "default", "secret")
        assert reply.kind == "*"
        assert conn.call("GET", "k") == bulk("v")
    with RespConnection(server.port) as conn:
        assert conn.call("HELLO", "3", "AUTH", "default", "nope") == \
            error("WRONGPASS invalid username-password pair or user is disabled.")
        assert conn.call("GET", "k") == error("NOAUTH Authentication required.")
    r = client_for(server, password="secret")
    assert r.get("k") == "v"
    with pytest.raises(redis.ResponseError, match="^WRONGPASS invalid username-password pair or user is disabled.$"):
        client_for(server, password="bad").ping()


def test_hello_without_auth_is_refused_when_a_password_is_set(server_factory):
    server = server_factory("--requirepass", "secret")
    with RespConnection(server.port) as conn:
        reply = conn.call("HELLO", "3")
        assert reply == error("NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                              "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
                              "select the RESP protocol version at the same time")


def test_auth_without_a_configured_password_is_an_error(server):
    with RespConnection(server.port) as conn:
        assert conn.call("AUTH", "x") == error(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?")
        # Without requirepass the default user is "nopass": any password is accepted.
        assert conn.call("AUTH", "default", "x") == status("OK")
        assert conn.call("PING") == status("PONG")


def test_sixteen_databases_are_selectable(server):
    with RespConnection(server.port) as conn:
        for db in range(16):
            assert conn.call("SELECT", db) == status("OK")
            assert conn.call("SET", "which", db) == status("OK")
        assert conn.call("SELECT", "16") == error("ERR DB index is out of range")
        assert conn.call("SELECT", "-1") == error("ERR DB index is out of range")
        assert conn.call("SELECT", "abc") == error("ERR value is not an integer or out of range")
        assert conn.call("GET", "which") == bulk("15")
        assert conn.call("SELECT", "3") == status("OK")
        assert conn.call("GET", "which") == bulk("3")


def test_databases_directive_sets_the_number_of_databases(server_factory):
    server = server_factory("--databases", "4")
    with RespConnection(server.port) as conn:
        assert conn.call("SELECT", "3") == status("OK")
        assert conn.call("SELECT", "4") == error("ERR DB index is out of range")
        assert conn.call("SWAPDB", "0", "4") == error("ERR DB index is out of range")


# ---------------------------------------------------------------------------------------------
# CLIENT

def test_client_setname_getname_id_info_and_list(server):
    r = client_for(server, single_connection_client=True)
    assert r.client_getname() is None
    assert r.client_setname("worker-1") is True
    assert r.client_getname() == "worker-1"
    my_id = r.client_id()
    assert isinstance(my_id, int) and my_id > 0
    info = r.client_info()
    assert int(info["id"]) == my_id
    assert info["name"] == "worker-1"
    assert int(info["db"]) == 0
    with RespConnection(server.port) as other:
        assert other.call("SELECT", "2") == status("OK")
        other_id = other.call("CLIENT", "ID").value
        assert other_id != my_id
        clients = {int(c["id"]): c for c in r.client_list()}
        assert set(clients) == {my_id, other_id}
        assert clients[my_id]["name"] == "worker-1"
        assert clients[other_id]["name"] == ""
        assert clients[other_id]["db"] == "2"
        assert clients[my_id]["addr"].startswith("127.0.0.1:")
        assert clients[my_id]["cmd"] == "client|list"
    with pytest.raises(redis.ResponseError, match="^Client names cannot contain spaces, newlines or special characters.$"):
        r.client_setname("bad name")
    assert r.client_setname("") is True
    assert r.client_getname() is None
    r.close()


def test_client_list_is_one_line_per_connection_in_redis_format(server):
    with RespConnection(server.port) as a, RespConnection(server.port) as b:
        assert b.call("CLIENT", "SETNAME", "b-conn") == status("OK")
        listing = a.call("CLIENT", "LIST").value.decode()
        lines = listing.split("\n")
        assert lines[-1] == "" and len(lines) == 3, listing
        for line in lines[:-1]:
            assert re.match(r"^id=\d+ addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name=\S* age=\d+ idle=\d+ "
                            r"flags=\S+ db=\d+ ", line), line
        assert any(" name=b-conn " in line for line in lines)
        info = a.call("CLIENT", "INFO").value.decode()
        assert info.endswith("\n") and info.count("\n") == 1
        assert " cmd=client|info " in info


def test_client_kill_id_closes_that_connection(server):
    with RespConnection(server.port) as killer, RespConnection(server.port) as victim:
        victim_id = victim.call("CLIENT", "ID").value
        assert killer.call("CLIENT", "KILL", "ID", victim_id) == integer(1)
        assert victim.read_until_closed(timeout=5) == b""
        assert killer.call("CLIENT", "KILL", "ID", victim_id) == integer(0)
        assert killer.call("CLIENT", "KILL", "ID", "abc") == error("ERR client-id should be greater than 0")
        assert killer.call("CLIENT", "KILL", "127.0.0.1:1") == error("ERR No such client")
        assert killer.call("PING") == status("PONG")


def test_client_kill_id_skips_the_caller_unless_skipme_no(server):
    with RespConnection(server.port) as conn:
        my_id = conn.call("CLIENT", "ID").value
        assert conn.call("CLIENT", "KILL", "ID", my_id) == integer(0)
        assert conn.call("PING") == status("PONG")
        conn.send("CLIENT", "KILL", "ID", my_id, "SKIPME", "no")
        assert conn.read_until_closed(timeout=5) == b":1\r\n"


def test_client_no_evict_is_shown_as_flag_e(server):
    with RespConnection(server.port) as conn:
        assert conn.call("CLIENT", "NO-EVICT", "on") == status("OK")
        assert " flags=e " in conn.call("CLIENT", "INFO").value.decode()
        assert conn.call("CLIENT", "NO-EVICT", "off") == status("OK")
        assert " flags=N " in conn.call("CLIENT", "INFO").value.decode()
        assert conn.call("CLIENT", "NO-EVICT", "maybe") == error("ERR syntax error")
        assert conn.call("CLIENT", "NOSUCH") == \
            error("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.")


def test_maxclients_refuses_the_connection_beyond_the_limit(server_factory):
    server = server_factory("--maxclients", "2")
    with RespConnection(server.port) as one, RespConnection(server.port) as two:
        assert one.call("PING") == status("PONG")
        assert two.call("PING") == status("PONG")
        with RespConnection(server.port) as three:
            assert three.read_until_closed(timeout=5) == b"-ERR max number of clients reached\r\n"
    # Closing connections frees their slots.
    assert wait_until(lambda: _ping_ok(server.port), timeout=5)


def _ping_ok(port):
    try:
        with RespConnection(port, timeout=2) as conn:
            return conn.call("PING") == status("PONG")
    except (OSError, AssertionError, Exception):
        return False


def test_timeout_closes_idle_connections(server_factory):
    server = server_factory("--timeout", "1")
    with RespConnection(server.port) as idle, RespConnection(server.port) as busy:
        assert idle.call("PING") == status("PONG")
        started = time.monotonic()
        idle.settimeout(0.5)
        with pytest.raises(socket.timeout):  # still open half a second later
            idle.sock.recv(1)
        # The busy connection keeps talking and stays open.
        while time.monotonic() - started < 2.5:
            assert busy.call("PING") == status("PONG")
            time.sleep(0.25)
        assert idle.read_until_closed(timeout=2) == b""
        assert busy.call("PING") == status("PONG")


# ---------------------------------------------------------------------------------------------
# INFO, CONFIG, COMMAND

def test_info_has_the_redis_sections_and_fields(server):
    r = client_for(server)
    r.set("a", "1")
    r.set("b", "2", ex=1000)
    r.get("a")
    r.get("missing")
    info = r.info()
    for field in ("redis_version", "connected_clients", "used_memory", "keyspace_hits", "keyspace_misses",
                  "expired_keys", "evicted_keys", "total_commands_processed", "instantaneous_ops_per_sec"):
        assert field in info, field
    assert info["connected_clients"] >= 1
    assert info["keyspace_hits"] >= 1 and info["keyspace_misses"] >= 1
    assert info["total_commands_processed"] >= 4
    assert info["db0"]["keys"] == 2 and info["db0"]["expires"] == 1
    assert re.match(r"^\d+\.\d+\.\d+$", info["redis_version"])
    assert info["used_memory"] > 0
    with RespConnection(server.port) as conn:
        raw = conn.call("INFO", "keyspace").value.decode()
    assert re.search(r"^db0:keys=2,expires=1,avg_ttl=\d+\r$", raw, re.M), raw
    assert raw.startswith("# Keyspace\r\n")


@pytest.mark.parametrize("section, header, fields", [
    ("server", "# Server", ["redis_version", "process_id", "tcp_port", "uptime_in_seconds"]),
    ("clients", "# Clients", ["connected_clients", "blocked_clients"]),
    ("memory", "# Memory", ["used_memory", "used_memory_human", "maxmemory", "maxmemory_policy"]),
    ("stats", "# Stats", ["total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
                          "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys"]),
    ("keyspace", "# Keyspace", []),
])
def test_info_section_contains_only_that_section(server, section, header, fields):
    with RespConnection(server.port) as conn:
        text = conn.call("INFO", section).value.decode()
        lines = text.split("\r\n")
        assert lines[0] == header, text
        assert [line for line in lines if line.startswith("#")] == [header]
        keys = {line.split(":", 1)[0] for line in lines[1:] if line}
        assert set(fields) <= keys, text
        if section == "server":
            assert f"tcp_port:{server.port}\r\n" in text
            assert f"process_id:{server.pid}\r\n" in text


def test_config_get_and_set_maxmemory(server):
    r = client_for(server)
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_set("maxmemory", "100mb") is True
    assert r.config_get("maxmemory") == {"maxmemory": "104857600"}
    assert r.info("memory")["maxmemory"] == 104857600
    assert r.config_set("maxmemory", "0") is True
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.config_set("maxmemory-policy", "allkeys-lru") is True
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert r.config_get("maxmemory*") == {"maxmemory": "0", "maxmemory-policy": "allkeys-lru",
                                          **{k: v for k, v in r.config_get("maxmemory*").items()
                                             if k not in ("maxmemory", "maxmemory-policy")}}
    assert r.config_get("no-such-directive") == {}


def test_config_set_rejects_unknown_directives_and_bad_values(server):
    with RespConnection(server.port) as conn:
        assert conn.call("CONFIG", "SET", "no-such-directive", "1") == \
            error("ERR Unknown option or number of arguments for CONFIG SET - 'no-such-directive'")
        assert conn.call("CONFIG", "SET", "maxmemory", "12zz") == error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")
        # Redis's list, in Redis's order; strata adds its own policy at the end.
        own_policies = ", allkeys-tinylfu" if server.name == "strata" else ""
        assert conn.call("CONFIG", "SET", "maxmemory-policy", "sometimes") == error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of "
            "the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
            "allkeys-random, noeviction" + own_policies)
        assert conn.call("CONFIG", "GET") == error("ERR wrong number of arguments for 'config|get' command")
        assert conn.call("CONFIG", "GET", "maxmemory").py() == [b"maxmemory", b"0"]
        assert conn.call("CONFIG", "FOO") == error("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")


def test_config_resetstat_zeroes_the_counters(server):
    r = client_for(server)
    r.set("a", "1")
    r.get("a")
    r.get("missing")
    stats = r.info("stats")
    assert stats["keyspace_hits"] >= 1 and stats["keyspace_misses"] >= 1
    assert r.config_resetstat() is True
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 0
    assert stats["keyspace_misses"] == 0
    assert stats["expired_keys"] == 0


def test_active_expiry_removes_keys_that_are_never_read(server):
    with RespConnection(server.port) as conn:
        replies = conn.pipeline([("SET", f"short:{i}", "v", "PX", "100") for i in range(1000)])
        assert all(reply == status("OK") for reply in replies)
        conn.call("SET", "long", "v", "EX", "1000")
        assert wait_until(lambda: conn.call("DBSIZE").value == 1, timeout=3), conn.call("DBSIZE")
        stats = conn.call("INFO", "stats").value.decode()
        expired = int(re.search(r"^expired_keys:(\d+)", stats, re.M).group(1))
        assert expired >= 1000
        assert conn.call("GET", "long") == bulk("v")


def test_flushall_async_empties_every_database(server):
    r = client_for(server)
    for db in range(3):
        client_for(server, db=db).mset({f"k{i}": i for i in range(100)})
    assert r.flushall(asynchronous=True) is True
    for db in range(3):
        assert client_for(server, db=db).dbsize() == 0
    r.set("after", "1")
    assert r.get("after") == "1"


def test_swapdb_swaps_contents_for_every_connection(server):
    db0, db1 = client_for(server, db=0), client_for(server, db=1)
    db0.set("where", "was-0")
    db1.set("where", "was-1")
    db1.set("only1", "x", ex=1000)
    assert db0.swapdb(0, 1) is True
    assert db0.get("where") == "was-1"
    assert db1.get("where") == "was-0"
    assert 990 <= db0.ttl("only1") <= 1000
    assert db0.dbsize() == 2 and db1.dbsize() == 1


def test_command_count_and_command_info(server):
    r = client_for(server)
    assert r.command_count() > 50
    info = r.execute_command("COMMAND", "INFO", "get")
    assert info["get"]["arity"] == 2
    assert info["get"]["first_key_pos"] == 1
    assert "readonly" in info["get"]["flags"]
    with RespConnection(server.port) as conn:
        reply = conn.call("COMMAND", "INFO", "set", "nosuchcommand")
        assert reply.kind == "*" and len(reply.value) == 2
        assert reply.value[0].value[0] == bulk("set") and reply.value[0].value[1] == integer(-3)
        assert reply.value[1].value is None


def test_shutdown_exits_the_server_with_code_0(server_factory):
    server = server_factory()
    with RespConnection(server.port) as conn:
        conn.call("SET", "k", "v")
        conn.send("SHUTDOWN")
        assert conn.read_until_closed(timeout=10) == b""
    assert server.proc.wait(timeout=15) == 0

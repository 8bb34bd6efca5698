"""COMMAND INFO and COMMAND DOCS, specified against Redis 7.0: what a client library, a cluster
client's key extraction (redis-py's CommandsParser) and an editor such as RedisInsight read to
learn a command's flags, ACL categories, key specs, tips and argument tree.

strata documents its commands in server/command_docs_table.cc (one syntax line each, parsed by
server/command_docs.cc). These tests compare every command both servers have; the differences
listed below are deliberate, each with its reason, and a difference not listed fails.
"""
import re
import socket

import pytest
import redis

from conftest import STRATA_SERVER
from helpers import pair, strata_available  # noqa: F401  (pair is a fixture)

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

# Flags Redis shows that strata does not, or the reverse: command -> (only Redis, only strata).
KNOWN_FLAG_DIFFERENCES = {
    # Redis feeds MONITOR for scripts through its own path and marks the commands so; strata's
    # MONITOR shows the script call as Redis's does, without such a flag.
    **{name: ({"skip_monitor"}, set()) for name in ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")},
    # Redis's asynchronous replica loading; strata has no replicas.
    "save": ({"no_async_loading"}, set()),
    "bgsave": ({"no_async_loading"}, set()),
    # Redis serves WATCH while a script is busy; strata's WATCH waits for the script's shards.
    "watch": ({"allow_busy"}, set()),
    # strata documents DEBUG OBJECT's key (Redis 7.0 documents no DEBUG arguments).
    "debug": (set(), {"movablekeys"}),
}
# Key specs that differ: command -> reason.
KNOWN_KEY_SPEC_DIFFERENCES = {"debug": "strata documents DEBUG OBJECT's key"}
# Tokens strata documents that Redis 7.0 does not, or the reverse: command -> (only Redis, only strata).
KNOWN_TOKEN_DIFFERENCES = {
    "client|kill": (set(), {"MAXAGE"}),  # strata takes Redis 7.4's MAXAGE filter
    "debug": (set(), {"OBJECT", "PROTOCOL", "SLEEP", "SET-ACTIVE-EXPIRE", "HELP"}),
}


def command_output(port, *args):
    """COMMAND's reply through redis-py's pure-Python parser (hiredis refuses replies nested
    deeper than 7, and COMMAND DOCS nests deeper)."""
    pool = redis.ConnectionPool(port=port, parser_class=redis.connection.PythonParser)
    conn = pool.get_connection("COMMAND")
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        pool.disconnect()


def text(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [text(v) for v in value]
    return value


def as_map(flat):
    """A RESP2 flat [k1, v1, k2, v2...] list as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


def commands_by_name(port):
    """Every command and subcommand of COMMAND, by name, as dicts of its ten fields."""
    out = {}

    def add(entry):
        name, arity, flags, first, last, step, acl, tips, key_specs, subcommands = text(entry)
        out[name] = {
            "arity": arity, "flags": set(flags), "range": (first, last, step), "acl": set(acl),
            "tips": tips, "key_specs": [normalized_key_spec(spec) for spec in key_specs],
        }
        for sub in entry[9]:
            add(sub)

    for entry in command_output(port, "COMMAND"):
        add(entry)
    return out


def normalized_key_spec(flat):
    spec = as_map(flat)
    begin, find = as_map(spec["begin_search"]), as_map(spec["find_keys"])
    return (tuple(spec["flags"]), begin["type"], tuple(begin["spec"]), find["type"], tuple(find["spec"]))


def docs_by_name(port, *names):
    out = {}
    for name, doc in as_map(text(command_output(port, "COMMAND", "DOCS", *names))).items():
        doc = as_map(doc)
        out[name] = doc
        for sub_name, sub_doc in as_map(doc.get("subcommands", [])).items():
            out[sub_name] = as_map(sub_doc)
    return out


def arguments_of(doc):
    return [as_map(arg) for arg in doc.get("arguments", [])]


def walk_arguments(args):
    for arg in args:
        yield arg
        yield from walk_arguments(arguments_of(arg))


def tokens_of(doc):
    return {arg["token"].upper() for arg in walk_arguments(arguments_of(doc)) if "token" in arg}


@pytest.fixture
def both(pair):
    strata, oracle = pair
    return commands_by_name(strata.port), commands_by_name(oracle.port)


def test_strata_documents_every_command_redis_has_that_strata_serves(both):
    strata, redis_ = both
    shared = set(strata) & set(redis_)
    assert len(shared) >= 260, "the comparison below covers most of the command table"
    assert set(strata) - set(redis_) <= {
        "loader", "loader|list", "loader|stats", "loader|refresh", "loader|invalidate", "loader|help",
        "client|setinfo", "client|no-touch"}


def test_command_info_arity_flags_and_key_range_match_redis(both):
    strata, redis_ = both
    for name in sorted(set(strata) & set(redis_)):
        s, r = strata[name], redis_[name]
        assert s["arity"] == r["arity"], name
        only_redis, only_strata = KNOWN_FLAG_DIFFERENCES.get(name, (set(), set()))
        assert s["flags"] - only_strata == r["flags"] - only_redis, name
        if name != "debug":
            assert s["range"] == r["range"], name


def test_command_info_acl_categories_match_redis(both):
    strata, redis_ = both
    for name in sorted(set(strata) & set(redis_)):
        assert strata[name]["acl"] == redis_[name]["acl"], name


def test_command_info_key_specs_and_tips_match_redis(both):
    strata, redis_ = both
    for name in sorted(set(strata) & set(redis_)):
        if name not in KNOWN_KEY_SPEC_DIFFERENCES:
            assert strata[name]["key_specs"] == redis_[name]["key_specs"], name
        assert strata[name]["tips"] == redis_[name]["tips"], name


STRATA_ONLY = {"loader", "loader|list", "loader|stats", "loader|refresh", "loader|invalidate", "loader|help",
               "client|setinfo", "client|no-touch"}
ACL_CATEGORIES = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
                  "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
                  "transaction", "scripting"]


def test_command_list_filterby_matches_redis_on_the_commands_both_have(pair):
    strata, oracle = pair
    strata_names = set(text(command_output(strata.port, "COMMAND", "LIST"))) | {
        n for n in commands_by_name(strata.port)}

    def listed(port, *filter_):
        return set(text(command_output(port, "COMMAND", "LIST", "FILTERBY", *filter_)))

    unfiltered = set(text(command_output(strata.port, "COMMAND", "LIST")))
    assert "config|get" in unfiltered, "subcommands are listed, as in Redis"
    assert unfiltered - STRATA_ONLY == set(text(command_output(oracle.port, "COMMAND", "LIST"))) & strata_names
    filters = [("ACLCAT", c) for c in ACL_CATEGORIES] + [("PATTERN", p) for p in ("config*", "CLIENT|*", "*pop", "?et")]
    for filter_ in filters:
        s = listed(strata.port, *filter_)
        assert s - STRATA_ONLY == listed(oracle.port, *filter_) & strata_names, filter_
    assert listed(strata.port, "ACLCAT", "loader") == STRATA_ONLY - {"client|setinfo", "client|no-touch"} - {"loader"}
    assert listed(strata.port, "MODULE", "any") == set()
    for port in (strata.port, oracle.port):
        with pytest.raises(redis.ResponseError, match="syntax error"):
            command_output(port, "COMMAND", "LIST", "FILTERBY", "BOGUS", "x")


def test_strata_only_commands_have_categories_of_their_own(both):
    strata, _ = both
    assert strata["loader|invalidate"]["acl"] == {"@loader", "@admin", "@dangerous", "@write", "@slow"}
    assert "@loader" in strata["loader|list"]["acl"]
    assert strata["loader|refresh"]["key_specs"][0][1:] == ("index", ("index", 2), "range", ("lastkey", 0, "keystep", 1, "limit", 0))
    assert strata["loader"]["acl"] == {"@slow"}, "a container has only @slow, as Redis's containers"


def test_command_docs_group_since_tokens_and_keys_match_redis(pair):
    strata, oracle = pair
    s_docs, r_docs = docs_by_name(strata.port), docs_by_name(oracle.port)
    shared = sorted(set(s_docs) & set(r_docs))
    assert len(shared) >= 260
    for name in shared:
        s, r = s_docs[name], r_docs[name]
        assert s["group"] == r["group"], name
        assert s["since"] == r["since"], name
        assert s["summary"] and s["complexity"], name
        only_redis, only_strata = KNOWN_TOKEN_DIFFERENCES.get(name, (set(), set()))
        assert tokens_of(s) - only_strata == tokens_of(r) - only_redis, name
        s_keys = [a for a in walk_arguments(arguments_of(s)) if a["type"] == "key"]
        r_keys = [a for a in walk_arguments(arguments_of(r)) if a["type"] == "key"]
        if name != "debug":
            assert len(s_keys) == len(r_keys), name
            assert [a.get("key_spec_index") for a in s_keys] == [a.get("key_spec_index") for a in r_keys], name


def test_command_docs_describe_set_as_redis_does(pair):
    """The argument tree of SET, field by field (names aside from the arguments Redis names)."""
    strata, oracle = pair
    s_set, r_set = docs_by_name(strata.port, "set")["set"], docs_by_name(oracle.port, "set")["set"]

    def shape(args):
        return [(a["name"], a["type"], a.get("token"), sorted(a.get("flags", [])), a.get("key_spec_index"),
                 shape(arguments_of(a))) for a in args]

    assert shape(arguments_of(s_set)) == shape(arguments_of(r_set))


# Argument trees that differ from Redis 7.0's in more than names: command -> reason.
KNOWN_SHAPE_DIFFERENCES = {
    "client|kill": "takes Redis 7.4's MAXAGE filter; each filter is written as a required choice",
    "client|list": "ID's client ids are one repeated argument, not a block",
    "command|getkeys": "documents the command and its arguments (Redis 7.0 documents none)",
    "config|get": "the parameters are one repeated argument, not a block",
    "psubscribe": "the patterns are one repeated argument, not a block",
    "debug": "documents the subcommands strata answers (Redis 7.0 documents none)",
}


def test_command_docs_argument_trees_match_redis_but_for_names(pair):
    """Types, tokens, optional/multiple flags, key spec indexes and nesting of every shared
    command's arguments; argument names are strata's own where Redis's differ (data, limit...)."""
    strata, oracle = pair
    s_docs, r_docs = docs_by_name(strata.port), docs_by_name(oracle.port)

    def shape(args):
        return [(a["type"], a.get("token"), sorted(a.get("flags", [])), a.get("key_spec_index"),
                 shape(arguments_of(a))) for a in args]

    differing = {name for name in set(s_docs) & set(r_docs)
                 if shape(arguments_of(s_docs[name])) != shape(arguments_of(r_docs[name]))}
    assert differing == set(KNOWN_SHAPE_DIFFERENCES)


def test_command_info_and_docs_accept_a_subcommand_by_its_full_name(pair):
    strata, oracle = pair
    for port in (strata.port, oracle.port):
        info = text(command_output(port, "COMMAND", "INFO", "config|get", "nosuch|x", "get|x"))
        assert info[0][0] == "config|get" and info[1] is None and info[2] is None
        docs = as_map(text(command_output(port, "COMMAND", "DOCS", "config|get")))
        assert list(docs) == ["config|get"]


def raw_resp3(port, command):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"HELLO 3\r\n" + command)
        data = b""
        sock.settimeout(0.5)
        while True:
            try:
                chunk = sock.recv(1 << 20)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        return data


def test_resp3_command_info_is_byte_for_byte_redis_for_plain_commands(pair):
    """Sets where Redis sends sets (flags, categories, tips, key specs, subcommands), maps where
    it sends maps: the whole RESP3 reply equals Redis's for commands without free-text notes."""
    strata, oracle = pair
    command = b"COMMAND INFO get mset lmove zunionstore blpop incr sunsubscribe lcs hgetall keys\r\n"
    s, r = raw_resp3(strata.port, command), raw_resp3(oracle.port, command)
    # Both replies follow HELLO's map; compare from the COMMAND reply on.
    assert s[s.index(b"*10\r\n$3\r\nget") - 5:] == r[r.index(b"*10\r\n$3\r\nget") - 5:]
    # A container's subcommands are an array (a command without any has an empty set).
    subcommands = re.compile(rb"\r\n\*5\r\n\*10\r\n\$\d+\r\nconfig\|")
    for reply in (raw_resp3(strata.port, b"COMMAND INFO config\r\n"), raw_resp3(oracle.port, b"COMMAND INFO config\r\n")):
        assert subcommands.search(reply), reply[:300]


def test_redis_py_cluster_key_extraction_finds_the_same_keys(pair):
    """redis-py's CommandsParser (what its cluster client routes with) reads COMMAND and, for
    movable keys, asks COMMAND GETKEYS: it must find the keys it finds on Redis."""
    from redis.commands import CommandsParser
    samples = [
        ("MSET", "a", "1", "b", "2"), ("LMPOP", "2", "x", "y", "LEFT"), ("EVAL", "return 1", "1", "k", "a"),
        ("SORT", "k", "STORE", "d"), ("ZUNIONSTORE", "d", "2", "a", "b"), ("BLPOP", "a", "b", "0"),
        ("RENAME", "a", "b"), ("LCS", "a", "b"), ("SINTERCARD", "2", "a", "b", "LIMIT", "1"),
        ("GET", "k"), ("OBJECT", "ENCODING", "k"), ("XX",),
    ]
    results = []
    for server in pair:
        client = redis.Redis(port=server.port)
        parser = CommandsParser(client)
        found = []
        for args in samples:
            try:
                found.append(parser.get_keys(client, *args))
            except redis.RedisError as e:
                found.append(type(e).__name__)
        results.append(found)
        client.close()
    assert results[0] == results[1]
    assert results[0][0] == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# Flags that drive behaviour, aligned with Redis's: each is checked by what it does.

def replies_on(server, *commands):
    client = redis.Redis(port=server.port, decode_responses=True)
    out = []
    for command in commands:
        try:
            out.append(client.execute_command(*command))
        except redis.RedisError as e:
            out.append(f"{type(e).__name__}: {e}")
    client.close()
    return out


def test_shutdown_and_save_are_refused_inside_multi(pair):
    def scenario(server):
        client = redis.Redis(port=server.port, decode_responses=True)
        pipe = client.pipeline(transaction=True)
        pipe.execute_command("SHUTDOWN")
        pipe.execute_command("SAVE")
        try:
            pipe.execute()
            return "executed"
        except redis.RedisError as e:
            return f"{type(e).__name__}: {e}"
        finally:
            client.close()

    strata, oracle = pair
    assert scenario(strata) == scenario(oracle)
    assert "not allowed inside a transaction" in scenario(strata)
    assert replies_on(strata, ("PING",)) == [True]


def test_blocking_multi_key_pops_inside_a_script_answer_at_once(pair):
    commands = [
        ("EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", 1, "nolist"),
        ("EVAL", "return redis.call('BZMPOP', 0, 1, KEYS[1], 'MIN')", 1, "nozset"),
        ("RPUSH", "list", "a"),
        ("EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", 1, "list"),
    ]
    strata, oracle = pair
    assert replies_on(strata, *commands) == replies_on(oracle, *commands)
    assert replies_on(strata, ("EXISTS", "list")) == [0]


def test_command_getkeys_needs_a_command_with_arguments(pair):
    commands = [("COMMAND", "GETKEYS", "GET"), ("COMMAND", "GETKEYS", "GET", "k"), ("COMMAND", "GETKEYS", "PING", "x")]

    def replies(server):  # COMMAND's replies without redis-py's COMMAND callback
        out = []
        for command in commands:
            try:
                out.append(text(command_output(server.port, *command)))
            except redis.RedisError as e:
                out.append(str(e))
        return out

    strata, oracle = pair
    assert replies(strata) == replies(oracle)
    assert replies(strata)[1] == ["k"]


def test_function_delete_and_flush_run_when_over_maxmemory(pair):
    library = "#!lua name=lib\nredis.register_function('f', function() return 1 end)"
    commands = [("FUNCTION", "LOAD", library), ("CONFIG", "SET", "maxmemory-policy", "noeviction"),
                ("CONFIG", "SET", "maxmemory", "1"), ("SET", "k", "v"), ("FUNCTION", "DELETE", "lib"),
                ("FUNCTION", "FLUSH"), ("CONFIG", "SET", "maxmemory", "0")]
    strata, oracle = pair
    got, expected = replies_on(strata, *commands), replies_on(oracle, *commands)
    assert got == expected
    assert got[3].startswith("OutOfMemoryError") or "OOM" in got[3], got
    assert got[4] == "OK" and got[5] == "OK"

"""ACL users and their rules, specified against Debian's redis-server 7.0 (the oracle).

Each test runs the same commands on strata and on redis-server and asserts the replies are equal,
byte for byte: a fresh pair of servers (`pair`) for tests that log in, change live rules or start
servers with files; the module's shared pair (`server_pair`, users deleted after each test) for
tests that only define users and read them back. The exceptions, all of them Redis's own
randomness or what two processes can't share:

* A rule set's description (GETUSER's "commands", ACL LIST) begins with +@all or -@all and the
  categories in a fixed order, then the single commands (+get, -keys, +select|0) in the order of
  Redis's command hash table, which is seeded per process. The base and the categories are
  compared in order, the single commands as a set. Flags, passwords, keys, channels and selectors
  are compared exactly.
* ACL LOG's age-seconds and client-info (ids, addresses, buffer sizes) differ; client-info must
  name the user and the command.
* Connection ids (HELLO, CLIENT LIST) and paths of each server's own files differ.

Where strata differs from Redis, the test still states Redis's behaviour and is marked `differs`:
xfail(strict=True) with the difference as its reason, expecting StrataDiffers, which is raised
only after the oracle's reply was checked (so a wrong expectation still fails the test).

Users are made with ACL SETUSER and used by a second connection that authenticates (AUTH user
pass), so what is checked is what a restricted client meets: NOPERM replies for commands,
subcommands, keys (read-only and write-only patterns), channels and selectors, ACL DRYRUN's
answers for the same, ACL LOG entries, rules changed under a live connection and under a queued
transaction, scripts calling forbidden commands, redis-py with username and password, and users
loaded from an ACL file or `user` directives.
"""
import hashlib
import re
import subprocess

import pytest
import redis

from conftest import STRATA_SERVER, free_port, start_redis, start_strata
from helpers import (ConnectionClosed, RespConnection, array, bulk, error, integer, pair,  # noqa: F401  (fixtures)
                     server_pair, status, strata_available)

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Comparing rule descriptions

def commands_description(text):
    """A selector's command rules, comparable across processes: the base (+@all or -@all), the
    categories in order, the single commands as a set, and whether every category comes before
    every single command (Redis's layout)."""
    tokens = text.split()
    assert tokens and tokens[0] in ("+@all", "-@all"), text
    rest = tokens[1:]
    categories = [t for t in rest if t[1:2] == "@"]
    singles = [t for t in rest if t[1:2] != "@"]
    layout = rest == categories + singles
    return tokens[0], tuple(categories), frozenset(singles), layout


def acl_list_line(line):
    """An ACL LIST line (or ACL file line), comparable across processes: the name, then per
    selector (the root first) its other rules in order and its command rules as above."""
    assert line.startswith("user "), line
    name, _, rules = line[len("user "):].partition(" ")
    selectors = re.findall(r"\(([^)]*)\)", rules)
    root = re.sub(r"\s*\([^)]*\)", "", rules)
    parts = []
    for segment in [root] + selectors:
        tokens = segment.split()
        commands = [t for t in tokens if t[0] in "+-"]
        others = tuple(t for t in tokens if t[0] not in "+-")
        parts.append((others, commands_description(" ".join(commands))))
    return name, tuple(parts)


def acl_list(conn):
    reply = conn.call("ACL", "LIST")
    assert reply.kind == "*", reply
    return [acl_list_line(item.value.decode()) for item in reply.value]


def selector_fields(items):
    """GETUSER's commands/keys/channels pairs (a RESP2 flat array) as a dict."""
    fields = {}
    for i in range(0, len(items), 2):
        key, value = items[i].value.decode(), items[i + 1]
        fields[key] = commands_description(value.value.decode()) if key == "commands" else value
    return fields


def getuser(conn, name):
    """ACL GETUSER in RESP2, comparable across processes (None for an unknown user)."""
    reply = conn.call("ACL", "GETUSER", name)
    if reply.kind == "$" and reply.value is None:
        return None
    assert reply.kind == "*", reply
    selectors = reply.value[-1]
    assert reply.value[-2] == bulk("selectors") and selectors.kind == "*", reply
    fields = selector_fields(reply.value[:-2])
    fields["selectors"] = [selector_fields(s.value) for s in selectors.value]
    return fields


# ---------------------------------------------------------------------------------------------
# Connections to both servers

class StrataDiffers(AssertionError):
    """strata's reply is not Redis's, the oracle's reply having been checked first."""


def differs(reason):
    """A known difference from Redis: the test states Redis's behaviour and fails on strata only
    (a failure of the oracle's side is a real failure)."""
    return pytest.mark.xfail(strict=True, raises=StrataDiffers, reason=reason)


class Twin:
    """One client connection to each server of `pair`: every call goes to both."""

    def __init__(self, pair):
        self.strata = RespConnection(pair[0].port)
        self.redis = RespConnection(pair[1].port)

    def call(self, *args):
        return self.strata.call(*args), self.redis.call(*args)

    def same(self, *args):
        """Runs a command on both servers, asserts the replies are equal, returns strata's."""
        got, expected = self.call(*args)
        assert got == expected, f"{args}: strata {got!r}, redis {expected!r}"
        return got

    def expect(self, expected, *args):
        """Runs a command on both servers: redis-server must answer `expected` (else the test is
        wrong), strata must too (else StrataDiffers)."""
        got, oracle = self.call(*args)
        assert oracle == expected, f"{args}: the oracle answered {oracle!r}, not {expected!r}"
        if got != expected:
            raise StrataDiffers(f"{args}: strata {got!r}, redis {oracle!r}")
        return got

    def both(self, function):
        """function(conn) on each server; asserts the results are equal and returns it."""
        got, expected = function(self.strata), function(self.redis)
        assert got == expected, f"strata {got!r}, redis {expected!r}"
        return got

    def close(self):
        self.strata.close()
        self.redis.close()


@pytest.fixture
def twins(pair):
    """Makes Twin connections to a fresh pair; `twins()` is an admin (default user) connection."""
    made = []

    def make():
        twin = Twin(pair)
        made.append(twin)
        return twin

    yield make
    for twin in made:
        twin.close()


@pytest.fixture
def admin(server_pair):
    """A default-user connection to each server of the module's shared pair, for tests that only
    define users and read them back; the users are deleted after each test."""
    twin = Twin(server_pair)
    yield twin
    for conn in (twin.strata, twin.redis):
        names = [item.value for item in conn.call("ACL", "USERS").value if item.value != b"default"]
        if names:
            conn.call("ACL", "DELUSER", *names)
        assert conn.call("ACL", "LIST") == array(bulk("user default on nopass ~* &* +@all"))
    twin.close()


def login(twins, user, password="pw"):
    """A new connection on both servers, authenticated as `user`."""
    twin = twins()
    assert twin.same("AUTH", user, password) == status("OK")
    return twin


def noperm_command(name):
    return error(f"NOPERM this user has no permissions to run the '{name}' command")


NOPERM_KEY = error("NOPERM this user has no permissions to access one of the keys used as arguments")
NOPERM_CHANNEL = error("NOPERM this user has no permissions to access one of the channels used as arguments")
WRONGPASS = error("WRONGPASS invalid username-password pair or user is disabled.")
OK = status("OK")


def hello_without_id(*command):
    """HELLO's reply without the connection id (each server numbers its own connections)."""
    def run(conn):
        reply = conn.call(*command)
        if reply.kind == "%":
            return reply.kind, [(k, v) for k, v in reply.value if k.value != b"id"]
        return reply.kind, [item for i, item in enumerate(reply.value) if reply.value[i - (i % 2)].value != b"id"]
    return run


def acl_log(conn, count=None):
    """ACL LOG entries without age-seconds; client-info reduced to its user= and cmd= fields."""
    reply = conn.call("ACL", "LOG", *(() if count is None else (count,)))
    assert reply.kind == "*", reply
    entries = []
    for entry in reply.value:
        fields = {}
        for i in range(0, len(entry.value), 2):
            key, value = entry.value[i].value.decode(), entry.value[i + 1]
            if key == "age-seconds":
                assert float(value.value) >= 0
            elif key == "client-info":
                info = value.value.decode().split()
                fields["client-info"] = sorted(f for f in info if f.startswith(("user=", "cmd=")))
            else:
                fields[key] = value.py()
        entries.append(fields)
    return entries


# ---------------------------------------------------------------------------------------------
# Rules: SETUSER, GETUSER, LIST

RULE_SETS = {
    "categories and a key pattern": ["on", ">pw", "+@read", "-@dangerous", "~k*"],
    "everything allowed, no password": ["on", "nopass", "allkeys", "allchannels", "allcommands"],
    "single commands added and removed around categories": ["-@all", "+@read", "-keys", "+select|0", "+set",
                                                             "-sort_ro"],
    "subcommands and first arguments": ["+config|get", "+select|0", "+select|5", "+client|list", "+client|id"],
    "a command minus its subcommand": ["+config", "-config|set"],
    "a subcommand then its whole command": ["+config|get", "+config"],
    "a subcommand then the command removed": ["+config|get", "-config"],
    "a first argument then the whole command": ["+select|0", "+select"],
    "a first argument then the command removed": ["+select|0", "-select"],
    "all commands minus a few": ["+@all", "-config|set", "-flushall", "-keys"],
    "+@all then -@all": ["+@all", "-@all", "+get"],
    "a category minus its commands": ["+@pubsub", "-publish", "-ssubscribe"],
    "nocommands drops every command rule": ["+@all", "-@read", "+get", "nocommands", "+ping"],
    "key patterns by access": ["%R~r*", "%W~w*", "%RW~rw*", "~k*", "%rw~x", "%w~lower"],
    "read and write patterns of one glob merge": ["%R~a", "%W~a", "%W~b", "~b", "~c", "%R~c"],
    "a pattern repeated once listed": ["~a", "~a", "&c", "&c"],
    "channel patterns": ["&ch*", "&news.?", "&lit"],
    "allkeys and allchannels": ["allkeys", "allchannels"],
    "resetkeys and resetchannels": ["~a", "allkeys", "resetkeys", "~b", "&x", "allchannels", "resetchannels", "&y"],
    "reset": ["on", ">pw", "allkeys", "+@all", "(~x +get)", "reset"],
    "passwords added and removed in clear": [">b", ">a", ">c", "<b", ">a"],
    "passwords added and removed by hash": ["#" + sha256("x"), ">y", "!" + sha256("x")],
    "nopass then a password": ["nopass", ">pw"],
    "a password then nopass": [">pw", "nopass"],
    "resetpass clears nopass": ["nopass", "resetpass"],
    "resetpass clears passwords": [">a", ">b", "resetpass"],
    "on then off": ["on", "off"],
    "off then on": ["off", "on"],
    "rules are case-insensitive": ["ON", "+GET", "+@READ", "~K*", "&C*", ">Pw"],
    "selectors each one argument": ["+get", "~a", "(~x* +set)", "(%R~y* +@string &c)"],
    "a selector spread over arguments": ["(~x*", "+get", "&c)", "+ping"],
    "a selector in three arguments": ["(", "+get", ")"],
    "clearselectors": ["(~x* +get)", "clearselectors", "(~z* +ping)"],
    "an empty selector": ["()"],
    "sanitize-payload": ["sanitize-payload"],
    "skip-sanitize-payload": ["skip-sanitize-payload"],
    "everything at once": ["allchannels", "allkeys", "+@all", "on", "nopass", "(~foo +get)"],
}


@pytest.mark.parametrize("rules", list(RULE_SETS.values()), ids=list(RULE_SETS))
def test_setuser_then_getuser_and_list_describe_the_rules_as_redis_does(admin, rules):
    assert admin.same("ACL", "SETUSER", "u", *rules) == OK
    user = admin.both(lambda conn: getuser(conn, "u"))
    for selector in [user] + user["selectors"]:
        assert selector["commands"][3], "categories come before single commands"
    admin.both(acl_list)


def test_setuser_on_an_existing_user_applies_new_rules_over_the_old(admin):
    steps = [["on", ">pw", "+get", "~a"], ["+set", "~b", "&c"], [">pw2", "<pw", "-get"],
             ["(+del ~d)"], ["resetkeys", "~e", "off"], ["clearselectors", "nopass"]]
    for rules in steps:
        assert admin.same("ACL", "SETUSER", "u", *rules) == OK
        admin.both(lambda conn: getuser(conn, "u"))
        admin.both(acl_list)


def test_a_new_user_is_off_with_no_rights_and_setuser_without_rules_creates_it(admin):
    assert admin.same("ACL", "SETUSER", "fresh") == OK
    assert admin.both(lambda conn: getuser(conn, "fresh")) == {
        "flags": array(bulk("off")), "passwords": array(), "commands": ("-@all", (), frozenset(), True),
        "keys": bulk(""), "channels": bulk(""), "selectors": []}
    assert admin.same("ACL", "USERS") == array(bulk("default"), bulk("fresh"))


def test_getuser_in_resp3_is_a_map_with_a_set_of_flags(twins):
    admin = twins()
    admin.both(hello_without_id("HELLO", "3"))
    admin.same("ACL", "SETUSER", "u", "on", ">pw", "+get", "~a", "(+set ~b)")
    reply = admin.same("ACL", "GETUSER", "u")
    assert reply.kind == "%" and reply.value[0][1].kind == "~"
    assert admin.same("ACL", "GETUSER", "nosuch").kind == "_"


def test_users_and_list_are_ordered_by_name(admin):
    for name in ("zed", "Bob", "alice", "al"):
        admin.same("ACL", "SETUSER", name, "on")
    assert admin.same("ACL", "USERS") == array(*map(bulk, ["Bob", "al", "alice", "default", "zed"]))
    admin.same("ACL", "LIST")


def test_deluser_counts_the_users_it_removed(admin):
    admin.same("ACL", "SETUSER", "a")
    admin.same("ACL", "SETUSER", "b")
    assert admin.same("ACL", "DELUSER", "a", "nosuch", "b", "a") == integer(2)
    assert admin.same("ACL", "USERS") == array(bulk("default"))


# ---------------------------------------------------------------------------------------------
# Rule errors

BAD_RULES = [
    ["+nosuch"], ["-nosuch"], ["+@nosuch"], ["-@nosuch"], ["+"], ["+@"], ["+|"],
    ["bogus"], ["~x* +get)"], ["(bogus)"], ["+config|"],
    ["~*", "~x"], ["allkeys", "%R~x"], ["&*", "&x"], ["allchannels", "&x"],
    ["#abc"], ["#" + "g" * 64], ["#" + "A" * 64], ["!abc"], ["<nope"], ["!" + sha256("nope")],
    ["+config|get|x"], ["+acl|setuser|x"], ["+select|0|1"], ["+config|nosuch"], ["-get|x"],
    ["-config|get|x"], ["+@all", "-select|0"],
    ["%X~a"], ["%RR~a"], ["%Rx~a"], ["%WW~a"],
    ["(~x* +get"], ["(~x*", "+get"], ["(~a +get)", "(~b"],
    ["on", ">pw", "~k", "+nosuch"],
]


@pytest.mark.parametrize("rules", BAD_RULES, ids=[" ".join(r) for r in BAD_RULES])
def test_a_bad_rule_is_refused_in_redis_words_and_creates_no_user(admin, rules):
    assert admin.same("ACL", "SETUSER", "bad", *rules).is_error
    assert admin.same("ACL", "GETUSER", "bad") == bulk(None)


@pytest.mark.parametrize("rule", ["%", "%~a"])
def test_a_percent_pattern_without_r_or_w_is_a_syntax_error(admin, rule):
    admin.expect(error(f"ERR Error in ACL SETUSER modifier '{rule}': Syntax error"), "ACL", "SETUSER", "bad", rule)


def test_rules_redis_accepts_that_look_odd(admin):
    """+get|x (a first argument of a command without subcommands), a lone ~ or &, '%R', '%W'
    (an empty pattern) and an empty rule are accepted by Redis, and described as Redis does."""
    for i, rules in enumerate([["+get|x", "+ping|y"], ["~"], ["&"], ["%R"], ["%W"], ["%RW"], ["%R~"], [""],
                               ["-config|get"]]):
        assert admin.same("ACL", "SETUSER", f"odd{i}", *rules) == OK, rules
        admin.both(lambda conn: getuser(conn, f"odd{i}"))


def test_errors_name_the_failing_rule_in_redis_words(admin):
    expected = {
        ("+nosuch",): "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL",
        ("bogus",): "ERR Error in ACL SETUSER modifier 'bogus': Syntax error",
        ("~*", "~x"): "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the "
                      "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an "
                      "empty list of patterns",
        ("&*", "&x"): "ERR Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the "
                      "'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start "
                      "with an empty list of channels",
        ("#abc",): "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and "
                   "contain only lowercase hexadecimal characters",
        ("<nope",): "ERR Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user "
                    "does not exist",
        ("+config|get|x",): "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand "
                            "is not supported",
        ("(~x*", "+get"): "ERR Unmatched parenthesis in acl selector starting at '(~x*'.",
    }
    for rules, text in expected.items():
        assert admin.same("ACL", "SETUSER", "bad", *rules) == error(text), rules


@pytest.mark.parametrize("name", ["with space", "tab\there", "nul\x00byte"])
def test_usernames_with_spaces_or_nul_are_refused(admin, name):
    assert admin.same("ACL", "SETUSER", name, "on") == error("ERR Usernames can't contain spaces or null characters")


def test_a_failing_setuser_changes_nothing(twins):
    """All or nothing: the rules before the bad one are not applied either."""
    admin = twins()
    admin.same("ACL", "SETUSER", "keep", "on", ">pw", "+get", "~k*", "(+set ~s*)")
    before = admin.both(lambda conn: getuser(conn, "keep"))
    for rules in (["-get", "off", "resetpass", "clearselectors", "+nosuch"], ["reset", "~z", "allkeys", "~y"],
                  ["(~a +get)", "(~b"], ["<pw", "<pw"]):
        assert admin.same("ACL", "SETUSER", "keep", *rules).is_error
        assert admin.both(lambda conn: getuser(conn, "keep")) == before
    user = login(twins, "keep")
    assert user.same("GET", "k1") == bulk(None)


def test_default_user_cannot_be_deleted_and_nothing_is_deleted_with_it(admin):
    admin.same("ACL", "SETUSER", "a")
    assert admin.same("ACL", "DELUSER", "default") == error("ERR The 'default' user cannot be removed")
    assert admin.same("ACL", "DELUSER", "a", "default") == error("ERR The 'default' user cannot be removed")
    assert admin.same("ACL", "USERS") == array(bulk("a"), bulk("default"))


def test_getuser_of_an_unknown_user_is_null(admin):
    assert admin.same("ACL", "GETUSER", "nosuch") == bulk(None)


def test_dryrun_of_an_unknown_user_or_command_is_an_error(admin):
    assert admin.same("ACL", "DRYRUN", "nosuch", "get", "x") == error("ERR User 'nosuch' not found")
    assert admin.same("ACL", "DRYRUN", "default", "nosuchcmd", "x") == error("ERR Command 'nosuchcmd' not found")
    assert admin.same("ACL", "DRYRUN", "default", "acl", "nosuch") == error("ERR Command 'acl' not found")


@pytest.mark.parametrize("command,name", [(("get",), "get"), (("set", "k"), "set"), (("config", "get"), "config|get"),
                                          (("mset", "a"), "mset")])
def test_dryrun_of_a_command_with_the_wrong_number_of_arguments_is_its_arity_error(admin, command, name):
    admin.expect(error(f"ERR wrong number of arguments for '{name}' command"), "ACL", "DRYRUN", "default", *command)


def test_acl_subcommands_check_their_arguments(admin):
    for command in [("ACL", "SETUSER"), ("ACL", "GETUSER"), ("ACL", "DELUSER"), ("ACL", "DRYRUN", "default"),
                    ("ACL", "LIST", "x"), ("ACL", "USERS", "x"), ("ACL", "SAVE", "x"), ("ACL", "LOAD", "x"),
                    ("ACL", "WHOAMI", "x"), ("ACL", "LOG", "x"), ("ACL", "LOG", "RESET", "x"), ("ACL", "LOG", "-1")]:
        admin.same(*command)


# ---------------------------------------------------------------------------------------------
# NOPERM: what an authenticated user may run, and ACL DRYRUN's answer for the same

def run_and_dryrun(admin, user, name, cases):
    """Each case run by `user` and asked of ACL DRYRUN, on both servers, in order."""
    for command in cases:
        user.same(*command)
        admin.same("ACL", "DRYRUN", name, *command)


def test_commands_and_subcommands_outside_the_rules_are_refused(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "cmd", "on", ">pw", "allkeys", "allchannels", "+@all", "-flushall", "-config|set",
               "-select", "+select|0", "-@scripting")
    user = login(twins, "cmd")
    assert user.same("FLUSHALL") == noperm_command("flushall")
    assert user.same("CONFIG", "SET", "hz", "10") == noperm_command("config|set")
    assert user.same("CONFIG", "GET", "hz") == array(bulk("hz"), bulk("10"))
    assert user.same("SELECT", "0") == OK
    assert user.same("SELECT", "1") == noperm_command("select")
    assert user.same("EVAL", "return 1", "0") == noperm_command("eval")
    assert user.same("ACL", "WHOAMI") == bulk("cmd")
    for command in [("FLUSHALL",), ("CONFIG", "SET", "hz", "10"), ("CONFIG", "GET", "hz"), ("SELECT", "0"),
                    ("SELECT", "1"), ("EVAL", "return 1", "0"), ("ACL", "WHOAMI"), ("select", "0")]:
        admin.same("ACL", "DRYRUN", "cmd", *command)
    assert admin.same("ACL", "DRYRUN", "cmd", "FLUSHALL") == bulk(
        "This user has no permissions to run the 'flushall' command")


def test_a_user_without_rights_may_still_auth_and_hello_but_nothing_else(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "none", "on", ">pw")
    user = login(twins, "none")
    assert user.same("PING") == noperm_command("ping")
    assert user.same("GET", "x") == noperm_command("get")
    assert user.same("AUTH", "none", "pw") == OK
    assert user.both(hello_without_id("HELLO", "2", "AUTH", "none", "pw"))[0] == "*"
    assert user.same("ACL", "WHOAMI") == noperm_command("acl|whoami")


KEY_RULES = ["on", ">pw", "+@all", "allchannels", "%R~r*", "%W~w*", "~rw*"]
KEY_SETUP = [("SET", "rkey", "1"), ("SET", "wkey", "1"), ("SET", "rwkey", "x"), ("RPUSH", "rlist", "2", "1"),
             ("SADD", "rset", "a"), ("ZADD", "rz", "1", "a")]
# A key the command reads needs %R (or ~), a key it writes %W (or ~), a key it reads and writes
# both; a refusal names no key, DRYRUN names the first refused one.
KEY_CASES = [
    ("GET", "rkey"), ("GET", "wkey"), ("GET", "rwkey"), ("GET", "other"),
    ("SET", "rkey", "2"), ("SET", "rwkey", "y"), ("SET", "rkey", "2", "GET"), ("SET", "wkey", "2", "GET"),
    ("APPEND", "wkey", "x"), ("APPEND", "rkey", "x"), ("INCR", "wcnt"), ("GETRANGE", "wkey", "0", "1"),
    ("SETRANGE", "rkey", "0", "a"), ("GETDEL", "rwkey"), ("GETEX", "rkey"),
    ("DEL", "rkey"), ("DEL", "wkey"), ("DEL", "wkey", "rkey"), ("UNLINK", "wnone"),
    ("COPY", "rkey", "wnew"), ("COPY", "wkey", "wnew2"), ("COPY", "rkey", "rnew"),
    ("LMOVE", "rlist", "wl", "LEFT", "RIGHT"), ("LMOVE", "rlist", "rwl", "LEFT", "RIGHT"),
    ("LMOVE", "rwl", "rwl", "LEFT", "RIGHT"),
    ("SORT", "rlist"), ("SORT_RO", "rlist"), ("SORT", "rlist", "STORE", "rdest"), ("SORT", "rlist", "STORE", "rwdest"),
    ("MSET", "wa", "1", "wb", "2"), ("MSET", "wa", "1", "rb", "2"), ("MSETNX", "rwa", "1", "wc", "2"),
    ("MGET", "ra", "rb"), ("MGET", "ra", "wb"), ("MGET", "rkey", "rwkey"),
    ("RENAME", "rwkey", "rwkey2"), ("RENAME", "wkey", "wkey2"), ("RENAME", "rwkey2", "wkey2"),
    ("BITOP", "AND", "wdst", "rkey"), ("BITOP", "AND", "wdst", "wkey"), ("BITOP", "AND", "rdst", "rkey"),
    ("SINTERSTORE", "wdst2", "rset"), ("SINTERSTORE", "rdst", "rset"), ("SUNIONSTORE", "wd", "rset", "wb"),
    ("ZRANGESTORE", "wz2", "rz", "0", "1"), ("ZRANGESTORE", "wz2", "wz", "0", "1"),
    ("HSET", "wh", "a", "1"), ("HGET", "wh", "a"), ("ZADD", "wz", "1", "a"), ("SMEMBERS", "rset"),
    ("EXPIRE", "rkey", "100"), ("EXPIRE", "wkey", "100"), ("TTL", "rwa"), ("PERSIST", "rwa"),
    ("EVAL", "return 1", "1", "rwkey"), ("EVAL", "return 1", "1", "wkey"), ("EVAL", "return 1", "1", "rkey"),
    ("DBSIZE",), ("FLUSHDB",),
]


def test_read_only_and_write_only_key_patterns_allow_what_redis_allows(twins):
    admin = twins()
    for command in KEY_SETUP:
        admin.same(*command)
    admin.same("ACL", "SETUSER", "kim", *KEY_RULES)
    user = login(twins, "kim")
    run_and_dryrun(admin, user, "kim", KEY_CASES)
    assert admin.same("ACL", "DRYRUN", "kim", "GET", "wkey") == bulk(
        "This user has no permissions to access the 'wkey' key")
    assert admin.same("ACL", "DRYRUN", "kim", "MSET", "wa", "1", "rb", "2", "wc", "3") == bulk(
        "This user has no permissions to access the 'rb' key")


def test_a_refused_key_command_changes_nothing(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "kim", *KEY_RULES)
    user = login(twins, "kim")
    assert user.same("MSET", "wa", "1", "other", "2") == NOPERM_KEY
    assert admin.same("EXISTS", "wa", "other") == integer(0)


def test_set_without_get_needs_only_write_access(twins):
    """Redis 7.0 takes SET's key flags from setGetKeys: without GET the key is only written."""
    admin = twins()
    admin.same("ACL", "SETUSER", "kim", *KEY_RULES)
    user = login(twins, "kim")
    assert user.same("SET", "wkey", "2", "GET") == NOPERM_KEY, "with GET the key is read too"
    admin.expect(OK, "ACL", "DRYRUN", "kim", "SET", "wkey", "2")
    user.expect(OK, "SET", "wkey", "2")


def test_sort_store_destination_needs_only_write_access(twins):
    """Redis 7.0's sortGetKeys marks the STORE destination OW UPDATE: written, not read."""
    admin = twins()
    admin.same("RPUSH", "rlist", "2", "1")
    admin.same("ACL", "SETUSER", "kim", *KEY_RULES)
    user = login(twins, "kim")
    admin.expect(OK, "ACL", "DRYRUN", "kim", "SORT", "rlist", "STORE", "wdest")
    user.expect(integer(2), "SORT", "rlist", "STORE", "wdest")


@pytest.mark.parametrize("command,reply", [
    (("EXISTS", "rkey"), integer(1)), (("EXISTS", "wkey"), integer(1)), (("STRLEN", "wkey"), integer(1)),
    (("STRLEN", "rkey"), integer(1)), (("TYPE", "wkey"), status("string")),
    (("OBJECT", "ENCODING", "rkey"), bulk("int")), (("TOUCH", "wkey"), integer(1))])
def test_commands_that_do_not_read_values_need_only_a_matching_pattern(twins, command, reply):
    """A key spec with neither ACCESS nor INSERT/DELETE/UPDATE (EXISTS, STRLEN, TYPE, OBJECT
    ENCODING, TOUCH) needs only a pattern that matches the key, whatever its %R or %W."""
    admin = twins()
    admin.same("SET", "rkey", "1")
    admin.same("SET", "wkey", "1")
    admin.same("ACL", "SETUSER", "kim", *KEY_RULES)
    user = login(twins, "kim")
    assert user.same(*command[:-1], "other") == NOPERM_KEY, "a key no pattern matches is still refused"
    admin.expect(OK, "ACL", "DRYRUN", "kim", *command)
    user.expect(reply, *command)


SWEEP_USERS = {
    "read-only keys": ["+@all", "%R~*"],
    "write-only keys": ["+@all", "%W~*"],
    "matching key and channel patterns": ["+@all", "~1*", "&1*"],
    "other key and channel patterns": ["+@all", "~x*", "&x*"],
    "read commands only": ["-@all", "+@read", "allkeys"],
    "no dangerous commands": ["+@all", "-@dangerous", "allkeys", "resetchannels"],
    "reads, or writes by a selector": ["-@all", "+@read", "%R~*", "(+@write %W~*)"],
    "one key read, or any key written by a selector": ["+@all", "%R~1", "(+@all %W~*)"],
}


def command_arities(conn):
    """Every command and subcommand COMMAND INFO lists, with its arity."""
    names = [item.value.decode() for item in conn.call("COMMAND", "LIST").value]
    arities = {}
    for item in conn.call("COMMAND", "INFO", *names).value:
        fields = item.value
        arities[fields[0].value.decode()] = fields[1].value
        for sub in fields[9].value if len(fields) > 9 else []:
            arities[sub.value[0].value.decode()] = sub.value[1].value
    return arities


def test_dryrun_agrees_with_redis_on_every_command_both_have(admin):
    """Each command and subcommand both servers have, with its fewest arguments and with two more
    (every argument "1", so keys, channels and numkeys are "1"), asked of ACL DRYRUN for users
    whose rules restrict commands, categories, key access, key and channel patterns and
    selectors: the answers are Redis's. PFMERGE with a destination only is left out: Redis 7.0
    finds no key in it (its source key spec starts past the end) and checks none, so any user
    may run it; strata checks the destination."""
    arities = command_arities(admin.redis)
    shared = sorted(set(arities) & set(command_arities(admin.strata)))
    assert len(shared) > 200
    for i, rules in enumerate(SWEEP_USERS.values()):
        admin.same("ACL", "SETUSER", f"sweep{i}", "on", *rules)
    for name in shared:
        words = name.split("|")
        arity = arities[name]
        fewest = arity if arity > 0 else max(-arity, len(words))
        for extra in (0,) if arity > 0 else (0, 2):
            command = words + ["1"] * (fewest - len(words) + extra)
            if command == ["pfmerge", "1"]:
                continue
            for i in range(len(SWEEP_USERS)):
                admin.same("ACL", "DRYRUN", f"sweep{i}", *command)


CHANNEL_RULES = ["on", ">pw", "+@all", "allkeys", "&news.*", "&lit"]


def test_channel_patterns_allow_publish_and_subscribe_as_redis_does(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "chan", *CHANNEL_RULES)
    user = login(twins, "chan")
    assert user.same("PUBLISH", "news.a", "m") == integer(0)
    assert user.same("PUBLISH", "other", "m") == NOPERM_CHANNEL
    assert user.same("SPUBLISH", "other", "m") == NOPERM_CHANNEL
    assert user.same("SUBSCRIBE", "other") == NOPERM_CHANNEL
    assert user.same("SUBSCRIBE", "news.a", "other") == NOPERM_CHANNEL
    assert user.same("SSUBSCRIBE", "x") == NOPERM_CHANNEL
    # PSUBSCRIBE compares the pattern with the user's patterns literally, not as a glob.
    assert user.same("PSUBSCRIBE", "news.a*") == NOPERM_CHANNEL
    assert user.same("PSUBSCRIBE", "l*") == NOPERM_CHANNEL
    assert user.same("SUBSCRIBE", "news.a", "lit") == array(bulk("subscribe"), bulk("news.a"), integer(1))
    assert user.both(lambda conn: conn.read_reply()) == array(bulk("subscribe"), bulk("lit"), integer(2))
    assert user.same("PSUBSCRIBE", "news.*") == array(bulk("psubscribe"), bulk("news.*"), integer(3))
    assert user.same("PSUBSCRIBE", "other*") == NOPERM_CHANNEL
    for command in [("PUBLISH", "news.a", "m"), ("PUBLISH", "other", "m"), ("SPUBLISH", "news.x", "m"),
                    ("SUBSCRIBE", "other"), ("SUBSCRIBE", "news.a", "other", "lit"), ("SSUBSCRIBE", "x"),
                    ("PSUBSCRIBE", "news.a*"), ("PSUBSCRIBE", "news.*"), ("PSUBSCRIBE", "lit"),
                    ("UNSUBSCRIBE", "other"), ("PUBSUB", "CHANNELS")]:
        admin.same("ACL", "DRYRUN", "chan", *command)
    assert admin.same("ACL", "DRYRUN", "chan", "PSUBSCRIBE", "news.a*") == bulk(
        "This user has no permissions to access the 'news.a*' channel")


def test_a_publish_allowed_by_the_rules_reaches_subscribers(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "chan", *CHANNEL_RULES)
    subscriber = twins()
    subscriber.same("SUBSCRIBE", "news.x")
    user = login(twins, "chan")
    assert user.same("PUBLISH", "news.x", "hello") == integer(1)
    assert subscriber.both(lambda conn: conn.read_reply()) == array(bulk("message"), bulk("news.x"), bulk("hello"))


def test_a_command_allowed_only_by_a_second_selector_runs(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "bob", "on", ">pw", "+get", "~b*", "(+set ~s*)", "(+@read %R~r*)")
    user = login(twins, "bob")
    cases = [("GET", "bx"), ("GET", "sx"), ("SET", "sx", "1"), ("SET", "bx", "1"), ("GET", "rx"), ("SET", "rx", "1"),
             ("MGET", "bx", "rx"), ("MGET", "rx", "rx2"), ("GET", "sx"), ("PING",), ("DEL", "sx")]
    run_and_dryrun(admin, user, "bob", cases)
    assert user.same("SET", "sx", "1") == OK
    assert user.same("GET", "rx") == bulk(None)
    assert user.same("SET", "bx", "1") == NOPERM_KEY
    assert user.same("PING") == noperm_command("ping")


def test_first_argument_rules_allow_only_that_argument(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "sel", "on", ">pw", "allkeys", "+select|0", "+select|2", "+get")
    user = login(twins, "sel")
    assert user.same("SELECT", "2") == OK
    assert user.same("SELECT", "0") == OK
    assert user.same("SELECT", "1") == noperm_command("select")
    assert user.same("SELECT", "00") == noperm_command("select")


# ---------------------------------------------------------------------------------------------
# ACL LOG

def test_acl_log_records_denials_with_reason_context_object_and_user(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "dave", "on", ">pw", "+get", "+set", "+multi", "+exec", "+discard", "+eval",
               "+publish", "~d*", "&d*")
    user = twins()
    assert user.same("AUTH", "dave", "wrong") == WRONGPASS
    assert user.same("auth", "dave", "wrong") == WRONGPASS
    assert user.same("AUTH", "ghost", "x") == WRONGPASS
    assert user.same("HELLO", "2", "AUTH", "dave", "bad") == WRONGPASS
    assert user.same("AUTH", "dave", "pw") == OK
    assert user.same("GET", "x1") == NOPERM_KEY
    assert user.same("GET", "x1") == NOPERM_KEY
    assert user.same("GET", "x2") == NOPERM_KEY
    assert user.same("PUBLISH", "zz", "m") == NOPERM_CHANNEL
    assert user.same("DEL", "d1") == noperm_command("del")
    assert user.same("MULTI") == OK
    assert user.same("GET", "x3") == NOPERM_KEY
    assert user.same("DEL", "d1") == noperm_command("del")
    assert user.same("DISCARD") == OK
    user.same("EVAL", "return redis.pcall('get', 'x4')", "0")
    user.same("EVAL", "return redis.pcall('del', 'd1')", "0")
    user.same("EVAL", "return redis.pcall('publish', 'q', '1')", "0")
    entries = admin.both(lambda conn: acl_log(conn, 20))
    assert [(e["count"], e["reason"], e["context"], e["object"], e["username"]) for e in entries] == [
        (1, b"channel", b"lua", b"q", b"dave"),
        (1, b"command", b"lua", b"del", b"dave"),
        (1, b"key", b"lua", b"x4", b"dave"),
        (1, b"command", b"multi", b"del", b"dave"),
        (1, b"key", b"multi", b"x3", b"dave"),
        (1, b"command", b"toplevel", b"del", b"dave"),
        (1, b"channel", b"toplevel", b"zz", b"dave"),
        (1, b"key", b"toplevel", b"x2", b"dave"),
        (2, b"key", b"toplevel", b"x1", b"dave"),
        (1, b"auth", b"toplevel", b"HELLO", b"dave"),
        (1, b"auth", b"toplevel", b"AUTH", b"ghost"),
        (1, b"auth", b"toplevel", b"auth", b"dave"),  # the object is the command name as sent
        (1, b"auth", b"toplevel", b"AUTH", b"dave"),
    ]
    assert len(admin.both(acl_log)) == 10, "ten entries unless a count is given"
    for entry in entries:
        assert any(f.startswith("cmd=") for f in entry["client-info"]), entry


def test_acl_log_groups_repeats_and_client_info_names_the_user_and_command(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "dave", "on", ">pw", "+get", "~d*")
    user = login(twins, "dave")
    for _ in range(3):
        user.same("GET", "x")
    user.same("AUTH", "dave", "nope")
    user.same("AUTH", "dave", "nope")
    entries = admin.both(lambda conn: acl_log(conn))
    assert [(e["count"], e["reason"], e["object"]) for e in entries] == [(2, b"auth", b"AUTH"), (3, b"key", b"x")]
    assert entries[1]["client-info"] == ["cmd=get", "user=dave"]
    assert entries[0]["client-info"] == ["cmd=auth", "user=dave"]


def test_acl_log_count_reset_and_max_len(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "dave", "on", ">pw", "+get", "~d*")
    user = login(twins, "dave")
    for key in ("a", "b", "c", "e"):
        assert user.same("GET", key) == NOPERM_KEY
    assert [e["object"] for e in admin.both(lambda conn: acl_log(conn, 2))] == [b"e", b"c"]
    assert admin.same("ACL", "LOG", "0") == array()
    assert len(admin.both(lambda conn: acl_log(conn, -1))) == 0
    assert admin.same("CONFIG", "SET", "acllog-max-len", "2") == OK
    assert admin.same("CONFIG", "GET", "acllog-max-len") == array(bulk("acllog-max-len"), bulk("2"))
    user.same("GET", "f")
    assert [e["object"] for e in admin.both(acl_log)] == [b"f", b"e"]
    assert admin.same("ACL", "LOG", "RESET") == OK
    assert admin.same("ACL", "LOG") == array()


def test_acl_log_in_resp3_is_a_list_of_maps(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "dave", "on", ">pw", "+get", "~d*")
    login(twins, "dave").same("GET", "x")
    admin.both(hello_without_id("HELLO", "3"))
    got, expected = admin.call("ACL", "LOG")
    assert got.kind == expected.kind == "*"
    assert [(k.value, v.kind) for k, v in got.value[0].value] == [(k.value, v.kind) for k, v in expected.value[0].value]


# ---------------------------------------------------------------------------------------------
# Authentication

def test_auth_with_user_and_password_and_its_failures(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "erin", "on", ">pw", ">pw2", "+@all", "~*")
    admin.same("ACL", "SETUSER", "frank", "off", ">pw", "+@all", "~*")
    admin.same("ACL", "SETUSER", "open", "on", "nopass", "+@all", "~*")
    client = twins()
    assert client.same("AUTH", "erin", "wrong") == WRONGPASS
    assert client.same("ACL", "WHOAMI") == bulk("default")
    assert client.same("AUTH", "frank", "pw") == WRONGPASS, "a disabled user is refused"
    assert client.same("AUTH", "nosuch", "pw") == WRONGPASS
    assert client.same("AUTH", "open", "anything") == OK, "nopass takes any password"
    assert client.same("ACL", "WHOAMI") == bulk("open")
    assert client.same("AUTH", "erin", "pw2") == OK
    assert client.same("ACL", "WHOAMI") == bulk("erin")
    assert client.same("AUTH", "erin", "bad") == WRONGPASS
    assert client.same("ACL", "WHOAMI") == bulk("erin"), "a failed AUTH keeps the current user"
    assert client.same("AUTH", "pw") == error(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your "
        "configuration is correct?")
    assert client.same("AUTH", "a", "b", "c") == error("ERR syntax error")


def test_hello_auth_authenticates_and_switches_protocol(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "erin", "on", ">pw", "+@all", "~*", "&*")
    admin.same("ACL", "SETUSER", "frank", "off", ">pw", "+@all")
    client = twins()
    assert client.same("HELLO", "3", "AUTH", "erin", "bad") == WRONGPASS
    assert client.same("HELLO", "3", "AUTH", "frank", "pw") == WRONGPASS
    assert client.same("HELLO", "2", "AUTH", "erin") == error("ERR Syntax error in HELLO option 'AUTH'")

    assert client.both(hello_without_id("HELLO", "3", "AUTH", "erin", "pw", "SETNAME", "n1"))[0] == "%"
    assert client.same("ACL", "WHOAMI") == bulk("erin")
    assert client.same("CLIENT", "GETNAME") == bulk("n1")
    assert client.same("PING").kind == "+"


def test_reset_returns_to_the_default_user(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "erin", "on", ">pw", "+@all", "~*")
    client = login(twins, "erin")
    assert client.same("ACL", "WHOAMI") == bulk("erin")
    assert client.same("RESET") == status("RESET")
    assert client.same("ACL", "WHOAMI") == bulk("default")


def test_reset_without_a_nopass_default_user_leaves_the_client_unauthenticated(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "erin", "on", ">pw", "+@all", "~*")
    client = login(twins, "erin")
    assert admin.same("CONFIG", "SET", "requirepass", "secret") == OK
    assert client.same("RESET") == status("RESET")
    assert client.same("GET", "x") == error("NOAUTH Authentication required.")


def test_client_list_shows_each_connections_user(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "erin", "on", ">pw", "+@all", "~*")
    client = login(twins, "erin")
    client.same("CLIENT", "SETNAME", "erinconn")

    def users(conn):
        lines = conn.call("CLIENT", "LIST").value.decode().splitlines()
        return sorted(re.search(r" name=(\S*) ", line).group(1) + ":" + re.search(r" user=(\S+) ", line).group(1)
                      for line in lines)

    assert admin.both(users) == [":default", "erinconn:erin"]
    assert client.both(lambda conn: "user=erin" in conn.call("CLIENT", "INFO").value.decode())


def test_client_kill_user_closes_that_users_connections(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "erin", "on", ">pw", "+@all", "~*")
    first, second = login(twins, "erin"), login(twins, "erin")
    other = twins()
    assert admin.same("CLIENT", "KILL", "USER", "nosuch") == error("ERR No such user 'nosuch'")
    assert admin.same("CLIENT", "KILL", "USER", "erin") == integer(2)
    for conn in (first.strata, first.redis, second.strata, second.redis):
        with pytest.raises((ConnectionClosed, ConnectionError)):
            conn.call("PING")
    assert other.same("PING") == status("PONG")
    assert admin.same("CLIENT", "KILL", "USER", "erin") == integer(0)


def test_requirepass_is_the_default_users_password(twins):
    admin = twins()
    assert admin.same("CONFIG", "SET", "requirepass", "secret") == OK
    user = admin.both(lambda conn: getuser(conn, "default"))
    assert user["passwords"] == array(bulk(sha256("secret")))
    assert user["flags"] == array(bulk("on"))
    admin.both(acl_list)
    client = twins()
    assert client.same("GET", "x") == error("NOAUTH Authentication required.")
    assert client.same("AUTH", "wrong") == WRONGPASS
    assert client.same("AUTH", "secret") == OK
    assert client.same("GET", "x") == bulk(None)
    other = twins()
    assert other.same("AUTH", "default", "secret") == OK
    assert admin.same("CONFIG", "GET", "requirepass") == array(bulk("requirepass"), bulk("secret"))
    assert admin.same("CONFIG", "SET", "requirepass", "") == OK
    assert admin.both(lambda conn: getuser(conn, "default"))["flags"] == array(bulk("on"), bulk("nopass"))
    assert twins().same("GET", "x") == bulk(None)


def test_a_default_user_turned_off_leaves_new_connections_unauthenticated(twins):
    admin = twins()
    assert admin.same("ACL", "SETUSER", "default", "off") == OK
    client = twins()
    assert client.same("PING") == error("NOAUTH Authentication required.")
    assert client.same("HELLO", "3").is_error
    assert admin.same("PING") == status("PONG"), "an authenticated connection stays authenticated"
    assert admin.same("ACL", "SETUSER", "default", "on", ">pw") == OK
    assert client.same("AUTH", "pw") == OK
    assert admin.same("CONFIG", "GET", "requirepass") == array(bulk("requirepass"), bulk(""))


# ---------------------------------------------------------------------------------------------
# Live changes

def test_a_rule_taken_away_applies_to_the_next_command(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "gina", "on", ">pw", "+@all", "~*", "&*")
    user = login(twins, "gina")
    assert user.same("SET", "k", "1") == OK
    admin.same("ACL", "SETUSER", "gina", "-set")
    assert user.same("SET", "k", "2") == noperm_command("set")
    assert user.same("GET", "k") == bulk("1")
    admin.same("ACL", "SETUSER", "gina", "resetkeys", "~a*")
    assert user.same("GET", "k") == NOPERM_KEY
    admin.same("ACL", "SETUSER", "gina", "+set", "allkeys")
    assert user.same("SET", "k", "3") == OK


def test_default_users_rules_apply_to_default_connections(twins):
    admin = twins()
    client = twins()
    client.same("SET", "k", "v")
    assert admin.same("ACL", "SETUSER", "default", "-get") == OK
    assert client.same("GET", "k") == noperm_command("get")
    assert admin.same("ACL", "SETUSER", "default", "+get", "resetkeys", "~k") == OK
    assert client.same("GET", "k") == bulk("v")
    assert client.same("GET", "k2") == NOPERM_KEY
    assert admin.same("ACL", "SETUSER", "default", "allkeys") == OK
    assert client.same("GET", "k2") == bulk(None)


def test_a_user_turned_off_or_given_a_new_password_stays_logged_in(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "gina", "on", ">pw", "+@all", "~*")
    user = login(twins, "gina")
    admin.same("ACL", "SETUSER", "gina", "off", "resetpass", ">new")
    assert user.same("GET", "a") == bulk(None)
    assert user.same("ACL", "WHOAMI") == bulk("gina")
    assert twins().same("AUTH", "gina", "new") == WRONGPASS


def test_a_command_queued_then_forbidden_fails_inside_exec(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "gina", "on", ">pw", "+@all", "~*", "&*")
    user = login(twins, "gina")
    assert user.same("MULTI") == OK
    for command in [("SET", "a1", "v"), ("GET", "b1"), ("PING",), ("PUBLISH", "ch", "m"), ("GET", "a1")]:
        assert user.same(*command) == status("QUEUED")
    admin.same("ACL", "SETUSER", "gina", "-ping", "resetkeys", "~a*", "resetchannels")
    prefix = ("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
              "This command is no longer allowed for the following reason: ")
    assert user.same("EXEC") == array(
        OK,
        error(prefix + "no permission to touch the specified keys"),
        error(prefix + "no permission to execute the command or subcommand"),
        error(prefix + "no permission to access one of the channels used as arguments"),
        bulk("v"))
    entries = admin.both(acl_log)
    assert [(e["reason"], e["context"], e["object"]) for e in entries] == [
        (b"channel", b"multi", b"ch"), (b"command", b"multi", b"ping"), (b"key", b"multi", b"b1")]


def test_a_command_refused_while_queueing_aborts_the_transaction(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "gina", "on", ">pw", "+@all", "-flushdb", "~a*")
    user = login(twins, "gina")
    assert user.same("MULTI") == OK
    assert user.same("SET", "a1", "v") == status("QUEUED")
    assert user.same("GET", "b") == NOPERM_KEY
    assert user.same("FLUSHDB") == noperm_command("flushdb")
    assert user.same("EXEC") == error("EXECABORT Transaction discarded because of previous errors.")
    assert admin.same("EXISTS", "a1") == integer(0)


def test_deluser_disconnects_that_users_clients(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "gina", "on", ">pw", "+@all", "~*")
    admin.same("ACL", "SETUSER", "hugo", "on", ">pw", "+@all", "~*")
    gina, hugo = login(twins, "gina"), login(twins, "hugo")
    assert admin.same("ACL", "DELUSER", "gina") == integer(1)
    for conn in (gina.strata, gina.redis):
        with pytest.raises((ConnectionClosed, ConnectionError)):
            conn.call("PING")
    assert hugo.same("PING") == status("PONG")
    assert twins().same("AUTH", "gina", "pw") == WRONGPASS


def test_a_subscriber_whose_channels_are_taken_away_is_disconnected(twins):
    """Redis closes a subscribed client whose user may no longer hear what it subscribed to; a
    change that keeps every channel pattern keeps it."""
    admin = twins()
    admin.same("ACL", "SETUSER", "gina", "on", ">pw", "+@all", "~*", "resetchannels", "&news", "&sports")
    user = login(twins, "gina")
    user.same("SUBSCRIBE", "news")
    admin.same("ACL", "SETUSER", "gina", "&weather")  # adds: the subscriber stays
    admin.same("PUBLISH", "news", "hello")
    assert user.both(lambda conn: conn.read_reply()) == array(bulk("message"), bulk("news"), bulk("hello"))
    admin.same("ACL", "SETUSER", "gina", "resetchannels", "&sports")
    for conn in (user.strata, user.redis):
        with pytest.raises((ConnectionClosed, ConnectionError)):
            conn.call("PING")


def test_setuser_rules_never_reach_the_slow_log_or_monitor(twins):
    """ACL SETUSER's user and rules (a rule may be a password) are redacted as Redis redacts them."""
    admin = twins()
    admin.same("CONFIG", "SET", "slowlog-log-slower-than", "0")
    admin.same("SLOWLOG", "RESET")
    admin.same("ACL", "SETUSER", "gina", "on", ">topsecret")
    entries = [admin.strata.call("SLOWLOG", "GET"), admin.redis.call("SLOWLOG", "GET")]
    for reply in entries:
        logged = [a.value for e in reply.value for a in e.value[3].value]
        assert b"topsecret" not in b" ".join(logged) and b">topsecret" not in logged
        assert [b"ACL", b"SETUSER", b"(redacted)", b"(redacted)", b"(redacted)"] in [
            [a.value for a in e.value[3].value] for e in reply.value]


# ---------------------------------------------------------------------------------------------
# Scripts

SCRIPT_CASES = [
    "return redis.call('get', 'zz')",
    "return redis.pcall('get', 'zz')",
    "return redis.call('flushdb')",
    "return redis.pcall('flushdb')",
    "return redis.call('publish', 'zz', 'x')",
    "return redis.pcall('publish', 'zz', 'x')",
    "local ok, e = pcall(redis.call, 'get', 'zz'); return tostring(ok) .. ' ' .. tostring(e)",
    "local r = redis.pcall('flushdb'); return r['err']",
]


def test_a_script_calling_a_forbidden_command_key_or_channel_gets_redis_errors(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "carol", "on", ">pw", "+@all", "-flushdb", "~c*", "&news.*")
    user = login(twins, "carol")
    for script in SCRIPT_CASES:
        assert user.same("EVAL", script, "0").kind in "-$", script
    assert user.same("EVAL", "return redis.call('set', KEYS[1], '1')", "1", "cx") == OK
    assert user.same("EVAL", "return redis.call('get', KEYS[1])", "1", "cx") == bulk("1")
    assert user.same("EVAL", "return redis.call('get', KEYS[1])", "1", "zz") == NOPERM_KEY
    assert user.same("EVAL", "return redis.call('get', 'zz')", "0") == error(
        "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments "
        "script: " + hashlib.sha1(b"return redis.call('get', 'zz')").hexdigest() + ", on @user_script:1.")
    logged = [(e["reason"], e["context"], e["object"]) for e in admin.both(acl_log)]
    toplevel = (b"key", b"toplevel", b"zz")  # EVAL's declared keys are checked before it runs
    assert logged.count(toplevel) == 1
    assert {entry for entry in logged if entry != toplevel} == {
        (b"key", b"lua", b"zz"), (b"command", b"lua", b"flushdb"), (b"channel", b"lua", b"zz")}


# ---------------------------------------------------------------------------------------------
# redis-py with a username and password

def test_redis_py_with_username_and_password_runs_allowed_and_refuses_forbidden_commands(pair):
    def scenario(server):
        admin = redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True, socket_timeout=10)
        admin.acl_setuser("app", enabled=True, passwords=["+secret"], keys=["app:*"],
                          commands=["+get", "+incrby", "+mget", "+acl|whoami"])
        client = redis.Redis(host="127.0.0.1", port=server.port, username="app", password="secret",
                             decode_responses=True, socket_timeout=10)
        results = [client.incr("app:n"), client.incr("app:n"), client.get("app:n"), client.mget("app:n", "app:m"),
                   client.acl_whoami()]
        for call in (lambda: client.set("app:x", 1), lambda: client.get("other"), lambda: client.mget("app:n", "x")):
            with pytest.raises(redis.exceptions.NoPermissionError) as refused:
                call()
            results.append(str(refused.value))
        wrong = redis.Redis(host="127.0.0.1", port=server.port, username="app", password="nope", socket_timeout=10)
        with pytest.raises(redis.exceptions.RedisError) as failed:
            wrong.ping()
        results.append((type(failed.value).__name__, str(failed.value)))
        for c in (admin, client, wrong):
            c.close()
        return results

    strata, oracle = pair
    got, expected = scenario(strata), scenario(oracle)
    assert got == expected
    assert got[:5] == [1, 2, "2", ["2", None], "app"]
    assert got[5] == "this user has no permissions to run the 'set' command"


# ---------------------------------------------------------------------------------------------
# ACL files and `user` directives

@pytest.fixture
def aclfile_pair(tmp_path):
    """make(text) starts strata and redis-server, each with `aclfile` at its own path holding
    `text`, and returns (a factory of Twin connections to them, strata's path, redis's path)."""
    started, twins_made = [], []

    def make(text):
        paths = []
        for kind in ("strata", "redis"):
            workdir = tmp_path / f"{kind}-{len(started)}"
            workdir.mkdir()
            path = workdir / "users.acl"
            path.write_text(text)
            paths.append(path)
        strata = start_strata(paths[0].parent, "--aclfile", paths[0])
        started.append(strata)
        oracle = start_redis(paths[1].parent, "--aclfile", paths[1])
        started.append(oracle)
        servers = (strata, oracle)

        def twin():
            t = Twin(servers)
            twins_made.append(t)
            return t

        return twin, paths[0], paths[1]

    yield make
    for twin in twins_made:
        twin.close()
    for server in started:
        if server.name == "strata":
            server.assert_clean_exit()
        else:
            server.stop()


ACLFILE = ("user alice on >pw ~a* +get +set\n"
           "user bob off nopass &b* +@read -@dangerous (~x* +set)\n"
           "user default on >dpw ~* &* +@all\n")


def write_both(strata_path, redis_path, text):
    strata_path.write_text(text)
    redis_path.write_text(text)


def test_aclfile_users_exist_at_start_up(aclfile_pair):
    twin, _, _ = aclfile_pair(ACLFILE)
    admin = twin()
    assert admin.same("PING") == error("NOAUTH Authentication required.")
    assert admin.same("AUTH", "dpw") == OK
    assert [u[0] for u in admin.both(acl_list)] == ["alice", "bob", "default"]
    alice = twin()
    assert alice.same("AUTH", "alice", "pw") == OK
    assert alice.same("SET", "a1", "v") == OK
    assert alice.same("GET", "b1") == NOPERM_KEY
    assert twin().same("AUTH", "bob", "x") == WRONGPASS


def test_acl_load_replaces_the_users_and_closes_their_connections(aclfile_pair):
    twin, strata_path, redis_path = aclfile_pair(ACLFILE)
    admin = twin()
    admin.same("AUTH", "dpw")
    alice = twin()
    alice.same("AUTH", "alice", "pw")
    default = twin()
    default.same("AUTH", "default", "dpw")
    admin.same("ACL", "SETUSER", "temp", "on")
    write_both(strata_path, redis_path, "user carol on >x ~c* +set\nuser dan on\n")
    assert admin.same("ACL", "LOAD") == OK
    assert [u[0] for u in admin.both(acl_list)] == ["carol", "dan", "default"]
    admin.both(acl_list)
    for conn in (alice.strata, alice.redis):
        with pytest.raises((ConnectionClosed, ConnectionError)):
            conn.call("PING")
    assert default.same("ACL", "WHOAMI") == bulk("default")
    assert admin.same("ACL", "WHOAMI") == bulk("default")
    assert twin().same("PING") == status("PONG"), "a file without a default user gives Redis's default user"


def test_acl_load_of_a_file_that_defines_default_uses_it(aclfile_pair):
    twin, strata_path, redis_path = aclfile_pair(ACLFILE)
    admin = twin()
    admin.same("AUTH", "dpw")
    write_both(strata_path, redis_path, "user default on nopass ~* +@all\nuser g on\r\nuser h off\r\n   user i on\n")
    assert admin.same("ACL", "LOAD") == OK
    assert [u[0] for u in admin.both(acl_list)] == ["default", "g", "h", "i"]


def path_free(reply, path):
    """An error reply with its server's ACL file path replaced by PATH."""
    return reply.text().replace(str(path), "PATH")


LOAD_ERRORS = [
    ("bogus line\n", "ERR PATH:1 should start with user keyword followed by the username. "),
    ("user\n", "ERR PATH:1 should start with user keyword followed by the username. "),
    ("\n# a comment\nuser e on\n", "ERR PATH:2 should start with user keyword followed by the username. "),
    ("user ok on\nuser bad name\n", "ERR PATH:2: Syntax error. "),
    ("user carol on +nosuch\n", "ERR PATH:1: Error in applying operation '+nosuch': Unknown command or "
     "category name in ACL. "),
    ("user x on\nuser x off\n", "ERR WARNING: Duplicate user 'x' found on line 2. "),
    ("user f (~a +get\n", "ERR PATH:1: Unmatched parenthesis in selector definition."),
]


@pytest.mark.parametrize("text,message", LOAD_ERRORS)
def test_acl_load_errors_leave_the_old_users_and_are_reported_as_redis_does(aclfile_pair, text, message):
    twin, strata_path, redis_path = aclfile_pair(ACLFILE)
    admin = twin()
    admin.same("AUTH", "dpw")
    before = admin.both(acl_list)
    write_both(strata_path, redis_path, text)
    got, expected = admin.call("ACL", "LOAD")
    suffix = "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    assert path_free(expected, redis_path) == message + suffix
    if path_free(got, strata_path) != message + suffix:
        raise StrataDiffers(f"strata: {got!r}")
    assert admin.both(acl_list) == before


def test_acl_load_of_a_missing_file_is_an_error(aclfile_pair):
    twin, strata_path, redis_path = aclfile_pair(ACLFILE)
    admin = twin()
    admin.same("AUTH", "dpw")
    strata_path.unlink()
    redis_path.unlink()
    got, expected = admin.call("ACL", "LOAD")
    assert path_free(got, strata_path) == path_free(expected, redis_path) == (
        "ERR Error loading ACLs, opening file 'PATH': No such file or directory")


def test_acl_save_writes_a_file_acl_load_reads_back_to_the_same_list(aclfile_pair):
    twin, strata_path, redis_path = aclfile_pair(ACLFILE)
    admin = twin()
    admin.same("AUTH", "dpw")
    admin.same("ACL", "SETUSER", "zed", "on", ">z", "+ping", "-@all", "+@read", "-keys", "%R~r*", "&c", "(~q* +get)",
               "(%W~w* +set)")
    admin.same("ACL", "DELUSER", "bob")
    assert admin.same("ACL", "SAVE") == OK
    saved = [acl_list_line(line) for line in strata_path.read_text().splitlines()]
    assert saved == [acl_list_line(line) for line in redis_path.read_text().splitlines()]
    listed = admin.strata.call("ACL", "LIST")
    assert [acl_list_line(item.value.decode()) for item in listed.value] == saved
    admin.same("ACL", "SETUSER", "zed", "off")
    admin.same("ACL", "SETUSER", "later", "on")
    assert admin.same("ACL", "LOAD") == OK
    assert admin.strata.call("ACL", "LIST") == listed, "strata reads back exactly what it saved"
    admin.both(acl_list)


def test_acl_save_and_load_without_an_aclfile_are_refused(twins):
    admin = twins()
    message = ("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the "
               "ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file "
               "set) in order to store users in the Redis configuration.")
    assert admin.same("ACL", "SAVE") == error(message)
    assert admin.same("ACL", "LOAD") == error(message)


USER_DIRECTIVES = [
    ["alice", "on", ">pw", "~a*", "+get", "+set"],
    ["bob", "off", "nopass", "&b*", "+@read", "-@dangerous", "(~x* +set)"],
    ["carol", "on", "#" + sha256("c"), "%R~r*", "%W~w*", "+@all", "-flushall"],
]


def test_user_directives_define_users_at_start_up(strata_factory, tmp_path):
    config = "".join("user " + " ".join(words) + "\n" for words in USER_DIRECTIVES)
    strata = strata_factory(config=config)
    args = []
    for words in USER_DIRECTIVES:
        args += ["--user", *words]
    oracle_dir = tmp_path / "oracle"
    oracle_dir.mkdir()
    oracle = start_redis(oracle_dir, *args)
    try:
        twin = Twin((strata, oracle))
        try:
            assert [u[0] for u in twin.both(acl_list)] == ["alice", "bob", "carol", "default"]
            assert twin.same("AUTH", "alice", "pw") == OK
            assert twin.same("SET", "a1", "x") == OK
            assert twin.same("GET", "z") == NOPERM_KEY
            assert twin.same("AUTH", "carol", "c") == OK
            assert twin.same("FLUSHALL") == noperm_command("flushall")
        finally:
            twin.close()
    finally:
        oracle.stop()


def run_to_exit(argv, cwd, timeout=15):
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return done.returncode, done.stdout.decode(errors="replace")


@pytest.mark.parametrize("lines,problem", [
    ("user alice on >pw +nosuch\n", "Unknown command or category name in ACL"),
    ("user alice on (~a\n", "arenthesis"),
    ("user alice on >p\nuser alice off\n", "alice"),
])
def test_a_bad_user_directive_stops_start_up(tmp_path, lines, problem):
    """Both servers refuse to start (exit 1); strata names the file and line and the problem."""
    conf = tmp_path / "bad.conf"
    conf.write_text(lines)
    code, out = run_to_exit([str(STRATA_SERVER), str(conf), "--port", str(free_port()), "--bind", "127.0.0.1"],
                            tmp_path)
    assert code == 1, out
    assert "bad.conf:" in out and problem in out, out
    code, out = run_to_exit(["/usr/bin/redis-server", str(conf), "--port", str(free_port()), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], tmp_path)
    assert code == 1, out


def test_user_directives_and_an_aclfile_together_stop_start_up(tmp_path):
    conf = tmp_path / "both.conf"
    conf.write_text("user alice on >p\n")
    acl = tmp_path / "users.acl"
    acl.write_text("")
    message = "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid"
    for argv in ([str(STRATA_SERVER)], ["/usr/bin/redis-server"]):
        code, out = run_to_exit(argv + [str(conf), "--aclfile", str(acl), "--port", str(free_port()),
                                        "--bind", "127.0.0.1"], tmp_path)
        assert code == 1 and message in out, out


# ---------------------------------------------------------------------------------------------
# Keys no key spec names, and strata's own key-naming commands

def test_sort_by_and_get_patterns_need_read_access_to_every_key(twins):
    """SORT's BY and GET patterns read keys no key spec names: Redis allows them only to a user
    who may read every key (any GET, even GET #; BY without '*' reads nothing more)."""
    admin = twins()
    admin.same("RPUSH", "k", "2", "1")
    admin.same("ACL", "SETUSER", "sam", "on", ">pw", "+@all", "~k*")
    admin.same("ACL", "SETUSER", "all", "on", ">pw", "+@all", "%R~*", "~k*")
    sam, everything = login(twins, "sam"), login(twins, "all")
    for command in (("SORT", "k", "BY", "w*"), ("SORT", "k", "BY", "k*"), ("SORT", "k", "GET", "w*"),
                    ("SORT_RO", "k", "GET", "w*"), ("SORT", "k", "BY", "nosort"), ("SORT", "k", "GET", "#")):
        assert sam.same(*command) is not None
        assert everything.same(*command) is not None
    assert sam.same("SORT", "k", "BY", "w*") == error("ERR BY option of SORT denied due to insufficient ACL permissions.")
    assert sam.same("SORT", "k", "GET", "w*") == error("ERR GET option of SORT denied due to insufficient ACL permissions.")


def test_redis_acl_check_cmd_answers_for_the_scripts_caller(twins):
    admin = twins()
    admin.same("ACL", "SETUSER", "sam", "on", ">pw", "+eval", "+get", "~k*")
    sam = login(twins, "sam")
    for line in ("'get', 'k1'", "'get', 'x'", "'set', 'k1', 'v'", "'config', 'get', 'x'"):
        sam.same("EVAL", f"return redis.acl_check_cmd({line})", "0")
    assert sam.same("EVAL", "return redis.acl_check_cmd('get', 'k1')", "0") == integer(1)
    assert sam.same("EVAL", "return redis.acl_check_cmd('get', 'x')", "0") == bulk(None)
    assert sam.same("EVAL", "return redis.acl_check_cmd('nosuch')", "0").is_error


def test_loader_refresh_checks_its_key(strata):
    """LOADER REFRESH names its key after the subcommand: a user confined to some keys may refresh
    only those (ACL DRYRUN asks the same check)."""
    with RespConnection(strata.port) as admin:
        admin.call("ACL", "SETUSER", "app", "on", ">pw", "+loader|refresh", "~tenant:*")
        assert admin.call("ACL", "DRYRUN", "app", "LOADER", "REFRESH", "tenant:1") == status("OK")
        assert admin.call("ACL", "DRYRUN", "app", "LOADER", "REFRESH", "other:1") == bulk(
            "This user has no permissions to access the 'other:1' key")
    with RespConnection(strata.port) as app:
        assert app.call("AUTH", "app", "pw") == status("OK")
        assert app.call("LOADER", "REFRESH", "other:1") == NOPERM_KEY


def test_an_invalidation_message_deletes_keys_only_for_a_user_who_may_write_every_key(strata):
    """The invalidation channel deletes the keys a message names: a user allowed to publish but
    confined to some keys has its message delivered, not applied."""
    channel = "__strata__:invalidate"
    with RespConnection(strata.port) as admin, RespConnection(strata.port) as app:
        admin.call("SET", "user:7", "cached")
        admin.call("ACL", "SETUSER", "app", "on", ">pw", "+@all", "~tenant:*", "&*")
        admin.call("ACL", "SETUSER", "ops", "on", ">pw", "+@all", "~*", "&*")
        assert app.call("AUTH", "app", "pw") == status("OK")
        app.call("PUBLISH", channel, "user:7")
        assert admin.call("GET", "user:7") == bulk("cached")
        assert app.call("AUTH", "ops", "pw") == status("OK")
        app.call("PUBLISH", channel, "user:7")
        assert admin.call("GET", "user:7") == bulk(None)


def test_config_rewrite_writes_the_users_as_they_are_now(strata_factory, tmp_path):
    """Without an aclfile, CONFIG REWRITE replaces the file's `user` lines with every user as ACL
    LIST describes it (Redis's rewrite), so a user deleted at runtime does not come back."""
    server = strata_factory(config="user alice on >pw +@all ~*\nuser carol on nopass +get ~c*\n")
    with RespConnection(server.port) as conn:
        assert conn.call("ACL", "DELUSER", "alice") == integer(1)
        assert conn.call("ACL", "SETUSER", "bob", "on", ">pw2", "+@read", "~b*") == status("OK")
        listed = [item.value.decode() for item in conn.call("ACL", "LIST").value]
        assert conn.call("CONFIG", "REWRITE") == status("OK")
    text = (tmp_path / "strata-test.conf").read_text()
    assert [line for line in text.splitlines() if line.startswith("user ")] == listed
    assert "alice" not in text
    again = strata_factory(config=text)
    with RespConnection(again.port) as conn:
        assert [item.value.decode() for item in conn.call("ACL", "LIST").value] == listed

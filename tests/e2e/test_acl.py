"""ACL commands that need no user but the default one: ACL CAT, WHOAMI, GENPASS and HELP,
specified against Redis 7.0. The categories are those COMMAND INFO reports
(server/command_docs.h), so ACL CAT lists for each category the same commands Redis lists,
among the commands both servers have. ACL HELP describes every subcommand in Redis's words.
Users, rules, AUTH username password, the ACL log and ACL files are test_acl_users.py's.
"""
import re

import pytest

from conftest import STRATA_SERVER
from helpers import RespConnection, pair, strata_available  # noqa: F401  (pair is a fixture)

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

STRATA_ONLY_CATEGORIES = ["loader"]


def strings(reply):
    return [item.value.decode() for item in reply.value]


def command_names(conn):
    return set(strings(conn.call("COMMAND", "LIST")))


def test_acl_cat_lists_redis_categories_in_redis_order_then_stratas_own(pair):
    strata, oracle = pair
    with RespConnection(strata.port) as s, RespConnection(oracle.port) as r:
        assert strings(s.call("ACL", "CAT")) == strings(r.call("ACL", "CAT")) + STRATA_ONLY_CATEGORIES


def test_acl_cat_of_each_category_lists_the_commands_redis_lists(pair):
    strata, oracle = pair
    with RespConnection(strata.port) as s, RespConnection(oracle.port) as r:
        shared = command_names(s) & command_names(r)
        for category in strings(r.call("ACL", "CAT")):
            got, expected = set(strings(s.call("ACL", "CAT", category))), set(strings(r.call("ACL", "CAT", category)))
            assert got & shared == expected & shared, category
            assert got <= command_names(s), category
        loader = set(strings(s.call("ACL", "CAT", "LOADER")))
        assert loader == {"loader|list", "loader|stats", "loader|refresh", "loader|invalidate", "loader|help"}


def test_acl_errors_are_redis_errors(pair):
    strata, oracle = pair
    commands = [("ACL", "CAT", "nosuch"), ("ACL", "CAT", "a", "b"), ("ACL", "WHOAMI", "x"), ("ACL", "GENPASS", "0"),
                ("ACL", "GENPASS", "4097"), ("ACL", "GENPASS", "x"), ("ACL", "GENPASS", "-5"), ("ACL",)]
    with RespConnection(strata.port) as s, RespConnection(oracle.port) as r:
        for command in commands:
            assert s.call(*command) == r.call(*command), command


def test_acl_whoami_is_the_default_user(pair):
    for server in pair:
        with RespConnection(server.port) as conn:
            assert conn.call("ACL", "WHOAMI").value == b"default"


@pytest.mark.parametrize("bits,digits", [(None, 64), (1, 1), (5, 2), (8, 2), (256, 64), (4096, 1024)])
def test_acl_genpass_gives_bits_rounded_up_to_hex_digits(pair, bits, digits):
    for server in pair:
        with RespConnection(server.port) as conn:
            args = ("ACL", "GENPASS") + (() if bits is None else (bits,))
            first, second = conn.call(*args).value.decode(), conn.call(*args).value.decode()
            assert re.fullmatch(f"[0-9a-f]{{{digits}}}", first), first
            if digits >= 16:
                assert first != second, "two passwords from the kernel's randomness"


def help_sections(lines):
    """ACL HELP's lines after the first, as (usage line, [its indented description lines])."""
    sections = []
    for line in lines[1:]:
        if line.startswith(" "):
            assert sections, line
            sections[-1][1].append(line)
        else:
            sections.append((line, []))
    return sections


REDIS_ACL_SUBCOMMANDS = ["CAT", "DELUSER", "DRYRUN", "GETUSER", "GENPASS", "LIST", "LOAD", "LOG", "SAVE", "SETUSER",
                         "USERS", "WHOAMI", "HELP"]


def test_acl_help_describes_each_subcommand_as_redis_does(pair):
    strata, oracle = pair
    with RespConnection(strata.port) as s, RespConnection(oracle.port) as r:
        mine, redis_help = strings(s.call("ACL", "HELP")), strings(r.call("ACL", "HELP"))
    assert mine[0] == redis_help[0]
    expected = help_sections(redis_help)
    assert [usage.split()[0] for usage, _ in expected] == REDIS_ACL_SUBCOMMANDS
    assert help_sections(mine) == expected

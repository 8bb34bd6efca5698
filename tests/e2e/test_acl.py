"""ACL commands that need no user but the default one (issue 14's first part): ACL CAT, WHOAMI,
GENPASS and HELP, specified against Redis 7.0. The categories are those COMMAND INFO reports
(server/command_docs.h), so ACL CAT lists for each category the same commands Redis lists,
among the commands both servers have. Users, rules and AUTH username password are not built yet:
ACL SETUSER and the rest are unknown subcommands, said plainly.
"""
import re

import pytest

from conftest import STRATA_SERVER
from helpers import RespConnection, error, pair, strata_available  # noqa: F401  (pair is a fixture)

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


def test_acl_help_describes_each_subcommand_as_redis_does(pair):
    strata, oracle = pair
    with RespConnection(strata.port) as s, RespConnection(oracle.port) as r:
        mine, redis_help = strings(s.call("ACL", "HELP")), strings(r.call("ACL", "HELP"))
    assert mine[0] == redis_help[0]
    for subcommand, lines in (("CAT [<category>]", 2), ("GENPASS [<bits>]", 2), ("WHOAMI", 1), ("HELP", 1)):
        i, j = mine.index(subcommand), redis_help.index(subcommand)
        assert mine[i + 1:i + 1 + lines] == redis_help[j + 1:j + 1 + lines], subcommand


def test_user_management_is_not_pretended(strata):
    with RespConnection(strata.port) as conn:
        for sub in ("SETUSER", "GETUSER", "DELUSER", "LIST", "USERS", "LOG", "SAVE", "LOAD", "DRYRUN"):
            assert conn.call("ACL", sub, "x") == error(
                f"ERR unknown subcommand '{sub}'. Try ACL HELP."), sub

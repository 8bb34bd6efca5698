"""rename-command, as Redis has it (issue 14): a config-file or command-line line that gives a
command a new name, or takes it away with "". Each scenario runs on strata and on Debian's
redis-server 7.0 started with the same lines, and both must give the same replies.
"""
import pytest

from helpers import RespConnection, ServerFactory, bulk, error, status, strata_available  # noqa: F401
from conftest import STRATA_SERVER, start_redis, start_strata

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

SECRET_NAME = "b840fc02d524045429941cc15f59e41cb7be6c52"  # longer than any command name


@pytest.fixture
def renamed_pair(tmp_path):
    lines = ["--rename-command", "config", "", "--rename-command", "flushall", SECRET_NAME,
             "--rename-command", "KEYS", "listkeys", "--rename-command", "echo", "say"]
    (tmp_path / "s").mkdir()
    (tmp_path / "r").mkdir()
    strata = start_strata(tmp_path / "s", *lines)
    oracle = start_redis(tmp_path / "r", *lines)
    yield strata, oracle
    oracle.stop()
    strata.assert_clean_exit()


def replies(server, commands):
    with RespConnection(server.port) as conn:
        return [conn.call(*command) for command in commands]


def test_a_renamed_command_answers_to_its_new_name_only_and_a_removed_one_to_none(renamed_pair):
    commands = [
        ("SET", "k", "v"),
        ("CONFIG", "GET", "port"),
        ("FLUSHALL",),
        ("KEYS", "*"),
        ("LISTKEYS", "*"),
        (SECRET_NAME.upper(),),  # names are case-insensitive, the new ones too
        ("DBSIZE",),
        ("MULTI",), ("CONFIG", "GET", "port"), ("EXEC",),
    ]
    strata, oracle = renamed_pair
    got, expected = replies(strata, commands), replies(oracle, commands)
    assert got == expected
    assert expected[1] == error("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'port' ")
    assert expected[5] == status("OK") and expected[6].value == 0


def test_a_removed_command_leaves_command_count_and_command_list(renamed_pair):
    for server in renamed_pair:
        with RespConnection(server.port) as conn:
            names = {item.value for item in conn.call("COMMAND", "LIST").value}
            count = conn.call("COMMAND", "COUNT").value
        assert b"config" not in names and b"config|get" not in names
        assert b"flushall" in names, "a renamed command keeps its name in COMMAND (Redis's fullname)"
        assert count == len([name for name in names if b"|" not in name]), "COMMAND COUNT agrees with LIST"


def test_scripts_see_the_renamed_table_too(renamed_pair):
    commands = [("EVAL", "return redis.pcall('CONFIG', 'GET', 'port')", "0"),
                ("EVAL", "return redis.call('SAY', 'hello')", "0")]
    strata, oracle = renamed_pair
    got, expected = replies(strata, commands), replies(oracle, commands)
    assert [r.kind for r in got] == [r.kind for r in expected] == ["-", "$"]
    assert got[1] == expected[1] == bulk(b"hello")
    assert "Unknown Redis command" in expected[0].text() and "Unknown Redis command" in got[0].text()


@pytest.mark.parametrize("lines,message", [
    (("--rename-command", "nosuch", "x"), "No such command in rename-command"),
    (("--rename-command", "get", "set"), "Target command name already exists"),
])
def test_a_bad_rename_stops_startup_with_redis_words(tmp_path, lines, message):
    with pytest.raises(RuntimeError) as failed:
        start_strata(tmp_path, *lines)
    assert message in str(failed.value)


def test_rename_command_is_not_a_config_parameter(tmp_path):
    server = start_strata(tmp_path, "--rename-command", "debug", "")
    try:
        with RespConnection(server.port) as conn:
            assert conn.call("CONFIG", "GET", "rename-command").value == []
            assert conn.call("DEBUG", "HELP").kind == "-"
    finally:
        server.assert_clean_exit()

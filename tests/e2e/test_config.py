"""Start-up configuration of strata-server (DESIGN.md section 5).

`strata-server [config-file] [--directive value ...]` takes redis.conf syntax. A bad config
stops the server with exit code 1 and a message that names the file and line; a good one
starts a server whose CONFIG GET reflects it. The failing cases run the binary directly (they
exit at once; a timeout bounds them anyway).
"""
import re
import subprocess

import pytest

from conftest import STRATA_SERVER, free_port
from helpers import (RespConnection, ServerFactory, assert_exited_cleanly, bulk, client_for, error, status,
                     strata_available)

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

REDIS_LOG_LINE = re.compile(r"^\d+:M \d+ \w+ \d{4} [\d:.]+ [*#.-] ")


@pytest.fixture
def strata_factory_for_config(tmp_path):
    factory = ServerFactory("strata", tmp_path)
    yield factory
    factory.stop_all()


def run_strata(*args, cwd, timeout=10):
    """Run strata-server to completion (for configurations that must make it exit)."""
    return subprocess.run([str(STRATA_SERVER), *map(str, args)], cwd=cwd, capture_output=True, timeout=timeout)


def output_of(result):
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def write_config(tmp_path, text, name="strata-test.conf"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# Errors at start-up

def test_unknown_directive_in_file_exits_1_naming_file_and_line(tmp_path):
    path = write_config(tmp_path, f"# a test configuration\nport {free_port()}\nno-such-directive 1\nbind 127.0.0.1\n")
    result = run_strata(path, cwd=tmp_path)
    out = output_of(result)
    assert result.returncode == 1, out
    assert "strata-test.conf:3" in out, out
    assert "no-such-directive" in out, out


def test_unknown_directive_in_an_included_file_names_that_file(tmp_path):
    write_config(tmp_path, "\n\nbogus-directive yes\n", name="included.conf")
    path = write_config(tmp_path, f"port {free_port()}\ninclude {tmp_path / 'included.conf'}\n")
    result = run_strata(path, cwd=tmp_path)
    out = output_of(result)
    assert result.returncode == 1, out
    assert "included.conf:3" in out, out


@pytest.mark.parametrize("line", ["port abc", "port 70000", "maxmemory 12zz", "maxclients -5", "databases x",
                                  "maxmemory-policy sometimes", "protected-mode maybe", "port",
                                  'requirepass "unterminated', "timeout 1 2"])
def test_bad_value_in_file_exits_1_naming_the_line(tmp_path, line):
    path = write_config(tmp_path, f"bind 127.0.0.1\n{line}\n")
    result = run_strata(path, cwd=tmp_path)
    out = output_of(result)
    assert result.returncode == 1, out
    assert "strata-test.conf:2" in out, out


@pytest.mark.parametrize("args", [["--port", "abc"], ["--maxmemory", "12zz"], ["--no-such-directive", "1"],
                                  ["--maxmemory-policy", "sometimes"]])
def test_bad_directive_on_the_command_line_exits_1(tmp_path, args):
    result = run_strata(*args, cwd=tmp_path)
    assert result.returncode == 1, output_of(result)
    assert args[0][2:] in output_of(result)


def test_missing_config_file_exits_1(tmp_path):
    result = run_strata(tmp_path / "does-not-exist.conf", "--port", free_port(), cwd=tmp_path)
    out = output_of(result)
    assert result.returncode == 1, out
    assert "does-not-exist.conf" in out, out


def test_missing_include_file_exits_1(tmp_path):
    path = write_config(tmp_path, f"port {free_port()}\ninclude {tmp_path / 'nowhere.conf'}\n")
    result = run_strata(path, cwd=tmp_path)
    out = output_of(result)
    assert result.returncode == 1, out
    assert "nowhere.conf" in out, out


# ---------------------------------------------------------------------------------------------
# --version and --help

def test_version_prints_a_version_and_exits_0(tmp_path):
    result = run_strata("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert re.search(r"\d+\.\d+\.\d+", result.stdout.decode()), result.stdout


def test_help_prints_usage_and_exits_0(tmp_path):
    result = run_strata("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "strata-server" in result.stdout.decode() and "Usage" in result.stdout.decode()


# ---------------------------------------------------------------------------------------------
# A good configuration

def test_config_file_directives_are_applied(strata_factory_for_config):
    server = strata_factory_for_config(config=(
        "# comments and blank lines are ignored\n"
        "\n"
        "   maxmemory 100mb   \n"
        "MAXMEMORY-POLICY allkeys-lru\n"
        "timeout 300\n"
        "databases 4\n"))
    r = client_for(server)
    assert r.config_get("maxmemory") == {"maxmemory": "104857600"}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert r.config_get("timeout") == {"timeout": "300"}
    assert r.config_get("databases") == {"databases": "4"}
    with RespConnection(server.port) as conn:
        assert conn.call("SELECT", "4") == error("ERR DB index is out of range")


def test_command_line_directives_override_the_file(strata_factory_for_config):
    server = strata_factory_for_config("--maxmemory", "2mb", config="maxmemory 1mb\nhz 20\n")
    r = client_for(server)
    assert r.config_get("maxmemory") == {"maxmemory": str(2 * 1024 * 1024)}
    assert r.config_get("hz") == {"hz": "20"}


def test_include_reads_another_file(strata_factory_for_config, tmp_path):
    included = tmp_path / "extra.conf"
    included.write_text("maxmemory 3mb\nmaxmemory-policy volatile-ttl\n")
    server = strata_factory_for_config(config=f"hz 15\ninclude {included}\n")
    r = client_for(server)
    assert r.config_get("maxmemory") == {"maxmemory": str(3 * 1024 * 1024)}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-ttl"}
    assert r.config_get("hz") == {"hz": "15"}


def test_quoted_argument_keeps_its_space(strata_factory_for_config):
    server = strata_factory_for_config(config='requirepass "with space"\n')
    with RespConnection(server.port) as conn:
        assert conn.call("PING") == error("NOAUTH Authentication required.")
        assert conn.call("AUTH", "with") == error("WRONGPASS invalid username-password pair or user is disabled.")
        assert conn.call("AUTH", "with space") == status("OK")
        assert conn.call("CONFIG", "GET", "requirepass").py() == [b"requirepass", b"with space"]


def test_single_quoted_argument_and_escapes(strata_factory_for_config):
    server = strata_factory_for_config(config="requirepass 'a\\'b'\n")
    with RespConnection(server.port) as conn:
        assert conn.call("AUTH", "a'b") == status("OK")


def test_pidfile_holds_the_pid_and_is_removed_on_clean_shutdown(tmp_path):
    factory = ServerFactory("strata", tmp_path)
    pidfile = tmp_path / "strata.pid"
    server = factory("--pidfile", pidfile)
    try:
        assert pidfile.read_text().strip() == str(server.pid)
    finally:
        assert_exited_cleanly(server)
    assert not pidfile.exists()


def test_logfile_receives_redis_style_log_lines(tmp_path):
    factory = ServerFactory("strata", tmp_path)
    logfile = tmp_path / "strata.log"
    server = factory("--logfile", logfile, "--loglevel", "verbose")
    try:
        with RespConnection(server.port) as conn:
            assert conn.call("PING") == status("PONG")
    finally:
        assert_exited_cleanly(server)
    lines = [line for line in logfile.read_text().splitlines() if line]
    assert lines, "the log file is empty"
    for line in lines:
        assert REDIS_LOG_LINE.match(line), line
    assert any(line.split(" ", 1)[0] == f"{server.pid}:M" for line in lines)


def test_shutdown_writes_its_log_lines_after_sigterm(tmp_path):
    factory = ServerFactory("strata", tmp_path)
    logfile = tmp_path / "strata.log"
    server = factory("--logfile", logfile)
    assert_exited_cleanly(server)
    text = logfile.read_text()
    assert re.search(r"SIGTERM", text), text


def test_config_set_changes_what_config_get_reports(strata_factory_for_config):
    server = strata_factory_for_config()
    with RespConnection(server.port) as conn:
        assert conn.call("CONFIG", "SET", "maxmemory", "1gb") == status("OK")
        assert conn.call("CONFIG", "GET", "maxmemory").py() == [b"maxmemory", str(1 << 30).encode()]
        assert conn.call("CONFIG", "SET", "timeout", "30", "hz", "50") == status("OK")
        assert conn.call("CONFIG", "GET", "hz").py() == [b"hz", b"50"]
        assert conn.call("GET", "x") == bulk(None)


def test_second_server_on_a_busy_port_exits_with_an_error(tmp_path, strata_factory_for_config):
    server = strata_factory_for_config()
    try:
        result = run_strata("--port", server.port, "--bind", "127.0.0.1", cwd=tmp_path, timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a second strata-server started on busy port {server.port} instead of exiting")
    assert result.returncode != 0
    with RespConnection(server.port) as conn:
        assert conn.call("PING") == status("PONG")

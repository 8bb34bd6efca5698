"""CONFIG GET and SET know every Redis 7.0 parameter (DESIGN.md section 5).

Parameters for what strata does not have (snapshots, the append-only file, replication, cluster
mode, active defragmentation, daemon mode...) answer CONFIG GET with the value that describes
strata, accept that value in any spelling Redis accepts, and refuse any other with an error that
says what strata lacks. A redis.conf written for Redis 7.0 (Debian's own) therefore loads, and a
setting that would change behaviour strata does not have never passes silently.
"""
import pathlib

import pytest

from conftest import STRATA_SERVER
from helpers import ServerFactory, client_for, pair, strata_available  # noqa: F401  (pair is a fixture)

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

DEBIAN_REDIS_CONF = pathlib.Path("/etc/redis/redis.conf")

# Parameters whose values differ by design: where the server runs, and strata's own defaults.
DIFFERENT_BY_DESIGN = {
    "port", "bind", "dir", "logfile", "pidfile", "io-threads", "save", "appendonly", "hz",
    "maxmemory-samples", "client-output-buffer-limit", "io-threads-do-reads",
    "crash-memcheck-enabled", "set-max-listpack-entries", "set-max-listpack-value",
    # strata's own encodings' thresholds (smaller listpacks, compressed list interiors).
    "hash-max-listpack-entries", "hash-max-ziplist-entries", "list-compress-depth",
}
# Redis 7.0 moves its TLS listener on CONFIG SET tls-port; strata's listeners are set at start-up.
STARTUP_ONLY_IN_STRATA = {"tls-port"}


def config_map(client):
    return client.config_get("*")


def test_config_get_star_names_every_redis_parameter(pair):
    strata, oracle = pair
    strata_names, redis_names = set(config_map(client_for(strata))), set(config_map(client_for(oracle)))
    assert redis_names - strata_names == set()
    assert len(redis_names) >= 190


def test_parameters_strata_lacks_read_as_redis_defaults(pair):
    strata, oracle = pair
    s, r = config_map(client_for(strata)), config_map(client_for(oracle))
    differing = {name for name in r if s[name] != r[name]} - DIFFERENT_BY_DESIGN
    assert differing == set(), {name: (s[name], r[name]) for name in differing}


def test_setting_a_parameter_to_its_value_is_accepted_or_immutable_as_in_redis(pair):
    """CONFIG SET name <current value> for every parameter both report alike: the same outcome
    (OK, or Redis's "can't set immutable config") on both servers."""
    strata, oracle = pair
    s_client, r_client = client_for(strata), client_for(oracle)
    s, r = config_map(s_client), config_map(r_client)

    def outcome(client, name, value):
        try:
            client.execute_command("CONFIG", "SET", name, value)
            return "OK"
        except Exception as e:  # noqa: BLE001 (the error's text is the result)
            return "immutable" if "immutable" in str(e) else str(e)

    mismatched = {}
    for name in sorted(set(r) - DIFFERENT_BY_DESIGN - STARTUP_ONLY_IN_STRATA):
        if s[name] != r[name]:
            continue
        got, expected = outcome(s_client, name, s[name]), outcome(r_client, name, r[name])
        if got != expected:
            mismatched[name] = (got, expected)
    assert mismatched == {}


@pytest.mark.parametrize("name,value,lacks", [
    ("appendfsync", "always", "append-only file"),
    ("repl-backlog-size", "2mb", "replication"),
    ("activedefrag", "yes", "active defragmentation"),
    ("lazyfree-lazy-user-del", "yes", "frees a value where it is deleted"),
    ("stream-node-max-entries", "500", "streams"),
    ("tls-replication", "yes", "no replication"),
])
def test_other_values_are_refused_naming_what_strata_lacks(strata, name, value, lacks):
    client = client_for(strata)
    before = client.config_get(name)
    with pytest.raises(Exception) as refused:
        client.config_set(name, value)
    message = str(refused.value)
    assert f"possibly related to argument '{name}'" in message and lacks in message, message
    assert client.config_get(name) == before


@pytest.mark.parametrize("name,value", [
    ("repl-backlog-size", "1mb"), ("auto-aof-rewrite-min-size", "64mb"), ("activedefrag", "NO"),
    ("appendfsync", "EVERYSEC"), ("cluster-node-timeout", "15000"),
])
def test_the_value_strata_has_is_accepted_in_any_spelling(strata, name, value):
    assert client_for(strata).config_set(name, value) is True


def test_a_refused_parameter_leaves_the_others_of_one_config_set_unapplied(strata):
    client = client_for(strata)
    with pytest.raises(Exception):
        client.execute_command("CONFIG", "SET", "maxmemory", "5mb", "appendfsync", "always")
    assert client.config_get("maxmemory") == {"maxmemory": "0"}


def test_startup_only_parameters_are_immutable_at_runtime(strata):
    client = client_for(strata)
    for name, value in [("daemonize", "no"), ("cluster-enabled", "no"), ("tcp-backlog", "511")]:
        with pytest.raises(Exception, match="can't set immutable config"):
            client.config_set(name, value)


@pytest.mark.skipif(not DEBIAN_REDIS_CONF.exists(), reason="Debian's redis.conf is not installed")
def test_debians_redis_conf_loads_with_one_line_changed(tmp_path):
    """Debian's /etc/redis/redis.conf, as shipped, differs from what strata does in one line:
    `daemonize yes` (strata runs under a supervisor). With that line changed it starts and runs;
    its own paths (pid file, log file, dir) are overridden for the test."""
    shipped = DEBIAN_REDIS_CONF.read_text()
    assert "\ndaemonize yes\n" in shipped
    factory = ServerFactory("strata", tmp_path)
    try:
        server = factory(
            "--dir", str(tmp_path), "--logfile", "", "--pidfile", "",
            config=shipped.replace("\ndaemonize yes\n", "\ndaemonize no\n"))
        client = client_for(server)
        assert client.set("k", "v") and client.get("k") == "v"
        assert client.config_get("rdbcompression") == {"rdbcompression": "yes"}
        assert client.config_get("oom-score-adj-values") == {"oom-score-adj-values": "0 200 800"}
    finally:
        factory.stop_all()


@pytest.mark.skipif(not DEBIAN_REDIS_CONF.exists(), reason="Debian's redis.conf is not installed")
def test_debians_redis_conf_as_shipped_is_refused_at_its_daemonize_line(tmp_path):
    import subprocess
    conf = tmp_path / "redis.conf"
    conf.write_text(DEBIAN_REDIS_CONF.read_text())
    result = subprocess.run([str(STRATA_SERVER), str(conf), "--dir", str(tmp_path), "--logfile", "", "--pidfile", ""],
                            cwd=tmp_path, capture_output=True, timeout=10)
    out = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 1, out
    assert "daemonize" in out and "supervisor" in out, out

"""strata-bench against real servers: Debian's redis-server (the oracle) and strata.

Each test drives the server under test with build/strata-bench, reads its --json report and
checks the counting rule (every request is a SET, a GET hit, a GET miss or an error), the
SET:GET ratio, the caching workloads (--cache-aside, --cold-storm) and the failure modes.
"""
import json
import os
import subprocess
import time
import uuid

import pytest
import redis

from conftest import STRATA_BENCH, free_port

# Every run here is small; this only stops a hung benchmark from hanging the suite.
RUN_TIMEOUT = 60


@pytest.fixture(params=["redis_oracle", "strata"])
def server(request):
    """The server under test: the same checks run against redis-server and strata."""
    return request.getfixturevalue(request.param)


def run_bench(port, *args, tmp_path, env=None):
    """Runs strata-bench against 127.0.0.1:port with --json; returns (process, report or None)."""
    json_path = tmp_path / f"report-{uuid.uuid4().hex[:8]}.json"
    argv = [str(STRATA_BENCH), "--host", "127.0.0.1", "--port", str(port), "--json", str(json_path),
            "--reply-timeout", "5", *map(str, args)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env)
    report = json.loads(json_path.read_text()) if json_path.exists() else None
    return proc, report


def unique_prefix(name):
    return f"{name}:{uuid.uuid4().hex[:8]}:"


def assert_counts_add_up(report):
    assert report["requests"] == report["sets"] + report["hits"] + report["misses"] + report["errors"]
    commands = report["commands"]
    assert commands["TOTAL"]["requests"] == report["requests"]
    assert commands["SET"]["requests"] + commands["GET"]["requests"] == report["requests"]
    assert commands["GET"]["hits"] == report["hits"]
    assert commands["GET"]["misses"] == report["misses"]


def test_counts_add_up_and_the_ratio_is_respected(server, tmp_path):
    proc, report = run_bench(server.port, "--requests", 20000, "--ratio", "1:4", "--threads", 2,
                             "--clients", 10, "--pipeline", 8, "--key-prefix", unique_prefix("ratio"),
                             "--key-max", 999, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["requests"] == 20000
    assert report["errors"] == 0
    assert_counts_add_up(report)
    # 20 clients with 1000 requests each: 200 whole cycles of 1 SET + 4 GETs per client.
    assert report["sets"] == 4000
    assert abs(report["sets"] / report["requests"] - 1 / 5) < 1e-9
    assert report["hits"] > 0 and report["misses"] > 0
    assert report["hit_ratio"] == pytest.approx(report["hits"] / (report["hits"] + report["misses"]))
    for name in ("SET", "GET", "TOTAL"):
        latency = report["commands"][name]["latency_us"]
        assert latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p99.9"] <= latency["max"]
        distribution = report["commands"][name]["percentile_distribution"]
        assert distribution[0]["percentile"] == 0 and distribution[-1]["percentile"] == 100
        assert distribution[-1]["latency_us"] == latency["max"]
    # The text report says the same on stdout.
    assert "TOTAL" in proc.stdout and "Hit ratio" in proc.stdout


def test_cache_aside_fills_the_cache(server, tmp_path):
    prefix = unique_prefix("aside")
    proc, report = run_bench(server.port, "--requests", 20000, "--ratio", "0:1", "--cache-aside",
                             "--key-prefix", prefix, "--key-max", 499, "--data-size", 48,
                             "--pipeline", 4, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_counts_add_up(report)
    # Every GET was scheduled; every miss added a SET on top, counted as a set and a request.
    assert report["hits"] + report["misses"] == 20000
    assert report["sets"] == report["misses"] == report["cache_aside_sets"]
    assert report["requests"] == 20000 + report["cache_aside_sets"]
    assert report["misses"] >= 500  # each of the 500 keys missed at least once
    assert report["hits"] > 0
    client = server.client()
    try:
        keys = client.keys(prefix + "*")
        assert len(keys) == 500
        for k in range(500):
            assert client.strlen(f"{prefix}{k}") == 48
    finally:
        client.close()


def test_cold_storm_finds_nothing_and_cache_aside_then_fills_it(server, tmp_path):
    proc, report = run_bench(server.port, "--cold-storm", 3000, "--clients", 25, "--pipeline", 4,
                             tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["misses"] == 3000
    assert report["hits"] == 0 and report["sets"] == 0
    assert report["requests"] == 3000
    assert report["cold_storm"]["nil"] == 3000 and report["cold_storm"]["value"] == 0
    assert "3000 came back nil" in proc.stdout

    # A second storm gets a fresh prefix: still all misses; with --cache-aside it fills them.
    proc, again = run_bench(server.port, "--cold-storm", 3000, "--cache-aside", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert again["cold_storm"]["prefix"] != report["cold_storm"]["prefix"]
    assert again["misses"] == 3000 and again["sets"] == 3000 and again["requests"] == 6000
    client = server.client()
    try:
        assert len(client.keys(again["cold_storm"]["prefix"] + "*")) == 3000
    finally:
        client.close()


def test_error_replies_are_counted_and_fail_the_run(server, tmp_path):
    prefix = unique_prefix("wrongtype")
    client = server.client()
    try:
        client.rpush(f"{prefix}0", "not-a-string")
    except redis.exceptions.ResponseError as error:
        # GET can only fail on a key of another type; a server without lists cannot make one.
        if "unknown command" not in str(error):
            raise
        pytest.skip(f"{server.name} has no RPUSH yet: {error}")
    finally:
        client.close()
    proc, report = run_bench(server.port, "--requests", 200, "--ratio", "0:1", "--key-prefix", prefix,
                             "--key-min", 0, "--key-max", 0, "--clients", 4, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert report["errors"] == 200 and report["requests"] == 200
    assert report["hits"] == 0 and report["misses"] == 0
    assert report["first_error"].startswith("WRONGTYPE")
    assert "WRONGTYPE" in proc.stderr


@pytest.mark.parametrize("pattern", ["uniform", "sequential", "gaussian", "zipf:0.99", "zipf:1.2"])
def test_every_key_pattern_runs(server, tmp_path, pattern):
    proc, report = run_bench(server.port, "--requests", 3000, "--key-pattern", pattern, "--clients", 10,
                             "--key-prefix", unique_prefix("pattern"), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["requests"] == 3000
    assert report["config"]["key_pattern"] == pattern
    assert_counts_add_up(report)


def test_resp3_and_a_silent_stderr_in_a_pipe(server, tmp_path):
    proc, report = run_bench(server.port, "--requests", 5000, "--resp", 3, "--pipeline", 16,
                             "--key-prefix", unique_prefix("resp3"), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["requests"] == 5000 and report["errors"] == 0
    assert proc.stderr == ""  # no progress line when stderr is not a terminal


def test_test_time_bounds_the_run(server, tmp_path):
    proc, report = run_bench(server.port, "--test-time", 1, "--clients", 5,
                             "--key-prefix", unique_prefix("timed"), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 0.9 <= report["duration_sec"] < 3
    assert report["requests"] > 0
    assert report["config"]["requests"] is None
    assert_counts_add_up(report)


def test_plot_and_compare_draw_a_png(server, tmp_path):
    first_json = tmp_path / "first.json"
    proc, first = run_bench(server.port, "--requests", 5000, "--label", "first", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first_json.write_text(json.dumps(first))
    png = tmp_path / "latency.png"
    proc, _ = run_bench(server.port, "--requests", 5000, "--pipeline", 8, "--plot", png,
                        "--compare", first_json, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Without gnuplot the run still succeeds and says why there is no picture.
    missing = tmp_path / "missing.png"
    env = dict(os.environ, PATH=str(tmp_path / "no-such-dir"))
    proc, report = run_bench(server.port, "--requests", 1000, "--plot", missing, tmp_path=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "gnuplot" in proc.stderr
    assert report["requests"] == 1000
    assert not missing.exists()


def test_closed_port_is_an_error(tmp_path):
    port = free_port()  # nothing listens there
    proc, report = run_bench(port, "--requests", 100, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "refused" in proc.stderr.lower()
    assert report is None


def test_server_going_away_mid_run_is_an_error(redis_oracle, tmp_path):
    # A timed run against a server that is stopped underneath it must fail, not hang.
    json_path = tmp_path / "gone.json"
    argv = [str(STRATA_BENCH), "--port", str(redis_oracle.port), "--test-time", 30, "--clients", 4,
            "--reply-timeout", "5", "--json", str(json_path)]
    bench = subprocess.Popen(list(map(str, argv)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        redis_oracle.stop()
        _, stderr = bench.communicate(timeout=RUN_TIMEOUT)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 1
    assert "closed the connection" in stderr or "reset" in stderr.lower()
    assert not json_path.exists()


def test_bad_options_exit_2():
    for args in (["--bogus"], ["--ratio", "1"], ["--requests", "5", "--test-time", "1"], ["--resp", "9"]):
        proc = subprocess.run([str(STRATA_BENCH), *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("strata-bench: "), proc.stderr
        assert "--help" in proc.stderr
    proc = subprocess.run([str(STRATA_BENCH), "--help"], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0
    assert "--cold-storm" in proc.stdout and "TOTAL number of requests" in proc.stdout

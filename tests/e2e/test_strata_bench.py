"""strata-bench against real servers: Debian's redis-server (the oracle) and strata.

Each test drives the server under test with build/strata-bench, reads its --json report and
checks the counting rule (every request is a SET, a GET hit, a GET miss or an error), the
SET:GET ratio, the caching workloads (--cache-aside, --cold-storm, --cache-aside --source against a
SQLite database, and strata's own loader on the same load), the pub/sub mode (every message
reaches every subscriber, in order), client-side caching (--tracking: invalidation pushes are
counted, never taken for replies) and the failure modes.
"""
import json
import os
import sqlite3
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


def test_scan_share_keys_always_miss_and_are_set_once(server, tmp_path):
    prefix = unique_prefix("scan")
    proc, report = run_bench(server.port, "--requests", 20000, "--ratio", "0:1", "--cache-aside",
                             "--scan-share", 10, "--key-prefix", prefix, "--key-max", 499,
                             "--pipeline", 4, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_counts_add_up(report)
    assert report["config"]["scan_share"] == 10 and report["config"]["scan_start"] == 500
    # 50 clients x 400 GETs, 40 of each client's to the scan: 2000 one-time keys 500..2499, each a
    # miss; the 500 keys of the pattern miss at least once each.
    assert report["hits"] + report["misses"] == 20000
    assert report["misses"] >= 2000 + 500
    assert report["sets"] == report["misses"] == report["cache_aside_sets"]
    client = server.client()
    try:
        assert len(client.keys(prefix + "*")) == 2500
        assert all(client.exists(f"{prefix}{k}") for k in range(500, 2500))
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
    assert report["invalidations"] == report["other_pushes"] == 0  # no tracking, no pushes
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
    assert proc.stdout.rstrip().endswith(f"Plot: {png}")


def test_a_plot_that_cannot_be_drawn_is_reported_and_exits_3(server, tmp_path):
    # No gnuplot on PATH: the figures and the JSON report are still complete, but the missing
    # picture is said on stdout and stderr and the exit status is 3, so no one can miss it.
    missing = tmp_path / "missing.png"
    env = dict(os.environ, PATH=str(tmp_path / "no-such-dir"))
    proc, report = run_bench(server.port, "--requests", 1000, "--plot", missing, tmp_path=tmp_path, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "Ops/sec" in proc.stdout
    assert f"Plot: NOT DRAWN ({missing}): gnuplot is not installed" in proc.stdout
    assert "was not drawn" in proc.stderr and "gnuplot" in proc.stderr
    assert report["requests"] == 1000
    assert not missing.exists()

    # A picture gnuplot cannot write (its directory does not exist): the same.
    unwritable = tmp_path / "no-such-dir" / "latency.png"
    proc, report = run_bench(server.port, "--requests", 1000, "--plot", unwritable, tmp_path=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert f"Plot: NOT DRAWN ({unwritable})" in proc.stdout
    assert report["requests"] == 1000


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


# ---------------------------------------------------------------------------------------------
# --pubsub-subscribers: the clients PUBLISH stamped messages, the subscribers check each one.

@pytest.mark.parametrize("resp", [2, 3])
def test_pubsub_delivers_every_message_to_every_subscriber_in_order(server, tmp_path, resp):
    channel = unique_prefix("pubsub")
    # 7 subscribers over 2 threads (4 and 3), 6 publishers with 8 PUBLISHes in flight each.
    proc, report = run_bench(server.port, "--pubsub-subscribers", 7, "--pubsub-channel", channel,
                             "--requests", 3000, "--threads", 2, "--clients", 3, "--pipeline", 8,
                             "--data-size", 64, "--resp", resp, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pubsub = report["pubsub"]
    assert report["requests"] == report["publishes"] == pubsub["published"] == 3000
    assert report["errors"] == 0 and report["sets"] == report["hits"] == report["misses"] == 0
    assert report["config"]["pubsub_subscribers"] == pubsub["subscribers"] == 7
    assert report["config"]["pubsub_channel"] == pubsub["channel"] == channel
    assert pubsub["expected_deliveries"] == pubsub["delivered"] == 3000 * 7
    assert pubsub["missing"] == pubsub["out_of_order"] == pubsub["malformed"] == 0
    # Each PUBLISH answered the number of subscribers it reached.
    assert pubsub["publish_receivers"] == 3000 * 7
    latency = pubsub["latency_us"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert pubsub["delivered_per_sec"] > 0
    assert report["commands"]["PUBLISH"]["requests"] == 3000
    assert "DELIVER" in proc.stdout
    assert f"21000 of 21000 deliveries (3000 x 7 subscribers)" in proc.stdout
    assert "0 missing, 0 out of order, 0 malformed" in proc.stdout


def test_pubsub_reports_a_foreign_message_on_the_channel_and_exits_1(server, tmp_path):
    channel = unique_prefix("foreign")
    json_path = tmp_path / "foreign.json"
    argv = [STRATA_BENCH, "--port", server.port, "--pubsub-subscribers", 2, "--pubsub-channel", channel,
            "--clients", 1, "--test-time", 1.5, "--reply-timeout", 5, "--json", json_path]
    bench = subprocess.Popen(list(map(str, argv)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = server.client()
    try:
        # Published once both subscribers are in (before that, the bench is not running yet).
        deadline = time.monotonic() + 10
        while client.pubsub_numsub(channel)[0][1] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.publish(channel, "not a stamped message") == 2
        stdout, stderr = bench.communicate(timeout=RUN_TIMEOUT)
    finally:
        client.close()
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 1, stderr
    pubsub = json.loads(json_path.read_text())["pubsub"]
    assert pubsub["malformed"] == 2
    assert "not a stamped message" in pubsub["first_malformed"]
    # The run's own messages were all there.
    assert pubsub["delivered"] == pubsub["expected_deliveries"] > 0 and pubsub["missing"] == 0
    assert "2 malformed" in stdout and "pub/sub:" in stderr


def test_pubsub_options_are_checked_before_the_run():
    for args, message in ((["--pubsub-channel", "x"], "--pubsub-subscribers"),
                          (["--pubsub-subscribers", "2", "--data-size", "16"], "--data-size 16"),
                          (["--pubsub-subscribers", "2", "--cold-storm", "5"], "--cold-storm")):
        proc = subprocess.run([str(STRATA_BENCH), *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
    proc = subprocess.run([str(STRATA_BENCH), "--help"], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert "--pubsub-subscribers N" in proc.stdout and "--pubsub-channel NAME" in proc.stdout


# ---------------------------------------------------------------------------------------------
# --tracking: CLIENT TRACKING on over RESP3; invalidation pushes arrive between the replies.

def test_tracking_counts_invalidations_and_never_takes_a_push_for_a_reply(server, tmp_path):
    # 20 tracking clients over 2 threads, 8 in flight each, on 200 keys: most SETs change a key
    # that some client has read since its last change, so pushes keep arriving in the middle of
    # pipelined replies. A push taken for a reply would shift every later reply of its connection
    # onto the wrong request: a GET answered +OK or a SET answered with a value, each an error.
    proc, report = run_bench(server.port, "--tracking", "--requests", 20000, "--ratio", "1:4", "--threads", 2,
                             "--clients", 10, "--pipeline", 8, "--key-prefix", unique_prefix("tracking"),
                             "--key-max", 199, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["config"]["tracking"] is True and report["config"]["resp"] == 3
    assert report["requests"] == 20000
    assert report["errors"] == 0 and report["first_error"] is None
    assert_counts_add_up(report)
    assert report["sets"] == 4000
    # Each SET tells each of the 20 clients at most once (and only one that read the key since).
    assert 0 < report["invalidations"] <= report["sets"] * 20
    assert report["other_pushes"] == 0
    assert f"Tracking: {report['invalidations']} invalidation pushes received, 0 other pushes" in proc.stdout
    assert "CLIENT TRACKING on, RESP3" in proc.stdout


def test_tracking_tells_a_lone_client_of_each_of_its_own_writes(server, tmp_path):
    # One client, one key, GET SET GET SET ...: every SET changes the key the GET before it read
    # (a missing key is tracked too), and without NOLOOP the writer is told as well: one
    # invalidation per SET. Only the last may still be on its way when the client is done.
    proc, report = run_bench(server.port, "--tracking", "--requests", 1000, "--ratio", "1:1", "--clients", 1,
                             "--key-prefix", unique_prefix("lone"), "--key-min", 0, "--key-max", 0,
                             tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["errors"] == 0 and report["sets"] == 500
    assert report["hits"] == 499 and report["misses"] == 1
    assert 499 <= report["invalidations"] <= 500


def test_tracking_options_are_checked_before_the_run():
    for args, message in ((["--tracking", "--resp", "2"], "--tracking needs RESP3"),
                          (["--tracking", "--pubsub-subscribers", "2"], "--pubsub-subscribers")):
        proc = subprocess.run([str(STRATA_BENCH), *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
    proc = subprocess.run([str(STRATA_BENCH), "--help"], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert "--tracking" in proc.stdout


# ---------------------------------------------------------------------------------------------
# --cache-aside --source: the classic client-side loop against a real database, and the same
# load against strata's own loader (bench/cold-storm.sh compares the two at scale).

PRODUCT_QUERY = "SELECT name FROM products WHERE id = :id"


def product_name(i):
    return f"product {i}"


@pytest.fixture
def products_db(tmp_path):
    """A SQLite database with products 1..300 (ids 301 and up do not exist)."""
    path = tmp_path / "products.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    db.executemany("INSERT INTO products VALUES (?, ?)", [(i, product_name(i)) for i in range(1, 301)])
    db.commit()
    db.close()
    return path


def test_cache_aside_with_a_sqlite_source_sets_what_the_database_holds(redis_oracle, products_db, tmp_path):
    # A sequential sweep over 1..320 asks every key; 301..320 have no row.
    proc, report = run_bench(redis_oracle.port, "--cache-aside", "--source", f"sqlite:{products_db}",
                             "--source-query", PRODUCT_QUERY, "--key-prefix", "product:", "--key-min", 1,
                             "--key-max", 320, "--key-pattern", "sequential", "--ratio", "0:1", "--requests", 2000,
                             "--clients", 10, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_counts_add_up(report)
    source = report["source"]
    assert report["config"]["source"] == f"sqlite:{products_db}"
    assert report["config"]["source_query"] == PRODUCT_QUERY
    # Every miss is one query; a found row is SET, a missing one is not.
    assert report["source_queries"] == source["queries"] == report["misses"]
    assert source["found"] + source["not_found"] == source["queries"]
    assert source["found"] == report["cache_aside_sets"] and source["errors"] == 0
    assert 0 < source["latency_us"]["p50"] <= source["latency_us"]["p99"] <= source["latency_us"]["max"]
    # At least one query per distinct key: 300 found at least once, the 20 missing ones every time.
    assert source["found"] >= 300
    assert source["queries"] >= 320
    assert report["hits"] + report["misses"] == 2000
    # Every GET of the load is one lookup, with its latency.
    assert report["lookups"]["requests"] == 2000 and report["lookups"]["errors"] == 0
    assert report["lookups"]["latency_us"]["p50"] <= report["lookups"]["latency_us"]["p99"]
    assert "LOOKUP" in proc.stdout and "Source queries:" in proc.stdout
    client = redis_oracle.client()
    try:
        assert client.dbsize() == 300
        assert client.mget([f"product:{i}" for i in range(1, 301)]) == [product_name(i) for i in range(1, 301)]
    finally:
        client.close()


def test_cache_aside_under_a_zipf_storm_queries_at_least_once_per_key(redis_oracle, products_db, tmp_path):
    proc, report = run_bench(redis_oracle.port, "--cache-aside", "--source", f"sqlite:{products_db}",
                             "--source-query", PRODUCT_QUERY, "--source-pool", 2, "--key-prefix", "product:",
                             "--key-min", 1, "--key-max", 300, "--key-pattern", "zipf:0.99", "--ratio", "0:1",
                             "--requests", 10000, "--threads", 2, "--clients", 25, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    client = redis_oracle.client()
    try:
        distinct = client.dbsize()
        keys = client.keys("product:*")
        assert all(client.get(k) == product_name(int(k.split(":")[1])) for k in keys)
    finally:
        client.close()
    assert 0 < distinct <= 300
    assert report["source_queries"] >= distinct
    assert report["source"]["not_found"] == 0 and report["source"]["errors"] == 0
    assert report["lookups"]["requests"] == 10000


def test_a_failing_source_is_counted_and_fails_the_run(redis_oracle, tmp_path):
    missing = tmp_path / "no-such-dir" / "products.db"
    proc, report = run_bench(redis_oracle.port, "--cache-aside", "--source", f"sqlite:{missing}",
                             "--source-query", PRODUCT_QUERY, "--key-prefix", "product:", "--key-min", 1,
                             "--key-max", 50, "--ratio", "0:1", "--requests", 200, "--clients", 5, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "source queries failed" in proc.stderr
    assert report["source"]["errors"] == report["source_queries"] == 200
    assert report["source"]["first_error"].startswith("product:")
    assert report["lookups"]["errors"] == 200 and report["cache_aside_sets"] == 0


def test_source_options_are_checked_before_the_run(products_db):
    url = f"sqlite:{products_db}"
    for args, message in (
        (["--source", url, "--source-query", PRODUCT_QUERY], "--cache-aside"),
        (["--cache-aside", "--source", url], "--source-query"),
        (["--cache-aside", "--source-query", PRODUCT_QUERY], "--source"),
        (["--cache-aside", "--source", url, "--source-query", "SELECT name FROM products WHERE id = :sku"],
         ":sku"),
        (["--cache-aside", "--source", "mysql://x", "--source-query", PRODUCT_QUERY], "unsupported URL"),
        (["--source-pool", "2"], "--source"),
    ):
        proc = subprocess.run([str(STRATA_BENCH), *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
    proc = subprocess.run([str(STRATA_BENCH), "--help"], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    for option in ("--source URL", "--source-query SQL", "--source-pool N", "LOOKUP"):
        assert option in proc.stdout


def loader_stats(client):
    raw = client.execute_command("LOADER", "STATS", "product:{id}")
    return {raw[i]: int(raw[i + 1]) for i in range(0, len(raw), 2) if raw[i + 1].isdigit()}


def test_strata_with_a_sqlite_loader_queries_once_per_distinct_key(strata_factory, products_db, tmp_path):
    server = strata_factory(config=f'source db sqlite:{products_db}\nloader product:{{id}} db "{PRODUCT_QUERY}"\n')
    common = ["--key-prefix", "product:", "--key-min", 1, "--key-max", 300, "--ratio", "0:1", "--clients", 50]
    proc, report = run_bench(server.port, *common, "--key-pattern", "zipf:0.99", "--requests", 10000,
                             tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The loader answers every cold GET: no nil, and the bench itself queried nothing.
    assert report["hits"] == 10000 and report["misses"] == 0
    assert report["source_queries"] == 0 and "lookups" not in report
    client = server.client()
    try:
        distinct = client.dbsize()
        stats = loader_stats(client)
        assert stats["loads"] == stats["source_queries"] == distinct
        # A sweep over every key then loads exactly the ones the storm had not asked for.
        proc, report = run_bench(server.port, *common, "--key-pattern", "sequential", "--requests", 300,
                                 tmp_path=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert report["hits"] == 300
        stats = loader_stats(client)
        assert stats["loads"] == stats["source_queries"] == 300 == client.dbsize()
        assert client.get("product:300") == product_name(300)
    finally:
        client.close()

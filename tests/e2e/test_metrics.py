"""Prometheus metrics (`metrics-port`), key families, and the tools operators already run.

/metrics is read with a real Prometheus text parser (python3-prometheus-client), scraped by a real
Prometheus server (Debian's prometheus) whose HTTP API then answers every query of the Grafana
dashboard in conf/grafana, and Debian's prometheus-redis-exporter reads strata as it reads Redis.
"""
import json
import pathlib
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, free_port

PROMETHEUS = "/usr/bin/prometheus"
REDIS_EXPORTER = "/usr/bin/prometheus-redis-exporter"
DASHBOARD = ROOT / "conf" / "grafana" / "strata-dashboard.json"


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def scrape(port):
    """{(sample name, frozenset(labels)): value} and {family name: type} from /metrics."""
    samples, types = {}, {}
    for family in text_string_to_metric_families(http_get(f"http://127.0.0.1:{port}/metrics")):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def shop_db(tmp_path):
    path = tmp_path / "shop.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO products VALUES (?, ?)", [(i, f"product {i}") for i in range(1, 51)])
    db.commit()
    db.close()
    return path


@pytest.fixture
def observed(strata_factory, shop_db, tmp_path):
    """strata with metrics on, two key families, a loader (a family of its own) and a spill tier."""
    metrics_port = free_port()
    config = "\n".join([
        f"source shop sqlite:{shop_db}",
        'loader product:{id} shop "SELECT name FROM products WHERE id = :id" ttl 60',
        "stats-key-family users user:*",
        "stats-key-family sessions sess:*",
        f"metrics-port {metrics_port}",
        f"spill-dir {tmp_path / 'spill'}",
        "maxmemory 4mb",
        "maxmemory-policy allkeys-lru",
    ]) + "\n"
    server = strata_factory(config=config)
    server.metrics_port = metrics_port
    return server


def traffic(r, rounds=1):
    """Every kind of event the dashboard shows: hits and misses per family, loads, errors,
    evictions into the spill and reads back from it, an invalidation message with a change time."""
    for round_ in range(rounds):
        for i in range(20):
            r.set(f"user:{i}", "u" * 10)
            r.get(f"user:{i}")
            r.get(f"user:missing:{i}")
            r.set(f"sess:{i}", "s")
            r.get(f"sess:{i}")
        for i in range(1, 11):
            r.get(f"product:{i}")
        with pytest.raises(Exception):
            r.lpush("user:0", "x")  # WRONGTYPE
        blob = "x" * 2000
        pipe = r.pipeline(transaction=False)
        for i in range(4000):  # 8 MB into a 4 MB cache: evictions go to the spill
            pipe.set(f"fill:{round_}:{i}", blob)
        pipe.execute()
        for i in range(0, 4000, 200):
            r.get(f"fill:{round_}:{i}")  # mostly read back from the spill
        r.publish("__strata__:invalidate", json.dumps({"key": "product:1", "ts": int(time.time() * 1000) - 5}))


def test_metrics_port_is_off_by_default(r):
    assert r.config_get("metrics-port") == {"metrics-port": "0"}


def test_metrics_parse_as_prometheus_text_and_agree_with_info(observed):
    r = observed.client()
    traffic(r)
    time.sleep(0.3)  # one cron period: the key-family census
    stats, keyspace = r.info("stats"), r.info("keyspace")
    commandstats, families = r.info("commandstats"), r.info("keyfamilies")
    samples, types = scrape(observed.metrics_port)
    # Every INFO counter and gauge is there, under redis_exporter's name where it has one.
    assert value(samples, "redis_keyspace_hits_total") == stats["keyspace_hits"]
    assert value(samples, "redis_keyspace_misses_total") == stats["keyspace_misses"]
    assert value(samples, "redis_evicted_keys_total") == stats["evicted_keys"]
    assert value(samples, "redis_connected_clients") == r.info("clients")["connected_clients"]
    assert value(samples, "redis_db_keys", db="db0") == keyspace["db0"]["keys"]
    assert value(samples, "strata_spill_reads_total") == r.info("spill")["spill_reads"] > 0
    assert types["redis_keyspace_hits"] == "counter"  # the parser strips _total from a counter's family
    assert types["redis_memory_used_bytes"] == "gauge"
    # Commands, errors and latency: per command and per error kind.
    assert value(samples, "redis_commands_total", cmd="get") == commandstats["cmdstat_get"]["calls"]
    assert value(samples, "redis_commands_failed_calls_total", cmd="lpush") == 1
    assert value(samples, "redis_errors_total", err="WRONGTYPE") == 1
    get_count = value(samples, "strata_command_duration_seconds_count", cmd="get")
    assert get_count == commandstats["cmdstat_get"]["calls"]
    assert value(samples, "strata_command_duration_seconds_bucket", cmd="get", le="+Inf") == get_count
    assert 0 < value(samples, "strata_command_duration_seconds_bucket", cmd="get", le="0.016777216") <= get_count
    # Key families: the two named, and the loader's template as a family of its own.
    by_name = {line["name"]: line for line in families.values()}
    assert value(samples, "strata_keyfamily_hits_total", family="users") == 20
    assert value(samples, "strata_keyfamily_misses_total", family="users") == 20
    assert value(samples, "strata_keyfamily_hit_ratio", family="users") == 0.5
    assert value(samples, "strata_keyfamily_keys", family="users") == by_name["users"]["keys"] <= 20
    assert value(samples, "strata_keyfamily_hits_total", family="sessions") == 20
    assert value(samples, "strata_keyfamily_misses_total", family="product:{id}") == 10
    # Memory is the memory tier's: the fill pushed most of these keys to the spill.
    assert value(samples, "strata_keyfamily_memory_bytes", family="users") == by_name["users"]["memory"]
    assert by_name["users"]["hits"] == 20 and by_name["users"]["glob"] == "user:*"
    assert by_name["product:{id}"]["glob"] == "product:*"
    # Loaders and sources: counters and latency histograms.
    assert value(samples, "strata_loader_loads_total", loader="product:{id}", source="shop") == 10
    assert value(samples, "strata_loader_duration_seconds_count", loader="product:{id}", source="shop") >= 1
    assert value(samples, "strata_source_query_duration_seconds_count", source="shop") >= 1
    assert value(samples, "strata_invalidation_lag_seconds_count") == 1
    assert value(samples, "strata_spill_read_duration_seconds_count") > 0
    # The description of the instance, as redis_exporter labels it.
    info = [k for k in samples if k[0] == "redis_instance_info"]
    assert len(info) == 1 and ("redis_version", "7.0.15") in info[0][1]


def test_key_family_evictions_and_memory_follow_the_keyspace(strata_factory):
    server = strata_factory("--stats-key-family", "big", "big:*", "--maxmemory", "16mb",
                            "--maxmemory-policy", "allkeys-lru")
    r = server.client()
    pipe = r.pipeline(transaction=False)
    for i in range(6000):  # 24 MB into 16 MB
        pipe.set(f"big:{i}", "v" * 4000)
    pipe.execute()
    # The census is a periodic walk: once eviction has settled, its next pass counts every key.
    deadline = time.monotonic() + 10
    while True:
        line = r.info("keyfamilies")["keyfamily0"]
        if line["keys"] == r.dbsize() or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert line["name"] == "big"
    assert line["evictions"] == r.info("stats")["evicted_keys"] > 0
    assert line["keys"] == r.dbsize()
    assert line["keys"] > 1000
    assert 4000 * line["keys"] < line["memory"] < 16 * 1024 * 1024
    r.config_resetstat()
    assert r.info("keyfamilies")["keyfamily0"]["evictions"] == 0


class Process:
    """A helper process we start and end by its own PID."""

    def __init__(self, argv, workdir, name):
        self.log = open(pathlib.Path(workdir) / f"{name}.log", "wb")
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def promql(port, expr):
    query = urllib.parse.urlencode({"query": expr})
    return json.loads(http_get(f"http://127.0.0.1:{port}/api/v1/query?{query}"))


def dashboard_queries():
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_prometheus_scrapes_strata_and_every_dashboard_query_returns_data(observed, tmp_path):
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: strata\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{observed.metrics_port}']\n")
    prometheus = Process([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{prom_port}"], tmp_path, "prometheus")
    try:
        def strata_is_up():
            result = promql(prom_port, 'up{job="strata"}')["data"]["result"]
            return result and result[0]["value"][1] == "1"
        wait_until(strata_is_up, 60, "Prometheus to scrape strata")
        r = observed.client()
        # Traffic across several scrapes, so every rate() window holds two samples that differ.
        for round_ in range(3):
            traffic(r, rounds=1) if round_ == 0 else traffic_light(r)
            time.sleep(1.5)
        time.sleep(1.5)
        empty = []
        for expr in dashboard_queries():
            answer = promql(prom_port, expr)
            assert answer["status"] == "success", (expr, answer)
            if not answer["data"]["result"]:
                empty.append(expr)
        assert not empty, f"dashboard queries without data: {empty}"
        # The scrape itself is clean: Prometheus parsed every sample strata sent.
        assert promql(prom_port, 'scrape_samples_scraped{job="strata"}')["data"]["result"][0]["value"][1] != "0"
    finally:
        prometheus.stop()


def traffic_light(r):
    """A little of everything again, so rates over the window are not all zero."""
    for i in range(20):
        r.get(f"user:{i}")
        r.get(f"sess:{i}")
        r.get(f"user:missing:{i}")
    for i in range(11, 21):
        r.get(f"product:{i}")
    with pytest.raises(Exception):
        r.lpush("user:1", "x")
    for i in range(0, 4000, 400):
        r.get(f"fill:0:{i}")
    blob = "y" * 2000
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"more:{time.monotonic_ns()}:{i}", blob)
    pipe.execute()
    r.publish("__strata__:invalidate", json.dumps({"key": "product:2", "ts": int(time.time() * 1000) - 5}))


def test_redis_exporter_reads_strata_without_errors(strata, tmp_path):
    port = free_port()
    exporter = Process([REDIS_EXPORTER, "-redis.addr", f"redis://127.0.0.1:{strata.port}",
                        "-web.listen-address", f"127.0.0.1:{port}"], tmp_path, "redis_exporter")
    try:
        r = strata.client()
        r.set("k", "v")
        r.get("k")
        samples = {}

        def scraped():
            nonlocal samples
            samples, _ = scrape(port)
            return ("redis_up", frozenset()) in samples
        wait_until(scraped, 30, "redis_exporter to answer")
        assert value(samples, "redis_up") == 1
        assert value(samples, "redis_exporter_last_scrape_error", err="") == 0
        assert value(samples, "redis_connected_clients") >= 1
        assert value(samples, "redis_commands_total", cmd="get") >= 1
        assert value(samples, "redis_db_keys", db="db0") == 1
        # What the exporter asked strata, strata answered without an error.
        errors = {k: v for k, v in r.info("errorstats").items()}
        assert errors == {}, errors
    finally:
        exporter.stop()

"""Read-through loaders against an HTTP source: a small server written for these tests (in this
process, loopback only) that counts requests per path and whose answers a test can change
(status, delay, body), so stale-if-error, timeouts and the circuit breaker can be exercised.
"""
import json
import socket
import time

import pytest

from helpers import concurrent_gets
from sources import HttpOrigin


class Origin(HttpOrigin):
    """The source of truth: /items/<id> answers from `items`, or with `status`/`delay` if set."""

    def __init__(self):
        self.items = {str(i): {"id": i, "name": f"item {i}", "price": i * 2} for i in range(1, 101)}
        self.status = 200
        self.delay = 0.0
        super().__init__()

    def get(self, request):
        with self.lock:
            status, delay = self.status, self.delay
        if delay:
            time.sleep(delay)
        item_id = request.path.rsplit("/", 1)[-1]
        with self.lock:
            item = self.items.get(item_id)
        if status != 200:
            body, code = b"origin trouble", status
        elif item is None:
            body, code = b"no such item", 404
        elif request.path.startswith("/api/items/"):
            body, code = json.dumps(item).encode(), 200
        else:
            body, code = item["name"].encode(), 200
        request.reply(code, body)


@pytest.fixture
def origin():
    with Origin() as o:
        yield o


def config(origin, *loaders, source_options=""):
    return "\n".join([f"source web http://127.0.0.1:{origin.port}/api {source_options}".rstrip(), *loaders]) + "\n"


def stats(client, template):
    raw = client.execute_command("LOADER", "STATS", template)
    return dict(zip(raw[::2], raw[1::2]))


def test_500_concurrent_readers_of_one_cold_key_cause_one_http_request(strata_factory, origin):
    origin.delay = 0.3
    server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}" timeout 5000'))
    concurrent_gets(server.port, "name:42", b"item 42")
    assert origin.requests("/api/names/42") == 1


def test_a_json_object_becomes_a_hash(strata_factory, origin):
    server = strata_factory(config=config(origin, 'loader item:{id} web "GET /items/{id}" type hash'))
    r = server.client()
    assert r.hgetall("item:7") == {"id": "7", "name": "item 7", "price": "14"}
    assert r.hget("item:8", "name") == "item 8"


def test_404_is_not_found_and_negatively_cached(strata_factory, origin):
    server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}" negative-ttl 30'))
    r = server.client()
    assert r.get("name:5000") is None
    assert r.get("name:5000") is None
    assert origin.requests("/api/names/5000") == 1
    assert r.dbsize() == 0


def test_captures_are_url_escaped(strata_factory, origin):
    server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}"'))
    r = server.client()
    assert r.get("name:../../admin") is None
    assert r.get("name:a b?c=d") is None
    assert origin.requests("/api/names/..%2F..%2Fadmin") == 1
    assert origin.requests("/api/names/a%20b%3Fc%3Dd") == 1


def test_http_500_serves_the_stale_value_when_there_is_one_and_fails_otherwise(strata_factory, origin):
    server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}" ttl 1 stale 60'))
    r = server.client()
    assert r.get("name:1") == "item 1"
    origin.status = 500
    time.sleep(1.2)
    assert r.get("name:1") == "item 1"  # stale, while the refresh fails
    deadline = time.monotonic() + 5
    while origin.requests("/api/names/1") < 2:
        assert time.monotonic() < deadline, "no refresh was attempted"
        time.sleep(0.05)
    time.sleep(0.1)
    assert r.get("name:1") == "item 1"  # still served after the failed refresh
    with pytest.raises(Exception, match=r"LOADERR name:\{id\}: HTTP 500"):
        r.get("name:2")
    assert r.keys("name:2") == []
    s = stats(r, "name:{id}")
    assert int(s["errors"]) >= 2 and int(s["stale_served"]) >= 2


def test_a_slow_origin_times_out_with_loaderr(strata_factory, origin):
    origin.delay = 1.0
    server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}" timeout 200'))
    r = server.client()
    started = time.monotonic()
    with pytest.raises(Exception, match=r"LOADERR name:\{id\}"):
        r.get("name:3")
    assert time.monotonic() - started < 0.9
    assert stats(r, "name:{id}")["timeouts"] == "1"


def test_the_breaker_opens_after_repeated_failures_and_closes_after_a_good_probe(strata_factory, origin):
    origin.status = 503
    server = strata_factory(config=config(origin, 'loader name:{id} web "GET /names/{id}"',
                                          source_options="breaker-failures 3 breaker-cooldown 1"))
    r = server.client()
    for i in range(3):
        with pytest.raises(Exception, match="HTTP 503"):
            r.get(f"name:{10 + i}")
    assert stats(r, "name:{id}")["breaker"] == "open"
    assert stats(r, "name:{id}")["breaker_opened"] == "1"
    sent = origin.total()
    with pytest.raises(Exception, match="circuit breaker open"):
        r.get("name:20")
    assert origin.total() == sent  # failed fast, the origin was not asked
    origin.status = 200
    time.sleep(1.1)
    assert r.get("name:21") == "item 21"  # the probe
    assert stats(r, "name:{id}")["breaker"] == "closed"
    assert r.get("name:22") == "item 22"


def test_a_refused_origin_fails_at_once(strata_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = strata_factory(config=f'source web http://127.0.0.1:{port}/api\nloader name:{{id}} web "GET /names/{{id}}" timeout 5000\n')
    r = server.client()
    started = time.monotonic()
    with pytest.raises(Exception, match="LOADERR"):
        r.get("name:1")
    assert time.monotonic() - started < 1.0  # no waiting for the 5 s timeout

"""The audit log (`audit-log FILE`): every administrative purge or configuration change is one JSON
line in FILE and a notice line in the log, saying who (client id, address, user, name), what,
how many keys, and when."""
import datetime
import json
import time

import pytest
import redis


def events(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def audited(strata_factory, tmp_path):
    path = tmp_path / "audit.jsonl"
    server = strata_factory("--audit-log", str(path))
    server.audit_path = path
    return server


def test_flushdb_and_flushall_say_who_and_how_many_keys(audited):
    r = audited.client()
    r.client_setname("ops-console")
    me = r.client_info()
    for i in range(5):
        r.set(f"k{i}", i)
    r.select(3)
    r.set("other", 1)
    r.flushdb()
    r.select(0)
    r.execute_command("FLUSHALL", "ASYNC")
    flushdb, flushall = events(audited.audit_path)
    assert flushdb["event"] == "flushdb" and flushdb["db"] == 3 and flushdb["keys"] == 1
    assert flushdb["mode"] == "sync"
    assert flushall["event"] == "flushall" and flushall["keys"] == 5 and flushall["mode"] == "async"
    assert flushall["client"] == {"id": int(me["id"]), "addr": me["addr"], "user": "default", "name": "ops-console"}
    when = datetime.datetime.strptime(flushall["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 10
    assert '"event":"flushall"' in audited.output(), "also a notice line in the log"


def test_config_set_is_recorded_with_passwords_redacted(audited):
    r = audited.client()
    r.config_set("maxmemory", "10mb")
    r.execute_command("CONFIG", "SET", "requirepass", "s3cret", "hz", "20")
    with pytest.raises(redis.ResponseError):
        r.config_set("hz", "not-a-number")  # refused: nothing changed, nothing recorded
    sets = [e for e in events(audited.audit_path) if e["event"] == "config-set"]
    assert [e["params"] for e in sets] == [{"maxmemory": "10mb"}, {"requirepass": "(redacted)", "hz": "20"}]
    assert "s3cret" not in audited.audit_path.read_text()
    assert "s3cret" not in audited.output()


def test_pattern_invalidations_record_the_keys_they_dropped(audited):
    r = audited.client()
    for i in range(7):
        r.set(f"product:{i}", i)
    r.set("user:1", 1)
    r.publish("__strata__:invalidate", json.dumps({"pattern": "product:[0-3]"}))
    wait_for(lambda: any(e["event"] == "invalidate-pattern" for e in events(audited.audit_path)))
    swept = next(e for e in events(audited.audit_path) if e["event"] == "invalidate-pattern")
    assert swept["pattern"] == "product:[0-3]" and swept["db"] == 0 and swept["keys"] == 4
    assert swept["client"]["id"] == int(r.client_id())
    assert r.execute_command("LOADER", "INVALIDATE", "product:*") == 3
    invalidate = events(audited.audit_path)[-1]
    assert invalidate["event"] == "loader-invalidate" and invalidate["pattern"] == "product:*"
    assert invalidate["keys"] == 3
    r.publish("__strata__:invalidate", "user:1")  # a named key is not a purge
    assert r.get("user:1") is None
    assert len(events(audited.audit_path)) == 2


def test_client_kill_and_shutdown_are_recorded(audited):
    admin, victim = audited.client(), audited.client()
    victim_addr = victim.client_info()["addr"]
    assert admin.client_kill(victim_addr)
    assert admin.client_kill_filter(_type="normal", skipme=True) == 0
    admin.shutdown(nosave=True)
    wait_for(lambda: audited.proc.poll() is not None)
    kill_by_addr, kill_by_filter, shutdown = events(audited.audit_path)
    assert kill_by_addr["event"] == "client-kill" and kill_by_addr["filter"] == victim_addr and kill_by_addr["killed"] == 1
    assert kill_by_filter["filter"].lower() == "type normal skipme yes" and kill_by_filter["killed"] == 0
    assert shutdown["event"] == "shutdown" and [a.lower() for a in shutdown["args"]] == ["nosave"]


def test_without_audit_log_file_events_still_reach_the_log(strata):
    r = strata.client()
    r.flushall()
    assert 'AUDIT {"time":' in strata.output() and '"event":"flushall"' in strata.output()


def test_an_audit_log_that_cannot_be_opened_stops_start_up(tmp_path):
    from conftest import start_strata
    with pytest.raises(RuntimeError, match="audit-log"):
        start_strata(tmp_path, "--audit-log", str(tmp_path / "no-such-dir" / "audit.jsonl"))

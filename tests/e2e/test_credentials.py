"""Credentials never appear in what the server shows (issue 14).

Sources whose URLs carry distinctive passwords (every one holds "S3cr3t" and "Pa55w0rd", plus a
tag saying which source it belongs to) are loaded through in every way a client can make them
work or fail, and then every output the server produces is searched for the passwords, in the
forms they may take: as written, percent-encoded, decoded, and (HTTP) as the Basic credentials
curl sends. The outputs: every reply received (the raw bytes of every connection, errors
included), INFO (every section), CONFIG GET, every LOADER subcommand, SLOWLOG, MONITOR, CLIENT
LIST, ACL LOG, LATENCY, MEMORY, DEBUG OBJECT, the Prometheus /metrics page, the log file, the
server's stdout/stderr, the audit log, and the errors printed when start-up fails on a source.

Not searched: the config file itself (CONFIG REWRITE must keep `source` lines as written, or the
server could not connect after a restart), and Redis's own secrets (requirepass, ACL passwords),
which CONFIG GET shows in Redis too.

The PostgreSQL is started by the test (tests/pg_harness/pg-harness.sh, loopback only); its
pg_hba.conf is given a scram-sha-256 line for the test's roles first, so the passwords in the
URLs are really checked (a load that works proves the password was decoded and sent). The HTTP
origin is in this process and answers only requests with the right Basic credentials and API
key header.
"""
import base64
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import STRATA_SERVER, free_port, start_strata
from helpers import ConnectionClosed, RespConnection
from sources import PSQL, HttpOrigin, Postgres


def enc(text):
    """Percent-encoded for the user info of a URL (every reserved character escaped)."""
    return urllib.parse.quote(text, safe="")


# The secrets. Each says which source it belongs to, so a leak names its source.
PG_USER, PG_PW = "app", "S3cr3t-Pa55w0rd-PG/@:%"           # percent-encoded in the URL
PGQ_USER, PGQ_PW = "app2", "S3cr3t-Pa55w0rd-PGQ&="         # as a ?password= parameter
PGDOWN_PW = "S3cr3t-Pa55w0rd-PGDOWN"                        # nothing listens on its port
PGWRONG_PW = "S3cr3t-Pa55w0rd-PGWRONG"                      # a wrong password for PG_USER
WEB_USER, WEB_PW = "app", "S3cr3t-Pa55w0rd-WEB:@%/"         # percent-encoded in the URL
API_TOKEN = "T0ken-S3cr3t-Pa55w0rd-HEADER"                  # a `header "X-Api-Key: ..."` option
WEBDOWN_PW = "S3cr3t-Pa55w0rd-WEBDOWN"                      # nothing listens on its port
WEBWRONG_PW = "S3cr3t-Pa55w0rd-WEBWRONG"                    # the origin answers 401
WEBTLS_PW = "S3cr3t-Pa55w0rd-WEBTLS"                        # https:// to a plain HTTP origin
# Passwords written into a URL without percent-encoding their reserved characters.
RAW_USER, RAW_PW = "app_raw", "S3cr3t?Pa55w0rd#RAW"         # libpq logs in with it as written
AT_USER, AT_PW = "app_at", "S3cr3t@Pa55w0rd-AT"
SLASH_PW = "S3cr3t/Pa55w0rd+SL="                            # as a base64 secret may look

# In every secret: any exposure of any of them, whole or in part, holds one of these.
GENERIC_NEEDLES = [("a secret's core 'Pa55w0rd'", "Pa55w0rd"), ("a secret's prefix 'S3cr3t'", "S3cr3t")]


def needles_for(tag, password, user=None, basic=False):
    """Every form of `password` that an output must not hold, labelled for the report."""
    forms = [(f"{tag} password as written", password),
             (f"{tag} password percent-encoded", enc(password)),
             (f"{tag} password percent-encoded except '/'", urllib.parse.quote(password)),
             (f"{tag} password percent-decoded", urllib.parse.unquote(password))]
    if basic:
        forms.append((f"{tag} Basic credentials (base64 of user:password)",
                      base64.b64encode(f"{user}:{password}".encode()).decode()))
    seen, out = set(), []
    for label, needle in forms:
        if needle.lower() not in seen:
            seen.add(needle.lower())
            out.append((label, needle))
    return out


class Exposure:
    """Every output the server gave, and where it came from; searched at the end."""

    def __init__(self, needles):
        self.needles = list(needles) + GENERIC_NEEDLES
        self.outputs = []

    def add(self, where, text):
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", errors="replace")
        self.outputs.append((where, text))

    def leaks(self):
        report = []
        for where, text in self.outputs:
            low = text.lower()
            hits = []
            for label, needle in self.needles:
                at = low.find(needle.lower())
                if at >= 0:
                    hits.append((label, at, len(needle)))
            if not hits:
                continue
            label, at, n = hits[0]
            snippet = text[max(0, at - 120):at + n + 60]
            labels = ", ".join(dict.fromkeys(h[0] for h in hits))
            report.append(f"- {where}\n    shows: {labels}\n    near: ...{snippet!r}...")
        return report

    def assert_nothing_shown(self):
        leaks = self.leaks()
        assert not leaks, (f"a source credential is shown in {len(leaks)} of {len(self.outputs)} outputs:\n"
                           + "\n".join(leaks))


# ---------------------------------------------------------------------------------------------
# Replies, recorded

def render(reply):
    """A reply as text, whole (no truncation): what a client would see."""
    kind, value = reply.kind, reply.value
    if value is None:
        return "(nil)"
    if kind in ("*", "~", ">"):
        return "[" + ", ".join(render(item) for item in value) + "]"
    if kind in ("%", "|"):
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in value) + "}"
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
        return f"(error) {text}" if kind in ("-", "!") else text
    return str(value)


def errors_in(reply):
    if reply.kind in ("-", "!"):
        yield reply.value.decode("utf-8", errors="replace")
    elif reply.kind in ("*", "~", ">") and reply.value:
        for item in reply.value:
            yield from errors_in(item)
    elif reply.kind in ("%", "|") and reply.value:
        for k, v in reply.value:
            yield from errors_in(k)
            yield from errors_in(v)


class Client(RespConnection):
    """A connection whose every reply, and every byte received, goes into the exposure."""

    def __init__(self, port, name, exposure, errors):
        super().__init__(port)
        self.name = name
        self.exposure = exposure
        self.errors = errors
        self.raw = bytearray()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionClosed(f"connection closed by the server (port {self.port})")
        self.raw += chunk
        if self.pos > (1 << 20):
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += chunk

    def cmd(self, *args):
        reply = self.call(*args)
        label = " ".join(str(a) for a in args)
        if len(label) > 120:
            label = label[:120] + "..."
        self.exposure.add(f"reply to `{label}` ({self.name})", render(reply))
        for error in errors_in(reply):
            self.errors.append((label, error))
        return reply

    def finish(self):
        self.exposure.add(f"every byte the connection '{self.name}' received", self.raw)
        self.close()


def pairs(reply):
    """A RESP2 flat array or a RESP3 map of bulk strings as a dict of str."""
    value = reply.py()
    if isinstance(value, dict):
        return {k.decode(): v.decode() if isinstance(v, bytes) else v for k, v in value.items()}
    value = [v.decode() if isinstance(v, bytes) else v for v in value]
    return dict(zip(value[::2], value[1::2]))


# ---------------------------------------------------------------------------------------------
# PostgreSQL, with password authentication for the test's roles

class PasswordPostgres(Postgres):
    """The module's PostgreSQL, where the test's roles must log in with their passwords."""

    prefix = "strata-pg-cred-"

    def login_works(self, user, password):
        env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5")
        out = subprocess.run([PSQL, f"postgresql://{user}@127.0.0.1:{self.port}/postgres", "-X", "-A", "-t", "-c",
                              "SELECT name FROM products WHERE id = 1"], capture_output=True, text=True, timeout=60,
                             env=env)
        return out.returncode == 0 and out.stdout.strip() == "product 1"

    def require_passwords(self, users):
        """Put a scram-sha-256 line for `users` before the harness's trust lines, and reload."""
        hba = pathlib.Path(self.dir) / "data" / "pg_hba.conf"
        text = hba.read_text()
        with open(hba, "w") as f:  # rewritten in place: the file keeps its owner
            f.write(f"host all {','.join(users)} 127.0.0.1/32 scram-sha-256\n" + text)
        self.sql("SELECT pg_reload_conf()")


@pytest.fixture(scope="module")
def pg():
    server = PasswordPostgres()
    try:
        server.start()
        server.sql("CREATE TABLE products (id integer PRIMARY KEY, name text NOT NULL)")
        server.sql("INSERT INTO products SELECT i, 'product ' || i FROM generate_series(1, 200) AS i")
        for user, password in [(PG_USER, PG_PW), (PGQ_USER, PGQ_PW), (RAW_USER, RAW_PW), (AT_USER, AT_PW)]:
            server.sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
            server.sql(f"GRANT SELECT ON products TO {user}")
        server.require_passwords([PG_USER, PGQ_USER, RAW_USER, AT_USER])
        # The passwords matter: the right one logs in, a wrong one does not.
        assert server.login_works(PG_USER, PG_PW), "the test role cannot log in with its password"
        assert not server.login_works(PG_USER, PGWRONG_PW), "pg_hba.conf does not check passwords"
        yield server
    finally:
        server.destroy()


# ---------------------------------------------------------------------------------------------
# The HTTP origin: answers only with the right Basic credentials and API key

class Origin(HttpOrigin):
    """/api/names/<id>, /api/items/<id> (JSON), /api/slow/ (1 s), /api/boom/ (500), /api/flaky/ (500
    while `failing`), /api/moved/ (302): to requests with the right Basic credentials and API key
    only; a request without them is 401. `authorized` and `refused` count them."""

    def __init__(self):
        self.failing = False
        self.authorized = 0
        self.refused = 0
        self.expected_auth = "Basic " + base64.b64encode(f"{WEB_USER}:{WEB_PW}".encode()).decode()
        super().__init__()

    def get(self, request):
        if (request.headers.get("Authorization") != self.expected_auth
                or request.headers.get("X-Api-Key") != API_TOKEN):
            with self.lock:
                self.refused += 1
            request.reply(401, b"unauthorized", [("WWW-Authenticate", 'Basic realm="origin"')])
            return
        with self.lock:
            self.authorized += 1
            failing = self.failing
        parts = request.path.split("/")  # ['', 'api', kind, id]
        if len(parts) != 4 or parts[1] != "api":
            request.reply(404, b"no such path")
            return
        kind, item = parts[2], parts[3]
        known = item.isdigit() and 1 <= int(item) <= 100
        if kind == "names":
            request.reply(200, f"item {item}".encode()) if known else request.reply(404, b"no such item")
        elif kind == "items":
            if known:
                request.reply(200, json.dumps({"id": int(item), "name": f"item {item}"}).encode())
            else:
                request.reply(404, b"no such item")
        elif kind == "slow":
            time.sleep(1.0)
            request.reply(200, b"slow")
        elif kind == "boom":
            request.reply(500, b"origin trouble")
        elif kind == "flaky":
            request.reply(500, b"origin trouble") if failing else request.reply(200, f"flaky {item}".encode())
        elif kind == "moved":
            request.reply(302, b"", [("Location", "/api/names/1")])
        else:
            request.reply(404, b"no such path")


@pytest.fixture
def origin():
    with Origin() as o:
        yield o


def unused_port():
    """A loopback port where nothing listens (bound, then released)."""
    return free_port()


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8", errors="replace")


def read_monitor(monitor, seconds=0.5):
    """The MONITOR lines received so far (the connection is left open)."""
    lines = []
    monitor.settimeout(seconds)
    while True:
        try:
            lines.append(monitor.read_reply())
        except (socket.timeout, TimeoutError):
            return lines


# ---------------------------------------------------------------------------------------------
# The whole surface of a running server

def test_no_output_of_a_running_server_shows_a_source_password(strata_factory, pg, origin, tmp_path):
    pg_down_port, web_down_port, metrics_port = unused_port(), unused_port(), free_port()
    config = "\n".join([
        f"source pg postgresql://{PG_USER}:{enc(PG_PW)}@127.0.0.1:{pg.port}/postgres notify-channel strata_cred pool 2",
        'loader pg:{id} pg "SELECT name FROM products WHERE id = :id" negative-ttl 5',
        'loader pgh:{id} pg "SELECT name, id FROM products WHERE id = :id" type hash',
        'loader pgslow:{id} pg "SELECT name FROM products, pg_sleep(1) WHERE id = :id" timeout 200',
        'loader pgbad:{id} pg "SELECT name FROM no_such_table WHERE id = :id"',
        f"source pgq postgres://{PGQ_USER}@127.0.0.1:{pg.port}/postgres?password={enc(PGQ_PW)}",
        'loader pgq:{id} pgq "SELECT name FROM products WHERE id = :id"',
        f"source pgdown postgresql://{PG_USER}:{enc(PGDOWN_PW)}@127.0.0.1:{pg_down_port}/postgres",
        'loader pgdown:{id} pgdown "SELECT name FROM products WHERE id = :id" timeout 500',
        f"source pgwrong postgresql://{PG_USER}:{enc(PGWRONG_PW)}@127.0.0.1:{pg.port}/postgres",
        'loader pgwrong:{id} pgwrong "SELECT name FROM products WHERE id = :id"',
        f'source web http://{WEB_USER}:{enc(WEB_PW)}@127.0.0.1:{origin.port}/api header "X-Api-Key: {API_TOKEN}"',
        'loader web:{id} web "GET /names/{id}" negative-ttl 5',
        'loader webh:{id} web "GET /items/{id}" type hash',
        'loader webslow:{id} web "GET /slow/{id}" timeout 200',
        'loader webboom:{id} web "GET /boom/{id}"',
        'loader webmoved:{id} web "GET /moved/{id}"',
        'loader webstale:{id} web "GET /flaky/{id}" ttl 1 stale 30',
        f"source webdown http://{WEB_USER}:{enc(WEBDOWN_PW)}@127.0.0.1:{web_down_port}/api",
        'loader webdown:{id} webdown "GET /names/{id}"',
        f"source webwrong http://{WEB_USER}:{enc(WEBWRONG_PW)}@127.0.0.1:{origin.port}/api",
        'loader webwrong:{id} webwrong "GET /names/{id}"',
        f"source webtls https://{WEB_USER}:{enc(WEBTLS_PW)}@127.0.0.1:{origin.port}/api",
        'loader webtls:{id} webtls "GET /names/{id}" timeout 1000',
    ]) + "\n"
    templates = ["pg:{id}", "pgh:{id}", "pgslow:{id}", "pgbad:{id}", "pgq:{id}", "pgdown:{id}", "pgwrong:{id}",
                 "web:{id}", "webh:{id}", "webslow:{id}", "webboom:{id}", "webmoved:{id}", "webstale:{id}",
                 "webdown:{id}", "webwrong:{id}", "webtls:{id}"]
    logfile, audit = tmp_path / "strata.log", tmp_path / "audit.jsonl"
    server = strata_factory("--loglevel", "debug", "--logfile", logfile, "--audit-log", audit,
                            "--metrics-port", metrics_port, "--latency-monitor-threshold", "1", config=config)

    exposure = Exposure(needles_for("pg", PG_PW) + needles_for("pgq", PGQ_PW) + needles_for("pgdown", PGDOWN_PW)
                        + needles_for("pgwrong", PGWRONG_PW) + needles_for("web", WEB_PW, WEB_USER, basic=True)
                        + needles_for("web api-key header", API_TOKEN)
                        + needles_for("webdown", WEBDOWN_PW, WEB_USER, basic=True)
                        + needles_for("webwrong", WEBWRONG_PW, WEB_USER, basic=True)
                        + needles_for("webtls", WEBTLS_PW, WEB_USER, basic=True))
    errors = []    # (command, error text) of every error received
    problems = []  # the test did not exercise what it means to: reported after the leaks

    def expect(condition, what):
        if not condition:
            problems.append(what)

    def error_for(prefix):
        return [text for _, text in errors if text.startswith(prefix)]

    c = Client(server.port, "main", exposure, errors)
    c.cmd("CLIENT", "SETNAME", "cred-test")
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    c.cmd("CONFIG", "SET", "slowlog-max-len", "100000")
    monitor = Client(server.port, "monitor", exposure, errors)
    expect(monitor.cmd("MONITOR").value == b"OK", "MONITOR did not start")

    # Reads through every loader: found, not found, invalid input, errors, timeouts.
    for key in ["pg:1", "pg:2", "pg:199999", "pg:abc", "pgq:3", "pgq:199999", "pgslow:1", "pgbad:1", "pgdown:1",
                "pgdown:2", "pgwrong:1", "pgwrong:2", "web:1", "web:2", "web:5000", "webslow:1", "webboom:1",
                "webmoved:1", "webdown:1", "webdown:2", "webwrong:1", "webtls:1", "webstale:1"]:
        c.cmd("GET", key)
    for n in range(3, 10):  # enough failures to open the failing sources' circuit breakers
        c.cmd("GET", f"pgdown:{n}")
        c.cmd("GET", f"webdown:{n}")
        c.cmd("GET", f"pgwrong:{n}")
    c.cmd("HGETALL", "pgh:2")
    c.cmd("HGET", "pgh:3", "name")
    c.cmd("HMGET", "pgh:4", "name", "id")
    c.cmd("HGETALL", "webh:2")
    c.cmd("HEXISTS", "webh:3", "name")
    c.cmd("MGET", "pg:5", "pg:6", "pgq:5", "web:5", "web:6", "pg:199998")
    c.cmd("MGET", "pg:7", "pgdown:40", "web:7", "webdown:40", "webwrong:40")
    c.cmd("EXISTS", "pg:8", "pgwrong:41", "webboom:41")
    c.cmd("STRLEN", "webdown:42")
    c.cmd("GETRANGE", "pgdown:43", "0", "-1")
    c.cmd("GETEX", "webtls:44")
    c.cmd("EVAL", "return redis.call('GET', KEYS[1])", "1", "pgdown:45")
    c.cmd("EVAL", "local r = redis.pcall('GET', KEYS[1]) "
          "if type(r) == 'table' and r.err then return 'caught: ' .. r.err end return r", "1", "webwrong:46")
    c.cmd("EVAL", "return redis.call('GET', KEYS[1])", "1", "pg:9")
    c.cmd("MULTI")
    c.cmd("GET", "pgdown:47")
    c.cmd("GET", "webboom:47")
    c.cmd("GET", "pg:10")
    c.cmd("EXEC")

    expect(c.cmd("GET", "pg:1").value == b"product 1",
           "pg:1 did not load through the password-authenticated PostgreSQL source")
    expect(c.cmd("GET", "pgq:3").value == b"product 3", "pgq:3 did not load through the ?password= source")
    expect(c.cmd("GET", "web:1").value == b"item 1", "web:1 did not load through the HTTP source with credentials")
    expect(pairs(c.cmd("HGETALL", "webh:2")) == {"id": "2", "name": "item 2"}, "webh:2 is not the item's hash")
    expect(error_for("LOADERR pgdown:{id}"), "no LOADERR from the PostgreSQL source that is down")
    expect(any("password authentication failed" in e for e in error_for("LOADERR pgwrong:{id}")),
           "no authentication failure from the PostgreSQL source with a wrong password")
    expect(any("timed out" in e for e in error_for("LOADERR pgslow:{id}")), "no timeout from pgslow")
    expect(error_for("LOADERR pgbad:{id}"), "no SQL error from pgbad")
    expect(any("HTTP 500" in e for e in error_for("LOADERR webboom:{id}")), "no HTTP 500 from webboom")
    expect(any("timed out" in e for e in error_for("LOADERR webslow:{id}")), "no timeout from webslow")
    expect(error_for("LOADERR webdown:{id}"), "no LOADERR from the HTTP source that is down")
    expect(any("HTTP 401" in e for e in error_for("LOADERR webwrong:{id}")), "no HTTP 401 from webwrong")
    expect(error_for("LOADERR webtls:{id}"), "no TLS failure from webtls")
    expect(any("circuit breaker" in e for _, e in errors), "no circuit breaker opened")

    # Connections lost under the source (their reconnection), then NOTIFY invalidations.
    pg.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           f"WHERE usename IN ('{PG_USER}', '{PGQ_USER}')")
    deadline = time.monotonic() + 10
    while c.cmd("GET", f"pg:{int(time.monotonic() * 1000) % 100 + 100}").kind != "$":
        assert time.monotonic() < deadline, "the PostgreSQL source did not reconnect after its connections were killed"
        time.sleep(0.2)
    c.cmd("GET", "pg:11")
    deadline = time.monotonic() + 10
    while True:  # the LISTEN connection reconnects too: NOTIFY until the key is dropped
        pg.sql("NOTIFY strata_cred, 'pg:11'")
        time.sleep(0.2)
        if c.cmd("KEYS", "pg:11").value == []:
            break
        if time.monotonic() > deadline:
            problems.append("NOTIFY on the source's notify-channel did not drop pg:11")
            break
    pg.sql("""NOTIFY strata_cred, '{"pattern": "pg:1*"}'""")

    # Stale-while-revalidate whose refresh fails.
    origin.failing = True
    time.sleep(1.2)
    c.cmd("GET", "webstale:1")
    deadline = time.monotonic() + 5
    while int(pairs(c.cmd("LOADER", "STATS", "webstale:{id}"))["errors"]) < 1:
        if time.monotonic() > deadline:
            problems.append("the stale value's background refresh did not fail")
            break
        time.sleep(0.05)
    c.cmd("GET", "webstale:2")
    origin.failing = False

    # Every LOADER subcommand, and its errors.
    listing = c.cmd("LOADER", "LIST")
    shown = [pairs(entry) for entry in listing.value or []]
    expect(sorted(e.get("template") for e in shown) == sorted(templates), f"LOADER LIST lists {shown}")
    expect(all("127.0.0.1" in e.get("url", "") for e in shown), f"LOADER LIST shows no source URLs: {shown}")
    c.cmd("LOADER", "STATS")
    for template in templates:
        c.cmd("LOADER", "STATS", template)
    c.cmd("LOADER", "STATS", "nosuch:{id}")
    for key in ["pg:12", "pgq:12", "web:12", "webh:12", "pgdown:12", "pgwrong:12", "webboom:12", "webdown:12",
                "webwrong:12", "webtls:12", "webslow:12", "pgslow:12", "pgbad:12", "nomatch:12"]:
        c.cmd("LOADER", "REFRESH", key)
    c.cmd("LOADER", "INVALIDATE", "pg:1*")
    c.cmd("LOADER", "INVALIDATE", "web*")
    c.cmd("LOADER", "HELP")
    c.cmd("LOADER", "NOSUCH")
    c.cmd("LOADER")
    c.cmd("PUBLISH", "__strata__:invalidate", json.dumps({"pattern": "pgh:*"}))

    # A client without permission (ACL LOG), and a RESP3 client.
    c.cmd("ACL", "SETUSER", "limited", "on", "nopass", "+get", "+loader|list", "~web:*")
    limited = Client(server.port, "limited", exposure, errors)
    limited.cmd("AUTH", "limited", "anything")
    limited.cmd("GET", "pg:1")
    limited.cmd("GET", "pgdown:50")
    limited.cmd("LOADER", "STATS")
    limited.cmd("LOADER", "LIST")
    limited.cmd("GET", "webwrong:50")
    resp3 = Client(server.port, "resp3", exposure, errors)
    resp3.cmd("HELLO", "3")
    resp3.cmd("LOADER", "LIST")
    resp3.cmd("LOADER", "STATS")
    resp3.cmd("GET", "pgdown:51")
    resp3.cmd("GET", "webtls:51")
    resp3.cmd("HGETALL", "pgh:51")
    resp3.cmd("INFO", "loaders")
    resp3.cmd("CONFIG", "GET", "*")
    resp3.cmd("CLIENT", "INFO")

    # Every diagnostic output.
    for section in ["", "everything", "all", "default", "server", "clients", "memory", "persistence", "stats",
                    "replication", "cpu", "commandstats", "errorstats", "latencystats", "loaders", "keyfamilies",
                    "spill", "invalidation", "keyspace", "modules"]:
        c.cmd("INFO", *([section] if section else []))
    for pattern in ["*", "source", "loader", "*source*", "*loader*", "*url*", "*pass*", "*log*", "*audit*"]:
        c.cmd("CONFIG", "GET", pattern)
    c.cmd("CONFIG", "REWRITE")  # the file keeps the source lines (not searched); its log line is
    c.cmd("CLIENT", "LIST")
    c.cmd("CLIENT", "INFO")
    c.cmd("SLOWLOG", "LEN")
    slowlog = c.cmd("SLOWLOG", "GET", "100000")
    expect(slowlog.value and len(slowlog.value) > 50, "the slow log has few entries")
    c.cmd("ACL", "LOG")
    c.cmd("ACL", "LIST")
    for sub in [["LATEST"], ["DOCTOR"], ["HISTOGRAM"], ["HISTORY", "command"], ["GRAPH", "command"]]:
        c.cmd("LATENCY", *sub)
    c.cmd("GET", "pg:2")
    for sub in [["STATS"], ["DOCTOR"], ["MALLOC-STATS"], ["USAGE", "pg:2"]]:
        c.cmd("MEMORY", *sub)
    c.cmd("DEBUG", "OBJECT", "pg:2")
    c.cmd("COMMAND", "INFO", "loader", "loader|list")
    c.cmd("CLIENT", "KILL", "USER", "limited")
    c.cmd("FLUSHALL")

    metrics = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
    exposure.add("the Prometheus page /metrics", metrics)
    expect("strata_loader" in metrics, "/metrics has no loader metrics")

    lines = read_monitor(monitor)
    exposure.add("MONITOR output", "\n".join(render(line) for line in lines))
    # (strata's MONITOR shows neither admin commands such as LOADER, nor the reads whose loads failed)
    expect(any(b'"pg:1"' in (line.value or b"") for line in lines),
           f"MONITOR did not show the reads: {len(lines)} lines")

    for client in (c, monitor, limited, resp3):
        client.finish()

    assert server.stop() == 0  # SIGTERM: the shutdown's lines are in the log too
    log = logfile.read_text(errors="replace")
    exposure.add(f"the log file ({logfile.name})", log)
    exposure.add("the server's stdout/stderr", server.output())
    exposure.add(f"the audit log ({audit.name})", audit.read_text(errors="replace") if audit.exists() else "")
    expect("reads from source pgdown" in log, "the log does not name the loaders' sources")
    expect(audit.exists() and '"event":"flushall"' in audit.read_text(), "the audit log recorded nothing")
    expect(origin.authorized > 0 and origin.refused > 0, "the HTTP origin saw no authorized or no refused requests")

    exposure.assert_nothing_shown()
    assert not problems, "the test did not exercise what it means to:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Sources given on the command line

def test_sources_given_on_the_command_line_are_not_shown(strata_factory, pg, origin):
    down = unused_port()
    server = strata_factory(
        "--loglevel", "debug",
        "--source", "clipg", f"postgresql://{PG_USER}:{enc(PG_PW)}@127.0.0.1:{pg.port}/postgres",
        "--loader", "clipg:{id}", "clipg", "SELECT name FROM products WHERE id = :id",
        "--source", "cliweb", f"http://{WEB_USER}:{enc(WEB_PW)}@127.0.0.1:{origin.port}/api",
        "header", f"X-Api-Key: {API_TOKEN}",
        "--loader", "cliweb:{id}", "cliweb", "GET /names/{id}",
        "--source", "clidown", f"postgresql://{PG_USER}:{enc(PGDOWN_PW)}@127.0.0.1:{down}/postgres",
        "--loader", "clidown:{id}", "clidown", "SELECT name FROM products WHERE id = :id")
    exposure = Exposure(needles_for("pg", PG_PW) + needles_for("web", WEB_PW, WEB_USER, basic=True)
                        + needles_for("web api-key header", API_TOKEN) + needles_for("pgdown", PGDOWN_PW))
    errors = []
    c = Client(server.port, "cli", exposure, errors)
    assert c.cmd("GET", "clipg:1").value == b"product 1"
    assert c.cmd("GET", "cliweb:1").value == b"item 1"
    assert c.cmd("GET", "clidown:1").kind == "-"
    for args in [["LOADER", "LIST"], ["LOADER", "STATS"], ["INFO", "everything"], ["CONFIG", "GET", "*"],
                 ["CLIENT", "LIST"], ["CONFIG", "REWRITE"], ["MEMORY", "DOCTOR"], ["LATENCY", "DOCTOR"]]:
        c.cmd(*args)
    c.finish()
    assert server.stop() == 0
    exposure.add("the server's stdout/stderr (the log)", server.output())
    exposure.assert_nothing_shown()


# ---------------------------------------------------------------------------------------------
# Start-up refused because of a source or loader line

START_PW = "S3cr3t-Pa55w0rd-START"
LOADER_LINE = 'loader bad:{id} bad "SELECT name FROM products WHERE id = :id"'
HTTP_LOADER_LINE = 'loader bad:{id} bad "GET /names/{id}"'


def _long_http_query():
    # A query path longer than curl accepts in a URL (8,000,000 bytes): the URL check fails.
    return 'loader big:{id} bad "GET /' + "a" * 8_100_000 + '/{id}"'


START_UP_CASES = {
    # id: (config lines, extra arguments, text the error names)
    "postgres-bad-percent-escape": ([f"source bad postgresql://app:S3cr3t%zz{START_PW}@127.0.0.1:1/postgres",
                                     LOADER_LINE], [], "bad"),
    "postgres-nul-escape": ([f"source bad postgresql://app:{START_PW}%00x@127.0.0.1:1/postgres", LOADER_LINE], [],
                            "bad"),
    "postgres-unterminated-ipv6": ([f"source bad postgresql://app:{START_PW}@[::1/postgres", LOADER_LINE], [], "bad"),
    "postgres-empty-ipv6": ([f"source bad postgresql://app:{START_PW}@[]:5432/postgres", LOADER_LINE], [], "bad"),
    "postgres-junk-after-ipv6": ([f"source bad postgresql://app:{START_PW}@[::1]x/postgres", LOADER_LINE], [],
                                 "bad"),
    "postgres-unknown-query-parameter": ([f"source bad postgresql://app:{START_PW}@127.0.0.1:1/postgres?bogus=1",
                                          LOADER_LINE], [], "bad"),
    "postgres-password-parameter-bad-escape": (
        [f"source bad postgresql://app@127.0.0.1:1/postgres?password=x%zz{START_PW}", LOADER_LINE], [], "bad"),
    "postgres-bad-pool": ([f"source bad postgresql://app:{START_PW}@127.0.0.1:1/postgres pool 0", LOADER_LINE], [],
                          "pool"),
    "postgres-unknown-option": ([f"source bad postgresql://app:{START_PW}@127.0.0.1:1/postgres frobnicate yes",
                                 LOADER_LINE], [], "frobnicate"),
    "postgres-option-without-value": ([f"source bad postgresql://app:{START_PW}@127.0.0.1:1/postgres pool",
                                       LOADER_LINE], [], "source"),
    "postgres-bad-breaker": (
        [f"source bad postgresql://app:{START_PW}@127.0.0.1:1/postgres breaker-failures no", LOADER_LINE], [],
        "breaker-failures"),
    "postgres-defined-twice": ([f"source bad postgresql://app:{START_PW}@127.0.0.1:1/postgres",
                                f"source bad postgresql://app:{START_PW}@127.0.0.1:2/postgres", LOADER_LINE], [],
                               "twice"),
    "postgres-bad-loader-option": ([f"source bad postgresql://app:{START_PW}@127.0.0.1:1/postgres",
                                    LOADER_LINE + " ttl never"], [], "ttl"),
    "postgres-bad-url-on-the-command-line": (
        [], ["--source", "bad", f"postgresql://app:S3cr3t%zz{START_PW}@127.0.0.1:1/postgres"], "bad"),
    "http-bad-port": ([f"source bad http://app:{START_PW}@127.0.0.1:99999/api", HTTP_LOADER_LINE], [], "bad"),
    "http-base-url-with-query": ([f"source bad http://app:{START_PW}@127.0.0.1:1/api?x=1", HTTP_LOADER_LINE], [],
                                 "query"),
    "http-no-host": ([f"source bad http://app:{START_PW}@/api", HTTP_LOADER_LINE], [], "bad"),
    "http-unknown-option": ([f"source bad http://app:{START_PW}@127.0.0.1:1/api frobnicate yes", HTTP_LOADER_LINE],
                            [], "frobnicate"),
    "http-bad-loader-query": ([f"source bad http://app:{START_PW}@127.0.0.1:1/api", 'loader bad:{id} bad "GET nopath"'],
                              [], "nopath"),
    "http-query-longer-than-a-url-may-be": ([f"source bad http://app:{START_PW}@127.0.0.1:1/api", _long_http_query],
                                            [], "invalid URL"),
    "unsupported-scheme": ([f"source bad mysql://app:{START_PW}@127.0.0.1:3306/db", LOADER_LINE], [], "unsupported"),
}


def run_until_it_exits(argv, cwd, timeout=10):
    """Run a server that should refuse to start; it is killed (by PID) if it starts after all."""
    proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace")


@pytest.mark.parametrize("case", list(START_UP_CASES))
def test_a_source_that_stops_start_up_is_reported_without_its_password(case, tmp_path):
    lines, args, named = START_UP_CASES[case]
    conf = tmp_path / "strata.conf"
    conf.write_text("\n".join(line() if callable(line) else line for line in lines) + "\n")
    exposure = Exposure(needles_for("start-up", START_PW))
    for with_logfile in (False, True):
        logfile = tmp_path / "strata.log"
        argv = [STRATA_SERVER, *([conf] if lines else []), "--port", free_port(), "--bind", "127.0.0.1",
                "--loglevel", "debug", *args, *(["--logfile", logfile] if with_logfile else [])]
        code, out, err = run_until_it_exits(argv, tmp_path)
        where = "with --logfile" if with_logfile else "logging to stdout"
        log = logfile.read_text(errors="replace") if with_logfile and logfile.exists() else ""
        shown = out + err + log
        assert code not in (0, None, -signal.SIGKILL), f"the server started ({where}); output:\n{shown[-2000:]}"
        assert named in shown, f"the start-up error ({where}) does not say what is wrong:\n{shown[-2000:]}"
        exposure.add(f"stdout when start-up fails ({where})", out)
        exposure.add(f"stderr when start-up fails ({where})", err)
        if with_logfile:
            exposure.add("the log file when start-up fails", log)
    exposure.assert_nothing_shown()


# ---------------------------------------------------------------------------------------------
# Passwords whose reserved characters were not percent-encoded in the URL

RAW_CASES = {
    # '?' and '#' do not end the user info for libpq: it logs in with the password as written.
    "question-mark-and-hash": (RAW_USER, RAW_PW, True),
    # libpq ends the user info at the first '@'; the rest of the password reads as the host.
    "at-sign": (AT_USER, AT_PW, False),
    # '/' ends the authority for libpq: "app:S3cr3t" reads as host and port.
    "slash": (PG_USER, SLASH_PW, False),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_a_password_with_unescaped_reserved_characters_is_not_shown(case, strata_factory, pg, tmp_path):
    user, password, loads = RAW_CASES[case]
    logfile = tmp_path / "strata.log"
    config = (f"source raw postgresql://{user}:{password}@127.0.0.1:{pg.port}/postgres\n"
              'loader raw:{id} raw "SELECT name FROM products WHERE id = :id"\n')
    exposure = Exposure(needles_for("raw", password)
                        + [(f"raw password's part {part!r}", part)
                           for part in password.replace("?", " ").replace("#", " ").replace("@", " ")
                           .replace("/", " ").split() if len(part) >= 4])
    try:
        server = strata_factory("--loglevel", "debug", "--logfile", logfile, config=config)
    except RuntimeError as refused:  # refusing such a URL at start-up is fine, if it says so without it
        exposure.add("the start-up error", str(refused))
        exposure.add("the log file", logfile.read_text(errors="replace") if logfile.exists() else "")
        exposure.assert_nothing_shown()
        return
    errors = []
    c = Client(server.port, "raw", exposure, errors)
    first = c.cmd("GET", "raw:1")
    if loads:
        assert first.value == b"product 1", f"libpq did not log in with the password as written: {render(first)}"
    for args in [["GET", "raw:2"], ["LOADER", "REFRESH", "raw:3"], ["LOADER", "LIST"], ["LOADER", "STATS"],
                 ["INFO", "everything"], ["CONFIG", "GET", "*"], ["MEMORY", "DOCTOR"]]:
        c.cmd(*args)
    c.finish()
    assert server.stop() == 0
    exposure.add("the log file", logfile.read_text(errors="replace"))
    exposure.add("the server's stdout/stderr", server.output())
    exposure.assert_nothing_shown()

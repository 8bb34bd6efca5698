"""Guardrails for sensitive data in loaders (issue 14), against PostgreSQL and HTTP(S) sources:

- `redact COLUMN[,COLUMN]`: a hash loader's columns (a PostgreSQL row's columns, an HTTP JSON
  object's members) and a string loader's top-level JSON members are dropped before the value is
  stored, without regard to case.
- `max-ttl SECONDS`: caps the loaded key's TTL (over ttl, jitter and stale), the negative cache,
  and client writes to the loader's keys.
- Transport: an https source verifies the origin's certificate, always: against `ca-file PATH`
  or else the system's CAs; a PostgreSQL source takes libpq's `sslmode`/`sslrootcert` in its URL.

The SQLite versions of the redact and max-ttl tests are in test_loader_guardrails.py. One
PostgreSQL (tests/pg_harness/pg-harness.sh) serves the whole module; it is switched to ssl = on
with a server certificate signed by a CA made with the openssl CLI (certs.py).
"""
import json
import os
import pathlib
import shutil
import ssl
import time
from http.server import ThreadingHTTPServer

import pytest
import redis

from certs import EC, make_ca, make_cert
from sources import HttpOrigin, Postgres


def pttl_seconds(client, key):
    return client.pttl(key) / 1000


def stats(client, template):
    raw = client.execute_command("LOADER", "STATS", template)
    return dict(zip(raw[::2], raw[1::2]))


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def loaderr(client, key, command="GET"):
    """The error reply a read gets (a redis ResponseError's text), or fails if it got a value."""
    with pytest.raises(redis.ResponseError) as failed:
        client.execute_command(command, key)
    return str(failed.value)


# ---------------------------------------------------------------------------------------------
# Certificates: made with the openssl CLI, once for the module.

# EC keys, and the extensions a strict verifier expects of a CA and of a server certificate.
CA_EXTENSIONS = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

LEAF_EXTENSIONS = """\
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_test_ca(directory, name):
    return make_ca(directory, name, f"strata e2e test CA {name}", key=EC, extensions=CA_EXTENSIONS)


def make_leaf(directory, name, ca, san):
    return make_cert(directory, name, name, ca, key=EC, extensions=LEAF_EXTENSIONS.format(san=san))


class Certs:
    """The module's certificates, each a (crt, key) pair of paths."""

    def __init__(self, directory):
        self.dir = directory
        self.ca = make_test_ca(directory, "ca")
        self.other_ca = make_test_ca(directory, "other-ca")
        # Signed by the trusted CA, for this host: what every TLS origin here presents.
        self.server = make_leaf(directory, "server", self.ca, "IP:127.0.0.1, DNS:localhost")
        # Signed by the trusted CA too, but for another name.
        self.wrong_name = make_leaf(directory, "wrong-name", self.ca, "DNS:other.example, IP:127.0.0.2")

    @property
    def ca_pem(self):
        return self.ca[0]

    @property
    def other_ca_pem(self):
        return self.other_ca[0]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("guardrail-certs")
    os.chmod(directory, 0o755)  # the postgres user reads the CA's directory path too
    return Certs(directory)


# ---------------------------------------------------------------------------------------------
# PostgreSQL: one per module, with ssl on.

class SslPostgres(Postgres):
    """The module's PostgreSQL, which enable_ssl() switches to ssl = on."""

    prefix = "strata-pg-guardrails-"
    ssl_problem = None  # why ssl did not turn on, if it did not

    @property
    def sql_url(self):
        # sslmode=disable: the fixture's own connection does not depend on the TLS set-up.
        return self.url + "?sslmode=disable"

    def log_tail(self):
        try:
            return "\n".join(pathlib.Path(self.dir, "postgres.log").read_text(errors="replace").splitlines()[-20:])
        except OSError as e:
            return str(e)

    def enable_ssl(self, cert, key):
        """ssl = on with `cert`/`key`: the files are copied next to the data directory, owned by the
        server's user (postgres refuses a key file others can read), then the config is reloaded."""
        cert_path = pathlib.Path(self.dir, "server.crt")
        key_path = pathlib.Path(self.dir, "server.key")
        shutil.copyfile(cert, cert_path)
        shutil.copyfile(key, key_path)
        os.chmod(cert_path, 0o644)
        os.chmod(key_path, 0o600)
        if os.geteuid() == 0:
            shutil.chown(cert_path, "postgres", "postgres")
            shutil.chown(key_path, "postgres", "postgres")
        self.sql(f"ALTER SYSTEM SET ssl_cert_file = '{cert_path}'")
        self.sql(f"ALTER SYSTEM SET ssl_key_file = '{key_path}'")
        self.sql("ALTER SYSTEM SET ssl = on")
        self.sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while self.sql("SHOW ssl") != "on":  # a reload is asynchronous; new sessions see it
            if time.monotonic() > deadline:
                self.ssl_problem = f"ssl did not turn on after a reload:\n{self.log_tail()}"
                return
            time.sleep(0.05)


@pytest.fixture(scope="module")
def postgres(certs):
    pg = SslPostgres()
    try:
        pg.start()
        # Mixed-case column names on purpose: redact matches them without regard to case.
        pg.sql('CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text, '
               '"Password_Hash" text, "CARD" text)')
        pg.sql("INSERT INTO users SELECT i, 'user ' || i, 'u' || i || '@example.com', "
               "'$2b$12$secret-hash-' || i, '4111-1111-1111-' || lpad(i::text, 4, '0') "
               "FROM generate_series(1, 200) AS i")
        pg.enable_ssl(*certs.server)
        yield pg
    finally:
        pg.destroy()


def pg_config(url, *loaders):
    return "\n".join([f"source pg {url}", *loaders]) + "\n"


# -- redact, PostgreSQL ------------------------------------------------------------------------

def test_postgres_hash_loader_never_stores_redacted_columns(strata_factory, postgres):
    server = strata_factory(config=pg_config(
        postgres.url, 'loader user:{id} pg "SELECT * FROM users WHERE id = :id" type hash redact PASSWORD_HASH,Card'))
    r = server.client()
    assert r.hgetall("user:7") == {"id": "7", "name": "user 7", "email": "u7@example.com"}
    assert r.hexists("user:7", "Password_Hash") == 0, "columns match redact without regard to case"
    assert r.hget("user:7", "CARD") is None
    assert r.hlen("user:7") == 3
    # The batched path (one query for many cold keys) redacts the same way.
    pipe = r.pipeline(transaction=False)
    for i in range(20, 40):
        pipe.hgetall(f"user:{i}")
    for i, row in zip(range(20, 40), pipe.execute()):
        assert row == {"id": str(i), "name": f"user {i}", "email": f"u{i}@example.com"}
    everything = repr(r.execute_command("HRANDFIELD", "user:7", "-10", "WITHVALUES"))
    assert "secret-hash" not in everything and "4111" not in everything


def test_postgres_row_whose_every_column_is_redacted_is_no_key(strata_factory, postgres):
    server = strata_factory(config=pg_config(
        postgres.url, 'loader secret:{id} pg "SELECT \'x\' AS card, name AS password_hash FROM users WHERE id = :id" '
                      'type hash redact password_hash,card'))
    r = server.client()
    assert r.hgetall("secret:3") == {}
    assert r.exists("secret:3") == 0


def test_postgres_string_loader_drops_redacted_members_of_json_build_object(strata_factory, postgres):
    # json_build_object writes `{"id" : 9, ...}` with spaces: the stored value is re-serialized compactly.
    query = ("SELECT json_build_object('id', id, 'name', name, 'Password_Hash', u.\\\"Password_Hash\\\", "
             "'card', u.\\\"CARD\\\", 'tags', json_build_array('a', 'b'), 'n', NULL, 'ok', true, "
             "'nested', json_build_object('card', 'inner'))::text FROM users u WHERE id = :id")
    server = strata_factory(config=pg_config(postgres.url, f'loader profile:{{id}} pg "{query}" redact password_hash,CARD'))
    r = server.client()
    assert r.get("profile:9") == compact({"id": 9, "name": "user 9", "tags": ["a", "b"], "n": None, "ok": True,
                                          "nested": {"card": "inner"}}), "only top-level members are redacted"


def test_postgres_string_loader_drops_redacted_members_of_row_to_json(strata_factory, postgres):
    query = "SELECT row_to_json(u)::text FROM users u WHERE id = :id"
    server = strata_factory(config=pg_config(postgres.url, f'loader row:{{id}} pg "{query}" redact password_hash,card'))
    r = server.client()
    value = r.get("row:11")
    assert value == compact({"id": 11, "name": "user 11", "email": "u11@example.com"})
    assert r.mget(["row:12", "row:13"]) == [compact({"id": i, "name": f"user {i}", "email": f"u{i}@example.com"})
                                            for i in (12, 13)]


def test_postgres_string_value_that_is_not_a_json_object_is_refused_not_stored_whole(strata_factory, postgres):
    server = strata_factory(config=pg_config(
        postgres.url,
        'loader email:{id} pg "SELECT email FROM users WHERE id = :id" redact email',
        'loader arr:{id} pg "SELECT json_build_array(json_build_object(\'card\', \\\"CARD\\\"))::text '
        'FROM users WHERE id = :id" redact card'))
    r = server.client()
    for key in ("email:4", "arr:4"):  # plain text, and a JSON array (not an object)
        with pytest.raises(redis.ResponseError, match="redact: the value is not a JSON object"):
            r.get(key)
        assert r.execute_command("DBSIZE") == 0, f"{key}: what cannot be redacted is not stored"


# -- max-ttl, PostgreSQL -----------------------------------------------------------------------

def test_postgres_max_ttl_caps_ttl_jitter_and_stale(strata_factory, postgres):
    server = strata_factory(config=pg_config(
        postgres.url, 'loader user:{id} pg "SELECT name FROM users WHERE id = :id" ttl 3600 jitter 50 stale 600 '
                      'max-ttl 30'))
    r = server.client()
    for i in range(1, 21):
        assert r.get(f"user:{i}") == f"user {i}"
        assert 25 < pttl_seconds(r, f"user:{i}") <= 30, "the cap holds over ttl, jitter and the stale window"
    keys = [f"user:{i}" for i in range(50, 100)]
    assert r.mget(keys) == [f"user {i}" for i in range(50, 100)]
    for key in keys:
        assert 25 < pttl_seconds(r, key) <= 30


def test_postgres_max_ttl_gives_a_loader_without_ttl_one_and_caps_the_negative_cache(strata_factory, postgres):
    server = strata_factory(config=pg_config(
        postgres.url, 'loader user:{id} pg "SELECT name FROM users WHERE id = :id" negative-ttl 3600 max-ttl 0.4'))
    r = server.client()
    assert r.get("user:1") == "user 1"
    assert 0 < r.pttl("user:1") <= 400
    assert r.get("user:9999") is None
    assert r.get("user:9999") is None  # a negative hit
    time.sleep(0.6)
    assert r.get("user:1") == "user 1"
    assert r.get("user:9999") is None
    s = stats(r, "user:{id}")
    assert s["loads"] == "2", "the key expired at the cap and was loaded again"
    assert s["negative_hits"] == "1", "the negative entry lasted no longer than the cap"


def test_postgres_client_writes_to_a_loaders_keys_cannot_outlive_max_ttl(strata_factory, postgres):
    server = strata_factory(config=pg_config(
        postgres.url, 'loader user:{id} pg "SELECT name FROM users WHERE id = :id" ttl 3600 max-ttl 60'))
    r = server.client()
    r.set("user:5000", "written")  # no TTL given
    assert 55 < pttl_seconds(r, "user:5000") <= 60
    r.set("user:5001", "written", ex=86400)
    assert pttl_seconds(r, "user:5001") <= 60
    r.set("user:5002", "written", ex=5)  # a shorter TTL stays
    assert 0 < pttl_seconds(r, "user:5002") <= 5
    assert r.expire("user:5001", 86400) is True
    assert 0 < pttl_seconds(r, "user:5001") <= 60
    r.persist("user:5001")
    assert 0 < pttl_seconds(r, "user:5001") <= 60, "PERSIST cannot lift the cap"
    # A loaded key, then PERSIST on it.
    assert r.get("user:3") == "user 3"
    r.persist("user:3")
    assert 0 < pttl_seconds(r, "user:3") <= 60
    r.set("other:1", "v")
    assert r.ttl("other:1") == -1, "keys outside the loader's template are untouched"


# -- PostgreSQL over TLS -----------------------------------------------------------------------

def test_postgres_tls_verify_full_against_the_test_ca_loads_and_a_wrong_ca_fails(strata_factory, postgres, certs):
    assert postgres.ssl_problem is None, postgres.ssl_problem
    good = (f"{postgres.url}?sslmode=verify-full&sslrootcert={certs.ca_pem}"
            "&application_name=strata-guardrails-tls")
    wrong = (f"{postgres.url}?sslmode=verify-full&sslrootcert={certs.other_ca_pem}"
             "&application_name=strata-guardrails-wrong")
    server = strata_factory(config="\n".join([
        f"source pgtls {good}",
        f"source pgwrong {wrong}",
        'loader tls:{id} pgtls "SELECT name FROM users WHERE id = :id"',
        'loader tlsh:{id} pgtls "SELECT * FROM users WHERE id = :id" type hash redact password_hash,card',
        'loader wrong:{id} pgwrong "SELECT name FROM users WHERE id = :id" timeout 2000',
    ]) + "\n")
    r = server.client()
    deadline = time.monotonic() + 10
    while True:  # the pool connects in the background; a read before it is up fails at once
        try:
            value = r.get("tls:42")
            break
        except redis.ResponseError:
            assert time.monotonic() < deadline, "no TLS connection to PostgreSQL came up"
            time.sleep(0.1)
    assert value == "user 42"
    assert r.hgetall("tlsh:43") == {"id": "43", "name": "user 43", "email": "u43@example.com"}
    rows = postgres.sql("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                        "WHERE a.application_name = 'strata-guardrails-tls'").split()
    assert rows and all(row == "t" for row in rows), f"pg_stat_ssl: {rows}"
    # The wrong CA: the certificate does not verify, so no connection and no value, ever.
    time.sleep(0.5)
    for _ in range(3):
        err = loaderr(r, "wrong:42")
        assert err.startswith("LOADERR") and "certificate verify failed" in err, err
        assert r.keys("wrong:*") == []
    assert postgres.sql("SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = 'strata-guardrails-wrong'") == "0"


def test_postgres_tls_sslmode_require_loads(strata_factory, postgres):
    assert postgres.ssl_problem is None, postgres.ssl_problem
    url = f"{postgres.url}?sslmode=require&application_name=strata-guardrails-require"
    server = strata_factory(config=pg_config(url, 'loader req:{id} pg "SELECT name FROM users WHERE id = :id"'))
    r = server.client()
    deadline = time.monotonic() + 10
    while True:
        try:
            assert r.get("req:8") == "user 8"
            break
        except redis.ResponseError:
            assert time.monotonic() < deadline, "no TLS connection to PostgreSQL came up"
            time.sleep(0.1)
    rows = postgres.sql("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                        "WHERE a.application_name = 'strata-guardrails-require'").split()
    assert rows and all(row == "t" for row in rows), f"pg_stat_ssl: {rows}"


# ---------------------------------------------------------------------------------------------
# HTTP(S) origin: JSON objects with secrets in them.

def user_doc(i):
    return {"id": i, "name": f"user {i}", "email": f"u{i}@example.com", "Password_Hash": f"$2b$12$secret-hash-{i}",
            "card": f"4111-1111-1111-{i:04d}", "tags": ["a", "b"], "n": None, "ok": True,
            "nested": {"card": "inner"}}


def flat_doc(i):
    return {"id": i, "name": f"user {i}", "email": f"u{i}@example.com", "password_hash": f"$2b$12$secret-hash-{i}",
            "CARD": f"4111-1111-1111-{i:04d}"}


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a handshake the client refused (the point of several tests) is no news


class Origin(HttpOrigin):
    """/api/users/<id>: a JSON object (pretty-printed, with spaces); /api/flat/<id>: a flat JSON
    object; /api/secret/<id>: an object of secrets only; /api/plain/<id>: text; /api/list/<id>: a
    JSON array. Unknown ids are 404. With `tls` (cert, key), served over https."""

    server_class = QuietServer

    def __init__(self, tls=None):
        context = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
        super().__init__(ssl_context=context)

    def get(self, request):
        parts = request.path.split("/")
        body, code = b"no such item", 404
        if len(parts) == 4 and parts[1] == "api" and parts[3].isdigit() and 1 <= int(parts[3]) <= 1000:
            kind, i = parts[2], int(parts[3])
            if kind == "users":
                body, code = json.dumps(user_doc(i), indent=1).encode(), 200
            elif kind == "flat":
                body, code = json.dumps(flat_doc(i)).encode(), 200
            elif kind == "secret":
                body, code = json.dumps({"password_hash": "x", "Card": "y"}).encode(), 200
            elif kind == "plain":
                body, code = f"user {i}".encode(), 200
            elif kind == "list":
                body, code = json.dumps([{"card": f"c{i}"}]).encode(), 200
        request.reply(code, body)


@pytest.fixture
def origin():
    with Origin() as o:
        yield o


@pytest.fixture
def tls_origin(certs):
    with Origin(tls=certs.server) as o:
        yield o


def web_config(origin, *loaders, source_options=""):
    return "\n".join([f"source web {origin.base} {source_options}".rstrip(), *loaders]) + "\n"


# -- redact, HTTP ------------------------------------------------------------------------------

def test_http_string_loader_drops_redacted_members_of_a_json_body(strata_factory, origin):
    server = strata_factory(config=web_config(origin, 'loader user:{id} web "GET /users/{id}" redact password_hash,CARD'))
    r = server.client()
    expected = {k: v for k, v in user_doc(7).items() if k not in ("Password_Hash", "card")}
    value = r.get("user:7")
    assert value == compact(expected), "top-level members dropped, the rest re-serialized compactly, in order"
    assert json.loads(value)["nested"] == {"card": "inner"}, "only top-level members are redacted"
    assert r.mget(["user:8", "user:9"]) == [compact({k: v for k, v in user_doc(i).items()
                                                     if k not in ("Password_Hash", "card")}) for i in (8, 9)]


def test_http_string_value_that_is_not_a_json_object_is_refused_not_stored_whole(strata_factory, origin):
    server = strata_factory(config=web_config(origin, 'loader plain:{id} web "GET /plain/{id}" redact name',
                                              'loader list:{id} web "GET /list/{id}" redact card'))
    r = server.client()
    for key in ("plain:3", "list:3"):  # plain text, and a JSON array (not an object)
        with pytest.raises(redis.ResponseError, match="redact: the value is not a JSON object"):
            r.get(key)
    assert r.execute_command("DBSIZE") == 0, "what cannot be redacted is not stored"


def test_http_hash_loader_never_stores_redacted_members(strata_factory, origin):
    server = strata_factory(config=web_config(
        origin, 'loader user:{id} web "GET /flat/{id}" type hash redact Password_Hash,card',
        'loader secret:{id} web "GET /secret/{id}" type hash redact password_hash,card'))
    r = server.client()
    assert r.hgetall("user:5") == {"id": "5", "name": "user 5", "email": "u5@example.com"}
    assert r.hget("user:5", "password_hash") is None and r.hget("user:5", "CARD") is None
    assert "secret-hash" not in repr(r.execute_command("HRANDFIELD", "user:5", "-10", "WITHVALUES"))
    # Every member redacted: no key.
    assert r.hgetall("secret:1") == {}
    assert r.exists("secret:1") == 0
    assert origin.requests("/api/secret/1") >= 1


# -- max-ttl, HTTP -----------------------------------------------------------------------------

def test_http_max_ttl_caps_ttl_jitter_stale_and_the_negative_cache(strata_factory, origin):
    server = strata_factory(config=web_config(
        origin, 'loader name:{id} web "GET /plain/{id}" ttl 3600 jitter 50 stale 600 max-ttl 30',
        'loader neg:{id} web "GET /plain/{id}" negative-ttl 3600 max-ttl 0.3',
        'loader user:{id} web "GET /flat/{id}" type hash max-ttl 20'))
    r = server.client()
    for i in range(1, 11):
        assert r.get(f"name:{i}") == f"user {i}"
        assert 25 < pttl_seconds(r, f"name:{i}") <= 30
    assert r.hget("user:2", "name") == "user 2"
    assert 15 < pttl_seconds(r, "user:2") <= 20, "a loader without ttl gets the cap"
    assert r.get("neg:5000") is None
    assert r.get("neg:5000") is None
    assert origin.requests("/api/plain/5000") == 1
    time.sleep(0.5)
    assert r.get("neg:5000") is None
    assert origin.requests("/api/plain/5000") == 2, "the negative entry lasted no longer than max-ttl"


def test_http_client_writes_to_a_loaders_keys_cannot_outlive_max_ttl(strata_factory, origin):
    server = strata_factory(config=web_config(origin, 'loader name:{id} web "GET /plain/{id}" max-ttl 45'))
    r = server.client()
    r.set("name:900", "written")
    assert 40 < pttl_seconds(r, "name:900") <= 45
    assert r.expire("name:900", 10_000) is True
    assert pttl_seconds(r, "name:900") <= 45
    r.persist("name:900")
    assert 0 < pttl_seconds(r, "name:900") <= 45
    r.set("name:901", "written", keepttl=True)
    assert 0 < pttl_seconds(r, "name:901") <= 45
    r.set("unrelated", "v")
    assert r.ttl("unrelated") == -1


# -- HTTPS: verification always on -------------------------------------------------------------

def test_https_with_ca_file_verifies_and_loads(strata_factory, tls_origin, certs):
    server = strata_factory(config=web_config(
        tls_origin, 'loader user:{id} web "GET /users/{id}" redact password_hash,card',
        'loader flat:{id} web "GET /flat/{id}" type hash redact password_hash,card',
        source_options=f"ca-file {certs.ca_pem}"))
    r = server.client()
    expected = {k: v for k, v in user_doc(4).items() if k not in ("Password_Hash", "card")}
    assert r.get("user:4") == compact(expected)
    assert r.hgetall("flat:4") == {"id": "4", "name": "user 4", "email": "u4@example.com"}
    assert tls_origin.requests("/api/users/4") == 1


def test_https_without_ca_file_uses_the_system_cas_and_refuses_a_test_ca(strata_factory, tls_origin):
    server = strata_factory(config=web_config(tls_origin, 'loader user:{id} web "GET /plain/{id}" timeout 3000'))
    r = server.client()
    err = loaderr(r, "user:4")
    assert err.startswith("LOADERR") and "certificate" in err, err
    assert r.keys("*") == []
    assert tls_origin.total() == 0, "no request was sent over an unverified connection"


def test_https_with_a_different_ca_fails(strata_factory, tls_origin, certs):
    server = strata_factory(config=web_config(tls_origin, 'loader user:{id} web "GET /plain/{id}" timeout 3000',
                                              source_options=f"ca-file {certs.other_ca_pem}"))
    r = server.client()
    err = loaderr(r, "user:4")
    assert err.startswith("LOADERR") and "certificate" in err, err
    err = loaderr(r, "user:5")
    assert err.startswith("LOADERR") and "certificate" in err, err
    assert r.keys("*") == []
    assert tls_origin.total() == 0


def test_https_certificate_for_another_name_fails_even_from_the_trusted_ca(strata_factory, certs):
    with Origin(tls=certs.wrong_name) as origin:
        server = strata_factory(config=web_config(origin, 'loader user:{id} web "GET /plain/{id}" timeout 3000',
                                                  source_options=f"ca-file {certs.ca_pem}"))
        r = server.client()
        err = loaderr(r, "user:4")
        assert err.startswith("LOADERR") and "certificate" in err, err
        assert origin.total() == 0, "the host name is verified, not only the chain"


def test_an_unreadable_ca_file_stops_startup(tmp_path, tls_origin):
    from conftest import start_strata
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(RuntimeError) as failed:
        start_strata(tmp_path, config=web_config(tls_origin, 'loader user:{id} web "GET /plain/{id}"',
                                                 source_options=f"ca-file {missing}"))
    assert "ca-file" in str(failed.value)

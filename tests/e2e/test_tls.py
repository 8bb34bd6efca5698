"""TLS client connections: a `tls-port` listener beside the plain port, with Redis's tls-* directives.

The certificates are made once per module with the openssl CLI: a CA; a server certificate for
CN=localhost (subjectAltName DNS:localhost, IP:127.0.0.1) signed by it, also with its key encrypted
under a password; a second server certificate (another CN, serial and key) for the reload test; a
client certificate signed by the CA; and an unrelated CA with a client certificate of its own,
which the server must not trust.

What is specified here, all through real clients on 127.0.0.1:

* redis-cli, redis-py and redis-benchmark speak to the TLS port, and the plain port serves the
  same keyspace: pipelines, MULTI/EXEC, a value far bigger than a TLS record or a read buffer,
  ten thousand pipelined commands, pub/sub between TLS and plain clients, RESP3 (HELLO 3).
* tls-auth-clients yes / optional / no decides which client certificates are accepted, at
  start-up and for new connections after CONFIG SET.
* A plain-text client on the TLS port is disconnected without a reply; a handshake cut mid-way,
  or a client that sends nothing, holds up no one else, and the cut handshake can still finish.
* CONFIG SET of tls-* rebuilds the TLS context for new connections only; a value OpenSSL refuses
  leaves the old one in place, with Redis's error text.
* tls-protocols and tls-key-file-pass behave as in Redis; a bad start-up TLS configuration stops
  the server with "Failed to configure TLS: ...".
* `--port 0` with a tls-port serves TLS only.
* CONFIG GET tls-* and the errors of CONFIG SET tls-* equal Debian's redis-server 7.0's.
"""
import csv
import io
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import time

import pytest
import redis

from certs import make_ca, make_cert, openssl
from conftest import STRATA_SERVER, free_port, start_redis
from helpers import DEFAULT_TIMEOUT, ConnectionClosed, RespConnection, Reply, strata_available, wait_until

pytestmark = pytest.mark.skipif(not strata_available(), reason=f"{STRATA_SERVER} is not built")

REDIS_CLI = "/usr/bin/redis-cli"
REDIS_BENCHMARK = "/usr/bin/redis-benchmark"
KEY_PASSWORD = "s3cret-pass"


def tls_update_error(argument):
    """Redis's reply when OpenSSL refuses the new tls-* values of a CONFIG SET."""
    return Reply("-", (f"ERR CONFIG SET failed (possibly related to argument '{argument}') - "
                       "Unable to update TLS configuration. Check server logs.").encode())


# ---------------------------------------------------------------------------------------------
# Certificates

class Certs:
    """Paths (str) of the module's certificates and keys."""

    def __init__(self, directory):
        self.dir = pathlib.Path(directory)

    def __getattr__(self, name):  # certs.server_crt -> <dir>/server.crt
        stem, _, ext = name.rpartition("_")
        if not stem:
            raise AttributeError(name)
        return str(self.dir / f"{stem.replace('_', '-')}.{ext}")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    san = "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
    ca = make_ca(directory, "ca", "Strata Test CA")
    other_ca = make_ca(directory, "other-ca", "Unrelated Test CA")
    make_cert(directory, "server", "localhost", ca, 1001, extensions=san)
    make_cert(directory, "reloaded", "strata-reloaded", ca, 1002, extensions=san)
    make_cert(directory, "client", "strata-client", ca, 2001)
    make_cert(directory, "intruder", "intruder", other_ca, 3001)
    openssl(directory, "rsa", "-in", "server.key", "-aes256", "-passout", f"pass:{KEY_PASSWORD}", "-out",
            "server-enc.key")
    assert "ENCRYPTED" in (directory / "server-enc.key").read_text()
    return Certs(directory)


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(pathlib.Path(pem_path).read_text())


# ---------------------------------------------------------------------------------------------
# Servers and clients

def tls_args(certs, tls_port, auth_clients=None, ca=True, cert=None, key=None):
    args = ["--tls-port", tls_port, "--tls-cert-file", cert or certs.server_crt,
            "--tls-key-file", key or certs.server_key]
    if ca:
        args += ["--tls-ca-cert-file", certs.ca_crt]
    if auth_clients is not None:
        args += ["--tls-auth-clients", auth_clients]
    return args


def start_tls(strata_factory, certs, *extra, auth_clients=None, ca=True, cert=None, key=None):
    """A strata server with a TLS listener; `server.tls_port` is its TLS port."""
    tls_port = free_port()
    server = strata_factory(*tls_args(certs, tls_port, auth_clients, ca, cert, key), *extra)
    server.tls_port = tls_port
    return server


@pytest.fixture
def oracle_factory(tmp_path):
    """Starts Debian's redis-server 7.0 (the oracle) with extra directives; all stopped after."""
    started = []

    def make(*args):
        workdir = tmp_path / f"redis-{len(started)}"
        workdir.mkdir()
        server = start_redis(workdir, *args)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def tls_pair(strata_factory, oracle_factory, certs, *extra, key=None):
    """(strata, redis-server), both with the same TLS directives; `.tls_port` on each."""
    servers = []
    for factory in (strata_factory, oracle_factory):
        tls_port = free_port()
        server = factory(*tls_args(certs, tls_port, key=key), *extra)
        server.tls_port = tls_port
        servers.append(server)
    return servers


def client_context(certs, identity="client", minimum=None, maximum=None):
    """A client SSLContext trusting the test CA; identity: 'client' (signed by the CA),
    'intruder' (signed by the unrelated CA) or None (no certificate)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs.ca_crt)
    if identity is not None:
        ctx.load_cert_chain(getattr(certs, f"{identity}_crt"), getattr(certs, f"{identity}_key"))
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def tls_socket(port, ctx, timeout=DEFAULT_TIMEOUT):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


class TlsConnection(RespConnection):
    """RespConnection over TLS (the server certificate is verified for 'localhost')."""

    def __init__(self, port, ctx, timeout=DEFAULT_TIMEOUT):
        self.port = port
        self.sock = tls_socket(port, ctx, timeout)
        self.buf = bytearray()
        self.pos = 0


def tls_client(server, certs, identity="client", **kwargs):
    """redis-py over TLS to `server`'s TLS port, checking the server certificate's IP address."""
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("socket_timeout", DEFAULT_TIMEOUT)
    kwargs.setdefault("socket_connect_timeout", DEFAULT_TIMEOUT)
    if identity is not None:
        kwargs.update(ssl_certfile=getattr(certs, f"{identity}_crt"), ssl_keyfile=getattr(certs, f"{identity}_key"))
    return redis.Redis(host="127.0.0.1", port=server.tls_port, ssl=True, ssl_ca_certs=certs.ca_crt,
                       ssl_check_hostname=True, **kwargs)


def plain(server):
    """A raw plain-text connection to the server's plain port."""
    return RespConnection(server.port)


def tls_ping(port, ctx):
    """PING over a new TLS connection; returns the reply and the protocol version negotiated."""
    with TlsConnection(port, ctx) as conn:
        return conn.call("PING"), conn.sock.version()


def refusal(port, ctx):
    """How the server refuses a new TLS client: the exception seen by the client. Under TLS 1.3
    the client finishes its handshake before the server checks its certificate, so the refusal
    may only show at the first read. Fails if the client is served, or if nothing happens."""
    try:
        with TlsConnection(port, ctx, timeout=5) as conn:
            reply = conn.call("PING")
    except (socket.timeout, TimeoutError) as e:
        raise AssertionError(f"the server neither served nor refused the client: {e!r}")
    except (ssl.SSLError, ConnectionClosed, ConnectionResetError, BrokenPipeError) as e:
        return e
    raise AssertionError(f"the client should have been refused, but PING got {reply!r}")


def assert_served(port, ctx):
    reply, _ = tls_ping(port, ctx)
    assert reply == Reply("+", b"PONG")


def config_get(conn, pattern):
    reply = conn.call("CONFIG", "GET", pattern)
    assert reply.kind == "*", reply
    items = [item.value.decode() for item in reply.value]
    return dict(zip(items[::2], items[1::2]))


def start_fails(workdir, *args, plain_port=None):
    """Run strata with these directives, expecting it to refuse to start: returns its output."""
    argv = [str(STRATA_SERVER), "--port", str(plain_port or free_port()), "--bind", "127.0.0.1",
            *map(str, args)]
    result = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=15)
    out = result.stdout.decode(errors="replace")
    assert "AddressSanitizer" not in out and "runtime error:" not in out, out[-4000:]
    assert result.returncode != 0, f"strata started (and exited 0) with {args}:\n{out[-2000:]}"
    return out


# ---------------------------------------------------------------------------------------------
# 1. redis-cli

def run_cli(*args, timeout=15):
    result = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", *map(str, args)], capture_output=True, timeout=timeout)
    return result.returncode, result.stdout.decode(errors="replace").strip(), result.stderr.decode(errors="replace")


def test_redis_cli_over_tls_and_plain_share_the_keyspace(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    tls = ["--tls", "--cacert", certs.ca_crt, "--cert", certs.client_crt, "--key", certs.client_key,
           "-p", server.tls_port]

    assert run_cli(*tls, "SET", "greeting", "hello over tls")[:2] == (0, "OK")
    assert run_cli(*tls, "GET", "greeting")[:2] == (0, "hello over tls")
    assert run_cli("-p", server.port, "GET", "greeting")[:2] == (0, "hello over tls")

    assert run_cli("-p", server.port, "SET", "from-plain", "42")[:2] == (0, "OK")
    assert run_cli(*tls, "INCR", "from-plain")[:2] == (0, "43")
    assert run_cli(*tls, "DBSIZE")[:2] == (0, "2")


# ---------------------------------------------------------------------------------------------
# 2. redis-py over TLS

@pytest.fixture
def tls_server(strata_factory, certs):
    return start_tls(strata_factory, certs)


def test_redis_py_commands_and_both_kinds_of_pipeline_over_tls(tls_server, certs):
    client = tls_client(tls_server, certs)
    try:
        assert client.ping() is True
        assert client.set("k", "v") is True
        assert client.get("k") == "v"

        pipe = client.pipeline(transaction=True)  # MULTI ... EXEC
        pipe.set("counter", 10).incrby("counter", 5).get("counter").rpush("list", "a", "b", "c").lrange("list", 0, -1)
        assert pipe.execute() == [True, 15, "15", 3, ["a", "b", "c"]]

        pipe = client.pipeline(transaction=False)
        pipe.incr("counter").hset("h", mapping={"f1": "1", "f2": "2"}).hgetall("h").delete("list").exists("list")
        assert pipe.execute() == [16, 2, {"f1": "1", "f2": "2"}, 1, 0]

        # An error inside MULTI/EXEC is a reply, not a lost connection.
        pipe = client.pipeline(transaction=True)
        pipe.set("s", "x").incr("s").get("s")
        results = pipe.execute(raise_on_error=False)
        assert results[0] is True and isinstance(results[1], redis.ResponseError) and results[2] == "x"
    finally:
        client.close()


def test_a_5mb_value_round_trips_over_tls(tls_server, certs):
    """Far bigger than a TLS record (16 KB) and the server's 64 KB read buffer, both ways."""
    value = os.urandom(5 * 1024 * 1024)
    client = tls_client(tls_server, certs, decode_responses=False, socket_timeout=30)
    try:
        assert client.set("big", value) is True
        assert client.strlen("big") == len(value)
        assert client.get("big") == value
        # The same bytes over the plain port, and a big value written there read over TLS.
        with plain(tls_server) as conn:
            assert conn.call("GET", "big") == Reply("$", value)
            assert conn.call("SET", "big2", value[::-1]) == Reply("+", b"OK")
        assert client.get("big2") == value[::-1]
        # Two of them in one pipeline.
        pipe = client.pipeline(transaction=False)
        pipe.get("big").get("big2")
        assert pipe.execute() == [value, value[::-1]]
    finally:
        client.close()


def test_ten_thousand_pipelined_sets_over_tls(tls_server, certs):
    client = tls_client(tls_server, certs, socket_timeout=30)
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(10_000):
            pipe.set(f"key:{i}", f"value-{i}")
        assert pipe.execute() == [True] * 10_000
        assert client.mget([f"key:{i}" for i in range(10_000)]) == [f"value-{i}" for i in range(10_000)]
        with plain(tls_server) as conn:
            assert conn.call("DBSIZE") == Reply(":", 10_000)
    finally:
        client.close()


def test_pubsub_between_tls_and_plain_clients(tls_server, certs):
    tls = tls_client(tls_server, certs)
    plain_client = tls_server.client(socket_timeout=DEFAULT_TIMEOUT)
    tls_sub = tls.pubsub(ignore_subscribe_messages=True)
    plain_sub = plain_client.pubsub(ignore_subscribe_messages=True)
    try:
        tls_sub.subscribe("news")
        tls_sub.psubscribe("alerts.*")
        plain_sub.subscribe("replies")
        # Subscriptions are registered once their confirmations were read.
        assert wait_until(lambda: plain_client.pubsub_numsub("news") == [("news", 1)], 5)
        assert wait_until(lambda: plain_client.pubsub_numpat() == 1, 5)
        assert wait_until(lambda: tls.pubsub_numsub("replies") == [("replies", 1)], 5)

        # Published on the plain port, received over TLS.
        assert plain_client.publish("news", "hello tls") == 1
        assert plain_client.publish("alerts.disk", "x" * 100_000) == 1
        got = [wait_until(lambda: tls_sub.get_message(timeout=0.2), 5) for _ in range(2)]
        assert got[0] == {"type": "message", "pattern": None, "channel": "news", "data": "hello tls"}
        assert got[1] == {"type": "pmessage", "pattern": "alerts.*", "channel": "alerts.disk", "data": "x" * 100_000}

        # Published over TLS, received on the plain port.
        assert tls.publish("replies", "hello plain") == 1
        message = wait_until(lambda: plain_sub.get_message(timeout=0.2), 5)
        assert message == {"type": "message", "pattern": None, "channel": "replies", "data": "hello plain"}
    finally:
        tls_sub.close()
        plain_sub.close()
        tls.close()
        plain_client.close()


def test_resp3_over_tls_with_hello_3(tls_server, certs):
    with TlsConnection(tls_server.tls_port, client_context(certs)) as conn:
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        hello = conn.call("HELLO", "3")
        assert hello.kind == "%", hello
        fields = hello.py()
        assert fields[b"proto"] == 3 and fields[b"server"] == b"redis"
        assert conn.call("HSET", "h", "a", "1") == Reply(":", 1)
        assert conn.call("HGETALL", "h") == Reply("%", [(Reply("$", b"a"), Reply("$", b"1"))])
        assert conn.call("GET", "missing") == Reply("_", None)
        assert conn.call("INCRBYFLOAT", "f", "1.5") == Reply("$", b"1.5")
        assert conn.call("ZADD", "z", "2.5", "m") == Reply(":", 1)
        assert conn.call("ZSCORE", "z", "m") == Reply(",", b"2.5")


# ---------------------------------------------------------------------------------------------
# 3. tls-auth-clients

# Which client identities each mode serves: none, a certificate from the CA, one from another CA.
AUTH_TABLE = {
    "yes": {None: False, "client": True, "intruder": False},
    "optional": {None: True, "client": True, "intruder": False},
    "no": {None: True, "client": True, "intruder": True},
}


def check_auth_table(port, certs, mode):
    for identity, served in AUTH_TABLE[mode].items():
        ctx = client_context(certs, identity)
        if served:
            assert_served(port, ctx)
        else:
            refusal(port, ctx)


@pytest.mark.parametrize("mode", ["yes", "optional", "no"])
def test_tls_auth_clients_at_start_up(strata_factory, certs, mode):
    server = start_tls(strata_factory, certs, "--loglevel", "verbose", auth_clients=mode)
    check_auth_table(server.tls_port, certs, mode)
    with plain(server) as conn:
        assert config_get(conn, "tls-auth-clients") == {"tls-auth-clients": mode}
    if mode != "no":
        # Each refusal is a failed handshake, logged at verbose level.
        assert wait_until(lambda: "Error accepting a client connection: " in server.output(), 5), server.output()


def test_tls_auth_clients_is_yes_by_default_and_no_needs_no_ca(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    check_auth_table(server.tls_port, certs, "yes")
    without_ca = start_tls(strata_factory, certs, auth_clients="no", ca=False)
    check_auth_table(without_ca.tls_port, certs, "no")


@pytest.mark.parametrize("identity, alert", [(None, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
                                             ("intruder", "TLSV1_ALERT_UNKNOWN_CA")])
def test_a_refused_tls12_client_is_told_why_with_an_alert(strata_factory, oracle_factory, certs, identity, alert):
    """Under TLS 1.2 the server checks the client's certificate inside the handshake; like Redis,
    it sends the fatal alert OpenSSL chose (no certificate: handshake_failure; a certificate from
    an unknown CA: unknown_ca) before closing, so the client can tell why it was refused."""
    strata, oracle = tls_pair(strata_factory, oracle_factory, certs)
    for server in (oracle, strata):  # the oracle first: it checks the test
        error = refusal(server.tls_port, client_context(certs, identity, maximum=ssl.TLSVersion.TLSv1_2))
        assert isinstance(error, ssl.SSLError) and error.reason == alert, \
            f"{server.name}: expected the alert {alert}, got {error!r}"


def test_config_set_tls_auth_clients_applies_to_new_connections(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    admin = plain(server)
    with_cert = TlsConnection(server.tls_port, client_context(certs, "client"))
    try:
        check_auth_table(server.tls_port, certs, "yes")
        assert admin.call("CONFIG", "SET", "tls-auth-clients", "optional") == Reply("+", b"OK")
        check_auth_table(server.tls_port, certs, "optional")

        assert admin.call("CONFIG", "SET", "tls-auth-clients", "no") == Reply("+", b"OK")
        check_auth_table(server.tls_port, certs, "no")
        without_cert = TlsConnection(server.tls_port, client_context(certs, None))
        intruder = TlsConnection(server.tls_port, client_context(certs, "intruder"))
        assert without_cert.call("SET", "who", "anonymous") == Reply("+", b"OK")

        # Back to yes: new clients without a good certificate are refused; the ones already
        # connected keep working.
        assert admin.call("CONFIG", "SET", "tls-auth-clients", "yes") == Reply("+", b"OK")
        assert config_get(admin, "tls-auth-clients") == {"tls-auth-clients": "yes"}
        check_auth_table(server.tls_port, certs, "yes")
        assert without_cert.call("GET", "who") == Reply("$", b"anonymous")
        assert intruder.call("PING") == Reply("+", b"PONG")
        assert with_cert.call("PING") == Reply("+", b"PONG")
        without_cert.close()
        intruder.close()
    finally:
        with_cert.close()
        admin.close()


# ---------------------------------------------------------------------------------------------
# 4. A plain-text client on the TLS port

def assert_no_resp_reply(data):
    """What a plain-text client read before being disconnected: nothing, or a TLS alert record
    (content type 21), never a RESP reply."""
    assert data == b"" or data[0] == 0x15, f"expected no reply (or a TLS alert), got {data[:100]!r}"
    assert b"PONG" not in data and b"ERR" not in data, data[:100]


def test_plain_text_client_on_the_tls_port_is_disconnected_without_a_reply(strata_factory, certs):
    server = start_tls(strata_factory, certs, "--loglevel", "verbose")
    tls = tls_client(server, certs)
    try:
        assert tls.set("before", "1") is True

        with RespConnection(server.tls_port, timeout=5) as conn:  # RESP multibulk
            conn.send("PING")
            assert_no_resp_reply(conn.read_until_closed(timeout=5))
        with RespConnection(server.tls_port, timeout=5) as conn:  # an inline command
            conn.send_raw(b"PING\r\n")
            assert_no_resp_reply(conn.read_until_closed(timeout=5))
        code, out, _ = run_cli("-p", server.tls_port, "PING")
        assert code != 0 and "PONG" not in out

        # Everyone else is still served: the TLS client connected before, new ones, plain ones.
        assert tls.get("before") == "1"
        assert_served(server.tls_port, client_context(certs))
        with plain(server) as conn:
            assert conn.call("GET", "before") == Reply("$", b"1")
        assert wait_until(lambda: "Error accepting a client connection: " in server.output(), 5), server.output()
    finally:
        tls.close()


# ---------------------------------------------------------------------------------------------
# 5. A handshake cut mid-way, and a client that says nothing

class PartialHandshake:
    """A TLS client driven by hand over a raw socket (ssl.MemoryBIO), so its ClientHello can be
    sent in pieces."""

    def __init__(self, port, ctx):
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError):
            self.tls.do_handshake()
        self.client_hello = self.outgoing.read()
        assert self.client_hello[0] == 0x16 and len(self.client_hello) > 100  # a handshake record
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT)

    def _flush(self):
        pending = self.outgoing.read()
        if pending:
            self.sock.sendall(pending)

    def _receive(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionClosed("the server closed the connection")
        self.incoming.write(data)

    def finish(self):
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self._receive()

    def call_raw(self, request, expected_length):
        self.tls.write(request)
        self._flush()
        data = b""
        while len(data) < expected_length:
            try:
                data += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._flush()
                self._receive()
        return data

    def close(self):
        self.sock.close()


def timed_round_trips(server, certs, rounds=3):
    start = time.monotonic()
    for i in range(rounds):
        client = tls_client(server, certs, socket_timeout=5, socket_connect_timeout=5)
        try:
            assert client.set(f"k{i}", i) is True and client.get(f"k{i}") == str(i)
        finally:
            client.close()
        with RespConnection(server.port, timeout=5) as conn:
            assert conn.call("GET", f"k{i}") == Reply("$", str(i).encode())
    return time.monotonic() - start


def test_a_cut_handshake_and_a_silent_client_hold_up_no_one(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    long_lived = tls_client(server, certs)
    assert long_lived.ping()
    cut = PartialHandshake(server.tls_port, client_context(certs))
    silent = socket.create_connection(("127.0.0.1", server.tls_port), timeout=DEFAULT_TIMEOUT)
    try:
        cut.sock.sendall(cut.client_hello[:10])
        time.sleep(0.2)  # the server has read the fragment and waits for the rest

        elapsed = timed_round_trips(server, certs)
        assert elapsed < 2.0, f"3 TLS + 3 plain round trips took {elapsed:.2f}s beside a stalled handshake"
        assert long_lived.set("still", "here") is True

        # The cut handshake resumes where it stopped, and that client is then served.
        cut.sock.sendall(cut.client_hello[10:])
        cut.finish()
        assert cut.tls.version() in ("TLSv1.2", "TLSv1.3")
        assert cut.call_raw(b"GET still\r\n", len(b"$4\r\nhere\r\n")) == b"$4\r\nhere\r\n"
    finally:
        cut.close()
        silent.close()
        long_lived.close()


def test_shutdown_is_clean_with_handshakes_in_flight(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    cut = PartialHandshake(server.tls_port, client_context(certs))
    silent = socket.create_connection(("127.0.0.1", server.tls_port), timeout=DEFAULT_TIMEOUT)
    try:
        cut.sock.sendall(cut.client_hello[:10])
        assert_served(server.tls_port, client_context(certs))
        start = time.monotonic()
        code = server.stop(timeout=10)
        assert code == 0, server.output()[-3000:]
        assert time.monotonic() - start < 5
    finally:
        cut.close()
        silent.close()


# ---------------------------------------------------------------------------------------------
# 6. Certificate reload

def peer_der(port, certs):
    with tls_socket(port, client_context(certs)) as sock:
        return sock.getpeercert(binary_form=True), dict(x[0] for x in sock.getpeercert()["subject"])


def peer_serial(port, certs):
    with tls_socket(port, client_context(certs)) as sock:
        return int(sock.getpeercert()["serialNumber"], 16)


def test_config_set_tls_cert_file_reloads_for_new_connections_only(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    admin = plain(server)
    before = TlsConnection(server.tls_port, client_context(certs))
    try:
        assert before.sock.getpeercert(binary_form=True) == der(certs.server_crt)
        assert before.call("SET", "k", "v") == Reply("+", b"OK")

        assert admin.call("CONFIG", "SET", "tls-cert-file", certs.reloaded_crt,
                          "tls-key-file", certs.reloaded_key) == Reply("+", b"OK")
        cert, subject = peer_der(server.tls_port, certs)
        assert cert == der(certs.reloaded_crt) and subject["commonName"] == "strata-reloaded"
        assert peer_serial(server.tls_port, certs) == 1002  # cert A's is 1001
        with TlsConnection(server.tls_port, client_context(certs)) as after:
            assert after.call("GET", "k") == Reply("$", b"v")
        # The connection made before the reload keeps its session and works on.
        assert before.call("GET", "k") == Reply("$", b"v")
        assert before.sock.getpeercert(binary_form=True) == der(certs.server_crt)

        # OpenSSL refuses a file that does not exist: the old values stay.
        missing = str(certs.dir / "does-not-exist.crt")
        assert admin.call("CONFIG", "SET", "tls-cert-file", missing) == tls_update_error("tls-cert-file")
        assert config_get(admin, "tls-cert-file") == {"tls-cert-file": certs.reloaded_crt}
        assert config_get(admin, "tls-key-file") == {"tls-key-file": certs.reloaded_key}
        # ... and a key that does not match the certificate.
        assert admin.call("CONFIG", "SET", "tls-key-file", certs.client_key) == tls_update_error("tls-key-file")
        assert config_get(admin, "tls-key-file") == {"tls-key-file": certs.reloaded_key}

        cert, _ = peer_der(server.tls_port, certs)
        assert cert == der(certs.reloaded_crt)
        assert_served(server.tls_port, client_context(certs))
        assert before.call("PING") == Reply("+", b"PONG")

        # And back to the first certificate.
        assert admin.call("CONFIG", "SET", "tls-cert-file", certs.server_crt,
                          "tls-key-file", certs.server_key) == Reply("+", b"OK")
        assert peer_der(server.tls_port, certs)[0] == der(certs.server_crt)
    finally:
        before.close()
        admin.close()


def test_a_refused_tls_reload_undoes_every_parameter_of_its_config_set(strata_factory, certs):
    """All or nothing, as Redis: the other parameters of the refused call keep their values."""
    server = start_tls(strata_factory, certs)
    with plain(server) as admin:
        missing = str(certs.dir / "does-not-exist.crt")
        assert admin.call("CONFIG", "SET", "maxmemory-samples", "9", "requirepass", "new-secret",
                          "tls-cert-file", missing) == tls_update_error("tls-cert-file")
        assert config_get(admin, "maxmemory-samples") == {"maxmemory-samples": "5"}
        assert config_get(admin, "requirepass") == {"requirepass": ""}
        assert admin.call("PING") == Reply("+", b"PONG"), "no password was set"
    assert_served(server.tls_port, client_context(certs))


def test_a_large_reply_over_tls_goes_out_in_slices_without_stalling_the_thread(strata_factory, certs):
    """A 40 MB reply is sealed a slice at a time: a second TLS client is served meanwhile, and the
    reply arrives whole."""
    server = start_tls(strata_factory, certs, "--io-threads", "1")
    value = os.urandom(20 * 1024 * 1024)
    with TlsConnection(server.tls_port, client_context(certs)) as big, \
            TlsConnection(server.tls_port, client_context(certs)) as small:
        assert big.call("SET", "a", value) == Reply("+", b"OK")
        assert big.call("SET", "b", value) == Reply("+", b"OK")
        big.send("MGET", "a", "b")
        assert small.call("PING") == Reply("+", b"PONG")
        reply = big.read_reply()
        assert [item.value for item in reply.value] == [value, value]
        assert big.call("PING") == Reply("+", b"PONG")


# ---------------------------------------------------------------------------------------------
# 7. tls-protocols

def test_tls_protocols_tlsv13_only_refuses_a_tls12_client(strata_factory, certs):
    server = start_tls(strata_factory, certs, "--tls-protocols", "TLSv1.3")
    with pytest.raises(ssl.SSLError):
        tls_ping(server.tls_port, client_context(certs, maximum=ssl.TLSVersion.TLSv1_2))
    assert tls_ping(server.tls_port, client_context(certs)) == (Reply("+", b"PONG"), "TLSv1.3")
    with plain(server) as conn:
        assert config_get(conn, "tls-protocols") == {"tls-protocols": "TLSv1.3"}


def test_tls_protocols_default_serves_tls12_and_tls13(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    tls12 = client_context(certs, maximum=ssl.TLSVersion.TLSv1_2)
    tls13 = client_context(certs, minimum=ssl.TLSVersion.TLSv1_3)
    assert tls_ping(server.tls_port, tls12) == (Reply("+", b"PONG"), "TLSv1.2")
    assert tls_ping(server.tls_port, tls13) == (Reply("+", b"PONG"), "TLSv1.3")
    assert tls_ping(server.tls_port, client_context(certs)) == (Reply("+", b"PONG"), "TLSv1.3")


def test_config_set_tls_protocols(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    admin = plain(server)
    tls13_conn = TlsConnection(server.tls_port, client_context(certs))
    try:
        assert tls13_conn.sock.version() == "TLSv1.3"
        assert admin.call("CONFIG", "SET", "tls-protocols", "TLSv1.2") == Reply("+", b"OK")
        assert tls_ping(server.tls_port, client_context(certs)) == (Reply("+", b"PONG"), "TLSv1.2")
        with pytest.raises(ssl.SSLError):
            tls_ping(server.tls_port, client_context(certs, minimum=ssl.TLSVersion.TLSv1_3))
        assert tls13_conn.call("PING") == Reply("+", b"PONG")  # made before: unaffected

        assert admin.call("CONFIG", "SET", "tls-protocols", "TLSv1.2 TLSv1.9") == tls_update_error("tls-protocols")
        assert config_get(admin, "tls-protocols") == {"tls-protocols": "TLSv1.2"}
        assert tls_ping(server.tls_port, client_context(certs)) == (Reply("+", b"PONG"), "TLSv1.2")

        # Words in any case, as Redis reads them.
        assert admin.call("CONFIG", "SET", "tls-protocols", "tlsv1.3") == Reply("+", b"OK")
        assert tls_ping(server.tls_port, client_context(certs)) == (Reply("+", b"PONG"), "TLSv1.3")
        with pytest.raises(ssl.SSLError):
            tls_ping(server.tls_port, client_context(certs, maximum=ssl.TLSVersion.TLSv1_2))
    finally:
        tls13_conn.close()
        admin.close()


# ---------------------------------------------------------------------------------------------
# 8. tls-key-file-pass, and start-up configurations that must stop the server

def test_encrypted_key_with_the_right_password(strata_factory, certs):
    server = start_tls(strata_factory, certs, "--tls-key-file-pass", KEY_PASSWORD, key=certs.server_enc_key)
    assert tls_ping(server.tls_port, client_context(certs))[0] == Reply("+", b"PONG")
    assert peer_der(server.tls_port, certs)[0] == der(certs.server_crt)
    with plain(server) as admin:
        assert config_get(admin, "tls-key-file-pass") == {"tls-key-file-pass": KEY_PASSWORD}
        # A wrong password set at run time is refused, and the key stays loaded.
        assert admin.call("CONFIG", "SET", "tls-key-file-pass", "wrong") == tls_update_error("tls-key-file-pass")
        assert config_get(admin, "tls-key-file-pass") == {"tls-key-file-pass": KEY_PASSWORD}
        assert tls_ping(server.tls_port, client_context(certs))[0] == Reply("+", b"PONG")


def startup_cases(certs):
    missing = str(certs.dir / "missing.crt")
    enc = ["--tls-cert-file", certs.server_crt, "--tls-key-file", certs.server_enc_key,
           "--tls-ca-cert-file", certs.ca_crt]
    return {
        "missing-cert-file": (["--tls-cert-file", missing, "--tls-key-file", certs.server_key,
                               "--tls-ca-cert-file", certs.ca_crt], "Failed to configure TLS: "),
        "no-cert-configured": (["--tls-key-file", certs.server_key, "--tls-ca-cert-file", certs.ca_crt],
                               "Failed to configure TLS: No tls-cert-file configured!"),
        "auth-clients-without-ca": (
            ["--tls-cert-file", certs.server_crt, "--tls-key-file", certs.server_key],
            "Failed to configure TLS: Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
            "tls-cluster, tls-replication or tls-auth-clients are enabled!"),
        "bad-protocol-word": (["--tls-cert-file", certs.server_crt, "--tls-key-file", certs.server_key,
                               "--tls-ca-cert-file", certs.ca_crt, "--tls-protocols", "TLSv1.2 SSLv3"],
                              "Failed to configure TLS: Invalid tls-protocols specified"),
        "key-not-matching-cert": (["--tls-cert-file", certs.server_crt, "--tls-key-file", certs.client_key,
                                   "--tls-ca-cert-file", certs.ca_crt], "Failed to configure TLS: "),
        "wrong-key-password": (enc + ["--tls-key-file-pass", "not-the-password"], "Failed to configure TLS: "),
        "encrypted-key-without-password": (enc, "Failed to configure TLS: "),
    }


@pytest.mark.parametrize("case", ["missing-cert-file", "no-cert-configured", "auth-clients-without-ca",
                                  "bad-protocol-word", "key-not-matching-cert", "wrong-key-password",
                                  "encrypted-key-without-password"])
def test_a_bad_tls_configuration_stops_start_up(tmp_path, certs, case):
    args, message = startup_cases(certs)[case]
    out = start_fails(tmp_path, "--tls-port", free_port(), *args)
    assert message in out, out[-2000:]


# ---------------------------------------------------------------------------------------------
# 9. TLS only: --port 0

def listening_ports(pid):
    """The TCP ports process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_port_0_with_a_tls_port_serves_tls_only(tmp_path, certs):
    tls_port = free_port()
    argv = [str(STRATA_SERVER), "--port", "0", "--bind", "127.0.0.1", "--io-threads", "2",
            *map(str, tls_args(certs, tls_port))]
    log_path = tmp_path / "strata-tls-only.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=tls_port, ssl=True, ssl_ca_certs=certs.ca_crt,
                         ssl_certfile=certs.client_crt, ssl_keyfile=certs.client_key, decode_responses=True,
                         socket_timeout=5, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, f"strata exited with {proc.returncode}:\n{log_path.read_text()}"
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert client.set("only", "tls") is True and client.get("only") == "tls"
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("tls-port") == {"tls-port": str(tls_port)}
        assert listening_ports(proc.pid) == {tls_port}
        out = log_path.read_text()
        assert "Ready to accept connections tls" in out and "Ready to accept connections tcp" not in out, out
    finally:
        client.close()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    out = log_path.read_text(errors="replace")
    assert "AddressSanitizer" not in out and "runtime error:" not in out, out[-4000:]
    assert proc.returncode == 0, f"strata exited with {proc.returncode}:\n{out[-4000:]}"


# ---------------------------------------------------------------------------------------------
# 10. Against Debian's redis-server 7.0

TLS_PARAMETERS = ["tls-port", "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-ca-cert-file",
                  "tls-ca-cert-dir", "tls-auth-clients", "tls-protocols", "tls-ciphers", "tls-ciphersuites",
                  "tls-prefer-server-ciphers", "tls-session-caching", "tls-session-cache-size",
                  "tls-session-cache-timeout"]


def full_directives(certs):
    """Every TLS directive both servers know, set away from its default."""
    return ["--tls-key-file-pass", KEY_PASSWORD, "--tls-ca-cert-dir", str(certs.dir),
            "--tls-protocols", "TLSv1.2 TLSv1.3", "--tls-ciphers", "HIGH:!aNULL:!MD5",
            "--tls-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
            "--tls-prefer-server-ciphers", "yes", "--tls-session-caching", "no",
            "--tls-session-cache-size", "5000", "--tls-session-cache-timeout", "60"]


def comparable_tls_config(conn, tls_port):
    config = config_get(conn, "tls-*")
    assert config.pop("tls-port") == str(tls_port)
    return config


@pytest.mark.parametrize("directives", ["defaults", "all-set"])
def test_config_get_tls_matches_redis(strata_factory, oracle_factory, certs, directives):
    if directives == "defaults":
        key, extra = certs.server_key, []
    else:
        key, extra = certs.server_enc_key, full_directives(certs)
    servers = strata, oracle = tls_pair(strata_factory, oracle_factory, certs, *extra, key=key)
    with plain(strata) as s, plain(oracle) as o:
        got, expected = comparable_tls_config(s, strata.tls_port), comparable_tls_config(o, oracle.tls_port)
        for name in TLS_PARAMETERS[1:]:
            assert name in expected, name
            assert got.get(name) == expected[name], name
        assert got == expected
        for name in TLS_PARAMETERS:
            assert config_get(s, name).keys() == config_get(o, name).keys() == {name}
    # Both serve the same client the same way.
    for server in servers:
        assert tls_ping(server.tls_port, client_context(certs))[0] == Reply("+", b"PONG")


def test_config_set_tls_replies_match_redis(strata_factory, oracle_factory, certs):
    servers = strata, oracle = tls_pair(strata_factory, oracle_factory, certs)
    missing = str(certs.dir / "missing.crt")
    commands = [
        ("CONFIG", "SET", "tls-protocols", "TLSv1.3"),
        ("CONFIG", "SET", "tls-protocols", "TLSv1.2 bogus"),
        ("CONFIG", "SET", "tls-cert-file", missing),
        ("CONFIG", "SET", "tls-key-file", certs.client_key),
        ("CONFIG", "SET", "tls-cert-file", certs.reloaded_crt, "tls-key-file", certs.reloaded_key),
        ("CONFIG", "SET", "tls-ca-cert-file", missing),
        ("CONFIG", "SET", "tls-ciphersuites", "NOT_A_SUITE"),
        ("CONFIG", "SET", "tls-ciphers", "NOT-A-CIPHER"),
        ("CONFIG", "SET", "tls-session-cache-size", "100", "tls-session-cache-timeout", "30"),
        ("CONFIG", "SET", "tls-auth-clients", "optional"),
        ("CONFIG", "SET", "tls-auth-clients", "maybe"),
        ("CONFIG", "SET", "tls-prefer-server-ciphers", "yes", "tls-session-caching", "no"),
        ("CONFIG", "SET", "tls-session-cache-size", "many"),
        ("CONFIG", "SET", "tls-prefer-server-ciphers", "maybe"),
    ]
    with plain(strata) as s, plain(oracle) as o:
        for command in commands:
            assert s.call(*command) == o.call(*command), command
        assert comparable_tls_config(s, strata.tls_port) == comparable_tls_config(o, oracle.tls_port)
    for server in servers:
        assert tls_ping(server.tls_port, client_context(certs, None)) == (Reply("+", b"PONG"), "TLSv1.3")
        assert peer_der(server.tls_port, certs)[0] == der(certs.reloaded_crt)


def test_tls_session_cache_size_and_timeout_accept_0_as_in_redis(strata_factory, oracle_factory, certs):
    """Redis's range for both is 0..INT_MAX (0: OpenSSL's "no limit" for the cache size), and its
    error for a value out of that range says so."""
    strata, oracle = tls_pair(strata_factory, oracle_factory, certs)
    commands = [
        ("CONFIG", "SET", "tls-session-cache-size", "0"),
        ("CONFIG", "SET", "tls-session-cache-timeout", "0"),
        ("CONFIG", "GET", "tls-session-cache-size"),
        ("CONFIG", "GET", "tls-session-cache-timeout"),
        ("CONFIG", "SET", "tls-session-cache-size", "-1"),
        ("CONFIG", "SET", "tls-session-cache-timeout", "-1"),
    ]
    with plain(oracle) as o:
        expected = [o.call(*command) for command in commands]
    assert expected[:2] == [Reply("+", b"OK")] * 2
    with plain(strata) as s:
        assert [s.call(*command) for command in commands] == expected
    assert_served(strata.tls_port, client_context(certs))


# ---------------------------------------------------------------------------------------------
# 11. redis-benchmark

def test_redis_benchmark_over_tls(strata_factory, certs):
    server = start_tls(strata_factory, certs)
    result = subprocess.run(
        [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(server.tls_port), "--tls", "--cacert", certs.ca_crt,
         "--cert", certs.client_crt, "--key", certs.client_key, "-t", "set,get", "-n", "2000", "-c", "10",
         "-P", "4", "--csv"],
        capture_output=True, timeout=60)
    out = result.stdout.decode(errors="replace")
    assert result.returncode == 0, (out, result.stderr.decode(errors="replace"))
    rows = {row["test"]: row for row in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"SET", "GET"}, out
    for name, row in rows.items():
        assert float(row["rps"]) > 0, (name, row)
    with plain(server) as conn:
        assert conn.call("EXISTS", "key:__rand_int__") == Reply(":", 1)

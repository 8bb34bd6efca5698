"""Helpers for the end-to-end tests: a tiny RESP client on raw sockets, and server fixtures.

RespConnection speaks the wire protocol byte for byte, so a test can compare replies exactly
(error texts, null kinds, RESP3 types) and can send malformed input on purpose. Every socket
has a timeout, and only 127.0.0.1 is used.

The fixtures here start servers with conftest's start_strata/start_redis and stop them by PID.
`server_factory` is parametrized over strata and Debian's redis-server, so a test that states
Redis behaviour runs against the oracle too: the redis variant checks the test itself.
"""
import os
import pathlib
import socket
import time

import pytest

import conftest
from conftest import STRATA_SERVER, start_redis, start_strata

DEFAULT_TIMEOUT = 10.0

# The differential tests' size: `make test` runs them at 1; `make diff-soak` sets
# STRATA_DIFF_SCALE=10 for ten times the seeds (new ones; the first are the same).
DIFF_SCALE = max(1, int(os.environ.get("STRATA_DIFF_SCALE", "1")))


def scaled_seeds(count, start=0):
    """The seeds a differential test runs: `count` of them, times STRATA_DIFF_SCALE."""
    return range(start, start + count * DIFF_SCALE)


# ---------------------------------------------------------------------------------------------
# RESP encoding and decoding

def to_bytes(arg):
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    return str(arg).encode()


def encode_command(*args):
    """A command as a RESP2 multibulk array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = to_bytes(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Reply:
    """One decoded reply: its RESP type byte (as a str) and its value.

    kind  value
    '+'   bytes (simple string)          '-'  bytes (error text, without the '-')
    ':'   int                            '$'  bytes, or None for the RESP2 null bulk
    '*'   list of Reply, or None (null array)
    RESP3: '_' None, ',' bytes (double as sent), '#' bool, '(' int, '=' bytes (verbatim, with
    its "txt:" prefix), '%' list of (Reply, Reply) pairs, '~' list of Reply, '>' list of Reply,
    '|' list of pairs (attribute; returned as its own reply).
    Equality is exact: kind and value.
    """

    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind = kind
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Reply) and self.kind == other.kind and self.value == other.value

    def __hash__(self):
        return hash((self.kind, repr(self.value)))

    def __repr__(self):
        return format_reply(self)

    @property
    def is_error(self):
        return self.kind == "-"

    @property
    def is_null(self):
        return self.value is None

    def text(self):
        """The error or status text (str)."""
        return self.value.decode(errors="replace")

    def py(self):
        """A plain Python value: bytes, int, None, list, dict (maps); errors become their text."""
        if self.kind in ("*", "~", ">"):
            return None if self.value is None else [item.py() for item in self.value]
        if self.kind in ("%", "|"):
            return {k.py(): v.py() for k, v in self.value}
        return self.value


def format_reply(reply, limit=300):
    """A short, readable rendering used in assertion messages."""
    k, v = reply.kind, reply.value
    if v is None:
        text = {"$": "(nil bulk)", "*": "(nil array)", "_": "(null)"}.get(k, f"{k}None")
    elif k in ("+", "-"):
        text = f"{k}{v.decode(errors='backslashreplace')}"
    elif k in (":", "(", "#"):
        text = f"{k}{v}"
    elif k in ("$", ",", "="):
        text = f"{k}{v!r}"
    elif k in ("*", "~", ">"):
        text = f"{k}[" + ", ".join(format_reply(item, limit) for item in v) + "]"
    else:
        text = f"{k}{{" + ", ".join(f"{format_reply(a, limit)}: {format_reply(b, limit)}" for a, b in v) + "}"
    return text if len(text) <= limit else text[:limit] + f"...({len(text)} chars)"


class ConnectionClosed(Exception):
    pass


class RespConnection:
    """A raw client connection: send bytes or commands, read whole replies."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, seconds):
        self.sock.settimeout(seconds)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode_command(*args))

    def call(self, *args):
        self.send(*args)
        return self.read_reply()

    def pipeline(self, commands):
        """Send every command in one write, then read one reply per command."""
        self.sock.sendall(b"".join(encode_command(*c) for c in commands))
        return [self.read_reply() for _ in commands]

    # -- reading ------------------------------------------------------------------------------

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionClosed(f"connection closed by the server (port {self.port})")
        if self.pos > (1 << 20):
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos:end])
                self.pos = end + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise AssertionError(f"bulk of {n} bytes is not followed by CRLF")
        self.pos += n + 2
        return data

    def read_reply(self):
        line = self._line()
        if not line:
            raise AssertionError("empty reply line")
        kind, rest = chr(line[0]), line[1:]
        if kind in "+-":
            return Reply(kind, rest)
        if kind in ":(":
            return Reply(kind, int(rest))
        if kind == "$":
            n = int(rest)
            return Reply("$", None if n < 0 else self._exact(n))
        if kind in "=!":
            return Reply(kind, self._exact(int(rest)))
        if kind == ",":
            return Reply(",", rest)
        if kind == "#":
            return Reply("#", rest == b"t")
        if kind == "_":
            return Reply("_", None)
        if kind in "*~>":
            n = int(rest)
            if n < 0:
                return Reply(kind, None)
            return Reply(kind, [self.read_reply() for _ in range(n)])
        if kind in "%|":
            n = int(rest)
            return Reply(kind, [(self.read_reply(), self.read_reply()) for _ in range(n)])
        raise AssertionError(f"unknown reply type in line {line!r}")

    def read_exactly(self, n):
        """The next n raw bytes (whatever replies they belong to)."""
        while len(self.buf) - self.pos < n:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def peek(self, n):
        """The next n raw bytes, left in the buffer for read_reply."""
        while len(self.buf) - self.pos < n:
            self._fill()
        return bytes(self.buf[self.pos:self.pos + n])

    def read_until_closed(self, timeout=5.0):
        """Every remaining byte until the server closes the connection (bounded by timeout)."""
        deadline = time.monotonic() + timeout
        data = bytearray(self.buf[self.pos:])
        self.buf.clear()
        self.pos = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"server did not close the connection within {timeout}s; got {bytes(data)[:200]!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return bytes(data)
            except socket.timeout:
                continue
            if not chunk:
                return bytes(data)
            data += chunk


def bulk(value):
    return Reply("$", None if value is None else to_bytes(value))


def status(text):
    return Reply("+", to_bytes(text))


def error(text):
    return Reply("-", to_bytes(text))


def integer(n):
    return Reply(":", n)


def array(*items):
    return Reply("*", list(items))


# ---------------------------------------------------------------------------------------------
# Server fixtures

def assert_exited_cleanly(server):
    """Stop a server we started (by PID) and check it exited with 0 and no sanitizer report."""
    code = server.stop()
    out = server.log_path.read_text(errors="replace")
    assert "AddressSanitizer" not in out and "runtime error:" not in out, out[-4000:]
    assert code == 0, f"{server.name} exited with {code}:\n{out[-4000:]}"


def start_server(kind, workdir, *args, config=None):
    """Start strata or redis-server with extra directives (and, for strata, config text).

    conftest's readiness probe accepts -NOAUTH, so servers started with a password work too.
    """
    if kind == "strata":
        return start_strata(workdir, *args, config=config)
    assert config is None, "config text is only supported for strata"
    return start_redis(workdir, *args)


class ServerFactory:
    """Starts servers of one kind ('strata' or 'redis') with extra directives."""

    def __init__(self, kind, workdir):
        self.kind = kind
        self.workdir = pathlib.Path(workdir)
        self.started = []

    def __call__(self, *args, config=None):
        workdir = self.workdir / f"{self.kind}-{len(self.started)}"
        workdir.mkdir(parents=True, exist_ok=True)
        server = start_server(self.kind, workdir, *args, config=config)
        self.started.append(server)
        return server

    def stop_all(self):
        failures = []
        for server in self.started:
            if self.kind == "strata":
                try:
                    assert_exited_cleanly(server)
                except AssertionError as e:
                    failures.append(str(e))
            else:
                server.stop()
        assert not failures, "\n".join(failures)


def strata_available():
    return STRATA_SERVER.exists()


@pytest.fixture(params=["strata", "redis"])
def server_factory(request, tmp_path):
    """Starts a server of the parametrized kind; a test runs once per kind."""
    if request.param == "strata" and not strata_available():
        pytest.skip(f"{STRATA_SERVER} is not built")
    factory = ServerFactory(request.param, tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def server(server_factory):
    """A fresh server (strata or the redis oracle) with default settings."""
    return server_factory()


@pytest.fixture(scope="module")
def server_pair(tmp_path_factory):
    """(strata, redis) for a whole test module; the caller flushes between tests.

    With STRATA_DIFF_SELF_CHECK=1 the first server is a second redis-server instead: the
    differential tests then check themselves for nondeterminism (they must never fail).
    """
    self_check = os.environ.get("STRATA_DIFF_SELF_CHECK") == "1"
    if not self_check and not strata_available():
        pytest.skip(f"{STRATA_SERVER} is not built")
    strata_factory = ServerFactory("redis" if self_check else "strata", tmp_path_factory.mktemp("strata"))
    redis_factory = ServerFactory("redis", tmp_path_factory.mktemp("redis"))
    try:
        pair = (strata_factory(), redis_factory())
        yield pair
    finally:
        redis_factory.stop_all()
        strata_factory.stop_all()


@pytest.fixture
def pair(tmp_path):
    """A fresh strata and redis-server for one test, for scenarios whose results are compared."""
    strata = ServerFactory("strata", tmp_path / "strata")
    oracle = ServerFactory("redis", tmp_path / "redis")
    try:
        yield strata(), oracle()
    finally:
        oracle.stop_all()
        strata.stop_all()


def same_on_both(pair, scenario):
    """Runs scenario(port) on both servers of `pair`, asserts the results are equal, returns them."""
    strata, oracle = pair
    got, expected = scenario(strata.port), scenario(oracle.port)
    assert got == expected
    return got


def wait_until(predicate, timeout, interval=0.05):
    """Poll predicate until it returns a truthy value or timeout seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Driving an interactive program through a pseudo-terminal

class PtyProcess:
    """A child process whose stdin/stdout/stderr are a pty, read with timeouts."""

    def __init__(self, argv, env=None, cols=120, rows=40):
        import fcntl
        import struct
        import subprocess
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = bytearray()

    def write(self, data):
        os.write(self.master, to_bytes(data))

    def _read_some(self, timeout):
        import select

        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return None
        if not chunk:
            return None
        self.output += chunk
        return True

    def expect(self, needle, timeout=10.0, start=0):
        """Wait until `needle` (bytes) appears in the output after offset `start`; returns its end offset."""
        needle = to_bytes(needle)
        deadline = time.monotonic() + timeout
        while True:
            found = self.output.find(needle, start)
            if found >= 0:
                return found + len(needle)
            left = deadline - time.monotonic()
            if left <= 0 or self._read_some(min(left, 0.2)) is None:
                found = self.output.find(needle, start)
                if found >= 0:
                    return found + len(needle)
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"{needle!r} did not appear; output so far:\n{bytes(self.output)!r}")

    def wait(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read_some(0.1)
        return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    def close(self):
        import signal

        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


def client_for(server, **kwargs):
    """A redis-py client (decoded strings) for a started server, with socket timeouts."""
    kwargs.setdefault("socket_timeout", DEFAULT_TIMEOUT)
    kwargs.setdefault("socket_connect_timeout", DEFAULT_TIMEOUT)
    return server.client(**kwargs)


def concurrent_gets(port, key, expected_value, clients=500, timeout=30):
    """Open `clients` connections, send GET key on all of them before reading any reply, then
    check every reply is exactly `expected_value` (bytes). The readers of a cold key thus arrive
    while its load is in flight."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=timeout) for _ in range(clients)]
    try:
        for s in sockets:
            s.sendall(encode_command("GET", key))
        expected = b"$%d\r\n%s\r\n" % (len(expected_value), expected_value)
        for s in sockets:
            data = b""
            while len(data) < len(expected):
                chunk = s.recv(65536)
                assert chunk, "connection closed before the reply"
                data += chunk
            assert data == expected
    finally:
        for s in sockets:
            s.close()

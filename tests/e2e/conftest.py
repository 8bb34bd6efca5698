"""Shared fixtures for the end-to-end tests: real server processes on loopback.

STRATA_BUILD names the build directory whose binaries are under test (default: build/).
Every process a fixture starts is stopped by its own PID, and a server that was built with
AddressSanitizer must exit cleanly: a sanitizer report fails the test that owned the server.
"""
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("STRATA_BUILD", ROOT / "build"))
STRATA_SERVER = BUILD / "strata-server"
STRATA_BENCH = BUILD / "strata-bench"
REDIS_SERVER = "/usr/bin/redis-server"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_ping(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                # -NOAUTH: up, but behind requirepass.
                if s.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING within {timeout}s")


class ServerProcess:
    """A server process we started; stop() ends it by PID and returns its exit code."""

    def __init__(self, argv, port, workdir, name):
        self.port = port
        self.workdir = pathlib.Path(workdir)
        self.name = name
        self.log_path = self.workdir / f"{name}.stderr"
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid
        try:
            wait_for_ping(port, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"{name} failed to start:\n{self.output()}")

    def client(self, **kwargs):
        kwargs.setdefault("decode_responses", True)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def output(self):
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode

    def kill(self):
        """kill -9, on purpose (a crash test): assert_clean_exit then checks only the sanitizers."""
        self.killed = True
        return self.stop(sig=signal.SIGKILL)

    def assert_clean_exit(self):
        code = self.stop()
        out = self.output()
        assert "AddressSanitizer" not in out and "runtime error:" not in out, out[-4000:]
        if getattr(self, "killed", False):
            return
        assert code == 0, f"{self.name} exited with {code}:\n{out[-4000:]}"


def start_strata(workdir, *args, config=None):
    """Start build/strata-server on a free loopback port; `config` is redis.conf text."""
    port = free_port()
    argv = [str(STRATA_SERVER)]
    if config is not None:
        path = pathlib.Path(workdir) / "strata-test.conf"
        path.write_text(config)
        argv.append(str(path))
    argv += ["--port", str(port), "--bind", "127.0.0.1", "--io-threads", "2", *map(str, args)]
    return ServerProcess(argv, port, workdir, "strata")


def start_redis(workdir, *args):
    """Start Debian's redis-server (the oracle) on a free loopback port, no persistence."""
    port = free_port()
    argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workdir), *map(str, args)]
    return ServerProcess(argv, port, workdir, "redis")


@pytest.fixture
def strata_factory(tmp_path):
    """Call it to start a strata server with extra directives; all are stopped cleanly after."""
    started = []

    def make(*args, config=None):
        server = start_strata(tmp_path, *args, config=config)
        started.append(server)
        return server

    yield make
    for server in started:
        server.assert_clean_exit()


@pytest.fixture
def strata(strata_factory):
    return strata_factory()


@pytest.fixture
def redis_oracle(tmp_path):
    server = start_redis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def r(strata):
    """A redis-py client (decoded strings) on a fresh strata server."""
    client = strata.client()
    yield client
    client.close()

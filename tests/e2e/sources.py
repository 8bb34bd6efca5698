"""Loader sources that a test runs itself: a PostgreSQL cluster and an HTTP origin, both on loopback.

Postgres wraps tests/pg_harness/pg-harness.sh: a throw-away cluster (initdb in a temporary
directory, loopback only, trust authentication for local connections) that the test starts,
stops and destroys by its data directory, and queries with psql. HttpOrigin is an HTTP/1.1 server
in the test's own process, on a free port, that counts the requests for each path; a subclass
says what each GET is answered with. A test module that needs more (passwords checked by
pg_hba.conf, ssl, pg_stat_statements, an origin that checks credentials) subclasses them.
"""
import pathlib
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port

HARNESS = pathlib.Path(__file__).resolve().parents[1] / "pg_harness" / "pg-harness.sh"
PSQL = "/usr/bin/psql"


# ---------------------------------------------------------------------------------------------
# PostgreSQL

class Postgres:
    """A PostgreSQL cluster for one test module, on a free loopback port.

    start() skips the test when PostgreSQL is not installed; after it, `url` is the superuser's
    connection URL (postgresql://...@127.0.0.1:<port>/postgres, no query string). destroy()
    stops the cluster and removes its directory: a fixture calls it when the module is done.
    """

    prefix = "strata-pg-e2e-"  # of the temporary directory that holds the cluster

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix=self.prefix)
        self.port = free_port()
        self.url = None

    def start(self):
        """Start the cluster (initdb the first time); a test may stop it and start it again."""
        out = subprocess.run([str(HARNESS), "start", self.dir, str(self.port)], capture_output=True, text=True,
                             timeout=120)
        if out.returncode == 3:
            pytest.skip("PostgreSQL is not installed")
        assert out.returncode == 0, out.stderr
        self.url = out.stdout.strip().splitlines()[-1]

    def stop(self):
        subprocess.run([str(HARNESS), "stop", self.dir], capture_output=True, timeout=120)

    def destroy(self):
        subprocess.run([str(HARNESS), "destroy", self.dir], capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def sql_url(self):
        """The URL sql() connects with (a subclass may add connection parameters)."""
        return self.url

    def sql(self, statement):
        """Run one statement as the superuser with psql; its unaligned, tuples-only output, stripped."""
        out = subprocess.run([PSQL, self.sql_url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()


# ---------------------------------------------------------------------------------------------
# HTTP

class OriginHandler(BaseHTTPRequestHandler):
    """Serves one HttpOrigin's requests: HTTP/1.1 (keep-alive), no access log; GETs go to the origin."""

    protocol_version = "HTTP/1.1"
    origin = None  # the HttpOrigin, set on the per-origin subclass

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.origin.count(self.path)
        self.origin.get(self)

    def reply(self, code, body, headers=()):
        """A whole response: the status, `headers` ((name, value) pairs), Content-Length and `body`."""
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # strata gave up waiting (a timeout test)


class HttpOrigin:
    """An HTTP source of truth in this process, on a free port of 127.0.0.1.

    A subclass answers GETs in get(request), with request.path, request.headers and
    request.reply(code, body, headers); it sets its own state before calling __init__, which
    starts serving. Every GET is counted by its raw path (requests(), total()). With
    `ssl_context` (a server-side SSLContext) it serves https: the handshake happens in the
    request's thread, so a client that refuses the certificate cannot stall the accept loop.
    close(), or the end of a `with` block, stops it.
    """

    server_class = ThreadingHTTPServer

    def __init__(self, ssl_context=None):
        self.lock = threading.Lock()
        self.counts = {}
        handler = type("Handler", (OriginHandler,), {"origin": self})
        self.server = self.server_class(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self):
        """The URL of its /api path, for a `source` line."""
        return f"{self.scheme}://127.0.0.1:{self.port}/api"

    def get(self, request):
        raise NotImplementedError

    def count(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1

    def requests(self, path):
        """How many GETs of `path` (as sent, escapes kept) it received."""
        with self.lock:
            return self.counts.get(path, 0)

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

#!/usr/bin/python3
"""A canned HTTP/1.1 server for the HTTP source tests (loopback only, standard library only).

Usage: counting_server.py [--port N] [--exit-on-stdin-eof]
Listens on 127.0.0.1 (port 0, the default, picks a free one), prints "PORT <n>" on stdout once it
listens, then serves until killed (SIGTERM/SIGINT). With --exit-on-stdin-eof it also exits when
its stdin closes, so a test that dies without killing it does not leave it behind.

Every route lives under /base/ so a test can tell whether a request escaped the source's base
path (anything else is 404 "outside base"). Routes, by the first segment after /base:
  /base/echo/<rest>          200, body: the raw request path exactly as received (escapes kept)
  /base/json/<id>            200, a JSON object {"id": <id, decoded>, "price": 12.50, "in_stock": true,
                             "tags": ["a","b"], "note": null}
  /base/array/<rest>         200, body [1,2,3] (not an object)
  /base/text/<id>            200, body "value-of-<id, decoded>"
  /base/headers/<rest>       200, a JSON object of the request headers (names lower-cased)
  /base/status/<code>/<rest> that status code, body "status <code>"
  /base/sleep/<ms>/<id>      sleeps <ms> milliseconds, then 200 "value-of-<id>"
Control routes (not counted):
  /__count   JSON {"requests": N, "max_concurrent": N, "client_ports": N, "paths": {raw path: N}}
  /__reset   zeroes the counters
"max_concurrent" is the most requests being handled at once; a request stops counting just
before its response is written, so a client cannot start its next request while the previous
one still counts. "client_ports" is the number of distinct client TCP ports seen (keep-alive
reuses connections, so few ports for many requests).
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = 0
        self.in_flight = 0
        self.max_concurrent = 0
        self.paths = {}
        self.ports = set()

    def begin(self, path, port):
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
            self.paths[path] = self.paths.get(path, 0) + 1
            self.ports.add(port)

    def end(self):
        with self.lock:
            self.in_flight -= 1

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "max_concurrent": self.max_concurrent,
                    "client_ports": len(self.ports), "paths": dict(self.paths)}


COUNTERS = Counters()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # Headers and body go out in two writes; without TCP_NODELAY the body waits for the client's
    # delayed ACK (40 ms) on every request.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # quiet
        pass

    def reply(self, code, body, content_type="text/plain"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        raw = self.path
        if raw == "/__count":
            return self.reply(200, json.dumps(COUNTERS.snapshot()), "application/json")
        if raw == "/__reset":
            COUNTERS.reset()
            return self.reply(200, "ok")
        COUNTERS.begin(raw, self.client_address[1])
        counted = True
        try:
            code, body, content_type = self.route(raw)
            COUNTERS.end()
            counted = False
            self.reply(code, body, content_type)
        finally:
            if counted:
                COUNTERS.end()

    def route(self, raw):
        path = raw.split("?", 1)[0]
        if not path.startswith("/base/"):
            return 404, "outside base", "text/plain"
        segments = path[len("/base/"):].split("/")
        route, rest = segments[0], segments[1:]
        last = urllib.parse.unquote(rest[-1]) if rest else ""
        if route == "echo":
            return 200, raw, "text/plain"
        if route == "json":
            body = {"id": last, "price": 12.50, "in_stock": True, "tags": ["a", "b"], "note": None}
            # 12.50 must stay as written: emit it by hand rather than through float formatting.
            text = json.dumps(body).replace('"price": 12.5', '"price": 12.50')
            return 200, text, "application/json"
        if route == "array":
            return 200, "[1,2,3]", "application/json"
        if route == "text":
            return 200, "value-of-" + last, "text/plain"
        if route == "headers":
            headers = {name.lower(): value for name, value in self.headers.items()}
            return 200, json.dumps(headers), "application/json"
        if route == "status" and rest and rest[0].isdigit():
            code = int(rest[0])
            return code, "status %d" % code, "text/plain"
        if route == "sleep" and rest and rest[0].isdigit():
            time.sleep(int(rest[0]) / 1000.0)
            return 200, "value-of-" + last, "text/plain"
        return 404, "no such route", "text/plain"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that gives up (a timed-out or stopped load) closes its socket while the reply
        # is being written; that is expected here, anything else is still reported.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()
    if args.exit_on_stdin_eof:
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    server = QuietServer(("127.0.0.1", args.port), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

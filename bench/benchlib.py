"""What the benchmark drivers share: free loopback ports and cache servers we start ourselves,
pinned to a core with taskset, ready once they answer PING, stopped by their PID."""
import os
import pathlib
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING within {timeout}s")


class PinnedServer:
    """A cache server (strata or redis-server) we started on 127.0.0.1, pinned with taskset;
    `argv` is the server and its directives without --port/--bind. stop() ends it by PID."""

    def __init__(self, argv, core, workdir, name):
        self.port = free_port()
        self.name = name
        self.log_path = pathlib.Path(workdir) / f"{name}-{self.port}.log"
        self.log = open(self.log_path, "wb")
        argv = [*argv, "--port", str(self.port), "--bind", "127.0.0.1"]
        # taskset execs the server: the PID we hold is the server's own.
        self.proc = subprocess.Popen(["taskset", "-c", str(core), *argv], cwd=workdir, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_ready(self.port, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"{name} failed to start:\n{self.log_path.read_text(errors='replace')[-2000:]}")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()

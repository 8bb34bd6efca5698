"""What the benchmark drivers share: free loopback ports, cache servers we start ourselves,
pinned to a core with taskset, ready once they answer PING, stopped by their PID, and a load
generator's run measured in CPU seconds on both sides."""
import os
import pathlib
import resource
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


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured_run(server, argv, timeout):
    """Runs the load generator `argv` (a child of ours) against `server` (a PinnedServer).

    Returns (completed process, wall seconds, server user CPU seconds, server system CPU seconds,
    the load generator's CPU seconds), the CPU figures taken over the run alone.
    """
    user_before, system_before = server.cpu_seconds()
    bench_before = children_cpu_seconds()  # taskset execs the generator: its CPU is this child's
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - started
    bench_cpu = children_cpu_seconds() - bench_before
    user_after, system_after = server.cpu_seconds()
    return proc, wall, user_after - user_before, system_after - system_before, bench_cpu
